//! What happened to a contract (`contract_events`): promises to pay, settlement, offsets and
//! reversals, written here for every area of the books.

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
