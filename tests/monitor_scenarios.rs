//! The risk monitor end to end: simulated GT06 trackers over real TCP into the ingest listener
//! and writer, committed rows into the monitor, alerts in PostgreSQL. Each scenario fires its
//! alert exactly once with the right severity and evidence; a well-behaved fleet fires none;
//! an engine cut waits for the vehicle to stop and its acknowledgement is recorded.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/telematics.rs"]
mod telematics;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet::{Car, car};
use leasewatch_protocols::{DeviceId, Position, Status, gt06};
use leasewatch_simulators::scenario::{self, Scenario, Step};
use leasewatch_simulators::track::Track;
use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHENZHEN: (f64, f64) = (22.54, 114.06);

/// Sets a contract-scoped threshold.
async fn threshold(pool: &PgPool, rule: &str, contract: i64, params: Value) {
    sqlx::query(
        "INSERT INTO monitor_rules (rule, scope, scope_id, version, params) VALUES ($1, 'contract', $2, 1, $3)",
    )
    .bind(rule)
    .bind(contract)
    .bind(params)
    .execute(pool)
    .await
    .unwrap();
}

/// The alerts of a vehicle by rule: (count, severity, status, collection, evidence).
async fn alerts(pool: &PgPool, vehicle: i64) -> BTreeMap<String, (i64, String, String, bool, Value)> {
    let rows: Vec<(String, String, String, bool, Value)> = sqlx::query_as(
        "SELECT rule, severity, status, collection, evidence FROM alerts WHERE vehicle_id = $1 ORDER BY id",
    )
    .bind(vehicle)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for (rule, severity, status, collection, evidence) in rows {
        let e = out.entry(rule).or_insert((0, String::new(), String::new(), false, Value::Null));
        *e = (e.0 + 1, severity, status, collection, evidence);
    }
    out
}

/// Waits until the vehicle has an alert of `rule` in `status` (any status when `None`).
async fn wait_for(pool: &PgPool, vehicle: i64, rule: &str, status: Option<&str>) {
    for _ in 0..200 {
        let found: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM alerts WHERE vehicle_id = $1 AND rule = $2 AND ($3::text IS NULL OR status = $3))",
        )
        .bind(vehicle)
        .bind(rule)
        .bind(status)
        .fetch_one(pool)
        .await
        .unwrap();
        if found {
            // Let anything still in flight land, so that "exactly once" is checked after it.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {rule} alert ({status:?}) for vehicle {vehicle}: {:?}", alerts(pool, vehicle).await);
}

fn track(seed: u64, at: (f64, f64), interval_s: i64) -> Track {
    Track::new(seed, Utc::now() - chrono::Duration::hours(6), at.0, at.1, interval_s)
}

