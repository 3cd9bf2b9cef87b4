//! The e-signature service: the contract's PDF sent to its signers, the signing answered later by
//! a signed callback to `/api/v1/partners/esign/callbacks` carrying a [`SigningAnswer`]. Over
//! HTTP: `POST {url}/envelopes` with the [`Envelope`] and the `callback_url`, signed
//! (`kit/signed_http.rs`).

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::PartnerFuture;
use crate::kit::signed_http::SignedClient;

/// Who signs.
#[derive(Debug, Clone, Serialize)]
pub struct Signer {
    /// Name.
    pub name: String,
    /// Mobile the signing link goes to.
    pub phone: String,
}

/// A document sent to be signed.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Our reference: the answer names it.
    pub reference: String,
    /// The document's title.
    pub title: String,
    /// The PDF.
    pub pdf: Vec<u8>,
    /// The signers.
    pub signers: Vec<Signer>,
}

/// The service's answer, as its callback carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningAnswer {
    /// The envelope's reference.
    pub reference: String,
    /// Whether every signer signed.
    pub signed: bool,
    /// When the last signed.
    #[serde(default)]
    pub signed_at: Option<DateTime<Utc>>,
    /// Why not.
    #[serde(default)]
    pub reason: Option<String>,
}

/// An e-signature service.
pub trait ESign: Send + Sync {
    /// Sends `envelope` to its signers; answered at `callback`.
    fn send<'a>(&'a self, envelope: &'a Envelope, callback: &'a str) -> PartnerFuture<'a, ()>;
    /// The secret its callbacks are signed with.
    fn callback_secret(&self) -> &str;
}

/// An e-signature service over HTTP.
pub struct HttpESign(pub SignedClient);

impl ESign for HttpESign {
    fn send<'a>(&'a self, envelope: &'a Envelope, callback: &'a str) -> PartnerFuture<'a, ()> {
        Box::pin(async move {
            let body = json!({
                "reference": envelope.reference,
                "title": envelope.title,
                "document": base64::engine::general_purpose::STANDARD.encode(&envelope.pdf),
                "signers": envelope.signers,
                "callback_url": callback,
            });
            self.0.post::<Value>("/envelopes", body.to_string().into_bytes()).await.map(|_| ())
        })
    }

    fn callback_secret(&self) -> &str {
        self.0.secret()
    }
}
