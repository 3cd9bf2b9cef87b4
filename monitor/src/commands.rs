//! Commands to devices: engine cut and restore, locate now, reporting interval. Requests are rows
//! of `device_commands` (asked for through the back office; an engine cut only queued once its
//! request is approved). This module is the one writer of `device_commands`.
//! The dispatcher sends queued commands through the device's live session, holds an engine cut
//! until the latest fix shows the vehicle standing with the ignition off, leaves commands for
//! offline devices queued until they connect, and matches replies by the serial the device echoes.
//! Every change of a command's status is written to the audit log.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Duration, Utc};
use leasewatch_protocols::Command;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::watch::{DeviceState, Watch};

/// A reply not received within this long marks the command failed.
const REPLY_TIMEOUT_MIN: i64 = 10;

/// Why a command could not be handed to a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No live session.
    #[error("the device is not connected")]
    NotConnected,
    /// The protocol cannot carry it.
    #[error("{0}")]
    Unsupported(String),
}

/// Sends commands over devices' live sessions (the ingest side implements it).
pub trait Downlink: Send + Sync {
    /// Whether the device has a live session now.
    fn connected(&self, device_id: i64) -> bool;
    /// Writes `command` to the device; returns the serial its reply will echo.
    fn send<'a>(
        &'a self,
        device_id: i64,
        command: &'a Command,
    ) -> Pin<Box<dyn Future<Output = Result<u16, SendError>> + Send + 'a>>;
}

/// The command a stored request stands for.
pub fn parse(name: &str, params: &Value) -> Option<Command> {
    match name {
        "engine_cut" => Some(Command::EngineCut),
        "engine_restore" => Some(Command::EngineRestore),
        "locate_now" => Some(Command::LocateNow),
        "set_interval" => {
            let seconds = params.get("seconds")?.as_u64()?;
            Some(Command::SetInterval { seconds: u32::try_from(seconds).ok()? })
        }
        _ => None,
    }
}

/// A fix older than this says nothing about whether the vehicle is moving now.
const FRESH_FIX_S: i64 = 120;
/// How long a device session may take to accept a command before the dispatcher moves on.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether an engine cut may go now: the latest fix is valid, at most two minutes old, shows
/// speed 0, and the latest ignition report (from a fix or a status frame) says off.
pub fn safe_to_cut(state: Option<&DeviceState>, now: DateTime<Utc>) -> bool {
    let Some(state) = state else { return false };
    let Some(fix) = state.last_fix else { return false };
    let ignition_off = match state.ignition {
        Some((_, on)) => !on,
        None => fix.ignition == Some(false),
    };
    fix.valid && fix.speed_kmh < 1.0 && (now - fix.time).num_seconds() <= FRESH_FIX_S && ignition_off
}

