//! Vehicle-level conditions already alerted, so that a condition that holds fires once; it notes
//! which vehicles' latches changed, for them to be persisted with the alerts.

use std::collections::HashSet;

use crate::rules::Rule;

/// The set of (vehicle, rule) latched, and the vehicles whose membership changed.
#[derive(Debug, Default)]
pub(super) struct Latched {
    set: HashSet<(i64, Rule)>,
    changed: HashSet<i64>,
}

impl Latched {
    /// Whether the rule is latched for the vehicle.
    pub(super) fn contains(&self, key: &(i64, Rule)) -> bool {
        self.set.contains(key)
    }

    /// Latches it; `true` when it was not.
    pub(super) fn insert(&mut self, key: (i64, Rule)) -> bool {
        let new = self.set.insert(key);
        if new {
            self.changed.insert(key.0);
        }
        new
    }

    /// Releases it; `true` when it was latched.
    pub(super) fn remove(&mut self, key: &(i64, Rule)) -> bool {
        let was = self.set.remove(key);
        if was {
            self.changed.insert(key.0);
        }
        was
    }

    /// The vehicle's latched rules.
    pub(super) fn rules_of(&self, vehicle_id: i64) -> impl Iterator<Item = Rule> + '_ {
        Rule::ALL.iter().copied().filter(move |r| self.set.contains(&(vehicle_id, *r)))
    }

    /// Replaces the vehicle's latched rules without marking it changed (a restore).
    pub(super) fn restore(&mut self, vehicle_id: i64, rules: impl IntoIterator<Item = Rule>) {
        self.set.retain(|(v, _)| *v != vehicle_id);
        self.set.extend(rules.into_iter().map(|r| (vehicle_id, r)));
    }

    /// The vehicles changed since the last call.
    pub(super) fn take_changed(&mut self) -> HashSet<i64> {
        std::mem::take(&mut self.changed)
    }
}
