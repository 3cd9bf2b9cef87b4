//! The parts of the `leasewatch` binary that end-to-end tests drive directly.

pub mod monitor_link;
