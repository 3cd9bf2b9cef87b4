//! The monitor task: one loop that owns the [`Watch`], fed with batches of committed rows. It
//! applies what the rules conclude to the database at once, ticks the time-based rules, reloads
//! contracts, thresholds and places from the database, proposes repossession tasks, closes
//! collection alerts of contracts brought current, and dispatches device commands.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, watch};

use crate::alerts::{self, Owner};
use crate::commands::{self, Downlink};
use crate::observation::Observation;
use crate::places::Provinces;
use crate::watch::{Outcome, Ownership, Watch};
use crate::{risk, store, tasks};

/// The monitor's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Whether the monitor runs in this process.
    pub enabled: bool,
    /// How often time-based rules and command dispatch run, in milliseconds.
    pub tick_ms: u64,
    /// How often contracts, payment status, thresholds and places are reloaded, in seconds.
    pub refresh_secs: u64,
    /// Publish alert changes to `leasewatch/v1/alerts/{region_id}` on the MQTT broker of ingest.
    pub publish_alerts: bool,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self { enabled: true, tick_ms: 1000, refresh_secs: 60, publish_alerts: true }
    }
}

/// Rows committed together, as the monitor receives them.
#[derive(Debug)]
pub struct Batch {
    /// The rows.
    pub observations: Vec<Observation>,
    /// When the monitor learned they were committed.
    pub committed_at: DateTime<Utc>,
    /// From the message engine: the shard and the last stream sequence the batch holds, recorded
    /// with what the rules concluded from it.
    pub progress: Option<(u16, u64)>,
    /// Told once what the rules concluded from the batch is written (the engine's acknowledgement).
    pub applied: Option<oneshot::Sender<()>>,
}

impl Batch {
    /// Rows from this process's own writer.
    pub fn local(observations: Vec<Observation>, committed_at: DateTime<Utc>) -> Self {
        Self { observations, committed_at, progress: None, applied: None }
    }
}

/// A change in the shards this monitor owns, when several monitors share the fleet.
#[derive(Debug)]
pub enum ShardChange {
    /// The shard is now this monitor's: its vehicles' state is restored, then `ready` is told the
    /// last stream sequence applied for it (the consumer starts after it).
    Claimed {
        /// The shard.
        shard: u16,
        /// Answered once the shard's state is restored.
        ready: oneshot::Sender<u64>,
    },
    /// The shard was given up or lost: what the monitor received of it is written first, then
    /// `done` is told (and the lease may go to another monitor).
    Released {
        /// The shard.
        shard: u16,
        /// Told once the shard's last batches are written.
        done: oneshot::Sender<()>,
    },
}

/// Several monitors share the fleet: this one evaluates the shards it is told it owns.
#[derive(Debug)]
pub struct Sharding {
    /// How many shards the fleet is split into.
    pub shards: u16,
    /// Claims and releases.
    pub changes: mpsc::Receiver<ShardChange>,
}

/// The shipped province boundaries (simplified, WGS-84; see `data/README.md`).
pub fn shipped_provinces() -> Provinces {
    match Provinces::from_geojson(include_str!("../../data/provinces.geojson")) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "shipped province boundaries unreadable; the province rule is off");
            Provinces::default()
        }
    }
}

/// Outcomes waiting for the database when it failed; kept to retry, up to this many.
const PENDING_LIMIT: usize = 100_000;

/// Runs the monitor until `shutdown` or until the input closes; `utc_offset_hours` is the
/// company's offset from UTC (night-time is local).
pub async fn run(
    pool: PgPool,
    config: MonitorConfig,
    utc_offset_hours: i32,
    input: mpsc::Receiver<Batch>,
    downlink: Option<Arc<dyn Downlink>>,
    shutdown: watch::Receiver<bool>,
) {
    run_sharded(pool, config, utc_offset_hours, input, downlink, None, shutdown).await;
}

