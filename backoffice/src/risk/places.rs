//! The places the monitor watches. Risk locations (二押点: pawn shops, used-car markets, impound
//! lots) alert on entry and on long dwell; geofences (circles or polygons, for everyone, a region or
//! one contract) alert on entering or leaving. Coordinates are WGS-84, as trackers report them.
//! Every read is scoped to the actor's region subtree; every change is audited.

use chrono::{DateTime, Utc};
use leasewatch_monitor::places::Shape;
use leasewatch_store::risk_location::RiskLocation;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::ToSchema;

use super::rules::scope_in_reach;
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{self, PageParams, Paged, Table};
use crate::kit::version;

/// How risk locations are read.
const RISKS: Table<RiskLocation> = Table::new(
    "risk location",
    "SELECT r.id, r.name, r.kind, r.latitude, r.longitude, r.radius_m, r.region_id, r.active, r.version, r.created_at",
    "FROM risk_locations r JOIN regions g ON g.id = r.region_id",
    "r.id",
)
.scoped("g.path")
.sorted(&[("name", "r.name"), ("created_at", "r.created_at")], "name");

/// Risk locations of the actor's region subtree.
pub async fn risk_locations(pool: &PgPool, actor: &Actor, page: &PageParams) -> Result<Paged<RiskLocation>, Error> {
    RISKS.list(pool, actor, page, |_| {}).await
}

/// The risk location `id`, if in the actor's region subtree.
pub async fn risk_location(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<RiskLocation, Error> {
    RISKS.load(db, actor, id).await
}

/// A new risk location.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRiskLocation {
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// `pawn_shop`, `used_car_market`, `impound_lot` or `other`.
    #[schema(pattern = "^(pawn_shop|used_car_market|impound_lot|other)$")]
    pub kind: String,
    /// Centre latitude.
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    /// Centre longitude.
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
    /// Radius in metres.
    #[schema(minimum = 10, maximum = 10000)]
    pub radius_m: i32,
    /// Region, within the actor's subtree.
    pub region_id: i64,
}

/// A risk location's radius, when given: 10 m to 10 km.
fn check_radius(checks: &mut Checks, radius_m: Option<i32>) {
    checks.check(radius_m.is_none_or(|r| (10..=10_000).contains(&r)), "radius_m", "must be 10 to 10000 metres");
}

/// Adds a risk location in a region of the actor's subtree.
pub async fn create_risk_location(
    db: &mut PgConnection,
    actor: &Actor,
    new: &NewRiskLocation,
) -> Result<RiskLocation, Error> {
    let mut checks = Checks::default();
    checks.text("name", &new.name, 100);
    checks.check(
        matches!(new.kind.as_str(), "pawn_shop" | "used_car_market" | "impound_lot" | "other"),
        "kind",
        "must be pawn_shop, used_car_market, impound_lot or other",
    );
    checks.check((-90.0..=90.0).contains(&new.latitude), "latitude", "must be -90 to 90");
    checks.check((-180.0..=180.0).contains(&new.longitude), "longitude", "must be -180 to 180");
    check_radius(&mut checks, Some(new.radius_m));
    checks.finish()?;
    list::region_in_scope(db, actor, new.region_id).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO risk_locations (name, kind, latitude, longitude, radius_m, region_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(new.name.trim())
    .bind(&new.kind)
    .bind(new.latitude)
    .bind(new.longitude)
    .bind(new.radius_m)
    .bind(new.region_id)
    .fetch_one(&mut *db)
    .await?;
    let location = RISKS.load(db, actor, id).await?;
    let entry = Change::new("create", "risk_location", id, Some(location.region_id)).after(json!(location));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(location)
}

/// Changes to a risk location.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskLocationPatch {
    /// The version read.
    pub version: i32,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// Radius in metres.
    #[schema(minimum = 10, maximum = 10000)]
    pub radius_m: Option<i32>,
    /// Watched or not.
    pub active: Option<bool>,
}

