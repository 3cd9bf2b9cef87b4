//! `leasewatch run`: the daemon — the TCP listeners, the writer, the risk monitor, alert delivery,
//! the admin API and the operations HTTP endpoints, in one process or in the roles asked for
//! (`--roles`, with a message engine between them), until SIGTERM or SIGINT; then it stops
//! accepting, lets connections finish their frame, flushes, and exits.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use leasewatch_backoffice::postloan::reminders;
use leasewatch_backoffice::postloan::reminders::channel::MessageChannel;
use leasewatch_backoffice::system::crypto::Vault;
use leasewatch_ingest::connection::Shared;
use leasewatch_ingest::listener::{self, ListenerContext};
use leasewatch_ingest::quarantine::WriterPromoter;
use leasewatch_protocols::{Gt06, H02, Jt808, ProtocolKind, Teltonika};
use leasewatch_store::leader::{self, Duty};
use std::future::Future;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;

/// The parts a `leasewatch run` process plays; every one by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Role {
    /// Device listeners and the writer (and, with an engine, the outbox publisher).
    Ingest,
    /// The risk monitor (with an engine, the shards it leases).
    Monitor,
    /// The admin API and console, webhook and MQTT delivery of alert changes.
    Admin,
    /// The batch jobs, on one instance among those sharing the database.
    Jobs,
}

impl Role {
    /// Every role: one process does it all.
    pub const ALL: [Role; 4] = [Role::Ingest, Role::Monitor, Role::Admin, Role::Jobs];
}

