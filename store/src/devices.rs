//! The device registry's one writer: trackers registered from the stock file or from a
//! quarantined IMEI, and installed in vehicles. Ingest, the back office and the demo call these.

use sqlx::PgConnection;

use crate::quarantine::Registration;

/// What registering a device from the stock file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// A new device.
    Inserted,
    /// Its protocol, model, SIM or kind changed.
    Updated,
    /// The registry matched already.
    Unchanged,
}

/// Registers `imei` with its protocol and particulars, or brings a registered one up to date;
/// registering the same particulars again changes nothing. Empty texts count as absent.
pub async fn register(
    db: &mut PgConnection,
    imei: &str,
    protocol: &str,
    registration: &Registration,
) -> Result<Registered, sqlx::Error> {
    let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let inserted: Option<bool> = sqlx::query_scalar(
        "INSERT INTO devices (imei, protocol, model, sim, kind) VALUES ($1, $2, $3, $4, COALESCE($5, 'wired'))
         ON CONFLICT (imei) DO UPDATE SET protocol = EXCLUDED.protocol, model = EXCLUDED.model,
             sim = EXCLUDED.sim, kind = EXCLUDED.kind
         WHERE (devices.protocol, devices.model, devices.sim, devices.kind)
             IS DISTINCT FROM (EXCLUDED.protocol, EXCLUDED.model, EXCLUDED.sim, EXCLUDED.kind)
         RETURNING (xmax = 0)",
    )
    .bind(imei)
    .bind(protocol)
    .bind(given(&registration.model))
    .bind(given(&registration.sim))
    .bind(given(&registration.kind))
    .fetch_optional(&mut *db)
    .await?;
    Ok(match inserted {
        Some(true) => Registered::Inserted,
        Some(false) => Registered::Updated,
        None => Registered::Unchanged,
    })
}

/// Registers a device first seen in the quarantine (or reactivates it) and returns its id.
pub async fn register_quarantined(
    db: &mut PgConnection,
    imei: &str,
    protocol: &str,
    registration: &Registration,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO devices (imei, protocol, model, sim, kind) VALUES ($1, $2, $3, $4, COALESCE($5, 'wired'))
         ON CONFLICT (imei) DO UPDATE SET status = 'active' RETURNING id",
    )
    .bind(imei)
    .bind(protocol)
    .bind(&registration.model)
    .bind(&registration.sim)
    .bind(&registration.kind)
    .fetch_one(db)
    .await
}

/// Installs the registered device `imei` in `vehicle_id`, moving it from any other. Returns the
/// vehicle it was in before (`Some(None)`: none), or `None` when no device has this IMEI.
pub async fn install(db: &mut PgConnection, imei: &str, vehicle_id: i64) -> Result<Option<Option<i64>>, sqlx::Error> {
    let previous: Option<Option<i64>> = sqlx::query_scalar("SELECT vehicle_id FROM devices WHERE imei = $1 FOR UPDATE")
        .bind(imei)
        .fetch_optional(&mut *db)
        .await?;
    if previous.is_some() {
        sqlx::query("UPDATE devices SET vehicle_id = $2 WHERE imei = $1")
            .bind(imei)
            .bind(vehicle_id)
            .execute(db)
            .await?;
    }
    Ok(previous)
}
