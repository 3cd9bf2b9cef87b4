//! Ingest: device connections in, durable rows out.
//!
//! # Layout
//! - [`config`]: every limit and setting, with named defaults.
//! - [`devices`]: the device registry (who may send) and the CSV import.
//! - [`copy`]: PostgreSQL's binary COPY format, encoded by hand into a reused buffer.
//! - [`writer`]: the batching writer — rows in through a bounded channel, flushed by size or
//!   time with binary COPY into a de-duplicating staging path, acknowledged after commit.
//! - [`latest_state`]: each device's latest state, written at most once per device per window.
//! - [`spool`]: the local append-only spool that keeps acknowledging while the database is down.
//! - [`frames`]: the protocol side of a connection without I/O: frames decoded one at a time,
//!   replies, the error budget.
//! - [`connection`]: one device's TCP session: frames in, rows to the writer, replies out only
//!   once the rows are durable.
//! - [`metrics`]: every ingest metric, defined in one place.
//! - [`mqtt`]: the MQTT subscriber — JSON telemetry and the raw-bytes bridge, acknowledged after durable.
//! - [`listener`]: the accept loop per protocol, with its connection limits.
//! - [`capacity`]: how many connections the process's open-file limit lets it hold.
//! - [`quarantine`]: promoting an unregistered device and replaying what it sent.
//! - [`throughput`]: the positions each node acknowledged, reported for the dashboard.

pub mod capacity;
pub mod config;
pub mod connection;
pub mod copy;
pub mod devices;
pub mod frames;
pub mod latest_state;
pub mod listener;
pub mod metrics;
pub mod mqtt;
pub mod quarantine;
pub mod sessions;
pub mod spool;
pub mod throughput;
pub mod writer;
