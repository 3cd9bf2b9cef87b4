//! Vehicles and assets (车辆管理): trackers in the vehicles, the commands sent to them, and
//! trackers not yet registered.
//!
//! - `vehicle.rs`: vehicles, their status and their trackers.
//! - `device_commands.rs`: engine cut (with approval), restore, locate, reporting interval.
//! - `fleet.rs`: every vehicle at its last fix, for the map.
//! - `quarantine.rs`: devices heard before they were registered, and promoting them.

pub mod device_commands;
pub mod fleet;
pub mod quarantine;
pub mod vehicle;
