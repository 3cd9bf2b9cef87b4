//! Replay: the rules re-evaluated over stored history, with candidate thresholds, reporting which
//! alerts would have fired — to tune thresholds before changing them. Positions and events are
//! read an hour at a time in time order and fed to a fresh [`Watch`], whose clock is the history's
//! (time-based rules tick every simulated minute). Nothing is written.
//!
//! Payment status is as it stood on each replayed day (the books' daily delinquency history), so a
//! replayed alert is weighed as it would have been then; contracts and places are today's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use leasewatch_protocols::{AlarmSet, Position, Status};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::observation::{Observation, Seen};
use crate::rules::{RuleSetting, Severity};
use crate::watch::{Outcome, Watch};
use crate::{engine, store};

/// An alert the replay would have raised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WouldFire {
    /// The vehicle.
    pub vehicle_id: i64,
    /// The rule.
    pub rule: &'static str,
    /// The highest severity reached.
    pub severity: Severity,
    /// First time.
    pub first_at: DateTime<Utc>,
    /// Last time.
    pub last_at: DateTime<Utc>,
    /// Times seen while open.
    pub occurrences: u32,
    /// The latest title.
    pub title: String,
    /// Whether the condition cleared within the window.
    pub cleared: bool,
}

/// What a replay found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Positions read.
    pub positions: u64,
    /// Events read.
    pub events: u64,
    /// Alerts per rule.
    pub by_rule: BTreeMap<&'static str, u32>,
    /// Alerts per severity.
    pub by_severity: BTreeMap<&'static str, u32>,
    /// Every alert, in the order first raised.
    pub alerts: Vec<WouldFire>,
}

type PositionRow = (i64, DateTime<Utc>, DateTime<Utc>, f64, f64, f32, f32, bool, Option<bool>, Option<f32>, i32);
type EventRow = (i64, DateTime<Utc>, String, i32, Value);

/// Turns stored alarm bits back into a set.
fn alarms(bits: i32) -> AlarmSet {
    let mut set = AlarmSet::default();
    for (i, alarm) in leasewatch_protocols::Alarm::ALL.iter().enumerate() {
        if bits & (1 << i) != 0 {
            set.insert(*alarm);
        }
    }
    set
}

fn observation(row: PositionRow) -> Observation {
    let (device_id, fix_time, server_time, latitude, longitude, speed, course, valid, ignition, power, bits) = row;
    let position = Position {
        fix_time,
        latitude,
        longitude,
        speed_kmh: f64::from(speed),
        course: f64::from(course),
        altitude: None,
        satellites: None,
        valid,
        cell: None,
    };
    let status = Status { ignition, power_voltage: power.map(f64::from), ..Status::default() };
    Observation { device_id, server_time, seen: Seen::Fix { position, status, alarms: alarms(bits) } }
}

fn event(row: EventRow) -> Observation {
    let (device_id, time, kind, bits, attributes) = row;
    let seen = match kind.as_str() {
        "online" => Seen::Online,
        "offline" => Seen::Offline,
        "command_reply" => Seen::CommandReply {
            serial: attributes.get("server_flag").or(attributes.get("reply_serial")).and_then(Value::as_i64),
            text: attributes.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
        },
        _ => Seen::Status { status: Status::default(), alarms: alarms(bits) },
    };
    Observation { device_id, server_time: time, seen }
}