/// [`run`], evaluating only the shards `sharding` hands it when several monitors share the fleet
/// (the one holding shard 0 also does the fleet-wide upkeep: daily learning and scoring, closing
/// alerts of contracts brought current, proposing repossessions).
pub async fn run_sharded(
    pool: PgPool,
    config: MonitorConfig,
    utc_offset_hours: i32,
    mut input: mpsc::Receiver<Batch>,
    downlink: Option<Arc<dyn Downlink>>,
    sharding: Option<Sharding>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut watch = Watch::new(Arc::new(shipped_provinces()), utc_offset_hours);
    let (shards, mut changes) = match sharding {
        Some(s) => (Some(s.shards), Some(s.changes)),
        None => (None, None),
    };
    watch.set_ownership(shards.map(|shards| Ownership { shards, owned: Default::default() }));
    let upkeep = Arc::new(std::sync::atomic::AtomicBool::new(shards.is_none()));
    if let Err(e) = store::seed_rules(&pool).await {
        tracing::warn!(error = %e, "could not list the rules in the database");
    }
    if let Err(e) = store::refresh(&pool, &mut watch).await {
        tracing::warn!(error = %e, "could not load contracts and places; retrying at the next refresh");
    }
    // Sharded, every device's last fix is known (neighbours count in gatherings); latches are
    // restored shard by shard as they are claimed.
    match store::restore(&pool, &mut watch).await {
        Ok(devices) => tracing::info!(devices, "monitor state restored"),
        Err(e) => tracing::warn!(error = %e, "could not restore device state"),
    }
    if shards.is_none() {
        restore_latches(&pool, &mut watch, |_| true).await;
    }
    // Daily work scans a day of positions or every contract: off the loop, so alerts never wait for it.
    let daily = tokio::spawn(daily(pool.clone(), utc_offset_hours, upkeep.clone()));
    let mut tick = tokio::time::interval(Duration::from_millis(config.tick_ms.max(10)));
    let mut refresh = tokio::time::interval(Duration::from_secs(config.refresh_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending = Pending::default();
    let mut out = Vec::new();
    loop {
        tokio::select! {
            batch = input.recv() => {
                let Some(batch) = batch else { break };
                take(&mut watch, batch, &mut pending, &mut out);
                apply(&pool, &watch, &mut pending).await;
            }
            Some(change) = next_change(&mut changes) => {
                // What was received belongs to the shards as they were: written first (a shard's
                // consumer is stopped before its release is sent, so nothing of it comes later).
                while let Ok(batch) = input.try_recv() {
                    take(&mut watch, batch, &mut pending, &mut out);
                }
                apply(&pool, &watch, &mut pending).await;
                shard_changed(&pool, &mut watch, change).await;
                upkeep.store(watch.ownership().is_none_or(|o| o.owned.contains(&0)), std::sync::atomic::Ordering::Relaxed);
            }
            _ = tick.tick() => {
                let now = Utc::now();
                watch.tick(now, &mut out);
                pending.add(&mut out, &mut watch, now);
                apply(&pool, &watch, &mut pending).await;
                if let Some(downlink) = &downlink
                    && let Err(e) = commands::dispatch(&pool, &watch, downlink.as_ref(), now, None).await {
                        tracing::warn!(error = %e, "command dispatch failed");
                    }
            }
            _ = refresh.tick() => {
                let fleet = upkeep.load(std::sync::atomic::Ordering::Relaxed);
                reload(&pool, &mut watch, utc_offset_hours, fleet).await;
            }
            _ = shutdown.changed() => break,
        }
    }
    apply(&pool, &watch, &mut pending).await;
    daily.abort();
}

/// Evaluates a batch into `pending`.
fn take(watch: &mut Watch, batch: Batch, pending: &mut Pending, out: &mut Vec<Outcome>) {
    for obs in &batch.observations {
        watch.observe(obs, out);
    }
    pending.add(out, watch, batch.committed_at);
    pending.received(batch.progress, batch.applied);
}

/// The next shard change, when sharded.
async fn next_change(changes: &mut Option<mpsc::Receiver<ShardChange>>) -> Option<ShardChange> {
    match changes {
        Some(changes) => changes.recv().await,
        None => std::future::pending().await,
    }
}

/// Restores the persisted latches of the vehicles `keep` names.
async fn restore_latches(pool: &PgPool, watch: &mut Watch, keep: impl Fn(i64) -> bool) {
    match store::restore_latches(pool, watch, keep).await {
        Ok(vehicles) => tracing::info!(vehicles, "alerted conditions restored"),
        Err(e) => tracing::warn!(error = %e, "could not restore alerted conditions: those still holding alert again"),
    }
}

/// Takes a shard on (its vehicles' last fixes and latches from the database, then the sequence
/// its consumer starts after) or lets it go.
async fn shard_changed(pool: &PgPool, watch: &mut Watch, change: ShardChange) {
    let Some(mut ownership) = watch.ownership().cloned() else { return };
    match change {
        ShardChange::Claimed { shard, ready } => {
            ownership.owned.insert(shard);
            let shards = ownership.shards;
            watch.set_ownership(Some(ownership));
            let mine = |v: i64| leasewatch_store::shard::of(v, shards) == shard;
            if let Err(e) = store::restore_where(pool, watch, mine).await {
                tracing::warn!(shard, error = %e, "could not restore the shard's device state");
            }
            restore_latches(pool, watch, mine).await;
            match store::shard_progress(pool, shard).await {
                Ok(seq) => {
                    tracing::info!(shard, after = seq, "shard taken");
                    let _ = ready.send(seq);
                }
                // Not answered: the consumer gives the shard up and it is claimed again.
                Err(e) => tracing::warn!(shard, error = %e, "could not read the shard's progress"),
            }
        }
        ShardChange::Released { shard, done } => {
            ownership.owned.remove(&shard);
            watch.set_ownership(Some(ownership));
            tracing::info!(shard, "shard given up");
            let _ = done.send(());
        }
    }
}

/// Checked hourly, on the instance that does the fleet-wide upkeep: learns the resident places of
/// the days gone by before the monitor watched them live (a day is learned once), forgets old ones, rescores every active contract once a local day
/// (payment status moves with the daily job), and in the other hours scores the active contracts
/// that have no score yet.
async fn daily(pool: PgPool, utc_offset_hours: i32, upkeep: Arc<std::sync::atomic::AtomicBool>) {
    // Days from today on are learned as the fixes arrive; days before, from stored positions.
    let live_from = (Utc::now() + chrono::Duration::hours(i64::from(utc_offset_hours))).date_naive();
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    let mut scored_on = None;
    loop {
        hourly.tick().await;
        if !upkeep.load(std::sync::atomic::Ordering::Relaxed) {
            continue;
        }
        let now = Utc::now();
        match store::catch_up_resident_places(&pool, now, utc_offset_hours, live_from).await {
            Ok(0) => {}
            Ok(days) => tracing::info!(days, "resident places learned"),
            Err(e) => tracing::warn!(error = %e, "could not learn resident places"),
        }
        let today = (now + chrono::Duration::hours(i64::from(utc_offset_hours))).date_naive();
        if scored_on != Some(today) {
            match risk::recompute(&pool, None, now).await {
                Ok(contracts) => {
                    scored_on = Some(today);
                    tracing::info!(contracts, "risk scores recomputed");
                }
                Err(e) => tracing::warn!(error = %e, "could not recompute risk scores"),
            }
        } else {
            // Contracts imported or activated since: the queues ordered by score list only scored ones.
            match risk::score_unscored(&pool, now).await {
                Ok(0) => {}
                Ok(contracts) => tracing::info!(contracts, "risk scores of new contracts computed"),
                Err(e) => tracing::warn!(error = %e, "could not score new contracts"),
            }
        }
    }
}

/// Reloads the books' view; with the fleet-wide upkeep, closes collection alerts of contracts
/// brought current and proposes repossessions. Sharded, the other shards' last fixes are
/// reloaded too (rules that look at neighbours).
async fn reload(pool: &PgPool, watch: &mut Watch, utc_offset_hours: i32, fleet: bool) {
    if let Err(e) = store::refresh(pool, watch).await {
        tracing::warn!(error = %e, "could not reload contracts and places");
        return;
    }
    if let Some(ownership) = watch.ownership().cloned()
        && let Err(e) = store::restore_where(pool, watch, |v| !ownership.owns(v)).await
    {
        tracing::warn!(error = %e, "could not reload the other shards' last fixes");
    }
    if !fleet {
        return;
    }
    let now = Utc::now();
    // Read from the books rather than remembered, so a contract paid while the daemon was down
    // is caught too.
    let current: Vec<i64> = match sqlx::query_scalar(
        "SELECT DISTINCT v FROM (
             SELECT vehicle_id AS v FROM alerts WHERE collection AND status <> 'resolved'
             UNION SELECT vehicle_id FROM risk_tasks WHERE kind = 'repossession' AND status = 'open'
             UNION SELECT d.vehicle_id FROM device_commands k JOIN devices d ON d.id = k.device_id
                   WHERE k.command = 'engine_cut' AND k.status IN ('awaiting_approval', 'queued', 'waiting_stop')) x
         WHERE v IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM contracts c WHERE c.vehicle_id = x.v AND c.status = 'active' AND c.dpd > 0)",
    )
    .fetch_all(pool)
    .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for contracts brought current");
            Vec::new()
        }
    };
    for vehicle_id in current {
        let closed = async {
            let mut tx = pool.begin().await?;
            let notices = alerts::close(&mut tx, vehicle_id, None, "contract brought current", now).await?;
            tx.commit().await?;
            tasks::withdraw_repossession(pool, vehicle_id).await?;
            let cuts = commands::withdraw_engine_cuts(pool, vehicle_id).await?;
            Ok::<_, sqlx::Error>((notices.len(), cuts))
        };
        match closed.await {
            Ok((alerts, cuts)) => {
                tracing::info!(
                    vehicle_id,
                    alerts,
                    cuts,
                    "contract brought current: collection alerts closed, engine cuts withdrawn"
                );
            }
            Err(e) => tracing::warn!(vehicle_id, error = %e, "could not close collection alerts"),
        }
    }
    match tasks::propose_repossessions(pool, watch, now, utc_offset_hours).await {
        Ok(0) => {}
        Ok(made) => tracing::info!(made, "repossession tasks proposed"),
        Err(e) => tracing::warn!(error = %e, "could not propose repossession tasks"),
    }
}

