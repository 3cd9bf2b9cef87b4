//! The contract service: the book of contracts in the actor's region subtree — list, detail with
//! the receivable items, origination from a quote and activation on disbursement, the early
//! settlement quote and settlement, promises to pay, the reconciliation (勾稽), and the payment
//! status the monitor and collectors read. Every change is audited in its transaction.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use leasewatch_finance::settlement::Quote;
use leasewatch_finance::{Decimal, Terms, schedule};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::types::Json as SqlJson;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use super::ledger::{self, Posting};
use super::receivables::{self, Receivable, ReceivableColumns};
use super::{events, settlement};
use crate::actor::Actor;
use crate::dealers::dealer;
use crate::error::{Checks, Error};
use crate::kit::amount::{cents, cents_opt};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};
use crate::kit::version;
use crate::products::product;

/// A contract with its payment status.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Contract {
    /// Id.
    pub id: i64,
    /// Contract number.
    pub number: String,
    /// Customer.
    pub customer_id: Option<i64>,
    /// Vehicle.
    pub vehicle_id: Option<i64>,
    /// Region.
    pub region_id: i64,
    /// Financed amount.
    #[serde(serialize_with = "cents")]
    pub principal: Decimal,
    /// Start date (set on activation).
    pub start_date: Option<NaiveDate>,
    /// `pending`, `active`, `settled` or `closed`.
    pub status: String,
    /// Days past due as of `as_of`.
    pub dpd: i32,
    /// Bucket (0 = M0).
    pub bucket: i32,
    /// Overdue principal, interest and fees.
    #[serde(serialize_with = "cents")]
    pub overdue_amount: Decimal,
    /// Penalty accrued and unpaid.
    #[serde(serialize_with = "cents")]
    pub penalty_open: Decimal,
    /// Customer credit held.
    #[serde(serialize_with = "cents")]
    pub credit: Decimal,
    /// Deposit held.
    #[serde(serialize_with = "cents")]
    pub deposit_held: Decimal,
    /// Last payment's value date.
    pub last_payment_on: Option<NaiveDate>,
    /// A promise to pay holds escalation until this date.
    pub hold_until: Option<NaiveDate>,
    /// The day the delinquency figures are for.
    pub as_of: Option<NaiveDate>,
    /// For optimistic concurrency.
    pub version: i32,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// How contracts are read.
pub const TABLE: Table<Contract> = Table::new(
    "contract",
    "SELECT c.id, c.number, c.customer_id, c.vehicle_id, c.region_id, c.principal, c.start_date,
        c.status, c.dpd, c.bucket, c.overdue_amount, c.penalty_open, c.credit, c.deposit_held, c.last_payment_on,
        c.hold_until, c.as_of, c.version, c.created_at",
    "FROM contracts c JOIN regions g ON g.id = c.region_id",
    "c.id",
)
.scoped("g.path")
.sorted(
    &[("number", "c.number"), ("dpd", "c.dpd"), ("overdue_amount", "c.overdue_amount"), ("start_date", "c.start_date")],
    "number",
);

/// Filters of the contract list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContractFilter {
    /// Exact contract number.
    pub number: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Only this bucket.
    pub bucket: Option<i32>,
    /// At least this many days past due.
    pub min_dpd: Option<i32>,
    /// Only contracts of this customer.
    pub customer_id: Option<i64>,
}

/// The contracts of the actor's region subtree.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &ContractFilter,
) -> Result<Paged<Contract>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("c.number", filter.number.clone())
                .eq("c.status", filter.status.clone())
                .eq("c.bucket", filter.bucket)
                .at_least("c.dpd", filter.min_dpd)
                .eq("c.customer_id", filter.customer_id);
        })
        .await
}

/// A contract with its receivable items.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractDetail {
    /// The contract.
    pub contract: Contract,
    /// Its items by due date.
    pub receivables: Vec<Receivable>,
}

