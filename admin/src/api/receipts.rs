//! `/api/v1/receipts` and `/api/v1/receiving-accounts`: money received — registered by hand or
//! imported from bank statements — claimed (认领) to contracts and written off (核销).

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::books::receipts::{self as book, StatementRow, StatementSummary};
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::FromRow;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::contracts::line_errors;
use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, register))
        .routes(routes!(import))
        .routes(routes!(claim))
        .routes(routes!(write_off))
        .routes(routes!(request_reversal))
        .routes(routes!(accounts, add_account))
}

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
    #[schema(value_type = String)]
    #[serde(serialize_with = "backoffice::kit::amount::cents")]
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
const TABLE: Table<Receipt> = Table::new(
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

/// List receipts: unclaimed ones, and those of contracts in the caller's region subtree.
#[utoipa::path(get, path = "/receipts", tag = "receipts", params(PageParams, ReceiptFilter),
    responses((status = 200, description = "A page of receipts", body = Paged<Receipt>)), security(("bearer" = ["receipts.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<ReceiptFilter>,
) -> Result<Json<Paged<Receipt>>, ApiError> {
    let items = TABLE
        .list(&state.pool, &caller, &page, |f| {
            f.eq("r.status", filter.status.clone())
                .eq("r.contract_id", filter.contract_id)
                .at_least("r.received_on", filter.from)
                .before("r.received_on", filter.to);
        })
        .await?;
    Ok(Json(items))
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
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Payer.
    pub payer: Option<String>,
    /// Remark; a contract number in it claims the receipt.
    pub remark: Option<String>,
}

/// Register a receipt by hand; a contract number in the remark claims and writes it off. Send an
/// `Idempotency-Key` so that a retry cannot register it twice.
#[utoipa::path(post, path = "/receipts", tag = "receipts", request_body = NewReceipt,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    responses((status = 201, description = "Registered", body = StatementSummary)), security(("bearer" = ["receipts.write"])))]
async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewReceipt>,
) -> Result<(StatusCode, Json<StatementSummary>), ApiError> {
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
    let summary = import_rows(&state, &caller, &new.account, &[row]).await?;
    if summary.duplicates > 0 {
        return Err(ApiError::Conflict {
            code: "duplicate",
            detail: "this bank reference is already registered".into(),
        });
    }
    Ok((StatusCode::CREATED, Json(summary)))
}

async fn import_rows(
    state: &AppState,
    caller: &Caller,
    account: &str,
    rows: &[StatementRow],
) -> Result<StatementSummary, ApiError> {
    let mut tx = state.pool.begin().await?;
    let summary = book::import_statement(&mut tx, account, rows).await?;
    let entry = Change::new("import", "receipt", account.to_owned(), None).after(json!(summary));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
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

/// Import a bank statement: lines already imported are skipped; receipts naming a contract are
/// claimed and written off.
#[utoipa::path(post, path = "/receipts/import", tag = "receipts", request_body = StatementRequest,
    responses((status = 200, description = "Imported", body = StatementSummary)), security(("bearer" = ["receipts.write"])))]
async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<StatementRequest>,
) -> Result<Json<StatementSummary>, ApiError> {
    let rows = book::parse_statement(request.csv.as_bytes()).map_err(line_errors)?;
    Ok(Json(import_rows(&state, &caller, &request.account, &rows).await?))
}

/// The contract to claim a receipt to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The contract.
    pub contract_id: i64,
}

/// Claim an unclaimed receipt to a contract and write it off.
#[utoipa::path(post, path = "/receipts/{id}/actions/claim", tag = "receipts", params(("id" = i64, Path, description = "Receipt id")),
    request_body = ClaimRequest,
    responses((status = 200, description = "Claimed and written off", body = Receipt)), security(("bearer" = ["receipts.write"])))]
