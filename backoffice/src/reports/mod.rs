//! Reports (报表): figures over the book and the fleet, scoped to the reader's region subtree.
//!
//! - `overview.rs`: the dashboard's figures: open alerts by severity, contracts by bucket, tasks,
//!   trackers reporting.

pub mod overview;
