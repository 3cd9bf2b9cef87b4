//! `/api/v1/risk-locations` and `/api/v1/geofences`: the places the monitor watches. Risk
//! locations (二押点: pawn shops, used-car markets, impound lots) alert on entry and on long
//! dwell; geofences (circles or polygons, for everyone, a region or one contract) alert on
//! entering or leaving. Coordinates are WGS-84, as trackers report them.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, Utc};
use leasewatch_monitor::places::Shape;
use leasewatch_store::risk_location::RiskLocation;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::FromRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_risk, create_risk))
        .routes(routes!(update_risk))
        .routes(routes!(list_fences, create_fence))
}

/// How risk locations are read.
const RISKS: Table<RiskLocation> = Table::new(
    "risk location",
    "SELECT r.id, r.name, r.kind, r.latitude, r.longitude, r.radius_m, r.region_id, r.active, r.version, r.created_at",
    "FROM risk_locations r JOIN regions g ON g.id = r.region_id",
    "r.id",
)
.scoped("g.path")
.sorted(&[("name", "r.name"), ("created_at", "r.created_at")], "name");

/// Risk locations of the caller's region subtree.
#[utoipa::path(get, path = "/risk-locations", tag = "monitor", params(PageParams),
    responses((status = 200, description = "A page of risk locations", body = Paged<RiskLocation>)), security(("bearer" = ["monitor.read"])))]
async fn list_risk(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<RiskLocation>>, ApiError> {
    Ok(Json(RISKS.list(&state.pool, &caller, &page, |_| {}).await?))
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
    /// Region, within the caller's subtree.
    pub region_id: i64,
}

fn check_point(checks: &mut Checks, latitude: f64, longitude: f64) {
    checks.check((-90.0..=90.0).contains(&latitude), "latitude", "must be -90 to 90");
    checks.check((-180.0..=180.0).contains(&longitude), "longitude", "must be -180 to 180");
}

/// Add a risk location.
#[utoipa::path(post, path = "/risk-locations", tag = "monitor", request_body = NewRiskLocation,
    responses((status = 201, description = "Added", body = RiskLocation)), security(("bearer" = ["monitor.write"])))]
async fn create_risk(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewRiskLocation>,
) -> Result<(StatusCode, Json<RiskLocation>), ApiError> {
    let mut checks = Checks::default();
    checks.text("name", &new.name, 100);
    checks.check(
        matches!(new.kind.as_str(), "pawn_shop" | "used_car_market" | "impound_lot" | "other"),
        "kind",
        "must be pawn_shop, used_car_market, impound_lot or other",
    );
    check_point(&mut checks, new.latitude, new.longitude);
    checks.check((10..=10_000).contains(&new.radius_m), "radius_m", "must be 10 to 10000 metres");
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    backoffice::kit::list::region_in_scope(&mut tx, &caller, new.region_id).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO risk_locations (name, kind, latitude, longitude, radius_m, region_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(new.name.trim())
    .bind(&new.kind)
    .bind(new.latitude)
    .bind(new.longitude)
    .bind(new.radius_m)
    .bind(new.region_id)
    .fetch_one(&mut *tx)
    .await?;
    let location = RISKS.load(&mut tx, &caller, id).await?;
    let entry = Change::new("create", "risk_location", id, Some(location.region_id)).after(json!(location));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(location)))
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

/// Rename, resize, or stop watching a risk location.
#[utoipa::path(patch, path = "/risk-locations/{id}", tag = "monitor", request_body = RiskLocationPatch,
    params(("id" = i64, Path, description = "Risk location id")),
    responses((status = 200, description = "Changed", body = RiskLocation)), security(("bearer" = ["monitor.write"])))]
async fn update_risk(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(patch): Json<RiskLocationPatch>,
) -> Result<Json<RiskLocation>, ApiError> {
    let mut checks = Checks::default();
    if let Some(name) = &patch.name {
        checks.text("name", name, 100);
    }
    checks.check(patch.radius_m.is_none_or(|r| (10..=10_000).contains(&r)), "radius_m", "must be 10 to 10000 metres");
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    let before = RISKS.lock(&mut tx, &caller, id).await?;
    if before.version != patch.version {
        return Err(ApiError::stale(before.version));
    }
    sqlx::query(
        "UPDATE risk_locations SET name = COALESCE($2, name), radius_m = COALESCE($3, radius_m),
                active = COALESCE($4, active), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(patch.name.as_deref().map(str::trim))
    .bind(patch.radius_m)
    .bind(patch.active)
    .execute(&mut *tx)
    .await?;
    let after = RISKS.load(&mut tx, &caller, id).await?;
    let entry =
        Change::new("update", "risk_location", id, Some(after.region_id)).before(json!(before)).after(json!(after));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(Json(after))
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

/// Geofences of the caller's region subtree.
#[utoipa::path(get, path = "/geofences", tag = "monitor", params(PageParams),
    responses((status = 200, description = "A page of geofences", body = Paged<Geofence>)), security(("bearer" = ["monitor.read"])))]
async fn list_fences(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Geofence>>, ApiError> {
    Ok(Json(FENCES.list(&state.pool, &caller, &page, |_| {}).await?))
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
    /// Region that keeps it, within the caller's subtree.
    pub region_id: i64,
}

/// Add a geofence.
#[utoipa::path(post, path = "/geofences", tag = "monitor", request_body = NewGeofence,
    responses((status = 201, description = "Added", body = Geofence)), security(("bearer" = ["monitor.write"])))]
async fn create_fence(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewGeofence>,
) -> Result<(StatusCode, Json<Geofence>), ApiError> {
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
    let mut tx = state.pool.begin().await?;
    backoffice::kit::list::region_in_scope(&mut tx, &caller, new.region_id).await?;
    let in_scope = (new.scope != "global" || caller.at_root())
        && super::monitor_rules::scope_in_reach(&mut tx, &caller, &new.scope, scope_id).await?;
    if !in_scope {
        return Err(ApiError::invalid(
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
    .fetch_one(&mut *tx)
    .await?;
    let entry = Change::new("create", "geofence", fence.id, Some(fence.region_id)).after(json!(fence));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(fence)))
}