/// Replays `from`..`to` with `overrides` on top of the thresholds in force.
pub async fn replay(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    overrides: &[RuleSetting],
    utc_offset_hours: i32,
) -> Result<Report, sqlx::Error> {
    let mut watch = Watch::new(Arc::new(engine::shipped_provinces()), utc_offset_hours);
    store::refresh_with(pool, &mut watch, overrides).await?;
    let mut report = Report::default();
    let mut open: BTreeMap<(i64, &'static str), usize> = BTreeMap::new();
    let mut out = Vec::new();
    let mut next_tick = from + Duration::minutes(1);
    let mut start = from;
    let mut status_day = None;
    while start < to {
        let end = (start + Duration::hours(1)).min(to);
        let day = (start + Duration::hours(i64::from(utc_offset_hours))).date_naive();
        if status_day != Some(day) {
            watch.set_payment_status(&payment_status_on(pool, day).await?);
            status_day = Some(day);
        }
        let positions: Vec<PositionRow> = sqlx::query_as(
            "SELECT device_id, fix_time, server_time, latitude, longitude, speed_kmh, course, valid, ignition, power_voltage, alarms
             FROM positions WHERE fix_time >= $1 AND fix_time < $2 ORDER BY fix_time, device_id",
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await?;
        let events: Vec<EventRow> = sqlx::query_as(
            "SELECT device_id, time, kind, alarms, attributes FROM device_events WHERE time >= $1 AND time < $2 ORDER BY time, device_id",
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await?;
        report.positions += positions.len() as u64;
        report.events += events.len() as u64;
        let mut merged: Vec<(DateTime<Utc>, Observation)> = positions
            .into_iter()
            .map(|p| (p.1, observation(p)))
            .chain(events.into_iter().map(|e| (e.1, event(e))))
            .collect();
        merged.sort_by_key(|(t, o)| (*t, o.device_id));
        for (at, obs) in merged {
            while next_tick <= at {
                watch.tick(next_tick, &mut out);
                next_tick += Duration::minutes(1);
            }
            watch.observe(&obs, &mut out);
            record(&mut report, &mut open, out.drain(..));
        }
        while next_tick <= end {
            watch.tick(next_tick, &mut out);
            next_tick += Duration::minutes(1);
        }
        record(&mut report, &mut open, out.drain(..));
        start = end;
    }
    for alert in &report.alerts {
        *report.by_rule.entry(alert.rule).or_default() += 1;
        *report.by_severity.entry(alert.severity.name()).or_default() += 1;
    }
    Ok(report)
}

/// Each contract's days past due and bucket as the daily job last recorded them before `day` (what
/// was known that day). Contracts with no record before it were current (0, 0) unless they have no
/// record at all (the daily job never ran for them): those keep today's.
async fn payment_status_on(pool: &PgPool, day: NaiveDate) -> Result<HashMap<i64, (i32, i32)>, sqlx::Error> {
    let rows: Vec<(i64, i32, i32)> = sqlx::query_as(
        "SELECT c.contract_id, coalesce(h.dpd, 0), coalesce(h.bucket, 0)
         FROM (SELECT DISTINCT contract_id FROM delinquency_history) c
         LEFT JOIN LATERAL (SELECT dpd, bucket FROM delinquency_history d
                            WHERE d.contract_id = c.contract_id AND d.as_of < $1 ORDER BY as_of DESC LIMIT 1) h ON true",
    )
    .bind(day)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(contract, dpd, bucket)| (contract, (dpd, bucket))).collect())
}

/// Folds outcomes into the report as the alert table would: one open alert per vehicle and rule.
fn record(
    report: &mut Report,
    open: &mut BTreeMap<(i64, &'static str), usize>,
    outcomes: impl Iterator<Item = Outcome>,
) {
    for outcome in outcomes {
        match outcome {
            Outcome::Raise(f) => {
                let key = (f.vehicle_id, f.rule.name());
                match open.get(&key) {
                    Some(&i) => {
                        let a = &mut report.alerts[i];
                        a.occurrences += 1;
                        a.last_at = a.last_at.max(f.at);
                        a.severity = a.severity.max(f.severity);
                        a.title = f.title;
                    }
                    None => {
                        open.insert(key, report.alerts.len());
                        report.alerts.push(WouldFire {
                            vehicle_id: f.vehicle_id,
                            rule: f.rule.name(),
                            severity: f.severity,
                            first_at: f.at,
                            last_at: f.at,
                            occurrences: 1,
                            title: f.title,
                            cleared: false,
                        });
                    }
                }
            }
            Outcome::Clear { vehicle_id, rule, .. } => {
                if let Some(i) = open.remove(&(vehicle_id, rule.name())) {
                    report.alerts[i].cleared = true;
                }
            }
            Outcome::CommandReply { .. } | Outcome::Stood { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leasewatch_protocols::Alarm;

    #[test]
    fn stored_alarm_bits_come_back_as_the_same_alarms() {
        let set = AlarmSet::default().with(Alarm::PowerCut).with(Alarm::Jamming);
        assert_eq!(alarms(set.bits() as i32), set);
    }
}
