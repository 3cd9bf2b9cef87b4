//! Deny by default. Every operation declares in its OpenAPI `security` what it needs:
//! `security(())` (public), `security(("bearer" = []))` (any signed-in user) or
//! `security(("bearer" = ["users.read"]))` (that permission). The guard reads those declarations
//! from the generated document, so the documentation and the enforcement cannot disagree, and it
//! refuses any route that declares nothing. It authenticates the bearer token, checks the
//! permission, applies `Idempotency-Key` where the operation documents that header, and hands
//! handlers the [`Caller`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use backoffice::Actor;
pub use backoffice::RequestMeta;

use crate::error::ApiError;
use crate::state::AppState;

/// What an operation requires of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Anyone (login, token refresh).
    Public,
    /// Any signed-in user (their own profile, logout).
    SignedIn,
    /// A signed-in user holding this permission.
    Permission(String),
}

/// One operation's declarations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Who may call it.
    pub requirement: Requirement,
    /// Whether it honours `Idempotency-Key`.
    pub idempotent: bool,
}

/// Method and path template (`/api/v1/users/{id}`) → declarations, read from the OpenAPI document.
#[derive(Debug, Default, Clone)]
pub struct RouteTable(HashMap<(Method, String), Route>);

/// A route whose declaration the guard cannot use.
#[derive(Debug, thiserror::Error)]
#[error("{method} {path}: {problem}")]
pub struct DeclarationError {
    method: String,
    path: String,
    problem: String,
}

impl RouteTable {
    /// Reads the declarations of every operation in `spec` (an OpenAPI document as JSON).
    pub fn from_spec(spec: &Value) -> Result<Self, DeclarationError> {
        let mut table = HashMap::new();
        let paths = spec.get("paths").and_then(Value::as_object).into_iter().flatten();
        for (path, item) in paths {
            let Some(item) = item.as_object() else { continue };
            for (method, operation) in item {
                let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else { continue };
                let error = |problem: &str| DeclarationError {
                    method: method.to_string(),
                    path: path.clone(),
                    problem: problem.to_owned(),
                };
                let requirement = requirement(operation).map_err(|p| error(&p))?;
                if let Requirement::Permission(p) = &requirement
                    && !backoffice::system::permissions::exists(p)
                {
                    return Err(error(&format!("permission `{p}` is not in the catalogue")));
                }
                let idempotent = operation.get("parameters").and_then(Value::as_array).is_some_and(|ps| {
                    ps.iter().any(|p| p.get("name").and_then(Value::as_str) == Some("Idempotency-Key"))
                });
                table.insert((method, path.clone()), Route { requirement, idempotent });
            }
        }
        Ok(Self(table))
    }

    /// The declarations of `method` on `path`.
    pub fn get(&self, method: &Method, path: &str) -> Option<&Route> {
        self.0.get(&(method.clone(), path.to_owned()))
    }

    /// Every declared route.
    pub fn iter(&self) -> impl Iterator<Item = (&Method, &str, &Route)> {
        self.0.iter().map(|((m, p), r)| (m, p.as_str(), r))
    }
}

fn requirement(operation: &Value) -> Result<Requirement, String> {
    let Some(security) = operation.get("security").and_then(Value::as_array) else {
        return Err("declares no security: every route must say what it requires".to_owned());
    };
    match security.as_slice() {
        [only] if only.as_object().is_some_and(|o| o.is_empty()) => Ok(Requirement::Public),
        [only] => match only.get("bearer").and_then(Value::as_array).map(Vec::as_slice) {
            Some([]) => Ok(Requirement::SignedIn),
            Some([Value::String(p)]) => Ok(Requirement::Permission(p.clone())),
            _ => Err("security must be () or (\"bearer\" = []) or (\"bearer\" = [\"one.permission\"])".to_owned()),
        },
        _ => Err("security must have exactly one requirement".to_owned()),
    }
}

/// The request's id and peer address.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(meta(&parts.headers, &parts.extensions)))
    }
}

pub(crate) fn meta(headers: &HeaderMap, extensions: &Extensions) -> RequestMeta {
    RequestMeta {
        request_id: headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned),
        client_addr: extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string()),
    }
}

/// The signed-in user making the request: the back office's [`Actor`] and the login session.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who they are, what they may do, where they see.
    pub actor: Actor,
    /// Their login session.
    pub session_id: i64,
}

impl std::ops::Deref for Caller {
    type Target = Actor;

    fn deref(&self) -> &Actor {
        &self.actor
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Arc<Caller>>().map(|c| Caller::clone(c)).ok_or_else(unauthenticated)
    }
}

fn unauthenticated() -> ApiError {
    ApiError::Unauthenticated {
        code: "unauthenticated",
        detail: "sign in and send `Authorization: Bearer <access token>`".into(),
    }
}

