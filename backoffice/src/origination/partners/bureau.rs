//! The credit bureau (征信) and the identity check (姓名–身份证–手机 three-factor), asked on submit.
//! Over HTTP: `POST {url}/credit-reports` and `POST {url}/identity-checks` with the person, signed
//! (`kit/signed_http.rs`), answering the report or the match.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::PartnerFuture;
use crate::kit::signed_http::SignedClient;

/// Who is asked about.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    /// Name.
    pub name: String,
    /// National ID or credit code.
    pub id_number: String,
    /// Mobile.
    pub phone: String,
}

/// What the bureau reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BureauReport {
    /// The bureau's score (300 to 900).
    pub score: i32,
    /// Accounts overdue now.
    pub overdue_accounts: i32,
    /// Loans open.
    pub open_loans: i32,
    /// The worst days past due in the last 24 months.
    pub worst_dpd_24m: i32,
}

/// What the identity check answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IdentityMatch {
    /// The name belongs to the ID number.
    pub name_matches_id: bool,
    /// The mobile is registered to that ID.
    pub phone_matches_id: bool,
}

impl IdentityMatch {
    /// All three factors agree.
    pub fn verified(&self) -> bool {
        self.name_matches_id && self.phone_matches_id
    }
}

/// A credit bureau.
pub trait CreditBureau: Send + Sync {
    /// The report on `person` (asked only with their signed authorization on file).
    fn report<'a>(&'a self, person: &'a Person) -> PartnerFuture<'a, BureauReport>;
}

/// An identity check service.
pub trait IdentityCheck: Send + Sync {
    /// Whether `person`'s name, ID and mobile belong together.
    fn verify<'a>(&'a self, person: &'a Person) -> PartnerFuture<'a, IdentityMatch>;
}

/// A bureau or identity service over HTTP.
pub struct HttpBureau(pub SignedClient);

impl CreditBureau for HttpBureau {
    fn report<'a>(&'a self, person: &'a Person) -> PartnerFuture<'a, BureauReport> {
        Box::pin(async move { self.0.post("/credit-reports", json!(person).to_string().into_bytes()).await })
    }
}

impl IdentityCheck for HttpBureau {
    fn verify<'a>(&'a self, person: &'a Person) -> PartnerFuture<'a, IdentityMatch> {
        Box::pin(async move { self.0.post("/identity-checks", json!(person).to_string().into_bytes()).await })
    }
}
