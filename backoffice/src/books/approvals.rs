//! Money movements that need a checker (maker-checker through the workflow engine): reversing a
//! write-off (反核销), and offsetting the deposit against what is due (保证金冲抵). A request
//! starts a workflow instance on the receipt or contract; the movement happens in the hook, in the
//! transaction that approves the last stage. A rejected request changes nothing.

use chrono::NaiveDate;
use leasewatch_finance::Decimal;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::allocation::{Batch, Source};
use super::ledger::{self, Account, Entry, Posting};
use super::receivables::open_items;
use super::{contract, events, receipts, receivables};
use crate::actor::Actor;
use crate::error::Error;
use crate::kit::approvals;
use crate::system::workflow::engine::Instance;
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// Subject type of a write-off reversal request (subject id: the receipt).
pub const REVERSAL: &str = "receipt_reversal";
/// Subject type of a deposit offset request (subject id: the contract).
pub const DEPOSIT_OFFSET: &str = "deposit_offset";

/// `hooks` with the approvals of the books declared.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(REVERSAL, reversal_decided).on(DEPOSIT_OFFSET, offset_decided)
}

/// A request that needs approval.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// Why.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// Asks for the deposit of the contract `id` to be offset against what is due (保证金冲抵).
pub async fn request_deposit_offset(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    request: &ApprovalRequest,
) -> Result<Instance, Error> {
    let contract = contract::TABLE.load(db, actor, id).await?;
    if contract.deposit_held <= Decimal::ZERO {
        return Err(Error::invalid_state("the contract holds no deposit"));
    }
    let title = format!("保证金冲抵 {} — {}", contract.number, request.reason.trim());
    approvals::submit(db, actor, DEPOSIT_OFFSET, id, contract.region_id, &title).await
}

/// Asks for the write-off of the receipt `id` to be reversed (反核销).
pub async fn request_reversal(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    request: &ApprovalRequest,
) -> Result<Instance, Error> {
    let receipt = receipts::TABLE.load(db, actor, id).await?;
    let contract_id = receipt.contract_id.filter(|_| receipt.status == "written_off");
    let Some(contract_id) = contract_id else {
        return Err(Error::invalid_state(format!("the receipt is {}, not written off", receipt.status)));
    };
    let region = contract::TABLE.load(db, actor, contract_id).await?.region_id;
    let title = format!("反核销 {} {} — {}", receipt.bank_reference, receipt.amount, request.reason.trim());
    approvals::submit(db, actor, REVERSAL, id, region, &title).await
}

/// Undoes a receipt's write-off once approved: items are open again, credit it created is taken
/// back, and the money returns to unapplied receipts for a correct claim.
fn reversal_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(
        async move { if decision.approved() { reverse(tx, decision.subject, decision.today).await } else { Ok(()) } },
    )
}

/// Offsets the deposit against everything due once approved.
fn offset_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        if decision.approved() {
            offset_deposit(tx, decision.subject, decision.today).await?;
        }
        Ok(())
    })
}

