//! Resident places (常驻地): parked in the middle of the night away from every place the vehicle
//! usually spends its nights, night after night; and nights spent far from the application address.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use serde_json::json;

use super::Due;
use super::latched::Latched;
use super::outcome::{Ctx, Outcome};
use super::state::{Away, Home, Install, LastFix};
use crate::places::distance_m;
use crate::rules::{Rule, Severity};

/// Local hours that count as the middle of the night, when a vehicle is normally at home.
const NIGHT_HOURS: std::ops::Range<u32> = 0..5;
/// Away nights remembered (enough for any threshold that makes sense).
const AWAY_NIGHTS_KEPT: usize = 31;

/// The cells vehicles stood in, per local day, already counted (the last two days).
#[derive(Debug, Default)]
pub(super) struct Stood {
    days: BTreeMap<NaiveDate, HashSet<(i64, bool, i64, i64)>>,
}

/// Standing still at night (22:00–06:00 local) or in the day (09:00–17:00): the ~100 m cell counts
/// one more day for the vehicle, once a day. Resident places are learned so, as fixes arrive,
/// instead of by scanning each day's positions.
pub(super) fn stood(vehicle_id: i64, fix: &LastFix, utc_offset_hours: i32, seen: &mut Stood, out: &mut Vec<Outcome>) {
    use chrono::Timelike;
    if !fix.valid || fix.speed_kmh >= 1.0 {
        return;
    }
    let local = fix.time + chrono::Duration::hours(i64::from(utc_offset_hours));
    let night = match local.hour() {
        22.. | 0..6 => true,
        9..=16 => false,
        _ => return,
    };
    let (lat, lon) = ((fix.latitude * 1000.0).round(), (fix.longitude * 1000.0).round());
    let day = local.date_naive();
    if seen.days.keys().next().is_some_and(|oldest| day < *oldest) {
        return;
    }
    if !seen.days.entry(day).or_default().insert((vehicle_id, night, lat as i64, lon as i64)) {
        return;
    }
    while seen.days.len() > 2 {
        seen.days.pop_first();
    }
    let kind = if night { "night" } else { "day" };
    out.push(Outcome::Stood { vehicle_id, kind, latitude: lat / 1000.0, longitude: lon / 1000.0, day });
}

/// Parked in the middle of the night away from every resident place, night after night.
pub(super) fn away(ctx: &Ctx<'_>, away: &mut Away, fix: &LastFix, utc_offset_hours: i32, out: &mut Vec<Outcome>) {
    use chrono::Timelike;
    let t = &ctx.vehicle.rules.thresholds;
    let homes: Vec<&Home> = ctx.vehicle.homes.iter().filter(|h| h.days >= t.resident_days).collect();
    if homes.is_empty() || fix.speed_kmh >= 1.0 || !ctx.enabled(Rule::ResidentAway) {
        return;
    }
    let local = fix.time + chrono::Duration::hours(i64::from(utc_offset_hours));
    if !NIGHT_HOURS.contains(&local.hour()) {
        return;
    }
    if homes.iter().any(|h| distance_m((h.latitude, h.longitude), fix.at()) <= t.away_radius_m) {
        *away = Away::default();
        return;
    }
    let night = local.date_naive();
    if !away.nights.contains(&night) {
        away.nights.push(night);
        if away.nights.len() > AWAY_NIGHTS_KEPT {
            away.nights.remove(0);
        }
    }
    if away.nights.len() >= t.away_nights as usize && !away.fired {
        away.fired = true;
        let nearest =
            homes.iter().map(|h| distance_m((h.latitude, h.longitude), fix.at())).fold(f64::INFINITY, f64::min);
        let title =
            format!("{} nights away from its usual night parking, {:.1} km off", away.nights.len(), nearest / 1000.0);
        let evidence =
            json!({"homes": homes, "nights": away.nights, "fix": fix.evidence(), "nearest_home_m": nearest.round()});
        out.push(ctx.raise(Rule::ResidentAway, Severity::Medium, title, fix.time, Some(*fix), evidence));
    }
}

/// The learned night places far from the address given in the application: once, until they come
/// near it again.
pub(super) fn mismatch(due: &Due<'_>, latched: &mut Latched, out: &mut Vec<Outcome>) {
    let Some(declared) = due.vehicle.declared_home else { return };
    let t = &due.vehicle.rules.thresholds;
    let key = (due.vehicle_id, Rule::ResidentMismatch);
    let learned: Vec<&Home> = due.vehicle.homes.iter().filter(|h| h.days >= t.resident_days).collect();
    let nearest_m =
        learned.iter().map(|h| distance_m((h.latitude, h.longitude), declared)).fold(f64::INFINITY, f64::min);
    let far = !learned.is_empty() && nearest_m > t.mismatch_km * 1000.0;
    if far && !latched.contains(&key) && due.vehicle.rules.enabled(Rule::ResidentMismatch) {
        latched.insert(key);
        let ctx = Ctx {
            vehicle: due.vehicle,
            install: Install { vehicle_id: due.vehicle_id, wired: true },
            device_id: due.devices[0],
        };
        let title = format!("Spends its nights {:.1} km from the application address", nearest_m / 1000.0);
        let evidence = json!({"declared_home": {"latitude": declared.0, "longitude": declared.1}, "homes": learned});
        out.push(ctx.raise(Rule::ResidentMismatch, Severity::Low, title, due.now, None, evidence));
    } else if !far {
        latched.remove(&key);
    }
}
