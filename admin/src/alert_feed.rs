//! Alert changes as they commit, for the SSE streams (the API's and the console's): one `LISTEN` connection per process,
//! started on first use, fanned out to every open stream through a broadcast channel. Alerts
//! are written by the monitor (or by an acknowledgement here) with `NOTIFY` in the same
//! transaction, so a listener hears of a change exactly when it becomes visible.

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::Event;
use backoffice::risk::alerts;
use leasewatch_monitor::alerts::{CHANNEL, Notice};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OnceCell, broadcast};

use crate::error::ApiError;

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

/// The alert changes `region_path`'s readers see at severity rank `rank` or higher, as
/// Server-Sent Events, until the process shuts down: each event is named by the change and carries
/// the alert's id, vehicle, contract, rule, severity, status and title; a `lagged` event says how
/// many changes a slow reader missed; the stream ends when `shutdown` turns true. The API's
/// stream and the console's alert board both use it.
pub async fn events(
    feed: &AlertFeed,
    pool: &PgPool,
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
    region_path: &str,
    rank: i32,
) -> Result<impl futures_util::Stream<Item = Result<Event, Infallible>> + use<>, ApiError> {
    let receiver =
        feed.subscribe(pool).await.map_err(|e| ApiError::Unavailable(format!("the alert feed is unavailable: {e}")))?;
    let scope = region_path.to_owned();
    Ok(futures_util::stream::unfold((receiver, shutdown), move |(mut receiver, mut shutdown)| {
        let scope = scope.clone();
        async move {
            loop {
                let received = tokio::select! {
                    received = receiver.recv() => received,
                    () = stopping(&mut shutdown) => return None,
                };
                let event = match received {
                    Ok(notice) if alerts::notice_visible(&notice, &scope, rank) => notice_event(&notice),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => Event::default().event("lagged").data(missed.to_string()),
                    Err(RecvError::Closed) => return None,
                };
                return Some((Ok(event), (receiver, shutdown)));
            }
        }
    }))
}

/// Resolves when the process starts shutting down (never, without a signal).
async fn stopping(shutdown: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    match shutdown {
        Some(rx) => {
            let _ = rx.wait_for(|stop| *stop).await;
        }
        None => std::future::pending().await,
    }
}

fn notice_event(notice: &Arc<Notice>) -> Event {
    let data = json!({
        "id": notice.id, "vehicle_id": notice.vehicle_id, "contract_id": notice.contract_id,
        "region_id": notice.region_id, "rule": notice.rule, "severity": notice.severity, "status": notice.status,
        "title": notice.title, "collection": notice.collection, "detected_at": notice.detected_at,
    });
    Event::default().event(notice.action.as_str()).id(notice.id.to_string()).data(data.to_string())
}
