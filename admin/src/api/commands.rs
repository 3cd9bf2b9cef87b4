//! `/api/v1/devices/{id}/commands`: commands to a vehicle's tracker (engine cut with approval,
//! restore, locate now, reporting interval); the service is `backoffice::assets::device_commands`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::assets::device_commands::{self, DeviceCommand, NewCommand};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

/// The device's commands, newest first.
#[utoipa::path(get, path = "/devices/{id}/commands", tag = "commands", params(("id" = i64, Path, description = "Device id")),
    responses((status = 200, description = "Commands", body = Vec<DeviceCommand>)), security(("bearer" = ["commands.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<DeviceCommand>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(device_commands::list(&mut conn, &caller, id).await?))
}

/// Request a command. An engine cut waits for approval in the `engine_cut` workflow.
#[utoipa::path(post, path = "/devices/{id}/commands", tag = "commands", request_body = NewCommand,
    params(("id" = i64, Path, description = "Device id")),
    responses((status = 201, description = "Requested", body = DeviceCommand)), security(("bearer" = ["commands.send"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(new): Json<NewCommand>,
) -> Result<(StatusCode, Json<DeviceCommand>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let command = device_commands::request(&mut tx, &caller, id, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(command)))
}