/// What the rules concluded, the latches they changed and how far each shard's stream was read,
/// waiting to be written together; and who waits for it.
#[derive(Default)]
struct Pending {
    outcomes: Vec<(Outcome, DateTime<Utc>)>,
    latches: std::collections::BTreeMap<i64, crate::watch::VehicleLatches>,
    progress: std::collections::BTreeMap<u16, u64>,
    waiting: Vec<oneshot::Sender<()>>,
}

impl Pending {
    /// Takes the outcomes in `out` (detected at `at`) and the latches they changed.
    fn add(&mut self, out: &mut Vec<Outcome>, watch: &mut Watch, at: DateTime<Utc>) {
        self.outcomes.extend(out.drain(..).map(|o| (o, at)));
        self.latches.extend(watch.take_changed());
    }

    /// Notes a batch's place in its shard's stream and who waits for it to be written.
    fn received(&mut self, progress: Option<(u16, u64)>, applied: Option<oneshot::Sender<()>>) {
        if let Some((shard, seq)) = progress {
            let at = self.progress.entry(shard).or_default();
            *at = (*at).max(seq);
        }
        self.waiting.extend(applied);
    }

    fn is_empty(&self) -> bool {
        self.outcomes.is_empty() && self.latches.is_empty() && self.progress.is_empty() && self.waiting.is_empty()
    }
}

