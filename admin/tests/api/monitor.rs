//! The monitor's back office: alerts streamed live within the caller's region, acknowledged and
//! resolved with who and why; thresholds set per scope with versions; collection tasks from
//! alerts, assigned by position; an engine cut that goes nowhere without an approval.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use futures_util::StreamExt;
use leasewatch_monitor::alerts::{self, Owner};
use leasewatch_monitor::rules::{Rule, Severity};
use leasewatch_monitor::watch::Finding;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{App, Org, PASSWORD, org};

/// A financed vehicle in `region` with a contract and a wired tracker: (vehicle, contract, device).
pub(crate) async fn financed(app: &App, region: i64, n: i64) -> (i64, i64, i64) {
    let vehicle: i64 =
        sqlx::query_scalar("INSERT INTO vehicles (vin, region_id, status) VALUES ($1, $2, 'financed') RETURNING id")
            .bind(format!("LSVMON{n:011}"))
            .bind(region)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let contract: i64 = sqlx::query_scalar(
        "INSERT INTO contracts (number, vehicle_id, region_id, terms, principal, dpd, bucket) VALUES ($1, $2, $3, '{}', 90000, 40, 2) RETURNING id",
    )
    .bind(format!("M-{n}"))
    .bind(vehicle)
    .bind(region)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let device: i64 =
        sqlx::query_scalar("INSERT INTO devices (imei, protocol, vehicle_id) VALUES ($1, 'gt06', $2) RETURNING id")
            .bind(format!("8610000{n:08}"))
            .bind(vehicle)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    (vehicle, contract, device)
}

