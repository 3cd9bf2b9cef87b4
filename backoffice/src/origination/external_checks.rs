//! The external checks on submit: the credit bureau's report (征信), asked only when the applicant's
//! signed authorization (`credit_authorization`) is on file, and the name–ID–phone identity check.
//! Each answer, or why there is none, is kept with the application; the answers become scorecard
//! variables (`bureau_score`, `bureau_overdue_accounts`, `bureau_worst_dpd`, `identity_verified`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use leasewatch_finance::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::partners::Partners;
use super::partners::bureau::{BureauReport, IdentityMatch, Person};
use crate::error::Error;

/// One external check as kept.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ExternalCheck {
    /// `credit_bureau` or `identity`.
    pub kind: String,
    /// `done`, `skipped` (not asked: why in `detail`) or `failed` (the partner did not answer).
    pub status: String,
    /// The answer.
    #[schema(value_type = Object)]
    pub result: Value,
    /// Why skipped or failed.
    pub detail: String,
    /// When.
    pub checked_at: DateTime<Utc>,
}

/// What one check came to.
enum Outcome {
    Done(Value),
    Skipped(&'static str),
    Failed(String),
}

/// Runs the checks on `person` for the application `id` and keeps them; returns the scorecard
/// variables they give. A partner that fails is noted, not fatal: the review sees it.
pub async fn run(
    db: &mut PgConnection,
    partners: &Partners,
    id: i64,
    person: &Person,
) -> Result<BTreeMap<&'static str, Decimal>, Error> {
    let mut values = BTreeMap::new();
    let authorized: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM application_documents WHERE application_id = $1 AND kind = 'credit_authorization')",
    )
    .bind(id)
    .fetch_one(&mut *db)
    .await?;
    let bureau = match (&partners.bureau, authorized) {
        (_, false) => Outcome::Skipped("no signed credit authorization (credit_authorization) is on file"),
        (None, true) => Outcome::Skipped("no credit bureau is configured"),
        (Some(bureau), true) => match bureau.report(person).await {
            Ok(report) => {
                bureau_values(&report, &mut values);
                Outcome::Done(json!(report))
            }
            Err(e) => Outcome::Failed(e),
        },
    };
    keep(db, id, "credit_bureau", bureau).await?;
    let identity = match &partners.identity {
        None => Outcome::Skipped("no identity check is configured"),
        Some(check) => match check.verify(person).await {
            Ok(answer) => {
                identity_values(&answer, &mut values);
                Outcome::Done(json!(answer))
            }
            Err(e) => Outcome::Failed(e),
        },
    };
    keep(db, id, "identity", identity).await?;
    Ok(values)
}

/// The variables a bureau report gives.
fn bureau_values(report: &BureauReport, values: &mut BTreeMap<&'static str, Decimal>) {
    values.insert("bureau_score", Decimal::from(report.score));
    values.insert("bureau_overdue_accounts", Decimal::from(report.overdue_accounts));
    values.insert("bureau_worst_dpd", Decimal::from(report.worst_dpd_24m));
}

/// The variable the identity check gives.
fn identity_values(answer: &IdentityMatch, values: &mut BTreeMap<&'static str, Decimal>) {
    values.insert("identity_verified", Decimal::from(u8::from(answer.verified())));
}

async fn keep(db: &mut PgConnection, id: i64, kind: &str, outcome: Outcome) -> Result<(), Error> {
    let (status, result, detail) = match outcome {
        Outcome::Done(result) => ("done", result, String::new()),
        Outcome::Skipped(why) => ("skipped", json!({}), why.to_owned()),
        Outcome::Failed(why) => ("failed", json!({}), why),
    };
    sqlx::query(
        "INSERT INTO application_checks (application_id, kind, status, result, detail) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (application_id, kind) DO UPDATE
         SET status = EXCLUDED.status, result = EXCLUDED.result, detail = EXCLUDED.detail, checked_at = now()",
    )
    .bind(id)
    .bind(kind)
    .bind(status)
    .bind(result)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}

/// The checks kept for the application `id`.
pub async fn list(db: &mut PgConnection, id: i64) -> Result<Vec<ExternalCheck>, Error> {
    Ok(sqlx::query_as(
        "SELECT kind, status, result, detail, checked_at FROM application_checks WHERE application_id = $1 ORDER BY kind",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_become_the_variables_a_scorecard_reads() {
        let mut values = BTreeMap::new();
        bureau_values(&BureauReport { score: 710, overdue_accounts: 1, open_loans: 2, worst_dpd_24m: 30 }, &mut values);
        identity_values(&IdentityMatch { name_matches_id: true, phone_matches_id: false }, &mut values);
        assert_eq!(values["bureau_score"], Decimal::from(710));
        assert_eq!(values["bureau_overdue_accounts"], Decimal::ONE);
        assert_eq!(values["bureau_worst_dpd"], Decimal::from(30));
        assert_eq!(values["identity_verified"], Decimal::ZERO);
        for name in values.keys() {
            assert!(super::super::scorecard::VARIABLES.contains(name), "{name} is a scorecard variable");
        }
    }
}
