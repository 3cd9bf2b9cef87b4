//! Alert changes leave the daemon on MQTT, `leasewatch/v1/alerts/{region_id}`, as they commit.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::time::Duration;

use chrono::Utc;
use leasewatch_admin::alert_feed::AlertFeed;
use leasewatch_monitor::alerts::{self, Owner};
use leasewatch_monitor::rules::{Rule, Severity};
use leasewatch_monitor::watch::Finding;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn alert_changes_are_published_per_region(pool: PgPool) {
    let region: i64 = sqlx::query_scalar(
        "INSERT INTO regions (parent_id, code, name, level) VALUES (1, 'SZ', 'Shenzhen', 'city') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let vehicle: i64 =
        sqlx::query_scalar("INSERT INTO vehicles (vin, region_id) VALUES ('LSVMQTT0000000001', $1) RETURNING id")
            .bind(region)
            .fetch_one(&pool)
            .await
            .unwrap();
    let mut options = MqttOptions::new(format!("alerts-test-{}", std::process::id()), "127.0.0.1", 1883);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(options, 100);
    let topic = format!("leasewatch/v1/alerts/{region}");
    client.subscribe(&topic, QoS::AtLeastOnce).await.unwrap();
    // Wait for the subscription to be in place.
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
            break;
        }
    }
    let notices = AlertFeed::default().subscribe(&pool).await.unwrap();
    tokio::spawn(leasewatch::monitor_link::publish_alerts(notices, "127.0.0.1".into(), 1883));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let finding = Finding {
        vehicle_id: vehicle,
        device_id: None,
        rule: Rule::Tow,
        severity: Severity::High,
        title: "Moving at 30 km/h with the ignition off".into(),
        at: Utc::now(),
        location: Some((22.54, 114.06)),
        evidence: json!({}),
        collection: false,
    };
    let mut tx = pool.begin().await.unwrap();
    let notice =
        alerts::raise(&mut tx, &finding, Owner { region_id: region, contract_id: None }, Utc::now()).await.unwrap();
    tx.commit().await.unwrap();

    let message = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap() {
                return p;
            }
        }
    })
    .await
    .expect("the alert change reaches the broker");
    assert_eq!(message.topic, topic);
    let body: Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(
        (body["id"].as_i64(), body["action"].as_str(), body["rule"].as_str()),
        (Some(notice.id), Some("opened"), Some("tow"))
    );
}
