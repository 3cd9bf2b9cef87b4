//! The daemon's HTTP server: the admin API (when enabled), Prometheus metrics and health, with
//! request ids, request logs and per-route latency on everything.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio::sync::watch;

/// What the handlers read.
#[derive(Clone)]
struct Ops {
    metrics: PrometheusHandle,
    metrics_token: Option<String>,
    pool: PgPool,
}

/// `/metrics`, `/healthz` (the process answers) and `/readyz` (the database answers).
fn ops(metrics: PrometheusHandle, metrics_token: Option<String>, pool: PgPool) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(Ops { metrics, metrics_token, pool })
}

async fn scrape(State(ops): State<Ops>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if may_scrape(ops.metrics_token.as_deref(), peer.ip(), authorization) {
        ops.metrics.render().into_response()
    } else {
        (StatusCode::FORBIDDEN, "metrics: scrape from this host, or send the bearer token set as metrics_token\n")
            .into_response()
    }
}

/// Metrics tell an outsider how big the fleet is and where the service hurts: with a token set,
/// a scraper must send it; without one, only this host may scrape.
fn may_scrape(token: Option<&str>, peer: IpAddr, authorization: Option<&str>) -> bool {
    match token {
        Some(token) => authorization.and_then(|a| a.strip_prefix("Bearer ")).is_some_and(|given| {
            given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0, |d, (a, b)| d | (a ^ b)) == 0
        }),
        None => peer.to_canonical().is_loopback(),
    }
}

async fn ready(State(ops): State<Ops>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&ops.pool).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// Serves `admin` (if any) beside the operations endpoints until `shutdown` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: PrometheusHandle,
    metrics_token: Option<String>,
    pool: PgPool,
    admin: Option<Router>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut app = ops(metrics, metrics_token, pool);
    if let Some(admin) = admin {
        app = app.merge(admin);
    }
    let app = leasewatch_admin::observe(app);
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_for_this_host_or_the_token_holder() {
        let here: IpAddr = [127, 0, 0, 1].into();
        let elsewhere: IpAddr = [203, 0, 113, 9].into();
        assert!(may_scrape(None, here, None));
        assert!(may_scrape(None, "::ffff:127.0.0.1".parse().unwrap(), None));
        assert!(!may_scrape(None, elsewhere, None));
        assert!(may_scrape(Some("s3cret"), elsewhere, Some("Bearer s3cret")));
        assert!(!may_scrape(Some("s3cret"), elsewhere, Some("Bearer s3cre")));
        assert!(!may_scrape(Some("s3cret"), here, None));
    }
}
