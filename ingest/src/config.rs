//! Ingest settings. Every limit is a field with a named default, and says what it protects.

use std::net::SocketAddr;
use std::path::PathBuf;

use leasewatch_protocols::ProtocolKind;
use serde::{Deserialize, Serialize};

/// What to do with frames from a device that is not in `devices`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownDevices {
    /// Close the connection without acknowledging anything.
    Reject,
    /// Acknowledge and keep the frames in `quarantine`, to be promoted later.
    #[default]
    Quarantine,
}

/// One protocol's TCP listener.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Whether to listen at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The address to bind.
    pub bind: SocketAddr,
    /// Refuse frames with a wrong checksum instead of accepting them flagged.
    #[serde(default)]
    pub reject_bad_checksum: bool,
}

fn yes() -> bool {
    true
}

fn listener(port: u16) -> ListenerConfig {
    ListenerConfig { enabled: true, bind: SocketAddr::from(([0, 0, 0, 0], port)), reject_bad_checksum: false }
}

/// The TCP listeners, on the ports devices configured for other tracking servers already use.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Listeners {
    /// GT06 / Concox, port 5023.
    pub gt06: ListenerConfig,
    /// JT/T 808, port 5015.
    pub jt808: ListenerConfig,
    /// Teltonika, port 5027.
    pub teltonika: ListenerConfig,
    /// H02, port 5013.
    pub h02: ListenerConfig,
}

impl Default for Listeners {
    fn default() -> Self {
        Self { gt06: listener(5023), jt808: listener(5015), teltonika: listener(5027), h02: listener(5013) }
    }
}

impl Listeners {
    /// The configuration of `protocol`'s listener (`None` for MQTT telemetry, which has none).
    pub fn get(&self, protocol: ProtocolKind) -> Option<&ListenerConfig> {
        match protocol {
            ProtocolKind::Gt06 => Some(&self.gt06),
            ProtocolKind::Jt808 => Some(&self.jt808),
            ProtocolKind::Teltonika => Some(&self.teltonika),
            ProtocolKind::H02 => Some(&self.h02),
            ProtocolKind::Mqtt => None,
        }
    }
}

/// Limits on device connections.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// Open device connections over all listeners (each costs a task and a small buffer).
    pub max_connections: usize,
    /// Open connections from one source address: one misbehaving gateway cannot take them all.
    pub max_per_ip: usize,
    /// Seconds without a byte before a connection is closed (devices send heartbeats far more often).
    pub idle_timeout_secs: u64,
    /// Undecodable frames or garbage runs tolerated on one connection before it is closed.
    pub error_budget: u32,
    /// The longest frame accepted; a declared length above it is refused before it is buffered.
    pub max_frame_len: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 100_000,
            max_per_ip: 2_000,
            idle_timeout_secs: 600,
            error_budget: 50,
            max_frame_len: leasewatch_protocols::protocol::default_max_frame_len(),
        }
    }
}

/// The batching writer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WriterConfig {
    /// Rows per flush at most.
    pub batch_rows: usize,
    /// Milliseconds a row may wait for its batch to fill (the floor of ack latency).
    pub flush_ms: u64,
    /// Milliseconds within which a device's latest state (`device_state`) is written once: a
    /// device reporting faster has its newest state written at the window's end (0: every fix).
    pub state_every_ms: u64,
    /// Batches in their transactions at once: the next batch is written while the last commits,
    /// so the database's cores and the daemon's work overlap.
    pub concurrent_batches: usize,
    /// Batches the channel holds before connections stop reading (back-pressure).
    pub channel_capacity: usize,
    /// The spool file, used while the database is unreachable.
    pub spool_path: PathBuf,
    /// The spool's size limit; when full, devices are no longer acknowledged (an error is logged).
    pub spool_max_bytes: u64,
    /// Milliseconds between attempts to reach the database again while the spool holds batches.
    pub retry_ms: u64,
    /// Milliseconds between reports of the positions acknowledged (the dashboard's positions/s).
    pub throughput_report_ms: u64,
    /// Acknowledge without storing anything: `scripts/bench-ingest` measures the transport limit
    /// (sockets, framing, decoding, acknowledgements) with it. Never in service: data is lost.
    pub discard: bool,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            batch_rows: 5_000,
            flush_ms: 20,
            state_every_ms: 1_000,
            concurrent_batches: 2,
            channel_capacity: 10_000,
            spool_path: PathBuf::from("spool/leasewatch.spool"),
            spool_max_bytes: 1 << 30,
            retry_ms: 1_000,
            throughput_report_ms: 10_000,
            discard: false,
        }
    }
}

/// The MQTT subscriber (telemetry from MQTT-native trackers, and the raw-bytes bridge).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Whether to subscribe at all.
    pub enabled: bool,
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Client id; with a persistent session the broker keeps QoS 1 messages for it while it is away.
    pub client_id: String,
    /// Messages being written at once; beyond it the subscriber stops reading from the broker.
    pub max_in_flight: usize,
    /// Publish every durable position to `leasewatch/v1/positions/{device}` for other consumers.
    pub publish_positions: bool,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            host: "127.0.0.1".to_owned(),
            port: 1883,
            client_id: "leasewatch-ingest".to_owned(),
            max_in_flight: 1_000,
            publish_positions: false,
        }
    }
}

/// Everything ingest needs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// The TCP listeners.
    pub listeners: Listeners,
    /// Frames from unregistered devices.
    pub unknown_devices: UnknownDevices,
    /// Connection limits.
    pub limits: ConnectionLimits,
    /// The writer.
    pub writer: WriterConfig,
    /// The MQTT subscriber.
    pub mqtt: MqttConfig,
    /// Days of daily partitions created ahead of today (plain PostgreSQL).
    pub partitions_ahead_days: u32,
    /// Days positions and events are kept; older partitions or chunks are dropped.
    pub retention_days: u32,
    /// Days after which TimescaleDB compresses chunks (segment by device).
    pub compress_after_days: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            listeners: Listeners::default(),
            unknown_devices: UnknownDevices::default(),
            limits: ConnectionLimits::default(),
            writer: WriterConfig::default(),
            mqtt: MqttConfig::default(),
            partitions_ahead_days: 7,
            retention_days: 400,
            compress_after_days: 7,
        }
    }
}
