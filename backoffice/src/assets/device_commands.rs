//! Commands to a vehicle's tracker — engine cut (断油电) and restore, locate now, reporting
//! interval. An engine cut is a maker-checker request: it waits in the `engine_cut` workflow and
//! is queued only when approved; the monitor then sends it once the vehicle stands still with the
//! ignition off. Commands to an offline device wait for its next session. Every step is audited.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use leasewatch_monitor::commands;

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::approvals;
use crate::kit::audit::{self, Change};
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// Subject type (and workflow key) of an engine-cut request; subject id: the command.
pub const ENGINE_CUT: &str = "engine_cut";

/// `hooks` with the engine-cut approval declared.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(ENGINE_CUT, engine_cut_decided)
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

/// The device's vehicle region, when the device is installed in a vehicle of the actor's subtree.
async fn device_region(db: &mut PgConnection, actor: &Actor, device: i64) -> Result<i64, Error> {
    sqlx::query_scalar(
        "SELECT v.region_id FROM devices d JOIN vehicles v ON v.id = d.vehicle_id JOIN regions g ON g.id = v.region_id
         WHERE d.id = $1 AND starts_with(g.path, $2)",
    )
    .bind(device)
    .bind(&actor.region_path)
    .fetch_optional(db)
    .await?
    .ok_or(Error::NotFound("device"))
}

/// The device's commands, newest first (the latest 200).
pub async fn list(db: &mut PgConnection, actor: &Actor, device: i64) -> Result<Vec<DeviceCommand>, Error> {
    device_region(db, actor, device).await?;
    Ok(sqlx::query_as(&format!("{SELECT} WHERE c.device_id = $1 ORDER BY c.id DESC LIMIT 200"))
        .bind(device)
        .fetch_all(db)
        .await?)
}

/// The command's parameters, when `new` is a valid request.
fn params(new: &NewCommand) -> Result<Value, Error> {
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
    Ok(params)
}

/// Requests a command; an engine cut waits for approval in the `engine_cut` workflow.
pub async fn request(
    db: &mut PgConnection,
    actor: &Actor,
    device: i64,
    new: &NewCommand,
) -> Result<DeviceCommand, Error> {
    let params = params(new)?;
    let region = device_region(db, actor, device).await?;
    let needs_approval = new.command == ENGINE_CUT;
    let status = if needs_approval { "awaiting_approval" } else { "queued" };
    let command_id =
        commands::request(db, device, &new.command, &params, status, new.reason.trim(), actor.user_id).await?;
    if needs_approval {
        let title = format!("Engine cut on device {device}: {}", new.reason.trim());
        let instance = approvals::submit(db, actor, ENGINE_CUT, command_id, region, &title).await?;
        commands::await_approval(db, command_id, instance.id).await?;
    }
    let command: DeviceCommand =
        sqlx::query_as(&format!("{SELECT} WHERE c.id = $1")).bind(command_id).fetch_one(&mut *db).await?;
    let entry = Change::new("request", "device_command", command_id, Some(region)).after(json!(command));
    audit::record(db, actor.author(), entry).await?;
    Ok(command)
}

/// Queues an approved engine cut for the monitor; marks a rejected one.
fn engine_cut_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move { Ok(commands::decide(tx, decision.subject, decision.approved()).await?) })
}
