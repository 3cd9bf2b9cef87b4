//! Workflow definitions as staff read and write them: versioned, company-wide. A new version of a
//! key leaves running instances on the version they started with; every position a stage names
//! must exist.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::types::Json as SqlJson;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::ToSchema;

use super::definition::{self, Stage};
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};

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
pub async fn list_latest(pool: &PgPool, actor: &Actor, page: &PageParams) -> Result<Paged<Definition>, Error> {
    DEFINITIONS
        .list(pool, actor, page, |f| {
            f.and().push("d.version = (SELECT max(version) FROM workflow_definitions x WHERE x.key = d.key)");
        })
        .await
}

/// The definition `key` at `version`, or its latest version.
pub async fn get(pool: &PgPool, key: &str, version: Option<i32>) -> Result<Definition, Error> {
    sqlx::query_as(&format!(
        "{} {} WHERE d.key = $1 AND ($2::int IS NULL OR d.version = $2) ORDER BY d.version DESC LIMIT 1",
        DEFINITIONS.select, DEFINITIONS.from
    ))
    .bind(key)
    .bind(version)
    .fetch_optional(pool)
    .await?
    .ok_or(Error::NotFound("workflow definition"))
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

/// Adds a definition, or the next version of an existing one; audited.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewDefinition) -> Result<Definition, Error> {
    let mut checks = Checks::default();
    checks.code("key", &new.key);
    checks.text("name", &new.name, 100);
    definition::validate(&mut checks, &new.stages);
    let codes: Vec<&str> = new.stages.iter().map(|s| s.position.as_str()).collect();
    let known: Vec<String> = sqlx::query_scalar("SELECT code FROM staff_positions WHERE code = ANY($1)")
        .bind(&codes)
        .fetch_all(&mut *db)
        .await?;
    for (i, code) in codes.iter().enumerate() {
        checks.check(known.iter().any(|k| k == code), &format!("stages[{i}].position"), "no position has this code");
    }
    checks.finish()?;
    // Versions of one key are numbered one at a time.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('workflow_definitions:' || $1))")
        .bind(&new.key)
        .execute(&mut *db)
        .await?;
    let definition: Definition = sqlx::query_as(
        "INSERT INTO workflow_definitions (key, version, name, stages, created_by)
         SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4 FROM workflow_definitions WHERE key = $1
         RETURNING id, key, version, name, stages, created_at",
    )
    .bind(&new.key)
    .bind(new.name.trim())
    .bind(SqlJson(&new.stages))
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("create", "workflow_definition", definition.id, None).after(json!(definition));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(definition)
}
