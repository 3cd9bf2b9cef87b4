//! MQTT-native trackers (and phone apps): each simulated device is its own MQTT client and
//! publishes its fixes as the documented JSON on `devices/{imei}/telemetry` with QoS 1, counting
//! the broker's acknowledgements.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use leasewatch_protocols::{DeviceId, Position, ProtocolKind};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde::Serialize;

use crate::fleet::device_id;
use crate::track::Track;

/// The JSON one fix travels as.
pub fn telemetry(p: &Position, ignition: bool) -> serde_json::Value {
    serde_json::json!({
        "fix_time": p.fix_time.to_rfc3339(),
        "latitude": p.latitude,
        "longitude": p.longitude,
        "speed_kmh": p.speed_kmh,
        "course": p.course,
        "altitude": p.altitude,
        "satellites": p.satellites,
        "valid": p.valid,
        "ignition": ignition,
    })
}

/// What the run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Devices that connected.
    pub devices: usize,
    /// Fixes published.
    pub published: u64,
    /// Fixes the broker acknowledged (PUBACK).
    pub acked: u64,
    /// Seconds run.
    pub seconds: f64,
}

/// Runs `devices` MQTT devices against `host:port`, each publishing one fix every `interval`
/// for `duration`, starting fixes at `start`.
pub async fn run(
    host: &str,
    port: u16,
    devices: usize,
    interval: Duration,
    duration: Duration,
    start: DateTime<Utc>,
) -> Summary {
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..devices {
        let host = host.to_owned();
        tasks.spawn(async move { device(host, port, index, interval, duration, start).await });
    }
    let mut summary = Summary::default();
    while let Some(result) = tasks.join_next().await {
        if let Ok(Some((published, acked))) = result {
            summary.devices += 1;
            summary.published += published;
            summary.acked += acked;
        }
    }
    summary.seconds = began.elapsed().as_secs_f64();
    summary
}

/// One device: returns (published, acked), or `None` when it never connected.
async fn device(
    host: String,
    port: u16,
    index: usize,
    interval: Duration,
    duration: Duration,
    start: DateTime<Utc>,
) -> Option<(u64, u64)> {
    let id: DeviceId = device_id(ProtocolKind::Mqtt, index);
    let mut options = MqttOptions::new(format!("sim-{}", id.as_str()), host, port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = AsyncClient::new(options, 64);
    let mut track =
        Track::new(index as u64 + 1, start, 31.2304 + index as f64 * 0.001, 121.4737, interval.as_secs().max(1) as i64);
    let topic = format!("devices/{}/telemetry", id.as_str());
    let deadline = tokio::time::Instant::now() + duration;
    let mut tick = tokio::time::interval(interval);
    let (mut published, mut acked, mut connected) = (0_u64, 0_u64, false);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                let fix = track.next_fix();
                let body = telemetry(&fix, fix.speed_kmh > 0.0).to_string();
                if client.publish(topic.clone(), QoS::AtLeastOnce, false, body).await.is_ok() {
                    published += 1;
                }
            }
            event = events.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => connected = true,
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(_) if !connected => return None,
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            },
        }
    }
    // Let the last acknowledgements arrive.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while acked < published {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
    })
    .await;
    let _ = client.disconnect().await;
    Some((published, acked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_is_the_documented_json() {
        let start = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        let fix = Track::new(1, start, 31.0, 121.0, 10).next_fix();
        let json = telemetry(&fix, true);
        assert_eq!(json["fix_time"], "2026-01-01T00:00:10+00:00");
        assert_eq!(json["ignition"], true);
        for key in ["latitude", "longitude", "speed_kmh", "course", "valid"] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }
}
