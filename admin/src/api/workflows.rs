//! `/api/v1/workflow-definitions`, `/api/v1/workflow-instances` and `/api/v1/workflow-tasks`:
//! editing versioned definitions, submitting requests, the inbox, and acting on tasks.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::system::workflow::definition::Action;
use backoffice::system::workflow::definitions::{self, Definition, NewDefinition};
use backoffice::system::workflow::engine::{
    self, ActRequest, HistoryEntry, InboxFilter, Instance, InstanceFilter, NewInstance, Task,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_definitions, create_definition))
        .routes(routes!(get_definition))
        .routes(routes!(list_instances, start))
        .routes(routes!(get_instance))
        .routes(routes!(cancel))
        .routes(routes!(inbox))
        .routes(routes!(claim))
        .routes(routes!(act))
}

/// The latest version of every definition.
#[utoipa::path(get, path = "/workflow-definitions", tag = "workflows", params(PageParams),
    responses((status = 200, description = "A page of definitions", body = Paged<Definition>)),
    security(("bearer" = ["workflows.read"])))]
async fn list_definitions(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Definition>>, ApiError> {
    Ok(Json(definitions::list_latest(&state.pool, &caller, &page).await?))
}

/// Which version to show.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionParam {
    /// A version; the latest when absent.
    pub version: Option<i32>,
}

/// One definition (its latest version, or the one asked for).
#[utoipa::path(get, path = "/workflow-definitions/{key}", tag = "workflows",
    params(("key" = String, Path, description = "Definition key"), VersionParam),
    responses((status = 200, description = "The definition", body = Definition)),
    security(("bearer" = ["workflows.read"])))]
async fn get_definition(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(v): Query<VersionParam>,
) -> Result<Json<Definition>, ApiError> {
    Ok(Json(definitions::get(&state.pool, &key, v.version).await?))
}

/// Create a definition, or the next version of an existing one (running instances keep theirs).
#[utoipa::path(post, path = "/workflow-definitions", tag = "workflows", request_body = NewDefinition,
    responses((status = 201, description = "Created", body = Definition)), security(("bearer" = ["workflows.manage"])))]
async fn create_definition(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewDefinition>,
) -> Result<(StatusCode, Json<Definition>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let definition = definitions::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(definition)))
}

/// List the instances of the caller's region subtree.
#[utoipa::path(get, path = "/workflow-instances", tag = "workflows", params(PageParams, InstanceFilter),
    responses((status = 200, description = "A page of instances", body = Paged<Instance>)),
    security(("bearer" = ["workflows.read"])))]
async fn list_instances(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<InstanceFilter>,
) -> Result<Json<Paged<Instance>>, ApiError> {
    Ok(Json(engine::instances(&state.pool, &caller, &page, &filter).await?))
}

/// Submit a request into a workflow. Send an `Idempotency-Key` so that a retry cannot submit twice.
#[utoipa::path(post, path = "/workflow-instances", tag = "workflows", request_body = NewInstance,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    responses((status = 201, description = "Submitted", body = Instance)), security(("bearer" = ["workflows.start"])))]
async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewInstance>,
) -> Result<(StatusCode, Json<Instance>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let instance = engine::start(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(instance)))
}

/// An instance with its tasks and history.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceDetail {
    /// The instance.
    pub instance: Instance,
    /// Its tasks, oldest first.
    pub tasks: Vec<Task>,
    /// Everything done to it, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// One instance with its tasks and history.
#[utoipa::path(get, path = "/workflow-instances/{id}", tag = "workflows", params(("id" = i64, Path, description = "Instance id")),
    responses((status = 200, description = "The instance", body = InstanceDetail)), security(("bearer" = ["workflows.read"])))]
async fn get_instance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<InstanceDetail>, ApiError> {
    let mut db = state.pool.acquire().await?;
    let instance = engine::instance(&mut db, &caller, id).await?;
    let tasks = engine::tasks(&mut db, id).await?;
    let history = engine::history(&mut db, id).await?;
    Ok(Json(InstanceDetail { instance, tasks, history }))
}

/// Withdraw one's own active request.
#[utoipa::path(post, path = "/workflow-instances/{id}/actions/cancel", tag = "workflows",
    params(("id" = i64, Path, description = "Instance id")),
    responses((status = 200, description = "Withdrawn", body = Instance)), security(("bearer" = ["workflows.start"])))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Instance>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let instance = engine::cancel(&mut tx, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(instance))
}

/// The caller's inbox: open tasks of their positions in their region subtree, unclaimed or theirs,
/// except on requests they made.
#[utoipa::path(get, path = "/workflow-tasks", tag = "workflows", params(PageParams, InboxFilter),
    responses((status = 200, description = "A page of tasks", body = Paged<Task>)), security(("bearer" = ["workflows.act"])))]
async fn inbox(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<InboxFilter>,
) -> Result<Json<Paged<Task>>, ApiError> {
    Ok(Json(engine::inbox(&state.pool, &caller, &page, &filter).await?))
}

/// Claim an open task of one's position.
#[utoipa::path(post, path = "/workflow-tasks/{id}/actions/claim", tag = "workflows",
    params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, description = "Claimed", body = Task)), security(("bearer" = ["workflows.act"])))]
async fn claim(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Task>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let task = engine::claim(&mut tx, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(task))
}

/// Act on a task: approve, reject, return (to an earlier stage), transfer (to another user of
/// the position) or note. The maker of a request cannot approve it.
#[utoipa::path(post, path = "/workflow-tasks/{id}/actions/{action}", tag = "workflows",
    params(("id" = i64, Path, description = "Task id"), ("action" = Action, Path, description = "The action")),
    request_body = ActRequest,
    responses((status = 200, description = "The instance after the action", body = Instance)),
    security(("bearer" = ["workflows.act"])))]
async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(i64, Action)>,
    Json(request): Json<ActRequest>,
) -> Result<Json<Instance>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let instance = engine::act(&mut tx, &state.hooks, &caller, id, action, &request).await?;
    tx.commit().await?;
    Ok(Json(instance))
}
