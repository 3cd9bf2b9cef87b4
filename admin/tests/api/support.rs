//! A client for the router under test, and the organisation most tests start from.

use std::collections::HashMap;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use backoffice::system::bootstrap::{self, NewAdmin};
use backoffice::system::crypto::Vault;
use backoffice::system::password::HashCost;
use leasewatch_admin::{AppState, router};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

/// Cheap hashes: the tests are about behaviour, not hashing cost.
pub const COST: HashCost = HashCost { memory_kib: 1024, iterations: 1 };
/// Every test user's password.
pub const PASSWORD: &str = "Sturdy-Passw0rd";

/// A response.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Reply {
    /// The problem code of an error response.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// The router with its database.
pub struct App {
    pub router: Router,
    pub pool: PgPool,
    pub state: AppState,
}

impl App {
    pub async fn new(pool: PgPool) -> Self {
        Self::with_state(AppState::new(
            pool.clone(),
            Vault::from_base64(&Vault::generate_key().unwrap()).unwrap(),
            COST,
        ))
        .await
    }

    pub async fn with_state(state: AppState) -> Self {
        bootstrap::prepare(&state.pool).await.unwrap();
        let router = leasewatch_admin::observe(router(state.clone()).unwrap());
        Self { router, pool: state.pool.clone(), state }
    }

    /// Sends a request; `body` is sent as JSON.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Reply { status, body, headers }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    /// Signs in and returns the whole token reply.
    pub async fn login_reply(&self, username: &str, password: &str) -> Reply {
        self.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": username, "password": password})))
            .await
    }

