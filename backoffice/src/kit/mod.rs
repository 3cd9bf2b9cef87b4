//! The resource kit: what every back-office resource repeats, written once.
//!
//! - `list.rs`: region-scoped load and list, typed filters, sort whitelist, page and keyset paging.
//! - `audit.rs`: the append-only audit log's change record.
//! - `version.rs`: versioned updates (optimistic locking).
//! - `approvals.rs`: maker-checker hooks each area declares, and submitting a request for approval.
//! - `identity.rs`: check digits of national IDs, credit codes and VINs.
//! - `amount.rs`: money in answers, always with its cents.
//! - `day.rs`: the company's calendar (today where the company is, when a day begins).
//! - `pdf.rs`: a document (letter, contract) set as PDF in an embedded CJK font.
//! - `placeholders.rs`: texts with figures in braces (letters, reminders): checked and filled.
//! - `signed_http.rs`: signed requests to partners and their signed callbacks, verified.

pub mod amount;
pub mod approvals;
pub mod audit;
pub mod day;
pub mod identity;
pub mod list;
pub mod pdf;
pub mod placeholders;
pub mod signed_http;
pub mod version;
