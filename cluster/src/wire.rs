//! Committed rows as the monitor reads them, and their encoding for the engine: one JSON array of
//! observations per shard a batch touches.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use leasewatch_monitor::observation::{Observation, Seen};
use leasewatch_protocols::{Alarm, AlarmSet, AttrValue, Position, Status};
use leasewatch_store::batch::{EventKind, Rows};
use leasewatch_store::outbox::{Encoder, Parcels};
use serde::{Deserialize, Serialize};

use crate::vehicles::Vehicles;

/// The monitor's view of committed rows.
pub fn observations(rows: &Rows) -> Vec<Observation> {
    let mut out = Vec::with_capacity(rows.positions.len() + rows.events.len());
    for p in &rows.positions {
        let Some(position) = p.message.position else { continue };
        let seen = Seen::Fix { position, status: p.message.status, alarms: p.message.alarms };
        out.push(Observation { device_id: p.device, server_time: p.server_time, seen });
    }
    for e in &rows.events {
        let seen = match e.kind {
            EventKind::Online => Seen::Online,
            EventKind::Offline => Seen::Offline,
            EventKind::CommandReply => {
                let attrs = &e.message.attributes;
                let serial = ["server_flag", "reply_serial"].iter().find_map(|k| match attrs.named(k) {
                    Some(AttrValue::Int(n)) => Some(*n),
                    _ => None,
                });
                let text = match (attrs.named("text"), attrs.named("result")) {
                    (Some(AttrValue::Text(t)), _) => t.clone(),
                    (_, Some(AttrValue::Int(code))) => format!("result {code}"),
                    _ => String::new(),
                };
                Seen::CommandReply { serial, text }
            }
            _ => Seen::Status { status: e.message.status, alarms: e.message.alarms },
        };
        out.push(Observation { device_id: e.device, server_time: e.server_time, seen });
    }
    out
}

/// The outbox encoder: a batch's observations grouped by the shard of their vehicle (of the device
/// when it is fitted to none), one parcel per shard.
pub fn encoder(vehicles: Vehicles, shards: u16) -> Encoder {
    std::sync::Arc::new(move |batch: &[&Rows]| {
        let mut by_shard: BTreeMap<u16, Vec<Wire>> = BTreeMap::new();
        for rows in batch {
            for obs in observations(rows) {
                let key = vehicles.vehicle_of(obs.device_id).unwrap_or(obs.device_id);
                by_shard.entry(leasewatch_store::shard::of(key, shards)).or_default().push(Wire::from(obs));
            }
        }
        let mut parcels = Parcels::default();
        for (shard, observations) in by_shard {
            match serde_json::to_vec(&observations) {
                Ok(payload) => parcels.push(shard, payload),
                Err(e) => tracing::error!(shard, error = %e, "observations not encoded"),
            }
        }
        parcels
    })
}

/// Reads one shard's parcel back.
pub fn decode(payload: &[u8]) -> Result<Vec<Observation>, serde_json::Error> {
    let wire: Vec<Wire> = serde_json::from_slice(payload)?;
    Ok(wire.into_iter().map(Observation::from).collect())
}

/// One observation on the wire.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    device: i64,
    server_time: DateTime<Utc>,
    seen: WireSeen,
}

/// What was seen, with what the rules read of it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireSeen {
    Fix {
        fix_time: DateTime<Utc>,
        latitude: f64,
        longitude: f64,
        speed_kmh: f64,
        course: f64,
        altitude: Option<f64>,
        satellites: Option<u8>,
        valid: bool,
        #[serde(flatten)]
        status: WireStatus,
    },
    Status {
        #[serde(flatten)]
        status: WireStatus,
    },
    Online,
    Offline,
    CommandReply {
        serial: Option<i64>,
        text: String,
    },
}

/// A device's status and alarms (bit `n`: `Alarm::ALL[n]`).
#[derive(Debug, Serialize, Deserialize)]
struct WireStatus {
    ignition: Option<bool>,
    power_voltage: Option<f64>,
    battery_percent: Option<u8>,
    odometer_m: Option<u64>,
    gsm_signal: Option<u8>,
    alarms: u32,
}

