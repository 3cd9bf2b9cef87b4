//! Disposal (车辆处置) of a recovered vehicle: held in a yard, talked over with the customer, valued
//! and reviewed, sold through approval, its proceeds allocated, a shortfall written off or pursued.
//!
//! - `record.rs`: the disposal, its communication log, valuation dispatch and review, redemption.
//! - `sale.rs`: the sale through approval and the allocation of its proceeds.
//! - `shortfall.rs`: writing off or pursuing what the sale left owing; closing the contract.

pub mod record;
pub mod sale;
pub mod shortfall;
