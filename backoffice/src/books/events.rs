//! What happened to a contract (`contract_events`): promises to pay and whether they were kept,
//! settlement, offsets and reversals, written here for every area of the books.

use chrono::NaiveDate;
use serde_json::Value;
use sqlx::PgConnection;

use crate::error::Error;

/// Adds `kind` with its `detail` to the events of `contract`, as of `as_of` (the database's today
/// when `None`).
pub(crate) async fn record(
    db: &mut PgConnection,
    contract: i64,
    as_of: Option<NaiveDate>,
    kind: &str,
    detail: Value,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO contract_events (contract_id, as_of, kind, detail) VALUES ($1, COALESCE($2, current_date), $3, $4)",
    )
    .bind(contract)
    .bind(as_of)
    .bind(kind)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks each promise to pay whose date is `through` or before, once: `promise_kept` when the
/// contract is current again, `promise_broken` when it is still past due (the risk score counts
/// broken promises). Returns (kept, broken).
pub async fn mark_promises(db: &mut PgConnection, through: NaiveDate) -> Result<(u64, u64), Error> {
    let marked: Vec<(String, i64)> = sqlx::query_as(
        "WITH due AS (
             SELECT c.id, c.hold_until, c.dpd FROM contracts c
             WHERE c.hold_until IS NOT NULL AND c.hold_until <= $1
               AND NOT EXISTS (SELECT 1 FROM contract_events e
                               WHERE e.contract_id = c.id AND e.kind IN ('promise_kept', 'promise_broken')
                                 AND (e.detail->>'until')::date = c.hold_until)),
         marked AS (
             INSERT INTO contract_events (contract_id, as_of, kind, detail)
             SELECT id, $1, CASE WHEN dpd = 0 THEN 'promise_kept' ELSE 'promise_broken' END,
                    jsonb_build_object('until', hold_until, 'dpd', dpd)
             FROM due RETURNING kind)
         SELECT kind, count(*) FROM marked GROUP BY kind",
    )
    .bind(through)
    .fetch_all(db)
    .await?;
    let count = |kind: &str| marked.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
    Ok((count("promise_kept"), count("promise_broken")))
}
