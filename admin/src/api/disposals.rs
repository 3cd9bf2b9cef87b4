//! Disposal (车辆处置): `/api/v1/disposals` — the recovered vehicles held in yards, the communication
//! log with the customer, valuation dispatch and review (车辆评估派单/审核), the sale through approval
//! (workflow `vehicle_sale`) and its proceeds, the shortfall written off through approval (workflow
//! `loss_write_off`) or pursued, redemption; and `/api/v1/contracts/{id}/charges`, the post-loan
//! charges asked for on a contract. The services are `backoffice::postloan::disposal`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::books::contract;
use backoffice::kit::day::company_today;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::postloan::charges::{self, Charge};
use backoffice::postloan::disposal::record::{self, Disposal, DisposalFilter, NewNote, Note, Valuation};
use backoffice::postloan::disposal::sale::{self, SaleRequest};
use backoffice::postloan::disposal::shortfall::{self, ShortfallDecision};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_disposals))
        .routes(routes!(get_disposal))
        .routes(routes!(list_notes, add_note))
        .routes(routes!(dispatch_valuation))
        .routes(routes!(submit_valuation))
        .routes(routes!(review_valuation))
        .routes(routes!(request_sale))
        .routes(routes!(request_write_off))
        .routes(routes!(pursue))
        .routes(routes!(redeem))
        .routes(routes!(contract_charges))
}

/// The disposals of the caller's region subtree, newest first.
#[utoipa::path(get, path = "/disposals", tag = "disposal", params(PageParams, DisposalFilter),
    responses((status = 200, description = "A page of disposals", body = Paged<Disposal>)), security(("bearer" = ["postloan.read"])))]
async fn list_disposals(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<DisposalFilter>,
) -> Result<Json<Paged<Disposal>>, ApiError> {
    Ok(Json(record::list(&state.pool, &caller, &page, &filter).await?))
}

/// One disposal, with how its proceeds went once sold.
#[utoipa::path(get, path = "/disposals/{id}", tag = "disposal", params(("id" = i64, Path, description = "Disposal id")),
    responses((status = 200, description = "The disposal", body = Disposal)), security(("bearer" = ["postloan.read"])))]
async fn get_disposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Disposal>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(record::TABLE.load(&mut conn, &caller, id).await?))
}

/// The communication log with the customer, newest first.
#[utoipa::path(get, path = "/disposals/{id}/notes", tag = "disposal", params(("id" = i64, Path, description = "Disposal id")),
    responses((status = 200, description = "Its notes", body = Vec<Note>)), security(("bearer" = ["postloan.read"])))]
async fn list_notes(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Note>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(record::notes(&mut conn, &caller, id).await?))
}

/// Log what was said with the customer: redeem, settle or sell.
#[utoipa::path(post, path = "/disposals/{id}/notes", tag = "disposal", request_body = NewNote,
    params(("id" = i64, Path, description = "Disposal id")),
    responses((status = 201, description = "Logged", body = Note)), security(("bearer" = ["postloan.dispose"])))]
async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(new): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let note = record::add_note(&mut tx, &caller, id, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// Send the vehicle to an appraiser (车辆评估派单): `appraiser`.
#[utoipa::path(post, path = "/disposals/{id}/actions/dispatch-valuation", tag = "disposal", request_body = Valuation,
    params(("id" = i64, Path, description = "Disposal id")),
    responses((status = 200, description = "Sent", body = Disposal)), security(("bearer" = ["postloan.dispose"])))]
async fn dispatch_valuation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Valuation>,
) -> Result<Json<Disposal>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let disposal = record::dispatch_valuation(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(disposal))
}

/// Enter the appraiser's value: `amount`, `note`.
#[utoipa::path(post, path = "/disposals/{id}/actions/submit-valuation", tag = "disposal", request_body = Valuation,
    params(("id" = i64, Path, description = "Disposal id")),
    responses((status = 200, description = "Entered", body = Disposal)), security(("bearer" = ["postloan.dispose"])))]
async fn submit_valuation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Valuation>,
) -> Result<Json<Disposal>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let disposal = record::submit_valuation(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(disposal))
}

/// Review a valuation someone else entered (车辆评估审核): `approve`, `note`.
#[utoipa::path(post, path = "/disposals/{id}/actions/review-valuation", tag = "disposal", request_body = Valuation,
    params(("id" = i64, Path, description = "Disposal id")),
    responses((status = 200, description = "Reviewed", body = Disposal)), security(("bearer" = ["postloan.review"])))]
async fn review_valuation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Valuation>,
) -> Result<Json<Disposal>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let disposal = record::review_valuation(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(disposal))
}

/// Ask approval to sell the vehicle (auction or dealer buy-back), not below the approved valuation;
/// once approved the proceeds pay costs, fees, arrears and principal, the rest is refunded.
#[utoipa::path(post, path = "/disposals/{id}/actions/request-sale", tag = "disposal", request_body = SaleRequest,
    params(("id" = i64, Path, description = "Disposal id")),
    responses((status = 200, description = "Waiting for approval", body = Disposal)), security(("bearer" = ["postloan.dispose"])))]
async fn request_sale(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<SaleRequest>,
) -> Result<Json<Disposal>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let disposal = sale::request(&mut tx, &caller, id, &body, company_today(state.utc_offset_hours)).await?;
    tx.commit().await?;
    Ok(Json(disposal))
}

/// Ask approval to write off what the sale left owing; approved, the contract closes.
#[utoipa::path(post, path = "/disposals/{id}/actions/request-write-off", tag = "disposal", request_body = ShortfallDecision,
    params(("id" = i64, Path, description = "Disposal id")),
    responses((status = 200, description = "Waiting for approval", body = Disposal)), security(("bearer" = ["postloan.dispose"])))]
async fn request_write_off(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<ShortfallDecision>,
) -> Result<Json<Disposal>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let disposal = shortfall::request_write_off(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(disposal))
}

/// Keep pursuing what the sale left owing: the contract stays open with it.
#[utoipa::path(post, path = "/disposals/{id}/actions/pursue-shortfall", tag = "disposal", request_body = ShortfallDecision,
    params(("id" = i64, Path, description = "Disposal id")),
    responses((status = 200, description = "Pursued", body = Disposal)), security(("bearer" = ["postloan.dispose"])))]
async fn pursue(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<ShortfallDecision>,
) -> Result<Json<Disposal>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let disposal = shortfall::pursue(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(disposal))
}

/// The version read, for an action that needs nothing else.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Versioned {
    /// The version that was read.
    version: i32,
}

/// Give the vehicle back to a customer who paid the arrears (赎车); its storage is charged.
#[utoipa::path(post, path = "/disposals/{id}/actions/redeem", tag = "disposal", request_body = Versioned,
    params(("id" = i64, Path, description = "Disposal id")),
    responses((status = 200, description = "Given back", body = Disposal)), security(("bearer" = ["postloan.dispose"])))]
async fn redeem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Versioned>,
) -> Result<Json<Disposal>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let disposal = record::redeem(&mut tx, &caller, id, body.version).await?;
    tx.commit().await?;
    Ok(Json(disposal))
}

/// The post-loan charges asked for on a contract (repossession, storage, litigation...), newest first.
#[utoipa::path(get, path = "/contracts/{id}/charges", tag = "disposal", params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "Its charges", body = Vec<Charge>)), security(("bearer" = ["postloan.read"])))]
async fn contract_charges(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Charge>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    contract::TABLE.load(&mut conn, &caller, id).await?;
    Ok(Json(charges::of_contract(&mut conn, id).await?))
}
