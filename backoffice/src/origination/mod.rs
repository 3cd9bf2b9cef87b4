//! Origination (订单管理): how a lease is born.
//!
//! - `application.rs`: the application (申请填报) — applicant, the people around them, the vehicle,
//!   the quote, the documents; saved as a draft while it is typed.
//! - `submit.rs`: submitting it: every field checked whole (check digits, age at the end of the
//!   term, the quote against the product's current version), then the duplicate and fraud checks.

pub mod application;
pub mod submit;
