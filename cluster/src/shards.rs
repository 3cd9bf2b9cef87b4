//! A monitor's shards: leased through the database (advisory locks on a connection of its own,
//! lost when the process dies), balanced among the monitors alive. Every round the instance renews
//! its membership, counts the live monitors, gives up one shard when it holds more than its share
//! and takes free ones while it holds fewer; each held shard has a consumer feeding the monitor.
//! A dead monitor's leases lapse with its connection at once; its membership after `3 × claim`,
//! after which the survivors' shares cover its shards.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream;
use leasewatch_monitor::engine::{Batch, ShardChange};
use leasewatch_store::leader::{self, Leases};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::{EngineConfig, consumer};

/// The role name under which monitors count one another.
const ROLE: &str = "monitor";

/// The shards of `monitor` (the engine's input and its shard changes), until `stop`.
pub async fn run(
    pool: PgPool,
    js: jetstream::Context,
    config: EngineConfig,
    instance: String,
    monitor: mpsc::Sender<Batch>,
    changes: mpsc::Sender<ShardChange>,
    mut stop: watch::Receiver<bool>,
) {
    let every = Duration::from_millis(config.claim_ms.max(100));
    let stale = every * 3;
    let mut leases = Leases::default();
    let mut consumers: BTreeMap<u16, JoinHandle<()>> = BTreeMap::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Instances start their search at different shards, so that they do not all try the same first.
    let offset = instance.bytes().fold(0_u16, |h, b| h.wrapping_mul(31).wrapping_add(u16::from(b)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        for shard in leases.check().await {
            drop_shard(&mut consumers, &changes, shard).await;
        }
        // A consumer that ended (the engine or the monitor failed it) gives its shard up, to be claimed again.
        let ended: Vec<u16> = consumers.iter().filter(|(_, c)| c.is_finished()).map(|(s, _)| *s).collect();
        for shard in ended {
            give_up(&mut leases, &mut consumers, &changes, shard).await;
        }
        let alive = match leader::heartbeat(&pool, ROLE, &instance, stale).await {
            Ok(alive) => alive,
            Err(e) => {
                tracing::warn!(error = %e, "could not renew the monitor's membership");
                continue;
            }
        };
        let share = usize::from(config.shards.div_ceil(alive));
        if leases.held().len() > share
            && let Some(&shard) = leases.held().last()
        {
            give_up(&mut leases, &mut consumers, &changes, shard).await;
        }
        for n in 0..config.shards {
            if leases.held().len() >= share {
                break;
            }
            let shard = (n + offset % config.shards.max(1)) % config.shards.max(1);
            if leases.held().contains(&shard) {
                continue;
            }
            match leases.try_take(&pool, shard).await {
                Ok(true) => {
                    let task = consumer::run(js.clone(), config.clone(), shard, monitor.clone(), changes.clone());
                    consumers.insert(shard, tokio::spawn(task));
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(shard, error = %e, "could not try a shard's lease");
                    break;
                }
            }
        }
    }
    for (_, consumer) in std::mem::take(&mut consumers) {
        consumer.abort();
    }
    leases.release().await;
    if let Err(e) = leader::leave(&pool, ROLE, &instance).await {
        tracing::debug!(error = %e, "membership not removed; it lapses");
    }
}

/// Stops a shard's consumer and tells the monitor the shard is not its own any more; returns once
/// the monitor has written what it received of it (or could not within the bound).
async fn drop_shard(consumers: &mut BTreeMap<u16, JoinHandle<()>>, changes: &mpsc::Sender<ShardChange>, shard: u16) {
    if let Some(consumer) = consumers.remove(&shard) {
        consumer.abort();
        let _ = consumer.await;
    }
    let (done, written) = oneshot::channel();
    if changes.send(ShardChange::Released { shard, done }).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(10), written).await;
    }
}

/// Gives a shard up: its consumer stops, the monitor writes what it had of it, then the lease goes
/// (so the next holder restores what this one concluded).
async fn give_up(
    leases: &mut Leases,
    consumers: &mut BTreeMap<u16, JoinHandle<()>>,
    changes: &mpsc::Sender<ShardChange>,
    shard: u16,
) {
    drop_shard(consumers, changes, shard).await;
    if let Err(e) = leases.give_up(shard).await {
        tracing::warn!(shard, error = %e, "could not give a shard's lease up; it lapses with the connection");
    }
}
