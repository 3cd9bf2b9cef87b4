//! Requests to partners (the SMS gateway, the credit bureau, the insurer, the e-signature service)
//! and their callbacks, signed like the monitor's webhooks: `X-Leasewatch-Signature:
//! t={timestamp},v1={HMAC-SHA256 of "{timestamp}.{body}"}` under a secret both sides hold.

use std::time::Duration;

use chrono::Utc;
use leasewatch_monitor::webhooks::signature;
use serde::de::DeserializeOwned;

/// The header a signature travels in.
pub const HEADER: &str = "x-leasewatch-signature";
/// How old a signed callback may be: older ones are replays.
pub const TOLERANCE_SECS: i64 = 300;

/// A partner's HTTP endpoint and the secret its requests are signed with.
#[derive(Clone)]
pub struct SignedClient {
    client: reqwest::Client,
    url: String,
    secret: String,
    /// The partner's name, for messages.
    pub name: &'static str,
}

impl SignedClient {
    /// `name`'s endpoint at `url` (its base), signing with `secret`.
    pub fn new(name: &'static str, url: &str, secret: &str) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the {name} client: {e}"))?;
        Ok(Self { client, url: url.trim_end_matches('/').to_owned(), secret: secret.to_owned(), name })
    }

    /// The secret both sides sign with.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// POSTs `body` (JSON) to `{url}{path}` signed, and reads the JSON answer.
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: Vec<u8>) -> Result<T, String> {
        self.send(self.client.post(format!("{}{path}", self.url)), body).await
    }

    /// GETs `{url}{path}` signed, and reads the JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        self.send(self.client.get(format!("{}{path}", self.url)), Vec::new()).await
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder, body: Vec<u8>) -> Result<T, String> {
        let name = self.name;
        let reply = request
            .header("content-type", "application/json")
            .header(HEADER, signature(&self.secret, Utc::now().timestamp(), &body))
            .body(body)
            .send()
            .await
            .map_err(|e| format!("the {name} cannot be reached: {e}"))?;
        let status = reply.status();
        if !status.is_success() {
            return Err(format!("the {name} answered {status}"));
        }
        reply.json().await.map_err(|e| format!("the {name}'s answer is not understood: {e}"))
    }
}

/// Posts a signed callback `body` to `url`, as a partner answers; a few tries a second apart.
pub async fn deliver(client: &reqwest::Client, url: &str, secret: &str, body: Vec<u8>) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header(HEADER, signature(secret, Utc::now().timestamp(), &body))
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(reply) if reply.status().is_success() => return Ok(()),
            Ok(reply) => last = format!("{url} answered {}", reply.status()),
            Err(e) => last = format!("{url} cannot be reached: {e}"),
        }
    }
    Err(last)
}

/// Whether `header` signs `body` under `secret`, made within [`TOLERANCE_SECS`] of `now`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> bool {
    let mut timestamp = None;
    let mut given = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => given = Some(v),
            _ => {}
        }
    }
    let (Some(timestamp), Some(given)) = (timestamp, given) else { return false };
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return false;
    }
    let expected = signature(secret, timestamp, body);
    let expected = expected.rsplit("v1=").next().unwrap_or("");
    // Compared in full whatever differs first: the time taken says nothing of the secret.
    expected.len() == given.len() && expected.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let header = signature("a-shared-secret-1", 1_000, b"{\"x\":1}");
        assert!(verify("a-shared-secret-1", &header, b"{\"x\":1}", 1_000));
        assert!(verify("a-shared-secret-1", &header, b"{\"x\":1}", 1_000 + TOLERANCE_SECS));
        assert!(!verify("a-shared-secret-2", &header, b"{\"x\":1}", 1_000), "another secret");
        assert!(!verify("a-shared-secret-1", &header, b"{\"x\":2}", 1_000), "another body");
        assert!(!verify("a-shared-secret-1", &header, b"{\"x\":1}", 1_001 + TOLERANCE_SECS), "a replay");
        assert!(!verify("a-shared-secret-1", "t=1000", b"{\"x\":1}", 1_000), "no signature");
        assert!(!verify("a-shared-secret-1", "garbage", b"", 0));
    }
}
