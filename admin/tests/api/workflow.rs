//! A three-stage workflow assigned to three positions, through approve, return, transfer and
//! reject; the maker never approves their own request; business modules hear the outcome.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use backoffice::Error;
use backoffice::system::workflow::definition::Outcome;
use backoffice::system::workflow::engine::Instance;
use backoffice::system::workflow::hooks::FinishHook;
use chrono::NaiveDate;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::support::{App, org};

/// Remembers the outcomes it is told, and the company's day of each.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Outcome, NaiveDate)>>);

impl FinishHook for Recorder {
    fn finished<'a>(
        &'a self,
        _: &'a mut PgConnection,
        instance: &'a Instance,
        outcome: Outcome,
        today: NaiveDate,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        self.0.lock().unwrap().push((instance.subject_id.clone(), outcome, today));
        Box::pin(async { Ok(()) })
    }
}

fn stages() -> Value {
    json!([
        {"name": "初审", "position": "first_reviewer", "actions": ["approve", "reject", "transfer", "note"], "sla_hours": 24},
        {"name": "复审", "position": "second_reviewer", "actions": ["approve", "reject", "return", "transfer", "note"], "sla_hours": 24},
        {"name": "终审", "position": "final_reviewer", "actions": ["approve", "reject", "return", "note"]}
    ])
}

/// The open task of `instance`, as found in `token`'s inbox.
async fn task_in_inbox(app: &App, token: &str, instance: i64) -> Option<Value> {
    let inbox = app.get("/api/v1/workflow-tasks?limit=200", token).await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
    inbox.body["items"].as_array().unwrap().iter().find(|t| t["instance_id"] == instance).cloned()
}

