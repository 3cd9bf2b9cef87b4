//! Post-loan (贷后管理): `/api/v1/overdue-contracts`, the overdue customers query (逾期客户查询);
//! `/api/v1/contracts/{id}/contacts`, the collection contacts (电话催收登记) under the contact rules;
//! `/api/v1/contracts/{id}/fees`, the customer's fees (客户费用查询); the distribution of the overdue
//! book to collectors (分案: run, claim, assign); and
//! `/api/v1/collection-codes` and `/api/v1/collection-groups`, the parameters (贷后参数配置) — collection
//! states and categories, collection groups with their buckets, regions and members; the services
//! are `backoffice::postloan`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::books::contract;
use backoffice::kit::day::company_today;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::postloan::codes::{self, CodeFilter, CodeUpdate, CollectionCode, NewCode};
use backoffice::postloan::contacts::{self, Contact, NewContact};
use backoffice::postloan::distribution::{self, Assign, Assignment, Distributed};
use backoffice::postloan::fees::{self, FeeLine};
use backoffice::postloan::groups::{self, CollectionGroup, GroupFilter, GroupUpdate, NewGroup};
use backoffice::postloan::overdue::{self, OverdueContract, OverdueFilter};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_overdue))
        .routes(routes!(list_contacts, record_contact))
        .routes(routes!(contract_fees))
        .routes(routes!(claim))
        .routes(routes!(assign))
        .routes(routes!(distribute))
        .routes(routes!(list_codes, create_code))
        .routes(routes!(update_code))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, update_group))
}

/// The overdue active contracts of the caller's region subtree, most risky first by default
/// (`sort=-risk`; also `dpd`, `overdue_amount`, `number`).
#[utoipa::path(get, path = "/overdue-contracts", tag = "postloan", params(PageParams, OverdueFilter),
    responses((status = 200, description = "A page of overdue contracts", body = Paged<OverdueContract>)),
    security(("bearer" = ["postloan.read"])))]
async fn list_overdue(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<OverdueFilter>,
) -> Result<Json<Paged<OverdueContract>>, ApiError> {
    Ok(Json(overdue::list(&state.pool, &caller, &page, &filter).await?))
}

/// The contacts made about a contract, newest first.
#[utoipa::path(get, path = "/contracts/{id}/contacts", tag = "postloan", params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "Its contacts", body = Vec<Contact>)), security(("bearer" = ["postloan.read"])))]
async fn list_contacts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Contact>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(contacts::of_contract(&mut conn, &caller, id).await?))
}

/// Record a call, message or visit about a contract, with any promise to pay (which holds its
/// bucket until the date); refused outside the allowed hours or over the day's cap (409 `contact_rules`).
#[utoipa::path(post, path = "/contracts/{id}/contacts", tag = "postloan", request_body = NewContact,
    params(("id" = i64, Path, description = "Contract id")),
    responses((status = 201, description = "Recorded", body = Contact)), security(("bearer" = ["postloan.collect"])))]
async fn record_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(new): Json<NewContact>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let contact = contacts::record(&mut tx, &caller, id, &new, chrono::Utc::now(), state.utc_offset_hours).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(contact)))
}

/// The customer's fees (客户费用查询): what the contract charges by kind, with what is scheduled, due by
/// today (the company's day), paid, owed and outstanding.
#[utoipa::path(get, path = "/contracts/{id}/fees", tag = "postloan", params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "Its charges by kind", body = Vec<FeeLine>)), security(("bearer" = ["contracts.read"])))]
async fn contract_fees(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<FeeLine>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let detail = contract::detail(&mut conn, &caller, id).await?;
    Ok(Json(fees::summary(&detail.receivables, company_today(state.utc_offset_hours))))
}

/// Take an overdue contract that has no collector, as a collector of a group that works it.
#[utoipa::path(post, path = "/contracts/{id}/actions/claim-collection", tag = "postloan",
    params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "Claimed", body = Assignment)), security(("bearer" = ["postloan.collect"])))]
async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Assignment>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let assignment = distribution::claim(&mut tx, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(assignment))
}

