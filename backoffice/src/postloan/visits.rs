//! Home visits (家访管理): a collector's request (家访申请) approved through the workflow (家访审核,
//! `home_visit`); dispatch (家访派单) to an agent of the region with the places to visit — the
//! customer's address and the vehicle's resident places from telematics, with the hours it is
//! usually there; the result registered (家访登记) with the agent's check-in position and photos;
//! a check-in far from every listed place is flagged for the reviewer, who closes the visit.

use chrono::{DateTime, Utc};
use leasewatch_monitor::places::distance_m;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::books::contract;
use crate::error::{Checks, Error};
use crate::kit::approvals;
use crate::kit::audit;
use crate::kit::list::{PageParams, Paged, Table};
use crate::system::attachments;
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// Subject type (and workflow key) of a home visit request; subject id: the visit.
pub const HOME_VISIT: &str = "home_visit";

/// A check-in further than this from every listed place is flagged.
pub const FAR_METRES: f64 = 1_000.0;

/// `hooks` with the home visits' approval declared.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(HOME_VISIT, request_decided)
}

/// A home visit.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Visit {
    /// Id.
    pub id: i64,
    /// The contract.
    pub contract_id: i64,
    /// Region.
    pub region_id: i64,
    /// `requested`, `approved`, `rejected`, `dispatched`, `registered` or `reviewed`.
    pub status: String,
    /// Why visit.
    pub reason: String,
    /// The field agent.
    pub agent_id: Option<i64>,
    /// The places to visit: label, address, latitude, longitude, the hours the vehicle is there.
    #[schema(value_type = Object)]
    pub addresses: Value,
    /// What the agent found.
    pub result: Option<String>,
    /// Whom they met: `customer`, `family`, `nobody`, `moved`.
    pub met: Option<String>,
    /// Check-in latitude.
    pub check_in_latitude: Option<f64>,
    /// Check-in longitude.
    pub check_in_longitude: Option<f64>,
    /// When.
    pub check_in_at: Option<DateTime<Utc>>,
    /// Metres from the check-in to the nearest listed place with a position.
    pub distance_m: Option<i32>,
    /// Checked in far from every listed place (or none had a position).
    pub far: Option<bool>,
    /// Photos (SHA-256 of each).
    pub photos: Vec<String>,
    /// The reviewer's note.
    pub review_note: Option<String>,
    /// When requested.
    pub created_at: DateTime<Utc>,
    /// Version, for changes.
    pub version: i32,
}

/// How visits are read.
pub const TABLE: Table<Visit> = Table::new(
    "home visit",
    "SELECT h.id, h.contract_id, h.region_id, h.status, h.reason, h.agent_id, h.addresses, h.result, h.met,
        h.check_in_latitude, h.check_in_longitude, h.check_in_at, h.distance_m, h.far,
        ARRAY(SELECT encode(p, 'hex') FROM unnest(h.photos) p) AS photos, h.review_note, h.created_at, h.version",
    "FROM home_visits h JOIN regions g ON g.id = h.region_id",
    "h.id",
)
.scoped("g.path")
.sorted(&[("id", "h.id")], "-id");

/// Filters of the visit list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VisitFilter {
    /// One status.
    pub status: Option<String>,
    /// One contract.
    pub contract_id: Option<i64>,
    /// Only flagged check-ins.
    pub far: Option<bool>,
}

/// The visits of the actor's region subtree, newest first.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &VisitFilter,
) -> Result<Paged<Visit>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("h.status", filter.status.clone()).eq("h.contract_id", filter.contract_id).eq("h.far", filter.far);
        })
        .await
}

crate::stateful_record!(Visit, "home_visit");

/// A visit asked for (家访申请).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitRequest {
    /// The contract.
    pub contract_id: i64,
    /// Why.
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// Asks for a visit on a contract of the actor's region; reviewed through the workflow. Audited.
pub async fn request(db: &mut PgConnection, actor: &Actor, new: &VisitRequest) -> Result<Visit, Error> {
    Checks::default().text("reason", &new.reason, 1000).finish()?;
    let c = contract::TABLE.load(db, actor, new.contract_id).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO home_visits (contract_id, region_id, reason, requested_by) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(c.id)
    .bind(c.region_id)
    .bind(new.reason.trim())
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    approvals::submit(
        db,
        actor,
        HOME_VISIT,
        id,
        c.region_id,
        &format!("家访申请 {} — {}", c.number, new.reason.trim()),
    )
    .await?;
    let visit = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "request", None, &visit).await?;
    Ok(visit)
}

fn request_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        sqlx::query("UPDATE home_visits SET status = $2, version = version + 1 WHERE id = $1 AND status = 'requested'")
            .bind(decision.subject)
            .bind(if decision.approved() { "approved" } else { "rejected" })
            .execute(&mut *tx)
            .await?;
        Ok(())
    })
}

/// The dispatch (家访派单).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitDispatch {
    /// The version that was read.
    pub version: i32,
    /// An active user of the visit's region.
    pub agent_id: i64,
}

/// Who may be sent on a visit of the region `$1`: the active users of that region or of a region above it.
const AGENTS: &str = "SELECT u.id, u.display_name FROM users u JOIN regions g ON g.id = u.region_id
    WHERE u.active AND starts_with((SELECT path FROM regions WHERE id = $1), g.path)";

