//! `/api/v1/alerts`: what the monitor raised — one open alert per vehicle and rule, with its
//! evidence and history — acknowledged and resolved by collectors (with who and why), and
//! streamed live as Server-Sent Events to each caller within their region.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, Utc};
use leasewatch_monitor::alerts::{self as monitor_alerts, Notice};
use leasewatch_monitor::rules::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection};
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(stream))
        .routes(routes!(get))
        .routes(routes!(acknowledge))
        .routes(routes!(resolve))
}

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
/// Severity as a number, for sorting and thresholds.
const RANK: &str = "array_position(ARRAY['info','low','medium','high','critical'], a.severity)";

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

fn min_rank(min: Option<&str>) -> Result<i32, ApiError> {
    match min {
        None => Ok(1),
        Some(s) => Severity::parse(s)
            .map(|s| s as i32 + 1)
            .ok_or_else(|| ApiError::invalid("min_severity", "must be info, low, medium, high or critical")),
    }
}

/// List the alerts of the caller's region subtree, most severe and most recent first.
#[utoipa::path(get, path = "/alerts", tag = "alerts", params(PageParams, AlertFilter),
    responses((status = 200, description = "A page of alerts", body = Paged<Alert>)), security(("bearer" = ["alerts.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<AlertFilter>,
) -> Result<Json<Paged<Alert>>, ApiError> {
    let rank = min_rank(filter.min_severity.as_deref())?;
    let items = TABLE
        .list(&state.pool, &caller, &page, |f| {
            match filter.status.as_deref() {
                Some("unresolved") => {
                    f.and().push("a.status <> 'resolved'");
                }
                status => {
                    f.eq("a.status", status.map(str::to_owned));
                }
            }
            f.eq("a.rule", filter.rule.clone())
                .at_least(RANK, Some(rank))
                .eq("a.vehicle_id", filter.vehicle_id)
                .eq("a.contract_id", filter.contract_id)
                .eq("a.collection", filter.collection);
        })
        .await?;
    Ok(Json(items))
}

/// Parameters of the live stream.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamFilter {
    /// Only changes of alerts at this severity or higher.
    #[param(pattern = "^(info|low|medium|high|critical)$")]
    pub min_severity: Option<String>,
}

/// Alert changes as they happen (Server-Sent Events), for the caller's region subtree: each
/// event is named by the change (`opened`, `escalated`, `repeated`, `acknowledged`, `resolved`,
/// `closed`) and carries the alert's id, vehicle, contract, rule, severity, status and title.
/// A `lagged` event says how many changes a slow reader missed (list them with `GET /alerts`).
#[utoipa::path(get, path = "/alerts/stream", tag = "alerts", params(StreamFilter),
    responses((status = 200, description = "An endless event stream", content_type = "text/event-stream", body = String)),
    security(("bearer" = ["alerts.read"])))]
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<StreamFilter>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let rank = min_rank(filter.min_severity.as_deref())?;
    let receiver = state
        .alert_feed
        .subscribe(&state.pool)
        .await
        .map_err(|e| ApiError::Unavailable(format!("the alert feed is unavailable: {e}")))?;
    let scope = caller.region_path.clone();
    let shutdown = state.shutdown.clone();
    let events = futures_util::stream::unfold((receiver, shutdown), move |(mut receiver, mut shutdown)| {
        let scope = scope.clone();
        async move {
            loop {
                let received = tokio::select! {
                    received = receiver.recv() => received,
                    () = stopping(&mut shutdown) => return None,
                };
                let event = match received {
                    Ok(notice) => {
                        let visible = notice.region_path.starts_with(&scope)
                            && Severity::parse(&notice.severity).is_some_and(|s| s as i32 + 1 >= rank);
                        if !visible {
                            continue;
                        }
                        notice_event(&notice)
                    }
                    Err(RecvError::Lagged(missed)) => Event::default().event("lagged").data(missed.to_string()),
                    Err(RecvError::Closed) => return None,
                };
                return Some((Ok(event), (receiver, shutdown)));
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Resolves when the process starts shutting down (never, without a signal).
async fn stopping(shutdown: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    match shutdown {
        Some(rx) => {
            let _ = rx.wait_for(|stop| *stop).await;
        }
        None => std::future::pending().await,
    }
}

fn notice_event(notice: &Arc<Notice>) -> Event {
    let data = json!({
        "id": notice.id, "vehicle_id": notice.vehicle_id, "contract_id": notice.contract_id,
        "region_id": notice.region_id, "rule": notice.rule, "severity": notice.severity, "status": notice.status,
        "title": notice.title, "collection": notice.collection, "detected_at": notice.detected_at,
    });
    Event::default().event(notice.action.as_str()).id(notice.id.to_string()).data(data.to_string())
}

/// An alert with its history.
#[utoipa::path(get, path = "/alerts/{id}", tag = "alerts", params(("id" = i64, Path, description = "Alert id")),
    responses((status = 200, description = "The alert", body = AlertDetail)), security(("bearer" = ["alerts.read"])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<AlertDetail>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let alert = TABLE.load(&mut conn, &caller, id).await?;
    let history =
        sqlx::query_as("SELECT at, action, severity, user_id, note FROM alert_history WHERE alert_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(Json(AlertDetail { alert, history }))
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

async fn change(
    state: &AppState,
    caller: &Caller,
    id: i64,
    action: &str,
    note: Option<&str>,
) -> Result<Alert, ApiError> {
    let mut tx = state.pool.begin().await?;
    let before = TABLE.lock(&mut tx, caller, id).await?;
    let (status, sql) = match (action, before.status.as_str()) {
        ("acknowledged", "open") => (
            "acknowledged",
            "UPDATE alerts SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = now(), version = version + 1 WHERE id = $1",
        ),
        ("resolved", "open" | "acknowledged") => (
            "resolved",
            "UPDATE alerts SET status = 'resolved', resolved_by = $2, resolved_at = now(), resolution = $3, version = version + 1 WHERE id = $1",
        ),
        (_, current) => return Err(ApiError::invalid_state(format!("the alert is {current}"))),
    };
    sqlx::query(sql).bind(id).bind(caller.user_id).bind(note).execute(&mut *tx).await?;
    monitor_alerts::history(&mut tx, id, action, &before.severity, Some(caller.user_id), note).await?;
    let after = TABLE.load(&mut tx, caller, id).await?;
    let notice = Notice {
        id,
        action: action.to_owned(),
        vehicle_id: after.vehicle_id,
        contract_id: after.contract_id,
        region_id: after.region_id,
        region_path: region_path_of(&mut tx, after.region_id).await?,
        rule: after.rule.clone(),
        severity: after.severity.clone(),
        status: status.to_owned(),
        title: after.title.clone(),
        collection: after.collection,
        detected_at: Utc::now(),
    };
    monitor_alerts::announce(&mut tx, &notice).await?;
    let entry =
        Change::new(if status == "resolved" { "resolve" } else { "acknowledge" }, "alert", id, Some(after.region_id))
            .before(json!({"status": before.status}))
            .after(json!({"status": after.status, "note": note}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(after)
}

async fn region_path_of(db: &mut PgConnection, region_id: i64) -> Result<String, ApiError> {
    Ok(sqlx::query_scalar("SELECT path FROM regions WHERE id = $1").bind(region_id).fetch_one(db).await?)
}

/// Acknowledge an open alert: someone is on it.
#[utoipa::path(post, path = "/alerts/{id}/actions/acknowledge", tag = "alerts", request_body = Acknowledge,
    params(("id" = i64, Path, description = "Alert id")),
    responses((status = 200, description = "Acknowledged", body = Alert)), security(("bearer" = ["alerts.act"])))]
async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Acknowledge>,
) -> Result<Json<Alert>, ApiError> {
    let note = body.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    Checks::default()
        .check(note.is_none_or(|n| n.chars().count() <= 1000), "note", "must be at most 1000 characters")
        .finish()?;
    Ok(Json(change(&state, &caller, id, "acknowledged", note).await?))
}

/// Resolve an alert, saying why.
#[utoipa::path(post, path = "/alerts/{id}/actions/resolve", tag = "alerts", request_body = Resolve,
    params(("id" = i64, Path, description = "Alert id")),
    responses((status = 200, description = "Resolved", body = Alert)), security(("bearer" = ["alerts.act"])))]
async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Resolve>,
) -> Result<Json<Alert>, ApiError> {
    Checks::default().text("resolution", &body.resolution, 1000).finish()?;
    Ok(Json(change(&state, &caller, id, "resolved", Some(body.resolution.trim())).await?))
}
