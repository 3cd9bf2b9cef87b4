//! leasewatch store: the one schema, the pool, and the records that cross parts, so that ingest,
//! the monitor, the back office and the binary share types instead of copying them.
//!
//! # Layout
//! - [`db`]: connecting (creating the database when missing), migrating, daily partitions, retention.
//! - [`devices`]: the device registry's one writer (registration, installation).
//! - [`batch`]: the rows a committed batch holds (positions, typed device events, quarantined
//!   frames): what ingest writes and the monitor reads.
//! - [`quarantine`]: promoting a quarantined device — the request, the result, and the trait
//!   through which the HTTP side asks the ingest side.
//! - [`leader`]: which instance runs the batch jobs (a PostgreSQL advisory lock).
//! - [`outbox`]: committed batches waiting to be published to the message engine.
//! - [`shard`]: which shard a vehicle's telemetry belongs to.
//! - [`risk_location`]: risk locations (二押点), kept by the back office, watched by the monitor.

pub mod batch;
pub mod db;
pub mod devices;
pub mod leader;
pub mod outbox;
pub mod quarantine;
pub mod risk_location;
pub mod shard;

/// The migrations of the whole schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
