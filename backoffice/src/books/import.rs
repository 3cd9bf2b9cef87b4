//! Importing an existing book of contracts from CSV (the first thing a company does), with
//! schedules and paid-to-date state, customers and vehicles.
//!
//! ```text
//! number,region,principal,annual_rate,term,method,start_date[,payment_timing,residual,deposit,fee,
//!        paid_periods,customer_name,id_number,phone,vin,plate]
//! HT-0001,GD-SZ,120000,0.0899,36,equal-installment,2024-03-15,,,5000,,8,张三,11010519491231002X,...
//! ```
//! `annual_rate` is a fraction; `paid_periods` counts the installments already paid in full.
//! Re-importing a file changes nothing: contracts whose number exists are skipped.

use std::collections::HashMap;

use chrono::NaiveDate;
use leasewatch_finance::money::CENT;
use leasewatch_finance::{Decimal, Method, Rounding, Terms, Timing, schedule};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use sqlx::types::Json as SqlJson;
use utoipa::ToSchema;

use super::ledger::{self, Account, Entry, Posting};
use super::receivables::ReceivableColumns;
use crate::actor::Actor;
use crate::error::{Error, FieldError};
use crate::kit::audit::{self, Change};
use crate::kit::identity;
use crate::system::crypto::Vault;

/// One CSV row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractRow {
    /// Contract number, unique.
    pub number: String,
    /// Region code.
    pub region: String,
    /// Financed amount.
    pub principal: Decimal,
    /// Annual rate as a fraction.
    pub annual_rate: Decimal,
    /// Months.
    pub term: u32,
    /// Method.
    pub method: Method,
    /// Start date.
    pub start_date: NaiveDate,
    /// Arrears (default) or advance.
    pub payment_timing: Option<Timing>,
    /// Residual.
    pub residual: Option<Decimal>,
    /// Deposit held.
    pub deposit: Option<Decimal>,
    /// Upfront fee.
    pub fee: Option<Decimal>,
    /// Installments paid in full before the import.
    pub paid_periods: Option<u32>,
    /// Customer name.
    pub customer_name: Option<String>,
    /// National ID or unified social credit code.
    pub id_number: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Vehicle VIN.
    pub vin: Option<String>,
    /// Plate.
    pub plate: Option<String>,
}

impl ContractRow {
    /// The schedule terms of this row.
    pub fn terms(&self) -> Terms {
        Terms {
            principal: self.principal,
            annual_rate: self.annual_rate,
            term: self.term,
            method: self.method,
            start: self.start_date,
            timing: self.payment_timing.unwrap_or_default(),
            residual: self.residual.unwrap_or_default(),
            deposit: self.deposit.unwrap_or_default(),
            fee: self.fee.unwrap_or_default(),
            installment_multiple: CENT,
            rounding: Rounding::HalfUp,
        }
    }

