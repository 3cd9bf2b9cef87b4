//! Roles (角色): named sets of permissions from the catalogue. Company-wide: every reader sees every
//! role. A user may put into a role only permissions they hold; the built-in administrator role
//! always has every permission and cannot be edited. Every change is audited.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};

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

/// The roles.
pub async fn list(pool: &PgPool, actor: &Actor, page: &PageParams) -> Result<Paged<Role>, Error> {
    TABLE.list(pool, actor, page, |_| {}).await
}

/// The role `id`.
pub async fn get(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Role, Error> {
    TABLE.load(db, actor, id).await
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
    /// Permission names from the catalogue; the actor must hold each.
    pub permissions: Vec<String>,
}

fn check_permissions(checks: &mut Checks, actor: &Actor, permissions: &[String]) -> Result<(), Error> {
    for p in permissions {
        checks.check(crate::system::permissions::exists(p), "permissions", format!("`{p}` is not a permission"));
    }
    checks.finish()?;
    match permissions.iter().find(|p| !actor.can(p)) {
        Some(p) => Err(Error::Forbidden {
            code: "cannot_grant",
            detail: format!("you cannot put `{p}` in a role: you do not hold it"),
        }),
        None => Ok(()),
    }
}

async fn set_permissions(db: &mut PgConnection, id: i64, permissions: &[String]) -> Result<(), Error> {
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

/// Adds a role; the actor must hold every permission it grants.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewRole) -> Result<Role, Error> {
    let mut checks = Checks::default();
    checks.text("name", &new.name, 64);
    checks.check(new.description.chars().count() <= 500, "description", "must be at most 500 characters");
    check_permissions(&mut checks, actor, &new.permissions)?;
    let id: i64 = sqlx::query_scalar("INSERT INTO roles (name, description) VALUES ($1, $2) RETURNING id")
        .bind(new.name.trim())
        .bind(new.description.trim())
        .fetch_one(&mut *db)
        .await?;
    set_permissions(db, id, &new.permissions).await?;
    let role = TABLE.load(db, actor, id).await?;
    audit::record(&mut *db, actor.author(), change("create", &role, None)).await?;
    Ok(role)
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

/// Changes a role (with the version that was read); the built-in administrator role cannot change.
pub async fn update(db: &mut PgConnection, actor: &Actor, id: i64, update: &RoleUpdate) -> Result<Role, Error> {
    let mut checks = Checks::default();
    if let Some(name) = &update.name {
        checks.text("name", name, 64);
    }
    if let Some(description) = &update.description {
        checks.check(description.chars().count() <= 500, "description", "must be at most 500 characters");
    }
    check_permissions(&mut checks, actor, update.permissions.as_deref().unwrap_or_default())?;
    sqlx::query("SELECT 1 FROM roles WHERE id = $1 FOR UPDATE").bind(id).execute(&mut *db).await?;
    let before = TABLE.load(db, actor, id).await?;
    if before.builtin {
        return Err(Error::invalid_state("the built-in administrator role cannot be edited"));
    }
    if before.version != update.version {
        return Err(Error::stale(before.version));
    }
    sqlx::query(
        "UPDATE roles SET name = COALESCE($2, name), description = COALESCE($3, description), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(update.name.as_deref().map(str::trim))
    .bind(update.description.as_deref().map(str::trim))
    .execute(&mut *db)
    .await?;
    if let Some(permissions) = &update.permissions {
        set_permissions(db, id, permissions).await?;
    }
    let after = TABLE.load(db, actor, id).await?;
    audit::record(&mut *db, actor.author(), change("update", &after, Some(&before))).await?;
    Ok(after)
}