async fn play(daemon: &telematics::Daemon, car: &Car, steps: &[Step], interval_s: u64) {
    scenario::run_gt06(daemon.address, &car.imei, steps, interval_s, false).await.unwrap();
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn an_overdue_power_cut_escalates_and_closes_when_the_contract_is_brought_current(pool: PgPool) {
    let car = car(&pool, 1, 45, 2).await;
    let daemon = telematics::start(&pool).await;
    let steps = scenario::plan(Scenario::PowerCut, &mut track(1, SHENZHEN, 30), 40, (0.0, 0.0), 0);
    play(&daemon, &car, &steps, 30).await;
    wait_for(&pool, car.vehicle, "power_cut", None).await;
    let found = alerts(&pool, car.vehicle).await;
    assert_eq!(found.keys().collect::<Vec<_>>(), ["power_cut"], "{found:?}");
    let (count, severity, status, collection, evidence) = &found["power_cut"];
    assert_eq!((*count, severity.as_str(), status.as_str(), *collection), (1, "critical", "open", true));
    assert_eq!(evidence["payment"]["dpd"], 45);
    assert!(evidence["fix"]["latitude"].is_number());
    // The alert rescored the contract: days past due, the repossession bucket, the power cut.
    let (score, band, reasons): (i32, String, Value) =
        sqlx::query_as("SELECT score, band, reasons FROM contract_risk WHERE contract_id = $1")
            .bind(car.contract)
            .fetch_one(&pool)
            .await
            .unwrap();
    let codes: Vec<&str> = reasons.as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(
        (score, band.as_str(), codes),
        (38, "medium", vec!["days_past_due", "device_integrity", "repossession_bucket"])
    );

    sqlx::query("UPDATE contracts SET dpd = 0, bucket = 0 WHERE id = $1")
        .bind(car.contract)
        .execute(&pool)
        .await
        .unwrap();
    wait_for(&pool, car.vehicle, "power_cut", Some("resolved")).await;
    let (resolution, by): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT resolution, resolved_by FROM alerts WHERE vehicle_id = $1")
            .bind(car.vehicle)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((resolution.as_deref(), by), (Some("contract brought current"), None));
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_current_contract_gets_the_base_severity_for_tamper(pool: PgPool) {
    let car = car(&pool, 2, 0, 0).await;
    let daemon = telematics::start(&pool).await;
    let steps = scenario::plan(Scenario::Tamper, &mut track(2, SHENZHEN, 30), 30, (0.0, 0.0), 0);
    play(&daemon, &car, &steps, 30).await;
    wait_for(&pool, car.vehicle, "tamper", None).await;
    let found = alerts(&pool, car.vehicle).await;
    assert_eq!(found.keys().collect::<Vec<_>>(), ["tamper"], "{found:?}");
    let (count, severity, _, collection, evidence) = &found["tamper"];
    assert_eq!((*count, severity.as_str(), *collection), (1, "high", false));
    assert_eq!(evidence["alarm"], "tamper");
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn towing_fires_once(pool: PgPool) {
    let car = car(&pool, 3, 0, 0).await;
    let daemon = telematics::start(&pool).await;
    let steps = scenario::plan(Scenario::Tow, &mut track(3, SHENZHEN, 10), 60, (0.0, 0.0), 0);
    play(&daemon, &car, &steps, 10).await;
    wait_for(&pool, car.vehicle, "tow", None).await;
    let found = alerts(&pool, car.vehicle).await;
    assert_eq!(found.keys().collect::<Vec<_>>(), ["tow"], "{found:?}");
    assert_eq!((found["tow"].0, found["tow"].1.as_str()), (1, "high"));
    assert_eq!(found["tow"].4["fix"]["ignition"], false);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn an_alert_resolved_while_its_condition_holds_stays_resolved_across_a_restart(pool: PgPool) {
    let car = car(&pool, 31, 0, 0).await;
    let mut track = track(31, SHENZHEN, 10);
    let daemon = telematics::start(&pool).await;
    play(&daemon, &car, &scenario::plan(Scenario::Tow, &mut track, 60, (0.0, 0.0), 0), 10).await;
    wait_for(&pool, car.vehicle, "tow", None).await;
    sqlx::query("UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE vehicle_id = $1")
        .bind(car.vehicle)
        .execute(&pool)
        .await
        .unwrap();
    drop(daemon);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A new monitor, and the vehicle still being towed: the condition was alerted, and resolved.
    let daemon = telematics::start(&pool).await;
    // The plan parks first (a quarter of its ticks): the towing part only.
    let still_towed = scenario::plan(Scenario::Tow, &mut track, 60, (0.0, 0.0), 0).split_off(15);
    play(&daemon, &car, &still_towed, 10).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let found = alerts(&pool, car.vehicle).await;
    assert_eq!((found["tow"].0, found["tow"].2.as_str()), (1, "resolved"), "{found:?}");
    let latched: Value = sqlx::query_scalar("SELECT latches FROM monitor_latches WHERE vehicle_id = $1")
        .bind(car.vehicle)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(latched["devices"].as_object().is_some_and(|d| d.values().any(|l| l["tow_fired"] == true)), "{latched}");
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn leaving_the_province_fires_once_naming_where_it_went(pool: PgPool) {
    let car = car(&pool, 4, 0, 0).await;
    let daemon = telematics::start(&pool).await;
    let changsha = (28.23, 112.94);
    let steps = scenario::plan(Scenario::LeaveProvince, &mut track(4, SHENZHEN, 60), 400, changsha, 0);
    play(&daemon, &car, &steps, 60).await;
    wait_for(&pool, car.vehicle, "left_province", None).await;
    let found = alerts(&pool, car.vehicle).await;
    assert_eq!(found.keys().collect::<Vec<_>>(), ["left_province"], "{found:?}");
    let (count, severity, _, _, evidence) = &found["left_province"];
    assert_eq!((*count, severity.as_str()), (1, "medium"));
    assert_eq!((evidence["province"].as_str(), evidence["now_in"].as_str()), (Some("440000"), Some("430000")));
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn dwelling_at_a_risk_location_alerts_on_entry_and_escalates_one_dwell_alert(pool: PgPool) {
    let car = car(&pool, 5, 0, 0).await;
    let market = (22.60, 114.10);
    sqlx::query(
        "INSERT INTO risk_locations (name, kind, latitude, longitude, radius_m, region_id)
         VALUES ('Buji used-car market', 'used_car_market', $1, $2, 300, 1)",
    )
    .bind(market.0)
    .bind(market.1)
    .execute(&pool)
    .await
    .unwrap();
    threshold(&pool, "risk_location_dwell", car.contract, serde_json::json!({"dwell_after_s": 600})).await;
    let daemon = telematics::start(&pool).await;
    let steps = scenario::plan(Scenario::Dwell, &mut track(5, SHENZHEN, 60), 60, market, 0);
    play(&daemon, &car, &steps, 60).await;
    wait_for(&pool, car.vehicle, "risk_location_dwell", None).await;
    let found = alerts(&pool, car.vehicle).await;
    assert_eq!(found.keys().collect::<Vec<_>>(), ["risk_location_dwell", "risk_location_entry"], "{found:?}");
    // Entry is medium; the dwell alert opens high and is escalated with each further period.
    assert_eq!((found["risk_location_entry"].0, found["risk_location_entry"].1.as_str()), (1, "medium"));
    assert_eq!((found["risk_location_dwell"].0, found["risk_location_dwell"].1.as_str()), (1, "critical"));
    assert_eq!(found["risk_location_dwell"].4["location"]["name"], "Buji used-car market");
    let escalations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM alert_history h JOIN alerts a ON a.id = h.alert_id
         WHERE a.vehicle_id = $1 AND a.rule = 'risk_location_dwell' AND h.action = 'escalated'",
    )
    .bind(car.vehicle)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(escalations >= 1);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn silence_alerts_then_closes_and_a_far_reappearance_is_a_jump(pool: PgPool) {
    let car = car(&pool, 6, 0, 0).await;
    threshold(&pool, "offline", car.contract, serde_json::json!({"offline_after_s": 1})).await;
    let daemon = telematics::start(&pool).await;
    let mut t = track(6, SHENZHEN, 30);
    let before = scenario::plan(Scenario::Normal, &mut t, 10, (0.0, 0.0), 0);
    play(&daemon, &car, &before, 30).await;
    wait_for(&pool, car.vehicle, "offline", Some("open")).await;
    // Two hours later it reports from Guangzhou, 100 km away.
    t.skip(7200);
    let mut far = Track::new(7, t.time(), 23.13, 113.26, 30);
    let after = scenario::plan(Scenario::Normal, &mut far, 5, (0.0, 0.0), 0);
    play(&daemon, &car, &after, 30).await;
    wait_for(&pool, car.vehicle, "jump", None).await;
    wait_for(&pool, car.vehicle, "offline", Some("resolved")).await;
    let found = alerts(&pool, car.vehicle).await;
    assert_eq!(found["offline"].0, 1, "{found:?}");
    assert_eq!(found["jump"].0, 1);
    assert!(found["jump"].4["km"].as_f64().unwrap() > 90.0);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_well_behaved_fleet_fires_nothing_over_a_simulated_week(pool: PgPool) {
    let vehicles: usize = std::env::var("LEASEWATCH_CONTROL_VEHICLES").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let mut cars = Vec::with_capacity(vehicles);
    for n in 0..vehicles {
        cars.push(car(&pool, 1000 + n, 0, 0).await);
    }
    let daemon = telematics::start(&pool).await;
    let start_at: DateTime<Utc> = Utc::now() - chrono::Duration::days(7);
    let mut tasks = tokio::task::JoinSet::new();
    for (n, car) in cars.iter().enumerate() {
        // Homes and workplaces scattered over Guangzhou, ten-odd kilometres apart.
        let r = |k: u64| {
            // splitmix64: independent uniform offsets in -0.5..0.5.
            let mut z = (n as u64 * 4 + k).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as f64 / u64::MAX as f64 - 0.5
        };
        let home = (23.13 + r(1) * 0.3, 113.30 + r(2) * 0.3);
        let mut work = (23.13 + r(3) * 0.3, 113.30 + r(4) * 0.3);
        if (work.0 - home.0).hypot(work.1 - home.1) < 0.03 {
            // Living next door to work is standing still: keep commutes a few kilometres long.
            work.0 += 0.05;
        }
        let mut t = Track::new(n as u64, start_at, home.0, home.1, 60);
        let steps = scenario::routine(&mut t, home, work, 7, 8);
        let (address, imei) = (daemon.address, car.imei);
        tasks.spawn(async move { scenario::run_gt06(address, &imei, &steps, 60, false).await.unwrap() });
    }
    let mut fixes = 0;
    while let Some(sent) = tasks.join_next().await {
        fixes += sent.unwrap().fixes;
    }
    // Give the monitor time to tick over the last rows.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, i64::try_from(fixes).unwrap());
    let fired: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT vehicle_id, rule, title FROM alerts ORDER BY id LIMIT 10")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(fired.is_empty(), "{} fixes from {vehicles} vehicles fired {fired:?}", fixes);
    println!("control fleet: {vehicles} vehicles, {fixes} fixes over a simulated week, no alert");
}

/// Reads one GT06 frame (78 78 len ... 0d 0a).
async fn read_frame(socket: &mut TcpStream) -> Vec<u8> {
    let mut head = [0_u8; 3];
    tokio::time::timeout(Duration::from_secs(10), socket.read_exact(&mut head)).await.unwrap().unwrap();
    assert_eq!(&head[..2], &[0x78, 0x78]);
    let mut rest = vec![0_u8; usize::from(head[2]) + 2];
    socket.read_exact(&mut rest).await.unwrap();
    [head.to_vec(), rest].concat()
}

fn fix_at(speed: f64) -> Position {
    Position {
        fix_time: Utc::now(),
        latitude: SHENZHEN.0,
        longitude: SHENZHEN.1,
        speed_kmh: speed,
        course: 0.0,
        altitude: None,
        satellites: Some(9),
        valid: true,
        cell: None,
    }
}

async fn status_of(pool: &PgPool, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM device_commands WHERE id = $1").bind(id).fetch_one(pool).await.unwrap()
}

async fn wait_status(pool: &PgPool, id: i64, status: &str) {
    for _ in 0..200 {
        if status_of(pool, id).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("command {id} never became {status}: {}", status_of(pool, id).await);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn an_approved_engine_cut_waits_for_the_vehicle_to_stop_and_records_the_reply(pool: PgPool) {
    engine_cut(pool, false).await;
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn with_the_roles_apart_the_ingest_node_sends_the_engine_cut_once_the_vehicle_stops(pool: PgPool) {
    engine_cut(pool, true).await;
}

/// An approved engine cut: held while the vehicle moves, sent once it stands, its reply recorded.
async fn engine_cut(pool: PgPool, apart: bool) {
    let car = car(&pool, 8, 60, 2).await;
    let daemon = telematics::start_with(&pool, apart).await;
    let mut socket = TcpStream::connect(daemon.address).await.unwrap();
    let mut frame = Vec::new();
    gt06::device::login(&car.imei, 1, &mut frame);
    socket.write_all(&frame).await.unwrap();
    read_frame(&mut socket).await;
    let driving = Status { ignition: Some(true), power_voltage: Some(12.6), ..Status::default() };
    frame.clear();
    gt06::device::position_22(&fix_at(55.0), &driving, 2, &mut frame);
    socket.write_all(&frame).await.unwrap();
    read_frame(&mut socket).await;

    // As the approval leaves it: queued.
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO device_commands (device_id, command, status, reason) VALUES ($1, 'engine_cut', 'queued', 'M2, located') RETURNING id",
    )
    .bind(car.device)
    .fetch_one(&pool)
    .await
    .unwrap();
    wait_status(&pool, id, "waiting_stop").await;
    let mut probe = [0_u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), socket.read(&mut probe)).await;
    assert!(early.is_err(), "nothing may reach a moving vehicle");

    let parked = Status { ignition: Some(false), power_voltage: Some(12.6), ..Status::default() };
    frame.clear();
    // A second later at least: GT06 times are whole seconds, and a fix of the same second is a resend.
    let stopped = Position { fix_time: Utc::now() + chrono::Duration::seconds(1), ..fix_at(0.0) };
    gt06::device::position_22(&stopped, &parked, 3, &mut frame);
    socket.write_all(&frame).await.unwrap();
    read_frame(&mut socket).await;
    let command = read_frame(&mut socket).await;
    assert_eq!(command[3], 0x80, "an online command");
    let flag = u32::from_be_bytes([command[5], command[6], command[7], command[8]]);
    let text = String::from_utf8_lossy(&command[9..9 + usize::from(command[4]) - 4]).into_owned();
    assert_eq!(text, "DYD,000000#");
    wait_status(&pool, id, "sent").await;
    frame.clear();
    gt06::device::command_reply("DYD=Success!", flag, 4, &mut frame);
    socket.write_all(&frame).await.unwrap();
    wait_status(&pool, id, "acknowledged").await;
    let (result, acked): (Option<String>, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT result, acknowledged_at FROM device_commands WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(result.as_deref(), Some("DYD=Success!"));
    assert!(acked.is_some());
    let trail: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE entity_type = 'device_command' AND entity_id = $1 ORDER BY id",
    )
    .bind(id.to_string())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(trail, ["waiting_stop", "sent", "acknowledged"]);
}

/// A fix `s` seconds after `start`, as a scenario step.
fn at(start: DateTime<Utc>, s: i64, place: (f64, f64), speed: f64, ignition: bool) -> Step {
    let position = Position {
        fix_time: start + chrono::Duration::seconds(s),
        latitude: place.0,
        longitude: place.1,
        speed_kmh: speed,
        course: 0.0,
        altitude: None,
        satellites: Some(9),
        valid: true,
        cell: None,
    };
    Step::Fix(position, Status { ignition: Some(ignition), power_voltage: Some(12.6), ..Status::default() })
}

/// Today in UTC+8, the company's time zone.
fn local_today() -> chrono::NaiveDate {
    (Utc::now() + chrono::Duration::hours(8)).date_naive()
}

/// 02:00 in UTC+8, `days_ago` days before `today`.
fn two_am(today: chrono::NaiveDate, days_ago: i64) -> DateTime<Utc> {
    (today - chrono::Duration::days(days_ago)).and_hms_opt(2, 0, 0).unwrap().and_utc() - chrono::Duration::hours(8)
}

/// The vehicle's routine on each of `days_ago` days: parked at `home` at 02:00 local and at `work`
/// eight hours later; then those days are learned into resident places, oldest first, as the
/// daemon does.
async fn settle(
    pool: &PgPool,
    daemon: &telematics::Daemon,
    car: &Car,
    home: (f64, f64),
    work: (f64, f64),
    days_ago: std::ops::RangeInclusive<i64>,
) {
    let today = local_today();
    let steps: Vec<Step> = days_ago
        .clone()
        .rev()
        .flat_map(|d| [at(two_am(today, d), 0, home, 0.0, false), at(two_am(today, d), 8 * 3600, work, 0.0, false)])
        .collect();
    play(daemon, car, &steps, 60).await;
    for d in days_ago.rev() {
        leasewatch_monitor::store::learn_resident_places(pool, today - chrono::Duration::days(d), 8).await.unwrap();
    }
}

/// A second tracker in the same vehicle.
async fn second_device(pool: &PgPool, car: &Car, n: usize, kind: &str) -> (i64, DeviceId) {
    let imei = leasewatch_simulators::fleet::device_id(leasewatch_protocols::ProtocolKind::Gt06, n);
    let id = sqlx::query_scalar(
        "INSERT INTO devices (imei, protocol, kind, vehicle_id) VALUES ($1, 'gt06', $2, $3) RETURNING id",
    )
    .bind(imei.as_str())
    .bind(kind)
    .bind(car.vehicle)
    .fetch_one(pool)
    .await
    .unwrap();
    (id, imei)
}

async fn only(pool: &PgPool, vehicle: i64, rule: &str) -> (i64, String, Value) {
    let found = alerts(pool, vehicle).await;
    assert_eq!(found.keys().collect::<Vec<_>>(), [rule], "{found:?}");
    let (count, severity, _, _, evidence) = found[rule].clone();
    (count, severity, evidence)
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_jamming_alarm_fires_once(pool: PgPool) {
    let car = car(&pool, 20, 0, 0).await;
    let daemon = telematics::start(&pool).await;
    let t0 = Utc::now() - chrono::Duration::hours(1);
    let Step::Fix(p, st) = at(t0, 60, SHENZHEN, 30.0, true) else { unreachable!() };
    let steps = vec![
        at(t0, 0, SHENZHEN, 30.0, true),
        Step::Alarm(p, st, leasewatch_protocols::Alarm::Jamming),
        at(t0, 90, SHENZHEN, 30.0, true),
    ];
    play(&daemon, &car, &steps, 30).await;
    wait_for(&pool, car.vehicle, "jamming", None).await;
    let (count, severity, evidence) = only(&pool, car.vehicle, "jamming").await;
    assert_eq!((count, severity.as_str(), evidence["alarm"].as_str()), (1, "high", Some("jamming")));
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn sustained_overspeed_fires_once(pool: PgPool) {
    let car = car(&pool, 21, 0, 0).await;
    let daemon = telematics::start(&pool).await;
    let t0 = Utc::now() - chrono::Duration::hours(1);
    // 150 km/h for three minutes, a fix every 10 s (moving north ~420 m per fix).
    let steps: Vec<Step> =
        (0..18).map(|i| at(t0, i * 10, (SHENZHEN.0 + i as f64 * 0.0038, SHENZHEN.1), 150.0, true)).collect();
    play(&daemon, &car, &steps, 10).await;
    wait_for(&pool, car.vehicle, "overspeed", None).await;
    let (count, severity, evidence) = only(&pool, car.vehicle, "overspeed").await;
    assert_eq!((count, severity.as_str(), evidence["fix"]["speed_kmh"].as_f64()), (1, "low", Some(150.0)));
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn standing_still_for_days_fires_once(pool: PgPool) {
    let car = car(&pool, 22, 0, 0).await;
    let daemon = telematics::start(&pool).await;
    let t0 = Utc::now() - chrono::Duration::days(5);
    // Parked, reporting every six hours for five days, drifting a few metres.
    let steps: Vec<Step> = (0..20)
        .map(|i| at(t0, i * 6 * 3600, (SHENZHEN.0 + (i % 3) as f64 * 0.00003, SHENZHEN.1), 0.0, false))
        .collect();
    play(&daemon, &car, &steps, 3600).await;
    wait_for(&pool, car.vehicle, "stationary", None).await;
    let (count, severity, _) = only(&pool, car.vehicle, "stationary").await;
    assert_eq!((count, severity.as_str()), (1, "low"));
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn leaving_a_contract_geofence_fires_once(pool: PgPool) {
    let car = car(&pool, 23, 0, 0).await;
    sqlx::query(
        "INSERT INTO geofences (name, scope, scope_id, shape, trigger, region_id)
         VALUES ('Home district', 'contract', $1, $2, 'exit', 1)",
    )
    .bind(car.contract)
    .bind(serde_json::json!({"circle": {"latitude": SHENZHEN.0, "longitude": SHENZHEN.1, "radius_m": 2000}}))
    .execute(&pool)
    .await
    .unwrap();
    let daemon = telematics::start(&pool).await;
    let t0 = Utc::now() - chrono::Duration::hours(1);
    // Out and back in, twice: only leaving alerts, and the open alert is updated, not repeated.
    let offsets = [0.0, 0.005, 0.01, 0.03, 0.05, 0.01, 0.0, 0.03, 0.05];
    let steps: Vec<Step> = offsets
        .iter()
        .enumerate()
        .map(|(i, d)| at(t0, i as i64 * 60, (SHENZHEN.0 + d, SHENZHEN.1), 40.0, true))
        .collect();
    play(&daemon, &car, &steps, 60).await;
    wait_for(&pool, car.vehicle, "geofence", None).await;
    let (count, severity, evidence) = only(&pool, car.vehicle, "geofence").await;
    assert_eq!((count, severity.as_str(), evidence["crossing"].as_str()), (1, "medium", Some("left")));
    let occurrences: i32 = sqlx::query_scalar("SELECT occurrences FROM alerts WHERE vehicle_id = $1")
        .bind(car.vehicle)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(occurrences, 2);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn financed_vehicles_parked_together_are_a_gathering(pool: PgPool) {
    let mut cars = Vec::new();
    for n in 0..6 {
        cars.push(car(&pool, 30 + n, 0, 0).await);
    }
    let daemon = telematics::start(&pool).await;
    let t0 = Utc::now() - chrono::Duration::minutes(10);
    let yard = (23.05, 113.40);
    for (i, car) in cars.iter().enumerate() {
        let steps = vec![at(t0, 0, (yard.0 + i as f64 * 0.0001, yard.1), 0.0, false)];
        play(&daemon, car, &steps, 60).await;
    }
    for car in &cars {
        wait_for(&pool, car.vehicle, "gathering", None).await;
    }
    for car in &cars {
        let (count, severity, evidence) = only(&pool, car.vehicle, "gathering").await;
        assert_eq!((count, severity.as_str(), evidence["vehicles"].as_array().map(Vec::len)), (1, "high", Some(5)));
    }
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn wired_and_wireless_trackers_reporting_apart_fire_once(pool: PgPool) {
    let car = car(&pool, 40, 0, 0).await;
    let (_, wireless) = second_device(&pool, &car, 41, "wireless").await;
    let daemon = telematics::start(&pool).await;
    let t0 = Utc::now() - chrono::Duration::minutes(30);
    play(&daemon, &car, &[at(t0, 0, SHENZHEN, 0.0, false)], 60).await;
    // The wireless unit is 5 km away a minute later: the wired one was pulled out and moved.
    let away = (SHENZHEN.0 + 0.045, SHENZHEN.1);
    let wireless_car = Car { vehicle: car.vehicle, contract: car.contract, device: 0, imei: wireless };
    play(&daemon, &wireless_car, &[at(t0, 60, away, 0.0, false), at(t0, 120, away, 0.0, false)], 60).await;
    wait_for(&pool, car.vehicle, "devices_apart", None).await;
    let (count, severity, evidence) = only(&pool, car.vehicle, "devices_apart").await;
    assert_eq!((count, severity.as_str()), (1, "high"));
    assert!(evidence["metres"].as_f64().unwrap() > 4_000.0);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_silent_wired_tracker_beside_a_reporting_wireless_one_fires_once(pool: PgPool) {
    let car = car(&pool, 42, 0, 0).await;
    let (_, wireless) = second_device(&pool, &car, 43, "wireless").await;
    threshold(&pool, "wired_silent", car.contract, serde_json::json!({"wired_silent_after_s": 2})).await;
    let daemon = telematics::start(&pool).await;
    let t0 = Utc::now() - chrono::Duration::minutes(30);
    play(&daemon, &car, &[at(t0, 0, SHENZHEN, 0.0, false)], 60).await;
    let wireless_car = Car { vehicle: car.vehicle, contract: car.contract, device: 0, imei: wireless };
    for i in 0..5 {
        play(&daemon, &wireless_car, &[at(t0, 60 + i * 60, SHENZHEN, 0.0, false)], 60).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    wait_for(&pool, car.vehicle, "wired_silent", None).await;
    let (count, severity, _) = only(&pool, car.vehicle, "wired_silent").await;
    assert_eq!((count, severity.as_str()), (1, "high"));
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn every_tracker_of_a_vehicle_silent_fires_once(pool: PgPool) {
    let car = car(&pool, 44, 0, 0).await;
    let (_, wireless) = second_device(&pool, &car, 45, "wireless").await;
    threshold(&pool, "offline", car.contract, serde_json::json!({"offline_after_s": 1})).await;
    let daemon = telematics::start(&pool).await;
    let t0 = Utc::now() - chrono::Duration::minutes(30);
    let wireless_car = Car { vehicle: car.vehicle, contract: car.contract, device: 0, imei: wireless };
    play(&daemon, &car, &[at(t0, 0, SHENZHEN, 0.0, false)], 60).await;
    play(&daemon, &wireless_car, &[at(t0, 0, SHENZHEN, 0.0, false)], 60).await;
    wait_for(&pool, car.vehicle, "all_devices_offline", None).await;
    let found = alerts(&pool, car.vehicle).await;
    assert_eq!(found.keys().collect::<Vec<_>>(), ["all_devices_offline", "offline"], "{found:?}");
    assert_eq!((found["all_devices_offline"].0, found["all_devices_offline"].1.as_str()), (1, "high"));
    assert_eq!(found["offline"].0, 1, "one offline alert per vehicle, updated for the second tracker");
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn an_overdue_vehicle_that_stops_coming_home_at_night_escalates(pool: PgPool) {
    let car = car(&pool, 50, 20, 1).await;
    let daemon = telematics::start(&pool).await;
    let home = (23.10, 113.30);
    let elsewhere = (23.16, 113.38);
    let today = local_today();
    settle(&pool, &daemon, &car, home, (23.13, 113.32), 4..=10).await;
    let days: i32 = sqlx::query_scalar("SELECT days FROM resident_places WHERE vehicle_id = $1 AND kind = 'night'")
        .bind(car.vehicle)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(days, 7);
    // Let the monitor reload the learned places.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let away: Vec<Step> = [3, 2].iter().map(|d| at(two_am(today, *d), 0, elsewhere, 0.0, false)).collect();
    play(&daemon, &car, &away, 60).await;
    wait_for(&pool, car.vehicle, "resident_away", None).await;
    let (count, severity, evidence) = only(&pool, car.vehicle, "resident_away").await;
    assert_eq!((count, severity.as_str()), (1, "high"), "medium, raised for the overdue contract");
    assert_eq!(evidence["nights"].as_array().map(Vec::len), Some(2));
    assert_eq!(evidence["homes"][0]["latitude"], 23.1);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn replaying_history_finds_what_fired_live_and_what_candidate_thresholds_would_change(pool: PgPool) {
    let car = car(&pool, 60, 0, 0).await;
    let daemon = telematics::start(&pool).await;
    let mut t = track(60, SHENZHEN, 10);
    let from = t.time();
    let steps = scenario::plan(Scenario::Tow, &mut t, 60, (0.0, 0.0), 0);
    play(&daemon, &car, &steps, 10).await;
    wait_for(&pool, car.vehicle, "tow", None).await;
    let to = t.time() + chrono::Duration::seconds(1);

    let replayed = leasewatch_monitor::replay::replay(&pool, from, to, &[], 8).await.unwrap();
    assert_eq!(replayed.positions, 60);
    let fired: Vec<(i64, &str)> = replayed.alerts.iter().map(|a| (a.vehicle_id, a.rule)).collect();
    assert_eq!(fired, [(car.vehicle, "tow")], "the same alert as live");

    let Value::Object(params) = serde_json::json!({"tow_after_s": 3600}) else { unreachable!() };
    let patient = leasewatch_monitor::rules::RuleSetting {
        rule: leasewatch_monitor::rules::Rule::Tow,
        scope: leasewatch_monitor::rules::Scope::Global,
        enabled: true,
        params,
    };
    let tuned = leasewatch_monitor::replay::replay(&pool, from, to, &[patient], 8).await.unwrap();
    assert!(tuned.alerts.is_empty(), "{:?}", tuned.alerts);

    // Current today, but 45 days past due (M2) as the daily job recorded it the day before: the
    // replay weighs the tow as it would have been weighed then.
    let day_before = (from + chrono::Duration::hours(8)).date_naive() - chrono::Duration::days(1);
    sqlx::query(
        "INSERT INTO delinquency_history (contract_id, as_of, dpd, bucket, overdue_amount, penalty)
         VALUES ($1, $2, 45, 2, 9000, 45)",
    )
    .bind(car.contract)
    .bind(day_before)
    .execute(&pool)
    .await
    .unwrap();
    let then = leasewatch_monitor::replay::replay(&pool, from, to, &[], 8).await.unwrap();
    assert_eq!(then.alerts.len(), 1, "{:?}", then.alerts);
    assert!(then.alerts[0].severity > replayed.alerts[0].severity, "{:?} vs {:?}", then.alerts, replayed.alerts);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn resident_places_are_learned_as_the_fixes_arrive(pool: PgPool) {
    let car = car(&pool, 75, 0, 0).await;
    let daemon = telematics::start(&pool).await;
    let (home, work) = ((23.13, 113.32), (23.16, 113.36));
    let today = local_today();
    // Three days of routine, each place seen twice a day: counted once a day, with no day scanned.
    let steps: Vec<Step> = (1..=3)
        .rev()
        .flat_map(|d| {
            let t = two_am(today, d);
            [at(t, 0, home, 0.0, false), at(t, 600, home, 0.0, false), at(t, 8 * 3600, work, 0.0, false)]
        })
        .collect();
    play(&daemon, &car, &steps, 60).await;
    let mut learned = Vec::new();
    for _ in 0..100 {
        learned = sqlx::query_as::<_, (String, f64, f64, i32)>(
            "SELECT kind, latitude, longitude, days FROM resident_places WHERE vehicle_id = $1 ORDER BY kind",
        )
        .bind(car.vehicle)
        .fetch_all(&pool)
        .await
        .unwrap();
        if learned.iter().all(|(_, _, _, days)| *days == 3) && learned.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        learned,
        [("day".to_owned(), work.0, work.1, 3), ("night".to_owned(), home.0, home.1, 3)],
        "nothing was learned from stored positions: finance_jobs has no resident_places day"
    );
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn nights_far_from_the_application_address_fire_once(pool: PgPool) {
    let car = car(&pool, 70, 0, 0).await;
    // The application says the lessee lives in Foshan; the vehicle sleeps in Guangzhou, 25 km away.
    sqlx::query(
        "WITH c AS (INSERT INTO customers (kind, name, region_id, home_latitude, home_longitude)
                    VALUES ('individual', '张三', 1, 23.02, 113.12) RETURNING id)
         UPDATE contracts SET customer_id = (SELECT id FROM c) WHERE id = $1",
    )
    .bind(car.contract)
    .execute(&pool)
    .await
    .unwrap();
    let daemon = telematics::start(&pool).await;
    let home = (23.13, 113.32);
    settle(&pool, &daemon, &car, home, (23.16, 113.36), 1..=5).await;
    wait_for(&pool, car.vehicle, "resident_mismatch", None).await;
    let (count, severity, evidence) = only(&pool, car.vehicle, "resident_mismatch").await;
    assert_eq!((count, severity.as_str()), (1, "low"));
    assert_eq!(evidence["declared_home"]["latitude"], 23.02);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn an_engine_cut_not_sent_within_a_week_of_its_request_lapses(pool: PgPool) {
    let car = car(&pool, 80, 60, 2).await;
    let _daemon = telematics::start(&pool).await;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO device_commands (device_id, command, status, reason, created_at)
         VALUES ($1, 'engine_cut', 'queued', 'M2, located', now() - interval '8 days') RETURNING id",
    )
    .bind(car.device)
    .fetch_one(&pool)
    .await
    .unwrap();
    wait_status(&pool, id, "cancelled").await;
    let result: Option<String> =
        sqlx::query_scalar("SELECT result FROM device_commands WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap();
    assert_eq!(result.as_deref(), Some("request lapsed"));
}
