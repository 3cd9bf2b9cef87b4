//! After the money went out: the documents due within `origination.documents_due_days`
//! (贷后审核: the registration certificate with the lien, the invoice, the vehicle's insurance) are
//! filed and checked complete; then the application is archived with its guarantee policy
//! (贷后归档). Applications whose documents are late are listed for follow-up.

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::application::{self, AFTER_DISBURSEMENT_KINDS, Application, TABLE, Version};
use super::guarantee;
use super::review::event;
use crate::actor::Actor;
use crate::error::Error;
use crate::kit::audit;
use crate::system::crypto::Vault;

/// The kinds of document due after disbursement that `filed` lacks.
pub fn missing<'a>(filed: &[String]) -> Vec<&'a str> {
    AFTER_DISBURSEMENT_KINDS.iter().copied().filter(|kind| !filed.iter().any(|f| f == kind)).collect()
}

/// Checks the disbursed application `id`'s documents complete (贷后审核), each kind due filed. Audited.
pub async fn complete_documents(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    body: &Version,
) -> Result<Application, Error> {
    let before = TABLE.lock_in(db, actor, id, body.version, &["disbursed"]).await?;
    let filed: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT kind FROM application_documents WHERE application_id = $1")
            .bind(id)
            .fetch_all(&mut *db)
            .await?;
    let lacking = missing(&filed);
    if !lacking.is_empty() {
        return Err(Error::invalid("documents", format!("still due: {}", lacking.join(", "))));
    }
    move_to(db, actor, &before, "documents_complete", "complete_documents").await?;
    application::get(db, vault, actor, id).await
}

/// Archives the application `id` whose documents are complete, with its guarantee policy (贷后归档).
/// Audited.
pub async fn archive(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    body: &Version,
) -> Result<Application, Error> {
    let before = TABLE.lock_in(db, actor, id, body.version, &["documents_complete"]).await?;
    guarantee::archive(db, id).await?;
    move_to(db, actor, &before, "archived", "archive").await?;
    application::get(db, vault, actor, id).await
}

async fn move_to(
    db: &mut PgConnection,
    actor: &Actor,
    before: &application::Row,
    status: &str,
    action: &str,
) -> Result<(), Error> {
    sqlx::query("UPDATE applications SET status = $2, version = version + 1, updated_at = now() WHERE id = $1")
        .bind(before.id)
        .bind(status)
        .execute(&mut *db)
        .await?;
    event(db, before.id, action, actor, None).await?;
    let after = TABLE.load(db, actor, before.id).await?;
    audit::changed(&mut *db, actor, action, Some(before), &after).await?;
    Ok(())
}

/// The day documents are due for money that went out on `disbursed_on`.
pub fn due(disbursed_on: NaiveDate, days: i64) -> NaiveDate {
    disbursed_on + chrono::Duration::days(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_due_is_named_until_filed() {
        assert_eq!(missing(&[]), AFTER_DISBURSEMENT_KINDS);
        assert_eq!(missing(&["invoice".into(), "id_card".into()]), ["registration_certificate", "vehicle_insurance"]);
        let all: Vec<String> = AFTER_DISBURSEMENT_KINDS.iter().map(|k| (*k).to_owned()).collect();
        assert!(missing(&all).is_empty());
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default();
        assert_eq!(due(day, 30), NaiveDate::from_ymd_opt(2027, 1, 3).unwrap_or_default());
    }
}
