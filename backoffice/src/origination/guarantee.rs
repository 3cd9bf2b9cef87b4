//! Guarantee insurance (人保投保管理): the approved application is submitted to the insurer for
//! pre-approval (预审批提交); once pre-approved, the policy is applied for (投保) and, issued, kept
//! with its premium, period and number; disbursement waits for it (`disbursement.rs`), and it is
//! archived with the application (贷后归档). The insurer answers by signed callback
//! (`partners/insurer.rs`); each answer is matched by the reference of the request in flight, and
//! an answer heard twice changes nothing the second time.

use chrono::Utc;
use leasewatch_finance::Decimal;
use serde_json::json;
use sqlx::PgConnection;

use super::application::{self, Application, TABLE, Version};
use super::partners::Partners;
use super::partners::insurer::{CoverRequest, InsurerAnswer, Stage};
use super::records;
use super::review::{partner_answered, step};
use crate::actor::Actor;
use crate::error::Error;
use crate::kit::audit::{self, Change};
use crate::system::crypto::Vault;

/// The insurer and where it answers, or why it cannot be asked.
fn insurer(partners: &Partners) -> Result<(&dyn super::partners::insurer::Insurer, String), Error> {
    let insurer = partners.insurer.as_deref().ok_or(Error::Conflict {
        code: "no_insurer",
        detail: "no guarantee insurer is configured (admin.insurer)".into(),
    })?;
    let callback = partners.callback_url("insurer").ok_or(Error::Conflict {
        code: "no_public_url",
        detail: "the insurer cannot answer: this server's public URL is not configured (admin.public_url)".into(),
    })?;
    Ok((insurer, callback))
}

/// What is asked to be insured for the application `row`, under a new reference.
fn cover(vault: &Vault, row: &application::Row, stage: &str) -> Result<CoverRequest, Error> {
    let id_number = row
        .id_number_sealed
        .as_ref()
        .and_then(|s| vault.open(s).ok())
        .ok_or_else(|| Error::Internal("the applicant's number cannot be opened".into()))?;
    // The amount financed as quoted on submit (fees financed included).
    let principal = row
        .quote
        .as_ref()
        .and_then(|q| q["principal"].as_str())
        .and_then(|p| p.parse::<Decimal>().ok())
        .unwrap_or_else(|| row.price.unwrap_or_default() - row.down_payment.unwrap_or_default());
    Ok(CoverRequest {
        reference: format!("{}-{stage}-{}", row.number, Utc::now().timestamp_millis()),
        application_number: row.number.clone(),
        insured_name: row.applicant_name.clone(),
        id_number,
        vin: row.vin.clone().unwrap_or_default(),
        principal,
        term: row.term.unwrap_or(0),
    })
}

/// Submits the approved application `id` to the insurer for pre-approval (预审批提交); again after
/// a decline. Audited.
pub async fn pre_approve(
    db: &mut PgConnection,
    vault: &Vault,
    partners: &Partners,
    actor: &Actor,
    id: i64,
    body: &Version,
) -> Result<Application, Error> {
    let row = TABLE.lock_in(db, actor, id, body.version, &["approved", "contracted"]).await?;
    if let Some(policy) = records::guarantee(db, id).await?.filter(|p| p.status != "declined") {
        return Err(Error::invalid_state(format!("the guarantee is already {}", policy.status)));
    }
    let (insurer, callback) = insurer(partners)?;
    let request = cover(vault, &row, "PA")?;
    sqlx::query(
        "INSERT INTO guarantee_policies (application_id, status, reference) VALUES ($1, 'pre_approval_pending', $2)
         ON CONFLICT (application_id) DO UPDATE SET status = 'pre_approval_pending', reference = EXCLUDED.reference,
             decline_reason = NULL, requested_at = now(), answered_at = NULL",
    )
    .bind(id)
    .bind(&request.reference)
    .execute(&mut *db)
    .await?;
    insurer.pre_approve(&request, &callback).await.map_err(Error::Unavailable)?;
    asked(db, actor, &row, "guarantee_pre_approval", &request.reference).await?;
    application::get(db, vault, actor, id).await
}

