//! Selling a recovered vehicle (auction or dealer buy-back) through approval (workflow
//! `vehicle_sale`), never below the approved valuation, and allocating the proceeds in the stated
//! order: the costs of recovery (storage, repossession, litigation...), the contract's fees, the
//! arrears, then the principal not yet due. The deposit held joins the proceeds; what is left is
//! refunded to the customer; what is still owed is the shortfall, written off through approval or
//! pursued (`shortfall.rs`). A sale that leaves nothing owing closes the contract.

use std::collections::HashSet;

use chrono::NaiveDate;
use leasewatch_finance::Decimal;
use leasewatch_finance::allocation::{Component, Item};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::record::{self, Disposal, TABLE};
use crate::actor::Actor;
use crate::books::allocation::{Batch, Source};
use crate::books::events;
use crate::books::ledger::{self, Account, Entry, Posting};
use crate::books::receivables::{self, open_items};
use crate::error::{Checks, Error};
use crate::kit::amount::cents;
use crate::kit::approvals;
use crate::kit::audit;
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// Subject type (and workflow key) of a sale; subject id: the disposal.
pub const VEHICLE_SALE: &str = "vehicle_sale";

/// `hooks` with the sale's approval declared.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(VEHICLE_SALE, sale_decided)
}

/// Where an open item stands in the order proceeds pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    /// The costs of recovery charged to the contract.
    Costs,
    /// The contract's own fees.
    Fees,
    /// Penalty, interest and principal fallen due.
    Arrears,
    /// Principal not yet due.
    Principal,
}

/// The rank of `item`: a post-loan charge is a cost; otherwise by component and due date.
pub fn rank(item: &Item, charge: bool, sold_on: NaiveDate) -> Rank {
    if charge {
        Rank::Costs
    } else if item.component == Component::Fee {
        Rank::Fees
    } else if item.due_date <= sold_on {
        Rank::Arrears
    } else {
        Rank::Principal
    }
}

/// How the proceeds of a sale went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Proceeds {
    /// The price.
    #[serde(serialize_with = "cents")]
    pub price: Decimal,
    /// The deposit held, added to it.
    #[serde(serialize_with = "cents")]
    pub deposit: Decimal,
    /// The yard's storage charged at the sale.
    #[serde(serialize_with = "cents")]
    pub storage: Decimal,
    /// To the costs of recovery (storage included).
    #[serde(serialize_with = "cents")]
    pub costs: Decimal,
    /// To the contract's fees.
    #[serde(serialize_with = "cents")]
    pub fees: Decimal,
    /// To the arrears.
    #[serde(serialize_with = "cents")]
    pub arrears: Decimal,
    /// To the principal not yet due.
    #[serde(serialize_with = "cents")]
    pub principal: Decimal,
    /// Refunded to the customer.
    #[serde(serialize_with = "cents")]
    pub refund: Decimal,
    /// Still owed.
    #[serde(serialize_with = "cents")]
    pub shortfall: Decimal,
}

/// A sale to ask approval for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleRequest {
    /// The version that was read.
    pub version: i32,
    /// `auction` or `dealer_buyback`.
    #[schema(pattern = "^(auction|dealer_buyback)$")]
    pub method: String,
    /// The price, not below the approved valuation.
    #[schema(value_type = String)]
    pub price: Decimal,
    /// The buyer.
    #[schema(min_length = 1, max_length = 200)]
    pub buyer: String,
    /// The day of the sale (not in the future, not before the vehicle came in).
    pub sold_on: NaiveDate,
}

/// Asks approval to sell a held vehicle whose valuation is approved; nothing moves before the
/// approval. Audited.
pub async fn request(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    body: &SaleRequest,
    today: NaiveDate,
) -> Result<Disposal, Error> {
    let mut checks = Checks::default();
    checks.check(
        matches!(body.method.as_str(), "auction" | "dealer_buyback"),
        "method",
        "must be auction or dealer_buyback",
    );
    checks.check(
        body.price > Decimal::ZERO && body.price.scale() <= 2,
        "price",
        "must be more than 0, in yuan and fen",
    );
    checks.text("buyer", &body.buyer, 200);
    checks.check(body.sold_on <= today, "sold_on", "must not be in the future");
    checks.finish()?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["held"]).await?;
    let (Some(valuation), Some("approved")) = (before.valuation, before.valuation_status.as_deref()) else {
        return Err(Error::invalid_state("the vehicle is sold once its valuation is approved"));
    };
    if body.price < valuation {
        return Err(Error::invalid("price", format!("{} is below the approved valuation of {valuation}", body.price)));
    }
    if body.sold_on < before.stored_from {
        return Err(Error::invalid(
            "sold_on",
            format!("must not be before the vehicle came in ({})", before.stored_from),
        ));
    }
    sqlx::query(
        "UPDATE disposals SET status = 'sale_pending', sale_method = $2, sale_price = $3, buyer = $4, sold_on = $5,
             updated_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(&body.method)
    .bind(body.price)
    .bind(body.buyer.trim())
    .bind(body.sold_on)
    .execute(&mut *db)
    .await?;
    let title = format!(
        "车辆处置 {} {} {} → {}",
        before.contract_number,
        before.plate.as_deref().unwrap_or(""),
        body.price,
        body.buyer.trim()
    );
    approvals::submit(db, actor, VEHICLE_SALE, id, before.region_id, &title).await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "request_sale", Some(&before), &after).await?;
    Ok(after)
}

