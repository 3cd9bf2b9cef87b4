//! Webhook delivery: queued alert changes are POSTed as JSON to each subscriber, signed with
//! HMAC-SHA256 of `"{timestamp}.{body}"` under the subscription's secret and sent as
//! `X-Leasewatch-Signature: t={timestamp},v1={hex}`, so a receiver can check who sent it and
//! refuse replays. A failure is retried with doubling delays; after the last attempt the delivery
//! is dead (kept for someone to look at and retry through the admin API).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use sqlx::PgPool;
use tokio::sync::watch;

/// Attempts before a delivery is dead.
pub const MAX_ATTEMPTS: i32 = 10;
/// Deliveries taken per round.
const BATCH: i64 = 50;
/// How long a taken delivery is reserved for the sender before another round may take it: longer
/// than a whole batch at the request timeout, so a slow round is never overtaken.
const LEASE_S: i64 = 600;

/// Opens a subscription's sealed secret.
pub type SecretOpener = Arc<dyn Fn(&[u8]) -> Option<String> + Send + Sync>;

/// The signature header's value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Seconds to wait before attempt `attempts + 1`: 30 s doubling, at most an hour.
pub fn backoff_s(attempts: i32) -> i64 {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
    (30_i64 << exponent).min(3600)
}

/// A taken delivery: id, subscription, URL, sealed secret, payload, attempts so far.
type Due = (i64, i64, String, Vec<u8>, Value, i32);

/// Delivers queued webhooks until shutdown.
pub async fn run(pool: PgPool, open: SecretOpener, mut shutdown: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client: webhooks are not delivered");
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = round(&pool, &client, &open, Utc::now()).await {
            tracing::warn!(error = %e, "webhook round failed");
        }
    }
}

/// Takes due deliveries and sends them: subscriptions in parallel, so a slow receiver delays
/// only itself, and each subscription's in order, so a receiver sees an alert's changes as they
/// happened. Returns how many were sent.
pub async fn round(
    pool: &PgPool,
    client: &reqwest::Client,
    open: &SecretOpener,
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let due: Vec<Due> = sqlx::query_as(
        "UPDATE webhook_deliveries d SET next_at = $1 + make_interval(secs => $2)
         FROM webhooks w
         WHERE d.id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_at <= $1
                        ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
           AND w.id = d.webhook_id
         RETURNING d.id, w.id, w.url, w.secret_sealed, d.payload, d.attempts",
    )
    .bind(now)
    .bind(LEASE_S as f64)
    .bind(BATCH)
    .fetch_all(pool)
    .await?;
    let sent = due.len();
    let mut by_webhook: BTreeMap<i64, Vec<Due>> = BTreeMap::new();
    for d in due {
        by_webhook.entry(d.1).or_default().push(d);
    }
    let mut senders = tokio::task::JoinSet::new();
    for (_, mut deliveries) in by_webhook {
        deliveries.sort_by_key(|d| d.0);
        let (pool, client, open) = (pool.clone(), client.clone(), open.clone());
        senders.spawn(async move {
            for delivery in deliveries {
                deliver(&pool, &client, &open, delivery).await?;
            }
            Ok::<_, sqlx::Error>(())
        });
    }
    while let Some(done) = senders.join_next().await {
        match done {
            Ok(result) => result?,
            Err(e) => tracing::warn!(error = %e, "webhook sender failed"),
        }
    }
    Ok(sent)
}

/// Sends one delivery and records the outcome.
async fn deliver(pool: &PgPool, client: &reqwest::Client, open: &SecretOpener, due: Due) -> Result<(), sqlx::Error> {
    let (id, _, url, sealed, payload, attempts) = due;
    let body = payload.to_string().into_bytes();
    let outcome = match open(&sealed) {
        None => Err((None, "the subscription's secret cannot be opened".to_owned())),
        Some(secret) => {
            let timestamp = Utc::now().timestamp();
            let request = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-leasewatch-signature", signature(&secret, timestamp, &body))
                .header("x-leasewatch-delivery", id.to_string())
                .body(body);
            match request.send().await {
                Ok(r) if r.status().is_success() => Ok(i32::from(r.status().as_u16())),
                Ok(r) => Err((Some(i32::from(r.status().as_u16())), format!("answered {}", r.status()))),
                Err(e) => Err((None, e.to_string())),
            }
        }
    };
    let attempts = attempts + 1;
    match outcome {
        Ok(status) => {
            sqlx::query(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, last_status = $3, last_error = NULL,
                        delivered_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(attempts)
            .bind(status)
            .execute(pool)
            .await?;
        }
        Err((status, error)) => {
            let dead = attempts >= MAX_ATTEMPTS;
            sqlx::query(
                "UPDATE webhook_deliveries SET status = CASE WHEN $5 THEN 'dead' ELSE 'pending' END, attempts = $2,
                        last_status = $3, last_error = $4, next_at = now() + make_interval(secs => $6) WHERE id = $1",
            )
            .bind(id)
            .bind(attempts)
            .bind(status)
            .bind(&error)
            .bind(dead)
            .bind(backoff_s(attempts) as f64)
            .execute(pool)
            .await?;
            if dead {
                tracing::warn!(delivery = id, %url, %error, "webhook delivery dead after {MAX_ATTEMPTS} attempts");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_the_timestamp_and_the_body() {
        let a = signature("s3cret-s3cret-s3cret", 1_700_000_000, b"{\"id\":1}");
        assert!(a.starts_with("t=1700000000,v1=") && a.len() == "t=1700000000,v1=".len() + 64, "{a}");
        assert_ne!(a, signature("s3cret-s3cret-s3cret", 1_700_000_001, b"{\"id\":1}"));
        assert_ne!(a, signature("s3cret-s3cret-s3cret", 1_700_000_000, b"{\"id\":2}"));
        assert_ne!(a, signature("other-secret-value", 1_700_000_000, b"{\"id\":1}"));
    }

    #[test]
    fn retries_back_off_doubling_up_to_an_hour() {
        let delays: Vec<i64> = (1..=9).map(backoff_s).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
