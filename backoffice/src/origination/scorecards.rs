//! Scorecards as kept (打分卡管理): versions per code, one champion whose evaluation decides and
//! routes an application, a challenger that may score in its shadow; and the evaluations of an
//! application (风控模型评分), each kept with its inputs and the version that made it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::types::Json as SqlJson;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::ToSchema;

use super::scorecard::{Card, Evaluation};
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};

/// A scorecard version.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Scorecard {
    /// Id of this version.
    pub id: i64,
    /// Code shared by versions.
    pub code: String,
    /// Version, from 1.
    pub version: i32,
    /// Name.
    pub name: String,
    /// Its bins, points, rules and cut-offs.
    #[schema(value_type = Card)]
    pub card: SqlJson<Card>,
    /// `champion`, `challenger` or `retired`.
    pub role: String,
    /// When made.
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT id, code, version, name, card, role, created_at FROM scorecards";

/// Every scorecard version, champion and challenger first.
pub async fn list(pool: &PgPool) -> Result<Vec<Scorecard>, Error> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} ORDER BY CASE role WHEN 'champion' THEN 0 WHEN 'challenger' THEN 1 ELSE 2 END, code, version DESC"
    ))
    .fetch_all(pool)
    .await?)
}

/// A scorecard, or a new version of one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScorecard {
    /// Code: lower-case letters, digits and `_`; an existing code gets a new version.
    pub code: String,
    /// Name.
    pub name: String,
    /// Its bins, points, rules and cut-offs.
    pub card: Card,
    /// `champion` (decides from now on), `challenger` (scores in the shadow) or `retired`.
    #[serde(default = "retired")]
    pub role: String,
}

fn retired() -> String {
    "retired".to_owned()
}

/// Adds a scorecard version; as champion or challenger it takes over that role. Audited.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewScorecard) -> Result<Scorecard, Error> {
    let mut checks = Checks::default();
    checks.code("code", &new.code).text("name", &new.name, 100);
    checks.check(
        matches!(new.role.as_str(), "champion" | "challenger" | "retired"),
        "role",
        "must be champion, challenger or retired",
    );
    new.card.check(&mut checks);
    checks.finish()?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('scorecards'))").execute(&mut *db).await?;
    if new.role != "retired" {
        sqlx::query("UPDATE scorecards SET role = 'retired' WHERE role = $1").bind(&new.role).execute(&mut *db).await?;
    }
    let made: Scorecard = sqlx::query_as(
        "INSERT INTO scorecards (code, version, name, card, role, created_by)
         SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4, $5 FROM scorecards WHERE code = $1
         RETURNING id, code, version, name, card, role, created_at",
    )
    .bind(&new.code)
    .bind(new.name.trim())
    .bind(SqlJson(&new.card))
    .bind(&new.role)
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("create", "scorecard", made.id, None).after(json!(made));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(made)
}

/// An evaluation as kept.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Kept {
    /// The scorecard version.
    pub scorecard_id: i64,
    /// `champion` or `challenger`.
    pub role: String,
    /// The variables' values it scored.
    #[schema(value_type = Object)]
    pub inputs: Value,
    /// The score.
    pub score: i32,
    /// `approve`, `refer` or `decline`.
    pub decision: String,
    /// What drove it.
    #[schema(value_type = Vec<super::scorecard::Reason>)]
    pub reasons: Value,
    /// When.
    pub at: DateTime<Utc>,
}

/// Scores the application `id` on `values` with the champion (and the challenger in its shadow),
/// keeps each evaluation, and returns the champion's; none when no champion is set.
pub async fn evaluate(
    db: &mut PgConnection,
    id: i64,
    values: &BTreeMap<&str, Decimal>,
) -> Result<Option<Evaluation>, Error> {
    let cards: Vec<(i64, String, SqlJson<Card>)> =
        sqlx::query_as("SELECT id, role, card FROM scorecards WHERE role IN ('champion', 'challenger')")
            .fetch_all(&mut *db)
            .await?;
    let mut champion = None;
    for (scorecard, role, card) in cards {
        let evaluation = card.0.evaluate(values);
        sqlx::query(
            "INSERT INTO scorecard_evaluations (application_id, scorecard_id, role, inputs, score, decision, reasons)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(scorecard)
        .bind(&role)
        .bind(json!(values))
        .bind(evaluation.score)
        .bind(&evaluation.decision)
        .bind(json!(evaluation.reasons))
        .execute(&mut *db)
        .await?;
        if role == "champion" {
            champion = Some(evaluation);
        }
    }
    Ok(champion)
}

/// The evaluations of the application `id` (already checked to be the actor's), newest first.
pub async fn of_application(db: &mut PgConnection, id: i64) -> Result<Vec<Kept>, Error> {
    Ok(sqlx::query_as(
        "SELECT scorecard_id, role, inputs, score, decision, reasons, at FROM scorecard_evaluations
         WHERE application_id = $1 ORDER BY id DESC",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}
