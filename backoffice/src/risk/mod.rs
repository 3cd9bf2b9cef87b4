//! Risk control (风控): what the monitor raised and what people do about it.
//!
//! - `alerts.rs`: alerts listed, read with their history, acknowledged and resolved with a reason.
//! - `tasks.rs`: collection and repossession tasks made from alerts, assigned, done or cancelled.
//! - `scores.rs`: contracts' risk scores with their reasons, highest first.
//! - `places.rs`: risk locations (二押点) and geofences the monitor watches.
//! - `rules.rs`: the monitor's rules, their catalogue and versioned threshold settings by scope.
//! - `webhooks.rs`: subscriptions to alert changes (secret sealed), their deliveries, retrying dead ones.

pub mod alerts;
pub mod places;
pub mod rules;
pub mod scores;
pub mod tasks;
pub mod webhooks;
