//! Scenario switches for the risk monitor: what a vehicle does, tick by tick, when its tracker
//! loses power, is tampered with, goes silent, leaves the province, dwells somewhere, or is towed.
//! Pure: a plan of steps that the driver sends over a real connection.

use leasewatch_protocols::{Alarm, Position, Status};

use crate::track::Track;

/// What happens to the simulated vehicle.
#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum Scenario {
    /// Ordinary driving.
    Normal,
    /// The wired tracker's power is cut: a power-cut alarm, then reports on battery.
    PowerCut,
    /// The tracker is pried off: a tamper alarm.
    Tamper,
    /// The tracker goes silent for a while, then reports again.
    Offline,
    /// The vehicle drives to the target point (another province) at highway speed.
    LeaveProvince,
    /// The vehicle drives to the target point and stays there, ignition off.
    Dwell,
    /// Ignition off, yet moving at 20 to 40 km/h: on a tow truck.
    Tow,
}

/// One thing the device sends, or a silence.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A position with the device's status.
    Fix(Position, Status),
    /// An alarm frame with a fix.
    Alarm(Position, Status, Alarm),
    /// The device sends nothing for this many seconds (the connection is closed).
    Silence(i64),
}

fn status(ignition: bool, power: f64) -> Status {
    Status {
        ignition: Some(ignition),
        power_voltage: Some(power),
        battery_percent: Some(90),
        odometer_m: None,
        gsm_signal: Some(4),
    }
}

/// The steps of `scenario` over `ticks` reporting intervals; `target` is the point of
/// `leave-province` and `dwell`, `silence_s` the length of `offline`.
pub fn plan(scenario: Scenario, track: &mut Track, ticks: usize, target: (f64, f64), silence_s: i64) -> Vec<Step> {
    let lead = (ticks / 4).max(1);
    let mut steps = Vec::with_capacity(ticks + 2);
    let driving = |track: &mut Track| {
        let p = track.next_fix();
        let on = p.speed_kmh > 0.0;
        Step::Fix(p, status(on, 12.6))
    };
    for tick in 0..ticks {
        let step = match scenario {
            Scenario::Normal => driving(track),
            Scenario::PowerCut if tick < lead => driving(track),
            Scenario::PowerCut if tick == lead => Step::Alarm(track.stay(), status(false, 0.0), Alarm::PowerCut),
            Scenario::PowerCut => Step::Fix(track.stay(), status(false, 0.0)),
            Scenario::Tamper if tick == lead => Step::Alarm(track.stay(), status(false, 12.6), Alarm::Tamper),
            Scenario::Tamper => driving(track),
            Scenario::Offline if tick == lead => {
                track.skip(silence_s);
                Step::Silence(silence_s)
            }
            Scenario::Offline => driving(track),
            Scenario::LeaveProvince => {
                let p = track.drive_towards(target.0, target.1, 110.0);
                let on = p.speed_kmh > 0.0;
                Step::Fix(p, status(on, 12.6))
            }
            Scenario::Dwell => {
                let there = track.location() == target;
                if there {
                    Step::Fix(track.stay(), status(false, 12.6))
                } else {
                    let p = track.drive_towards(target.0, target.1, 60.0);
                    Step::Fix(p, status(true, 12.6))
                }
            }
            Scenario::Tow if tick < lead => Step::Fix(track.stay(), status(false, 12.6)),
            Scenario::Tow => {
                let (lat, lon) = track.location();
                let p = track.drive_towards(lat + 1.0, lon, 30.0);
                Step::Fix(p, status(false, 12.6))
            }
        };
        steps.push(step);
    }
    steps
}

/// A well-behaved vehicle's days: parked at `home` overnight and at `work` in the day, reporting
/// every half hour while parked and every interval while driving between them at 40 km/h,
/// leaving home at 08:00 and work at 18:00 local time (`utc_offset_hours`), for `days` days.
pub fn routine(track: &mut Track, home: (f64, f64), work: (f64, f64), days: u32, utc_offset_hours: i64) -> Vec<Step> {
    use chrono::Timelike;
    const PARKED_REPORT_S: i64 = 1800;
    let parked = status(false, 12.6);
    let mut steps = Vec::new();
    let local_hour = |t: chrono::DateTime<chrono::Utc>| (t + chrono::Duration::hours(utc_offset_hours)).hour();
    let end = track.time() + chrono::Duration::days(i64::from(days));
    let mut at_home = track.location() == home;
    while track.time() < end {
        let hour = local_hour(track.time());
        let leave = if at_home { hour == 8 } else { hour == 18 };
        if !leave {
            steps.push(Step::Fix(track.stay_for(PARKED_REPORT_S), parked));
            continue;
        }
        let to = if at_home { work } else { home };
        while track.location() != to {
            let p = track.drive_towards(to.0, to.1, 40.0);
            steps.push(Step::Fix(p, status(true, 12.6)));
        }
        steps.push(Step::Fix(track.stay(), parked));
        at_home = !at_home;
    }
    steps
}

/// What a run sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Sent {
    /// Position frames acknowledged.
    pub fixes: u64,
    /// Alarm frames acknowledged.
    pub alarms: u64,
    /// Silences (connection closed, then reopened).
    pub silences: u64,
}

