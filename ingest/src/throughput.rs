//! The writer's throughput report: every `throughput_report_ms`, how many positions this node acknowledged,
//! kept in `ingest_throughput` (this module is its one writer) for the console's dashboard.

use std::time::Duration;

use sqlx::PgPool;

/// This process's name in the reports: the host and the process id.
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty());
    format!("{}:{}", host.unwrap_or_else(|| "ingest".to_owned()), std::process::id())
}

/// Records that `node` acknowledged `positions` in the last `span`, and forgets reports older
/// than two days (the dashboard reads the last minute).
pub async fn record(pool: &PgPool, node: &str, positions: u64, span: Duration) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH gone AS (DELETE FROM ingest_throughput WHERE at < now() - interval '2 days')
         INSERT INTO ingest_throughput (node, positions, seconds) VALUES ($1, $2, $3)",
    )
    .bind(node)
    .bind(i64::try_from(positions).unwrap_or(i64::MAX))
    .bind(span.as_secs_f64().max(0.001))
    .execute(pool)
    .await?;
    Ok(())
}
