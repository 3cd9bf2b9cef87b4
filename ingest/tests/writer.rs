//! The writer against real PostgreSQL: batches survive a database outage in the spool and are
//! replayed exactly once when it returns.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::time::Duration;

use chrono::{DateTime, Utc};
use leasewatch_ingest::config::WriterConfig;
use leasewatch_ingest::devices::{NewDevice, import};
use leasewatch_ingest::writer::Writer;
use leasewatch_protocols::{Message, MessageKind, Position, ProtocolKind};
use leasewatch_store::batch::Rows;
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

/// Registers one GT06 device; returns its id and a spool folder for the test named `name`.
async fn registered_device(pool: &PgPool, imei: &str, name: &str) -> (i64, std::path::PathBuf) {
    let row = NewDevice { imei: imei.into(), protocol: "gt06".into(), model: None, sim: None, kind: None };
    import(pool, &[row]).await.unwrap();
    let device = sqlx::query_scalar("SELECT id FROM devices WHERE imei = $1").bind(imei).fetch_one(pool).await.unwrap();
    (device, std::env::temp_dir().join(format!("leasewatch-writer-{name}-{}", std::process::id())))
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn batches_written_while_the_database_is_down_are_spooled_then_replayed_once(pool: PgPool) {
    let (device, dir) = registered_device(&pool, "864717003283581", "test").await;
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

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn daily_distance_and_online_time_come_from_consecutive_fixes(pool: PgPool) {
    let fixes = [
        ("2026-03-01T00:00:00Z", 30.00, true),
        ("2026-03-01T00:01:00Z", 30.01, true),
        ("2026-03-01T00:02:00Z", 30.02, true),
        // An invalid fix is not a place the vehicle was.
        ("2026-03-01T00:02:30Z", 45.00, false),
        // Silent for an hour: the distance counts, the gap is not online time.
        ("2026-03-01T01:02:00Z", 30.03, true),
        ("2026-03-02T00:00:00Z", 31.00, true),
    ];
    for (time, lat, valid) in fixes {
        sqlx::query(
            "INSERT INTO positions (device_id, fix_time, server_time, latitude, longitude, speed_kmh, course, valid)
             VALUES (1, $1::timestamptz, now(), $2, 120.0, 0, 0, $3)",
        )
        .bind(time)
        .bind(lat)
        .bind(valid)
        .execute(&pool)
        .await
        .unwrap();
    }
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let written = leasewatch_store::db::refresh_daily(&pool, day(1), day(2)).await.unwrap();
    assert_eq!(written, 2);
    let (positions, distance, online): (i32, f64, i32) =
        sqlx::query_as("SELECT positions, distance_m, online_seconds FROM device_daily WHERE day = '2026-03-01'")
            .fetch_one(&pool)
            .await
            .unwrap();
    // Three steps of 0.01° of latitude: 1,111.95 m each on the mean Earth radius.
    assert_eq!(positions, 4);
    assert!((distance - 3.0 * 1111.95).abs() < 1.0, "{distance}");
    assert_eq!(online, 120);
    // Recomputing gives the same rows, not more.
    assert_eq!(leasewatch_store::db::refresh_daily(&pool, day(1), day(2)).await.unwrap(), 2);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM device_daily").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 2);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn resent_positions_and_events_are_stored_once_with_the_latest_state(pool: PgPool) {
    let (device, dir) = registered_device(&pool, "864717003283582", "resend").await;
    let config = WriterConfig { spool_path: dir.join("spool"), flush_ms: 5, ..WriterConfig::default() };
    let (writer, task) = Writer::start(pool.clone(), config);
    // A batch with a duplicate inside it, then one that resends the first three fixes with two new.
    let mut first = positions(device, 3);
    first.positions.push(first.positions[1].clone());
    writer.write(first).await.unwrap();
    writer.write(positions(device, 5)).await.unwrap();
    // The connection that took the fallback path is usable for the next batch.
    for _ in 0..3 {
        writer.write(positions(device, 6)).await.unwrap();
    }
    // An event resent, and twice within one batch.
    let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    for copies in [1, 2] {
        let mut events = Rows::default();
        for _ in 0..copies {
            events.add_presence(device, at, ProtocolKind::Gt06, true, "connected");
        }
        writer.write(events).await.unwrap();
    }
    drop(writer);
    task.await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 6);
    let latest: DateTime<Utc> = sqlx::query_scalar("SELECT fix_time FROM device_state WHERE device_id = $1")
        .bind(device)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(latest.timestamp(), 1_767_225_600 + 5);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM device_events").fetch_one(&pool).await.unwrap();
    assert_eq!(events, 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn rows_the_database_refuses_cost_only_their_own_acknowledgement(pool: PgPool) {
    let (device, dir) = registered_device(&pool, "864717003283583", "refused").await;
    let config = WriterConfig { spool_path: dir.join("spool"), flush_ms: 200, ..WriterConfig::default() };
    let (writer, task) = Writer::start(pool.clone(), config.clone());
    // In one batch: a registered device, and one deleted since (its latest state breaks a foreign key).
    let (good, bad) = tokio::join!(writer.write(positions(device, 3)), writer.write(positions(device + 1000, 2)));
    assert!(good.is_ok());
    assert!(matches!(bad, Err(leasewatch_ingest::writer::WriteError::Refused(_))), "{bad:?}");
    // The writer goes on writing to the database, not to the spool.
    writer.write(positions(device, 5)).await.unwrap();
    drop(writer);
    task.await.unwrap();
    let stored: Vec<i64> = sqlx::query_scalar("SELECT device_id FROM positions").fetch_all(&pool).await.unwrap();
    assert_eq!(stored, vec![device; 5]);
    assert_eq!(std::fs::metadata(&config.spool_path).map(|m| m.len()).unwrap_or(0), 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn acknowledged_positions_are_reported_for_the_dashboard(pool: PgPool) {
    let (device, dir) = registered_device(&pool, "864717003283583", "throughput").await;
    let config = WriterConfig {
        spool_path: dir.join("spool"),
        flush_ms: 5,
        throughput_report_ms: 100,
        ..WriterConfig::default()
    };
    let (writer, task) = Writer::start(pool.clone(), config);
    writer.write(positions(device, 7)).await.unwrap();
    writer.write(positions(device, 3)).await.unwrap();
    let mut reported = 0i64;
    for _ in 0..50 {
        reported = sqlx::query_scalar("SELECT COALESCE(sum(positions), 0)::bigint FROM ingest_throughput")
            .fetch_one(&pool)
            .await
            .unwrap();
        if reported == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reported, 10, "every acknowledged position is counted once, resends included");
    drop(writer);
    task.await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fix `second` seconds into the test's day, alone.
fn position_at(device: i64, second: i64) -> Rows {
    let mut rows = positions(device, second + 1);
    rows.positions.drain(..second as usize);
    rows
}

async fn latest_second(pool: &PgPool, device: i64) -> i64 {
    let latest: DateTime<Utc> = sqlx::query_scalar("SELECT fix_time FROM device_state WHERE device_id = $1")
        .bind(device)
        .fetch_one(pool)
        .await
        .unwrap();
    latest.timestamp() - 1_767_225_600
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_device_reporting_faster_than_the_state_window_has_its_newest_state_written_at_the_windows_end(pool: PgPool) {
    let (device, dir) = registered_device(&pool, "864717003283585", "state").await;
    let config =
        WriterConfig { spool_path: dir.join("spool"), flush_ms: 5, state_every_ms: 400, ..WriterConfig::default() };
    let (writer, task) = Writer::start(pool.clone(), config);
    writer.write(position_at(device, 0)).await.unwrap();
    assert_eq!(latest_second(&pool, device).await, 0, "the first fix of a window is the state at once");
    writer.write(position_at(device, 1)).await.unwrap();
    writer.write(position_at(device, 2)).await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 3, "every position is stored when acknowledged");
    assert_eq!(latest_second(&pool, device).await, 0, "later fixes within the window are held");
    // With no further position, the newest held state is written when the window ends.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(latest_second(&pool, device).await, 2);
    // A held state is written when the writer closes, too.
    writer.write(position_at(device, 3)).await.unwrap();
    writer.write(position_at(device, 4)).await.unwrap();
    drop(writer);
    task.await.unwrap();
    assert_eq!(latest_second(&pool, device).await, 4);
    let _ = std::fs::remove_dir_all(dir);
}
