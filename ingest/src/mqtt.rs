//! MQTT ingestion: a persistent QoS 1 subscription whose messages are acknowledged to the broker
//! only once their rows are durable, so that a broker or daemon restart loses nothing.
//!
//! Topics:
//! - `devices/{imei}/telemetry`: JSON from MQTT-native trackers and phone apps:
//!   ```json
//!   {"fix_time": "2026-11-28T08:00:00Z", "latitude": 31.2304, "longitude": 121.4737,
//!    "speed_kmh": 42.5, "course": 90, "altitude": 12, "satellites": 9, "valid": true,
//!    "ignition": true, "power_voltage": 12.6, "battery": 87, "odometer_m": 123456,
//!    "alarms": ["power_cut"], "attributes": {"any": "value"}}
//!   ```
//!   `fix_time`, `latitude` and `longitude` are required; the rest is optional.
//! - `devices/{protocol}/{id}/up`: the exact bytes the device would send over TCP in that protocol
//!   (a bridge, as JT/T 808 MQTT gateways do); the reply is published to `devices/{protocol}/{id}/down`,
//!   and so are commands to the device, encoded in its protocol.
//!
//! The same identity rules, writer and de-duplication as TCP apply. A payload that cannot be read
//! is kept in the quarantine with the reason, never dropped silently.
//!
//! With `publish_positions`, every durable position is published (QoS 1) to
//! `leasewatch/v1/positions/{device}` as [`PublishedPosition`] JSON, `{device}` being the
//! registry's device id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use leasewatch_protocols::{
    Alarm, AttrValue, DeviceId, Gt06, H02, Jt808, Message, MessageKind, Position, Protocol, ProtocolKind, Session,
    Status, Teltonika,
};
use leasewatch_store::batch::{QuarantineRow, Rows};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use serde::Deserialize;
use tokio::sync::{Semaphore, watch};

use crate::connection::{Shared, add_rows};
use crate::sessions::Bridge;

/// The JSON telemetry schema.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    /// Fix time, RFC 3339.
    pub fix_time: DateTime<Utc>,
    /// WGS-84 latitude.
    pub latitude: f64,
    /// WGS-84 longitude.
    pub longitude: f64,
    /// Speed, km/h.
    #[serde(default)]
    pub speed_kmh: f64,
    /// Course, degrees.
    #[serde(default)]
    pub course: f64,
    /// Altitude, metres.
    pub altitude: Option<f64>,
    /// Satellites in use.
    pub satellites: Option<u8>,
    /// Whether the fix is valid (default true).
    #[serde(default = "valid_by_default")]
    pub valid: bool,
    /// Ignition on.
    pub ignition: Option<bool>,
    /// External power, volts.
    pub power_voltage: Option<f64>,
    /// Battery level, percent.
    pub battery: Option<u8>,
    /// Odometer, metres.
    pub odometer_m: Option<u64>,
    /// Alarm names, as `leasewatch decode` prints them.
    #[serde(default)]
    pub alarms: Vec<String>,
    /// Anything else.
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

fn valid_by_default() -> bool {
    true
}

