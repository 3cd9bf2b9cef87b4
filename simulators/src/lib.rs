//! Device simulators: realistic tracks encoded with the real wire protocols.
//!
//! # Layout
//! - [`track`]: a vehicle's movement — driving with turns and stops, as plain values.
//! - [`capture`]: byte streams one device would send over TCP, for the decoder and its benchmarks.
//! - [`fleet`]: simulated device ids and the CSV that registers them.
//! - [`load`]: the load generator — many devices over TCP at a fixed offered rate, with
//!   acknowledgement latency and a ledger of what was acknowledged.
//! - [`mqtt`]: MQTT-native devices publishing the telemetry JSON with QoS 1.
//! - [`scenario`]: scenario switches for the monitor (power cut, tamper, offline, leaving the
//!   province, dwelling, towing), planned as plain steps and sent as a GT06 device.

pub mod capture;
pub mod fleet;
pub mod load;
pub mod mqtt;
pub mod scenario;
pub mod track;
