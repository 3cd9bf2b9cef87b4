//! Risk control (风控): what the monitor raised and what people do about it.
//!
//! - `alerts.rs`: alerts listed, read with their history, acknowledged and resolved with a reason.
//! - `tasks.rs`: collection and repossession tasks made from alerts, assigned, done or cancelled.

pub mod alerts;
pub mod tasks;
