//! SMS reminders: once per installment and stage however often the job runs, never to a customer
//! who opted out, and only within the contact rules, which say why a message waits.

use axum::http::{Method, StatusCode};
use chrono::{Duration, Timelike, Utc};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{App, Org, org};

/// Sets a setting, whatever its version.
async fn set_rule(app: &App, org: &Org, key: &str, value: i64) {
    let path = format!("/api/v1/settings/{key}");
    let all = app.get("/api/v1/settings", &org.admin).await.body;
    let version =
        all.as_array().unwrap().iter().find(|s| s["key"] == key).map_or(0, |s| s["version"].as_i64().unwrap());
    let reply = app.call(Method::PUT, &path, Some(&org.admin), Some(json!({"value": value, "version": version}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn reminders_go_once_per_installment_and_stage_within_the_contact_rules(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let today = backoffice::kit::day::company_today(8);
    let month_ago = |days: i64| today.checked_sub_months(chrono::Months::new(1)).unwrap() + Duration::days(days);
    // Due in three days; fell due yesterday, unpaid; due in three days but the customer opted out.
    let csv = format!(
        "number,region,principal,annual_rate,term,method,start_date,customer_name,id_number,phone\n\
         HT-SOON,SZ,12000,0.12,12,equal-installment,{},王芳,11010519491231002X,13800000011\n\
         HT-LATE,SZ,12000,0.12,12,equal-installment,{},李雷,110105194912310038,13800000012\n\
         HT-QUIET,SZ,12000,0.12,12,equal-installment,{},韩梅梅,110105194912310046,13800000013\n",
        month_ago(3),
        month_ago(-1),
        month_ago(3),
    );
    let imported = app.post("/api/v1/contracts/import", &org.admin, json!({"csv": csv})).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    let id = async |number: &str| {
        app.get(&format!("/api/v1/contracts?number={number}"), &org.admin).await.body["items"][0]["id"]
            .as_i64()
            .unwrap()
    };
    let (soon, late, quiet) = (id("HT-SOON").await, id("HT-LATE").await, id("HT-QUIET").await);
    let customer = app.get(&format!("/api/v1/contracts/{quiet}"), &org.admin).await.body["contract"]["customer_id"]
        .as_i64()
        .unwrap();
    let opted = app
        .post(&format!("/api/v1/customers/{customer}/actions/sms-opt-out"), &org.admin, json!({"opt_out": true}))
        .await;
    assert_eq!(opted.status, StatusCode::NO_CONTENT, "{}", opted.body);
    for (offset, text) in [
        (-3, "{customer_name}您好，您的合同{contract_number}将于{due_date}还款{amount}元。"),
        (1, "{customer_name}您好，合同{contract_number}的{amount}元已逾期，请尽快还款。"),
    ] {
        let stage = app
            .call(
                Method::PUT,
                "/api/v1/reminder-stages",
                Some(&org.admin),
                Some(json!({"offset_days": offset, "template": text, "active": true})),
            )
            .await;
        assert_eq!(stage.status, StatusCode::OK, "{}", stage.body);
    }
    let bad = app
        .call(
            Method::PUT,
            "/api/v1/reminder-stages",
            Some(&org.admin),
            Some(json!({"offset_days": 7, "template": "{plate}", "active": true})),
        )
        .await;
    assert_eq!(bad.body["errors"][0]["field"], "template", "{}", bad.body);

    // Outside the contact hours nothing goes, and the run says why.
    let hour = (Utc::now() + Duration::hours(8)).hour() as i64;
    let (from, until) = if hour == 23 { (0, 23) } else { (hour + 1, 24) };
    set_rule(&app, &org, "postloan.contact_until_hour", until).await;
    set_rule(&app, &org, "postloan.contact_from_hour", from).await;
    let run = app.post("/api/v1/reminders/actions/run", &org.admin, json!({})).await;
    assert_eq!((run.body["sent"].as_i64(), run.body["held"].as_i64()), (Some(0), Some(2)), "{}", run.body);
    assert!(run.body["held_because"].as_str().unwrap().contains(":00"), "{}", run.body);

    // Within the hours: one message each, the opted-out customer none; a second run sends nothing.
    set_rule(&app, &org, "postloan.contact_from_hour", 0).await;
    set_rule(&app, &org, "postloan.contact_until_hour", 24).await;
    let run = app.post("/api/v1/reminders/actions/run", &org.admin, json!({})).await;
    assert_eq!((run.body["sent"].as_i64(), run.body["opted_out"].as_i64()), (Some(2), Some(1)), "{}", run.body);
    let again = app.post("/api/v1/reminders/actions/run", &org.admin, json!({})).await;
    assert_eq!((again.body["sent"].as_i64(), again.body["receipts"].as_i64()), (Some(0), Some(0)), "{}", again.body);
    let soon_messages = app.get(&format!("/api/v1/contracts/{soon}/messages"), &org.admin).await.body;
    assert_eq!(soon_messages.as_array().unwrap().len(), 1);
    assert_eq!(
        (soon_messages[0]["offset_days"].as_i64(), soon_messages[0]["status"].as_str()),
        (Some(-3), Some("delivered")),
        "{soon_messages}"
    );
    assert!(soon_messages[0]["text"].as_str().unwrap().starts_with("王芳您好"), "{soon_messages}");
    let late_messages = app.get(&format!("/api/v1/contracts/{late}/messages"), &org.admin).await.body;
    assert_eq!(late_messages[0]["offset_days"], 1, "{late_messages}");
    assert!(
        app.get(&format!("/api/v1/contracts/{quiet}/messages"), &org.admin).await.body.as_array().unwrap().is_empty()
    );
    let cookie = format!("lw_session={}", org.admin);
    let (_, _, page) = app.fetch_with(&format!("/contracts/{soon}"), &[("cookie", cookie.as_str())]).await;
    assert!(page.contains(r#"id="messages""#) && page.contains("D-3") && page.contains("已送达"), "{page}");
    // Each message is a contact in the history, and counts against the day's cap.
    let contacts = app.get(&format!("/api/v1/contracts/{late}/contacts"), &org.admin).await.body;
    assert_eq!(
        (contacts[0]["channel"].as_str(), contacts[0]["result"].as_str()),
        (Some("sms"), Some("sent")),
        "{contacts}"
    );
    set_rule(&app, &org, "postloan.contacts_per_day", 1).await;
    let call = json!({"channel": "phone", "party": "customer", "result": "no_answer"});
    let refused = app.post(&format!("/api/v1/contracts/{late}/contacts"), &org.admin, call).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "contact_rules"), "{}", refused.body);
    assert!(refused.body["detail"].as_str().unwrap().contains("cap"), "{}", refused.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn contact_hours_count_in_the_customers_own_time_zone(pool: PgPool) {
    let app = App::new(pool.clone()).await;
    let org = org(&app).await;
    let start = backoffice::kit::day::company_today(8).checked_sub_months(chrono::Months::new(2)).unwrap();
    let csv = format!(
        "number,region,principal,annual_rate,term,method,start_date,customer_name,id_number,phone\n\
         HT-BJ,SZ,12000,0.12,12,equal-installment,{start},王芳,11010519491231002X,13800000011\n\
         HT-NY,SZ,12000,0.12,12,equal-installment,{start},李雷,110105194912310038,13800000012\n"
    );
    let imported = app.post("/api/v1/contracts/import", &org.admin, json!({"csv": csv})).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    let contract = async |number: &str| {
        let id = app.get(&format!("/api/v1/contracts?number={number}"), &org.admin).await.body["items"][0]["id"]
            .as_i64()
            .unwrap();
        let customer =
            app.get(&format!("/api/v1/contracts/{id}"), &org.admin).await.body["contract"]["customer_id"].as_i64();
        (id, customer.unwrap())
    };
    let ((beijing, _), (abroad, customer)) = (contract("HT-BJ").await, contract("HT-NY").await);
    let zone = |name: &str| json!({"time_zone": name});
    let path = format!("/api/v1/customers/{customer}/time-zone");
    let unknown = app.call(Method::PUT, &path, Some(&org.admin), Some(zone("Mars/Olympus"))).await;
    assert_eq!(unknown.body["errors"][0]["field"], "time_zone", "{}", unknown.body);
    let set = app.call(Method::PUT, &path, Some(&org.admin), Some(zone("America/New_York"))).await;
    assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    assert_eq!(
        app.get(&format!("/api/v1/customers/{customer}"), &org.admin).await.body["time_zone"],
        "America/New_York"
    );

    // Allowed: two hours of New York's day, which are night in Beijing (12 or 13 hours ahead).
    let hour: i32 = sqlx::query_scalar("SELECT extract(hour FROM now() AT TIME ZONE 'America/New_York')::int")
        .fetch_one(&pool)
        .await
        .unwrap();
    let from = hour.min(22);
    set_rule(&app, &org, "postloan.contact_until_hour", i64::from(from) + 2).await;
    set_rule(&app, &org, "postloan.contact_from_hour", i64::from(from)).await;
    let call = json!({"channel": "phone", "party": "customer", "result": "no_answer"});
    let made = app.post(&format!("/api/v1/contracts/{abroad}/contacts"), &org.admin, call.clone()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let refused = app.post(&format!("/api/v1/contracts/{beijing}/contacts"), &org.admin, call).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "contact_rules"), "{}", refused.body);
    assert!(refused.body["detail"].as_str().unwrap().contains("customer's time zone"), "{}", refused.body);
    let audit = app
        .get(&format!("/api/v1/audit-events?entity_type=customer&entity_id={customer}&action=time_zone"), &org.admin)
        .await
        .body;
    assert!(audit.to_string().contains("America/New_York"), "{audit}");
}

/// What the stand-in gateway was sent: (signature header, body) of each message.
type Inbox = std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

/// A stand-in SMS gateway on a local port: takes messages, reports each delivered once asked.
async fn gateway(inbox: Inbox) -> String {
    use axum::routing::{get, post};
    let taken = inbox.clone();
    let app = axum::Router::new()
        .route(
            "/messages",
            post(move |headers: axum::http::HeaderMap, body: axum::Json<serde_json::Value>| async move {
                let signed =
                    headers.get("x-leasewatch-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let mut taken = taken.lock().unwrap();
                taken.push((signed, body.0));
                axum::Json(json!({"id": format!("gw-{}", taken.len())}))
            }),
        )
        .route(
            "/receipts",
            get(move || async move {
                let count = inbox.lock().unwrap().len();
                axum::Json(json!(
                    (1..=count).map(|n| json!({"id": format!("gw-{n}"), "status": "delivered"})).collect::<Vec<_>>()
                ))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[sqlx::test(migrations = "../migrations")]
async fn reminders_go_through_the_configured_gateway_signed_and_come_back_delivered(pool: PgPool) {
    let inbox = Inbox::default();
    let url = gateway(inbox.clone()).await;
    let config = backoffice::system::config::BackOfficeConfig {
        sms_gateway: Some(url.clone()),
        sms_gateway_secret: Some("a-secret-of-sixteen+".into()),
        ..Default::default()
    };
    let unsigned = backoffice::system::config::BackOfficeConfig { sms_gateway_secret: None, ..config.clone() };
    assert!(unsigned.message_channel().err().unwrap().contains("sms_gateway_secret"));
    let vault =
        backoffice::system::crypto::Vault::from_base64(&backoffice::system::crypto::Vault::generate_key().unwrap())
            .unwrap();
    let state = leasewatch_admin::AppState::new(pool.clone(), vault, backoffice::system::password::HashCost::default())
        .with_message_channel(config.message_channel().unwrap());
    let app = App::with_state(state).await;
    let org = org(&app).await;
    let today = backoffice::kit::day::company_today(8);
    let start = today.checked_sub_months(chrono::Months::new(1)).unwrap() + Duration::days(3);
    let csv = format!(
        "number,region,principal,annual_rate,term,method,start_date,customer_name,id_number,phone\n\
         HT-GW,SZ,12000,0.12,12,equal-installment,{start},王芳,11010519491231002X,13800000011\n"
    );
    let imported = app.post("/api/v1/contracts/import", &org.admin, json!({"csv": csv})).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    let stage =
        json!({"offset_days": -3, "template": "{customer_name}您好，{due_date}还款{amount}元。", "active": true});
    app.call(Method::PUT, "/api/v1/reminder-stages", Some(&org.admin), Some(stage)).await;
    set_rule(&app, &org, "postloan.contact_from_hour", 0).await;
    set_rule(&app, &org, "postloan.contact_until_hour", 24).await;
    let run = app.post("/api/v1/reminders/actions/run", &org.admin, json!({})).await;
    assert_eq!((run.body["sent"].as_i64(), run.body["receipts"].as_i64()), (Some(1), Some(1)), "{}", run.body);
    let sent = inbox.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1["to"], "13800000011");
    assert!(sent[0].1["text"].as_str().unwrap().starts_with("王芳您好"), "{sent:?}");
    let body = sent[0].1.to_string();
    let timestamp: i64 = sent[0].0.split(',').next().unwrap().trim_start_matches("t=").parse().unwrap();
    assert_eq!(
        sent[0].0,
        leasewatch_monitor::webhooks::signature("a-secret-of-sixteen+", timestamp, body.as_bytes()),
        "signed over the body"
    );
    let contract = app.get("/api/v1/contracts?number=HT-GW", &org.admin).await.body["items"][0]["id"].as_i64().unwrap();
    let messages = app.get(&format!("/api/v1/contracts/{contract}/messages"), &org.admin).await.body;
    assert_eq!(messages[0]["status"], "delivered", "{messages}");

    // Without a gateway, reminders are off and the run says so.
    let off = App::with_state(app.state.clone().with_message_channel(None)).await;
    let refused = off.post("/api/v1/reminders/actions/run", &org.admin, json!({})).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "no_sms_gateway"), "{}", refused.body);
}
