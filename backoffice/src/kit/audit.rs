//! The audit log: every mutation records who, when, which entity, the action, the values before
//! and after, the request id and the client address. Rows are written in the same transaction
//! as the change they describe; the database refuses to update or delete them.

use serde_json::Value;
use sqlx::PgExecutor;

use crate::actor::Author;

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
