//! The dashboard (工作台): open alerts by severity, active contracts by bucket, tasks, the approvals
//! waiting for the reader (due today, overdue), trackers and the positions per second coming in.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use backoffice::postloan::distribution::{self, Caseload};
use backoffice::reports::overview;
use backoffice::system::workflow::engine::{self, InboxCounts};
use chrono::Duration;

use super::error::PageError;
use super::format::{company_today, count, day_starts, money};
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;

/// A row of the alert table.
struct AlertRow {
    severity: String,
    label: String,
    open: i64,
    acknowledged: i64,
}

/// A row of the bucket table.
struct BucketRow {
    label: String,
    contracts: i64,
    overdue_amount: String,
}

/// A row of the task table.
struct TaskRow {
    label: String,
    open: i64,
    mine: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    shell: Shell,
    alerts: Vec<AlertRow>,
    buckets: Vec<BucketRow>,
    tasks: Vec<TaskRow>,
    trackers: i64,
    trackers_reporting: i64,
    positions_per_second: String,
    /// The approvals waiting for the reader, when they act on any.
    approvals: Option<InboxCounts>,
    /// The reader's collection cases, when they collect.
    caseload: Option<Caseload>,
    /// The reader, for the link to their cases.
    me: i64,
}

/// `GET /`.
pub async fn page(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    let figures = overview::overview(&state.pool, &staff).await?;
    let today = company_today(state.utc_offset_hours);
    let caseload = if staff.can("postloan.collect") {
        let mut db = state.pool.acquire().await?;
        Some(distribution::caseload(&mut db, staff.caller.actor.user_id, today).await?)
    } else {
        None
    };
    let approvals = if staff.can("workflows.act") {
        let day_ends = day_starts(today + Duration::days(1), state.utc_offset_hours);
        Some(engine::inbox_counts(&state.pool, &staff, day_ends).await?)
    } else {
        None
    };
    let shell = Shell::new(&staff, "/", "dashboard.title");
    let lang = staff.lang;
    let alerts = figures
        .alerts
        .into_iter()
        .map(|a| AlertRow {
            label: lang.t(&format!("severity.{}", a.severity)).to_owned(),
            severity: a.severity,
            open: a.open,
            acknowledged: a.acknowledged,
        })
        .collect();
    let buckets = figures
        .buckets
        .into_iter()
        .map(|b| BucketRow {
            label: format!("M{}", b.bucket),
            contracts: b.contracts,
            overdue_amount: money(&b.overdue_amount),
        })
        .collect();
    let tasks = figures
        .tasks
        .into_iter()
        .map(|t| TaskRow { label: lang.t(&format!("task.{}", t.kind)).to_owned(), open: t.open, mine: t.mine })
        .collect();
    Ok(render(&Dashboard {
        shell,
        alerts,
        buckets,
        tasks,
        trackers: figures.trackers,
        trackers_reporting: figures.trackers_reporting,
        positions_per_second: count(figures.positions_per_second),
        approvals,
        caseload,
        me: staff.caller.actor.user_id,
    }))
}
