//! The SMS gateway adapter: a provider (or the company's own relay to one) reached over HTTPS.
//! `POST {url}/messages` with `{"to", "text"}` answers `{"id"}`; `GET {url}/receipts` answers the
//! delivery receipts that arrived since last asked, `[{"id", "status": "delivered" | "failed",
//! "reason"}]`. Every request is signed like the monitor's webhooks (`X-Leasewatch-Signature:
//! t={timestamp},v1={HMAC-SHA256 of "{timestamp}.{body}"}`), so the gateway knows who sends.

use std::time::Duration;

use chrono::Utc;
use leasewatch_monitor::webhooks::signature;
use serde::Deserialize;
use serde_json::json;

use super::channel::{ChannelFuture, MessageChannel, Receipt};

/// An HTTP SMS gateway.
pub struct HttpGateway {
    client: reqwest::Client,
    url: String,
    secret: String,
}

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
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the SMS gateway client: {e}"))?;
        Ok(Self { client, url: url.trim_end_matches('/').to_owned(), secret: secret.to_owned() })
    }

    /// Sends a signed request and reads the JSON answer.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        body: Vec<u8>,
    ) -> Result<T, String> {
        let signed = signature(&self.secret, Utc::now().timestamp(), &body);
        let reply = request
            .header("content-type", "application/json")
            .header("x-leasewatch-signature", signed)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("the SMS gateway cannot be reached: {e}"))?;
        let status = reply.status();
        if !status.is_success() {
            return Err(format!("the SMS gateway answered {status}"));
        }
        reply.json().await.map_err(|e| format!("the SMS gateway's answer is not understood: {e}"))
    }
}

impl MessageChannel for HttpGateway {
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> ChannelFuture<'a, String> {
        Box::pin(async move {
            let body = json!({"to": phone, "text": text}).to_string().into_bytes();
            let accepted: Accepted = self.call(self.client.post(format!("{}/messages", self.url)), body).await?;
            Ok(accepted.id)
        })
    }

    fn receipts(&self) -> ChannelFuture<'_, Vec<(String, Receipt)>> {
        Box::pin(async move {
            let receipts: Vec<GatewayReceipt> =
                self.call(self.client.get(format!("{}/receipts", self.url)), Vec::new()).await?;
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
