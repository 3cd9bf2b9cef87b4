//! Connecting to the engine and declaring the stream of committed rows.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::EngineConfig;

/// Why the engine could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No server could be reached.
    #[error("cannot reach the message engine at {url}: {why}")]
    Connect {
        /// The configured servers.
        url: String,
        /// Why.
        why: String,
    },
    /// The stream could not be declared.
    #[error("cannot declare the stream {stream}: {why}")]
    Stream {
        /// Its name.
        stream: String,
        /// Why.
        why: String,
    },
}

/// Connects to one of the engine's servers (the client moves to another when it goes) and declares the
/// stream of committed rows when it does not exist.
pub async fn connect(config: &EngineConfig) -> Result<jetstream::Context, EngineError> {
    let servers: Vec<&str> = config.url.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let connect_error = |why: String| EngineError::Connect { url: config.url.clone(), why };
    let addresses = servers
        .iter()
        .map(|s| s.parse::<async_nats::ServerAddr>().map_err(|e| connect_error(format!("{s}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(addresses)
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let js = jetstream::new(client);
    let declared = stream::Config {
        name: config.stream.clone(),
        subjects: vec![format!("{}.*", config.subject)],
        num_replicas: config.replicas.max(1),
        max_age: Duration::from_secs(config.retention_hours.max(1) * 3600),
        // A batch published again by another node after a crash is dropped within this window.
        duplicate_window: Duration::from_secs(600),
        storage: stream::StorageType::File,
        ..Default::default()
    };
    js.get_or_create_stream(declared)
        .await
        .map_err(|e| EngineError::Stream { stream: config.stream.clone(), why: e.to_string() })?;
    Ok(js)
}
