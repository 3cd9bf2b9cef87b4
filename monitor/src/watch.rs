//! The monitor's memory and its rules: per device (last fix, motion, ignition, dwell, power, last
//! seen) and per vehicle (its devices, contract, province, thresholds). `observe` takes one
//! committed row and says which alerts to raise or clear; `tick` does the same for rules about
//! time passing (silence, gatherings). Pure: no clock but the one passed in, no I/O.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_protocols::{Alarm, AlarmSet, Position, Status};
use serde_json::{Value, json};

use crate::observation::{Observation, Seen};
use crate::places::{Area, Provinces, RiskIndex, distance_m};
use crate::rules::{Resolved, Rule, Severity};

/// A contract's payment status, as the monitor weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The contract.
    pub contract_id: i64,
    /// Its number.
    pub number: String,
    /// Days past due.
    pub dpd: i32,
    /// Delinquency bucket (0 current, 1 = M1...).
    pub bucket: i32,
    /// A promise to pay holds escalation until this date.
    pub promise_until: Option<NaiveDate>,
}

impl Payment {
    /// Whether the lessee is behind.
    pub fn overdue(&self) -> bool {
        self.dpd > 0
    }
}

/// What the monitor knows about a vehicle from the books.
#[derive(Debug, Clone, PartialEq)]
pub struct Vehicle {
    /// Id.
    pub id: i64,
    /// Its region (of the contract when there is one).
    pub region_id: i64,
    /// The active contract's payment status.
    pub payment: Option<Payment>,
    /// GB/T 2260 code of the province the vehicle belongs in.
    pub province: Option<String>,
    /// Its thresholds.
    pub rules: Resolved,
    /// The geofences that apply to it (indexes into [`Watch::set_fences`]'s list).
    pub fences: Vec<usize>,
    /// Where it usually stands at night, most frequent first.
    pub homes: Vec<Home>,
    /// Where the application says the lessee lives.
    pub declared_home: Option<(f64, f64)>,
}

/// A resident place: where a vehicle has stood at night on `days` distinct days.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Home {
    /// Latitude.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
    /// Distinct days seen there.
    pub days: i32,
}

/// Nights a vehicle spent away from its resident places.
#[derive(Debug, Clone, Default)]
struct Away {
    nights: Vec<NaiveDate>,
    fired: bool,
}

/// A geofence ready for tests.
#[derive(Debug, Clone)]
pub struct Fence {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Shape.
    pub area: Area,
    /// Alert on entering.
    pub on_enter: bool,
    /// Alert on leaving.
    pub on_exit: bool,
}

/// A device of a vehicle, as registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Install {
    /// The vehicle.
    pub vehicle_id: i64,
    /// Wired to the vehicle's power (else a battery unit hidden in the car).
    pub wired: bool,
}

/// A fix as remembered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastFix {
    /// Fix time.
    pub time: DateTime<Utc>,
    /// Latitude.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
    /// Speed.
    pub speed_kmh: f64,
    /// Whether the receiver had a fix.
    pub valid: bool,
    /// Ignition, when reported.
    pub ignition: Option<bool>,
}

impl LastFix {
    fn at(&self) -> (f64, f64) {
        (self.latitude, self.longitude)
    }

    fn from_position(p: &Position, status: &Status) -> Self {
        Self {
            time: p.fix_time,
            latitude: p.latitude,
            longitude: p.longitude,
            speed_kmh: p.speed_kmh,
            valid: p.valid,
            ignition: status.ignition,
        }
    }

    fn evidence(&self) -> Value {
        json!({"time": self.time, "latitude": self.latitude, "longitude": self.longitude,
               "speed_kmh": self.speed_kmh, "valid": self.valid, "ignition": self.ignition})
    }
}

/// One device's state.
#[derive(Debug, Clone, Default)]
pub struct DeviceState {
    /// When anything last arrived from it (server time).
    pub last_seen: Option<DateTime<Utc>>,
    /// The last fix.
    pub last_fix: Option<LastFix>,
    /// The last valid fix: the one collectors can trust.
    pub last_valid: Option<LastFix>,
    /// The last external power voltage.
    pub power_voltage: Option<f64>,
    /// Where and since when it has stood within the stationary radius.
    pub parked: Option<LastFix>,
    /// The latest ignition report (from a fix or a status frame) and when it was received.
    pub ignition: Option<(DateTime<Utc>, bool)>,
    offline_fired: bool,
    power_cut: bool,
    tamper_fired: bool,
    jamming_alarm_fired: bool,
    stationary_fired: bool,
    tow_since: Option<DateTime<Utc>>,
    tow_fired: bool,
    overspeed_since: Option<DateTime<Utc>>,
    overspeed_fired: bool,
    invalid_run: u32,
    jamming_fired: bool,
    risk: Option<(i64, DateTime<Utc>, i64)>,
    /// The fences evaluated for this device and which of them it is inside: a fence is compared
    /// only from its second evaluation, so a new fence does not "enter" every vehicle already in it.
    fences_inside: HashMap<i64, bool>,
    province_checked_at: Option<(f64, f64)>,
    outside_province: bool,
    silent: bool,
}

