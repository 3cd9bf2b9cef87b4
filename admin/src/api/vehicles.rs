//! `/api/v1/vehicles`: financed vehicles (VIN check-digit validated), their status through the
//! contract's life (in stock → financed → repossessed → disposed, or released when paid off), and
//! the trackers installed in them (wired, wireless) from the device registry.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::audit::{self, Change};
use backoffice::kit::identity;
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
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
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get))
        .routes(routes!(set_status))
        .routes(routes!(install))
}

/// A vehicle.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Vehicle {
    /// Id.
    pub id: i64,
    /// VIN.
    pub vin: String,
    /// Plate.
    pub plate: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Series.
    pub series: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Colour.
    pub colour: Option<String>,
    /// Engine number.
    pub engine_number: Option<String>,
    /// `passenger` or `commercial` (rate tables may differ).
    pub vehicle_type: String,
    /// `in_stock`, `financed`, `repossessed`, `disposed` or `released`.
    pub status: String,
    /// Region.
    pub region_id: i64,
    /// For optimistic concurrency.
    pub version: i32,
    /// When registered.
    pub created_at: DateTime<Utc>,
}

/// A tracker installed in a vehicle.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct InstalledDevice {
    /// Device id.
    pub id: i64,
    /// IMEI or terminal id.
    pub imei: String,
    /// Protocol.
    pub protocol: String,
    /// `wired` or `wireless`.
    pub kind: String,
    /// Last heard from.
    pub last_seen: Option<DateTime<Utc>>,
}

/// A vehicle with its trackers.
#[derive(Debug, Serialize, ToSchema)]
pub struct VehicleDetail {
    /// The vehicle.
    pub vehicle: Vehicle,
    /// Its trackers.
    pub devices: Vec<InstalledDevice>,
}

/// How vehicles are read.
const TABLE: Table<Vehicle> = Table::new(
    "vehicle",
    "SELECT v.id, v.vin, v.plate, v.brand, v.series, v.model, v.colour, v.engine_number, v.vehicle_type,
        v.status, v.region_id, v.version, v.created_at",
    "FROM vehicles v JOIN regions g ON g.id = v.region_id",
    "v.id",
)
.scoped("g.path")
.sorted(&[("vin", "v.vin"), ("created_at", "v.created_at")], "vin");

/// Filters of the vehicle list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VehicleFilter {
    /// Exact VIN.
    pub vin: Option<String>,
    /// Exact plate.
    pub plate: Option<String>,
    /// Status.
    pub status: Option<String>,
}

