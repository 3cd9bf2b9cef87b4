//! `/api/v1/workflow-definitions`, `/api/v1/workflow-instances` and `/api/v1/workflow-tasks`:
//! editing versioned definitions, submitting requests, the inbox, and acting on tasks.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use backoffice::system::workflow::definition::{self, Action, Stage};
use backoffice::system::workflow::engine::{
    self, ActRequest, HistoryEntry, InboxFilter, Instance, InstanceFilter, NewInstance, Task,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::FromRow;
use sqlx::types::Json as SqlJson;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Checks};
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

/// A version of a workflow definition.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Definition {
    /// Id of this version.
    pub id: i64,
    /// Key shared by its versions (`credit_review`).
    pub key: String,
    /// Version, from 1.
    pub version: i32,
    /// Name.
    pub name: String,
    /// Ordered stages.
    #[schema(value_type = Vec<Stage>)]
    pub stages: SqlJson<Vec<Stage>>,
    /// When this version was made.
    pub created_at: DateTime<Utc>,
}

/// How definitions are read: company-wide, every reader sees them.
const DEFINITIONS: Table<Definition> = Table::new(
    "workflow definition",
    "SELECT d.id, d.key, d.version, d.name, d.stages, d.created_at",
    "FROM workflow_definitions d",
    "d.id",
)
.sorted(&[("key", "d.key"), ("name", "d.name")], "key");

/// The latest version of every definition.
#[utoipa::path(get, path = "/workflow-definitions", tag = "workflows", params(PageParams),
    responses((status = 200, description = "A page of definitions", body = Paged<Definition>)),
    security(("bearer" = ["workflows.read"])))]
async fn list_definitions(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Definition>>, ApiError> {
    let items = DEFINITIONS
        .list(&state.pool, &caller, &page, |f| {
            f.and().push("d.version = (SELECT max(version) FROM workflow_definitions x WHERE x.key = d.key)");
        })
        .await?;
    Ok(Json(items))
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
    sqlx::query_as(&format!(
        "{} {} WHERE d.key = $1 AND ($2::int IS NULL OR d.version = $2) ORDER BY d.version DESC LIMIT 1",
        DEFINITIONS.select, DEFINITIONS.from
    ))
    .bind(key)
    .bind(v.version)
    .fetch_optional(&state.pool)
    .await?
    .map(Json)
    .ok_or(ApiError::NotFound("workflow definition"))
}

/// A definition, or a new version of one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDefinition {
    /// Key: lower-case letters, digits and `_`; an existing key gets a new version.
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub key: String,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Ordered stages; every position must exist.
    pub stages: Vec<Stage>,
}

/// Create a definition, or the next version of an existing one (running instances keep theirs).
#[utoipa::path(post, path = "/workflow-definitions", tag = "workflows", request_body = NewDefinition,
    responses((status = 201, description = "Created", body = Definition)), security(("bearer" = ["workflows.manage"])))]
async fn create_definition(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewDefinition>,
) -> Result<(StatusCode, Json<Definition>), ApiError> {
    let mut checks = Checks::default();
    checks.code("key", &new.key);
    checks.text("name", &new.name, 100);
    definition::validate(&mut checks, &new.stages);
    let codes: Vec<&str> = new.stages.iter().map(|s| s.position.as_str()).collect();
    let known: Vec<String> = sqlx::query_scalar("SELECT code FROM staff_positions WHERE code = ANY($1)")
        .bind(&codes)
        .fetch_all(&state.pool)
        .await?;
    for (i, code) in codes.iter().enumerate() {
        checks.check(known.iter().any(|k| k == code), &format!("stages[{i}].position"), "no position has this code");
    }
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    // Versions of one key are numbered one at a time.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('workflow_definitions:' || $1))")
        .bind(&new.key)
        .execute(&mut *tx)
        .await?;
    let definition: Definition = sqlx::query_as(
        "INSERT INTO workflow_definitions (key, version, name, stages, created_by)
         SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4 FROM workflow_definitions WHERE key = $1
         RETURNING id, key, version, name, stages, created_at",
    )
    .bind(&new.key)
    .bind(new.name.trim())
    .bind(SqlJson(&new.stages))
    .bind(caller.user_id)
    .fetch_one(&mut *tx)
    .await?;
    let entry = Change::new("create", "workflow_definition", definition.id, None).after(json!(definition));
    audit::record(&mut *tx, caller.author(), entry).await?;
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
