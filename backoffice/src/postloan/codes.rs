//! Collection states (催收状态) and categories (催收类别): short code lists the company keeps, company-wide.
//! A code once used is retired (inactive), never removed, so the records that carry it still read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};
use crate::kit::version;

/// The kinds of code: `state` (催收状态) and `category` (催收类别).
pub const KINDS: &[&str] = &["state", "category"];

/// A collection state or category.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct CollectionCode {
    /// Id.
    pub id: i64,
    /// `state` or `category`.
    pub kind: String,
    /// Code, unique within its kind.
    pub code: String,
    /// Name.
    pub name: String,
    /// What it means.
    pub description: String,
    /// Offered for new records.
    pub active: bool,
    /// Where it stands in lists.
    pub position: i32,
    /// Version, for updates.
    pub version: i32,
    /// When added.
    pub created_at: DateTime<Utc>,
}

/// How codes are read: company-wide, every reader sees them.
const TABLE: Table<CollectionCode> = Table::new(
    "collection code",
    "SELECT k.id, k.kind, k.code, k.name, k.description, k.active, k.position, k.version, k.created_at",
    "FROM collection_codes k",
    "k.id",
)
.sorted(&[("position", "k.position"), ("code", "k.code"), ("name", "k.name")], "position");

/// Filters of the code list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CodeFilter {
    /// `state` or `category`.
    pub kind: Option<String>,
    /// Only those offered (or only the retired).
    pub active: Option<bool>,
}

/// The codes.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &CodeFilter,
) -> Result<Paged<CollectionCode>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("k.kind", filter.kind.clone()).eq("k.active", filter.active);
        })
        .await
}

/// The code `id`.
pub async fn get(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<CollectionCode, Error> {
    TABLE.load(db, actor, id).await
}

/// A new state or category.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCode {
    /// `state` or `category`.
    #[schema(pattern = "^(state|category)$")]
    pub kind: String,
    /// Code: lower-case letters, digits and `_`.
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub code: String,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// What it means.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    /// Where it stands in lists (default 0).
    #[serde(default)]
    pub position: i32,
}

/// Changes to a code; its kind and code stay (records name them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeUpdate {
    /// The version that was read.
    pub version: i32,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// What it means.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Offered, or retired.
    pub active: Option<bool>,
    /// Where it stands in lists.
    pub position: Option<i32>,
}

fn check_words(checks: &mut Checks, name: Option<&str>, description: Option<&str>) {
    if let Some(name) = name {
        checks.text("name", name, 100);
    }
    if let Some(description) = description {
        checks.check(description.chars().count() <= 500, "description", "must be at most 500 characters");
    }
}

/// Adds a state or category; audited.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewCode) -> Result<CollectionCode, Error> {
    let mut checks = Checks::default();
    checks.check(KINDS.contains(&new.kind.as_str()), "kind", "must be state or category");
    checks.code("code", &new.code);
    check_words(&mut checks, Some(&new.name), Some(&new.description));
    checks.finish()?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO collection_codes (kind, code, name, description, position) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&new.kind)
    .bind(&new.code)
    .bind(new.name.trim())
    .bind(new.description.trim())
    .bind(new.position)
    .fetch_one(&mut *db)
    .await?;
    let code = TABLE.load(db, actor, id).await?;
    audit::record(&mut *db, actor.author(), Change::new("create", "collection_code", id, None).after(json!(code)))
        .await?;
    Ok(code)
}

/// Renames, re-describes, reorders, retires or restores a code, if the actor read its current version.
pub async fn update(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    update: &CodeUpdate,
) -> Result<CollectionCode, Error> {
    let mut checks = Checks::default();
    check_words(&mut checks, update.name.as_deref(), update.description.as_deref());
    checks.finish()?;
    let before = TABLE.lock(db, actor, id).await?;
    version::check(update.version, before.version)?;
    sqlx::query(
        "UPDATE collection_codes SET name = COALESCE($2, name), description = COALESCE($3, description),
                active = COALESCE($4, active), position = COALESCE($5, position), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(update.name.as_deref().map(str::trim))
    .bind(update.description.as_deref().map(str::trim))
    .bind(update.active)
    .bind(update.position)
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    let entry = Change::new("update", "collection_code", id, None).before(json!(before)).after(json!(after));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(after)
}
