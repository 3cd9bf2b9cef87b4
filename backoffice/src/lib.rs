//! leasewatch back office: the leasing business as services over the database. It knows nothing of
//! HTTP: callers (the admin API and console, the CLI, the daily job, the demo) pass an [`Actor`]
//! and a connection or transaction, and get values or an [`Error`].
//!
//! # Layout
//! - `actor.rs`: who acts (user, permissions, region scope, request id for the audit).
//! - `error.rs`: the one error type, and `Checks`, which collects every bad field at once.
//! - `kit/`: what every resource repeats: scoped load and list, audit, versions, approvals.
//! - `system/`: permissions, settings, sealed fields, passwords, the workflow engine, bootstrap.
//! - `dealers/`: dealers (经销商管理).
//! - `products/`: product rules (产品管理).
//! - `customers/`: lessees and the people around them (客户).
//! - `assets/`: vehicles and their trackers' commands (车辆管理).
//! - `origination/`: how a lease is born (订单管理): applications, scorecards, credit review,
//!   guarantee insurance, the contract signed, disbursement, the documents after it and the archive.
//! - `books/`: contracts, receipts, the ledger, delinquency, settlement (合同 / 财务).
//! - `postloan/`: collections after the loan is made: parameters, collection groups (贷后管理).
//! - `reports/`: figures over the book and the fleet (报表).
//! - `risk/`: alerts, collection and repossession tasks, risk scores, places, monitor rules, webhooks (风控).
//! - `search/`: finding any record by the number or name at hand (全局搜索).
//!
//! Adding an area: `backoffice/README.md` walks through the dealers, file by file.

pub mod actor;
pub mod assets;
pub mod books;
pub mod customers;
pub mod dealers;
pub mod error;
pub mod kit;
pub mod origination;
pub mod postloan;
pub mod products;
pub mod reports;
pub mod risk;
pub mod search;
pub mod system;

pub use crate::actor::{Actor, RequestMeta};
pub use crate::error::{Checks, Error, FieldError};

use crate::system::workflow::hooks::Hooks;

/// The maker-checker hooks of every area, for the workflow engine.
pub fn approval_hooks() -> Hooks {
    let hooks = Hooks::default();
    let hooks = books::approvals::hooks(hooks);
    let hooks = books::prepayment::hooks(hooks);
    let hooks = dealers::dealer::hooks(hooks);
    let hooks = customers::changes::hooks(hooks);
    let hooks = origination::review::hooks(hooks);
    let hooks = origination::disbursement::hooks(hooks);
    let hooks = postloan::charges::hooks(hooks);
    let hooks = postloan::litigation::hooks(hooks);
    let hooks = postloan::visits::hooks(hooks);
    let hooks = postloan::disposal::sale::hooks(hooks);
    let hooks = postloan::disposal::shortfall::hooks(hooks);
    assets::device_commands::hooks(hooks)
}
