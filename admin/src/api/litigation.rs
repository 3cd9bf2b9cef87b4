//! Litigation (诉讼管理): `/api/v1/litigation-cases` — the application through the workflow, the
//! court's case registered, its stages, its fees (charged once approved), what it recovered, and the
//! closing review. The services are `backoffice::postloan::litigation`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::postloan::charges::{self, Charge};
use backoffice::postloan::litigation::{
    self, Application, Case, CaseFilter, Closing, FeeApplication, Recovered, Registration, StageReached,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, apply))
        .routes(routes!(get))
        .routes(routes!(register))
        .routes(routes!(reach))
        .routes(routes!(case_fees, apply_fee))
        .routes(routes!(recovered))
        .routes(routes!(request_closing))
}

/// The cases of the caller's region subtree, newest first.
#[utoipa::path(get, path = "/litigation-cases", tag = "litigation", params(PageParams, CaseFilter),
    responses((status = 200, description = "A page of cases", body = Paged<Case>)), security(("bearer" = ["postloan.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<CaseFilter>,
) -> Result<Json<Paged<Case>>, ApiError> {
    Ok(Json(litigation::list(&state.pool, &caller, &page, &filter).await?))
}

/// Apply to sue on a contract (诉讼申请); a second person approves it (workflow `litigation_application`).
#[utoipa::path(post, path = "/litigation-cases", tag = "litigation", request_body = Application,
    responses((status = 201, description = "Applied for", body = Case)), security(("bearer" = ["postloan.collect"])))]
async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Application>,
) -> Result<(StatusCode, Json<Case>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let case = litigation::apply(&mut tx, &caller, &body).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(case)))
}

/// One case.
#[utoipa::path(get, path = "/litigation-cases/{id}", tag = "litigation", params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, description = "The case", body = Case)), security(("bearer" = ["postloan.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Case>, ApiError> {
    Ok(Json(litigation::TABLE.load(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// Register the court's case once the application is approved (诉讼登记): court, case number, lawyer, claim.
#[utoipa::path(post, path = "/litigation-cases/{id}/actions/register", tag = "litigation", request_body = Registration,
    params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, description = "Registered", body = Case)), security(("bearer" = ["postloan.collect"])))]
async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Registration>,
) -> Result<Json<Case>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let case = litigation::register(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(case))
}

/// Move the case on to a later stage (filed, hearing, judgment, enforcement), dated.
#[utoipa::path(post, path = "/litigation-cases/{id}/actions/stage", tag = "litigation", request_body = StageReached,
    params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, description = "Moved on", body = Case)), security(("bearer" = ["postloan.collect"])))]
async fn reach(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<StageReached>,
) -> Result<Json<Case>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let case = litigation::reach(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(case))
}

/// Add what the case recovered (the money itself is a receipt of the contract).
#[utoipa::path(post, path = "/litigation-cases/{id}/actions/recovered", tag = "litigation", request_body = Recovered,
    params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, description = "Added", body = Case)), security(("bearer" = ["postloan.collect"])))]
async fn recovered(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Recovered>,
) -> Result<Json<Case>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let case = litigation::add_recovered(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(case))
}

/// Ask to close the case (诉讼结案审核); it closes when the review approves (workflow `litigation_closing`).
#[utoipa::path(post, path = "/litigation-cases/{id}/actions/request-closing", tag = "litigation", request_body = Closing,
    params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, description = "Waiting for the review", body = Case)), security(("bearer" = ["postloan.collect"])))]
async fn request_closing(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Closing>,
) -> Result<Json<Case>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let case = litigation::request_closing(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(case))
}

/// The fees asked for on a case (诉讼费用).
#[utoipa::path(get, path = "/litigation-cases/{id}/fees", tag = "litigation", params(("id" = i64, Path, description = "Case id")),
    responses((status = 200, description = "Its fees", body = Vec<Charge>)), security(("bearer" = ["postloan.read"])))]
async fn case_fees(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Charge>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    litigation::TABLE.load(&mut conn, &caller, id).await?;
    Ok(Json(charges::of_source(&mut conn, "litigation_case", id).await?))
}

/// Ask for a litigation fee (诉讼费用申请); charged to the contract once approved (workflow `postloan_charge`).
#[utoipa::path(post, path = "/litigation-cases/{id}/fees", tag = "litigation", request_body = FeeApplication,
    params(("id" = i64, Path, description = "Case id")),
    responses((status = 201, description = "Asked for", body = Charge)), security(("bearer" = ["postloan.collect"])))]
async fn apply_fee(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<FeeApplication>,
) -> Result<(StatusCode, Json<Charge>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let charge = litigation::apply_fee(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(charge)))
}
