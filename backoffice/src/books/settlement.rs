//! Early settlement (提前结清) over the books: the quote for a date from the contract's schedule
//! and open items, and its execution — interest and fees not yet due are waived, the accrued
//! interest and the early-termination fee are charged, credit then deposit pay everything, what is
//! left of them is refunded, and the contract closes (its vehicle is released).

use chrono::NaiveDate;
use leasewatch_finance::settlement::{self, FeeRule, Position, Quote};
use leasewatch_finance::{Decimal, Terms, schedule};
use serde_json::json;
use sqlx::PgConnection;
use sqlx::types::Json as SqlJson;

use super::allocation::{Batch, Source};
use super::ledger::{self, Account, Entry, Posting};
use super::receivables::{self, open_items};
use crate::error::Error;

/// The period number of settlement charges.
const SETTLEMENT_PERIOD: i32 = 10_000;

/// The quote for settling `contract` on `date`; money held (credit and deposit) is offset.
pub async fn quote(db: &mut PgConnection, contract: i64, date: NaiveDate) -> Result<Quote, Error> {
    let (terms, start, held, status, fee_rule): (
        SqlJson<Terms>,
        Option<NaiveDate>,
        Decimal,
        String,
        Option<SqlJson<FeeRule>>,
    ) = sqlx::query_as(
        "SELECT c.terms, c.start_date, c.credit + c.deposit_held, c.status, p.rules -> 'settlement_fee'
             FROM contracts c LEFT JOIN products p ON p.id = c.product_id WHERE c.id = $1",
    )
    .bind(contract)
    .fetch_optional(&mut *db)
    .await?
    .ok_or(Error::NotFound("contract"))?;
    let Some(start) = start.filter(|_| status == "active") else {
        return Err(Error::invalid_state(format!("the contract is {status}: only an active contract can be settled")));
    };
    let rows = schedule(&terms.0).map_err(|e| Error::Internal(format!("stored terms: {e}")))?.rows;
    let (overdue, penalty, prepaid, prepaid_other): (Decimal, Decimal, Decimal, Decimal) = sqlx::query_as(
        "SELECT COALESCE(sum(amount - paid) FILTER (WHERE component <> 'penalty' AND due_date <= $2), 0),
                COALESCE(sum(amount - paid) FILTER (WHERE component = 'penalty'), 0),
                COALESCE(sum(paid) FILTER (WHERE component = 'principal' AND due_date > $2), 0),
                COALESCE(sum(paid) FILTER (WHERE component IN ('interest', 'fee') AND due_date > $2), 0)
         FROM receivables WHERE contract_id = $1",
    )
    .bind(contract)
    .bind(date)
    .fetch_one(&mut *db)
    .await?;
    // Interest and fees already paid for later periods come back as credit on settlement.
    let held = held + prepaid_other;
    // The schedule runs from its terms' start: the disbursement, or the last due date before a
    // partial prepayment rescheduled it.
    let start = terms.0.start.max(start);
    let position = Position { rows: &rows, start, overdue, penalty, deposit: held };
    let fee_rule = fee_rule.map(|f| f.0).unwrap_or_default();
    let mut quote = settlement::quote(&position, date, &fee_rule, terms.0.rounding);
    // Principal of future periods already paid (a prepayment) is not owed again.
    quote.remaining_principal -= prepaid;
    // The early-termination fee is on the principal actually settled early.
    quote.fee = if quote.remaining_principal > Decimal::ZERO {
        terms.0.rounding.cents(quote.remaining_principal * fee_rule.rate).max(fee_rule.minimum)
    } else {
        Decimal::ZERO
    };
    let owed = quote.remaining_principal + quote.accrued_interest + quote.overdue + quote.penalty + quote.fee;
    quote.deposit_offset = held.min(owed);
    quote.total = owed - quote.deposit_offset;
    quote.refund = held - quote.deposit_offset;
    Ok(quote)
}

/// Settles `contract` on `date` with the money it holds; 409 when that is not enough.
pub async fn execute(db: &mut PgConnection, contract: i64, date: NaiveDate) -> Result<Quote, Error> {
    let status: String = sqlx::query_scalar("SELECT status FROM contracts WHERE id = $1 FOR UPDATE")
        .bind(contract)
        .fetch_optional(&mut *db)
        .await?
        .ok_or(Error::NotFound("contract"))?;
    if status != "active" {
        return Err(Error::invalid_state(format!("the contract is {status}")));
    }
    let quote = quote(db, contract, date).await?;
    if quote.total > Decimal::ZERO {
        return Err(Error::invalid_state(format!(
            "{} more is needed to settle on {date}: register the customer's payment first",
            quote.total
        )));
    }
    receivables::waive_after(db, contract, date).await?;
    sqlx::query(
        "INSERT INTO receivables (contract_id, period, due_date, component, amount)
         SELECT $1, $2, $3, component, amount FROM (VALUES ('interest', $4::numeric), ('fee', $5::numeric)) AS t(component, amount)
         WHERE amount > 0",
    )
    .bind(contract)
    .bind(SETTLEMENT_PERIOD)
    .bind(date)
    .bind(quote.accrued_interest)
    .bind(quote.fee)
    .execute(&mut *db)
    .await?;
    let (credit, deposit): (Decimal, Decimal) =
        sqlx::query_as("SELECT credit, deposit_held FROM contracts WHERE id = $1")
            .bind(contract)
            .fetch_one(&mut *db)
            .await?;
    let mut items = open_items(db, &[contract], NaiveDate::MAX).await?;
    let open = items.entry(contract).or_default();
    let mut batch = Batch::for_contracts(db, &[contract]).await?;
    let credit_left = batch.allocate(contract, open, credit, Source::Credit, date);
    let deposit_left = batch.allocate(contract, open, deposit, Source::Deposit, date);
    if open.iter().any(|i| i.open > Decimal::ZERO) {
        return Err(Error::Internal("settlement left items open".into()));
    }
    batch.write(db).await?;
    let refund = Posting::contract(
        "settlement_refund",
        contract,
        date,
        vec![
            Entry::debit(Account::CustomerCredit, credit_left),
            Entry::debit(Account::DepositLiability, deposit_left),
            Entry::credit(Account::Bank, credit_left + deposit_left),
        ],
    );
    ledger::post(db, &[refund]).await?;
    sqlx::query(
        "UPDATE contracts SET status = 'settled', credit = 0, deposit_held = 0, dpd = 0, bucket = 0, overdue_amount = 0,
             penalty_open = 0, version = version + 1 WHERE id = $1",
    )
    .bind(contract)
    .execute(&mut *db)
    .await?;
    sqlx::query("UPDATE vehicles SET status = 'released', version = version + 1 WHERE id = (SELECT vehicle_id FROM contracts WHERE id = $1) AND status = 'financed'")
        .bind(contract)
        .execute(&mut *db)
        .await?;
    super::events::record(db, contract, Some(date), "settled", json!(quote)).await?;
    Ok(quote)
}
