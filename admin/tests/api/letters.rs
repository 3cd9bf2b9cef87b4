//! Default-notice letters: versioned templates per stage, a contract's letter as a PDF whose text
//! carries the customer's Chinese name, batches as a zip, each generation kept and audited.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::monitor::staff;
use crate::postloan::overdue;
use crate::support::{App, org};

/// The text of a PDF, as `pdftotext` reads it.
fn pdf_text(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("leasewatch-letter-{}-{}.pdf", std::process::id(), pdf.len()));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, installed by scripts/setup.sh)");
    std::fs::remove_file(&path).ok();
    String::from_utf8(out.stdout).unwrap()
}

/// POSTs `body` and returns the status and the bytes answered (a PDF, a zip, or a problem).
async fn post_bytes(app: &App, path: &str, token: &str, body: serde_json::Value) -> (StatusCode, Vec<u8>) {
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    app.raw(request).await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_default_notice_is_a_pdf_in_the_customers_name_from_the_stages_latest_template(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let sz = org.region("SZ");
    let contract = overdue(&app, "HT-LETTER", sz, 45, 12345, None, Some(40)).await;
    let other = overdue(&app, "HT-LETTER-2", sz, 10, 800, None, Some(20)).await;
    let current = overdue(&app, "HT-CURRENT", sz, 0, 0, None, Some(1)).await;
    let customer: i64 = sqlx::query_scalar(
        "INSERT INTO customers (kind, name, region_id) VALUES ('individual', '欧阳娜娜', $1) RETURNING id",
    )
    .bind(sz)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE contracts SET customer_id = $1 WHERE id = $2")
        .bind(customer)
        .bind(contract)
        .execute(&app.pool)
        .await
        .unwrap();
    let collector =
        staff(&app, &org, "sz_col", "SZ", &["postloan.read", "postloan.collect", "contracts.read"], &[]).await;
    let path = format!("/api/v1/contracts/{contract}/letters");

    // No template yet: said so. A body naming a figure letters do not have: refused beside it.
    let (status, _) = post_bytes(&app, &path, &collector, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let bad = app
        .post(
            "/api/v1/letter-templates",
            &org.admin,
            json!({"stage": 1, "title": "逾期通知", "body": "{name} 您好", "deadline_days": 7}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body")),
        "{}",
        bad.body
    );
    let body = "尊敬的 {customer_name}：\n您的合同 {contract_number} 已逾期 {dpd} 天，欠款合计人民币 {arrears} 元。\n请于 {deadline} 前还清，否则我司将依约处理。\n{date}";
    let first = app
        .post(
            "/api/v1/letter-templates",
            &org.admin,
            json!({"stage": 1, "title": "逾期还款提醒函", "body": "v1 {customer_name}", "deadline_days": 7}),
        )
        .await;
    assert_eq!(first.body["version"], 1, "{}", first.body);
    let second = app
        .post(
            "/api/v1/letter-templates",
            &org.admin,
            json!({"stage": 1, "title": "逾期还款提醒函", "body": body, "deadline_days": 7}),
        )
        .await;
    assert_eq!(second.body["version"], 2, "a change is the stage's next version");
    let m2 = app
        .post(
            "/api/v1/letter-templates",
            &org.admin,
            json!({"stage": 2, "title": "违约通知函", "body": body, "deadline_days": 5}),
        )
        .await;
    assert_eq!(m2.status, StatusCode::CREATED, "{}", m2.body);

    // The M2 contract gets the M2 letter, its figures in the text.
    let (status, pdf) = post_bytes(&app, &path, &collector, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&pdf));
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf);
    for wanted in ["违约通知函", "尊敬的 欧阳娜娜", "HT-LETTER", "已逾期 45 天", "12,345.00"] {
        assert!(text.contains(wanted), "{wanted} missing from {text}");
    }
    let deadline =
        (backoffice::kit::day::company_today(8) + chrono::Duration::days(5)).format("%Y年%m月%d日").to_string();
    assert!(text.contains(&deadline), "{deadline} missing from {text}");
    let kept = app.get(&path, &collector).await.body;
    assert_eq!(
        (kept[0]["template_id"].as_i64(), kept[0]["arrears"].as_str()),
        (m2.body["id"].as_i64(), Some("12345.00")),
        "{kept}"
    );
    // The M1 contract gets the M1 template's latest version.
    let (_, pdf) = post_bytes(&app, &format!("/api/v1/contracts/{other}/letters"), &collector, json!({})).await;
    assert!(pdf_text(&pdf).contains("逾期还款提醒函"));

    // Many at once, in a zip; a current contract has no default to notify.
    let (status, zip) =
        post_bytes(&app, "/api/v1/letters/batch", &collector, json!({"contract_ids": [contract, other]})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(zip.starts_with(b"PK"));
    let names = String::from_utf8_lossy(&zip);
    assert!(names.contains("HT-LETTER-违约通知函") && names.contains("HT-LETTER-2-违约通知函"));
    let (status, _) =
        post_bytes(&app, "/api/v1/letters/batch", &collector, json!({"contract_ids": [contract, current]})).await;
    assert_eq!(status, StatusCode::CONFLICT, "the batch is refused whole");

    // The templates on their console page; a body naming an unknown figure refused beside it.
    let cookie = format!("lw_session={}", org.admin);
    let (_, _, page) = app.fetch_with("/postloan/notices", &[("cookie", cookie.as_str())]).await;
    assert!(page.contains("M1 v2") && page.contains("M2 v1") && page.contains("违约通知函"), "{page}");
    let form = vec![
        ("csrf", crate::repossession::csrf(&page)),
        ("action", "letter".to_owned()),
        ("stage", "3".to_owned()),
        ("title", "收车预告函".to_owned()),
        ("body", "{name}".to_owned()),
        ("deadline_days", "3".to_owned()),
    ];
    let (status, refused) = crate::repossession::post_multipart(
        &app,
        "/postloan/notices",
        &cookie,
        &crate::repossession::pairs(&form),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="body""#) && refused.contains("收车预告函"), "{refused}");

    // Outside the region: not found. Every generation audited.
    let zj = staff(&app, &org, "zj_col", "ZJ", &["postloan.read", "postloan.collect", "contracts.read"], &[]).await;
    assert_eq!(post_bytes(&app, &path, &zj, json!({})).await.0, StatusCode::NOT_FOUND);
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'letter' AND entity_type = 'contract'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 4, "two letters, then a batch of two");
}