async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<ClaimRequest>,
) -> Result<Json<Receipt>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let before = TABLE.load(&mut tx, &caller, id).await?;
    let region: Option<i64> = sqlx::query_scalar(
        "SELECT c.region_id FROM contracts c JOIN regions g ON g.id = c.region_id WHERE c.id = $1 AND starts_with(g.path, $2)",
    )
    .bind(request.contract_id)
    .bind(&caller.region_path)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(region) = region else { return Err(ApiError::invalid("contract_id", "no such contract in your region")) };
    book::claim(&mut tx, id, request.contract_id).await?;
    book::write_off(&mut tx, &[id]).await?;
    let after = TABLE.load(&mut tx, &caller, id).await?;
    let entry = Change::new("claim", "receipt", id, Some(region)).before(json!(before)).after(json!(after));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Write off a claimed receipt (one claimed but not yet written off).
#[utoipa::path(post, path = "/receipts/{id}/actions/write-off", tag = "receipts", params(("id" = i64, Path, description = "Receipt id")),
    responses((status = 200, description = "Written off", body = Receipt)), security(("bearer" = ["receipts.write"])))]
async fn write_off(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Receipt>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let before = TABLE.load(&mut tx, &caller, id).await?;
    if before.status != "claimed" {
        return Err(ApiError::invalid_state(format!("the receipt is {}", before.status)));
    }
    book::write_off(&mut tx, &[id]).await?;
    let after = TABLE.load(&mut tx, &caller, id).await?;
    let entry = Change::new("write_off", "receipt", id, None)
        .before(json!({"status": before.status}))
        .after(json!({"status": after.status}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(Json(after))
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
#[utoipa::path(get, path = "/receiving-accounts", tag = "receipts",
    responses((status = 200, description = "The accounts", body = Vec<ReceivingAccount>)), security(("bearer" = ["receipts.read"])))]
async fn accounts(State(state): State<AppState>) -> Result<Json<Vec<ReceivingAccount>>, ApiError> {
    Ok(Json(
        sqlx::query_as("SELECT code, bank, name FROM receiving_accounts ORDER BY code").fetch_all(&state.pool).await?,
    ))
}

/// Add a receiving account.
#[utoipa::path(post, path = "/receiving-accounts", tag = "receipts", request_body = ReceivingAccount,
    responses((status = 201, description = "Added", body = ReceivingAccount)), security(("bearer" = ["receipts.write"])))]
async fn add_account(
    State(state): State<AppState>,
    caller: Caller,
    Json(account): Json<ReceivingAccount>,
) -> Result<(StatusCode, Json<ReceivingAccount>), ApiError> {
    let mut checks = Checks::default();
    checks.check(
        (1..=32).contains(&account.code.len())
            && account.code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')),
        "code",
        "must be 1 to 32 letters, digits, - or _",
    );
    checks.text("bank", &account.bank, 100).text("name", &account.name, 100).finish()?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("INSERT INTO receiving_accounts (code, bank, name) VALUES ($1, $2, $3)")
        .bind(&account.code)
        .bind(account.bank.trim())
        .bind(account.name.trim())
        .execute(&mut *tx)
        .await?;
    let entry = Change::new("create", "receiving_account", account.code.clone(), None).after(json!(account));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Ask for a write-off to be reversed (反核销); it happens when the `receipt_reversal` workflow
/// approves it, and the receipt returns to unclaimed.
#[utoipa::path(post, path = "/receipts/{id}/actions/request-reversal", tag = "receipts",
    params(("id" = i64, Path, description = "Receipt id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = super::contracts::ApprovalRequest,
    responses((status = 201, description = "Submitted for approval", body = backoffice::system::workflow::engine::Instance)),
    security(("bearer" = ["receipts.write"])))]
async fn request_reversal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<super::contracts::ApprovalRequest>,
) -> Result<(StatusCode, Json<backoffice::system::workflow::engine::Instance>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let receipt = TABLE.load(&mut tx, &caller, id).await?;
    if receipt.status != "written_off" {
        return Err(ApiError::invalid_state(format!("the receipt is {}, not written off", receipt.status)));
    }
    let region: i64 = sqlx::query_scalar("SELECT region_id FROM contracts WHERE id = $1")
        .bind(receipt.contract_id)
        .fetch_one(&mut *tx)
        .await?;
    let title = format!("反核销 {} {} — {}", receipt.bank_reference, receipt.amount, request.reason.trim());
    let instance = backoffice::kit::approvals::submit(
        &mut tx,
        &caller,
        backoffice::books::approvals::REVERSAL,
        id,
        region,
        &title,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(instance)))
}
