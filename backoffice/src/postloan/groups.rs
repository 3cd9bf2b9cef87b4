//! Collection groups (催收组别) and their members (催收组员): who works which part of the overdue book.
//! A group is kept by a region (who may see and change it), works some delinquency buckets in some
//! regions' subtrees, and has members, one of whom may lead it; an absent member stays in the group
//! but gets no new work. Every change is audited; members are replaced as a whole with the group.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::types::Json as SqlJson;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{self, PageParams, Paged, Table};
use crate::kit::version;

/// The highest bucket a group may work (M9: beyond 240 days).
pub const MAX_BUCKET: i32 = 9;

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    /// The user.
    pub user_id: i64,
    /// Their login name.
    pub username: String,
    /// Their name.
    pub display_name: String,
    /// Leads the group.
    pub leader: bool,
    /// Gets new work (false while absent).
    pub active: bool,
}

/// A collection group with its members.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct CollectionGroup {
    /// Id.
    pub id: i64,
    /// Unique code.
    pub code: String,
    /// Name.
    pub name: String,
    /// The region that keeps it.
    pub region_id: i64,
    /// That region's name.
    pub region_name: String,
    /// The buckets it works (1 = M1).
    pub buckets: Vec<i32>,
    /// The regions whose contracts it works, each with its subtree (none: its own region's).
    pub regions: Vec<i64>,
    /// Gets new work.
    pub active: bool,
    /// How new work is shared among its collectors: `contracts` (fewest held) or `amount` (least
    /// overdue amount held).
    pub balance: String,
    /// Its members, by login name.
    #[schema(value_type = Vec<Member>)]
    pub members: SqlJson<Vec<Member>>,
    /// Version, for updates.
    pub version: i32,
    /// When added.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// The condition that group `cg` (kept by region `kg`) works contract `c` (in region `g`): the
/// contract's bucket, in a region the group works or, naming none, in its own region's subtree.
pub(crate) const WORKS_CONTRACT: &str = "c.bucket = ANY(cg.buckets)
    AND (cardinality(cg.regions) = 0 AND starts_with(g.path, kg.path)
         OR EXISTS (SELECT 1 FROM regions wr WHERE wr.id = ANY(cg.regions) AND starts_with(g.path, wr.path)))";

/// How groups are read: those kept by a region of the actor's subtree.
const TABLE: Table<CollectionGroup> = Table::new(
    "collection group",
    "SELECT c.id, c.code, c.name, c.region_id, g.name AS region_name, c.buckets, c.regions, c.active, c.balance,
        COALESCE((SELECT json_agg(json_build_object('user_id', u.id, 'username', u.username, 'display_name',
                    u.display_name, 'leader', m.leader, 'active', m.active) ORDER BY u.username)
                  FROM collection_group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = c.id),
                 '[]') AS members,
        c.version, c.created_at, c.updated_at",
    "FROM collection_groups c JOIN regions g ON g.id = c.region_id",
    "c.id",
)
.scoped("g.path")
.sorted(&[("code", "c.code"), ("name", "c.name"), ("created_at", "c.created_at")], "code");

/// Filters of the group list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupFilter {
    /// Groups working this bucket.
    pub bucket: Option<i32>,
    /// Groups this user is a member of.
    pub user_id: Option<i64>,
    /// Only those getting new work (or only the others).
    pub active: Option<bool>,
}

/// The groups kept by the actor's region subtree.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &GroupFilter,
) -> Result<Paged<CollectionGroup>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("c.active", filter.active);
            if let Some(bucket) = filter.bucket {
                f.and().push_bind(bucket).push(" = ANY(c.buckets)");
            }
            if let Some(user) = filter.user_id {
                f.and()
                    .push("EXISTS (SELECT 1 FROM collection_group_members m WHERE m.group_id = c.id AND m.user_id = ")
                    .push_bind(user)
                    .push(")");
            }
        })
        .await
}

