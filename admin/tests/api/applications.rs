//! Applications (申请填报): a draft saved half-typed, refused on submit with each bad number named
//! beside its field, submitted once whole with its quote on the product's current version; the
//! duplicate checks (same ID, financed VIN) and the region scoping a dealer's staff rely on.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::monitor::staff;
use crate::support::{App, org};

/// A product, a dealer of Shenzhen, returns (product id, dealer id).
pub(crate) async fn setup(app: &App, admin: &str, sz: i64) -> (i64, i64) {
    let rules = json!({
        "method": "equal-installment",
        "rates": [{"term": 36, "min_down_payment": "0.2", "annual_rate": "0.0999"}],
        "fees": [{"name": "GPS", "amount": "1500", "financed": true}],
        "allocation": {"components": ["interest", "principal", "fee", "penalty"], "priority": "component_first"},
        "settlement_fee": {"rate": "0.03", "minimum": "500"}
    });
    let product =
        app.create(admin, "/api/v1/products", json!({"code": "car_36", "name": "新车36期", "rules": rules})).await;
    let dealer = app
        .create(
            admin,
            "/api/v1/dealers",
            json!({"code": "D-01", "name": "深圳某4S店", "tier": "gold", "region_id": sz}),
        )
        .await;
    // The reviews: up to 复审 for smaller amounts, on to 终审 for larger ones.
    let stage = |name: &str, position: &str, first: bool| {
        let actions = if first {
            json!(["approve", "reject", "transfer"])
        } else {
            json!(["approve", "reject", "return", "transfer"])
        };
        json!({"name": name, "position": position, "actions": actions, "sla_hours": 8})
    };
    let short = json!([stage("初审", "first_reviewer", true), stage("复审", "second_reviewer", false)]);
    let full = json!([
        stage("初审", "first_reviewer", true),
        stage("复审", "second_reviewer", false),
        stage("终审", "final_reviewer", false)
    ]);
    for (key, stages) in [("credit_review_short", short), ("credit_review", full)] {
        app.create(admin, "/api/v1/workflow-definitions", json!({"key": key, "name": key, "stages": stages})).await;
    }
    (product, dealer)
}

/// A whole application's fields.
pub(crate) fn whole(product: i64, dealer: i64, id_number: &str, vin: &str) -> Value {
    json!({
        "dealer_id": dealer, "lease_type": "sale_leaseback", "applicant_kind": "individual",
        "applicant_name": "王芳", "id_number": id_number, "phone": "138-0000-0011", "bank_card": "4111 1111 1111 1111",
        "address": "深圳市福田区一路 1 号", "employer": "某科技公司", "monthly_income": "18000",
        "vehicle_condition": "new", "vehicle_brand": "比亚迪", "vehicle_model": "汉", "vin": vin,
        "product_id": product, "price": "150000", "down_payment": "30000", "term": 36,
        "parties": [{"role": "guarantor", "name": "王强", "relation": "兄弟", "id_number": "440524188001010014",
                     "phone": "13900000001", "monthly_income": "9000"}]
    })
}

/// The fields a 422 names.
pub(crate) fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map_or_else(Vec::new, |e| e.iter().map(|e| e["field"].as_str().unwrap_or("").to_owned()).collect())
}

