//! Credit review (信审审核): a submitted application goes into the review workflow its financed
//! amount and score route it to — up to `origination.final_review_above` yuan with the champion
//! scorecard's approval (or no scorecard) it ends at 复审 (workflow `credit_review_short`); larger,
//! referred or declined by the score, it goes on to 终审 (workflow `credit_review`); the company
//! defines both workflows' stages, positions and SLAs. Reviewers claim, approve, transfer (转件) and return
//! to an earlier stage in the workflow inbox; here they send it back for more documents (补件) or
//! reject it with a reason code. The workflow's end decides the application. The timeline
//! (审批进度查询) joins the filer's steps and the reviewers', each with how long it waited.

use chrono::{DateTime, Utc};
use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::application::{self, Application, TABLE};
use crate::actor::{Actor, Author, RequestMeta};
use crate::error::Error;
use crate::kit::audit::{self, Change};
use crate::system::crypto::Vault;
use crate::system::settings::{self, get_int};
use crate::system::workflow::definition::Action;
use crate::system::workflow::engine::{self, ActRequest, NewInstance};
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// The subject type of a review in the workflow engine.
pub const SUBJECT: &str = "application";
/// The review that ends at 复审.
pub const SHORT_REVIEW: &str = "credit_review_short";
/// The review that goes on to 终审.
pub const FULL_REVIEW: &str = "credit_review";

/// The reasons an application is rejected for (拒绝原因).
pub const REJECT_REASONS: &[&str] = &[
    "credit_history", // 征信不良
    "income",         // 收入不足 / 负债过高
    "identity",       // 身份存疑
    "fraud",          // 欺诈嫌疑
    "documents",      // 资料不全或不实
    "vehicle",        // 车辆不符
    "policy",         // 不符合准入政策
    "other",          // 其他
];

/// The review's hook: registered with the others.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(SUBJECT, decided)
}

/// Which review a financed amount goes to, with the scorecard's decision when there is one.
pub fn route(principal: Decimal, final_review_above: i64, decision: Option<&str>) -> &'static str {
    let small = principal <= Decimal::from(final_review_above);
    if small && decision.is_none_or(|d| d == "approve") { SHORT_REVIEW } else { FULL_REVIEW }
}

/// Records a step of the filer's side of the timeline.
pub(crate) async fn event(
    db: &mut PgConnection,
    id: i64,
    action: &str,
    actor: &Actor,
    note: Option<&str>,
) -> Result<(), Error> {
    sqlx::query("INSERT INTO application_events (application_id, action, user_id, note) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(action)
        .bind(actor.user_id)
        .bind(note)
        .execute(db)
        .await?;
    Ok(())
}

/// A step of the application `id`'s progress taken without a change of status (`by` the user, or
/// a partner when none): recorded, and the application's version moves so a page showing it reloads.
pub(crate) async fn step(
    db: &mut PgConnection,
    id: i64,
    action: &str,
    by: Option<i64>,
    note: Option<&str>,
) -> Result<(), Error> {
    sqlx::query("UPDATE applications SET version = version + 1, updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *db)
        .await?;
    sqlx::query("INSERT INTO application_events (application_id, action, user_id, note) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(action)
        .bind(by)
        .bind(note)
        .execute(db)
        .await?;
    Ok(())
}

/// A partner's answer on the application `id` taken: a step of its progress (`step`, with `note`)
/// and the audit record of `change` under the partner's name.
pub(crate) async fn partner_answered(
    db: &mut PgConnection,
    id: i64,
    partner: &str,
    step: &str,
    note: Option<&str>,
    change: Change<'_>,
) -> Result<(), Error> {
    self::step(db, id, step, None, note).await?;
    let meta = RequestMeta::default();
    let author = Author { user_id: None, username: Some(partner), meta: &meta };
    audit::record(&mut *db, author, change).await?;
    Ok(())
}

/// Starts the review of the just-submitted application (financed `principal`, scored `decision`):
/// the workflow they route it to. A resubmitted one goes back to the stage that asked.
pub(crate) async fn start(
    db: &mut PgConnection,
    actor: &Actor,
    row: &application::Row,
    principal: Decimal,
    decision: Option<&str>,
) -> Result<(), Error> {
    if row.review_instance_id.is_some() {
        return event(db, row.id, "resubmit", actor, None).await;
    }
    let setting = settings::find("origination.final_review_above").ok_or(Error::NotFound("setting"))?;
    let key = route(principal, get_int(&mut *db, setting).await?, decision);
    let new = NewInstance {
        definition_key: key.to_owned(),
        subject_type: SUBJECT.to_owned(),
        subject_id: row.id.to_string(),
        title: format!("{} {} ¥{}", row.number, row.applicant_name, principal.round_dp(2)),
        region_id: Some(row.region_id),
    };
    let instance = engine::start(db, actor, &new).await.map_err(|e| match e {
        Error::Validation(errors) if errors.iter().any(|f| f.field == "definition_key") => Error::invalid_state(
            format!("define the `{key}` workflow (POST /api/v1/workflow-definitions) before submitting applications"),
        ),
        other => other,
    })?;
    sqlx::query("UPDATE applications SET review_instance_id = $2 WHERE id = $1")
        .bind(row.id)
        .bind(instance.id)
        .execute(&mut *db)
        .await?;
    event(db, row.id, "submit", actor, Some(key)).await
}

/// The workflow's end decides the application: approved, or rejected.
fn decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        let status = if decision.approved() { "approved" } else { "rejected" };
        sqlx::query("UPDATE applications SET status = $2, version = version + 1, updated_at = now() WHERE id = $1")
            .bind(decision.subject)
            .bind(status)
            .execute(tx)
            .await?;
        Ok(())
    })
}

