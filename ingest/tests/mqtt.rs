//! MQTT ingestion against the real broker and PostgreSQL: JSON telemetry, the raw-bytes bridge
//! with its reply and commands on the down topic, and unreadable payloads kept in quarantine.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use leasewatch_ingest::config::IngestConfig;
use leasewatch_ingest::connection::Shared;
use leasewatch_ingest::devices::{NewDevice, import};
use leasewatch_protocols::{DeviceId, gt06};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sqlx::PgPool;
use tokio::sync::watch;

async fn start(pool: &PgPool, name: &str) -> watch::Sender<bool> {
    start_shared(pool, name).await.0
}

async fn start_shared(pool: &PgPool, name: &str) -> (watch::Sender<bool>, Arc<Shared>) {
    let mut config = IngestConfig::default();
    config.mqtt.publish_positions = true;
    config.mqtt.client_id = format!("leasewatch-test-{name}-{}", std::process::id());
    config.writer.spool_path = std::env::temp_dir().join(format!("leasewatch-mqtt-{name}-{}", std::process::id()));
    let (shared, _task) = Shared::start(config, pool);
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(leasewatch_ingest::mqtt::run(shared.clone(), shutdown));
    // Let the subscription reach the broker before publishing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    (stop, shared)
}

async fn device(pool: &PgPool, imei: &str, protocol: &str) {
    let row = NewDevice { imei: imei.into(), protocol: protocol.into(), model: None, sim: None, kind: None };
    import(pool, &[row]).await.unwrap();
}

/// A test client subscribed to `filter`: the client, and the payloads that arrive there.
async fn subscriber(name: &str, filter: &str) -> (AsyncClient, tokio::sync::mpsc::Receiver<Vec<u8>>) {
    let options = MqttOptions::new(format!("leasewatch-test-pub-{name}-{}", std::process::id()), "127.0.0.1", 1883);
    let (client, mut events) = AsyncClient::new(options, 100);
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(10);
    tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event {
                let _ = tx.send(p.payload.to_vec()).await;
            }
        }
    });
    // Let the subscription reach the broker before anything is published.
    tokio::time::sleep(Duration::from_millis(300)).await;
    (client, rx)
}

async fn wait_for(pool: &PgPool, sql: &str, expected: i64) -> i64 {
    let mut got = 0;
    for _ in 0..100 {
        got = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        if got >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    got
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn json_telemetry_is_stored_and_a_bad_payload_is_quarantined(pool: PgPool) {
    device(&pool, "869000000000001", "gt06").await;
    let _stop = start(&pool, "json").await;
    let (client, mut published) = subscriber("json", "leasewatch/v1/positions/+").await;
    let topic = "devices/869000000000001/telemetry";
    let good = r#"{"fix_time":"2026-11-28T08:00:00Z","latitude":31.2304,"longitude":121.4737,"speed_kmh":42,"alarms":["power_cut"]}"#;
    client.publish(topic, QoS::AtLeastOnce, false, good).await.unwrap();
    client.publish(topic, QoS::AtLeastOnce, false, r#"{"latitude":"north"}"#).await.unwrap();
    let sql = "SELECT count(*) FROM positions p JOIN devices d ON d.id = p.device_id WHERE d.imei = '869000000000001'";
    assert_eq!(wait_for(&pool, sql, 1).await, 1);
    let alarms: i32 = sqlx::query_scalar("SELECT alarms FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(alarms, 1 << 1, "power_cut");
    let bad = wait_for(&pool, "SELECT count(*) FROM quarantine WHERE imei = '869000000000001'", 1).await;
    assert_eq!(bad, 1, "the unreadable payload is kept with its reason");
    // Durable positions are published for other consumers (other tests' positions may pass by).
    let device: i64 = sqlx::query_scalar("SELECT id FROM devices").fetch_one(&pool).await.unwrap();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(payload) = published.recv().await {
            let p: leasewatch_ingest::mqtt::PublishedPosition = serde_json::from_slice(&payload).unwrap();
            if p.device == device && p.alarms == ["power_cut"] && p.latitude == 31.2304 {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true));
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn bridged_gt06_bytes_are_decoded_stored_and_answered_on_the_down_topic(pool: PgPool) {
    device(&pool, "869000000000002", "gt06").await;
    let _stop = start(&pool, "bridge").await;
    let (client, mut replies) = subscriber("bridge", "devices/gt06/869000000000002/down").await;
    let mut frames = Vec::new();
    gt06::device::login(&DeviceId::new(b"869000000000002").unwrap(), 7, &mut frames);
    client.publish("devices/gt06/869000000000002/up", QoS::AtLeastOnce, false, frames).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), replies.recv()).await.unwrap().unwrap();
    assert_eq!(&reply[..6], &[0x78, 0x78, 0x05, 0x01, 0x00, 0x07], "the login's reply, after it was stored");
    let logins = wait_for(&pool, "SELECT count(*) FROM device_events WHERE kind = 'login'", 1).await;
    assert_eq!(logins, 1);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_bridged_device_gets_its_commands_on_the_down_topic(pool: PgPool) {
    device(&pool, "869000000000003", "gt06").await;
    let (_stop, shared) = start_shared(&pool, "command").await;
    let (client, mut down) = subscriber("command", "devices/gt06/869000000000003/down").await;
    let key: i64 =
        sqlx::query_scalar("SELECT id FROM devices WHERE imei = '869000000000003'").fetch_one(&pool).await.unwrap();
    assert!(!shared.sessions.connected(key), "not heard from yet");
    let mut frames = Vec::new();
    gt06::device::login(&DeviceId::new(b"869000000000003").unwrap(), 1, &mut frames);
    client.publish("devices/gt06/869000000000003/up", QoS::AtLeastOnce, false, frames).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), down.recv()).await.unwrap().unwrap();
    assert!(shared.sessions.connected(key));

    let serial = shared.sessions.send(key, leasewatch_protocols::Command::LocateNow).await.unwrap();
    // Replies to the device's own frames share the topic: the command is the 0x80 frame.
    let command = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let frame = down.recv().await.unwrap();
            if frame.get(3) == Some(&0x80) {
                return frame;
            }
        }
    })
    .await
    .expect("an online command on the down topic");
    assert_eq!(u32::from_be_bytes([command[5], command[6], command[7], command[8]]), u32::from(serial));
    assert_eq!(&command[9..9 + usize::from(command[4]) - 4], b"WHERE#");
}
