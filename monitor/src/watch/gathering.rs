//! Gatherings (异常聚集): financed vehicles parked together with the ignition off, more than the
//! threshold within its radius of one another — a yard collecting pledged cars.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Watch;
use super::outcome::{Ctx, Outcome};
use super::state::LastFix;
use crate::places::distance_m;
use crate::rules::{Rule, Severity};

impl Watch {
    /// Vehicles parked with the ignition off, recently seen, more than N within R metres of one another.
    pub(super) fn gatherings(&mut self, now: DateTime<Utc>, out: &mut Vec<Outcome>) {
        let mut parked: Vec<(i64, i64, LastFix)> = Vec::new();
        for (vehicle_id, devices) in &self.fitted {
            let Some(vehicle) = self.vehicles.get(vehicle_id) else { continue };
            if vehicle.payment.is_none() || !vehicle.rules.enabled(Rule::Gathering) {
                continue;
            }
            let fix = devices
                .iter()
                .filter_map(|d| self.devices.get(d).and_then(|s| s.last_valid.map(|f| (*d, f, s))))
                .find(|(_, f, s)| {
                    f.speed_kmh < 1.0
                        && f.ignition != Some(true)
                        && s.last_seen.is_some_and(|t| (now - t).num_seconds() < 3600)
                });
            if let Some((device, f, _)) = fix {
                parked.push((*vehicle_id, device, f));
            }
        }
        // A grid of cells as wide as the largest radius: neighbours are in the 3×3 block.
        let radius =
            self.vehicles.values().map(|v| v.rules.thresholds.gathering_radius_m).fold(0.0_f64, f64::max).max(1.0);
        let cell_deg = radius / 111_000.0 * 2.0;
        let key = |f: &LastFix| ((f.latitude / cell_deg).floor() as i64, (f.longitude / cell_deg).floor() as i64);
        let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        for (i, (_, _, f)) in parked.iter().enumerate() {
            grid.entry(key(f)).or_default().push(i);
        }
        let mut now_gathered = HashSet::new();
        // Every parked vehicle counts as a neighbour; each is alerted by the monitor that owns it.
        for (i, (vehicle_id, device, f)) in parked.iter().enumerate() {
            let Some(vehicle) = self.vehicles.get(vehicle_id) else { continue };
            if !self.owns(*vehicle_id) {
                continue;
            }
            let t = &vehicle.rules.thresholds;
            let (r, c) = key(f);
            let mut near = Vec::new();
            for dr in -1..=1 {
                for dc in -1..=1 {
                    for &j in grid.get(&(r + dr, c + dc)).into_iter().flatten() {
                        if j != i && distance_m(f.at(), parked[j].2.at()) <= t.gathering_radius_m {
                            near.push(parked[j].0);
                        }
                    }
                }
            }
            if near.len() + 1 > t.gathering_vehicles as usize {
                now_gathered.insert(*vehicle_id);
                if !self.latched.contains(&(*vehicle_id, Rule::Gathering)) {
                    near.sort_unstable();
                    let Some(install) = self.installs.get(device).copied() else { continue };
                    let ctx = Ctx { vehicle, install, device_id: *device };
                    let title = format!("Parked with {} other financed vehicles", near.len());
                    let evidence = json!({"fix": f.evidence(), "vehicles": near});
                    out.push(ctx.raise(Rule::Gathering, Severity::High, title, now, Some(*f), evidence));
                }
            }
        }
        let ownership = self.ownership.as_ref();
        for vehicle_id in self.fitted.keys().filter(|v| ownership.is_none_or(|o| o.owns(**v))) {
            if now_gathered.contains(vehicle_id) {
                self.latched.insert((*vehicle_id, Rule::Gathering));
            } else {
                self.latched.remove(&(*vehicle_id, Rule::Gathering));
            }
        }
    }
}
