//! leasewatch monitor: turns committed positions and device events, weighed with each lessee's
//! payment status, into alerts, repossession tasks and device commands.
//!
//! - [`observation`]: what the monitor sees (one committed position or event).
//! - [`rules`]: the rules, their thresholds, and scoped, versioned overrides.
//! - [`places`]: distances, geofence shapes, risk locations, province boundaries.
//! - [`watch`]: per-device and per-vehicle state and the rule evaluation (pure), one file per rule family.
//! - [`store`]: loading contracts, thresholds, places and last state from the database.
//! - [`alerts`]: one open alert per vehicle and rule, its history, and `NOTIFY` to listeners.
//! - [`tasks`]: repossession tasks proposed with the night parking place.
//! - [`risk`]: the contract risk score and its reasons.
//! - [`commands`]: device commands, the engine-cut safety rule, and reply matching.
//! - [`webhooks`]: signed delivery of alert changes to subscribers, with retries and dead letters.
//! - [`replay`]: the rules over stored history with candidate thresholds, for tuning.
//! - [`engine`]: the task that runs it all.

pub mod alerts;
pub mod commands;
pub mod engine;
pub mod observation;
pub mod places;
pub mod replay;
pub mod risk;
pub mod rules;
pub mod store;
pub mod tasks;
pub mod watch;
pub mod webhooks;
