//! The audit log: every mutation records who, when, which entity, the action, the values before
//! and after, the request id and the client address. Rows are written in the same transaction
//! as the change they describe; the database refuses to update or delete them. Staff read them
//! with [`list`], scoped to their region.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::{Actor, Author};
use crate::error::Error;
use crate::kit::list::{PageParams, Paged, Table};

/// One change to record.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// What was done (`create`, `update`, `login_failed`, `reveal`, `approve`...).
    pub action: &'a str,
    /// The kind of entity (`user`, `role`, `workflow_instance`...).
    pub entity_type: &'a str,
    /// Its id.
    pub entity_id: String,
    /// Its region, for scoping audit queries; `None` for global records.
    pub region_id: Option<i64>,
    /// Its values before (masked where sensitive).
    pub before: Option<Value>,
    /// Its values after (masked where sensitive).
    pub after: Option<Value>,
}

impl<'a> Change<'a> {
    /// `action` done to the entity `entity_type` `entity_id`, of `region_id` (`None`: company-wide).
    pub fn new(action: &'a str, entity_type: &'a str, entity_id: impl ToString, region_id: Option<i64>) -> Self {
        Self { action, entity_type, entity_id: entity_id.to_string(), region_id, before: None, after: None }
    }

    /// With the values before (masked where sensitive).
    pub fn before(self, before: impl Into<Option<Value>>) -> Self {
        Self { before: before.into(), ..self }
    }

    /// With the values after (masked where sensitive).
    pub fn after(self, after: impl Into<Option<Value>>) -> Self {
        Self { after: after.into(), ..self }
    }
}

/// Appends `change` by `author`.
pub async fn record(db: impl PgExecutor<'_>, author: Author<'_>, change: Change<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (user_id, username, action, entity_type, entity_id, region_id, before, after,
                                request_id, client_addr)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(author.user_id)
    .bind(author.username)
    .bind(change.action)
    .bind(change.entity_type)
    .bind(change.entity_id)
    .bind(change.region_id)
    .bind(change.before)
    .bind(change.after)
    .bind(author.meta.request_id.as_deref())
    .bind(author.meta.client_addr.as_deref())
    .execute(db)
    .await?;
    Ok(())
}

/// A record whose every change is audited whole: what it was and what it became.
pub trait Audited: Serialize {
    /// Its entity type in the audit log.
    const ENTITY: &'static str;
    /// Its id.
    fn id(&self) -> i64;
    /// Its region.
    fn region_id(&self) -> i64;
}

/// Records `action` by `actor` on a record, as it was (`before`, none when made) and as it is.
pub async fn changed<T: Audited>(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    action: &str,
    before: Option<&T>,
    after: &T,
) -> Result<(), sqlx::Error> {
    let change = Change::new(action, T::ENTITY, after.id(), Some(after.region_id()))
        .before(before.map(|b| serde_json::json!(b)))
        .after(serde_json::json!(after));
    record(db, actor.author(), change).await
}

/// One audit record.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct AuditEvent {
    /// Id, increasing.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (absent for failed logins of unknown names).
    pub user_id: Option<i64>,
    /// Their user name.
    pub username: Option<String>,
    /// What was done.
    pub action: String,
    /// The kind of entity.
    pub entity_type: String,
    /// Its id.
    pub entity_id: Option<String>,
    /// Its region.
    pub region_id: Option<i64>,
    /// Values before.
    pub before: Option<Value>,
    /// Values after.
    pub after: Option<Value>,
    /// The request's id.
    pub request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
}

/// Filters of the audit query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Entity kind (`user`, `workflow_instance`...).
    pub entity_type: Option<String>,
    /// Entity id.
    pub entity_id: Option<String>,
    /// Acting user.
    pub user_id: Option<i64>,
    /// Action.
    pub action: Option<String>,
    /// From this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive).
    pub to: Option<DateTime<Utc>>,
}

/// How the audit log is read: the records of the actor's region subtree, and company-wide records
/// (users, roles, settings) for actors at the head office.
const TABLE: Table<AuditEvent> = Table::new(
    "audit record",
    "SELECT a.id, a.at, a.user_id, a.username, a.action, a.entity_type, a.entity_id, a.region_id,
        a.before, a.after, a.request_id, a.client_addr",
    "FROM audit_log a LEFT JOIN regions g ON g.id = a.region_id",
    "a.id",
)
.scoped("g.path")
.root_also_sees("a.region_id IS NULL")
.sorted(&[("at", "a.at"), ("id", "a.id")], "-at");

/// The audit records of the actor's region subtree (and company-wide ones at the head office),
/// newest first by default.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &AuditFilter,
) -> Result<Paged<AuditEvent>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("a.entity_type", filter.entity_type.clone())
                .eq("a.entity_id", filter.entity_id.clone())
                .eq("a.user_id", filter.user_id)
                .eq("a.action", filter.action.clone())
                .at_least("a.at", filter.from)
                .before("a.at", filter.to);
        })
        .await
}
