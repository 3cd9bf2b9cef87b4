//! Risk locations (二押点): pawn shops, used-car markets, impound lots where financed vehicles are
//! pledged again or sold. The back office keeps them; the monitor watches entries and dwells.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

/// A risk location.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow, ToSchema)]
pub struct RiskLocation {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// `pawn_shop`, `used_car_market`, `impound_lot` or `other`.
    pub kind: String,
    /// Centre latitude (WGS-84).
    pub latitude: f64,
    /// Centre longitude (WGS-84).
    pub longitude: f64,
    /// Radius in metres.
    pub radius_m: i32,
    /// Region that keeps it.
    pub region_id: i64,
    /// Watched.
    pub active: bool,
    /// For optimistic concurrency.
    pub version: i32,
    /// When added.
    pub created_at: DateTime<Utc>,
}

/// The columns of a risk location.
const COLUMNS: &str =
    "r.id, r.name, r.kind, r.latitude, r.longitude, r.radius_m, r.region_id, r.active, r.version, r.created_at";

/// The locations being watched.
pub async fn watched(pool: &PgPool) -> Result<Vec<RiskLocation>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM risk_locations r WHERE r.active ORDER BY r.id"))
        .fetch_all(pool)
        .await
}
