//! `/api/v1/positions`: staff_positions (岗位: 初审员, 复审员, 催收员, 财务...) that workflow stages are
//! assigned to. The service is `backoffice::system::positions`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::system::positions::{self, NewPosition, Position, PositionUpdate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(update))
}

/// List positions.
#[utoipa::path(get, path = "/positions", tag = "positions", params(PageParams),
    responses((status = 200, description = "A page of positions", body = Paged<Position>)),
    security(("bearer" = ["positions.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Position>>, ApiError> {
    Ok(Json(positions::list(&state.pool, &caller, &page).await?))
}

/// Create a position.
#[utoipa::path(post, path = "/positions", tag = "positions", request_body = NewPosition,
    responses((status = 201, description = "Created", body = Position)), security(("bearer" = ["positions.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewPosition>,
) -> Result<(StatusCode, Json<Position>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let position = positions::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(position)))
}

/// Update a position.
#[utoipa::path(patch, path = "/positions/{id}", tag = "positions", params(("id" = i64, Path, description = "Position id")),
    request_body = PositionUpdate,
    responses((status = 200, description = "Updated", body = Position)), security(("bearer" = ["positions.write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(update): Json<PositionUpdate>,
) -> Result<Json<Position>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let position = positions::update(&mut tx, &caller, id, &update).await?;
    tx.commit().await?;
    Ok(Json(position))
}
