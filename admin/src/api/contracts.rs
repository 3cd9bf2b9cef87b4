//! `/api/v1/contracts` and `/api/v1/payment-status`: the book of contracts — import, list, detail
//! with the schedule, the early settlement quote, promises to pay, the reconciliation report
//! (勾稽), and the payment status the monitor and collectors read.

use axum::extract::State;
use backoffice::books::contracts::{self as book, ImportSummary, LineError};
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use leasewatch_finance::settlement;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::FromRow;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, FieldError};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, originate))
        .routes(routes!(activate))
        .routes(routes!(get))
        .routes(routes!(import))
        .routes(routes!(settlement_quote))
        .routes(routes!(settle))
        .routes(routes!(promise))
        .routes(routes!(request_deposit_offset))
        .routes(routes!(reconciliation))
        .routes(routes!(payment_status))
}

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
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
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
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub overdue_amount: Decimal,
    /// Penalty accrued and unpaid.
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub penalty_open: Decimal,
    /// Customer credit held.
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub credit: Decimal,
    /// Deposit held.
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
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
const TABLE: Table<Contract> = Table::new(
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

/// List the contracts of the caller's region subtree.
#[utoipa::path(get, path = "/contracts", tag = "contracts", params(PageParams, ContractFilter),
    responses((status = 200, description = "A page of contracts", body = Paged<Contract>)),
    security(("bearer" = ["contracts.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<ContractFilter>,
) -> Result<Json<Paged<Contract>>, ApiError> {
    let items = TABLE
        .list(&state.pool, &caller, &page, |f| {
            f.eq("c.number", filter.number.clone())
                .eq("c.status", filter.status.clone())
                .eq("c.bucket", filter.bucket)
                .at_least("c.dpd", filter.min_dpd)
                .eq("c.customer_id", filter.customer_id);
        })
        .await?;
    Ok(Json(items))
}

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
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub amount: Decimal,
    /// Amount paid.
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub paid: Decimal,
}

/// A contract with its receivable items.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractDetail {
    /// The contract.
    pub contract: Contract,
    /// Its items by due date.
    pub receivables: Vec<Receivable>,
}

/// One contract with its schedule as receivable items.
#[utoipa::path(get, path = "/contracts/{id}", tag = "contracts", params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "The contract", body = ContractDetail)), security(("bearer" = ["contracts.read"])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ContractDetail>, ApiError> {
    let mut db = state.pool.acquire().await?;
    let contract = TABLE.load(&mut db, &caller, id).await?;
    let receivables = sqlx::query_as(
        "SELECT id, period, due_date, component, amount, paid FROM receivables WHERE contract_id = $1
         ORDER BY due_date, period, array_position(ARRAY['penalty','fee','interest','principal'], component)",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await?;
    Ok(Json(ContractDetail { contract, receivables }))
}

/// A book to import.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The CSV text (see `admin/README.md` for its columns).
    pub csv: String,
}

/// Import a book of contracts from CSV; contracts whose number exists are skipped. Every bad
/// line is reported (`errors[].field` is `line N`) and nothing is imported then.
#[utoipa::path(post, path = "/contracts/import", tag = "contracts", request_body = ImportRequest,
    responses((status = 200, description = "Imported", body = ImportSummary)), security(("bearer" = ["contracts.import"])))]
async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<ImportRequest>,
) -> Result<Json<ImportSummary>, ApiError> {
    let rows = book::parse_csv(request.csv.as_bytes()).map_err(line_errors)?;
    let codes: Vec<&str> = rows.iter().map(|r| r.region.as_str()).collect();
    let mut tx = state.pool.begin().await?;
    let outside: Option<String> = sqlx::query_scalar(
        "SELECT code FROM unnest($1::text[]) AS t(code)
         WHERE NOT EXISTS (SELECT 1 FROM regions g WHERE g.code = t.code AND starts_with(g.path, $2)) LIMIT 1",
    )
    .bind(&codes)
    .bind(&caller.region_path)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(code) = outside {
        return Err(ApiError::invalid("region", format!("{code} is not a region in your subtree")));
    }
    let summary = book::import(&mut tx, &state.vault, &rows).await?;
    let entry = Change::new("import", "contract", "batch".to_owned(), Some(caller.region_id)).after(json!(summary));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(Json(summary))
}

/// CSV line errors as a 422.
pub(crate) fn line_errors(errors: Vec<LineError>) -> ApiError {
    ApiError::Validation(
        errors.into_iter().map(|e| FieldError { field: format!("line {}", e.line), message: e.message }).collect(),
    )
}

/// The settlement date.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuoteDate {
    /// The day to settle on (today when absent).
    pub date: Option<NaiveDate>,
}

/// What settling the contract early (提前结清) would cost on a date.
#[utoipa::path(get, path = "/contracts/{id}/settlement-quote", tag = "contracts",
    params(("id" = i64, Path, description = "Contract id"), QuoteDate),
    responses((status = 200, description = "The quote", body = settlement::Quote)), security(("bearer" = ["contracts.read"])))]
