//! The load generator against the real listener and writer: every position its ledger records
//! (acknowledged ones for GT06, sent ones for H02, which has no acknowledgements) is stored
//! exactly once, and the summary counts what happened.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use leasewatch_ingest::config::IngestConfig;
use leasewatch_ingest::connection::Shared;
use leasewatch_ingest::devices::{import, parse_csv};
use leasewatch_ingest::listener::{ListenerContext, run};
use leasewatch_protocols::{Gt06, H02, Protocol, ProtocolKind};
use leasewatch_simulators::{fleet, load};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A listener for protocol `P` and its writer, on a fresh database.
async fn start<P: Protocol + 'static>(pool: &PgPool, tag: &str) -> (SocketAddr, watch::Sender<bool>) {
    let mut config = IngestConfig::default();
    config.writer.spool_path = std::env::temp_dir().join(format!("leasewatch-load-{}-{tag}", std::process::id()));
    // A spool left by an earlier process with the same id would be replayed into this database.
    let _ = std::fs::remove_file(&config.writer.spool_path);
    let (shared, _task) = Shared::start(config, pool);
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(run::<P>(socket, ListenerContext::new(shared, shutdown, Duration::from_secs(1))));
    (address, stop)
}

/// Runs 50 simulated devices of `protocol` for two seconds, with a ledger; garbage before every
/// `malformed_every`th position (0: none).
async fn drive(
    pool: &PgPool,
    protocol: ProtocolKind,
    address: SocketAddr,
    ledger: &Path,
    malformed_every: u64,
) -> load::Summary {
    let devices = 50;
    import(pool, &parse_csv(fleet::devices_csv(protocol, devices).as_bytes()).unwrap()).await.unwrap();
    let config = load::LoadConfig {
        protocol,
        target: address,
        devices,
        rate: 2_000.0,
        duration: Duration::from_secs(2),
        ledger: Some(ledger.to_owned()),
        first_device: 0,
        progress: false,
        malformed_every,
        burst: 5,
        storm_backlog: None,
        warmup: Duration::ZERO,
        cooldown: Duration::ZERO,
    };
    load::run(config).await.unwrap()
}

/// The ledger's (imei, fix time) pairs that are not stored exactly once.
async fn not_stored_once(pool: &PgPool, ledger: &Path) -> usize {
    let text = std::fs::read_to_string(ledger).unwrap();
    let mut bad = 0;
    for line in text.lines() {
        let (imei, fix) = line.split_once(',').unwrap();
        let stored: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM positions p JOIN devices d ON d.id = p.device_id
             WHERE d.imei = $1 AND p.fix_time = to_timestamp($2)",
        )
        .bind(imei)
        .bind(fix.parse::<f64>().unwrap())
        .fetch_one(pool)
        .await
        .unwrap();
        bad += usize::from(stored != 1);
    }
    bad
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn every_acknowledged_gt06_position_is_stored_once_through_garbage_and_reconnections(pool: PgPool) {
    let (address, _stop) = start::<Gt06>(&pool, "gt06").await;
    let ledger = std::env::temp_dir().join(format!("leasewatch-load-{}-gt06.csv", std::process::id()));
    // Garbage often enough to spend connections' error budgets: devices reconnect and resend.
    let summary = drive(&pool, ProtocolKind::Gt06, address, &ledger, 7).await;
    assert_eq!(summary.connected, 50);
    assert!(summary.acked > 0 && summary.acked <= summary.sent, "{summary:?}");
    assert_eq!(std::fs::read_to_string(&ledger).unwrap().lines().count() as u64, summary.acked);
    assert_eq!(not_stored_once(&pool, &ledger).await, 0);
    let _ = std::fs::remove_file(&ledger);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn h02_devices_send_without_acknowledgements_and_every_sent_position_is_stored(pool: PgPool) {
    let (address, _stop) = start::<H02>(&pool, "h02").await;
    let ledger = std::env::temp_dir().join(format!("leasewatch-load-{}-h02.csv", std::process::id()));
    // No garbage: a connection closed for it would lose what was sent, as it does for real H02 devices.
    let summary = drive(&pool, ProtocolKind::H02, address, &ledger, 0).await;
    assert_eq!((summary.connected, summary.acked), (50, 0));
    assert!(summary.sent > 0, "{summary:?}");
    assert_eq!(std::fs::read_to_string(&ledger).unwrap().lines().count() as u64, summary.sent);
    // Nothing tells an H02 device its rows are durable: wait for the writer to catch up.
    let mut stored = 0_i64;
    for _ in 0..400 {
        stored = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
        if stored as u64 == summary.sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored as u64, summary.sent);
    assert_eq!(not_stored_once(&pool, &ledger).await, 0);
    let _ = std::fs::remove_file(&ledger);
}

/// A reconnect storm: 50 devices come back within one second, each uploading 60 buffered
/// positions ten per write; the run ends when all 3,000 are acknowledged, each stored once.
#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_reconnect_storm_is_drained_with_nothing_lost_or_doubled(pool: PgPool) {
    let (address, _stop) = start::<Gt06>(&pool, "storm").await;
    let ledger = std::env::temp_dir().join(format!("leasewatch-load-{}-storm.csv", std::process::id()));
    import(&pool, &parse_csv(fleet::devices_csv(ProtocolKind::Gt06, 50).as_bytes()).unwrap()).await.unwrap();
    let config = load::LoadConfig {
        protocol: ProtocolKind::Gt06,
        target: address,
        devices: 50,
        rate: 1.0,
        duration: Duration::from_secs(1),
        ledger: Some(ledger.clone()),
        first_device: 0,
        progress: false,
        malformed_every: 0,
        burst: 10,
        storm_backlog: Some(60),
        warmup: Duration::ZERO,
        cooldown: Duration::ZERO,
    };
    let summary = load::run(config).await.unwrap();
    assert_eq!((summary.connected, summary.acked, summary.errors), (50, 3_000, 0), "{summary:?}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 3_000);
    assert_eq!(not_stored_once(&pool, &ledger).await, 0);
    let _ = std::fs::remove_file(&ledger);
}
