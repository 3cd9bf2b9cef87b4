//! Live device sessions, so that commands reach a device through the connection it holds open.
//! A connection registers once its device is known and leaves when it closes; a command is handed
//! to the connection task, which encodes it in the device's protocol and writes it between frames.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use leasewatch_protocols::Command;
use tokio::sync::{mpsc, oneshot};

use crate::devices::DeviceKey;

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

/// The open sessions by device.
#[derive(Debug, Default)]
pub struct Sessions {
    open: RwLock<HashMap<DeviceKey, (u64, mpsc::Sender<Outbound>)>>,
    next: AtomicU64,
}

/// A connection's registration: its number, and its inbox of commands.
#[derive(Debug)]
pub struct Registration {
    /// Tells this registration from a newer one of the same device.
    pub number: u64,
    /// Commands for the device.
    pub inbox: mpsc::Receiver<Outbound>,
}

impl Sessions {
    /// Registers a connection for `device`; it replaces an older one of the same device.
    pub fn register(&self, device: DeviceKey) -> Registration {
        let (tx, inbox) = mpsc::channel(QUEUE);
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut open) = self.open.write() {
            open.insert(device, (number, tx));
        }
        Registration { number, inbox }
    }

    /// Removes the registration of a closing connection, unless a newer one replaced it.
    pub fn leave(&self, device: DeviceKey, number: u64) {
        if let Ok(mut open) = self.open.write() {
            if open.get(&device).is_some_and(|(n, _)| *n == number) {
                open.remove(&device);
            }
        }
    }

    /// Whether `device` has an open connection.
    pub fn connected(&self, device: DeviceKey) -> bool {
        self.open.read().is_ok_and(|open| open.get(&device).is_some_and(|(_, tx)| !tx.is_closed()))
    }

    /// Sends `command` to `device`; returns the serial of the frame written.
    pub async fn send(&self, device: DeviceKey, command: Command) -> Result<u16, SessionError> {
        let tx = self
            .open
            .read()
            .ok()
            .and_then(|open| open.get(&device).map(|(_, tx)| tx.clone()))
            .ok_or(SessionError::NotConnected)?;
        let (sent, result) = oneshot::channel();
        tx.send(Outbound { command, sent }).await.map_err(|_| SessionError::NotConnected)?;
        result.await.map_err(|_| SessionError::NotConnected)?.map_err(SessionError::Failed)
    }
}
