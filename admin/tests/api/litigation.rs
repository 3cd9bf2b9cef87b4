//! Litigation and home visits: applied for and reviewed through the workflow, fees charged to the
//! contract once approved, the closing reviewed, a visit's check-in far from every place flagged;
//! both scoped to the caller's region.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::monitor::{financed, staff};
use crate::postloan::overdue;
use crate::repossession::{csrf, pairs, post_multipart};
use crate::support::{App, org};

/// The checker (`final`) decides the waiting request on `subject_type`.
async fn decide(app: &App, subject_type: &str, action: &str) {
    let checker = app.login("final").await;
    let inbox = app.get("/api/v1/workflow-tasks", &checker).await.body;
    let task = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["subject_type"] == subject_type)
        .unwrap_or_else(|| panic!("{inbox}"))["id"]
        .as_i64()
        .unwrap();
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &checker, json!({})).await;
    let done =
        app.post(&format!("/api/v1/workflow-tasks/{task}/actions/{action}"), &checker, json!({"note": "ok"})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_case_is_approved_registered_staged_charged_and_closed_on_review(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let stage = json!([{"name": "复核", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    for key in ["litigation_application", "litigation_closing", "postloan_charge"] {
        app.create(&org.admin, "/api/v1/workflow-definitions", json!({"key": key, "name": key, "stages": stage})).await;
    }
    let contract = overdue(&app, "HT-SUE", org.region("SZ"), 120, 30000, None, Some(80)).await;
    let legal =
        staff(&app, &org, "sz_legal", "SZ", &["postloan.read", "postloan.collect", "contracts.read"], &[]).await;
    let zj = staff(&app, &org, "zj_legal", "ZJ", &["postloan.read", "postloan.collect", "contracts.read"], &[]).await;
    let application = json!({"contract_id": contract, "claim_amount": "45000", "reason": "逾期120天，失联"});
    assert_eq!(app.post("/api/v1/litigation-cases", &zj, application.clone()).await.status, StatusCode::NOT_FOUND);
    let case = app.post("/api/v1/litigation-cases", &legal, application).await;
    assert_eq!((case.status, case.body["status"].as_str()), (StatusCode::CREATED, Some("applied")), "{}", case.body);
    let path = format!("/api/v1/litigation-cases/{}", case.body["id"]);
    let register = json!({"version": 1, "court": "深圳市福田区人民法院", "case_number": "(2026)粤0304民初12345号", "lawyer": "王律师", "claim_amount": "45000"});
    let early = app.post(&format!("{path}/actions/register"), &legal, register.clone()).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "not before the application is approved: {}", early.body);
    decide(&app, "litigation_application", "approve").await;
    let mut register = register;
    register["version"] = app.get(&path, &legal).await.body["version"].clone();
    let registered = app.post(&format!("{path}/actions/register"), &legal, register).await;
    assert_eq!(registered.body["status"], "registered", "{}", registered.body);
    let version = |body: &serde_json::Value| body["version"].as_i64().unwrap();
    let filed = app
        .post(
            &format!("{path}/actions/stage"),
            &legal,
            json!({"version": version(&registered.body), "stage": "filed", "on": "2026-11-01"}),
        )
        .await;
    assert_eq!(filed.body["status"], "filed", "{}", filed.body);
    let backwards = app
        .post(
            &format!("{path}/actions/stage"),
            &legal,
            json!({"version": version(&filed.body), "stage": "hearing", "on": "2026-10-01"}),
        )
        .await;
    assert_eq!(backwards.body["errors"][0]["field"], "on", "a stage is not dated before the last: {}", backwards.body);
    let judged = app
        .post(
            &format!("{path}/actions/stage"),
            &legal,
            json!({"version": version(&filed.body), "stage": "judgment", "on": "2026-11-20"}),
        )
        .await;
    assert_eq!(
        (judged.body["status"].as_str(), judged.body["judgment_on"].as_str()),
        (Some("judgment"), Some("2026-11-20")),
        "{}",
        judged.body
    );

    // The court fee: charged to the contract only once approved.
    let fee = app
        .post(
            &format!("{path}/fees"),
            &legal,
            json!({"amount": "1150", "payee": "深圳市福田区人民法院", "reason": "案件受理费"}),
        )
        .await;
    assert_eq!((fee.status, fee.body["status"].as_str()), (StatusCode::CREATED, Some("pending")), "{}", fee.body);
    let before = app.get(&format!("/api/v1/contracts/{contract}/fees"), &legal).await.body;
    assert!(!before.to_string().contains("litigation"), "{before}");
    decide(&app, "postloan_charge", "approve").await;
    let fees = app.get(&format!("/api/v1/contracts/{contract}/fees"), &legal).await.body;
    assert_eq!(
        (fees[0]["component"].as_str(), fees[0]["owed"].as_str()),
        (Some("litigation"), Some("1150.00")),
        "{fees}"
    );
    assert_eq!(app.get(&format!("{path}/fees"), &legal).await.body[0]["status"], "approved");

    // Recovered, then closed on review.
    let recovered = app
        .post(
            &format!("{path}/actions/recovered"),
            &legal,
            json!({"version": version(&judged.body), "amount": "20000"}),
        )
        .await;
    assert_eq!(recovered.body["recovered_amount"], "20000.00", "{}", recovered.body);
    let closing = app
        .post(
            &format!("{path}/actions/request-closing"),
            &legal,
            json!({"version": version(&recovered.body), "note": "执行完毕"}),
        )
        .await;
    assert_eq!(closing.body["status"], "closing", "{}", closing.body);
    decide(&app, "litigation_closing", "approve").await;
    let closed = app.get(&path, &legal).await.body;
    assert_eq!(closed["status"], "closed", "{closed}");
    let cookie = format!("lw_session={legal}");
    let (_, _, page) =
        app.fetch_with(&format!("/postloan/litigation/{}", closed["id"]), &[("cookie", cookie.as_str())]).await;
    assert!(page.contains("已结案") && page.contains("深圳市福田区人民法院") && page.contains("案件受理费"), "{page}");
    assert_eq!(app.get(&path, &zj).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/litigation-cases", &zj).await.body["total"], 0);
    // A new application from the contract's post-loan actions, refused beside the claim first.
    let actions = format!("/contracts/{contract}/postloan");
    let (_, _, page) = app.fetch_with(&actions, &[("cookie", cookie.as_str())]).await;
    let sue = |claim: &str| {
        vec![
            ("csrf", csrf(&page)),
            ("action", "sue".to_owned()),
            ("claim_amount", claim.to_owned()),
            ("reason", "再次起诉".to_owned()),
        ]
    };
    let (status, refused) = post_multipart(&app, &actions, &cookie, &pairs(&sue("abc")), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="claim_amount""#), "{refused}");
    let (status, _) = post_multipart(&app, &actions, &cookie, &pairs(&sue("12000")), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/v1/litigation-cases?status=applied", &legal).await.body["total"], 1);
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE entity_type = 'litigation_case'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(audited >= 6, "{audited}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_visit_goes_to_the_vehicles_places_and_a_far_check_in_is_flagged(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let stage = json!([{"name": "家访审核", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    app.create(
        &org.admin,
        "/api/v1/workflow-definitions",
        json!({"key": "home_visit", "name": "家访审核", "stages": stage}),
    )
    .await;
    let sz = org.region("SZ");
    let (vehicle, contract, _) = financed(&app, sz, 91).await;
    let customer: i64 = sqlx::query_scalar("INSERT INTO customers (kind, name, address, region_id) VALUES ('individual', '赵六', '深圳市南山区科技园一路1号', $1) RETURNING id")
        .bind(sz).fetch_one(&app.pool).await.unwrap();
    sqlx::query("UPDATE contracts SET customer_id = $1, status = 'active' WHERE id = $2")
        .bind(customer)
        .bind(contract)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO resident_places (vehicle_id, kind, latitude, longitude, days, last_seen_on) VALUES ($1, 'night', 22.5400, 114.0500, 20, CURRENT_DATE), ($1, 'day', 22.6000, 114.1000, 15, CURRENT_DATE)")
        .bind(vehicle).execute(&app.pool).await.unwrap();
    let collector =
        staff(&app, &org, "sz_visit", "SZ", &["postloan.read", "postloan.collect", "contracts.read"], &[]).await;
    let reviewer = staff(&app, &org, "sz_review", "SZ", &["postloan.read", "postloan.review"], &[]).await;
    let zj = staff(&app, &org, "zj_visit", "ZJ", &["postloan.read", "postloan.collect"], &[]).await;
    let agent = app.get("/api/v1/auth/me", &collector).await.body["user"]["id"].as_i64().unwrap();
    let outsider = app.get("/api/v1/auth/me", &zj).await.body["user"]["id"].as_i64().unwrap();
    let visit = |reason: &str| json!({"contract_id": contract, "reason": reason});
    let mut results = Vec::new();
    for (reason, at) in [("核实居住地", (22.5404, 114.0503)), ("再次上门", (22.7000, 114.3000))] {
        let asked = app.post("/api/v1/home-visits", &collector, visit(reason)).await;
        assert_eq!(
            (asked.status, asked.body["status"].as_str()),
            (StatusCode::CREATED, Some("requested")),
            "{}",
            asked.body
        );
        decide(&app, "home_visit", "approve").await;
        // The console offers the region's agents by name; one of another region is not among them.
        let cookie = format!("lw_session={collector}");
        let (_, _, page) =
            app.fetch_with(&format!("/postloan/visits/{}", asked.body["id"]), &[("cookie", cookie.as_str())]).await;
        assert!(
            page.contains(r#"id="form-dispatch""#) && page.contains(&format!(r#"<option value="{agent}""#)),
            "{page}"
        );
        assert!(!page.contains(&format!(r#"<option value="{outsider}""#)), "{page}");
        let path = format!("/api/v1/home-visits/{}", asked.body["id"]);
        let sent =
            app.post(&format!("{path}/actions/dispatch"), &collector, json!({"version": 2, "agent_id": agent})).await;
        assert_eq!(sent.body["status"], "dispatched", "{}", sent.body);
        let places = sent.body["addresses"].as_array().unwrap();
        assert_eq!(places.len(), 3, "the customer's address and the vehicle's night and day places: {}", sent.body);
        assert!(places.iter().any(|p| p["label"] == "resident_night" && p["hours"] == "20:00–07:00"), "{}", sent.body);
        let result = json!({"version": 3, "result": "敲门无人应答，邻居称仍居住", "met": "nobody", "latitude": at.0, "longitude": at.1, "photos": []});
        let registered = app.post(&format!("{path}/actions/register"), &collector, result).await;
        assert_eq!(registered.body["status"], "registered", "{}", registered.body);
        results.push(registered.body);
    }
    assert_eq!((results[0]["far"].as_bool(), results[1]["far"].as_bool()), (Some(false), Some(true)), "{results:?}");
    assert!(results[0]["distance_m"].as_i64().unwrap() < 100 && results[1]["distance_m"].as_i64().unwrap() > 10_000);
    let cookie = format!("lw_session={reviewer}");
    let (_, _, page) =
        app.fetch_with(&format!("/postloan/visits/{}", results[1]["id"]), &[("cookie", cookie.as_str())]).await;
    assert!(
        page.contains("均超过 1 公里") && page.contains("车辆夜间常停") && page.contains(r#"id="form-review""#),
        "{page}"
    );
    let flagged = app.get("/api/v1/home-visits?far=true", &reviewer).await.body;
    assert_eq!(flagged["total"], 1, "the reviewer finds the far check-in: {flagged}");
    let path = format!("/api/v1/home-visits/{}", results[1]["id"]);
    let reviewed = app
        .post(&format!("{path}/actions/review"), &reviewer, json!({"version": 4, "note": "定位偏离，要求说明"}))
        .await;
    assert_eq!(reviewed.body["status"], "reviewed", "{}", reviewed.body);
    assert_eq!(app.get(&path, &zj).await.status, StatusCode::NOT_FOUND);
}
