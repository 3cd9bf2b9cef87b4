//! The monitor task: one loop that owns the [`Watch`], fed with batches of committed rows. It
//! applies what the rules conclude to the database at once, ticks the time-based rules, reloads
//! contracts, thresholds and places from the database, proposes repossession tasks, closes
//! collection alerts of contracts brought current, and dispatches device commands.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{mpsc, watch};

use crate::alerts::{self, Owner};
use crate::commands::{self, Downlink};
use crate::observation::Observation;
use crate::places::Provinces;
use crate::watch::{Outcome, Watch};
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
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The rows.
    pub observations: Vec<Observation>,
    /// When the monitor learned they were committed.
    pub committed_at: DateTime<Utc>,
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
    mut input: mpsc::Receiver<Batch>,
    downlink: Option<Arc<dyn Downlink>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut watch = Watch::new(Arc::new(shipped_provinces()), utc_offset_hours);
    if let Err(e) = store::seed_rules(&pool).await {
        tracing::warn!(error = %e, "could not list the rules in the database");
    }
    if let Err(e) = store::refresh(&pool, &mut watch).await {
        tracing::warn!(error = %e, "could not load contracts and places; retrying at the next refresh");
    }
    match store::restore(&pool, &mut watch).await {
        Ok(devices) => tracing::info!(devices, "monitor state restored"),
        Err(e) => tracing::warn!(error = %e, "could not restore device state"),
    }
    match store::restore_latches(&pool, &mut watch, |_| true).await {
        Ok(vehicles) => tracing::info!(vehicles, "alerted conditions restored"),
        Err(e) => tracing::warn!(error = %e, "could not restore alerted conditions: those still holding alert again"),
    }
    // Daily work scans a day of positions or every contract: off the loop, so alerts never wait for it.
    let daily = tokio::spawn(daily(pool.clone(), utc_offset_hours));
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
                for obs in &batch.observations {
                    watch.observe(obs, &mut out);
                }
                pending.add(&mut out, &mut watch, batch.committed_at);
                apply(&pool, &watch, &mut pending).await;
            }
            _ = tick.tick() => {
                let now = Utc::now();
                watch.tick(now, &mut out);
                pending.add(&mut out, &mut watch, now);
                apply(&pool, &watch, &mut pending).await;
                if let Some(downlink) = &downlink
                    && let Err(e) = commands::dispatch(&pool, &watch, downlink.as_ref(), now).await {
                        tracing::warn!(error = %e, "command dispatch failed");
                    }
            }
            _ = refresh.tick() => reload(&pool, &mut watch, utc_offset_hours).await,
            _ = shutdown.changed() => break,
        }
    }
    apply(&pool, &watch, &mut pending).await;
    daily.abort();
}

/// Checked hourly: learns the resident places of each day gone by (a day is learned once),
/// rescores every active contract once a local day (payment status moves with the daily job), and
/// in the other hours scores the active contracts that have no score yet.
async fn daily(pool: PgPool, utc_offset_hours: i32) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    let mut scored_on = None;
    loop {
        hourly.tick().await;
        let now = Utc::now();
        match store::catch_up_resident_places(&pool, now, utc_offset_hours).await {
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

/// Reloads the books' view, closes collection alerts of contracts brought current, and proposes
/// repossessions.
async fn reload(pool: &PgPool, watch: &mut Watch, utc_offset_hours: i32) {
    if let Err(e) = store::refresh(pool, watch).await {
        tracing::warn!(error = %e, "could not reload contracts and places");
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

/// What the rules concluded and the latches they changed, waiting to be written together.
#[derive(Default)]
struct Pending {
    outcomes: Vec<(Outcome, DateTime<Utc>)>,
    latches: std::collections::BTreeMap<i64, crate::watch::VehicleLatches>,
}

impl Pending {
    /// Takes the outcomes in `out` (detected at `at`) and the latches they changed.
    fn add(&mut self, out: &mut Vec<Outcome>, watch: &mut Watch, at: DateTime<Utc>) {
        self.outcomes.extend(out.drain(..).map(|o| (o, at)));
        self.latches.extend(watch.take_changed());
    }
}

/// Writes outcomes and the latches behind them in one transaction; on failure keeps them for the next try. Command replies
/// and risk scores follow the commit, and their failures are only logged: what committed is never
/// applied twice.
async fn apply(pool: &PgPool, watch: &Watch, pending: &mut Pending) {
    if pending.outcomes.is_empty() && pending.latches.is_empty() {
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
                Outcome::CommandReply { .. } => {}
            }
        }
        store::save_latches(&mut tx, &pending.latches).await?;
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
            Outcome::Clear { .. } => {}
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
