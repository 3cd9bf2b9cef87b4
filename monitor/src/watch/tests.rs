//! The rules, one scenario at a time, against a watch with a made-up vehicle.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use leasewatch_protocols::{Alarm, AlarmSet, Position, Status};
use leasewatch_store::risk_location::RiskLocation;

use super::*;
use crate::places::{Provinces, RiskIndex};
use crate::rules::{Resolved, Severity, Thresholds};

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
    assert!(raised(&out).is_empty());
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
        vec![Home { latitude: 22.7, longitude: 114.2, days: 9 }, Home { latitude: 22.5, longitude: 114.0, days: 1 }],
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

fn stood(out: &[Outcome]) -> Vec<(&'static str, f64, f64, chrono::NaiveDate)> {
    out.iter()
        .filter_map(|o| match o {
            Outcome::Stood { kind, latitude, longitude, day, .. } => Some((*kind, *latitude, *longitude, *day)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_place_stood_in_at_night_or_in_the_day_counts_once_a_day() {
    let mut w = watch(active(0, 0), Thresholds::default());
    let mut out = Vec::new();
    // t0 is 22:13 local: night. Parked twice in one ~100 m cell, then driving.
    w.observe(&fix(0, 22.50012, 114.00049, 0.0, false, 12.6, AlarmSet::default()), &mut out);
    w.observe(&fix(600, 22.50021, 114.00041, 0.0, false, 12.6, AlarmSet::default()), &mut out);
    w.observe(&fix(1200, 22.51, 114.01, 40.0, true, 12.6, AlarmSet::default()), &mut out);
    // 07:13 local: neither night nor day; 11:13: day, in another cell.
    w.observe(&fix(9 * 3600, 22.6, 114.1, 0.0, false, 12.6, AlarmSet::default()), &mut out);
    w.observe(&fix(13 * 3600, 22.6, 114.1, 0.0, false, 12.6, AlarmSet::default()), &mut out);
    // The next night, the same cell as the first: a day more for it.
    w.observe(&fix(24 * 3600, 22.5001, 114.0004, 0.0, false, 12.6, AlarmSet::default()), &mut out);
    let day = |d: i64| (t0() + Duration::hours(8) + Duration::days(d)).date_naive();
    assert_eq!(
        stood(&out),
        vec![("night", 22.5, 114.0, day(0)), ("day", 22.6, 114.1, day(1)), ("night", 22.5, 114.0, day(1))]
    );
}
