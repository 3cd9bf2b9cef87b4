//! Dealers end to end: added with particulars, read and listed within the region, updated with
//! the version that was read, suspended, reinstated and blacklisted with a reason; lifting a
//! blacklist waits for a second person's approval; every step is in the audit log.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{App, PASSWORD, org};

/// A valid unified social credit code (check character `7`).
const CREDIT_CODE: &str = "91440300MA5F000007";

/// Dealer keepers in Guangdong and Zhejiang; returns their tokens.
async fn keepers(app: &App, admin: &str, gd: i64, zj: i64) -> (String, String) {
    let permissions = ["dealers.read", "dealers.write", "dealers.manage", "workflows.start", "workflows.read"];
    app.create(admin, "/api/v1/roles", json!({"name": "dealer_keeper", "permissions": permissions})).await;
    for (name, region) in [("gd_keeper", gd), ("zj_keeper", zj)] {
        let body = json!({"username": name, "display_name": name, "password": PASSWORD, "phone": "13812345678",
                          "region_id": region, "roles": ["dealer_keeper"], "positions": []});
        app.create(admin, "/api/v1/users", body).await;
    }
    (app.login("gd_keeper").await, app.login("zj_keeper").await)
}

async fn audit_actions(app: &App, admin: &str, dealer: i64) -> Vec<String> {
    let reply = app.get(&format!("/api/v1/audit-events?entity_type=dealer&entity_id={dealer}&sort=id"), admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dealer_is_added_read_updated_and_kept_to_its_region(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (gd, zj) = keepers(&app, &org.admin, org.region("GD"), org.region("ZJ")).await;

    let bad = app
        .post(
            "/api/v1/dealers",
            &gd,
            json!({"code": "D-1", "name": " ", "region_id": org.region("SZ"), "credit_code": "91440300MA5F000008",
                   "contact_phone": "call me"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "credit_code", "contact_phone"], "every bad field at once");
    let outside = json!({"code": "D-0", "name": "杭州车行", "region_id": org.region("ZJ")});
    assert_eq!(app.post("/api/v1/dealers", &gd, outside).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    let new = json!({"code": "D-1", "name": "深圳福田车行", "tier": "gold", "region_id": org.region("SZ"),
                     "credit_code": CREDIT_CODE, "contact_name": "李四", "contact_phone": "0755-8888 6666",
                     "address": "深圳市福田区深南大道 1 号"});
    let id = app.create(&gd, "/api/v1/dealers", new).await;
    let dealer = app.get(&format!("/api/v1/dealers/{id}"), &gd).await;
    assert_eq!(dealer.status, StatusCode::OK);
    assert_eq!((dealer.body["status"].as_str(), dealer.body["version"].as_i64()), (Some("active"), Some(1)));
    assert_eq!(dealer.body["credit_code"], CREDIT_CODE);
    assert_eq!(
        app.post(
            "/api/v1/dealers",
            &gd,
            json!({"code": "D-2", "name": "x", "region_id": org.region("GD"),
        "credit_code": CREDIT_CODE})
        )
        .await
        .code(),
        "duplicate",
        "one credit code, one dealer"
    );

    // Zhejiang does not see a Guangdong dealer: not in lists, and not by id.
    assert_eq!(app.get(&format!("/api/v1/dealers/{id}"), &zj).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/dealers", &zj).await.body["total"], 0);
    let found = app.get("/api/v1/dealers?q=%E7%A6%8F%E7%94%B0&status=active&tier=gold", &gd).await;
    assert_eq!(found.body["total"], 1, "{}", found.body);
    assert_eq!(app.get("/api/v1/dealers?status=suspended", &gd).await.body["total"], 0);
    let patch = json!({"version": 1, "name": "x"});
    assert_eq!(app.patch(&format!("/api/v1/dealers/{id}"), &zj, patch).await.status, StatusCode::NOT_FOUND);

    let updated = app
        .patch(&format!("/api/v1/dealers/{id}"), &gd, json!({"version": 1, "contact_name": "王五", "tier": "standard"}))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!((updated.body["contact_name"].as_str(), updated.body["version"].as_i64()), (Some("王五"), Some(2)));
    assert_eq!(updated.body["name"], "深圳福田车行", "fields left out stay");
    let stale = app.patch(&format!("/api/v1/dealers/{id}"), &gd, json!({"version": 1, "name": "旧"})).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::CONFLICT, "version_conflict"));

    let actions = audit_actions(&app, &org.admin, id).await;
    assert_eq!(actions, ["create", "update"]);
    let entries = app.get(&format!("/api/v1/audit-events?entity_type=dealer&entity_id={id}&sort=id"), &org.admin).await;
    let update = &entries.body["items"][1];
    assert_eq!(
        (update["before"]["contact_name"].as_str(), update["after"]["contact_name"].as_str()),
        (Some("李四"), Some("王五"))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dealer_is_suspended_and_blacklisted_with_reasons_and_a_blacklist_lifts_only_on_approval(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (gd, _) = keepers(&app, &org.admin, org.region("GD"), org.region("ZJ")).await;
    let id = app
        .create(&gd, "/api/v1/dealers", json!({"code": "D-9", "name": "广州车行", "region_id": org.region("GD")}))
        .await;
    let action = |name: &str, version: i64, reason: &str| {
        let path = format!("/api/v1/dealers/{id}/actions/{name}");
        let body = json!({"version": version, "reason": reason});
        let app = &app;
        let gd = gd.clone();
        async move { app.post(&path, &gd, body).await }
    };

    assert_eq!(action("suspend", 1, " ").await.status, StatusCode::UNPROCESSABLE_ENTITY, "a reason is required");
    let nobody = app.login("nobody").await;
    let refused =
        app.post(&format!("/api/v1/dealers/{id}/actions/suspend"), &nobody, json!({"version": 1, "reason": "x"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let suspended = action("suspend", 1, "营业执照过期").await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.body);
    assert_eq!(
        (suspended.body["status"].as_str(), suspended.body["status_reason"].as_str()),
        (Some("suspended"), Some("营业执照过期"))
    );
    let again = action("suspend", 2, "again").await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "invalid_state"));
    assert_eq!(action("reinstate", 2, "执照已更新").await.body["status"], "active");
    let blacklisted = action("blacklist", 3, "伪造购车合同").await;
    assert_eq!(blacklisted.body["status"], "blacklisted");

    // Lifting a blacklist is a request: refused until the company defines its workflow, then it
    // waits for a second person, and the dealer stays blacklisted meanwhile.
    let undefined = action("reinstate", 4, "误判").await;
    assert_eq!((undefined.status, undefined.code()), (StatusCode::CONFLICT, "invalid_state"), "{}", undefined.body);
    let stages = json!([{"name": "风控审批", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    let definition = json!({"key": "dealer_reinstatement", "name": "经销商解除黑名单", "stages": stages});
    app.create(&org.admin, "/api/v1/workflow-definitions", definition).await;
    let requested = action("reinstate", 4, "误判，已核实").await;
    assert_eq!((requested.status, requested.body["status"].as_str()), (StatusCode::OK, Some("blacklisted")));
    assert_eq!(action("reinstate", 4, "twice").await.code(), "invalid_state", "one request at a time");

    let fin = app.login("final").await;
    let inbox = app.get("/api/v1/workflow-tasks", &fin).await;
    let task: &Value =
        inbox.body["items"].as_array().unwrap().iter().find(|t| t["subject_type"] == "dealer_reinstatement").unwrap();
    let task = task["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &fin, json!({})).await;
    let approved = app.post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), &fin, json!({})).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    let dealer = app.get(&format!("/api/v1/dealers/{id}"), &gd).await.body;
    assert_eq!(dealer["status"], "active");
    assert!(dealer["status_reason"].as_str().unwrap().contains("误判，已核实"));

    let actions = audit_actions(&app, &org.admin, id).await;
    assert_eq!(actions, ["create", "suspend", "reinstate", "blacklist", "request_reinstatement"]);
}
