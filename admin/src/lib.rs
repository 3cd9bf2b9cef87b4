//! leasewatch admin: arrives with its own issue; the crate exists so that the workspace shows the architecture.
