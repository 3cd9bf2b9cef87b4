//! `/api/v1/alerts`: what the monitor raised — one open alert per vehicle and rule, with its
//! evidence and history — acknowledged and resolved by collectors (with who and why), and
//! streamed live as Server-Sent Events to each caller within their region. The service is
//! `backoffice::risk::alerts`; the stream's HTTP side stays here.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use backoffice::kit::list::{PageParams, Paged};
use backoffice::risk::alerts::{self, Acknowledge, Alert, AlertDetail, AlertFilter, Resolve, StreamFilter};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::alert_feed;
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(stream))
        .routes(routes!(get))
        .routes(routes!(acknowledge))
        .routes(routes!(resolve))
}

/// List the alerts of the caller's region subtree, most severe and most recent first.
#[utoipa::path(get, path = "/alerts", tag = "alerts", params(PageParams, AlertFilter),
    responses((status = 200, description = "A page of alerts", body = Paged<Alert>)), security(("bearer" = ["alerts.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<AlertFilter>,
) -> Result<Json<Paged<Alert>>, ApiError> {
    Ok(Json(alerts::list(&state.pool, &caller, &page, &filter).await?))
}

/// Alert changes as they happen (Server-Sent Events), for the caller's region subtree: each
/// event is named by the change (`opened`, `escalated`, `repeated`, `acknowledged`, `resolved`,
/// `closed`) and carries the alert's id, vehicle, contract, rule, severity, status and title.
/// A `lagged` event says how many changes a slow reader missed (list them with `GET /alerts`).
#[utoipa::path(get, path = "/alerts/stream", tag = "alerts", params(StreamFilter),
    responses((status = 200, description = "An endless event stream", content_type = "text/event-stream", body = String)),
    security(("bearer" = ["alerts.read"])))]
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<StreamFilter>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let rank = alerts::min_rank(filter.min_severity.as_deref())?;
    Ok(Sse::new(
        alert_feed::events(&state.alert_feed, &state.pool, state.shutdown.clone(), &caller.region_path, rank).await?,
    )
    .keep_alive(KeepAlive::default()))
}

/// An alert with its history.
#[utoipa::path(get, path = "/alerts/{id}", tag = "alerts", params(("id" = i64, Path, description = "Alert id")),
    responses((status = 200, description = "The alert", body = AlertDetail)), security(("bearer" = ["alerts.read"])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<AlertDetail>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(alerts::get(&mut conn, &caller, id).await?))
}

/// Acknowledge an open alert: someone is on it.
#[utoipa::path(post, path = "/alerts/{id}/actions/acknowledge", tag = "alerts", request_body = Acknowledge,
    params(("id" = i64, Path, description = "Alert id")),
    responses((status = 200, description = "Acknowledged", body = Alert)), security(("bearer" = ["alerts.act"])))]
async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Acknowledge>,
) -> Result<Json<Alert>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let alert = alerts::acknowledge(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(alert))
}

/// Resolve an alert, saying why.
#[utoipa::path(post, path = "/alerts/{id}/actions/resolve", tag = "alerts", request_body = Resolve,
    params(("id" = i64, Path, description = "Alert id")),
    responses((status = 200, description = "Resolved", body = Alert)), security(("bearer" = ["alerts.act"])))]
async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Resolve>,
) -> Result<Json<Alert>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let alert = alerts::resolve(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(alert))
}
