//! Letter templates (通知函模板), versioned per stage: saving a stage's template makes its next
//! version, the earlier ones kept for the letters sent with them. The body names the letter's
//! figures in braces: {customer_name}, {contract_number}, {plate}, {arrears}, {dpd}, {deadline}, {date}.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::placeholders;

/// The figures a body may name.
pub const PLACEHOLDERS: &[&str] = &["customer_name", "contract_number", "plate", "arrears", "dpd", "deadline", "date"];

/// A template version.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct LetterTemplate {
    /// Id.
    pub id: i64,
    /// The bucket it is for (a contract gets the highest stage not above its bucket).
    pub stage: i32,
    /// Its version within the stage.
    pub version: i32,
    /// The letter's title.
    pub title: String,
    /// The letter's text, one paragraph per line.
    pub body: String,
    /// The deadline the letter gives, in days from its date.
    pub deadline_days: i32,
    /// Who saved it.
    pub created_by: Option<i64>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A template to save as its stage's next version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    /// The bucket it is for, 1 to 12.
    #[schema(minimum = 1, maximum = 12)]
    pub stage: i32,
    /// Title.
    #[schema(min_length = 1, max_length = 100)]
    pub title: String,
    /// Text, with the figures in braces.
    #[schema(min_length = 1, max_length = 5000)]
    pub body: String,
    /// Days given to pay, 1 to 90.
    #[schema(minimum = 1, maximum = 90)]
    pub deadline_days: i32,
}

const SELECT: &str =
    "SELECT id, stage, version, title, body, deadline_days, created_by, created_at FROM letter_templates";

/// Every version of every stage: stage, then newest version first.
pub async fn list(db: &mut PgConnection) -> Result<Vec<LetterTemplate>, Error> {
    Ok(sqlx::query_as(&format!("{SELECT} ORDER BY stage, version DESC")).fetch_all(db).await?)
}

/// The template a contract in `bucket` gets: the newest version of the highest stage not above it.
pub async fn for_bucket(db: &mut PgConnection, bucket: i32) -> Result<Option<LetterTemplate>, Error> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE stage <= $1 ORDER BY stage DESC, version DESC LIMIT 1"))
        .bind(bucket)
        .fetch_optional(db)
        .await?)
}

/// Saves `new` as the next version of its stage. Audited.
pub async fn save(db: &mut PgConnection, actor: &Actor, new: &NewTemplate) -> Result<LetterTemplate, Error> {
    let mut checks = Checks::default();
    checks.check((1..=12).contains(&new.stage), "stage", "must be a bucket from 1 to 12");
    checks.text("title", &new.title, 100).text("body", &new.body, 5000);
    checks.check((1..=90).contains(&new.deadline_days), "deadline_days", "must be 1 to 90 days");
    let unknown = placeholders::unknown(&new.body, PLACEHOLDERS);
    checks.check(
        unknown.is_empty(),
        "body",
        format!(
            "{{{}}} is not a figure a letter has; use {}",
            unknown.join("}, {"),
            PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(" ")
        ),
    );
    checks.finish()?;
    // One writer at a time per stage: the next version number is taken under the lock.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('letter_templates'), $1)")
        .bind(new.stage)
        .execute(&mut *db)
        .await?;
    let saved: LetterTemplate = sqlx::query_as(
        "INSERT INTO letter_templates (stage, version, title, body, deadline_days, created_by)
         SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4, $5 FROM letter_templates WHERE stage = $1
         RETURNING id, stage, version, title, body, deadline_days, created_by, created_at",
    )
    .bind(new.stage)
    .bind(new.title.trim())
    .bind(new.body.trim())
    .bind(new.deadline_days)
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("create", "letter_template", saved.id, None).after(json!(saved));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(saved)
}