/// Applies for the policy (投保) of the pre-approved application `id`. Audited.
pub async fn apply(
    db: &mut PgConnection,
    vault: &Vault,
    partners: &Partners,
    actor: &Actor,
    id: i64,
    body: &Version,
) -> Result<Application, Error> {
    let row = TABLE.lock_in(db, actor, id, body.version, &["approved", "contracted"]).await?;
    let status = records::guarantee(db, id).await?.map(|p| p.status);
    if status.as_deref() != Some("pre_approved") {
        return Err(Error::invalid_state(format!(
            "the policy is applied for once the insurer pre-approved the cover; it is {}",
            status.as_deref().unwrap_or("not asked for")
        )));
    }
    let (insurer, callback) = insurer(partners)?;
    let request = cover(vault, &row, "PO")?;
    sqlx::query(
        "UPDATE guarantee_policies SET status = 'policy_pending', reference = $2, requested_at = now(), answered_at = NULL
         WHERE application_id = $1",
    )
    .bind(id)
    .bind(&request.reference)
    .execute(&mut *db)
    .await?;
    insurer.apply(&request, &callback).await.map_err(Error::Unavailable)?;
    asked(db, actor, &row, "guarantee_policy", &request.reference).await?;
    application::get(db, vault, actor, id).await
}

/// The step and audit record of a request to the insurer.
async fn asked(
    db: &mut PgConnection,
    actor: &Actor,
    row: &application::Row,
    action: &str,
    reference: &str,
) -> Result<(), Error> {
    step(db, row.id, action, Some(actor.user_id), Some(reference)).await?;
    let entry = Change::new(action, "application", row.id, Some(row.region_id)).after(json!({"reference": reference}));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(())
}

/// Takes the insurer's `answer` to the request in flight. An answer to a request no longer in
/// flight (heard before, or superseded) changes nothing. Audited as the insurer's.
pub async fn answered(db: &mut PgConnection, answer: &InsurerAnswer) -> Result<(), Error> {
    let found: Option<(i64, String, i64)> = sqlx::query_as(
        "SELECT g.application_id, g.status, a.region_id FROM guarantee_policies g
         JOIN applications a ON a.id = g.application_id WHERE g.reference = $1 FOR UPDATE OF g",
    )
    .bind(&answer.reference)
    .fetch_optional(&mut *db)
    .await?;
    let Some((id, status, region)) = found else { return Err(Error::NotFound("guarantee request")) };
    let awaited = match answer.stage {
        Stage::PreApproval => "pre_approval_pending",
        Stage::Policy => "policy_pending",
    };
    if status != awaited {
        return Ok(());
    }
    let next = match (answer.stage, answer.granted) {
        (_, false) => "declined",
        (Stage::PreApproval, true) => "pre_approved",
        (Stage::Policy, true) => "issued",
    };
    if next == "issued" && (answer.policy_number.is_none() || answer.premium.is_none()) {
        return Err(Error::invalid("policy_number", "an issued policy names its number and premium"));
    }
    sqlx::query(
        "UPDATE guarantee_policies SET status = $2, premium = COALESCE($3, premium),
             policy_number = COALESCE($4, policy_number), period_start = COALESCE($5, period_start),
             period_end = COALESCE($6, period_end), decline_reason = $7, answered_at = now()
         WHERE application_id = $1",
    )
    .bind(id)
    .bind(next)
    .bind(answer.premium)
    .bind(&answer.policy_number)
    .bind(answer.period_start)
    .bind(answer.period_end)
    .bind(&answer.reason)
    .execute(&mut *db)
    .await?;
    let note = answer.reason.as_deref().or(answer.policy_number.as_deref());
    let entry = Change::new("guarantee_answer", "application", id, Some(region))
        .before(json!({"status": status}))
        .after(json!({"status": next, "answer": answer}));
    partner_answered(db, id, "insurer", &format!("guarantee_{next}"), note, entry).await
}

/// Archives the issued policy of the application `id` with it (贷后归档).
pub(crate) async fn archive(db: &mut PgConnection, id: i64) -> Result<(), Error> {
    sqlx::query("UPDATE guarantee_policies SET status = 'archived' WHERE application_id = $1 AND status = 'issued'")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
