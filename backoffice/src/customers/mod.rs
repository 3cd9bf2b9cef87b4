//! Customers (客户): the lessees and the people around them.
//!
//! - `customer.rs`: registering, reading (masked) and revealing (audited) a customer.

pub mod customer;
