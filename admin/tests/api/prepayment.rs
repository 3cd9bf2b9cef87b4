//! Partial prepayment (部分提前还款): the new schedule shown before anything changes, equal to the one
//! worked by hand, carried out only on approval and with the customer's money in.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::repossession::{csrf, pairs, post_multipart};
use crate::support::{App, org};

#[sqlx::test(migrations = "../migrations")]
async fn a_partial_prepayment_shows_the_schedule_worked_by_hand_and_applies_it_on_approval(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let admin = &org.admin;
    let today = backoffice::kit::day::company_today(8);
    let start = today.checked_sub_months(chrono::Months::new(6)).unwrap();
    let csv = format!(
        "number,region,principal,annual_rate,term,method,start_date,paid_periods\nHT-PRE,SZ,12000,0.12,12,equal-installment,{start},6\n"
    );
    assert_eq!(app.post("/api/v1/contracts/import", admin, json!({"csv": csv})).await.status, StatusCode::OK);
    let id = app.get("/api/v1/contracts?number=HT-PRE", admin).await.body["items"][0]["id"].as_i64().unwrap();
    let detail = app.get(&format!("/api/v1/contracts/{id}"), admin).await.body;
    let sixth = detail["receivables"].as_array().unwrap().iter().find(|r| r["period"] == 6).unwrap()["due_date"]
        .as_str()
        .unwrap()
        .to_owned();

    // The plans, before anything changes (figures worked by hand in leasewatch-finance's prepayment tests).
    let quote = async |amount: &str, mode: &str| {
        app.get(&format!("/api/v1/contracts/{id}/prepayment-quote?date={sixth}&amount={amount}&mode={mode}"), admin)
            .await
    };
    let lower = quote("3000", "lower_installment").await.body;
    assert_eq!(
        (lower["principal_before"].as_str(), lower["principal_after"].as_str()),
        (Some("6179.02"), Some("3179.02")),
        "{lower}"
    );
    assert_eq!(
        (lower["periods_after"].as_i64(), lower["installment_after"].as_str()),
        (Some(6), Some("548.53")),
        "{lower}"
    );
    let shorter = quote("3000", "shorten_term").await.body;
    assert_eq!(
        (shorter["periods_after"].as_i64(), shorter["installment_after"].as_str()),
        (Some(4), Some("814.72")),
        "{shorter}"
    );
    let periods: Vec<i64> = shorter["rows"].as_array().unwrap().iter().map(|r| r["period"].as_i64().unwrap()).collect();
    assert_eq!(periods, [7, 8, 9, 10]);
    assert_eq!(shorter["total"], "3000", "on a due date: no interest so far, and the product charges no fee");
    let too_much = quote("7000", "shorten_term").await;
    assert_eq!(
        (too_much.status, too_much.body["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("amount")),
        "{}",
        too_much.body
    );
    assert!(too_much.body["errors"][0]["message"].as_str().unwrap().contains("settle"), "{}", too_much.body);

    // The same on the contract's page: previewed, refused beside the field when too much.
    let cookie = format!("lw_session={admin}");
    let page_path = format!("/contracts/{id}/prepayment");
    let (status, _, page) = app.fetch_with(&page_path, &[("cookie", cookie.as_str())]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let form = |amount: &str| {
        vec![
            ("csrf", csrf(&page)),
            ("action", "preview".to_owned()),
            ("date", sixth.clone()),
            ("amount", amount.to_owned()),
            ("mode", "shorten_term".to_owned()),
        ]
    };
    let (status, shown) = post_multipart(&app, &page_path, &cookie, &pairs(&form("3000")), None).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(
        shown.contains("新还款计划") && shown.contains("¥814.72") && shown.contains(r#"id="form-request""#),
        "{shown}"
    );
    let (status, refused) = post_multipart(&app, &page_path, &cookie, &pairs(&form("7000")), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="amount""#), "{refused}");

    // Asked for: nothing changes before the approval, nor without the customer's money.
    let stage = json!([{"name": "复核", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    app.create(
        admin,
        "/api/v1/workflow-definitions",
        json!({"key": "partial_prepayment", "name": "部分提前还款", "stages": stage}),
    )
    .await;
    let ask = json!({"date": sixth, "amount": "3000", "mode": "shorten_term", "reason": "客户申请缩短期限"});
    let asked = app.post(&format!("/api/v1/contracts/{id}/prepayments"), admin, ask).await;
    assert_eq!((asked.status, asked.body["status"].as_str()), (StatusCode::CREATED, Some("pending")), "{}", asked.body);
    let checker = app.login("final").await;
    let task = app.get("/api/v1/workflow-tasks", &checker).await.body["items"][0]["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &checker, json!({})).await;
    let early = app.post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), &checker, json!({})).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "the money is not in yet: {}", early.body);
    assert!(early.body["detail"].as_str().unwrap().contains("register their payment"), "{}", early.body);
    app.create_plain(admin, "/api/v1/receiving-accounts", json!({"code": "ICBC-01", "bank": "ICBC", "name": "租金户"}))
        .await;
    let pay = json!({"account": "ICBC-01", "reference": "P-1", "received_on": today, "amount": "3000.00", "remark": "HT-PRE 提前还款"});
    assert_eq!(app.post("/api/v1/receipts", admin, pay).await.status, StatusCode::CREATED);
    let approved = app.post(&format!("/api/v1/workflow-tasks/{task}/actions/approve"), &checker, json!({})).await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);

    // The books now hold the new schedule; the money went to the prepaid principal.
    let after = app.get(&format!("/api/v1/contracts/{id}"), admin).await.body;
    let items = after["receivables"].as_array().unwrap();
    let future: Vec<&Value> =
        items.iter().filter(|r| r["period"].as_i64().unwrap() > 6 && r["period"].as_i64().unwrap() < 10_000).collect();
    let principal: rust_decimal::Decimal = future
        .iter()
        .filter(|r| r["component"] == "principal")
        .map(|r| r["amount"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    assert_eq!(principal, rust_decimal_macros::dec!(3179.02));
    assert_eq!(future.iter().map(|r| r["period"].as_i64().unwrap()).max(), Some(10), "four installments left");
    let prepaid = items.iter().find(|r| r["period"] == 10_001 && r["component"] == "principal").unwrap();
    assert_eq!((prepaid["amount"].as_str(), prepaid["paid"].as_str()), (Some("3000.00"), Some("3000.00")), "{prepaid}");
    assert_eq!(after["contract"]["credit"], "0.00");
    let listed = app.get(&format!("/api/v1/contracts/{id}/prepayments"), admin).await.body;
    assert_eq!(listed[0]["status"], "applied");
    let rec = app.get(&format!("/api/v1/contracts/{id}/reconciliation"), admin).await.body;
    assert_eq!(rec["balanced"], true, "{rec}");
}
