//! Repossession (现场收车): `/api/v1/repossession-companies` (收车公司维护), `/api/v1/repossession-orders`
//! from the monitor's proposals or by hand — dispatch, recovery registration (收车登记), review
//! (收车审核), the company's fee (收车费用申请/查询) — the agent's live-location links, and the public
//! `/api/v1/track/{token}` those links read; `/api/v1/attachments` keeps the photos. The services
//! are `backoffice::postloan::repossession`.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use backoffice::kit::list::{PageParams, Paged};
use backoffice::postloan::charges::{self, Charge};
use backoffice::postloan::repossession::companies::{self, Company, CompanyFilter, CompanyUpdate, NewCompany};
use backoffice::postloan::repossession::links::{self, Link, LinkRequest, NewLink, Whereabouts};
use backoffice::postloan::repossession::orders::{
    self, Cancel, Dispatch, FeeRequest, NewOrder, Order, OrderFilter, Recovery, Review,
};
use backoffice::system::attachments::{self, MAX_BYTES, Stored};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_companies, create_company))
        .routes(routes!(get_company, update_company))
        .routes(routes!(list_orders, create_order))
        .routes(routes!(get_order))
        .routes(routes!(dispatch))
        .routes(routes!(register_recovery))
        .routes(routes!(review))
        .routes(routes!(cancel))
        .routes(routes!(request_fee))
        .routes(routes!(order_charges))
        .routes(routes!(list_links, create_link))
        .routes(routes!(revoke_link))
        .routes(routes!(track))
        .routes(routes!(fetch_attachment))
        // Photos up to the limit reach the check, which says what is wrong beside the field.
        .merge(OpenApiRouter::new().routes(routes!(upload)).layer(DefaultBodyLimit::max(MAX_BYTES + 1024 * 1024)))
}

/// The repossession companies of the caller's region subtree, with their performance.
#[utoipa::path(get, path = "/repossession-companies", tag = "repossession", params(PageParams, CompanyFilter),
    responses((status = 200, description = "A page of companies", body = Paged<Company>)), security(("bearer" = ["postloan.read"])))]
async fn list_companies(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<CompanyFilter>,
) -> Result<Json<Paged<Company>>, ApiError> {
    Ok(Json(companies::list(&state.pool, &caller, &page, &filter).await?))
}

/// Add a repossession company with its fee schedule.
#[utoipa::path(post, path = "/repossession-companies", tag = "repossession", request_body = NewCompany,
    responses((status = 201, description = "Added", body = Company)), security(("bearer" = ["postloan.repossess"])))]
async fn create_company(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewCompany>,
) -> Result<(StatusCode, Json<Company>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let company = companies::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(company)))
}

/// One repossession company.
#[utoipa::path(get, path = "/repossession-companies/{id}", tag = "repossession", params(("id" = i64, Path, description = "Company id")),
    responses((status = 200, description = "The company", body = Company)), security(("bearer" = ["postloan.read"])))]
async fn get_company(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Company>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(companies::TABLE.load(&mut conn, &caller, id).await?))
}

/// Change a company's contacts, regions, schedule or whether it takes orders.
#[utoipa::path(patch, path = "/repossession-companies/{id}", tag = "repossession", request_body = CompanyUpdate,
    params(("id" = i64, Path, description = "Company id")),
    responses((status = 200, description = "Changed", body = Company)), security(("bearer" = ["postloan.repossess"])))]
async fn update_company(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(changes): Json<CompanyUpdate>,
) -> Result<Json<Company>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let company = companies::update(&mut tx, &caller, id, &changes).await?;
    tx.commit().await?;
    Ok(Json(company))
}

/// The repossession orders of the caller's region subtree, newest first.
#[utoipa::path(get, path = "/repossession-orders", tag = "repossession", params(PageParams, OrderFilter),
    responses((status = 200, description = "A page of orders", body = Paged<Order>)), security(("bearer" = ["postloan.read"])))]
async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<OrderFilter>,
) -> Result<Json<Paged<Order>>, ApiError> {
    Ok(Json(orders::list(&state.pool, &caller, &page, &filter).await?))
}

/// Open an order from the monitor's proposal (`task_id`) or by hand (`contract_id`), with the last
/// fix, the likely parking place and its hours.
#[utoipa::path(post, path = "/repossession-orders", tag = "repossession", request_body = NewOrder,
    responses((status = 201, description = "Opened", body = Order)), security(("bearer" = ["postloan.repossess"])))]
async fn create_order(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let order = orders::create(&mut tx, &caller, &new, state.utc_offset_hours).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(order)))
}

/// One order.
#[utoipa::path(get, path = "/repossession-orders/{id}", tag = "repossession", params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "The order", body = Order)), security(("bearer" = ["postloan.read"])))]
async fn get_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Order>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(orders::TABLE.load(&mut conn, &caller, id).await?))
}

/// Dispatch an order to a company serving its region (派单), naming the agent.
#[utoipa::path(post, path = "/repossession-orders/{id}/actions/dispatch", tag = "repossession", request_body = Dispatch,
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "Dispatched", body = Order)), security(("bearer" = ["postloan.repossess"])))]
async fn dispatch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Dispatch>,
) -> Result<Json<Order>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let order = orders::dispatch(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(order))
}

