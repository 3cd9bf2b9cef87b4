//! Repayment reminders and overdue notices by SMS (还款提醒 / 逾期通知): the stages they go out at,
//! the job that sends them once per installment and stage within the contact rules, and the message
//! channel (an adapter per provider: the HTTP gateway; the simulator ships for tests and the demo).
//!
//! - `stages.rs`: the stages and their texts.
//! - `job.rs`: the run: who is due a message, sending, delivery receipts.
//! - `channel.rs`: the provider adapter trait and the simulator.
//! - `gateway.rs`: the HTTP SMS gateway adapter, signed requests.
//! - `messages.rs`: a contract's messages and their delivery.

pub mod channel;
pub mod gateway;
pub mod job;
pub mod messages;
pub mod stages;