/// The agents the visit `id` (of the actor's region) may be dispatched to: (user id, name), by name.
pub async fn agents(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Vec<(i64, String)>, Error> {
    let region = TABLE.load(db, actor, id).await?.region_id;
    Ok(sqlx::query_as(&format!("{AGENTS} ORDER BY u.display_name, u.id")).bind(region).fetch_all(db).await?)
}

/// Dispatches an approved visit to an agent of its region, with the places to visit: the customer's
/// address, and the vehicle's resident places (night and day) with their positions. Audited.
pub async fn dispatch(db: &mut PgConnection, actor: &Actor, id: i64, body: &VisitDispatch) -> Result<Visit, Error> {
    let before = TABLE.lock_in(db, actor, id, body.version, &["approved"]).await?;
    let eligible: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM ({AGENTS}) a WHERE a.id = $2)"))
        .bind(before.region_id)
        .bind(body.agent_id)
        .fetch_one(&mut *db)
        .await?;
    if !eligible {
        return Err(Error::invalid("agent_id", "must be an active user of the visit's region"));
    }
    let addresses: Value = sqlx::query_scalar(
        "SELECT COALESCE(jsonb_agg(p ORDER BY p->>'label'), '[]') FROM (
             SELECT jsonb_build_object('label', 'customer', 'address', cu.address) AS p
             FROM contracts c JOIN customers cu ON cu.id = c.customer_id WHERE c.id = $1 AND cu.address IS NOT NULL
             UNION ALL
             SELECT jsonb_build_object('label', 'resident_' || r.kind, 'latitude', r.latitude, 'longitude', r.longitude,
                                       'hours', CASE r.kind WHEN 'night' THEN '20:00–07:00' ELSE '09:00–18:00' END,
                                       'days', r.days)
             FROM contracts c JOIN resident_places r ON r.vehicle_id = c.vehicle_id WHERE c.id = $1) x",
    )
    .bind(before.contract_id)
    .fetch_one(&mut *db)
    .await?;
    sqlx::query("UPDATE home_visits SET status = 'dispatched', agent_id = $2, addresses = $3, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(body.agent_id)
        .bind(&addresses)
        .execute(&mut *db)
        .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "dispatch", Some(&before), &after).await?;
    Ok(after)
}

/// The metres from `at` to the nearest of `places` with a position, if any has one.
pub fn nearest(at: (f64, f64), places: &Value) -> Option<f64> {
    places
        .as_array()?
        .iter()
        .filter_map(|p| Some((p["latitude"].as_f64()?, p["longitude"].as_f64()?)))
        .map(|place| distance_m(at, place))
        .min_by(f64::total_cmp)
}

/// A visit's result (家访登记).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitResult {
    /// The version that was read.
    pub version: i32,
    /// What the agent found.
    #[schema(min_length = 1, max_length = 2000)]
    pub result: String,
    /// `customer`, `family`, `nobody` or `moved`.
    pub met: String,
    /// Where the agent checked in.
    pub latitude: f64,
    /// Where the agent checked in.
    pub longitude: f64,
    /// Photos uploaded first, by SHA-256.
    pub photos: Vec<String>,
}

/// Registers the result of a dispatched visit; the check-in is measured against the listed places
/// and flagged when far from all of them. Audited.
pub async fn register(db: &mut PgConnection, actor: &Actor, id: i64, body: &VisitResult) -> Result<Visit, Error> {
    let mut checks = Checks::default();
    checks.text("result", &body.result, 2000);
    checks.check(
        matches!(body.met.as_str(), "customer" | "family" | "nobody" | "moved"),
        "met",
        "must be customer, family, nobody or moved",
    );
    checks.check(
        (-90.0..=90.0).contains(&body.latitude) && (-180.0..=180.0).contains(&body.longitude),
        "latitude",
        "must be a position on earth",
    );
    checks.finish()?;
    let photos = attachments::existing(db, "photos", &body.photos).await?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["dispatched"]).await?;
    let distance = nearest((body.latitude, body.longitude), &before.addresses);
    let far = distance.is_none_or(|d| d > FAR_METRES);
    sqlx::query(
        "UPDATE home_visits SET status = 'registered', result = $2, met = $3, check_in_latitude = $4, check_in_longitude = $5,
             check_in_at = now(), distance_m = $6, far = $7, photos = $8, version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(body.result.trim())
    .bind(&body.met)
    .bind(body.latitude)
    .bind(body.longitude)
    .bind(distance.map(|d| d.round() as i32))
    .bind(far)
    .bind(&photos)
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "register", Some(&before), &after).await?;
    Ok(after)
}

/// The reviewer's closing of a registered visit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitReview {
    /// The version that was read.
    pub version: i32,
    /// What the reviewer made of it (a flagged check-in explained, or not).
    #[schema(min_length = 1, max_length = 1000)]
    pub note: String,
}

/// Reviews a registered visit. Audited.
pub async fn review(db: &mut PgConnection, actor: &Actor, id: i64, body: &VisitReview) -> Result<Visit, Error> {
    Checks::default().text("note", &body.note, 1000).finish()?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["registered"]).await?;
    sqlx::query("UPDATE home_visits SET status = 'reviewed', reviewed_by = $2, review_note = $3, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(actor.user_id)
        .bind(body.note.trim())
        .execute(&mut *db)
        .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "review", Some(&before), &after).await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_nearest_listed_place_with_a_position_counts() {
        let places = json!([{"label": "customer", "address": "深圳市南山区"},
                            {"label": "resident_night", "latitude": 22.54, "longitude": 114.05},
                            {"label": "resident_day", "latitude": 22.60, "longitude": 114.10}]);
        let near = nearest((22.5405, 114.0505), &places).unwrap_or(f64::MAX);
        assert!(near < 100.0, "{near}");
        let far = nearest((22.70, 114.30), &places).unwrap_or(0.0);
        assert!(far > FAR_METRES, "{far}");
        assert_eq!(nearest((22.5, 114.0), &json!([{"label": "customer", "address": "x"}])), None);
    }
}
