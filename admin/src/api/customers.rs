//! `/api/v1/customers`: lessees, numbers masked, revealed only with `sensitive.reveal`, and changes
//! to their particulars carried out on approval (客户信息变更); the services are
//! `backoffice::customers::{customer, changes}`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::customers::changes::{self, ChangeRequest, ChangeView};
use backoffice::customers::customer::{self, Customer, CustomerFilter, CustomerNumbers, CustomerTimeZone, NewCustomer};
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
        .routes(routes!(get))
        .routes(routes!(reveal))
        .routes(routes!(set_time_zone))
        .routes(routes!(change_history, request_change))
}

/// List the customers of the caller's region subtree.
#[utoipa::path(get, path = "/customers", tag = "customers", params(PageParams, CustomerFilter),
    responses((status = 200, description = "A page of customers", body = Paged<Customer>)), security(("bearer" = ["customers.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<CustomerFilter>,
) -> Result<Json<Paged<Customer>>, ApiError> {
    Ok(Json(customer::list(&state.pool, &state.vault, &caller, &page, &filter).await?))
}

/// Register a customer; a number already registered is a 409.
#[utoipa::path(post, path = "/customers", tag = "customers", request_body = NewCustomer,
    responses((status = 201, description = "Registered", body = Customer)), security(("bearer" = ["customers.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewCustomer>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let customer = customer::create(&mut tx, &state.vault, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

/// One customer.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers", params(("id" = i64, Path, description = "Customer id")),
    responses((status = 200, description = "The customer", body = Customer)), security(("bearer" = ["customers.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Customer>, ApiError> {
    Ok(Json(customer::get(&mut *state.pool.acquire().await?, &state.vault, &caller, id).await?))
}

/// Show a customer's numbers in full; the reveal is audited.
#[utoipa::path(post, path = "/customers/{id}/actions/reveal", tag = "customers", params(("id" = i64, Path, description = "Customer id")),
    responses((status = 200, description = "The numbers", body = CustomerNumbers)), security(("bearer" = ["sensitive.reveal"])))]
async fn reveal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<CustomerNumbers>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let numbers = customer::reveal(&mut tx, &state.vault, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(numbers))
}

/// Set the customer's time zone (IANA name), in which the contact rules count the allowed hours
/// and the day's cap; none: the company's.
#[utoipa::path(put, path = "/customers/{id}/time-zone", tag = "customers", request_body = CustomerTimeZone,
    params(("id" = i64, Path, description = "Customer id")),
    responses((status = 204, description = "Set")), security(("bearer" = ["customers.write"])))]
async fn set_time_zone(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<CustomerTimeZone>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.pool.begin().await?;
    customer::set_time_zone(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The changes asked for a customer's particulars, newest first, with what each replaced.
#[utoipa::path(get, path = "/customers/{id}/changes", tag = "customers", params(("id" = i64, Path, description = "Customer id")),
    responses((status = 200, description = "Its history", body = Vec<ChangeView>)), security(("bearer" = ["customers.read"])))]
async fn change_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ChangeView>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(changes::history(&mut conn, &state.vault, &caller, id).await?))
}

/// Ask for a change to a customer's address, employer or phone, with a reason: submitted for
/// approval (workflow `customer_change`), carried out when approved.
#[utoipa::path(post, path = "/customers/{id}/changes", tag = "customers", request_body = ChangeRequest,
    params(("id" = i64, Path, description = "Customer id")),
    responses((status = 201, description = "Asked, waiting for approval", body = ChangeView)),
    security(("bearer" = ["customers.write"])))]
async fn request_change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(request): Json<ChangeRequest>,
) -> Result<(StatusCode, Json<ChangeView>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let change = changes::request(&mut tx, &state.vault, &caller, id, &request).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(change)))
}
