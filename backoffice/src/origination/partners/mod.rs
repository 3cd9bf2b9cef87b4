//! The partners an application meets on its way (each an adapter trait with an HTTP client for the
//! real service and a simulator for tests and the demo):
//!
//! - `bureau.rs`: the credit bureau's report (征信) and the name–ID–phone identity check, asked
//!   synchronously on submit;
//! - `insurer.rs`: the guarantee insurer (人保): pre-approval and the policy, answered later by a
//!   signed callback;
//! - `esign.rs`: the e-signature service: the contract sent, its signing answered by a signed
//!   callback;
//! - `simulator.rs`: one simulator of them all.
//!
//! Callbacks arrive at `POST /api/v1/partners/{insurer|esign}/callbacks`, signed with the secret
//! the adapter holds (`kit/signed_http.rs`).

pub mod bureau;
pub mod esign;
pub mod insurer;
pub mod simulator;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use self::bureau::{CreditBureau, IdentityCheck};
use self::esign::ESign;
use self::insurer::Insurer;

/// What a partner call comes to: its answer, or why there is none.
pub type PartnerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// The partners this process reaches, each none when not configured.
#[derive(Clone, Default)]
pub struct Partners {
    /// The credit bureau.
    pub bureau: Option<Arc<dyn CreditBureau>>,
    /// The identity check.
    pub identity: Option<Arc<dyn IdentityCheck>>,
    /// The guarantee insurer.
    pub insurer: Option<Arc<dyn Insurer>>,
    /// The e-signature service.
    pub esign: Option<Arc<dyn ESign>>,
    /// Where partners call back: this server's public base URL (`https://lease.example.com`).
    pub public_url: Option<String>,
}

impl Partners {
    /// Every partner simulated, calling back to `public_url`.
    pub fn simulated(public_url: Option<String>) -> Self {
        let simulator = Arc::new(simulator::Simulator::default());
        Self {
            bureau: Some(simulator.clone()),
            identity: Some(simulator.clone()),
            insurer: Some(simulator.clone()),
            esign: Some(simulator),
            public_url,
        }
    }

    /// The URL `partner` calls back to; none without a public URL.
    pub fn callback_url(&self, partner: &str) -> Option<String> {
        self.public_url
            .as_deref()
            .map(|base| format!("{}/api/v1/partners/{partner}/callbacks", base.trim_end_matches('/')))
    }
}
