//! The map (车辆地图): every vehicle at its last fix, clustered so that tens of thousands stay
//! smooth, coloured by its contract's bucket, over the province outlines the daemon ships (no
//! online tiles). The page loads the vehicles from `/map/vehicles.json` with the filters chosen.

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use backoffice::assets::fleet::{self, FleetFilter};
use backoffice::assets::vehicle;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::risk::places;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::PageError;
use super::format::{company_today, day_starts};
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "map.html")]
struct MapPage {
    shell: Shell,
    /// The regions of the user's subtree, as (id, indented name).
    regions: Vec<(String, String)>,
    /// The vehicle statuses, as (code, name).
    statuses: Vec<(String, String)>,
    /// The vehicle whose track may be shown: (id, plate or VIN), and the day proposed.
    track: Option<(i64, String, String)>,
    /// The company's tile server, or empty.
    tile_url: String,
}

/// The map's own query: a vehicle whose track to offer.
#[derive(Deserialize)]
pub struct MapQuery {
    /// The vehicle.
    vehicle: Option<i64>,
}

/// `GET /map`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<MapQuery>,
) -> Result<Response, PageError> {
    staff.require("vehicles.read")?;
    let track = match query.vehicle {
        Some(id) => {
            let mut db = state.pool.acquire().await?;
            let v = vehicle::detail(&mut db, &staff, id).await?.vehicle;
            let today = company_today(state.utc_offset_hours);
            Some((v.id, v.plate.unwrap_or(v.vin), today.format("%Y-%m-%d").to_string()))
        }
        None => None,
    };
    let regions =
        if staff.can("regions.read") { super::system::region_choices(&state, &staff).await? } else { Vec::new() };
    let statuses = ["financed", "in_stock", "repossessed", "disposed", "released"]
        .into_iter()
        .map(|s| (s.to_owned(), staff.lang.t(&format!("vehicle.status.{s}")).to_owned()))
        .collect();
    Ok(render(&MapPage {
        shell: Shell::new(&staff, "/map", "nav.map"),
        regions,
        statuses,
        track,
        tile_url: state.tile_url.clone().unwrap_or_default(),
    }))
}

/// `GET /map/places.json`: the map's layers of watched places, `{"risk_locations": [[latitude,
/// longitude, radius_m, name], ...], "geofences": [[name, shape], ...]}` (active ones; a shape as the
/// API writes it: `{"circle": {...}}` or `{"polygon": [[longitude, latitude], ...]}`); empty
/// without `monitor.read`.
pub async fn places(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    staff.require("vehicles.read")?;
    if !staff.can("monitor.read") {
        return Ok(Json(json!({"risk_locations": [], "geofences": []})).into_response());
    }
    let (pool, actor) = (&state.pool, &staff.caller.actor);
    let locations = every(|page| async move { places::risk_locations(pool, actor, &page).await }, |p| p.id).await?;
    let fences = every(|page| async move { places::geofences(pool, actor, &page).await }, |g| g.id).await?;
    let locations: Vec<Value> = locations
        .into_iter()
        .filter(|p| p.active)
        .map(|p| json!([p.latitude, p.longitude, p.radius_m, p.name]))
        .collect();
    let fences: Vec<Value> = fences.into_iter().filter(|g| g.active).map(|g| json!([g.name, g.shape])).collect();
    Ok(Json(json!({"risk_locations": locations, "geofences": fences})).into_response())
}

/// Every row of a keyset-paged list, page after page.
async fn every<T, F, Fut>(mut fetch: F, id: fn(&T) -> i64) -> Result<Vec<T>, backoffice::Error>
where
    F: FnMut(PageParams) -> Fut,
    Fut: Future<Output = Result<Paged<T>, backoffice::Error>>,
{
    const PAGE: u32 = 200;
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(PageParams { limit: Some(PAGE), after, ..PageParams::default() }).await?;
        let full = page.items.len() == PAGE as usize;
        after = page.items.last().map(id);
        rows.extend(page.items);
        if !full {
            return Ok(rows);
        }
    }
}

/// `GET /map/vehicles.json`: `[[id, latitude, longitude, bucket, alerts, label], ...]`, compact
/// because a map may hold a hundred thousand of them.
pub async fn vehicles(
    State(state): State<AppState>,
    staff: Staff,
    Query(filter): Query<FleetFilter>,
) -> Result<Response, PageError> {
    staff.require("vehicles.read")?;
    let fixes = fleet::last_fixes(&state.pool, &staff, &filter).await?;
    let rows: Vec<Value> =
        fixes.into_iter().map(|f| json!([f.id, f.latitude, f.longitude, f.bucket, f.alerts, f.label])).collect();
    Ok(Json(rows).into_response())
}

/// Which track: a vehicle and a day of the company's calendar.
#[derive(Deserialize)]
pub struct TrackQuery {
    /// The vehicle.
    vehicle_id: i64,
    /// The day (`YYYY-MM-DD`), in the company's time zone.
    day: NaiveDate,
}

/// `GET /map/track.json?vehicle_id=&day=`: the vehicle's fixes that day as
/// `{"points": [[ms, latitude, longitude, speed, alarms], ...], "stops": [[latitude, longitude, from_ms, to_ms], ...]}`.
pub async fn track(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<TrackQuery>,
) -> Result<Response, PageError> {
    staff.require("vehicles.read")?;
    let midnight = day_starts(query.day, state.utc_offset_hours);
    let mut db = state.pool.acquire().await?;
    let points = fleet::track(&mut db, &staff, query.vehicle_id, midnight, midnight + Duration::days(1)).await?;
    let stops: Vec<Value> = fleet::stops(&points, 5)
        .into_iter()
        .map(|s| json!([s.latitude, s.longitude, s.from.timestamp_millis(), s.to.timestamp_millis()]))
        .collect();
    let points: Vec<Value> = points
        .into_iter()
        .map(|p| json!([p.fix_time.timestamp_millis(), p.latitude, p.longitude, p.speed_kmh, p.alarms]))
        .collect();
    Ok(Json(json!({"points": points, "stops": stops})).into_response())
}
