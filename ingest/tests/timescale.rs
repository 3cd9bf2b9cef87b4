//! The TimescaleDB storage path: migrations make hypertables with compression, and the writer's
//! staging, de-duplication and latest-state statements work on them. Runs against the PGlite
//! TimescaleDB server that `scripts/test.sh` starts (`LEASEWATCH_TIMESCALE_URL`).
//!
//! PGlite's wire server cannot take `COPY ... FROM STDIN` (it aborts), so here the staging tables
//! are filled with INSERT; everything the writer does after its COPY is the same code.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use chrono::{DateTime, Utc};
use leasewatch_ingest::devices::{NewDevice, import};
use sqlx::postgres::PgPoolOptions;

#[tokio::test]
async fn migrations_and_the_writers_merge_work_on_timescaledb_hypertables() {
    let url = std::env::var("LEASEWATCH_TIMESCALE_URL")
        .expect("LEASEWATCH_TIMESCALE_URL must name a TimescaleDB server: run scripts/test.sh, which starts one");
    // PGlite serves one connection at a time.
    let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    leasewatch_ingest::MIGRATOR.run(&pool).await.unwrap();
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
        leasewatch_ingest::db::ensure_partitions(&pool, Utc::now().date_naive(), Utc::now().date_naive())
            .await
            .unwrap(),
        0
    );
    // Retention and compression become policies; applying them twice (a restart) replaces them.
    for _ in 0..2 {
        leasewatch_ingest::db::apply_retention(&pool, 400, 7).await.unwrap();
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
    let mut conn = pool.acquire().await.unwrap();
    // Written twice (a resend of the whole batch), across several daily chunks.
    for _ in 0..2 {
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        leasewatch_ingest::writer::create_staging(&mut tx).await.unwrap();
        for i in 0..50_i64 {
            sqlx::query(
                "INSERT INTO positions_staging (device_id, fix_time, server_time, latitude, longitude, speed_kmh, course, valid)
                 VALUES ($1, $2, now(), 30, $3, 30, 90, true)",
            )
            .bind(device)
            .bind(DateTime::<Utc>::from_timestamp(1_767_225_600 + i * 3600, 0).unwrap())
            .bind(120.0 + i as f64 * 0.01)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        leasewatch_ingest::writer::merge_staging(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    drop(conn);
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
    let written = leasewatch_ingest::db::refresh_daily(&pool, day, day + chrono::Duration::days(3)).await.unwrap();
    assert!(written >= 2, "{written}");
}
