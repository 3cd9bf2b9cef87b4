//! Repossession (收车) tasks the monitor proposes: when a contract reaches the repossession
//! bucket and its vehicle is located, a task with the last trustworthy fix, the likely night
//! parking place and the hours the vehicle is usually there. Collection tasks are made by
//! people from alerts, through the admin API. This module is the one writer of `risk_tasks`.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use crate::watch::Watch;

/// A task to open.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    /// `collection` or `repossession` (also the position that works it).
    pub kind: &'a str,
    /// The vehicle.
    pub vehicle_id: i64,
    /// Its contract.
    pub contract_id: Option<i64>,
    /// The region the task belongs to.
    pub region_id: i64,
    /// The alerts it comes from.
    pub alert_ids: &'a [i64],
    /// What the worker needs to know.
    pub evidence: &'a Value,
    /// A note from whoever opened it.
    pub note: Option<&'a str>,
}

/// Opens a task unless the vehicle already has an open one of its kind; returns its id when made.
pub async fn open(db: &mut PgConnection, new: &NewTask<'_>) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO risk_tasks (kind, vehicle_id, contract_id, region_id, alert_ids, evidence, position_code, note)
         VALUES ($1, $2, $3, $4, $5, $6, $1, $7)
         ON CONFLICT (vehicle_id, kind) WHERE status IN ('open', 'assigned') DO NOTHING RETURNING id",
    )
    .bind(new.kind)
    .bind(new.vehicle_id)
    .bind(new.contract_id)
    .bind(new.region_id)
    .bind(new.alert_ids)
    .bind(new.evidence)
    .bind(new.note)
    .fetch_optional(db)
    .await
}

/// Moves a task to `status` (`assigned`, `done`, `cancelled`), with its assignee and note when given.
pub async fn set_status(
    db: &mut PgConnection,
    id: i64,
    status: &str,
    assignee: Option<i64>,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE risk_tasks SET status = $2, assignee_id = COALESCE($3, assignee_id), note = COALESCE($4, note),
                updated_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(assignee)
    .bind(note)
    .execute(db)
    .await?;
    Ok(())
}

/// A vehicle counts as located when its last valid fix is at most this old.
const LOCATED_WITHIN_DAYS: i64 = 7;
/// How far back night parking is looked for.
const NIGHT_HISTORY_DAYS: i64 = 30;

/// Where a vehicle spends its nights, from its parked fixes between 20:00 and 07:00 local time.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NightPlace {
    /// Latitude, to about 100 m.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
    /// Parked fixes seen there at night.
    pub fixes: i64,
    /// The local hour it is usually there from (evening).
    pub from_hour: u32,
    /// The local hour it usually leaves (morning).
    pub until_hour: u32,
}

/// The usual window from the local hours parked fixes were seen at the place: from the earliest
/// evening hour to the latest morning hour, wrapping midnight.
pub fn night_window(hours: &[u32]) -> (u32, u32) {
    let evening = hours.iter().copied().filter(|h| *h >= 12).min();
    let morning = hours.iter().copied().filter(|h| *h < 12).max();
    match (evening, morning) {
        (Some(e), Some(m)) => (e, m + 1),
        (Some(e), None) => (e, 0),
        (None, Some(m)) => (0, m + 1),
        (None, None) => (20, 7),
    }
}

