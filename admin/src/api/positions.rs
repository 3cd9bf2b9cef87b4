//! `/api/v1/positions`: staff_positions (岗位: 初审员, 复审员, 催收员, 财务...) that workflow stages are
//! assigned to.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::FromRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(update))
}

/// A position.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Position {
    /// Id.
    pub id: i64,
    /// Unique code that workflow stages name (`first_reviewer`).
    pub code: String,
    /// Name (初审员).
    pub name: String,
    /// What it does.
    pub description: String,
    /// For optimistic concurrency.
    pub version: i32,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// How positions are read: company-wide, every reader sees them.
const TABLE: Table<Position> = Table::new(
    "position",
    "SELECT p.id, p.code, p.name, p.description, p.version, p.created_at",
    "FROM staff_positions p",
    "p.id",
)
.sorted(&[("code", "p.code"), ("name", "p.name"), ("id", "p.id")], "code");

/// List positions.
#[utoipa::path(get, path = "/positions", tag = "positions", params(PageParams),
    responses((status = 200, description = "A page of positions", body = Paged<Position>)),
    security(("bearer" = ["positions.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Position>>, ApiError> {
    Ok(Json(TABLE.list(&state.pool, &caller, &page, |_| {}).await?))
}

/// A new position.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPosition {
    /// Unique code: lower-case letters, digits and `_`.
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub code: String,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// What it does.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
}

/// Create a position.
#[utoipa::path(post, path = "/positions", tag = "positions", request_body = NewPosition,
    responses((status = 201, description = "Created", body = Position)), security(("bearer" = ["positions.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewPosition>,
) -> Result<(StatusCode, Json<Position>), ApiError> {
    let mut checks = Checks::default();
    checks.code("code", &new.code);
    checks.text("name", &new.name, 100);
    checks.check(new.description.chars().count() <= 500, "description", "must be at most 500 characters");
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    let id: i64 =
        sqlx::query_scalar("INSERT INTO staff_positions (code, name, description) VALUES ($1, $2, $3) RETURNING id")
            .bind(&new.code)
            .bind(new.name.trim())
            .bind(new.description.trim())
            .fetch_one(&mut *tx)
            .await?;
    let position = TABLE.load(&mut tx, &caller, id).await?;
    let change = Change::new("create", "position", id, None).after(json!(position));
    audit::record(&mut *tx, caller.author(), change).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(position)))
}

/// Changes to a position (its code is fixed: workflow definitions name it).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionUpdate {
    /// The version read.
    pub version: i32,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// Update a position.
#[utoipa::path(patch, path = "/positions/{id}", tag = "positions", params(("id" = i64, Path, description = "Position id")),
    request_body = PositionUpdate,
    responses((status = 200, description = "Updated", body = Position)), security(("bearer" = ["positions.write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(update): Json<PositionUpdate>,
) -> Result<Json<Position>, ApiError> {
    let mut checks = Checks::default();
    if let Some(name) = &update.name {
        checks.text("name", name, 100);
    }
    if let Some(description) = &update.description {
        checks.check(description.chars().count() <= 500, "description", "must be at most 500 characters");
    }
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("SELECT 1 FROM staff_positions WHERE id = $1 FOR UPDATE").bind(id).execute(&mut *tx).await?;
    let before = TABLE.load(&mut tx, &caller, id).await?;
    if before.version != update.version {
        return Err(ApiError::stale(before.version));
    }
    sqlx::query(
        "UPDATE staff_positions SET name = COALESCE($2, name), description = COALESCE($3, description), version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(update.name.as_deref().map(str::trim))
    .bind(update.description.as_deref().map(str::trim))
    .execute(&mut *tx)
    .await?;
    let after = TABLE.load(&mut tx, &caller, id).await?;
    let change = Change::new("update", "position", id, None).before(json!(before)).after(json!(after));
    audit::record(&mut *tx, caller.author(), change).await?;
    tx.commit().await?;
    Ok(Json(after))
}
