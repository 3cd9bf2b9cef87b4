//! Receipts (收款) and write-off (核销): bank statements imported from CSV (a bank reference is
//! never imported twice), receipts claimed (认领) to contracts by the contract number in their
//! remark or by hand, and written off over the contract's open items in the product's order;
//! what is left is customer credit, applied by the daily job at the next due date.
//!
//! ```text
//! reference,date,amount,payer,remark
//! 202403150001,2024-03-15,3816.20,张三,HT-0001 三月租金
//! ```

use std::collections::HashMap;

use chrono::NaiveDate;
use leasewatch_finance::Decimal;
use leasewatch_finance::allocation::{Component, Item, Order, allocate};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::contracts::LineError;
use super::ledger::{self, Account, Entry, Posting};
use crate::error::Error;

/// One statement line.
#[derive(Debug, Clone, Deserialize)]
pub struct StatementRow {
    /// The bank's reference.
    pub reference: String,
    /// Value date.
    pub date: NaiveDate,
    /// Amount received.
    pub amount: Decimal,
    /// Payer's name.
    #[serde(default)]
    pub payer: Option<String>,
    /// Remark (where customers write the contract number).
    #[serde(default)]
    pub remark: Option<String>,
}

/// Parses a statement; every bad line is reported.
pub fn parse_statement(text: impl std::io::Read) -> Result<Vec<StatementRow>, Vec<LineError>> {
    // Flexible so that trailing optional columns may be left off; a line with more fields than
    // the header (an unquoted "3,816.20") is refused rather than read shifted.
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(text);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![LineError { line: 1, message: e.to_string() }]),
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = match record {
            Ok(r) if r.len() > headers.len() => {
                let message =
                    format!("{} fields for {} columns: quote amounts written with commas", r.len(), headers.len());
                errors.push(LineError { line, message });
                continue;
            }
            Ok(r) => r.deserialize::<StatementRow>(Some(&headers)),
            Err(e) => Err(e),
        };
        match record {
            Ok(row) if row.amount <= Decimal::ZERO => {
                errors.push(LineError { line, message: "amount must be positive".into() })
            }
            Ok(row) if row.reference.is_empty() => {
                errors.push(LineError { line, message: "reference is empty".into() })
            }
            Ok(row) => rows.push(row),
            Err(e) => errors.push(LineError { line, message: e.to_string() }),
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// What a statement import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatementSummary {
    /// New receipts.
    pub imported: u64,
    /// Lines whose reference was already imported.
    pub duplicates: u64,
    /// Receipts matched to a contract by the number in their remark or payer.
    pub claimed: u64,
    /// Receipts written off.
    pub written_off: u64,
}

/// Imports `rows` into the receiving account `account` (its code), claims what names a contract,
/// and writes off every claimed receipt.
pub async fn import_statement(
    db: &mut PgConnection,
    account: &str,
    rows: &[StatementRow],
) -> Result<StatementSummary, Error> {
    let account_id: i64 = sqlx::query_scalar("SELECT id FROM receiving_accounts WHERE code = $1")
        .bind(account)
        .fetch_optional(&mut *db)
        .await?
        .ok_or_else(|| Error::invalid("account", format!("no receiving account has the code {account}")))?;
    let references: Vec<&str> = rows.iter().map(|r| r.reference.as_str()).collect();
    let dates: Vec<NaiveDate> = rows.iter().map(|r| r.date).collect();
    let amounts: Vec<Decimal> = rows.iter().map(|r| r.amount).collect();
    let payers: Vec<Option<&str>> = rows.iter().map(|r| r.payer.as_deref()).collect();
    let remarks: Vec<Option<&str>> = rows.iter().map(|r| r.remark.as_deref()).collect();
    let new: Vec<(i64, NaiveDate, Decimal)> = sqlx::query_as(
        "INSERT INTO receipts (account_id, bank_reference, received_on, amount, payer, remark)
         SELECT DISTINCT ON (reference) $1, * FROM unnest($2::text[], $3::date[], $4::numeric[], $5::text[], $6::text[])
             AS t(reference, received_on, amount, payer, remark)
         ON CONFLICT (account_id, bank_reference) DO NOTHING
         RETURNING id, received_on, amount",
    )
    .bind(account_id)
    .bind(&references)
    .bind(&dates)
    .bind(&amounts)
    .bind(&payers)
    .bind(&remarks)
    .fetch_all(&mut *db)
    .await?;
    let postings: Vec<Posting> = new
        .iter()
        .map(|(id, on, amount)| Posting {
            kind: "receipt",
            contract_id: None,
            receipt_id: Some(*id),
            booked_on: *on,
            entries: vec![Entry::debit(Account::Bank, *amount), Entry::credit(Account::UnappliedReceipts, *amount)],
        })
        .collect();
    ledger::post(db, &postings).await?;
    let ids: Vec<i64> = new.iter().map(|(id, _, _)| *id).collect();
    let claimed = claim_by_remark(db, &ids).await?;
    let written_off = write_off(db, &ids).await?;
    Ok(StatementSummary {
        imported: new.len() as u64,
        duplicates: (rows.len() - new.len()) as u64,
        claimed,
        written_off,
    })
}