/// Raise or update an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The vehicle.
    pub vehicle_id: i64,
    /// The device that showed it.
    pub device_id: Option<i64>,
    /// The rule.
    pub rule: Rule,
    /// How urgent, payment status included.
    pub severity: Severity,
    /// One line for lists.
    pub title: String,
    /// When it happened (device time where there is one).
    pub at: DateTime<Utc>,
    /// Where.
    pub location: Option<(f64, f64)>,
    /// The positions, events and payment status that show it.
    pub evidence: Value,
    /// Raised or escalated because the contract is overdue.
    pub collection: bool,
}

/// What the rules concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Raise an alert, or update the open one of its vehicle and rule.
    Raise(Finding),
    /// The condition ended: resolve the open alert of this vehicle and rule.
    Clear {
        /// The vehicle.
        vehicle_id: i64,
        /// The rule.
        rule: Rule,
        /// Why.
        reason: String,
    },
    /// A command reply arrived.
    CommandReply {
        /// The device.
        device_id: i64,
        /// The serial or flag echoed.
        serial: Option<i64>,
        /// What the device said.
        text: String,
        /// When.
        at: DateTime<Utc>,
    },
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
    latched: HashSet<(i64, Rule)>,
    away: HashMap<i64, Away>,
    /// The company's offset from UTC: nights are local.
    utc_offset_hours: i32,
}