async fn act(app: &App, token: &str, task: i64, action: &str, body: Value) -> (StatusCode, Value) {
    let reply = app.post(&format!("/api/v1/workflow-tasks/{task}/actions/{action}"), token, body).await;
    (reply.status, reply.body)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_request_goes_through_approve_transfer_return_and_reject(pool: PgPool) {
    let recorder = Arc::new(Recorder::default());
    let state = {
        let app = App::new(pool.clone()).await;
        let mut state = app.state.clone();
        // A company fourteen hours east of UTC: its hooks date what they do in its own day.
        state.hooks = state.hooks.with("credit_application", recorder.clone()).in_zone(14);
        state
    };
    let app = App::with_state(state).await;
    let org = org(&app).await;
    let created = app
        .post(
            "/api/v1/workflow-definitions",
            &org.admin,
            json!({"key": "credit_review", "name": "信审", "stages": stages()}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["version"], 1);

    let maker = app.login("maker").await;
    let submit = json!({"definition_key": "credit_review", "subject_type": "credit_application", "subject_id": "A-1",
                        "title": "张三 车贷申请"});
    let instance = app.create(&maker, "/api/v1/workflow-instances", submit).await;

    // Stage 0: the maker holds the first position but never sees or approves their own request.
    let first = app.login("first").await;
    let zj_first = app.login("zj_first").await;
    assert!(task_in_inbox(&app, &maker, instance).await.is_none());
    assert!(task_in_inbox(&app, &zj_first, instance).await.is_none(), "outside the request's region");
    let task = task_in_inbox(&app, &first, instance).await.unwrap();
    let t0 = task["id"].as_i64().unwrap();
    assert!(task["due_at"].is_string());
    let (status, body) = act(&app, &maker, t0, "approve", json!({})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("maker_cannot_approve")));
    let claim = app.post(&format!("/api/v1/workflow-tasks/{t0}/actions/claim"), &first, json!({})).await;
    assert_eq!(claim.body["assignee_id"], org.user("first"));
    let (status, body) = act(&app, &first, t0, "approve", json!({"note": "材料齐全"})).await;
    assert_eq!((status, body["stage"].as_i64()), (StatusCode::OK, Some(1)), "{body}");

    // Stage 1: transfer (转件) from `second` to `second_b`, who approves.
    let second = app.login("second").await;
    let second_b = app.login("second_b").await;
    let t1 = task_in_inbox(&app, &second, instance).await.unwrap()["id"].as_i64().unwrap();
    let (status, body) = act(&app, &second, t1, "transfer", json!({"to_user_id": org.user("maker")})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not to the maker: {body}");
    let (status, _) =
        act(&app, &second, t1, "transfer", json!({"to_user_id": org.user("second_b"), "note": "休假"})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(task_in_inbox(&app, &second, instance).await.is_none(), "transferred away");
    let (status, body) = act(&app, &second, t1, "approve", json!({})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_state")));
    let (status, body) = act(&app, &second_b, t1, "approve", json!({})).await;
    assert_eq!((status, body["stage"].as_i64()), (StatusCode::OK, Some(2)));

    // Stage 2: returned to the first stage, which goes back to whoever approved it.
    let fin = app.login("final").await;
    let t2 = task_in_inbox(&app, &fin, instance).await.unwrap()["id"].as_i64().unwrap();
    let (status, _) = act(&app, &fin, t2, "return", json!({"to_stage": 0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a return needs a reason");
    let (status, _) = act(&app, &fin, t2, "return", json!({"to_stage": 2, "note": "x"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "only to an earlier stage");
    let (status, body) = act(&app, &fin, t2, "return", json!({"to_stage": 0, "note": "收入证明缺失"})).await;
    assert_eq!((status, body["stage"].as_i64()), (StatusCode::OK, Some(0)));
    let back = task_in_inbox(&app, &first, instance).await.unwrap();
    assert_eq!(back["assignee_id"], org.user("first"));

    // Through again to the end.
    let t = back["id"].as_i64().unwrap();
    assert_eq!(act(&app, &first, t, "approve", json!({})).await.0, StatusCode::OK);
    let t = task_in_inbox(&app, &second_b, instance).await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(act(&app, &second_b, t, "approve", json!({})).await.0, StatusCode::OK);
    let t = task_in_inbox(&app, &fin, instance).await.unwrap()["id"].as_i64().unwrap();
    let (status, body) = act(&app, &fin, t, "approve", json!({})).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("approved")));
    assert_eq!(act(&app, &fin, t, "approve", json!({})).await.0, StatusCode::CONFLICT, "a closed task stays closed");

    let detail = app.get(&format!("/api/v1/workflow-instances/{instance}"), &maker).await.body;
    let history: Vec<&str> =
        detail["history"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(
        history,
        ["submit", "claim", "approve", "transfer", "approve", "return", "approve", "approve", "approve"]
    );
    assert_eq!(detail["tasks"].as_array().unwrap().len(), 6);

    // A second request, rejected at the second stage.
    let submit = json!({"definition_key": "credit_review", "subject_type": "credit_application", "subject_id": "A-2",
                        "title": "李四 车贷申请"});
    let rejected = app.create(&maker, "/api/v1/workflow-instances", submit).await;
    let t = task_in_inbox(&app, &first, rejected).await.unwrap()["id"].as_i64().unwrap();
    act(&app, &first, t, "approve", json!({})).await;
    let t = task_in_inbox(&app, &second, rejected).await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(act(&app, &second, t, "reject", json!({})).await.0, StatusCode::UNPROCESSABLE_ENTITY, "needs a reason");
    let (status, body) = act(&app, &second, t, "reject", json!({"note": "负债过高"})).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("rejected")));

    let day = backoffice::kit::day::company_today(14);
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [("A-1".to_owned(), Outcome::Approved, day), ("A-2".to_owned(), Outcome::Rejected, day)]
    );
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE entity_type = 'workflow_instance'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(audited >= 10, "{audited}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_definition_edit_is_a_new_version_and_running_requests_keep_theirs(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    app.create(
        &org.admin,
        "/api/v1/workflow-definitions",
        json!({"key": "payment", "name": "付款", "stages": stages()}),
    )
    .await;
    let maker = app.login("maker").await;
    let submit =
        json!({"definition_key": "payment", "subject_type": "payment_request", "subject_id": "P-1", "title": "付款"});
    let old = app.create(&maker, "/api/v1/workflow-instances", submit.clone()).await;
    let one_stage = json!([{"name": "财务", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    let v2 = app
        .post(
            "/api/v1/workflow-definitions",
            &org.admin,
            json!({"key": "payment", "name": "付款", "stages": one_stage}),
        )
        .await;
    assert_eq!(v2.body["version"], 2);
    let new = app.create(&maker, "/api/v1/workflow-instances", submit).await;
    let version = |id: i64| {
        let (app, maker) = (&app, &maker);
        async move {
            app.get(&format!("/api/v1/workflow-instances/{id}"), maker).await.body["instance"]["definition_version"]
                .clone()
        }
    };
    assert_eq!(version(old).await, 1);
    assert_eq!(version(new).await, 2);
    let bad = json!([{"name": "x", "position": "no_such_position", "actions": ["note"]}]);
    let refused = app
        .post("/api/v1/workflow-definitions", &org.admin, json!({"key": "payment", "name": "x", "stages": bad}))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["errors"].as_array().unwrap().len(), 2);
    // The maker withdraws the old request; nobody else may.
    let first = app.login("first").await;
    let cancel = |token: String| {
        let app = &app;
        async move {
            app.call(Method::POST, &format!("/api/v1/workflow-instances/{old}/actions/cancel"), Some(&token), None)
                .await
        }
    };
    assert_eq!(cancel(first).await.status, StatusCode::FORBIDDEN);
    assert_eq!(cancel(maker.clone()).await.body["status"], "cancelled");
    assert!(task_in_inbox(&app, &app.login("first").await, old).await.is_none());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_retried_submission_with_the_same_idempotency_key_creates_one_request(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    app.create(
        &org.admin,
        "/api/v1/workflow-definitions",
        json!({"key": "write_off", "name": "核销", "stages": stages()}),
    )
    .await;
    let maker = app.login("maker").await;
    let submit =
        json!({"definition_key": "write_off", "subject_type": "write_off", "subject_id": "W-1", "title": "核销"});
    let send = |body: Value, key: &'static str| {
        let (app, maker) = (&app, &maker);
        async move {
            app.call_with(
                Method::POST,
                "/api/v1/workflow-instances",
                Some(maker),
                Some(body),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let first = send(submit.clone(), "k-1").await;
    let retry = send(submit.clone(), "k-1").await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(first.body["id"], retry.body["id"]);
    assert_eq!(retry.headers["idempotency-replayed"], "true");
    let other = send(
        json!({"definition_key": "write_off", "subject_type": "write_off", "subject_id": "W-2", "title": "x"}),
        "k-1",
    )
    .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM workflow_instances").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);
    // Another user's identical key is theirs alone.
    let admin_send = app
        .call_with(
            Method::POST,
            "/api/v1/workflow-instances",
            Some(&org.admin),
            Some(submit),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_ne!(admin_send.body["id"], first.body["id"]);
}
