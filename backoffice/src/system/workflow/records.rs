//! The workflow's records: a definition as stored, an instance on a business object, the tasks of
//! its stages, its history, and what callers send to start one or act on a task.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use sqlx::types::Json as SqlJson;
use utoipa::ToSchema;

use super::definition::Stage;

/// A definition as stored.
#[derive(Debug, Clone, FromRow)]
pub struct DefinitionRow {
    /// Its id (one per version).
    pub id: i64,
    /// Its key, shared by its versions.
    pub key: String,
    /// Its version.
    pub version: i32,
    /// Its name.
    pub name: String,
    /// Its stages.
    pub stages: SqlJson<Vec<Stage>>,
}

/// A workflow instance attached to a business object.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Instance {
    /// Its id.
    pub id: i64,
    /// The definition key.
    pub definition_key: String,
    /// The definition version it runs.
    pub definition_version: i32,
    /// The kind of business object (`application`, `write_off`...).
    pub subject_type: String,
    /// The business object's id.
    pub subject_id: String,
    /// A line for inboxes.
    pub title: String,
    /// The region it belongs to.
    pub region_id: i64,
    /// Who submitted it.
    pub maker_id: i64,
    /// `active`, `approved`, `rejected` or `cancelled`.
    pub status: String,
    /// The stage it waits at (from 0).
    pub stage: i32,
    /// For optimistic concurrency.
    pub version: i32,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A task: one stage of one instance, waiting for someone of its position.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Task {
    /// Its id.
    pub id: i64,
    /// Its instance.
    pub instance_id: i64,
    /// The instance's title.
    pub title: String,
    /// The instance's subject type.
    pub subject_type: String,
    /// The instance's subject id.
    pub subject_id: String,
    /// The stage (from 0).
    pub stage: i32,
    /// The position that acts.
    pub position_code: String,
    /// Who claimed it or had it transferred to them.
    pub assignee_id: Option<i64>,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    /// When it becomes overdue (the stage's SLA).
    pub due_at: Option<DateTime<Utc>>,
    /// Whether it is open past its due time.
    pub overdue: bool,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was closed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Who closed it.
    pub completed_by: Option<i64>,
    /// The action that closed it.
    pub outcome: Option<String>,
}

/// One entry of an instance's history.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct HistoryEntry {
    /// Its id.
    pub id: i64,
    /// The stage it happened at.
    pub stage: i32,
    /// `submit`, `claim`, `approve`, `reject`, `return`, `transfer`, `note` or `cancel`.
    pub action: String,
    /// Who.
    pub actor_id: i64,
    /// Their user name.
    pub actor: String,
    /// Their note.
    pub note: Option<String>,
    /// The stage returned to.
    pub to_stage: Option<i32>,
    /// The user transferred to.
    pub to_user_id: Option<i64>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A new request into a workflow.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstance {
    /// The definition key; its latest version is used.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub definition_key: String,
    /// The kind of business object.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub subject_type: String,
    /// Its id.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub subject_id: String,
    /// A line for inboxes.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    /// The region of the business object (the maker's own when absent).
    pub region_id: Option<i64>,
}

/// An action on a task.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActRequest {
    /// Why, for the history (required for reject and return).
    pub note: Option<String>,
    /// For `return`: the earlier stage to go back to.
    pub to_stage: Option<u32>,
    /// For `transfer`: the user to hand the task to.
    pub to_user_id: Option<i64>,
}