/// Runs the daemon in the given roles.
pub async fn run(config: Config, roles: &[Role]) -> anyhow::Result<()> {
    let has = |role: Role| roles.contains(&role);
    let engine = config.engine.enabled();
    if has(Role::Monitor) && config.monitor.enabled && !has(Role::Ingest) && !engine {
        anyhow::bail!("the monitor role without the ingest role needs a message engine (engine.url)");
    }
    // Durations as histograms with buckets, which Prometheus can aggregate and compare across
    // instances (a summary's quantiles cannot be).
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".to_owned()),
            &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
        )
        .context("cannot set the metrics' buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let pool = leasewatch_store::db::connect(&config.database_url, config.database_pool).await?;
    leasewatch_store::db::migrate(&pool, config.ingest.partitions_ahead_days).await?;
    // Only ingest (publishing) and the monitor (consuming) talk to the engine.
    let js = if engine && (has(Role::Ingest) || has(Role::Monitor)) {
        let js = leasewatch_cluster::stream::connect(&config.engine).await?;
        tracing::info!(servers = %config.engine.url, stream = %config.engine.stream, shards = config.engine.shards, "message engine connected");
        Some(js)
    } else {
        None
    };
    let (stop, stopped) = watch::channel(false);
    let mut listeners = tokio::task::JoinSet::new();
    let mut mqtt = None;
    let mut publisher = None;
    let (shared, writer_task) = if has(Role::Ingest) {
        let (shared, writer_task) = start_ingest(&config, &pool, js.as_ref(), &stopped, &mut listeners).await?;
        mqtt = config
            .ingest
            .mqtt
            .enabled
            .then(|| tokio::spawn(leasewatch_ingest::mqtt::run(shared.clone(), stopped.clone())));
        if let Some(js) = &js {
            // The monitors run elsewhere: this node sends the commands of the devices connected to it.
            let downlink = Arc::new(leasewatch::monitor_link::SessionDownlink(shared.clone()));
            let every = Duration::from_millis(config.monitor.tick_ms.max(100));
            let dispatch =
                leasewatch_monitor::commands::dispatch_from_sessions(pool.clone(), downlink, every, stopped.clone());
            tokio::spawn(dispatch);
            let committed = shared.writer.subscribe();
            let task = leasewatch_cluster::publisher::run(
                pool.clone(),
                js.clone(),
                config.engine.clone(),
                committed,
                stopped.clone(),
            );
            publisher = Some(tokio::spawn(task));
        }
        (Some(shared), Some(writer_task))
    } else {
        (None, None)
    };
    let mut alert_feed = leasewatch_admin::alert_feed::AlertFeed::default();
    let channel = config.admin.message_channel().map_err(|e| anyhow::anyhow!(e))?;
    let admin_role = has(Role::Admin) && config.admin.enabled;
    if channel.is_none() && admin_role {
        tracing::warn!("no SMS gateway is configured (admin.sms_gateway): reminders are off");
    }
    let mut vault = None;
    let admin = if admin_role {
        let (router, state) = start_admin(&config, &pool, shared.as_ref(), channel.clone(), &stopped).await?;
        alert_feed = state.alert_feed.clone();
        vault = Some(state.vault.clone());
        Some(router)
    } else {
        None
    };
    if admin_role && config.monitor.publish_alerts && config.ingest.mqtt.enabled {
        match alert_feed.subscribe(&pool).await {
            Ok(notices) => {
                let (host, port) = (config.ingest.mqtt.host.clone(), config.ingest.mqtt.port);
                tokio::spawn(leasewatch::monitor_link::publish_alerts(notices, host, port));
            }
            Err(e) => tracing::warn!(error = %e, "alert changes will not be published to MQTT"),
        }
    }
    let http_listener = TcpListener::bind(config.http_bind)
        .await
        .with_context(|| format!("cannot serve HTTP on {}", config.http_bind))?;
    tracing::info!(address = %config.http_bind, admin = admin.is_some(), ?roles, "serving HTTP (/api/v1, /docs, /metrics, /healthz, /readyz)");
    let http = tokio::spawn(crate::http::serve(
        http_listener,
        metrics,
        config.metrics_token.clone(),
        pool.clone(),
        admin,
        stopped.clone(),
    ));
    let monitor = (has(Role::Monitor) && config.monitor.enabled)
        .then(|| start_monitor(&config, &pool, js, shared.as_ref(), &stopped));
    drop(shared);
    if has(Role::Jobs) && vault.is_none() && channel.is_some() {
        // The reminders open customers' sealed phone numbers: a jobs process apart loads the data key too.
        vault = Some(config.admin.vault().context("cannot load the data key")?);
    }
    let maintenance = has(Role::Jobs).then(|| {
        let reminders = vault.zip(channel);
        tokio::spawn(maintain(pool.clone(), config.ingest.clone(), config.utc_offset_hours, reminders))
    });
    shutdown_signal().await;
    tracing::info!("shutting down: no new connections, finishing open frames");
    let _ = stop.send(true);
    while listeners.join_next().await.is_some() {}
    if let Some(mqtt) = mqtt {
        let _ = mqtt.await;
    }
    match http.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server failed"),
        Err(e) => tracing::warn!(error = %e, "HTTP server task failed"),
        Ok(Ok(())) => {}
    }
    if let Some(maintenance) = maintenance {
        maintenance.abort();
    }
    if let Some(monitor) = monitor {
        monitor.await;
    }
    // Every connection is gone, so every writer handle is: the writer flushes what it holds and ends.
    if let Some(writer_task) = writer_task {
        writer_task.await.context("writer task failed")?;
    }
    // The writer's stream has closed: the publisher publishes what was committed last and ends.
    if let Some(publisher) = publisher {
        let _ = publisher.await;
    }
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The ingest role: the writer (leaving parcels in the outbox when there is an engine), the
/// device registry, and a listener per enabled protocol.
async fn start_ingest(
    config: &Config,
    pool: &sqlx::PgPool,
    js: Option<&leasewatch_cluster::Engine>,
    stopped: &watch::Receiver<bool>,
    listeners: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<(Arc<Shared>, tokio::task::JoinHandle<()>)> {
    let capacity = leasewatch_ingest::capacity::raise_and_measure(config.ingest.limits.max_connections);
    let mut ingest = config.ingest.clone();
    ingest.limits.max_connections = capacity.connections;
    tracing::info!(
        connections = capacity.connections,
        open_files = capacity.open_files,
        "accepting up to {} device connections; more are refused (open-file limit {})",
        capacity.connections,
        capacity.open_files
    );
    let encoder = match js {
        Some(_) => {
            let vehicles = leasewatch_cluster::vehicles::Vehicles::default();
            if let Err(e) = vehicles.load(pool).await {
                tracing::warn!(error = %e, "devices' vehicles not loaded: batches are sharded by device until the next refresh");
            }
            tokio::spawn(vehicles.clone().refresh(pool.clone(), Duration::from_secs(30)));
            Some(leasewatch_cluster::wire::encoder(vehicles, config.engine.shards))
        }
        None => None,
    };
    let (shared, writer_task) = Shared::start_with_outbox(ingest, pool, encoder);
    match shared.registry.preload().await {
        Ok(devices) => tracing::info!(devices, "device registry loaded"),
        // Not fatal: devices are then looked up as they log in.
        Err(e) => tracing::warn!(error = %e, "device registry not loaded"),
    }
    let ctx = ListenerContext::new(shared.clone(), stopped.clone(), Duration::from_secs(config.shutdown_drain_secs));
    for protocol in ProtocolKind::ALL {
        let Some(settings) = config.ingest.listeners.get(protocol).filter(|s| s.enabled) else { continue };
        let socket = listener::bind(settings.bind)
            .with_context(|| format!("cannot listen for {protocol} on {}", settings.bind))?;
        tracing::info!(%protocol, address = %settings.bind, "listening");
        let ctx = ctx.clone();
        match protocol {
            ProtocolKind::Gt06 => listeners.spawn(listener::run::<Gt06>(socket, ctx)),
            ProtocolKind::Jt808 => listeners.spawn(listener::run::<Jt808>(socket, ctx)),
            ProtocolKind::Teltonika => listeners.spawn(listener::run::<Teltonika>(socket, ctx)),
            ProtocolKind::H02 => listeners.spawn(listener::run::<H02>(socket, ctx)),
            ProtocolKind::Mqtt => continue,
        };
    }
    Ok((shared, writer_task))
}

/// The admin role: the API and console, and webhook delivery (secrets are sealed with the data key,
/// so deliveries run where it is loaded).
async fn start_admin(
    config: &Config,
    pool: &sqlx::PgPool,
    shared: Option<&Arc<Shared>>,
    channel: Option<Arc<dyn MessageChannel>>,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<(axum::Router, leasewatch_admin::AppState)> {
    leasewatch_backoffice::system::bootstrap::prepare(pool).await.context("cannot prepare the admin API")?;
    let vault = config.admin.vault().context("cannot load the data key")?;
    let indexed = leasewatch_backoffice::customers::customer::index_phones(pool, &vault)
        .await
        .map_err(|e| anyhow::anyhow!("cannot index customers' phones: {e}"))?;
    if indexed > 0 {
        tracing::info!(customers = indexed, "indexed customers' phones for search");
    }
    let partners =
        config.admin.partners(&format!("http://{}", local(config.http_bind))).map_err(|e| anyhow::anyhow!(e))?;
    let mut state = leasewatch_admin::AppState::new(pool.clone(), vault.clone(), config.admin.password_hash)
        .with_shutdown(stopped.clone())
        .with_utc_offset(config.utc_offset_hours)
        .with_letter_font(&config.admin.letter_font, config.admin.letter_font_index)
        .with_message_channel(channel)
        .with_partners(partners)
        .with_tile_url(config.admin.tile_url.clone())
        .map_err(|e| anyhow::anyhow!(e))?;
    // Quarantined devices are promoted through this process's writer, when it has one.
    if let Some(shared) = shared {
        state = state.with_promoter(Arc::new(WriterPromoter { pool: pool.clone(), writer: shared.writer.clone() }));
    }
    let open: leasewatch_monitor::webhooks::SecretOpener = Arc::new(move |sealed: &[u8]| vault.open(sealed).ok());
    tokio::spawn(leasewatch_monitor::webhooks::run(pool.clone(), open, stopped.clone()));
    let router = leasewatch_admin::router(state.clone()).context("cannot build the admin API")?;
    Ok((router, state))
}

/// The monitor role: fed by this process's writer, or, with an engine, by the shards it leases.
/// Without an engine, device commands go out through this process's sessions (with one, the
/// ingest nodes send them).
fn start_monitor(
    config: &Config,
    pool: &sqlx::PgPool,
    js: Option<leasewatch_cluster::Engine>,
    shared: Option<&Arc<Shared>>,
    stopped: &watch::Receiver<bool>,
) -> impl Future<Output = ()> + use<> {
    let (tx, rx) = tokio::sync::mpsc::channel(4096);
    let downlink = shared.filter(|_| js.is_none()).map(|shared| {
        Arc::new(leasewatch::monitor_link::SessionDownlink(shared.clone()))
            as Arc<dyn leasewatch_monitor::commands::Downlink>
    });
    let sharding = match (js, shared) {
        (Some(js), _) => {
            let (changes, changed) = tokio::sync::mpsc::channel(64);
            let instance = leasewatch_ingest::throughput::node_name();
            let shards = leasewatch_cluster::shards::run(
                pool.clone(),
                js,
                config.engine.clone(),
                instance,
                tx,
                changes,
                stopped.clone(),
            );
            tokio::spawn(shards);
            Some(leasewatch_monitor::engine::Sharding { shards: config.engine.shards, changes: changed })
        }
        (None, Some(shared)) => {
            tokio::spawn(leasewatch::monitor_link::feed(shared.writer.subscribe(), tx));
            None
        }
        (None, None) => None,
    };
    let task = tokio::spawn(leasewatch_monitor::engine::run_sharded(
        pool.clone(),
        config.monitor.clone(),
        config.utc_offset_hours,
        rx,
        downlink,
        sharding,
        stopped.clone(),
    ));
    async move {
        let _ = task.await;
    }
}

/// Upkeep, hourly and idempotent, on one instance of those sharing the database (the one that
/// leads the jobs; another takes over within `JOBS_LEAD_CHECK` when it dies): daily partitions
/// ahead of today, retention, daily distance and online time per device, the admin API's expired
/// sessions and idempotency keys, the books' daily job through yesterday, and the collection
/// distribution after it, and the SMS reminders.
async fn maintain(
    pool: sqlx::PgPool,
    config: leasewatch_ingest::config::IngestConfig,
    utc_offset_hours: i32,
    reminders: Option<(Vault, Arc<dyn MessageChannel>)>,
) {
    let jobs = || {
        let (pool, config, reminders) = (pool.clone(), config.clone(), reminders.clone());
        async move { run_jobs(&pool, &config, utc_offset_hours, reminders.as_ref()).await }
    };
    leader::lead(&pool, Duty::Jobs, Duration::from_secs(3600), JOBS_LEAD_CHECK, jobs).await;
}

/// How often an instance that does not lead the jobs tries to: the longest the jobs go unled
/// after their instance dies.
const JOBS_LEAD_CHECK: Duration = Duration::from_secs(10);

/// One round of the hourly jobs.
async fn run_jobs(
    pool: &sqlx::PgPool,
    config: &leasewatch_ingest::config::IngestConfig,
    utc_offset_hours: i32,
    reminders: Option<&(Vault, Arc<dyn MessageChannel>)>,
) {
    let today = Utc::now().date_naive();
    let last = today + chrono::Duration::days(config.partitions_ahead_days.into());
    if let Err(e) = leasewatch_store::db::ensure_partitions(pool, today, last).await {
        tracing::warn!(error = %e, "could not create partitions");
    }
    match leasewatch_store::db::apply_retention(pool, config.retention_days, config.compress_after_days).await {
        Ok(0) => {}
        Ok(dropped) => tracing::info!(dropped, "expired partitions dropped"),
        Err(e) => tracing::warn!(error = %e, "could not apply retention"),
    }
    // Yesterday too: late and backlogged fixes still arrive after midnight.
    if let Err(e) = leasewatch_store::db::refresh_daily(pool, today - chrono::Duration::days(1), today).await {
        tracing::warn!(error = %e, "could not refresh daily distance and online time");
    }
    if let Err(e) = leasewatch_backoffice::system::bootstrap::housekeeping(pool).await {
        tracing::warn!(error = %e, "could not expire sessions");
    }
    // The HTTP surface's own upkeep: replayable answers to `Idempotency-Key` are kept a day.
    if let Err(e) = leasewatch_admin::idempotency::expire(pool).await {
        tracing::warn!(error = %e, "could not expire idempotency keys");
    }
    let yesterday = crate::books::business_yesterday(utc_offset_hours);
    match leasewatch_backoffice::books::delinquency::run_through(pool, yesterday).await {
        Ok(days) if !days.is_empty() => tracing::info!(days = days.len(), through = %yesterday, "daily job done"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "the daily job failed; it will catch up at the next run"),
    }
    // Promises whose day has passed: kept or broken, once each.
    match pool.acquire().await {
        Ok(mut db) => match leasewatch_backoffice::books::events::mark_promises(&mut db, yesterday).await {
            Ok((0, 0)) => {}
            Ok((kept, broken)) => tracing::info!(kept, broken, "promises to pay marked"),
            Err(e) => tracing::warn!(error = %e, "could not mark promises to pay"),
        },
        Err(e) => tracing::warn!(error = %e, "could not mark promises to pay"),
    }
    // The morning distribution: what became overdue, or moved bucket, goes to its collectors.
    match leasewatch_backoffice::postloan::distribution::run(pool, Utc::now()).await {
        Ok(d) if d.assigned > 0 || d.released > 0 => {
            tracing::info!(
                assigned = d.assigned,
                unplaced = d.unplaced,
                released = d.released,
                "collections distributed"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "the collection distribution failed; it runs again within the hour"),
    }
    // Reminders and overdue notices: hourly, so the ones the contact hours held go when they open.
    if let Some((vault, channel)) = reminders {
        match reminders::job::run(pool, vault, channel.as_ref(), Utc::now(), utc_offset_hours).await {
            Ok(ran) if ran.sent + ran.failed + ran.receipts > 0 => {
                tracing::info!(
                    sent = ran.sent,
                    failed = ran.failed,
                    receipts = ran.receipts,
                    held = ran.held,
                    "reminders sent"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the reminders job failed; it runs again within the hour"),
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Where this process is reached from itself: `address`, the loopback for an unspecified one.
pub(crate) fn local(address: std::net::SocketAddr) -> std::net::SocketAddr {
    if address.ip().is_unspecified() { std::net::SocketAddr::from(([127, 0, 0, 1], address.port())) } else { address }
}
