//! Dealers (经销商管理): the dealers that bring contracts, their particulars, tier and status.
//!
//! - `dealer.rs`: the dealer record and its service: add, get, list, update, status changes.
//! - `status.rs`: which status changes are allowed, and what each needs (pure).

pub mod dealer;
pub mod status;
