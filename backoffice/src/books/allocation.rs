//! Allocating money to open receivable items: from a receipt, customer credit or the deposit, in
//! each contract's allocation order, gathered in memory with its ledger postings and written in a
//! few statements whatever the number of contracts.

use std::collections::HashMap;

use chrono::NaiveDate;
use leasewatch_finance::Decimal;
use leasewatch_finance::allocation::{Item, Order, allocate};
use sqlx::PgConnection;

use super::ledger::{self, Account, Entry, Posting};
use crate::error::Error;

/// Where allocated money comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A receipt (its id); what is left becomes customer credit.
    Receipt(i64),
    /// Customer credit held.
    Credit,
    /// The deposit held.
    Deposit,
}

/// Allocations gathered in memory and written in three statements.
#[derive(Default)]
pub(crate) struct Batch {
    /// Each contract's allocation order (its product's; the default when it has none).
    orders: HashMap<i64, Order>,
    receivable: Vec<i64>,
    amount: Vec<Decimal>,
    receipt: Vec<Option<i64>>,
    source: Vec<&'static str>,
    /// Credit added (+) or used (−) per contract, and the last payment date.
    pub(crate) credit: HashMap<i64, Decimal>,
    pub(crate) paid_on: HashMap<i64, NaiveDate>,
    pub(crate) postings: Vec<Posting>,
}

impl Batch {
    /// A batch for `contracts`, with their products' allocation orders.
    pub(crate) async fn for_contracts(db: &mut PgConnection, contracts: &[i64]) -> Result<Self, Error> {
        let rows: Vec<(i64, sqlx::types::Json<Order>)> = sqlx::query_as(
            "SELECT c.id, p.rules -> 'allocation' FROM contracts c JOIN products p ON p.id = c.product_id
             WHERE c.id = ANY($1) AND p.rules ? 'allocation'",
        )
        .bind(contracts)
        .fetch_all(db)
        .await?;
        Ok(Self { orders: rows.into_iter().map(|(id, order)| (id, order.0)).collect(), ..Self::default() })
    }

    /// Allocates `amount` from `source` over `items` (updating them) and records the ledger
    /// posting; returns what was left (for a receipt, held as credit).
    pub(crate) fn allocate(
        &mut self,
        contract: i64,
        items: &mut [Item],
        amount: Decimal,
        source: Source,
        on: NaiveDate,
    ) -> Decimal {
        let default = Order::default();
        let outcome = allocate(amount, items, self.orders.get(&contract).unwrap_or(&default));
        let applied = amount - outcome.credit;
        let (from, debit, kind, name, receipt) = match source {
            Source::Receipt(id) => (Account::UnappliedReceipts, amount, "write_off", "receipt", Some(id)),
            Source::Credit => (Account::CustomerCredit, applied, "credit_applied", "credit", None),
            Source::Deposit => (Account::DepositLiability, applied, "deposit_offset", "deposit", None),
        };
        let mut entries = vec![Entry::debit(from, debit)];
        for a in &outcome.allocations {
            if let Some(item) = items.iter_mut().find(|i| i.id == a.item) {
                item.open -= a.amount;
                entries.push(Entry::credit(Account::for_component(item.component), a.amount));
            }
            self.receivable.push(a.item);
            self.amount.push(a.amount);
            self.receipt.push(receipt);
            self.source.push(name);
        }
        let delta = match source {
            Source::Receipt(_) => {
                entries.push(Entry::credit(Account::CustomerCredit, outcome.credit));
                let last = self.paid_on.entry(contract).or_insert(on);
                *last = (*last).max(on);
                outcome.credit
            }
            Source::Credit => -applied,
            Source::Deposit => Decimal::ZERO,
        };
        *self.credit.entry(contract).or_default() += delta;
        self.postings.push(Posting { kind, contract_id: Some(contract), receipt_id: receipt, booked_on: on, entries });
        outcome.credit
    }

    /// Writes everything gathered.
    pub(crate) async fn write(self, db: &mut PgConnection) -> Result<(), Error> {
        sqlx::query(
            "UPDATE receivables r SET paid = r.paid + a.amount
             FROM (SELECT receivable, sum(amount) AS amount FROM unnest($1::bigint[], $2::numeric[]) AS t(receivable, amount)
                   GROUP BY receivable) a
             WHERE r.id = a.receivable",
        )
        .bind(&self.receivable)
        .bind(&self.amount)
        .execute(&mut *db)
        .await?;
        sqlx::query(
            "INSERT INTO allocations (receivable_id, amount, receipt_id, source)
             SELECT * FROM unnest($1::bigint[], $2::numeric[], $3::bigint[], $4::text[])",
        )
        .bind(&self.receivable)
        .bind(&self.amount)
        .bind(&self.receipt)
        .bind(&self.source)
        .execute(&mut *db)
        .await?;
        let contracts: Vec<i64> = self.credit.keys().copied().collect();
        let credits: Vec<Decimal> = contracts.iter().map(|c| self.credit[c]).collect();
        let paid_on: Vec<Option<NaiveDate>> = contracts.iter().map(|c| self.paid_on.get(c).copied()).collect();
        sqlx::query(
            "UPDATE contracts c SET credit = c.credit + t.credit,
                 last_payment_on = GREATEST(c.last_payment_on, t.paid_on), version = c.version + 1
             FROM unnest($1::bigint[], $2::numeric[], $3::date[]) AS t(id, credit, paid_on) WHERE c.id = t.id",
        )
        .bind(&contracts)
        .bind(&credits)
        .bind(&paid_on)
        .execute(&mut *db)
        .await?;
        ledger::post(db, &self.postings).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leasewatch_finance::allocation::Component;
    use proptest::prelude::*;

    proptest! {
        /// Receipts and credit applications over random open items: every posting balances, no
        /// item gets more than is open on it, and what came in is allocated or held as credit.
        #[test]
        fn the_ledger_always_balances(
            opens in proptest::collection::vec((1i64..200_000, 0usize..4, 1u32..=12), 1..30),
            receipts in proptest::collection::vec(1i64..300_000, 1..10),
        ) {
            let components = [Component::Penalty, Component::Fee, Component::Interest, Component::Principal];
            let mut items: Vec<Item> = opens.iter().enumerate().map(|(i, (open, c, m))| Item {
                id: i as i64,
                period: *m,
                due_date: NaiveDate::from_ymd_opt(2024, *m, 1).unwrap(),
                component: components[*c],
                open: Decimal::new(*open, 2),
            }).collect();
            let original: Vec<Decimal> = items.iter().map(|i| i.open).collect();
            let mut batch = Batch::default();
            let day = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
            let mut received = Decimal::ZERO;
            for (k, cents) in receipts.iter().enumerate() {
                let amount = Decimal::new(*cents, 2);
                received += amount;
                batch.allocate(7, &mut items, amount, Source::Receipt(k as i64), day);
                let credit = batch.credit[&7];
                if credit > Decimal::ZERO {
                    batch.allocate(7, &mut items, credit, Source::Credit, day);
                }
            }
            prop_assert!(batch.postings.iter().all(|p| ledger::balanced(&p.entries)));
            let allocated: Decimal = batch.amount.iter().copied().sum();
            prop_assert_eq!(received, allocated + batch.credit[&7]);
            for (item, before) in items.iter().zip(&original) {
                prop_assert!(item.open >= Decimal::ZERO && item.open <= *before);
            }
        }
    }
}
