//! Vehicles (车辆管理): registered with a check-digit VIN, their status through the contract's
//! life (in stock → financed → repossessed → disposed, or released when paid off), and the
//! trackers installed in them (wired, wireless). Every change is audited; every read is scoped to
//! the actor's region subtree.

use chrono::{DateTime, Utc};
use leasewatch_store::devices;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::identity;
use crate::kit::list::{self, PageParams, Paged, Table};
use crate::kit::version;

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
    /// Its latest fix: when it was taken.
    pub fix_time: Option<DateTime<Utc>>,
    /// Its latest fix: latitude (WGS-84).
    pub latitude: Option<f64>,
    /// Its latest fix: longitude (WGS-84).
    pub longitude: Option<f64>,
    /// Its latest fix: speed in km/h.
    pub speed_kmh: Option<f32>,
    /// Its latest fix: whether the receiver had a position.
    pub valid: Option<bool>,
    /// The latest ignition report.
    pub ignition: Option<bool>,
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
pub const TABLE: Table<Vehicle> = Table::new(
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

/// The vehicles of the actor's region subtree.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &VehicleFilter,
) -> Result<Paged<Vehicle>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("v.vin", filter.vin.as_ref().map(|v| v.to_ascii_uppercase()))
                .eq("v.plate", filter.plate.clone())
                .eq("v.status", filter.status.clone());
        })
        .await
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

/// Registers a vehicle, in stock.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewVehicle) -> Result<Vehicle, Error> {
    let vin = new.vin.trim().to_ascii_uppercase();
    let mut checks = Checks::default();
    checks.check(identity::vin_ok(&vin), "vin", "is not a valid VIN (17 characters, check digit in 9th place)");
    for (field, value) in [("plate", &new.plate), ("brand", &new.brand), ("model", &new.model), ("colour", &new.colour)]
    {
        checks.check(value.as_ref().is_none_or(|v| v.chars().count() <= 64), field, "must be at most 64 characters");
    }
    checks.finish()?;
    list::region_in_scope(db, actor, new.region_id).await?;
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
    .fetch_one(&mut *db)
    .await?;
    let vehicle = TABLE.load(db, actor, id).await?;
    let entry = Change::new("create", "vehicle", id, Some(vehicle.region_id)).after(json!(vehicle));
    audit::record(db, actor.author(), entry).await?;
    Ok(vehicle)
}

async fn installed(db: &mut PgConnection, vehicle: Vehicle) -> Result<VehicleDetail, Error> {
    let devices = sqlx::query_as(
        "SELECT d.id, d.imei, d.protocol, d.kind, d.last_seen, s.fix_time, s.latitude, s.longitude, s.speed_kmh,
            s.valid, s.ignition
         FROM devices d LEFT JOIN device_state s ON s.device_id = d.id WHERE d.vehicle_id = $1 ORDER BY d.kind, d.id",
    )
    .bind(vehicle.id)
    .fetch_all(db)
    .await?;
    Ok(VehicleDetail { vehicle, devices })
}

/// The vehicle `id` with its trackers.
pub async fn detail(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<VehicleDetail, Error> {
    let vehicle = TABLE.load(db, actor, id).await?;
    installed(db, vehicle).await
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

/// Moves a vehicle to its next status, if the actor read its current version.
pub async fn set_status(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    change: &StatusChange,
) -> Result<Vehicle, Error> {
    let before = TABLE.lock(db, actor, id).await?;
    version::check(change.version, before.version)?;
    if !next_statuses(&before.status).contains(&change.status.as_str()) {
        return Err(Error::invalid_state(format!("a {} vehicle cannot become {}", before.status, change.status)));
    }
    sqlx::query("UPDATE vehicles SET status = $2, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(&change.status)
        .execute(&mut *db)
        .await?;
    let after = TABLE.load(db, actor, id).await?;
    let entry = Change::new("set_status", "vehicle", id, Some(after.region_id))
        .before(json!({"status": before.status}))
        .after(json!({"status": after.status}));
    audit::record(db, actor.author(), entry).await?;
    Ok(after)
}

/// A tracker to install.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Install {
    /// The registered device's IMEI or terminal id.
    pub imei: String,
}

/// Records a tracker as installed in the vehicle, moving it from any other.
pub async fn install(db: &mut PgConnection, actor: &Actor, id: i64, install: &Install) -> Result<VehicleDetail, Error> {
    let vehicle = TABLE.load(db, actor, id).await?;
    let previous = devices::install(db, &install.imei, id).await?;
    let Some(previous) = previous else { return Err(Error::invalid("imei", "no registered device has this IMEI")) };
    let entry = Change::new("install_device", "vehicle", id, Some(vehicle.region_id))
        .before(json!({"imei": install.imei, "vehicle_id": previous}))
        .after(json!({"imei": install.imei, "vehicle_id": id}));
    audit::record(&mut *db, actor.author(), entry).await?;
    installed(db, vehicle).await
}