/// Raises an alert as the monitor does.
pub(crate) async fn raise(app: &App, vehicle: i64, contract: i64, region: i64, rule: Rule, severity: Severity) -> i64 {
    let finding = Finding {
        vehicle_id: vehicle,
        device_id: None,
        rule,
        severity,
        title: format!("{} on {vehicle}", rule.name()),
        at: Utc::now(),
        location: Some((22.54, 114.06)),
        evidence: json!({"alarm": rule.name()}),
        collection: true,
    };
    let mut tx = app.pool.begin().await.unwrap();
    let notice = alerts::raise(&mut tx, &finding, Owner { region_id: region, contract_id: Some(contract) }, Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    notice.id
}

/// A user with `permissions` (a role made for them) in `region`, holding `positions`.
pub async fn staff(app: &App, org: &Org, name: &str, region: &str, permissions: &[&str], positions: &[&str]) -> String {
    app.create(&org.admin, "/api/v1/roles", json!({"name": format!("{name}_role"), "permissions": permissions})).await;
    let body = json!({"username": name, "display_name": name, "password": PASSWORD, "region_id": org.region(region),
                      "roles": [format!("{name}_role")], "positions": positions});
    app.create(&org.admin, "/api/v1/users", body).await;
    app.login(name).await
}

/// Opens the SSE stream as `token`; returns a reader of `event:` names with their data.
async fn open_stream(app: &App, token: &str) -> impl futures_util::Stream<Item = (String, Value)> {
    let request = Request::builder()
        .method(Method::GET)
        .uri("/api/v1/alerts/stream")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response.into_body().into_data_stream().filter_map(|chunk| async move {
        let text = String::from_utf8(chunk.ok()?.to_vec()).ok()?;
        let event = text.lines().find_map(|l| l.strip_prefix("event: "))?.to_owned();
        let data = text.lines().find_map(|l| l.strip_prefix("data: "))?;
        Some((event, serde_json::from_str(data).ok()?))
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn alerts_stream_live_within_the_region_and_are_acknowledged_and_resolved(pool: sqlx::PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let sz_collector = staff(&app, &org, "sz_collector", "SZ", &["alerts.read", "alerts.act"], &[]).await;
    let zj_collector = staff(&app, &org, "zj_collector", "ZJ", &["alerts.read", "alerts.act"], &[]).await;
    let (vehicle, contract, _) = financed(&app, org.region("FT"), 1).await;
    let (zj_vehicle, zj_contract, _) = financed(&app, org.region("ZJ"), 2).await;

    let mut sz_stream = Box::pin(open_stream(&app, &sz_collector).await);
    let mut zj_stream = Box::pin(open_stream(&app, &zj_collector).await);
    // The listener starts with the first stream; give it a moment to be listening.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = raise(&app, vehicle, contract, org.region("FT"), Rule::PowerCut, Severity::Critical).await;
    let (event, data) = tokio::time::timeout(Duration::from_secs(5), sz_stream.next()).await.unwrap().unwrap();
    assert_eq!(
        (event.as_str(), data["id"].as_i64(), data["severity"].as_str()),
        ("opened", Some(id), Some("critical"))
    );

    // The same condition again updates the open alert instead of raising another.
    let again = raise(&app, vehicle, contract, org.region("FT"), Rule::PowerCut, Severity::Critical).await;
    assert_eq!(again, id);
    let (event, _) = tokio::time::timeout(Duration::from_secs(5), sz_stream.next()).await.unwrap().unwrap();
    assert_eq!(event, "repeated");

    // Zhejiang sees its own alert only.
    let zj_id = raise(&app, zj_vehicle, zj_contract, org.region("ZJ"), Rule::Tamper, Severity::High).await;
    let (_, data) = tokio::time::timeout(Duration::from_secs(5), zj_stream.next()).await.unwrap().unwrap();
    assert_eq!(data["id"].as_i64(), Some(zj_id));
    assert_eq!(app.get(&format!("/api/v1/alerts/{id}"), &zj_collector).await.status, StatusCode::NOT_FOUND);

    let list = app.get("/api/v1/alerts?status=unresolved&min_severity=high", &sz_collector).await;
    assert_eq!(list.body["total"], 1, "{}", list.body);
    assert_eq!(list.body["items"][0]["occurrences"], 2);

    let ack = app
        .post(&format!("/api/v1/alerts/{id}/actions/acknowledge"), &sz_collector, json!({"note": "calling the lessee"}))
        .await;
    assert_eq!((ack.status, ack.body["status"].as_str()), (StatusCode::OK, Some("acknowledged")), "{}", ack.body);
    let (event, _) = tokio::time::timeout(Duration::from_secs(5), sz_stream.next()).await.unwrap().unwrap();
    assert_eq!(event, "acknowledged");
    let empty =
        app.post(&format!("/api/v1/alerts/{id}/actions/resolve"), &sz_collector, json!({"resolution": "  "})).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = app
        .post(
            &format!("/api/v1/alerts/{id}/actions/resolve"),
            &sz_collector,
            json!({"resolution": "vehicle found, tracker rewired"}),
        )
        .await;
    assert_eq!(
        done.body["resolved_by"].as_i64(),
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'sz_collector'").fetch_one(&app.pool).await.ok()
    );
    let twice =
        app.post(&format!("/api/v1/alerts/{id}/actions/resolve"), &sz_collector, json!({"resolution": "again"})).await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "invalid_state"));
    let detail = app.get(&format!("/api/v1/alerts/{id}"), &sz_collector).await;
    let actions: Vec<&str> =
        detail.body["history"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["opened", "acknowledged", "resolved"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn thresholds_are_versioned_per_scope_and_only_the_rules_own(pool: sqlx::PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let catalogue = app.get("/api/v1/monitor/rule-catalogue", &org.admin).await;
    let dwell = catalogue.body.as_array().unwrap().iter().find(|r| r["rule"] == "risk_location_dwell").unwrap().clone();
    assert_eq!(dwell["defaults"]["dwell_after_s"], 7200);
    let wrong = app
        .post(
            "/api/v1/monitor/rules",
            &org.admin,
            json!({"rule": "tow", "scope": "region", "scope_id": org.region("GD"), "params": {"dwell_after_s": 60}}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong.body);
    for seconds in [3600, 1800] {
        let body = json!({"rule": "risk_location_dwell", "scope": "region", "scope_id": org.region("GD"), "params": {"dwell_after_s": seconds}});
        app.create(&org.admin, "/api/v1/monitor/rules", body).await;
    }
    let current = app.get("/api/v1/monitor/rules?rule=risk_location_dwell", &org.admin).await;
    let gd = current.body.as_array().unwrap().iter().find(|s| s["scope"] == "region").unwrap();
    assert_eq!((gd["version"].as_i64(), gd["params"]["dwell_after_s"].as_i64()), (Some(2), Some(1800)));
    let history = app.get("/api/v1/monitor/rules?rule=risk_location_dwell&history=true", &org.admin).await;
    assert_eq!(history.body.as_array().unwrap().len(), 2);

    // A branch sets thresholds and geofences for its own subtree only.
    let branch = staff(&app, &org, "sz_risk", "SZ", &["monitor.read", "monitor.write"], &[]).await;
    let other = json!({"rule": "tow", "scope": "region", "scope_id": org.region("ZJ"), "params": {"tow_after_s": 60}});
    assert_eq!(app.post("/api/v1/monitor/rules", &branch, other).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let product = json!({"rule": "tow", "scope": "product", "scope_id": 1, "enabled": false});
    assert_eq!(app.post("/api/v1/monitor/rules", &branch, product).await.status, StatusCode::FORBIDDEN);
    let own = json!({"rule": "tow", "scope": "region", "scope_id": org.region("FT"), "params": {"tow_after_s": 60}});
    app.create(&branch, "/api/v1/monitor/rules", own).await;
    let seen = app.get("/api/v1/monitor/rules?rule=risk_location_dwell", &branch).await;
    assert!(
        seen.body.as_array().unwrap().iter().all(|r| r["scope"] != "region"),
        "Guangdong's setting is above SZ: {}",
        seen.body
    );
    let circle = json!({"circle": {"latitude": 22.54, "longitude": 114.06, "radius_m": 500}});
    let global = json!({"name": "everywhere", "scope": "global", "shape": circle, "trigger": "enter", "region_id": org.region("SZ")});
    assert_eq!(app.post("/api/v1/geofences", &branch, global).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let local = json!({"name": "Futian", "scope": "region", "scope_id": org.region("FT"), "shape": circle, "trigger": "exit", "region_id": org.region("SZ")});
    app.create(&branch, "/api/v1/geofences", local).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn collection_tasks_carry_their_alerts_and_go_to_a_holder_of_the_position(pool: sqlx::PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    app.create(&org.admin, "/api/v1/positions", json!({"code": "collection", "name": "催收员"})).await;
    let lead = staff(&app, &org, "lead", "SZ", &["tasks.read", "tasks.write", "alerts.read"], &[]).await;
    staff(&app, &org, "collector", "FT", &["tasks.read"], &["collection"]).await;
    let (vehicle, contract, _) = financed(&app, org.region("FT"), 3).await;
    let a = raise(&app, vehicle, contract, org.region("FT"), Rule::PowerCut, Severity::Critical).await;
    let b = raise(&app, vehicle, contract, org.region("FT"), Rule::RiskLocationDwell, Severity::High).await;
    let task = app
        .post("/api/v1/risk-tasks", &lead, json!({"kind": "collection", "alert_ids": [a, b], "note": "visit tonight"}))
        .await;
    assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);
    assert_eq!(task.body["evidence"]["alerts"].as_array().unwrap().len(), 2);
    let dup = app.post("/api/v1/risk-tasks", &lead, json!({"kind": "collection", "alert_ids": [a]})).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "duplicate"));
    let id = task.body["id"].as_i64().unwrap();
    leasewatch_monitor::risk::recompute(&app.pool, Some(&[contract]), Utc::now()).await.unwrap();
    let queue = app.get("/api/v1/risk-tasks?sort=-risk", &lead).await;
    assert_eq!(queue.body["items"][0]["risk_score"], 44, "40 days, M2, a power cut, a risk location: {}", queue.body);
    let score = app.get(&format!("/api/v1/risk-scores/{contract}"), &org.admin).await;
    assert_eq!(score.body["reasons"][0]["code"], "days_past_due", "{}", score.body);
    // The weights are settings: days past due made to count for nothing, the score follows.
    let weight = app
        .call(
            Method::PUT,
            "/api/v1/settings/risk.points.days_past_due",
            Some(&org.admin),
            Some(json!({"value": 0, "version": 0})),
        )
        .await;
    assert_eq!((weight.status, weight.body["version"].as_i64()), (StatusCode::OK, Some(1)), "{}", weight.body);
    leasewatch_monitor::risk::recompute(&app.pool, Some(&[contract]), Utc::now()).await.unwrap();
    let reweighed = app.get(&format!("/api/v1/risk-scores/{contract}"), &org.admin).await;
    assert_eq!(reweighed.body["score"], 28, "44 less 40 days' 16 points: {}", reweighed.body);
    let not_a_collector = app
        .post(&format!("/api/v1/risk-tasks/{id}/actions/assign"), &lead, json!({"user_id": org.user("first")}))
        .await;
    assert_eq!(not_a_collector.status, StatusCode::UNPROCESSABLE_ENTITY);
    let collector: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'collector'").fetch_one(&app.pool).await.unwrap();
    let assigned =
        app.post(&format!("/api/v1/risk-tasks/{id}/actions/assign"), &lead, json!({"user_id": collector})).await;
    assert_eq!(
        (assigned.status, assigned.body["status"].as_str()),
        (StatusCode::OK, Some("assigned")),
        "{}",
        assigned.body
    );
    let done = app
        .post(&format!("/api/v1/risk-tasks/{id}/actions/complete"), &lead, json!({"note": "lessee paid at the door"}))
        .await;
    assert_eq!(done.body["status"], "done");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_engine_cut_is_queued_only_after_approval(pool: sqlx::PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let requester =
        staff(&app, &org, "risk_officer", "SZ", &["commands.send", "commands.read", "workflows.start"], &[]).await;
    let (_, _, device) = financed(&app, org.region("FT"), 4).await;
    let path = format!("/api/v1/devices/{device}/commands");
    let cut = json!({"command": "engine_cut", "reason": "M2, vehicle at a pawn shop"});
    let undefined = app.post(&path, &requester, cut.clone()).await;
    assert_eq!((undefined.status, undefined.code()), (StatusCode::CONFLICT, "invalid_state"), "{}", undefined.body);

    let stages = json!([{"name": "风控审批", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    app.create(
        &org.admin,
        "/api/v1/workflow-definitions",
        json!({"key": "engine_cut", "name": "断油电", "stages": stages}),
    )
    .await;
    let requested = app.post(&path, &requester, cut.clone()).await;
    assert_eq!(
        (requested.status, requested.body["status"].as_str()),
        (StatusCode::CREATED, Some("awaiting_approval")),
        "{}",
        requested.body
    );
    let id = requested.body["id"].as_i64().unwrap();

    // Nothing goes to the device while the request waits: the dispatcher only takes queued ones.
    let status: String = sqlx::query_scalar("SELECT status FROM device_commands WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "awaiting_approval");

    let approver = app.login("final").await;
    let instance = requested.body["workflow_instance_id"].as_i64().unwrap();
    let inbox = app.get("/api/v1/workflow-tasks?limit=200", &approver).await;
    let task = inbox.body["items"].as_array().unwrap().iter().find(|t| t["instance_id"] == instance).unwrap()["id"]
        .as_i64()
        .unwrap();
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &approver, json!({})).await;
    let approved = app
        .post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), &approver, json!({"note": "located, parked"}))
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    let listed = app.get(&path, &requester).await;
    assert_eq!(listed.body[0]["status"], "queued", "{}", listed.body);

    let locate = app.post(&path, &requester, json!({"command": "locate_now", "reason": "where is it"})).await;
    assert_eq!(locate.body["status"], "queued", "no approval for a locate");
    let bad = app.post(&path, &requester, json!({"command": "set_interval", "seconds": 2, "reason": "faster"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
