//! Receipts (收款) and write-off (核销): receipts registered by hand or imported from bank
//! statements (a bank reference is never imported twice), claimed (认领) to contracts by the
//! contract number in their remark or by hand, and written off over the contract's open items in
//! the product's order; what is left is customer credit, applied by the daily job at the next due
//! date. Also the receiving accounts the money arrives in. Every change is audited.
//!
//! ```text
//! reference,date,amount,payer,remark
//! 202403150001,2024-03-15,3816.20,张三,HT-0001 三月租金
//! ```

use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use leasewatch_finance::allocation::Item;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use super::allocation::{Batch, Source};
use super::contract;
use super::import::{LineError, invalid_lines};
use super::ledger::{self, Account, Entry, Posting};
use super::receivables::open_items;
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::amount::cents;
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};

/// A receipt.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Receipt {
    /// Id.
    pub id: i64,
    /// Receiving account.
    pub account_id: i64,
    /// The bank's reference.
    pub bank_reference: String,
    /// Value date.
    pub received_on: NaiveDate,
    /// Amount.
    #[serde(serialize_with = "cents")]
    pub amount: Decimal,
    /// Payer.
    pub payer: Option<String>,
    /// Remark.
    pub remark: Option<String>,
    /// The contract it was claimed to.
    pub contract_id: Option<i64>,
    /// `unclaimed`, `claimed`, `written_off` or `reversed`.
    pub status: String,
    /// When registered.
    pub created_at: DateTime<Utc>,
}

/// How receipts are read. Unclaimed receipts belong to no region yet: finance staff of any region
/// see them.
pub const TABLE: Table<Receipt> = Table::new(
    "receipt",
    "SELECT r.id, r.account_id, r.bank_reference, r.received_on, r.amount, r.payer, r.remark,
        r.contract_id, r.status, r.created_at",
    "FROM receipts r LEFT JOIN contracts c ON c.id = r.contract_id LEFT JOIN regions g ON g.id = c.region_id",
    "r.id",
)
.scoped("g.path")
.also_visible("r.contract_id IS NULL")
.sorted(&[("received_on", "r.received_on"), ("amount", "r.amount"), ("id", "r.id")], "-received_on");

/// Filters of the receipt list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptFilter {
    /// Status.
    pub status: Option<String>,
    /// Claimed to this contract.
    pub contract_id: Option<i64>,
    /// Received on or after.
    pub from: Option<NaiveDate>,
    /// Received before.
    pub to: Option<NaiveDate>,
}

/// Unclaimed receipts, and those of contracts in the actor's region subtree.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &ReceiptFilter,
) -> Result<Paged<Receipt>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("r.status", filter.status.clone())
                .eq("r.contract_id", filter.contract_id)
                .at_least("r.received_on", filter.from)
                .before("r.received_on", filter.to);
        })
        .await
}

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
    pub payer: Option<String>,
    /// Remark (where customers write the contract number).
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
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
    let written_off = write_off_claimed(db, &ids).await?;
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

/// Claims receipt `receipt` to contract `contract`.
async fn assign(db: &mut PgConnection, receipt: i64, contract: i64) -> Result<(), Error> {
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

/// Writes off the claimed receipts among `ids` (oldest first); returns how many.
pub async fn write_off_claimed(db: &mut PgConnection, ids: &[i64]) -> Result<u64, Error> {
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

/// A receipt registered by hand.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReceipt {
    /// Receiving account code.
    pub account: String,
    /// The bank's reference (unique per account).
    pub reference: String,
    /// Value date.
    pub received_on: NaiveDate,
    /// Amount, more than zero.
    pub amount: Decimal,
    /// Payer.
    pub payer: Option<String>,
    /// Remark; a contract number in it claims the receipt.
    pub remark: Option<String>,
}

/// Registers a receipt by hand; a contract number in the remark claims and writes it off. A bank
/// reference already registered is a conflict.
pub async fn register(db: &mut PgConnection, actor: &Actor, new: NewReceipt) -> Result<StatementSummary, Error> {
    Checks::default()
        .text("reference", &new.reference, 64)
        .check(new.amount > Decimal::ZERO && new.amount.scale() <= 2, "amount", "must be more than zero, in cents")
        .finish()?;
    let row = StatementRow {
        reference: new.reference.trim().to_owned(),
        date: new.received_on,
        amount: new.amount,
        payer: new.payer,
        remark: new.remark,
    };
    let summary = import_audited(db, actor, &new.account, &[row]).await?;
    if summary.duplicates > 0 {
        return Err(Error::Conflict { code: "duplicate", detail: "this bank reference is already registered".into() });
    }
    Ok(summary)
}

/// A bank statement.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementRequest {
    /// Receiving account code.
    pub account: String,
    /// The CSV text: `reference,date,amount[,payer,remark]`.
    pub csv: String,
}