/// The contract `id` with its items, if in the actor's region subtree.
pub async fn detail(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<ContractDetail, Error> {
    let contract = TABLE.load(db, actor, id).await?;
    let receivables = receivables::of_contract(db, id).await?;
    Ok(ContractDetail { contract, receivables })
}

/// A contract to originate from a quote under a product version.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Origination {
    /// Contract number, unique.
    #[schema(pattern = r"^[A-Za-z0-9/_-]{1,64}$")]
    pub number: String,
    /// The customer.
    pub customer_id: i64,
    /// The vehicle (in stock).
    pub vehicle_id: i64,
    /// The dealer.
    pub dealer_id: Option<i64>,
    /// The product version signed on.
    pub product_id: i64,
    /// Vehicle price.
    pub price: Decimal,
    /// Down payment.
    pub down_payment: Decimal,
    /// Months.
    pub term: u32,
}

/// Where a contract came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A book taken over from an earlier system: activated on the disbursement it reports.
    Imported,
    /// An application of this system: activated only by its approved disbursement.
    Application,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Self::Imported => "imported",
            Self::Application => "application",
        }
    }
}

/// Creates a pending contract from `o` in the region of its customer, who must be in the actor's
/// subtree; audited.
pub async fn originate(
    db: &mut PgConnection,
    actor: &Actor,
    o: &Origination,
    origin: Origin,
) -> Result<Contract, Error> {
    let region: Option<i64> = sqlx::query_scalar(
        "SELECT c.region_id FROM customers c JOIN regions g ON g.id = c.region_id WHERE c.id = $1 AND starts_with(g.path, $2)",
    )
    .bind(o.customer_id)
    .bind(&actor.region_path)
    .fetch_optional(&mut *db)
    .await?;
    let Some(region) = region else { return Err(Error::invalid("customer_id", "no such customer in your region")) };
    let id = create_pending(db, o, region, origin, Utc::now().date_naive()).await?;
    let contract = TABLE.load(db, actor, id).await?;
    let entry = Change::new("create", "contract", id, Some(region)).after(json!(contract));
    audit::record(db, actor.author(), entry).await?;
    Ok(contract)
}

/// Creates a pending contract from `o`; the schedule is made when it is activated. Returns its id.
async fn create_pending(
    db: &mut PgConnection,
    o: &Origination,
    region_id: i64,
    origin: Origin,
    today: NaiveDate,
) -> Result<i64, Error> {
    let rules: Option<SqlJson<product::Rules>> = sqlx::query_scalar("SELECT rules FROM products WHERE id = $1")
        .bind(o.product_id)
        .fetch_optional(&mut *db)
        .await?;
    let rules = rules.ok_or_else(|| Error::invalid("product_id", "no such product version"))?.0;
    let vehicle: Option<(String, String)> =
        sqlx::query_as("SELECT status, vehicle_type FROM vehicles WHERE id = $1 FOR UPDATE")
            .bind(o.vehicle_id)
            .fetch_optional(&mut *db)
            .await?;
    let vehicle_type = match vehicle {
        None => return Err(Error::invalid("vehicle_id", "no such vehicle")),
        Some((status, kind)) if status == "in_stock" => kind,
        Some((other, _)) => {
            return Err(Error::invalid("vehicle_id", format!("the vehicle is {other}, not in stock")));
        }
    };
    let tier: Option<String> = match o.dealer_id {
        Some(dealer) => Some(dealer::tier_for_new_business(db, dealer).await?),
        None => None,
    };
    let deal = product::Deal {
        price: o.price,
        down_payment: o.down_payment,
        term: o.term,
        vehicle_type: &vehicle_type,
        dealer_tier: tier.as_deref(),
    };
    let terms = rules.terms(&deal, today).map_err(|m| Error::invalid("down_payment", m))?;
    schedule(&terms).map_err(|e| Error::invalid("term", e.to_string()))?;
    Ok(sqlx::query_scalar(
        "INSERT INTO contracts (number, customer_id, vehicle_id, dealer_id, product_id, region_id, terms, principal,
                                price, down_payment, status, origin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11) RETURNING id",
    )
    .bind(&o.number)
    .bind(o.customer_id)
    .bind(o.vehicle_id)
    .bind(o.dealer_id)
    .bind(o.product_id)
    .bind(region_id)
    .bind(SqlJson(&terms))
    .bind(terms.principal)
    .bind(o.price)
    .bind(o.down_payment)
    .bind(origin.as_str())
    .fetch_one(db)
    .await?)
}