    fn check(&self) -> Result<(), String> {
        let number_ok = (1..=64).contains(&self.number.len())
            && self.number.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'));
        if !number_ok {
            return Err("number: 1 to 64 letters, digits, -, _ or /".into());
        }
        if let Some(id) = self.id_number.as_deref().filter(|s| !s.is_empty())
            && !identity::national_id_ok(id)
            && !identity::credit_code_ok(id)
        {
            return Err(format!("id_number {id}: neither a national ID nor a credit code (check digit)"));
        }
        if let Some(vin) = self.vin.as_deref().filter(|s| !s.is_empty())
            && !identity::vin_ok(vin)
        {
            return Err(format!("vin {vin}: not a valid VIN (check digit)"));
        }
        if self.paid_periods.unwrap_or(0) > self.term {
            return Err("paid_periods is more than the term".into());
        }
        schedule(&self.terms()).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// A bad CSV line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// The line number (the header is line 1).
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// Parses a contract CSV; every bad line is reported.
pub fn parse_csv(text: impl std::io::Read) -> Result<Vec<ContractRow>, Vec<LineError>> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text);
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (i, record) in reader.deserialize::<ContractRow>().enumerate() {
        let line = i as u64 + 2;
        match record.map_err(|e| e.to_string()).and_then(|row| row.check().map(|()| row)) {
            Ok(row) => match seen.insert(row.number.clone(), line) {
                Some(first) => {
                    errors.push(LineError { line, message: format!("number {} repeats line {first}", row.number) })
                }
                None => rows.push(row),
            },
            Err(message) => errors.push(LineError { line, message }),
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// Bad CSV lines as invalid fields named `line N`.
pub fn invalid_lines(errors: Vec<LineError>) -> Error {
    Error::Validation(
        errors.into_iter().map(|e| FieldError { field: format!("line {}", e.line), message: e.message }).collect(),
    )
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportSummary {
    /// Contracts created.
    pub imported: u64,
    /// Contracts whose number existed (left as they were).
    pub skipped: u64,
    /// Receivable items written.
    pub receivables: u64,
}

/// Imports `rows` in the actor's transaction. Region codes must exist.
pub async fn import(db: &mut PgConnection, vault: &Vault, rows: &[ContractRow]) -> Result<ImportSummary, Error> {
    let numbers: Vec<&str> = rows.iter().map(|r| r.number.as_str()).collect();
    let existing: Vec<String> = sqlx::query_scalar("SELECT number FROM contracts WHERE number = ANY($1)")
        .bind(&numbers)
        .fetch_all(&mut *db)
        .await?;
    let rows: Vec<&ContractRow> = rows.iter().filter(|r| !existing.contains(&r.number)).collect();
    let mut summary = ImportSummary { skipped: existing.len() as u64, ..ImportSummary::default() };
    if rows.is_empty() {
        return Ok(summary);
    }
    let codes: Vec<&str> = rows.iter().map(|r| r.region.as_str()).collect();
    let regions: HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("SELECT code, id FROM regions WHERE code = ANY($1)")
            .bind(&codes)
            .fetch_all(&mut *db)
            .await?
            .into_iter()
            .collect();
    if let Some(row) = rows.iter().find(|r| !regions.contains_key(&r.region)) {
        return Err(Error::invalid(
            "region",
            format!("contract {}: no region has the code {}", row.number, row.region),
        ));
    }
    // A vehicle already financed, repossessed or disposed of cannot back another contract.
    let vins: Vec<String> =
        rows.iter().filter_map(|r| r.vin.as_deref()).filter(|v| !v.is_empty()).map(str::to_ascii_uppercase).collect();
    let taken: Option<(String, String)> =
        sqlx::query_as("SELECT vin, status FROM vehicles WHERE vin = ANY($1) AND status <> 'in_stock' LIMIT 1")
            .bind(&vins)
            .fetch_optional(&mut *db)
            .await?;
    if let Some((vin, status)) = taken {
        return Err(Error::invalid("vin", format!("the vehicle {vin} is {status}, not in stock")));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(vin) = vins.iter().find(|v| !seen.insert(*v)) {
        return Err(Error::invalid("vin", format!("the vehicle {vin} backs two contracts in this import")));
    }
    let customers = upsert_customers(db, vault, &rows, &regions).await?;
    let vehicles = upsert_vehicles(db, &rows, &regions).await?;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('contracts', 'id')) FROM generate_series(1, $1)")
            .bind(i64::try_from(rows.len()).unwrap_or(i64::MAX))
            .fetch_all(&mut *db)
            .await?;

    let mut c = ContractColumns::default();
    let mut r = ReceivableColumns::default();
    let mut postings = Vec::new();
    for ((row, id), (customer, vehicle)) in rows.iter().zip(&ids).zip(customers.iter().zip(&vehicles)) {
        let terms = row.terms();
        let quote = schedule(&terms).map_err(|e| Error::invalid("terms", format!("contract {}: {e}", row.number)))?;
        // A book being migrated collected its upfront fees at signing.
        let paid = r.push_schedule(*id, &quote.rows, row.paid_periods.unwrap_or(0), true);
        let last_paid = paid.last_due;
        c.id.push(*id);
        c.number.push(row.number.clone());
        c.customer.push(*customer);
        c.vehicle.push(*vehicle);
        c.region.push(regions[&row.region]);
        c.terms.push(SqlJson(terms.clone()));
        c.principal.push(terms.principal);
        c.start.push(terms.start);
        c.deposit.push(terms.deposit);
        c.last_paid.push(last_paid);
        let start = terms.start;
        postings.extend(Posting::disbursement(*id, start, terms.principal, terms.deposit));
        postings.push(Posting::contract(
            "imported_repayments",
            *id,
            last_paid.unwrap_or(start),
            vec![
                Entry::debit(Account::Bank, paid.principal + paid.interest + paid.fee),
                Entry::credit(Account::LoansReceivable, paid.principal),
                Entry::credit(Account::InterestIncome, paid.interest),
                Entry::credit(Account::FeeIncome, paid.fee),
            ],
        ));
    }
    sqlx::query(
        "INSERT INTO contracts (id, number, customer_id, vehicle_id, region_id, terms, principal, start_date, deposit_held, last_payment_on)
         OVERRIDING SYSTEM VALUE
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::jsonb[],
                              $7::numeric[], $8::date[], $9::numeric[], $10::date[])",
    )
    .bind(&c.id)
    .bind(&c.number)
    .bind(&c.customer)
    .bind(&c.vehicle)
    .bind(&c.region)
    .bind(&c.terms)
    .bind(&c.principal)
    .bind(&c.start)
    .bind(&c.deposit)
    .bind(&c.last_paid)
    .execute(&mut *db)
    .await?;
    summary.receivables = r.insert(db).await?;
    sqlx::query("UPDATE vehicles SET status = 'financed' WHERE id = ANY($1)")
        .bind(vehicles.iter().flatten().copied().collect::<Vec<i64>>())
        .execute(&mut *db)
        .await?;
    ledger::post(db, &postings).await?;
    summary.imported = rows.len() as u64;
    Ok(summary)
}

#[derive(Default)]
struct ContractColumns {
    id: Vec<i64>,
    number: Vec<String>,
    customer: Vec<Option<i64>>,
    vehicle: Vec<Option<i64>>,
    region: Vec<i64>,
    terms: Vec<SqlJson<Terms>>,
    principal: Vec<Decimal>,
    start: Vec<NaiveDate>,
    deposit: Vec<Decimal>,
    last_paid: Vec<Option<NaiveDate>>,
}

/// A book to import.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The CSV text (see `admin/README.md` for its columns).
    pub csv: String,
}

/// Imports the book the actor sent: every bad line is reported and nothing is imported then; every
/// region must be in the actor's subtree. The import is audited.
pub async fn import_book(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    request: &ImportRequest,
) -> Result<ImportSummary, Error> {
    let rows = parse_csv(request.csv.as_bytes()).map_err(invalid_lines)?;
    let codes: Vec<&str> = rows.iter().map(|r| r.region.as_str()).collect();
    let outside: Option<String> = sqlx::query_scalar(
        "SELECT code FROM unnest($1::text[]) AS t(code)
         WHERE NOT EXISTS (SELECT 1 FROM regions g WHERE g.code = t.code AND starts_with(g.path, $2)) LIMIT 1",
    )
    .bind(&codes)
    .bind(&actor.region_path)
    .fetch_optional(&mut *db)
    .await?;
    if let Some(code) = outside {
        return Err(Error::invalid("region", format!("{code} is not a region in your subtree")));
    }
    let summary = import(db, vault, &rows).await?;
    let entry = Change::new("import", "contract", "batch", Some(actor.region_id)).after(json!(summary));
    audit::record(db, actor.author(), entry).await?;
    Ok(summary)
}

/// The customer of each row (found by ID number, or created); `None` when the row names none.
async fn upsert_customers(
    db: &mut PgConnection,
    vault: &Vault,
    rows: &[&ContractRow],
    regions: &HashMap<String, i64>,
) -> Result<Vec<Option<i64>>, Error> {
    let seal = |v: &str| vault.seal(v).map_err(|e| Error::Internal(e.to_string()));
    let mut out = Vec::with_capacity(rows.len());
    let (mut kind, mut name, mut sealed, mut index, mut phone, mut region) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut phone_index = Vec::new();
    let mut slots = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let Some(customer) = row.customer_name.as_deref().filter(|n| !n.is_empty()) else {
            out.push(None);
            continue;
        };
        out.push(None);
        slots.push(i);
        let id_number = row.id_number.as_deref().filter(|s| !s.is_empty());
        kind.push(if id_number.is_some_and(identity::credit_code_ok) { "company" } else { "individual" });
        name.push(customer.to_owned());
        sealed.push(id_number.map(seal).transpose()?);
        index.push(id_number.map(|n| vault.index(n)));
        phone.push(row.phone.as_deref().filter(|p| !p.is_empty()).map(seal).transpose()?);
        phone_index.push(row.phone.as_deref().filter(|p| !p.is_empty()).map(|p| vault.index(&identity::phone_key(p))));
        region.push(regions[&row.region]);
    }
    if slots.is_empty() {
        return Ok(out);
    }
    // One statement; a customer appearing twice in the file (same ID number) is one customer.
    let ids: Vec<(i64, i64)> = sqlx::query_as(
        "WITH input AS (
             SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bigint[],
                                  $7::bytea[])
                 WITH ORDINALITY AS t(kind, name, sealed, index, phone, region, phone_index, n)
         ), distinct_keyed AS (
             SELECT DISTINCT ON (index) * FROM input WHERE index IS NOT NULL ORDER BY index, n
         ), keyed AS (
             INSERT INTO customers (kind, name, id_number_sealed, id_number_index, phone_sealed, region_id, phone_index)
             SELECT kind, name, sealed, index, phone, region, phone_index FROM distinct_keyed
             ON CONFLICT (id_number_index) DO UPDATE SET id_number_index = customers.id_number_index
             RETURNING id, id_number_index
         ), unkeyed AS (
             INSERT INTO customers (kind, name, phone_sealed, region_id, phone_index)
             SELECT kind, name, phone, region, phone_index FROM input WHERE index IS NULL ORDER BY n
             RETURNING id
         ), unkeyed_numbered AS (
             SELECT id, row_number() OVER (ORDER BY id) AS k FROM unkeyed
         ), unkeyed_input AS (
             SELECT n, row_number() OVER (ORDER BY n) AS k FROM input WHERE index IS NULL
         )
         SELECT i.n, k.id FROM input i JOIN keyed k ON k.id_number_index = i.index
         UNION ALL
         SELECT u.n, un.id FROM unkeyed_input u JOIN unkeyed_numbered un USING (k)",
    )
    .bind(&kind)
    .bind(&name)
    .bind(&sealed)
    .bind(&index)
    .bind(&phone)
    .bind(&region)
    .bind(&phone_index)
    .fetch_all(&mut *db)
    .await?;
    for (n, id) in ids {
        if let Some(&slot) = usize::try_from(n - 1).ok().and_then(|k| slots.get(k)) {
            out[slot] = Some(id);
        }
    }
    Ok(out)
}

