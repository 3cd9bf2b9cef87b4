//! Repossession (现场收车): the companies that take cars back, the orders they are given, and the
//! live-location links their agents follow.
//!
//! - `companies.rs`: repossession companies, their fee schedule and performance (收车公司维护).
//! - `orders.rs`: orders from the monitor's proposals or by hand; dispatch, recovery, review, fee.
//! - `links.rs`: a link that shows the agent one vehicle, until the order closes or it is revoked.

pub mod companies;
pub mod links;
pub mod orders;
