//! Customers (客户): the lessees and the people around them.
//!
//! - `customer.rs`: registering, reading (masked) and revealing (audited) a customer.
//! - `blacklist.rs`: the people the company will not lease to (黑名单).
//! - `changes.rs`: changes to a customer's particulars, carried out on approval, kept as history.

pub mod blacklist;
pub mod changes;
pub mod customer;