/// The guard's context.
#[derive(Clone)]
pub struct Guard {
    /// The application.
    pub state: AppState,
    /// The declarations.
    pub routes: Arc<RouteTable>,
}

/// The middleware; installed with `route_layer` so that the matched path is known.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    match check(&guard, request, next).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn check(guard: &Guard, mut request: Request, next: Next) -> Result<Response, ApiError> {
    // PostgreSQL text cannot hold NUL; refuse it in paths and query strings once, here.
    if request.uri().path_and_query().is_some_and(|pq| pq.as_str().to_ascii_lowercase().contains("%00")) {
        return Err(ApiError::BadRequest("the URL must not contain NUL characters (%00)".to_owned()));
    }
    let path = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_default();
    let Some(route) = guard.routes.get(request.method(), &path).cloned() else {
        tracing::error!(method = %request.method(), %path, "route without a declared requirement refused");
        return Err(ApiError::Forbidden { code: "forbidden", detail: "this route declares no permission".into() });
    };
    if route.requirement == Requirement::Public {
        return Ok(next.run(request).await);
    }
    let token = bearer(request.headers()).map(str::to_owned);
    let meta = meta(request.headers(), request.extensions());
    let caller = match &route.requirement {
        Requirement::Public | Requirement::SignedIn => authenticate(&guard.state, token, meta).await?,
        Requirement::Permission(p) => {
            let caller = authenticate(&guard.state, token, meta).await?;
            if !caller.can(p) {
                return Err(ApiError::missing_permission(p));
            }
            caller
        }
    };
    let caller = Arc::new(caller);
    request.extensions_mut().insert(caller.clone());
    match request.headers().get("idempotency-key") {
        Some(key) if route.idempotent => {
            let key =
                key.to_str().ok().filter(|k| (1..=255).contains(&k.len())).map(str::to_owned).ok_or_else(|| {
                    ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into())
                })?;
            crate::idempotency::run(&guard.state.pool, caller.user_id, &key, request, next).await
        }
        _ => Ok(next.run(request).await),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

pub(crate) async fn authenticate(
    state: &AppState,
    token: Option<String>,
    meta: RequestMeta,
) -> Result<Caller, ApiError> {
    let token = token.ok_or_else(unauthenticated)?;
    let (actor, session_id) = backoffice::system::sessions::actor(&state.pool, &token, meta).await?;
    Ok(Caller { actor, session_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declarations_are_read_from_the_document() {
        let spec = json!({"paths": {
            "/api/v1/auth/login": {"post": {"security": [{}]}},
            "/api/v1/auth/me": {"get": {"security": [{"bearer": []}]}},
            "/api/v1/users": {
                "get": {"security": [{"bearer": ["users.read"]}]},
                "post": {"security": [{"bearer": ["users.write"]}],
                         "parameters": [{"name": "Idempotency-Key", "in": "header"}]}
            }
        }});
        let table = RouteTable::from_spec(&spec).unwrap();
        assert_eq!(table.get(&Method::POST, "/api/v1/auth/login").unwrap().requirement, Requirement::Public);
        assert_eq!(table.get(&Method::GET, "/api/v1/auth/me").unwrap().requirement, Requirement::SignedIn);
        let post = table.get(&Method::POST, "/api/v1/users").unwrap();
        assert_eq!(post.requirement, Requirement::Permission("users.write".into()));
        assert!(post.idempotent);
        assert!(!table.get(&Method::GET, "/api/v1/users").unwrap().idempotent);
    }

    #[tokio::test]
    async fn a_route_missing_from_the_document_is_refused() {
        use axum::body::Body;
        use tower::ServiceExt;
        let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap();
        let vault =
            backoffice::system::crypto::Vault::from_base64(&backoffice::system::crypto::Vault::generate_key().unwrap())
                .unwrap();
        let state = AppState::new(pool, vault, backoffice::system::password::HashCost::default());
        let guard = Guard { state, routes: Arc::new(RouteTable::default()) };
        let app = axum::Router::new()
            .route("/api/v1/secret", axum::routing::get(|| async { "secret" }))
            .route_layer(axum::middleware::from_fn_with_state(guard, super::guard));
        let request = axum::http::Request::get("/api/v1/secret").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), axum::http::StatusCode::FORBIDDEN);
    }

    #[test]
    fn a_route_without_security_or_with_an_unknown_permission_is_an_error() {
        let missing = json!({"paths": {"/x": {"get": {}}}});
        assert!(RouteTable::from_spec(&missing).is_err());
        let unknown = json!({"paths": {"/x": {"get": {"security": [{"bearer": ["nuclear.launch"]}]}}}});
        assert!(RouteTable::from_spec(&unknown).is_err());
        let two = json!({"paths": {"/x": {"get": {"security": [{"bearer": ["users.read", "users.write"]}]}}}});
        assert!(RouteTable::from_spec(&two).is_err());
    }
}
