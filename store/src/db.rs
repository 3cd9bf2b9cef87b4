//! The database: connecting (creating the database when it does not exist yet), migrating, and
//! keeping the daily partitions ahead of time.

use std::str::FromStr;

use chrono::{Duration, NaiveDate, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// Errors of database set-up.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL does not parse.
    #[error("invalid database URL: {0}")]
    Url(#[source] sqlx::Error),
    /// The server refused or could not be reached.
    #[error("cannot reach the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// Connects to `url`, creating its database first when the server says it does not exist.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url).map_err(DbError::Url)?;
    // A short acquire timeout: while the database is down the writer must learn it fast and spool.
    let pool = PgPoolOptions::new().max_connections(max_connections).acquire_timeout(std::time::Duration::from_secs(3));
    match pool.clone().connect_with(options.clone()).await {
        Ok(pool) => Ok(pool),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            let name = options.get_database().unwrap_or("leasewatch").to_owned();
            let mut admin = options.clone().database("postgres").connect().await.map_err(DbError::Connect)?;
            let quoted = name.replace('"', "\"\"");
            sqlx::query(&format!("CREATE DATABASE \"{quoted}\"")).execute(&mut admin).await?;
            admin.close().await.ok();
            tracing::info!(database = %name, "created the database");
            pool.connect_with(options).await.map_err(DbError::Connect)
        }
        Err(e) => Err(DbError::Connect(e)),
    }
}

/// Applies every pending migration and creates the partitions for the days around today.
pub async fn migrate(pool: &PgPool, ahead_days: u32) -> Result<(), DbError> {
    crate::MIGRATOR.run(pool).await?;
    let today = Utc::now().date_naive();
    ensure_partitions(pool, today - Duration::days(1), today + Duration::days(ahead_days.into())).await?;
    Ok(())
}

/// Creates the daily partitions of positions and events for `[first, last]`; returns how many were
/// made. One instance at a time: processes starting together would race to create the same tables.
pub async fn ensure_partitions(pool: &PgPool, first: NaiveDate, last: NaiveDate) -> Result<i32, DbError> {
    let mut tx = pool.begin().await?;
    // "LWPART", held until the transaction ends.
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(0x4c57_5041_5254_i64).execute(&mut *tx).await?;
    let made = sqlx::query_scalar("SELECT leasewatch_ensure_partitions($1, $2)")
        .bind(first)
        .bind(last)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(made)
}

/// Recomputes daily distance and online time per device for the days `[first, last]`; returns
/// the rows written.
pub async fn refresh_daily(pool: &PgPool, first: NaiveDate, last: NaiveDate) -> Result<i32, DbError> {
    Ok(sqlx::query_scalar("SELECT leasewatch_refresh_daily($1, $2)").bind(first).bind(last).fetch_one(pool).await?)
}

/// Whether `positions` is a TimescaleDB hypertable.
pub async fn is_timescale(pool: &PgPool) -> Result<bool, DbError> {
    Ok(sqlx::query_scalar("SELECT (SELECT relkind FROM pg_class WHERE oid = 'positions'::regclass) <> 'p'")
        .fetch_one(pool)
        .await?)
}

/// Applies retention (and compression on TimescaleDB) from the configuration: on TimescaleDB as
/// policies (replaced, so that a changed setting takes effect), on plain PostgreSQL by dropping
/// the daily partitions that ended more than `retention_days` ago. Returns partitions dropped.
pub async fn apply_retention(pool: &PgPool, retention_days: u32, compress_after_days: u32) -> Result<i32, DbError> {
    if !is_timescale(pool).await? {
        let keep_from = Utc::now().date_naive() - Duration::days(retention_days.into());
        return drop_partitions(pool, keep_from).await;
    }
    for table in ["positions", "device_events"] {
        sqlx::query("SELECT remove_retention_policy($1::regclass, if_exists => true)")
            .bind(table)
            .execute(pool)
            .await?;
        sqlx::query("SELECT add_retention_policy($1::regclass, make_interval(days => $2))")
            .bind(table)
            .bind(retention_days as i32)
            .execute(pool)
            .await?;
        sqlx::query("SELECT remove_compression_policy($1::regclass, if_exists => true)")
            .bind(table)
            .execute(pool)
            .await?;
        sqlx::query("SELECT add_compression_policy($1::regclass, make_interval(days => $2))")
            .bind(table)
            .bind(compress_after_days as i32)
            .execute(pool)
            .await?;
    }
    Ok(0)
}

/// Drops the daily partitions that end before `keep_from`; returns how many were dropped.
pub async fn drop_partitions(pool: &PgPool, keep_from: NaiveDate) -> Result<i32, DbError> {
    Ok(sqlx::query_scalar("SELECT leasewatch_drop_partitions($1)").bind(keep_from).fetch_one(pool).await?)
}
