//! Alerts the monitor raised: one open alert per vehicle and rule, with its evidence and history,
//! listed and read within the actor's region subtree, acknowledged and resolved by collectors (with
//! who and why). Each change is kept in the alert's history, announced to the live feed and audited,
//! in one transaction.

use chrono::{DateTime, Utc};
use leasewatch_monitor::alerts::{self as monitor_alerts, Notice};
use leasewatch_monitor::rules::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};

/// An alert.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Alert {
    /// Id.
    pub id: i64,
    /// The vehicle.
    pub vehicle_id: i64,
    /// The device that showed it.
    pub device_id: Option<i64>,
    /// The vehicle's active contract then.
    pub contract_id: Option<i64>,
    /// Region (routes it to that region's collection group).
    pub region_id: i64,
    /// The rule (`power_cut`, `risk_location_dwell`...).
    pub rule: String,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// One line.
    pub title: String,
    /// The positions, events and payment status that show it.
    #[schema(value_type = Object)]
    pub evidence: Value,
    /// How many times the condition was seen while open.
    pub occurrences: i32,
    /// First seen.
    pub first_at: DateTime<Utc>,
    /// Last seen.
    pub last_at: DateTime<Utc>,
    /// Where, WGS-84.
    pub latitude: Option<f64>,
    /// Where, WGS-84.
    pub longitude: Option<f64>,
    /// Raised or escalated because the contract was overdue (closes when brought current).
    pub collection: bool,
    /// Who acknowledged it.
    pub acknowledged_by: Option<i64>,
    /// When.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who resolved it (none: the monitor closed it).
    pub resolved_by: Option<i64>,
    /// When.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Why.
    pub resolution: Option<String>,
    /// For optimistic concurrency.
    pub version: i32,
}

/// One change in an alert's life.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct AlertChange {
    /// When.
    pub at: DateTime<Utc>,
    /// `opened`, `escalated`, `acknowledged`, `resolved` or `closed` (by the monitor).
    pub action: String,
    /// The severity then.
    pub severity: String,
    /// Who (none: the monitor).
    pub user_id: Option<i64>,
    /// Their note.
    pub note: Option<String>,
}

/// An alert and its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDetail {
    /// The alert.
    pub alert: Alert,
    /// Its changes, oldest first.
    pub history: Vec<AlertChange>,
}

/// How alerts are read.
const TABLE: Table<Alert> = Table::new(
    "alert",
    "SELECT a.id, a.vehicle_id, a.device_id, a.contract_id, a.region_id, a.rule, a.severity, a.status,
        a.title, a.evidence, a.occurrences, a.first_at, a.last_at, a.latitude, a.longitude, a.collection,
        a.acknowledged_by, a.acknowledged_at, a.resolved_by, a.resolved_at, a.resolution, a.version",
    "FROM alerts a JOIN regions g ON g.id = a.region_id",
    "a.id",
)
.scoped("g.path")
.sorted(&[("last_at", "a.last_at"), ("first_at", "a.first_at"), ("severity", RANK), ("id", "a.id")], "-severity");
/// Severity as a number, for sorting and thresholds; the same numbers as [`rank`].
const RANK: &str = "array_position(ARRAY['info','low','medium','high','critical'], a.severity)";

/// A severity as a number from 1 (`info`) to 5 (`critical`), as [`RANK`] counts in SQL.
fn rank(severity: &str) -> Option<i32> {
    Severity::parse(severity).map(|s| s as i32 + 1)
}

/// The lowest severity rank a list or stream asks for (all of them when `None`).
pub fn min_rank(min: Option<&str>) -> Result<i32, Error> {
    match min {
        None => Ok(1),
        Some(s) => rank(s).ok_or_else(|| Error::invalid("min_severity", "must be info, low, medium, high or critical")),
    }
}

/// Whether a live change is for a reader of the region subtree `scope` asking for `min_rank` or higher.
pub fn notice_visible(notice: &Notice, scope: &str, min_rank: i32) -> bool {
    notice.region_path.starts_with(scope) && rank(&notice.severity).is_some_and(|r| r >= min_rank)
}

/// Filters of the alert list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertFilter {
    /// `open`, `acknowledged`, `resolved`, or `unresolved` (open or acknowledged).
    #[param(pattern = "^(open|acknowledged|resolved|unresolved)$")]
    pub status: Option<String>,
    /// The rule.
    pub rule: Option<String>,
    /// This severity or higher.
    #[param(pattern = "^(info|low|medium|high|critical)$")]
    pub min_severity: Option<String>,
    /// The vehicle.
    pub vehicle_id: Option<i64>,
    /// The contract.
    pub contract_id: Option<i64>,
    /// Only alerts raised for collection (overdue contracts).
    pub collection: Option<bool>,
}

