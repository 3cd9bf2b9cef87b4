//! One held shard's messages into the monitor: the monitor restores the shard's vehicles and says
//! the last sequence it applied; a durable consumer is then declared to start right after it, and
//! messages go to the monitor in batches, acknowledged once the monitor has written what it
//! concluded from them (with the sequence, in the same transaction).

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{self, Message};
use chrono::Utc;
use futures_util::StreamExt;
use leasewatch_monitor::engine::{Batch, ShardChange};
use tokio::sync::{mpsc, oneshot};

use crate::{EngineConfig, wire};

/// Messages handed to the monitor at once, at most.
const BATCH: usize = 500;

/// Consumes `shard` into `monitor` until the monitor or the engine fails it (then the shard is
/// given up and claimed again).
pub async fn run(
    js: jetstream::Context,
    config: EngineConfig,
    shard: u16,
    monitor: mpsc::Sender<Batch>,
    changes: mpsc::Sender<ShardChange>,
) {
    if let Err(e) = consume(&js, &config, shard, &monitor, &changes).await {
        tracing::warn!(shard, error = %e, "shard consumer stopped");
    }
}

async fn consume(
    js: &jetstream::Context,
    config: &EngineConfig,
    shard: u16,
    monitor: &mpsc::Sender<Batch>,
    changes: &mpsc::Sender<ShardChange>,
) -> Result<(), String> {
    let (ready, restored) = oneshot::channel();
    changes.send(ShardChange::Claimed { shard, ready }).await.map_err(|_| "the monitor stopped")?;
    let mut applied = restored.await.map_err(|_| "the monitor could not restore the shard")?;
    let stream = js.get_stream(&config.stream).await.map_err(|e| e.to_string())?;
    let name = format!("monitor-{shard}");
    // Declared again at each claim, to start where the database says this shard was applied.
    let _ = stream.delete_consumer(&name).await;
    let deliver_policy = match applied {
        0 => DeliverPolicy::All,
        seq => DeliverPolicy::ByStartSequence { start_sequence: seq + 1 },
    };
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(name),
            filter_subject: config.subject_of(shard),
            deliver_policy,
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    loop {
        let Some(first) = messages.next().await else { return Err("the engine ended the stream".to_owned()) };
        let mut taken: Vec<Message> = vec![first.map_err(|e| e.to_string())?];
        // What has already arrived goes with it.
        while taken.len() < BATCH {
            match tokio::time::timeout(Duration::from_millis(1), messages.next()).await {
                Ok(Some(Ok(message))) => taken.push(message),
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(None) => break,
                Err(_) => break,
            }
        }
        let mut observations = Vec::new();
        let mut last = applied;
        for message in &taken {
            let seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            // Applied before a failover or a redelivery: its effects are in the database already.
            if seq <= applied {
                continue;
            }
            last = last.max(seq);
            match wire::decode(&message.payload) {
                Ok(found) => observations.extend(found),
                Err(e) => tracing::error!(shard, seq, error = %e, "an unreadable message: skipped"),
            }
        }
        if last > applied {
            let (done, written) = oneshot::channel();
            let batch =
                Batch { observations, committed_at: Utc::now(), progress: Some((shard, last)), applied: Some(done) };
            monitor.send(batch).await.map_err(|_| "the monitor stopped")?;
            written.await.map_err(|_| "the monitor stopped before writing")?;
            applied = last;
        }
        for message in taken {
            if let Err(e) = message.ack().await {
                tracing::debug!(shard, error = %e, "acknowledgement not sent; the message comes again and is skipped");
            }
        }
    }
}
