//! The one application context every handler receives.

use std::sync::Arc;

use backoffice::kit::pdf::LetterFont;
use backoffice::origination::partners::Partners;
use backoffice::postloan::reminders::channel::{MessageChannel, Simulator};
use backoffice::system::crypto::Vault;
use backoffice::system::password::HashCost;
use backoffice::system::workflow::hooks::Hooks;
use leasewatch_store::quarantine::Promoter;
use sqlx::PgPool;

use crate::alert_feed::AlertFeed;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: PgPool,
    /// Seals and opens sensitive fields.
    pub vault: Vault,
    /// Argon2id cost of new password hashes.
    pub hash_cost: HashCost,
    /// What the back-office areas do when a workflow instance on their subject type finishes.
    pub hooks: Hooks,
    /// Promotes quarantined devices, where this process runs ingest.
    pub promoter: Option<Arc<dyn Promoter>>,
    /// Alert changes as they commit, for live streams.
    pub alert_feed: AlertFeed,
    /// Turns true when the process shuts down: live streams end so the server can stop.
    pub shutdown: Option<tokio::sync::watch::Receiver<bool>>,
    /// The company's offset from UTC in hours: the console shows times in its zone.
    pub utc_offset_hours: i32,
    /// The map tile server's URL template, when the company has one.
    pub tile_url: Option<String>,
    /// The font default-notice letters are set in.
    pub letter_font: Arc<LetterFont>,
    /// Where SMS reminders go out; none: no gateway is configured and none are sent. The
    /// simulator unless set otherwise.
    pub message_channel: Option<Arc<dyn MessageChannel>>,
    /// The credit bureau, identity check, insurer and e-signature service applications meet;
    /// simulated unless set otherwise.
    pub partners: Partners,
}

impl AppState {
    /// A context with the maker-checker hooks of every back-office area.
    pub fn new(pool: PgPool, vault: Vault, hash_cost: HashCost) -> Self {
        Self {
            pool,
            vault,
            hash_cost,
            hooks: backoffice::approval_hooks(),
            promoter: None,
            alert_feed: AlertFeed::default(),
            shutdown: None,
            utc_offset_hours: 8,
            tile_url: None,
            letter_font: Arc::new(LetterFont::default()),
            message_channel: Some(Arc::new(Simulator::default())),
            partners: Partners::simulated(None),
        }
    }

    /// Sets the partners applications meet (bureau, identity check, insurer, e-signature).
    pub fn with_partners(mut self, partners: Partners) -> Self {
        self.partners = partners;
        self
    }

    /// Sets the SMS provider reminders go out through (none: reminders are off).
    pub fn with_message_channel(mut self, channel: Option<Arc<dyn MessageChannel>>) -> Self {
        self.message_channel = channel;
        self
    }

    /// Sets the font letters are set in (a TrueType/OpenType file or collection, and the face).
    pub fn with_letter_font(mut self, path: &std::path::Path, index: u32) -> Self {
        self.letter_font = LetterFont::new(path, index);
        self
    }

    /// Sets the map tile server; a URL whose origin cannot be allowed safely is refused.
    pub fn with_tile_url(mut self, url: Option<String>) -> Result<Self, String> {
        if let Some(url) = &url
            && crate::console::policy::tile_origin(url).is_none()
        {
            return Err(format!("admin.tile_url {url:?} is not an http(s) URL template"));
        }
        self.tile_url = url;
        Ok(self)
    }

    /// Sets the company's offset from UTC.
    pub fn with_utc_offset(mut self, hours: i32) -> Self {
        self.utc_offset_hours = hours;
        self.hooks = self.hooks.in_zone(hours);
        self
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
}
