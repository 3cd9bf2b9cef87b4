//! What the monitor remembers: per vehicle (its contract's payment status, thresholds, fences,
//! resident places) and per device (last fix, motion, ignition, dwell, power, what has fired).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_protocols::{Position, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::places::Area;
use crate::rules::Resolved;

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
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Away {
    pub(super) nights: Vec<NaiveDate>,
    pub(super) fired: bool,
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
    pub(super) fn at(&self) -> (f64, f64) {
        (self.latitude, self.longitude)
    }

    pub(super) fn from_position(p: &Position, status: &Status) -> Self {
        Self {
            time: p.fix_time,
            latitude: p.latitude,
            longitude: p.longitude,
            speed_kmh: p.speed_kmh,
            valid: p.valid,
            ignition: status.ignition,
        }
    }

    pub(super) fn evidence(&self) -> Value {
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
    /// What its rules have concluded: kept across restarts and failovers.
    pub latches: Latches,
    /// The fences evaluated for this device and which of them it is inside: a fence is compared
    /// only from its second evaluation, so a new fence does not "enter" every vehicle already in it.
    pub(super) fences_inside: HashMap<i64, bool>,
    pub(super) province_checked_at: Option<(f64, f64)>,
}

/// What a device's rules have concluded and must not conclude again while the condition holds:
/// persisted with the alerts they raise, so that a restart or a failover neither repeats an alert
/// nor reopens one an operator resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Latches {
    pub(super) offline_fired: bool,
    pub(super) power_cut: bool,
    pub(super) tamper_fired: bool,
    pub(super) jamming_alarm_fired: bool,
    pub(super) stationary_fired: bool,
    pub(super) tow_since: Option<DateTime<Utc>>,
    pub(super) tow_fired: bool,
    pub(super) overspeed_since: Option<DateTime<Utc>>,
    pub(super) overspeed_fired: bool,
    pub(super) invalid_run: u32,
    pub(super) jamming_fired: bool,
    /// The risk location it is at: (place, since, the dwell level alerted).
    pub(super) risk: Option<(i64, DateTime<Utc>, i64)>,
    pub(super) outside_province: bool,
    /// Its session started or ended since the last fix: the next fix is a reappearance.
    pub(super) silent: bool,
}

/// A vehicle's latches: its devices' and its own (conditions alerted across its devices, nights
/// away from its resident places).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VehicleLatches {
    /// Each fitted device's.
    pub devices: BTreeMap<i64, Latches>,
    /// Vehicle-level rules alerted, by name.
    pub rules: Vec<String>,
    /// Nights counted away from the resident places.
    pub away_nights: Vec<NaiveDate>,
    /// Whether the nights away were alerted.
    pub away_fired: bool,
}