/// List the vehicles of the caller's region subtree.
#[utoipa::path(get, path = "/vehicles", tag = "vehicles", params(PageParams, VehicleFilter),
    responses((status = 200, description = "A page of vehicles", body = Paged<Vehicle>)), security(("bearer" = ["vehicles.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<VehicleFilter>,
) -> Result<Json<Paged<Vehicle>>, ApiError> {
    let items = TABLE
        .list(&state.pool, &caller, &page, |f| {
            f.eq("v.vin", filter.vin.as_ref().map(|v| v.to_ascii_uppercase()))
                .eq("v.plate", filter.plate.clone())
                .eq("v.status", filter.status.clone());
        })
        .await?;
    Ok(Json(items))
}

/// A new vehicle.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVehicle {
    /// VIN: 17 characters with a valid check digit.
    #[schema(pattern = r"^[A-HJ-NPR-Za-hj-npr-z0-9]{17}$")]
    pub vin: String,
    /// Plate.
    pub plate: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Series.
    pub series: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Colour.
    pub colour: Option<String>,
    /// Engine number.
    pub engine_number: Option<String>,
    /// `passenger` (default) or `commercial`.
    #[schema(pattern = r"^(passenger|commercial)$")]
    pub vehicle_type: Option<String>,
    /// Region, within the caller's subtree.
    pub region_id: i64,
}

/// Register a vehicle (in stock).
#[utoipa::path(post, path = "/vehicles", tag = "vehicles", request_body = NewVehicle,
    responses((status = 201, description = "Registered", body = Vehicle)), security(("bearer" = ["vehicles.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewVehicle>,
) -> Result<(StatusCode, Json<Vehicle>), ApiError> {
    let vin = new.vin.trim().to_ascii_uppercase();
    let mut checks = Checks::default();
    checks.check(identity::vin_ok(&vin), "vin", "is not a valid VIN (17 characters, check digit in 9th place)");
    for (field, value) in [("plate", &new.plate), ("brand", &new.brand), ("model", &new.model), ("colour", &new.colour)]
    {
        checks.check(value.as_ref().is_none_or(|v| v.chars().count() <= 64), field, "must be at most 64 characters");
    }
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    backoffice::kit::list::region_in_scope(&mut tx, &caller, new.region_id).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO vehicles (vin, plate, brand, series, model, colour, engine_number, vehicle_type, region_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(&vin)
    .bind(&new.plate)
    .bind(&new.brand)
    .bind(&new.series)
    .bind(&new.model)
    .bind(&new.colour)
    .bind(&new.engine_number)
    .bind(new.vehicle_type.as_deref().unwrap_or("passenger"))
    .bind(new.region_id)
    .fetch_one(&mut *tx)
    .await?;
    let vehicle = TABLE.load(&mut tx, &caller, id).await?;
    let entry = Change::new("create", "vehicle", id, Some(vehicle.region_id)).after(json!(vehicle));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(vehicle)))
}

/// One vehicle with its trackers.
#[utoipa::path(get, path = "/vehicles/{id}", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")),
    responses((status = 200, description = "The vehicle", body = VehicleDetail)), security(("bearer" = ["vehicles.read"])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<VehicleDetail>, ApiError> {
    let mut db = state.pool.acquire().await?;
    let vehicle = TABLE.load(&mut db, &caller, id).await?;
    let devices = sqlx::query_as(
        "SELECT id, imei, protocol, kind, last_seen FROM devices WHERE vehicle_id = $1 ORDER BY kind, id",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await?;
    Ok(Json(VehicleDetail { vehicle, devices }))
}

/// The statuses a vehicle may move to from `from`.
pub fn next_statuses(from: &str) -> &'static [&'static str] {
    match from {
        "in_stock" => &["financed"],
        "financed" => &["repossessed", "released"],
        "repossessed" => &["disposed", "financed", "released"],
        // A disposed vehicle's lien is released once the proceeds are booked.
        "disposed" => &["released"],
        _ => &[],
    }
}

/// A status change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// The new status.
    #[schema(pattern = r"^(financed|repossessed|disposed|released)$")]
    pub status: String,
    /// The version read.
    pub version: i32,
}

/// Move a vehicle to its next status (in stock → financed → repossessed → disposed or released).
#[utoipa::path(post, path = "/vehicles/{id}/actions/set-status", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")),
    request_body = StatusChange,
    responses((status = 200, description = "Moved", body = Vehicle)), security(("bearer" = ["vehicles.write"])))]
async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(change): Json<StatusChange>,
) -> Result<Json<Vehicle>, ApiError> {
    let mut tx = state.pool.begin().await?;
    sqlx::query("SELECT 1 FROM vehicles WHERE id = $1 FOR UPDATE").bind(id).execute(&mut *tx).await?;
    let before = TABLE.load(&mut tx, &caller, id).await?;
    if before.version != change.version {
        return Err(ApiError::stale(before.version));
    }
    if !next_statuses(&before.status).contains(&change.status.as_str()) {
        return Err(ApiError::invalid_state(format!("a {} vehicle cannot become {}", before.status, change.status)));
    }
    sqlx::query("UPDATE vehicles SET status = $2, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(&change.status)
        .execute(&mut *tx)
        .await?;
    let after = TABLE.load(&mut tx, &caller, id).await?;
    let entry = Change::new("set_status", "vehicle", id, Some(after.region_id))
        .before(json!({"status": before.status}))
        .after(json!({"status": after.status}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// A tracker to install.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Install {
    /// The registered device's IMEI or terminal id.
    pub imei: String,
}

/// Record a tracker as installed in the vehicle (moving it from any other).
#[utoipa::path(post, path = "/vehicles/{id}/actions/install", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")),
    request_body = Install,
    responses((status = 200, description = "Installed", body = VehicleDetail)), security(("bearer" = ["vehicles.write"])))]
async fn install(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(install): Json<Install>,
) -> Result<Json<VehicleDetail>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let vehicle = TABLE.load(&mut tx, &caller, id).await?;
    let previous: Option<Option<i64>> = sqlx::query_scalar("SELECT vehicle_id FROM devices WHERE imei = $1 FOR UPDATE")
        .bind(&install.imei)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(previous) = previous else { return Err(ApiError::invalid("imei", "no registered device has this IMEI")) };
    sqlx::query("UPDATE devices SET vehicle_id = $2 WHERE imei = $1")
        .bind(&install.imei)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let entry = Change::new("install_device", "vehicle", id, Some(vehicle.region_id))
        .before(json!({"imei": install.imei, "vehicle_id": previous}))
        .after(json!({"imei": install.imei, "vehicle_id": id}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    let devices = sqlx::query_as(
        "SELECT id, imei, protocol, kind, last_seen FROM devices WHERE vehicle_id = $1 ORDER BY kind, id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(VehicleDetail { vehicle, devices }))
}
