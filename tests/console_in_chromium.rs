//! The console in a real browser: Debian's Chromium driven through chromedriver (WebDriver),
//! against the daemon's parts on a fresh migrated database: the console and API router on a local
//! port, the GT06 listener with the writer, and the monitor with its command dispatcher, so that a
//! simulated tracker's fixes and replies reach the pages. Nothing here downloads a browser:
//! `scripts/setup.sh` installs the `chromium` and `chromium-driver` packages.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

extern crate leasewatch_backoffice as backoffice;

#[path = "support/telematics.rs"]
mod telematics;

#[path = "../admin/tests/api/support.rs"]
#[allow(dead_code)]
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use leasewatch_protocols::{DeviceId, Position, Status, gt06};
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use support::{App, PASSWORD, org};

/// chromedriver, stopped when the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts chromedriver and opens a headless Chromium session through it, its downloads going to
/// `downloads`.
async fn browser(downloads: &std::path::Path) -> (Driver, Client) {
    let port = free_port();
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
    let child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{binary}: {e} (scripts/setup.sh installs chromium-driver)"));
    let driver = Driver(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1366,900", "--lang=zh-CN"],
            "prefs": {"download.default_directory": downloads, "download.prompt_for_download": false}
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session through chromedriver");
    (driver, client)
}

/// Serves the app's router on a local port; returns its base URL.
async fn serve(app: &App) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    format!("http://localhost:{}", address.port())
}

/// The text of the first element `css` matches once `done` accepts it, waiting up to ten seconds
/// (while a page loads, the old one's elements may still answer, or vanish under the finger).
async fn text_when(client: &Client, css: &str, done: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if done(&text) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let source = client.source().await.unwrap_or_default();
    panic!("{css}: {last:?} after ten seconds; the page: {source}");
}

/// Clicks `locator` once it is on the page, waiting up to ten seconds.
async fn click_when(client: &Client, locator: Locator<'_>) {
    client.wait().at_most(Duration::from_secs(10)).for_element(locator).await.unwrap().click().await.unwrap();
}

/// Waits until the first element `css` matches reads `expected`.
async fn text_of(client: &Client, css: &str, expected: &str) {
    text_when(client, css, |t| t == expected).await;
}

/// A GT06 tracker in a car: a fix every half second, driving until `parked` says otherwise, and
/// a reply to every command it receives.
async fn tracker(address: SocketAddr, imei: DeviceId, parked: watch::Receiver<bool>) {
    let mut frame = Vec::new();
    gt06::device::login(&imei, 1, &mut frame);
    let socket = TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = socket.into_split();
    writer.write_all(&frame).await.unwrap();
    let (commands, mut received) = mpsc::channel::<u32>(4);
    tokio::spawn(async move {
        loop {
            let mut head = [0_u8; 3];
            if reader.read_exact(&mut head).await.is_err() {
                return;
            }
            let mut rest = vec![0_u8; usize::from(head[2]) + 2];
            if reader.read_exact(&mut rest).await.is_err() {
                return;
            }
            // An online command (0x80): its server flag comes back in the reply.
            if rest[0] == 0x80 && rest.len() > 6 {
                let _ = commands.send(u32::from_be_bytes([rest[2], rest[3], rest[4], rest[5]])).await;
            }
        }
    });
    let mut serial = 2_u16;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        frame.clear();
        tokio::select! {
            _ = tick.tick() => {
                let parked = *parked.borrow();
                let status = Status { ignition: Some(!parked), power_voltage: Some(12.6), ..Status::default() };
                let fix = Position {
                    fix_time: chrono::Utc::now(),
                    latitude: 22.54,
                    longitude: 114.06,
                    speed_kmh: if parked { 0.0 } else { 42.0 },
                    course: 90.0,
                    altitude: None,
                    satellites: Some(9),
                    valid: true,
                    cell: None,
                };
                gt06::device::position_22(&fix, &status, serial, &mut frame);
            }
            Some(flag) = received.recv() => gt06::device::command_reply("DYD=Success!", flag, serial, &mut frame),
        }
        serial = serial.wrapping_add(1);
        if writer.write_all(&frame).await.is_err() {
            return;
        }
    }
}

