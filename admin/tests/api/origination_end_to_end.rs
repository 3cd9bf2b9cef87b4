//! A lease born end to end: a dealer's salesperson files the application, the champion scorecard
//! scores it with the bureau's and the identity check's answers, 初审 / 复审 / 终审 decide it with
//! one transfer (转件) and one request for documents (补件), the insurer pre-approves it and issues
//! the policy, the contract is written on its template and signed, the lien recorded; the money
//! waits until the simulated tracker reports over TCP, goes out on finance's approval, and the
//! contract is active with its schedule and in the daily delinquency job. The insurer and the
//! e-signature service answer by signed callbacks to the router served on a real port.

use std::time::Duration;

use axum::http::StatusCode;
use backoffice::origination::partners::Partners;
use backoffice::system::crypto::Vault;
use chrono::{Months, NaiveDate, Utc};
use leasewatch_admin::AppState;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::repossession::{csrf, pairs, post_multipart};
use crate::support::{App, COST, PASSWORD, org};

/// The app with every partner simulated, served on a port of its own so that partners call back.
async fn served(pool: PgPool) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let vault = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
    let state = AppState::new(pool, vault, COST).with_partners(Partners::simulated(Some(url)));
    let app = App::with_state(state).await;
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    app
}

/// The application `id` once `done` holds of it (a partner's answer arrived), within ten seconds.
async fn once(app: &App, token: &str, id: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let body = app.get(&format!("/api/v1/applications/{id}"), token).await.body;
        if done(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} never happened");
}

