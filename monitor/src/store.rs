//! Reads what the rules need from the database: which device is in which vehicle, each
//! vehicle's contract and payment status, the thresholds in force, risk locations, geofences,
//! and — at start-up — every device's last fix and last contact.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool};

use crate::places::{RiskIndex, Shape};
use crate::rules::{Rule, RuleBook, RuleSetting, Scope, ScopeKey};
use crate::watch::{Fence, Home, Install, LastFix, Outcome, Payment, Vehicle, VehicleLatches, Watch};

/// The region ids of a materialized path (`/1/4/9/` → 1, 4, 9).
pub fn path_ids(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// The rule settings in force (latest version of each rule and scope), with `overrides`
/// replacing those of the same rule and scope.
pub async fn rule_book(pool: &PgPool, overrides: &[RuleSetting]) -> Result<RuleBook, sqlx::Error> {
    let rows: Vec<(String, String, i64, bool, Value)> = sqlx::query_as(
        "SELECT DISTINCT ON (rule, scope, scope_id) rule, scope, scope_id, enabled, params
         FROM monitor_rules ORDER BY rule, scope, scope_id, version DESC",
    )
    .fetch_all(pool)
    .await?;
    let stored = rows.into_iter().filter_map(|(rule, scope, id, enabled, params)| {
        let params = match params {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Some(RuleSetting { rule: Rule::parse(&rule)?, scope: Scope::parse(&scope, id)?, enabled, params })
    });
    let kept: Vec<RuleSetting> =
        stored.filter(|s| !overrides.iter().any(|o| o.rule == s.rule && o.scope == s.scope)).collect();
    Ok(RuleBook::new(kept.into_iter().chain(overrides.iter().cloned())))
}

/// A vehicle with its active contract, customer and province.
#[derive(sqlx::FromRow)]
struct VehicleRow {
    id: i64,
    region_id: i64,
    path: String,
    contract: Option<i64>,
    number: Option<String>,
    product: Option<i64>,
    dpd: Option<i32>,
    bucket: Option<i32>,
    hold_until: Option<NaiveDate>,
    home_latitude: Option<f64>,
    home_longitude: Option<f64>,
    province: Option<String>,
}

/// Loads everything but device state into `watch`.
pub async fn refresh(pool: &PgPool, watch: &mut Watch) -> Result<(), sqlx::Error> {
    refresh_with(pool, watch, &[]).await
}

/// [`refresh`] with rule settings that replace those stored for the same rule and scope.
pub async fn refresh_with(pool: &PgPool, watch: &mut Watch, overrides: &[RuleSetting]) -> Result<(), sqlx::Error> {
    let installs: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT id, vehicle_id, kind FROM devices WHERE vehicle_id IS NOT NULL AND status = 'active'")
            .fetch_all(pool)
            .await?;
    watch.set_installs(
        installs.into_iter().map(|(d, v, kind)| (d, Install { vehicle_id: v, wired: kind == "wired" })).collect(),
    );

    watch.set_risk_locations(RiskIndex::new(leasewatch_store::risk_location::watched(pool).await?));

    let fence_rows: Vec<(i64, String, String, i64, Value, String)> =
        sqlx::query_as("SELECT id, name, scope, scope_id, shape, trigger FROM geofences WHERE active ORDER BY id")
            .fetch_all(pool)
            .await?;
    let mut fences = Vec::with_capacity(fence_rows.len());
    let mut fence_scopes = Vec::with_capacity(fence_rows.len());
    for (id, name, scope, scope_id, shape, trigger) in fence_rows {
        let Ok(area) = serde_json::from_value::<Shape>(shape)
            .map_err(|e| e.to_string())
            .and_then(|s| s.area().map_err(|e| e.to_string()))
        else {
            tracing::warn!(geofence = id, "geofence shape unreadable; skipped");
            continue;
        };
        fence_scopes.push((scope, scope_id));
        fences.push(Fence { id, name, area, on_enter: trigger != "exit", on_exit: trigger != "enter" });
    }

    let book = rule_book(pool, overrides).await?;
    let rows: Vec<VehicleRow> = sqlx::query_as(
        "SELECT v.id, g.id AS region_id, g.path, c.id AS contract, c.number, c.product_id AS product, c.dpd, c.bucket,
                c.hold_until, cu.home_latitude, cu.home_longitude,
                (SELECT p.adcode FROM regions p WHERE p.adcode IS NOT NULL AND starts_with(g.path, p.path)
                 ORDER BY length(p.path) DESC LIMIT 1) AS province
         FROM vehicles v
         LEFT JOIN contracts c ON c.vehicle_id = v.id AND c.status = 'active'
         LEFT JOIN customers cu ON cu.id = c.customer_id
         JOIN regions g ON g.id = COALESCE(c.region_id, v.region_id)
         WHERE EXISTS (SELECT 1 FROM devices d WHERE d.vehicle_id = v.id)",
    )
    .fetch_all(pool)
    .await?;
    let mut homes: HashMap<i64, Vec<Home>> = HashMap::new();
    let home_rows: Vec<(i64, f64, f64, i32)> = sqlx::query_as(
        "SELECT vehicle_id, latitude, longitude, days FROM (
             SELECT *, row_number() OVER (PARTITION BY vehicle_id ORDER BY days DESC, last_seen_on DESC) AS rank
             FROM resident_places WHERE kind = 'night') r
         WHERE rank <= 3 ORDER BY vehicle_id, rank",
    )
    .fetch_all(pool)
    .await?;
    for (vehicle, latitude, longitude, days) in home_rows {
        homes.entry(vehicle).or_default().push(Home { latitude, longitude, days });
    }
    let mut vehicles = HashMap::with_capacity(rows.len());
    for VehicleRow {
        id,
        region_id,
        path,
        contract,
        number,
        product,
        dpd,
        bucket,
        hold_until,
        home_latitude,
        home_longitude,
        province,
    } in rows
    {
        let regions = path_ids(&path);
        let key = ScopeKey { contract, product, regions: regions.clone() };
        let payment = contract.map(|contract_id| Payment {
            contract_id,
            number: number.unwrap_or_default(),
            dpd: dpd.unwrap_or(0),
            bucket: bucket.unwrap_or(0),
            promise_until: hold_until,
        });
        let applies = |(scope, scope_id): &(String, i64)| match scope.as_str() {
            "global" => true,
            "region" => regions.contains(scope_id),
            "contract" => contract == Some(*scope_id),
            _ => false,
        };
        let fences = fence_scopes.iter().enumerate().filter(|(_, s)| applies(s)).map(|(i, _)| i).collect();
        let homes = homes.remove(&id).unwrap_or_default();
        let declared_home = home_latitude.zip(home_longitude);
        let rules = book.resolve(&key);
        vehicles.insert(id, Vehicle { id, region_id, payment, province, rules, fences, homes, declared_home });
    }
    watch.set_fences(fences);
    watch.set_vehicles(vehicles);
    Ok(())
}

/// Restores every installed device's last fix and last contact.
pub async fn restore(pool: &PgPool, watch: &mut Watch) -> Result<usize, sqlx::Error> {
    restore_where(pool, watch, |_| true).await
}

/// [`restore`] for the devices of the vehicles `keep` names (a shard taken over; the others'
/// last fixes, refreshed, for rules that look at neighbours).
pub async fn restore_where(pool: &PgPool, watch: &mut Watch, keep: impl Fn(i64) -> bool) -> Result<usize, sqlx::Error> {
    restore_rows(pool, watch, None, keep).await
}

/// [`restore`] for the given devices only (those with commands to send).
pub async fn restore_devices(pool: &PgPool, watch: &mut Watch, devices: &[i64]) -> Result<usize, sqlx::Error> {
    restore_rows(pool, watch, Some(devices), |_| true).await
}

async fn restore_rows(
    pool: &PgPool,
    watch: &mut Watch,
    devices: Option<&[i64]>,
    keep: impl Fn(i64) -> bool,
) -> Result<usize, sqlx::Error> {
    type Row = (
        i64,
        i64,
        Option<DateTime<Utc>>,
        Option<f64>,
        Option<f64>,
        Option<f32>,
        Option<bool>,
        Option<bool>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT d.id, d.vehicle_id, s.fix_time, s.latitude, s.longitude, s.speed_kmh, s.valid, s.ignition, d.last_seen
         FROM devices d LEFT JOIN device_state s ON s.device_id = d.id
         WHERE d.vehicle_id IS NOT NULL AND ($1::int8[] IS NULL OR d.id = ANY($1))",
    )
    .bind(devices)
    .fetch_all(pool)
    .await?;
    let mut count = 0;
    for (device, vehicle, time, lat, lon, speed, valid, ignition, last_seen) in rows {
        if !keep(vehicle) {
            continue;
        }
        count += 1;
        let fix = match (time, lat, lon, speed, valid) {
            (Some(time), Some(latitude), Some(longitude), Some(speed), Some(valid)) => {
                Some(LastFix { time, latitude, longitude, speed_kmh: f64::from(speed), valid, ignition })
            }
            _ => None,
        };
        watch.restore(device, fix, last_seen);
    }
    Ok(count)
}

/// Restores the vehicles' persisted latches (after [`restore`]); `owned` says which vehicles this
/// monitor evaluates. A row this version cannot read is skipped: its conditions alert once more.
pub async fn restore_latches(
    pool: &PgPool,
    watch: &mut Watch,
    owned: impl Fn(i64) -> bool,
) -> Result<usize, sqlx::Error> {
    let rows: Vec<(i64, sqlx::types::Json<Value>)> =
        sqlx::query_as("SELECT vehicle_id, latches FROM monitor_latches").fetch_all(pool).await?;
    let mut restored = 0;
    for (vehicle_id, sqlx::types::Json(value)) in rows.into_iter().filter(|(v, _)| owned(*v)) {
        match serde_json::from_value::<VehicleLatches>(value) {
            Ok(latches) => {
                watch.restore_latches(vehicle_id, latches);
                restored += 1;
            }
            Err(e) => tracing::warn!(vehicle_id, error = %e, "unreadable latches: not restored"),
        }
    }
    Ok(restored)
}

/// Writes vehicles' latches in the caller's transaction, the one that writes the alerts they
/// concluded (vehicles deleted meanwhile are skipped).
pub async fn save_latches(conn: &mut PgConnection, latches: &BTreeMap<i64, VehicleLatches>) -> Result<(), sqlx::Error> {
    if latches.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = latches.keys().copied().collect();
    let values: Vec<Value> = latches.values().map(|l| serde_json::to_value(l).unwrap_or(Value::Null)).collect();
    sqlx::query(
        "INSERT INTO monitor_latches AS m (vehicle_id, latches)
         SELECT u.v, u.l FROM unnest($1::int8[], $2::jsonb[]) u (v, l) WHERE EXISTS (SELECT 1 FROM vehicles WHERE id = u.v)
         ON CONFLICT (vehicle_id) DO UPDATE SET latches = EXCLUDED.latches, updated_at = now()",
    )
    .bind(&ids)
    .bind(&values)
    .execute(conn)
    .await?;
    Ok(())
}

/// The last stream sequence of `shard` the monitor applied (0: none yet).
pub async fn shard_progress(pool: &PgPool, shard: u16) -> Result<u64, sqlx::Error> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT applied_seq FROM monitor_shards WHERE shard = $1")
        .bind(i16::try_from(shard).unwrap_or(i16::MAX))
        .fetch_optional(pool)
        .await?;
    Ok(seq.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
}

/// Records, in the caller's transaction, how far each shard has been applied (never backwards).
pub async fn save_progress(conn: &mut PgConnection, progress: &BTreeMap<u16, u64>) -> Result<(), sqlx::Error> {
    if progress.is_empty() {
        return Ok(());
    }
    let shards: Vec<i16> = progress.keys().map(|s| i16::try_from(*s).unwrap_or(i16::MAX)).collect();
    let seqs: Vec<i64> = progress.values().map(|s| i64::try_from(*s).unwrap_or(i64::MAX)).collect();
    sqlx::query(
        "INSERT INTO monitor_shards AS m (shard, applied_seq) SELECT * FROM unnest($1::int2[], $2::int8[])
         ON CONFLICT (shard) DO UPDATE SET applied_seq = GREATEST(m.applied_seq, EXCLUDED.applied_seq), updated_at = now()",
    )
    .bind(&shards)
    .bind(&seqs)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the code's rules into `monitor_rules` as global version 1 where a rule has no global
/// setting yet, so that every rule is listed and editable.
pub async fn seed_rules(pool: &PgPool) -> Result<(), sqlx::Error> {
    let names: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
    sqlx::query(
        "INSERT INTO monitor_rules (rule, scope, scope_id, version, enabled, params)
         SELECT n, 'global', 0, 1, true, '{}' FROM unnest($1::text[]) n
         WHERE NOT EXISTS (SELECT 1 FROM monitor_rules r WHERE r.rule = n AND r.scope = 'global')",
    )
    .bind(&names)
    .execute(pool)
    .await?;
    Ok(())
}

/// Resident places are forgotten after this many days without a visit.
const RESIDENT_MEMORY_DAYS: i64 = 60;

/// Learns one local day of parking into `resident_places`: every ~100 m cell where a vehicle
/// stood still at night (22:00–06:00) or in the day (09:00–17:00) counts one more day. Days are
/// learned in order; a day already counted for a place is not counted again. Places not visited
/// for two months are forgotten.
pub async fn learn_resident_places(pool: &PgPool, day: NaiveDate, utc_offset_hours: i32) -> Result<u64, sqlx::Error> {
    let start = day.and_time(chrono::NaiveTime::MIN).and_utc() - Duration::hours(i64::from(utc_offset_hours));
    let mut tx = pool.begin().await?;
    let learned = sqlx::query(
        "INSERT INTO resident_places AS r (vehicle_id, kind, latitude, longitude, days, last_seen_on)
         SELECT vehicle_id, kind, lat, lon, 1, $3 FROM (
             SELECT DISTINCT d.vehicle_id, round(p.latitude::numeric, 3)::float8 AS lat, round(p.longitude::numeric, 3)::float8 AS lon,
                    CASE WHEN h >= 22 OR h < 6 THEN 'night' WHEN h BETWEEN 9 AND 16 THEN 'day' END AS kind
             FROM positions p JOIN devices d ON d.id = p.device_id,
                  LATERAL (SELECT extract(hour FROM p.fix_time AT TIME ZONE 'UTC' + make_interval(hours => $4))::int AS h) l
             WHERE d.vehicle_id IS NOT NULL AND p.fix_time >= $1 AND p.fix_time < $2 AND p.valid AND p.speed_kmh < 1) c
         WHERE kind IS NOT NULL
         ON CONFLICT (vehicle_id, kind, latitude, longitude) DO UPDATE
         SET days = r.days + 1, last_seen_on = EXCLUDED.last_seen_on WHERE r.last_seen_on < EXCLUDED.last_seen_on",
    )
    .bind(start)
    .bind(start + Duration::days(1))
    .bind(day)
    .bind(utc_offset_hours)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM resident_places WHERE last_seen_on < $1")
        .bind(day - Duration::days(RESIDENT_MEMORY_DAYS))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO finance_jobs (name, done_through) VALUES ('resident_places', $1)
         ON CONFLICT (name) DO UPDATE SET done_through = greatest(finance_jobs.done_through, EXCLUDED.done_through)",
    )
    .bind(day)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(learned.rows_affected())
}

/// Learns every local day not learned yet before `live_from` (at most the last 30 days), from
/// stored positions: days from `live_from` on were learned as the fixes arrived. Marks the days
/// through yesterday done and forgets places not visited for two months.
pub async fn catch_up_resident_places(
    pool: &PgPool,
    now: DateTime<Utc>,
    utc_offset_hours: i32,
    live_from: NaiveDate,
) -> Result<u32, sqlx::Error> {
    let today = (now + Duration::hours(i64::from(utc_offset_hours))).date_naive();
    let done: Option<NaiveDate> =
        sqlx::query_scalar("SELECT done_through FROM finance_jobs WHERE name = 'resident_places'")
            .fetch_optional(pool)
            .await?;
    let mut day = done.map_or(today - Duration::days(30), |d| d + Duration::days(1)).max(today - Duration::days(30));
    let mut days = 0;
    while day < today.min(live_from) {
        learn_resident_places(pool, day, utc_offset_hours).await?;
        day += Duration::days(1);
        days += 1;
    }
    let yesterday = today - Duration::days(1);
    if done.is_none_or(|d| d < yesterday) && day <= yesterday {
        sqlx::query("DELETE FROM resident_places WHERE last_seen_on < $1")
            .bind(yesterday - Duration::days(RESIDENT_MEMORY_DAYS))
            .execute(pool)
            .await?;
        sqlx::query(
            "INSERT INTO finance_jobs (name, done_through) VALUES ('resident_places', $1)
             ON CONFLICT (name) DO UPDATE SET done_through = greatest(finance_jobs.done_through, EXCLUDED.done_through)",
        )
        .bind(yesterday)
        .execute(pool)
        .await?;
    }
    Ok(days)
}

/// Counts, in the caller's transaction, the places vehicles stood in (the rules' `Stood`
/// outcomes): one more day for each, unless that day was counted already.
pub async fn stood<'a>(
    conn: &mut PgConnection,
    outcomes: impl Iterator<Item = &'a Outcome>,
) -> Result<(), sqlx::Error> {
    let (mut vehicles, mut kinds, mut lats, mut lons, mut days) = (vec![], vec![], vec![], vec![], vec![]);
    for outcome in outcomes {
        if let Outcome::Stood { vehicle_id, kind, latitude, longitude, day } = outcome {
            vehicles.push(*vehicle_id);
            kinds.push(*kind);
            lats.push(*latitude);
            lons.push(*longitude);
            days.push(*day);
        }
    }
    if vehicles.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO resident_places AS r (vehicle_id, kind, latitude, longitude, days, last_seen_on)
         SELECT DISTINCT ON (v, k, la, lo) v, k, la, lo, 1, d
         FROM unnest($1::int8[], $2::text[], $3::float8[], $4::float8[], $5::date[]) u (v, k, la, lo, d)
         WHERE EXISTS (SELECT 1 FROM vehicles WHERE id = u.v)
         ORDER BY v, k, la, lo, d DESC
         ON CONFLICT (vehicle_id, kind, latitude, longitude) DO UPDATE
         SET days = r.days + 1, last_seen_on = EXCLUDED.last_seen_on WHERE r.last_seen_on < EXCLUDED.last_seen_on",
    )
    .bind(&vehicles)
    .bind(&kinds)
    .bind(&lats)
    .bind(&lons)
    .bind(&days)
    .execute(conn)
    .await?;
    Ok(())
}