/// Parameters of the live stream.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamFilter {
    /// Only changes of alerts at this severity or higher.
    #[param(pattern = "^(info|low|medium|high|critical)$")]
    pub min_severity: Option<String>,
}

/// The alerts of the actor's region subtree, most severe and most recent first.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &AlertFilter,
) -> Result<Paged<Alert>, Error> {
    let min = min_rank(filter.min_severity.as_deref())?;
    TABLE
        .list(pool, actor, page, |f| {
            match filter.status.as_deref() {
                Some("unresolved") => {
                    f.and().push("a.status <> 'resolved'");
                }
                status => {
                    f.eq("a.status", status.map(str::to_owned));
                }
            }
            f.eq("a.rule", filter.rule.clone())
                .at_least(RANK, Some(min))
                .eq("a.vehicle_id", filter.vehicle_id)
                .eq("a.contract_id", filter.contract_id)
                .eq("a.collection", filter.collection);
        })
        .await
}

/// The alert `id` with its history, if in the actor's region subtree.
pub async fn get(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<AlertDetail, Error> {
    let alert = TABLE.load(db, actor, id).await?;
    let history =
        sqlx::query_as("SELECT at, action, severity, user_id, note FROM alert_history WHERE alert_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(db)
            .await?;
    Ok(AlertDetail { alert, history })
}

/// A collector's acknowledgement.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledge {
    /// What they are doing about it.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// A resolution.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// Why it is resolved (found the vehicle, false alarm, paid...).
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub resolution: String,
}

/// Acknowledges an open alert (someone is on it), with an optional note.
pub async fn acknowledge(db: &mut PgConnection, actor: &Actor, id: i64, body: &Acknowledge) -> Result<Alert, Error> {
    let note = body.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    Checks::default()
        .check(note.is_none_or(|n| n.chars().count() <= 1000), "note", "must be at most 1000 characters")
        .finish()?;
    change(db, actor, id, "acknowledged", note).await
}

/// Resolves an open or acknowledged alert, saying why.
pub async fn resolve(db: &mut PgConnection, actor: &Actor, id: i64, body: &Resolve) -> Result<Alert, Error> {
    Checks::default().text("resolution", &body.resolution, 1000).finish()?;
    change(db, actor, id, "resolved", Some(body.resolution.trim())).await
}

/// Moves the alert to `action` (`acknowledged` or `resolved`), keeping it in its history, announcing
/// it to the live feed and auditing it.
async fn change(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    action: &str,
    note: Option<&str>,
) -> Result<Alert, Error> {
    let before = TABLE.lock(db, actor, id).await?;
    let (status, sql) = match (action, before.status.as_str()) {
        ("acknowledged", "open") => (
            "acknowledged",
            "UPDATE alerts SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = now(), version = version + 1 WHERE id = $1",
        ),
        ("resolved", "open" | "acknowledged") => (
            "resolved",
            "UPDATE alerts SET status = 'resolved', resolved_by = $2, resolved_at = now(), resolution = $3, version = version + 1 WHERE id = $1",
        ),
        (_, current) => return Err(Error::invalid_state(format!("the alert is {current}"))),
    };
    sqlx::query(sql).bind(id).bind(actor.user_id).bind(note).execute(&mut *db).await?;
    monitor_alerts::history(db, id, action, &before.severity, Some(actor.user_id), note).await?;
    let after = TABLE.load(db, actor, id).await?;
    let region_path: String =
        sqlx::query_scalar("SELECT path FROM regions WHERE id = $1").bind(after.region_id).fetch_one(&mut *db).await?;
    let notice = Notice {
        id,
        action: action.to_owned(),
        vehicle_id: after.vehicle_id,
        contract_id: after.contract_id,
        region_id: after.region_id,
        region_path,
        rule: after.rule.clone(),
        severity: after.severity.clone(),
        status: status.to_owned(),
        title: after.title.clone(),
        collection: after.collection,
        detected_at: Utc::now(),
    };
    monitor_alerts::announce(db, &notice).await?;
    let entry =
        Change::new(if status == "resolved" { "resolve" } else { "acknowledge" }, "alert", id, Some(after.region_id))
            .before(json!({"status": before.status}))
            .after(json!({"status": after.status, "note": note}));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(after)
}
