//! The figures a member of staff sees first: open alerts by severity, active contracts by bucket
//! with their overdue amounts, open collection and repossession tasks (theirs and their region's),
//! how many trackers reported lately, and the positions per second the ingest nodes acknowledge.
//! Every figure but the last counts only the reader's region subtree; the throughput is the
//! whole system's.

use leasewatch_finance::Decimal;
use serde::Serialize;
use sqlx::{FromRow, PgPool};

use crate::actor::Actor;
use crate::error::Error;

/// Open alerts of one severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct AlertCount {
    /// `critical`, `high`, `medium`, `low` or `info`.
    pub severity: String,
    /// Open (not acknowledged) alerts.
    pub open: i64,
    /// Acknowledged, not yet resolved.
    pub acknowledged: i64,
}

/// Active contracts in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct BucketCount {
    /// 0 = current (M0), 1 = M1...
    pub bucket: i32,
    /// Contracts.
    pub contracts: i64,
    /// Their overdue amount.
    pub overdue_amount: Decimal,
}

/// Open tasks of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct TaskCount {
    /// `collection` or `repossession`.
    pub kind: String,
    /// Open or assigned in the region subtree.
    pub open: i64,
    /// Assigned to the reader.
    pub mine: i64,
}

/// The dashboard's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overview {
    /// Alerts by severity, most severe first; severities with none are left out.
    pub alerts: Vec<AlertCount>,
    /// Active contracts by bucket, from current up.
    pub buckets: Vec<BucketCount>,
    /// Tasks by kind.
    pub tasks: Vec<TaskCount>,
    /// Trackers installed in the region's vehicles.
    pub trackers: i64,
    /// Of them, those heard from in the last ten minutes.
    pub trackers_reporting: i64,
    /// Positions per second all ingest nodes acknowledged over the last minute.
    pub positions_per_second: i64,
}

/// The figures for `actor`'s region subtree.
pub async fn overview(pool: &PgPool, actor: &Actor) -> Result<Overview, Error> {
    let path = &actor.region_path;
    let alerts = sqlx::query_as(
        "SELECT a.severity, count(*) FILTER (WHERE a.status = 'open') AS open,
                count(*) FILTER (WHERE a.status = 'acknowledged') AS acknowledged
         FROM alerts a JOIN regions g ON g.id = a.region_id
         WHERE a.status <> 'resolved' AND starts_with(g.path, $1)
         GROUP BY a.severity
         ORDER BY array_position(ARRAY['critical','high','medium','low','info'], a.severity)",
    )
    .bind(path)
    .fetch_all(pool)
    .await?;
    let buckets = sqlx::query_as(
        "SELECT c.bucket, count(*) AS contracts, COALESCE(sum(c.overdue_amount), 0) AS overdue_amount
         FROM contracts c JOIN regions g ON g.id = c.region_id
         WHERE c.status = 'active' AND starts_with(g.path, $1)
         GROUP BY c.bucket ORDER BY c.bucket",
    )
    .bind(path)
    .fetch_all(pool)
    .await?;
    let tasks = sqlx::query_as(
        "SELECT t.kind, count(*) AS open, count(*) FILTER (WHERE t.assignee_id = $2) AS mine
         FROM risk_tasks t JOIN regions g ON g.id = t.region_id
         WHERE t.status IN ('open', 'assigned') AND starts_with(g.path, $1)
         GROUP BY t.kind ORDER BY t.kind",
    )
    .bind(path)
    .bind(actor.user_id)
    .fetch_all(pool)
    .await?;
    let (trackers, trackers_reporting): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE d.last_seen > now() - interval '10 minutes')
         FROM devices d JOIN vehicles v ON v.id = d.vehicle_id JOIN regions g ON g.id = v.region_id
         WHERE starts_with(g.path, $1)",
    )
    .bind(path)
    .fetch_one(pool)
    .await?;
    // Each node's count over the span its reports cover, summed over the nodes.
    let positions_per_second: i64 = sqlx::query_scalar(
        "SELECT COALESCE(round(sum(rate)), 0)::bigint FROM (
             SELECT sum(positions) / sum(seconds) AS rate FROM ingest_throughput
             WHERE at > now() - interval '1 minute' GROUP BY node) nodes",
    )
    .fetch_one(pool)
    .await?;
    Ok(Overview { alerts, buckets, tasks, trackers, trackers_reporting, positions_per_second })
}
