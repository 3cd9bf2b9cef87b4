//! The monitor's memory and its rules: per device (last fix, motion, ignition, dwell, power, last
//! seen) and per vehicle (its devices, contract, province, thresholds). `observe` takes one
//! committed row and says which alerts to raise or clear; `tick` does the same for rules about
//! time passing (silence, gatherings). Pure: no clock but the one passed in, no I/O.
//!
//! - `state.rs`: what is remembered per vehicle and per device.
//! - `outcome.rs`: what the rules conclude, and the payment-aware raising of an alert.
//! - one file per rule family: `integrity.rs` (power cut, tamper, jamming alarms), `motion.rs`
//!   (reappearance, towing, overspeed, invalid-fix runs, standing still), `locations.rs` (risk
//!   locations, geofences, province), `apart.rs` (trackers apart), `resident.rs` (nights away from
//!   the resident places, far from the application address), `silence.rs` (silent devices and
//!   vehicles, the wired tracker silent), `gathering.rs` (parked vehicles gathering).

mod apart;
mod gathering;
mod integrity;
mod latched;
mod locations;
mod motion;
mod outcome;
mod resident;
mod silence;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};

use std::sync::Arc;

use chrono::{DateTime, Utc};

use self::latched::Latched;
use self::outcome::Ctx;
pub use self::outcome::{Finding, Outcome};
use self::state::Away;
pub use self::state::{DeviceState, Fence, Home, Install, LastFix, Latches, Payment, Vehicle, VehicleLatches};
use crate::observation::{Observation, Seen};
use crate::places::{Provinces, RiskIndex};
use crate::rules::Rule;

/// One vehicle as `tick` looks at it.
struct Due<'a> {
    vehicle_id: i64,
    vehicle: &'a Vehicle,
    devices: &'a [i64],
    installs: &'a HashMap<i64, Install>,
    now: DateTime<Utc>,
}

/// The shards a monitor instance evaluates, when several share the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    /// How many shards the fleet is split into.
    pub shards: u16,
    /// The ones this instance holds.
    pub owned: BTreeSet<u16>,
}

impl Ownership {
    /// Whether the vehicle's shard is held.
    pub fn owns(&self, vehicle_id: i64) -> bool {
        self.owned.contains(&leasewatch_store::shard::of(vehicle_id, self.shards))
    }
}

/// The monitor's memory.
#[derive(Debug, Default)]
pub struct Watch {
    devices: HashMap<i64, DeviceState>,
    installs: HashMap<i64, Install>,
    vehicles: HashMap<i64, Vehicle>,
    /// The devices of each vehicle.
    fitted: HashMap<i64, Vec<i64>>,
    risk: RiskIndex,
    fences: Vec<Fence>,
    provinces: Arc<Provinces>,
    /// Vehicle-level conditions already alerted (so a condition that holds fires once).
    latched: Latched,
    away: HashMap<i64, Away>,
    /// Vehicles whose device latches or nights away changed since [`Watch::take_changed`].
    changed: HashSet<i64>,
    /// The shards this monitor evaluates; `None`: the whole fleet.
    ownership: Option<Ownership>,
    /// The places vehicles stood in today and yesterday, already counted.
    stood: resident::Stood,
    /// The company's offset from UTC: nights are local.
    utc_offset_hours: i32,
}

impl Watch {
    /// An empty memory that knows the province boundaries and the company's offset from UTC.
    pub fn new(provinces: Arc<Provinces>, utc_offset_hours: i32) -> Self {
        Self { provinces, utc_offset_hours, ..Self::default() }
    }

    /// Replaces what is known about devices' installation.
    pub fn set_installs(&mut self, installs: HashMap<i64, Install>) {
        let mut fitted: HashMap<i64, Vec<i64>> = HashMap::new();
        for (device, install) in &installs {
            fitted.entry(install.vehicle_id).or_default().push(*device);
        }
        for devices in fitted.values_mut() {
            devices.sort_unstable();
        }
        self.installs = installs;
        self.fitted = fitted;
    }

    /// Replaces the vehicles' contracts and thresholds.
    pub fn set_vehicles(&mut self, vehicles: HashMap<i64, Vehicle>) {
        self.vehicles = vehicles;
    }