/// Stores a requested command in `status` (`queued`, or `awaiting_approval` for an engine cut);
/// returns its id.
pub async fn request(
    db: &mut PgConnection,
    device_id: i64,
    command: &str,
    params: &Value,
    status: &str,
    reason: &str,
    requested_by: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO device_commands (device_id, command, params, status, reason, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(device_id)
    .bind(command)
    .bind(params)
    .bind(status)
    .bind(reason)
    .bind(requested_by)
    .fetch_one(db)
    .await
}

/// Links a command to the approval request that decides it.
pub async fn await_approval(db: &mut PgConnection, id: i64, workflow_instance_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE device_commands SET workflow_instance_id = $2 WHERE id = $1")
        .bind(id)
        .bind(workflow_instance_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Queues an approved command for dispatch, or marks a rejected one; a command no longer awaiting
/// approval is left as it is.
pub async fn decide(db: &mut PgConnection, id: i64, approved: bool) -> Result<(), sqlx::Error> {
    let status = if approved { "queued" } else { "rejected" };
    sqlx::query(
        "UPDATE device_commands SET status = $2, updated_at = now() WHERE id = $1 AND status = 'awaiting_approval'",
    )
    .bind(id)
    .bind(status)
    .execute(db)
    .await?;
    Ok(())
}

/// Moves a command to `status`, recording it in the audit log as the monitor. A command already
/// there or in a final state is left alone (several nodes sweep the same commands).
async fn transition(
    conn: &mut PgConnection,
    id: i64,
    status: &str,
    set: &str,
    detail: Value,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "UPDATE device_commands SET status = $2, updated_at = now(){set}
         WHERE id = $1 AND status <> $2 AND status NOT IN ('acknowledged', 'failed', 'cancelled', 'rejected')"
    );
    if sqlx::query(&sql).bind(id).bind(status).execute(&mut *conn).await?.rows_affected() == 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO audit_log (username, action, entity_type, entity_id, after)
         VALUES ('monitor', $2, 'device_command', $1::text, $3)",
    )
    .bind(id)
    .bind(status)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// An engine cut not sent within this many days of its request lapses: the situation it was
/// approved for is stale, and a new request (and approval) is needed.
const ENGINE_CUT_LAPSE_DAYS: i64 = 7;

/// Sends what can be sent now (of the commands of `devices` when given: those `watch` knows);
/// returns how many went out.
pub async fn dispatch(
    pool: &PgPool,
    watch: &Watch,
    downlink: &dyn Downlink,
    now: DateTime<Utc>,
    devices: Option<&[i64]>,
) -> Result<usize, sqlx::Error> {
    let mut sent = 0;
    let mut conn = pool.acquire().await?;
    let lapsed: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM device_commands WHERE command = 'engine_cut' AND status IN ('queued', 'waiting_stop')
           AND created_at < $1",
    )
    .bind(now - Duration::days(ENGINE_CUT_LAPSE_DAYS))
    .fetch_all(&mut *conn)
    .await?;
    for id in lapsed {
        let detail = json!({"reason": format!("not sent within {ENGINE_CUT_LAPSE_DAYS} days of the request")});
        transition(&mut conn, id, "cancelled", ", result = 'request lapsed'", detail).await?;
    }
    let due: Vec<(i64, i64, String, Value, String)> = sqlx::query_as(
        "SELECT id, device_id, command, params, status FROM device_commands
         WHERE status IN ('queued', 'waiting_stop') AND ($1::int8[] IS NULL OR device_id = ANY($1)) ORDER BY id",
    )
    .bind(devices)
    .fetch_all(&mut *conn)
    .await?;
    for (id, device_id, name, params, status) in due {
        let Some(command) = parse(&name, &params) else {
            transition(&mut conn, id, "failed", ", result = 'unknown command'", json!({"reason": "unknown command"}))
                .await?;
            continue;
        };
        if command == Command::EngineCut {
            let last = watch.device(device_id).and_then(|s| s.last_fix);
            if !safe_to_cut(watch.device(device_id), now) {
                if status != "waiting_stop" {
                    let detail = json!({"reason": "vehicle moving or ignition on", "fix": last.map(|f| json!({"speed_kmh": f.speed_kmh, "ignition": f.ignition, "time": f.time}))});
                    transition(&mut conn, id, "waiting_stop", "", detail).await?;
                }
                continue;
            }
        }
        if !downlink.connected(device_id) {
            continue;
        }
        let outcome = tokio::time::timeout(SEND_TIMEOUT, downlink.send(device_id, &command))
            .await
            .unwrap_or(Err(SendError::NotConnected));
        match outcome {
            Ok(serial) => {
                let set = format!(", serial = {serial}, sent_at = now()");
                transition(&mut conn, id, "sent", &set, json!({"serial": serial})).await?;
                sent += 1;
            }
            Err(SendError::NotConnected) => {}
            Err(SendError::Unsupported(why)) => {
                transition(
                    &mut conn,
                    id,
                    "failed",
                    ", result = 'not supported by the device protocol'",
                    json!({"reason": why}),
                )
                .await?;
            }
        }
    }
    let stale: Vec<i64> = sqlx::query_scalar("SELECT id FROM device_commands WHERE status = 'sent' AND sent_at < $1")
        .bind(now - Duration::minutes(REPLY_TIMEOUT_MIN))
        .fetch_all(&mut *conn)
        .await?;
    for id in stale {
        transition(&mut conn, id, "failed", ", result = 'no reply from the device'", json!({"reason": "no reply"}))
            .await?;
    }
    Ok(sent)
}

/// Device commands from a node that holds sessions but not the monitor's state (roles apart, over
/// a message engine): every `every`, the commands due for devices connected here are sent, the
/// engine-cut safety rule read from the devices' latest state in the database. Runs until `stop`.
pub async fn dispatch_from_sessions(
    pool: PgPool,
    downlink: std::sync::Arc<dyn Downlink>,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let due: Vec<i64> = match sqlx::query_scalar(
            "SELECT DISTINCT device_id FROM device_commands WHERE status IN ('queued', 'waiting_stop')",
        )
        .fetch_all(&pool)
        .await
        {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "could not look for device commands");
                continue;
            }
        };
        let here: Vec<i64> = due.into_iter().filter(|d| downlink.connected(*d)).collect();
        if here.is_empty() {
            continue;
        }
        let mut watch = Watch::default();
        if let Err(e) = crate::store::restore_devices(&pool, &mut watch, &here).await {
            tracing::warn!(error = %e, "could not read the devices' latest state for their commands");
            continue;
        }
        if let Err(e) = dispatch(&pool, &watch, downlink.as_ref(), Utc::now(), Some(&here)).await {
            tracing::warn!(error = %e, "command dispatch failed");
        }
    }
}

