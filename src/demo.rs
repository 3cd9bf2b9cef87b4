//! `leasewatch demo`: the whole daemon with a small company and live vehicles, to watch alerts
//! arrive. It seeds (once) regions, staff, a used-car market, a few hundred contracts of which
//! some are overdue, each vehicle with a GT06 tracker; starts the daemon; then drives the fleet
//! in real time and plays each risk scenario over real TCP, saying what to expect.
//!
//! The database: `DATABASE_URL` when set; else `leasewatch_demo` on the PostgreSQL listening on
//! localhost:5432; else a private server started from the installed PostgreSQL binaries in
//! `.leasewatch-demo/` (as the `postgres` system user when run as root, since `initdb` refuses
//! root), stopped again when the demo ends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{Datelike, Utc};
use leasewatch_protocols::{DeviceId, ProtocolKind, Status};
use leasewatch_simulators::fleet;
use leasewatch_simulators::scenario::{self, Scenario, Step};
use leasewatch_simulators::track::Track;
use leasewatch_store::devices;
use leasewatch_store::quarantine::Registration;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::config::Config;

/// The demo's administrator.
const USER: &str = "manager";
/// Their password (a demo on a local machine; change it anywhere else).
const PASSWORD: &str = "Risk-Desk-2026!";
/// The demo's contract wording, the same for every lease type; the figures in braces are filled in.
const CONTRACT_BODY: &str = "合同编号：{contract_number}\n出租人：本公司\n承租人：{lessee_name}（证件号码 {id_number}），住所 {address}\n\
    经销商：{dealer}\n租赁方式：{lease_type}\n租赁物：{vehicle}，车架号 {vin}，车价 {price} 元，首付 {down_payment} 元。\n\
    融资金额 {principal} 元，租期 {term} 个月，年利率 {annual_rate}，每期租金 {installment} 元，留购价 {residual} 元。\n\
    承租人应按附件还款计划表按期足额支付租金；租赁物上安装的 GPS 定位设备不得拆除。\n签订日期：{date}";
/// Contracts in the demo book.
const CONTRACTS: usize = 300;
/// Port of a private PostgreSQL, away from a system one.
const PRIVATE_PORT: u16 = 54329;
/// Vehicles reserved for the scenarios (the first contracts); the rest are the everyday fleet.
const SCENARIO_VEHICLES: usize = 8;

/// Runs the demo until Ctrl-C.
pub async fn run(mut config: Config, database_url_set: bool) -> anyhow::Result<()> {
    let private = if database_url_set {
        None
    } else if tokio::net::TcpStream::connect("127.0.0.1:5432").await.is_ok() {
        config.database_url = "postgres://postgres@127.0.0.1:5432/leasewatch_demo".into();
        None
    } else {
        let server = PrivateServer::start(Path::new(".leasewatch-demo"))?;
        config.database_url = format!("postgres://postgres@127.0.0.1:{PRIVATE_PORT}/leasewatch_demo");
        Some(server)
    };
    let result = demo(config).await;
    if let Some(server) = private {
        server.stop();
    }
    result
}

async fn demo(mut config: Config) -> anyhow::Result<()> {
    config.admin.data_key_file = PathBuf::from(".leasewatch-demo/data.key");
    // Reminders go through the shipped simulator unless a gateway was configured.
    config.admin.sms_gateway.get_or_insert_with(|| "simulator".to_owned());
    // So do the bureau, the identity check, the insurer and the e-signature service.
    for partner in [
        &mut config.admin.credit_bureau,
        &mut config.admin.identity_check,
        &mut config.admin.insurer,
        &mut config.admin.esign,
    ] {
        partner.get_or_insert_with(|| "simulator".to_owned());
    }
    std::fs::create_dir_all(".leasewatch-demo").context("cannot create .leasewatch-demo")?;
    let pool = leasewatch_store::db::connect(&config.database_url, 4).await?;
    leasewatch_store::db::migrate(&pool, config.ingest.partitions_ahead_days).await?;
    let seeded = seed_books(&pool, &config).await?;
    let http = config.http_bind;
    let gt06 = config.ingest.listeners.gt06.bind;
    let daemon = tokio::spawn(async move { crate::run::run(config.clone(), &crate::run::Role::ALL).await });
    let base = format!("http://{}", crate::run::local(http));
    wait_ready(&base).await?;
    let token = login(&base).await?;
    if seeded {
        seed_through_api(&base, &token).await?;
    }
    let sse = format!("{base}/api/v1/alerts/stream");
    println!(
        "\nleasewatch demo is running.\n\
         \n  console       {base}/   (sign in as {USER} / {PASSWORD})\
         \n  API docs      {base}/docs\
         \n  API sign-in   POST {base}/api/v1/auth/login with the same user\
         \n  live alerts   curl -N -H 'Authorization: Bearer {token}' {sse}\
         \n  alert list    {base}/api/v1/alerts?status=unresolved\
         \n  tasks         {base}/api/v1/risk-tasks?sort=-risk\
         \n  risk scores   {base}/api/v1/risk-scores\
         \n  trackers      GT06 on {gt06}\
         \n\nThe fleet drives in real time; a scenario plays every 20 seconds. Ctrl-C stops.\n"
    );
    let target = crate::run::local(gt06);
    fleet_drives(target);
    tokio::spawn(scenarios(pool.clone(), target));
    daemon.await.context("the daemon task failed")?
}

