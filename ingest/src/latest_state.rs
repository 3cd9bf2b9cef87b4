//! The latest state of each device (`device_state`), written at most once per device per window.
//!
//! Positions are stored, and acknowledged, as they come; `device_state` is a read model of them
//! (the map, last seen, offline checks). Rewriting a device's row for every fix costs the database
//! as much as storing the fix, so a device reporting faster than the window has its later states
//! held and written once at the window's end, the newest only. A device reporting slower than the
//! window, as most trackers do, has every state written with its position. What a crash or an
//! outage loses is the held state of the last window: that device's row stays one window behind
//! its positions until its next report.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use leasewatch_store::batch::DeviceKey;
use tokio::time::Instant;

/// The latest state of one device, as `device_state` holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceState {
    /// The device.
    pub device: DeviceKey,
    /// When the fix was taken.
    pub fix_time: DateTime<Utc>,
    /// When it reached the server.
    pub server_time: DateTime<Utc>,
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// Speed in km/h.
    pub speed: f32,
    /// Heading in degrees.
    pub course: f32,
    /// Whether the receiver had a fix.
    pub valid: bool,
    /// Ignition, when the device says.
    pub ignition: Option<bool>,
    /// External power in volts, when the device says.
    pub power_voltage: Option<f32>,
    /// Battery in percent, when the device says.
    pub battery: Option<i16>,
    /// The alarm bits.
    pub alarms: i32,
}

/// Decides which states are written now and holds the rest until the window ends.
#[derive(Debug)]
pub struct StateThrottle {
    window: Duration,
    started: Instant,
    written: HashSet<DeviceKey>,
    held: HashMap<DeviceKey, DeviceState>,
}

impl StateThrottle {
    /// A throttle writing each device at most once per `window` (zero: every state at once).
    pub fn new(window: Duration, now: Instant) -> Self {
        Self { window, started: now, written: HashSet::new(), held: HashMap::new() }
    }

    /// The states to write now, sorted by device (so that concurrent transactions lock rows in the
    /// same order), given a batch's latest states: a device not yet written in this window is
    /// written; a device already written is held, its newest state kept. Once the window has
    /// ended, the held states are written and a new window begins.
    pub fn admit(&mut self, latest: Vec<DeviceState>, now: Instant) -> Vec<DeviceState> {
        if self.window.is_zero() {
            return sorted(latest);
        }
        let mut write = Vec::with_capacity(latest.len() + self.held.len());
        if now >= self.started + self.window {
            self.started = now;
            self.written.clear();
            for (device, state) in self.held.drain() {
                self.written.insert(device);
                write.push(state);
            }
        }
        for state in latest {
            if self.written.insert(state.device) {
                write.push(state);
            } else {
                match self.held.get_mut(&state.device) {
                    Some(held) if held.fix_time >= state.fix_time => {}
                    Some(held) => *held = state,
                    None => {
                        self.held.insert(state.device, state);
                    }
                }
            }
        }
        sorted(write)
    }

    /// When held states are due even if no position comes: the end of the window.
    pub fn due(&self) -> Option<Instant> {
        (!self.held.is_empty()).then(|| self.started + self.window)
    }

    /// The states to write when the writer is closing: `latest` and every held state.
    pub fn flush(&mut self, mut latest: Vec<DeviceState>) -> Vec<DeviceState> {
        latest.extend(self.held.drain().map(|(_, state)| state));
        sorted(latest)
    }
}

/// By device; of two states of one device, the newer.
fn sorted(mut states: Vec<DeviceState>) -> Vec<DeviceState> {
    states.sort_by(|a, b| a.device.cmp(&b.device).then(b.fix_time.cmp(&a.fix_time)));
    states.dedup_by_key(|s| s.device);
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(device: DeviceKey, second: i64) -> DeviceState {
        let at = DateTime::from_timestamp(1_767_225_600 + second, 0).unwrap_or_default();
        DeviceState {
            device,
            fix_time: at,
            server_time: at,
            latitude: 31.2,
            longitude: 121.5,
            speed: 0.0,
            course: 0.0,
            valid: true,
            ignition: None,
            power_voltage: None,
            battery: None,
            alarms: 0,
        }
    }

    fn devices_and_seconds(states: &[DeviceState]) -> Vec<(DeviceKey, i64)> {
        states.iter().map(|s| (s.device, s.fix_time.timestamp() - 1_767_225_600)).collect()
    }

    #[test]
    fn a_device_reporting_within_the_window_is_written_once_then_its_newest_at_the_end() {
        let start = Instant::now();
        let mut throttle = StateThrottle::new(Duration::from_secs(1), start);
        let first = throttle.admit(vec![state(2, 0), state(1, 0)], start);
        assert_eq!(devices_and_seconds(&first), [(1, 0), (2, 0)], "first states written at once, by device");
        assert!(throttle.due().is_none());
        let later = start + Duration::from_millis(300);
        assert!(throttle.admit(vec![state(1, 1)], later).is_empty(), "held within the window");
        assert!(throttle.admit(vec![state(1, 3), state(1, 2)], later).is_empty());
        assert_eq!(throttle.due(), Some(start + Duration::from_secs(1)));
        // At the window's end the newest held state goes out with the batch's new devices.
        let end = start + Duration::from_secs(1);
        let written = throttle.admit(vec![state(3, 4)], end);
        assert_eq!(devices_and_seconds(&written), [(1, 3), (3, 4)]);
        assert!(throttle.due().is_none());
    }

    #[test]
    fn an_older_state_never_replaces_a_held_newer_one() {
        let start = Instant::now();
        let mut throttle = StateThrottle::new(Duration::from_secs(1), start);
        throttle.admit(vec![state(1, 0)], start);
        throttle.admit(vec![state(1, 9)], start);
        throttle.admit(vec![state(1, 5)], start);
        assert_eq!(devices_and_seconds(&throttle.flush(vec![state(2, 1)])), [(1, 9), (2, 1)]);
        assert!(throttle.due().is_none());
    }

    #[test]
    fn a_zero_window_writes_every_state() {
        let start = Instant::now();
        let mut throttle = StateThrottle::new(Duration::ZERO, start);
        throttle.admit(vec![state(1, 0)], start);
        assert_eq!(devices_and_seconds(&throttle.admit(vec![state(1, 1)], start)), [(1, 1)]);
        assert!(throttle.due().is_none());
    }
}
