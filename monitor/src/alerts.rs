//! Alerts in the database: one open alert per vehicle and rule, raised, repeated, escalated and
//! closed here, each change written to `alert_history` and announced with `NOTIFY` on
//! [`CHANNEL`] in the same transaction, so every admin process streams it as soon as it commits.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::rules::{Rule, Severity};
use crate::watch::Finding;

/// The `NOTIFY` channel alert changes are announced on.
pub const CHANNEL: &str = "leasewatch_alerts";

/// What listeners are told about an alert change (the full alert is one GET away).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Notice {
    /// The alert.
    pub id: i64,
    /// `opened`, `repeated`, `escalated`, `acknowledged`, `resolved` or `closed`.
    pub action: String,
    /// The vehicle.
    pub vehicle_id: i64,
    /// The contract.
    pub contract_id: Option<i64>,
    /// Its region.
    pub region_id: i64,
    /// The region's materialized path, for scoping.
    pub region_path: String,
    /// The rule.
    pub rule: String,
    /// The severity now.
    pub severity: String,
    /// The status now.
    pub status: String,
    /// One line.
    pub title: String,
    /// Raised or escalated because the contract is overdue.
    pub collection: bool,
    /// When the row that caused it was seen committed (for end-to-end latency).
    pub detected_at: DateTime<Utc>,
}

/// Where an alert belongs.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    /// The region.
    pub region_id: i64,
    /// The contract.
    pub contract_id: Option<i64>,
}

/// Sends `notice` to listeners when the transaction commits, and queues it for every webhook
/// whose region and severity it matches (delivered by [`crate::webhooks`]).
pub async fn announce(conn: &mut PgConnection, notice: &Notice) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(notice).unwrap_or_default();
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(&payload).execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO webhook_deliveries (webhook_id, alert_id, payload)
         SELECT w.id, $1, $2::jsonb FROM webhooks w JOIN regions g ON g.id = w.region_id
         WHERE w.active AND starts_with($3, g.path)
           AND array_position(ARRAY['info','low','medium','high','critical'], $4)
               >= array_position(ARRAY['info','low','medium','high','critical'], w.min_severity)",
    )
    .bind(notice.id)
    .bind(&payload)
    .bind(&notice.region_path)
    .bind(&notice.severity)
    .execute(conn)
    .await?;
    Ok(())
}

type Current = (i64, String, String, String, bool, String);

/// A closed alert: id, contract, region, rule, severity, title, collection, region path.
type Closed = (i64, Option<i64>, i64, String, String, String, bool, String);

