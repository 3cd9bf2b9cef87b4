//! Post-loan parameters: collection states and categories, collection groups with their members,
//! each scoped, versioned and audited, through the API and the console.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{App, org};

#[sqlx::test(migrations = "../migrations")]
async fn collection_states_and_categories_are_kept_and_retired_not_removed(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let body = json!({"kind": "state", "code": "promised", "name": "已承诺还款", "position": 2});
    let promised = app.create(&org.admin, "/api/v1/collection-codes", body).await;
    app.create(
        &org.admin,
        "/api/v1/collection-codes",
        json!({"kind": "category", "code": "promised", "name": "承诺类"}),
    )
    .await;
    // The same code twice in one kind is a conflict; a wrong kind and a bad code are said by field.
    let again = app
        .post("/api/v1/collection-codes", &org.admin, json!({"kind": "state", "code": "promised", "name": "x"}))
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "duplicate"), "{}", again.body);
    let bad = app
        .post("/api/v1/collection-codes", &org.admin, json!({"kind": "mood", "code": "Bad Code", "name": " "}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["kind", "code", "name"]);
    // Retired with the version read; a stale version changes nothing.
    let path = format!("/api/v1/collection-codes/{promised}");
    let retired = app.patch(&path, &org.admin, json!({"version": 1, "active": false})).await;
    assert_eq!((retired.status, retired.body["active"].as_bool()), (StatusCode::OK, Some(false)), "{}", retired.body);
    let stale = app.patch(&path, &org.admin, json!({"version": 1, "name": "late"})).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let states = app.get("/api/v1/collection-codes?kind=state&active=false", &org.admin).await;
    assert_eq!(states.body["items"][0]["name"], "已承诺还款");
    let audit = app
        .get(&format!("/api/v1/audit-events?entity_type=collection_code&entity_id={promised}&sort=id"), &org.admin)
        .await;
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "update"]);
    // Reading them is not keeping them.
    let reader = app.login("gd_manager").await;
    let refused =
        app.post("/api/v1/collection-codes", &reader, json!({"kind": "state", "code": "x", "name": "x"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_collection_group_works_its_buckets_and_regions_with_its_members(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (gd, sz, zj) = (org.region("GD"), org.region("SZ"), org.region("ZJ"));
    let (second, second_b, zj_first) = (org.user("second"), org.user("second_b"), org.user("zj_first"));
    let body = json!({"code": "gd_m1", "name": "广东 M1 组", "region_id": gd, "buckets": [2, 1, 2], "regions": [sz],
                      "members": [{"user_id": second, "leader": true}, {"user_id": second_b, "active": false}]});
    let group = app.create(&org.admin, "/api/v1/collection-groups", body).await;
    let path = format!("/api/v1/collection-groups/{group}");
    let read = app.get(&path, &org.admin).await;
    assert_eq!(read.body["buckets"], json!([1, 2]), "in order, once each");
    assert_eq!(read.body["members"][0]["username"], "second");
    assert_eq!(read.body["members"][0]["leader"], true);
    assert_eq!(read.body["members"][1]["active"], false, "absent: no new work");

    // Two leaders, a bucket that is not collected, a member or a region outside a Guangdong keeper's
    // reach: each refused by its field, nothing added.
    app.create(
        &org.admin,
        "/api/v1/roles",
        json!({"name": "postloan_admin", "permissions": ["postloan.read", "postloan.configure"]}),
    )
    .await;
    let keeper = json!({"username": "gd_keeper", "display_name": "GD", "password": crate::support::PASSWORD,
                        "region_id": gd, "roles": ["postloan_admin"], "positions": []});
    app.create(&org.admin, "/api/v1/users", keeper).await;
    let gd_keeper = app.login("gd_keeper").await;
    let two_leaders = json!([{"user_id": second, "leader": true}, {"user_id": second_b, "leader": true}]);
    for (members, buckets, regions, field) in [
        (two_leaders, json!([1]), json!([]), "members"),
        (json!([]), json!([0]), json!([]), "buckets"),
        (json!([{"user_id": zj_first}]), json!([1]), json!([]), "members"),
        (json!([]), json!([1]), json!([zj]), "regions"),
    ] {
        let body = json!({"code": "bad", "name": "x", "region_id": gd, "buckets": buckets, "regions": regions, "members": members});
        let refused = app.post("/api/v1/collection-groups", &gd_keeper, body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert_eq!(refused.body["errors"][0]["field"], field, "{}", refused.body);
    }
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM collection_groups").fetch_one(&app.pool).await.unwrap();
    assert_eq!(kept, 1);
    // The group is changed as a whole; members are replaced, the old ones kept in the audit.
    let changed = app
        .patch(
            &path,
            &org.admin,
            json!({"version": 1, "buckets": [3], "members": [{"user_id": second_b, "leader": true}]}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(changed.body["buckets"], json!([3]));
    let audit = app
        .get(&format!("/api/v1/audit-events?entity_type=collection_group&entity_id={group}&sort=id"), &org.admin)
        .await;
    assert_eq!(audit.body["items"][1]["before"]["members"][0]["username"], "second", "{}", audit.body);
    // Filters: by bucket and by member.
    let by_bucket = app.get("/api/v1/collection-groups?bucket=3", &org.admin).await;
    assert_eq!(by_bucket.body["items"].as_array().unwrap().len(), 1);
    let by_member = app.get(&format!("/api/v1/collection-groups?user_id={second}"), &org.admin).await;
    assert!(by_member.body["items"].as_array().unwrap().is_empty());
    // Zhejiang sees no Guangdong group, by list or by id.
    app.create(&org.admin, "/api/v1/roles", json!({"name": "postloan_reader", "permissions": ["postloan.read"]})).await;
    let zj_reader = json!({"username": "zj_reader", "display_name": "ZJ", "password": crate::support::PASSWORD,
                           "region_id": zj, "roles": ["postloan_reader"], "positions": []});
    app.create(&org.admin, "/api/v1/users", zj_reader).await;
    let zj_token = app.login("zj_reader").await;
    assert_eq!(app.get(&path, &zj_token).await.status, StatusCode::NOT_FOUND);
    assert!(app.get("/api/v1/collection-groups", &zj_token).await.body["items"].as_array().unwrap().is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn post_loan_parameters_are_kept_on_their_pages(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let cookie = format!("lw_session={}", org.admin);
    let with = [("cookie", cookie.as_str())];
    let (_, _, home) = app.fetch_with("/", &with).await;
    let marker = r#"name="csrf" value=""#;
    let at = home.find(marker).unwrap() + marker.len();
    let csrf = home[at..at + home[at..].find('"').unwrap()].to_owned();
    assert!(home.contains(r#"href="/postloan/overdue""#), "in the navigation");

    // A state: a bad code said beside its field, then added and retired.
    let (_, _, page) = app.fetch_with("/postloan/codes/new?kind=state", &with).await;
    assert!(page.contains(r#"name="kind" value="state""#), "{page}");
    let form = |code: &str| {
        serde_urlencoded::to_string([
            ("csrf", csrf.as_str()),
            ("kind", "state"),
            ("code", code),
            ("name", "失联"),
            ("description", ""),
            ("position", "3"),
        ])
        .unwrap()
    };
    let (status, _, refused) = app.post_form("/postloan/codes/new", &form("Lost Contact"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="code""#) && refused.contains("失联"), "{refused}");
    let (status, headers, _) = app.post_form("/postloan/codes/new", &form("lost_contact"), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let code_path = headers["location"].to_str().unwrap().trim_end_matches("?done=saved").to_owned();
    let retire = format!("csrf={csrf}&version=1&name=%E5%A4%B1%E8%81%94&description=&position=3&active=false");
    assert_eq!(app.post_form(&code_path, &retire, &with).await.0, StatusCode::SEE_OTHER);
    let (_, _, states) = app.fetch_with("/postloan/states", &with).await;
    assert!(states.contains("lost_contact") && states.contains(r#"href="/postloan/codes/new?kind=state""#), "{states}");
    let (_, _, categories) = app.fetch_with("/postloan/categories", &with).await;
    assert!(!categories.contains("lost_contact"), "a state is not a category");

    // A group with members, a leader and an absent member; no bucket ticked is refused beside the boxes.
    let (gd, second, second_b) =
        (org.region("GD").to_string(), org.user("second").to_string(), org.user("second_b").to_string());
    let group = |buckets: &[&str]| {
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("code", "gd_m2"),
            ("name", "广东 M2 组"),
            ("region_id", gd.as_str()),
            ("members", second.as_str()),
            ("members", second_b.as_str()),
            ("absent", second_b.as_str()),
            ("leader", second.as_str()),
            ("balance", "amount"),
        ];
        fields.extend(buckets.iter().map(|b| ("buckets", *b)));
        serde_urlencoded::to_string(fields).unwrap()
    };
    let (status, _, refused) = app.post_form("/postloan/groups/new", &group(&[]), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="buckets""#), "{refused}");
    assert!(refused.contains(&format!(r#"name="members" value="{second_b}" checked"#)), "ticks stay: {refused}");
    let (status, headers, _) = app.post_form("/postloan/groups/new", &group(&["2", "3"]), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers["location"].to_str().unwrap().to_owned();
    let (_, _, page) = app.fetch_with(&location, &with).await;
    assert!(
        page.contains(r#"id="done""#) && page.contains(&format!(r#"<option value="{second}" selected>"#)),
        "{page}"
    );
    assert!(page.contains(&format!(r#"name="absent" value="{second_b}" checked"#)), "{page}");
    assert!(page.contains(r#"<option value="amount" selected>"#), "shares work by amount: {page}");
    let (_, _, list) = app.fetch_with("/postloan/groups", &with).await;
    assert!(list.contains("M2 M3") && list.contains("广东 M2 组"), "{list}");
}

/// Puts an active contract in `region` with its delinquency and (if given) its risk score; returns its id.
pub(crate) async fn overdue(
    app: &App,
    number: &str,
    region: i64,
    dpd: i32,
    amount: i32,
    promise: Option<i32>,
    score: Option<i32>,
) -> i64 {
    let bucket = if dpd == 0 { 0 } else { 1 + (dpd - 1) / 30 };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO contracts (number, region_id, terms, principal, start_date, dpd, bucket, overdue_amount, hold_until)
         VALUES ($1, $2, '{}', 100000, CURRENT_DATE - 200, $3, $4, $5, CURRENT_DATE + $6) RETURNING id",
    )
    .bind(number)
    .bind(region)
    .bind(dpd)
    .bind(bucket)
    .bind(rust_decimal::Decimal::from(amount))
    .bind(promise)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    if let Some(score) = score {
        sqlx::query("INSERT INTO contract_risk (contract_id, score, band, reasons) VALUES ($1, $2, 'medium', '[]')")
            .bind(id)
            .bind(score)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    id
}

#[sqlx::test(migrations = "../migrations")]
async fn overdue_customers_are_listed_most_risky_first_with_the_filters_collections_use(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (gd, sz, ft, zj) = (org.region("GD"), org.region("SZ"), org.region("FT"), org.region("ZJ"));
    overdue(&app, "FT-M2", ft, 45, 9000, Some(5), Some(70)).await;
    overdue(&app, "GD-M3", gd, 75, 20000, Some(-3), Some(90)).await;
    overdue(&app, "SZ-CURRENT", sz, 0, 0, None, Some(10)).await;
    overdue(&app, "ZJ-M2", zj, 50, 8000, None, Some(95)).await;
    // Imported since the day's scoring: listed once the monitor's hourly pass has scored it.
    overdue(&app, "SZ-M1", sz, 12, 3000, None, None).await;
    let numbers = |reply: &crate::support::Reply| -> Vec<String> {
        reply.body["items"].as_array().unwrap().iter().map(|c| c["number"].as_str().unwrap().to_owned()).collect()
    };
    // Guangdong's reader sees Guangdong's overdue contracts, most risky first; not the current one, not Zhejiang's.
    app.create(&org.admin, "/api/v1/roles", json!({"name": "collector", "permissions": ["postloan.read"]})).await;
    let body = json!({"username": "gd_collector", "display_name": "GD", "password": crate::support::PASSWORD,
                      "region_id": gd, "roles": ["collector"], "positions": []});
    app.create(&org.admin, "/api/v1/users", body).await;
    let token = app.login("gd_collector").await;
    let before = app.get("/api/v1/overdue-contracts", &token).await;
    assert_eq!(numbers(&before), ["GD-M3", "FT-M2"]);
    let scored = leasewatch_monitor::risk::score_unscored(&app.pool, chrono::Utc::now()).await.unwrap();
    assert_eq!(scored, 1);
    let all = app.get("/api/v1/overdue-contracts", &token).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(numbers(&all), ["GD-M3", "FT-M2", "SZ-M1"]);
    assert_eq!(all.body["items"][0]["promise"], "broken");
    assert_eq!(all.body["items"][1]["promise"], "pending");
    assert_eq!(all.body["items"][2]["promise"], "none");
    for (query, expected) in [
        ("bucket=2", vec!["FT-M2"]),
        ("min_dpd=30&max_dpd=60", vec!["FT-M2"]),
        ("min_amount=5000", vec!["GD-M3", "FT-M2"]),
        ("max_amount=5000", vec!["SZ-M1"]),
        (&format!("region_id={sz}"), vec!["FT-M2", "SZ-M1"]),
        ("promise=broken", vec!["GD-M3"]),
        ("promise=none", vec!["SZ-M1"]),
        ("min_score=60", vec!["GD-M3", "FT-M2"]),
        ("sort=risk", vec!["SZ-M1", "FT-M2", "GD-M3"]),
        ("sort=-dpd", vec!["GD-M3", "FT-M2", "SZ-M1"]),
        ("sort=overdue_amount", vec!["SZ-M1", "FT-M2", "GD-M3"]),
    ] {
        let reply = app.get(&format!("/api/v1/overdue-contracts?{query}"), &token).await;
        assert_eq!(numbers(&reply), expected, "{query}: {}", reply.body);
    }
    // A group working M1–M2 in Shenzhen's subtree sees what it works.
    let group = json!({"code": "sz_early", "name": "深圳 M1–M2", "region_id": gd, "buckets": [1, 2], "regions": [sz]});
    let group = app.create(&org.admin, "/api/v1/collection-groups", group).await;
    let worked = app.get(&format!("/api/v1/overdue-contracts?group_id={group}"), &token).await;
    assert_eq!(numbers(&worked), ["FT-M2", "SZ-M1"]);
    // Paging on by the keyset keeps the order.
    let first = app.get("/api/v1/overdue-contracts?limit=1", &token).await;
    let after = first.body["items"][0]["id"].as_i64().unwrap();
    let next = app.get(&format!("/api/v1/overdue-contracts?limit=1&after={after}"), &token).await;
    assert_eq!(numbers(&next), ["FT-M2"]);
    let wrong = app.get("/api/v1/overdue-contracts?promise=maybe", &token).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The console's list: the same rows, and the export.
    let cookie = format!("lw_session={token}");
    let with = [("cookie", cookie.as_str())];
    let (status, _, page) = app.fetch_with("/postloan/overdue?promise=pending", &with).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("FT-M2") && !page.contains("GD-M3") && page.contains("待兑现"), "{page}");
    let (status, _, csv) = app.fetch_with("/postloan/overdue?format=csv", &with).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 4, "a header and three contracts: {csv}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_call_with_a_promise_is_recorded_within_the_contact_rules(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let contract = overdue(&app, "SZ-CALL", org.region("SZ"), 20, 3000, None, Some(30)).await;
    app.create(&org.admin, "/api/v1/collection-codes", json!({"kind": "state", "code": "promised", "name": "已承诺"}))
        .await;
    app.create(
        &org.admin,
        "/api/v1/roles",
        json!({"name": "caller", "permissions": ["postloan.read", "postloan.collect"]}),
    )
    .await;
    let body = json!({"username": "sz_caller", "display_name": "深圳催收", "password": crate::support::PASSWORD,
                      "region_id": org.region("SZ"), "roles": ["caller"], "positions": []});
    app.create(&org.admin, "/api/v1/users", body).await;
    let caller = app.login("sz_caller").await;
    let path = format!("/api/v1/contracts/{contract}/contacts");
    // Every hour of the day allowed, so the test does not depend on when it runs.
    let set = async |key: &str, value: i64, version: i64| {
        let path = format!("/api/v1/settings/{key}");
        app.call(axum::http::Method::PUT, &path, Some(&org.admin), Some(json!({"value": value, "version": version})))
            .await
    };
    assert_eq!(set("postloan.contact_from_hour", 0, 0).await.status, StatusCode::OK);
    assert_eq!(set("postloan.contact_until_hour", 24, 0).await.status, StatusCode::OK);

    // A promise in the past is refused by its field, nothing recorded.
    let yesterday = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive() - chrono::Duration::days(1);
    let late = json!({"channel": "phone", "party": "customer", "result": "connected", "promise_amount": "3000",
                      "promise_date": yesterday});
    let refused = app.post(&path, &caller, late).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["errors"][0]["field"], "promise_date");
    // A call that connected, with a promise a week out: recorded, the contract held until then.
    let due = yesterday + chrono::Duration::days(8);
    let call = json!({"channel": "phone", "party": "customer", "result": "connected", "state_code": "promised",
                      "note": "下周一还款", "promise_amount": "3000", "promise_date": due});
    let made = app.post(&path, &caller, call).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["user_name"], "深圳催收");
    let held: Option<chrono::NaiveDate> = sqlx::query_scalar("SELECT hold_until FROM contracts WHERE id = $1")
        .bind(contract)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(held, Some(due));
    let queue = app.get("/api/v1/overdue-contracts?promise=pending", &caller).await;
    assert_eq!(queue.body["items"][0]["number"], "SZ-CALL");
    // Two more calls make the day's three; the fourth is refused with the reason; a guarantor is counted apart.
    for _ in 0..2 {
        let call = json!({"channel": "phone", "party": "customer", "result": "no_answer"});
        assert_eq!(app.post(&path, &caller, call).await.status, StatusCode::CREATED);
    }
    let fourth =
        app.post(&path, &caller, json!({"channel": "phone", "party": "customer", "result": "no_answer"})).await;
    assert_eq!((fourth.status, fourth.code()), (StatusCode::CONFLICT, "contact_rules"), "{}", fourth.body);
    assert!(fourth.body["detail"].as_str().unwrap().contains("cap"), "{}", fourth.body);
    let guarantor = json!({"channel": "phone", "party": "guarantor", "result": "switched_off"});
    assert_eq!(app.post(&path, &caller, guarantor).await.status, StatusCode::CREATED);
    // Outside the allowed hours nothing is recorded, whoever is called.
    let hour = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%H").to_string().parse::<i64>().unwrap();
    let (from, until) = if hour == 23 { (0, 23) } else { (hour + 1, 24) };
    assert_eq!(set("postloan.contact_until_hour", until, 1).await.status, StatusCode::OK);
    assert_eq!(set("postloan.contact_from_hour", from, 1).await.status, StatusCode::OK);
    let night =
        app.post(&path, &caller, json!({"channel": "sms", "party": "emergency_contact", "result": "connected"})).await;
    assert_eq!(night.code(), "contact_rules", "{}", night.body);
    assert!(night.body["detail"].as_str().unwrap().contains("allowed from"), "{}", night.body);
    // The history, newest first; a Zhejiang collector sees none of it.
    let history = app.get(&path, &caller).await;
    assert_eq!(history.body.as_array().unwrap().len(), 4);
    assert_eq!(history.body[3]["promise_amount"], "3000.00");
    let body = json!({"username": "zj_caller", "display_name": "浙江催收", "password": crate::support::PASSWORD,
                      "region_id": org.region("ZJ"), "roles": ["caller"], "positions": []});
    app.create(&org.admin, "/api/v1/users", body).await;
    let zj = app.login("zj_caller").await;
    assert_eq!(app.get(&path, &zj).await.status, StatusCode::NOT_FOUND);
    let call = json!({"channel": "phone", "party": "guarantor", "result": "no_answer"});
    assert_eq!(app.post(&path, &zj, call).await.status, StatusCode::NOT_FOUND);
    let audit = app.get("/api/v1/audit-events?entity_type=collection_contact&sort=id", &org.admin).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 4);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_collector_records_a_call_on_the_contract_page(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let contract = overdue(&app, "SZ-PAGE", org.region("SZ"), 33, 4500, None, Some(50)).await;
    let all_day = json!({"value": 0, "version": 0});
    let set = app
        .call(axum::http::Method::PUT, "/api/v1/settings/postloan.contact_from_hour", Some(&org.admin), Some(all_day))
        .await;
    assert_eq!(set.status, StatusCode::OK);
    let all_night = json!({"value": 24, "version": 0});
    let set = app
        .call(
            axum::http::Method::PUT,
            "/api/v1/settings/postloan.contact_until_hour",
            Some(&org.admin),
            Some(all_night),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK);
    let cookie = format!("lw_session={}", org.admin);
    let with = [("cookie", cookie.as_str())];
    let path = format!("/contracts/{contract}");
    let (_, _, page) = app.fetch_with(&path, &with).await;
    assert!(page.contains(r#"id="contact-form""#) && page.contains("无人接听"), "{page}");
    assert!(page.contains(r#"id="collector">未分配"#) && page.contains(r#"id="claim-collection""#), "{page}");
    let marker = r#"name="csrf" value=""#;
    let at = page.find(marker).unwrap() + marker.len();
    let csrf = page[at..at + page[at..].find('"').unwrap()].to_owned();
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let form = |date: &str| {
        serde_urlencoded::to_string([
            ("csrf", csrf.as_str()),
            ("channel", "phone"),
            ("party", "customer"),
            ("result", "connected"),
            ("state_code", ""),
            ("note", "月底前还清"),
            ("promise_amount", "¥4,500"),
            ("promise_date", date),
        ])
        .unwrap()
    };
    // Claiming needs a group that works the contract: the administrator is in none; said at the top.
    let (status, _, refused) = app.post_form(&path, &format!("csrf={csrf}&action=claim"), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("form-error") && refused.contains("not an active member"), "{refused}");
    let past = (today - chrono::Duration::days(2)).format("%Y-%m-%d").to_string();
    let (status, _, refused) = app.post_form(&path, &form(&past), &with).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="promise_date""#) && refused.contains("月底前还清"), "{refused}");
    let due = (today + chrono::Duration::days(5)).format("%Y-%m-%d").to_string();
    let (status, headers, _) = app.post_form(&path, &form(&due), &with).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], format!("{path}?done=saved#contacts"));
    let (_, _, page) = app.fetch_with(&format!("{path}?done=saved"), &with).await;
    assert!(page.contains(r#"id="contact-history""#) && page.contains("¥4,500.00") && page.contains(&due), "{page}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_morning_distribution_gives_each_overdue_contract_to_a_collector_of_its_group(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (gd, sz, ft, zj) = (org.region("GD"), org.region("SZ"), org.region("FT"), org.region("ZJ"));
    app.create(
        &org.admin,
        "/api/v1/roles",
        json!({"name": "collector", "permissions": ["contracts.read", "postloan.read", "postloan.collect"]}),
    )
    .await;
    let mut collectors = Vec::new();
    for (username, region) in [("col1", gd), ("col2", gd), ("col3", org.region("HQ"))] {
        let body = json!({"username": username, "display_name": username, "password": crate::support::PASSWORD,
                          "region_id": region, "roles": ["collector"], "positions": []});
        collectors.push(app.create(&org.admin, "/api/v1/users", body).await);
    }
    let (c1, c2, c3) = (collectors[0], collectors[1], collectors[2]);
    let early = json!({"code": "gd_early", "name": "广东 M1–M2", "region_id": gd, "buckets": [1, 2],
                       "members": [{"user_id": c1, "leader": true}, {"user_id": c2}]});
    app.create(&org.admin, "/api/v1/collection-groups", early).await;
    let late = json!({"code": "late", "name": "M3 以上", "region_id": org.region("HQ"), "buckets": [3, 4]});
    let late = app.create(&org.admin, "/api/v1/collection-groups", late).await;
    let sz1 = overdue(&app, "SZ-1", sz, 10, 1000, None, Some(20)).await;
    let sz2 = overdue(&app, "SZ-2", sz, 12, 1000, None, Some(20)).await;
    overdue(&app, "FT-3", ft, 40, 1000, None, Some(20)).await;
    let gd4 = overdue(&app, "GD-4", gd, 70, 1000, None, Some(20)).await;
    overdue(&app, "ZJ-5", zj, 10, 1000, None, Some(20)).await;

    let run = app.post("/api/v1/collection-distribution/actions/run", &org.admin, json!({})).await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    assert_eq!(run.body, json!({"assigned": 4, "unplaced": 1, "released": 0}), "Zhejiang's M1 has no group");
    let admin = org.admin.clone();
    let held = async |user: i64| {
        let reply = app.get(&format!("/api/v1/overdue-contracts?collector_id={user}"), &admin).await;
        reply.body["items"].as_array().unwrap().len()
    };
    assert_eq!((held(c1).await, held(c2).await), (2, 1), "three cases shared by load, the tie to the first");
    let again = app.post("/api/v1/collection-distribution/actions/run", &org.admin, json!({})).await;
    assert_eq!(again.body["assigned"], 0, "a second run places nothing new: {}", again.body);
    // The M3 group has no collector yet: the contract waits; once c3 joins, c3 claims it, once.
    let waiting = app.get("/api/v1/overdue-contracts?unassigned=true", &org.admin).await;
    let waiting: Vec<&str> =
        waiting.body["items"].as_array().unwrap().iter().map(|c| c["number"].as_str().unwrap()).collect();
    assert_eq!(waiting, ["ZJ-5", "GD-4"], "equal scores: the later contract first");
    let t3 = app.login("col3").await;
    let claim = format!("/api/v1/contracts/{gd4}/actions/claim-collection");
    assert_eq!(app.post(&claim, &t3, json!({})).await.status, StatusCode::UNPROCESSABLE_ENTITY, "not yet a member");
    let joined = app
        .patch(
            &format!("/api/v1/collection-groups/{late}"),
            &org.admin,
            json!({"version": 1, "members": [{"user_id": c3}]}),
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    let claimed = app.post(&claim, &t3, json!({})).await;
    assert_eq!((claimed.status, claimed.body["collector_id"].as_i64()), (StatusCode::OK, Some(c3)), "{}", claimed.body);
    let t1 = app.login("col1").await;
    assert_eq!(app.post(&claim, &t1, json!({})).await.status, StatusCode::CONFLICT, "someone has it");
    // The leader moves work from one collector to another; a member may not.
    let assign = format!("/api/v1/contracts/{sz1}/actions/assign-collection");
    let t2 = app.login("col2").await;
    assert_eq!(app.post(&assign, &t2, json!({"collector_id": c2})).await.status, StatusCode::FORBIDDEN);
    let moved = app.post(&assign, &t1, json!({"collector_id": c2})).await;
    assert_eq!((moved.status, moved.body["collector_id"].as_i64()), (StatusCode::OK, Some(c2)), "{}", moved.body);
    assert_eq!((held(c1).await, held(c2).await), (1, 2));
    // The collector's dashboard counts their cases.
    let (_, _, home) = app.fetch_with("/", &[("cookie", format!("lw_session={t3}").as_str())]).await;
    assert!(home.contains(r#"id="cases">1<"#) && home.contains(r#"id="promises-broken">0<"#), "{home}");
    // On the contract's page the leader gives the contract back to themselves; a member sees no such form.
    let leader = format!("lw_session={t1}");
    let (_, _, page) = app.fetch_with(&format!("/contracts/{sz1}"), &[("cookie", leader.as_str())]).await;
    assert!(page.contains(r#"id="assign-form""#) && page.contains(&format!(r#"<option value="{c2}">"#)), "{page}");
    let marker = r#"name="csrf" value=""#;
    let at = page.find(marker).unwrap() + marker.len();
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let form = format!("csrf={csrf}&action=assign&collector_id={c1}");
    let (status, _, _) = app.post_form(&format!("/contracts/{sz1}"), &form, &[("cookie", leader.as_str())]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!((held(c1).await, held(c2).await), (2, 1));
    let member = format!("lw_session={t2}");
    let (_, _, page) = app.fetch_with(&format!("/contracts/{sz1}"), &[("cookie", member.as_str())]).await;
    assert!(!page.contains(r#"id="assign-form""#), "{page}");
    // Paid up: let go at the next run.
    sqlx::query("UPDATE contracts SET dpd = 0, bucket = 0, overdue_amount = 0 WHERE id = $1")
        .bind(sz2)
        .execute(&app.pool)
        .await
        .unwrap();
    let run = app.post("/api/v1/collection-distribution/actions/run", &org.admin, json!({})).await;
    assert_eq!(run.body["released"], 1, "{}", run.body);
    let audit = app.get("/api/v1/audit-events?entity_type=collection_assignment&sort=id", &org.admin).await;
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["claim", "assign", "assign"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_customers_charges_are_summed_by_kind_with_what_is_owed(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    // 12,000 over 12 months at 12 %, started about 100 days ago, one installment paid.
    let start = chrono::Utc::now().date_naive() - chrono::Duration::days(100);
    let csv = format!(
        "number,region,principal,annual_rate,term,method,start_date,paid_periods\nFEE-1,SZ,12000,0.12,12,equal-installment,{start},1\n"
    );
    let rows = backoffice::books::import::parse_csv(csv.as_bytes()).unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    backoffice::books::import::import(&mut tx, &app.state.vault, &rows).await.unwrap();
    tx.commit().await.unwrap();
    let id: i64 =
        sqlx::query_scalar("SELECT id FROM contracts WHERE number = 'FEE-1'").fetch_one(&app.pool).await.unwrap();
    let fees = app.get(&format!("/api/v1/contracts/{id}/fees"), &org.admin).await;
    assert_eq!(fees.status, StatusCode::OK, "{}", fees.body);
    let line = |kind: &str| fees.body.as_array().unwrap().iter().find(|l| l["component"] == kind).cloned().unwrap();
    let principal = line("principal");
    assert_eq!(principal["scheduled"], "12000.00");
    let amount = |v: &serde_json::Value| v.as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
    // Three installments due by now (about 100 days in), one paid: two owed, the rest outstanding.
    assert!(amount(&principal["paid"]) > rust_decimal::Decimal::ZERO);
    assert_eq!(amount(&principal["owed"]), amount(&principal["due"]) - amount(&principal["paid"]));
    assert_eq!(amount(&principal["outstanding"]), amount(&principal["scheduled"]) - amount(&principal["paid"]));
    assert!(amount(&line("interest")["owed"]) > rust_decimal::Decimal::ZERO);
    // On the contract's page, in words.
    let cookie = format!("lw_session={}", org.admin);
    let (_, _, page) = app.fetch_with(&format!("/contracts/{id}"), &[("cookie", cookie.as_str())]).await;
    assert!(page.contains(r#"id="fees""#) && page.contains("¥12,000.00") && page.contains("欠款"), "{page}");
    // Outside the reader's regions: not found.
    let zj = app.login("zj_manager").await;
    assert_ne!(app.get(&format!("/api/v1/contracts/{id}/fees"), &zj).await.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_customers_particulars_change_only_on_approval_and_the_old_ones_are_kept(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let body = json!({"name": "张三", "id_number": "11010519491231002X", "phone": "13800000001",
                      "address": "深圳市福田区一路 1 号", "employer": "甲公司", "region_id": org.region("SZ")});
    let customer = app.create(&org.admin, "/api/v1/customers", body).await;
    let path = format!("/api/v1/customers/{customer}/changes");
    let change = json!({"address": "深圳市南山区二路 2 号", "phone": "13900000002", "reason": "客户来电告知搬家"});
    // Not before the company defines who approves it.
    let undefined = app.post(&path, &org.admin, change.clone()).await;
    assert_eq!((undefined.status, undefined.code()), (StatusCode::CONFLICT, "invalid_state"), "{}", undefined.body);
    let stages = json!([{"name": "复核", "position": "final_reviewer", "actions": ["approve", "reject"]}]);
    app.create(
        &org.admin,
        "/api/v1/workflow-definitions",
        json!({"key": "customer_change", "name": "客户信息变更", "stages": stages}),
    )
    .await;
    // Nothing asked for, or a phone that is not one: refused by field.
    let empty = app.post(&path, &org.admin, json!({"reason": "?"})).await;
    assert_eq!(empty.body["errors"][0]["field"], "address", "{}", empty.body);
    let bad = app.post(&path, &org.admin, json!({"phone": "call me", "reason": "x"})).await;
    assert_eq!(bad.body["errors"][0]["field"], "phone", "{}", bad.body);
    let asked = app.post(&path, &org.admin, change).await;
    assert_eq!((asked.status, asked.body["status"].as_str()), (StatusCode::CREATED, Some("pending")), "{}", asked.body);
    let unchanged = app.get(&format!("/api/v1/customers/{customer}"), &org.admin).await;
    assert_eq!(unchanged.body["address"], "深圳市福田区一路 1 号", "nothing changes before the approval");

    // The second person approves in the inbox: the customer changes, the history keeps the old values.
    let decide = async |action: &str| {
        let checker = app.login("final").await;
        let inbox = app.get("/api/v1/workflow-tasks", &checker).await;
        let task = inbox.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["subject_type"] == "customer_change")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        app.post(&format!("/api/v1/workflow-tasks/{task}/actions/claim"), &checker, json!({})).await;
        let decided =
            app.post(&format!("/api/v1/workflow-tasks/{task}/actions/{action}"), &checker, json!({"note": "ok"})).await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    };
    decide("approve").await;
    let changed = app.get(&format!("/api/v1/customers/{customer}"), &org.admin).await;
    assert_eq!(changed.body["address"], "深圳市南山区二路 2 号");
    assert_eq!(changed.body["employer"], "甲公司", "what was not asked for stays");
    assert!(changed.body["phone"].as_str().unwrap().ends_with("0002"), "{}", changed.body);
    let history = app.get(&path, &org.admin).await;
    assert_eq!(history.body[0]["status"], "applied");
    assert_eq!(history.body[0]["old_address"], "深圳市福田区一路 1 号");
    assert!(history.body[0]["old_phone"].as_str().unwrap().ends_with("0001"), "{}", history.body);
    // The customer is found by the new number.
    let cookie = format!("lw_session={}", org.admin);
    let (_, _, found) = app.fetch_with("/search?q=13900000002", &[("cookie", cookie.as_str())]).await;
    assert!(found.contains("张三"), "{found}");
    // The console's page: the history in words, and the form, refused beside its field when empty.
    let page_path = format!("/customers/{customer}/changes");
    let (status, _, page) = app.fetch_with(&page_path, &[("cookie", cookie.as_str())]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("已生效") && page.contains("深圳市福田区一路 1 号") && page.contains(r#"id="change-form""#),
        "{page}"
    );
    let marker = r#"name="csrf" value=""#;
    let at = page.find(marker).unwrap() + marker.len();
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let form = format!("csrf={csrf}&address=&employer=&phone=&reason=x");
    let (status, _, refused) = app.post_form(&page_path, &form, &[("cookie", cookie.as_str())]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="address""#), "{refused}");
    // The contact preferences, set at once: an unknown zone refused beside its field, a known one kept.
    let preferences = format!("/customers/{customer}/preferences");
    let form = format!("csrf={csrf}&time_zone=Mars%2FOlympus&sms_opt_out=on");
    let (status, _, refused) = app.post_form(&preferences, &form, &[("cookie", cookie.as_str())]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"data-field="time_zone""#), "{refused}");
    let form = format!("csrf={csrf}&time_zone=Asia%2FUrumqi&sms_opt_out=on");
    let (status, _, _) = app.post_form(&preferences, &form, &[("cookie", cookie.as_str())]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set = app.get(&format!("/api/v1/customers/{customer}"), &org.admin).await.body;
    assert_eq!((set["time_zone"].as_str(), set["sms_opt_out"].as_bool()), (Some("Asia/Urumqi"), Some(true)), "{set}");
    let (_, _, page) = app.fetch_with(&page_path, &[("cookie", cookie.as_str())]).await;
    assert!(page.contains(r#"<option value="Asia/Urumqi" selected>"#), "the zone shown as chosen");
    // A rejected change changes nothing.
    app.post(&path, &org.admin, json!({"employer": "乙公司", "reason": "未经核实"})).await;
    decide("reject").await;
    let kept = app.get(&format!("/api/v1/customers/{customer}"), &org.admin).await;
    assert_eq!(kept.body["employer"], "甲公司");
    assert_eq!(app.get(&path, &org.admin).await.body[0]["status"], "rejected");
    // The people around the customer: an emergency contact added, then their phone changed; the
    // history keeps what it replaced.
    let mother = |phone: &str| {
        json!({"contact": {"role": "emergency_contact", "name": "张母", "relation": "母亲", "phone": phone},
                                      "reason": "客户补充紧急联系人"})
    };
    app.post(&path, &org.admin, mother("13700000003")).await;
    decide("approve").await;
    let parties = app.get(&format!("/api/v1/customers/{customer}"), &org.admin).await.body["parties"].clone();
    let added =
        parties.as_array().unwrap().iter().find(|p| p["name"] == "张母").unwrap_or_else(|| panic!("{parties}")).clone();
    assert!(added["phone"].as_str().unwrap().ends_with("0003"), "{added}");
    app.post(&path, &org.admin, mother("13700000004")).await;
    decide("approve").await;
    let history = app.get(&path, &org.admin).await.body;
    assert_eq!(
        (history[0]["contact_name"].as_str(), history[0]["status"].as_str()),
        (Some("张母"), Some("applied")),
        "{history}"
    );
    assert!(history[0]["old_contact_phone"].as_str().unwrap().ends_with("0003"), "{history}");
    let parties = app.get(&format!("/api/v1/customers/{customer}"), &org.admin).await.body["parties"].clone();
    let mothers: Vec<_> = parties.as_array().unwrap().iter().filter(|p| p["name"] == "张母").collect();
    assert_eq!(mothers.len(), 1, "changed, not added twice: {parties}");
    assert!(mothers[0]["phone"].as_str().unwrap().ends_with("0004"));
}

#[sqlx::test(migrations = "../migrations")]
async fn promises_whose_day_has_passed_are_marked_kept_or_broken_once(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let sz = org.region("SZ");
    let broken = overdue(&app, "P-BROKEN", sz, 20, 1000, Some(-1), Some(30)).await;
    let kept = overdue(&app, "P-KEPT", sz, 0, 0, Some(-2), Some(5)).await;
    overdue(&app, "P-PENDING", sz, 20, 1000, Some(3), Some(30)).await;
    let yesterday = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    let mut db = app.pool.acquire().await.unwrap();
    assert_eq!(backoffice::books::events::mark_promises(&mut db, yesterday).await.unwrap(), (1, 1));
    assert_eq!(backoffice::books::events::mark_promises(&mut db, yesterday).await.unwrap(), (0, 0), "once each");
    let kinds: Vec<(i64, String)> = sqlx::query_as(
        "SELECT contract_id, kind FROM contract_events WHERE kind LIKE 'promise_%' ORDER BY contract_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(kinds, [(broken, "promise_broken".to_owned()), (kept, "promise_kept".to_owned())]);
}
