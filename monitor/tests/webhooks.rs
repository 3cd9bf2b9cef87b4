//! Webhooks against a real HTTP receiver: an alert change is queued with the alert, signed,
//! retried after a failure, and dead after the last attempt.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use leasewatch_monitor::alerts::{self, Owner};
use leasewatch_monitor::rules::{Rule, Severity};
use leasewatch_monitor::watch::Finding;
use leasewatch_monitor::webhooks::{self, MAX_ATTEMPTS, SecretOpener, signature};
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A receiver answering each request with the next status of `statuses` (the last one repeats);
/// returns its URL and what it received (signature header, body).
async fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/alerts", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0_u8; 4096];
            // Headers, then as much body as Content-Length says.
            loop {
                let read = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..read]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| {
                            l.to_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        let signature = text
                            .lines()
                            .find_map(|l| l.strip_prefix("x-leasewatch-signature: "))
                            .unwrap_or("")
                            .to_owned();
                        log.lock().unwrap().push((signature, text[end + 4..].to_owned()));
                        break;
                    }
                }
                if read == 0 {
                    break;
                }
            }
            let status = statuses[n.min(statuses.len() - 1)];
            n += 1;
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            socket.write_all(reply.as_bytes()).await.unwrap();
        }
    });
    (url, seen)
}

const SECRET: &str = "a-shared-secret-of-some-length";

async fn setup(pool: &PgPool, url: &str) -> i64 {
    let vehicle: i64 =
        sqlx::query_scalar("INSERT INTO vehicles (vin, region_id) VALUES ('LSVHOOK0000000001', 1) RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("INSERT INTO webhooks (url, secret_sealed, region_id, min_severity) VALUES ($1, $2, 1, 'high')")
        .bind(url)
        .bind(SECRET.as_bytes())
        .execute(pool)
        .await
        .unwrap();
    vehicle
}

async fn raise(pool: &PgPool, vehicle: i64, severity: Severity) -> i64 {
    let finding = Finding {
        vehicle_id: vehicle,
        device_id: None,
        rule: Rule::PowerCut,
        severity,
        title: "External power cut".into(),
        at: Utc::now(),
        location: None,
        evidence: json!({}),
        collection: false,
    };
    let mut tx = pool.begin().await.unwrap();
    let notice = alerts::raise(&mut tx, &finding, Owner { region_id: 1, contract_id: None }, Utc::now()).await.unwrap();
    tx.commit().await.unwrap();
    notice.id
}

fn opener() -> SecretOpener {
    Arc::new(|sealed: &[u8]| String::from_utf8(sealed.to_vec()).ok())
}

#[sqlx::test(migrations = "../migrations")]
async fn a_change_is_signed_retried_after_a_failure_and_delivered(pool: PgPool) {
    let (url, seen) = receiver(vec![503, 200]).await;
    let vehicle = setup(&pool, &url).await;
    let low = Finding { severity: Severity::Low, ..dummy(vehicle) };
    let mut tx = pool.begin().await.unwrap();
    alerts::raise(&mut tx, &low, Owner { region_id: 1, contract_id: None }, Utc::now()).await.unwrap();
    tx.commit().await.unwrap();
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries").fetch_one(&pool).await.unwrap();
    assert_eq!(queued, 0, "below the subscription's severity");

    let id = raise(&pool, vehicle, Severity::Critical).await;
    let client = reqwest::Client::new();
    let now = Utc::now();
    assert_eq!(webhooks::round(&pool, &client, &opener(), now).await.unwrap(), 1);
    assert_eq!(webhooks::round(&pool, &client, &opener(), now + Duration::seconds(5)).await.unwrap(), 0, "backing off");
    assert_eq!(webhooks::round(&pool, &client, &opener(), now + Duration::seconds(61)).await.unwrap(), 1);
    let (status, attempts, last): (String, i32, Option<i32>) =
        sqlx::query_as("SELECT status, attempts, last_status FROM webhook_deliveries").fetch_one(&pool).await.unwrap();
    assert_eq!((status.as_str(), attempts, last), ("delivered", 2, Some(200)));

    let received = seen.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    let (header, body) = &received[1];
    let payload: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!((payload["id"].as_i64(), payload["action"].as_str()), (Some(id), Some("escalated")));
    let timestamp: i64 = header.strip_prefix("t=").unwrap().split(',').next().unwrap().parse().unwrap();
    assert_eq!(header, &signature(SECRET, timestamp, body.as_bytes()), "the receiver can check the signature");
}

fn dummy(vehicle: i64) -> Finding {
    Finding {
        vehicle_id: vehicle,
        device_id: None,
        rule: Rule::PowerCut,
        severity: Severity::Critical,
        title: "External power cut".into(),
        at: Utc::now(),
        location: None,
        evidence: json!({}),
        collection: false,
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_receiver_that_keeps_failing_gets_a_dead_letter(pool: PgPool) {
    let (url, seen) = receiver(vec![500]).await;
    let vehicle = setup(&pool, &url).await;
    raise(&pool, vehicle, Severity::Critical).await;
    let client = reqwest::Client::new();
    let mut now = Utc::now();
    for _ in 0..MAX_ATTEMPTS + 2 {
        webhooks::round(&pool, &client, &opener(), now).await.unwrap();
        now += Duration::hours(2);
    }
    let (status, attempts, error): (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, last_error FROM webhook_deliveries").fetch_one(&pool).await.unwrap();
    assert_eq!((status.as_str(), attempts), ("dead", MAX_ATTEMPTS));
    assert!(error.unwrap().contains("500"));
    assert_eq!(seen.lock().unwrap().len(), MAX_ATTEMPTS as usize);
}