/// Reads a telemetry payload into a message, or says what is wrong with it.
pub fn parse_telemetry(payload: &[u8]) -> Result<Message, String> {
    let t: Telemetry = serde_json::from_slice(payload).map_err(|e| format!("invalid telemetry JSON: {e}"))?;
    if !(-90.0..=90.0).contains(&t.latitude) || !(-180.0..=180.0).contains(&t.longitude) {
        return Err(format!("coordinates out of range: {}, {}", t.latitude, t.longitude));
    }
    if !t.speed_kmh.is_finite() || t.speed_kmh < 0.0 || !t.course.is_finite() {
        return Err(format!("invalid speed or course: {}, {}", t.speed_kmh, t.course));
    }
    if t.battery.is_some_and(|b| b > 100) {
        return Err("battery above 100 %".to_owned());
    }
    let mut msg = Message::new(ProtocolKind::Mqtt, MessageKind::Position);
    msg.position = Some(Position {
        fix_time: t.fix_time,
        latitude: t.latitude,
        longitude: t.longitude,
        speed_kmh: t.speed_kmh,
        course: t.course,
        altitude: t.altitude,
        satellites: t.satellites,
        valid: t.valid,
        cell: None,
    });
    msg.status = Status {
        ignition: t.ignition,
        power_voltage: t.power_voltage,
        battery_percent: t.battery,
        odometer_m: t.odometer_m,
        gsm_signal: None,
    };
    for name in &t.alarms {
        let alarm =
            Alarm::ALL.into_iter().find(|a| a.name() == name).ok_or_else(|| format!("unknown alarm {name:?}"))?;
        msg.alarms.insert(alarm);
    }
    if !t.attributes.is_empty() {
        // The schema leaves attribute names free: they are kept together as one JSON object.
        msg.attributes.set("mqtt", AttrValue::Text(serde_json::Value::Object(t.attributes).to_string()));
    }
    Ok(msg)
}

/// What a topic asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Topic {
    Telemetry(String),
    Bridge(ProtocolKind, String),
}

fn topic(name: &str) -> Option<Topic> {
    match name.split('/').collect::<Vec<_>>()[..] {
        ["devices", id, "telemetry"] => Some(Topic::Telemetry(id.to_owned())),
        ["devices", protocol, id, "up"] => {
            Some(Topic::Bridge(protocol.parse().ok().filter(|p| *p != ProtocolKind::Mqtt)?, id.to_owned()))
        }
        _ => None,
    }
}

