//! `/api/v1/devices/{id}/commands`: commands to a vehicle's tracker — engine cut (断油电) and
//! restore, locate now, reporting interval. An engine cut is a maker-checker request: it waits in
//! the `engine_cut` workflow and is queued only when approved; the monitor then sends it once the
//! vehicle stands still with the ignition off. Commands to an offline device wait for its next
//! session. Every step is audited.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Change};
use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path};
use crate::guard::Caller;
use crate::state::AppState;
use crate::workflow::definition::Outcome;
use crate::workflow::engine::{FinishHook, Instance};

/// Subject type (and workflow key) of an engine-cut request; subject id: the command.
pub const ENGINE_CUT: &str = "engine_cut";

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

/// `state` with the engine-cut approval hook registered.
pub fn register(state: AppState) -> AppState {
    state.with_hook(ENGINE_CUT, Arc::new(EngineCutDecided))
}

/// A command to a device.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct DeviceCommand {
    /// Id.
    pub id: i64,
    /// The device.
    pub device_id: i64,
    /// `engine_cut`, `engine_restore`, `locate_now` or `set_interval`.
    pub command: String,
    /// Its parameters (`seconds` for `set_interval`).
    #[schema(value_type = Object)]
    pub params: Value,
    /// `awaiting_approval`, `queued`, `waiting_stop`, `sent`, `acknowledged`, `failed`, `rejected` or `cancelled`.
    pub status: String,
    /// Why it was requested.
    pub reason: String,
    /// Who requested it.
    pub requested_by: Option<i64>,
    /// The approval request, for an engine cut.
    pub workflow_instance_id: Option<i64>,
    /// When it went to the device.
    pub sent_at: Option<DateTime<Utc>>,
    /// When the device answered.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// What it answered, or why it failed.
    pub result: Option<String>,
    /// When requested.
    pub created_at: DateTime<Utc>,
}

const SELECT: &str =
    "SELECT c.id, c.device_id, c.command, c.params, c.status, c.reason, c.requested_by, c.workflow_instance_id,
        c.sent_at, c.acknowledged_at, c.result, c.created_at FROM device_commands c";

/// The device's vehicle region, when the device is installed in a vehicle of the caller's subtree.
async fn device_region(db: &mut PgConnection, caller: &Caller, device: i64) -> Result<i64, ApiError> {
    sqlx::query_scalar(
        "SELECT v.region_id FROM devices d JOIN vehicles v ON v.id = d.vehicle_id JOIN regions g ON g.id = v.region_id
         WHERE d.id = $1 AND starts_with(g.path, $2)",
    )
    .bind(device)
    .bind(&caller.region_path)
    .fetch_optional(db)
    .await?
    .ok_or(ApiError::NotFound("device"))
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
    device_region(&mut conn, &caller, id).await?;
    let rows = sqlx::query_as(&format!("{SELECT} WHERE c.device_id = $1 ORDER BY c.id DESC LIMIT 200"))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(Json(rows))
}

/// A command request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommand {
    /// `engine_cut`, `engine_restore`, `locate_now` or `set_interval`.
    #[schema(pattern = "^(engine_cut|engine_restore|locate_now|set_interval)$")]
    pub command: String,
    /// Reporting period for `set_interval`, 5 to 18000 seconds.
    #[schema(minimum = 5, maximum = 18000)]
    pub seconds: Option<u32>,
    /// Why (kept with the command and shown to the approver).
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
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
    let mut checks = Checks::default();
    checks.text("reason", &new.reason, 500);
    let params = match (new.command.as_str(), new.seconds) {
        ("set_interval", Some(s)) if (5..=18_000).contains(&s) => json!({"seconds": s}),
        ("set_interval", _) => {
            checks.check(false, "seconds", "set_interval needs 5 to 18000 seconds");
            json!({})
        }
        ("engine_cut" | "engine_restore" | "locate_now", None) => json!({}),
        ("engine_cut" | "engine_restore" | "locate_now", Some(_)) => {
            checks.check(false, "seconds", "only set_interval takes seconds");
            json!({})
        }
        _ => {
            checks.check(false, "command", "must be engine_cut, engine_restore, locate_now or set_interval");
            json!({})
        }
    };
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    let region = device_region(&mut tx, &caller, id).await?;
    let needs_approval = new.command == ENGINE_CUT;
    let status = if needs_approval { "awaiting_approval" } else { "queued" };
    let command_id: i64 = sqlx::query_scalar(
        "INSERT INTO device_commands (device_id, command, params, status, reason, requested_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(id)
    .bind(&new.command)
    .bind(&params)
    .bind(status)
    .bind(new.reason.trim())
    .bind(caller.user_id)
    .fetch_one(&mut *tx)
    .await?;
    if needs_approval {
        let title = format!("Engine cut on device {id}: {}", new.reason.trim());
        let instance =
            crate::books::approvals::submit(&mut tx, &caller, ENGINE_CUT, command_id, region, &title).await?;
        sqlx::query("UPDATE device_commands SET workflow_instance_id = $2 WHERE id = $1")
            .bind(command_id)
            .bind(instance.id)
            .execute(&mut *tx)
            .await?;
    }
    let command: DeviceCommand =
        sqlx::query_as(&format!("{SELECT} WHERE c.id = $1")).bind(command_id).fetch_one(&mut *tx).await?;
    let entry = Change {
        action: "request",
        entity_type: "device_command",
        entity_id: command_id.to_string(),
        region_id: Some(region),
        before: None,
        after: Some(json!(command)),
    };
    audit::record(&mut *tx, (&caller).into(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(command)))
}

/// Queues an approved engine cut for the monitor; marks a rejected one.
struct EngineCutDecided;

impl FinishHook for EngineCutDecided {
    fn finished<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        instance: &'a Instance,
        outcome: Outcome,
    ) -> Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 'a>> {
        Box::pin(async move {
            let id = crate::books::approvals::subject(instance)?;
            let status = if outcome == Outcome::Approved { "queued" } else { "rejected" };
            sqlx::query(
                "UPDATE device_commands SET status = $2, updated_at = now() WHERE id = $1 AND status = 'awaiting_approval'",
            )
            .bind(id)
            .bind(status)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }
}
