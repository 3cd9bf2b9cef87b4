//! `/api/v1/contracts` and `/api/v1/payment-status`: the book of contracts — import, list, detail
//! with the schedule, the early settlement quote, promises to pay, the reconciliation report
//! (勾稽), and the payment status the monitor and collectors read; the services are
//! `backoffice::books::contract`, `import` and `approvals`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::books::approvals::{self, ApprovalRequest};
use backoffice::books::contract::{
    self, Activation, Contract, ContractDetail, ContractFilter, Origination, PaymentStatus, Promise, QuoteDate,
    Reconciliation, Settle, StatusQuery,
};
use backoffice::books::import::{self, ImportRequest, ImportSummary};
use backoffice::books::prepayment::{self, PrepaymentQuery, PrepaymentRequest, PrepaymentView};
use backoffice::kit::day::company_today;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::system::workflow::engine::Instance;
use leasewatch_finance::prepayment::Plan;
use leasewatch_finance::settlement::Quote;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
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
        .routes(routes!(prepayment_quote))
        .routes(routes!(list_prepayments, request_prepayment))
        .routes(routes!(promise))
        .routes(routes!(request_deposit_offset))
        .routes(routes!(reconciliation))
        .routes(routes!(payment_status))
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
    Ok(Json(contract::list(&state.pool, &caller, &page, &filter).await?))
}

/// One contract with its schedule as receivable items.
#[utoipa::path(get, path = "/contracts/{id}", tag = "contracts", params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "The contract", body = ContractDetail)), security(("bearer" = ["contracts.read"])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ContractDetail>, ApiError> {
    Ok(Json(contract::detail(&mut *state.pool.acquire().await?, &caller, id).await?))
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
    let mut tx = state.pool.begin().await?;
    let summary = import::import_book(&mut tx, &state.vault, &caller, &request).await?;
    tx.commit().await?;
    Ok(Json(summary))
}

/// What settling the contract early (提前结清) would cost on a date.
#[utoipa::path(get, path = "/contracts/{id}/settlement-quote", tag = "contracts",
    params(("id" = i64, Path, description = "Contract id"), QuoteDate),
    responses((status = 200, description = "The quote", body = Quote)), security(("bearer" = ["contracts.read"])))]
async fn settlement_quote(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(date): Query<QuoteDate>,
) -> Result<Json<Quote>, ApiError> {
    Ok(Json(
        contract::settlement_quote(
            &mut *state.pool.acquire().await?,
            &caller,
            id,
            &date,
            company_today(state.utc_offset_hours),
        )
        .await?,
    ))
}

/// Settle early with the money the contract holds (credit from the customer's payment, and the
/// deposit): interest and fees not yet due are waived, what is left is refunded, the contract
/// closes and its vehicle is released. 409 when the money held is not enough.
#[utoipa::path(post, path = "/contracts/{id}/actions/settle", tag = "contracts",
    params(("id" = i64, Path, description = "Contract id")), request_body = Settle,
    responses((status = 200, description = "Settled", body = Quote)), security(("bearer" = ["contracts.write"])))]
async fn settle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<Settle>,
) -> Result<Json<Quote>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let quote = contract::settle(&mut tx, &caller, id, &request, company_today(state.utc_offset_hours)).await?;
    tx.commit().await?;
    Ok(Json(quote))
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
    let mut tx = state.pool.begin().await?;
    let contract = contract::promise(&mut tx, &caller, id, &promise, company_today(state.utc_offset_hours)).await?;
    tx.commit().await?;
    Ok(Json(contract))
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
    Ok(Json(contract::reconciliation(&mut *state.pool.acquire().await?, &caller, id).await?))
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
    Ok(Json(contract::payment_status(&state.pool, &caller, &q).await?))
}

/// Ask for the deposit to be offset against what is due (保证金冲抵); it happens when the
/// `deposit_offset` workflow approves it.
#[utoipa::path(post, path = "/contracts/{id}/actions/request-deposit-offset", tag = "contracts",
    params(("id" = i64, Path, description = "Contract id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = ApprovalRequest,
    responses((status = 201, description = "Submitted for approval", body = Instance)),
    security(("bearer" = ["contracts.write"])))]
async fn request_deposit_offset(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<ApprovalRequest>,
) -> Result<(StatusCode, Json<Instance>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let instance = approvals::request_deposit_offset(&mut tx, &caller, id, &request).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(instance)))
}

/// Take over a contract of a book from an earlier system as pending, from its quote under a product
/// version (customer, vehicle in stock, dealer); it is marked imported and activated on the
/// disbursement it reports. New business is born from an application (`/applications`). Send an
/// `Idempotency-Key` so that a retry cannot create it twice.
#[utoipa::path(post, path = "/contracts", tag = "contracts", request_body = Origination,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    responses((status = 201, description = "Created, pending", body = Contract)), security(("bearer" = ["contracts.write"])))]
async fn originate(
    State(state): State<AppState>,
    caller: Caller,
    Json(o): Json<Origination>,
) -> Result<(StatusCode, Json<Contract>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let contract = contract::originate(&mut tx, &caller, &o, contract::Origin::Imported).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(contract)))
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
    let detail = contract::activate(&mut tx, &caller, id, &a).await?;
    tx.commit().await?;
    Ok(Json(detail))
}

/// The plan of a partial prepayment (提前还款): what the customer pays on the day (principal, its
/// interest so far, the fee) and the schedule that replaces the installments left — lower, or fewer.
#[utoipa::path(get, path = "/contracts/{id}/prepayment-quote", tag = "contracts",
    params(("id" = i64, Path, description = "Contract id"), PrepaymentQuery),
    responses((status = 200, description = "The plan", body = Plan)), security(("bearer" = ["contracts.read"])))]
async fn prepayment_quote(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(query): Query<PrepaymentQuery>,
) -> Result<Json<Plan>, ApiError> {
    let today = company_today(state.utc_offset_hours);
    Ok(Json(prepayment::preview(&mut *state.pool.acquire().await?, &caller, id, &query, today).await?))
}

/// The partial prepayments asked for on a contract, newest first.
#[utoipa::path(get, path = "/contracts/{id}/prepayments", tag = "contracts", params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "Its prepayments", body = Vec<PrepaymentView>)), security(("bearer" = ["contracts.read"])))]
async fn list_prepayments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<PrepaymentView>>, ApiError> {
    Ok(Json(prepayment::of_contract(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// Ask for a partial prepayment with its plan; a second person approves it (workflow
/// `partial_prepayment`), and it is carried out then, from the customer's credit.
#[utoipa::path(post, path = "/contracts/{id}/prepayments", tag = "contracts", request_body = PrepaymentRequest,
    params(("id" = i64, Path, description = "Contract id")),
    responses((status = 201, description = "Asked for", body = PrepaymentView)), security(("bearer" = ["contracts.write"])))]
async fn request_prepayment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<PrepaymentRequest>,
) -> Result<(axum::http::StatusCode, Json<PrepaymentView>), ApiError> {
    let today = company_today(state.utc_offset_hours);
    let mut tx = state.pool.begin().await?;
    let view = prepayment::request(&mut tx, &caller, id, &request, today).await?;
    tx.commit().await?;
    Ok((axum::http::StatusCode::CREATED, Json(view)))
}
