//! Places: entering and dwelling at risk locations (二押点), crossing geofences, leaving the
//! contract's province.

use std::collections::HashSet;

use serde_json::json;

use super::outcome::{Ctx, Outcome};
use super::state::{DeviceState, Fence, LastFix};
use crate::places::{Provinces, RiskIndex, distance_m};
use crate::rules::{Rule, Severity};

/// Moves shorter than this do not re-test the province.
const PROVINCE_RECHECK_M: f64 = 2_000.0;

/// Risk locations, geofences and the province.
pub(super) fn check(
    ctx: &Ctx<'_>,
    state: &mut DeviceState,
    fix: &LastFix,
    risk: &RiskIndex,
    fences: &[Fence],
    provinces: &Provinces,
    out: &mut Vec<Outcome>,
) {
    let t = &ctx.vehicle.rules.thresholds;
    match (risk.find(fix.at()), state.latches.risk) {
        (Some(place), Some((id, entered, level))) if place.id == id => {
            let dwell = (fix.time - entered).num_seconds();
            let now_level = dwell / t.dwell_after_s.max(1);
            if now_level > level && ctx.enabled(Rule::RiskLocationDwell) {
                state.latches.risk = Some((id, entered, now_level));
                let severity = Severity::High.raised(u8::try_from(now_level - 1).unwrap_or(u8::MAX).min(4));
                let title = format!("At {} for {} h {} min", place.name, dwell / 3600, dwell % 3600 / 60);
                let evidence = json!({"location": place, "entered": entered, "dwell_s": dwell, "fix": fix.evidence()});
                out.push(ctx.raise(Rule::RiskLocationDwell, severity, title, fix.time, Some(*fix), evidence));
            }
        }
        (Some(place), _) => {
            state.latches.risk = Some((place.id, fix.time, 0));
            if ctx.enabled(Rule::RiskLocationEntry) {
                let title = format!("Entered {} ({})", place.name, place.kind);
                let evidence = json!({"location": place, "fix": fix.evidence()});
                out.push(ctx.raise(Rule::RiskLocationEntry, Severity::Medium, title, fix.time, Some(*fix), evidence));
            }
        }
        (None, _) => state.latches.risk = None,
    }
    if !ctx.vehicle.fences.is_empty() {
        let inside: HashSet<i64> = ctx
            .vehicle
            .fences
            .iter()
            .filter_map(|i| fences.get(*i))
            .filter(|f| f.area.contains(fix.at()))
            .map(|f| f.id)
            .collect();
        for fence in ctx.vehicle.fences.iter().filter_map(|i| fences.get(*i)) {
            let is = inside.contains(&fence.id);
            let Some(was) = state.fences_inside.insert(fence.id, is) else { continue };
            let crossing = match (was, is) {
                (false, true) if fence.on_enter => Some("Entered"),
                (true, false) if fence.on_exit => Some("Left"),
                _ => None,
            };
            if let Some(verb) = crossing.filter(|_| ctx.enabled(Rule::Geofence)) {
                let title = format!("{verb} geofence {}", fence.name);
                let evidence = json!({"geofence": fence.id, "name": fence.name, "crossing": verb.to_lowercase(), "fix": fix.evidence()});
                out.push(ctx.raise(Rule::Geofence, Severity::Medium, title, fix.time, Some(*fix), evidence));
            }
        }
    }
    if let Some(home) = ctx.vehicle.province.as_deref().and_then(|code| provinces.get(code)) {
        let moved = state.province_checked_at.is_none_or(|at| distance_m(at, fix.at()) >= PROVINCE_RECHECK_M);
        if moved {
            state.province_checked_at = Some(fix.at());
            let outside = !home.contains(fix.at());
            if outside && !state.latches.outside_province && ctx.enabled(Rule::LeftProvince) {
                let now_in = provinces.locate(fix.at());
                let title = match now_in {
                    Some(p) => format!("Left {} for {}", home.name, p.name),
                    None => format!("Left {}", home.name),
                };
                let evidence =
                    json!({"province": home.adcode, "now_in": now_in.map(|p| &p.adcode), "fix": fix.evidence()});
                out.push(ctx.raise(Rule::LeftProvince, Severity::Medium, title, fix.time, Some(*fix), evidence));
            }
            state.latches.outside_province = outside;
        }
    }
}
