//! The conventions every resource relies on: the append-only audit log, sealed and masked
//! sensitive fields, idempotent creation, optimistic concurrency, problem documents, pages.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{App, org};

#[sqlx::test(migrations = "../migrations")]
async fn the_database_refuses_to_change_or_delete_audit_rows(pool: PgPool) {
    let app = App::new(pool).await;
    let _org = org(&app).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log").fetch_one(&app.pool).await.unwrap();
    assert!(rows > 10);
    // The application's own role (the pool's) — here even a superuser — cannot rewrite history.
    for statement in ["UPDATE audit_log SET action = 'nothing happened'", "DELETE FROM audit_log", "TRUNCATE audit_log"]
    {
        let error = sqlx::query(statement).execute(&app.pool).await.unwrap_err();
        assert!(error.to_string().contains("append-only"), "{statement}: {error}");
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log").fetch_one(&app.pool).await.unwrap();
    assert_eq!(after, rows);
}

#[sqlx::test(migrations = "../migrations")]
async fn every_change_is_audited_with_who_what_before_after_and_request(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let id = org.user("first");
    let reply = app
        .call_with(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(&org.admin),
            Some(json!({"version": 1, "display_name": "王五"})),
            &[("x-request-id", "req-42")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["x-request-id"], "req-42");
    let query = format!("/api/v1/audit-events?entity_type=user&entity_id={id}&action=update");
    let events = app.get(&query, &org.admin).await.body;
    let event = &events["items"][0];
    assert_eq!(event["username"], "admin");
    assert_eq!(event["before"]["display_name"], "first");
    assert_eq!(event["after"]["display_name"], "王五");
    assert_eq!(event["request_id"], "req-42");
    // Sensitive values appear masked in the audit log too.
    assert_eq!(event["after"]["phone"], "138****5678");
    // Every response carries a request id, made up when the client sent none.
    let reply = app.get("/api/v1/auth/me", &org.admin).await;
    assert!(!reply.headers["x-request-id"].is_empty());
    // The auditor of the company sees it; a province's auditor would not see HQ's global records.
    let auditor = app.login("auditor").await;
    assert_eq!(app.get(&query, &auditor).await.body["total"], 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn phone_numbers_are_sealed_at_rest_masked_in_views_and_revealed_with_an_audit_record(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let id = org.user("first");
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT phone_sealed FROM users WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap();
    assert!(!sealed.windows(11).any(|w| w == b"13812345678"));
    let view = app.get(&format!("/api/v1/users/{id}"), &org.admin).await.body;
    assert_eq!(view["phone"], "138****5678");
    let list = app.get("/api/v1/users?q=first", &org.admin).await.body;
    assert_eq!(list["items"][0]["phone"], "138****5678");
    let revealer = app.login("gd_revealer").await;
    let revealed = app.post(&format!("/api/v1/users/{id}/actions/reveal"), &revealer, json!({})).await;
    assert_eq!(revealed.body["phone"], "13812345678");
    let audit: (String, String) =
        sqlx::query_as("SELECT action, username FROM audit_log WHERE entity_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(id.to_string())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audit, ("reveal".to_owned(), "gd_revealer".to_owned()));
}

#[sqlx::test(migrations = "../migrations")]
async fn errors_are_problem_documents_with_stable_codes(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let bad_json = app
        .call_with(Method::POST, "/api/v1/roles", Some(&org.admin), None, &[("content-type", "application/json")])
        .await;
    assert_eq!((bad_json.status, bad_json.code()), (StatusCode::BAD_REQUEST, "bad_request"));
    assert_eq!(bad_json.headers["content-type"], "application/problem+json");
    let no_json = app.call_with(Method::POST, "/api/v1/roles", Some(&org.admin), None, &[]).await;
    assert_eq!(no_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let nul = app.post("/api/v1/roles", &org.admin, json!({"name": "a\u{0}b", "permissions": []})).await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST);
    let invalid = app.post("/api/v1/roles", &org.admin, json!({"name": "", "permissions": ["no.such"]})).await;
    assert_eq!((invalid.status, invalid.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let fields: Vec<&str> =
        invalid.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "permissions"]);
    let duplicate = app.post("/api/v1/roles", &org.admin, json!({"name": "auditor", "permissions": []})).await;
    assert_eq!((duplicate.status, duplicate.code()), (StatusCode::CONFLICT, "duplicate"));
    let path = app.get("/api/v1/users/not-a-number", &org.admin).await;
    assert_eq!(path.status, StatusCode::BAD_REQUEST);
    let unknown = app.get("/api/v1/nothing-here", &org.admin).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "not_found"));
}

#[sqlx::test(migrations = "../migrations")]
async fn lists_page_sort_and_count(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let page1 = app.get("/api/v1/users?limit=5&sort=-username", &org.admin).await.body;
    let page3 = app.get("/api/v1/users?limit=5&page=3&sort=-username", &org.admin).await.body;
    assert_eq!(page1["total"], 12);
    assert_eq!(page1["items"].as_array().unwrap().len(), 5);
    assert_eq!(page3["items"].as_array().unwrap().len(), 2);
    assert_eq!(page1["items"][0]["username"], "zj_manager");
    assert_eq!(page3["items"][1]["username"], "admin");
    assert_eq!(app.get("/api/v1/users?page=9", &org.admin).await.body["total"], 12);
    let bad = app.get("/api/v1/users?sort=password_hash", &org.admin).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let filtered = app.get("/api/v1/users?position=second_reviewer", &org.admin).await.body;
    assert_eq!(filtered["total"], 2);

    // Keyset paging: each page starts after the last id of the one before, in the same order.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = app.get(&format!("/api/v1/users?limit=5&sort=-username{after}"), &org.admin).await.body;
        assert_eq!(page["total"], 12, "the total counts every page");
        let items = page["items"].as_array().unwrap();
        seen.extend(items.iter().map(|u| u["username"].as_str().unwrap().to_owned()));
        match items.last() {
            Some(last) if items.len() == 5 => after = format!("&after={}", last["id"]),
            _ => break,
        }
    }
    let mut expected = seen.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!((seen.len(), &seen), (12, &expected));
    let both = app.get("/api/v1/users?page=2&after=1", &org.admin).await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrations = "../migrations")]
async fn settings_are_validated_versioned_and_audited(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let put = |value: serde_json::Value, version: i32| {
        app.call(
            Method::PUT,
            "/api/v1/settings/auth.lockout_minutes",
            Some(&org.admin),
            Some(json!({"value": value, "version": version})),
        )
    };
    assert_eq!(put(json!(0), 0).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(put(json!("30"), 0).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = put(json!(30), 0).await;
    assert_eq!(
        (ok.status, ok.body["value"].as_i64(), ok.body["version"].as_i64()),
        (StatusCode::OK, Some(30), Some(1))
    );
    assert_eq!(put(json!(45), 0).await.code(), "version_conflict");
    let unknown = app
        .call(Method::PUT, "/api/v1/settings/no.such", Some(&org.admin), Some(json!({"value": 1, "version": 0})))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE entity_type = 'setting'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn regions_move_with_their_subtree_and_never_into_it(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let sz = app.get(&format!("/api/v1/regions/{}", org.region("SZ")), &org.admin).await.body;
    let into_own = app
        .patch(
            &format!("/api/v1/regions/{}", org.region("SZ")),
            &org.admin,
            json!({"version": sz["version"], "parent_id": org.region("FT")}),
        )
        .await;
    assert_eq!(into_own.status, StatusCode::UNPROCESSABLE_ENTITY);
    let moved = app
        .patch(
            &format!("/api/v1/regions/{}", org.region("SZ")),
            &org.admin,
            json!({"version": sz["version"], "parent_id": org.region("ZJ")}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let ft = app.get(&format!("/api/v1/regions/{}", org.region("FT")), &org.admin).await.body;
    assert_eq!(
        ft["path"],
        format!("/{}/{}/{}/{}/", org.region("HQ"), org.region("ZJ"), org.region("SZ"), org.region("FT"))
    );
    // Shenzhen's users now belong to Zhejiang's managers.
    let zj = app.login("zj_manager").await;
    assert_eq!(app.get(&format!("/api/v1/users/{}", org.user("first")), &zj).await.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_calculator_quotes_a_schedule_with_its_true_cost(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let body = json!({"principal": "5000", "annual_rate": "0.12", "term": 18, "method": "equal-installment",
                      "start": "2022-11-01", "fee": "100", "deposit": "500"});
    let reply = app.post("/api/v1/calculator/quote", &org.admin, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let rows = reply.body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 19, "the upfront fee and 18 installments");
    assert_eq!(rows[1]["payment"], "304.91");
    assert_eq!(rows[1]["due_date"], "2022-12-01");
    assert_eq!(reply.body["totals"]["principal"], "5000.00");
    let irr: f64 = reply.body["irr"]["nominal_annual"].as_str().unwrap().parse().unwrap();
    assert!(irr > 12.5, "fee and deposit raise the cost above 12 %: {irr}");
    let bad = json!({"principal": "5000", "annual_rate": "0.12", "term": 18, "method": "flat", "start": "2022-11-01",
                     "payment_timing": "advance"});
    let reply = app.post("/api/v1/calculator/quote", &org.admin, bad).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["errors"][0]["field"], "payment_timing");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_back_office_runs_the_books_through_the_api(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let admin = &org.admin;

    // Customers: check digits, sealed and masked numbers, found by the full number.
    let bad = app
        .post(
            "/api/v1/customers",
            admin,
            json!({"name": "张三", "id_number": "110105194912310021", "region_id": org.region("SZ")}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let customer = app
        .post("/api/v1/customers", admin, json!({"name": "张三", "id_number": "11010519491231002x", "phone": "13812345678", "region_id": org.region("SZ")}))
        .await;
    assert_eq!(customer.status, StatusCode::CREATED, "{}", customer.body);
    assert_eq!(customer.body["id_number"], "110***********002X");
    let found = app.get("/api/v1/customers?id_number=11010519491231002X", admin).await.body;
    assert_eq!(found["total"], 1);
    let company = app
        .post(
            "/api/v1/customers",
            admin,
            json!({"name": "某某物流有限公司", "id_number": "91350100M000100Y43", "region_id": org.region("SZ")}),
        )
        .await;
    assert_eq!(company.body["kind"], "company");

    // Vehicles: VIN check digit and the status machine.
    let bad =
        app.post("/api/v1/vehicles", admin, json!({"vin": "1M8GDM9A1KP042788", "region_id": org.region("SZ")})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let vehicle = app
        .create(
            admin,
            "/api/v1/vehicles",
            json!({"vin": "1M8GDM9AXKP042788", "plate": "粤B12345", "region_id": org.region("SZ")}),
        )
        .await;
    let skip = app
        .post(
            &format!("/api/v1/vehicles/{vehicle}/actions/set-status"),
            admin,
            json!({"status": "disposed", "version": 1}),
        )
        .await;
    assert_eq!(skip.status, StatusCode::CONFLICT);
    let financed = app
        .post(
            &format!("/api/v1/vehicles/{vehicle}/actions/set-status"),
            admin,
            json!({"status": "financed", "version": 1}),
        )
        .await;
    assert_eq!(financed.body["status"], "financed");

    // Products are versioned.
    let rules = json!({"method": "equal-installment", "rates": [{"term": 12, "min_down_payment": "0", "annual_rate": "0.1188"}]});
    let v1 = app.post("/api/v1/products", admin, json!({"code": "car_12", "name": "车贷12期", "rules": rules})).await;
    assert_eq!((v1.status, v1.body["version"].as_i64()), (StatusCode::CREATED, Some(1)));
    let v2 = app.post("/api/v1/products", admin, json!({"code": "car_12", "name": "车贷12期", "rules": rules})).await;
    assert_eq!(v2.body["version"], 2);

    // A book imported from CSV, in the caller's regions only.
    let csv = "number,region,principal,annual_rate,term,method,start_date,paid_periods\n\
               HT-1,SZ,12000,0.12,12,equal-principal,2024-01-10,2\nHT-2,SZ,12000,0.12,12,equal-installment,2024-01-10,0\n";
    let gd = app.login("gd_manager").await;
    assert_eq!(app.post("/api/v1/contracts/import", &gd, json!({"csv": csv})).await.status, StatusCode::FORBIDDEN);
    let imported = app.post("/api/v1/contracts/import", admin, json!({"csv": csv})).await;
    assert_eq!(imported.body["imported"], 2, "{}", imported.body);
    let bad_csv = app.post("/api/v1/contracts/import", admin, json!({"csv": "number,region\nX,SZ\n"})).await;
    assert_eq!(bad_csv.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_csv.body["errors"][0]["field"], "line 2");
    let list = app.get("/api/v1/contracts?sort=number", admin).await.body;
    let ht1 = list["items"][0]["id"].as_i64().unwrap();
    let detail = app.get(&format!("/api/v1/contracts/{ht1}"), admin).await.body;
    assert_eq!(detail["receivables"].as_array().unwrap().len(), 24);

    // Receipts: an account, a receipt by hand (idempotent), claimed by the number in its remark.
    app.create_plain(admin, "/api/v1/receiving-accounts", json!({"code": "ICBC-01", "bank": "ICBC", "name": "租金户"}))
        .await;
    let receipt = json!({"account": "ICBC-01", "reference": "B-1", "received_on": "2024-04-10", "amount": "1100.00", "remark": "HT-1 三月"});
    let first = app
        .call_with(Method::POST, "/api/v1/receipts", Some(admin), Some(receipt.clone()), &[("idempotency-key", "r-1")])
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["written_off"], 1);
    let retry = app
        .call_with(Method::POST, "/api/v1/receipts", Some(admin), Some(receipt.clone()), &[("idempotency-key", "r-1")])
        .await;
    assert_eq!(retry.headers["idempotency-replayed"], "true");
    let again = app.post("/api/v1/receipts", admin, receipt).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "duplicate"));
    // One that names no contract is claimed by hand.
    let stray = json!({"account": "ICBC-01", "reference": "B-2", "received_on": "2024-04-10", "amount": "50.00", "remark": "?"});
    app.post("/api/v1/receipts", admin, stray).await;
    let unclaimed = app.get("/api/v1/receipts?status=unclaimed", admin).await.body;
    let stray_id = unclaimed["items"][0]["id"].as_i64().unwrap();
    let claimed =
        app.post(&format!("/api/v1/receipts/{stray_id}/actions/claim"), admin, json!({"contract_id": ht1})).await;
    assert_eq!(claimed.body["status"], "written_off", "{}", claimed.body);

    // The books agree, and the status and the settlement quote read them.
    let rec = app.get(&format!("/api/v1/contracts/{ht1}/reconciliation"), admin).await.body;
    assert_eq!(rec["balanced"], true, "{rec}");
    assert_eq!(rec["received"], "1150.00");
    let status = app.get(&format!("/api/v1/payment-status?contract_id={ht1}"), admin).await.body;
    assert_eq!(status[0]["number"], "HT-1");
    let quote = app.get(&format!("/api/v1/contracts/{ht1}/settlement-quote?date=2024-06-25"), admin).await;
    assert_eq!(quote.status, StatusCode::OK, "{}", quote.body);
    assert_eq!(quote.body["remaining_principal"], "7000.00");
    let version = app.get(&format!("/api/v1/contracts/{ht1}"), admin).await.body["contract"]["version"].clone();
    let promise = app.post(&format!("/api/v1/contracts/{ht1}/actions/promise"), admin,
        json!({"until": (chrono::Utc::now().date_naive() + chrono::Duration::days(5)).to_string(), "note": "月底前还", "version": version})).await;
    assert_eq!(promise.status, StatusCode::OK, "{}", promise.body);

    // Reversing a write-off and offsetting a deposit need a checker: nothing moves before approval.
    let one_stage = json!([{"name": "财务复核", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    let early = app
        .post(&format!("/api/v1/receipts/{stray_id}/actions/request-reversal"), admin, json!({"reason": "认领错误"}))
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "no workflow defined yet: {}", early.body);
    for key in ["receipt_reversal", "deposit_offset"] {
        app.create(admin, "/api/v1/workflow-definitions", json!({"key": key, "name": key, "stages": one_stage})).await;
    }
    let request = app
        .post(&format!("/api/v1/receipts/{stray_id}/actions/request-reversal"), admin, json!({"reason": "认领错误"}))
        .await;
    assert_eq!(request.status, StatusCode::CREATED, "{}", request.body);
    let still = app.get(&format!("/api/v1/receipts?status=written_off&contract_id={ht1}"), admin).await.body;
    assert_eq!(still["total"], 2, "not reversed before approval");
    let checker = app.login("final").await;
    let inbox = app.get("/api/v1/workflow-tasks", &checker).await.body;
    let task = inbox["items"][0]["id"].as_i64().unwrap();
    let approved = app.post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), &checker, json!({})).await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);
    let unclaimed = app.get("/api/v1/receipts?status=unclaimed", admin).await.body;
    assert_eq!(unclaimed["items"][0]["id"], stray_id, "the reversed receipt waits for a correct claim");
    let rec = app.get(&format!("/api/v1/contracts/{ht1}/reconciliation"), admin).await.body;
    assert_eq!((rec["balanced"].as_bool(), rec["received"].as_str()), (Some(true), Some("1100.00")), "{rec}");

    let csv = "number,region,principal,annual_rate,term,method,start_date,deposit\nHT-3,SZ,12000,0.12,12,equal-principal,2024-01-10,1500\n";
    app.post("/api/v1/contracts/import", admin, json!({"csv": csv})).await;
    let ht3 = app.get("/api/v1/contracts?number=HT-3", admin).await.body["items"][0]["id"].as_i64().unwrap();
    let request = app
        .post(&format!("/api/v1/contracts/{ht3}/actions/request-deposit-offset"), admin, json!({"reason": "客户申请"}))
        .await;
    assert_eq!(request.status, StatusCode::CREATED, "{}", request.body);
    let task = app.get("/api/v1/workflow-tasks", &checker).await.body["items"][0]["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), &checker, json!({})).await;
    let ht3_after = app.get(&format!("/api/v1/contracts/{ht3}"), admin).await.body;
    assert_eq!(ht3_after["contract"]["deposit_held"], "0.00", "{}", ht3_after["contract"]);
    let first_paid = &ht3_after["receivables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["period"] == 1 && r["component"] == "principal")
        .unwrap()["paid"];
    assert_eq!(first_paid, "1000.00");
    let unbalanced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(debit) <> sum(credit)) t",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(unbalanced, 0);

    // Early settlement: quote, the customer pays it, the contract closes with nothing left open.
    let today = chrono::Utc::now().date_naive();
    let start = today - chrono::Duration::days(40);
    let csv = format!(
        "number,region,principal,annual_rate,term,method,start_date\nHT-4,SZ,12000,0.12,12,equal-installment,{start}\n"
    );
    app.post("/api/v1/contracts/import", admin, json!({"csv": csv})).await;
    let ht4 = app.get("/api/v1/contracts?number=HT-4", admin).await.body["items"][0]["id"].as_i64().unwrap();
    let quote = app.get(&format!("/api/v1/contracts/{ht4}/settlement-quote?date={today}"), admin).await.body;
    let total: rust_decimal::Decimal = quote["total"].as_str().unwrap().parse().unwrap();
    assert!(total > rust_decimal::Decimal::from(11000) && total < rust_decimal::Decimal::from(12200), "{quote}");
    let short =
        app.post(&format!("/api/v1/contracts/{ht4}/actions/settle"), admin, json!({"date": today, "version": 1})).await;
    assert_eq!(short.status, StatusCode::CONFLICT, "nothing paid yet: {}", short.body);
    let pay = json!({"account": "ICBC-01", "reference": "B-9", "received_on": today, "amount": total.to_string(), "remark": "HT-4 提前结清"});
    assert_eq!(app.post("/api/v1/receipts", admin, pay).await.status, StatusCode::CREATED);
    let version = app.get(&format!("/api/v1/contracts/{ht4}"), admin).await.body["contract"]["version"].clone();
    let settled = app
        .post(&format!("/api/v1/contracts/{ht4}/actions/settle"), admin, json!({"date": today, "version": version}))
        .await;
    assert_eq!(settled.status, StatusCode::OK, "{}", settled.body);
    let after = app.get(&format!("/api/v1/contracts/{ht4}"), admin).await.body;
    assert_eq!(after["contract"]["status"], "settled");
    assert!(
        after["receivables"].as_array().unwrap().iter().all(|r| r["amount"] == r["paid"]),
        "{}",
        after["receivables"]
    );
    assert_eq!(after["contract"]["credit"], "0.00");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_contract_is_originated_under_a_product_and_activated_on_disbursement(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let admin = &org.admin;
    let sz = org.region("SZ");
    let rules = json!({
        "method": "equal-installment",
        "rates": [{"term": 36, "min_down_payment": "0.2", "annual_rate": "0.0999"}],
        "fees": [{"name": "GPS", "amount": "1500", "financed": true}, {"name": "手续费", "amount": "800", "financed": false}],
        "deposit_ratio": "0.05",
        "allocation": {"components": ["interest", "principal", "fee", "penalty"], "priority": "component_first"},
        "settlement_fee": {"rate": "0.03", "minimum": "500"}
    });
    let product =
        app.create(admin, "/api/v1/products", json!({"code": "car_36", "name": "新车36期", "rules": rules})).await;
    let parties = json!([
        {"role": "emergency_contact", "name": "李四", "relation": "配偶", "phone": "13900001111"},
        {"role": "guarantor", "name": "王五", "id_number": "440524188001010014", "phone": "13900002222"}
    ]);
    let customer = app
        .post(
            "/api/v1/customers",
            admin,
            json!({"name": "张三", "id_number": "11010519491231002X", "region_id": sz, "parties": parties}),
        )
        .await;
    assert_eq!(customer.status, StatusCode::CREATED, "{}", customer.body);
    assert_eq!(customer.body["parties"][1]["id_number"], "440***********0014");
    assert_eq!(customer.body["parties"][0]["phone"], "139****1111");
    let no_id = json!([{"role": "guarantor", "name": "赵六"}]);
    let refused = app
        .post(
            "/api/v1/customers",
            admin,
            json!({"name": "x", "id_number": "440524188001010014", "region_id": sz, "parties": no_id}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let vehicle = app
        .create(
            admin,
            "/api/v1/vehicles",
            json!({"vin": "1M8GDM9AXKP042788", "series": "Model Y", "engine_number": "E123", "region_id": sz}),
        )
        .await;
    let dealer = app
        .create(
            admin,
            "/api/v1/dealers",
            json!({"code": "D-01", "name": "深圳某4S店", "tier": "gold", "region_id": sz}),
        )
        .await;

    let quote = json!({"number": "HT-100", "customer_id": customer.body["id"], "vehicle_id": vehicle, "dealer_id": dealer,
                       "product_id": product, "price": "150000", "down_payment": "30000", "term": 36});
    let mut low = quote.clone();
    low["down_payment"] = json!("10000");
    let refused = app.post("/api/v1/contracts", admin, low).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "below the rate table's down payment: {}",
        refused.body
    );
    // A suspended dealer brings no new business.
    let suspend = json!({"version": 1, "reason": "资质复核中"});
    app.post(&format!("/api/v1/dealers/{dealer}/actions/suspend"), admin, suspend).await;
    let refused = app.post("/api/v1/contracts", admin, quote.clone()).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["errors"][0]["field"], "dealer_id", "{}", refused.body);
    app.post(
        &format!("/api/v1/dealers/{dealer}/actions/reinstate"),
        admin,
        json!({"version": 2, "reason": "复核通过"}),
    )
    .await;
    let created = app.post("/api/v1/contracts", admin, quote.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        (created.body["status"].as_str(), created.body["principal"].as_str()),
        (Some("pending"), Some("121500.00"))
    );
    let id = created.body["id"].as_i64().unwrap();
    let twice = app.post("/api/v1/contracts", admin, quote).await;
    assert_eq!(twice.code(), "duplicate");

    let activated = app
        .post(
            &format!("/api/v1/contracts/{id}/actions/activate"),
            admin,
            json!({"disbursed_on": "2026-01-05", "version": 1}),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.body);
    assert_eq!(activated.body["contract"]["status"], "active");
    assert_eq!(activated.body["contract"]["deposit_held"], "6075.00");
    let items = activated.body["receivables"].as_array().unwrap();
    assert_eq!(items[0]["component"], "fee", "the upfront fee is due on the day");
    assert_eq!(items[0]["due_date"], "2026-01-05");
    let again = app
        .post(
            &format!("/api/v1/contracts/{id}/actions/activate"),
            admin,
            json!({"disbursed_on": "2026-01-05", "version": 2}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let v = app.get(&format!("/api/v1/vehicles/{vehicle}"), admin).await.body;
    assert_eq!(v["vehicle"]["status"], "financed");

    // The product's order (interest before principal, fee last) decides the write-off.
    app.create_plain(admin, "/api/v1/receiving-accounts", json!({"code": "ICBC-01", "bank": "ICBC", "name": "租金户"}))
        .await;
    let pay = json!({"account": "ICBC-01", "reference": "P-1", "received_on": "2026-02-05", "amount": "1000.00", "remark": "HT-100"});
    app.post("/api/v1/receipts", admin, pay).await;
    let detail = app.get(&format!("/api/v1/contracts/{id}"), admin).await.body;
    let items = detail["receivables"].as_array().unwrap();
    let paid = |period: i64, component: &str| {
        items
            .iter()
            .find(|r| r["period"] == period && r["component"] == component)
            .map(|r| r["paid"].as_str().unwrap().to_owned())
    };
    assert_eq!(paid(0, "fee").as_deref(), Some("0.00"), "fees come last in this product");
    assert_eq!(paid(1, "interest").as_deref(), Some("1000.00"), "{items:?}");
    // Its settlement fee applies to the quote.
    let quote = app.get(&format!("/api/v1/contracts/{id}/settlement-quote?date=2026-02-10"), admin).await.body;
    let fee: f64 = quote["fee"].as_str().unwrap().parse().unwrap();
    let remaining: f64 = quote["remaining_principal"].as_str().unwrap().parse().unwrap();
    assert!((fee - remaining * 0.03).abs() < 0.01, "{quote}");
}

#[sqlx::test(migrations = "../migrations")]
async fn quarantined_devices_are_listed_and_promotion_needs_the_ingest_side(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    assert_eq!(app.get("/api/v1/quarantine", &org.admin).await.body["total"], 0);
    sqlx::query(
        "INSERT INTO quarantine (protocol, imei, received_at, peer, frame) VALUES
         ('gt06', '864717003283999', now() - interval '1 hour', '10.0.0.1:5000', '\\x7878'),
         ('gt06', '864717003283999', now(), '10.0.0.1:5000', '\\x7878')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let list = app.get("/api/v1/quarantine", &org.admin).await.body;
    assert_eq!((list["total"].as_i64(), list["items"][0]["frames"].as_i64()), (Some(1), Some(2)));
    let promote =
        app.post("/api/v1/quarantine/864717003283999/actions/promote", &org.admin, json!({"kind": "wireless"})).await;
    assert_eq!((promote.status, promote.code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
}
