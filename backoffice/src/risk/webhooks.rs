//! Subscriptions that receive alert changes as signed POSTs (see `leasewatch_monitor::webhooks` for
//! the signature and the deliveries' schedule), their deliveries, and retrying dead ones. The secret
//! is sealed at rest and never shown again after creation.

use chrono::{DateTime, Utc};
use leasewatch_monitor::rules::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{self, PageParams, Paged, Table};
use crate::system::crypto::Vault;

/// A subscription.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Webhook {
    /// Id.
    pub id: i64,
    /// Where changes are POSTed.
    pub url: String,
    /// Alerts of this region's subtree.
    pub region_id: i64,
    /// At this severity or higher.
    pub min_severity: String,
    /// Delivering.
    pub active: bool,
    /// When made.
    pub created_at: DateTime<Utc>,
}

/// How subscriptions are read.
const TABLE: Table<Webhook> = Table::new(
    "webhook",
    "SELECT w.id, w.url, w.region_id, w.min_severity, w.active, w.created_at",
    "FROM webhooks w JOIN regions g ON g.id = w.region_id",
    "w.id",
)
.scoped("g.path")
.sorted(&[("created_at", "w.created_at"), ("url", "w.url")], "created_at");

/// How a subscription's deliveries are read (once the subscription is known to be visible).
const DELIVERIES: Table<Delivery> = Table::new(
    "delivery",
    "SELECT d.id, d.alert_id, d.payload, d.status, d.attempts, d.next_at, d.last_status, d.last_error, d.delivered_at",
    "FROM webhook_deliveries d",
    "d.id",
)
.sorted(&[("id", "d.id")], "-id");

/// Subscriptions of the actor's region subtree.
pub async fn list(pool: &PgPool, actor: &Actor, page: &PageParams) -> Result<Paged<Webhook>, Error> {
    TABLE.list(pool, actor, page, |_| {}).await
}

/// A new subscription.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `http://` or `https://` URL.
    #[schema(pattern = "^https?://", max_length = 500)]
    pub url: String,
    /// The shared secret the receiver checks signatures with (16 to 200 characters).
    #[schema(min_length = 16, max_length = 200)]
    pub secret: String,
    /// Alerts of this region's subtree, within the actor's.
    pub region_id: i64,
    /// At this severity or higher (default `medium`).
    #[schema(pattern = "^(info|low|medium|high|critical)$")]
    pub min_severity: Option<String>,
}

/// Subscribes a URL to the alert changes of a region of the actor's subtree, its secret sealed.
pub async fn create(db: &mut PgConnection, vault: &Vault, actor: &Actor, new: &NewWebhook) -> Result<Webhook, Error> {
    let mut checks = Checks::default();
    let url = new.url.trim();
    checks.check(
        (url.starts_with("http://") || url.starts_with("https://"))
            && url.len() <= 500
            && !url.contains(char::is_whitespace),
        "url",
        "must be an http:// or https:// URL of at most 500 characters",
    );
    checks.check((16..=200).contains(&new.secret.chars().count()), "secret", "must be 16 to 200 characters");
    let severity = new.min_severity.as_deref().unwrap_or("medium");
    checks.check(Severity::parse(severity).is_some(), "min_severity", "must be info, low, medium, high or critical");
    checks.finish()?;
    let sealed = vault.seal(&new.secret).map_err(|e| Error::Internal(e.to_string()))?;
    list::region_in_scope(db, actor, new.region_id).await?;
    let hook: Webhook = sqlx::query_as(
        "INSERT INTO webhooks (url, secret_sealed, region_id, min_severity) VALUES ($1, $2, $3, $4)
         RETURNING id, url, region_id, min_severity, active, created_at",
    )
    .bind(url)
    .bind(sealed)
    .bind(new.region_id)
    .bind(severity)
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("create", "webhook", hook.id, Some(hook.region_id)).after(json!(hook));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(hook)
}

/// A delivery.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// The alert.
    pub alert_id: i64,
    /// What was (or will be) sent.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// Next attempt, when pending.
    pub next_at: DateTime<Utc>,
    /// The receiver's last HTTP status.
    pub last_status: Option<i32>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Filters of the delivery list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// `pending`, `delivered` or `dead`.
    #[param(pattern = "^(pending|delivered|dead)$")]
    pub status: Option<String>,
}

/// The deliveries of subscription `id` (if in the actor's region subtree), newest first.
pub async fn deliveries(
    pool: &PgPool,
    actor: &Actor,
    id: i64,
    page: &PageParams,
    filter: &DeliveryFilter,
) -> Result<Paged<Delivery>, Error> {
    TABLE.load(&mut *pool.acquire().await?, actor, id).await?;
    DELIVERIES
        .list(pool, actor, page, |f| {
            f.eq("d.webhook_id", Some(id)).eq("d.status", filter.status.clone());
        })
        .await
}

/// Queues a dead delivery of subscription `id` again, from the first attempt's schedule.
pub async fn retry(db: &mut PgConnection, actor: &Actor, id: i64, delivery: i64) -> Result<Delivery, Error> {
    TABLE.load(db, actor, id).await?;
    let row: Option<Delivery> = sqlx::query_as(
        "UPDATE webhook_deliveries d SET status = 'pending', attempts = 0, next_at = now()
         WHERE d.id = $1 AND d.webhook_id = $2 AND d.status = 'dead'
         RETURNING d.id, d.alert_id, d.payload, d.status, d.attempts, d.next_at, d.last_status, d.last_error, d.delivered_at",
    )
    .bind(delivery)
    .bind(id)
    .fetch_optional(&mut *db)
    .await?;
    let Some(row) = row else {
        return Err(Error::invalid_state("only a dead delivery of this webhook can be retried"));
    };
    let entry = Change::new("retry", "webhook_delivery", delivery, None)
        .before(json!({"status": "dead"}))
        .after(json!({"status": "pending"}));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(row)
}
