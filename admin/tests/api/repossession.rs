//! Taking the car back and selling it: one contract walked from overdue to closed, and the
//! repossession and disposal rules a company relies on on the way.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use backoffice::kit::day::company_today;
use chrono::{Duration, Utc};
use leasewatch_monitor::{engine, store, tasks, watch::Watch};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::monitor::staff;
use crate::support::{App, Org, org};

const OFFSET: i32 = 8;

/// Every transaction of the ledger balances, and the whole ledger too.
async fn ledger_balances(pool: &PgPool, step: &str) {
    let unbalanced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY transaction_id
                                HAVING sum(debit) <> sum(credit)) t",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let (debits, credits): (rust_decimal::Decimal, rust_decimal::Decimal) =
        sqlx::query_as("SELECT COALESCE(sum(debit), 0), COALESCE(sum(credit), 0) FROM ledger_entries")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((unbalanced, debits), (0, credits), "the ledger balances after {step}");
}

/// A contract's balance on `account` (debits − credits).
async fn balance(pool: &PgPool, contract: i64, account: &str) -> String {
    let mut value: rust_decimal::Decimal = sqlx::query_scalar(
        "SELECT COALESCE(sum(e.debit - e.credit), 0) FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
         WHERE t.contract_id = $1 AND e.account = $2",
    )
    .bind(contract)
    .bind(account)
    .fetch_one(pool)
    .await
    .unwrap();
    value.rescale(2);
    value.to_string()
}

/// The checker (`final`) approves the waiting request on `subject_type`.
async fn approve(app: &App, subject_type: &str) {
    let checker = app.login("final").await;
    let inbox = app.get("/api/v1/workflow-tasks", &checker).await;
    let task = inbox.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["subject_type"] == subject_type)
        .unwrap_or_else(|| panic!("no {subject_type} waiting: {}", inbox.body))["id"]
        .as_i64()
        .unwrap();
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &checker, json!({})).await;
    let decided =
        app.post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), &checker, json!({"note": "ok"})).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
}

