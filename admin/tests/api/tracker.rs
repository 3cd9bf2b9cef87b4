//! A GPS tracker on the wire: the GT06 listener with its writer on the test's database, and a
//! simulated device that logs in and reports one position over real TCP.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use leasewatch_ingest::config::IngestConfig;
use leasewatch_ingest::connection::Shared;
use leasewatch_ingest::listener::{ListenerContext, run};
use leasewatch_protocols::{DeviceId, Gt06, Position, Status, gt06};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The listener, running until dropped.
pub struct Ingest {
    /// Where trackers connect.
    pub address: SocketAddr,
    _stop: watch::Sender<bool>,
}

/// Starts the GT06 listener and its writer on `pool`.
pub async fn start(pool: &PgPool) -> Ingest {
    let mut config = IngestConfig::default();
    config.writer.spool_path = std::env::temp_dir().join(format!(
        "leasewatch-admin-test-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap()
    ));
    config.writer.flush_ms = 5;
    let (shared, _task) = Shared::start(config, pool);
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(run::<Gt06>(socket, ListenerContext::new(shared, shutdown, Duration::from_secs(1))));
    Ingest { address, _stop: stop }
}

/// The tracker `imei` logs in at `address` and reports where it is (Shenzhen, parked); each frame
/// acknowledged.
pub async fn report(address: SocketAddr, imei: &str) {
    let imei = DeviceId::new(imei.as_bytes()).unwrap();
    let mut socket = TcpStream::connect(address).await.unwrap();
    let mut frame = Vec::new();
    gt06::device::login(&imei, 1, &mut frame);
    socket.write_all(&frame).await.unwrap();
    acknowledged(&mut socket).await;
    let here = Position {
        fix_time: Utc::now(),
        latitude: 22.54,
        longitude: 114.06,
        speed_kmh: 0.0,
        course: 0.0,
        altitude: None,
        satellites: Some(9),
        valid: true,
        cell: None,
    };
    frame.clear();
    gt06::device::position_22(&here, &Status { ignition: Some(false), ..Status::default() }, 2, &mut frame);
    socket.write_all(&frame).await.unwrap();
    acknowledged(&mut socket).await;
}

async fn acknowledged(socket: &mut TcpStream) {
    let mut head = [0_u8; 3];
    tokio::time::timeout(Duration::from_secs(10), socket.read_exact(&mut head)).await.unwrap().unwrap();
    assert_eq!(&head[..2], &[0x78, 0x78], "a GT06 acknowledgement");
    let mut rest = vec![0_u8; usize::from(head[2]) + 2];
    socket.read_exact(&mut rest).await.unwrap();
}
