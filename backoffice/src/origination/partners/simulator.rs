//! One simulator of every partner, for tests and the demo: the bureau and the identity check answer
//! at once from the person's numbers; the insurer and the e-signature service answer a moment later
//! by a signed callback, as the real ones do. Its answers are fixed by what is asked:
//!
//! - bureau: a score from the ID's digits (500–849), one overdue account when they sum to a
//!   multiple of 5;
//! - identity: the mobile does not match when it ends in `0000`;
//! - insurer: declines a principal above 1,000,000 yuan; the premium is 1.5% of the principal, the
//!   cover from the day issued for the term;
//! - e-signature: every envelope is signed.

use std::time::Duration;

use chrono::{Months, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use serde_json::json;

use super::PartnerFuture;
use super::bureau::{BureauReport, CreditBureau, IdentityCheck, IdentityMatch, Person};
use super::esign::{ESign, Envelope, SigningAnswer};
use super::insurer::{CoverRequest, Insurer, InsurerAnswer, Stage};
use crate::kit::signed_http::deliver;
use crate::system::crypto::new_token;

/// The simulator.
pub struct Simulator {
    secret: String,
    delay: Duration,
    client: reqwest::Client,
}

impl Default for Simulator {
    fn default() -> Self {
        // Without the system's randomness the secret is still unique per process.
        let secret = new_token("sim_")
            .unwrap_or_else(|_| format!("sim_{}", Utc::now().timestamp_nanos_opt().unwrap_or_default()));
        Self { secret, delay: Duration::from_millis(300), client: reqwest::Client::new() }
    }
}

/// The bureau's report on the holder of `id_number`.
pub fn report(id_number: &str) -> BureauReport {
    let sum: u32 = id_number.chars().filter_map(|c| c.to_digit(10)).sum();
    let overdue = i32::from(sum.is_multiple_of(5));
    BureauReport {
        score: 500 + i32::try_from(sum * 13 % 350).unwrap_or(0),
        overdue_accounts: overdue,
        open_loans: i32::try_from(sum % 4).unwrap_or(0),
        worst_dpd_24m: overdue * 30,
    }
}

/// Whether `person`'s three factors match.
pub fn identity(person: &Person) -> IdentityMatch {
    IdentityMatch { name_matches_id: !person.name.trim().is_empty(), phone_matches_id: !person.phone.ends_with("0000") }
}

/// The insurer's answer to `request` at `stage`, issued on `today`.
pub fn insurer_answer(request: &CoverRequest, stage: Stage, today: NaiveDate) -> InsurerAnswer {
    let limit = Decimal::from(1_000_000);
    let refused = (request.principal > limit).then(|| "above the insurer's single-risk limit of 1,000,000".to_owned());
    let issued = stage == Stage::Policy && refused.is_none();
    let months = Months::new(u32::try_from(request.term).unwrap_or(0));
    InsurerAnswer {
        reference: request.reference.clone(),
        stage,
        granted: refused.is_none(),
        reason: refused,
        premium: issued.then(|| (request.principal * Decimal::new(15, 3)).round_dp(2)),
        policy_number: issued.then(|| format!("PICC-{}", request.reference)),
        period_start: issued.then_some(today),
        period_end: issued.then(|| today.checked_add_months(months).unwrap_or(today)),
    }
}

impl Simulator {
    /// Calls `callback` back with `body` after the delay, as a partner does.
    fn answer_later(&self, callback: &str, body: String) {
        let (client, secret, delay, url) = (self.client.clone(), self.secret.clone(), self.delay, callback.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(e) = deliver(&client, &url, &secret, body.into_bytes()).await {
                tracing::warn!(error = %e, "the partner simulator's callback was not delivered");
            }
        });
    }
}

impl CreditBureau for Simulator {
    fn report<'a>(&'a self, person: &'a Person) -> PartnerFuture<'a, BureauReport> {
        Box::pin(async move { Ok(report(&person.id_number)) })
    }
}

impl IdentityCheck for Simulator {
    fn verify<'a>(&'a self, person: &'a Person) -> PartnerFuture<'a, IdentityMatch> {
        Box::pin(async move { Ok(identity(person)) })
    }
}

impl Insurer for Simulator {
    fn pre_approve<'a>(&'a self, request: &'a CoverRequest, callback: &'a str) -> PartnerFuture<'a, ()> {
        let answer = insurer_answer(request, Stage::PreApproval, Utc::now().date_naive());
        self.answer_later(callback, json!(answer).to_string());
        Box::pin(async { Ok(()) })
    }

    fn apply<'a>(&'a self, request: &'a CoverRequest, callback: &'a str) -> PartnerFuture<'a, ()> {
        let answer = insurer_answer(request, Stage::Policy, Utc::now().date_naive());
        self.answer_later(callback, json!(answer).to_string());
        Box::pin(async { Ok(()) })
    }

    fn callback_secret(&self) -> &str {
        &self.secret
    }
}

impl ESign for Simulator {
    fn send<'a>(&'a self, envelope: &'a Envelope, callback: &'a str) -> PartnerFuture<'a, ()> {
        let answer = SigningAnswer {
            reference: envelope.reference.clone(),
            signed: true,
            signed_at: Some(Utc::now()),
            reason: None,
        };
        self.answer_later(callback, json!(answer).to_string());
        Box::pin(async { Ok(()) })
    }

    fn callback_secret(&self) -> &str {
        &self.secret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cover(principal: i64) -> CoverRequest {
        CoverRequest {
            reference: "SQ00000001-G1".into(),
            application_number: "SQ00000001".into(),
            insured_name: "张三".into(),
            id_number: "11010519491231002X".into(),
            vin: "LSVAU2180N2183294".into(),
            principal: Decimal::from(principal),
            term: 36,
        }
    }

    #[test]
    fn the_policy_costs_one_and_a_half_percent_for_the_term_and_a_large_risk_is_declined() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default();
        let issued = insurer_answer(&cover(100_000), Stage::Policy, today);
        assert!(issued.granted);
        assert_eq!(issued.premium, Some(Decimal::from(1_500)));
        assert_eq!(issued.period_end, NaiveDate::from_ymd_opt(2029, 12, 4));
        let pre = insurer_answer(&cover(100_000), Stage::PreApproval, today);
        assert!(pre.granted && pre.premium.is_none() && pre.policy_number.is_none());
        let declined = insurer_answer(&cover(1_000_001), Stage::PreApproval, today);
        assert!(!declined.granted && declined.reason.is_some_and(|r| r.contains("limit")));
    }

    #[test]
    fn the_bureau_and_identity_answers_follow_the_numbers() {
        // 1+1+0+1+0+5+1+9+4+9+1+2+3+1+0+0+2 = 40: a multiple of 5.
        let r = report("11010519491231002X");
        assert_eq!((r.score, r.overdue_accounts, r.worst_dpd_24m), (500 + 40 * 13 % 350, 1, 30));
        let person = |phone: &str| Person { name: "张三".into(), id_number: "x".into(), phone: phone.into() };
        assert!(identity(&person("13800138000")).verified());
        assert!(!identity(&person("13800130000")).verified());
    }
}
