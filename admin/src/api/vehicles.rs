//! `/api/v1/vehicles`: financed vehicles, their status and their trackers; the service is
//! `backoffice::assets::vehicle`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::assets::vehicle::{self, Install, NewVehicle, StatusChange, Vehicle, VehicleDetail, VehicleFilter};
use backoffice::kit::list::{PageParams, Paged};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get))
        .routes(routes!(set_status))
        .routes(routes!(install))
}

/// List the vehicles of the caller's region subtree.
#[utoipa::path(get, path = "/vehicles", tag = "vehicles", params(PageParams, VehicleFilter),
    responses((status = 200, description = "A page of vehicles", body = Paged<Vehicle>)), security(("bearer" = ["vehicles.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<VehicleFilter>,
) -> Result<Json<Paged<Vehicle>>, ApiError> {
    Ok(Json(vehicle::list(&state.pool, &caller, &page, &filter).await?))
}

/// Register a vehicle (in stock).
#[utoipa::path(post, path = "/vehicles", tag = "vehicles", request_body = NewVehicle,
    responses((status = 201, description = "Registered", body = Vehicle)), security(("bearer" = ["vehicles.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewVehicle>,
) -> Result<(StatusCode, Json<Vehicle>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let vehicle = vehicle::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(vehicle)))
}

/// One vehicle with its trackers.
#[utoipa::path(get, path = "/vehicles/{id}", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")),
    responses((status = 200, description = "The vehicle", body = VehicleDetail)), security(("bearer" = ["vehicles.read"])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<VehicleDetail>, ApiError> {
    Ok(Json(vehicle::detail(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// Move a vehicle to its next status (in stock → financed → repossessed → disposed or released).
#[utoipa::path(post, path = "/vehicles/{id}/actions/set-status", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")),
    request_body = StatusChange,
    responses((status = 200, description = "Moved", body = Vehicle)), security(("bearer" = ["vehicles.write"])))]
async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(change): Json<StatusChange>,
) -> Result<Json<Vehicle>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let vehicle = vehicle::set_status(&mut tx, &caller, id, &change).await?;
    tx.commit().await?;
    Ok(Json(vehicle))
}

/// Record a tracker as installed in the vehicle (moving it from any other).
#[utoipa::path(post, path = "/vehicles/{id}/actions/install", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")),
    request_body = Install,
    responses((status = 200, description = "Installed", body = VehicleDetail)), security(("bearer" = ["vehicles.write"])))]
async fn install(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(install): Json<Install>,
) -> Result<Json<VehicleDetail>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let detail = vehicle::install(&mut tx, &caller, id, &install).await?;
    tx.commit().await?;
    Ok(Json(detail))
}
