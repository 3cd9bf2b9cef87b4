//! The admin API end to end against real PostgreSQL: each test gets a fresh migrated database and
//! drives the router as a client would.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod access;
mod applications;
mod auth;
mod books;
mod console;
mod dealers;
mod foundation;
mod letters;
mod litigation;
mod monitor;
mod origination_end_to_end;
mod postloan;
mod prepayment;
mod reminders;
mod repossession;
mod support;
mod tracker;
mod workflow;