/// The most frequent night parking place of `devices` before `now`.
pub async fn night_place(
    db: &mut PgConnection,
    devices: &[i64],
    now: DateTime<Utc>,
    utc_offset_hours: i32,
) -> Result<Option<NightPlace>, sqlx::Error> {
    let row: Option<(f64, f64, i64, Vec<i32>)> = sqlx::query_as(
        "WITH parked AS (
             SELECT round(latitude::numeric, 3)::float8 AS lat, round(longitude::numeric, 3)::float8 AS lon,
                    extract(hour FROM fix_time AT TIME ZONE 'UTC' + make_interval(hours => $4))::int AS hour
             FROM positions
             WHERE device_id = ANY($1) AND fix_time BETWEEN $2 AND $3 AND valid AND speed_kmh < 1)
         SELECT lat, lon, count(*), array_agg(DISTINCT hour) FROM parked
         WHERE hour >= 20 OR hour < 7 GROUP BY lat, lon ORDER BY count(*) DESC, lat, lon LIMIT 1",
    )
    .bind(devices)
    .bind(now - Duration::days(NIGHT_HISTORY_DAYS))
    .bind(now)
    .bind(utc_offset_hours)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(latitude, longitude, fixes, hours)| {
        let hours: Vec<u32> = hours.into_iter().filter_map(|h| u32::try_from(h).ok()).collect();
        let (from_hour, until_hour) = night_window(&hours);
        NightPlace { latitude, longitude, fixes, from_hour, until_hour }
    }))
}

/// Proposes a repossession task for every located vehicle whose contract reached its
/// repossession bucket and has none open (nor one closed in the last 30 days); returns how many
/// were made.
pub async fn propose_repossessions(
    pool: &PgPool,
    watch: &Watch,
    now: DateTime<Utc>,
    utc_offset_hours: i32,
) -> Result<usize, sqlx::Error> {
    // A task done or cancelled in the last 30 days is not proposed again straight away.
    let taken: HashSet<i64> = sqlx::query_scalar(
        "SELECT vehicle_id FROM risk_tasks WHERE kind = 'repossession'
           AND (status IN ('open', 'assigned') OR updated_at > $1 - interval '30 days')",
    )
    .bind(now)
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let mut made = 0;
    for vehicle_id in &watch.vehicle_ids() {
        if taken.contains(vehicle_id) {
            continue;
        }
        let Some(vehicle) = watch.vehicle(*vehicle_id) else { continue };
        let Some(payment) = &vehicle.payment else { continue };
        if payment.bucket < vehicle.rules.thresholds.repossession_bucket {
            continue;
        }
        let devices = watch.devices_of(*vehicle_id);
        let last = devices
            .iter()
            .filter_map(|d| watch.device(*d).and_then(|s| s.last_valid))
            .max_by_key(|f| f.time)
            .filter(|f| now - f.time <= Duration::days(LOCATED_WITHIN_DAYS));
        let Some(last) = last else { continue };
        let night = night_place(&mut *pool.acquire().await?, devices, now, utc_offset_hours).await?;
        let alert_ids = crate::alerts::open_ids(pool, *vehicle_id).await?;
        let evidence = json!({
            "last_fix": {"time": last.time, "latitude": last.latitude, "longitude": last.longitude,
                         "speed_kmh": last.speed_kmh, "ignition": last.ignition},
            "night_place": night,
            "payment": {"contract_id": payment.contract_id, "number": payment.number, "dpd": payment.dpd, "bucket": payment.bucket},
        });
        let new = NewTask {
            kind: "repossession",
            vehicle_id: *vehicle_id,
            contract_id: Some(payment.contract_id),
            region_id: vehicle.region_id,
            alert_ids: &alert_ids,
            evidence: &evidence,
            note: None,
        };
        if open(&mut *pool.acquire().await?, &new).await?.is_some() {
            made += 1;
        }
    }
    Ok(made)
}

/// Withdraws a vehicle's proposed (not yet assigned) repossession task: the contract is current.
pub async fn withdraw_repossession(pool: &PgPool, vehicle_id: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE risk_tasks SET status = 'cancelled', note = 'contract brought current', updated_at = now(),
                version = version + 1
         WHERE vehicle_id = $1 AND kind = 'repossession' AND status = 'open'",
    )
    .bind(vehicle_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_night_window_wraps_midnight() {
        assert_eq!(night_window(&[21, 22, 23, 0, 1, 5, 6]), (21, 7));
        assert_eq!(night_window(&[22, 23]), (22, 0));
        assert_eq!(night_window(&[]), (20, 7));
    }
}