    /// Fetches `path` with `headers`; returns the status, the headers and the body as text.
    pub async fn fetch_all(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Fetches `path` with `headers`; returns the status and the body's bytes.
    pub async fn fetch_bytes(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Vec<u8>) {
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        (status, to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec())
    }

    /// Sends `request` as it is; returns the status and the body's bytes.
    pub async fn raw(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        (status, to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec())
    }

    /// Posts a form (`a=1&b=2`) with `headers`; returns the status, the headers and the body as text.
    pub async fn post_form(&self, path: &str, form: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
        let mut request = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.router.clone().oneshot(request.body(Body::from(form.to_owned())).unwrap()).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Signs in from the address `peer` and returns the whole reply.
    pub async fn login_from(&self, username: &str, password: &str, peer: &str) -> Reply {
        let body = json!({"username": username, "password": password}).to_string();
        let mut request = Request::post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let address: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
        request.extensions_mut().insert(axum::extract::ConnectInfo(address));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Reply { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers }
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, username: &str) -> String {
        let reply = self.login_reply(username, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "login of {username}: {}", reply.body);
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    /// Creates the first administrator and returns their token.
    pub async fn admin(&self) -> String {
        let new =
            NewAdmin { username: "admin".into(), display_name: "Administrator".into(), password: PASSWORD.into() };
        bootstrap::create_admin(&self.pool, COST, new).await.unwrap();
        self.login("admin").await
    }

    /// Creates something through the API and returns its id.
    pub async fn create(&self, token: &str, path: &str, body: Value) -> i64 {
        let reply = self.post(path, token, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "POST {path}: {}", reply.body);
        reply.body["id"].as_i64().unwrap()
    }
}

impl App {
    /// Fetches `path` without signing in; returns the status, the media type and the body as text.
    pub async fn fetch(&self, path: &str) -> (StatusCode, String, String) {
        self.fetch_with(path, &[]).await
    }

    /// Fetches `path` with `headers` (a session cookie...); returns the status, the media type and
    /// the body as text.
    pub async fn fetch_with(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String, String) {
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::empty()).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let media_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, media_type, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Creates something whose answer has no id.
    pub async fn create_plain(&self, token: &str, path: &str, body: Value) {
        let reply = self.post(path, token, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "POST {path}: {}", reply.body);
    }
}

/// A company of regions, roles, positions and users, made through the API by the administrator.
pub struct Org {
    pub admin: String,
    pub regions: HashMap<&'static str, i64>,
    pub users: HashMap<&'static str, i64>,
}

impl Org {
    pub fn region(&self, code: &str) -> i64 {
        self.regions[code]
    }
    pub fn user(&self, name: &str) -> i64 {
        self.users[name]
    }
}

/// HQ → Guangdong → Shenzhen → Futian, and HQ → Zhejiang; roles, positions and users across them.
pub async fn org(app: &App) -> Org {
    let admin = app.admin().await;
    let hq: i64 = sqlx::query_scalar("SELECT id FROM regions WHERE code = 'HQ'").fetch_one(&app.pool).await.unwrap();
    let mut regions = HashMap::from([("HQ", hq)]);
    for (code, parent, level) in
        [("GD", "HQ", "province"), ("SZ", "GD", "city"), ("FT", "SZ", "branch"), ("ZJ", "HQ", "province")]
    {
        let body = json!({"parent_id": regions[parent], "code": code, "name": code, "level": level});
        regions.insert(code, app.create(&admin, "/api/v1/regions", body).await);
    }
    for (name, permissions) in [
        ("user_manager", vec!["users.read", "users.write", "regions.read"]),
        ("auditor", vec!["audit.read"]),
        ("reviewer", vec!["workflows.act", "workflows.read"]),
        ("requester", vec!["workflows.start", "workflows.read"]),
        ("revealer", vec!["users.read", "sensitive.reveal"]),
    ] {
        app.create(&admin, "/api/v1/roles", json!({"name": name, "permissions": permissions})).await;
    }
    for (code, name) in [("first_reviewer", "初审员"), ("second_reviewer", "复审员"), ("final_reviewer", "终审员")]
    {
        app.create(&admin, "/api/v1/positions", json!({"code": code, "name": name})).await;
    }
    let mut users = HashMap::new();
    for (name, region, roles, positions) in [
        ("gd_manager", "GD", vec!["user_manager"], vec![]),
        ("zj_manager", "ZJ", vec!["user_manager"], vec![]),
        ("auditor", "HQ", vec!["auditor"], vec![]),
        ("nobody", "SZ", vec![], vec![]),
        ("gd_revealer", "GD", vec!["revealer"], vec![]),
        ("maker", "SZ", vec!["requester", "reviewer"], vec!["first_reviewer"]),
        ("first", "SZ", vec!["reviewer"], vec!["first_reviewer"]),
        ("second", "GD", vec!["reviewer"], vec!["second_reviewer"]),
        ("second_b", "GD", vec!["reviewer"], vec!["second_reviewer"]),
        ("final", "HQ", vec!["reviewer"], vec!["final_reviewer"]),
        ("zj_first", "ZJ", vec!["reviewer"], vec!["first_reviewer"]),
    ] {
        let body = json!({"username": name, "display_name": name, "password": PASSWORD, "phone": "13812345678",
                          "region_id": regions[region], "roles": roles, "positions": positions});
        users.insert(name, app.create(&admin, "/api/v1/users", body).await);
    }
    users.insert(
        "admin",
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'").fetch_one(&app.pool).await.unwrap(),
    );
    Org { admin, regions, users }
}

/// The references a page or a style sheet makes: `src`, `href` and `action` attributes, CSS `url(...)`;
/// fragments and `data:` URLs left out, `&#38;` read as `&`.
pub fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["src=\"", "href=\"", "action=\"", "url("] {
        for rest in text.split(marker).skip(1) {
            let end = rest.find(['"', ')']).unwrap_or(rest.len());
            let reference = rest[..end].trim_matches(['\'', '"']).replace("&#38;", "&");
            if !reference.is_empty() && !reference.starts_with("data:") && !reference.starts_with('#') {
                found.push(reference);
            }
        }
    }
    found
}
