//! Permissions and region scope, route by route: a table of user × request → status, and a walk
//! over every route of the generated document proving that none is open except login and refresh.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{App, org, references};

#[sqlx::test(migrations = "../migrations")]
async fn each_user_reaches_exactly_what_their_roles_and_region_allow(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let token = |name: &str| {
        let app = &app;
        let name = name.to_owned();
        async move { app.login(&name).await }
    };
    let (sz_user, zj_user, admin) = (org.user("first"), org.user("zj_manager"), org.user("admin"));
    let (sz, zj, gd) = (org.region("SZ"), org.region("ZJ"), org.region("GD"));
    let u = |id: i64| format!("/api/v1/users/{id}");
    // (user, method, path, body, expected status)
    let table: Vec<(&str, Method, String, Option<Value>, StatusCode)> = vec![
        ("gd_manager", Method::GET, "/api/v1/users".into(), None, StatusCode::OK),
        ("gd_manager", Method::GET, u(sz_user), None, StatusCode::OK),
        ("gd_manager", Method::GET, u(zj_user), None, StatusCode::NOT_FOUND),
        ("gd_manager", Method::GET, u(admin), None, StatusCode::NOT_FOUND),
        ("zj_manager", Method::GET, u(sz_user), None, StatusCode::NOT_FOUND),
        ("zj_manager", Method::GET, u(zj_user), None, StatusCode::OK),
        ("gd_manager", Method::PATCH, u(sz_user), Some(json!({"version": 1, "display_name": "一审"})), StatusCode::OK),
        (
            "zj_manager",
            Method::PATCH,
            u(sz_user),
            Some(json!({"version": 2, "display_name": "x"})),
            StatusCode::NOT_FOUND,
        ),
        (
            "gd_manager",
            Method::PATCH,
            u(sz_user),
            Some(json!({"version": 1, "display_name": "stale"})),
            StatusCode::CONFLICT,
        ),
        ("gd_manager", Method::GET, format!("/api/v1/regions/{sz}"), None, StatusCode::OK),
        ("gd_manager", Method::GET, format!("/api/v1/regions/{zj}"), None, StatusCode::NOT_FOUND),
        (
            "gd_manager",
            Method::POST,
            "/api/v1/regions".into(),
            Some(json!({"parent_id": gd, "code": "GZ", "name": "GZ", "level": "city"})),
            StatusCode::FORBIDDEN,
        ),
        (
            "gd_manager",
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"username": "zj_new", "display_name": "x", "password": "Sturdy-Passw0rd", "region_id": zj})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "gd_manager",
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"username": "sz_new", "display_name": "x", "password": "Sturdy-Passw0rd", "region_id": sz,
                        "roles": ["administrator"]})),
            StatusCode::FORBIDDEN,
        ),
        (
            "gd_manager",
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"username": "sz_new", "display_name": "x", "password": "Sturdy-Passw0rd", "region_id": sz,
                        "roles": ["user_manager"]})),
            StatusCode::CREATED,
        ),
        ("gd_manager", Method::GET, "/api/v1/audit-events".into(), None, StatusCode::FORBIDDEN),
        ("gd_manager", Method::GET, "/api/v1/settings".into(), None, StatusCode::FORBIDDEN),
        ("gd_manager", Method::GET, "/api/v1/roles".into(), None, StatusCode::FORBIDDEN),
        ("auditor", Method::GET, "/api/v1/audit-events".into(), None, StatusCode::OK),
        ("auditor", Method::GET, "/api/v1/users".into(), None, StatusCode::FORBIDDEN),
        ("nobody", Method::GET, "/api/v1/users".into(), None, StatusCode::FORBIDDEN),
        ("nobody", Method::GET, "/api/v1/auth/me".into(), None, StatusCode::OK),
        ("nobody", Method::GET, "/api/v1/workflow-tasks".into(), None, StatusCode::FORBIDDEN),
        ("first", Method::GET, "/api/v1/workflow-tasks".into(), None, StatusCode::OK),
        (
            "first",
            Method::POST,
            "/api/v1/roles".into(),
            Some(json!({"name": "x", "permissions": []})),
            StatusCode::FORBIDDEN,
        ),
        (
            "first",
            Method::POST,
            "/api/v1/workflow-instances".into(),
            Some(json!({"definition_key": "x", "subject_type": "t", "subject_id": "1", "title": "t"})),
            StatusCode::FORBIDDEN,
        ),
        ("gd_revealer", Method::POST, format!("{}/actions/reveal", u(sz_user)), None, StatusCode::OK),
        ("gd_revealer", Method::POST, format!("{}/actions/reveal", u(zj_user)), None, StatusCode::NOT_FOUND),
        ("gd_manager", Method::POST, format!("{}/actions/reveal", u(sz_user)), None, StatusCode::FORBIDDEN),
        ("admin", Method::GET, "/api/v1/settings".into(), None, StatusCode::OK),
        ("admin", Method::GET, u(zj_user), None, StatusCode::OK),
    ];
    let mut failures = Vec::new();
    for (user, method, path, body, expected) in table {
        let t = if user == "admin" { org.admin.clone() } else { token(user).await };
        let reply = app.call(method.clone(), &path, Some(&t), body).await;
        if reply.status != expected {
            failures.push(format!("{user} {method} {path}: expected {expected}, got {} {}", reply.status, reply.body));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A list shows only the caller's subtree.
    let gd = token("gd_manager").await;
    let reply = app.get("/api/v1/users?limit=200", &gd).await;
    let names: Vec<&str> =
        reply.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert!(names.contains(&"first") && names.contains(&"second") && names.contains(&"gd_manager"));
    assert!(!names.contains(&"zj_manager") && !names.contains(&"admin") && !names.contains(&"final"), "{names:?}");
    assert_eq!(reply.body["total"].as_i64().unwrap(), names.len() as i64);
}

/// Fills `{param}` segments with plausible values.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1").replace("{key}", "auth.max_failed_logins").replace("{action}", "approve")
}