/// Writes outcomes and the latches behind them in one transaction; on failure keeps them for the next try. Command replies
/// and risk scores follow the commit, and their failures are only logged: what committed is never
/// applied twice.
async fn apply(pool: &PgPool, watch: &Watch, pending: &mut Pending) {
    if pending.is_empty() {
        return;
    }
    let result = async {
        let mut tx = pool.begin().await?;
        for (outcome, detected_at) in pending.outcomes.iter() {
            match outcome {
                Outcome::Raise(finding) => {
                    let Some(vehicle) = watch.vehicle(finding.vehicle_id) else { continue };
                    let owner = Owner {
                        region_id: vehicle.region_id,
                        contract_id: vehicle.payment.as_ref().map(|p| p.contract_id),
                    };
                    alerts::raise(&mut tx, finding, owner, *detected_at).await?;
                }
                Outcome::Clear { vehicle_id, rule, reason } => {
                    alerts::close(&mut tx, *vehicle_id, Some(*rule), reason, *detected_at).await?;
                }
                Outcome::CommandReply { .. } | Outcome::Stood { .. } => {}
            }
        }
        store::stood(&mut tx, pending.outcomes.iter().map(|(o, _)| o)).await?;
        store::save_latches(&mut tx, &pending.latches).await?;
        store::save_progress(&mut tx, &pending.progress).await?;
        tx.commit().await
    };
    if let Err(e) = result.await {
        let waiting = pending.outcomes.len();
        tracing::warn!(error = %e, pending = waiting, "could not write alerts; will retry");
        if waiting > PENDING_LIMIT {
            let excess = waiting - PENDING_LIMIT;
            tracing::error!(dropped = excess, "alert backlog full: oldest outcomes dropped");
            pending.outcomes.drain(..excess);
        }
        return;
    }
    pending.latches.clear();
    pending.progress.clear();
    for applied in pending.waiting.drain(..) {
        let _ = applied.send(());
    }
    let mut scored = Vec::new();
    for (outcome, _) in pending.outcomes.drain(..) {
        match outcome {
            Outcome::Raise(f) => {
                if let Some(p) = watch.vehicle(f.vehicle_id).and_then(|v| v.payment.as_ref()) {
                    scored.push(p.contract_id);
                }
            }
            Outcome::CommandReply { device_id, serial, text, at } => {
                if let Err(e) = commands::record_reply(pool, device_id, serial, &text, at).await {
                    tracing::warn!(device_id, error = %e, "command reply not recorded");
                }
            }
            Outcome::Clear { .. } | Outcome::Stood { .. } => {}
        }
    }
    scored.sort_unstable();
    scored.dedup();
    if !scored.is_empty()
        && let Err(e) = risk::recompute(pool, Some(&scored), Utc::now()).await
    {
        tracing::warn!(error = %e, "could not recompute risk scores");
    }
}
