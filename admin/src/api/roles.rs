//! `/api/v1/roles` and `/api/v1/permissions`: roles (角色) are named sets of permissions.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update)).routes(routes!(permissions))
}

/// A role.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Role {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The permissions it grants, sorted.
    pub permissions: Vec<String>,
    /// Built in (the administrator): it always has every permission and cannot be edited.
    pub builtin: bool,
    /// For optimistic concurrency.
    pub version: i32,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// How roles are read: company-wide, every reader sees them.
const TABLE: Table<Role> = Table::new(
    "role",
    "SELECT r.id, r.name, r.description,
        ARRAY(SELECT permission FROM role_permissions WHERE role_id = r.id ORDER BY permission) AS permissions,
        r.builtin, r.version, r.created_at",
    "FROM roles r",
    "r.id",
)
.sorted(&[("name", "r.name"), ("created_at", "r.created_at"), ("id", "r.id")], "name");

/// List roles.
#[utoipa::path(get, path = "/roles", tag = "roles", params(PageParams),
    responses((status = 200, description = "A page of roles", body = Paged<Role>)), security(("bearer" = ["roles.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Role>>, ApiError> {
    Ok(Json(TABLE.list(&state.pool, &caller, &page, |_| {}).await?))
}

/// View one role.
#[utoipa::path(get, path = "/roles/{id}", tag = "roles", params(("id" = i64, Path, description = "Role id")),
    responses((status = 200, description = "The role", body = Role)), security(("bearer" = ["roles.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Role>, ApiError> {
    Ok(Json(TABLE.load(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// A new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    /// Unique name.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub name: String,
    /// What it is for.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    /// Permission names from the catalogue; the caller must hold each.
    pub permissions: Vec<String>,
}

fn check_permissions(checks: &mut Checks, caller: &Caller, permissions: &[String]) -> Result<(), ApiError> {
    for p in permissions {
        checks.check(backoffice::system::permissions::exists(p), "permissions", format!("`{p}` is not a permission"));
    }
    checks.finish()?;
    match permissions.iter().find(|p| !caller.can(p)) {
        Some(p) => Err(ApiError::Forbidden {
            code: "cannot_grant",
            detail: format!("you cannot put `{p}` in a role: you do not hold it"),
        }),
        None => Ok(()),
    }
}

async fn set_permissions(db: &mut PgConnection, id: i64, permissions: &[String]) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1").bind(id).execute(&mut *db).await?;
    sqlx::query(
        "INSERT INTO role_permissions (role_id, permission) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(permissions)
    .execute(db)
    .await?;
    Ok(())
}

fn change<'a>(action: &'a str, role: &Role, before: Option<&Role>) -> Change<'a> {
    Change::new(action, "role", role.id, None).before(before.map(|b| json!(b))).after(json!(role))
}

/// Create a role.
#[utoipa::path(post, path = "/roles", tag = "roles", request_body = NewRole,
    responses((status = 201, description = "Created", body = Role)), security(("bearer" = ["roles.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewRole>,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    let mut checks = Checks::default();
    checks.text("name", &new.name, 64);
    checks.check(new.description.chars().count() <= 500, "description", "must be at most 500 characters");
    check_permissions(&mut checks, &caller, &new.permissions)?;
    let mut tx = state.pool.begin().await?;
    let id: i64 = sqlx::query_scalar("INSERT INTO roles (name, description) VALUES ($1, $2) RETURNING id")
        .bind(new.name.trim())
        .bind(new.description.trim())
        .fetch_one(&mut *tx)
        .await?;
    set_permissions(&mut tx, id, &new.permissions).await?;
    let role = TABLE.load(&mut tx, &caller, id).await?;
    audit::record(&mut *tx, caller.author(), change("create", &role, None)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// Changes to a role; absent fields stay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleUpdate {
    /// The version read.
    pub version: i32,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// The permissions, replacing the current ones.
    pub permissions: Option<Vec<String>>,
}

/// Update a role.
#[utoipa::path(patch, path = "/roles/{id}", tag = "roles", params(("id" = i64, Path, description = "Role id")),
    request_body = RoleUpdate,
    responses((status = 200, description = "Updated", body = Role)), security(("bearer" = ["roles.write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(update): Json<RoleUpdate>,
) -> Result<Json<Role>, ApiError> {
    let mut checks = Checks::default();
    if let Some(name) = &update.name {
        checks.text("name", name, 64);
    }
    if let Some(description) = &update.description {
        checks.check(description.chars().count() <= 500, "description", "must be at most 500 characters");
    }
    check_permissions(&mut checks, &caller, update.permissions.as_deref().unwrap_or_default())?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("SELECT 1 FROM roles WHERE id = $1 FOR UPDATE").bind(id).execute(&mut *tx).await?;
    let before = TABLE.load(&mut tx, &caller, id).await?;
    if before.builtin {
        return Err(ApiError::invalid_state("the built-in administrator role cannot be edited"));
    }
    if before.version != update.version {
        return Err(ApiError::stale(before.version));
    }
    sqlx::query(
        "UPDATE roles SET name = COALESCE($2, name), description = COALESCE($3, description), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(update.name.as_deref().map(str::trim))
    .bind(update.description.as_deref().map(str::trim))
    .execute(&mut *tx)
    .await?;
    if let Some(permissions) = &update.permissions {
        set_permissions(&mut tx, id, permissions).await?;
    }
    let after = TABLE.load(&mut tx, &caller, id).await?;
    audit::record(&mut *tx, caller.author(), change("update", &after, Some(&before))).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// A permission of the catalogue.
#[derive(Serialize, FromRow, ToSchema)]
pub struct Permission {
    /// Its name (`users.read`).
    pub name: String,
    /// What it allows.
    pub description: String,
}

/// The permission catalogue.
#[utoipa::path(get, path = "/permissions", tag = "roles",
    responses((status = 200, description = "Every permission", body = Vec<Permission>)), security(("bearer" = ["roles.read"])))]
async fn permissions() -> Json<Vec<Permission>> {
    Json(
        backoffice::system::permissions::CATALOGUE
            .iter()
            .map(|(name, description)| Permission { name: (*name).to_owned(), description: (*description).to_owned() })
            .collect(),
    )
}