/// Claims the open review task on the application `id` as `token`'s user and approves it.
async fn approve(app: &App, token: &str, id: i64, note: &str) {
    let task = crate::applications::task_of(app, token, id).await;
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), token, json!({})).await;
    let done = app.post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), token, json!({"note": note})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dealers_application_becomes_an_active_contract_through_every_stage(pool: PgPool) {
    let app = served(pool).await;
    let org = org(&app).await;
    let (admin, sz) = (&org.admin, org.region("SZ"));
    let (product, dealer) = crate::applications::setup(&app, admin, sz).await;
    app.create(
        admin,
        "/api/v1/workflow-definitions",
        json!({"key": "disbursement", "name": "放款审批",
               "stages": [{"name": "财务付款", "position": "final_reviewer", "actions": ["approve", "reject"]}]}),
    )
    .await;
    // The champion scores the bureau's and the identity check's answers.
    let card = json!({
        "base": 500,
        "variables": [
            {"name": "identity_verified", "bins": [{"to": "1", "points": -100}, {"from": "1", "points": 50}], "missing_points": -100},
            {"name": "bureau_score", "bins": [{"to": "600", "points": 0}, {"from": "600", "points": 30}], "missing_points": -40}
        ],
        "approve_from": 560, "decline_below": 500
    });
    app.create(
        admin,
        "/api/v1/scorecards",
        json!({"code": "retail", "name": "零售评分卡", "role": "champion", "card": card}),
    )
    .await;
    let template = json!({"lease_type": "sale_leaseback", "title": "汽车售后回租合同",
        "body": "合同编号：{contract_number}\n承租人：{lessee_name}（证件号码 {id_number}）\n租赁物：{vehicle}，车架号 {vin}\n融资金额 {principal} 元，期限 {term} 个月，年利率 {annual_rate}，每期租金 {installment} 元。"});
    let unknown = app
        .post(
            "/api/v1/contract-templates",
            admin,
            json!({"lease_type": "sale_leaseback", "title": "x", "body": "{salary}"}),
        )
        .await;
    assert_eq!(crate::applications::fields(&unknown.body), ["body"], "{}", unknown.body);
    app.create(admin, "/api/v1/contract-templates", template).await;
    let cookie = format!("lw_session={admin}");
    let with = [("cookie", cookie.as_str())];
    let (_, _, page) = app.fetch_with("/origination/contract-templates", &with).await;
    assert!(page.contains("汽车售后回租合同") && page.contains(r#"id="form-create""#), "{page}");
    let form = [
        ("csrf", csrf(&page)),
        ("action", "create".into()),
        ("lease_type", "direct".into()),
        ("title", "直租合同".into()),
        ("body", "月薪 {salary}".into()),
    ];
    let (status, refused) = post_multipart(&app, "/origination/contract-templates", &cookie, &pairs(&form), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.contains(r#"data-field="body""#), "an unknown figure is named beside the wording: {refused}");
    app.create(
        admin,
        "/api/v1/roles",
        json!({"name": "sales", "permissions": ["applications.read", "applications.write"]}),
    )
    .await;
    app.create(
        admin,
        "/api/v1/users",
        json!({"username": "d01_sales", "display_name": "店员", "password": PASSWORD, "region_id": sz,
               "roles": ["sales"], "dealer_id": dealer}),
    )
    .await;
    let sales = app.login("d01_sales").await;

    // Filed by the dealer's salesperson, with the applicant's signed credit authorization; 300,000
    // less 60,000 down is above the final-review threshold: 初审, 复审, 终审.
    let mut filed = crate::applications::whole(product, dealer, "110105199003071239", "1M8GDM9AXKP042788");
    filed["price"] = json!("300000");
    filed["down_payment"] = json!("60000");
    let id = app.create(&sales, "/api/v1/applications", filed).await;
    let (_, scan) = crate::repossession::upload(&app, &sales, crate::repossession::PNG, "image/png").await;
    let authorization = json!({"kind": "credit_authorization", "sha256": scan["sha256"]});
    app.post(&format!("/api/v1/applications/{id}/documents"), &sales, authorization).await;
    let submitted = app.post(&format!("/api/v1/applications/{id}/actions/submit"), &sales, json!({"version": 1})).await;
    // The bureau scores the ID 826 (≥ 600: 30), the three factors match (50): 500 + 50 + 30.
    assert_eq!(
        (submitted.body["score"].as_i64(), submitted.body["score_decision"].as_str()),
        (Some(580), Some("approve")),
        "{}",
        submitted.body
    );
    let checks = submitted.body["external_checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(checks.iter().all(|c| c["status"] == "done"), "{checks:?}");
    assert_eq!(checks[0]["result"]["score"], 826, "the bureau's report is kept: {checks:?}");

    // 初审: transferred (转件), then sent back for documents (补件), which the dealer files as a PDF.
    let first = app.login("first").await;
    let task = crate::applications::task_of(&app, &first, id).await;
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &first, json!({})).await;
    let moved = app
        .post(
            &format!("/api/v1/workflow-tasks/{task}/actions/transfer"),
            &first,
            json!({"to_user_id": org.users["maker"], "note": "请假"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let maker = app.login("maker").await;
    let returned = app
        .post(
            &format!("/api/v1/applications/{id}/actions/ask-documents"),
            &maker,
            json!({"version": 2, "note": "请补充银行流水"}),
        )
        .await;
    assert_eq!(returned.body["status"], "returned", "{}", returned.body);
    let (stored, statement) =
        crate::repossession::upload(&app, &sales, b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "application/pdf").await;
    assert_eq!(
        (stored, statement["content_type"].as_str()),
        (StatusCode::CREATED, Some("application/pdf")),
        "{statement}"
    );
    app.post(
        &format!("/api/v1/applications/{id}/documents"),
        &sales,
        json!({"kind": "bank_statement", "sha256": statement["sha256"]}),
    )
    .await;
    let again = app.post(&format!("/api/v1/applications/{id}/actions/submit"), &sales, json!({"version": 3})).await;
    assert_eq!(again.body["status"], "submitted", "{}", again.body);
    approve(&app, &maker, id, "资料齐全").await;
    approve(&app, &app.login("second").await, id, "同意").await;
    let finance = app.login("final").await;
    approve(&app, &finance, id, "同意").await;
    let approved = app.get(&format!("/api/v1/applications/{id}"), admin).await.body;
    assert_eq!(approved["status"], "approved", "{approved}");

    // The insurer pre-approves, then issues the policy: each answer a signed callback.
    let version = approved["version"].clone();
    let asked = app
        .post(&format!("/api/v1/applications/{id}/actions/pre-approve-guarantee"), admin, json!({"version": version}))
        .await;
    assert_eq!(asked.body["guarantee"]["status"], "pre_approval_pending", "{}", asked.body);
    let pre = once(&app, admin, id, "the pre-approval", |a| a["guarantee"]["status"] == "pre_approved").await;
    let applied = app
        .post(&format!("/api/v1/applications/{id}/actions/apply-policy"), admin, json!({"version": pre["version"]}))
        .await;
    assert_eq!(applied.body["guarantee"]["status"], "policy_pending", "{}", applied.body);
    let insured = once(&app, admin, id, "the policy", |a| a["guarantee"]["status"] == "issued").await;
    let principal: f64 = 240_000.0 + 1_500.0;
    assert_eq!(insured["guarantee"]["premium"], format!("{:.2}", principal * 0.015), "{insured}");

    // The contract: generated, not activated by hand, written on its template and signed.
    let contracted = app
        .post(
            &format!("/api/v1/applications/{id}/actions/make-contract"),
            admin,
            json!({"version": insured["version"]}),
        )
        .await;
    assert_eq!(contracted.body["status"], "contracted", "{}", contracted.body);
    let contract = contracted.body["contract_id"].as_i64().unwrap();
    let by_hand = app
        .post(
            &format!("/api/v1/contracts/{contract}/actions/activate"),
            admin,
            json!({"disbursed_on": Utc::now().date_naive(), "version": 1}),
        )
        .await;
    assert_eq!((by_hand.status, by_hand.code()), (StatusCode::CONFLICT, "disbursement_required"), "{}", by_hand.body);
    let sent = app
        .post(
            &format!("/api/v1/applications/{id}/actions/send-for-signature"),
            admin,
            json!({"version": contracted.body["version"]}),
        )
        .await;
    assert_eq!(sent.body["signature"]["status"], "sent", "{}", sent.body);
    let signed = once(&app, admin, id, "the signature", |a| a["signature"]["status"] == "signed").await;
    let (status, pdf) = app
        .fetch_bytes(
            &format!("/api/v1/applications/{id}/contract-document"),
            &[("authorization", &format!("Bearer {admin}"))],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(pdf.starts_with(b"%PDF-") && pdf.len() > 2_000, "a PDF with its font: {} bytes", pdf.len());
    // The lien is recorded on the application's console page; a day to come is refused beside it.
    let path = format!("/origination/applications/{id}");
    let (_, _, page) = app.fetch_with(&path, &with).await;
    assert!(page.contains(r#"id="form-lien""#) && page.contains("已签署") && page.contains("已出单"), "{page}");
    let lien = |on: NaiveDate, page: &str| {
        vec![
            ("csrf", csrf(page)),
            ("action", "lien".into()),
            ("registration", "粤B抵2026-0001".into()),
            ("registered_on", on.to_string()),
            ("office", "深圳市车管所".into()),
        ]
    };
    let future = Utc::now().date_naive() + chrono::Duration::days(3);
    let (status, refused) = post_multipart(&app, &path, &cookie, &pairs(&lien(future, &page)), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.contains(r#"data-field="registered_on""#), "{refused}");
    let (status, _) = post_multipart(&app, &path, &cookie, &pairs(&lien(Utc::now().date_naive(), &page)), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let liened = app.get(&format!("/api/v1/applications/{id}"), admin).await;
    assert_eq!(liened.body["lien"]["office"], "深圳市车管所", "{}", liened.body);
    assert_eq!(signed["signature"]["status"], "signed");

    // The tracker is installed but has not reported: the checks hold the money back.
    let vehicle =
        app.get(&format!("/api/v1/contracts/{contract}"), admin).await.body["contract"]["vehicle_id"].as_i64().unwrap();
    sqlx::query("INSERT INTO devices (imei, protocol) VALUES ('861000000880001', 'gt06')")
        .execute(&app.pool)
        .await
        .unwrap();
    let installed = app
        .post(&format!("/api/v1/vehicles/{vehicle}/actions/install"), admin, json!({"imei": "861000000880001"}))
        .await;
    assert_eq!(installed.status, StatusCode::OK, "{}", installed.body);
    let checks = app.get(&format!("/api/v1/applications/{id}/pre-disbursement-checks"), admin).await.body;
    let holding: Vec<(&str, bool)> =
        checks.as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap(), c["ok"].as_bool().unwrap())).collect();
    assert_eq!(
        holding,
        [("contract", true), ("signature", true), ("guarantee", true), ("lien", true), ("gps", false)],
        "{checks}"
    );
    let version = liened.body["version"].clone();
    let held = app
        .post(&format!("/api/v1/applications/{id}/actions/request-disbursement"), admin, json!({"version": version}))
        .await;
    assert_eq!((held.status, held.code()), (StatusCode::CONFLICT, "checks_failed"), "{}", held.body);
    assert!(held.body["detail"].as_str().unwrap().starts_with("gps:"), "{}", held.body);
    let ingest = crate::tracker::start(&app.pool).await;
    crate::tracker::report(ingest.address, "861000000880001").await;
    for _ in 0..200 {
        let checks = app.get(&format!("/api/v1/applications/{id}/pre-disbursement-checks"), admin).await.body;
        if checks.as_array().unwrap().iter().all(|c| c["ok"] == true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let asked = app
        .post(&format!("/api/v1/applications/{id}/actions/request-disbursement"), admin, json!({"version": version}))
        .await;
    assert_eq!(asked.body["status"], "disbursement_pending", "{}", asked.body);
    let inbox = app.get("/api/v1/workflow-tasks", &finance).await.body;
    let task = inbox["items"].as_array().unwrap().iter().find(|t| t["subject_type"] == "disbursement").unwrap()["id"]
        .as_i64()
        .unwrap();
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &finance, json!({})).await;
    let paid =
        app.post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), &finance, json!({"note": "已付款"})).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);

    // Active with its 36 installments from the day the money went out, as the application's
    // schedule shows; and the daily job counts it past due once its first installment is missed.
    let disbursed = app.get(&format!("/api/v1/applications/{id}"), admin).await.body;
    assert_eq!(disbursed["status"], "disbursed", "{disbursed}");
    // The company's day (UTC+8 here): the money goes out on it, whatever the hour in UTC.
    let today = backoffice::kit::day::company_today(app.state.utc_offset_hours);
    assert_eq!(disbursed["documents_due"], json!(today + chrono::Duration::days(30)), "{disbursed}");
    let detail = app.get(&format!("/api/v1/contracts/{contract}"), admin).await.body;
    assert_eq!(detail["contract"]["status"], "active", "{detail}");
    let schedule = app.get(&format!("/api/v1/applications/{id}/schedule"), admin).await.body;
    let rows = schedule["rows"].as_array().unwrap();
    let first_due = today.checked_add_months(Months::new(1)).unwrap();
    let installment = rows.iter().find(|r| r["period"] == 1).unwrap();
    assert_eq!(installment["due_date"], json!(first_due), "{schedule}");
    assert_eq!(rows.iter().filter(|r| r["period"].as_i64().unwrap() >= 1).count(), 36, "{schedule}");
    let installments =
        detail["receivables"].as_array().unwrap().iter().filter(|r| r["component"] == "principal").count();
    assert_eq!(installments, 36, "{detail}");
    let summary =
        backoffice::books::delinquency::run_through(&app.pool, first_due + chrono::Duration::days(5)).await.unwrap();
    assert_eq!(summary.last().unwrap().delinquent, 1, "{summary:?}");
    let after = app.get(&format!("/api/v1/contracts/{contract}"), admin).await.body;
    assert_eq!(after["contract"]["dpd"], 5, "{after}");

    // The progress names every step.
    let steps = app.get(&format!("/api/v1/applications/{id}/timeline"), admin).await.body;
    let actions: Vec<&str> = steps.as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    for step in [
        "create",
        "submit",
        "transfer",
        "ask_documents",
        "resubmit",
        "guarantee_pre_approval",
        "guarantee_pre_approved",
        "guarantee_policy",
        "guarantee_issued",
        "contract",
        "contract_sent",
        "contract_signed",
        "lien",
        "request_disbursement",
        "disbursed",
    ] {
        assert!(actions.contains(&step), "{step} in {actions:?}");
    }
    assert_eq!(actions.iter().filter(|a| **a == "approve").count(), 4, "three stages and the payment: {actions:?}");

    // 贷后审核: the documents due, then the archive with the policy.
    let version = disbursed["version"].clone();
    let lacking = app
        .post(&format!("/api/v1/applications/{id}/actions/complete-documents"), admin, json!({"version": version}))
        .await;
    assert!(
        lacking.body["errors"][0]["message"].as_str().unwrap().contains("registration_certificate"),
        "{}",
        lacking.body
    );
    for kind in ["registration_certificate", "invoice", "vehicle_insurance"] {
        app.post(
            &format!("/api/v1/applications/{id}/documents"),
            admin,
            json!({"kind": kind, "sha256": scan["sha256"]}),
        )
        .await;
    }
    let version = app.get(&format!("/api/v1/applications/{id}"), admin).await.body["version"].clone();
    let complete = app
        .post(&format!("/api/v1/applications/{id}/actions/complete-documents"), admin, json!({"version": version}))
        .await;
    assert_eq!(complete.body["status"], "documents_complete", "{}", complete.body);
    let (_, _, page) = app.fetch_with(&path, &with).await;
    let archive = [("csrf", csrf(&page)), ("action", "archive".into())];
    let (status, _) = post_multipart(&app, &path, &cookie, &pairs(&archive), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let archived = app.get(&format!("/api/v1/applications/{id}"), admin).await;
    assert_eq!(
        (archived.body["status"].as_str(), archived.body["guarantee"]["status"].as_str()),
        (Some("archived"), Some("archived")),
        "{}",
        archived.body
    );
    let (_, _, page) = app.fetch_with(&path, &with).await;
    for shown in
        ["已归档", "合同文本 (PDF)", "银行流水 (PDF)", "征信报告", "抵押登记", "保单已出", "客户已签署", "已放款"]
    {
        assert!(page.contains(shown), "{shown} on the page: {page}");
    }
    // Every decision is in the audit log, the partners' answers under their names.
    let audited: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, username FROM audit_log WHERE entity_type = 'application' AND entity_id = $1::text ORDER BY id",
    )
    .bind(id.to_string())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    for (action, by) in
        [("guarantee_answer", "insurer"), ("signature_answer", "esign"), ("record_lien", "admin"), ("archive", "admin")]
    {
        assert!(audited.iter().any(|(a, u)| a == action && u.as_deref() == Some(by)), "{action} by {by}: {audited:?}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_partner_callback_is_taken_only_signed_by_that_partner(pool: PgPool) {
    let app = served(pool).await;
    let answer = json!({"reference": "SQ00000001-PA-1", "stage": "pre_approval", "granted": true}).to_string();
    let forged =
        leasewatch_monitor::webhooks::signature("not-the-insurers-secret", Utc::now().timestamp(), answer.as_bytes());
    let request = |signature: &str, partner: &str| {
        axum::http::Request::post(format!("/api/v1/partners/{partner}/callbacks"))
            .header("content-type", "application/json")
            .header("x-leasewatch-signature", signature)
            .body(axum::body::Body::from(answer.clone()))
            .unwrap()
    };
    let (status, _) = app.raw(request(&forged, "insurer")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.raw(request("", "insurer")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.raw(request(&forged, "bank")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let secret = app.state.partners.insurer.as_ref().unwrap().callback_secret().to_owned();
    let genuine = leasewatch_monitor::webhooks::signature(&secret, Utc::now().timestamp(), answer.as_bytes());
    let (status, _) = app.raw(request(&genuine, "insurer")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "signed, but no request has that reference");
    let garbage = "{\"reference\": 7}";
    let signed = leasewatch_monitor::webhooks::signature(&secret, Utc::now().timestamp(), garbage.as_bytes());
    let malformed = axum::http::Request::post("/api/v1/partners/insurer/callbacks")
        .header("content-type", "application/json")
        .header("x-leasewatch-signature", signed)
        .body(axum::body::Body::from(garbage))
        .unwrap();
    let (status, body) = app.raw(malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
}
