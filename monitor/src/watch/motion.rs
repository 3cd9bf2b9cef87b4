//! Movement: reappearing far away after a silence, towing, overspeed, runs of invalid fixes while
//! driving (jamming), and standing still for days.

use serde_json::json;

use super::outcome::{Ctx, Outcome};
use super::state::{DeviceState, LastFix};
use crate::places::distance_m;
use crate::rules::{Rule, Severity};

/// A silence this long (device time between fixes) makes the next fix a reappearance.
const REAPPEAR_GAP_S: i64 = 1800;

/// A valid fix far from the last one before a silence.
pub(super) fn reappearance(ctx: &Ctx<'_>, state: &mut DeviceState, fix: &LastFix, out: &mut Vec<Outcome>) {
    let Some(before) = state.last_valid else { return };
    let gap = (fix.time - before.time).num_seconds();
    let silent = std::mem::take(&mut state.latches.silent);
    if (gap < REAPPEAR_GAP_S && !silent) || gap <= 0 {
        return;
    }
    let km = distance_m(before.at(), fix.at()) / 1000.0;
    if km >= ctx.vehicle.rules.thresholds.jump_km && ctx.enabled(Rule::Jump) {
        let title = format!("Reappeared {km:.0} km from where it went silent");
        let evidence = json!({"before": before.evidence(), "after": fix.evidence(), "km": km.round(), "gap_s": gap});
        out.push(ctx.raise(Rule::Jump, Severity::High, title, fix.time, Some(*fix), evidence));
    }
}

/// Towing, overspeed, jamming runs, and standing still for days.
pub(super) fn motion(ctx: &Ctx<'_>, state: &mut DeviceState, fix: &LastFix, out: &mut Vec<Outcome>) {
    let t = &ctx.vehicle.rules.thresholds;
    if !fix.valid {
        state.latches.invalid_run += 1;
        if state.latches.invalid_run >= t.jamming_invalid_fixes
            && fix.ignition == Some(true)
            && !state.latches.jamming_fired
            && ctx.enabled(Rule::Jamming)
        {
            state.latches.jamming_fired = true;
            let title = format!("{} invalid fixes in a row while driving", state.latches.invalid_run);
            let evidence = json!({"invalid_fixes": state.latches.invalid_run, "last_valid": state.last_valid.map(|f| f.evidence())});
            out.push(ctx.raise(Rule::Jamming, Severity::High, title, fix.time, state.last_valid, evidence));
        }
        return;
    }
    state.latches.invalid_run = 0;
    state.latches.jamming_fired = false;
    let towed = fix.ignition == Some(false) && fix.speed_kmh >= t.tow_speed_kmh;
    if towed {
        let since = *state.latches.tow_since.get_or_insert(fix.time);
        if (fix.time - since).num_seconds() >= t.tow_after_s && !state.latches.tow_fired && ctx.enabled(Rule::Tow) {
            state.latches.tow_fired = true;
            let title = format!("Moving at {:.0} km/h with the ignition off", fix.speed_kmh);
            let evidence = json!({"since": since, "fix": fix.evidence()});
            out.push(ctx.raise(Rule::Tow, Severity::High, title, fix.time, Some(*fix), evidence));
        }
    } else {
        state.latches.tow_since = None;
        state.latches.tow_fired = false;
    }
    if fix.speed_kmh > t.overspeed_kmh {
        let since = *state.latches.overspeed_since.get_or_insert(fix.time);
        if (fix.time - since).num_seconds() >= t.overspeed_after_s
            && !state.latches.overspeed_fired
            && ctx.enabled(Rule::Overspeed)
        {
            state.latches.overspeed_fired = true;
            let title = format!("{:.0} km/h over the {:.0} km/h limit", fix.speed_kmh, t.overspeed_kmh);
            out.push(ctx.raise(
                Rule::Overspeed,
                Severity::Low,
                title,
                fix.time,
                Some(*fix),
                json!({"since": since, "fix": fix.evidence()}),
            ));
        }
    } else {
        state.latches.overspeed_since = None;
        state.latches.overspeed_fired = false;
    }
    match state.parked {
        Some(anchor) if distance_m(anchor.at(), fix.at()) <= t.stationary_radius_m => {
            let still = (fix.time - anchor.time).num_seconds();
            if still >= t.stationary_after_s && !state.latches.stationary_fired && ctx.enabled(Rule::Stationary) {
                state.latches.stationary_fired = true;
                let title = format!("Not moved for {} days", still / 86_400);
                out.push(ctx.raise(
                    Rule::Stationary,
                    Severity::Low,
                    title,
                    fix.time,
                    Some(*fix),
                    json!({"since": anchor.evidence(), "fix": fix.evidence()}),
                ));
            }
        }
        _ => {
            state.parked = Some(*fix);
            state.latches.stationary_fired = false;
        }
    }
}
