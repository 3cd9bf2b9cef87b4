//! Maker-checker hooks: what a business area does when a workflow instance on its subject type
//! finishes, run in the transaction that finishes it (an approved reversal posts its entries; a
//! rejected engine cut is marked rejected). Each area declares its hooks in one place; the engine
//! looks them up by subject type and names no area.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::PgConnection;

use super::definition::Outcome;
use super::records::Instance;
use crate::error::Error;

/// What an area does when an instance on its subject type finishes.
pub trait FinishHook: Send + Sync {
    /// Called once, when `instance` ends with `outcome`.
    fn finished<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        instance: &'a Instance,
        outcome: Outcome,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;
}

/// Subject type → the hook of the area that owns it.
#[derive(Clone, Default)]
pub struct Hooks(Arc<HashMap<String, Arc<dyn FinishHook>>>);

impl Hooks {
    /// Adds the hook run when an instance on `subject_type` finishes.
    pub fn with(mut self, subject_type: &str, hook: Arc<dyn FinishHook>) -> Self {
        Arc::make_mut(&mut self.0).insert(subject_type.to_owned(), hook);
        self
    }

    /// The hook for `subject_type`, if an area declared one.
    pub fn get(&self, subject_type: &str) -> Option<&dyn FinishHook> {
        self.0.get(subject_type).map(|h| h.as_ref())
    }

    /// The subject types that have a hook.
    pub fn subject_types(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}