/// The vehicle of each row (found by VIN, or created); `None` when the row names none.
async fn upsert_vehicles(
    db: &mut PgConnection,
    rows: &[&ContractRow],
    regions: &HashMap<String, i64>,
) -> Result<Vec<Option<i64>>, Error> {
    let (mut vins, mut plates, mut region) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        if let Some(vin) = row.vin.as_deref().filter(|v| !v.is_empty()) {
            vins.push(vin.to_ascii_uppercase());
            plates.push(row.plate.clone());
            region.push(regions[&row.region]);
        }
    }
    let found: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "INSERT INTO vehicles (vin, plate, region_id)
         SELECT DISTINCT ON (vin) * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(vin, plate, region)
         ON CONFLICT (vin) DO UPDATE SET plate = COALESCE(EXCLUDED.plate, vehicles.plate)
         RETURNING vin, id",
    )
    .bind(&vins)
    .bind(&plates)
    .bind(&region)
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .collect();
    Ok(rows
        .iter()
        .map(|row| {
            row.vin.as_deref().filter(|v| !v.is_empty()).and_then(|v| found.get(&v.to_ascii_uppercase()).copied())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "number,region,principal,annual_rate,term,method,start_date,paid_periods,customer_name,id_number,vin";

    #[test]
    fn rows_parse_and_bad_lines_are_reported_by_number() {
        let text = format!(
            "{HEADER}\nHT-1,HQ,120000,0.0899,36,equal-installment,2024-03-15,8,张三,11010519491231002X,1M8GDM9AXKP042788\n\
             HT-2,HQ,-5,0.0899,36,flat,2024-03-15,,,,\n\
             HT-3,HQ,1000,0.1,12,flat,2024-03-15,,,110105194912310021,\n\
             HT-1,HQ,1000,0.1,12,flat,2024-03-15,,,,\n"
        );
        let errors = parse_csv(text.as_bytes()).unwrap_err();
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        let ok = format!("{HEADER}\nHT-1,HQ,120000,0.0899,36,equal-installment,2024-03-15,8,张三,,\n");
        let rows = parse_csv(ok.as_bytes()).unwrap();
        assert_eq!(rows[0].paid_periods, Some(8));
        assert_eq!(rows[0].method, Method::EqualInstallment);
    }
}