/// The disbursement.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    /// The day the money went out: the schedule starts then.
    pub disbursed_on: NaiveDate,
    /// The version read.
    pub version: i32,
}

/// Activates the pending contract `id` of an imported book on the disbursement it reports, if the
/// actor read its current version; audited. A contract generated from an application is activated
/// only by its approved disbursement request (`origination/disbursement.rs`).
pub async fn activate(db: &mut PgConnection, actor: &Actor, id: i64, a: &Activation) -> Result<ContractDetail, Error> {
    let before = TABLE.lock(db, actor, id).await?;
    version::check(a.version, before.version)?;
    let origin: String =
        sqlx::query_scalar("SELECT origin FROM contracts WHERE id = $1").bind(id).fetch_one(&mut *db).await?;
    if origin == Origin::Application.as_str() {
        return Err(Error::Conflict {
            code: "disbursement_required",
            detail: "this contract was generated from an application: it becomes active when its disbursement \
                     request is approved, not by hand"
                .into(),
        });
    }
    start(db, id, a.disbursed_on).await?;
    let after = detail(db, actor, id).await?;
    let entry = Change::new("activate", "contract", id, Some(after.contract.region_id))
        .before(json!({"status": before.status}))
        .after(json!({"status": after.contract.status, "disbursed_on": a.disbursed_on}));
    audit::record(db, actor.author(), entry).await?;
    Ok(after)
}

/// Starts the pending `contract` on the day the money went out: its schedule starts then, its
/// items are written, the disbursement and the deposit are booked, the vehicle is financed.
pub(crate) async fn start(db: &mut PgConnection, contract: i64, disbursed_on: NaiveDate) -> Result<(), Error> {
    let row: Option<(String, SqlJson<Terms>, Option<i64>)> =
        sqlx::query_as("SELECT status, terms, vehicle_id FROM contracts WHERE id = $1 FOR UPDATE")
            .bind(contract)
            .fetch_optional(&mut *db)
            .await?;
    let Some((status, terms, vehicle)) = row else { return Err(Error::NotFound("contract")) };
    if status != "pending" {
        return Err(Error::invalid_state(format!("the contract is {status}, not pending")));
    }
    let terms = Terms { start: disbursed_on, ..terms.0 };
    let quote = schedule(&terms).map_err(|e| Error::Internal(format!("stored terms: {e}")))?;
    let mut items = ReceivableColumns::default();
    items.push_schedule(contract, &quote.rows, 0, false);
    items.insert(db).await?;
    sqlx::query(
        "UPDATE contracts SET status = 'active', terms = $2, start_date = $3, activated_on = $3, deposit_held = $4,
             version = version + 1 WHERE id = $1",
    )
    .bind(contract)
    .bind(SqlJson(&terms))
    .bind(disbursed_on)
    .bind(terms.deposit)
    .execute(&mut *db)
    .await?;
    if let Some(vehicle) = vehicle {
        let reserved = sqlx::query(
            "UPDATE vehicles SET status = 'financed', version = version + 1 WHERE id = $1 AND status = 'in_stock'",
        )
        .bind(vehicle)
        .execute(&mut *db)
        .await?
        .rows_affected();
        if reserved == 0 {
            return Err(Error::invalid_state("the vehicle is no longer in stock: another contract financed it"));
        }
    }
    ledger::post(db, &Posting::disbursement(contract, disbursed_on, terms.principal, terms.deposit)).await?;
    Ok(())
}

