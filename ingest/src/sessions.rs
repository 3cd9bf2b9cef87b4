//! Where commands reach a device: the TCP connection it holds open, or, for a device bridged over
//! MQTT (`devices/{protocol}/{id}/up`), its `devices/{protocol}/{id}/down` topic. A connection
//! registers once its device is known and leaves when it closes; a command is handed to the
//! connection task, which encodes it in the device's protocol and writes it between frames. A
//! bridged device's commands are encoded here and published (QoS 1: the broker keeps them for a
//! device that is away).

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use chrono::Utc;
use leasewatch_protocols::{
    Command, CommandError, DeviceId, Gt06, H02, Jt808, Outgoing, Protocol, ProtocolKind, Teltonika,
};
use leasewatch_store::batch::DeviceKey;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::{mpsc, oneshot};

/// A command on its way to a connection, and where to say which serial it went out with.
#[derive(Debug)]
pub struct Outbound {
    /// The command.
    pub command: Command,
    /// The serial the frame carried, or why it could not be encoded or written.
    pub sent: oneshot::Sender<Result<u16, String>>,
}

/// Commands a connection accepts at once; more wait for the next dispatch.
const QUEUE: usize = 8;

/// Why a command was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// No open connection for the device.
    #[error("the device is not connected")]
    NotConnected,
    /// The protocol cannot carry the command, or the socket failed.
    #[error("{0}")]
    Failed(String),
}

/// A device bridged over MQTT.
#[derive(Debug, Clone)]
pub struct Bridge {
    /// The ingest's MQTT client.
    pub client: AsyncClient,
    /// The device's byte protocol.
    pub protocol: ProtocolKind,
    /// The id in its topics.
    pub topic_id: String,
    /// The id it identifies itself with, for protocols that address commands.
    pub device_id: Option<DeviceId>,
}

#[derive(Debug)]
enum Route {
    Connection(u64, mpsc::Sender<Outbound>),
    Bridge(Bridge),
}

/// The reachable devices.
#[derive(Debug, Default)]
pub struct Sessions {
    open: RwLock<HashMap<DeviceKey, Route>>,
    next: AtomicU64,
    bridge_serial: AtomicU16,
}

/// A connection's registration: its number, and its inbox of commands.
#[derive(Debug)]
pub struct Registration {
    /// Tells this registration from a newer one of the same device.
    pub number: u64,
    /// Commands for the device.
    pub inbox: mpsc::Receiver<Outbound>,
}

/// Encodes `command` in `protocol`.
pub fn encode(
    protocol: ProtocolKind,
    command: &Command,
    ctx: Outgoing<'_>,
    out: &mut Vec<u8>,
) -> Result<(), CommandError> {
    match protocol {
        ProtocolKind::Gt06 => Gt06::encode_command(command, ctx, out),
        ProtocolKind::Jt808 => Jt808::encode_command(command, ctx, out),
        ProtocolKind::Teltonika => Teltonika::encode_command(command, ctx, out),
        ProtocolKind::H02 => H02::encode_command(command, ctx, out),
        ProtocolKind::Mqtt => Err(CommandError::OutOfRange("JSON telemetry devices take no byte commands".into())),
    }
}

impl Sessions {
    /// Registers a connection for `device`; it replaces an older route to the same device.
    pub fn register(&self, device: DeviceKey) -> Registration {
        let (tx, inbox) = mpsc::channel(QUEUE);
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut open) = self.open.write() {
            open.insert(device, Route::Connection(number, tx));
        }
        Registration { number, inbox }
    }

    /// Registers a device heard through the MQTT bridge, unless it holds a live TCP connection.
    pub fn register_bridge(&self, device: DeviceKey, bridge: Bridge) {
        if let Ok(mut open) = self.open.write() {
            let live = matches!(open.get(&device), Some(Route::Connection(_, tx)) if !tx.is_closed());
            if !live {
                open.insert(device, Route::Bridge(bridge));
            }
        }
    }

    /// Removes the registration of a closing connection, unless a newer route replaced it.
    pub fn leave(&self, device: DeviceKey, number: u64) {
        if let Ok(mut open) = self.open.write()
            && matches!(open.get(&device), Some(Route::Connection(n, _)) if *n == number)
        {
            open.remove(&device);
        }
    }

    /// Whether a command for `device` can go now (a bridged device's broker holds it if it is away).
    pub fn connected(&self, device: DeviceKey) -> bool {
        self.open.read().is_ok_and(|open| match open.get(&device) {
            Some(Route::Connection(_, tx)) => !tx.is_closed(),
            Some(Route::Bridge(_)) => true,
            None => false,
        })
    }

    /// Sends `command` to `device`; returns the serial of the frame written.
    pub async fn send(&self, device: DeviceKey, command: Command) -> Result<u16, SessionError> {
        let route = self.open.read().ok().and_then(|open| match open.get(&device) {
            Some(Route::Connection(_, tx)) => Some(Err(tx.clone())),
            Some(Route::Bridge(b)) => Some(Ok(b.clone())),
            None => None,
        });
        match route.ok_or(SessionError::NotConnected)? {
            Err(tx) => {
                let (sent, result) = oneshot::channel();
                tx.send(Outbound { command, sent }).await.map_err(|_| SessionError::NotConnected)?;
                result.await.map_err(|_| SessionError::NotConnected)?.map_err(SessionError::Failed)
            }
            Ok(bridge) => {
                let serial = self.bridge_serial.fetch_add(1, Ordering::Relaxed);
                let ctx = Outgoing { device_id: bridge.device_id.as_ref(), serial, now: Utc::now() };
                let mut frame = Vec::with_capacity(64);
                encode(bridge.protocol, &command, ctx, &mut frame).map_err(|e| SessionError::Failed(e.to_string()))?;
                let topic = format!("devices/{}/{}/down", bridge.protocol.name(), bridge.topic_id);
                bridge
                    .client
                    .publish(topic, QoS::AtLeastOnce, false, frame)
                    .await
                    .map_err(|e| SessionError::Failed(e.to_string()))?;
                Ok(serial)
            }
        }
    }
}
