//! Vehicles and assets (车辆管理): trackers in the vehicles and the commands sent to them.
//!
//! - `vehicle.rs`: vehicles, their status and their trackers.
//! - `device_commands.rs`: engine cut (with approval), restore, locate, reporting interval.
//! - `fleet.rs`: every vehicle at its last fix, for the map.

pub mod device_commands;
pub mod fleet;
pub mod vehicle;