/// Imports the statement the actor sent; every bad line is reported and nothing is imported then.
pub async fn import(
    db: &mut PgConnection,
    actor: &Actor,
    request: &StatementRequest,
) -> Result<StatementSummary, Error> {
    let rows = parse_statement(request.csv.as_bytes()).map_err(invalid_lines)?;
    import_audited(db, actor, &request.account, &rows).await
}

/// [`import_statement`], audited as the actor's.
async fn import_audited(
    db: &mut PgConnection,
    actor: &Actor,
    account: &str,
    rows: &[StatementRow],
) -> Result<StatementSummary, Error> {
    let summary = import_statement(db, account, rows).await?;
    let entry = Change::new("import", "receipt", account, None).after(json!(summary));
    audit::record(db, actor.author(), entry).await?;
    Ok(summary)
}

/// The contract to claim a receipt to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The contract.
    pub contract_id: i64,
}

/// Claims the unclaimed receipt `id` to a contract of the actor's region subtree and writes it off.
pub async fn claim(db: &mut PgConnection, actor: &Actor, id: i64, request: &ClaimRequest) -> Result<Receipt, Error> {
    let before = TABLE.load(db, actor, id).await?;
    let region = match contract::TABLE.load(db, actor, request.contract_id).await {
        Ok(contract) => contract.region_id,
        Err(Error::NotFound(_)) => return Err(Error::invalid("contract_id", "no such contract in your region")),
        Err(other) => return Err(other),
    };
    assign(db, id, request.contract_id).await?;
    write_off_claimed(db, &[id]).await?;
    let after = TABLE.load(db, actor, id).await?;
    let entry = Change::new("claim", "receipt", id, Some(region)).before(json!(before)).after(json!(after));
    audit::record(db, actor.author(), entry).await?;
    Ok(after)
}

/// Writes off the receipt `id`, claimed but not yet written off.
pub async fn write_off(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Receipt, Error> {
    let before = TABLE.load(db, actor, id).await?;
    if before.status != "claimed" {
        return Err(Error::invalid_state(format!("the receipt is {}", before.status)));
    }
    write_off_claimed(db, &[id]).await?;
    let after = TABLE.load(db, actor, id).await?;
    let entry = Change::new("write_off", "receipt", id, None)
        .before(json!({"status": before.status}))
        .after(json!({"status": after.status}));
    audit::record(db, actor.author(), entry).await?;
    Ok(after)
}

/// A receiving account.
#[derive(Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivingAccount {
    /// Code used by imports.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,32}$")]
    pub code: String,
    /// Bank.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub bank: String,
    /// Account name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
}

/// The receiving accounts.
pub async fn accounts(pool: &PgPool) -> Result<Vec<ReceivingAccount>, Error> {
    Ok(sqlx::query_as("SELECT code, bank, name FROM receiving_accounts ORDER BY code").fetch_all(pool).await?)
}

/// Adds a receiving account; audited.
pub async fn add_account(db: &mut PgConnection, actor: &Actor, account: &ReceivingAccount) -> Result<(), Error> {
    let mut checks = Checks::default();
    checks.check(
        (1..=32).contains(&account.code.len())
            && account.code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')),
        "code",
        "must be 1 to 32 letters, digits, - or _",
    );
    checks.text("bank", &account.bank, 100).text("name", &account.name, 100).finish()?;
    sqlx::query("INSERT INTO receiving_accounts (code, bank, name) VALUES ($1, $2, $3)")
        .bind(&account.code)
        .bind(account.bank.trim())
        .bind(account.name.trim())
        .execute(&mut *db)
        .await?;
    let entry = Change::new("create", "receiving_account", &account.code, None).after(json!(account));
    audit::record(db, actor.author(), entry).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
