//! The one application context every handler receives.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::PgPool;

use crate::alert_feed::AlertFeed;
use crate::api::quarantine::Promoter;
use crate::crypto::Vault;
use crate::password::HashCost;
use crate::workflow::engine::FinishHook;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: PgPool,
    /// Seals and opens sensitive fields.
    pub vault: Vault,
    /// Argon2id cost of new password hashes.
    pub hash_cost: HashCost,
    /// What business modules do when a workflow instance on their subject type finishes.
    pub hooks: Arc<HashMap<String, Arc<dyn FinishHook>>>,
    /// Promotes quarantined devices, where this process runs ingest.
    pub promoter: Option<Arc<dyn Promoter>>,
    /// Alert changes as they commit, for live streams.
    pub alert_feed: AlertFeed,
    /// Turns true when the process shuts down: live streams end so the server can stop.
    pub shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

impl AppState {
    /// A context with the workflow hooks of the books (write-off reversal, deposit offset) and of
    /// device commands (engine cut).
    pub fn new(pool: PgPool, vault: Vault, hash_cost: HashCost) -> Self {
        crate::api::commands::register(crate::books::approvals::register(Self {
            pool,
            vault,
            hash_cost,
            hooks: Arc::default(),
            promoter: None,
            alert_feed: AlertFeed::default(),
            shutdown: None,
        }))
    }

    /// Sets the shutdown signal that ends live streams.
    pub fn with_shutdown(mut self, shutdown: tokio::sync::watch::Receiver<bool>) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Sets what promotes quarantined devices.
    pub fn with_promoter(mut self, promoter: Arc<dyn Promoter>) -> Self {
        self.promoter = Some(promoter);
        self
    }

    /// Adds the hook run when an instance on `subject_type` finishes.
    pub fn with_hook(mut self, subject_type: &str, hook: Arc<dyn FinishHook>) -> Self {
        Arc::make_mut(&mut self.hooks).insert(subject_type.to_owned(), hook);
        self
    }
}