impl WireStatus {
    fn new(status: Status, alarms: AlarmSet) -> Self {
        Self {
            ignition: status.ignition,
            power_voltage: status.power_voltage,
            battery_percent: status.battery_percent,
            odometer_m: status.odometer_m,
            gsm_signal: status.gsm_signal,
            alarms: alarms.bits(),
        }
    }

    fn parts(&self) -> (Status, AlarmSet) {
        let status = Status {
            ignition: self.ignition,
            power_voltage: self.power_voltage,
            battery_percent: self.battery_percent,
            odometer_m: self.odometer_m,
            gsm_signal: self.gsm_signal,
        };
        let alarms = Alarm::ALL.iter().enumerate().filter(|(n, _)| self.alarms & (1 << n) != 0).map(|(_, a)| *a);
        (status, alarms.collect())
    }
}

impl From<Observation> for Wire {
    fn from(obs: Observation) -> Self {
        let seen = match obs.seen {
            Seen::Fix { position: p, status, alarms } => WireSeen::Fix {
                fix_time: p.fix_time,
                latitude: p.latitude,
                longitude: p.longitude,
                speed_kmh: p.speed_kmh,
                course: p.course,
                altitude: p.altitude,
                satellites: p.satellites,
                valid: p.valid,
                status: WireStatus::new(status, alarms),
            },
            Seen::Status { status, alarms } => WireSeen::Status { status: WireStatus::new(status, alarms) },
            Seen::Online => WireSeen::Online,
            Seen::Offline => WireSeen::Offline,
            Seen::CommandReply { serial, text } => WireSeen::CommandReply { serial, text },
        };
        Self { device: obs.device_id, server_time: obs.server_time, seen }
    }
}

impl From<Wire> for Observation {
    fn from(wire: Wire) -> Self {
        let seen = match wire.seen {
            WireSeen::Fix { fix_time, latitude, longitude, speed_kmh, course, altitude, satellites, valid, status } => {
                let (status, alarms) = status.parts();
                let position = Position {
                    fix_time,
                    latitude,
                    longitude,
                    speed_kmh,
                    course,
                    altitude,
                    satellites,
                    valid,
                    cell: None,
                };
                Seen::Fix { position, status, alarms }
            }
            WireSeen::Status { status } => {
                let (status, alarms) = status.parts();
                Seen::Status { status, alarms }
            }
            WireSeen::Online => Seen::Online,
            WireSeen::Offline => Seen::Offline,
            WireSeen::CommandReply { serial, text } => Seen::CommandReply { serial, text },
        };
        Observation { device_id: wire.device, server_time: wire.server_time, seen }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_read_back_as_the_monitor_saw_them_except_the_cell() {
        let time = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let position = Position {
            fix_time: time,
            latitude: 22.54,
            longitude: 114.06,
            speed_kmh: 31.5,
            course: 90.0,
            altitude: Some(12.0),
            satellites: Some(9),
            valid: true,
            cell: None,
        };
        let status =
            Status { ignition: Some(false), power_voltage: Some(0.0), battery_percent: Some(80), ..Status::default() };
        let alarms = AlarmSet::EMPTY.with(Alarm::PowerCut).with(Alarm::Tamper);
        let seen = [
            Seen::Fix { position, status, alarms },
            Seen::Status { status, alarms: AlarmSet::EMPTY },
            Seen::Online,
            Seen::Offline,
            Seen::CommandReply { serial: Some(7), text: "OK".to_owned() },
        ];
        let sent: Vec<Observation> =
            seen.into_iter().map(|seen| Observation { device_id: 42, server_time: time, seen }).collect();
        let wire: Vec<Wire> = sent.iter().cloned().map(Wire::from).collect();
        let payload = serde_json::to_vec(&wire).unwrap_or_default();
        assert_eq!(decode(&payload).ok(), Some(sent));
        assert!(decode(b"[{\"device\": 1}]").is_err());
    }
}