/// Only fixes this recent (device time vs. the newest seen) count as "now" for pairs of devices.
const PAIR_WINDOW_S: i64 = 600;
/// A silence this long (device time between fixes) makes the next fix a reappearance.
const REAPPEAR_GAP_S: i64 = 1800;
/// Moves shorter than this do not re-test the province.
const PROVINCE_RECHECK_M: f64 = 2_000.0;

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
        state.last_seen = Some(state.last_seen.map_or(obs.server_time, |t| t.max(obs.server_time)));
        match &obs.seen {
            // A session starting or ending: the next fix is a reappearance.
            Seen::Online | Seen::Offline => state.silent = true,
            Seen::CommandReply { .. } => {}
            Seen::Status { status, alarms } => {
                let at = obs.server_time;
                let fix = state.last_valid;
                if let Some(on) = status.ignition {
                    state.ignition = Some((obs.server_time, on));
                }
                integrity(&ctx, state, *alarms, status, at, fix, out);
            }
            Seen::Fix { position, status, alarms } => {
                let fix = LastFix::from_position(position, status);
                if let Some(on) = status.ignition {
                    state.ignition = Some((obs.server_time, on));
                }
                integrity(&ctx, state, *alarms, status, fix.time, Some(fix), out);
                if state.offline_fired {
                    state.offline_fired = false;
                    out.push(ctx.clear(Rule::Offline, "the device reported again"));
                }
                if fix.valid {
                    reappearance(&ctx, state, &fix, out);
                }
                motion(&ctx, state, &fix, out);
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
                    places(&ctx, state, &fix, &self.risk, &self.fences, &self.provinces, out);
                    apart(&ctx, &fix, &others, &mut self.latched, out);
                    let away = self.away.entry(install.vehicle_id).or_default();
                    resident(&ctx, away, &fix, self.utc_offset_hours, out);
                    let state = self.devices.entry(obs.device_id).or_default();
                    state.last_valid = Some(fix);
                }
                let state = self.devices.entry(obs.device_id).or_default();
                state.last_fix = Some(fix);
                state.power_voltage = status.power_voltage.or(state.power_voltage);
            }
        }
    }

    /// Rules about time passing, evaluated at `now`: silent devices and vehicles, the wired unit
    /// silent beside a reporting wireless one, and gatherings of parked vehicles.
    pub fn tick(&mut self, now: DateTime<Utc>, out: &mut Vec<Outcome>) {
        let Self { devices: states, installs, vehicles, fitted, latched, .. } = self;
        for (vehicle_id, devices) in fitted.iter() {
            let Some(vehicle) = vehicles.get(vehicle_id) else { continue };
            if vehicle.payment.is_none() {
                continue;
            }
            let t = &vehicle.rules.thresholds;
            // Devices never heard from are an installation matter, not a silence: they count as neither.
            let silent_for = |states: &HashMap<i64, DeviceState>, d: &i64| {
                states.get(d).and_then(|s| s.last_seen).map(|seen| (now - seen).num_seconds())
            };
            for device in devices {
                let Some(install) = installs.get(device).copied() else { continue };
                let Some(silent) = silent_for(states, device) else { continue };
                let ctx = Ctx { vehicle, install, device_id: *device };
                let state = states.entry(*device).or_default();
                let Some(seen) = state.last_seen else { continue };
                if !state.offline_fired && silent >= t.offline_after_s && vehicle.rules.enabled(Rule::Offline) {
                    state.offline_fired = true;
                    let evidence = json!({"last_seen": seen, "last_fix": state.last_valid.map(|f| f.evidence())});
                    let title = format!("Device silent since {}", seen.format("%Y-%m-%d %H:%M UTC"));
                    out.push(ctx.raise(Rule::Offline, Severity::Medium, title, now, state.last_valid, evidence));
                }
            }
            if let Some(declared) = vehicle.declared_home {
                let key = (*vehicle_id, Rule::ResidentMismatch);
                let learned: Vec<&Home> = vehicle.homes.iter().filter(|h| h.days >= t.resident_days).collect();
                let nearest_m = learned
                    .iter()
                    .map(|h| distance_m((h.latitude, h.longitude), declared))
                    .fold(f64::INFINITY, f64::min);
                let far = !learned.is_empty() && nearest_m > t.mismatch_km * 1000.0;
                if far && !latched.contains(&key) && vehicle.rules.enabled(Rule::ResidentMismatch) {
                    latched.insert(key);
                    let ctx = Ctx {
                        vehicle,
                        install: Install { vehicle_id: *vehicle_id, wired: true },
                        device_id: devices[0],
                    };
                    let title = format!("Spends its nights {:.1} km from the application address", nearest_m / 1000.0);
                    let evidence =
                        json!({"declared_home": {"latitude": declared.0, "longitude": declared.1}, "homes": learned});
                    out.push(ctx.raise(Rule::ResidentMismatch, Severity::Low, title, now, None, evidence));
                } else if !far {
                    latched.remove(&key);
                }
            }
            if devices.len() < 2 {
                continue;
            }
            let all_silent = devices.iter().all(|d| silent_for(states, d).is_some_and(|s| s >= t.offline_after_s));
            let ctx = Ctx { vehicle, install: Install { vehicle_id: *vehicle_id, wired: true }, device_id: devices[0] };
            let key = (*vehicle_id, Rule::AllDevicesOffline);
            if all_silent && !latched.contains(&key) && vehicle.rules.enabled(Rule::AllDevicesOffline) {
                latched.insert(key);
                let title = "Every tracker of the vehicle is silent".to_owned();
                out.push(ctx.raise(
                    Rule::AllDevicesOffline,
                    Severity::High,
                    title,
                    now,
                    None,
                    json!({"devices": devices}),
                ));
            } else if !all_silent && latched.remove(&key) {
                out.push(ctx.clear(Rule::AllDevicesOffline, "a tracker reported again"));
            }
            let wired = devices.iter().find(|d| installs.get(d).is_some_and(|i| i.wired));
            let wireless = devices.iter().find(|d| installs.get(d).is_some_and(|i| !i.wired));
            let (Some(wired), Some(wireless)) = (wired, wireless) else { continue };
            let silent = silent_for(states, wired).is_some_and(|s| s >= t.wired_silent_after_s)
                && silent_for(states, wireless).is_some_and(|s| s < t.wired_silent_after_s);
            let key = (*vehicle_id, Rule::WiredSilent);
            if silent && !latched.contains(&key) && vehicle.rules.enabled(Rule::WiredSilent) {
                latched.insert(key);
                let last = states.get(wireless).and_then(|s| s.last_valid);
                let ctx = Ctx { vehicle, install: Install { vehicle_id: *vehicle_id, wired: true }, device_id: *wired };
                let title = "The wired tracker is silent while the wireless one reports".to_owned();
                let evidence =
                    json!({"wired": wired, "wireless": wireless, "wireless_fix": last.map(|f| f.evidence())});
                out.push(ctx.raise(Rule::WiredSilent, Severity::High, title, now, last, evidence));
            } else if !silent {
                latched.remove(&key);
            }
        }
        self.gatherings(now, out);
    }

    /// Vehicles parked with the ignition off, recently seen, more than N within R metres of one another.
    fn gatherings(&mut self, now: DateTime<Utc>, out: &mut Vec<Outcome>) {
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
        for (i, (vehicle_id, device, f)) in parked.iter().enumerate() {
            let Some(vehicle) = self.vehicles.get(vehicle_id) else { continue };
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
        self.latched.retain(|(v, r)| *r != Rule::Gathering || now_gathered.contains(v));
        self.latched.extend(now_gathered.into_iter().map(|v| (v, Rule::Gathering)));
    }
}

