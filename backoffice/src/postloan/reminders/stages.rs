//! The reminder stages (提醒节点): days from the due date a message goes out at (-3, 0, 1, 7...),
//! each with its text; changed by whoever configures post-loan, audited.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::placeholders;

/// The figures a reminder's text may name.
pub const PLACEHOLDERS: &[&str] = &["customer_name", "contract_number", "amount", "due_date"];

/// A stage.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ReminderStage {
    /// Id.
    pub id: i64,
    /// Days from the due date (negative: before it).
    pub offset_days: i32,
    /// The text, with {customer_name}, {contract_number}, {amount}, {due_date}.
    pub template: String,
    /// Whether messages go out at it.
    pub active: bool,
    /// Version, for changes.
    pub version: i32,
}

/// A stage to set: added, or its text and state changed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetReminderStage {
    /// Days from the due date, -30 to 90.
    #[schema(minimum = -30, maximum = 90)]
    pub offset_days: i32,
    /// The text (at most 300 characters).
    #[schema(min_length = 1, max_length = 300)]
    pub template: String,
    /// Whether messages go out at it.
    pub active: bool,
}

/// Every stage, earliest first.
pub async fn list(db: &mut PgConnection) -> Result<Vec<ReminderStage>, Error> {
    Ok(sqlx::query_as("SELECT id, offset_days, template, active, version FROM reminder_stages ORDER BY offset_days")
        .fetch_all(db)
        .await?)
}

/// Adds the stage at `offset_days`, or changes it. Audited.
pub async fn set(db: &mut PgConnection, actor: &Actor, stage: &SetReminderStage) -> Result<ReminderStage, Error> {
    let mut checks = Checks::default();
    checks.check((-30..=90).contains(&stage.offset_days), "offset_days", "must be -30 to 90 days from the due date");
    checks.text("template", &stage.template, 300);
    let unknown = placeholders::unknown(&stage.template, PLACEHOLDERS);
    checks.check(
        unknown.is_empty(),
        "template",
        format!("{{{}}} is not a figure a reminder has", unknown.join("}, {")),
    );
    checks.finish()?;
    let saved: ReminderStage = sqlx::query_as(
        "INSERT INTO reminder_stages (offset_days, template, active) VALUES ($1, $2, $3)
         ON CONFLICT (offset_days) DO UPDATE SET template = EXCLUDED.template, active = EXCLUDED.active,
             version = reminder_stages.version + 1
         RETURNING id, offset_days, template, active, version",
    )
    .bind(stage.offset_days)
    .bind(stage.template.trim())
    .bind(stage.active)
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("set", "reminder_stage", saved.id, None).after(json!(saved));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(saved)
}
