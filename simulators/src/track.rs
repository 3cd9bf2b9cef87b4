//! A simulated vehicle's movement: drives along a wandering heading, stops at lights and for
//! parking, reports a fix at a fixed interval. Deterministic for a given seed.

use chrono::{DateTime, Duration, Utc};
use leasewatch_protocols::{CellInfo, Position};

/// Metres per degree of latitude.
const METRES_PER_DEGREE: f64 = 111_320.0;

/// A vehicle moving over time.
#[derive(Debug, Clone)]
pub struct Track {
    state: u64,
    time: DateTime<Utc>,
    latitude: f64,
    longitude: f64,
    heading: f64,
    speed_kmh: f64,
    stopped_for: u32,
    interval_s: i64,
}

impl Track {
    /// A vehicle starting at `latitude`/`longitude` at `start`, reporting every `interval_s` seconds.
    pub fn new(seed: u64, start: DateTime<Utc>, latitude: f64, longitude: f64, interval_s: i64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            time: start,
            latitude,
            longitude,
            heading: (seed % 360) as f64,
            speed_kmh: 0.0,
            stopped_for: 0,
            interval_s: interval_s.max(1),
        }
    }

    /// A number in 0..1 from a xorshift generator (no dependency, reproducible).
    fn random(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Where the vehicle is.
    pub fn location(&self) -> (f64, f64) {
        (self.latitude, self.longitude)
    }

    /// Advances one interval driving straight towards `latitude`/`longitude` at `speed_kmh`
    /// (stopping there), and returns the fix.
    pub fn drive_towards(&mut self, latitude: f64, longitude: f64, speed_kmh: f64) -> Position {
        self.time += Duration::seconds(self.interval_s);
        let north = (latitude - self.latitude) * METRES_PER_DEGREE;
        let east = (longitude - self.longitude) * METRES_PER_DEGREE * self.latitude.to_radians().cos().max(0.01);
        let remaining = north.hypot(east);
        let step = speed_kmh / 3.6 * self.interval_s as f64;
        if remaining <= step {
            self.latitude = latitude;
            self.longitude = longitude;
            self.speed_kmh = if remaining > 1.0 { speed_kmh } else { 0.0 };
        } else {
            self.latitude += north / remaining * step / METRES_PER_DEGREE;
            self.longitude +=
                east / remaining * step / (METRES_PER_DEGREE * self.latitude.to_radians().cos().max(0.01));
            self.speed_kmh = speed_kmh;
            self.heading = east.atan2(north).to_degrees().rem_euclid(360.0);
        }
        self.fix()
    }

    /// Advances one interval standing still, and returns the fix.
    pub fn stay(&mut self) -> Position {
        self.time += Duration::seconds(self.interval_s);
        self.speed_kmh = 0.0;
        self.fix()
    }

    /// Advances `seconds` standing still, and returns the fix (a parked device reporting slowly).
    pub fn stay_for(&mut self, seconds: i64) -> Position {
        self.time += Duration::seconds(seconds);
        self.speed_kmh = 0.0;
        self.fix()
    }

    /// The track's clock: the time of the last fix.
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }

    /// Advances the clock by `seconds` without a fix (the device was silent).
    pub fn skip(&mut self, seconds: i64) {
        self.time += Duration::seconds(seconds);
    }

    fn fix(&mut self) -> Position {
        Position {
            fix_time: self.time,
            latitude: self.latitude,
            longitude: self.longitude,
            speed_kmh: self.speed_kmh.round(),
            course: self.heading.round() % 360.0,
            altitude: Some(20.0 + (self.random() * 30.0).round()),
            satellites: Some(6 + (self.random() * 8.0) as u8),
            valid: true,
            cell: Some(CellInfo { mcc: 460, mnc: 0, lac: 0x2866, cell_id: 0x0E_EE0C }),
        }
    }

    /// Advances one reporting interval and returns the fix.
    pub fn next_fix(&mut self) -> Position {
        self.time += Duration::seconds(self.interval_s);
        if self.stopped_for > 0 {
            self.stopped_for -= 1;
            self.speed_kmh = 0.0;
        } else if self.random() < 0.02 {
            // A red light or a stop: 1 to 12 intervals.
            self.stopped_for = 1 + (self.random() * 12.0) as u32;
            self.speed_kmh = 0.0;
        } else {
            let target = 20.0 + self.random() * 80.0;
            self.speed_kmh = (self.speed_kmh + (target - self.speed_kmh) * 0.3).clamp(0.0, 120.0);
            self.heading = (self.heading + (self.random() - 0.5) * 30.0).rem_euclid(360.0);
            let metres = self.speed_kmh / 3.6 * self.interval_s as f64;
            let rad = self.heading.to_radians();
            self.latitude = (self.latitude + metres * rad.cos() / METRES_PER_DEGREE).clamp(-89.0, 89.0);
            let scale = METRES_PER_DEGREE * self.latitude.to_radians().cos().max(0.01);
            self.longitude = (self.longitude + metres * rad.sin() / scale + 540.0).rem_euclid(360.0) - 180.0;
        }
        self.fix()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_track_moves_forward_in_time_and_stays_on_the_globe() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let mut track = Track::new(7, start, 31.23, 121.47, 10);
        let fixes: Vec<_> = (0..10_000).map(|_| track.next_fix()).collect();
        assert!(fixes.windows(2).all(|w| w[1].fix_time > w[0].fix_time));
        assert!(fixes.iter().all(|p| p.latitude.abs() <= 90.0 && p.longitude.abs() <= 180.0));
        assert!(fixes.iter().any(|p| p.speed_kmh == 0.0) && fixes.iter().any(|p| p.speed_kmh > 30.0));
    }
}
