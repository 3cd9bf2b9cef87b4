//! The message channel reminders go out through: an adapter per SMS provider behind one trait,
//! and the simulator shipped for tests and the demo, which accepts every message, reports it
//! delivered, and fails numbers ending in 0000 (a number that no longer exists).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// What a provider said about a message it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// Delivered to the phone.
    Delivered,
    /// Not delivered, and why.
    Failed(String),
}

/// A future of the channel.
pub type ChannelFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// An SMS provider.
pub trait MessageChannel: Send + Sync {
    /// Hands `text` for `phone` to the provider; its id for the message.
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> ChannelFuture<'a, String>;
    /// The delivery receipts that arrived since last asked: (provider id, receipt).
    fn receipts(&self) -> ChannelFuture<'_, Vec<(String, Receipt)>>;
}

/// The simulator: every message sent is delivered, except to numbers ending in 0000.
#[derive(Debug, Default)]
pub struct Simulator {
    /// (provider id, phone, text) of every message, in order.
    sent: Mutex<Vec<(String, String, String)>>,
    /// Receipts not yet collected.
    pending: Mutex<Vec<(String, Receipt)>>,
}

impl Simulator {
    /// Every message sent so far: (provider id, phone, text).
    pub fn sent(&self) -> Vec<(String, String, String)> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl MessageChannel for Simulator {
    fn send<'a>(&'a self, phone: &'a str, text: &'a str) -> ChannelFuture<'a, String> {
        Box::pin(async move {
            let mut sent = self.sent.lock().map_err(|_| "simulator poisoned".to_owned())?;
            let id = format!("sim-{}", sent.len() + 1);
            sent.push((id.clone(), phone.to_owned(), text.to_owned()));
            let receipt = if phone.ends_with("0000") {
                Receipt::Failed("number does not exist".into())
            } else {
                Receipt::Delivered
            };
            self.pending.lock().map_err(|_| "simulator poisoned".to_owned())?.push((id.clone(), receipt));
            Ok(id)
        })
    }

    fn receipts(&self) -> ChannelFuture<'_, Vec<(String, Receipt)>> {
        Box::pin(
            async move { Ok(std::mem::take(&mut *self.pending.lock().map_err(|_| "simulator poisoned".to_owned())?)) },
        )
    }
}
