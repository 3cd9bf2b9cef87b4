//! Silence: a device that stops reporting, every tracker of a vehicle silent, and the wired
//! tracker silent beside a reporting wireless one (cut or shielded while the hidden one still talks).

use std::collections::HashMap;

use serde_json::json;

use super::Due;
use super::latched::Latched;
use super::outcome::{Ctx, Outcome};
use super::state::{DeviceState, Install};
use crate::rules::{Rule, Severity};

/// Seconds since `device` was last heard from; `None` for a device never heard from, which is an
/// installation matter, not a silence.
fn silent_for(states: &HashMap<i64, DeviceState>, device: i64, due: &Due<'_>) -> Option<i64> {
    states.get(&device).and_then(|s| s.last_seen).map(|seen| (due.now - seen).num_seconds())
}

/// Each of the vehicle's devices silent past the threshold: once, until it reports again.
pub(super) fn devices(due: &Due<'_>, states: &mut HashMap<i64, DeviceState>, out: &mut Vec<Outcome>) {
    let t = &due.vehicle.rules.thresholds;
    for device in due.devices {
        let Some(install) = due.installs.get(device).copied() else { continue };
        let Some(silent) = silent_for(states, *device, due) else { continue };
        let ctx = Ctx { vehicle: due.vehicle, install, device_id: *device };
        let state = states.entry(*device).or_default();
        let Some(seen) = state.last_seen else { continue };
        if !state.latches.offline_fired && silent >= t.offline_after_s && due.vehicle.rules.enabled(Rule::Offline) {
            state.latches.offline_fired = true;
            let evidence = json!({"last_seen": seen, "last_fix": state.last_valid.map(|f| f.evidence())});
            let title = format!("Device silent since {}", seen.format("%Y-%m-%d %H:%M UTC"));
            out.push(ctx.raise(Rule::Offline, Severity::Medium, title, due.now, state.last_valid, evidence));
        }
    }
}

/// Every tracker of a vehicle silent, and the wired one silent while the wireless one reports.
pub(super) fn vehicle(
    due: &Due<'_>,
    states: &HashMap<i64, DeviceState>,
    latched: &mut Latched,
    out: &mut Vec<Outcome>,
) {
    let devices = due.devices;
    if devices.len() < 2 {
        return;
    }
    let t = &due.vehicle.rules.thresholds;
    let all_silent = devices.iter().all(|d| silent_for(states, *d, due).is_some_and(|s| s >= t.offline_after_s));
    let ctx = Ctx {
        vehicle: due.vehicle,
        install: Install { vehicle_id: due.vehicle_id, wired: true },
        device_id: devices[0],
    };
    let key = (due.vehicle_id, Rule::AllDevicesOffline);
    if all_silent && !latched.contains(&key) && due.vehicle.rules.enabled(Rule::AllDevicesOffline) {
        latched.insert(key);
        let title = "Every tracker of the vehicle is silent".to_owned();
        out.push(ctx.raise(Rule::AllDevicesOffline, Severity::High, title, due.now, None, json!({"devices": devices})));
    } else if !all_silent && latched.remove(&key) {
        out.push(ctx.clear(Rule::AllDevicesOffline, "a tracker reported again"));
    }
    let wired = devices.iter().find(|d| due.installs.get(d).is_some_and(|i| i.wired));
    let wireless = devices.iter().find(|d| due.installs.get(d).is_some_and(|i| !i.wired));
    let (Some(wired), Some(wireless)) = (wired, wireless) else { return };
    let silent = silent_for(states, *wired, due).is_some_and(|s| s >= t.wired_silent_after_s)
        && silent_for(states, *wireless, due).is_some_and(|s| s < t.wired_silent_after_s);
    let key = (due.vehicle_id, Rule::WiredSilent);
    if silent && !latched.contains(&key) && due.vehicle.rules.enabled(Rule::WiredSilent) {
        latched.insert(key);
        let last = states.get(wireless).and_then(|s| s.last_valid);
        let ctx = Ctx {
            vehicle: due.vehicle,
            install: Install { vehicle_id: due.vehicle_id, wired: true },
            device_id: *wired,
        };
        let title = "The wired tracker is silent while the wireless one reports".to_owned();
        let evidence = json!({"wired": wired, "wireless": wireless, "wireless_fix": last.map(|f| f.evidence())});
        out.push(ctx.raise(Rule::WiredSilent, Severity::High, title, due.now, last, evidence));
    } else if !silent {
        latched.remove(&key);
    }
}
