//! Staff positions (岗位: 初审员, 复审员, 催收员, 财务...) that workflow stages and risk tasks are
//! assigned to. Company-wide: every reader sees every position. A position's code is fixed once
//! made, since workflow definitions name it; every change is audited.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};
use crate::kit::version;

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

/// The positions.
pub async fn list(pool: &PgPool, actor: &Actor, page: &PageParams) -> Result<Paged<Position>, Error> {
    TABLE.list(pool, actor, page, |_| {}).await
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

/// A name and description, when given; shared by creating and updating.
fn check_text(checks: &mut Checks, name: Option<&str>, description: Option<&str>) {
    if let Some(name) = name {
        checks.text("name", name, 100);
    }
    if let Some(description) = description {
        checks.check(description.chars().count() <= 500, "description", "must be at most 500 characters");
    }
}

/// Creates a position.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewPosition) -> Result<Position, Error> {
    let mut checks = Checks::default();
    checks.code("code", &new.code);
    check_text(&mut checks, Some(&new.name), Some(&new.description));
    checks.finish()?;
    let id: i64 =
        sqlx::query_scalar("INSERT INTO staff_positions (code, name, description) VALUES ($1, $2, $3) RETURNING id")
            .bind(&new.code)
            .bind(new.name.trim())
            .bind(new.description.trim())
            .fetch_one(&mut *db)
            .await?;
    let position = TABLE.load(db, actor, id).await?;
    let change = Change::new("create", "position", id, None).after(json!(position));
    audit::record(&mut *db, actor.author(), change).await?;
    Ok(position)
}

/// Renames or redescribes a position, if the actor read its current version.
pub async fn update(db: &mut PgConnection, actor: &Actor, id: i64, update: &PositionUpdate) -> Result<Position, Error> {
    let mut checks = Checks::default();
    check_text(&mut checks, update.name.as_deref(), update.description.as_deref());
    checks.finish()?;
    let before = TABLE.lock(db, actor, id).await?;
    version::check(update.version, before.version)?;
    sqlx::query(
        "UPDATE staff_positions SET name = COALESCE($2, name), description = COALESCE($3, description), version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(update.name.as_deref().map(str::trim))
    .bind(update.description.as_deref().map(str::trim))
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    let change = Change::new("update", "position", id, None).before(json!(before)).after(json!(after));
    audit::record(&mut *db, actor.author(), change).await?;
    Ok(after)
}