    /// Sets contracts' days past due and bucket (`contract → (dpd, bucket)`), as they stood on a
    /// day of the past (a replay); contracts not named keep theirs.
    pub fn set_payment_status(&mut self, status: &HashMap<i64, (i32, i32)>) {
        for payment in self.vehicles.values_mut().filter_map(|v| v.payment.as_mut()) {
            if let Some((dpd, bucket)) = status.get(&payment.contract_id) {
                payment.dpd = *dpd;
                payment.bucket = *bucket;
            }
        }
    }

    /// Replaces the risk locations.
    pub fn set_risk_locations(&mut self, index: RiskIndex) {
        self.risk = index;
    }

    /// Replaces the geofences (vehicles refer to them by index).
    pub fn set_fences(&mut self, fences: Vec<Fence>) {
        self.fences = fences;
    }

    /// Restores a device's last fix and last contact from storage, at start-up.
    pub fn restore(&mut self, device_id: i64, last_fix: Option<LastFix>, last_seen: Option<DateTime<Utc>>) {
        let state = self.devices.entry(device_id).or_default();
        state.last_fix = last_fix;
        state.last_valid = last_fix.filter(|f| f.valid);
        state.parked = last_fix.filter(|f| f.speed_kmh < 1.0);
        state.last_seen = last_seen;
    }

    /// Evaluates only the vehicles of the shards `ownership` holds (`None`: every vehicle).
    pub fn set_ownership(&mut self, ownership: Option<Ownership>) {
        self.ownership = ownership;
    }

    /// The shards evaluated; `None` for the whole fleet.
    pub fn ownership(&self) -> Option<&Ownership> {
        self.ownership.as_ref()
    }

    /// Whether this monitor evaluates the vehicle.
    pub fn owns(&self, vehicle_id: i64) -> bool {
        self.ownership.as_ref().is_none_or(|o| o.owns(vehicle_id))
    }

    /// A device's state.
    pub fn device(&self, device_id: i64) -> Option<&DeviceState> {
        self.devices.get(&device_id)
    }

    /// A vehicle's context.
    pub fn vehicle(&self, vehicle_id: i64) -> Option<&Vehicle> {
        self.vehicles.get(&vehicle_id)
    }

    /// Every vehicle with a tracker.
    pub fn vehicle_ids(&self) -> Vec<i64> {
        self.vehicles.keys().copied().collect()
    }

    /// The devices fitted to a vehicle.
    pub fn devices_of(&self, vehicle_id: i64) -> &[i64] {
        self.fitted.get(&vehicle_id).map_or(&[], Vec::as_slice)
    }

    /// Takes one committed row and appends what the rules conclude.
    pub fn observe(&mut self, obs: &Observation, out: &mut Vec<Outcome>) {
        if let Seen::CommandReply { serial, text } = &obs.seen {
            out.push(Outcome::CommandReply {
                device_id: obs.device_id,
                serial: *serial,
                text: text.clone(),
                at: obs.server_time,
            });
        }
        let Some(install) = self.installs.get(&obs.device_id).copied() else { return };
        let Some(vehicle) = self.vehicles.get(&install.vehicle_id) else { return };
        let ctx = Ctx { vehicle, install, device_id: obs.device_id };
        let state = self.devices.entry(obs.device_id).or_default();
        let latches = state.latches;
        state.last_seen = Some(state.last_seen.map_or(obs.server_time, |t| t.max(obs.server_time)));
        match &obs.seen {
            // A session starting or ending: the next fix is a reappearance.
            Seen::Online | Seen::Offline => state.latches.silent = true,
            Seen::CommandReply { .. } => {}
            Seen::Status { status, alarms } => {
                let at = obs.server_time;
                let fix = state.last_valid;
                if let Some(on) = status.ignition {
                    state.ignition = Some((obs.server_time, on));
                }
                integrity::check(&ctx, state, *alarms, status, at, fix, out);
            }
            Seen::Fix { position, status, alarms } => {
                let fix = LastFix::from_position(position, status);
                if let Some(on) = status.ignition {
                    state.ignition = Some((obs.server_time, on));
                }
                integrity::check(&ctx, state, *alarms, status, fix.time, Some(fix), out);
                if state.latches.offline_fired {
                    state.latches.offline_fired = false;
                    out.push(ctx.clear(Rule::Offline, "the device reported again"));
                }
                if fix.valid {
                    motion::reappearance(&ctx, state, &fix, out);
                }
                motion::motion(&ctx, state, &fix, out);
                if fix.valid {
                    let others: Vec<LastFix> = self
                        .fitted
                        .get(&install.vehicle_id)
                        .into_iter()
                        .flatten()
                        .filter(|d| **d != obs.device_id)
                        .filter_map(|d| self.devices.get(d).and_then(|s| s.last_valid))
                        .collect();
                    let state = self.devices.entry(obs.device_id).or_default();
                    locations::check(&ctx, state, &fix, &self.risk, &self.fences, &self.provinces, out);
                    apart::apart(&ctx, &fix, &others, &mut self.latched, out);
                    let away = self.away.entry(install.vehicle_id).or_default();
                    let away_before = (away.nights.len(), away.nights.last().copied(), away.fired);
                    resident::away(&ctx, away, &fix, self.utc_offset_hours, out);
                    resident::stood(install.vehicle_id, &fix, self.utc_offset_hours, &mut self.stood, out);
                    if away_before != (away.nights.len(), away.nights.last().copied(), away.fired) {
                        self.changed.insert(install.vehicle_id);
                    }
                    let state = self.devices.entry(obs.device_id).or_default();
                    state.last_valid = Some(fix);
                }
                let state = self.devices.entry(obs.device_id).or_default();
                state.last_fix = Some(fix);
                state.power_voltage = status.power_voltage.or(state.power_voltage);
            }
        }
        if self.devices.get(&obs.device_id).is_some_and(|s| s.latches != latches) {
            self.changed.insert(install.vehicle_id);
        }
    }

