//! The SMS gateway adapter: a provider (or the company's own relay to one) reached over HTTPS.
//! `POST {url}/messages` with `{"to", "text"}` answers `{"id"}`; `GET {url}/receipts` answers the
//! delivery receipts that arrived since last asked, `[{"id", "status": "delivered" | "failed",
//! "reason"}]`. Every request is signed like the monitor's webhooks (`X-Leasewatch-Signature:
//! t={timestamp},v1={HMAC-SHA256 of "{timestamp}.{body}"}`), so the gateway knows who sends.

use serde::Deserialize;
use serde_json::json;

use super::channel::{ChannelFuture, MessageChannel, Receipt};
use crate::kit::signed_http::SignedClient;

/// An HTTP SMS gateway.
pub struct HttpGateway(SignedClient);

/// What the gateway answers to a message.
#[derive(Deserialize)]
struct Accepted {
    id: String,
}

/// One delivery receipt as the gateway sends it.
#[derive(Deserialize)]
struct GatewayReceipt {
    id: String,
    status: String,
    #[serde(default)]
    reason: Option<String>,
}

impl HttpGateway {
    /// The gateway at `url` (its base, without the trailing slash), signing with `secret`.
    pub fn new(url: &str, secret: &str) -> Result<Self, String> {
        Ok(Self(SignedClient::new("SMS gateway", url, secret)?))
    }
}

impl MessageChannel for HttpGateway {
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> ChannelFuture<'a, String> {
        Box::pin(async move {
            let body = json!({"to": phone, "text": text}).to_string().into_bytes();
            let accepted: Accepted = self.0.post("/messages", body).await?;
            Ok(accepted.id)
        })
    }

    fn receipts(&self) -> ChannelFuture<'_, Vec<(String, Receipt)>> {
        Box::pin(async move {
            let receipts: Vec<GatewayReceipt> = self.0.get("/receipts").await?;
            Ok(receipts
                .into_iter()
                .map(|r| {
                    let receipt = if r.status == "delivered" {
                        Receipt::Delivered
                    } else {
                        Receipt::Failed(r.reason.unwrap_or(r.status))
                    };
                    (r.id, receipt)
                })
                .collect())
        })
    }
}
