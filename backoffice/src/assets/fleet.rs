//! The fleet on a map: every vehicle of the actor's region subtree at its last fix, with what a
//! member of staff filters and colours by (its contract's bucket, its status, open alerts).

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool};

use crate::actor::Actor;
use crate::error::Error;

/// Vehicles one map may hold.
pub const LIMIT: i64 = 200_000;

/// A vehicle at its last fix.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct VehicleFix {
    /// Vehicle id.
    pub id: i64,
    /// Plate, or the VIN when it has none.
    pub label: String,
    /// WGS-84 latitude.
    pub latitude: f64,
    /// WGS-84 longitude.
    pub longitude: f64,
    /// The active contract's bucket (0 = current), when financed.
    pub bucket: Option<i32>,
    /// The vehicle's status.
    pub status: String,
    /// Open (unresolved) alerts.
    pub alerts: i64,
}

/// Which vehicles to show.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FleetFilter {
    /// Only this region's subtree.
    pub region_id: Option<i64>,
    /// Only vehicles whose active contract is at least this bucket.
    pub min_bucket: Option<i32>,
    /// Only this vehicle status.
    pub status: Option<String>,
    /// Only vehicles with open alerts.
    pub alerting: Option<bool>,
}

/// The last fix of every vehicle `filter` keeps, in `actor`'s region subtree (one fix a vehicle:
/// the latest of its trackers').
pub async fn last_fixes(pool: &PgPool, actor: &Actor, filter: &FleetFilter) -> Result<Vec<VehicleFix>, Error> {
    Ok(sqlx::query_as(
        "SELECT * FROM (
             SELECT DISTINCT ON (v.id) v.id, COALESCE(v.plate, v.vin) AS label, s.latitude, s.longitude,
                    c.bucket, v.status,
                    (SELECT count(*) FROM alerts a WHERE a.vehicle_id = v.id AND a.status <> 'resolved') AS alerts
             FROM vehicles v
             JOIN regions g ON g.id = v.region_id
             JOIN devices d ON d.vehicle_id = v.id
             JOIN device_state s ON s.device_id = d.id
             LEFT JOIN contracts c ON c.vehicle_id = v.id AND c.status = 'active'
             WHERE starts_with(g.path, $1)
               AND ($2::bigint IS NULL OR starts_with(g.path, (SELECT path FROM regions WHERE id = $2)))
               AND ($3::int IS NULL OR c.bucket >= $3)
               AND ($4::text IS NULL OR v.status = $4)
             ORDER BY v.id, s.fix_time DESC
         ) f
         WHERE NOT $5 OR f.alerts > 0
         LIMIT $6",
    )
    .bind(&actor.region_path)
    .bind(filter.region_id)
    .bind(filter.min_bucket)
    .bind(&filter.status)
    .bind(filter.alerting == Some(true))
    .bind(LIMIT)
    .fetch_all(pool)
    .await?)
}
