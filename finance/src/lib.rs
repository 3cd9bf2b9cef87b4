//! leasewatch finance: the money maths of leasing, pure functions over plain types, shared by the
//! admin API, the daily jobs and the command line.
//!
//! # Layout
//! - `money.rs`: rounding to the cent and to installment multiples.
//! - `dates.rs`: monthly due dates clamped to month ends, day counts.
//! - `schedule.rs`: repayment schedules for the four methods, arrears or advance, residual, fees, deposit.
//! - `irr.rs`: the internal rate of return of a schedule's cash flows.
//! - `allocation.rs`: write-off of a receipt over open items in the product's order.
//! - `delinquency.rs`: days past due, buckets, the daily penalty.
//! - `settlement.rs`: the early settlement quote.

pub mod allocation;
pub mod dates;
pub mod delinquency;
pub mod irr;
pub mod money;
pub mod prepayment;
pub mod schedule;
pub mod settlement;

pub use money::Rounding;
pub use rust_decimal::Decimal;
pub use schedule::{Method, Quote, Row, Terms, TermsError, Timing, level_payment, schedule};
