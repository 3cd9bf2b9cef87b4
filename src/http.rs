//! The daemon's HTTP endpoints for operations: Prometheus metrics and health. (The admin API
//! mounts on this server when it lands.)

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

/// The router: `/metrics`, `/healthz` (the process answers), `/readyz` (the database answers).
fn router(metrics: PrometheusHandle, pool: PgPool) -> Router {
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

/// Serves until `shutdown` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: PrometheusHandle,
    pool: PgPool,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    axum::serve(listener, router(metrics, pool))
        .with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        })
        .await?;
    Ok(())
}
