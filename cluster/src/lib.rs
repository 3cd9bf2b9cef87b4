//! leasewatch cluster: the roles in separate processes, over NATS JetStream.
//!
//! Ingest nodes leave each committed batch's rows, as the monitor reads them and split by shard,
//! in the database's outbox in the batch's own transaction; a publisher on every ingest node hands
//! the outbox to the engine and empties it (any node publishes what a dead one left). Monitor
//! instances share the shards through leases, and consume each held shard with a durable consumer
//! from the sequence the database says was applied last.
//!
//! - [`config`]: the engine's settings.
//! - [`wire`]: committed rows as the monitor reads them, and their encoding by shard.
//! - [`vehicles`]: which vehicle each device is fitted to (a vehicle's trackers share a shard).
//! - [`stream`]: connecting and declaring the stream.
//! - [`publisher`]: the outbox into the engine.
//! - [`shards`]: a monitor's shard leases, balanced among the live monitors.
//! - [`consumer`]: a held shard's messages into the monitor.
//! - [`status`]: how far behind each shard is, and who holds it.

pub mod config;
pub mod consumer;
pub mod publisher;
pub mod shards;
pub mod status;
pub mod stream;
pub mod vehicles;
pub mod wire;

pub use config::EngineConfig;

/// A connection to the engine's JetStream.
pub type Engine = async_nats::jetstream::Context;
