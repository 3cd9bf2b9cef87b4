//! The books: contracts and what they owe, receipts and their write-off, the ledger and the
//! daily delinquency job, over the database. The money maths is `leasewatch-finance`'s.
//!
//! - `contracts.rs`: importing a book of contracts from CSV, with schedules and paid-to-date state.
//! - `receipts.rs`: bank statements, claiming, write-off and customer credit.
//! - `ledger.rs`: balanced double entries for every money movement.
//! - `approvals.rs`: write-off reversal and deposit offset, carried out when their workflow is approved.
//! - `settlement.rs`: the early settlement quote and its execution.
//! - `delinquency.rs`: the daily job: credit at due dates, days past due, buckets, penalty, events.

pub mod approvals;
pub mod contracts;
pub mod delinquency;
pub mod ledger;
pub mod receipts;
pub mod settlement;
