//! `/api/v1/webhooks`: subscriptions that receive alert changes as signed POSTs (see
//! `leasewatch_monitor::webhooks` for the signature), their deliveries, and retrying dead ones.
//! The secret is sealed at rest and never shown again after creation.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::FromRow;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(deliveries)).routes(routes!(retry))
}

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

/// Subscriptions of the caller's region subtree.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", params(PageParams),
    responses((status = 200, description = "A page of subscriptions", body = Paged<Webhook>)), security(("bearer" = ["monitor.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Webhook>>, ApiError> {
    Ok(Json(TABLE.list(&state.pool, &caller, &page, |_| {}).await?))
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
    /// Alerts of this region's subtree, within the caller's.
    pub region_id: i64,
    /// At this severity or higher (default `medium`).
    #[schema(pattern = "^(info|low|medium|high|critical)$")]
    pub min_severity: Option<String>,
}

/// Subscribe a URL to alert changes.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = NewWebhook,
    responses((status = 201, description = "Subscribed", body = Webhook)), security(("bearer" = ["monitor.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewWebhook>,
) -> Result<(StatusCode, Json<Webhook>), ApiError> {
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
    checks.check(
        leasewatch_monitor::rules::Severity::parse(severity).is_some(),
        "min_severity",
        "must be info, low, medium, high or critical",
    );
    checks.finish()?;
    let sealed = state.vault.seal(&new.secret).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut tx = state.pool.begin().await?;
    backoffice::kit::list::region_in_scope(&mut tx, &caller, new.region_id).await?;
    let hook: Webhook = sqlx::query_as(
        "INSERT INTO webhooks (url, secret_sealed, region_id, min_severity) VALUES ($1, $2, $3, $4)
         RETURNING id, url, region_id, min_severity, active, created_at",
    )
    .bind(url)
    .bind(sealed)
    .bind(new.region_id)
    .bind(severity)
    .fetch_one(&mut *tx)
    .await?;
    let entry = Change::new("create", "webhook", hook.id, Some(hook.region_id)).after(json!(hook));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(hook)))
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

async fn visible(state: &AppState, caller: &Caller, id: i64) -> Result<(), ApiError> {
    TABLE.load(&mut *state.pool.acquire().await?, caller, id).await?;
    Ok(())
}

/// A subscription's deliveries, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = i64, Path, description = "Webhook id"), PageParams, DeliveryFilter),
    responses((status = 200, description = "A page of deliveries", body = Paged<Delivery>)), security(("bearer" = ["monitor.read"])))]
async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(page): Query<PageParams>,
    Query(filter): Query<DeliveryFilter>,
) -> Result<Json<Paged<Delivery>>, ApiError> {
    visible(&state, &caller, id).await?;
    let items = DELIVERIES
        .list(&state.pool, &caller, &page, |f| {
            f.eq("d.webhook_id", Some(id)).eq("d.status", filter.status.clone());
        })
        .await?;
    Ok(Json(items))
}

/// Try a dead delivery again (from the first attempt's schedule).
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery}/actions/retry", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"), ("delivery" = i64, Path, description = "Delivery id")),
    responses((status = 200, description = "Queued again", body = Delivery)), security(("bearer" = ["monitor.write"])))]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery)): Path<(i64, i64)>,
) -> Result<Json<Delivery>, ApiError> {
    visible(&state, &caller, id).await?;
    let mut tx = state.pool.begin().await?;
    let row: Option<Delivery> = sqlx::query_as(
        "UPDATE webhook_deliveries d SET status = 'pending', attempts = 0, next_at = now()
         WHERE d.id = $1 AND d.webhook_id = $2 AND d.status = 'dead'
         RETURNING d.id, d.alert_id, d.payload, d.status, d.attempts, d.next_at, d.last_status, d.last_error, d.delivered_at",
    )
    .bind(delivery)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(ApiError::invalid_state("only a dead delivery of this webhook can be retried"));
    };
    let entry = Change::new("retry", "webhook_delivery", delivery, None)
        .before(json!({"status": "dead"}))
        .after(json!({"status": "pending"}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(Json(row))
}