/// Who an outcome is about.
struct Ctx<'a> {
    vehicle: &'a Vehicle,
    install: Install,
    device_id: i64,
}

impl Ctx<'_> {
    /// An alert with the payment status weighed in: an overdue contract raises device-integrity,
    /// place and movement rules one level (two from the repossession bucket) and marks them for
    /// collection, unless a promise to pay is holding.
    fn raise(
        &self,
        rule: Rule,
        base: Severity,
        title: String,
        at: DateTime<Utc>,
        fix: Option<LastFix>,
        evidence: Value,
    ) -> Outcome {
        let mut severity = base;
        let mut collection = false;
        let payment = self.vehicle.payment.as_ref();
        if let Some(p) = payment.filter(|p| p.overdue() && rule.payment_aware()) {
            let held = p.promise_until.is_some_and(|d| d >= at.date_naive());
            if !held {
                collection = true;
                let steps = if p.bucket >= self.vehicle.rules.thresholds.repossession_bucket { 2 } else { 1 };
                severity = severity.raised(steps);
            }
        }
        let mut evidence = evidence;
        if let (Value::Object(map), Some(p)) = (&mut evidence, payment) {
            map.insert(
                "payment".into(),
                json!({"contract_id": p.contract_id, "number": p.number, "dpd": p.dpd, "bucket": p.bucket,
                       "promise_until": p.promise_until}),
            );
        }
        Outcome::Raise(Finding {
            vehicle_id: self.install.vehicle_id,
            device_id: Some(self.device_id),
            rule,
            severity,
            title,
            at,
            location: fix.map(|f| f.at()),
            evidence,
            collection,
        })
    }

    fn clear(&self, rule: Rule, reason: &str) -> Outcome {
        Outcome::Clear { vehicle_id: self.install.vehicle_id, rule, reason: reason.to_owned() }
    }

    fn enabled(&self, rule: Rule) -> bool {
        self.vehicle.rules.enabled(rule)
    }
}

/// Power cut, tamper and light sensor, jamming.
fn integrity(
    ctx: &Ctx<'_>,
    state: &mut DeviceState,
    alarms: AlarmSet,
    status: &Status,
    at: DateTime<Utc>,
    fix: Option<LastFix>,
    out: &mut Vec<Outcome>,
) {
    let evidence =
        |what: &str| json!({"alarm": what, "fix": fix.map(|f| f.evidence()), "power_voltage": status.power_voltage});
    let lost_power = ctx.install.wired
        && state.power_voltage.is_some_and(|v| v >= 6.0)
        && status.power_voltage.is_some_and(|v| v < 1.0);
    if (alarms.contains(Alarm::PowerCut) || lost_power) && !state.power_cut && ctx.enabled(Rule::PowerCut) {
        state.power_cut = true;
        out.push(ctx.raise(
            Rule::PowerCut,
            Severity::High,
            "External power cut".into(),
            at,
            fix,
            evidence("power_cut"),
        ));
    } else if !alarms.contains(Alarm::PowerCut) && !status.power_voltage.is_some_and(|v| v < 1.0) {
        // Some protocols report no voltage: a frame without the alarm and without a dead supply ends it.
        state.power_cut = false;
    }
    // Level alarms (JT/T 808 sets the bit in every report while it holds) fire once per episode.
    let exposed = [Alarm::Tamper, Alarm::LightSensor].into_iter().find(|a| alarms.contains(*a));
    match exposed {
        Some(alarm) if !state.tamper_fired && ctx.enabled(Rule::Tamper) => {
            state.tamper_fired = true;
            let title =
                if alarm == Alarm::Tamper { "Tracker removed or opened" } else { "Hidden tracker exposed to light" };
            out.push(ctx.raise(Rule::Tamper, Severity::High, title.into(), at, fix, evidence(alarm.name())));
        }
        Some(_) => {}
        None => state.tamper_fired = false,
    }
    let jammed = alarms.contains(Alarm::Jamming) || alarms.contains(Alarm::GnssAntennaCut);
    if !jammed {
        state.jamming_alarm_fired = false;
    } else if ctx.enabled(Rule::Jamming) && !state.jamming_alarm_fired {
        state.jamming_alarm_fired = true;
        out.push(ctx.raise(
            Rule::Jamming,
            Severity::High,
            "GNSS jamming or antenna cut".into(),
            at,
            fix,
            evidence("jamming"),
        ));
    }
}