/// Saves what the browser shows as `target/screenshots/{name}.png` (the README's pictures).
async fn screenshot(client: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), client.screenshot().await.unwrap()).unwrap();
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn staff_work_in_the_console_in_chromium(pool: PgPool) {
    let app = App::new(pool.clone()).await;
    let org = org(&app).await;
    let start = chrono::Utc::now().date_naive() - chrono::Duration::days(100);
    let csv = format!(
        "number,region,principal,annual_rate,term,method,start_date,paid_periods,customer_name,id_number\n\
         GD-1,GD,12000,0.12,12,equal-installment,{start},1,<script>alert(1)</script>,11010519491231002X\n"
    );
    let vault = app.state.vault.clone();
    let rows = backoffice::books::import::parse_csv(csv.as_bytes()).unwrap();
    let mut tx = pool.begin().await.unwrap();
    backoffice::books::import::import(&mut tx, &vault, &rows).await.unwrap();
    tx.commit().await.unwrap();
    // The daily job sets days past due.
    let yesterday = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    sqlx::query("INSERT INTO finance_jobs (name, done_through) VALUES ('delinquency', $1)")
        .bind(start - chrono::Duration::days(1))
        .execute(&pool)
        .await
        .unwrap();
    backoffice::books::delinquency::run_through(&pool, yesterday).await.unwrap();
    let base = serve(&app).await;
    let downloads = std::env::temp_dir().join(format!("leasewatch-downloads-{}", std::process::id()));
    std::fs::create_dir_all(&downloads).unwrap();
    let (_driver, client) = browser(&downloads).await;

    // Signed out, the console asks to sign in; a wrong password is said beside the form.
    client.goto(&format!("{base}/contracts")).await.unwrap();
    let sign_in = async |username: &str, password: &str| {
        client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("username")).await.unwrap();
        client.find(Locator::Id("username")).await.unwrap().send_keys(username).await.unwrap();
        client.find(Locator::Id("password")).await.unwrap().send_keys(password).await.unwrap();
        client.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
        // Signed in (the page has the sign-out button) or refused: only then may the next page be asked for.
        let answered = Locator::Css("form[action='/logout'] button, .problem");
        client.wait().at_most(Duration::from_secs(10)).for_element(answered).await.unwrap();
    };
    sign_in("admin", "Wrong-Passw0rd").await;
    text_of(&client, ".problem", "用户名或密码错误").await;
    client.find(Locator::Id("username")).await.unwrap().clear().await.unwrap();
    sign_in("admin", PASSWORD).await;
    // Back to the page asked for, then home.
    text_of(&client, "main h1", "合同").await;
    client.find(Locator::LinkText("工作台")).await.unwrap().click().await.unwrap();
    text_of(&client, "main h1", "工作台").await;
    screenshot(&client, "console-dashboard").await;

    // From the navigation to the list, from the list to the contract.
    client.find(Locator::LinkText("合同")).await.unwrap().click().await.unwrap();
    click_when(&client, Locator::LinkText("GD-1")).await;
    let dpd = text_when(&client, "#dpd", |t| !t.is_empty()).await;
    assert!(dpd.parse::<i32>().unwrap() > 0, "100 days in, one paid: {dpd}");
    let rows = client.find_all(Locator::Css("#schedule tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 25, "12 periods of principal and interest, and the penalty accrued");
    // A name that is markup is shown as text and runs nothing.
    text_of(&client, "#lessee", "<script>alert(1)</script>").await;
    assert!(client.get_alert_text().await.is_err(), "no dialog opened");

    // The map: the province outlines and the vehicles at their last fixes, from the daemon alone.
    for (n, (lat, lon)) in [(22.54, 114.06), (23.13, 113.26), (39.90, 116.40)].into_iter().enumerate() {
        let vehicle: i64 = sqlx::query_scalar(
            "INSERT INTO vehicles (vin, plate, region_id, status) SELECT $1, $2, id, 'financed' FROM regions WHERE code = 'GD'
             RETURNING id",
        )
        .bind(format!("LSVMAP00000000{n:03}"))
        .bind(format!("粤B0000{n}"))
        .fetch_one(&pool)
        .await
        .unwrap();
        sqlx::query(
            "WITH d AS (INSERT INTO devices (imei, protocol, vehicle_id) VALUES ($1, 'gt06', $2) RETURNING id)
             INSERT INTO device_state (device_id, fix_time, server_time, latitude, longitude, speed_kmh, course, valid)
             SELECT id, now(), now(), $3, $4, 0, 0, true FROM d",
        )
        .bind(format!("86100000000{n:04}"))
        .bind(vehicle)
        .bind(lat)
        .bind(lon)
        .execute(&pool)
        .await
        .unwrap();
    }
    client.goto(&format!("{base}/map")).await.unwrap();
    text_of(&client, "#map-count", "3").await;
    let drawn = client.find_all(Locator::Css("#map path.leaflet-interactive, #map .marker-cluster")).await.unwrap();
    assert!(!drawn.is_empty(), "outlines and vehicles are drawn");
    screenshot(&client, "console-map").await;

    // The alert board: a power cut on the overdue contract's vehicle appears without a reload.
    client.goto(&format!("{base}/alerts?status=unresolved")).await.unwrap();
    text_of(&client, "main h1", "告警").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (vehicle, contract, region): (i64, i64, i64) = sqlx::query_as(
        "SELECT v.id, c.id, c.region_id FROM vehicles v, contracts c WHERE v.vin = 'LSVMAP00000000000' AND c.number = 'GD-1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let finding = leasewatch_monitor::watch::Finding {
        vehicle_id: vehicle,
        device_id: None,
        rule: leasewatch_monitor::rules::Rule::PowerCut,
        severity: leasewatch_monitor::rules::Severity::High,
        title: "断电 粤B00000".to_owned(),
        at: chrono::Utc::now(),
        location: Some((22.54, 114.06)),
        evidence: json!({"alarm": "power_cut"}),
        collection: true,
    };
    let mut tx = pool.begin().await.unwrap();
    let owner = leasewatch_monitor::alerts::Owner { region_id: region, contract_id: Some(contract) };
    leasewatch_monitor::alerts::raise(&mut tx, &finding, owner, chrono::Utc::now()).await.unwrap();
    tx.commit().await.unwrap();
    let started = std::time::Instant::now();
    text_when(&client, "tr.fresh a", |t| t == "断电 粤B00000").await;
    assert!(started.elapsed() < Duration::from_secs(2), "appeared after {:?}", started.elapsed());
    // Its page leads on to the contract, with its schedule and days past due; back, acknowledged.
    client.find(Locator::Css("tr.fresh a")).await.unwrap().click().await.unwrap();
    let alert_page =
        client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("acknowledge")).await.unwrap();
    drop(alert_page);
    let alert_url = client.current_url().await.unwrap();
    client.find(Locator::Id("alert-contract")).await.unwrap().click().await.unwrap();
    let dpd = text_when(&client, "#dpd", |t| !t.is_empty()).await;
    assert!(dpd.parse::<i32>().unwrap() > 0, "{dpd}");
    assert!(!client.find_all(Locator::Css("#schedule tbody tr")).await.unwrap().is_empty());
    client.goto(alert_url.as_str()).await.unwrap();
    click_when(&client, Locator::Id("acknowledge")).await;
    text_of(&client, "main h1", "告警").await;
    client.goto(&format!("{base}/alerts?status=open")).await.unwrap();
    text_of(&client, "main h1", "告警").await;
    assert!(client.find(Locator::LinkText("断电 粤B00000")).await.is_err(), "it left the open list");
    // A state-changing request without the page's token is refused, from the signed-in browser too.
    let forged = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0], {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'},
                                  body: 'action=resolve&resolution=forged'}).then(r => done(r.status));",
            vec![json!(alert_url.path())],
        )
        .await
        .unwrap();
    assert_eq!(forged, json!(403));
    let status: String = sqlx::query_scalar("SELECT status FROM alerts WHERE contract_id = $1")
        .bind(contract)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "acknowledged", "the forged request changed nothing");

    // A collector of Zhejiang opening a Guangdong contract by its address gets the refusal page.
    app.create(&org.admin, "/api/v1/roles", json!({"name": "collector", "permissions": ["contracts.read"]})).await;
    let collector = json!({"username": "zj_collector", "display_name": "ZJ collector", "password": PASSWORD,
                           "region_id": org.region("ZJ"), "roles": ["collector"], "positions": []});
    app.create(&org.admin, "/api/v1/users", collector).await;
    client.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    sign_in("zj_collector", PASSWORD).await;
    text_of(&client, "main h1", "工作台").await;
    client.goto(&format!("{base}/contracts/{contract}")).await.unwrap();
    text_of(&client, "main h1", "无权访问").await;
    client.goto(&format!("{base}/contracts")).await.unwrap();
    text_of(&client, "main h1", "合同").await;
    assert!(client.find(Locator::LinkText("GD-1")).await.is_err(), "nor is it listed");
    client.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    sign_in("admin", PASSWORD).await;
    text_of(&client, "main h1", "工作台").await;

    // An engine cut: asked for on the vehicle's page by one user, approved in the inbox by another,
    // held while the tracker reports the car moving, sent once it stands, acknowledged by the tracker.
    let stages = json!([{"name": "风控审批", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    let definition = json!({"key": "engine_cut", "name": "断油电", "stages": stages});
    app.create(&org.admin, "/api/v1/workflow-definitions", definition).await;
    let imei = leasewatch_simulators::fleet::device_id(leasewatch_protocols::ProtocolKind::Gt06, 77);
    let car: i64 = sqlx::query_scalar(
        "INSERT INTO vehicles (vin, plate, region_id, status) VALUES ('LSVCUT00000000077', '粤B77777', $1, 'financed') RETURNING id",
    )
    .bind(org.region("SZ"))
    .fetch_one(&pool)
    .await
    .unwrap();
    // Sixty days overdue: an engine cut for a contract brought current is withdrawn.
    sqlx::query(
        "INSERT INTO contracts (number, vehicle_id, region_id, terms, principal, start_date, dpd, bucket)
         VALUES ('CUT-1', $1, $2, '{}', 100000, CURRENT_DATE - 100, 60, 2)",
    )
    .bind(car)
    .bind(org.region("SZ"))
    .execute(&pool)
    .await
    .unwrap();
    let device: i64 = sqlx::query_scalar(
        "INSERT INTO devices (imei, protocol, kind, vehicle_id) VALUES ($1, 'gt06', 'wired', $2) RETURNING id",
    )
    .bind(imei.as_str())
    .bind(car)
    .fetch_one(&pool)
    .await
    .unwrap();
    let daemon = telematics::start(&pool).await;
    let address = daemon.address;
    let (park, parked) = watch::channel(false);
    tokio::spawn(tracker(address, imei, parked));
    for _ in 0..100 {
        let fixes: i64 = sqlx::query_scalar("SELECT count(*) FROM device_state WHERE device_id = $1")
            .bind(device)
            .fetch_one(&pool)
            .await
            .unwrap();
        if fixes > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.goto(&format!("{base}/vehicles/{car}")).await.unwrap();
    text_when(&client, &format!("#last-fix-{device}"), |t| t.contains("42 km/h")).await;
    client.find(Locator::Id(&format!("command-{device}"))).await.unwrap().select_by_value("engine_cut").await.unwrap();
    client
        .find(Locator::Id(&format!("reason-{device}")))
        .await
        .unwrap()
        .send_keys("M3，车辆位于风险地点")
        .await
        .unwrap();
    let request = format!("form[action='/vehicles/{car}/devices/{device}/commands'] button[type=submit]");
    client.find(Locator::Css(&request)).await.unwrap().click().await.unwrap();
    let progress = format!("#commands-{device} .state");
    text_of(&client, &progress, "待审批").await;
    let sign_out = async || {
        client.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    };
    sign_out().await;
    sign_in("final", PASSWORD).await;
    client.goto(&format!("{base}/workflow")).await.unwrap();
    click_when(&client, Locator::Css("a[href^='/workflow/tasks/']")).await;
    click_when(&client, Locator::Css("button[value=approve]")).await;
    text_of(&client, "main h1", "待办审批").await;
    sign_out().await;
    sign_in("admin", PASSWORD).await;
    client.goto(&format!("{base}/vehicles/{car}")).await.unwrap();
    text_of(&client, &progress, "等待停车").await;
    // The page follows the command by itself; while the car moves, nothing is sent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    text_of(&client, &progress, "等待停车").await;
    park.send(true).unwrap();
    text_of(&client, &progress, "设备已确认").await;
    let result: Option<String> = sqlx::query_scalar("SELECT result FROM device_commands WHERE device_id = $1")
        .bind(device)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(result.as_deref(), Some("DYD=Success!"));
    // Its day on the map: the track the tracker drew, played back from the vehicle's page.
    client.find(Locator::Id("vehicle-track")).await.unwrap().click().await.unwrap();
    let mut drawn = 0;
    for _ in 0..100 {
        let shown = client.execute("return document.getElementById('map').dataset.trackPoints || '0'", vec![]).await;
        drawn = shown.unwrap().as_str().unwrap_or("0").parse().unwrap();
        if drawn > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(drawn > 5, "the day's fixes are drawn: {drawn}");
    client.find(Locator::Id("track-play")).await.unwrap().click().await.unwrap();
    text_when(&client, "#track-summary", |t| t.contains("km/h")).await;

    // A collector's day: the overdue list, the contract claimed, a call with a promise recorded.
    let permissions = ["contracts.read", "postloan.read", "postloan.collect"];
    app.create(&org.admin, "/api/v1/roles", json!({"name": "collections", "permissions": permissions})).await;
    let body = json!({"username": "gd_caller", "display_name": "广东催收", "password": PASSWORD,
                      "region_id": org.region("GD"), "roles": ["collections"], "positions": []});
    let caller = app.create(&org.admin, "/api/v1/users", body).await;
    let group = json!({"code": "gd_all", "name": "广东催收组", "region_id": org.region("GD"),
                       "buckets": [1, 2, 3, 4, 5, 6], "members": [{"user_id": caller}]});
    app.create(&org.admin, "/api/v1/collection-groups", group).await;
    for (key, value) in [("postloan.contact_from_hour", 0), ("postloan.contact_until_hour", 24)] {
        let path = format!("/api/v1/settings/{key}");
        let set = app
            .call(axum::http::Method::PUT, &path, Some(&org.admin), Some(json!({"value": value, "version": 0})))
            .await;
        assert_eq!(set.status, axum::http::StatusCode::OK, "{}", set.body);
    }
    let template = json!({"stage": 1, "title": "违约通知函", "deadline_days": 7,
                          "body": "尊敬的 {customer_name}：合同 {contract_number} 欠款 {arrears} 元，请于 {deadline} 前还清。"});
    app.create(&org.admin, "/api/v1/letter-templates", template).await;
    leasewatch_monitor::risk::score_unscored(&pool, chrono::Utc::now()).await.unwrap();
    client.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    sign_in("gd_caller", PASSWORD).await;
    client.find(Locator::LinkText("贷后管理")).await.unwrap().click().await.unwrap();
    click_when(&client, Locator::LinkText("GD-1")).await;
    text_of(&client, "#collector", "未分配").await;
    client.find(Locator::Id("claim-collection")).await.unwrap().click().await.unwrap();
    text_of(&client, "#collector", "广东催收").await;
    let promised = (chrono::Utc::now() + chrono::Duration::hours(8) + chrono::Duration::days(3)).date_naive();
    client.find(Locator::Id("note")).await.unwrap().send_keys("答应周五前还款").await.unwrap();
    client.find(Locator::Id("promise_amount")).await.unwrap().send_keys("2000").await.unwrap();
    // A date field takes what the keyboard types, in the browser's order; set it as a value instead.
    let set_date = format!("document.getElementById('promise_date').value = '{promised}'");
    client.execute(&set_date, vec![]).await.unwrap();
    client.find(Locator::Id("record-contact")).await.unwrap().click().await.unwrap();
    text_when(&client, "#contact-history tbody tr", |t| t.contains("¥2,000.00") && t.contains("接通")).await;
    // The default notice downloads as a PDF naming the contract.
    client.find(Locator::Id("letter")).await.unwrap().click().await.unwrap();
    let mut letter = None;
    for _ in 0..100 {
        let found = std::fs::read_dir(&downloads)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "pdf"));
        if found.is_some() {
            letter = found;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let letter = letter.expect("the letter downloaded");
    let name = letter.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("GD-1-违约通知函"), "{name}");
    let text = Command::new("pdftotext").arg(&letter).arg("-").output().unwrap().stdout;
    assert!(String::from_utf8_lossy(&text).contains("GD-1"), "{}", String::from_utf8_lossy(&text));

    // An application filed on its page and approved through the review's stages in the inbox.
    let rules = json!({
        "method": "equal-installment",
        "rates": [{"term": 36, "min_down_payment": "0.2", "annual_rate": "0.0999"}],
        "fees": [],
        "allocation": {"components": ["interest", "principal", "fee", "penalty"], "priority": "component_first"},
        "settlement_fee": {"rate": "0.03", "minimum": "500"}
    });
    let product =
        app.create(&org.admin, "/api/v1/products", json!({"code": "car_36", "name": "新车36期", "rules": rules})).await;
    let dealer = json!({"code": "D-01", "name": "深圳某4S店", "tier": "gold", "region_id": org.region("SZ")});
    let dealer = app.create(&org.admin, "/api/v1/dealers", dealer).await;
    let stage =
        |name: &str, position: &str| json!({"name": name, "position": position, "actions": ["approve", "reject"]});
    let review = json!({"key": "credit_review_short", "name": "信审",
                        "stages": [stage("初审", "first_reviewer"), stage("复审", "second_reviewer")]});
    app.create(&org.admin, "/api/v1/workflow-definitions", review).await;
    sign_out().await;
    sign_in("admin", PASSWORD).await;
    client.goto(&format!("{base}/origination/applications/new")).await.unwrap();
    client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("applicant_name")).await.unwrap();
    client.find(Locator::Id("dealer_id")).await.unwrap().select_by_value(&dealer.to_string()).await.unwrap();
    client.find(Locator::Id("product_id")).await.unwrap().select_by_value(&product.to_string()).await.unwrap();
    for (field, value) in [
        ("applicant_name", "陈晓"),
        ("id_number", "110105199003071239"),
        ("phone", "13800001001"),
        ("bank_card", "4111111111111111"),
        ("address", "深圳市福田区深南大道 1 号"),
        ("monthly_income", "18000"),
        ("vehicle_brand", "比亚迪"),
        ("vehicle_model", "汉"),
        ("vin", "1M8GDM9AXKP042788"),
        ("price", "150000"),
        ("down_payment", "30000"),
        ("term", "36"),
    ] {
        client.find(Locator::Id(field)).await.unwrap().send_keys(value).await.unwrap();
    }
    client.find(Locator::Id("do-save")).await.unwrap().click().await.unwrap();
    click_when(&client, Locator::Id("do-submit")).await;
    text_when(&client, "main", |t| t.contains("已提交")).await;
    let filed = client.current_url().await.unwrap();
    for reviewer in ["first", "second"] {
        sign_out().await;
        sign_in(reviewer, PASSWORD).await;
        client.goto(&format!("{base}/workflow")).await.unwrap();
        click_when(&client, Locator::Css("a[href^='/workflow/tasks/']")).await;
        click_when(&client, Locator::Css("button[value=approve]")).await;
        text_of(&client, "main h1", "待办审批").await;
    }
    sign_out().await;
    sign_in("admin", PASSWORD).await;
    client.goto(filed.as_str()).await.unwrap();
    let progress = text_when(&client, "#history", |t| t.contains("复审")).await;
    assert!(progress.contains("通过"), "{progress}");
    text_when(&client, "main", |t| t.contains("审批通过")).await;

    // The API reference renders its operations from the daemon's own files.
    client.goto(&format!("{base}/docs")).await.unwrap();
    let tags = client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(".opblock-tag")).await;
    assert!(tags.is_ok(), "the reference page shows its sections");
    assert!(client.find_all(Locator::Css(".opblock-tag")).await.unwrap().len() > 20);
    // A section unfolds to its operations.
    client.find(Locator::Id("operations-tag-repossession")).await.unwrap().click().await.unwrap();
    let operations = client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(".opblock")).await;
    assert!(operations.is_ok(), "the section's operations show");
    assert!(client.find_all(Locator::Css(".opblock")).await.unwrap().len() > 10);

    client.close().await.unwrap();
}
