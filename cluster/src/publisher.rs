//! The outbox into the engine: every ingest node runs one. It takes the oldest waiting batches
//! (locked, so nodes share the work), publishes each parcel to its shard's subject, waits for the
//! engine to have stored them, then deletes the batches. A node that dies mid-way leaves its lock
//! to lapse with its transaction; the batches are published again, and the engine drops the copies
//! by message id.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use leasewatch_store::batch::Rows;
use leasewatch_store::outbox::{self, Parcels};
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};

use crate::EngineConfig;

/// Batches taken per round.
const ROUND: i64 = 64;

/// Publishes the outbox until `stop`; `committed` (the writer's stream) wakes it as batches commit,
/// and it looks at least every half second for what other nodes left.
pub async fn run(
    pool: PgPool,
    js: jetstream::Context,
    config: EngineConfig,
    mut committed: broadcast::Receiver<Arc<Rows>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failing = false;
    loop {
        match round(&pool, &js, &config).await {
            Ok(published) if published > 0 => {
                failing = false;
                continue;
            }
            Ok(_) => failing = false,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "could not publish committed batches; retrying");
                }
                failing = true;
            }
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            woken = committed.recv() => {
                if matches!(woken, Err(broadcast::error::RecvError::Closed)) {
                    // The writer is gone: what it committed last is published, then this ends.
                    let _ = round(&pool, &js, &config).await;
                    return;
                }
            }
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Why a round did not finish: nothing of it is deleted, and it is published again.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The database.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The engine did not take or store a message.
    #[error("engine: {0}")]
    Engine(String),
}

/// Publishes one round of waiting batches; how many.
pub async fn round(pool: &PgPool, js: &jetstream::Context, config: &EngineConfig) -> Result<usize, PublishError> {
    let mut tx = pool.begin().await?;
    let waiting = outbox::take(&mut tx, ROUND).await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let mut acks = Vec::new();
    for batch in &waiting {
        let Some(parcels) = Parcels::from_bytes(&batch.parcels) else {
            tracing::error!(id = batch.id, "an outbox batch is unreadable: dropped");
            continue;
        };
        for (shard, payload) in parcels.iter() {
            let mut headers = async_nats::HeaderMap::new();
            // The same batch published twice (a node died before deleting it) is stored once.
            headers.insert("Nats-Msg-Id", batch.message_id(shard).as_str());
            let sent = js
                .publish_with_headers(config.subject_of(shard), headers, payload.to_vec().into())
                .await
                .map_err(|e| PublishError::Engine(e.to_string()))?;
            acks.push(sent);
        }
    }
    for ack in acks {
        ack.await.map_err(|e| PublishError::Engine(e.to_string()))?;
    }
    let ids: Vec<i64> = waiting.iter().map(|b| b.id).collect();
    outbox::delete(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(waiting.len())
}
