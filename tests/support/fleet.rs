//! Test vehicles: financed, in the Guangdong branch, each with a contract and one wired GT06 tracker.

use leasewatch_protocols::DeviceId;
use sqlx::PgPool;

/// The Guangdong branch every test vehicle belongs to.
pub async fn guangdong(pool: &PgPool) -> i64 {
    // Tests create cars concurrently: the region is made once, whoever comes first.
    sqlx::query_scalar(
        "INSERT INTO regions (parent_id, code, name, level, adcode) VALUES (1, 'GD', 'Guangdong', 'province', '440000')
         ON CONFLICT (code) DO UPDATE SET code = EXCLUDED.code RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A test vehicle and what it is known by.
pub struct Car {
    /// The vehicle.
    pub vehicle: i64,
    /// Its contract.
    pub contract: i64,
    /// Its tracker.
    pub device: i64,
    /// The tracker's IMEI.
    pub imei: DeviceId,
}

/// A financed vehicle with one wired GT06 tracker, its contract `dpd` days past due.
pub async fn car(pool: &PgPool, n: usize, dpd: i32, bucket: i32) -> Car {
    let region = guangdong(pool).await;
    let vehicle: i64 =
        sqlx::query_scalar("INSERT INTO vehicles (vin, region_id, status) VALUES ($1, $2, 'financed') RETURNING id")
            .bind(format!("LSVTEST{n:010}"))
            .bind(region)
            .fetch_one(pool)
            .await
            .unwrap();
    let contract: i64 = sqlx::query_scalar(
        "INSERT INTO contracts (number, vehicle_id, region_id, terms, principal, start_date, dpd, bucket)
         VALUES ($1, $2, $3, '{}', 100000, CURRENT_DATE - 100, $4, $5) RETURNING id",
    )
    .bind(format!("C-{n}"))
    .bind(vehicle)
    .bind(region)
    .bind(dpd)
    .bind(bucket)
    .fetch_one(pool)
    .await
    .unwrap();
    let imei = leasewatch_simulators::fleet::device_id(leasewatch_protocols::ProtocolKind::Gt06, n);
    let device: i64 = sqlx::query_scalar(
        "INSERT INTO devices (imei, protocol, kind, vehicle_id) VALUES ($1, 'gt06', 'wired', $2) RETURNING id",
    )
    .bind(imei.as_str())
    .bind(vehicle)
    .fetch_one(pool)
    .await
    .unwrap();
    Car { vehicle, contract, device, imei }
}
