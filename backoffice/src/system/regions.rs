//! The region tree (区域: company → province → city → branch) that scopes every record. An actor
//! sees and edits only their own region's subtree; moving a region moves its subtree. Every change is
//! audited.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};

/// The levels of the tree, from the root down.
const LEVELS: &[&str] = &["company", "province", "city", "branch"];

/// A region.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Region {
    /// Id.
    pub id: i64,
    /// Parent region; none for the company.
    pub parent_id: Option<i64>,
    /// Unique code (`GD-SZ`).
    pub code: String,
    /// Name.
    pub name: String,
    /// `company`, `province`, `city` or `branch`.
    pub level: String,
    /// Ids from the root, `/1/4/9/`.
    pub path: String,
    /// For optimistic concurrency.
    pub version: i32,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// How regions are read: a user sees their own region and those below it.
const TABLE: Table<Region> = Table::new(
    "region",
    "SELECT g.id, g.parent_id, g.code, g.name, g.level, g.path, g.version, g.created_at",
    "FROM regions g",
    "g.id",
)
.scoped("g.path")
.sorted(&[("path", "g.path"), ("code", "g.code"), ("name", "g.name"), ("id", "g.id")], "path");

/// Filters of the region list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegionFilter {
    /// Only this level.
    pub level: Option<String>,
    /// Only direct children of this region.
    pub parent_id: Option<i64>,
}

/// The regions of the actor's subtree, in tree order by default.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &RegionFilter,
) -> Result<Paged<Region>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("g.level", filter.level.clone().filter(|l| !l.is_empty())).eq("g.parent_id", filter.parent_id);
        })
        .await
}

/// The region `id`, if in the actor's subtree.
pub async fn get(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Region, Error> {
    TABLE.load(db, actor, id).await
}

/// A new region.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRegion {
    /// Parent, within the actor's subtree.
    pub parent_id: i64,
    /// Unique code.
    #[schema(min_length = 1, max_length = 32, pattern = r"\S")]
    pub code: String,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// A level below the parent's.
    #[schema(pattern = r"^(province|city|branch)$")]
    pub level: String,
}

fn check_level(checks: &mut Checks, parent: &Region, level: &str) {
    let depth = |l: &str| LEVELS.iter().position(|x| *x == l);
    checks.check(
        matches!((depth(&parent.level), depth(level)), (Some(p), Some(c)) if c > p),
        "level",
        format!("must be one of {} and below the parent's level `{}`", LEVELS.join(", "), parent.level),
    );
}

/// Adds a region under one of the actor's subtree.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewRegion) -> Result<Region, Error> {
    let parent = TABLE
        .load(db, actor, new.parent_id)
        .await
        .map_err(|_| Error::invalid("parent_id", "is not a region in your subtree"))?;
    let mut checks = Checks::default();
    checks.text("code", &new.code, 32).text("name", &new.name, 100);
    check_level(&mut checks, &parent, &new.level);
    checks.finish()?;
    let id: i64 =
        sqlx::query_scalar("INSERT INTO regions (parent_id, code, name, level) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(parent.id)
            .bind(new.code.trim())
            .bind(new.name.trim())
            .bind(&new.level)
            .fetch_one(&mut *db)
            .await?;
    let region = TABLE.load(db, actor, id).await?;
    audit::record(&mut *db, actor.author(), change("create", &region, None)).await?;
    Ok(region)
}

fn change<'a>(action: &'a str, region: &Region, before: Option<&Region>) -> Change<'a> {
    Change::new(action, "region", region.id, Some(region.id)).before(before.map(|b| json!(b))).after(json!(region))
}

/// Changes to a region; moving it moves its subtree.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionUpdate {
    /// The version read.
    pub version: i32,
    /// New code.
    pub code: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New parent, within the actor's subtree and outside the region's own.
    pub parent_id: Option<i64>,
}

/// Changes a region of the actor's subtree (with the version that was read); moving it moves its
/// subtree.
pub async fn update(db: &mut PgConnection, actor: &Actor, id: i64, update: &RegionUpdate) -> Result<Region, Error> {
    let mut checks = Checks::default();
    if let Some(code) = &update.code {
        checks.text("code", code, 32);
    }
    if let Some(name) = &update.name {
        checks.text("name", name, 100);
    }
    checks.finish()?;
    // One region move at a time, so that two moves cannot make a cycle.
    sqlx::query("LOCK TABLE regions IN SHARE ROW EXCLUSIVE MODE").execute(&mut *db).await?;
    let before = TABLE.load(db, actor, id).await?;
    if before.version != update.version {
        return Err(Error::stale(before.version));
    }
    if let Some(parent_id) = update.parent_id.filter(|p| Some(*p) != before.parent_id) {
        if id == actor.region_id || before.parent_id.is_none() {
            return Err(Error::invalid("parent_id", "your own region and the company cannot be moved"));
        }
        let parent = TABLE
            .load(db, actor, parent_id)
            .await
            .map_err(|_| Error::invalid("parent_id", "is not a region in your subtree"))?;
        let mut checks = Checks::default();
        checks.check(!parent.path.starts_with(&before.path), "parent_id", "cannot be the region itself or below it");
        check_level(&mut checks, &parent, &before.level);
        checks.finish()?;
        let new_path = format!("{}{}/", parent.path, id);
        sqlx::query("UPDATE regions SET path = $2 || substr(path, length($1) + 1) WHERE starts_with(path, $1)")
            .bind(&before.path)
            .bind(&new_path)
            .execute(&mut *db)
            .await?;
        sqlx::query("UPDATE regions SET parent_id = $2 WHERE id = $1")
            .bind(id)
            .bind(parent_id)
            .execute(&mut *db)
            .await?;
    }
    sqlx::query(
        "UPDATE regions SET code = COALESCE($2, code), name = COALESCE($3, name), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(update.code.as_deref().map(str::trim))
    .bind(update.name.as_deref().map(str::trim))
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::record(&mut *db, actor.author(), change("update", &after, Some(&before))).await?;
    Ok(after)
}
