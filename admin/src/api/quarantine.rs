//! `/api/v1/quarantine`: devices that sent data before anyone registered them. Their frames wait
//! here (never in positions); promoting one registers it and replays what it sent. The service is
//! `backoffice::assets::quarantine`.

use axum::extract::State;
use backoffice::assets::quarantine::{self, QuarantinedDevice};
use backoffice::kit::list::{PageParams, Paged};
use leasewatch_store::quarantine::{Promotion, Registration};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(promote))
}

/// The devices in quarantine, most recently heard first.
#[utoipa::path(get, path = "/quarantine", tag = "devices", params(PageParams),
    responses((status = 200, description = "A page of quarantined devices", body = Paged<QuarantinedDevice>)),
    security(("bearer" = ["devices.read"])))]
async fn list(
    State(state): State<AppState>,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<QuarantinedDevice>>, ApiError> {
    Ok(Json(quarantine::list(&state.pool, &page).await?))
}

/// Register a quarantined device and replay what it sent into positions and events.
#[utoipa::path(post, path = "/quarantine/{imei}/actions/promote", tag = "devices",
    params(("imei" = String, Path, description = "IMEI or terminal id")), request_body = Registration,
    responses((status = 200, description = "Promoted", body = Promotion),
              (status = 503, description = "This process does not run ingest", body = crate::error::Problem)),
    security(("bearer" = ["devices.write"])))]
async fn promote(
    State(state): State<AppState>,
    caller: Caller,
    Path(imei): Path<String>,
    Json(registration): Json<Registration>,
) -> Result<Json<Promotion>, ApiError> {
    let promoter = state.promoter.as_deref();
    Ok(Json(quarantine::promote(&state.pool, promoter, &caller, &imei, &registration).await?))
}