/// Cancels a vehicle's engine cuts that have not gone out (its contract was brought current);
/// returns how many.
pub async fn withdraw_engine_cuts(pool: &PgPool, vehicle_id: i64) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT k.id FROM device_commands k JOIN devices d ON d.id = k.device_id
         WHERE d.vehicle_id = $1 AND k.command = 'engine_cut' AND k.status IN ('awaiting_approval', 'queued', 'waiting_stop')
         FOR UPDATE OF k",
    )
    .bind(vehicle_id)
    .fetch_all(&mut *tx)
    .await?;
    for id in &ids {
        transition(
            &mut tx,
            *id,
            "cancelled",
            ", result = 'contract brought current'",
            json!({"reason": "contract brought current"}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ids.len())
}

/// Records a device's reply to the sent command it echoes (the oldest sent one when the
/// protocol echoes nothing).
pub async fn record_reply(
    pool: &PgPool,
    device_id: i64,
    serial: Option<i64>,
    text: &str,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM device_commands WHERE device_id = $1 AND status = 'sent' AND ($2::bigint IS NULL OR serial = $2)
         ORDER BY id LIMIT 1 FOR UPDATE",
    )
    .bind(device_id)
    .bind(serial)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else { return Ok(false) };
    sqlx::query("UPDATE device_commands SET acknowledged_at = $2, result = $3 WHERE id = $1")
        .bind(id)
        .bind(at)
        .bind(text)
        .execute(&mut *tx)
        .await?;
    transition(&mut tx, id, "acknowledged", "", json!({"reply": text})).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::LastFix;

    fn device(speed_kmh: f64, ignition: Option<bool>, age_s: i64, later_ignition: Option<bool>) -> DeviceState {
        let time = Utc::now() - chrono::Duration::seconds(age_s);
        let fix = LastFix { time, latitude: 22.5, longitude: 114.0, speed_kmh, valid: true, ignition };
        let mut state = DeviceState::default();
        state.last_fix = Some(fix);
        state.ignition = later_ignition.or(ignition).map(|on| (Utc::now(), on));
        state
    }

    #[test]
    fn an_engine_cut_waits_for_a_standing_vehicle_with_the_ignition_off() {
        let now = Utc::now();
        assert!(safe_to_cut(Some(&device(0.0, Some(false), 10, None)), now));
        assert!(!safe_to_cut(Some(&device(0.0, Some(true), 10, None)), now));
        assert!(!safe_to_cut(Some(&device(35.0, Some(false), 10, None)), now));
        assert!(!safe_to_cut(Some(&device(0.0, None, 10, None)), now));
        assert!(!safe_to_cut(None, now));
    }

    #[test]
    fn an_old_fix_or_a_later_ignition_report_holds_the_cut() {
        let now = Utc::now();
        assert!(
            !safe_to_cut(Some(&device(0.0, Some(false), 3600, None)), now),
            "parked an hour ago says nothing about now"
        );
        assert!(
            !safe_to_cut(Some(&device(0.0, Some(false), 10, Some(true))), now),
            "a heartbeat said the ignition is on"
        );
    }

    #[test]
    fn stored_requests_map_to_protocol_commands() {
        assert_eq!(parse("engine_cut", &json!({})), Some(Command::EngineCut));
        assert_eq!(parse("set_interval", &json!({"seconds": 30})), Some(Command::SetInterval { seconds: 30 }));
        assert_eq!(parse("set_interval", &json!({})), None);
        assert_eq!(parse("self_destruct", &json!({})), None);
    }
}