/// The settlement date.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuoteDate {
    /// The day to settle on (today when absent).
    pub date: Option<NaiveDate>,
}

/// What settling the contract `id` early (提前结清) would cost on a date (`today`, the company's,
/// when none is asked).
pub async fn settlement_quote(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    date: &QuoteDate,
    today: NaiveDate,
) -> Result<Quote, Error> {
    TABLE.load(db, actor, id).await?;
    settlement::quote(db, id, date.date.unwrap_or(today)).await
}

/// The day to settle on.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settle {
    /// The settlement date (not in the future).
    pub date: NaiveDate,
    /// The version read.
    pub version: i32,
}

/// Settles the contract `id` early with the money it holds, if the actor read its current version;
/// audited with the quote. `today` is the company's day: a settlement date after it is refused.
pub async fn settle(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    request: &Settle,
    today: NaiveDate,
) -> Result<Quote, Error> {
    Checks::default().check(request.date <= today, "date", "cannot be in the future").finish()?;
    let before = TABLE.lock(db, actor, id).await?;
    version::check(request.version, before.version)?;
    let quote = settlement::execute(db, id, request.date).await?;
    let entry = Change::new("settle", "contract", id, Some(before.region_id))
        .before(json!({"status": before.status}))
        .after(json!({"status": "settled", "quote": quote}));
    audit::record(db, actor.author(), entry).await?;
    Ok(quote)
}

/// A promise to pay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Promise {
    /// The date the customer promised to pay by; escalation is held until then.
    pub until: NaiveDate,
    /// What was agreed.
    pub note: String,
    /// The version read.
    pub version: i32,
}

/// Records a promise to pay on the contract `id`: its bucket does not escalate until the date,
/// within 90 days of the company's `today`; kept as a contract event and audited.
pub async fn promise(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    promise: &Promise,
    today: NaiveDate,
) -> Result<Contract, Error> {
    Checks::default()
        .check(!promise.note.trim().is_empty(), "note", "say what was agreed")
        .check(
            promise.until >= today && promise.until <= today + Duration::days(90),
            "until",
            "must be within the next 90 days",
        )
        .finish()?;
    let before = TABLE.lock(db, actor, id).await?;
    version::check(promise.version, before.version)?;
    sqlx::query("UPDATE contracts SET hold_until = $2, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(promise.until)
        .execute(&mut *db)
        .await?;
    let detail = json!({"until": promise.until, "note": promise.note, "by": actor.username});
    events::record(db, id, None, "promise_to_pay", detail).await?;
    let after = TABLE.load(db, actor, id).await?;
    let entry = Change::new("promise", "contract", id, Some(after.region_id))
        .before(json!({"hold_until": before.hold_until}))
        .after(json!({"hold_until": after.hold_until, "note": promise.note}));
    audit::record(db, actor.author(), entry).await?;
    Ok(after)
}

/// The reconciliation (勾稽) of one contract: scheduled vs received vs written off vs open.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Reconciliation {
    /// Principal, interest and fees scheduled.
    #[serde(serialize_with = "cents")]
    pub scheduled: Decimal,
    /// Penalty accrued.
    #[serde(serialize_with = "cents")]
    pub penalty_accrued: Decimal,
    /// Paid on the items before the contract was imported.
    #[serde(serialize_with = "cents")]
    pub paid_before_import: Decimal,
    /// Receipts written off to the contract.
    #[serde(serialize_with = "cents")]
    pub received: Decimal,
    /// Allocated to the items from receipts and credit.
    #[serde(serialize_with = "cents")]
    pub written_off: Decimal,
    /// Still open on the items (due or not).
    #[serde(serialize_with = "cents")]
    pub open: Decimal,
    /// Credit held.
    #[serde(serialize_with = "cents")]
    pub credit: Decimal,
    /// Whether every yuan received is written off or held as credit (received = written off + credit).
    pub balanced: bool,
}