/// The group `id`, if kept in the actor's region subtree.
pub async fn get(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<CollectionGroup, Error> {
    TABLE.load(db, actor, id).await
}

/// A member as a request names them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    /// The user, in the actor's region subtree.
    pub user_id: i64,
    /// Leads the group (one leader at most).
    #[serde(default)]
    pub leader: bool,
    /// Gets new work (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A new group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// Unique code: lower-case letters, digits and `_`.
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub code: String,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// The region that keeps it, within the actor's subtree.
    pub region_id: i64,
    /// The buckets it works, 1 to 9.
    pub buckets: Vec<i32>,
    /// The regions whose contracts it works, within the actor's subtree (none: its own region's).
    #[serde(default)]
    pub regions: Vec<i64>,
    /// Its members.
    #[serde(default)]
    pub members: Vec<MemberSpec>,
    /// How new work is shared: `contracts` (the default) or `amount`.
    #[serde(default = "by_contracts")]
    pub balance: String,
}

fn by_contracts() -> String {
    "contracts".to_owned()
}

/// The ways a group shares new work among its collectors.
pub const BALANCES: &[&str] = &["contracts", "amount"];

/// Changes to a group; fields left out stay. `members` replaces every member.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    /// The version that was read.
    pub version: i32,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// The region that keeps it.
    pub region_id: Option<i64>,
    /// The buckets it works.
    pub buckets: Option<Vec<i32>>,
    /// The regions whose contracts it works.
    pub regions: Option<Vec<i64>>,
    /// Gets new work.
    pub active: Option<bool>,
    /// How new work is shared: `contracts` or `amount`.
    pub balance: Option<String>,
    /// Every member.
    pub members: Option<Vec<MemberSpec>>,
}

/// Whether `balance`, when given, is a way of sharing work.
fn check_balance(checks: &mut Checks, balance: Option<&str>) {
    checks.check(balance.is_none_or(|b| BALANCES.contains(&b)), "balance", "must be contracts or amount");
}

/// What is wrong with a group's buckets and members, without the database.
fn check_shape(checks: &mut Checks, buckets: Option<&[i32]>, members: Option<&[MemberSpec]>) {
    if let Some(buckets) = buckets {
        checks.check(!buckets.is_empty(), "buckets", "a group works at least one bucket");
        checks.check(
            buckets.iter().all(|b| (1..=MAX_BUCKET).contains(b)),
            "buckets",
            format!("must be 1 (M1) to {MAX_BUCKET} (M{MAX_BUCKET})"),
        );
    }
    if let Some(members) = members {
        checks.check(members.iter().filter(|m| m.leader).count() <= 1, "members", "a group has one leader at most");
        let mut ids: Vec<i64> = members.iter().map(|m| m.user_id).collect();
        ids.sort_unstable();
        ids.dedup();
        checks.check(ids.len() == members.len(), "members", "a user is a member once");
    }
}

/// Refuses regions and users outside the actor's region subtree.
async fn check_reach(
    db: &mut PgConnection,
    actor: &Actor,
    regions: &[i64],
    members: &[MemberSpec],
) -> Result<(), Error> {
    for region in regions {
        list::region_in_scope(db, actor, *region)
            .await
            .map_err(|_| Error::invalid("regions", format!("region {region} is not in your regions")))?;
    }
    let users: Vec<i64> = members.iter().map(|m| m.user_id).collect();
    let found: Vec<i64> = sqlx::query_scalar(
        "SELECT u.id FROM users u JOIN regions g ON g.id = u.region_id WHERE u.id = ANY($1) AND starts_with(g.path, $2)",
    )
    .bind(&users)
    .bind(&actor.region_path)
    .fetch_all(&mut *db)
    .await?;
    match users.iter().find(|u| !found.contains(u)) {
        Some(user) => Err(Error::invalid("members", format!("user {user} is not a user of your regions"))),
        None => Ok(()),
    }
}

async fn set_members(db: &mut PgConnection, group: i64, members: &[MemberSpec]) -> Result<(), Error> {
    sqlx::query("DELETE FROM collection_group_members WHERE group_id = $1").bind(group).execute(&mut *db).await?;
    let users: Vec<i64> = members.iter().map(|m| m.user_id).collect();
    let leaders: Vec<bool> = members.iter().map(|m| m.leader).collect();
    let active: Vec<bool> = members.iter().map(|m| m.active).collect();
    sqlx::query(
        "INSERT INTO collection_group_members (group_id, user_id, leader, active)
         SELECT $1, * FROM unnest($2::bigint[], $3::boolean[], $4::boolean[])",
    )
    .bind(group)
    .bind(&users)
    .bind(&leaders)
    .bind(&active)
    .execute(db)
    .await?;
    Ok(())
}