/// Give an overdue contract to a collector of a group that works it (the group's leader, or whoever
/// configures post-loan); how work leaves an absent collector.
#[utoipa::path(post, path = "/contracts/{id}/actions/assign-collection", tag = "postloan", request_body = Assign,
    params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "Assigned", body = Assignment)), security(("bearer" = ["postloan.collect"])))]
async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Assign>,
) -> Result<Json<Assignment>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let assignment = distribution::assign(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(assignment))
}

/// Run the distribution now (the daemon runs it after each daily job): overdue contracts without a
/// fitting assignment go to the groups that work them and their least-loaded collectors.
#[utoipa::path(post, path = "/collection-distribution/actions/run", tag = "postloan",
    responses((status = 200, description = "What was distributed", body = Distributed)),
    security(("bearer" = ["postloan.configure"])))]
async fn distribute(State(state): State<AppState>, _caller: Caller) -> Result<Json<Distributed>, ApiError> {
    Ok(Json(distribution::run(&state.pool, chrono::Utc::now()).await?))
}

/// List the collection states and categories.
#[utoipa::path(get, path = "/collection-codes", tag = "postloan", params(PageParams, CodeFilter),
    responses((status = 200, description = "A page of codes", body = Paged<CollectionCode>)),
    security(("bearer" = ["postloan.read"])))]
async fn list_codes(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<CodeFilter>,
) -> Result<Json<Paged<CollectionCode>>, ApiError> {
    Ok(Json(codes::list(&state.pool, &caller, &page, &filter).await?))
}

/// Add a collection state or category.
#[utoipa::path(post, path = "/collection-codes", tag = "postloan", request_body = NewCode,
    responses((status = 201, description = "Added", body = CollectionCode)), security(("bearer" = ["postloan.configure"])))]
async fn create_code(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewCode>,
) -> Result<(StatusCode, Json<CollectionCode>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let code = codes::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(code)))
}

/// Rename, reorder, retire or restore a code (with the version that was read).
#[utoipa::path(patch, path = "/collection-codes/{id}", tag = "postloan", request_body = CodeUpdate,
    params(("id" = i64, Path, description = "Code id")),
    responses((status = 200, description = "Changed", body = CollectionCode)), security(("bearer" = ["postloan.configure"])))]
async fn update_code(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(changes): Json<CodeUpdate>,
) -> Result<Json<CollectionCode>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let code = codes::update(&mut tx, &caller, id, &changes).await?;
    tx.commit().await?;
    Ok(Json(code))
}

/// List the collection groups kept by the caller's region subtree.
#[utoipa::path(get, path = "/collection-groups", tag = "postloan", params(PageParams, GroupFilter),
    responses((status = 200, description = "A page of groups", body = Paged<CollectionGroup>)),
    security(("bearer" = ["postloan.read"])))]
async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<GroupFilter>,
) -> Result<Json<Paged<CollectionGroup>>, ApiError> {
    Ok(Json(groups::list(&state.pool, &caller, &page, &filter).await?))
}

/// Add a collection group with its members.
#[utoipa::path(post, path = "/collection-groups", tag = "postloan", request_body = NewGroup,
    responses((status = 201, description = "Added", body = CollectionGroup)), security(("bearer" = ["postloan.configure"])))]
async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewGroup>,
) -> Result<(StatusCode, Json<CollectionGroup>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let group = groups::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// One collection group with its members.
#[utoipa::path(get, path = "/collection-groups/{id}", tag = "postloan", params(("id" = i64, Path, description = "Group id")),
    responses((status = 200, description = "The group", body = CollectionGroup)), security(("bearer" = ["postloan.read"])))]
async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<CollectionGroup>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(groups::get(&mut conn, &caller, id).await?))
}

/// Change a group: name, region, buckets, regions worked, whether it gets work, every member.
#[utoipa::path(patch, path = "/collection-groups/{id}", tag = "postloan", request_body = GroupUpdate,
    params(("id" = i64, Path, description = "Group id")),
    responses((status = 200, description = "Changed", body = CollectionGroup)), security(("bearer" = ["postloan.configure"])))]
async fn update_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(changes): Json<GroupUpdate>,
) -> Result<Json<CollectionGroup>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let group = groups::update(&mut tx, &caller, id, &changes).await?;
    tx.commit().await?;
    Ok(Json(group))
}