/// `0.0.0.0:p` as `127.0.0.1:p`, for connecting.
async fn wait_ready(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("the daemon did not become ready at {base}")
}

async fn login(base: &str) -> anyhow::Result<String> {
    login_as(base, USER).await
}

/// Signs in as the demo user `username` (every demo user has the demo's password).
async fn login_as(base: &str, username: &str) -> anyhow::Result<String> {
    let reply: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("cannot sign in as the demo's {username}"))?
        .json()
        .await?;
    reply["access_token"].as_str().map(str::to_owned).context("no access token in the login reply")
}

/// A VIN with a valid check digit, from a serial number.
fn vin(n: usize) -> String {
    let head = "LSVDEMA0";
    let tail = format!("{:08}", n);
    "0123456789X"
        .chars()
        .map(|c| format!("{head}{c}{tail}"))
        .find(|v| leasewatch_backoffice::kit::identity::vin_ok(v))
        .unwrap_or_default()
}

/// Where each demo vehicle lives and works: inside Guangzhou or Shenzhen, away from the borders.
fn home_and_work(n: usize) -> ((f64, f64), (f64, f64)) {
    let r = |k: usize| ((n * 7 + k * 13) % 97) as f64 / 97.0;
    let (lat, lon, span) = if n.is_multiple_of(2) { (23.08, 113.25, 0.2) } else { (22.62, 113.95, 0.12) };
    ((lat + r(1) * span, lon + r(2) * span), (lat + r(3) * span, lon + r(4) * span))
}

/// Regions, the administrator, the book of contracts with vehicles and trackers, and the daily
/// job over them. Returns false when the demo database was seeded before.
async fn seed_books(pool: &PgPool, config: &Config) -> anyhow::Result<bool> {
    let (utc_offset_hours, password_hash) = (config.utc_offset_hours, config.admin.password_hash);
    let vault = config.admin.vault().context("cannot load the data key")?;
    let done: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM regions WHERE code = 'GD')").fetch_one(pool).await?;
    if done {
        return Ok(false);
    }
    println!("seeding the demo company…");
    sqlx::query(
        "WITH gd AS (INSERT INTO regions (parent_id, code, name, level, adcode)
                     SELECT id, 'GD', '广东分公司', 'province', '440000' FROM regions WHERE code = 'HQ' RETURNING id)
         INSERT INTO regions (parent_id, code, name, level)
         SELECT gd.id, c.code, c.name, 'city' FROM gd, (VALUES ('GZ', '广州'), ('SZ', '深圳')) AS c(code, name)",
    )
    .execute(pool)
    .await?;
    let admin = leasewatch_backoffice::system::bootstrap::NewAdmin {
        username: USER.into(),
        display_name: "风控经理".into(),
        password: PASSWORD.into(),
    };
    leasewatch_backoffice::system::bootstrap::create_admin(pool, password_hash, admin)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the demo administrator: {e}"))?;

    let today = Utc::now().date_naive();
    let mut csv = String::from(
        "number,region,principal,annual_rate,term,method,start_date,paid_periods,customer_name,vin,plate\n",
    );
    for n in 0..CONTRACTS {
        let months_ago = 6 + (n * 5) % 12;
        let start = today.checked_sub_months(chrono::Months::new(months_ago as u32)).unwrap_or(today);
        let start = start.with_day(1).unwrap_or(start);
        // One in six is behind by one to four installments.
        let behind = if n % 6 == 1 || n < 2 { 1 + (n / 6) % 4 } else { 0 };
        let paid = months_ago.saturating_sub(behind);
        let region = if n % 2 == 0 { "GZ" } else { "SZ" };
        let principal = 80_000 + (n * 3_700) % 120_000;
        csv.push_str(&format!(
            "DEMO-{n:04},{region},{principal},0.085,36,equal-installment,{start},{paid},客户{n:04},{},粤{}{:05}\n",
            vin(n),
            if region == "SZ" { "B" } else { "A" },
            n
        ));
    }
    let rows = leasewatch_backoffice::books::import::parse_csv(csv.as_bytes())
        .map_err(|e| anyhow::anyhow!("demo book: {:?}", e.first().map(|l| &l.message)))?;
    let mut tx = pool.begin().await?;
    leasewatch_backoffice::books::import::import(&mut tx, &vault, &rows)
        .await
        .map_err(|e| anyhow::anyhow!("demo book: {e}"))?;
    tx.commit().await?;
    sqlx::query("UPDATE vehicles SET status = 'financed' WHERE vin LIKE 'LSVDEMA0%'").execute(pool).await?;
    let imeis: Vec<String> =
        (0..CONTRACTS).map(|n| fleet::device_id(ProtocolKind::Gt06, n).as_str().to_owned()).collect();
    let vins: Vec<String> = (0..CONTRACTS).map(vin).collect();
    let installs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT t.imei, v.id FROM unnest($1::text[], $2::text[]) AS t(imei, vin) JOIN vehicles v ON v.vin = t.vin",
    )
    .bind(&imeis)
    .bind(&vins)
    .fetch_all(pool)
    .await?;
    let tracker = Registration { model: Some("GT06N".to_owned()), sim: None, kind: Some("wired".to_owned()) };
    let mut db = pool.acquire().await?;
    for (imei, vehicle_id) in &installs {
        devices::register(&mut db, imei, "gt06", &tracker).await?;
        devices::install(&mut db, imei, *vehicle_id).await?;
    }
    seed_history(pool, &installs, utc_offset_hours).await?;
    // The daily job over the last four months sets days past due and buckets.
    let yesterday = crate::books::business_yesterday(utc_offset_hours);
    sqlx::query(
        "INSERT INTO finance_jobs (name, done_through) VALUES ('delinquency', $1) ON CONFLICT (name) DO NOTHING",
    )
    .bind(yesterday - chrono::Duration::days(120))
    .execute(pool)
    .await?;
    leasewatch_backoffice::books::delinquency::run_through(pool, yesterday)
        .await
        .map_err(|e| anyhow::anyhow!("daily job: {e}"))?;
    let overdue: i64 = sqlx::query_scalar("SELECT count(*) FROM contracts WHERE dpd > 0").fetch_one(pool).await?;
    println!("  {CONTRACTS} contracts, {overdue} overdue, each vehicle with a GT06 tracker");
    Ok(true)
}

