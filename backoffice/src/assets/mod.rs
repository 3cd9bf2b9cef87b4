//! Vehicles and assets (车辆管理): trackers in the vehicles and the commands sent to them.
//!
//! - `device_commands.rs`: engine cut (with approval), restore, locate, reporting interval.

pub mod device_commands;
