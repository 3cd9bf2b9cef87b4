//! The daemon's HTTP server: the admin API (when enabled), Prometheus metrics and health, with
//! request ids, request logs and per-route latency on everything.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio::sync::watch;

/// What the handlers read.
#[derive(Clone)]
struct Ops {
    metrics: PrometheusHandle,
    pool: PgPool,
}

/// `/metrics`, `/healthz` (the process answers) and `/readyz` (the database answers).
fn ops(metrics: PrometheusHandle, pool: PgPool) -> Router {
    Router::new()
        .route("/metrics", get(|State(ops): State<Ops>| async move { ops.metrics.render() }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(Ops { metrics, pool })
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
    pool: PgPool,
    admin: Option<Router>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut app = ops(metrics, pool);
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
