//! Maker-checker hooks: what a business area does when a workflow instance on its subject type
//! finishes, run in the transaction that finishes it (an approved reversal posts its entries; a
//! rejected engine cut is marked rejected). Each area declares its hooks in one place; the engine
//! looks them up by subject type and names no area.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::definition::Outcome;
use super::records::Instance;
use crate::error::Error;
use crate::kit::day::company_today;

/// What an area does when an instance on its subject type finishes.
pub trait FinishHook: Send + Sync {
    /// Called once, when `instance` ends with `outcome` on the company's day `today`.
    fn finished<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        instance: &'a Instance,
        outcome: Outcome,
        today: NaiveDate,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;
}

/// What the hook of a plain function learns: which object was decided, and how.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    /// The subject's id (a numeric id: receipts, contracts, dealers, commands).
    pub subject: i64,
    /// The request's title.
    pub title: &'a str,
    /// How it ended.
    pub outcome: Outcome,
    /// The company's day it ended on: what the hook books is dated so.
    pub today: NaiveDate,
}

impl Decision<'_> {
    /// Whether the request was approved.
    pub fn approved(&self) -> bool {
        self.outcome == Outcome::Approved
    }
}

/// What a hook returns.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// An area's hook as a plain function of the finishing transaction and the decision.
pub type HookFn = for<'a> fn(&'a mut PgConnection, Decision<'a>) -> HookFuture<'a>;

/// A [`HookFn`] as a [`FinishHook`]: the subject id is read as a number.
struct Plain(HookFn);

impl FinishHook for Plain {
    fn finished<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        instance: &'a Instance,
        outcome: Outcome,
        today: NaiveDate,
    ) -> HookFuture<'a> {
        match instance.subject_id.parse() {
            Ok(subject) => (self.0)(tx, Decision { subject, title: &instance.title, outcome, today }),
            Err(_) => {
                let id = instance.subject_id.clone();
                Box::pin(async move { Err(Error::Internal(format!("subject id {id} is not a number"))) })
            }
        }
    }
}

/// Subject type → the hook of the area that owns it, and the company's zone the hooks date in.
#[derive(Clone)]
pub struct Hooks {
    by_subject: Arc<HashMap<String, Arc<dyn FinishHook>>>,
    utc_offset_hours: i32,
}

impl Default for Hooks {
    /// No hooks; days in China Standard Time until told otherwise.
    fn default() -> Self {
        Self { by_subject: Arc::default(), utc_offset_hours: 8 }
    }
}

impl Hooks {
    /// Adds the hook run when an instance on `subject_type` finishes.
    pub fn with(mut self, subject_type: &str, hook: Arc<dyn FinishHook>) -> Self {
        Arc::make_mut(&mut self.by_subject).insert(subject_type.to_owned(), hook);
        self
    }

    /// Dates what the hooks do in the company's zone, `utc_offset_hours` east of UTC.
    pub fn in_zone(mut self, utc_offset_hours: i32) -> Self {
        self.utc_offset_hours = utc_offset_hours;
        self
    }

    /// The company's day now.
    pub fn today(&self) -> NaiveDate {
        company_today(self.utc_offset_hours)
    }

    /// Adds `hook`, a plain function, run when an instance on `subject_type` finishes.
    pub fn on(self, subject_type: &str, hook: HookFn) -> Self {
        self.with(subject_type, Arc::new(Plain(hook)))
    }

    /// The hook for `subject_type`, if an area declared one.
    pub fn get(&self, subject_type: &str) -> Option<&dyn FinishHook> {
        self.by_subject.get(subject_type).map(|h| h.as_ref())
    }

    /// The subject types that have a hook.
    pub fn subject_types(&self) -> impl Iterator<Item = &str> {
        self.by_subject.keys().map(String::as_str)
    }
}
