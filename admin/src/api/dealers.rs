//! `/api/v1/dealers`: the dealers (经销商) that bring contracts — add, view, list, update, suspend,
//! reinstate and blacklist with a reason; the service is `backoffice::dealers::dealer`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::dealers::dealer::{self, Dealer, DealerFilter, DealerUpdate, NewDealer, StatusRequest};
use backoffice::dealers::status::Change;
use backoffice::kit::list::{PageParams, Paged};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update))
        .routes(routes!(suspend))
        .routes(routes!(reinstate))
        .routes(routes!(blacklist))
}

/// List the dealers of the caller's region subtree.
#[utoipa::path(get, path = "/dealers", tag = "dealers", params(PageParams, DealerFilter),
    responses((status = 200, description = "A page of dealers", body = Paged<Dealer>)), security(("bearer" = ["dealers.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<DealerFilter>,
) -> Result<Json<Paged<Dealer>>, ApiError> {
    Ok(Json(dealer::list(&state.pool, &caller, &page, &filter).await?))
}

/// Add a dealer.
#[utoipa::path(post, path = "/dealers", tag = "dealers", request_body = NewDealer,
    responses((status = 201, description = "Added", body = Dealer)), security(("bearer" = ["dealers.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewDealer>,
) -> Result<(StatusCode, Json<Dealer>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let dealer = dealer::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(dealer)))
}

/// One dealer.
#[utoipa::path(get, path = "/dealers/{id}", tag = "dealers", params(("id" = i64, Path, description = "Dealer id")),
    responses((status = 200, description = "The dealer", body = Dealer)), security(("bearer" = ["dealers.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Dealer>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(dealer::get(&mut conn, &caller, id).await?))
}

/// Change a dealer's particulars (with the version that was read).
#[utoipa::path(patch, path = "/dealers/{id}", tag = "dealers", request_body = DealerUpdate,
    params(("id" = i64, Path, description = "Dealer id")),
    responses((status = 200, description = "Updated", body = Dealer)), security(("bearer" = ["dealers.write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(changes): Json<DealerUpdate>,
) -> Result<Json<Dealer>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let dealer = dealer::update(&mut tx, &caller, id, &changes).await?;
    tx.commit().await?;
    Ok(Json(dealer))
}

async fn change(
    state: &AppState,
    caller: &Caller,
    id: i64,
    change: Change,
    request: &StatusRequest,
) -> Result<Json<Dealer>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let dealer = dealer::change_status(&mut tx, caller, id, change, request).await?;
    tx.commit().await?;
    Ok(Json(dealer))
}

/// Suspend a dealer: no new business until reinstated.
#[utoipa::path(post, path = "/dealers/{id}/actions/suspend", tag = "dealers", request_body = StatusRequest,
    params(("id" = i64, Path, description = "Dealer id")),
    responses((status = 200, description = "Suspended", body = Dealer)), security(("bearer" = ["dealers.manage"])))]
async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<StatusRequest>,
) -> Result<Json<Dealer>, ApiError> {
    change(&state, &caller, id, Change::Suspend, &request).await
}

/// Reinstate a suspended dealer; for a blacklisted one, request the `dealer_reinstatement`
/// approval (the dealer stays blacklisted until it is approved).
#[utoipa::path(post, path = "/dealers/{id}/actions/reinstate", tag = "dealers", request_body = StatusRequest,
    params(("id" = i64, Path, description = "Dealer id")),
    responses((status = 200, description = "Reinstated, or submitted for approval", body = Dealer)),
    security(("bearer" = ["dealers.manage"])))]
async fn reinstate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<StatusRequest>,
) -> Result<Json<Dealer>, ApiError> {
    change(&state, &caller, id, Change::Reinstate, &request).await
}

/// Blacklist a dealer: no new business; lifting it needs approval.
#[utoipa::path(post, path = "/dealers/{id}/actions/blacklist", tag = "dealers", request_body = StatusRequest,
    params(("id" = i64, Path, description = "Dealer id")),
    responses((status = 200, description = "Blacklisted", body = Dealer)), security(("bearer" = ["dealers.manage"])))]
async fn blacklist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<StatusRequest>,
) -> Result<Json<Dealer>, ApiError> {
    change(&state, &caller, id, Change::Blacklist, &request).await
}
