//! Receivable items (应收), one per contract, period and component: written from a contract's
//! schedule, read with the contract, and read open for allocating money to them.

use std::collections::HashMap;

use chrono::NaiveDate;
use leasewatch_finance::allocation::{Component, Item};
use leasewatch_finance::{Decimal, Row};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::ledger::{self, Account, Entry, Posting};
use crate::error::Error;
use crate::kit::amount::cents;

/// One receivable item.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Receivable {
    /// Id.
    pub id: i64,
    /// Period (0 for penalty).
    pub period: i32,
    /// Due date.
    pub due_date: NaiveDate,
    /// `principal`, `interest`, `fee` or `penalty`.
    pub component: String,
    /// Amount due.
    #[serde(serialize_with = "cents")]
    pub amount: Decimal,
    /// Amount paid.
    #[serde(serialize_with = "cents")]
    pub paid: Decimal,
    /// For a post-loan fee item, what it charges for (`repossession`, `storage`, `litigation`...).
    pub charge: Option<String>,
}

/// The items of `contract` by due date, then period, then penalty, fee, interest and principal.
pub async fn of_contract(db: &mut PgConnection, contract: i64) -> Result<Vec<Receivable>, Error> {
    Ok(sqlx::query_as(
        "SELECT id, period, due_date, component, amount, paid, charge FROM receivables WHERE contract_id = $1
         ORDER BY due_date, period, array_position(ARRAY['penalty','fee','interest','principal'], component)",
    )
    .bind(contract)
    .fetch_all(db)
    .await?)
}

/// A component's name in the database.
fn component_name(c: Component) -> &'static str {
    match c {
        Component::Principal => "principal",
        Component::Interest => "interest",
        Component::Fee => "fee",
        Component::Penalty => "penalty",
    }
}

/// The component a database name stands for.
pub(crate) fn component(name: &str) -> Component {
    match name {
        "penalty" => Component::Penalty,
        "fee" => Component::Fee,
        "interest" => Component::Interest,
        _ => Component::Principal,
    }
}

/// Receivable items gathered in columns and written in one statement.
#[derive(Default)]
pub(crate) struct ReceivableColumns {
    contract: Vec<i64>,
    period: Vec<i32>,
    due_date: Vec<NaiveDate>,
    component: Vec<&'static str>,
    amount: Vec<Decimal>,
    paid: Vec<Decimal>,
}

/// What was already paid of a schedule.
#[derive(Debug, Default)]
pub(crate) struct Paid {
    pub(crate) principal: Decimal,
    pub(crate) interest: Decimal,
    pub(crate) fee: Decimal,
    pub(crate) last_due: Option<NaiveDate>,
}

impl ReceivableColumns {
    /// Adds the items of a schedule's `rows` for `contract`: the first `paid_periods` installments
    /// paid in full, and the upfront fee (period 0) paid when `upfront_paid`.
    pub(crate) fn push_schedule(&mut self, contract: i64, rows: &[Row], paid_periods: u32, upfront_paid: bool) -> Paid {
        let mut out = Paid::default();
        for item in rows {
            let paid = if item.period == 0 { upfront_paid } else { item.period <= paid_periods };
            if paid {
                out.last_due = Some(item.due_date);
            }
            for (component, amount) in [
                (Component::Fee, item.fee),
                (Component::Interest, item.interest),
                (Component::Principal, item.principal),
            ] {
                if amount.is_zero() {
                    continue;
                }
                self.contract.push(contract);
                self.period.push(i32::try_from(item.period).unwrap_or(i32::MAX));
                self.due_date.push(item.due_date);
                self.component.push(component_name(component));
                self.amount.push(amount);
                self.paid.push(if paid { amount } else { Decimal::ZERO });
                if paid {
                    match component {
                        Component::Principal => out.principal += amount,
                        Component::Interest => out.interest += amount,
                        _ => out.fee += amount,
                    }
                }
            }
        }
        out
    }

