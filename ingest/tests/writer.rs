//! The writer against real PostgreSQL: batches survive a database outage in the spool and are
//! replayed exactly once when it returns.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::time::Duration;

use chrono::{DateTime, Utc};
use leasewatch_ingest::config::WriterConfig;
use leasewatch_ingest::devices::{NewDevice, import};
use leasewatch_ingest::writer::{Rows, Writer};
use leasewatch_protocols::{Message, MessageKind, Position, ProtocolKind};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

fn positions(device: i64, count: i64) -> Rows {
    let messages: Vec<Message> = (0..count)
        .map(|i| {
            let mut m = Message::new(ProtocolKind::Gt06, MessageKind::Position);
            m.position = Some(Position {
                fix_time: DateTime::from_timestamp(1_767_225_600 + i, 0).unwrap(),
                latitude: 30.0,
                longitude: 120.0,
                speed_kmh: 10.0,
                course: 0.0,
                altitude: None,
                satellites: None,
                valid: true,
                cell: None,
            });
            m
        })
        .collect();
    let mut rows = Rows::default();
    rows.add_messages(device, Utc::now(), &messages);
    rows
}

#[sqlx::test(migrator = "leasewatch_ingest::MIGRATOR")]
async fn batches_written_while_the_database_is_down_are_spooled_then_replayed_once(pool: PgPool) {
    let row = NewDevice { imei: "864717003283581".into(), protocol: "gt06".into(), model: None, sim: None, kind: None };
    import(&pool, &[row]).await.unwrap();
    let device: i64 = sqlx::query_scalar("SELECT id FROM devices").fetch_one(&pool).await.unwrap();
    let dir = std::env::temp_dir().join(format!("leasewatch-writer-test-{}", std::process::id()));
    let config = WriterConfig { spool_path: dir.join("spool"), retry_ms: 50, flush_ms: 5, ..WriterConfig::default() };
    let _ = std::fs::remove_file(&config.spool_path);

    // Nothing listens on port 1: every attempt fails, as with a stopped server.
    let dead = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    let (writer, task) = Writer::start(dead, config.clone());
    writer.write(positions(device, 3)).await.expect("acknowledged from the spool");
    writer.write(positions(device, 5)).await.expect("acknowledged from the spool");
    drop(writer);
    task.await.unwrap();
    assert!(std::fs::metadata(&config.spool_path).unwrap().len() > 0, "the batches wait in the spool");

    // The database is back: the next writer replays the spool first (resends included once).
    let (writer, task) = Writer::start(pool.clone(), config.clone());
    writer.write(positions(device, 1)).await.unwrap();
    drop(writer);
    task.await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 5, "fixes 0..5, each once");
    assert_eq!(std::fs::metadata(&config.spool_path).unwrap().len(), 0, "the spool is empty again");
    let _ = std::fs::remove_dir_all(&dir);
}
