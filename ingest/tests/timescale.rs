//! The TimescaleDB storage path: migrations make hypertables with compression, and the writer
//! stores positions and events in them: by direct COPY, and through staging when a batch resends
//! rows stored already. Runs against the PGlite TimescaleDB server that `scripts/test.sh` starts
//! (`LEASEWATCH_TIMESCALE_URL`; `scripts/timescale/server.mjs` makes `COPY ... FROM STDIN` work there).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use chrono::{DateTime, Utc};
use leasewatch_ingest::config::WriterConfig;
use leasewatch_ingest::devices::{NewDevice, import};
use leasewatch_ingest::writer::Writer;
use leasewatch_protocols::{Message, MessageKind, Position, ProtocolKind};
use leasewatch_store::batch::Rows;
use sqlx::postgres::PgPoolOptions;

#[tokio::test]
async fn migrations_make_hypertables_and_the_writer_stores_into_them_once() {
    let url = std::env::var("LEASEWATCH_TIMESCALE_URL")
        .expect("LEASEWATCH_TIMESCALE_URL must name a TimescaleDB server: run scripts/test.sh, which starts one");
    // PGlite serves one connection at a time.
    let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    leasewatch_store::MIGRATOR.run(&pool).await.unwrap();
    let hypertables: Vec<String> =
        sqlx::query_scalar("SELECT hypertable_name::text FROM timescaledb_information.hypertables ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(hypertables, ["device_events", "positions"]);
    let compressed: bool = sqlx::query_scalar(
        "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'positions'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(compressed);
    assert_eq!(
        leasewatch_store::db::ensure_partitions(&pool, Utc::now().date_naive(), Utc::now().date_naive()).await.unwrap(),
        0
    );
    // Retention and compression become policies; applying them twice (a restart) replaces them.
    for _ in 0..2 {
        leasewatch_store::db::apply_retention(&pool, 400, 7).await.unwrap();
    }
    let policies: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name IN ('policy_retention', 'policy_compression')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(policies, 4);

    let imei = format!("8690{:011}", std::process::id());
    import(&pool, &[NewDevice { imei: imei.clone(), protocol: "gt06".into(), model: None, sim: None, kind: None }])
        .await
        .unwrap();
    let device: i64 =
        sqlx::query_scalar("SELECT id FROM devices WHERE imei = $1").bind(&imei).fetch_one(&pool).await.unwrap();
    // The writer itself, on its own connection (PGlite serves one at a time): the same positions
    // written twice across several daily chunks, the second time as a resend, plus an event.
    pool.close().await;
    let config = WriterConfig {
        spool_path: std::env::temp_dir().join(format!("leasewatch-timescale-{}", std::process::id())),
        concurrent_batches: 1,
        ..WriterConfig::default()
    };
    let _ = std::fs::remove_file(&config.spool_path);
    let (writer, task) = Writer::start(pool.clone(), config.clone());
    let messages: Vec<Message> = (0..50_i64)
        .map(|i| {
            let mut m = Message::new(ProtocolKind::Gt06, MessageKind::Position);
            m.position = Some(Position {
                fix_time: DateTime::from_timestamp(1_767_225_600 + i * 3600, 0).unwrap(),
                latitude: 30.0,
                longitude: 120.0 + i as f64 * 0.01,
                speed_kmh: 30.0,
                course: 90.0,
                altitude: None,
                satellites: None,
                valid: true,
                cell: None,
            });
            m
        })
        .collect();
    for _ in 0..2 {
        let mut rows = Rows::default();
        rows.add_messages(device, Utc::now(), &messages);
        writer.write(rows).await.expect("committed");
    }
    let mut rows = Rows::default();
    rows.add_presence(device, Utc::now(), ProtocolKind::Gt06, true, "connected");
    writer.write(rows).await.expect("committed");
    drop(writer);
    task.await.unwrap();
    let spooled = std::fs::metadata(&config.spool_path).map_or(0, |m| m.len());
    assert_eq!(spooled, 0, "committed, not spooled");
    let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let online: i64 = sqlx::query_scalar("SELECT count(*) FROM device_events WHERE device_id = $1 AND kind = 'online'")
        .bind(device)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(online, 1);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM positions WHERE device_id = $1")
        .bind(device)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 50, "written twice, stored once");
    let last: f64 = sqlx::query_scalar("SELECT longitude FROM device_state WHERE device_id = $1")
        .bind(device)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!((last - 120.49).abs() < 1e-9);
    // The daily figures come from the hypertable by the same query as on plain PostgreSQL.
    let day = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap().date_naive();
    let written = leasewatch_store::db::refresh_daily(&pool, day, day + chrono::Duration::days(3)).await.unwrap();
    assert!(written >= 2, "{written}");
}
