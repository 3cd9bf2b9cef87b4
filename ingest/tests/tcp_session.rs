//! A device session over real TCP against real PostgreSQL: login, positions, resends,
//! acknowledgements only after commit, and the quarantine for unregistered devices.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::time::Duration;

use leasewatch_ingest::config::{IngestConfig, UnknownDevices};
use leasewatch_ingest::connection::Shared;
use leasewatch_ingest::devices::{NewDevice, Registry, import};
use leasewatch_ingest::listener::{ListenerContext, run};
use leasewatch_protocols::{DeviceId, Gt06, Position, gt06};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Starts a GT06 listener on a free port; returns its address and the shutdown switch.
async fn start(pool: &PgPool, unknown: UnknownDevices) -> (std::net::SocketAddr, watch::Sender<bool>) {
    let mut config = IngestConfig { unknown_devices: unknown, ..IngestConfig::default() };
    config.writer.spool_path =
        std::env::temp_dir().join(format!("leasewatch-tcp-{}-{}", std::process::id(), address_seed()));
    let (shared, _task) = Shared::start(config, pool);
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(run::<Gt06>(socket, ListenerContext::new(shared, shutdown, Duration::from_secs(1))));
    (address, stop)
}

/// A distinct name per test in this process.
fn address_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

async fn register(pool: &PgPool, imei: &str) {
    let row = NewDevice { imei: imei.into(), protocol: "gt06".into(), model: None, sim: None, kind: None };
    import(pool, &[row]).await.unwrap();
}

fn fix(second: i64) -> Position {
    Position {
        fix_time: chrono::DateTime::from_timestamp(1_767_225_600 + second, 0).unwrap(),
        latitude: 31.2304,
        longitude: 121.4737,
        speed_kmh: 42.0,
        course: 90.0,
        altitude: None,
        satellites: Some(9),
        valid: true,
        cell: None,
    }
}

/// A connection from device `imei` that has logged in (its login acknowledged).
async fn logged_in(address: std::net::SocketAddr, imei: &[u8]) -> TcpStream {
    let mut device = TcpStream::connect(address).await.unwrap();
    let mut frame = Vec::new();
    gt06::device::login(&DeviceId::new(imei).unwrap(), 1, &mut frame);
    device.write_all(&frame).await.unwrap();
    reply(&mut device).await;
    device
}

async fn reply(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = [0_u8; 10];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut buf)).await.unwrap().unwrap();
    buf.to_vec()
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn positions_are_acknowledged_after_commit_and_resends_are_stored_once(pool: PgPool) {
    register(&pool, "864717003283581").await;
    let (address, _stop) = start(&pool, UnknownDevices::Quarantine).await;
    let mut device = TcpStream::connect(address).await.unwrap();
    let imei = DeviceId::new(b"864717003283581").unwrap();
    let mut frame = Vec::new();
    gt06::device::login(&imei, 1, &mut frame);
    device.write_all(&frame).await.unwrap();
    assert_eq!(&reply(&mut device).await[..6], &[0x78, 0x78, 0x05, 0x01, 0x00, 0x01], "login acknowledged");
    for (serial, second) in [(2, 0), (3, 10), (4, 10)] {
        frame.clear();
        gt06::device::position(&fix(second), serial, &mut frame);
        device.write_all(&frame).await.unwrap();
        let ack = reply(&mut device).await;
        assert_eq!(&ack[3..6], &[0x12, 0, serial as u8], "acknowledged with the frame's serial");
        // The acknowledgement came after the commit: the row is already visible.
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM positions WHERE fix_time = $1")
            .bind(fix(second).fix_time)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, 1);
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(total, 2, "the resent fix is stored once");
    let logins: i64 =
        sqlx::query_scalar("SELECT count(*) FROM device_events WHERE kind = 'login'").fetch_one(&pool).await.unwrap();
    assert_eq!(logins, 1);
    let (lat, speed): (f64, f32) =
        sqlx::query_as("SELECT latitude, speed_kmh FROM device_state").fetch_one(&pool).await.unwrap();
    assert!((lat - 31.2304).abs() < 1e-6 && speed == 42.0);
}