/// The approvals of post-loan money, each one stage for a `final_reviewer`.
async fn define_approvals(app: &App, org: &Org) {
    let stage = json!([{"name": "复核", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    for key in ["postloan_charge", "vehicle_sale", "loss_write_off"] {
        app.create(&org.admin, "/api/v1/workflow-definitions", json!({"key": key, "name": key, "stages": stage})).await;
    }
}

/// Every hour of the day allowed for contacts, so the test does not depend on when it runs.
async fn contacts_any_hour(app: &App, org: &Org) {
    for (key, value) in [("postloan.contact_from_hour", 0), ("postloan.contact_until_hour", 24)] {
        let path = format!("/api/v1/settings/{key}");
        let reply = app.call(Method::PUT, &path, Some(&org.admin), Some(json!({"value": value, "version": 0}))).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
}

/// A tracker on `vehicle` that parked at one place from 22:00 to 06:00 every night of the last 20, and reports now.
async fn tracked(pool: &PgPool, vehicle: i64) -> i64 {
    let device: i64 = sqlx::query_scalar(
        "INSERT INTO devices (imei, protocol, vehicle_id) VALUES ('861000000770001', 'gt06', $1) RETURNING id",
    )
    .bind(vehicle)
    .fetch_one(pool)
    .await
    .unwrap();
    // 22:00 local (UTC+8) is 14:00 UTC.
    sqlx::query(
        "INSERT INTO positions (device_id, fix_time, server_time, latitude, longitude, speed_kmh, course, valid)
         SELECT $1, date_trunc('day', now()) - make_interval(days => d) - interval '10 hours' + make_interval(mins => m),
                now(), 22.6021, 114.0503, 0, 0, true
         FROM generate_series(1, 20) d, generate_series(0, 480, 60) m",
    )
    .bind(device)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO device_state (device_id, fix_time, server_time, latitude, longitude, speed_kmh, course, valid, ignition)
         VALUES ($1, now() - interval '5 minutes', now(), 22.5431, 114.0579, 0, 0, true, false)",
    )
    .bind(device)
    .execute(pool)
    .await
    .unwrap();
    device
}

/// A 1×1 PNG.
pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

/// Uploads `bytes` as an attachment sent as `content_type`; the reply's status and body.
pub(crate) async fn upload(app: &App, token: &str, bytes: &[u8], content_type: &str) -> (StatusCode, Value) {
    let request = axum::http::Request::post("/api/v1/attachments")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(axum::body::Body::from(bytes.to_vec()))
        .unwrap();
    let reply = app.raw(request).await;
    (reply.0, serde_json::from_slice(&reply.1).unwrap_or(Value::Null))
}

/// GETs `path` without signing in.
async fn anonymous(app: &App, path: &str) -> (StatusCode, Value) {
    let reply = app.call(Method::GET, path, None, None).await;
    (reply.status, reply.body)
}

#[sqlx::test(migrations = "../migrations")]
async fn an_overdue_contract_is_walked_to_its_repossession_sale_and_close(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let gd = org.region("GD");
    contacts_any_hour(&app, &org).await;
    define_approvals(&app, &org).await;
    let today = company_today(OFFSET);

    // The book: a 60,000 lease over 12 months started five months ago, one installment paid.
    let start = today.checked_sub_months(chrono::Months::new(5)).unwrap();
    let csv = format!(
        "number,region,principal,annual_rate,term,method,start_date,deposit,paid_periods,customer_name,id_number,phone,vin,plate\n\
         HT-WALK,SZ,60000,0.12,12,equal-installment,{start},3000,1,李四,11010519491231002X,13800000009,1M8GDM9AXKP042788,粤B12345\n"
    );
    let imported = app.post("/api/v1/contracts/import", &org.admin, json!({"csv": csv})).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    let contract =
        app.get("/api/v1/contracts?number=HT-WALK", &org.admin).await.body["items"][0]["id"].as_i64().unwrap();
    ledger_balances(&app.pool, "the import").await;

    // Overdue: the daily job finds four installments unpaid.
    backoffice::books::delinquency::run_through(&app.pool, today).await.unwrap();
    let detail = app.get(&format!("/api/v1/contracts/{contract}"), &org.admin).await.body;
    let (dpd, bucket) = (detail["contract"]["dpd"].as_i64().unwrap(), detail["contract"]["bucket"].as_i64().unwrap());
    assert!(dpd > 90 && bucket >= 4, "{detail}");
    ledger_balances(&app.pool, "the daily job").await;
    leasewatch_monitor::risk::score_unscored(&app.pool, Utc::now()).await.unwrap();

    // Distributed to a collector of the group that works the bucket.
    app.create(
        &org.admin,
        "/api/v1/roles",
        json!({"name": "collector", "permissions": ["contracts.read", "postloan.read", "postloan.collect"]}),
    )
    .await;
    let walker = app
        .create(
            &org.admin,
            "/api/v1/users",
            json!({"username": "walker", "display_name": "王催收", "password": crate::support::PASSWORD,
                "region_id": gd, "roles": ["collector"], "positions": []}),
        )
        .await;
    let group = json!({"code": "gd_all", "name": "广东全程", "region_id": gd, "buckets": [1, 2, 3, 4, 5, 6],
                       "members": [{"user_id": walker, "leader": true}]});
    app.create(&org.admin, "/api/v1/collection-groups", group).await;
    let run = app.post("/api/v1/collection-distribution/actions/run", &org.admin, json!({})).await;
    assert_eq!(run.body["assigned"], 1, "{}", run.body);
    let held = app.get(&format!("/api/v1/overdue-contracts?collector_id={walker}"), &org.admin).await.body;
    assert_eq!(held["items"][0]["number"], "HT-WALK", "{held}");

    // A call with a promise, broken: the daily job after its day marks it.
    let collector = app.login("walker").await;
    let due = today + Duration::days(1);
    let call = json!({"channel": "phone", "party": "customer", "result": "connected", "note": "明天还",
                      "promise_amount": "1000", "promise_date": due});
    let made = app.post(&format!("/api/v1/contracts/{contract}/contacts"), &collector, call).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let mut db = app.pool.acquire().await.unwrap();
    assert_eq!(backoffice::books::events::mark_promises(&mut db, due).await.unwrap(), (0, 1));
    drop(db);

    // The monitor proposes the repossession, with the night place and its hours.
    let vehicle = detail["contract"]["vehicle_id"].as_i64().unwrap();
    tracked(&app.pool, vehicle).await;
    let mut watch = Watch::new(Arc::new(engine::shipped_provinces()), OFFSET);
    store::refresh(&app.pool, &mut watch).await.unwrap();
    store::restore(&app.pool, &mut watch).await.unwrap();
    assert_eq!(tasks::propose_repossessions(&app.pool, &watch, Utc::now(), OFFSET).await.unwrap(), 1);
    let reposs = staff(
        &app,
        &org,
        "reposs",
        "GD",
        &["postloan.read", "postloan.repossess", "postloan.dispose", "tasks.read", "contracts.read"],
        &[],
    )
    .await;
    let checker = staff(&app, &org, "checker", "GD", &["postloan.read", "postloan.review"], &[]).await;
    let proposed = app.get("/api/v1/risk-tasks?kind=repossession", &reposs).await.body;
    let task = &proposed["items"][0];
    let night = &task["evidence"]["night_place"];
    assert_eq!(
        (night["latitude"].as_f64(), night["from_hour"].as_i64(), night["until_hour"].as_i64()),
        (Some(22.602), Some(22), Some(7)),
        "{task}"
    );

    // The order carries the evidence and goes to a company serving the region.
    let company = json!({"name": "鹏城收车服务有限公司", "licence": "91440300MA5XXXXX1", "region_id": gd, "served_region_ids": [gd],
                         "contact_name": "赵经理", "contact_phone": "13900000001", "fee_fixed": "1500", "fee_rate": "0.02"});
    let company = app.create(&reposs, "/api/v1/repossession-companies", company).await;
    let order = app.post("/api/v1/repossession-orders", &reposs, json!({"task_id": task["id"]})).await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
    assert_eq!(order.body["evidence"]["night_place"]["until_hour"], 7);
    let id = order.body["id"].as_i64().unwrap();
    let again = app.post("/api/v1/repossession-orders", &reposs, json!({"contract_id": contract})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "one live order per contract: {}", again.body);
    let order_path = format!("/api/v1/repossession-orders/{id}");
    let dispatch = json!({"version": 1, "company_id": company, "agent_name": "钱师傅", "agent_phone": "13700000002"});
    let dispatched = app.post(&format!("{order_path}/actions/dispatch"), &reposs, dispatch).await;
    assert_eq!(dispatched.body["status"], "dispatched", "{}", dispatched.body);

    // The agent's link shows this vehicle only while live; a revoked one shows nothing.
    let link = app.post(&format!("{order_path}/links"), &reposs, json!({"hours": 24})).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    let track = format!("/api/v1{}", link.body["path"].as_str().unwrap());
    let (status, seen) = anonymous(&app, &track).await;
    assert_eq!(
        (status, seen["plate"].as_str(), seen["latitude"].as_f64()),
        (StatusCode::OK, Some("粤B12345"), Some(22.5431)),
        "{seen}"
    );
    assert_eq!(seen.as_object().unwrap().len(), 8, "nothing but the vehicle and the link's expiry: {seen}");
    let other = app.post(&format!("{order_path}/links"), &reposs, json!({})).await.body;
    let revoked = app.post(&format!("{order_path}/links/{}/actions/revoke", other["id"]), &reposs, json!({})).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(anonymous(&app, &format!("/api/v1{}", other["path"].as_str().unwrap())).await.0, StatusCode::NOT_FOUND);

    // Recovery registered with a photo; a PDF passed off as a photo is refused.
    let (status, refused) = upload(&app, &reposs, b"%PDF-1.7 not a photo", "image/jpeg").await;
    assert_eq!(
        (status, refused["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("file")),
        "{refused}"
    );
    let (status, photo) = upload(&app, &reposs, PNG, "image/png").await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    let recovered_at = Utc::now() - Duration::days(3);
    let recovery = json!({"version": 2, "recovered_at": recovered_at, "place": "深圳市宝安区某小区地下车库", "latitude": 22.6021,
                          "longitude": 114.0503, "mileage_km": 48211, "condition": "左前门划痕", "keys": 1,
                          "belongings": "儿童座椅一个", "yard": "宝安停车场", "storage_daily_fee": "50",
                          "photos": [photo["sha256"]]});
    let registered = app.post(&format!("{order_path}/actions/register-recovery"), &reposs, recovery).await;
    assert_eq!(registered.body["status"], "recovered", "{}", registered.body);
    assert_eq!(anonymous(&app, &track).await.0, StatusCode::NOT_FOUND, "the link dies when the order closes");

    // Reviewed by someone else; the vehicle goes into disposal.
    let own = app
        .post(&format!("{order_path}/actions/review"), &reposs, json!({"version": 3, "approve": true, "note": "ok"}))
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    let reviewed = app
        .post(
            &format!("{order_path}/actions/review"),
            &checker,
            json!({"version": 3, "approve": true, "note": "照片与登记相符"}),
        )
        .await;
    assert_eq!(reviewed.body["status"], "reviewed", "{}", reviewed.body);
    let disposal =
        app.get(&format!("/api/v1/disposals?contract_id={contract}"), &reposs).await.body["items"][0].clone();
    assert_eq!(
        (disposal["status"].as_str(), disposal["yard"].as_str()),
        (Some("held"), Some("宝安停车场")),
        "{disposal}"
    );
    let disposal_path = format!("/api/v1/disposals/{}", disposal["id"]);

    // The company's fee: above its schedule (1,500 + 2 % of 60,000) only with a reason; approved, charged.
    let too_much = app
        .post(&format!("{order_path}/actions/request-fee"), &reposs, json!({"amount": "4000", "reason": "收车费"}))
        .await;
    assert_eq!(too_much.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", too_much.body);
    assert!(too_much.body["errors"][0]["message"].as_str().unwrap().contains("2700"), "{}", too_much.body);
    let fee = app
        .post(&format!("{order_path}/actions/request-fee"), &reposs, json!({"amount": "2700", "reason": "收车费"}))
        .await;
    assert_eq!((fee.status, fee.body["status"].as_str()), (StatusCode::CREATED, Some("pending")), "{}", fee.body);
    let admin_cookie = format!("lw_session={}", org.admin);
    let (_, _, page) = app.fetch_with(&format!("/contracts/{contract}"), &[("cookie", admin_cookie.as_str())]).await;
    let asked = &page[page.find(r#"id="charges""#).unwrap_or_else(|| panic!("{page}"))..];
    assert!(asked.contains("收车费") && asked.contains("¥2,700.00") && asked.contains("待审批"), "{asked}");
    approve(&app, "postloan_charge").await;
    let fees = app.get(&format!("/api/v1/contracts/{contract}/fees"), &org.admin).await.body;
    assert_eq!(
        (fees[0]["component"].as_str(), fees[0]["owed"].as_str()),
        (Some("repossession"), Some("2700.00")),
        "{fees}"
    );
    ledger_balances(&app.pool, "the fee").await;

    // Valued by an appraiser, reviewed by someone else.
    app.post(&format!("{disposal_path}/notes"), &reposs, json!({"intent": "sell", "note": "客户表示无力赎车"})).await;
    let sent = app
        .post(
            &format!("{disposal_path}/actions/dispatch-valuation"),
            &reposs,
            json!({"version": 1, "appraiser": "深圳某评估公司"}),
        )
        .await;
    assert_eq!(sent.body["valuation_status"], "dispatched", "{}", sent.body);
    let valued = app
        .post(
            &format!("{disposal_path}/actions/submit-valuation"),
            &reposs,
            json!({"version": 2, "amount": "30000", "note": "车况一般"}),
        )
        .await;
    assert_eq!(valued.body["valuation_status"], "submitted", "{}", valued.body);
    let reviewed = app
        .post(&format!("{disposal_path}/actions/review-valuation"), &checker, json!({"version": 3, "approve": true}))
        .await;
    assert_eq!(reviewed.body["valuation_status"], "approved", "{}", reviewed.body);

    // Sold, never below the approved valuation, through approval; the proceeds pay in order.
    let sale = |price: &str| json!({"version": 4, "method": "dealer_buyback", "price": price, "buyer": "某二手车商", "sold_on": today});
    let low = app.post(&format!("{disposal_path}/actions/request-sale"), &reposs, sale("25000")).await;
    assert_eq!(
        (low.status, low.body["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("price")),
        "{}",
        low.body
    );
    let asked = app.post(&format!("{disposal_path}/actions/request-sale"), &reposs, sale("32000")).await;
    assert_eq!(asked.body["status"], "sale_pending", "{}", asked.body);
    approve(&app, "vehicle_sale").await;
    let sold = app.get(&disposal_path, &reposs).await.body;
    let proceeds = &sold["proceeds"];
    assert_eq!(sold["status"], "sold", "{sold}");
    assert_eq!(
        (proceeds["price"].as_str(), proceeds["deposit"].as_str(), proceeds["storage"].as_str()),
        (Some("32000.00"), Some("3000.00"), Some("150.00")),
        "{sold}"
    );
    assert_eq!(proceeds["costs"], "2850.00", "the repossession fee and the storage first: {sold}");
    assert_eq!(proceeds["refund"], "0.00");
    let paid: rust_decimal::Decimal = ["costs", "fees", "arrears", "principal"]
        .iter()
        .map(|k| proceeds[k].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    assert_eq!(paid, rust_decimal_macros::dec!(35000), "every yuan of the price and the deposit is allocated: {sold}");
    assert!(
        proceeds["arrears"].as_str().unwrap().parse::<f64>().unwrap() > 0.0
            && proceeds["principal"].as_str().unwrap().parse::<f64>().unwrap() > 0.0,
        "{sold}"
    );
    let shortfall: rust_decimal::Decimal = sold["shortfall"].as_str().unwrap().parse().unwrap();
    assert!(shortfall > rust_decimal::Decimal::ZERO, "{sold}");
    ledger_balances(&app.pool, "the sale").await;

    // The shortfall written off once approved: the contract and the vehicle reach their final states.
    let write_off = app
        .post(
            &format!("{disposal_path}/actions/request-write-off"),
            &reposs,
            json!({"version": sold["version"], "reason": "客户无可执行财产"}),
        )
        .await;
    assert_eq!(write_off.status, StatusCode::OK, "{}", write_off.body);
    let before = app.get(&format!("/api/v1/contracts/{contract}"), &org.admin).await.body;
    assert_eq!(before["contract"]["status"], "active", "nothing written off before the approval");
    approve(&app, "loss_write_off").await;
    let closed = app.get(&format!("/api/v1/contracts/{contract}"), &org.admin).await.body;
    assert_eq!(closed["contract"]["status"], "closed", "{closed}");
    let vehicle_status: String = sqlx::query_scalar("SELECT status FROM vehicles WHERE id = $1")
        .bind(vehicle)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(vehicle_status, "disposed");
    assert_eq!(app.get(&disposal_path, &reposs).await.body["status"], "closed");
    ledger_balances(&app.pool, "the write-off").await;
    assert_eq!(balance(&app.pool, contract, "loans_receivable").await, "0.00", "no principal left on the books");
    assert_eq!(balance(&app.pool, contract, "customer_credit").await, "0.00");
    assert_eq!(balance(&app.pool, contract, "deposit_liability").await, "0.00");
    assert_eq!(balance(&app.pool, contract, "vendor_payable").await, "-2850.00", "owed to the company and the yard");
    let lost = balance(&app.pool, contract, "loan_losses").await;
    assert!(
        lost.parse::<f64>().unwrap() > 0.0
            && lost.parse::<f64>().unwrap() <= shortfall.to_string().parse::<f64>().unwrap(),
        "{lost}"
    );

    // The pages say the same: the night window on the order, the proceeds on the disposal.
    let cookie = format!("lw_session={reposs}");
    let with = [("cookie", cookie.as_str())];
    let (_, _, page) = app.fetch_with(&format!("/postloan/repossessions/{id}"), &with).await;
    assert!(
        page.contains("22:00–07:00") && page.contains("鹏城收车服务有限公司") && page.contains("¥2,700.00"),
        "{page}"
    );
    let admin_cookie = format!("lw_session={}", org.admin);
    let (_, _, page) = app.fetch_with(&format!("/contracts/{contract}"), &[("cookie", admin_cookie.as_str())]).await;
    assert!(page.contains("收车费") && page.contains("停车费"), "the charges by kind on the contract: {page}");
    let (_, _, page) = app.fetch_with(&format!("/postloan/disposals/{}", disposal["id"]), &with).await;
    assert!(
        page.contains("已结案")
            && page.contains("收车等费用")
            && page.contains("2850.00")
            && page.contains("客户表示无力赎车"),
        "{page}"
    );

    // Every change is in the audit log.
    let actions: Vec<(String, String)> =
        sqlx::query_as("SELECT entity_type, action FROM audit_log ORDER BY id").fetch_all(&app.pool).await.unwrap();
    for wanted in [
        ("repossession_order", "create"),
        ("repossession_order", "dispatch"),
        ("repossession_order", "create_link"),
        ("repossession_order", "revoke_link"),
        ("repossession_order", "register_recovery"),
        ("repossession_order", "approve_recovery"),
        ("contract", "request_charge"),
        ("disposal", "note"),
        ("disposal", "dispatch_valuation"),
        ("disposal", "submit_valuation"),
        ("disposal", "approve_valuation"),
        ("disposal", "request_sale"),
        ("disposal", "request_write_off"),
        ("repossession_company", "create"),
    ] {
        assert!(actions.iter().any(|(e, a)| e == wanted.0 && a == wanted.1), "{wanted:?} missing from {actions:?}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn repossession_records_are_seen_and_changed_only_within_the_callers_region(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (gd, zj) = (org.region("GD"), org.region("ZJ"));
    let perms = ["postloan.read", "postloan.repossess", "postloan.dispose", "postloan.review", "contracts.read"];
    let gd_staff = staff(&app, &org, "gd_reposs", "GD", &perms, &[]).await;
    let zj_staff = staff(&app, &org, "zj_reposs", "ZJ", &perms, &[]).await;
    let (vehicle, contract, _) = crate::monitor::financed(&app, org.region("SZ"), 77).await;
    sqlx::query("UPDATE contracts SET status = 'active' WHERE id = $1")
        .bind(contract)
        .execute(&app.pool)
        .await
        .unwrap();
    let company = json!({"name": "粤收车", "licence": "L-1", "region_id": gd, "served_region_ids": [gd],
                         "contact_name": "赵", "contact_phone": "13900000001", "fee_fixed": "1000", "fee_rate": "0"});
    let company = app.create(&gd_staff, "/api/v1/repossession-companies", company).await;
    // Zhejiang cannot keep a company for Guangdong, nor open an order on its contract.
    let foreign = json!({"name": "浙收车", "licence": "L-2", "region_id": zj, "served_region_ids": [gd],
                         "contact_name": "钱", "contact_phone": "13900000002", "fee_fixed": "1000", "fee_rate": "0"});
    let refused = app.post("/api/v1/repossession-companies", &zj_staff, foreign).await;
    assert_eq!(refused.body["errors"][0]["field"], "served_region_ids", "{}", refused.body);
    let by_hand = json!({"contract_id": contract, "note": "手工收车"});
    assert_eq!(app.post("/api/v1/repossession-orders", &zj_staff, by_hand.clone()).await.status, StatusCode::NOT_FOUND);
    let order = app.post("/api/v1/repossession-orders", &gd_staff, by_hand).await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
    assert_eq!(order.body["vehicle_id"], vehicle);
    let id = order.body["id"].as_i64().unwrap();
    for path in [
        format!("/api/v1/repossession-orders/{id}"),
        format!("/api/v1/repossession-companies/{company}"),
        format!("/api/v1/repossession-orders/{id}/links"),
    ] {
        assert_eq!(app.get(&path, &zj_staff).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    for path in ["/api/v1/repossession-orders", "/api/v1/repossession-companies", "/api/v1/disposals"] {
        assert_eq!(app.get(path, &zj_staff).await.body["total"], 0, "{path}");
    }
    let dispatch = json!({"version": 1, "company_id": company, "agent_name": "钱师傅", "agent_phone": "13700000002"});
    let foreign_dispatch =
        app.post(&format!("/api/v1/repossession-orders/{id}/actions/dispatch"), &zj_staff, dispatch.clone()).await;
    assert_eq!(foreign_dispatch.status, StatusCode::NOT_FOUND);
    let link = app.post(&format!("/api/v1/repossession-orders/{id}/links"), &gd_staff, json!({})).await;
    assert_eq!(link.status, StatusCode::CONFLICT, "no link before the order is dispatched: {}", link.body);
    // A photo over the limit is refused beside its field; nothing is stored.
    let big = [PNG, &vec![0u8; backoffice::system::attachments::MAX_BYTES][..]].concat();
    let (status, body) = upload(&app, &gd_staff, &big, "image/png").await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("file")),
        "{body}"
    );
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("5 MiB"), "{body}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM attachments").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, 0);
}

/// Posts a multipart form of `fields` and one `photo` file (when given) with the session `cookie`.
pub(crate) async fn post_multipart(
    app: &App,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
    photo: Option<(&str, &[u8])>,
) -> (StatusCode, String) {
    let boundary = "leasewatchboundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((content_type, bytes)) = photo {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"car.png\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
        );
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    let request = axum::http::Request::post(path)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .header("cookie", cookie)
        .body(axum::body::Body::from(body))
        .unwrap();
    let (status, bytes) = app.raw(request).await;
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Form fields as the multipart helper takes them.
pub(crate) fn pairs<'a>(fields: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The CSRF token of a console page.
pub(crate) fn csrf(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let at = page.find(marker).unwrap() + marker.len();
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_order_is_dispatched_and_its_recovery_registered_with_photos_on_its_page(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let perms = ["postloan.read", "postloan.repossess", "postloan.dispose", "contracts.read"];
    let token = staff(&app, &org, "gd_reposs", "GD", &perms, &[]).await;
    let (_, contract, _) = crate::monitor::financed(&app, org.region("SZ"), 78).await;
    sqlx::query("UPDATE contracts SET status = 'active' WHERE id = $1")
        .bind(contract)
        .execute(&app.pool)
        .await
        .unwrap();
    let cookie = format!("lw_session={token}");
    let with = [("cookie", cookie.as_str())];
    // A company added on its page, refused beside the field first.
    let (_, _, new) = app.fetch_with("/postloan/companies/new", &with).await;
    let mut company = vec![
        ("csrf", csrf(&new)),
        ("action", "create".into()),
        ("name", "鹏城收车".into()),
        ("licence", "L-9".into()),
        ("contact_name", "赵".into()),
        ("contact_phone", "139-0000-0001".into()),
        ("fee_fixed", "abc".into()),
        ("fee_rate", "0.02".into()),
        ("fee_cap", "".into()),
        ("served_region_ids", org.region("GD").to_string()),
    ];
    assert!(new.contains(&format!(r#"name="served_region_ids" value="{}" checked"#, org.region("GD"))), "{new}");
    let (status, page) = post_multipart(&app, "/postloan/companies/new", &cookie, &pairs(&company), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains(r#"data-field="fee_fixed""#) && page.contains("鹏城收车"), "what was typed is kept: {page}");
    company[6].1 = "1500".into();
    let (status, _) = post_multipart(&app, "/postloan/companies/new", &cookie, &pairs(&company), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, companies) = app.fetch_with("/postloan/companies", &with).await;
    assert!(companies.contains("鹏城收车") && companies.contains("¥1,500.00 + 2%"), "{companies}");
    let company_id = app.get("/api/v1/repossession-companies", &token).await.body["items"][0]["id"].as_i64().unwrap();
    // Its terms changed on its page: serving no region is refused there, a new fee and a second region kept.
    let company_page = format!("/postloan/companies/{company_id}");
    let (_, _, page) = app.fetch_with(&company_page, &with).await;
    assert!(page.contains(r#"id="form-update""#) && page.contains(r#"value="1500.00""#), "{page}");
    let mut terms = vec![
        ("csrf", csrf(&page)),
        ("action", "update".into()),
        ("contact_name", "钱".into()),
        ("contact_phone", "139-0000-0002".into()),
        ("fee_fixed", "1800".into()),
        ("fee_rate", "0.02".into()),
        ("fee_cap", "5000".into()),
        ("active", "true".into()),
    ];
    let (status, page) = post_multipart(&app, &company_page, &cookie, &pairs(&terms), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains(r#"data-field="served_region_ids""#) && page.contains(r#"value="1800""#), "{page}");
    terms.push(("served_region_ids", org.region("GD").to_string()));
    terms.push(("served_region_ids", org.region("SZ").to_string()));
    let (status, _) = post_multipart(&app, &company_page, &cookie, &pairs(&terms), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let changed = app.get(&format!("/api/v1/repossession-companies/{company_id}"), &token).await.body;
    assert_eq!(
        (changed["fee_fixed"].as_str(), changed["contact_name"].as_str()),
        (Some("1800.00"), Some("钱")),
        "{changed}"
    );
    assert_eq!(changed["served_region_ids"].as_array().map(Vec::len), Some(2), "{changed}");

    // An order by hand, dispatched on its page.
    // The order opened from the contract's post-loan actions.
    let actions = format!("/contracts/{contract}/postloan");
    let (_, _, page) = app.fetch_with(&actions, &with).await;
    assert!(page.contains(r#"id="form-repossess""#), "{page}");
    let open = [("csrf", csrf(&page)), ("action", "repossess".into()), ("note", "夜间上门".into())];
    let (status, _) = post_multipart(&app, &actions, &cookie, &pairs(&open), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let order = app.get("/api/v1/repossession-orders", &token).await.body["items"][0].clone();
    assert_eq!((order["contract_id"].as_i64(), order["note"].as_str()), (Some(contract), Some("夜间上门")), "{order}");
    let path = format!("/postloan/repossessions/{}", order["id"]);
    let (status, _, page) = app.fetch_with(&path, &with).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let company_id = company_id.to_string();
    let dispatch = [
        ("csrf", csrf(&page)),
        ("action", "dispatch".into()),
        ("company_id", company_id),
        ("agent_name", "钱师傅".into()),
        ("agent_phone", "13700000002".into()),
    ];
    let (status, _) = post_multipart(&app, &path, &cookie, &pairs(&dispatch), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The recovery without a photo of the vehicle is refused beside the photos; with one, registered.
    let (_, _, page) = app.fetch_with(&path, &with).await;
    assert!(page.contains("已派单") && page.contains(r#"id="form-recover""#), "{page}");
    let recover = [
        ("csrf", csrf(&page)),
        ("action", "recover".into()),
        ("recovered_at", "2026-12-01T09:30".into()),
        ("place", "深圳宝安".into()),
        ("latitude", "".into()),
        ("longitude", "".into()),
        ("mileage_km", "48211".into()),
        ("condition", "良好".into()),
        ("keys", "1".into()),
        ("belongings", "".into()),
        ("yard", "宝安停车场".into()),
        ("storage_daily_fee", "50".into()),
    ];
    let sent = pairs(&recover);
    let (status, refused) = post_multipart(&app, &path, &cookie, &sent, Some(("image/png", b"%PDF-1.7"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="photos""#) && refused.contains("宝安停车场"), "{refused}");
    let (status, _) = post_multipart(&app, &path, &cookie, &sent, Some(("image/png", PNG))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = app.fetch_with(&path, &with).await;
    assert!(page.contains("已收回待审核") && page.contains(r#"id="photos""#), "{page}");
    let sha = app.get(&format!("/api/v1/repossession-orders/{}", order["id"]), &token).await.body["photos"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, bytes) = app.fetch_bytes(&format!("/attachments/{sha}"), &with).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, PNG));
}
