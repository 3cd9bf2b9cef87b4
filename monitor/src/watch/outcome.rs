//! What the rules conclude — raise or update an alert, clear one, a command's reply — and the
//! context that turns a finding into an alert with the payment status weighed in.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::state::{Install, LastFix, Vehicle};
use crate::rules::{Rule, Severity};

/// Raise or update an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The vehicle.
    pub vehicle_id: i64,
    /// The device that showed it.
    pub device_id: Option<i64>,
    /// The rule.
    pub rule: Rule,
    /// How urgent, payment status included.
    pub severity: Severity,
    /// One line for lists.
    pub title: String,
    /// When it happened (device time where there is one).
    pub at: DateTime<Utc>,
    /// Where.
    pub location: Option<(f64, f64)>,
    /// The positions, events and payment status that show it.
    pub evidence: Value,
    /// Raised or escalated because the contract is overdue.
    pub collection: bool,
}

/// What the rules concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Raise an alert, or update the open one of its vehicle and rule.
    Raise(Finding),
    /// The condition ended: resolve the open alert of this vehicle and rule.
    Clear {
        /// The vehicle.
        vehicle_id: i64,
        /// The rule.
        rule: Rule,
        /// Why.
        reason: String,
    },
    /// The vehicle stood still in a place at night or in the day: the place counts one more day
    /// towards its resident places (once a day).
    Stood {
        /// The vehicle.
        vehicle_id: i64,
        /// `night` (22:00–06:00 local) or `day` (09:00–17:00).
        kind: &'static str,
        /// The place's ~100 m cell (three decimals).
        latitude: f64,
        /// Its longitude.
        longitude: f64,
        /// The local day.
        day: NaiveDate,
    },
    /// A command reply arrived.
    CommandReply {
        /// The device.
        device_id: i64,
        /// The serial or flag echoed.
        serial: Option<i64>,
        /// What the device said.
        text: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Who an outcome is about.
pub(super) struct Ctx<'a> {
    pub(super) vehicle: &'a Vehicle,
    pub(super) install: Install,
    pub(super) device_id: i64,
}

impl Ctx<'_> {
    /// An alert with the payment status weighed in: an overdue contract raises device-integrity,
    /// place and movement rules one level (two from the repossession bucket) and marks them for
    /// collection, unless a promise to pay is holding.
    pub(super) fn raise(
        &self,
        rule: Rule,
        base: Severity,
        title: String,
        at: DateTime<Utc>,
        fix: Option<LastFix>,
        evidence: Value,
    ) -> Outcome {
        let mut severity = base;
        let mut collection = false;
        let payment = self.vehicle.payment.as_ref();
        if let Some(p) = payment.filter(|p| p.overdue() && rule.payment_aware()) {
            let held = p.promise_until.is_some_and(|d| d >= at.date_naive());
            if !held {
                collection = true;
                let steps = if p.bucket >= self.vehicle.rules.thresholds.repossession_bucket { 2 } else { 1 };
                severity = severity.raised(steps);
            }
        }
        let mut evidence = evidence;
        if let (Value::Object(map), Some(p)) = (&mut evidence, payment) {
            map.insert(
                "payment".into(),
                json!({"contract_id": p.contract_id, "number": p.number, "dpd": p.dpd, "bucket": p.bucket,
                       "promise_until": p.promise_until}),
            );
        }
        Outcome::Raise(Finding {
            vehicle_id: self.install.vehicle_id,
            device_id: Some(self.device_id),
            rule,
            severity,
            title,
            at,
            location: fix.map(|f| f.at()),
            evidence,
            collection,
        })
    }

    pub(super) fn clear(&self, rule: Rule, reason: &str) -> Outcome {
        Outcome::Clear { vehicle_id: self.install.vehicle_id, rule, reason: reason.to_owned() }
    }

    pub(super) fn enabled(&self, rule: Rule) -> bool {
        self.vehicle.rules.enabled(rule)
    }
}
