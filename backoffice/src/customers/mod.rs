//! Customers (客户): the lessees and the people around them.
//!
//! - `customer.rs`: registering, reading (masked) and revealing (audited) a customer.
//! - `changes.rs`: changes to a customer's particulars, carried out on approval, kept as history.

pub mod changes;
pub mod customer;