#[sqlx::test(migrations = "../migrations")]
async fn an_application_is_saved_half_typed_and_submitted_only_whole(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (admin, sz) = (&org.admin, org.region("SZ"));
    let (product, dealer) = setup(&app, admin, sz).await;

    // A draft takes what is typed so far, wrong check digits included; its numbers are masked.
    let draft = app
        .post("/api/v1/applications", admin, json!({"dealer_id": dealer, "applicant_name": "王芳", "id_number": "110105194912310021", "phone": "12800000011"}))
        .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.body);
    assert_eq!(
        (draft.body["status"].as_str(), draft.body["id_number"].as_str()),
        (Some("draft"), Some("110***********0021"))
    );
    assert!(draft.body["number"].as_str().unwrap().starts_with("SQ"), "{}", draft.body);
    let id = draft.body["id"].as_i64().unwrap();
    let path = format!("/api/v1/applications/{id}");
    let submit = format!("{path}/actions/submit");
    let refused = app.post(&submit, admin, json!({"version": 1})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    let named = fields(&refused.body);
    for field in ["id_number", "phone", "bank_card", "vin", "monthly_income", "product_id"] {
        assert!(named.contains(&field.to_owned()), "{field} named: {named:?}");
    }
    let kept = app.get(&path, admin).await.body;
    assert_eq!((kept["status"].as_str(), kept["version"].as_i64()), (Some("draft"), Some(1)), "nothing half-saved");

    // Filled in whole (a VIN whose check digit is wrong first), then submitted with its quote.
    let mut typed = whole(product, dealer, "110105199003071239", "1M8GDM9A1KP042788");
    let saved = app.call(Method::PUT, &path, Some(admin), Some(json!({"version": 1, "draft": typed.clone()}))).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.body["parties"][0]["id_number"], "440***********0014");
    let refused = app.post(&submit, admin, json!({"version": 2})).await;
    assert_eq!(fields(&refused.body), ["vin"], "{}", refused.body);
    typed["vin"] = json!("1M8GDM9AXKP042788");
    app.call(Method::PUT, &path, Some(admin), Some(json!({"version": 2, "draft": typed.clone()}))).await;
    let stale = app.post(&submit, admin, json!({"version": 2})).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    let done = app.post(&submit, admin, json!({"version": 3})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["status"], "submitted");
    // 121,500 financed (price − down payment + the financed GPS fee) at 9.99 % over 36 months.
    assert_eq!(done.body["quote"]["principal"], "121500.00");
    assert_eq!(done.body["quote"]["product_version"], 1);
    assert_eq!(done.body["quote"]["installment"], "3919.89", "hand-computed: P·r / (1 − (1 + r)^−36)");
    assert_eq!(done.body["findings"]["phone_shared_flag"], false, "{}", done.body);
    let again = app.call(Method::PUT, &path, Some(admin), Some(json!({"version": 4, "draft": typed.clone()}))).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "a submitted application is not a draft: {}", again.body);

    // The same person again, or the same car: refused beside the field.
    let second = app
        .create(admin, "/api/v1/applications", whole(product, dealer, "110105199003071239", "LSGPC54U3BF000000"))
        .await;
    let refused =
        app.post(&format!("/api/v1/applications/{second}/actions/submit"), admin, json!({"version": 1})).await;
    let named = fields(&refused.body);
    assert!(named.contains(&"id_number".to_owned()), "{}", refused.body);
    let third = app
        .create(admin, "/api/v1/applications", whole(product, dealer, "440305198506124569", "1M8GDM9AXKP042788"))
        .await;
    let refused = app.post(&format!("/api/v1/applications/{third}/actions/submit"), admin, json!({"version": 1})).await;
    assert!(
        refused.body["errors"][0]["message"].as_str().unwrap_or("").contains("open application"),
        "{}",
        refused.body
    );

    // A quote on a product version since replaced is refused: quote again.
    let rules = app.get(&format!("/api/v1/products/{product}"), admin).await.body["rules"].clone();
    app.create(admin, "/api/v1/products", json!({"code": "car_36", "name": "新车36期", "rules": rules})).await;
    let fourth = app
        .create(admin, "/api/v1/applications", whole(product, dealer, "330106199201017898", "LVSHCAMB3CE000001"))
        .await;
    let refused =
        app.post(&format!("/api/v1/applications/{fourth}/actions/submit"), admin, json!({"version": 1})).await;
    assert!(refused.body["errors"][0]["message"].as_str().unwrap_or("").contains("v2"), "{}", refused.body);

    // Staff of another province see none of Shenzhen's applications; the audit keeps the submit.
    let zj = staff(&app, &org, "zj_sales", "ZJ", &["applications.read", "applications.write"], &[]).await;
    assert_eq!(app.get("/api/v1/applications", &zj).await.body["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(app.get(&path, &zj).await.status, StatusCode::NOT_FOUND);
    let dealer_elsewhere = app.post("/api/v1/applications", &zj, json!({"dealer_id": dealer})).await;
    assert_eq!(fields(&dealer_elsewhere.body), ["dealer_id"], "{}", dealer_elsewhere.body);
    let audit =
        app.get(&format!("/api/v1/audit-events?entity_type=application&entity_id={id}&action=submit"), admin).await;
    assert_eq!(audit.body["items"].as_array().map(Vec::len), Some(1), "{}", audit.body);
    let logged = audit.body.to_string();
    assert!(!logged.contains("4111111111111111") && !logged.contains("bank_card"), "no card number logged: {logged}");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_application_is_filed_on_its_console_page(pool: PgPool) {
    use crate::repossession::{csrf, pairs, post_multipart};
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (admin, sz) = (&org.admin, org.region("SZ"));
    let (product, dealer) = setup(&app, admin, sz).await;
    let cookie = format!("lw_session={admin}");
    let with = [("cookie", cookie.as_str())];
    let (_, _, page) = app.fetch_with("/origination/applications/new", &with).await;
    assert!(page.contains(r#"id="form-save""#) && page.contains("新车36期 v1"), "{page}");
    let mut form = vec![
        ("csrf", csrf(&page)),
        ("action", "save".into()),
        ("dealer_id", dealer.to_string()),
        ("applicant_kind", "individual".into()),
        ("applicant_name", "王芳".into()),
        ("id_number", "110105199003071239".into()),
        ("phone", "13800000011".into()),
        ("price", "15万".into()),
    ];
    let (status, refused) = post_multipart(&app, "/origination/applications/new", &cookie, &pairs(&form), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="price""#) && refused.contains("王芳"), "kept and named: {refused}");
    form[7].1 = "150000".into();
    let (status, _) = post_multipart(&app, "/origination/applications/new", &cookie, &pairs(&form), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id = app.get("/api/v1/applications", admin).await.body["items"][0]["id"].as_i64().unwrap();
    let path = format!("/origination/applications/{id}");
    let (_, _, page) = app.fetch_with(&path, &with).await;
    assert!(page.contains("已存 110***********1239"), "the number on file, masked: {page}");
    // Submitting the half-filled draft names what is missing beside its field, the draft kept.
    let submit = [("csrf", csrf(&page)), ("action", "submit".into())];
    let (status, refused) = post_multipart(&app, &path, &cookie, &pairs(&submit), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="bank_card""#) && refused.contains(r#"value="王芳""#), "{refused}");
    // The rest filled in (numbers on file kept), a document filed, then submitted.
    let rest = vec![
        ("csrf", csrf(&page)),
        ("action", "save".into()),
        ("dealer_id", dealer.to_string()),
        ("applicant_kind", "individual".into()),
        ("applicant_name", "王芳".into()),
        ("bank_card", "4111111111111111".into()),
        ("address", "深圳市福田区一路 1 号".into()),
        ("monthly_income", "18000".into()),
        ("vehicle_brand", "比亚迪".into()),
        ("vehicle_model", "汉".into()),
        ("vin", "1M8GDM9AXKP042788".into()),
        ("product_id", product.to_string()),
        ("price", "150000".into()),
        ("down_payment", "30000".into()),
        ("term", "36".into()),
        ("party.role", "emergency_contact".into()),
        ("party.name", "王母".into()),
        ("party.phone", "13900000001".into()),
    ];
    let (status, page) = post_multipart(&app, &path, &cookie, &pairs(&rest), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let png = crate::repossession::PNG;
    let document =
        [("csrf", csrf(&page_of(&app, &path, &with).await)), ("action", "document".into()), ("kind", "id_card".into())];
    let (status, wrong) = post_multipart(&app, &path, &cookie, &pairs(&document), Some(("image/gif", b"GIF89a"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a GIF is neither a photo nor a PDF: {wrong}");
    assert!(wrong.contains(r#"data-field="photos""#), "{wrong}");
    let (status, _) = post_multipart(&app, &path, &cookie, &pairs(&document), Some(("image/png", png))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let submit = [("csrf", csrf(&page_of(&app, &path, &with).await)), ("action", "submit".into())];
    let (status, body) = post_multipart(&app, &path, &cookie, &pairs(&submit), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let page = page_of(&app, &path, &with).await;
    assert!(page.contains("已提交") && page.contains("3919.89") && page.contains("身份证"), "{page}");
    assert!(!page.contains(r#"id="form-save""#), "a submitted application is no longer edited");
}

/// A console page's HTML.
async fn page_of(app: &App, path: &str, with: &[(&str, &str)]) -> String {
    app.fetch_with(path, with).await.2
}

/// The open review task of `application` in `token`'s inbox.
pub(crate) async fn task_of(app: &App, token: &str, application: i64) -> i64 {
    let inbox = app.get("/api/v1/workflow-tasks", token).await.body;
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["subject_type"] == "application" && t["subject_id"].as_str() == Some(application.to_string().as_str())
        })
        .unwrap_or_else(|| panic!("no task for application {application}: {inbox}"))["id"]
        .as_i64()
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_application_is_reviewed_in_the_stages_its_amount_routes_it_to(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (admin, sz) = (&org.admin, org.region("SZ"));
    let (product, dealer) = setup(&app, admin, sz).await;
    let small = app
        .create(admin, "/api/v1/applications", whole(product, dealer, "110105199003071239", "1M8GDM9AXKP042788"))
        .await;
    let submitted =
        app.post(&format!("/api/v1/applications/{small}/actions/submit"), admin, json!({"version": 1})).await;
    assert_eq!(submitted.body["status"], "submitted", "{}", submitted.body);
    let instance = submitted.body["review_instance_id"].as_i64().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/workflow-instances/{instance}"), admin).await.body["instance"]["definition_key"],
        "credit_review_short",
        "121,500 financed: up to 复审"
    );

    // 初审: claimed, transferred (转件) to a colleague, who sends it back for documents (补件).
    let first = app.login("first").await;
    let task = task_of(&app, &first, small).await;
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &first, json!({})).await;
    let colleague = org.users["maker"];
    let moved = app
        .post(
            &format!("/api/v1/workflow-tasks/{task}/actions/transfer"),
            &first,
            json!({"to_user_id": colleague, "note": "请假"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let maker = app.login("maker").await;
    let ask = json!({"version": 2, "note": "请补充近六个月银行流水"});
    let refused = app.post(&format!("/api/v1/applications/{small}/actions/ask-documents"), &first, ask.clone()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "only who holds the task: {}", refused.body);
    let returned = app.post(&format!("/api/v1/applications/{small}/actions/ask-documents"), &maker, ask).await;
    assert_eq!(returned.body["status"], "returned", "{}", returned.body);
    // The filer adds the statement and submits again: the same stage, the same reviewer.
    let (_, stored) = crate::repossession::upload(&app, admin, crate::repossession::PNG, "image/png").await;
    let statement = json!({"kind": "bank_statement", "sha256": stored["sha256"]});
    let filed = app.post(&format!("/api/v1/applications/{small}/documents"), admin, statement).await;
    assert_eq!(filed.body["documents"][0]["kind"], "bank_statement", "{}", filed.body);
    let again = app.post(&format!("/api/v1/applications/{small}/actions/submit"), admin, json!({"version": 3})).await;
    assert_eq!(again.body["status"], "submitted", "{}", again.body);
    let task = task_of(&app, &maker, small).await;
    let approved =
        app.post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), &maker, json!({"note": "资料齐全"})).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    // 复审 (a reviewer of the province) approves: the review ends, the application is approved.
    let second = app.login("second").await;
    let task = task_of(&app, &second, small).await;
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &second, json!({})).await;
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), &second, json!({"note": "同意"})).await;
    assert_eq!(app.get(&format!("/api/v1/applications/{small}"), admin).await.body["status"], "approved");
    let steps = app.get(&format!("/api/v1/applications/{small}/timeline"), admin).await.body;
    let actions: Vec<&str> = steps.as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["create", "submit", "claim", "transfer", "ask_documents", "resubmit", "approve", "claim", "approve"],
        "{steps}"
    );
    assert_eq!(steps[8]["stage"], "复审", "{steps}");
    let cookie = format!("lw_session={admin}");
    let (_, _, page) =
        app.fetch_with(&format!("/origination/applications/{small}"), &[("cookie", cookie.as_str())]).await;
    assert!(
        page.contains(r#"id="history""#) && page.contains("转件") && page.contains("复审") && page.contains("审批通过"),
        "the progress on the application's page: {page}"
    );

    // A larger amount goes on to 终审; rejected at 初审 with a reason code.
    let mut large = whole(product, dealer, "440305198506124569", "LSGPC54U3BF000000");
    large["price"] = json!("500000");
    large["down_payment"] = json!("100000");
    let big = app.create(admin, "/api/v1/applications", large).await;
    let submitted = app.post(&format!("/api/v1/applications/{big}/actions/submit"), admin, json!({"version": 1})).await;
    let instance = submitted.body["review_instance_id"].as_i64().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/workflow-instances/{instance}"), admin).await.body["instance"]["definition_key"],
        "credit_review"
    );
    let task = task_of(&app, &first, big).await;
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &first, json!({})).await;
    let no_code = app
        .post(&format!("/api/v1/applications/{big}/actions/reject"), &first, json!({"version": 2, "note": "负债高"}))
        .await;
    assert_eq!(fields(&no_code.body), ["reason_code"], "{}", no_code.body);
    let rejected = app
        .post(
            &format!("/api/v1/applications/{big}/actions/reject"),
            &first,
            json!({"version": 2, "reason_code": "income", "note": "负债收入比过高"}),
        )
        .await;
    assert_eq!(
        (rejected.body["status"].as_str(), rejected.body["reject_reason"].as_str()),
        (Some("rejected"), Some("income")),
        "{}",
        rejected.body
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_champion_scorecard_scores_on_submit_and_routes_with_the_amount(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (admin, sz) = (&org.admin, org.region("SZ"));
    let (product, dealer) = setup(&app, admin, sz).await;
    let card = |base: i32| {
        json!({
            "base": base,
            "variables": [
                {"name": "age", "bins": [{"to": "25", "points": -20}, {"from": "25", "to": "45", "points": 30}, {"from": "45", "points": 10}], "missing_points": -50},
                {"name": "debt_ratio", "bins": [{"to": "0.3", "points": 40}, {"from": "0.3", "to": "0.5", "points": 0}], "missing_points": -30},
                {"name": "down_payment_ratio", "bins": [{"to": "0.3", "points": 0}, {"from": "0.3", "points": 25}]}
            ],
            "rules": [{"variable": "debt_ratio", "max": "0.6", "reason": "debt_ratio"}],
            "approve_from": 560, "decline_below": 500
        })
    };
    let overlapping = json!({"code": "retail", "name": "零售评分卡", "role": "champion",
        "card": {"base": 500, "variables": [{"name": "age", "bins": [{"to": "30", "points": 1}, {"from": "20", "points": 2}]}],
                 "approve_from": 560, "decline_below": 500}});
    let refused = app.post("/api/v1/scorecards", admin, overlapping).await;
    assert_eq!(fields(&refused.body), ["card.variables[0]"], "{}", refused.body);
    app.create(
        admin,
        "/api/v1/scorecards",
        json!({"code": "retail", "name": "零售评分卡", "role": "champion", "card": card(500)}),
    )
    .await;
    app.create(
        admin,
        "/api/v1/scorecards",
        json!({"code": "retail_b", "name": "挑战者", "role": "challenger", "card": card(450)}),
    )
    .await;

    // 36 years old, installment 3,919.89 on 18,000 a month (0.2178), 20 % down:
    // 500 + 30 + 40 + 0 = 570, approve: a small amount ends at 复审.
    let good = app
        .create(admin, "/api/v1/applications", whole(product, dealer, "110105199003071239", "1M8GDM9AXKP042788"))
        .await;
    let done = app.post(&format!("/api/v1/applications/{good}/actions/submit"), admin, json!({"version": 1})).await;
    assert_eq!(
        (done.body["score"].as_i64(), done.body["score_decision"].as_str()),
        (Some(570), Some("approve")),
        "{}",
        done.body
    );
    let instance = done.body["review_instance_id"].as_i64().unwrap();
    let key =
        app.get(&format!("/api/v1/workflow-instances/{instance}"), admin).await.body["instance"]["definition_key"]
            .clone();
    assert_eq!(key, "credit_review_short");
    let kept = app.get(&format!("/api/v1/applications/{good}/evaluations"), admin).await.body;
    let roles: Vec<&str> = kept.as_array().unwrap().iter().map(|e| e["role"].as_str().unwrap()).collect();
    assert_eq!(roles.len(), 2, "the challenger scored in the shadow: {kept}");
    let challenger = kept.as_array().unwrap().iter().find(|e| e["role"] == "challenger").unwrap();
    assert_eq!((challenger["score"].as_i64(), challenger["inputs"]["age"].as_str()), (Some(520), Some("36")), "{kept}");

    // 41 years old on 9,000 a month (0.4355): 500 + 30 + 0 + 0 = 530, refer: the same small amount
    // goes on to 终审.
    let mut thin = whole(product, dealer, "440305198506124569", "LSGPC54U3BF000000");
    thin["monthly_income"] = json!("9000");
    let referred = app.create(admin, "/api/v1/applications", thin).await;
    let done = app.post(&format!("/api/v1/applications/{referred}/actions/submit"), admin, json!({"version": 1})).await;
    assert_eq!(
        (done.body["score"].as_i64(), done.body["score_decision"].as_str()),
        (Some(530), Some("refer")),
        "{}",
        done.body
    );
    let instance = done.body["review_instance_id"].as_i64().unwrap();
    let key =
        app.get(&format!("/api/v1/workflow-instances/{instance}"), admin).await.body["instance"]["definition_key"]
            .clone();
    assert_eq!(key, "credit_review");

    // The scorecards' page: each version in words; a new one from the champion's card as JSON.
    use crate::repossession::{csrf, pairs, post_multipart};
    let cookie = format!("lw_session={admin}");
    let (_, _, page) = app.fetch_with("/origination/scorecards", &[("cookie", cookie.as_str())]).await;
    assert!(page.contains("retail v1") && page.contains("冠军") && page.contains("[25, 45) +30"), "{page}");
    let mut form = vec![
        ("csrf", csrf(&page)),
        ("action", "create".into()),
        ("code", "retail".into()),
        ("name", "零售评分卡 v2".into()),
        ("role", "challenger".into()),
        ("card", "{\"base\": 500".into()),
    ];
    let (status, refused) = post_multipart(&app, "/origination/scorecards", &cookie, &pairs(&form), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="card""#), "{refused}");
    form[5].1 = card(510).to_string();
    let (status, _) = post_multipart(&app, "/origination/scorecards", &cookie, &pairs(&form), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let all = app.get("/api/v1/scorecards", admin).await.body;
    let challenger = all.as_array().unwrap().iter().find(|s| s["role"] == "challenger").unwrap().clone();
    assert_eq!((challenger["code"].as_str(), challenger["version"].as_i64()), (Some("retail"), Some(2)), "{all}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dealers_staff_see_and_file_only_their_dealers_applications(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (admin, sz) = (&org.admin, org.region("SZ"));
    let (_, ours) = setup(&app, admin, sz).await;
    let theirs = app
        .create(
            admin,
            "/api/v1/dealers",
            json!({"code": "D-02", "name": "深圳另一家店", "tier": "standard", "region_id": sz}),
        )
        .await;
    app.create(
        admin,
        "/api/v1/roles",
        json!({"name": "sales", "permissions": ["applications.read", "applications.write"]}),
    )
    .await;
    let user = json!({"username": "d01_sales", "display_name": "店员", "password": crate::support::PASSWORD,
                      "region_id": sz, "roles": ["sales"], "dealer_id": ours});
    app.create(admin, "/api/v1/users", user).await;
    let cookie = format!("lw_session={admin}");
    let (_, _, form) = app.fetch_with("/system/users/new", &[("cookie", cookie.as_str())]).await;
    assert!(
        form.contains(r#"<select id="dealer_id""#) && form.contains("深圳另一家店"),
        "the console names the dealer too: {form}"
    );
    let sales = app.login("d01_sales").await;
    let elsewhere =
        app.create(admin, "/api/v1/applications", json!({"dealer_id": theirs, "applicant_name": "甲"})).await;
    // Filed without naming a dealer, the application is their dealer's; another dealer's is refused.
    let mine = app.post("/api/v1/applications", &sales, json!({"applicant_name": "乙"})).await;
    assert_eq!(mine.body["dealer_id"].as_i64(), Some(ours), "{}", mine.body);
    let refused = app.post("/api/v1/applications", &sales, json!({"dealer_id": theirs, "applicant_name": "丙"})).await;
    assert_eq!(fields(&refused.body), ["dealer_id"], "{}", refused.body);
    let listed = app.get("/api/v1/applications", &sales).await.body;
    let numbers: Vec<i64> = listed["items"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [mine.body["id"].as_i64().unwrap()], "{listed}");
    assert_eq!(app.get(&format!("/api/v1/applications/{elsewhere}"), &sales).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/v1/applications", admin).await.body["items"].as_array().map(Vec::len),
        Some(2),
        "staff of the company see both"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_blacklisted_guarantor_is_refused_on_submit_until_lifted(pool: PgPool) {
    use crate::repossession::{csrf, pairs, post_multipart};
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (admin, sz) = (&org.admin, org.region("SZ"));
    let (product, dealer) = setup(&app, admin, sz).await;
    let wrong = json!({"name": "王强", "id_number": "440524188001010015", "reason": "骗贷"});
    assert_eq!(fields(&app.post("/api/v1/blacklist", admin, wrong).await.body), ["id_number"], "a wrong check digit");
    let nothing = json!({"name": "王强", "reason": "骗贷"});
    assert_eq!(fields(&app.post("/api/v1/blacklist", admin, nothing).await.body), ["id_number"], "no number at all");
    // Added on the console: the guarantor of the application below.
    let cookie = format!("lw_session={admin}");
    let (_, _, page) = app.fetch_with("/origination/blacklist", &[("cookie", cookie.as_str())]).await;
    let add = [
        ("csrf", csrf(&page)),
        ("action", "add".into()),
        ("name", "王强".into()),
        ("id_number", "440524188001010014".into()),
        ("reason", "骗贷团伙成员".into()),
    ];
    let (status, body) = post_multipart(&app, "/origination/blacklist", &cookie, &pairs(&add), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let listed = app.get("/api/v1/blacklist", admin).await.body;
    assert_eq!(listed[0]["id_number"], "440***********0014", "masked: {listed}");

    let id = app
        .create(admin, "/api/v1/applications", whole(product, dealer, "110105199003071239", "1M8GDM9AXKP042788"))
        .await;
    let refused = app.post(&format!("/api/v1/applications/{id}/actions/submit"), admin, json!({"version": 1})).await;
    assert_eq!(fields(&refused.body), ["parties[0].id_number"], "{}", refused.body);
    assert!(!refused.body.to_string().contains("骗贷"), "the reason stays with risk staff: {}", refused.body);
    assert_eq!(app.get(&format!("/api/v1/applications/{id}"), admin).await.body["status"], "draft");

    let entry = listed[0]["id"].as_i64().unwrap();
    let lifted = app
        .post(
            &format!("/api/v1/blacklist/{entry}/actions/lift"),
            admin,
            json!({"reason": "身份被冒用，已核实", "version": 1}),
        )
        .await;
    assert_eq!(lifted.body["status"], "lifted", "{}", lifted.body);
    let again = app.post(&format!("/api/v1/applications/{id}/actions/submit"), admin, json!({"version": 1})).await;
    assert_eq!(again.body["status"], "submitted", "{}", again.body);
    let audited: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE entity_type = 'blacklist' ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, ["create", "lift"]);
}
