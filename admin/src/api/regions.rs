//! `/api/v1/regions`: the region tree (company → province → city → branch). A caller sees and
//! edits only their own region's subtree; the service is `backoffice::system::regions`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::system::regions::{self, NewRegion, Region, RegionFilter, RegionUpdate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update))
}

/// List the regions of the caller's subtree.
#[utoipa::path(get, path = "/regions", tag = "regions", params(PageParams, RegionFilter),
    responses((status = 200, description = "A page of regions", body = Paged<Region>)),
    security(("bearer" = ["regions.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<RegionFilter>,
) -> Result<Json<Paged<Region>>, ApiError> {
    Ok(Json(regions::list(&state.pool, &caller, &page, &filter).await?))
}

/// View one region.
#[utoipa::path(get, path = "/regions/{id}", tag = "regions", params(("id" = i64, Path, description = "Region id")),
    responses((status = 200, description = "The region", body = Region)), security(("bearer" = ["regions.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Region>, ApiError> {
    Ok(Json(regions::get(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// Create a region under one of the caller's.
#[utoipa::path(post, path = "/regions", tag = "regions", request_body = NewRegion,
    responses((status = 201, description = "Created", body = Region)), security(("bearer" = ["regions.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewRegion>,
) -> Result<(StatusCode, Json<Region>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let region = regions::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(region)))
}

/// Update a region.
#[utoipa::path(patch, path = "/regions/{id}", tag = "regions", params(("id" = i64, Path, description = "Region id")),
    request_body = RegionUpdate,
    responses((status = 200, description = "Updated", body = Region)), security(("bearer" = ["regions.write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(update): Json<RegionUpdate>,
) -> Result<Json<Region>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let region = regions::update(&mut tx, &caller, id, &update).await?;
    tx.commit().await?;
    Ok(Json(region))
}