/// Days of telematics history the demo starts with.
const HISTORY_DAYS: i64 = 30;

/// Thirty days of each vehicle's life before the demo goes live, one fix an hour: nights parked at
/// home, working hours parked at work, driving between; so the monitor learns resident places and
/// a repossession proposal carries a likely parking place and its hours.
async fn seed_history(pool: &PgPool, installs: &[(String, i64)], utc_offset_hours: i32) -> anyhow::Result<()> {
    let devices: Vec<(i64, i64)> =
        sqlx::query_as("SELECT d.id, d.vehicle_id FROM devices d WHERE d.vehicle_id = ANY($1)")
            .bind(installs.iter().map(|i| i.1).collect::<Vec<_>>())
            .fetch_all(pool)
            .await?;
    let vehicles: Vec<i64> = installs.iter().map(|i| i.1).collect();
    let midnight = (Utc::now() + chrono::Duration::hours(utc_offset_hours.into()))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        - chrono::Duration::hours(utc_offset_hours.into());
    let (mut ids, mut times, mut lats, mut lons, mut speeds, mut ignitions) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (device, vehicle) in &devices {
        let n = vehicles.iter().position(|v| v == vehicle).unwrap_or(0);
        let (home, work) = home_and_work(n);
        for day in 1..=HISTORY_DAYS {
            for hour in 0..24 {
                let ((lat, lon), speed) = match hour {
                    0..=6 | 20..=23 => (home, 0.0),
                    9..=17 => (work, 0.0),
                    _ => (((home.0 + work.0) / 2.0, (home.1 + work.1) / 2.0), 35.0),
                };
                ids.push(*device);
                times.push(midnight - chrono::Duration::days(day) + chrono::Duration::hours(hour));
                lats.push(lat);
                lons.push(lon);
                speeds.push(speed as f32);
                ignitions.push(speed > 0.0);
            }
        }
    }
    for chunk in (0..ids.len()).collect::<Vec<_>>().chunks(50_000) {
        let (from, to) = (chunk[0], chunk[chunk.len() - 1] + 1);
        sqlx::query(
            "INSERT INTO positions (device_id, fix_time, server_time, latitude, longitude, speed_kmh, course, valid, ignition)
             SELECT d, t, t, la, lo, s, 0, true, i
             FROM unnest($1::bigint[], $2::timestamptz[], $3::float8[], $4::float8[], $5::real[], $6::bool[]) AS x(d, t, la, lo, s, i)
             ON CONFLICT DO NOTHING",
        )
        .bind(&ids[from..to])
        .bind(&times[from..to])
        .bind(&lats[from..to])
        .bind(&lons[from..to])
        .bind(&speeds[from..to])
        .bind(&ignitions[from..to])
        .execute(pool)
        .await?;
    }
    println!("  {} days of telematics history, {} fixes", HISTORY_DAYS, ids.len());
    Ok(())
}