/// The open review task of the application `id` that the actor holds (claimed), if any.
async fn held_task(db: &mut PgConnection, actor: &Actor, row: &application::Row) -> Result<i64, Error> {
    let task: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM workflow_tasks WHERE instance_id = $1 AND status = 'open' AND assignee_id = $2",
    )
    .bind(row.review_instance_id)
    .bind(actor.user_id)
    .fetch_optional(db)
    .await?;
    task.ok_or_else(|| Error::invalid_state("claim the application's review task in your inbox first"))
}

/// Why an application is sent back or rejected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewNote {
    /// The version read.
    pub version: i32,
    /// For a rejection: `credit_history`, `income`, `identity`, `fraud`, `documents`, `vehicle`,
    /// `policy` or `other`.
    pub reason_code: Option<String>,
    /// What is missing, or why.
    #[schema(min_length = 1, max_length = 1000)]
    pub note: String,
}

/// Sends the application back to its filer for more documents (补件) by the reviewer holding its
/// task; the task waits at its stage, with its reviewer, until the filer resubmits. Audited.
pub async fn ask_documents(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    body: &ReviewNote,
) -> Result<Application, Error> {
    let note = body.note.trim();
    if note.is_empty() || note.chars().count() > 1000 {
        return Err(Error::invalid("note", "say what is missing (at most 1000 characters)"));
    }
    let before = TABLE.lock_in(db, actor, id, body.version, &["submitted"]).await?;
    held_task(db, actor, &before).await?;
    sqlx::query("UPDATE applications SET status = 'returned', version = version + 1, updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *db)
        .await?;
    event(db, id, "ask_documents", actor, Some(note)).await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "ask_documents", Some(&before), &after).await?;
    application::get(db, vault, actor, id).await
}

/// Rejects the application by the reviewer holding its task, with a reason code; the workflow ends
/// rejected (its hook marks the application). Audited.
pub async fn reject(
    db: &mut PgConnection,
    hooks: &Hooks,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    body: &ReviewNote,
) -> Result<Application, Error> {
    let code = body.reason_code.as_deref().unwrap_or_default();
    if !REJECT_REASONS.contains(&code) {
        return Err(Error::invalid("reason_code", format!("must be one of {}", REJECT_REASONS.join(", "))));
    }
    let before = TABLE.lock_in(db, actor, id, body.version, &["submitted"]).await?;
    let task = held_task(db, actor, &before).await?;
    let note = format!("{code}: {}", body.note.trim());
    engine::act(db, hooks, actor, task, Action::Reject, &ActRequest { note: Some(note), ..ActRequest::default() })
        .await?;
    sqlx::query("UPDATE applications SET reject_reason = $2 WHERE id = $1")
        .bind(id)
        .bind(code)
        .execute(&mut *db)
        .await?;
    let after = TABLE.load(db, actor, id).await?;
    let entry = Change::new("reject", "application", id, Some(after.region_id))
        .before(json!(before))
        .after(json!({"status": after.status, "reason_code": code, "note": body.note.trim()}));
    audit::record(&mut *db, actor.author(), entry).await?;
    application::get(db, vault, actor, id).await
}

/// One step of an application's progress.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Step {
    /// When.
    pub at: DateTime<Utc>,
    /// `create`, `submit`, `resubmit`, `ask_documents`, or the review's `claim`, `approve`,
    /// `reject`, `return`, `transfer`, `note`.
    pub action: String,
    /// The review stage it happened at (none for the filer's steps).
    pub stage: Option<String>,
    /// Who.
    pub by: Option<String>,
    /// Their note.
    pub note: Option<String>,
    /// Seconds since the step before.
    pub waited_s: i64,
}

/// The progress of the application `id` (审批进度查询): the filer's steps and the reviewers', oldest
/// first, each with how long it came after the one before.
pub async fn timeline(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Vec<Step>, Error> {
    let row = TABLE.load(db, actor, id).await?;
    Ok(sqlx::query_as(
        "WITH steps AS (
             SELECT a.created_at AS at, 'create' AS action, NULL::text AS stage, u.display_name AS by, NULL::text AS note
             FROM applications a LEFT JOIN users u ON u.id = a.created_by WHERE a.id = $1
             UNION ALL
             SELECT e.at, e.action, NULL, u.display_name, e.note
             FROM application_events e LEFT JOIN users u ON u.id = e.user_id WHERE e.application_id = $1
             UNION ALL
             SELECT h.at, h.action, d.stages -> h.stage ->> 'name', u.display_name, h.note
             FROM workflow_history h JOIN workflow_instances i ON i.id = h.instance_id
             JOIN workflow_definitions d ON d.id = i.definition_id JOIN users u ON u.id = h.actor_id
             WHERE (h.instance_id = $2 OR (i.subject_type = 'disbursement' AND i.subject_id = $1::text))
               AND h.action <> 'submit')
         SELECT at, action, stage, by, note,
                COALESCE(EXTRACT(EPOCH FROM at - lag(at) OVER (ORDER BY at)), 0)::bigint AS waited_s
         FROM steps ORDER BY at",
    )
    .bind(id)
    .bind(row.review_instance_id)
    .fetch_all(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_well_scored_amounts_end_at_the_second_review_and_the_rest_go_to_the_final() {
        assert_eq!(route(Decimal::from(200_000), 200_000, None), SHORT_REVIEW);
        assert_eq!(route(Decimal::from(200_000), 200_000, Some("approve")), SHORT_REVIEW);
        assert_eq!(route(Decimal::from(150_000), 200_000, Some("refer")), FULL_REVIEW, "referred by the score");
        assert_eq!(route(Decimal::from(200_001), 200_000, Some("approve")), FULL_REVIEW);
        assert_eq!(route(Decimal::from(1), 0, None), FULL_REVIEW, "0: everything goes to the final review");
    }
}
