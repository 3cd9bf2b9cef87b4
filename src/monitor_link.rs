//! Wires the monitor to ingest in one process: committed rows from the writer's stream become
//! observations (as [`leasewatch_cluster::wire`] reads them), commands go out through ingest's live sessions, and alert changes go out to the
//! MQTT broker.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Utc;
use leasewatch_ingest::connection::Shared;
use leasewatch_ingest::sessions::SessionError;
use leasewatch_monitor::alerts::Notice;
use leasewatch_monitor::commands::{Downlink, SendError};
use leasewatch_monitor::engine::Batch;
use leasewatch_protocols::Command;
use leasewatch_store::batch::Rows;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

/// Forwards every committed batch to the monitor until either side closes.
pub async fn feed(mut committed: broadcast::Receiver<Arc<Rows>>, monitor: mpsc::Sender<Batch>) {
    loop {
        let rows = match committed.recv().await {
            Ok(rows) => rows,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the monitor fell behind the writer: batches skipped");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let observations = leasewatch_cluster::wire::observations(&rows);
        if observations.is_empty() {
            continue;
        }
        if monitor.send(Batch::local(observations, Utc::now())).await.is_err() {
            return;
        }
    }
}

/// Commands through ingest's open sessions.
pub struct SessionDownlink(pub Arc<Shared>);

impl Downlink for SessionDownlink {
    fn connected(&self, device_id: i64) -> bool {
        self.0.sessions.connected(device_id)
    }

    fn send<'a>(
        &'a self,
        device_id: i64,
        command: &'a Command,
    ) -> Pin<Box<dyn Future<Output = Result<u16, SendError>> + Send + 'a>> {
        Box::pin(async move {
            self.0.sessions.send(device_id, command.clone()).await.map_err(|e| match e {
                SessionError::NotConnected => SendError::NotConnected,
                SessionError::Failed(why) => SendError::Unsupported(why),
            })
        })
    }
}

/// Publishes every alert change to `leasewatch/v1/alerts/{region_id}` (QoS 1) until the feed ends.
pub async fn publish_alerts(mut notices: broadcast::Receiver<Arc<Notice>>, host: String, port: u16) {
    use rumqttc::{AsyncClient, MqttOptions, QoS};
    // A clean session: alerts missed while disconnected are in the API; two daemons must not share an id.
    let mut options = MqttOptions::new(format!("leasewatch-alerts-{}", std::process::id()), host, port);
    options.set_keep_alive(std::time::Duration::from_secs(30));
    let (client, mut events) = AsyncClient::new(options, 1_000);
    // The event loop drives the connection (and reconnects); publishing only queues.
    tokio::spawn(async move {
        loop {
            if let Err(e) = events.poll().await {
                tracing::warn!(error = %e, "MQTT (alerts) connection lost; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    });
    loop {
        let notice = match notices.recv().await {
            Ok(notice) => notice,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "alert changes not published to MQTT: the publisher fell behind");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let topic = format!("leasewatch/v1/alerts/{}", notice.region_id);
        let payload = serde_json::to_vec(notice.as_ref()).unwrap_or_default();
        if let Err(e) = client.publish(topic, QoS::AtLeastOnce, false, payload).await {
            tracing::warn!(error = %e, "alert change not published to MQTT");
        }
    }
}
