//! The books: contracts and what they owe, receipts and their write-off, the ledger and the
//! daily delinquency job, over the database. The money maths is `leasewatch-finance`'s.
//!
//! - `contract.rs`: the contract service: list, detail, origination and activation, settlement,
//!   promises to pay, the reconciliation, the payment status.
//! - `import.rs`: importing a book of contracts from CSV, with schedules and paid-to-date state.
//! - `receivables.rs`: a contract's receivable items, written from its schedule and read.
//! - `receipts.rs`: the receipt service: bank statements, claiming, write-off, receiving accounts.
//! - `allocation.rs`: money allocated to open items from receipts, credit or the deposit.
//! - `ledger.rs`: balanced double entries for every money movement.
//! - `approvals.rs`: write-off reversal and deposit offset: requested, and carried out when their
//!   workflow is approved.
//! - `settlement.rs`: the early settlement quote and its execution.
//! - `prepayment.rs`: partial prepayment: the new schedule shown, then carried out on approval.
//! - `events.rs`: what happened to a contract (promises, settlement, offsets, reversals).
//! - `delinquency.rs`: the daily job: credit at due dates, days past due, buckets, penalty, events.

pub mod allocation;
pub mod approvals;
pub mod contract;
pub mod delinquency;
pub mod events;
pub mod import;
pub mod ledger;
pub mod prepayment;
pub mod receipts;
pub mod receivables;
pub mod settlement;
