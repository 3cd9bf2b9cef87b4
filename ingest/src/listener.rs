//! The accept loop of one protocol's TCP listener: connection caps, per-address caps, one task
//! per connection, and a drain on shutdown.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leasewatch_protocols::Protocol;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::connection::{Shared, serve};

/// Connections the kernel may hold for the accept loop. A fleet reconnecting after an outage
/// connects all at once; a short queue drops its SYNs and each device waits out retries of 1, 3,
/// 7 s... The kernel caps this at `net.core.somaxconn` (README: "Capacity and sizing").
pub const LISTEN_BACKLOG: u32 = 65_535;

/// Listens on `address` with [`LISTEN_BACKLOG`] (tokio's own `bind` asks for 1,024).
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Open connections per source address.
#[derive(Debug, Default)]
pub struct PerIp(Mutex<HashMap<IpAddr, usize>>);

impl PerIp {
    /// Counts a new connection from `ip`; `false` when it would exceed `max`.
    fn enter(&self, ip: IpAddr, max: usize) -> bool {
        let Ok(mut map) = self.0.lock() else { return false };
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn leave(&self, ip: IpAddr) {
        if let Ok(mut map) = self.0.lock()
            && let Some(n) = map.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}

/// What every listener of the daemon shares.
#[derive(Debug, Clone)]
pub struct ListenerContext {
    /// Settings, registry and writer.
    pub shared: Arc<Shared>,
    /// Permits for open connections over all listeners.
    pub connections: Arc<Semaphore>,
    /// Open connections per source address over all listeners.
    pub per_ip: Arc<PerIp>,
    /// Turns true when the daemon shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// How long open connections get to finish on shutdown.
    pub drain: Duration,
}

impl ListenerContext {
    /// The context for listeners serving `shared`, with its connection limits, until `shutdown`.
    pub fn new(shared: Arc<Shared>, shutdown: watch::Receiver<bool>, drain: Duration) -> Self {
        let connections = Arc::new(Semaphore::new(shared.config.limits.max_connections));
        Self { shared, connections, per_ip: Arc::new(PerIp::default()), shutdown, drain }
    }
}

/// Accepts device connections on `listener` until shutdown is signalled, then waits up to
/// `drain` for open connections to finish the frame they are on.
pub async fn run<P: Protocol + 'static>(listener: TcpListener, ctx: ListenerContext) {
    let ListenerContext { shared, connections, per_ip, mut shutdown, drain } = ctx;
    let mut tasks = JoinSet::new();
    let max_per_ip = shared.config.limits.max_per_ip;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        while tasks.try_join_next().is_some() {}
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached: refused");
            crate::metrics::connection_refused("total");
            continue;
        };
        if !per_ip.enter(peer.ip(), max_per_ip) {
            tracing::warn!(%peer, "per-address connection limit reached: refused");
            crate::metrics::connection_refused("per_ip");
            continue;
        }
        let _ = socket.set_nodelay(true);
        let (shared, per_ip, shutdown) = (shared.clone(), per_ip.clone(), shutdown.clone());
        tasks.spawn(async move {
            let closed = serve::<P, _>(socket, peer, shared, shutdown).await;
            tracing::debug!(%peer, protocol = %P::KIND, ?closed, "connection closed");
            per_ip.leave(peer.ip());
            drop(permit);
        });
    }
    let _ = tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
}