async fn settlement_quote(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(date): Query<QuoteDate>,
) -> Result<Json<settlement::Quote>, ApiError> {
    let mut db = state.pool.acquire().await?;
    TABLE.load(&mut db, &caller, id).await?;
    let date = date.date.unwrap_or_else(|| Utc::now().date_naive());
    Ok(Json(backoffice::books::settlement::quote(&mut db, id, date).await?))
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

/// Settle early with the money the contract holds (credit from the customer's payment, and the
/// deposit): interest and fees not yet due are waived, what is left is refunded, the contract
/// closes and its vehicle is released. 409 when the money held is not enough.
#[utoipa::path(post, path = "/contracts/{id}/actions/settle", tag = "contracts",
    params(("id" = i64, Path, description = "Contract id")), request_body = Settle,
    responses((status = 200, description = "Settled", body = settlement::Quote)), security(("bearer" = ["contracts.write"])))]
async fn settle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<Settle>,
) -> Result<Json<settlement::Quote>, ApiError> {
    if request.date > Utc::now().date_naive() {
        return Err(ApiError::invalid("date", "cannot be in the future"));
    }
    let mut tx = state.pool.begin().await?;
    let before = TABLE.load(&mut tx, &caller, id).await?;
    if before.version != request.version {
        return Err(ApiError::stale(before.version));
    }
    let quote = backoffice::books::settlement::execute(&mut tx, id, request.date).await?;
    let entry = Change::new("settle", "contract", id, Some(before.region_id))
        .before(json!({"status": before.status}))
        .after(json!({"status": "settled", "quote": quote}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(Json(quote))
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

/// Record a promise to pay (or a pause): the bucket does not escalate until the date; days past
/// due and penalty still accrue.
#[utoipa::path(post, path = "/contracts/{id}/actions/promise", tag = "contracts",
    params(("id" = i64, Path, description = "Contract id")), request_body = Promise,
    responses((status = 200, description = "Recorded", body = Contract)), security(("bearer" = ["contracts.write"])))]
async fn promise(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(promise): Json<Promise>,
) -> Result<Json<Contract>, ApiError> {
    if promise.note.trim().is_empty() {
        return Err(ApiError::invalid("note", "say what was agreed"));
    }
    if promise.until < Utc::now().date_naive() || promise.until > Utc::now().date_naive() + chrono::Duration::days(90) {
        return Err(ApiError::invalid("until", "must be within the next 90 days"));
    }
    let mut tx = state.pool.begin().await?;
    sqlx::query("SELECT 1 FROM contracts WHERE id = $1 FOR UPDATE").bind(id).execute(&mut *tx).await?;
    let before = TABLE.load(&mut tx, &caller, id).await?;
    if before.version != promise.version {
        return Err(ApiError::stale(before.version));
    }
    sqlx::query("UPDATE contracts SET hold_until = $2, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(promise.until)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO contract_events (contract_id, as_of, kind, detail) VALUES ($1, current_date, 'promise_to_pay', $2)")
        .bind(id)
        .bind(json!({"until": promise.until, "note": promise.note, "by": caller.username}))
        .execute(&mut *tx)
        .await?;
    let after = TABLE.load(&mut tx, &caller, id).await?;
    let entry = Change::new("promise", "contract", id, Some(after.region_id))
        .before(json!({"hold_until": before.hold_until}))
        .after(json!({"hold_until": after.hold_until, "note": promise.note}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// The reconciliation (勾稽) of one contract: scheduled vs received vs written off vs open.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Reconciliation {
    /// Principal, interest and fees scheduled.
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub scheduled: Decimal,
    /// Penalty accrued.
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub penalty_accrued: Decimal,
    /// Paid on the items before the contract was imported.
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub paid_before_import: Decimal,
    /// Receipts written off to the contract.
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub received: Decimal,
    /// Allocated to the items from receipts and credit.
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub written_off: Decimal,
    /// Still open on the items (due or not).
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub open: Decimal,
    /// Credit held.
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub credit: Decimal,
    /// Whether every yuan received is written off or held as credit (received = written off + credit).
    pub balanced: bool,
}

/// Reconcile one contract.
#[utoipa::path(get, path = "/contracts/{id}/reconciliation", tag = "contracts",
    params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "The reconciliation", body = Reconciliation)), security(("bearer" = ["contracts.read"])))]
async fn reconciliation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Reconciliation>, ApiError> {
    let mut db = state.pool.acquire().await?;
    TABLE.load(&mut db, &caller, id).await?;
    let r: Reconciliation = sqlx::query_as(
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
    .fetch_one(&mut *db)
    .await?;
    Ok(Json(r))
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
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
    pub overdue_amount: Decimal,
    /// Last payment's value date.
    pub last_payment_on: Option<NaiveDate>,
    /// Next due date.
    pub next_due_date: Option<NaiveDate>,
    /// Amount due then.
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "backoffice::kit::amount::cents_opt")]
    pub next_due_amount: Option<Decimal>,
    /// An active promise to pay, until.
    pub promise_until: Option<NaiveDate>,
}

