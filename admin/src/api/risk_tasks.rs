//! `/api/v1/risk-tasks`: collection (催收) and repossession (收车) tasks. Collection tasks are
//! made here from alerts, with their evidence; the monitor proposes repossession tasks when a
//! located vehicle's contract reaches the repossession bucket. A task goes to a user holding its
//! position (`collection` or `repossession`) in the task's region, and ends done or cancelled.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, Utc};
use leasewatch_monitor::tasks;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::FromRow;
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
        .routes(routes!(list, create))
        .routes(routes!(get))
        .routes(routes!(assign))
        .routes(routes!(complete))
        .routes(routes!(cancel))
}

/// A task.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct RiskTask {
    /// Id.
    pub id: i64,
    /// `collection` or `repossession`.
    pub kind: String,
    /// `open`, `assigned`, `done` or `cancelled`.
    pub status: String,
    /// The vehicle.
    pub vehicle_id: i64,
    /// The contract.
    pub contract_id: Option<i64>,
    /// Region.
    pub region_id: i64,
    /// The alerts it was made from.
    pub alert_ids: Vec<i64>,
    /// Alerts' evidence, or for repossession the last trustworthy fix, the night parking place
    /// and the hours the vehicle is usually there.
    #[schema(value_type = Object)]
    pub evidence: Value,
    /// The position whose users may take it.
    pub position_code: Option<String>,
    /// Who has it.
    pub assignee_id: Option<i64>,
    /// Notes.
    pub note: Option<String>,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// For optimistic concurrency.
    pub version: i32,
    /// The contract's risk score (0–100), when computed.
    pub risk_score: Option<i32>,
}

/// How tasks are read, with their contract's risk score.
const TABLE: Table<RiskTask> = Table::new(
    "task",
    "SELECT t.id, t.kind, t.status, t.vehicle_id, t.contract_id, t.region_id, t.alert_ids, t.evidence,
        t.position_code, t.assignee_id, t.note, t.created_at, t.updated_at, t.version, cr.score AS risk_score",
    "FROM risk_tasks t JOIN regions g ON g.id = t.region_id LEFT JOIN contract_risk cr ON cr.contract_id = t.contract_id",
    "t.id",
)
.scoped("g.path")
.sorted(&[("created_at", "t.created_at"), ("id", "t.id"), ("risk", "COALESCE(cr.score, 0)")], "-created_at");

/// Filters of the task list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskFilter {
    /// `collection` or `repossession`.
    #[param(pattern = "^(collection|repossession)$")]
    pub kind: Option<String>,
    /// `open`, `assigned`, `done` or `cancelled`.
    #[param(pattern = "^(open|assigned|done|cancelled)$")]
    pub status: Option<String>,
    /// Only the caller's own.
    pub mine: Option<bool>,
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
    let items = TABLE
        .list(&state.pool, &caller, &page, |f| {
            f.eq("t.kind", filter.kind.clone())
                .eq("t.status", filter.status.clone())
                .eq("t.assignee_id", (filter.mine == Some(true)).then_some(caller.user_id));
        })
        .await?;
    Ok(Json(items))
}

/// A task with its evidence.
#[utoipa::path(get, path = "/risk-tasks/{id}", tag = "tasks", params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, description = "The task", body = RiskTask)), security(("bearer" = ["tasks.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<RiskTask>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(TABLE.load(&mut conn, &caller, id).await?))
}

/// An alert a task is made from: id, vehicle, contract, region, rule, severity, title, evidence.
type SourceAlert = (i64, i64, Option<i64>, i64, String, String, String, Value);

/// A task made from alerts of one vehicle.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// `collection` or `repossession`.
    #[schema(pattern = "^(collection|repossession)$")]
    pub kind: String,
    /// The alerts (1 to 50, all of one vehicle).
    #[schema(min_items = 1, max_items = 50)]
    pub alert_ids: Vec<i64>,
    /// Instructions.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Make a task from alerts, carrying their evidence.
