//! Which vehicle each device is fitted to, as the outbox encoder needs it to shard a batch: loaded
//! at start-up and refreshed, so a device fitted later moves to its vehicle's shard within a refresh.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::PgPool;

/// Devices and their vehicles, shared with the writer's thread.
#[derive(Debug, Clone, Default)]
pub struct Vehicles(Arc<RwLock<HashMap<i64, i64>>>);

impl Vehicles {
    /// The device's vehicle, when it is fitted to one.
    pub fn vehicle_of(&self, device: i64) -> Option<i64> {
        self.0.read().ok().and_then(|map| map.get(&device).copied())
    }

    /// Reloads the map from the device registry.
    pub async fn load(&self, pool: &PgPool) -> Result<usize, sqlx::Error> {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, vehicle_id FROM devices WHERE vehicle_id IS NOT NULL").fetch_all(pool).await?;
        let count = rows.len();
        if let Ok(mut map) = self.0.write() {
            *map = rows.into_iter().collect();
        }
        Ok(count)
    }

    /// Reloads it every `every`, for ever.
    pub async fn refresh(self, pool: PgPool, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = self.load(&pool).await {
                tracing::warn!(error = %e, "could not reload which vehicle each device is fitted to");
            }
        }
    }
}
