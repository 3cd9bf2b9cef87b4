//! The daily delinquency job (逾期跑批): for each day not yet done, in order, it applies customer
//! credit to what fell due, then sets every active contract's days past due, overdue amount and
//! bucket, accrues the day's penalty, keeps the history and records an event on each bucket
//! change. Idempotent (a day done is not redone) and catching up (a missed day is run before the
//! next). A promise to pay or a pause (`hold_until`) stops escalation, not accrual.

use chrono::{Duration, NaiveDate};
use leasewatch_finance::Decimal;
use leasewatch_finance::delinquency::{Buckets, PenaltyRule, days_past_due};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use super::allocation::{Batch, Source};
use super::receivables::open_items;
use crate::error::Error;

/// A product's delinquency rules (defaults where a product says nothing, or for imported contracts without one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rules {
    /// The penalty rule.
    pub penalty: PenaltyRule,
    /// The buckets.
    pub buckets: Buckets,
}

/// What one day did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DaySummary {
    /// The day.
    pub day: NaiveDate,
    /// Contracts past due at the end of the day.
    pub delinquent: u64,
    /// Contracts whose bucket changed.
    pub bucket_changes: u64,
    /// Penalty accrued.
    pub penalty: Decimal,
    /// Credit applied to what fell due.
    pub credit_applied: Decimal,
}

const JOB: &str = "delinquency";