/// Sells once approved; a rejected sale leaves the vehicle held, the sale's terms cleared.
fn sale_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        if decision.approved() {
            execute(tx, decision.subject).await.map(|_| ())
        } else {
            sqlx::query(
                "UPDATE disposals SET status = 'held', sale_method = NULL, sale_price = NULL, buyer = NULL, sold_on = NULL,
                     updated_at = now(), version = version + 1 WHERE id = $1 AND status = 'sale_pending'",
            )
            .bind(decision.subject)
            .execute(&mut *tx)
            .await?;
            Ok(())
        }
    })
}

/// Carries out the approved sale of the disposal `id`.
pub(crate) async fn execute(db: &mut PgConnection, id: i64) -> Result<Proceeds, Error> {
    let disposal = TABLE.lock_for_hook(db, id).await?;
    let (Some(price), Some(on), "sale_pending") = (disposal.sale_price, disposal.sold_on, disposal.status.as_str())
    else {
        return Err(Error::invalid_state(format!("the disposal is {}, not waiting for its sale", disposal.status)));
    };
    let contract = disposal.contract_id;
    let deposit: Decimal = sqlx::query_scalar("SELECT deposit_held FROM contracts WHERE id = $1 FOR UPDATE")
        .bind(contract)
        .fetch_one(&mut *db)
        .await?;
    let storage = record::charge_storage(db, &disposal, on).await?;
    receivables::waive_after(db, contract, on).await?;
    // The price and the deposit become the customer's credit, then pay in the stated order.
    let received = vec![
        Posting::contract(
            "disposal_proceeds",
            contract,
            on,
            vec![Entry::debit(Account::Bank, price), Entry::credit(Account::CustomerCredit, price)],
        ),
        Posting::contract(
            "deposit_applied",
            contract,
            on,
            vec![Entry::debit(Account::DepositLiability, deposit), Entry::credit(Account::CustomerCredit, deposit)],
        ),
    ];
    ledger::post(db, &received).await?;
    sqlx::query("UPDATE contracts SET credit = credit + $2 + deposit_held, deposit_held = 0 WHERE id = $1")
        .bind(contract)
        .bind(price)
        .execute(&mut *db)
        .await?;
    let credit: Decimal =
        sqlx::query_scalar("SELECT credit FROM contracts WHERE id = $1").bind(contract).fetch_one(&mut *db).await?;
    let charged: HashSet<i64> =
        sqlx::query_scalar("SELECT id FROM receivables WHERE contract_id = $1 AND charge IS NOT NULL")
            .bind(contract)
            .fetch_all(&mut *db)
            .await?
            .into_iter()
            .collect();
    let mut items = open_items(db, &[contract], NaiveDate::MAX).await?.remove(&contract).unwrap_or_default();
    let mut batch = Batch::for_contracts(db, &[contract]).await?;
    let mut left = credit;
    let mut paid = [Decimal::ZERO; 4];
    for (slot, stage) in [Rank::Costs, Rank::Fees, Rank::Arrears, Rank::Principal].into_iter().enumerate() {
        let mut of_rank: Vec<Item> =
            items.iter().filter(|i| rank(i, charged.contains(&i.id), on) == stage).cloned().collect();
        let rest = batch.allocate(contract, &mut of_rank, left, Source::Credit, on);
        paid[slot] = left - rest;
        left = rest;
        for done in of_rank {
            if let Some(item) = items.iter_mut().find(|i| i.id == done.id) {
                item.open = done.open;
            }
        }
    }
    batch.write(db).await?;
    let refund = Posting::contract(
        "disposal_refund",
        contract,
        on,
        vec![Entry::debit(Account::CustomerCredit, left), Entry::credit(Account::Bank, left)],
    );
    ledger::post(db, &[refund]).await?;
    sqlx::query("UPDATE contracts SET credit = 0 WHERE id = $1").bind(contract).execute(&mut *db).await?;
    let shortfall: Decimal = items.iter().map(|i| i.open).sum();
    let proceeds = Proceeds {
        price,
        deposit,
        storage,
        costs: paid[0],
        fees: paid[1],
        arrears: paid[2],
        principal: paid[3],
        refund: left,
        shortfall,
    };
    sqlx::query(
        "UPDATE disposals SET status = 'sold', proceeds = $2, shortfall = $3, updated_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(json!(proceeds))
    .bind(shortfall)
    .execute(&mut *db)
    .await?;
    sqlx::query("UPDATE vehicles SET status = 'disposed', version = version + 1 WHERE id = $1")
        .bind(disposal.vehicle_id)
        .execute(&mut *db)
        .await?;
    events::record(db, contract, Some(on), "vehicle_sold", json!(proceeds)).await?;
    if shortfall.is_zero() {
        super::shortfall::close(db, id, contract, on).await?;
    }
    Ok(proceeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, component: Component, due: &str) -> Item {
        Item { id, period: 1, due_date: due.parse().unwrap_or_default(), component, open: Decimal::ONE }
    }

    #[test]
    fn proceeds_pay_costs_then_fees_then_arrears_then_principal_not_yet_due() {
        let sold: NaiveDate = "2026-11-20".parse().unwrap_or_default();
        assert_eq!(rank(&item(1, Component::Fee, "2026-11-20"), true, sold), Rank::Costs);
        assert_eq!(rank(&item(2, Component::Fee, "2026-10-15"), false, sold), Rank::Fees);
        assert_eq!(rank(&item(3, Component::Penalty, "2026-11-19"), false, sold), Rank::Arrears);
        assert_eq!(rank(&item(4, Component::Principal, "2026-11-15"), false, sold), Rank::Arrears);
        assert_eq!(rank(&item(5, Component::Principal, "2026-12-15"), false, sold), Rank::Principal);
        assert!(Rank::Costs < Rank::Fees && Rank::Fees < Rank::Arrears && Rank::Arrears < Rank::Principal);
    }
}
