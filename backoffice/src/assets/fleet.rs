//! The fleet on a map: every vehicle of the actor's region subtree at its last fix, with what a
//! member of staff filters and colours by (its contract's bucket, its status, open alerts).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection, PgPool};

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

/// One fix of a vehicle's track.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct TrackPoint {
    /// The tracker that sent it.
    pub device_id: i64,
    /// When it was taken.
    pub fix_time: DateTime<Utc>,
    /// WGS-84 latitude.
    pub latitude: f64,
    /// WGS-84 longitude.
    pub longitude: f64,
    /// Speed in km/h.
    pub speed_kmh: f32,
    /// Alarm bits (`leasewatch_protocols::Alarm::ALL[n]`), 0 when none.
    pub alarms: i32,
}

/// Where a vehicle stood still, and for how long.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stop {
    /// Where (the first standing fix).
    pub latitude: f64,
    /// Where (the first standing fix).
    pub longitude: f64,
    /// From when.
    pub from: DateTime<Utc>,
    /// Until when.
    pub to: DateTime<Utc>,
}

/// Fixes one track may hold (a tracker reporting every 10 s sends 8,640 a day).
pub const TRACK_LIMIT: i64 = 50_000;

/// The valid fixes of vehicle `vehicle_id`'s trackers between `from` and `to`, in time order; the
/// vehicle must be in the actor's region subtree.
pub async fn track(
    db: &mut PgConnection,
    actor: &Actor,
    vehicle_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<TrackPoint>, Error> {
    super::vehicle::TABLE.load(db, actor, vehicle_id).await?;
    Ok(sqlx::query_as(
        "SELECT p.device_id, p.fix_time, p.latitude, p.longitude, p.speed_kmh, p.alarms
         FROM positions p JOIN devices d ON d.id = p.device_id
         WHERE d.vehicle_id = $1 AND p.fix_time >= $2 AND p.fix_time < $3 AND p.valid
         ORDER BY p.fix_time LIMIT $4",
    )
    .bind(vehicle_id)
    .bind(from)
    .bind(to)
    .bind(TRACK_LIMIT)
    .fetch_all(db)
    .await?)
}

/// The stops of a track: runs of fixes below 1 km/h lasting at least `min_minutes`.
pub fn stops(points: &[TrackPoint], min_minutes: i64) -> Vec<Stop> {
    let mut found = Vec::new();
    let mut run: Option<(&TrackPoint, DateTime<Utc>)> = None;
    for p in points {
        if p.speed_kmh < 1.0 {
            run = Some(run.map_or((p, p.fix_time), |(first, _)| (first, p.fix_time)));
            continue;
        }
        if let Some((first, last)) = run.take() {
            // The stop lasts until the vehicle is seen moving again.
            let to = p.fix_time.max(last);
            if (to - first.fix_time).num_minutes() >= min_minutes {
                found.push(Stop { latitude: first.latitude, longitude: first.longitude, from: first.fix_time, to });
            }
        }
    }
    if let Some((first, last)) = run
        && (last - first.fix_time).num_minutes() >= min_minutes
    {
        found.push(Stop { latitude: first.latitude, longitude: first.longitude, from: first.fix_time, to: last });
    }
    found
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn at(minute: i64, speed: f32) -> TrackPoint {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().unwrap_or_default();
        TrackPoint {
            device_id: 1,
            fix_time: start + Duration::minutes(minute),
            latitude: 22.5,
            longitude: 114.0 + minute as f64 / 1000.0,
            speed_kmh: speed,
            alarms: 0,
        }
    }

    #[test]
    fn a_stop_is_standing_still_long_enough_until_moving_again() {
        let track = [at(0, 40.0), at(1, 0.0), at(5, 0.0), at(12, 0.0), at(13, 30.0), at(14, 0.0), at(16, 35.0)];
        let found = stops(&track, 10);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].from, found[0].to), (at(1, 0.0).fix_time, at(13, 0.0).fix_time));
        assert_eq!(found[0].longitude, at(1, 0.0).longitude);
    }

    #[test]
    fn a_track_ending_parked_ends_with_its_stop() {
        let found = stops(&[at(0, 20.0), at(2, 0.0), at(40, 0.0)], 10);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].to, at(40, 0.0).fix_time);
        assert!(stops(&[], 10).is_empty());
    }
}
