//! How far behind each shard is: the stream's last message of the shard against what the monitor
//! applied, and which monitor holds it (for `leasewatch cluster status` and the benchmark).

use serde::Serialize;
use sqlx::PgPool;

use crate::{Engine, EngineConfig};

/// One shard's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShardStatus {
    /// The shard.
    pub shard: u16,
    /// The stream sequence of its last message (0: none yet).
    pub last: u64,
    /// The last sequence the monitor applied.
    pub applied: u64,
    /// Messages not applied yet.
    pub lag: u64,
    /// The holder's database session (application name, else address and backend pid).
    pub holder: Option<String>,
}

/// Every shard's state.
pub async fn shards(js: &Engine, pool: &PgPool, config: &EngineConfig) -> Result<Vec<ShardStatus>, String> {
    let stream = js.get_stream(&config.stream).await.map_err(|e| e.to_string())?;
    let applied: Vec<(i16, i64)> = sqlx::query_as("SELECT shard, applied_seq FROM monitor_shards")
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
    let holders: Vec<(i64, Option<String>)> = sqlx::query_as(
        "SELECT l.objid::bigint, coalesce(nullif(a.application_name, ''), host(a.client_addr) || ':' || a.pid)
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1",
    )
    .bind(i64::from(leasewatch_store::leader::SHARD_CLASS))
    .fetch_all(pool)
    .await
    .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(usize::from(config.shards));
    for shard in 0..config.shards {
        let last = match stream.get_last_raw_message_by_subject(&config.subject_of(shard)).await {
            Ok(message) => message.sequence,
            Err(_) => 0,
        };
        let applied = applied.iter().find(|(s, _)| *s as u16 == shard).map_or(0, |(_, a)| *a as u64);
        let holder = holders.iter().find(|(s, _)| *s == i64::from(shard)).and_then(|(_, h)| h.clone());
        out.push(ShardStatus { shard, last, applied, lag: last.saturating_sub(applied), holder });
    }
    Ok(out)
}
