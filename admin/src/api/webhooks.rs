//! `/api/v1/webhooks`: subscriptions that receive alert changes as signed POSTs (see
//! `leasewatch_monitor::webhooks` for the signature), their deliveries, and retrying dead ones.
//! The secret is sealed at rest and never shown again after creation. The service is
//! `backoffice::risk::webhooks`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::risk::webhooks::{self, Delivery, DeliveryFilter, NewWebhook, Webhook};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(deliveries)).routes(routes!(retry))
}

/// Subscriptions of the caller's region subtree.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", params(PageParams),
    responses((status = 200, description = "A page of subscriptions", body = Paged<Webhook>)), security(("bearer" = ["monitor.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Webhook>>, ApiError> {
    Ok(Json(webhooks::list(&state.pool, &caller, &page).await?))
}

/// Subscribe a URL to alert changes.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = NewWebhook,
    responses((status = 201, description = "Subscribed", body = Webhook)), security(("bearer" = ["monitor.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewWebhook>,
) -> Result<(StatusCode, Json<Webhook>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let hook = webhooks::create(&mut tx, &state.vault, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(hook)))
}

/// A subscription's deliveries, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = i64, Path, description = "Webhook id"), PageParams, DeliveryFilter),
    responses((status = 200, description = "A page of deliveries", body = Paged<Delivery>)), security(("bearer" = ["monitor.read"])))]
async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(page): Query<PageParams>,
    Query(filter): Query<DeliveryFilter>,
) -> Result<Json<Paged<Delivery>>, ApiError> {
    Ok(Json(webhooks::deliveries(&state.pool, &caller, id, &page, &filter).await?))
}

/// Try a dead delivery again (from the first attempt's schedule).
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery}/actions/retry", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"), ("delivery" = i64, Path, description = "Delivery id")),
    responses((status = 200, description = "Queued again", body = Delivery)), security(("bearer" = ["monitor.write"])))]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery)): Path<(i64, i64)>,
) -> Result<Json<Delivery>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let row = webhooks::retry(&mut tx, &caller, id, delivery).await?;
    tx.commit().await?;
    Ok(Json(row))
}
