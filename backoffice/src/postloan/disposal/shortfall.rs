//! What a sale leaves owing (差额): written off through approval (workflow `loss_write_off`) —
//! the principal still owed goes to `loan_losses`, the rest is waived — and the contract closed; or
//! pursued, the contract staying open with its items for collection or litigation.

use chrono::NaiveDate;
use leasewatch_finance::Decimal;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::record::{Disposal, TABLE};
use crate::actor::Actor;
use crate::books::events;
use crate::books::ledger::{self, Account, Entry, Posting};
use crate::error::{Checks, Error};
use crate::kit::approvals;
use crate::kit::audit;
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// Subject type (and workflow key) of a shortfall write-off; subject id: the disposal.
pub const LOSS_WRITE_OFF: &str = "loss_write_off";

/// `hooks` with the write-off's approval declared.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(LOSS_WRITE_OFF, write_off_decided)
}

/// What to do with a shortfall.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShortfallDecision {
    /// The version that was read.
    pub version: i32,
    /// Why.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

async fn sold_with_shortfall(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    body: &ShortfallDecision,
) -> Result<Disposal, Error> {
    Checks::default().text("reason", &body.reason, 500).finish()?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["sold"]).await?;
    if before.shortfall.is_none_or(|s| s <= Decimal::ZERO) {
        return Err(Error::invalid_state("the sale left nothing owing"));
    }
    if before.shortfall_action.is_some() {
        return Err(Error::invalid_state("the shortfall is already being dealt with"));
    }
    Ok(before)
}

/// Asks approval to write off what the sale left owing; nothing changes before. Audited.
pub async fn request_write_off(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    body: &ShortfallDecision,
) -> Result<Disposal, Error> {
    let before = sold_with_shortfall(db, actor, id, body).await?;
    sqlx::query(
        "UPDATE disposals SET shortfall_action = 'write_off', updated_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *db)
    .await?;
    let title = format!(
        "差额核销 {} {} — {}",
        before.contract_number,
        before.shortfall.unwrap_or_default(),
        body.reason.trim()
    );
    approvals::submit(db, actor, LOSS_WRITE_OFF, id, before.region_id, &title).await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "request_write_off", Some(&before), &after).await?;
    Ok(after)
}

/// Keeps pursuing the shortfall: the disposal ends, the contract stays open with what it owes.
pub async fn pursue(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    body: &ShortfallDecision,
) -> Result<Disposal, Error> {
    let before = sold_with_shortfall(db, actor, id, body).await?;
    sqlx::query(
        "UPDATE disposals SET shortfall_action = 'pursue', status = 'closed', closed_on = current_date, updated_at = now(),
             version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "pursue_shortfall", Some(&before), &after).await?;
    Ok(after)
}

/// Writes off the shortfall once approved; a rejection leaves it to decide again.
fn write_off_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        let disposal = TABLE.lock_for_hook(tx, decision.subject).await?;
        if disposal.status != "sold" || disposal.shortfall_action.as_deref() != Some("write_off") {
            return Ok(());
        }
        if !decision.approved() {
            sqlx::query(
                "UPDATE disposals SET shortfall_action = NULL, updated_at = now(), version = version + 1 WHERE id = $1",
            )
            .bind(decision.subject)
            .execute(&mut *tx)
            .await?;
            return Ok(());
        }
        let on = decision.today;
        let contract = disposal.contract_id;
        let (principal, other): (Decimal, Decimal) = sqlx::query_as(
            "SELECT COALESCE(sum(amount - paid) FILTER (WHERE component = 'principal'), 0),
                    COALESCE(sum(amount - paid) FILTER (WHERE component <> 'principal'), 0)
             FROM receivables WHERE contract_id = $1",
        )
        .bind(contract)
        .fetch_one(&mut *tx)
        .await?;
        // Principal is on the books (loans receivable): it becomes a loss. Interest, penalty and
        // charges are booked when paid, so what is not paid of them is only waived.
        let loss = Posting::contract(
            "loss_write_off",
            contract,
            on,
            vec![Entry::debit(Account::LoanLosses, principal), Entry::credit(Account::LoansReceivable, principal)],
        );
        ledger::post(tx, &[loss]).await?;
        sqlx::query("UPDATE receivables SET amount = paid WHERE contract_id = $1 AND paid < amount")
            .bind(contract)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE disposals SET proceeds = proceeds || jsonb_build_object('written_off_principal', $2::text, 'waived', $3::text)
             WHERE id = $1",
        )
        .bind(decision.subject)
        .bind(principal.to_string())
        .bind(other.to_string())
        .execute(&mut *tx)
        .await?;
        events::record(
            tx,
            contract,
            Some(on),
            "shortfall_written_off",
            json!({"principal": principal, "waived": other}),
        )
        .await?;
        close(tx, decision.subject, contract, on).await
    })
}

/// Ends the disposal and closes its contract: nothing is owed or held any more.
pub(crate) async fn close(db: &mut PgConnection, disposal: i64, contract: i64, on: NaiveDate) -> Result<(), Error> {
    sqlx::query("UPDATE disposals SET status = 'closed', closed_on = $2, updated_at = now(), version = version + 1 WHERE id = $1")
        .bind(disposal)
        .bind(on)
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "UPDATE contracts SET status = 'closed', dpd = 0, bucket = 0, overdue_amount = 0, penalty_open = 0, credit = 0,
             deposit_held = 0, version = version + 1 WHERE id = $1",
    )
    .bind(contract)
    .execute(&mut *db)
    .await?;
    sqlx::query("DELETE FROM collection_assignments WHERE contract_id = $1").bind(contract).execute(&mut *db).await?;
    events::record(db, contract, Some(on), "closed", json!({"disposal_id": disposal})).await
}