/// Claims the unclaimed receipts among `ids` whose remark or payer contains a contract number
/// as a word.
pub async fn claim_by_remark(db: &mut PgConnection, ids: &[i64]) -> Result<u64, Error> {
    Ok(sqlx::query(
        "UPDATE receipts r SET contract_id = m.contract_id, status = 'claimed'
         FROM (SELECT DISTINCT ON (r.id) r.id, c.id AS contract_id
               FROM receipts r
               CROSS JOIN LATERAL regexp_split_to_table(coalesce(r.remark, '') || ' ' || coalesce(r.payer, ''),
                                                        '[[:space:],;:，；：。]+') AS word
               JOIN contracts c ON c.number = word AND c.status = 'active'
               WHERE r.id = ANY($1) AND r.status = 'unclaimed'
               ORDER BY r.id, c.id) m
         WHERE r.id = m.id",
    )
    .bind(ids)
    .execute(db)
    .await?
    .rows_affected())
}

/// Claims receipt `receipt` to contract `contract` by hand.
pub async fn claim(db: &mut PgConnection, receipt: i64, contract: i64) -> Result<(), Error> {
    let active: Option<bool> = sqlx::query_scalar("SELECT status = 'active' FROM contracts WHERE id = $1")
        .bind(contract)
        .fetch_optional(&mut *db)
        .await?;
    if active != Some(true) {
        return Err(Error::invalid_state("receipts are claimed to active contracts only"));
    }
    let updated =
        sqlx::query("UPDATE receipts SET contract_id = $2, status = 'claimed' WHERE id = $1 AND status = 'unclaimed'")
            .bind(receipt)
            .bind(contract)
            .execute(db)
            .await?
            .rows_affected();
    if updated == 0 {
        return Err(Error::invalid_state("the receipt is not unclaimed"));
    }
    Ok(())
}

/// An open item as read for allocation.
#[derive(sqlx::FromRow)]
struct OpenRow {
    id: i64,
    contract_id: i64,
    period: i32,
    due_date: NaiveDate,
    component: String,
    open: Decimal,
}

fn component(name: &str) -> Component {
    match name {
        "penalty" => Component::Penalty,
        "fee" => Component::Fee,
        "interest" => Component::Interest,
        _ => Component::Principal,
    }
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

/// Writes off the claimed receipts among `ids` (oldest first); returns how many.
pub async fn write_off(db: &mut PgConnection, ids: &[i64]) -> Result<u64, Error> {
    let receipts: Vec<(i64, i64, NaiveDate, Decimal)> = sqlx::query_as(
        "SELECT id, contract_id, received_on, amount FROM receipts
         WHERE id = ANY($1) AND status = 'claimed' ORDER BY received_on, id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(&mut *db)
    .await?;
    let Some(latest) = receipts.iter().map(|r| r.2).max() else { return Ok(0) };
    let contracts: Vec<i64> = receipts.iter().map(|r| r.1).collect();
    // The daily job and other write-offs wait: credit and items are read and changed together.
    sqlx::query("SELECT 1 FROM contracts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&contracts)
        .execute(&mut *db)
        .await?;
    let mut items = open_items(db, &contracts, latest).await?;
    let mut batch = Batch::for_contracts(db, &contracts).await?;
    for (receipt, contract, on, amount) in &receipts {
        let due: &mut Vec<Item> = items.entry(*contract).or_default();
        // Only what was due on the value date; the rest waits as credit for its due date.
        let mut now_due: Vec<Item> =
            due.iter().filter(|i| i.due_date <= *on && i.open > Decimal::ZERO).cloned().collect();
        batch.allocate(*contract, &mut now_due, *amount, Source::Receipt(*receipt), *on);
        for item in now_due {
            if let Some(original) = due.iter_mut().find(|i| i.id == item.id) {
                original.open = item.open;
            }
        }
    }
    batch.write(db).await?;
    let done: Vec<i64> = receipts.iter().map(|r| r.0).collect();
    sqlx::query("UPDATE receipts SET status = 'written_off' WHERE id = ANY($1)").bind(&done).execute(db).await?;
    Ok(done.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn statements_parse_and_bad_lines_are_reported() {
        let text = "reference,date,amount,payer,remark\nA1,2024-03-15,3816.20,张三,HT-0001 三月\nA2,2024-03-15,-1,x,y\nA3,someday,1,x,y\n";
        let errors = parse_statement(text.as_bytes()).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 4]);
        let rows = parse_statement("reference,date,amount\nA1,2024-03-15,10\n".as_bytes()).unwrap();
        let shifted =
            parse_statement("reference,date,amount,payer,remark\nA1,2024-03-15,3,816.20,张三,HT-1\n".as_bytes());
        assert_eq!(shifted.unwrap_err()[0].line, 2);
        assert_eq!(rows[0].amount, Decimal::TEN);
    }
}
