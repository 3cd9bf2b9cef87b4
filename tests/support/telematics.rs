//! The daemon's telematics parts for end-to-end tests: the GT06 listener with the writer, and the
//! monitor with its command dispatcher over the live sessions, on the test's database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use leasewatch::monitor_link::{SessionDownlink, feed};
use leasewatch_ingest::config::IngestConfig;
use leasewatch_ingest::connection::Shared;
use leasewatch_ingest::listener::{ListenerContext, run};
use leasewatch_monitor::commands;
use leasewatch_monitor::engine::{self, MonitorConfig};
use leasewatch_protocols::Gt06;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// Ingest and the monitor, running until dropped.
pub struct Daemon {
    /// Where the GT06 listener accepts trackers.
    pub address: SocketAddr,
    _stop: watch::Sender<bool>,
}

/// Starts them on `pool`.
pub async fn start(pool: &PgPool) -> Daemon {
    start_with(pool, false).await
}

/// Starts them on `pool`; `apart`: as when the roles run in separate processes, the monitor sends
/// no command and ingest sends those of its connected devices.
pub async fn start_with(pool: &PgPool, apart: bool) -> Daemon {
    let mut config = IngestConfig::default();
    config.writer.spool_path = std::env::temp_dir().join(format!("leasewatch-test-{}-{}", std::process::id(), seed()));
    config.writer.flush_ms = 5;
    let (shared, _task) = Shared::start(config, pool);
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(run::<Gt06>(socket, ListenerContext::new(shared.clone(), shutdown.clone(), Duration::from_secs(1))));
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(feed(shared.writer.subscribe(), tx));
    let monitor = MonitorConfig { enabled: true, tick_ms: 100, refresh_secs: 1, publish_alerts: false };
    let downlink = Arc::new(SessionDownlink(shared));
    if apart {
        let every = Duration::from_millis(100);
        tokio::spawn(commands::dispatch_from_sessions(pool.clone(), downlink, every, shutdown.clone()));
        tokio::spawn(engine::run(pool.clone(), monitor, 8, rx, None, shutdown));
    } else {
        tokio::spawn(engine::run(pool.clone(), monitor, 8, rx, Some(downlink), shutdown));
    }
    Daemon { address, _stop: stop }
}

/// A number no other call in this process got (spool directories apart).
fn seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
