//! `/api/v1/receipts` and `/api/v1/receiving-accounts`: money received — registered by hand or
//! imported from bank statements — claimed (认领) to contracts and written off (核销); the
//! services are `backoffice::books::receipts` and `approvals`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::books::approvals::{self, ApprovalRequest};
use backoffice::books::receipts::{
    self, ClaimRequest, NewReceipt, Receipt, ReceiptFilter, ReceivingAccount, StatementRequest, StatementSummary,
};
use backoffice::kit::list::{PageParams, Paged};
use backoffice::system::workflow::engine::Instance;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
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

/// List receipts: unclaimed ones, and those of contracts in the caller's region subtree.
#[utoipa::path(get, path = "/receipts", tag = "receipts", params(PageParams, ReceiptFilter),
    responses((status = 200, description = "A page of receipts", body = Paged<Receipt>)), security(("bearer" = ["receipts.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<ReceiptFilter>,
) -> Result<Json<Paged<Receipt>>, ApiError> {
    Ok(Json(receipts::list(&state.pool, &caller, &page, &filter).await?))
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
    let mut tx = state.pool.begin().await?;
    let summary = receipts::register(&mut tx, &caller, new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(summary)))
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
    let mut tx = state.pool.begin().await?;
    let summary = receipts::import(&mut tx, &caller, &request).await?;
    tx.commit().await?;
    Ok(Json(summary))
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
    let receipt = receipts::claim(&mut tx, &caller, id, &request).await?;
    tx.commit().await?;
    Ok(Json(receipt))
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
    let receipt = receipts::write_off(&mut tx, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(receipt))
}

/// The receiving accounts.
#[utoipa::path(get, path = "/receiving-accounts", tag = "receipts",
    responses((status = 200, description = "The accounts", body = Vec<ReceivingAccount>)), security(("bearer" = ["receipts.read"])))]
async fn accounts(State(state): State<AppState>) -> Result<Json<Vec<ReceivingAccount>>, ApiError> {
    Ok(Json(receipts::accounts(&state.pool).await?))
}

/// Add a receiving account.
#[utoipa::path(post, path = "/receiving-accounts", tag = "receipts", request_body = ReceivingAccount,
    responses((status = 201, description = "Added", body = ReceivingAccount)), security(("bearer" = ["receipts.write"])))]
async fn add_account(
    State(state): State<AppState>,
    caller: Caller,
    Json(account): Json<ReceivingAccount>,
) -> Result<(StatusCode, Json<ReceivingAccount>), ApiError> {
    let mut tx = state.pool.begin().await?;
    receipts::add_account(&mut tx, &caller, &account).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Ask for a write-off to be reversed (反核销); it happens when the `receipt_reversal` workflow
/// approves it, and the receipt returns to unclaimed.
#[utoipa::path(post, path = "/receipts/{id}/actions/request-reversal", tag = "receipts",
    params(("id" = i64, Path, description = "Receipt id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = ApprovalRequest,
    responses((status = 201, description = "Submitted for approval", body = Instance)),
    security(("bearer" = ["receipts.write"])))]
async fn request_reversal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<ApprovalRequest>,
) -> Result<(StatusCode, Json<Instance>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let instance = approvals::request_reversal(&mut tx, &caller, id, &request).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(instance)))
}