/// Reconciles the contract `id`.
pub async fn reconciliation(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Reconciliation, Error> {
    TABLE.load(db, actor, id).await?;
    Ok(sqlx::query_as(
        "WITH items AS (
             SELECT COALESCE(sum(amount) FILTER (WHERE component <> 'penalty'), 0) AS scheduled,
                    COALESCE(sum(amount) FILTER (WHERE component = 'penalty'), 0) AS penalty_accrued,
                    COALESCE(sum(paid), 0) AS paid, COALESCE(sum(amount - paid), 0) AS open
             FROM receivables WHERE contract_id = $1),
         money AS (
             SELECT (SELECT COALESCE(sum(amount), 0) FROM receipts WHERE contract_id = $1 AND status = 'written_off') AS received,
                    (SELECT COALESCE(sum(a.amount), 0) FROM allocations a JOIN receivables r ON r.id = a.receivable_id
                     WHERE r.contract_id = $1 AND a.source IN ('receipt', 'credit', 'reversal')) AS written_off,
                    (SELECT credit FROM contracts WHERE id = $1) AS credit)
         SELECT i.scheduled, i.penalty_accrued, i.paid - m.written_off AS paid_before_import, m.received,
                m.written_off, i.open, m.credit,
                m.received = m.written_off + m.credit AS balanced
         FROM items i, money m",
    )
    .bind(id)
    .fetch_one(db)
    .await?)
}

/// Which payment status to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// By contract.
    pub contract_id: Option<i64>,
    /// By vehicle (its active contracts).
    pub vehicle_id: Option<i64>,
    /// By device (the active contracts of the vehicle it is installed in).
    pub device_id: Option<i64>,
}

/// Payment status, the read model the monitor uses.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct PaymentStatus {
    /// Contract.
    pub contract_id: i64,
    /// Contract number.
    pub number: String,
    /// Vehicle.
    pub vehicle_id: Option<i64>,
    /// Days past due.
    pub dpd: i32,
    /// Bucket.
    pub bucket: i32,
    /// Overdue amount.
    #[serde(serialize_with = "cents")]
    pub overdue_amount: Decimal,
    /// Last payment's value date.
    pub last_payment_on: Option<NaiveDate>,
    /// Next due date.
    pub next_due_date: Option<NaiveDate>,
    /// Amount due then.
    #[serde(serialize_with = "cents_opt")]
    pub next_due_amount: Option<Decimal>,
    /// An active promise to pay, until.
    pub promise_until: Option<NaiveDate>,
}

/// The payment status of a contract, a vehicle or a device, within the actor's region subtree.
pub async fn payment_status(pool: &PgPool, actor: &Actor, q: &StatusQuery) -> Result<Vec<PaymentStatus>, Error> {
    if q.contract_id.is_none() && q.vehicle_id.is_none() && q.device_id.is_none() {
        return Err(Error::invalid("contract_id", "give contract_id, vehicle_id or device_id"));
    }
    Ok(sqlx::query_as(
        "SELECT s.contract_id, s.number, s.vehicle_id, s.dpd, s.bucket, s.overdue_amount, s.last_payment_on,
                s.next_due_date, s.next_due_amount, s.promise_until
         FROM payment_status s JOIN regions g ON g.id = s.region_id
         WHERE starts_with(g.path, $1)
           AND ($2::bigint IS NULL OR s.contract_id = $2)
           AND ($3::bigint IS NULL OR s.vehicle_id = $3)
           AND ($4::bigint IS NULL OR s.vehicle_id = (SELECT vehicle_id FROM devices WHERE id = $4))
         ORDER BY s.contract_id LIMIT 100",
    )
    .bind(&actor.region_path)
    .bind(q.contract_id)
    .bind(q.vehicle_id)
    .bind(q.device_id)
    .fetch_all(pool)
    .await?)
}