/// Renames, resizes, or stops watching a risk location, if the actor read its current version.
pub async fn update_risk_location(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    patch: &RiskLocationPatch,
) -> Result<RiskLocation, Error> {
    let mut checks = Checks::default();
    if let Some(name) = &patch.name {
        checks.text("name", name, 100);
    }
    check_radius(&mut checks, patch.radius_m);
    checks.finish()?;
    let before = RISKS.lock(db, actor, id).await?;
    version::check(patch.version, before.version)?;
    sqlx::query(
        "UPDATE risk_locations SET name = COALESCE($2, name), radius_m = COALESCE($3, radius_m),
                active = COALESCE($4, active), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(patch.name.as_deref().map(str::trim))
    .bind(patch.radius_m)
    .bind(patch.active)
    .execute(&mut *db)
    .await?;
    let after = RISKS.load(db, actor, id).await?;
    let entry =
        Change::new("update", "risk_location", id, Some(after.region_id)).before(json!(before)).after(json!(after));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(after)
}

/// A geofence.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Geofence {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// `global`, `region` or `contract`.
    pub scope: String,
    /// The region or contract (0 for global).
    pub scope_id: i64,
    /// `{"circle": {"latitude", "longitude", "radius_m"}}` or `{"polygon": [[lon, lat], ...]}`.
    #[schema(value_type = Object)]
    pub shape: Value,
    /// `enter`, `exit` or `both`.
    pub trigger: String,
    /// Region that keeps it.
    pub region_id: i64,
    /// Watched.
    pub active: bool,
    /// When added.
    pub created_at: DateTime<Utc>,
}

/// How geofences are read.
const FENCES: Table<Geofence> = Table::new(
    "geofence",
    "SELECT f.id, f.name, f.scope, f.scope_id, f.shape, f.trigger, f.region_id, f.active, f.created_at",
    "FROM geofences f JOIN regions g ON g.id = f.region_id",
    "f.id",
)
.scoped("g.path")
.sorted(&[("name", "f.name"), ("created_at", "f.created_at")], "name");

/// Geofences of the actor's region subtree.
pub async fn geofences(pool: &PgPool, actor: &Actor, page: &PageParams) -> Result<Paged<Geofence>, Error> {
    FENCES.list(pool, actor, page, |_| {}).await
}

/// A new geofence.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGeofence {
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// `global`, `region` or `contract`.
    #[schema(pattern = "^(global|region|contract)$")]
    pub scope: String,
    /// The region or contract; omit for global.
    pub scope_id: Option<i64>,
    /// The shape.
    #[schema(value_type = Object)]
    pub shape: Value,
    /// `enter`, `exit` or `both`.
    #[schema(pattern = "^(enter|exit|both)$")]
    pub trigger: String,
    /// Region that keeps it, within the actor's subtree.
    pub region_id: i64,
}

/// Adds a geofence for everyone (head office only), a region or a contract of the actor's subtree.
pub async fn create_geofence(db: &mut PgConnection, actor: &Actor, new: &NewGeofence) -> Result<Geofence, Error> {
    let mut checks = Checks::default();
    checks.text("name", &new.name, 100);
    checks.check(matches!(new.trigger.as_str(), "enter" | "exit" | "both"), "trigger", "must be enter, exit or both");
    match serde_json::from_value::<Shape>(new.shape.clone()) {
        Ok(shape) => {
            if let Err(e) = shape.area() {
                checks.check(false, "shape", e.to_string());
            }
        }
        Err(e) => {
            checks.check(
                false,
                "shape",
                format!("must be {{\"circle\": {{...}}}} or {{\"polygon\": [[lon, lat], ...]}}: {e}"),
            );
        }
    }
    let scope_id = match (new.scope.as_str(), new.scope_id) {
        ("global", None | Some(0)) => 0,
        ("region" | "contract", Some(id)) => id,
        _ => {
            checks.check(false, "scope_id", "global takes none; region and contract need one");
            0
        }
    };
    checks.check(
        matches!(new.scope.as_str(), "global" | "region" | "contract"),
        "scope",
        "must be global, region or contract",
    );
    checks.finish()?;
    list::region_in_scope(db, actor, new.region_id).await?;
    let in_scope =
        (new.scope != "global" || actor.at_root()) && scope_in_reach(db, actor, &new.scope, scope_id).await?;
    if !in_scope {
        return Err(Error::invalid(
            "scope_id",
            "must be a region or contract of your subtree (global geofences are set at the head office)",
        ));
    }
    let fence: Geofence = sqlx::query_as(
        "INSERT INTO geofences (name, scope, scope_id, shape, trigger, region_id) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, name, scope, scope_id, shape, trigger, region_id, active, created_at",
    )
    .bind(new.name.trim())
    .bind(&new.scope)
    .bind(scope_id)
    .bind(&new.shape)
    .bind(&new.trigger)
    .bind(new.region_id)
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("create", "geofence", fence.id, Some(fence.region_id)).after(json!(fence));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(fence)
}