/// Sends `steps` as GT06 device `imei` to `target`, waiting for each acknowledgement. With
/// `realtime`, silences and intervals take their real time; otherwise the fix times carry the
/// scenario's clock and frames go as fast as they are acknowledged.
pub async fn run_gt06(
    target: std::net::SocketAddr,
    imei: &leasewatch_protocols::DeviceId,
    steps: &[Step],
    interval_s: u64,
    realtime: bool,
) -> std::io::Result<Sent> {
    use leasewatch_protocols::gt06::device;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn exchange(socket: &mut tokio::net::TcpStream, frame: &[u8]) -> std::io::Result<()> {
        socket.write_all(frame).await?;
        let mut ack = [0_u8; 64];
        match tokio::time::timeout(std::time::Duration::from_secs(10), socket.read(&mut ack)).await {
            Ok(Ok(n)) if n > 0 => Ok(()),
            Ok(Ok(_)) => Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "closed by the server")),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no acknowledgement")),
        }
    }
    async fn connect(
        target: std::net::SocketAddr,
        imei: &leasewatch_protocols::DeviceId,
        serial: &mut u16,
    ) -> std::io::Result<tokio::net::TcpStream> {
        let mut socket = tokio::net::TcpStream::connect(target).await?;
        let mut frame = Vec::new();
        *serial = serial.wrapping_add(1);
        device::login(imei, *serial, &mut frame);
        exchange(&mut socket, &frame).await?;
        Ok(socket)
    }

    let mut serial = 0_u16;
    let mut socket = connect(target, imei, &mut serial).await?;
    let mut sent = Sent::default();
    let mut frame = Vec::with_capacity(64);
    for step in steps {
        frame.clear();
        serial = serial.wrapping_add(1);
        match step {
            Step::Fix(p, status) => {
                device::position_22(p, status, serial, &mut frame);
                exchange(&mut socket, &frame).await?;
                sent.fixes += 1;
            }
            Step::Alarm(p, status, alarm) => {
                device::alarm(p, status, *alarm, serial, &mut frame);
                exchange(&mut socket, &frame).await?;
                sent.alarms += 1;
            }
            Step::Silence(seconds) => {
                drop(socket);
                if realtime {
                    tokio::time::sleep(std::time::Duration::from_secs(u64::try_from(*seconds).unwrap_or(0))).await;
                }
                socket = connect(target, imei, &mut serial).await?;
                sent.silences += 1;
                continue;
            }
        }
        if realtime {
            tokio::time::sleep(std::time::Duration::from_secs(interval_s)).await;
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn track() -> Track {
        Track::new(3, DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(), 22.54, 114.06, 10)
    }

    fn fixes(steps: &[Step]) -> Vec<(&Position, &Status)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Fix(p, st) | Step::Alarm(p, st, _) => Some((p, st)),
                Step::Silence(_) => None,
            })
            .collect()
    }

    #[test]
    fn power_cut_raises_the_alarm_once_then_reports_without_external_power() {
        let steps = plan(Scenario::PowerCut, &mut track(), 40, (0.0, 0.0), 0);
        let alarms: Vec<_> = steps.iter().filter(|s| matches!(s, Step::Alarm(_, _, Alarm::PowerCut))).collect();
        assert_eq!(alarms.len(), 1);
        assert!(fixes(&steps).last().is_some_and(|(_, st)| st.power_voltage == Some(0.0)));
    }

    #[test]
    fn offline_leaves_a_gap_in_fix_times() {
        let steps = plan(Scenario::Offline, &mut track(), 20, (0.0, 0.0), 3600);
        let times: Vec<_> = fixes(&steps).iter().map(|(p, _)| p.fix_time).collect();
        assert!(times.windows(2).any(|w| (w[1] - w[0]).num_seconds() > 3600));
        assert_eq!(steps.iter().filter(|s| matches!(s, Step::Silence(3600))).count(), 1);
    }

    #[test]
    fn dwell_ends_parked_at_the_point_with_ignition_off() {
        let target = (22.60, 114.10);
        let steps = plan(Scenario::Dwell, &mut track(), 400, target, 0);
        let (last, st) = *fixes(&steps).last().unwrap_or_else(|| unreachable!());
        assert_eq!((last.latitude, last.longitude, last.speed_kmh), (target.0, target.1, 0.0));
        assert_eq!(st.ignition, Some(false));
    }

    #[test]
    fn leaving_the_province_heads_for_the_target() {
        let target = (23.13, 113.26);
        let steps = plan(Scenario::LeaveProvince, &mut track(), 300, target, 0);
        let first = *fixes(&steps)[0].0;
        let last = fixes(&steps).last().map_or(first, |(p, _)| **p);
        let distance = |p: &Position| (p.latitude - target.0).hypot(p.longitude - target.1);
        assert!(distance(&last) < distance(&first) / 2.0);
    }

    #[test]
    fn a_routine_week_commutes_twice_a_day_and_parks_in_between() {
        let home = (23.10, 113.20);
        let work = (23.16, 113.30);
        let start = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(); // 00:00 UTC = 08:00 local
        let mut track = Track::new(5, start, home.0, home.1, 60);
        let steps = routine(&mut track, home, work, 7, 8);
        let fixes = fixes(&steps);
        let arrivals = fixes.windows(2).filter(|w| w[0].0.speed_kmh > 0.0 && w[1].0.speed_kmh == 0.0).count();
        assert_eq!(arrivals, 14);
        assert!(fixes.windows(2).all(|w| (w[1].0.fix_time - w[0].0.fix_time).num_seconds() <= 1800));
        assert!(fixes.iter().all(|(p, _)| p.speed_kmh <= 40.0));
    }

    #[test]
    fn towing_moves_with_the_ignition_off() {
        let steps = plan(Scenario::Tow, &mut track(), 40, (0.0, 0.0), 0);
        let towed: Vec<_> =
            fixes(&steps).into_iter().filter(|(p, st)| p.speed_kmh >= 20.0 && st.ignition == Some(false)).collect();
        assert!(towed.len() >= 20, "{}", towed.len());
    }
}
