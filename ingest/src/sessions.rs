//! Where commands reach a device: the TCP connection it holds open, or, for a device bridged over
//! MQTT (`devices/{protocol}/{id}/up`), its `devices/{protocol}/{id}/down` topic. A connection
//! registers once its device is known and leaves when it closes; a command is handed to the
//! connection task, which encodes it in the device's protocol and writes it between frames. A
//! bridged device's commands are encoded here and published (QoS 1: the broker keeps them for a
//! device that is away).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::Utc;
use leasewatch_protocols::{
    Command, CommandError, DeviceId, Gt06, H02, Jt808, Outgoing, Protocol, ProtocolKind, Teltonika,
};
use leasewatch_store::batch::DeviceKey;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::{Notify, oneshot};

/// A command on its way to a connection, and where to say which serial it went out with.
#[derive(Debug)]
pub struct Outbound {
    /// The command.
    pub command: Command,
    /// The serial the frame carried, or why it could not be encoded or written.
    pub sent: oneshot::Sender<Result<u16, String>>,
}

/// Commands a connection holds at once; more are refused until it has written them.
const QUEUE: usize = 8;

/// A connection's inbox: a short queue and a wake-up. One small allocation per connection (a
/// channel would allocate a block of slots up front, over a kilobyte for every idle device).
#[derive(Debug, Default)]
pub struct Inbox {
    queue: Mutex<VecDeque<Outbound>>,
    ready: Notify,
    closed: AtomicBool,
}

impl Inbox {
    /// Queues `outbound` and wakes the connection; gives it back when the connection is gone or
    /// its queue is full.
    fn push(&self, outbound: Outbound) -> Result<(), Outbound> {
        if self.closed.load(Ordering::Acquire) {
            return Err(outbound);
        }
        match self.queue.lock() {
            Ok(mut queue) if queue.len() < QUEUE => queue.push_back(outbound),
            _ => return Err(outbound),
        }
        self.ready.notify_one();
        Ok(())
    }

    /// The next command, waiting for one.
    pub async fn recv(&self) -> Option<Outbound> {
        loop {
            let next = self.queue.lock().ok().and_then(|mut queue| queue.pop_front());
            if next.is_some() {
                return next;
            }
            self.ready.notified().await;
        }
    }
}

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
    Connection(u64, Arc<Inbox>),
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
    pub inbox: Arc<Inbox>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Commands sent from now on are refused at once instead of waiting for a dead connection.
        self.inbox.closed.store(true, Ordering::Release);
    }
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
        let inbox = Arc::new(Inbox::default());
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut open) = self.open.write() {
            open.insert(device, Route::Connection(number, inbox.clone()));
        }
        Registration { number, inbox }
    }

    /// Registers a device heard through the MQTT bridge, unless it holds a live TCP connection.
    pub fn register_bridge(&self, device: DeviceKey, bridge: Bridge) {
        if let Ok(mut open) = self.open.write() {
            let live =
                matches!(open.get(&device), Some(Route::Connection(_, inbox)) if !inbox.closed.load(Ordering::Acquire));
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
            Some(Route::Connection(_, inbox)) => !inbox.closed.load(Ordering::Acquire),
            Some(Route::Bridge(_)) => true,
            None => false,
        })
    }

    /// Sends `command` to `device`; returns the serial of the frame written.
    pub async fn send(&self, device: DeviceKey, command: Command) -> Result<u16, SessionError> {
        let route = self.open.read().ok().and_then(|open| match open.get(&device) {
            Some(Route::Connection(_, inbox)) => Some(Err(inbox.clone())),
            Some(Route::Bridge(b)) => Some(Ok(b.clone())),
            None => None,
        });
        match route.ok_or(SessionError::NotConnected)? {
            Err(inbox) => {
                let (sent, result) = oneshot::channel();
                if inbox.push(Outbound { command, sent }).is_err() {
                    return Err(if inbox.closed.load(Ordering::Acquire) {
                        SessionError::NotConnected
                    } else {
                        SessionError::Failed("the device has commands waiting: try again shortly".into())
                    });
                }
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
