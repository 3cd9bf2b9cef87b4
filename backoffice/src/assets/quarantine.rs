//! Devices that sent data before anyone registered them. Their frames wait in quarantine (never in
//! positions); promoting one registers it and replays what it sent, through the ingest process's
//! promoter, and is audited.

use chrono::{DateTime, Utc};
use leasewatch_store::quarantine::{PromoteFailure, Promoter, Promotion, Registration};
use serde::Serialize;
use serde_json::json;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged};

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

/// The devices in quarantine, most recently heard first. Rows are frames grouped by device, which
/// `Table` does not read, so the page is built here.
pub async fn list(pool: &PgPool, page: &PageParams) -> Result<Paged<QuarantinedDevice>, Error> {
    let window = page.window(&[("last_received", "max(received_at)"), ("imei", "imei")], "-last_received", "imei")?;
    let total: i64 = sqlx::query_scalar("SELECT count(DISTINCT imei) FROM quarantine").fetch_one(pool).await?;
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "{SELECT} FROM quarantine WHERE imei IS NOT NULL GROUP BY imei ORDER BY "
    ));
    q.push(window.order_by()).push(" LIMIT ").push_bind(window.limit).push(" OFFSET ").push_bind(window.offset);
    let rows = q.build_query_as().fetch_all(pool).await?;
    Ok(Paged::new(rows, total, &window))
}

/// Registers the quarantined device `imei` and replays what it sent into positions and events;
/// `Unavailable` when this process runs no ingest (no `promoter`).
pub async fn promote(
    pool: &PgPool,
    promoter: Option<&dyn Promoter>,
    actor: &Actor,
    imei: &str,
    registration: &Registration,
) -> Result<Promotion, Error> {
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
    let Some(promoter) = promoter else {
        return Err(Error::Unavailable("this process does not run ingest; promote from the daemon".into()));
    };
    let promoted = promoter.promote(imei, registration).await.map_err(|e| match e {
        PromoteFailure::NotFound => Error::NotFound("quarantined device"),
        PromoteFailure::Failed(message) => Error::Unavailable(message),
    })?;
    let entry = Change::new("promote", "device", promoted.device_id, None)
        .before(json!({"imei": imei, "quarantined": promoted.frames}))
        .after(json!(promoted));
    audit::record(pool, actor.author(), entry).await?;
    Ok(promoted)
}
