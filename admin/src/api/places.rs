//! `/api/v1/risk-locations` and `/api/v1/geofences`: the places the monitor watches. Risk
//! locations (二押点: pawn shops, used-car markets, impound lots) alert on entry and on long
//! dwell; geofences (circles or polygons, for everyone, a region or one contract) alert on
//! entering or leaving. Coordinates are WGS-84, as trackers report them. The service is
//! `backoffice::risk::places`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::risk::places::{self, Geofence, NewGeofence, NewRiskLocation, RiskLocationPatch};
use leasewatch_store::risk_location::RiskLocation;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_risk, create_risk))
        .routes(routes!(update_risk))
        .routes(routes!(list_fences, create_fence))
}

/// Risk locations of the caller's region subtree.
#[utoipa::path(get, path = "/risk-locations", tag = "monitor", params(PageParams),
    responses((status = 200, description = "A page of risk locations", body = Paged<RiskLocation>)), security(("bearer" = ["monitor.read"])))]
async fn list_risk(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<RiskLocation>>, ApiError> {
    Ok(Json(places::risk_locations(&state.pool, &caller, &page).await?))
}

/// Add a risk location.
#[utoipa::path(post, path = "/risk-locations", tag = "monitor", request_body = NewRiskLocation,
    responses((status = 201, description = "Added", body = RiskLocation)), security(("bearer" = ["monitor.write"])))]
async fn create_risk(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewRiskLocation>,
) -> Result<(StatusCode, Json<RiskLocation>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let location = places::create_risk_location(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(location)))
}

/// Rename, resize, or stop watching a risk location.
#[utoipa::path(patch, path = "/risk-locations/{id}", tag = "monitor", request_body = RiskLocationPatch,
    params(("id" = i64, Path, description = "Risk location id")),
    responses((status = 200, description = "Changed", body = RiskLocation)), security(("bearer" = ["monitor.write"])))]
async fn update_risk(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(patch): Json<RiskLocationPatch>,
) -> Result<Json<RiskLocation>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let location = places::update_risk_location(&mut tx, &caller, id, &patch).await?;
    tx.commit().await?;
    Ok(Json(location))
}

/// Geofences of the caller's region subtree.
#[utoipa::path(get, path = "/geofences", tag = "monitor", params(PageParams),
    responses((status = 200, description = "A page of geofences", body = Paged<Geofence>)), security(("bearer" = ["monitor.read"])))]
async fn list_fences(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Geofence>>, ApiError> {
    Ok(Json(places::geofences(&state.pool, &caller, &page).await?))
}

/// Add a geofence.
#[utoipa::path(post, path = "/geofences", tag = "monitor", request_body = NewGeofence,
    responses((status = 201, description = "Added", body = Geofence)), security(("bearer" = ["monitor.write"])))]
async fn create_fence(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewGeofence>,
) -> Result<(StatusCode, Json<Geofence>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let fence = places::create_geofence(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(fence)))
}
