//! `/api/v1/quarantine`: devices that sent data before anyone registered them. Their frames wait
//! here (never in positions); promoting one registers it and replays what it sent.

use axum::extract::State;
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged};
use chrono::{DateTime, Utc};
use leasewatch_store::quarantine::{PromoteFailure, Promotion, Registration};
use serde::Serialize;
use serde_json::json;
use sqlx::{FromRow, Postgres, QueryBuilder};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(promote))
}

/// A quarantined device.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct QuarantinedDevice {
    /// IMEI or terminal id.
    pub imei: String,
    /// Protocol its frames came in.
    pub protocol: String,
    /// Frames waiting.
    pub frames: i64,
    /// First frame.
    pub first_received: DateTime<Utc>,
    /// Last frame.
    pub last_received: DateTime<Utc>,
}

const SELECT: &str = "SELECT imei, min(protocol) AS protocol, count(*) AS frames, min(received_at) AS first_received, max(received_at) AS last_received";
const FROM: &str = "FROM quarantine";

/// The devices in quarantine, most recently heard first.
#[utoipa::path(get, path = "/quarantine", tag = "devices", params(PageParams),
    responses((status = 200, description = "A page of quarantined devices", body = Paged<QuarantinedDevice>)),
    security(("bearer" = ["devices.read"])))]
async fn list(
    State(state): State<AppState>,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<QuarantinedDevice>>, ApiError> {
    let window = page.window(&[("last_received", "max(received_at)"), ("imei", "imei")], "-last_received", "imei")?;
    let total: i64 = sqlx::query_scalar("SELECT count(DISTINCT imei) FROM quarantine").fetch_one(&state.pool).await?;
    let mut q =
        QueryBuilder::<Postgres>::new(format!("{SELECT} {FROM} WHERE imei IS NOT NULL GROUP BY imei ORDER BY "));
    q.push(window.order_by()).push(" LIMIT ").push_bind(window.limit).push(" OFFSET ").push_bind(window.offset);
    let rows = q.build_query_as().fetch_all(&state.pool).await?;
    Ok(Json(Paged::new(rows, total, &window)))
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
    let mut checks = Checks::default();
    checks.check(
        registration.kind.as_deref().is_none_or(|k| matches!(k, "wired" | "wireless")),
        "kind",
        "must be wired or wireless",
    );
    for (field, value) in [("model", &registration.model), ("sim", &registration.sim)] {
        checks.check(value.as_ref().is_none_or(|v| v.chars().count() <= 64), field, "must be at most 64 characters");
    }
    checks.finish()?;
    let Some(promoter) = state.promoter.clone() else {
        return Err(ApiError::Unavailable("this process does not run ingest; promote from the daemon".into()));
    };
    let promoted = promoter.promote(&imei, &registration).await.map_err(|e| match e {
        PromoteFailure::NotFound => ApiError::NotFound("quarantined device"),
        PromoteFailure::Failed(message) => ApiError::Unavailable(message),
    })?;
    let entry = Change::new("promote", "device", promoted.device_id, None)
        .before(json!({"imei": imei, "quarantined": promoted.frames}))
        .after(json!(promoted));
    audit::record(&state.pool, caller.author(), entry).await?;
    Ok(Json(promoted))
}