/// Runs the subscriber until shutdown; reconnects to the broker on its own.
pub async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let config = shared.config.mqtt.clone();
    let mut options = MqttOptions::new(config.client_id.clone(), config.host.clone(), config.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(false);
    options.set_manual_acks(true);
    options.set_max_packet_size(64 * 1024, 64 * 1024);
    let (client, mut events) = AsyncClient::new(options, 1_000);
    let in_flight = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
    if config.publish_positions {
        tokio::spawn(publish_positions(shared.writer.subscribe(), client.clone()));
    }
    let mut sessions: HashMap<(ProtocolKind, String), Session> = HashMap::new();
    loop {
        let event = tokio::select! {
            event = events.poll() => event,
            _ = shutdown.changed() => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(host = %config.host, port = config.port, "MQTT connected");
                for filter in ["devices/+/telemetry", "devices/+/+/up"] {
                    if let Err(e) = client.subscribe(filter, QoS::AtLeastOnce).await {
                        tracing::warn!(error = %e, filter, "cannot subscribe");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                let work = prepare(&shared, &mut sessions, &publish);
                let (shared, client) = (shared.clone(), client.clone());
                tokio::spawn(async move {
                    complete(&shared, &client, &publish, work).await;
                    drop(permit);
                });
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "MQTT connection lost; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// A position as published for other consumers.
#[derive(Debug, Clone, serde::Serialize, Deserialize, PartialEq)]
pub struct PublishedPosition {
    /// The registry's device id.
    pub device: i64,
    /// The device's own id (IMEI, terminal id) when it sent one.
    pub imei: Option<String>,
    /// Fix time, UTC.
    pub fix_time: DateTime<Utc>,
    /// WGS-84 latitude.
    pub latitude: f64,
    /// WGS-84 longitude.
    pub longitude: f64,
    /// km/h.
    pub speed_kmh: f64,
    /// Degrees.
    pub course: f64,
    /// Whether the fix is valid.
    pub valid: bool,
    /// Ignition on.
    pub ignition: Option<bool>,
    /// Alarm names.
    pub alarms: Vec<String>,
}

/// Publishes every durable position until the writer stops.
async fn publish_positions(mut committed: tokio::sync::broadcast::Receiver<Arc<Rows>>, client: AsyncClient) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let rows = match committed.recv().await {
            Ok(rows) => rows,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(batches = n, "position publishing fell behind; skipped batches are in the database");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        for row in &rows.positions {
            let Some(p) = row.message.position else { continue };
            let published = PublishedPosition {
                device: row.device,
                imei: row.message.device_id.map(|d| d.to_string()),
                fix_time: p.fix_time,
                latitude: p.latitude,
                longitude: p.longitude,
                speed_kmh: p.speed_kmh,
                course: p.course,
                valid: p.valid,
                ignition: row.message.status.ignition,
                alarms: row.message.alarms.iter().map(|a| a.name().to_owned()).collect(),
            };
            let Ok(payload) = serde_json::to_vec(&published) else { continue };
            let topic = format!("leasewatch/v1/positions/{}", row.device);
            if client.publish(topic, QoS::AtLeastOnce, false, payload).await.is_err() {
                return;
            }
        }
    }
}

/// A decoded publish, waiting for its rows to be written.
#[derive(Debug)]
struct Work {
    protocol: &'static str,
    device_id: Option<DeviceId>,
    messages: Vec<Message>,
    /// Why the payload could not be read, if it could not.
    problem: Option<String>,
    /// Bytes to publish back to the device once durable (bridge replies).
    reply: Option<(String, Vec<u8>)>,
    /// The byte protocol and topic id of a bridged device (its commands go to its `down` topic).
    bridge: Option<(ProtocolKind, String)>,
}

/// Decodes a publish (synchronously, so that per-device bridge sessions see frames in order).
fn prepare(shared: &Shared, sessions: &mut HashMap<(ProtocolKind, String), Session>, publish: &Publish) -> Work {
    let mut work =
        Work { protocol: "mqtt", device_id: None, messages: Vec::new(), problem: None, reply: None, bridge: None };
    match topic(&publish.topic) {
        None => work.problem = Some(format!("unexpected topic {}", publish.topic)),
        Some(Topic::Telemetry(id)) => {
            work.device_id = DeviceId::new(id.as_bytes());
            match parse_telemetry(&publish.payload) {
                Ok(msg) => work.messages.push(msg),
                Err(problem) => work.problem = Some(problem),
            }
        }
        Some(Topic::Bridge(protocol, id)) => {
            work.protocol = protocol.name();
            let session = sessions.entry((protocol, id.clone())).or_insert_with(|| {
                let mut s = Session::default();
                s.config.max_frame_len = shared.config.limits.max_frame_len;
                s.device_id = DeviceId::new(id.as_bytes());
                s
            });
            let mut reply = Vec::new();
            let result = match protocol {
                ProtocolKind::Gt06 => bridge::<Gt06>(&publish.payload, session, &mut work.messages, &mut reply),
                ProtocolKind::Jt808 => bridge::<Jt808>(&publish.payload, session, &mut work.messages, &mut reply),
                ProtocolKind::Teltonika => {
                    bridge::<Teltonika>(&publish.payload, session, &mut work.messages, &mut reply)
                }
                ProtocolKind::H02 => bridge::<H02>(&publish.payload, session, &mut work.messages, &mut reply),
                ProtocolKind::Mqtt => Err("no byte protocol named mqtt".to_owned()),
            };
            work.device_id = session.device_id;
            work.bridge = Some((protocol, id.clone()));
            if let Err(problem) = result {
                work.problem = Some(problem);
            }
            if !reply.is_empty() {
                work.reply = Some((format!("devices/{}/{id}/down", protocol.name()), reply));
            }
        }
    }
    work
}

/// Decodes every frame of a bridged payload.
fn bridge<P: Protocol>(
    payload: &[u8],
    session: &mut Session,
    out: &mut Vec<Message>,
    reply: &mut Vec<u8>,
) -> Result<(), String> {
    let decoded = leasewatch_protocols::decode_all::<P>(payload, session, Utc::now());
    out.extend(decoded.messages);
    reply.extend(decoded.replies);
    if decoded.errors.is_empty() {
        Ok(())
    } else {
        Err(decoded.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
    }
}

/// Writes the rows, then acknowledges to the broker and publishes any reply.
async fn complete(shared: &Shared, client: &AsyncClient, publish: &Publish, work: Work) {
    let peer = format!("mqtt:{}", publish.topic);
    let mut rows = Rows::default();
    match add_rows(shared, &mut rows, work.protocol, work.device_id, &work.messages, &publish.payload, &peer).await {
        Ok(()) => {}
        Err(crate::connection::Refused::Unregistered) => {
            // The broker would redeliver an unacknowledged message forever: acknowledge, say so.
            tracing::warn!(topic = %publish.topic, "message from an unregistered device refused");
            let _ = client.ack(publish).await;
            return;
        }
        // Not acknowledged: the broker delivers it again after the next reconnection.
        Err(crate::connection::Refused::Lookup) => return,
    };
    if let Some(problem) = &work.problem {
        tracing::info!(topic = %publish.topic, %problem, "unreadable MQTT payload quarantined");
        rows.quarantine.push(QuarantineRow {
            protocol: work.protocol,
            imei: work.device_id.map(|d| d.to_string()),
            received_at: Utc::now(),
            peer,
            frame: publish.payload.to_vec(),
            decoded: serde_json::json!({ "error": problem }).to_string(),
        });
    }
    let registered = !rows.positions.is_empty() || !rows.events.is_empty();
    if write(shared, rows).await {
        let _ = client.ack(publish).await;
        if let Some((topic, bytes)) = work.reply {
            let _ = client.publish(topic, QoS::AtLeastOnce, false, bytes).await;
        }
        if let (true, Some((protocol, topic_id)), Some(id)) = (registered, work.bridge, work.device_id)
            && let Ok(Some(key)) = shared.registry.lookup(&id).await
        {
            let bridge = Bridge { client: client.clone(), protocol, topic_id, device_id: Some(id) };
            shared.sessions.register_bridge(key, bridge);
        }
    }
}

async fn write(shared: &Shared, rows: Rows) -> bool {
    match shared.writer.write(rows).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "MQTT rows not durable: not acknowledged, the broker will redeliver");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_with_only_the_required_fields_is_a_valid_fix() {
        let msg = parse_telemetry(br#"{"fix_time":"2026-11-28T08:00:00Z","latitude":31.2,"longitude":121.4}"#);
        let msg = msg.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(msg.position.map(|p| (p.latitude, p.valid)), Some((31.2, true)));
    }

    #[test]
    fn bad_telemetry_says_what_is_wrong() {
        let cases = [
            (&br#"{"latitude":1}"#[..], "missing field `fix_time`"),
            (br#"{"fix_time":"2026-11-28T08:00:00Z","latitude":95,"longitude":1}"#, "out of range"),
            (br#"{"fix_time":"2026-13-28T08:00:00Z","latitude":1,"longitude":1}"#, "invalid telemetry JSON"),
            (br#"{"fix_time":"2026-11-28T08:00:00Z","latitude":1,"longitude":1,"alarms":["meteor"]}"#, "unknown alarm"),
            (b"not json", "invalid telemetry JSON"),
        ];
        for (payload, expected) in cases {
            let err = parse_telemetry(payload).err().unwrap_or_default();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn topics_name_the_device_and_the_protocol() {
        assert_eq!(topic("devices/864717003283581/telemetry"), Some(Topic::Telemetry("864717003283581".into())));
        assert_eq!(
            topic("devices/jt808/013800138000/up"),
            Some(Topic::Bridge(ProtocolKind::Jt808, "013800138000".into()))
        );
        assert_eq!(topic("devices/tk103/1/up"), None);
        assert_eq!(topic("other"), None);
    }
}