/// Register the recovery (收车登记): when, where, mileage, condition, keys, belongings, yard, photos.
#[utoipa::path(post, path = "/repossession-orders/{id}/actions/register-recovery", tag = "repossession", request_body = Recovery,
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "Registered", body = Order)), security(("bearer" = ["postloan.repossess"])))]
async fn register_recovery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Recovery>,
) -> Result<Json<Order>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let order = orders::register_recovery(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(order))
}

/// Review a recovery someone else registered (收车审核): accepted, the vehicle goes into disposal.
#[utoipa::path(post, path = "/repossession-orders/{id}/actions/review", tag = "repossession", request_body = Review,
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "Reviewed", body = Order)), security(("bearer" = ["postloan.review"])))]
async fn review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Review>,
) -> Result<Json<Order>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let order = orders::review(&mut tx, &caller, id, &body, state.utc_offset_hours).await?;
    tx.commit().await?;
    Ok(Json(order))
}

/// Cancel an order not yet recovered; its links die.
#[utoipa::path(post, path = "/repossession-orders/{id}/actions/cancel", tag = "repossession", request_body = Cancel,
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "Cancelled", body = Order)), security(("bearer" = ["postloan.repossess"])))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Cancel>,
) -> Result<Json<Order>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let order = orders::cancel(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(order))
}

/// Ask for the company's fee (收车费用申请), priced from its schedule; above it needs a reason, and every
/// fee waits for approval (workflow `postloan_charge`) before it is charged to the contract.
#[utoipa::path(post, path = "/repossession-orders/{id}/actions/request-fee", tag = "repossession", request_body = FeeRequest,
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 201, description = "Asked for", body = Charge)), security(("bearer" = ["postloan.repossess"])))]
async fn request_fee(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<FeeRequest>,
) -> Result<(StatusCode, Json<Charge>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let charge = orders::request_fee(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(charge)))
}

/// The fees asked for on an order (收车费用查询).
#[utoipa::path(get, path = "/repossession-orders/{id}/charges", tag = "repossession", params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "Its fees", body = Vec<Charge>)), security(("bearer" = ["postloan.read"])))]
async fn order_charges(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Charge>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    orders::TABLE.load(&mut conn, &caller, id).await?;
    Ok(Json(charges::of_source(&mut conn, "repossession_order", id).await?))
}

/// The agent's live-location links of an order.
#[utoipa::path(get, path = "/repossession-orders/{id}/links", tag = "repossession", params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "Its links, without tokens", body = Vec<Link>)), security(("bearer" = ["postloan.read"])))]
async fn list_links(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Link>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(links::of_order(&mut conn, &caller, id).await?))
}

/// Make a live-location link for the dispatched order's agent: it shows only this vehicle and dies
/// when the order closes, when revoked, or after `hours`. The path is shown this once.
#[utoipa::path(post, path = "/repossession-orders/{id}/links", tag = "repossession", request_body = LinkRequest,
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 201, description = "Made", body = NewLink)), security(("bearer" = ["postloan.repossess"])))]
async fn create_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<LinkRequest>,
) -> Result<(StatusCode, Json<NewLink>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let link = links::create(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// Revoke a live-location link at once.
#[utoipa::path(post, path = "/repossession-orders/{id}/links/{link_id}/actions/revoke", tag = "repossession",
    params(("id" = i64, Path, description = "Order id"), ("link_id" = i64, Path, description = "Link id")),
    responses((status = 200, description = "Revoked", body = Link)), security(("bearer" = ["postloan.repossess"])))]
async fn revoke_link(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, link_id)): Path<(i64, i64)>,
) -> Result<Json<Link>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let link = links::revoke(&mut tx, &caller, id, link_id).await?;
    tx.commit().await?;
    Ok(Json(link))
}

/// Where the vehicle of a live link is now (no account: the token is the key); 404 once the link
/// is dead.
#[utoipa::path(get, path = "/track/{token}", tag = "repossession", params(("token" = String, Path, description = "The link's token")),
    responses((status = 200, description = "The vehicle now", body = Whereabouts), (status = 404, description = "No live link")),
    security(()))]
async fn track(State(state): State<AppState>, Path(token): Path<String>) -> Result<Json<Whereabouts>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(links::whereabouts(&mut conn, &token).await?))
}

/// Upload a photo (the raw bytes, `Content-Type` image/jpeg, image/png or image/webp, at most
/// 5 MiB); the same content uploaded again is the same attachment. Refer to it by its `sha256`.
#[utoipa::path(post, path = "/attachments", tag = "repossession", request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, description = "Stored", body = Stored)), security(("bearer" = [])))]
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Stored>), ApiError> {
    let declared = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let mut tx = state.pool.begin().await?;
    let stored = attachments::store(&mut tx, &caller, &body, declared).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// An uploaded photo.
#[utoipa::path(get, path = "/attachments/{sha256}", tag = "repossession", params(("sha256" = String, Path, description = "Its SHA-256, hex")),
    responses((status = 200, description = "The bytes")), security(("bearer" = [])))]
async fn fetch_attachment(
    State(state): State<AppState>,
    _caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let (content_type, bytes) = attachments::fetch(&mut conn, &sha256).await?;
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "private, max-age=86400".to_owned())], bytes)
        .into_response())
}