/// Runs every day from the day after the last one done (or the earliest contract start) through
/// `through`, one transaction per day.
pub async fn run_through(pool: &PgPool, through: NaiveDate) -> Result<Vec<DaySummary>, Error> {
    let done: Option<NaiveDate> = sqlx::query_scalar("SELECT done_through FROM finance_jobs WHERE name = $1")
        .bind(JOB)
        .fetch_optional(pool)
        .await?;
    let first = match done {
        Some(d) => d + Duration::days(1),
        None => match sqlx::query_scalar::<_, Option<NaiveDate>>("SELECT min(start_date) FROM contracts")
            .fetch_one(pool)
            .await?
        {
            Some(start) => start,
            None => through,
        },
    };
    let mut out = Vec::new();
    let mut day = first;
    while day <= through {
        let mut tx = pool.begin().await?;
        // One runner at a time: a second waits, then finds the day done.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('leasewatch delinquency job'))").execute(&mut *tx).await?;
        let done: Option<NaiveDate> = sqlx::query_scalar("SELECT done_through FROM finance_jobs WHERE name = $1")
            .bind(JOB)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some_and(|d| d >= day) {
            day += Duration::days(1);
            continue;
        }
        out.push(run_day(&mut tx, day).await?);
        sqlx::query(
            "INSERT INTO finance_jobs (name, done_through) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET done_through = EXCLUDED.done_through",
        )
        .bind(JOB)
        .bind(day)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        day += Duration::days(1);
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct Overdue {
    contract_id: i64,
    oldest: Option<NaiveDate>,
    principal: Decimal,
    interest: Decimal,
    fee: Decimal,
    penalty: Decimal,
    bucket: i32,
    hold_until: Option<NaiveDate>,
    rules: Option<sqlx::types::Json<Rules>>,
}

/// Runs one day inside the actor's transaction.
pub async fn run_day(db: &mut PgConnection, day: NaiveDate) -> Result<DaySummary, Error> {
    let mut summary = DaySummary { day, ..DaySummary::default() };
    summary.credit_applied = apply_credit(db, day).await?;

    let rows: Vec<Overdue> = sqlx::query_as(
        "SELECT r.contract_id,
                min(r.due_date) FILTER (WHERE r.component <> 'penalty') AS oldest,
                -- What falls due today is not overdue yet.
                COALESCE(sum(r.amount - r.paid) FILTER (WHERE r.component = 'principal' AND r.due_date < $1), 0) AS principal,
                COALESCE(sum(r.amount - r.paid) FILTER (WHERE r.component = 'interest' AND r.due_date < $1), 0) AS interest,
                COALESCE(sum(r.amount - r.paid) FILTER (WHERE r.component = 'fee' AND r.due_date < $1), 0) AS fee,
                COALESCE(sum(r.amount - r.paid) FILTER (WHERE r.component = 'penalty'), 0) AS penalty,
                min(c.bucket) AS bucket, min(c.hold_until) AS hold_until,
                (array_agg(p.rules))[1] AS rules
         FROM receivables r JOIN contracts c ON c.id = r.contract_id AND c.status = 'active'
         LEFT JOIN products p ON p.id = c.product_id
         WHERE r.paid < r.amount AND r.due_date <= $1
         GROUP BY r.contract_id",
    )
    .bind(day)
    .fetch_all(&mut *db)
    .await?;

    let default_rules = Rules::default();
    let mut cols = Columns::default();
    for row in &rows {
        let rules = row.rules.as_ref().map_or(&default_rules, |r| &r.0);
        let dpd = days_past_due(row.oldest, day);
        let current = u32::try_from(row.bucket).unwrap_or(0);
        let mut bucket = rules.buckets.bucket(dpd);
        if row.hold_until.is_some_and(|h| h >= day) {
            bucket = bucket.min(current);
        }
        let penalty = rules.penalty.for_day(row.principal, row.interest, dpd);
        if dpd > 0 {
            summary.delinquent += 1;
        }
        if bucket != current {
            summary.bucket_changes += 1;
            cols.event_contract.push(row.contract_id);
            cols.event_detail.push(serde_json::json!({
                "from": rules.buckets.name(current), "to": rules.buckets.name(bucket), "dpd": dpd,
            }));
        }
        summary.penalty += penalty;
        cols.contract.push(row.contract_id);
        cols.dpd.push(i32::try_from(dpd).unwrap_or(i32::MAX));
        cols.bucket.push(i32::try_from(bucket).unwrap_or(i32::MAX));
        cols.overdue.push(row.principal + row.interest + row.fee);
        cols.penalty_open.push(row.penalty + penalty);
        if !penalty.is_zero() {
            cols.penalty_contract.push(row.contract_id);
            cols.penalty_due.push(row.oldest.unwrap_or(day));
            cols.penalty_amount.push(penalty);
        }
    }
    cols.write(db, day).await?;
    Ok(summary)
}

/// Applies customer credit to items due by `day`; returns the amount applied.
async fn apply_credit(db: &mut PgConnection, day: NaiveDate) -> Result<Decimal, Error> {
    let holders: Vec<(i64, Decimal)> = sqlx::query_as(
        "SELECT c.id, c.credit FROM contracts c WHERE c.status = 'active' AND c.credit > 0
           AND EXISTS (SELECT 1 FROM receivables r WHERE r.contract_id = c.id AND r.paid < r.amount AND r.due_date <= $1)
         ORDER BY c.id FOR UPDATE OF c",
    )
    .bind(day)
    .fetch_all(&mut *db)
    .await?;
    if holders.is_empty() {
        return Ok(Decimal::ZERO);
    }
    let ids: Vec<i64> = holders.iter().map(|h| h.0).collect();
    let mut items = open_items(db, &ids, day).await?;
    let mut batch = Batch::for_contracts(db, &ids).await?;
    let mut applied = Decimal::ZERO;
    for (contract, credit) in holders {
        let due = items.entry(contract).or_default();
        let left = batch.allocate(contract, due, credit, Source::Credit, day);
        applied += credit - left;
    }
    batch.write(db).await?;
    Ok(applied)
}

#[derive(Default)]
struct Columns {
    contract: Vec<i64>,
    dpd: Vec<i32>,
    bucket: Vec<i32>,
    overdue: Vec<Decimal>,
    penalty_open: Vec<Decimal>,
    penalty_contract: Vec<i64>,
    penalty_due: Vec<NaiveDate>,
    penalty_amount: Vec<Decimal>,
    event_contract: Vec<i64>,
    event_detail: Vec<serde_json::Value>,
}

impl Columns {
    async fn write(self, db: &mut PgConnection, day: NaiveDate) -> Result<(), Error> {
        // Contracts that were past due and are no longer: back to current, with their event.
        let cleared: Vec<(i64, i32)> = sqlx::query_as(
            "UPDATE contracts c SET dpd = 0, bucket = 0, overdue_amount = 0, as_of = $1,
                 penalty_open = (SELECT COALESCE(sum(amount - paid), 0) FROM receivables
                                 WHERE contract_id = c.id AND component = 'penalty')
             FROM (SELECT id, bucket FROM contracts WHERE status = 'active' AND (dpd > 0 OR bucket > 0)
                   AND id <> ALL($2) FOR UPDATE) old
             WHERE c.id = old.id RETURNING c.id, old.bucket",
        )
        .bind(day)
        .bind(&self.contract)
        .fetch_all(&mut *db)
        .await?;
        let mut event_contract = self.event_contract;
        let mut event_detail = self.event_detail;
        let buckets = Buckets::default();
        for (id, bucket) in cleared.into_iter().filter(|(_, b)| *b > 0) {
            event_contract.push(id);
            let from = buckets.name(u32::try_from(bucket).unwrap_or(0));
            event_detail.push(serde_json::json!({"from": from, "to": "M0", "dpd": 0}));
        }
        // The day's figures on each contract, and in its history while it is past due.
        sqlx::query(
            "WITH t AS (
                 SELECT * FROM unnest($2::bigint[], $3::int[], $4::int[], $5::numeric[], $6::numeric[])
                     AS t(id, dpd, bucket, overdue, penalty_open)
             ), updated AS (
                 UPDATE contracts c SET dpd = t.dpd, bucket = t.bucket, overdue_amount = t.overdue,
                     penalty_open = t.penalty_open, as_of = $1
                 FROM t WHERE c.id = t.id
             )
             INSERT INTO delinquency_history (contract_id, as_of, dpd, bucket, overdue_amount, penalty)
             SELECT id, $1, dpd, bucket, overdue, penalty_open FROM t WHERE dpd > 0
             ON CONFLICT (contract_id, as_of) DO NOTHING",
        )
        .bind(day)
        .bind(&self.contract)
        .bind(&self.dpd)
        .bind(&self.bucket)
        .bind(&self.overdue)
        .bind(&self.penalty_open)
        .execute(&mut *db)
        .await?;
        // One open penalty item per contract and delinquency episode (keyed by its oldest due date).
        sqlx::query(
            "INSERT INTO receivables (contract_id, period, due_date, component, amount)
             SELECT contract, 0, due, 'penalty', amount FROM unnest($1::bigint[], $2::date[], $3::numeric[]) AS t(contract, due, amount)
             ON CONFLICT (contract_id, period, component, due_date) DO UPDATE SET amount = receivables.amount + EXCLUDED.amount",
        )
        .bind(&self.penalty_contract)
        .bind(&self.penalty_due)
        .bind(&self.penalty_amount)
        .execute(&mut *db)
        .await?;
        sqlx::query(
            "INSERT INTO contract_events (contract_id, as_of, kind, detail)
             SELECT contract, $1, 'bucket_changed', detail FROM unnest($2::bigint[], $3::jsonb[]) AS t(contract, detail)",
        )
        .bind(day)
        .bind(&event_contract)
        .bind(&event_detail)
        .execute(db)
        .await?;
        Ok(())
    }
}