/// Reverses the write-off of `receipt`, booked on `today`.
pub async fn reverse(db: &mut PgConnection, receipt: i64, today: NaiveDate) -> Result<(), Error> {
    let row: Option<(i64, Decimal, String)> =
        sqlx::query_as("SELECT contract_id, amount, status FROM receipts WHERE id = $1 FOR UPDATE")
            .bind(receipt)
            .fetch_optional(&mut *db)
            .await?;
    let Some((contract, amount, status)) = row else { return Err(Error::NotFound("receipt")) };
    if status != "written_off" {
        return Err(Error::invalid_state(format!("the receipt is {status}, not written off")));
    }
    let active: bool = sqlx::query_scalar("SELECT status = 'active' FROM contracts WHERE id = $1")
        .bind(contract)
        .fetch_one(&mut *db)
        .await?;
    if !active {
        return Err(Error::invalid_state("the contract is no longer active: its write-offs stay as they are"));
    }
    // Net of earlier reversals: a receipt reversed, claimed again and reversed again undoes only
    // its latest write-off.
    let allocated: Vec<(i64, Decimal, String)> = sqlx::query_as(
        "SELECT a.receivable_id, sum(a.amount), min(r.component) FROM allocations a JOIN receivables r ON r.id = a.receivable_id
         WHERE a.receipt_id = $1 AND a.source IN ('receipt', 'reversal') AND r.contract_id = $2
         GROUP BY a.receivable_id HAVING sum(a.amount) > 0",
    )
    .bind(receipt)
    .bind(contract)
    .fetch_all(&mut *db)
    .await?;
    let to_items: Decimal = allocated.iter().map(|a| a.1).sum();
    let to_credit = amount - to_items;
    let credit: Decimal = sqlx::query_scalar("SELECT credit FROM contracts WHERE id = $1 FOR UPDATE")
        .bind(contract)
        .fetch_one(&mut *db)
        .await?;
    if credit < to_credit {
        return Err(Error::invalid_state("the credit this receipt created has been used since; reverse that first"));
    }
    let ids: Vec<i64> = allocated.iter().map(|a| a.0).collect();
    let amounts: Vec<Decimal> = allocated.iter().map(|a| a.1).collect();
    sqlx::query(
        "UPDATE receivables r SET paid = r.paid - t.amount FROM unnest($1::bigint[], $2::numeric[]) AS t(id, amount) WHERE r.id = t.id",
    )
    .bind(&ids)
    .bind(&amounts)
    .execute(&mut *db)
    .await?;
    let negated: Vec<Decimal> = amounts.iter().map(|a| -*a).collect();
    sqlx::query(
        "INSERT INTO allocations (receivable_id, amount, receipt_id, source)
         SELECT id, amount, $3, 'reversal' FROM unnest($1::bigint[], $2::numeric[]) AS t(id, amount)",
    )
    .bind(&ids)
    .bind(&negated)
    .bind(receipt)
    .execute(&mut *db)
    .await?;
    sqlx::query("UPDATE contracts SET credit = credit - $2, version = version + 1 WHERE id = $1")
        .bind(contract)
        .bind(to_credit)
        .execute(&mut *db)
        .await?;
    sqlx::query("UPDATE receipts SET status = 'unclaimed', contract_id = NULL WHERE id = $1")
        .bind(receipt)
        .execute(&mut *db)
        .await?;
    let mut entries: Vec<Entry> = allocated
        .iter()
        .map(|(_, a, component)| Entry::debit(Account::for_component(receivables::component(component)), *a))
        .collect();
    entries.push(Entry::debit(Account::CustomerCredit, to_credit));
    entries.push(Entry::credit(Account::UnappliedReceipts, amount));
    let posting = Posting {
        kind: "write_off_reversed",
        contract_id: Some(contract),
        receipt_id: Some(receipt),
        booked_on: today,
        entries,
    };
    ledger::post(db, &[posting]).await?;
    events::record(db, contract, None, "write_off_reversed", json!({"receipt": receipt, "amount": amount})).await
}

/// Applies the deposit held by `contract` to its items due by `today`; returns the amount applied.
pub async fn offset_deposit(db: &mut PgConnection, contract: i64, today: NaiveDate) -> Result<Decimal, Error> {
    let held: Decimal = sqlx::query_scalar("SELECT deposit_held FROM contracts WHERE id = $1 FOR UPDATE")
        .bind(contract)
        .fetch_optional(&mut *db)
        .await?
        .ok_or(Error::NotFound("contract"))?;
    let mut items = open_items(db, &[contract], today).await?;
    let due = items.entry(contract).or_default();
    if held.is_zero() || due.is_empty() {
        return Err(Error::invalid_state("there is no deposit held, or nothing due to offset it against"));
    }
    let mut batch = Batch::for_contracts(db, &[contract]).await?;
    let left = batch.allocate(contract, due, held, Source::Deposit, today);
    let applied = held - left;
    batch.write(db).await?;
    sqlx::query("UPDATE contracts SET deposit_held = deposit_held - $2, version = version + 1 WHERE id = $1")
        .bind(contract)
        .bind(applied)
        .execute(&mut *db)
        .await?;
    events::record(db, contract, None, "deposit_offset", json!({"applied": applied})).await?;
    Ok(applied)
}
