//! Live-location links for a repossession company's agent: a URL without an account that shows only
//! the order's vehicle, where it is now. A link dies when it expires, when it is revoked, and when
//! the order is no longer dispatched (recovered, reviewed or cancelled). Only the token's hash is
//! kept; the token is shown once, when the link is made.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::orders;
use crate::actor::Actor;
use crate::error::Error;
use crate::kit::audit::{self, Change};
use crate::system::crypto::{new_token, token_hash};

/// How long a link lives when not told: three days.
pub const DEFAULT_HOURS: i64 = 72;

/// A link, without its token.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Link {
    /// Id.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// Who made it.
    pub created_by: Option<i64>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working by itself.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A link just made, with its URL (shown this once).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewLink {
    /// The link.
    #[serde(flatten)]
    pub link: Link,
    /// The path to send the agent, under the console's address: `/track/{token}`.
    pub path: String,
}

/// How long the link is to live.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// Hours, 1 to 720 (default 72).
    #[schema(minimum = 1, maximum = 720)]
    pub hours: Option<i64>,
}

/// Where the vehicle is, for the agent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Whereabouts {
    /// The order.
    pub order_id: i64,
    /// The vehicle's plate.
    pub plate: Option<String>,
    /// Brand and model.
    pub model: Option<String>,
    /// Latest fix time.
    pub fix_time: Option<DateTime<Utc>>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Speed.
    pub speed_kmh: Option<f32>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// A live link's order, vehicle, plate, model and expiry.
type LiveLink = (i64, i64, Option<String>, Option<String>, DateTime<Utc>);

const SELECT: &str = "SELECT id, order_id, created_by, created_at, expires_at, revoked_at FROM repossession_links";

/// Makes a link for a dispatched order of the actor's region. Audited (without the token).
pub async fn create(
    db: &mut PgConnection,
    actor: &Actor,
    order_id: i64,
    request: &LinkRequest,
) -> Result<NewLink, Error> {
    let hours = request.hours.unwrap_or(DEFAULT_HOURS);
    if !(1..=720).contains(&hours) {
        return Err(Error::invalid("hours", "must be 1 to 720"));
    }
    let order = orders::TABLE.load(db, actor, order_id).await?;
    if order.status != "dispatched" {
        return Err(Error::invalid_state(format!(
            "the order is {}: links are for a dispatched order's agent",
            order.status
        )));
    }
    let token = new_token("lwt_").map_err(|e| Error::Internal(e.to_string()))?;
    let link: Link = sqlx::query_as(
        "INSERT INTO repossession_links (order_id, token_sha256, created_by, expires_at) VALUES ($1, $2, $3, $4)
         RETURNING id, order_id, created_by, created_at, expires_at, revoked_at",
    )
    .bind(order_id)
    .bind(token_hash(&token))
    .bind(actor.user_id)
    .bind(Utc::now() + Duration::hours(hours))
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("create_link", "repossession_order", order_id, Some(order.region_id)).after(json!(link));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(NewLink { link, path: format!("/track/{token}") })
}

/// The links of an order of the actor's region, newest first.
pub async fn of_order(db: &mut PgConnection, actor: &Actor, order_id: i64) -> Result<Vec<Link>, Error> {
    orders::TABLE.load(db, actor, order_id).await?;
    Ok(sqlx::query_as(&format!("{SELECT} WHERE order_id = $1 ORDER BY id DESC")).bind(order_id).fetch_all(db).await?)
}

/// Revokes a link of an order of the actor's region at once. Audited.
pub async fn revoke(db: &mut PgConnection, actor: &Actor, order_id: i64, link_id: i64) -> Result<Link, Error> {
    let order = orders::TABLE.load(db, actor, order_id).await?;
    let link: Link = sqlx::query_as(
        "UPDATE repossession_links SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND order_id = $2
         RETURNING id, order_id, created_by, created_at, expires_at, revoked_at",
    )
    .bind(link_id)
    .bind(order_id)
    .fetch_optional(&mut *db)
    .await?
    .ok_or(Error::NotFound("link"))?;
    let entry = Change::new("revoke_link", "repossession_order", order_id, Some(order.region_id)).after(json!(link));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(link)
}

/// Where the vehicle of a live link is now; a dead or unknown link is not found (nothing tells
/// the two apart).
pub async fn whereabouts(db: &mut PgConnection, token: &str) -> Result<Whereabouts, Error> {
    let found: Option<LiveLink> = sqlx::query_as(
        "SELECT o.id, o.vehicle_id, v.plate, concat_ws(' ', v.brand, v.model), l.expires_at
         FROM repossession_links l JOIN repossession_orders o ON o.id = l.order_id JOIN vehicles v ON v.id = o.vehicle_id
         WHERE l.token_sha256 = $1 AND l.revoked_at IS NULL AND l.expires_at > now() AND o.status = 'dispatched'",
    )
    .bind(token_hash(token))
    .fetch_optional(&mut *db)
    .await?;
    let Some((order_id, vehicle, plate, model, expires_at)) = found else { return Err(Error::NotFound("link")) };
    let fix: Option<(DateTime<Utc>, f64, f64, f32)> = sqlx::query_as(
        "SELECT s.fix_time, s.latitude, s.longitude, s.speed_kmh FROM device_state s JOIN devices d ON d.id = s.device_id
         WHERE d.vehicle_id = $1 AND s.valid ORDER BY s.fix_time DESC LIMIT 1",
    )
    .bind(vehicle)
    .fetch_optional(&mut *db)
    .await?;
    Ok(Whereabouts {
        order_id,
        plate,
        model: model.filter(|m| !m.is_empty()),
        fix_time: fix.map(|f| f.0),
        latitude: fix.map(|f| f.1),
        longitude: fix.map(|f| f.2),
        speed_kmh: fix.map(|f| f.3),
        expires_at,
    })
}
