//! `/api/v1/applications/{id}/…` from approval to archive: the contract generated, the guarantee
//! insurance (人保投保: pre-approval, policy), the contract written and sent for signature, the lien,
//! the pre-disbursement checks (贷前审核) and the disbursement request (放款), the schedule
//! (还款计划表查询), then the documents after disbursement (贷后审核) and the archive (贷后归档).
//! The services are `backoffice::origination::{disbursement, guarantee, signing, lien,
//! after_disbursement}`.

use axum::extract::State;
use axum::response::Response;
use backoffice::kit::day::company_today;
use backoffice::origination::application::Version;
use backoffice::origination::application::{self, Application};
use backoffice::origination::disbursement::{self, Check};
use backoffice::origination::lien::{self, NewLien};
use backoffice::origination::{after_disbursement, guarantee, signing};
use backoffice::system::attachments;
use leasewatch_finance::schedule::{Quote, Terms, schedule};
use sqlx::types::Json as SqlJson;

use crate::download::attachment;
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::guard::Caller;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(make_contract))
        .routes(routes!(pre_approve_guarantee))
        .routes(routes!(apply_policy))
        .routes(routes!(send_for_signature))
        .routes(routes!(contract_document))
        .routes(routes!(record_lien))
        .routes(routes!(pre_disbursement_checks))
        .routes(routes!(request_disbursement))
        .routes(routes!(repayment_schedule))
        .routes(routes!(complete_documents))
        .routes(routes!(archive))
}

/// Generate the contract of an approved application: its customer and vehicle found or
/// registered, a pending contract originated on the product version quoted.
#[utoipa::path(post, path = "/applications/{id}/actions/make-contract", tag = "applications", request_body = Version,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Contracted", body = Application)),
    security(("bearer" = ["contracts.write"])))]
async fn make_contract(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Version>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let made = disbursement::make_contract(&mut tx, &state.vault, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(made))
}

/// Submit the approved application to the guarantee insurer for pre-approval (预审批提交); the
/// insurer answers later (the application's `guarantee` shows it). Again after a decline.
#[utoipa::path(post, path = "/applications/{id}/actions/pre-approve-guarantee", tag = "applications", request_body = Version,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Asked", body = Application),
        (status = 409, description = "No insurer configured, or the guarantee already asked for")),
    security(("bearer" = ["contracts.write"])))]
async fn pre_approve_guarantee(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Version>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let asked = guarantee::pre_approve(&mut tx, &state.vault, &state.partners, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(asked))
}

/// Apply for the guarantee policy (投保) once pre-approved; the insurer answers with the policy.
#[utoipa::path(post, path = "/applications/{id}/actions/apply-policy", tag = "applications", request_body = Version,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Applied for", body = Application)),
    security(("bearer" = ["contracts.write"])))]
async fn apply_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Version>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let asked = guarantee::apply(&mut tx, &state.vault, &state.partners, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(asked))
}

/// Write the contract on its template (per lease type and product) with the schedule attached, as
/// PDF, and send it to the lessee for electronic signature; the service answers later.
#[utoipa::path(post, path = "/applications/{id}/actions/send-for-signature", tag = "applications", request_body = Version,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Sent", body = Application)),
    security(("bearer" = ["contracts.write"])))]
async fn send_for_signature(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Version>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let sent = signing::send(&mut tx, &state.vault, &state.partners, &state.letter_font, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(sent))
}

/// The contract as sent for signature, a PDF.
#[utoipa::path(get, path = "/applications/{id}/contract-document", tag = "applications",
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "The contract", content_type = "application/pdf"),
        (status = 404, description = "Not written yet")),
    security(("bearer" = ["applications.read"])))]
async fn contract_document(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let mut db = state.pool.acquire().await?;
    let found = application::get(&mut db, &state.vault, &caller, id).await?;
    let signature = found.signature.ok_or(backoffice::Error::NotFound("contract document"))?;
    let (content_type, bytes) = attachments::fetch(&mut db, &signature.document).await?;
    Ok(attachment(&content_type, &format!("合同-{}.pdf", found.number), bytes))
}

/// Record the lien on the vehicle (抵押登记), before disbursement.
#[utoipa::path(put, path = "/applications/{id}/lien", tag = "applications", request_body = NewLien,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Recorded", body = Application)),
    security(("bearer" = ["contracts.write"])))]
async fn record_lien(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<NewLien>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let today = company_today(state.utc_offset_hours);
    let recorded = lien::record(&mut tx, &state.vault, &caller, id, &body, today).await?;
    tx.commit().await?;
    Ok(Json(recorded))
}

/// The pre-disbursement checks (贷前审核) and how each stands: contract, signature, guarantee, lien,
/// GPS.
#[utoipa::path(get, path = "/applications/{id}/pre-disbursement-checks", tag = "applications",
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "The checks", body = Vec<Check>)),
    security(("bearer" = ["applications.read"])))]
async fn pre_disbursement_checks(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Check>>, ApiError> {
    Ok(Json(disbursement::checks(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// Ask for the disbursement (放款) once every check holds; finance approves it (workflow
/// `disbursement`) and the contract becomes active.
#[utoipa::path(post, path = "/applications/{id}/actions/request-disbursement", tag = "applications", request_body = Version,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Waiting for approval", body = Application),
        (status = 409, description = "A check does not hold")),
    security(("bearer" = ["contracts.write"])))]
async fn request_disbursement(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Version>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let asked = disbursement::request(&mut tx, &state.vault, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(asked))
}

/// The repayment schedule of the application's contract (还款计划表查询): dated from the day the
/// money went out once disbursed, from the day the contract was generated before.
#[utoipa::path(get, path = "/applications/{id}/schedule", tag = "applications",
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "The schedule", body = Quote), (status = 404, description = "No contract yet")),
    security(("bearer" = ["applications.read"])))]
async fn repayment_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Quote>, ApiError> {
    let mut db = state.pool.acquire().await?;
    let found = application::get(&mut db, &state.vault, &caller, id).await?;
    let terms: Option<SqlJson<Terms>> = sqlx::query_scalar("SELECT terms FROM contracts WHERE id = $1")
        .bind(found.contract_id)
        .fetch_optional(&mut *db)
        .await?;
    let terms = terms.ok_or(backoffice::Error::NotFound("contract"))?.0;
    let quote = schedule(&terms).map_err(|e| backoffice::Error::Internal(format!("stored terms: {e}")))?;
    Ok(Json(quote))
}

/// Check the documents due after disbursement complete (贷后审核): registration certificate,
/// invoice and the vehicle's insurance filed.
#[utoipa::path(post, path = "/applications/{id}/actions/complete-documents", tag = "applications", request_body = Version,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Complete", body = Application),
        (status = 422, description = "Documents still due, named")),
    security(("bearer" = ["contracts.write"])))]
async fn complete_documents(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Version>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let done = after_disbursement::complete_documents(&mut tx, &state.vault, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(done))
}

/// Archive the application with its guarantee policy (贷后归档), once its documents are complete.
#[utoipa::path(post, path = "/applications/{id}/actions/archive", tag = "applications", request_body = Version,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Archived", body = Application)),
    security(("bearer" = ["contracts.write"])))]
async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Version>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let done = after_disbursement::archive(&mut tx, &state.vault, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(done))
}