    /// Rules about time passing, evaluated at `now`: silent devices and vehicles, the wired unit
    /// silent beside a reporting wireless one, nights far from the application address, and
    /// gatherings of parked vehicles.
    pub fn tick(&mut self, now: DateTime<Utc>, out: &mut Vec<Outcome>) {
        for (vehicle_id, devices) in &self.fitted {
            let Some(vehicle) = self.vehicles.get(vehicle_id) else { continue };
            if vehicle.payment.is_none() || !self.ownership.as_ref().is_none_or(|o| o.owns(*vehicle_id)) {
                continue;
            }
            let due = Due { vehicle_id: *vehicle_id, vehicle, devices, installs: &self.installs, now };
            let before: Vec<Option<Latches>> = devices.iter().map(|d| self.devices.get(d).map(|s| s.latches)).collect();
            silence::devices(&due, &mut self.devices, out);
            if devices.iter().zip(&before).any(|(d, b)| self.devices.get(d).map(|s| s.latches) != *b) {
                self.changed.insert(*vehicle_id);
            }
            resident::mismatch(&due, &mut self.latched, out);
            silence::vehicle(&due, &self.devices, &mut self.latched, out);
        }
        self.gatherings(now, out);
    }

    /// The latches of every vehicle whose latches changed since the last call, to persist.
    pub fn take_changed(&mut self) -> Vec<(i64, VehicleLatches)> {
        let mut vehicles = std::mem::take(&mut self.changed);
        vehicles.extend(self.latched.take_changed());
        let mut out: Vec<(i64, VehicleLatches)> = vehicles.into_iter().map(|v| (v, self.latches_of(v))).collect();
        out.sort_unstable_by_key(|(v, _)| *v);
        out
    }

    /// A vehicle's latches as they stand.
    pub fn latches_of(&self, vehicle_id: i64) -> VehicleLatches {
        let devices =
            self.devices_of(vehicle_id).iter().filter_map(|d| self.devices.get(d).map(|s| (*d, s.latches))).collect();
        let away = self.away.get(&vehicle_id);
        VehicleLatches {
            devices,
            rules: self.latched.rules_of(vehicle_id).map(|r| r.name().to_owned()).collect(),
            away_nights: away.map(|a| a.nights.clone()).unwrap_or_default(),
            away_fired: away.is_some_and(|a| a.fired),
        }
    }

    /// Restores a vehicle's persisted latches (after its devices' last fixes), at start-up or
    /// when its shard is taken over. Rules this version does not know are ignored.
    pub fn restore_latches(&mut self, vehicle_id: i64, latches: VehicleLatches) {
        for (device, l) in latches.devices {
            self.devices.entry(device).or_default().latches = l;
        }
        self.latched.restore(vehicle_id, latches.rules.iter().filter_map(|r| Rule::parse(r)));
        let away = Away { nights: latches.away_nights, fired: latches.away_fired };
        if away == Away::default() {
            self.away.remove(&vehicle_id);
        } else {
            self.away.insert(vehicle_id, away);
        }
    }
}