/// What is best made through the API: positions, the engine-cut approval, a used-car market, a
/// threshold short enough to see a silence alert within minutes, the post-loan parameters with two
/// collectors and their group.
async fn seed_through_api(base: &str, token: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let request = client.post(format!("{base}/api/v1{path}")).bearer_auth(token).json(&body);
        async move {
            let reply = request.send().await?;
            let status = reply.status();
            let body: Value = reply.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("POST {status}: {body}");
            }
            Ok::<Value, anyhow::Error>(body)
        }
    };
    let regions: Value =
        client.get(format!("{base}/api/v1/regions?limit=200")).bearer_auth(token).send().await?.json().await?;
    let region = |code: &str| {
        regions["items"]
            .as_array()
            .and_then(|items| items.iter().find(|r| r["code"] == code))
            .and_then(|r| r["id"].as_i64())
            .context("demo region missing")
    };
    for (code, name) in [("collection", "催收员"), ("repossession", "收车员"), ("risk_approver", "风控审批")]
    {
        post("/positions", json!({"code": code, "name": name})).await?;
    }
    let stages = json!([{"name": "风控审批", "position": "risk_approver", "actions": ["approve", "reject"]}]);
    post("/workflow-definitions", json!({"key": "engine_cut", "name": "断油电审批", "stages": stages})).await?;
    let sz = region("SZ")?;
    post(
        "/risk-locations",
        json!({"name": "布吉二手车市场", "kind": "used_car_market", "latitude": 22.6050, "longitude": 114.1180,
               "radius_m": 300, "region_id": sz}),
    )
    .await?;
    post("/monitor/rules", json!({"rule": "offline", "scope": "global", "params": {"offline_after_s": 180}})).await?;
    // Post-loan: the collection states and categories, two collectors and the group they work in.
    for (position, (kind, code, name)) in [
        ("state", "to_contact", "待联系"),
        ("state", "promised", "已承诺还款"),
        ("state", "lost_contact", "失联"),
        ("state", "refused", "拒绝还款"),
        ("category", "phone", "电话催收"),
        ("category", "visit", "外访催收"),
        ("category", "legal", "法务催收"),
    ]
    .into_iter()
    .enumerate()
    {
        post("/collection-codes", json!({"kind": kind, "code": code, "name": name, "position": position})).await?;
    }
    let permissions =
        ["contracts.read", "alerts.read", "tasks.read", "tasks.write", "postloan.read", "postloan.collect"];
    post("/roles", json!({"name": "collector", "description": "催收员", "permissions": permissions})).await?;
    let gd = region("GD")?;
    let mut members = Vec::new();
    for (username, name, region_code) in [("collector1", "催收员一", "SZ"), ("collector2", "催收员二", "GZ")] {
        let user = json!({"username": username, "display_name": name, "password": PASSWORD,
                          "region_id": region(region_code)?, "roles": ["collector"], "positions": ["collection"]});
        let id = post("/users", user).await?["id"].as_i64().context("no user id")?;
        members.push(json!({"user_id": id, "leader": members.is_empty()}));
    }
    let group =
        json!({"code": "gd_early", "name": "广东 M1–M2 组", "region_id": gd, "buckets": [1, 2], "members": members});
    post("/collection-groups", group).await?;
    seed_recovery(base, token, &regions).await?;
    seed_origination(base, token, region("SZ")?).await
}

