//! `/api/v1/risk-tasks`: collection (催收) and repossession (收车) tasks, made from alerts or
//! proposed by the monitor, assigned to a user of their position, and ended done or cancelled.
//! The service is `backoffice::risk::tasks`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::risk::tasks::{self, Assign, Close, Ending, NewTask, RiskTask, TaskFilter};
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
        .routes(routes!(assign))
        .routes(routes!(complete))
        .routes(routes!(cancel))
}

/// Tasks of the caller's region subtree, newest first (`sort=-risk`: riskiest contracts first).
#[utoipa::path(get, path = "/risk-tasks", tag = "tasks", params(PageParams, TaskFilter),
    responses((status = 200, description = "A page of tasks", body = Paged<RiskTask>)), security(("bearer" = ["tasks.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<TaskFilter>,
) -> Result<Json<Paged<RiskTask>>, ApiError> {
    Ok(Json(tasks::list(&state.pool, &caller, &page, &filter).await?))
}

/// A task with its evidence.
#[utoipa::path(get, path = "/risk-tasks/{id}", tag = "tasks", params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, description = "The task", body = RiskTask)), security(("bearer" = ["tasks.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<RiskTask>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(tasks::get(&mut conn, &caller, id).await?))
}

/// Make a task from alerts, carrying their evidence.
#[utoipa::path(post, path = "/risk-tasks", tag = "tasks", request_body = NewTask,
    responses((status = 201, description = "Made", body = RiskTask)), security(("bearer" = ["tasks.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewTask>,
) -> Result<(StatusCode, Json<RiskTask>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let task = tasks::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// Give a task to a user of its position.
#[utoipa::path(post, path = "/risk-tasks/{id}/actions/assign", tag = "tasks", request_body = Assign,
    params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, description = "Assigned", body = RiskTask)), security(("bearer" = ["tasks.write"])))]
async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Assign>,
) -> Result<Json<RiskTask>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let task = tasks::assign(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(task))
}

/// Mark a task done.
#[utoipa::path(post, path = "/risk-tasks/{id}/actions/complete", tag = "tasks", request_body = Close,
    params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, description = "Done", body = RiskTask)), security(("bearer" = ["tasks.write"])))]
async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Close>,
) -> Result<Json<RiskTask>, ApiError> {
    close(&state, &caller, id, Ending::Done, &body).await
}

/// Cancel a task.
#[utoipa::path(post, path = "/risk-tasks/{id}/actions/cancel", tag = "tasks", request_body = Close,
    params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, description = "Cancelled", body = RiskTask)), security(("bearer" = ["tasks.write"])))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Close>,
) -> Result<Json<RiskTask>, ApiError> {
    close(&state, &caller, id, Ending::Cancelled, &body).await
}

/// Ends a task as `ending`, in one transaction.
async fn close(
    state: &AppState,
    caller: &Caller,
    id: i64,
    ending: Ending,
    body: &Close,
) -> Result<Json<RiskTask>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let task = tasks::close(&mut tx, caller, id, ending, body).await?;
    tx.commit().await?;
    Ok(Json(task))
}
