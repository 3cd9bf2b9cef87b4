//! Alert changes as they commit, for the SSE stream: one `LISTEN` connection per process,
//! started on first use, fanned out to every open stream through a broadcast channel. Alerts
//! are written by the monitor (or by an acknowledgement here) with `NOTIFY` in the same
//! transaction, so a listener hears of a change exactly when it becomes visible.

use std::sync::Arc;

use leasewatch_monitor::alerts::{CHANNEL, Notice};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{OnceCell, broadcast};

/// Notices buffered for slow streams; a stream further behind is told it missed some.
const BUFFER: usize = 4096;

/// The process's feed of alert changes.
#[derive(Clone, Default)]
pub struct AlertFeed {
    sender: Arc<OnceCell<broadcast::Sender<Arc<Notice>>>>,
}

impl AlertFeed {
    /// Subscribes, starting the listener on first use.
    pub async fn subscribe(&self, pool: &PgPool) -> Result<broadcast::Receiver<Arc<Notice>>, sqlx::Error> {
        let sender = self
            .sender
            .get_or_try_init(|| async {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                let (tx, _) = broadcast::channel(BUFFER);
                tokio::spawn(relay(listener, tx.clone(), pool.clone()));
                Ok::<_, sqlx::Error>(tx)
            })
            .await?;
        Ok(sender.subscribe())
    }
}

/// Forwards notifications until the pool closes (the listener holds one of its connections, so it
/// must let go for the close to finish); the listener reconnects by itself.
async fn relay(mut listener: PgListener, tx: broadcast::Sender<Arc<Notice>>, pool: PgPool) {
    let closing = pool.close_event();
    tokio::pin!(closing);
    loop {
        let received = tokio::select! {
            received = listener.recv() => received,
            _ = &mut closing => return,
        };
        match received {
            Ok(n) => match serde_json::from_str::<Notice>(n.payload()) {
                Ok(notice) => {
                    let _ = tx.send(Arc::new(notice));
                }
                Err(e) => tracing::warn!(error = %e, "unreadable alert notice"),
            },
            Err(e) => {
                tracing::warn!(error = %e, "alert listener lost its connection; reconnecting");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}
