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