#[sqlx::test(migrations = "../migrations")]
async fn no_route_is_open_except_login_refresh_the_agents_live_link_and_signed_callbacks(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let mut nobody = app.login("nobody").await;
    let spec = leasewatch_admin::openapi().unwrap();
    let mut public = Vec::new();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let security = &operation["security"];
            let body = operation.get("requestBody").map(|_| json!({}));
            checked += 1;
            if security == &json!([{}]) {
                public.push(format!("{method} {path}"));
                continue;
            }
            let anonymous = app.call(method.clone(), &concrete(path), None, body.clone()).await;
            assert_eq!(
                anonymous.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without a token: {}",
                anonymous.body
            );
            let scopes = security[0]["bearer"].as_array().unwrap();
            let as_nobody = app.call(method.clone(), &concrete(path), Some(&nobody), body).await;
            if scopes.is_empty() {
                assert!(
                    as_nobody.status != StatusCode::FORBIDDEN && as_nobody.status != StatusCode::UNAUTHORIZED,
                    "{method} {path}: {}",
                    as_nobody.body
                );
                // Logout ends the session: sign in again for the next route.
                nobody = app.login("nobody").await;
            } else {
                assert_eq!(
                    as_nobody.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} without the permission: {}",
                    as_nobody.body
                );
                assert!(as_nobody.body["detail"].as_str().unwrap().contains(scopes[0].as_str().unwrap()));
            }
        }
    }
    public.sort();
    // The repossession agent's live link: its token is the key, and it shows one vehicle. A
    // partner's callback carries no session: it is refused unless signed with that partner's secret.
    assert_eq!(
        public,
        [
            "GET /api/v1/track/{token}",
            "POST /api/v1/auth/login",
            "POST /api/v1/auth/refresh",
            "POST /api/v1/partners/{partner}/callbacks"
        ]
    );
    assert!(checked > 30, "only {checked} operations");
    // Health and documentation are open.
    for path in ["/api/openapi.json", "/docs"] {
        assert_eq!(app.call(Method::GET, path, None, None).await.status, StatusCode::OK, "{path}");
    }
    drop(org);
}

#[test]
fn the_document_is_openapi_3_1_and_every_reference_resolves() {
    let spec = leasewatch_admin::openapi().unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let text = spec.to_string();
    for reference in text.split("\"$ref\":\"").skip(1).map(|s| &s[..s.find('"').unwrap()]) {
        let pointer = reference.strip_prefix('#').unwrap();
        assert!(spec.pointer(pointer).is_some(), "{reference} does not resolve");
    }
    let mut ids = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            ids.push(operation["operationId"].as_str().unwrap().to_owned());
            for param in path.split('{').skip(1).map(|s| &s[..s.find('}').unwrap()]) {
                let declared = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == param && p["in"] == "path");
                assert!(declared, "{method} {path} does not declare the path parameter {param}");
            }
            assert!(operation["responses"].as_object().unwrap().keys().any(|k| k.starts_with('2')), "{method} {path}");
        }
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are not unique");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_reference_page_loads_everything_from_the_daemon(pool: PgPool) {
    let app = App::new(pool).await;
    let (status, _, page) = app.fetch("/docs").await;
    assert_eq!(status, StatusCode::OK);
    let mut pending: Vec<String> = references(&page);
    assert!(pending.iter().any(|r| r.ends_with("swagger-ui-bundle.js")), "{pending:?}");
    let mut seen = Vec::new();
    while let Some(reference) = pending.pop() {
        assert!(reference.starts_with('/') && !reference.starts_with("//"), "{reference} is not served here");
        if seen.contains(&reference) {
            continue;
        }
        let (status, media_type, body) = app.fetch(&reference).await;
        assert_eq!(status, StatusCode::OK, "{reference}");
        for cdn in ["jsdelivr", "unpkg.com", "cdnjs", "googleapis", "gstatic", "scalar.com"] {
            assert!(!body.contains(cdn), "{reference} mentions {cdn}");
        }
        if media_type.starts_with("text/css") {
            // Relative to the style sheet, as the browser resolves them.
            let base = &reference[..reference.rfind('/').unwrap_or(0) + 1];
            pending.extend(
                references(&body).into_iter().map(|r| if r.starts_with('/') { r } else { format!("{base}{r}") }),
            );
        }
        seen.push(reference);
    }
    assert_eq!(app.fetch("/assets/no-such-file.js").await.0, StatusCode::NOT_FOUND);
}