/// A backlog of 300 frames (12 KB) in one write, then silence long enough for the connection to
/// give its grown buffer back, then more frames: each frame is acknowledged once and stored.
#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_backlog_upload_then_a_quiet_spell_loses_nothing(pool: PgPool) {
    register(&pool, "864717003283581").await;
    let (address, _stop) = start(&pool, UnknownDevices::Quarantine).await;
    let mut device = logged_in(address, b"864717003283581").await;
    let mut serial = 2_u16;
    for (burst, pause) in [(300, Duration::from_millis(2500)), (40, Duration::ZERO)] {
        let mut backlog = Vec::new();
        for _ in 0..burst {
            gt06::device::position(&fix(i64::from(serial)), serial, &mut backlog);
            serial += 1;
        }
        device.write_all(&backlog).await.unwrap();
        let mut acks = vec![0_u8; 10 * burst];
        tokio::time::timeout(Duration::from_secs(10), device.read_exact(&mut acks)).await.unwrap().unwrap();
        let first = serial - burst as u16;
        for (i, ack) in acks.chunks(10).enumerate() {
            assert_eq!(u16::from_be_bytes([ack[4], ack[5]]), first + i as u16, "acknowledged in order, once each");
        }
        tokio::time::sleep(pause).await;
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 340);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_session_start_and_end_are_online_and_offline_events(pool: PgPool) {
    register(&pool, "864717003283581").await;
    let (address, _stop) = start(&pool, UnknownDevices::Quarantine).await;
    let device = logged_in(address, b"864717003283581").await;
    drop(device);
    let mut kinds = Vec::new();
    for _ in 0..50 {
        kinds = sqlx::query_as::<_, (String, serde_json::Value)>(
            "SELECT kind, attributes FROM device_events ORDER BY time, kind",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        if kinds.iter().any(|(k, _)| k == "offline") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
    assert!(names.contains(&"online") && names.contains(&"login"), "{names:?}");
    let offline = kinds.iter().find(|(k, _)| k == "offline").expect("an offline event");
    assert_eq!(offline.1["reason"], "closed");
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn an_unregistered_device_lands_in_quarantine_never_in_positions(pool: PgPool) {
    let (address, _stop) = start(&pool, UnknownDevices::Quarantine).await;
    let mut device = TcpStream::connect(address).await.unwrap();
    let mut frame = Vec::new();
    gt06::device::login(&DeviceId::new(b"864717003283999").unwrap(), 1, &mut frame);
    gt06::device::position(&fix(0), 2, &mut frame);
    device.write_all(&frame).await.unwrap();
    reply(&mut device).await;
    reply(&mut device).await;
    let quarantined: Vec<(Option<String>, String)> =
        sqlx::query_as("SELECT imei, protocol FROM quarantine ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(quarantined, vec![(Some("864717003283999".into()), "gt06".into()); 2]);
    let positions: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(positions, 0);

    // Promoted: registered, and what it sent while unknown is replayed once.
    let (writer, _task) = leasewatch_ingest::writer::Writer::start(pool.clone(), Default::default());
    let registration = leasewatch_store::quarantine::Registration::default();
    let promoted =
        leasewatch_ingest::quarantine::promote(&pool, &writer, "864717003283999", &registration).await.unwrap();
    assert_eq!((promoted.frames, promoted.positions, promoted.events, promoted.undecodable), (2, 1, 1, 0));
    let (positions, left): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM positions), (SELECT count(*) FROM quarantine)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((positions, left), (1, 0));
    let again = leasewatch_ingest::quarantine::promote(&pool, &writer, "864717003283999", &registration).await;
    assert!(matches!(again, Err(leasewatch_ingest::quarantine::PromoteError::NotFound)));
}

/// A registered device's frame of a type no decoder reads (GT06 0x9B, here with a made-up
/// body) is acknowledged as the device expects and kept whole in the quarantine; a promotion
/// leaves it there while it still does not decode, and the next fix is stored as usual.
#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn an_unknown_frame_type_is_acknowledged_and_kept_raw(pool: PgPool) {
    register(&pool, "864717003283582").await;
    let (address, _stop) = start(&pool, UnknownDevices::Quarantine).await;
    let mut device = logged_in(address, b"864717003283582").await;
    // 78 78 | len | 9B | 03 41 42 | serial 00 07 | CRC | 0D 0A
    let mut unknown = vec![0x78, 0x78, 0x08, 0x9B, 0x03, 0x41, 0x42, 0x00, 0x07];
    let crc = leasewatch_protocols::checksum::crc_itu(&unknown[2..]);
    unknown.extend_from_slice(&crc.to_be_bytes());
    unknown.extend_from_slice(b"\r\n");
    device.write_all(&unknown).await.unwrap();
    let ack = reply(&mut device).await;
    assert_eq!(&ack[3..6], &[0x9B, 0x00, 0x07], "acknowledged with its type and serial");
    let kept: Vec<u8> = sqlx::query_scalar("SELECT frame FROM quarantine WHERE imei = '864717003283582'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kept, unknown);

    let (writer, _task) = leasewatch_ingest::writer::Writer::start(pool.clone(), Default::default());
    let registration = leasewatch_store::quarantine::Registration::default();
    let promoted =
        leasewatch_ingest::quarantine::promote(&pool, &writer, "864717003283582", &registration).await.unwrap();
    assert_eq!(promoted.undecodable, 1, "still unknown: kept for a later decoder");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM quarantine").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 1);

    let mut frame = Vec::new();
    gt06::device::position(&fix(0), 8, &mut frame);
    device.write_all(&frame).await.unwrap();
    reply(&mut device).await;
    let positions: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(positions, 1);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn with_the_reject_policy_an_unregistered_device_is_disconnected_unacknowledged(pool: PgPool) {
    let (address, _stop) = start(&pool, UnknownDevices::Reject).await;
    let mut device = TcpStream::connect(address).await.unwrap();
    let mut frame = Vec::new();
    gt06::device::login(&DeviceId::new(b"864717003283999").unwrap(), 1, &mut frame);
    device.write_all(&frame).await.unwrap();
    let mut buf = [0_u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), device.read(&mut buf)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "closed without a reply");
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn garbage_and_broken_frames_do_not_cost_the_good_frames_around_them(pool: PgPool) {
    register(&pool, "864717003283581").await;
    let (address, _stop) = start(&pool, UnknownDevices::Quarantine).await;
    let mut device = TcpStream::connect(address).await.unwrap();
    let mut stream = Vec::new();
    gt06::device::login(&DeviceId::new(b"864717003283581").unwrap(), 1, &mut stream);
    stream.extend_from_slice(b"\x00\xffgarbage\x78\x78\x05");
    gt06::device::position(&fix(0), 2, &mut stream);
    device.write_all(&stream).await.unwrap();
    reply(&mut device).await;
    reply(&mut device).await;
    let positions: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    assert_eq!(positions, 1);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn importing_the_same_devices_twice_changes_nothing(pool: PgPool) {
    let rows = leasewatch_ingest::devices::parse_csv(
        "imei,protocol,model,sim,kind\n864717003283581,gt06,GT06N,,wired\n013800138000,jt808,,,wireless\n".as_bytes(),
    )
    .unwrap();
    let first = import(&pool, &rows).await.unwrap();
    assert_eq!((first.inserted, first.updated, first.unchanged), (2, 0, 0));
    let again = import(&pool, &rows).await.unwrap();
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 2));
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn daily_partitions_take_over_their_rows_from_the_default_partition(pool: PgPool) {
    register(&pool, "864717003283581").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM devices").fetch_one(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO positions (device_id, fix_time, server_time, latitude, longitude, speed_kmh, course, valid)
         VALUES ($1, '2030-05-05 10:00:00+00', now(), 1, 1, 0, 0, true)",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2030, 5, 5).unwrap();
    let created = leasewatch_store::db::ensure_partitions(&pool, day, day).await.unwrap();
    assert_eq!(created, 2);
    let in_day: i64 = sqlx::query_scalar("SELECT count(*) FROM positions_20300505").fetch_one(&pool).await.unwrap();
    assert_eq!(in_day, 1);
    let dropped = leasewatch_store::db::drop_partitions(&pool, day + chrono::Duration::days(1)).await.unwrap();
    assert!(dropped >= 2);
    // Retention from the configuration keeps today's partitions.
    let today = chrono::Utc::now().date_naive();
    leasewatch_store::db::ensure_partitions(&pool, today, today).await.unwrap();
    leasewatch_store::db::apply_retention(&pool, 30, 7).await.unwrap();
    let name = format!("positions_{}", today.format("%Y%m%d"));
    let kept: bool =
        sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&name).fetch_one(&pool).await.unwrap();
    assert!(kept);
}

/// What an idle connection costs is mostly its task: the session's state machine is kept small
/// (rare, large steps such as a database lookup are boxed) so that 20,000 silent devices fit in
/// a few tens of megabytes.
#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_connection_task_is_small(pool: PgPool) {
    let (shared, _task) = Shared::start(IngestConfig::default(), &pool);
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(socket.local_addr().unwrap()).await.unwrap();
    let (_stop, shutdown) = watch::channel(false);
    let peer = client.local_addr().unwrap();
    let session = leasewatch_ingest::connection::serve::<Gt06, _>(client, peer, shared, shutdown);
    let size = std::mem::size_of_val(&session);
    eprintln!("connection task: {size} bytes; message {}", std::mem::size_of::<leasewatch_protocols::Message>());
    assert!(size <= 1280, "{size} bytes");
}

/// A fleet logging in at once after a restart is answered from memory, not one query per device.
#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn the_registry_holds_every_active_device_from_start_up(pool: PgPool) {
    register(&pool, "864717003283581").await;
    register(&pool, "864717003283582").await;
    let registry = Registry::new(pool.clone());
    assert_eq!(registry.preload().await.unwrap(), 2);
    pool.close().await;
    let id = DeviceId::new(b"864717003283582").unwrap();
    assert!(registry.lookup(&id).await.unwrap().is_some(), "answered without the database");
}