/// A valid fix far from the last one before a silence.
fn reappearance(ctx: &Ctx<'_>, state: &mut DeviceState, fix: &LastFix, out: &mut Vec<Outcome>) {
    let Some(before) = state.last_valid else { return };
    let gap = (fix.time - before.time).num_seconds();
    let silent = std::mem::take(&mut state.silent);
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
fn motion(ctx: &Ctx<'_>, state: &mut DeviceState, fix: &LastFix, out: &mut Vec<Outcome>) {
    let t = &ctx.vehicle.rules.thresholds;
    if !fix.valid {
        state.invalid_run += 1;
        if state.invalid_run >= t.jamming_invalid_fixes
            && fix.ignition == Some(true)
            && !state.jamming_fired
            && ctx.enabled(Rule::Jamming)
        {
            state.jamming_fired = true;
            let title = format!("{} invalid fixes in a row while driving", state.invalid_run);
            let evidence =
                json!({"invalid_fixes": state.invalid_run, "last_valid": state.last_valid.map(|f| f.evidence())});
            out.push(ctx.raise(Rule::Jamming, Severity::High, title, fix.time, state.last_valid, evidence));
        }
        return;
    }
    state.invalid_run = 0;
    state.jamming_fired = false;
    let towed = fix.ignition == Some(false) && fix.speed_kmh >= t.tow_speed_kmh;
    if towed {
        let since = *state.tow_since.get_or_insert(fix.time);
        if (fix.time - since).num_seconds() >= t.tow_after_s && !state.tow_fired && ctx.enabled(Rule::Tow) {
            state.tow_fired = true;
            let title = format!("Moving at {:.0} km/h with the ignition off", fix.speed_kmh);
            let evidence = json!({"since": since, "fix": fix.evidence()});
            out.push(ctx.raise(Rule::Tow, Severity::High, title, fix.time, Some(*fix), evidence));
        }
    } else {
        state.tow_since = None;
        state.tow_fired = false;
    }
    if fix.speed_kmh > t.overspeed_kmh {
        let since = *state.overspeed_since.get_or_insert(fix.time);
        if (fix.time - since).num_seconds() >= t.overspeed_after_s
            && !state.overspeed_fired
            && ctx.enabled(Rule::Overspeed)
        {
            state.overspeed_fired = true;
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
        state.overspeed_since = None;
        state.overspeed_fired = false;
    }
    match state.parked {
        Some(anchor) if distance_m(anchor.at(), fix.at()) <= t.stationary_radius_m => {
            let still = (fix.time - anchor.time).num_seconds();
            if still >= t.stationary_after_s && !state.stationary_fired && ctx.enabled(Rule::Stationary) {
                state.stationary_fired = true;
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
            state.stationary_fired = false;
        }
    }
}

/// Risk locations, geofences and the province.
fn places(
    ctx: &Ctx<'_>,
    state: &mut DeviceState,
    fix: &LastFix,
    risk: &RiskIndex,
    fences: &[Fence],
    provinces: &Provinces,
    out: &mut Vec<Outcome>,
) {
    let t = &ctx.vehicle.rules.thresholds;
    match (risk.find(fix.at()), state.risk) {
        (Some(place), Some((id, entered, level))) if place.id == id => {
            let dwell = (fix.time - entered).num_seconds();
            let now_level = dwell / t.dwell_after_s.max(1);
            if now_level > level && ctx.enabled(Rule::RiskLocationDwell) {
                state.risk = Some((id, entered, now_level));
                let severity = Severity::High.raised(u8::try_from(now_level - 1).unwrap_or(u8::MAX).min(4));
                let title = format!("At {} for {} h {} min", place.name, dwell / 3600, dwell % 3600 / 60);
                let evidence = json!({"location": place, "entered": entered, "dwell_s": dwell, "fix": fix.evidence()});
                out.push(ctx.raise(Rule::RiskLocationDwell, severity, title, fix.time, Some(*fix), evidence));
            }
        }
        (Some(place), _) => {
            state.risk = Some((place.id, fix.time, 0));
            if ctx.enabled(Rule::RiskLocationEntry) {
                let title = format!("Entered {} ({})", place.name, place.kind);
                let evidence = json!({"location": place, "fix": fix.evidence()});
                out.push(ctx.raise(Rule::RiskLocationEntry, Severity::Medium, title, fix.time, Some(*fix), evidence));
            }
        }
        (None, _) => state.risk = None,
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
            if outside && !state.outside_province && ctx.enabled(Rule::LeftProvince) {
                let now_in = provinces.locate(fix.at());
                let title = match now_in {
                    Some(p) => format!("Left {} for {}", home.name, p.name),
                    None => format!("Left {}", home.name),
                };
                let evidence =
                    json!({"province": home.adcode, "now_in": now_in.map(|p| &p.adcode), "fix": fix.evidence()});
                out.push(ctx.raise(Rule::LeftProvince, Severity::Medium, title, fix.time, Some(*fix), evidence));
            }
            state.outside_province = outside;
        }
    }
}

/// Local hours that count as the middle of the night, when a vehicle is normally at home.
const NIGHT_HOURS: std::ops::Range<u32> = 0..5;
/// Away nights remembered (enough for any threshold that makes sense).
const AWAY_NIGHTS_KEPT: usize = 31;

/// Parked in the middle of the night away from every resident place, night after night.
fn resident(ctx: &Ctx<'_>, away: &mut Away, fix: &LastFix, utc_offset_hours: i32, out: &mut Vec<Outcome>) {
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

/// The vehicle's wired and wireless trackers reporting far apart at the same time: once, until
/// they report together again.
fn apart(ctx: &Ctx<'_>, fix: &LastFix, others: &[LastFix], latched: &mut HashSet<(i64, Rule)>, out: &mut Vec<Outcome>) {
    let t = &ctx.vehicle.rules.thresholds;
    let key = (ctx.install.vehicle_id, Rule::DevicesApart);
    let concurrent: Vec<&LastFix> =
        others.iter().filter(|o| (fix.time - o.time).num_seconds().abs() <= PAIR_WINDOW_S).collect();
    let Some((other, d)) =
        concurrent.iter().map(|o| (*o, distance_m(fix.at(), o.at()))).max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return;
    };
    if d <= t.devices_apart_m {
        latched.remove(&key);
    } else if ctx.enabled(Rule::DevicesApart) && latched.insert(key) {
        let title = format!("Trackers {:.1} km apart", d / 1000.0);
        let evidence = json!({"this": fix.evidence(), "other": other.evidence(), "metres": d.round()});
        out.push(ctx.raise(Rule::DevicesApart, Severity::High, title, fix.time, Some(*fix), evidence));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Thresholds;
    use chrono::Duration;
    use leasewatch_store::risk_location::RiskLocation;

    const DEVICE: i64 = 10;
    const VEHICLE: i64 = 1;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn watch(payment: Option<Payment>, thresholds: Thresholds) -> Watch {
        let mut w = Watch::new(Arc::new(Provinces::default()), 8);
        w.set_installs(HashMap::from([(DEVICE, Install { vehicle_id: VEHICLE, wired: true })]));
        let rules = Resolved { thresholds, disabled: HashSet::new() };
        let vehicle = Vehicle {
            id: VEHICLE,
            region_id: 1,
            payment,
            province: None,
            rules,
            fences: vec![],
            homes: vec![],
            declared_home: None,
        };
        w.set_vehicles(HashMap::from([(VEHICLE, vehicle)]));
        w
    }

    fn active(dpd: i32, bucket: i32) -> Option<Payment> {
        Some(Payment { contract_id: 5, number: "C-5".into(), dpd, bucket, promise_until: None })
    }

    fn fix(s: i64, lat: f64, lon: f64, speed: f64, ignition: bool, power: f64, alarms: AlarmSet) -> Observation {
        let time = t0() + Duration::seconds(s);
        let position = Position {
            fix_time: time,
            latitude: lat,
            longitude: lon,
            speed_kmh: speed,
            course: 0.0,
            altitude: None,
            satellites: Some(8),
            valid: true,
            cell: None,
        };
        let status = Status { ignition: Some(ignition), power_voltage: Some(power), ..Status::default() };
        Observation { device_id: DEVICE, server_time: time, seen: Seen::Fix { position, status, alarms } }
    }

    fn raised(out: &[Outcome]) -> Vec<(Rule, Severity, bool)> {
        out.iter()
            .filter_map(|o| match o {
                Outcome::Raise(f) => Some((f.rule, f.severity, f.collection)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_power_cut_fires_once_and_an_overdue_contract_escalates_it() {
        for (payment, severity, collection) in
            [(active(0, 0), Severity::High, false), (active(15, 1), Severity::Critical, true)]
        {
            let mut w = watch(payment, Thresholds::default());
            let mut out = Vec::new();
            w.observe(&fix(0, 22.5, 114.0, 40.0, true, 12.6, AlarmSet::default()), &mut out);
            w.observe(&fix(10, 22.5, 114.0, 0.0, false, 0.0, AlarmSet::default().with(Alarm::PowerCut)), &mut out);
            w.observe(&fix(20, 22.5, 114.0, 0.0, false, 0.0, AlarmSet::default()), &mut out);
            assert_eq!(raised(&out), vec![(Rule::PowerCut, severity, collection)]);
        }
    }

    #[test]
    fn a_level_tamper_or_light_alarm_fires_once_per_episode() {
        let mut w = watch(active(0, 0), Thresholds::default());
        let mut out = Vec::new();
        let light = AlarmSet::default().with(Alarm::LightSensor);
        // JT/T 808 repeats a level alarm in every report while it holds.
        for s in [0, 10, 20] {
            w.observe(&fix(s, 22.5, 114.0, 0.0, false, 12.6, light), &mut out);
        }
        w.observe(&fix(30, 22.5, 114.0, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        w.observe(&fix(40, 22.5, 114.0, 0.0, false, 12.6, AlarmSet::default().with(Alarm::Tamper)), &mut out);
        assert_eq!(raised(&out), vec![(Rule::Tamper, Severity::High, false), (Rule::Tamper, Severity::High, false)]);
        let Outcome::Raise(first) = &out[0] else { unreachable!() };
        assert_eq!(first.evidence["alarm"], "light_sensor");
    }

    #[test]
    fn towing_needs_the_ignition_off_at_speed_for_the_whole_threshold() {
        let mut w = watch(active(0, 0), Thresholds::default());
        let mut out = Vec::new();
        for s in (0..=110).step_by(10) {
            w.observe(&fix(s, 22.5 + s as f64 * 1e-4, 114.0, 30.0, false, 12.6, AlarmSet::default()), &mut out);
        }
        assert!(raised(&out).is_empty());
        for s in (120..=300).step_by(10) {
            w.observe(&fix(s, 22.5 + s as f64 * 1e-4, 114.0, 30.0, false, 12.6, AlarmSet::default()), &mut out);
        }
        assert_eq!(raised(&out), vec![(Rule::Tow, Severity::High, false)]);
    }

    #[test]
    fn a_risk_location_alerts_on_entry_then_escalates_with_each_dwell_period() {
        let mut w = watch(active(0, 0), Thresholds { dwell_after_s: 3600, ..Thresholds::default() });
        w.set_risk_locations(RiskIndex::new(vec![RiskLocation {
            id: 3,
            name: "Market".into(),
            kind: "used_car_market".into(),
            latitude: 22.6,
            longitude: 114.1,
            radius_m: 300,
            region_id: 1,
            active: true,
            version: 1,
            created_at: Utc::now(),
        }]));
        let mut out = Vec::new();
        w.observe(&fix(0, 22.5, 114.0, 50.0, true, 12.6, AlarmSet::default()), &mut out);
        for s in (600..=600 + 2 * 3600 + 60).step_by(300) {
            w.observe(&fix(s, 22.6, 114.1, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        }
        assert_eq!(
            raised(&out),
            vec![
                (Rule::RiskLocationEntry, Severity::Medium, false),
                (Rule::RiskLocationDwell, Severity::High, false),
                (Rule::RiskLocationDwell, Severity::Critical, false),
            ]
        );
    }

    #[test]
    fn silence_alerts_once_at_the_threshold_and_clears_when_the_device_reports() {
        let mut w = watch(active(0, 0), Thresholds { offline_after_s: 600, ..Thresholds::default() });
        let mut out = Vec::new();
        w.observe(&fix(0, 22.5, 114.0, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        w.tick(t0() + Duration::seconds(599), &mut out);
        assert!(out.is_empty());
        w.tick(t0() + Duration::seconds(601), &mut out);
        w.tick(t0() + Duration::seconds(900), &mut out);
        assert_eq!(raised(&out), vec![(Rule::Offline, Severity::Medium, false)]);
        out.clear();
        w.observe(&fix(1000, 22.5, 114.0, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        assert!(matches!(&out[..], [Outcome::Clear { rule: Rule::Offline, .. }]));
    }

    #[test]
    fn reappearing_far_away_after_a_silence_is_a_jump() {
        let mut w = watch(active(0, 0), Thresholds::default());
        let mut out = Vec::new();
        w.observe(&fix(0, 22.5, 114.0, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        w.observe(&Observation { device_id: DEVICE, server_time: t0(), seen: Seen::Offline }, &mut out);
        w.observe(&fix(7200, 23.5, 114.0, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        assert_eq!(raised(&out), vec![(Rule::Jump, Severity::High, false)]);
    }

    #[test]
    fn a_promise_to_pay_holds_escalation() {
        let mut payment = active(20, 1);
        if let Some(p) = &mut payment {
            p.promise_until = Some((t0() + Duration::days(3)).date_naive());
        }
        let mut w = watch(payment, Thresholds::default());
        let mut out = Vec::new();
        w.observe(&fix(0, 22.5, 114.0, 0.0, false, 12.6, AlarmSet::default().with(Alarm::Tamper)), &mut out);
        assert_eq!(raised(&out), vec![(Rule::Tamper, Severity::High, false)]);
    }

    #[test]
    fn nights_away_from_the_resident_places_alert_once_and_coming_home_resets() {
        let mut w = watch(active(30, 1), Thresholds::default());
        let mut vehicles = HashMap::new();
        if let Some(v) = w.vehicle(VEHICLE) {
            let mut v = v.clone();
            v.homes = vec![Home { latitude: 22.5, longitude: 114.0, days: 20 }];
            vehicles.insert(VEHICLE, v);
        }
        w.set_vehicles(vehicles);
        // 18:00 UTC is 02:00 the next day in UTC+8.
        let night = |n: i64| {
            (t0().date_naive().and_hms_opt(18, 0, 0).unwrap_or_default().and_utc() - t0()).num_seconds() + n * 86_400
        };
        let mut out = Vec::new();
        w.observe(&fix(night(0), 22.5, 114.0, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        w.observe(&fix(night(1), 22.8, 114.3, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        w.observe(&fix(night(1) + 3600, 22.8, 114.3, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        assert!(raised(&out).is_empty(), "one night away is not yet a pattern");
        w.observe(&fix(night(2), 22.8, 114.3, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        w.observe(&fix(night(3), 22.8, 114.3, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        assert_eq!(raised(&out), vec![(Rule::ResidentAway, Severity::High, true)]);
        out.clear();
        w.observe(&fix(night(4), 22.5, 114.0, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        w.observe(&fix(night(5), 22.8, 114.3, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        assert!(raised(&out).is_empty());
    }

    #[test]
    fn nights_far_from_the_application_address_alert_once() {
        let mut w = watch(active(0, 0), Thresholds::default());
        let mut out = Vec::new();
        w.observe(&fix(0, 22.5, 114.0, 0.0, false, 12.6, AlarmSet::default()), &mut out);
        let with = |w: &mut Watch, homes: Vec<Home>| {
            let mut v = w.vehicle(VEHICLE).cloned().unwrap_or_else(|| unreachable!());
            v.homes = homes;
            v.declared_home = Some((22.5, 114.0));
            w.set_vehicles(HashMap::from([(VEHICLE, v)]));
        };
        with(&mut w, vec![Home { latitude: 22.5005, longitude: 114.0, days: 9 }]);
        w.tick(t0(), &mut out);
        assert!(raised(&out).is_empty(), "sleeps where the application says");
        with(
            &mut w,
            vec![
                Home { latitude: 22.7, longitude: 114.2, days: 9 },
                Home { latitude: 22.5, longitude: 114.0, days: 1 },
            ],
        );
        w.tick(t0(), &mut out);
        w.tick(t0() + Duration::seconds(1), &mut out);
        assert_eq!(raised(&out), vec![(Rule::ResidentMismatch, Severity::Low, false)]);
    }

    #[test]
    fn parked_vehicles_gathering_alert_once_each() {
        let mut w = Watch::new(Arc::new(Provinces::default()), 8);
        let mut installs = HashMap::new();
        let mut vehicles = HashMap::new();
        for v in 1..=6 {
            installs.insert(100 + v, Install { vehicle_id: v, wired: true });
            let rules = Resolved::default();
            vehicles.insert(
                v,
                Vehicle {
                    id: v,
                    region_id: 1,
                    payment: active(0, 0),
                    province: None,
                    rules,
                    fences: vec![],
                    homes: vec![],
                    declared_home: None,
                },
            );
        }
        w.set_installs(installs);
        w.set_vehicles(vehicles);
        let mut out = Vec::new();
        for v in 1..=6 {
            let mut o = fix(0, 22.5 + v as f64 * 1e-5, 114.0, 0.0, false, 12.6, AlarmSet::default());
            o.device_id = 100 + v;
            w.observe(&o, &mut out);
        }
        w.tick(t0() + Duration::seconds(60), &mut out);
        w.tick(t0() + Duration::seconds(120), &mut out);
        assert_eq!(raised(&out).iter().filter(|r| r.0 == Rule::Gathering).count(), 6);
    }
}