/// Buckets in order, once each.
fn sorted(buckets: &[i32]) -> Vec<i32> {
    let mut buckets = buckets.to_vec();
    buckets.sort_unstable();
    buckets.dedup();
    buckets
}

/// Adds a group with its members; audited.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewGroup) -> Result<CollectionGroup, Error> {
    let mut checks = Checks::default();
    checks.code("code", &new.code).text("name", &new.name, 100);
    check_shape(&mut checks, Some(&new.buckets), Some(&new.members));
    check_balance(&mut checks, Some(&new.balance));
    checks.finish()?;
    list::region_in_scope(db, actor, new.region_id).await?;
    check_reach(db, actor, &new.regions, &new.members).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO collection_groups (code, name, region_id, buckets, regions, balance)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&new.code)
    .bind(new.name.trim())
    .bind(new.region_id)
    .bind(sorted(&new.buckets))
    .bind(&new.regions)
    .bind(&new.balance)
    .fetch_one(&mut *db)
    .await?;
    set_members(db, id, &new.members).await?;
    let group = TABLE.load(db, actor, id).await?;
    let entry = Change::new("create", "collection_group", id, Some(group.region_id)).after(json!(group));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(group)
}

/// Changes a group, if the actor read its current version; audited.
pub async fn update(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    update: &GroupUpdate,
) -> Result<CollectionGroup, Error> {
    let mut checks = Checks::default();
    if let Some(name) = &update.name {
        checks.text("name", name, 100);
    }
    check_shape(&mut checks, update.buckets.as_deref(), update.members.as_deref());
    check_balance(&mut checks, update.balance.as_deref());
    checks.finish()?;
    let before = TABLE.lock(db, actor, id).await?;
    version::check(update.version, before.version)?;
    if let Some(region) = update.region_id {
        list::region_in_scope(db, actor, region).await?;
    }
    check_reach(
        db,
        actor,
        update.regions.as_deref().unwrap_or_default(),
        update.members.as_deref().unwrap_or_default(),
    )
    .await?;
    sqlx::query(
        "UPDATE collection_groups SET name = COALESCE($2, name), region_id = COALESCE($3, region_id),
                buckets = COALESCE($4, buckets), regions = COALESCE($5, regions), active = COALESCE($6, active),
                balance = COALESCE($7, balance), version = version + 1, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(update.name.as_deref().map(str::trim))
    .bind(update.region_id)
    .bind(update.buckets.as_deref().map(sorted))
    .bind(&update.regions)
    .bind(update.active)
    .bind(&update.balance)
    .execute(&mut *db)
    .await?;
    if let Some(members) = &update.members {
        set_members(db, id, members).await?;
    }
    let after = TABLE.load(db, actor, id).await?;
    let entry =
        Change::new("update", "collection_group", id, Some(after.region_id)).before(json!(before)).after(json!(after));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(user_id: i64, leader: bool) -> MemberSpec {
        MemberSpec { user_id, leader, active: true }
    }

    #[test]
    fn a_group_works_real_buckets_with_one_leader_and_each_member_once() {
        let refused = |buckets: &[i32], members: &[MemberSpec]| {
            let mut checks = Checks::default();
            check_shape(&mut checks, Some(buckets), Some(members));
            checks.finish().is_err()
        };
        assert!(!refused(&[1, 2], &[member(1, true), member(2, false)]));
        assert!(refused(&[], &[]), "no bucket");
        assert!(refused(&[0], &[]), "current contracts are not collected");
        assert!(refused(&[10], &[]));
        assert!(refused(&[1], &[member(1, true), member(2, true)]), "two leaders");
        assert!(refused(&[1], &[member(1, false), member(1, false)]), "twice the same user");
        assert_eq!(sorted(&[3, 1, 3]), vec![1, 3]);
    }
}