/// Raises `finding`, or updates the open alert of its vehicle and rule: another occurrence, the
/// latest evidence, and a higher severity when the finding's is higher.
pub async fn raise(
    conn: &mut PgConnection,
    finding: &Finding,
    owner: Owner,
    detected_at: DateTime<Utc>,
) -> Result<Notice, sqlx::Error> {
    let open: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, severity FROM alerts WHERE vehicle_id = $1 AND rule = $2 AND status <> 'resolved' FOR UPDATE",
    )
    .bind(finding.vehicle_id)
    .bind(finding.rule.name())
    .fetch_optional(&mut *conn)
    .await?;
    let (lat, lon) = finding.location.unzip();
    let (row, action): (Current, &str) = match open {
        None => {
            let row = sqlx::query_as(
                "INSERT INTO alerts (vehicle_id, device_id, contract_id, region_id, rule, severity, title, evidence,
                                     first_at, last_at, latitude, longitude, detected_at, collection)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13)
                 RETURNING id, severity, status, title, collection, (SELECT path FROM regions WHERE id = $4)",
            )
            .bind(finding.vehicle_id)
            .bind(finding.device_id)
            .bind(owner.contract_id)
            .bind(owner.region_id)
            .bind(finding.rule.name())
            .bind(finding.severity.name())
            .bind(&finding.title)
            .bind(&finding.evidence)
            .bind(finding.at)
            .bind(lat)
            .bind(lon)
            .bind(detected_at)
            .bind(finding.collection)
            .fetch_one(&mut *conn)
            .await?;
            (row, "opened")
        }
        Some((id, severity)) => {
            let before = Severity::parse(&severity).unwrap_or(Severity::Info);
            let escalated = finding.severity > before;
            let row = sqlx::query_as(
                "UPDATE alerts SET occurrences = occurrences + 1, last_at = greatest(last_at, $2),
                        severity = $3, title = $4, evidence = $5, device_id = coalesce($6, device_id),
                        latitude = coalesce($7, latitude), longitude = coalesce($8, longitude),
                        collection = collection OR $9, detected_at = $10, version = version + 1,
                        status = CASE WHEN $11 THEN 'open' ELSE status END
                 WHERE id = $1
                 RETURNING id, severity, status, title, collection, (SELECT path FROM regions WHERE id = region_id)",
            )
            .bind(id)
            .bind(finding.at)
            .bind(finding.severity.max(before).name())
            .bind(&finding.title)
            .bind(&finding.evidence)
            .bind(finding.device_id)
            .bind(lat)
            .bind(lon)
            .bind(finding.collection)
            .bind(detected_at)
            .bind(escalated)
            .fetch_one(&mut *conn)
            .await?;
            (row, if escalated { "escalated" } else { "repeated" })
        }
    };
    let (id, severity, status, title, collection, region_path) = row;
    if action != "repeated" {
        history(conn, id, action, &severity, None, None).await?;
    }
    let notice = Notice {
        id,
        action: action.to_owned(),
        vehicle_id: finding.vehicle_id,
        contract_id: owner.contract_id,
        region_id: owner.region_id,
        region_path,
        rule: finding.rule.name().to_owned(),
        severity,
        status,
        title,
        collection,
        detected_at,
    };
    announce(conn, &notice).await?;
    Ok(notice)
}

/// Closes open alerts of a vehicle because their condition ended: those of `rule`, or with
/// `rule` `None` those raised for collection.
pub async fn close(
    conn: &mut PgConnection,
    vehicle_id: i64,
    rule: Option<Rule>,
    reason: &str,
    detected_at: DateTime<Utc>,
) -> Result<Vec<Notice>, sqlx::Error> {
    let rows: Vec<Closed> = sqlx::query_as(
        "UPDATE alerts a SET status = 'resolved', resolved_at = now(), resolution = $3, version = version + 1,
                detected_at = $4
         WHERE vehicle_id = $1 AND status <> 'resolved' AND ($2::text IS NULL AND collection OR rule = $2)
         RETURNING id, contract_id, region_id, rule, severity, title, collection,
                   (SELECT path FROM regions WHERE id = a.region_id)",
    )
    .bind(vehicle_id)
    .bind(rule.map(Rule::name))
    .bind(reason)
    .bind(detected_at)
    .fetch_all(&mut *conn)
    .await?;
    let mut notices = Vec::with_capacity(rows.len());
    for (id, contract_id, region_id, rule, severity, title, collection, region_path) in rows {
        history(conn, id, "closed", &severity, None, Some(reason)).await?;
        let notice = Notice {
            id,
            action: "closed".into(),
            vehicle_id,
            contract_id,
            region_id,
            region_path,
            rule,
            severity,
            status: "resolved".into(),
            title,
            collection,
            detected_at,
        };
        announce(conn, &notice).await?;
        notices.push(notice);
    }
    Ok(notices)
}

/// Appends to an alert's history.
pub async fn history(
    conn: &mut PgConnection,
    alert_id: i64,
    action: &str,
    severity: &str,
    user_id: Option<i64>,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO alert_history (alert_id, action, severity, user_id, note) VALUES ($1, $2, $3, $4, $5)")
        .bind(alert_id)
        .bind(action)
        .bind(severity)
        .bind(user_id)
        .bind(note)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ids of a vehicle's open alerts.
pub async fn open_ids(pool: &PgPool, vehicle_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM alerts WHERE vehicle_id = $1 AND status <> 'resolved' ORDER BY id")
        .bind(vehicle_id)
        .fetch_all(pool)
        .await
}
