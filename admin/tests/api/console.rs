//! The staff console's pages against a real database: signed-out visitors are sent to sign in,
//! pages show only what the user's permissions and region allow, list pages filter, sort, page
//! and export, and a record outside the region is a 403 page.

use axum::http::StatusCode;
use backoffice::books::import;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{App, PASSWORD, org, references};

/// Imports `csv` (contract rows) into the books, sealing with the app's key.
async fn import_book(app: &App, csv: &str) {
    let rows = import::parse_csv(csv.as_bytes()).unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    import::import(&mut tx, &app.state.vault, &rows).await.unwrap();
    tx.commit().await.unwrap();
}

/// The CSRF token the dashboard carries.
async fn home_csrf(app: &App, headers: &[(&str, &str)]) -> String {
    let (_, _, page) = app.fetch_with("/", headers).await;
    let marker = r#"name="csrf-token" content=""#;
    let at = page.find(marker).unwrap() + marker.len();
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

async fn contract_id(pool: &PgPool, number: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM contracts WHERE number = $1").bind(number).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn staff_see_their_regions_contracts_and_nothing_else(pool: PgPool) {
    let app = App::new(pool.clone()).await;
    let org = org(&app).await;
    app.create(&org.admin, "/api/v1/roles", json!({"name": "collector", "permissions": ["contracts.read"]})).await;
    let body = json!({"username": "gd_collector", "display_name": "GD collector", "password": PASSWORD,
                      "phone": "13812345678", "region_id": org.region("GD"), "roles": ["collector"], "positions": []});
    app.create(&org.admin, "/api/v1/users", body).await;
    let start = chrono::Utc::now().date_naive() - chrono::Duration::days(100);
    let mut csv = "number,region,principal,annual_rate,term,method,start_date,paid_periods\n".to_owned();
    for (number, region, paid) in [("GD-1", "GD", 1), ("GD-2", "SZ", 3), ("GD-3", "FT", 0), ("ZJ-1", "ZJ", 0)] {
        csv.push_str(&format!("{number},{region},12000,0.12,12,equal-installment,{start},{paid}\n"));
    }
    import_book(&app, &csv).await;

    // Signed out: every page sends to the sign-in page; an unknown page is the console's 404.
    for page in ["/", "/contracts?bucket=1", "/contracts/1"] {
        assert_eq!(app.fetch(page).await.0, StatusCode::SEE_OTHER, "{page}");
    }
    let (status, media_type, _) = app.fetch("/no-such-page").await;
    assert_eq!((status, media_type.starts_with("text/html")), (StatusCode::NOT_FOUND, true));
    assert_eq!(app.call(axum::http::Method::GET, "/api/v1/no-such", None, None).await.code(), "not_found");

    // Two ingest nodes' reports over the last minute: 1,200 in 10 s and 300 in 10 s.
    sqlx::query(
        "INSERT INTO ingest_throughput (node, positions, seconds) VALUES ('a', 600, 5), ('a', 600, 5), ('b', 300, 10)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let token = app.login("gd_collector").await;
    let cookie = format!("lw_session={token}");
    let with = [("cookie", cookie.as_str())];
    let (status, media_type, page) = app.fetch_with("/", &with).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(media_type.starts_with("text/html"));
    assert!(page.contains("工作台") && page.contains(r#"href="/contracts""#), "{page}");
    assert!(page.contains(r#"<p class="figure" id="positions-per-second">150</p>"#), "{page}");
    let (_, _, english) = app.fetch_with("/", &[("cookie", &format!("{cookie}; lw_lang=en"))]).await;
    assert!(english.contains("Dashboard") && english.contains("Contracts"));

    // The list: the region subtree only, filters, empty fields ignored, a wrong value refused.
    let (status, _, list) = app.fetch_with("/contracts", &with).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    for number in ["GD-1", "GD-2", "GD-3"] {
        assert!(list.contains(number), "{number} missing");
    }
    assert!(!list.contains("ZJ-1"));
    let (_, _, one) = app.fetch_with("/contracts?number=GD-2&status=&bucket=", &with).await;
    assert!(one.contains("GD-2") && !one.contains("GD-1"), "{one}");
    let (status, _, refused) = app.fetch_with("/contracts?bucket=first", &with).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains("bucket"), "{refused}");

    // Keyset paging: the next page starts after the last row shown.
    let (_, _, first) = app.fetch_with("/contracts?limit=2&sort=number", &with).await;
    assert!(first.contains("GD-1") && first.contains("GD-2") && !first.contains(">GD-3<"));
    let next = first.split("rel=\"next\"").next().unwrap();
    let href = &next[next.rfind("href=\"").unwrap() + 6..];
    let href = href[..href.find('"').unwrap()].replace("&#38;", "&");
    assert!(href.contains("after="), "{href}");
    let (_, _, second) = app.fetch_with(&href, &with).await;
    assert!(second.contains(">GD-3<") && !second.contains(">GD-1<"), "{second}");

    // Export: every matching row, readable by spreadsheet programs.
    let (status, media_type, csv) = app.fetch_with("/contracts?format=csv&sort=-number", &with).await;
    assert_eq!(status, StatusCode::OK);
    assert!(media_type.starts_with("text/csv"));
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("合同编号") && lines[1].starts_with("GD-3"), "{csv}");

    let (status, xlsx) = app.fetch_bytes("/contracts?format=xlsx&sort=number", &with).await;
    assert_eq!(status, StatusCode::OK);
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    use calamine::Reader;
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(sheet.height(), 4);
    assert_eq!(sheet.get_value((1, 0)), Some(&calamine::Data::String("GD-1".into())));
    assert_eq!(sheet.get_value((1, 2)), Some(&calamine::Data::Float(12000.0)), "money stays a number");

    // One contract: its schedule and days past due; another region's is a 403 page.
    let (status, _, contract) =
        app.fetch_with(&format!("/contracts/{}", contract_id(&pool, "GD-3").await), &with).await;
    assert_eq!(status, StatusCode::OK);
    assert!(contract.contains(r#"id="schedule""#) && contract.contains(r#"id="dpd""#), "{contract}");
    let schedule = &contract[contract.find(r#"id="schedule""#).unwrap()..];
    let schedule = &schedule[..schedule.find("</table>").unwrap()];
    assert_eq!(schedule.matches("<tr").count(), 1 + 24, "a header and two items a period");
    let (status, _, refused) = app.fetch_with(&format!("/contracts/{}", contract_id(&pool, "ZJ-1").await), &with).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(refused.contains("无权访问"));

    // Signing out needs the session's CSRF token, which every page carries.
    let (status, _, _) = app.post_form("/logout", "", &with).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app.post_form("/logout", "csrf=forged", &with).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let csrf = home_csrf(&app, &with).await;
    let (status, headers, _) = app.post_form("/logout", &format!("csrf={csrf}"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(app.fetch_with("/", &with).await.0, StatusCode::SEE_OTHER, "the session ended");

    // Without the permission: no entry in the navigation, and the page is refused.
    let nobody = app.login("nobody").await;
    let nobody = [("cookie", &*format!("lw_session={nobody}"))];
    let (_, _, home) = app.fetch_with("/", &nobody).await;
    assert!(!home.contains(r#"href="/contracts""#));
    assert_eq!(app.fetch_with("/contracts", &nobody).await.0, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reviewer_decides_in_the_approval_inbox(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let stages = json!([
        {"name": "初审", "position": "first_reviewer", "actions": ["approve", "reject", "note"], "sla_hours": 24},
        {"name": "复审", "position": "second_reviewer", "actions": ["approve", "reject", "return", "transfer", "note"]}
    ]);
    let body = json!({"key": "credit_review", "name": "信审", "stages": stages});
    app.create(&org.admin, "/api/v1/workflow-definitions", body).await;
    let maker = app.login("maker").await;
    let submit = json!({"definition_key": "credit_review", "subject_type": "credit_application", "subject_id": "A-1",
                        "title": "<b>张三</b> 车贷申请"});
    app.create(&maker, "/api/v1/workflow-instances", submit).await;

    let first = app.login("first").await;
    let cookie = format!("lw_session={first}");
    let with = [("cookie", cookie.as_str())];
    let (status, _, inbox) = app.fetch_with("/workflow", &with).await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    assert!(inbox.contains(r#"href="/workflow" aria-current="page""#), "in the navigation");
    assert!(inbox.contains("&#60;b&#62;张三&#60;/b&#62; 车贷申请"), "the title is text: {inbox}");
    // The dashboard counts what waits for the reviewer, what falls due today and what is late.
    let (_, _, home) = app.fetch_with("/", &with).await;
    assert!(home.contains(r#"id="approvals-waiting">1<"#) && home.contains(r#"id="approvals-overdue">0<"#), "{home}");
    sqlx::query("UPDATE workflow_tasks SET due_at = now() - interval '1 hour'").execute(&app.pool).await.unwrap();
    let (_, _, home) = app.fetch_with("/", &with).await;
    assert!(home.contains(r#"id="approvals-overdue">1<"#) && home.contains(r#"id="approvals-due-today">0<"#));
    // Halfway between now and the end of the company's day (UTC+8).
    let later_today =
        "now() + (date_trunc('day', now() + interval '8 hours', 'UTC') + interval '16 hours' - now()) / 2";
    sqlx::query(&format!("UPDATE workflow_tasks SET due_at = {later_today}")).execute(&app.pool).await.unwrap();
    let (_, _, home) = app.fetch_with("/", &with).await;
    assert!(home.contains(r#"id="approvals-due-today">1<"#), "{home}");
    let at = inbox.find("/workflow/tasks/").unwrap();
    let task = &inbox[at..at + inbox[at..].find('"').unwrap()];
    let (status, _, page) = app.fetch_with(task, &with).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"name="action" value="approve""#) && page.contains(r#"id="history""#));

    // A refusal is said beside the form, and what was typed stays.
    let csrf = home_csrf(&app, &with).await;
    let (status, _, refused) = app.post_form(task, &format!("csrf={csrf}&action=reject&note="), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a rejection needs a reason: {refused}");
    assert!(refused.contains(r#"class="field-error""#));
    // Without the token nothing happens.
    let (status, _, _) = app.post_form(task, "action=approve&note=ok", &with).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = app
        .post_form(task, &format!("csrf={csrf}&action=approve&note=%E6%9D%90%E6%96%99%E9%BD%90%E5%85%A8"), &with)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/workflow");
    let (_, _, after) = app.fetch_with(task, &with).await;
    assert!(after.contains("材料齐全") && !after.contains(r#"value="approve""#), "done: {after}");

    // The maker, though of the position, does not see their own request to decide.
    let maker_cookie = format!("lw_session={maker}");
    let (_, _, theirs) = app.fetch_with("/workflow", &[("cookie", maker_cookie.as_str())]).await;
    assert!(!theirs.contains("/workflow/tasks/"));

    // 转件: the second reviewer hands the task to a colleague of the position, who then has it.
    let second = format!("lw_session={}", app.login("second").await);
    let with = [("cookie", second.as_str())];
    let (_, _, inbox) = app.fetch_with("/workflow", &with).await;
    let at = inbox.find("/workflow/tasks/").unwrap();
    let task = inbox[at..at + inbox[at..].find('"').unwrap()].to_owned();
    let (_, _, page) = app.fetch_with(&task, &with).await;
    assert!(page.contains(r#"value="return""#) && !page.contains(r#"value="transfer" class"#), "{page}");
    let colleague = org.user("second_b");
    assert!(page.contains(&format!(r#"<option value="{colleague}""#)), "a colleague to hand to: {page}");
    assert!(!page.contains(&format!(r#"<option value="{}""#, org.user("second"))), "not oneself");
    let csrf = home_csrf(&app, &with).await;
    let outsider = org.user("zj_first");
    let (status, _, refused) =
        app.post_form(&task, &format!("csrf={csrf}&action=transfer&to_user_id={outsider}"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="to_user_id""#), "{refused}");
    let (status, _, _) =
        app.post_form(&task, &format!("csrf={csrf}&action=transfer&to_user_id={colleague}"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let theirs = format!("lw_session={}", app.login("second_b").await);
    let (_, _, inbox) = app.fetch_with("/workflow?mine=true", &[("cookie", theirs.as_str())]).await;
    assert!(inbox.contains(&task), "now the colleague's: {inbox}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_dealer_list_searches_and_escapes(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    for (code, name, region) in
        [("D-1", "深圳福田车行", "SZ"), ("D-2", "<img src=x onerror=alert(1)>", "GD"), ("D-3", "杭州车行", "ZJ")]
    {
        app.create(&org.admin, "/api/v1/dealers", json!({"code": code, "name": name, "region_id": org.region(region)}))
            .await;
    }
    let cookie = format!("lw_session={}", org.admin);
    let with = [("cookie", cookie.as_str())];
    let (status, _, page) = app.fetch_with("/dealers?q=%E7%A6%8F%E7%94%B0", &with).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("深圳福田车行") && !page.contains("杭州车行"));
    let (_, _, all) = app.fetch_with("/dealers", &with).await;
    assert!(all.contains("&#60;img src=x onerror=alert(1)&#62;") && !all.contains("<img src=x"), "{all}");
    // Without the permission, no page.
    let nobody = app.login("nobody").await;
    assert_eq!(
        app.fetch_with("/dealers", &[("cookie", &*format!("lw_session={nobody}"))]).await.0,
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_engine_cut_is_requested_on_the_vehicle_and_approved_in_the_inbox(pool: PgPool) {
    let app = App::new(pool.clone()).await;
    let org = org(&app).await;
    let stages = json!([{"name": "风控审批", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    app.create(
        &org.admin,
        "/api/v1/workflow-definitions",
        json!({"key": "engine_cut", "name": "断油电", "stages": stages}),
    )
    .await;
    let vehicle: i64 = sqlx::query_scalar(
        "INSERT INTO vehicles (vin, plate, region_id, status) VALUES ('LSVCONSOLE0000001', '粤B12345', $1, 'financed') RETURNING id",
    )
    .bind(org.region("SZ"))
    .fetch_one(&pool)
    .await
    .unwrap();
    let device: i64 = sqlx::query_scalar(
        "INSERT INTO devices (imei, protocol, kind, vehicle_id) VALUES ('861000000000042', 'gt06', 'wired', $1) RETURNING id",
    )
    .bind(vehicle)
    .fetch_one(&pool)
    .await
    .unwrap();

    let cookie = format!("lw_session={}", org.admin);
    let with = [("cookie", cookie.as_str())];
    // On the map at its tracker's last fix.
    sqlx::query(
        "INSERT INTO device_state (device_id, fix_time, server_time, latitude, longitude, speed_kmh, course, valid)
         VALUES ($1, now(), now(), 22.54, 114.06, 0, 0, true)",
    )
    .bind(device)
    .execute(&pool)
    .await
    .unwrap();
    let (status, _, fixes) = app.fetch_with("/map/vehicles.json", &with).await;
    assert_eq!(status, StatusCode::OK);
    let fixes: serde_json::Value = serde_json::from_str(&fixes).unwrap();
    assert_eq!(fixes, json!([[vehicle, 22.54, 114.06, null, 0, "粤B12345"]]));
    let (status, _, page) = app.fetch_with(&format!("/vehicles/{vehicle}"), &with).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("粤B12345") && page.contains("861000000000042") && page.contains("有线"));
    let csrf = home_csrf(&app, &with).await;
    let path = format!("/vehicles/{vehicle}/devices/{device}/commands");
    let (status, _, refused) = app.post_form(&path, &format!("csrf={csrf}&command=engine_cut&reason="), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a reason is needed: {refused}");
    assert!(refused.contains(r#"data-field="reason""#));
    let form = format!("csrf={csrf}&command=engine_cut&reason=M2%20at%20a%20pawn%20shop");
    let (status, _, _) = app.post_form(&path, &form, &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, waiting) = app.fetch_with(&format!("/vehicles/{vehicle}"), &with).await;
    assert!(waiting.contains(r#"aria-label="待审批""#), "{waiting}");

    // A second person approves it in their inbox; the command is then on its way.
    let approver = app.login("final").await;
    let approver = format!("lw_session={approver}");
    let approver = [("cookie", approver.as_str())];
    let (_, _, inbox) = app.fetch_with("/workflow", &approver).await;
    let at = inbox.find("/workflow/tasks/").expect("the engine cut waits in the inbox");
    let task = &inbox[at..at + inbox[at..].find('"').unwrap()];
    let csrf = home_csrf(&app, &approver).await;
    let (status, _, _) = app.post_form(task, &format!("csrf={csrf}&action=approve&note=located"), &approver).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, approved) = app.fetch_with(&format!("/vehicles/{vehicle}"), &with).await;
    assert!(approved.contains(r#"aria-label="排队中""#), "{approved}");
    assert_eq!(approved.matches(r#"<li class="done">"#).count(), 2, "requested and approved");
}

#[sqlx::test(migrations = "../migrations")]
async fn one_box_finds_contracts_vehicles_and_customers_in_the_region(pool: PgPool) {
    let app = App::new(pool.clone()).await;
    let org = org(&app).await;
    let start = chrono::Utc::now().date_naive() - chrono::Duration::days(40);
    let mut csv =
        "number,region,principal,annual_rate,term,method,start_date,customer_name,id_number,phone,vin,plate\n"
            .to_owned();
    for row in [
        "HT-2026-001,SZ,90000,0.1,36,equal-installment,{start},王小明,11010519491231002X,13812345678,LSVAB4BR3EN000101,粤B12345",
        "HT-2026-002,SZ,90000,0.1,36,equal-installment,{start},李四,,+86 139 0000 1111,LSVAB4BR9EN000202,粤B67890",
        "HT-2026-003,ZJ,90000,0.1,36,equal-installment,{start},王小明,,13700000000,LSVAB4BR4EN000303,浙A11111",
    ] {
        csv.push_str(&row.replace("{start}", &start.to_string()));
        csv.push('\n');
    }
    import_book(&app, &csv).await;
    sqlx::query(
        "INSERT INTO devices (imei, protocol, vehicle_id) SELECT '861000000000777', 'gt06', id FROM vehicles WHERE vin = 'LSVAB4BR9EN000202'",
    )
    .execute(&pool)
    .await
    .unwrap();
    app.create(
        &org.admin,
        "/api/v1/roles",
        json!({"name": "desk", "permissions": ["contracts.read", "vehicles.read", "customers.read"]}),
    )
    .await;
    let body = json!({"username": "gd_desk", "display_name": "GD desk", "password": PASSWORD,
                      "phone": "13812345678", "region_id": org.region("GD"), "roles": ["desk"], "positions": []});
    app.create(&org.admin, "/api/v1/users", body).await;
    let token = app.login("gd_desk").await;
    let cookie = format!("lw_session={token}");
    let with = [("cookie", cookie.as_str())];
    let go = async |q: &str| {
        let path = format!("/search?{}", serde_urlencoded::to_string([("q", q)]).unwrap());
        let (status, headers, body) = app.fetch_all(&path, &with).await;
        (status, headers.get("location").map(|l| l.to_str().unwrap().to_owned()), body)
    };
    let vehicle = |vin: &str| {
        let pool = pool.clone();
        let vin = vin.to_owned();
        async move {
            let id: i64 =
                sqlx::query_scalar("SELECT id FROM vehicles WHERE vin = $1").bind(vin).fetch_one(&pool).await.unwrap();
            format!("/vehicles/{id}")
        }
    };
    // One hit goes straight to its page.
    assert_eq!(go("ht-2026-001").await.1, Some(format!("/contracts/{}", contract_id(&pool, "HT-2026-001").await)));
    assert_eq!(go("粤B 12345").await.1, Some(vehicle("LSVAB4BR3EN000101").await));
    assert_eq!(go("000202").await.1, Some(vehicle("LSVAB4BR9EN000202").await), "a VIN's tail");
    assert_eq!(go("861000000000777").await.1, Some(vehicle("LSVAB4BR9EN000202").await), "a tracker's IMEI");
    // Customers by name, ID number and phone (through the blind index), this region's only.
    let (_, _, by_name) = go("王小明").await;
    assert!(by_name.contains("HT-2026-001") && !by_name.contains("HT-2026-003"), "{by_name}");
    assert!(go("11010519491231002x").await.2.contains("HT-2026-001"));
    assert!(go("139-0000-1111").await.2.contains("HT-2026-002"), "the phone typed another way");
    assert!(go("浙A11111").await.2.contains("没有找到"));
    assert!(go("H").await.2.contains("field-error"));
}

#[sqlx::test(migrations = "../migrations")]
async fn every_console_page_loads_only_what_the_daemon_serves(pool: PgPool) {
    let app = App::new(pool.clone()).await;
    let org = org(&app).await;
    let start = chrono::Utc::now().date_naive() - chrono::Duration::days(40);
    let csv = format!(
        "number,region,principal,annual_rate,term,method,start_date,customer_name,vin,plate\n\
         HT-1,SZ,90000,0.1,12,equal-installment,{start},王小明,LSVAB4BR3EN000101,粤B12345\n"
    );
    import_book(&app, &csv).await;
    app.create(
        &org.admin,
        "/api/v1/dealers",
        json!({"code": "D-1", "name": "深圳车行", "region_id": org.region("SZ")}),
    )
    .await;
    let rules = json!({
        "method": "equal-installment",
        "rates": [{"term": 36, "min_down_payment": "0.2", "annual_rate": "0.0999"}],
        "fees": [{"name": "GPS", "amount": "1500", "financed": true}],
        "deposit_ratio": "0.05"
    });
    app.create(&org.admin, "/api/v1/products", json!({"code": "car_36", "name": "新车36期", "rules": rules})).await;
    let cookie = format!("lw_session={}", org.admin);
    let with = [("cookie", cookie.as_str())];
    // Every page reachable by links from the dashboard, and everything each one loads.
    let mut pending = vec!["/".to_owned(), "/search?q=HT".to_owned(), "/login".to_owned()];
    let mut seen: Vec<String> = Vec::new();
    while let Some(path) = pending.pop() {
        if seen.contains(&path) || seen.len() > 300 {
            continue;
        }
        seen.push(path.clone());
        let (status, headers, body) = app.fetch_all(&path, &with).await;
        assert!(status.is_success() || status.is_redirection(), "{path}: {status}");
        let media_type = headers.get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        // Scripts are code, not markup: what they load is what the pages and styles name.
        let markup = media_type.starts_with("text/html") || media_type.starts_with("text/css");
        for reference in references(&body).into_iter().filter(|_| markup) {
            assert!(!reference.contains("://") && !reference.starts_with("//"), "{path} refers to {reference}");
            // Relative to the referring file, as the browser resolves them.
            let reference = if reference.starts_with('/') {
                reference
            } else {
                format!("{}{reference}", &path[..path.rfind('/').unwrap_or(0) + 1])
            };
            // Pages are followed once each (sorting and paging links repeat their page); exports,
            // sign-out and the language switch are not pages.
            let page = !reference.contains('?') && !reference.starts_with("/lang/") && reference != "/logout";
            if (media_type.starts_with("text/html") && page) || reference.starts_with("/assets/") {
                pending.push(reference);
            }
        }
        for cdn in ["jsdelivr", "unpkg.com", "cdnjs", "googleapis", "gstatic", "bootcdn", "staticfile.org"] {
            assert!(!body.contains(cdn), "{path} mentions {cdn}");
        }
    }
    assert!(seen.iter().any(|p| p.starts_with("/contracts/")), "{seen:?}");
    assert!(seen.iter().any(|p| p.starts_with("/vehicles/")), "{seen:?}");
    let product = seen.iter().find(|p| p.starts_with("/products/")).expect("a product page");
    let (_, _, page) = app.fetch_with(product, &with).await;
    assert!(page.contains("9.99%") && page.contains("等额本息") && page.contains("¥1,500.00"), "{page}");
    assert!(seen.iter().any(|p| p.starts_with("/assets/htmx")), "{seen:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn alerts_arrive_on_the_board_live_and_leave_it_when_resolved(pool: PgPool) {
    use futures_util::StreamExt;
    use leasewatch_monitor::rules::{Rule, Severity};
    use tower::ServiceExt;

    let app = App::new(pool).await;
    let org = org(&app).await;
    let (vehicle, contract, _) = crate::monitor::financed(&app, org.region("SZ"), 7).await;
    let cookie = format!("lw_session={}", org.admin);
    let with = [("cookie", cookie.as_str())];
    // The board's feed: the session cookie is enough, as a browser's EventSource sends it.
    let request = axum::http::Request::get("/alerts/stream").header("cookie", &cookie).body(axum::body::Body::empty());
    let response = app.router.clone().oneshot(request.unwrap()).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = response.into_body().into_data_stream();
    let id = crate::monitor::raise(&app, vehicle, contract, org.region("SZ"), Rule::PowerCut, Severity::High).await;
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(2), events.next()).await;
    let chunk = String::from_utf8(chunk.expect("within 2 s").unwrap().unwrap().to_vec()).unwrap();
    assert!(chunk.contains("event: opened") && chunk.contains(&format!("\"id\":{id}")), "{chunk}");

    let (_, _, board) = app.fetch_with("/alerts?status=unresolved", &with).await;
    assert!(board.contains(&format!("/alerts/{id}")) && board.contains("/assets/alerts.js"), "{board}");
    let (status, _, page) = app.fetch_with(&format!("/alerts/{id}"), &with).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!(r#"href="/contracts/{contract}""#)), "to the contract page: {page}");
    let csrf = home_csrf(&app, &with).await;
    let path = format!("/alerts/{id}");
    let (status, _, _) = app.post_form(&path, &format!("csrf={csrf}&action=acknowledge&note=calling"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, refused) = app.post_form(&path, &format!("csrf={csrf}&action=resolve&resolution="), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="resolution""#), "{refused}");
    let (status, _, _) = app.post_form(&path, &format!("csrf={csrf}&action=resolve&resolution=paid"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, board) = app.fetch_with("/alerts?status=unresolved", &with).await;
    assert!(!board.contains(&format!("/alerts/{id}\"")), "resolved alerts leave the open list");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_collector_claims_a_task_of_the_group_and_records_its_outcome(pool: PgPool) {
    use leasewatch_monitor::rules::{Rule, Severity};

    let app = App::new(pool).await;
    let org = org(&app).await;
    app.create(&org.admin, "/api/v1/positions", json!({"code": "collection", "name": "催收员"})).await;
    let lead =
        crate::monitor::staff(&app, &org, "lead", "SZ", &["tasks.read", "tasks.write", "alerts.read"], &[]).await;
    let collector =
        crate::monitor::staff(&app, &org, "collector", "FT", &["tasks.read", "tasks.write"], &["collection"]).await;
    let (vehicle, contract, _) = crate::monitor::financed(&app, org.region("FT"), 3).await;
    let alert = crate::monitor::raise(&app, vehicle, contract, org.region("FT"), Rule::PowerCut, Severity::High).await;
    let task = app.post("/api/v1/risk-tasks", &lead, json!({"kind": "collection", "alert_ids": [alert]})).await;
    let id = task.body["id"].as_i64().unwrap();

    let cookie = format!("lw_session={collector}");
    let with = [("cookie", cookie.as_str())];
    let (status, _, mine) = app.fetch_with("/tasks?mine=true", &with).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert!(!mine.contains(&format!("/tasks/{id}\"")), "nobody's yet: {mine}");
    let (_, _, group) = app.fetch_with("/tasks?group=true", &with).await;
    assert!(group.contains(&format!("/tasks/{id}\"")), "the collection group's: {group}");

    let path = format!("/tasks/{id}");
    let (_, _, page) = app.fetch_with(&path, &with).await;
    assert!(page.contains(&format!("/alerts/{alert}")) && page.contains(r#"id="claim""#), "{page}");
    let csrf = home_csrf(&app, &with).await;
    let (status, _, _) = app.post_form(&path, "action=claim", &with).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token, no change");
    let (status, _, _) = app.post_form(&path, &format!("csrf={csrf}&action=claim"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, mine) = app.fetch_with("/tasks?mine=true", &with).await;
    assert!(mine.contains(&format!("/tasks/{id}\"")), "now mine: {mine}");

    let (status, _, refused) =
        app.post_form(&path, &format!("csrf={csrf}&action=close&outcome=done&note="), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="note""#), "the note is asked for beside its field: {refused}");
    let body = format!("csrf={csrf}&action=close&outcome=done&note=%E5%B7%B2%E8%BF%98%E6%AC%BE");
    let (status, _, _) = app.post_form(&path, &body, &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = app.fetch_with(&path, &with).await;
    assert!(page.contains("已还款") && !page.contains(r#"id="close""#), "{page}");

    // The contract's page gathers its vehicle, risk score with reasons, alerts, tasks and trail.
    leasewatch_monitor::risk::recompute(&app.pool, Some(&[contract]), chrono::Utc::now()).await.unwrap();
    let admin = format!("lw_session={}", org.admin);
    let with = [("cookie", admin.as_str())];
    let (status, _, page) = app.fetch_with(&format!("/contracts/{contract}"), &with).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!(r#"href="/vehicles/{vehicle}""#)), "{page}");
    assert!(page.contains(r#"id="risk-score""#) && page.contains("逾期天数 +16"), "40 days past due: {page}");
    assert!(page.contains(&format!(r#"href="/alerts/{alert}""#)) && page.contains(&format!(r#"href="/tasks/{id}""#)));
    let (_, _, page) = app.fetch_with(&format!("/vehicles/{vehicle}"), &with).await;
    assert!(page.contains(&format!(r#"href="/alerts/{alert}""#)) && page.contains("无定位"), "{page}");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_administrator_edits_a_user_on_the_system_pages(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let cookie = format!("lw_session={}", org.admin);
    let with = [("cookie", cookie.as_str())];
    for (path, expected) in [
        ("/system/users?q=second", "second_b"),
        ("/system/roles", "reviewer"),
        ("/system/positions", "final_reviewer"),
        ("/system/regions", "FT"),
    ] {
        let (status, _, page) = app.fetch_with(path, &with).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(page.contains(expected) && page.contains(r#"class="tabs""#), "{path}: {page}");
    }
    let id = org.user("first");
    let path = format!("/system/users/{id}");
    let (_, _, page) = app.fetch_with(&path, &with).await;
    assert!(page.contains(r#"name="roles" value="reviewer" checked"#), "{page}");
    let marker = r#"name="version" value=""#;
    let at = page.find(marker).unwrap() + marker.len();
    let version = &page[at..at + page[at..].find('"').unwrap()];
    let csrf = home_csrf(&app, &with).await;
    let form = |phone: &str| {
        format!(
            "csrf={csrf}&action=save&version={version}&display_name=First&phone={phone}&region_id={}&active=true\
             &roles=reviewer&roles=requester&positions=first_reviewer&positions=second_reviewer",
            org.region("GD")
        )
    };
    let (status, _, refused) = app.post_form(&path, &form("not-a-phone"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="phone""#), "beside the phone: {refused}");
    assert!(refused.contains(r#"name="roles" value="requester" checked"#), "what was ticked stays: {refused}");
    let (status, headers, saved) = app.post_form(&path, &form(""), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{saved}");
    assert_eq!(headers["location"], format!("/system/users/{id}?done=saved"));
    let user = app.get(&format!("/api/v1/users/{id}"), &org.admin).await;
    assert_eq!(user.body["roles"], json!(["requester", "reviewer"]), "{}", user.body);
    assert_eq!(user.body["positions"], json!(["first_reviewer", "second_reviewer"]));
    assert_eq!(user.body["region_id"], org.region("GD"));
    // The same form sent again carries a stale version: said at the top, nothing changed.
    let (status, _, stale) = app.post_form(&path, &form(""), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{stale}");
    assert!(stale.contains("form-error"), "{stale}");
    // The monitor's settings: risk locations and rule thresholds.
    let place = json!({"name": "<b>福田典当行</b>", "kind": "pawn_shop", "latitude": 22.54, "longitude": 114.06,
                       "radius_m": 300, "region_id": org.region("SZ")});
    app.create(&org.admin, "/api/v1/risk-locations", place).await;
    let rule = json!({"rule": "tow", "scope": "region", "scope_id": org.region("GD"), "params": {"tow_after_s": 60}});
    app.create(&org.admin, "/api/v1/monitor/rules", rule).await;
    let (status, _, places) = app.fetch_with("/monitor/risk-locations", &with).await;
    assert_eq!(status, StatusCode::OK, "{places}");
    assert!(places.contains("&#60;b&#62;福田典当行") && places.contains("22.54000, 114.06000"), "{places}");
    let (_, _, rules) = app.fetch_with("/monitor/rules", &with).await;
    assert!(
        rules.contains(r#"href="/monitor/rules/tow""#) && rules.contains(r#"href="/monitor/risk-locations""#),
        "{rules}"
    );
    // The map draws them and the geofences as layers, and filters vehicles by region and status.
    let circle = json!({"circle": {"latitude": 22.54, "longitude": 114.06, "radius_m": 500}});
    let fence = json!({"name": "Futian", "scope": "region", "scope_id": org.region("FT"), "shape": circle,
                       "trigger": "exit", "region_id": org.region("SZ")});
    app.create(&org.admin, "/api/v1/geofences", fence).await;
    let (_, _, layer) = app.fetch_with("/map/places.json", &with).await;
    let layer: serde_json::Value = serde_json::from_str(&layer).unwrap();
    assert_eq!(layer["risk_locations"], json!([[22.54, 114.06, 300, "<b>福田典当行</b>"]]));
    assert_eq!(layer["geofences"][0][0], "Futian", "{layer}");
    assert_eq!(layer["geofences"][0][1]["circle"]["radius_m"], 500, "{layer}");
    // A track asked for with a day that is not one is refused, not guessed.
    let (status, _, _) = app.fetch_with("/map/track.json?vehicle_id=1&day=yesterday", &with).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A vehicle the user may not see, or none at all, answers alike.
    let (status, _, _) = app.fetch_with("/map/track.json?vehicle_id=999999&day=2026-12-01", &with).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, map) = app.fetch_with("/map", &with).await;
    assert!(
        map.contains(&format!(r#"<option value="{}">"#, org.region("FT"))) && map.contains(r#"value="repossessed""#)
    );
    // A region manager of Zhejiang cannot open a Guangdong user.
    let zj = format!("lw_session={}", app.login("zj_manager").await);
    assert_eq!(app.fetch_with(&path, &[("cookie", zj.as_str())]).await.0, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn rule_thresholds_and_risk_locations_are_set_on_their_pages(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let cookie = format!("lw_session={}", org.admin);
    let with = [("cookie", cookie.as_str())];
    let csrf = home_csrf(&app, &with).await;

    // Every rule is listed in words, and its page offers each of its thresholds with the default.
    let (_, _, rules) = app.fetch_with("/monitor/rules", &with).await;
    assert!(rules.contains("拖车 (tow)") && rules.contains(r#"href="/monitor/rules/resident_away""#), "{rules}");
    let (status, _, page) = app.fetch_with("/monitor/rules/tow", &with).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(r#"name="param_tow_after_s""#) && page.contains("拖车判定（秒） (默认 120)"), "{page}");
    assert!(page.contains(r#"<option value="global""#), "the head office may set company-wide: {page}");
    assert_eq!(app.fetch_with("/monitor/rules/no_such_rule", &with).await.0, StatusCode::NOT_FOUND);

    // A threshold of the wrong kind is refused beside its field, with what was typed kept.
    let gd = org.region("GD");
    let form = |after: &str| {
        format!("csrf={csrf}&scope=region:{gd}&enabled=true&param_tow_speed_kmh=&param_tow_after_s={after}")
    };
    let (status, _, refused) = app.post_form("/monitor/rules/tow", &form("2.5"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="param_tow_after_s""#) && refused.contains(r#"value="2.5""#), "{refused}");
    let (status, headers, _) = app.post_form("/monitor/rules/tow", &form("120"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/monitor/rules/tow?done=saved");
    let set = app.get("/api/v1/monitor/rules?rule=tow", &org.admin).await;
    assert_eq!(set.body[0]["scope"], "region");
    assert_eq!(set.body[0]["scope_id"], gd);
    assert_eq!(set.body[0]["params"], json!({"tow_after_s": 120}), "an empty threshold is not set: {}", set.body);
    let (_, _, page) = app.fetch_with("/monitor/rules/tow?done=saved", &with).await;
    assert!(page.contains(r#"id="done""#) && page.contains("拖车判定（秒） = 120"), "{page}");
    // Without the form's token nothing is set.
    let (status, _, _) = app.post_form("/monitor/rules/tow", &form("90").replace(&csrf, "forged"), &with).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A risk location is added on its page: a missing coordinate is said beside the field.
    let (_, _, list) = app.fetch_with("/monitor/risk-locations", &with).await;
    assert!(list.contains(r#"href="/monitor/risk-locations/new""#), "{list}");
    let sz = org.region("SZ");
    let new = |latitude: &str| {
        format!(
            "csrf={csrf}&name=%E7%A6%8F%E7%94%B0%E5%85%B8%E5%BD%93%E8%A1%8C&kind=pawn_shop&latitude={latitude}&longitude=114.06&radius_m=300&region_id={sz}"
        )
    };
    let (status, _, refused) = app.post_form("/monitor/risk-locations/new", &new(""), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="latitude""#) && refused.contains("福田典当行"), "{refused}");
    let (status, _, refused) = app.post_form("/monitor/risk-locations/new", &new("95"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.contains(r#"data-field="latitude""#), "{refused}");
    let (status, headers, _) = app.post_form("/monitor/risk-locations/new", &new("22.54"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers["location"].to_str().unwrap().to_owned();
    let path = location.trim_end_matches("?done=saved").to_owned();
    let (_, _, page) = app.fetch_with(&location, &with).await;
    assert!(
        page.contains("典当行") && page.contains("22.540000, 114.060000") && page.contains(r#"id="done""#),
        "{page}"
    );
    // Its page changes the radius and stops watching it; a radius out of bounds is refused.
    let edit = |radius: &str| format!("csrf={csrf}&version=1&name=Futian&radius_m={radius}&active=false");
    let (status, _, refused) = app.post_form(&path, &edit("5"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="radius_m""#) && refused.contains(r#"value="5""#), "{refused}");
    let (status, _, _) = app.post_form(&path, &edit("500"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let stored = app.get("/api/v1/risk-locations", &org.admin).await;
    assert_eq!(stored.body["items"][0]["radius_m"], 500);
    assert_eq!(stored.body["items"][0]["active"], false);
    assert_eq!(stored.body["items"][0]["name"], "Futian");
    // The same form again carries the old version: refused at the top.
    let (status, _, stale) = app.post_form(&path, &edit("600"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stale.contains("form-error"), "{stale}");
    // Zhejiang's manager cannot open a Shenzhen location.
    let zj = format!("lw_session={}", app.login("zj_manager").await);
    assert_eq!(app.fetch_with(&path, &[("cookie", zj.as_str())]).await.0, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn users_roles_and_regions_are_added_on_the_system_pages(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let cookie = format!("lw_session={}", org.admin);
    let with = [("cookie", cookie.as_str())];
    let csrf = home_csrf(&app, &with).await;

    // A role: its permissions are ticked from the catalogue, in words.
    let (_, _, roles) = app.fetch_with("/system/roles", &with).await;
    assert!(roles.contains(r#"href="/system/roles/new""#), "{roles}");
    let (_, _, page) = app.fetch_with("/system/roles/new", &with).await;
    assert!(page.contains(r#"value="alerts.act""#) && page.contains("确认与关闭告警 (alerts.act)"), "{page}");
    let role =
        |name: &str| format!("csrf={csrf}&name={name}&description=&permissions=alerts.read&permissions=alerts.act");
    let (status, _, refused) = app.post_form("/system/roles/new", &role("+"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="name""#), "{refused}");
    assert!(refused.contains(r#"name="permissions" value="alerts.act" checked"#), "ticks stay: {refused}");
    let (status, headers, _) = app.post_form("/system/roles/new", &role("watcher"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let path = headers["location"].to_str().unwrap().trim_end_matches("?done=saved").to_owned();
    let (_, _, page) = app.fetch_with(&path, &with).await;
    assert!(page.contains(r#"value="watcher""#) && page.contains(r#"name="permissions" value="alerts.read" checked"#));
    // Editing replaces the permissions; a permission the editor does not hold cannot be granted.
    let edit = format!("csrf={csrf}&version=1&name=watcher&description=Alert+desk&permissions=alerts.read");
    assert_eq!(app.post_form(&path, &edit, &with).await.0, StatusCode::SEE_OTHER);
    let gd = format!("lw_session={}", app.login("gd_manager").await);
    let gd_with = [("cookie", gd.as_str())];
    let (status, _, _) = app.post_form(&path, &edit.replace("version=1", "version=2"), &gd_with).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "roles.write is not the user manager's");
    // The administrator's own role is shown, not edited.
    let builtin: i64 = sqlx::query_scalar("SELECT id FROM roles WHERE builtin").fetch_one(&app.pool).await.unwrap();
    let (_, _, page) = app.fetch_with(&format!("/system/roles/{builtin}"), &with).await;
    assert!(page.contains(r#"id="builtin""#) && !page.contains(r#"id="save""#), "{page}");

    // A user: the initial password must meet the policy, said beside it and never shown again.
    let sz = org.region("SZ");
    let user = |password: &str| {
        format!(
            "csrf={csrf}&username=desk1&password={password}&display_name=Desk&phone=13800000000&region_id={sz}&roles=watcher"
        )
    };
    let (status, _, refused) = app.post_form("/system/users/new", &user("short"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="password""#) && !refused.contains(r#"value="short""#), "{refused}");
    assert!(refused.contains(r#"value="desk1""#) && refused.contains(r#"name="roles" value="watcher" checked"#));
    let (status, headers, _) = app.post_form("/system/users/new", &user(PASSWORD), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers["location"].to_str().unwrap().starts_with("/system/users/"));
    let token = app.login("desk1").await;
    let (status, _, _) = app.fetch_with("/alerts", &[("cookie", &format!("lw_session={token}"))]).await;
    assert_eq!(status, StatusCode::OK, "the new user signs in and opens what the role allows");

    // A position: its code is checked beside the field.
    let position = |code: &str| format!("csrf={csrf}&code={code}&name=%E5%A4%96%E8%AE%BF%E5%91%98&description=");
    let (status, _, refused) = app.post_form("/system/positions/new", &position("Home+Visit"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="code""#) && refused.contains("外访员"), "{refused}");
    assert_eq!(app.post_form("/system/positions/new", &position("home_visitor"), &with).await.0, StatusCode::SEE_OTHER);
    let (_, _, list) = app.fetch_with("/system/positions", &with).await;
    assert!(list.contains("home_visitor") && list.contains(r#"href="/system/positions/new""#), "{list}");

    // A region, under one of the user's subtree and below its parent's level.
    let (_, _, page) = app.fetch_with("/system/regions/new", &with).await;
    assert!(page.contains(r#"name="parent_id""#) && page.contains("网点"), "{page}");
    let region = |level: &str| format!("csrf={csrf}&parent_id={sz}&code=SZ-NS&name=%E5%8D%97%E5%B1%B1&level={level}");
    let (status, _, refused) = app.post_form("/system/regions/new", &region("province"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="level""#) && refused.contains("南山"), "{refused}");
    let (status, headers, _) = app.post_form("/system/regions/new", &region("branch"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, list) = app.fetch_with(headers["location"].to_str().unwrap(), &with).await;
    assert!(list.contains("南山") && list.contains("SZ-NS"), "{list}");
    // A user manager without regions.write adds none.
    let zj = format!("lw_session={}", app.login("zj_manager").await);
    let zj_with = [("cookie", zj.as_str())];
    let zj_csrf = home_csrf(&app, &zj_with).await;
    let body = region("branch").replace(&csrf, &zj_csrf).replace("SZ-NS", "SZ-X");
    assert_eq!(app.post_form("/system/regions/new", &body, &zj_with).await.0, StatusCode::FORBIDDEN);

    // Settings: each with its bounds; a value out of them refused beside it, one within kept.
    let (_, _, page) = app.fetch_with("/system/settings", &with).await;
    assert!(page.contains(r#"id="form-postloan.contacts_per_day""#) && page.contains("1–20 · 默认 3"), "{page}");
    let cookie = cookie.as_str();
    let setting = |value: &'static str| {
        vec![("csrf", csrf.clone()), ("action", "postloan.contacts_per_day".into()), ("value", value.into())]
    };
    let (status, refused) = crate::repossession::post_multipart(
        &app,
        "/system/settings",
        cookie,
        &crate::repossession::pairs(&setting("50")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="value""#) && refused.contains("between 1 and 20"), "{refused}");
    let (status, _) = crate::repossession::post_multipart(
        &app,
        "/system/settings",
        cookie,
        &crate::repossession::pairs(&setting("5")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let all = app.get("/api/v1/settings", &org.admin).await.body;
    let set = all.as_array().unwrap().iter().find(|s| s["key"] == "postloan.contacts_per_day").unwrap().clone();
    assert_eq!((set["value"].as_i64(), set["version"].as_i64()), (Some(5), Some(1)), "{set}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_products_next_version_is_made_from_its_page(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let cookie = format!("lw_session={}", org.admin);
    let with = [("cookie", cookie.as_str())];
    let csrf = home_csrf(&app, &with).await;
    let rules = json!({
        "method": "equal-installment",
        "rates": [{"term": 36, "min_down_payment": "0.2", "annual_rate": "0.08995"},
                  {"term": 24, "min_down_payment": "0.3", "annual_rate": "0.07", "dealer_tier": "A"}],
        "fees": [{"name": "GPS", "amount": "1500", "financed": true}],
        "deposit_ratio": "0.05",
        "penalty": {"daily_rate": "0.0007", "grace_days": 5, "base": "principal", "rounding": "half-up"}
    });
    let first =
        app.create(&org.admin, "/api/v1/products", json!({"code": "car", "name": "新车", "rules": rules})).await;
    let path = format!("/products/{first}");
    // The form starts from this version, exactly: a rate is not rounded on its way through.
    let (_, _, page) = app.fetch_with(&path, &with).await;
    assert!(page.contains("36, 20%, 8.995%\n24, 30%, 7%, , A"), "{page}");
    assert!(page.contains("GPS, 1500, financed") && page.contains(r#"value="5%""#), "{page}");

    let form = |rates: &str| {
        serde_urlencoded::to_string([
            ("csrf", csrf.as_str()),
            ("name", "新车 2027"),
            ("method", "equal_principal"),
            ("deposit_ratio", "0.1"),
            ("residual_ratio", "0%"),
            ("rates", rates),
            ("fees", "GPS, 1800, financed"),
        ])
        .unwrap()
    };
    // A wrong line is said beside the table with its number; nothing is made.
    let (status, _, refused) = app.post_form(&path, &form("36, 20%, 8.5%\n24, 30%, 150%"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.contains(r#"data-field="rates""#) && refused.contains("line 2: must be a fraction between 0 and 1"),
        "{refused}"
    );
    assert!(refused.contains("24, 30%, 150%"), "what was typed stays: {refused}");
    let (status, _, refused) = app.post_form(&path, &form("36, twenty, 8.5%"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("line 1: `twenty` is not a percentage or a fraction"), "{refused}");
    // A good table makes version 2; the rules not on the form are carried over.
    let (status, headers, _) = app.post_form(&path, &form("36, 20%, 8.5%\n48, 25%, 9%"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let next = headers["location"].to_str().unwrap().to_owned();
    let id: i64 = next.trim_start_matches("/products/").trim_end_matches("?done=saved").parse().unwrap();
    let made = app.get(&format!("/api/v1/products/{id}"), &org.admin).await;
    assert_eq!((made.body["code"].as_str(), made.body["version"].as_i64()), (Some("car"), Some(2)), "{}", made.body);
    assert_eq!(made.body["name"], "新车 2027");
    assert_eq!(made.body["rules"]["method"], "equal-principal");
    assert_eq!(
        made.body["rules"]["rates"][1],
        json!({"term": 48, "min_down_payment": "0.25", "annual_rate": "0.09", "vehicle_type": null, "dealer_tier": null})
    );
    assert_eq!(made.body["rules"]["fees"][0]["amount"], "1800");
    assert_eq!(made.body["rules"]["deposit_ratio"], "0.1");
    assert_eq!(made.body["rules"]["penalty"]["base"], "principal");
    let (_, _, page) = app.fetch_with(&next, &with).await;
    assert!(page.contains(r#"id="done""#) && page.contains("等额本金"), "{page}");
    // Version 1 stays as it was.
    let old = app.get(&format!("/api/v1/products/{first}"), &org.admin).await;
    assert_eq!(old.body["rules"]["rates"][0]["annual_rate"], "0.08995");
    // Reading products is not making them.
    let zj = format!("lw_session={}", app.login("zj_manager").await);
    assert_eq!(app.post_form(&path, &form("36, 20%, 8.5%"), &[("cookie", zj.as_str())]).await.0, StatusCode::FORBIDDEN);
}
