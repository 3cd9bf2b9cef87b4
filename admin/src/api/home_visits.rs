//! Home visits (家访管理): `/api/v1/home-visits` — the request reviewed through the workflow, the
//! dispatch to an agent with the places to visit (the customer's address, the vehicle's resident
//! places), the result with the check-in (flagged when far from every place) and its review. The
//! services are `backoffice::postloan::visits`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::postloan::visits::{self, Visit, VisitDispatch, VisitFilter, VisitRequest, VisitResult, VisitReview};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, request))
        .routes(routes!(get))
        .routes(routes!(dispatch))
        .routes(routes!(register))
        .routes(routes!(review))
}

/// The visits of the caller's region subtree, newest first (`far=true`: the flagged check-ins).
#[utoipa::path(get, path = "/home-visits", tag = "home visits", params(PageParams, VisitFilter),
    responses((status = 200, description = "A page of visits", body = Paged<Visit>)), security(("bearer" = ["postloan.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<VisitFilter>,
) -> Result<Json<Paged<Visit>>, ApiError> {
    Ok(Json(visits::list(&state.pool, &caller, &page, &filter).await?))
}

/// Ask for a home visit (家访申请); reviewed through the workflow (家访审核, `home_visit`).
#[utoipa::path(post, path = "/home-visits", tag = "home visits", request_body = VisitRequest,
    responses((status = 201, description = "Asked for", body = Visit)), security(("bearer" = ["postloan.collect"])))]
async fn request(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<VisitRequest>,
) -> Result<(StatusCode, Json<Visit>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let visit = visits::request(&mut tx, &caller, &body).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(visit)))
}

/// One visit.
#[utoipa::path(get, path = "/home-visits/{id}", tag = "home visits", params(("id" = i64, Path, description = "Visit id")),
    responses((status = 200, description = "The visit", body = Visit)), security(("bearer" = ["postloan.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Visit>, ApiError> {
    Ok(Json(visits::TABLE.load(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// Dispatch an approved visit to an agent of the region (家访派单), with the places to visit.
#[utoipa::path(post, path = "/home-visits/{id}/actions/dispatch", tag = "home visits", request_body = VisitDispatch,
    params(("id" = i64, Path, description = "Visit id")),
    responses((status = 200, description = "Dispatched", body = Visit)), security(("bearer" = ["postloan.collect"])))]
async fn dispatch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<VisitDispatch>,
) -> Result<Json<Visit>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let visit = visits::dispatch(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(visit))
}

/// Register the result (家访登记) with the agent's check-in and photos; far from every place, it is flagged.
#[utoipa::path(post, path = "/home-visits/{id}/actions/register", tag = "home visits", request_body = VisitResult,
    params(("id" = i64, Path, description = "Visit id")),
    responses((status = 200, description = "Registered", body = Visit)), security(("bearer" = ["postloan.collect"])))]
async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<VisitResult>,
) -> Result<Json<Visit>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let visit = visits::register(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(visit))
}

/// Review a registered visit.
#[utoipa::path(post, path = "/home-visits/{id}/actions/review", tag = "home visits", request_body = VisitReview,
    params(("id" = i64, Path, description = "Visit id")),
    responses((status = 200, description = "Reviewed", body = Visit)), security(("bearer" = ["postloan.review"])))]
async fn review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<VisitReview>,
) -> Result<Json<Visit>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let visit = visits::review(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(visit))
}
