//! leasewatch admin: the HTTP face of the back office, mounted by `leasewatch run`. Handlers are
//! thin: extract → a `leasewatch-backoffice` service → response; the business lives there.
//!
//! # Layout
//! - `api/`: one module per resource, each a `router()` of annotated handlers.
//! - `console/`: the staff console's pages (templates in `admin/templates/`).
//! - `guard.rs`: deny by default: authentication, the permission each route declares, region scope;
//!   hands handlers the [`guard::Caller`] (the back office's actor plus the session).
//! - `error.rs`: the one HTTP error type, answered as `application/problem+json`.
//! - `extract.rs`: body, query and path extractors whose failures are problem documents.
//! - `alert_feed.rs`: alert changes as they commit (`LISTEN`), fanned out to live streams.
//! - `idempotency.rs`: `Idempotency-Key` on POSTs that create money movements or tasks.
//! - `docs.rs`: the OpenAPI document and the `/docs` page.
//! - `download.rs`: files to download (exports, letters), named in any script.
//! - `assets.rs`: the browser files pages load, embedded at build time from pinned npm packages.
//! - `state.rs`: the shared application context.
//!
//! Conventions for every resource are in `admin/README.md`.

pub mod alert_feed;
pub mod api;
pub mod assets;
pub mod console;
pub mod docs;
pub mod download;
pub mod error;
pub mod extract;
pub mod guard;
pub mod idempotency;
pub mod state;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use crate::error::ApiError;
pub use crate::state::AppState;

/// Why the router could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The OpenAPI document did not serialise.
    #[error("OpenAPI document: {0}")]
    Spec(#[from] serde_json::Error),
    /// A route's declaration is unusable.
    #[error("route declaration: {0}")]
    Declaration(#[from] guard::DeclarationError),
}

fn parts() -> (Router<AppState>, Result<Value, serde_json::Error>) {
    let (router, api) =
        OpenApiRouter::with_openapi(docs::ApiDoc::openapi()).nest("/api/v1", api::routes()).split_for_parts();
    let spec = serde_json::to_value(&api).map(|mut spec| {
        docs::complete(&mut spec);
        spec
    });
    (router, spec)
}

/// The OpenAPI document, as served at `/api/openapi.json`.
pub fn openapi() -> Result<Value, serde_json::Error> {
    parts().1
}

/// The admin API (`/api/v1/...` behind the guard, `/api/openapi.json`, `/docs`) and the staff console
/// with the `/assets/` both load.
pub fn router(state: AppState) -> Result<Router, RouterError> {
    let (api, spec) = parts();
    let spec = spec?;
    let routes = Arc::new(guard::RouteTable::from_spec(&spec)?);
    let guard = guard::Guard { state: state.clone(), routes };
    let api = api.route_layer(middleware::from_fn_with_state(guard, guard::guard)).with_state(state.clone());
    let spec = Arc::new(spec);
    let pages = console::router()
        .with_state(state.clone())
        .route("/docs", get(|| async { Html(docs::PAGE) }))
        .route("/assets/{*path}", get(assets::serve))
        .layer(middleware::from_fn_with_state(state, console::protect));
    Ok(Router::new()
        .merge(api)
        .merge(pages)
        .route("/api/openapi.json", get(move || async move { axum::Json(Value::clone(&spec)) }))
        .fallback(not_found))
}

/// Unknown paths: a problem document under `/api/`, the console's page elsewhere.
async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::NotFound("route").into_response()
    } else {
        console::error::PageError::NotFound.into_response()
    }
}

/// Request ids (`x-request-id`, made when the client sent none) on every response and log line,
/// a log line per request, and per-route latency metrics, for everything `router` serves.
pub fn observe(router: Router) -> Router {
    router
        .route_layer(middleware::from_fn(record_latency))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // The path only: query strings are not logged.
                    tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id)
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn record_latency(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or_else(String::new, |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("leasewatch_http_request_duration_seconds", "method" => method, "route" => route, "status" => status)
        .record(start.elapsed().as_secs_f64());
    response
}