#[utoipa::path(post, path = "/risk-tasks", tag = "tasks", request_body = NewTask,
    responses((status = 201, description = "Made", body = RiskTask)), security(("bearer" = ["tasks.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewTask>,
) -> Result<(StatusCode, Json<RiskTask>), ApiError> {
    let mut checks = Checks::default();
    checks.check(
        matches!(new.kind.as_str(), "collection" | "repossession"),
        "kind",
        "must be collection or repossession",
    );
    checks.check((1..=50).contains(&new.alert_ids.len()), "alert_ids", "must name 1 to 50 alerts");
    checks.check(
        new.note.as_ref().is_none_or(|n| n.chars().count() <= 1000),
        "note",
        "must be at most 1000 characters",
    );
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    let alerts: Vec<SourceAlert> = sqlx::query_as(
        "SELECT a.id, a.vehicle_id, a.contract_id, a.region_id, a.rule, a.severity, a.title, a.evidence
         FROM alerts a JOIN regions g ON g.id = a.region_id WHERE a.id = ANY($1) AND starts_with(g.path, $2) ORDER BY a.id",
    )
    .bind(&new.alert_ids)
    .bind(&caller.region_path)
    .fetch_all(&mut *tx)
    .await?;
    let mut ids = new.alert_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    if alerts.len() != ids.len() {
        return Err(ApiError::invalid("alert_ids", "names an alert that does not exist in your region"));
    }
    let (vehicle_id, contract_id, region_id) = (alerts[0].1, alerts[0].2, alerts[0].3);
    if alerts.iter().any(|a| a.1 != vehicle_id) {
        return Err(ApiError::invalid("alert_ids", "must all be alerts of one vehicle"));
    }
    let evidence = json!({"alerts": alerts.iter().map(|a| json!({"id": a.0, "rule": a.4, "severity": a.5, "title": a.6, "evidence": a.7})).collect::<Vec<_>>()});
    let new_task = tasks::NewTask {
        kind: &new.kind,
        vehicle_id,
        contract_id,
        region_id,
        alert_ids: &ids,
        evidence: &evidence,
        note: new.note.as_deref().map(str::trim),
    };
    let id = tasks::open(&mut tx, &new_task).await?;
    let Some(id) = id else {
        return Err(ApiError::Conflict {
            code: "duplicate",
            detail: format!("the vehicle already has an open {} task", new.kind),
        });
    };
    let task = TABLE.load(&mut tx, &caller, id).await?;
    let entry = Change::new("create", "risk_task", id, Some(region_id))
        .after(json!({"kind": task.kind, "alert_ids": task.alert_ids}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// Who takes a task.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    /// A user holding the task's position, in the task's region subtree.
    pub user_id: i64,
}

/// How a task ended.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Close {
    /// What happened.
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub note: String,
}

async fn transition(
    state: &AppState,
    caller: &Caller,
    id: i64,
    to: &str,
    assignee: Option<i64>,
    note: Option<&str>,
) -> Result<RiskTask, ApiError> {
    let mut tx = state.pool.begin().await?;
    let before = TABLE.lock(&mut tx, caller, id).await?;
    if !matches!(before.status.as_str(), "open" | "assigned") {
        return Err(ApiError::invalid_state(format!("the task is {}", before.status)));
    }
    if let Some(user) = assignee {
        let eligible: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users u JOIN regions g ON g.id = u.region_id
                            WHERE u.id = $1 AND u.active AND starts_with((SELECT path FROM regions WHERE id = $2), g.path)
                              AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM user_positions up JOIN staff_positions p ON p.id = up.position_id
                                                               WHERE up.user_id = u.id AND p.code = $3)))",
        )
        .bind(user)
        .bind(before.region_id)
        .bind(&before.position_code)
        .fetch_one(&mut *tx)
        .await?;
        if !eligible {
            return Err(ApiError::invalid(
                "user_id",
                format!(
                    "must be an active user of the task's region holding the position `{}`",
                    before.position_code.as_deref().unwrap_or("-")
                ),
            ));
        }
    }
    tasks::set_status(&mut tx, id, to, assignee, note).await?;
    let after = TABLE.load(&mut tx, caller, id).await?;
    let entry = Change::new(to, "risk_task", id, Some(after.region_id))
        .before(json!({"status": before.status, "assignee_id": before.assignee_id}))
        .after(json!({"status": after.status, "assignee_id": after.assignee_id, "note": note}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(after)
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
    Ok(Json(transition(&state, &caller, id, "assigned", Some(body.user_id), None).await?))
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
    close(&state, &caller, id, "done", &body).await
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
    close(&state, &caller, id, "cancelled", &body).await
}

/// Ends a task as `to`, with the note saying how.
async fn close(state: &AppState, caller: &Caller, id: i64, to: &str, body: &Close) -> Result<Json<RiskTask>, ApiError> {
    Checks::default().text("note", &body.note, 1000).finish()?;
    Ok(Json(transition(state, caller, id, to, None, Some(body.note.trim())).await?))
}