/// The payment status of a contract, a vehicle or a device.
#[utoipa::path(get, path = "/payment-status", tag = "contracts", params(StatusQuery),
    responses((status = 200, description = "Matching contracts' status", body = Vec<PaymentStatus>)),
    security(("bearer" = ["contracts.read"])))]
async fn payment_status(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<StatusQuery>,
) -> Result<Json<Vec<PaymentStatus>>, ApiError> {
    if q.contract_id.is_none() && q.vehicle_id.is_none() && q.device_id.is_none() {
        return Err(ApiError::invalid("contract_id", "give contract_id, vehicle_id or device_id"));
    }
    let rows = sqlx::query_as(
        "SELECT s.contract_id, s.number, s.vehicle_id, s.dpd, s.bucket, s.overdue_amount, s.last_payment_on,
                s.next_due_date, s.next_due_amount, s.promise_until
         FROM payment_status s JOIN regions g ON g.id = s.region_id
         WHERE starts_with(g.path, $1)
           AND ($2::bigint IS NULL OR s.contract_id = $2)
           AND ($3::bigint IS NULL OR s.vehicle_id = $3)
           AND ($4::bigint IS NULL OR s.vehicle_id = (SELECT vehicle_id FROM devices WHERE id = $4))
         ORDER BY s.contract_id LIMIT 100",
    )
    .bind(&caller.region_path)
    .bind(q.contract_id)
    .bind(q.vehicle_id)
    .bind(q.device_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// A request that needs approval.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// Why.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// Ask for the deposit to be offset against what is due (保证金冲抵); it happens when the
/// `deposit_offset` workflow approves it.
#[utoipa::path(post, path = "/contracts/{id}/actions/request-deposit-offset", tag = "contracts",
    params(("id" = i64, Path, description = "Contract id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = ApprovalRequest,
    responses((status = 201, description = "Submitted for approval", body = backoffice::system::workflow::engine::Instance)),
    security(("bearer" = ["contracts.write"])))]
async fn request_deposit_offset(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<ApprovalRequest>,
) -> Result<(axum::http::StatusCode, Json<backoffice::system::workflow::engine::Instance>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let contract = TABLE.load(&mut tx, &caller, id).await?;
    if contract.deposit_held <= Decimal::ZERO {
        return Err(ApiError::invalid_state("the contract holds no deposit"));
    }
    let instance = backoffice::kit::approvals::submit(
        &mut tx,
        &caller,
        backoffice::books::approvals::DEPOSIT_OFFSET,
        id,
        contract.region_id,
        &format!("保证金冲抵 {} — {}", contract.number, request.reason.trim()),
    )
    .await?;
    tx.commit().await?;
    Ok((axum::http::StatusCode::CREATED, Json(instance)))
}

/// Create a pending contract from a quote under a product version (customer, vehicle in stock,
/// dealer); it is activated on disbursement. Send an `Idempotency-Key` so that a retry cannot
/// create it twice.
#[utoipa::path(post, path = "/contracts", tag = "contracts", request_body = book::Origination,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    responses((status = 201, description = "Created, pending", body = Contract)), security(("bearer" = ["contracts.write"])))]
async fn originate(
    State(state): State<AppState>,
    caller: Caller,
    Json(o): Json<book::Origination>,
) -> Result<(axum::http::StatusCode, Json<Contract>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let region: Option<i64> = sqlx::query_scalar(
        "SELECT c.region_id FROM customers c JOIN regions g ON g.id = c.region_id WHERE c.id = $1 AND starts_with(g.path, $2)",
    )
    .bind(o.customer_id)
    .bind(&caller.region_path)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(region) = region else { return Err(ApiError::invalid("customer_id", "no such customer in your region")) };
    let id = book::originate(&mut tx, &o, region, Utc::now().date_naive()).await?;
    let contract = TABLE.load(&mut tx, &caller, id).await?;
    let entry = Change::new("create", "contract", id, Some(region)).after(json!(contract));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok((axum::http::StatusCode::CREATED, Json(contract)))
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

/// Activate a pending contract on disbursement: its schedule is written as receivable items,
/// the disbursement and deposit are booked, and the vehicle becomes financed.
#[utoipa::path(post, path = "/contracts/{id}/actions/activate", tag = "contracts",
    params(("id" = i64, Path, description = "Contract id")), request_body = Activation,
    responses((status = 200, description = "Active", body = ContractDetail)), security(("bearer" = ["contracts.write"])))]
async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(a): Json<Activation>,
) -> Result<Json<ContractDetail>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let before = TABLE.load(&mut tx, &caller, id).await?;
    if before.version != a.version {
        return Err(ApiError::stale(before.version));
    }
    book::activate(&mut tx, id, a.disbursed_on).await?;
    let contract = TABLE.load(&mut tx, &caller, id).await?;
    let entry = Change::new("activate", "contract", id, Some(contract.region_id))
        .before(json!({"status": before.status}))
        .after(json!({"status": contract.status, "disbursed_on": a.disbursed_on}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    let receivables = sqlx::query_as(
        "SELECT id, period, due_date, component, amount, paid FROM receivables WHERE contract_id = $1 ORDER BY due_date, period, id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(ContractDetail { contract, receivables }))
}
