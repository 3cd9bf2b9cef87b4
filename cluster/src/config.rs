//! The message engine's settings.

use serde::{Deserialize, Serialize};

/// Where and how committed batches travel between roles. Without a `url` the daemon is one
/// process and needs no engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// The NATS servers, comma-separated (`nats://10.0.0.1:4222,nats://10.0.0.2:4222`); empty:
    /// no engine, ingest feeds the monitor in its own process.
    pub url: String,
    /// The JetStream stream of committed rows.
    pub stream: String,
    /// Its subjects: `{subject}.{shard}`.
    pub subject: String,
    /// How many shards the fleet is split into: fixed for the life of a stream (monitors agree on
    /// it; changing it re-homes every vehicle).
    pub shards: u16,
    /// Copies of the stream kept by the cluster (3 survives losing one server).
    pub replicas: usize,
    /// Hours a message is kept (a monitor down longer resumes from the oldest kept).
    pub retention_hours: u64,
    /// How often a monitor renews its membership and rebalances its shards, in milliseconds.
    pub claim_ms: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            stream: "LEASEWATCH_ROWS".to_owned(),
            subject: "leasewatch.rows".to_owned(),
            shards: 16,
            replicas: 1,
            retention_hours: 24,
            claim_ms: 1000,
        }
    }
}

impl EngineConfig {
    /// Whether an engine is configured.
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// The subject of a shard.
    pub fn subject_of(&self, shard: u16) -> String {
        format!("{}.{shard}", self.subject)
    }
}