    /// Writes the items; returns how many.
    pub(crate) async fn insert(&self, db: &mut PgConnection) -> Result<u64, Error> {
        Ok(sqlx::query(
            "INSERT INTO receivables (contract_id, period, due_date, component, amount, paid)
             SELECT * FROM unnest($1::bigint[], $2::int[], $3::date[], $4::text[], $5::numeric[], $6::numeric[])",
        )
        .bind(&self.contract)
        .bind(&self.period)
        .bind(&self.due_date)
        .bind(&self.component)
        .bind(&self.amount)
        .bind(&self.paid)
        .execute(db)
        .await?
        .rows_affected())
    }
}

/// An open item as read for allocation.
#[derive(FromRow)]
struct OpenRow {
    id: i64,
    contract_id: i64,
    period: i32,
    due_date: NaiveDate,
    component: String,
    open: Decimal,
}

/// The open items of `contracts` due on or before `due_by`, by contract.
pub(crate) async fn open_items(
    db: &mut PgConnection,
    contracts: &[i64],
    due_by: NaiveDate,
) -> Result<HashMap<i64, Vec<Item>>, Error> {
    let rows: Vec<OpenRow> = sqlx::query_as(
        "SELECT id, contract_id, period, due_date, component, amount - paid AS open
         FROM receivables WHERE contract_id = ANY($1) AND paid < amount AND due_date <= $2",
    )
    .bind(contracts)
    .bind(due_by)
    .fetch_all(db)
    .await?;
    let mut out: HashMap<i64, Vec<Item>> = HashMap::new();
    for r in rows {
        out.entry(r.contract_id).or_default().push(Item {
            id: r.id,
            period: u32::try_from(r.period).unwrap_or(0),
            due_date: r.due_date,
            component: component(&r.component),
            open: r.open,
        });
    }
    Ok(out)
}

/// Waives the interest and fees of `contract` falling due after `date` (the contract ends early:
/// settled, or its vehicle sold); what was already paid on them goes back to the customer's
/// credit, undoing those allocations.
pub(crate) async fn waive_after(db: &mut PgConnection, contract: i64, date: NaiveDate) -> Result<(), Error> {
    let prepaid: Vec<(i64, String, Decimal)> = sqlx::query_as(
        "SELECT id, component, paid FROM receivables
         WHERE contract_id = $1 AND due_date > $2 AND component IN ('interest', 'fee') AND charge IS NULL AND paid > 0",
    )
    .bind(contract)
    .bind(date)
    .fetch_all(&mut *db)
    .await?;
    sqlx::query(
        "UPDATE receivables SET amount = 0, paid = 0
         WHERE contract_id = $1 AND due_date > $2 AND component IN ('interest', 'fee') AND charge IS NULL",
    )
    .bind(contract)
    .bind(date)
    .execute(&mut *db)
    .await?;
    if !prepaid.is_empty() {
        let ids: Vec<i64> = prepaid.iter().map(|p| p.0).collect();
        let undone: Vec<Decimal> = prepaid.iter().map(|p| -p.2).collect();
        sqlx::query(
            "INSERT INTO allocations (receivable_id, amount, source) SELECT id, amount, 'reversal' FROM unnest($1::bigint[], $2::numeric[]) AS t(id, amount)",
        )
        .bind(&ids)
        .bind(&undone)
        .execute(&mut *db)
        .await?;
        let back: Decimal = prepaid.iter().map(|p| p.2).sum();
        sqlx::query("UPDATE contracts SET credit = credit + $2 WHERE id = $1")
            .bind(contract)
            .bind(back)
            .execute(&mut *db)
            .await?;
        let mut entries: Vec<Entry> = prepaid
            .iter()
            .map(|(_, component, paid)| Entry::debit(Account::for_component(self::component(component)), *paid))
            .collect();
        entries.push(Entry::credit(Account::CustomerCredit, back));
        let posting = Posting::contract("prepaid_interest_returned", contract, date, entries);
        ledger::post(db, &[posting]).await?;
    }
    Ok(())
}