/// Calls the API as `token`; a refusal is an error with its body.
async fn api(base: &str, token: &str, method: reqwest::Method, path: &str, body: Value) -> anyhow::Result<Value> {
    let reply = reqwest::Client::new()
        .request(method, format!("{base}/api/v1{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = reply.status();
    let body: Value = reply.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{path}: {status}: {body}");
    }
    Ok(body)
}

/// Origination: a product, a dealer of Shenzhen, the reviews (初审/复审, and 终审 above 200,000 or
/// when the score refers), the disbursement approval, a champion scorecard, a contract template per
/// lease type, two credit reviewers; an application carried to its signed contract and one still a
/// draft.
async fn seed_origination(base: &str, token: &str, sz: i64) -> anyhow::Result<()> {
    let post = |path: String, body: Value| async move { api(base, token, reqwest::Method::POST, &path, body).await };
    let rules = json!({
        "method": "equal-installment",
        "rates": [{"term": 24, "min_down_payment": "0.2", "annual_rate": "0.0899"},
                  {"term": 36, "min_down_payment": "0.2", "annual_rate": "0.0999"}],
        "fees": [{"name": "GPS", "amount": "1500", "financed": true}],
        "allocation": {"components": ["interest", "principal", "fee", "penalty"], "priority": "component_first"},
        "settlement_fee": {"rate": "0.03", "minimum": "500"}
    });
    let product =
        post("/products".into(), json!({"code": "new_car", "name": "新车回租", "rules": rules})).await?["id"].clone();
    let dealer =
        post("/dealers".into(), json!({"code": "SZ-4S-01", "name": "深圳福田某4S店", "tier": "gold", "region_id": sz}))
            .await?["id"]
            .clone();
    let stage = |name: &str, actions: Value| json!({"name": name, "position": "risk_approver", "actions": actions, "sla_hours": 8});
    let first = stage("初审", json!(["approve", "reject", "transfer"]));
    let later = |name: &str| stage(name, json!(["approve", "reject", "return", "transfer"]));
    for (key, name, stages) in [
        ("credit_review_short", "信审（初审、复审）", json!([first.clone(), later("复审")])),
        ("credit_review", "信审（初审、复审、终审）", json!([first.clone(), later("复审"), later("终审")])),
        ("disbursement", "放款审批", json!([stage("财务复核", json!(["approve", "reject"]))])),
    ] {
        post("/workflow-definitions".into(), json!({"key": key, "name": name, "stages": stages})).await?;
    }
    let card = json!({
        "base": 500,
        "variables": [
            {"name": "age", "bins": [{"to": "25", "points": -20}, {"from": "25", "to": "45", "points": 30}, {"from": "45", "points": 10}], "missing_points": -50},
            {"name": "debt_ratio", "bins": [{"to": "0.3", "points": 40}, {"from": "0.3", "to": "0.5", "points": 0}], "missing_points": -30},
            {"name": "down_payment_ratio", "bins": [{"to": "0.3", "points": 0}, {"from": "0.3", "points": 25}]},
            {"name": "phone_shared_with", "bins": [{"to": "1", "points": 10}, {"from": "1", "points": -40}]}
        ],
        "rules": [{"variable": "debt_ratio", "max": "0.6", "reason": "debt_ratio"}, {"variable": "age_at_end", "max": "65", "reason": "age"}],
        "approve_from": 570, "decline_below": 500
    });
    post("/scorecards".into(), json!({"code": "retail", "name": "零售评分卡", "role": "champion", "card": card}))
        .await?;
    for (lease_type, title) in [
        ("sale_leaseback", "汽车售后回租合同"),
        ("direct", "汽车融资租赁（直租）合同"),
        ("vendor", "汽车厂商租赁合同"),
        ("operating", "汽车经营性租赁合同"),
    ] {
        let template = json!({"lease_type": lease_type, "title": title, "body": CONTRACT_BODY});
        post("/contract-templates".into(), template).await?;
    }
    let applicant = |name: &str, id_number: &str, phone: &str, vin: String| {
        json!({
            "dealer_id": dealer, "applicant_name": name, "id_number": id_number, "phone": phone,
            "bank_card": "6222 0000 0000 0000 004", "address": "深圳市福田区深南大道 1 号", "employer": "某科技公司",
            "monthly_income": "18000", "vehicle_brand": "比亚迪", "vehicle_model": "汉", "vin": vin,
            "product_id": product, "price": "150000", "down_payment": "30000", "term": 36,
            "parties": [{"role": "emergency_contact", "name": "联系人", "relation": "配偶", "phone": "13900000001"}]
        })
    };
    let filed =
        post("/applications".into(), applicant("陈晓", "110105199003071239", "13800001001", vin(900_001))).await?;
    let id = filed["id"].as_i64().context("no application id")?;
    post(format!("/applications/{id}/actions/submit"), json!({"version": filed["version"]})).await?;
    post("/applications".into(), applicant("林悦", "440305198506124569", "13800001002", vin(900_002))).await?;
    // Two credit reviewers decide the first in 初审 and 复审; the insurer pre-approves it and issues
    // the policy, and the contract is written and signed: it waits for the lien and the tracker.
    let permissions = ["applications.read", "workflows.act"];
    post("/roles".into(), json!({"name": "credit_reviewer", "description": "信审", "permissions": permissions}))
        .await?;
    for (username, name) in [("risk1", "初审员"), ("risk2", "复审员")] {
        let user = json!({"username": username, "display_name": name, "password": PASSWORD, "region_id": sz,
                          "roles": ["credit_reviewer"], "positions": ["risk_approver"]});
        post("/users".into(), user).await?;
        let reviewer = login_as(base, username).await?;
        let tasks = api(base, &reviewer, reqwest::Method::GET, "/workflow-tasks", Value::Null).await?;
        let task = tasks["items"]
            .as_array()
            .and_then(|items| items.iter().find(|t| t["subject_id"].as_str().and_then(|s| s.parse().ok()) == Some(id)))
            .and_then(|t| t["id"].as_i64())
            .context("no review task for the demo application")?;
        for (action, body) in [("claim", json!({})), ("approve", json!({"note": "同意"}))] {
            let path = format!("/workflow-tasks/{task}/actions/{action}");
            api(base, &reviewer, reqwest::Method::POST, &path, body).await?;
        }
    }
    let mut current = application_once(base, token, id, |_| true).await?;
    for (action, answered) in [
        ("pre-approve-guarantee", ("guarantee", "pre_approved")),
        ("apply-policy", ("guarantee", "issued")),
        ("make-contract", ("status", "contracted")),
        ("send-for-signature", ("signature", "signed")),
    ] {
        post(format!("/applications/{id}/actions/{action}"), json!({"version": current["version"]})).await?;
        current = application_once(base, token, id, |a| {
            let field = if answered.0 == "status" { &a["status"] } else { &a[answered.0]["status"] };
            field == answered.1
        })
        .await?;
    }
    println!("  an application approved, insured and signed, waiting for its lien and tracker (进件)");
    Ok(())
}

/// The application `id` once `done` holds of it (a partner has answered), within twenty seconds.
async fn application_once(base: &str, token: &str, id: i64, done: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    for _ in 0..200 {
        let found = api(base, token, reqwest::Method::GET, &format!("/applications/{id}"), Value::Null).await?;
        if done(&found) {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("application {id}: the partner's answer did not come")
}

/// Letters, reminders, the approvals of post-loan money, a repossession company and work at each
/// stage of taking a car back: an order dispatched with its agent's live link, and a car recovered,
/// reviewed and valued, waiting to be sold.
async fn seed_recovery(base: &str, token: &str, regions: &Value) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, as_token: &str, body: Value| {
        let request = client.request(method, format!("{base}/api/v1{path}")).bearer_auth(as_token).json(&body);
        async move {
            let reply = request.send().await?;
            let status = reply.status();
            let body: Value = reply.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("{status}: {body}");
            }
            Ok::<Value, anyhow::Error>(body)
        }
    };
    let post = |path: &str, as_token: &str, body: Value| call(reqwest::Method::POST, path, as_token, body);
    let gd = regions["items"]
        .as_array()
        .and_then(|items| items.iter().find(|r| r["code"] == "GD"))
        .and_then(|r| r["id"].as_i64())
        .context("demo region GD missing")?;
    let stages = json!([{"name": "风控审批", "position": "risk_approver", "actions": ["approve", "reject"]}]);
    for (key, name) in [
        ("postloan_charge", "贷后费用审批"),
        ("vehicle_sale", "车辆出售审批"),
        ("loss_write_off", "差额核销审批"),
        ("partial_prepayment", "部分提前还款审批"),
        ("customer_change", "客户信息变更审批"),
    ] {
        post("/workflow-definitions", token, json!({"key": key, "name": name, "stages": stages})).await?;
    }
    let notice = "尊敬的 {customer_name}：\n您的融资租赁合同 {contract_number} 已逾期 {dpd} 天，欠款合计人民币 {arrears} 元。\n请于 {deadline} 前还清全部欠款，否则我司将依合同约定收回车辆并追究违约责任。\n特此通知。\n{date}";
    for (stage, title, days) in [(1, "逾期还款提醒函", 7), (2, "违约通知函", 5), (3, "收车预告函", 3)]
    {
        post(
            "/letter-templates",
            token,
            json!({"stage": stage, "title": title, "body": notice, "deadline_days": days}),
        )
        .await?;
    }
    for (offset, text) in [
        (-3, "{customer_name}您好，您的合同{contract_number}将于{due_date}还款{amount}元，请按时存入。"),
        (0, "{customer_name}您好，今天是合同{contract_number}的还款日，应还{amount}元。"),
        (1, "{customer_name}您好，合同{contract_number}的{amount}元已逾期，请尽快还款。"),
        (7, "{customer_name}您好，合同{contract_number}已逾期7天，请立即还款，以免影响征信。"),
    ] {
        call(
            reqwest::Method::PUT,
            "/reminder-stages",
            token,
            json!({"offset_days": offset, "template": text, "active": true}),
        )
        .await?;
    }
    let company = json!({"name": "鹏城车辆收回服务有限公司", "licence": "91440300MA5DEMO001", "region_id": gd,
                         "served_region_ids": [gd], "contact_name": "赵经理", "contact_phone": "13900000001",
                         "fee_fixed": "1500", "fee_rate": "0.02", "fee_cap": "6000"});
    let company = post("/repossession-companies", token, company).await?["id"].as_i64().context("no company id")?;
    let permissions = ["contracts.read", "tasks.read", "postloan.read", "postloan.repossess", "postloan.dispose"];
    post("/roles", token, json!({"name": "recovery", "description": "收车与处置", "permissions": permissions})).await?;
    post("/roles", token, json!({"name": "recovery_review", "description": "收车与评估审核", "permissions": ["postloan.read", "postloan.review"]})).await?;
    for (username, name, role, positions) in [
        ("recovery1", "收车专员", "recovery", json!(["repossession"])),
        ("reviewer1", "贷后审核", "recovery_review", json!([])),
    ] {
        let user = json!({"username": username, "display_name": name, "password": PASSWORD, "region_id": gd,
                          "roles": [role], "positions": positions});
        post("/users", token, user).await?;
    }
    let (recovery, reviewer) = (login_as(base, "recovery1").await?, login_as(base, "reviewer1").await?);
    // The most overdue contracts, apart from the scenarios' vehicles.
    let most_overdue: Value = client
        .get(format!("{base}/api/v1/contracts?sort=-dpd&limit=50"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let scenario = |number: &str| number < format!("DEMO-{SCENARIO_VEHICLES:04}").as_str();
    let ids: Vec<i64> = most_overdue["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|c| !scenario(c["number"].as_str().unwrap_or("")))
                .filter_map(|c| c["id"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    let [dispatched, recovered, ..] = ids[..] else { return Ok(()) };
    let dispatch = |version: i64| json!({"version": version, "company_id": company, "agent_name": "钱师傅", "agent_phone": "13700000002"});
    let first =
        post("/repossession-orders", &recovery, json!({"contract_id": dispatched, "note": "夜间常停小区"})).await?;
    let first_id = first["id"].as_i64().context("no order id")?;
    post(&format!("/repossession-orders/{first_id}/actions/dispatch"), &recovery, dispatch(1)).await?;
    let link = post(&format!("/repossession-orders/{first_id}/links"), &recovery, json!({"hours": 72})).await?;
    println!("  a repossession order dispatched; its agent's live link: {base}{}", link["path"].as_str().unwrap_or(""));
    let second = post("/repossession-orders", &recovery, json!({"contract_id": recovered})).await?;
    let second_id = second["id"].as_i64().context("no order id")?;
    post(&format!("/repossession-orders/{second_id}/actions/dispatch"), &recovery, dispatch(1)).await?;
    let photo: Value = client
        .post(format!("{base}/api/v1/attachments"))
        .bearer_auth(&recovery)
        .header("content-type", "image/png")
        .body(DEMO_PHOTO.to_vec())
        .send()
        .await?
        .json()
        .await?;
    let recovery_form = json!({"version": 2, "recovered_at": Utc::now() - chrono::Duration::days(2), "place": "深圳市宝安区某小区地下车库",
                               "mileage_km": 48211, "condition": "左前门划痕，轮胎正常", "keys": 1, "belongings": "儿童座椅一个",
                               "yard": "宝安停车场", "storage_daily_fee": "50", "photos": [photo["sha256"]]});
    post(&format!("/repossession-orders/{second_id}/actions/register-recovery"), &recovery, recovery_form).await?;
    post(
        &format!("/repossession-orders/{second_id}/actions/review"),
        &reviewer,
        json!({"version": 3, "approve": true, "note": "照片与登记相符"}),
    )
    .await?;
    let disposals: Value = client
        .get(format!("{base}/api/v1/disposals?contract_id={recovered}"))
        .bearer_auth(&recovery)
        .send()
        .await?
        .json()
        .await?;
    let disposal = disposals["items"][0]["id"].as_i64().context("no disposal")?;
    post(
        &format!("/disposals/{disposal}/notes"),
        &recovery,
        json!({"intent": "sell", "note": "客户表示无力赎车，同意处置"}),
    )
    .await?;
    post(
        &format!("/disposals/{disposal}/actions/dispatch-valuation"),
        &recovery,
        json!({"version": 1, "appraiser": "深圳某二手车评估公司"}),
    )
    .await?;
    post(
        &format!("/disposals/{disposal}/actions/submit-valuation"),
        &recovery,
        json!({"version": 2, "amount": "52000", "note": "车况一般"}),
    )
    .await?;
    post(&format!("/disposals/{disposal}/actions/review-valuation"), &reviewer, json!({"version": 3, "approve": true}))
        .await?;
    println!("  a recovered car reviewed and valued, ready to be sold (车辆处置)");
    Ok(())
}

/// A 1×1 PNG: the demo's recovery photo.
const DEMO_PHOTO: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

fn status(ignition: bool) -> Status {
    Status { ignition: Some(ignition), power_voltage: Some(12.6), battery_percent: Some(90), ..Status::default() }
}

/// The everyday fleet: each vehicle commutes between home and work at city speed, parking 20
/// minutes at each end, reporting every 30 seconds in real time over one connection.
fn fleet_drives(target: SocketAddr) {
    const INTERVAL_S: u64 = 30;
    const PARKED_STEPS: usize = 40;
    for n in SCENARIO_VEHICLES..CONTRACTS {
        tokio::spawn(async move {
            let imei = fleet::device_id(ProtocolKind::Gt06, n);
            let (home, work) = home_and_work(n);
            // Spread the fleet's reports over the interval.
            tokio::time::sleep(Duration::from_millis((n as u64 * 97) % (INTERVAL_S * 1000))).await;
            loop {
                let mut track = Track::new(n as u64 + 1, Utc::now(), home.0, home.1, INTERVAL_S as i64);
                let mut steps = Vec::new();
                // Twelve hours at a time.
                let mut going = work;
                while steps.len() < 1440 {
                    while track.location() != going {
                        steps.push(Step::Fix(track.drive_towards(going.0, going.1, 35.0), status(true)));
                    }
                    steps.extend((0..PARKED_STEPS).map(|_| Step::Fix(track.stay(), status(false))));
                    going = if going == work { home } else { work };
                }
                if scenario::run_gt06(target, &imei, &steps, INTERVAL_S, true).await.is_err() {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        });
    }
}

/// One scenario of the demo.
#[derive(Clone, Copy)]
struct Play {
    /// What happens.
    scenario: Scenario,
    /// What the audience should see.
    expect: &'static str,
    /// The demo vehicle (contract `DEMO-{vehicle}`).
    vehicle: usize,
    /// The target point of leave-province and dwell.
    to: (f64, f64),
    /// Fixes to send.
    ticks: usize,
    /// Seconds between them (in the fixes' times).
    interval_s: u64,
}

/// Plays each scenario on its own vehicle, one every 20 seconds, round after round (the silent
/// tracker only in the first).
async fn scenarios(pool: PgPool, target: SocketAddr) {
    let plays = [
        Play {
            scenario: Scenario::PowerCut,
            expect: "power cut on an overdue contract: a critical power_cut alert (escalated), a collection alert",
            vehicle: 1,
            to: (0.0, 0.0),
            ticks: 30,
            interval_s: 30,
        },
        Play {
            scenario: Scenario::Tamper,
            expect: "tracker pried off: a tamper alert",
            vehicle: 2,
            to: (0.0, 0.0),
            ticks: 30,
            interval_s: 30,
        },
        Play {
            scenario: Scenario::Tow,
            expect: "ignition off at 30 km/h: a tow alert",
            vehicle: 3,
            to: (0.0, 0.0),
            ticks: 60,
            interval_s: 10,
        },
        Play {
            scenario: Scenario::Dwell,
            expect: "parks at the Buji used-car market for hours: risk_location_entry, then risk_location_dwell",
            vehicle: 5,
            to: (22.6050, 114.1180),
            ticks: 240,
            interval_s: 60,
        },
        Play {
            scenario: Scenario::LeaveProvince,
            expect: "drives from Shenzhen to Changsha: left_province",
            vehicle: 4,
            to: (28.2282, 112.9388),
            ticks: 400,
            interval_s: 60,
        },
        Play {
            scenario: Scenario::Offline,
            expect: "a tracker goes silent: an offline alert after 3 minutes",
            vehicle: 6,
            to: (0.0, 0.0),
            ticks: 10,
            interval_s: 30,
        },
    ];
    for round in 0.. {
        for Play { scenario, expect, vehicle: n, to, ticks, interval_s: interval } in plays {
            // The silent tracker plays once: replaying it every round would end its silence
            // before the offline threshold.
            if scenario == Scenario::Offline && round > 0 {
                continue;
            }
            tokio::time::sleep(Duration::from_secs(20)).await;
            let number = format!("DEMO-{n:04}");
            let dpd: Option<i32> = sqlx::query_scalar("SELECT dpd FROM contracts WHERE number = $1")
                .bind(&number)
                .fetch_optional(&pool)
                .await
                .ok()
                .flatten();
            println!("▶ {number} ({} days past due): {expect}", dpd.unwrap_or(0));
            let imei: DeviceId = fleet::device_id(ProtocolKind::Gt06, n);
            let start = Utc::now() - chrono::Duration::seconds(ticks as i64 * interval as i64);
            let mut track = Track::new(n as u64 + 1, start, 22.6400, 114.0300, interval as i64);
            let steps = if scenario == Scenario::Offline {
                // A few fixes, then the connection closes and the tracker stays silent.
                scenario::plan(Scenario::Normal, &mut track, ticks, to, 0)
            } else {
                scenario::plan(scenario, &mut track, ticks, to, 0)
            };
            if let Err(e) = scenario::run_gt06(target, &imei, &steps, interval, false).await {
                println!("  the scenario could not be played: {e}");
            }
        }
    }
}

/// A PostgreSQL server of the demo's own, in a data folder it owns.
struct PrivateServer {
    pg_ctl: PathBuf,
    data: PathBuf,
    as_postgres: bool,
}

impl PrivateServer {
    /// Initialises (first time) and starts the server.
    fn start(folder: &Path) -> anyhow::Result<Self> {
        let bin = server_binaries().context(
            "no PostgreSQL found: nothing listens on localhost:5432, DATABASE_URL is not set, and no server binaries \
             are installed. Install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`), or set DATABASE_URL.",
        )?;
        std::fs::create_dir_all(folder)?;
        let folder = folder.canonicalize()?;
        let data = folder.join("pgdata");
        let as_postgres = is_root();
        if as_postgres {
            // initdb refuses to run as root: the folder belongs to the postgres system user.
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&folder).status()?;
            anyhow::ensure!(status.success(), "cannot give {} to the postgres user (does it exist?)", folder.display());
        }
        let server = Self { pg_ctl: bin.join("pg_ctl"), data, as_postgres };
        if !server.data.join("PG_VERSION").exists() {
            println!("creating a private PostgreSQL in {}", server.data.display());
            let initdb = bin.join("initdb");
            let data = server.data.display().to_string();
            server.run(&initdb, &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])?;
        }
        let data = server.data.display().to_string();
        let options = format!("-p {PRIVATE_PORT} -c listen_addresses=127.0.0.1 -k {data}");
        let log = folder.join("postgres.log").display().to_string();
        server.run(&server.pg_ctl, &["-D", &data, "-o", &options, "-l", &log, "-w", "start"])?;
        println!("private PostgreSQL listening on 127.0.0.1:{PRIVATE_PORT}");
        Ok(server)
    }

    fn run(&self, program: &Path, args: &[&str]) -> anyhow::Result<()> {
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        let output = command.args(args).output().with_context(|| format!("cannot run {}", program.display()))?;
        if !output.status.success() {
            bail!("{} failed: {}", program.display(), String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(())
    }

    fn stop(self) {
        let data = self.data.display().to_string();
        if let Err(e) = self.run(&self.pg_ctl, &["-D", &data, "-m", "fast", "stop"]) {
            eprintln!("leasewatch: could not stop the private PostgreSQL: {e:#}");
        }
    }
}

/// The directory of `initdb` and `pg_ctl`: from `pg_config`, else the newest Debian cluster
/// version, else the `PATH`.
fn server_binaries() -> Option<PathBuf> {
    let has = |dir: &Path| dir.join("initdb").exists() && dir.join("pg_ctl").exists();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| has(d))
        .collect();
    versions.sort_by_key(|d| {
        d.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    if let Some(dir) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH").and_then(|path| std::env::split_paths(&path).find(|d| has(d)))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_vins_carry_a_valid_check_digit() {
        for n in [0, 1, 299, 12_345] {
            assert!(leasewatch_backoffice::kit::identity::vin_ok(&vin(n)), "{}", vin(n));
        }
    }

    #[test]
    fn demo_homes_and_workplaces_stay_inside_guangdong() {
        let provinces = leasewatch_monitor::engine::shipped_provinces();
        for n in 0..CONTRACTS {
            let (home, work) = home_and_work(n);
            for place in [home, work] {
                assert_eq!(provinces.locate(place).map(|p| p.adcode.as_str()), Some("440000"), "{n}: {place:?}");
            }
        }
    }
}
