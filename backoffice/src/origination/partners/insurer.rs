//! The guarantee insurer (人保): a cover is first pre-approved (预审批), then the policy applied for
//! (投保) once the contract is signed. Both answer later, by a signed callback to
//! `/api/v1/partners/insurer/callbacks` carrying an [`InsurerAnswer`]. Over HTTP:
//! `POST {url}/pre-approvals` and `POST {url}/policies` with the [`CoverRequest`] and the
//! `callback_url`, signed (`kit/signed_http.rs`).

use chrono::NaiveDate;
use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::PartnerFuture;
use crate::kit::signed_http::SignedClient;

/// What is asked to be insured.
#[derive(Debug, Clone, Serialize)]
pub struct CoverRequest {
    /// Our reference of this request: the answer names it.
    pub reference: String,
    /// The application's number.
    pub application_number: String,
    /// The insured (the lessee).
    pub insured_name: String,
    /// Their national ID or credit code.
    pub id_number: String,
    /// The vehicle.
    pub vin: String,
    /// The amount financed, which the cover guarantees.
    pub principal: Decimal,
    /// Months.
    pub term: i32,
}

/// Which request an answer is to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The pre-approval.
    PreApproval,
    /// The policy.
    Policy,
}

/// The insurer's answer, as its callback carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsurerAnswer {
    /// The reference of the request answered.
    pub reference: String,
    /// What was asked.
    pub stage: Stage,
    /// Whether it was granted (pre-approved, or the policy issued).
    pub granted: bool,
    /// Why not.
    #[serde(default)]
    pub reason: Option<String>,
    /// The premium, when the policy is issued.
    #[serde(default)]
    pub premium: Option<Decimal>,
    /// The policy's number.
    #[serde(default)]
    pub policy_number: Option<String>,
    /// The cover's first day.
    #[serde(default)]
    pub period_start: Option<NaiveDate>,
    /// The cover's last day.
    #[serde(default)]
    pub period_end: Option<NaiveDate>,
}

/// A guarantee insurer.
pub trait Insurer: Send + Sync {
    /// Asks for `request`'s pre-approval; answered at `callback`.
    fn pre_approve<'a>(&'a self, request: &'a CoverRequest, callback: &'a str) -> PartnerFuture<'a, ()>;
    /// Applies for `request`'s policy; answered at `callback`.
    fn apply<'a>(&'a self, request: &'a CoverRequest, callback: &'a str) -> PartnerFuture<'a, ()>;
    /// The secret its callbacks are signed with.
    fn callback_secret(&self) -> &str;
}

/// An insurer over HTTP.
pub struct HttpInsurer(pub SignedClient);

impl HttpInsurer {
    async fn ask(&self, path: &str, request: &CoverRequest, callback: &str) -> Result<(), String> {
        let mut body = json!(request);
        body["callback_url"] = json!(callback);
        self.0.post::<Value>(path, body.to_string().into_bytes()).await.map(|_| ())
    }
}

impl Insurer for HttpInsurer {
    fn pre_approve<'a>(&'a self, request: &'a CoverRequest, callback: &'a str) -> PartnerFuture<'a, ()> {
        Box::pin(self.ask("/pre-approvals", request, callback))
    }

    fn apply<'a>(&'a self, request: &'a CoverRequest, callback: &'a str) -> PartnerFuture<'a, ()> {
        Box::pin(self.ask("/policies", request, callback))
    }

    fn callback_secret(&self) -> &str {
        self.0.secret()
    }
}
