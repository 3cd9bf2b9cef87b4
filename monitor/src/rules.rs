//! The rules the monitor evaluates, their thresholds, and how a threshold set at a narrower scope
//! (contract, product, region) overrides a wider one. Pure: the rows come from `monitor_rules`.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record.
    Info,
    /// Look when convenient.
    Low,
    /// Look today.
    Medium,
    /// Look now.
    High,
    /// Act now.
    Critical,
}

impl Severity {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Info, Self::Low, Self::Medium, Self::High, Self::Critical].into_iter().find(|s| s.name() == name)
    }

    /// `steps` levels higher, capped at critical.
    pub fn raised(self, steps: u8) -> Self {
        let mut s = self;
        for _ in 0..steps {
            s = match s {
                Self::Info => Self::Low,
                Self::Low => Self::Medium,
                Self::Medium => Self::High,
                Self::High | Self::Critical => Self::Critical,
            };
        }
        s
    }
}

macro_rules! rules {
    ($($variant:ident => $name:literal, $severity:ident, $integrity:literal, [$($param:literal),*], $doc:literal;)*) => {
        /// A rule of the monitor.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $(#[doc = $doc] $variant,)*
        }

        impl Rule {
            /// Every rule.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The stored name.
            pub fn name(self) -> &'static str {
                match self { $(Rule::$variant => $name,)* }
            }

            /// What the rule watches for.
            pub fn describe(self) -> &'static str {
                match self { $(Rule::$variant => $doc,)* }
            }

            /// The severity before payment status raises it.
            pub fn base_severity(self) -> Severity {
                match self { $(Rule::$variant => Severity::$severity,)* }
            }

            /// Whether an overdue contract raises this rule's severity (device integrity, leaving
            /// the places the vehicle belongs, risk locations).
            pub fn payment_aware(self) -> bool {
                match self { $(Rule::$variant => $integrity,)* }
            }

            /// The thresholds that belong to the rule (fields of [`Thresholds`]).
            pub fn params(self) -> &'static [&'static str] {
                match self { $(Rule::$variant => &[$($param),*],)* }
            }
        }
    };
}

rules! {
    Offline => "offline", Medium, true, ["offline_after_s"], "A device silent longer than the threshold while the contract is active";
    AllDevicesOffline => "all_devices_offline", High, true, ["offline_after_s"], "Every device of the vehicle silent";
    WiredSilent => "wired_silent", High, true, ["wired_silent_after_s"], "The wired device silent while the wireless one still reports";
    DevicesApart => "devices_apart", High, true, ["devices_apart_m"], "Wired and wireless devices reporting far apart (子母分离)";
    PowerCut => "power_cut", High, true, [], "External power cut";
    Tamper => "tamper", High, true, [], "Device removed, case opened or light sensor exposed";
    Jamming => "jamming", High, true, ["jamming_invalid_fixes"], "GNSS jamming: antenna alarm or a run of invalid fixes while driving";
    Geofence => "geofence", Medium, false, [], "Entered or left a geofence";
    LeftProvince => "left_province", Medium, true, [], "Outside the province of the contract";
    RiskLocationEntry => "risk_location_entry", Medium, true, [], "Entered a risk location (二押点)";
    RiskLocationDwell => "risk_location_dwell", High, true, ["dwell_after_s"], "Stayed at a risk location longer than the threshold";
    Stationary => "stationary", Low, false, ["stationary_after_s", "stationary_radius_m"], "Not moved for days";
    Tow => "tow", High, true, ["tow_speed_kmh", "tow_after_s"], "Moving with the ignition off (towed or carried)";
    Jump => "jump", High, true, ["jump_km"], "Reappeared far from where it went silent";
    Overspeed => "overspeed", Low, false, ["overspeed_kmh", "overspeed_after_s"], "Faster than the limit for a while";
    Gathering => "gathering", High, true, ["gathering_vehicles", "gathering_radius_m"], "Several financed vehicles parked together (异常聚集)";
    ResidentAway => "resident_away", Medium, true, ["away_nights", "away_radius_m", "resident_days"], "Stopped returning to its usual night parking places (常驻地)";
    ResidentMismatch => "resident_mismatch", Low, true, ["mismatch_km", "resident_days"], "Spends its nights far from the address on the application";
}

impl Rule {
    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.name() == name)
    }
}

/// Every threshold. A scope sets some; the rest come from wider scopes and then these defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Seconds of silence before a device counts as offline.
    pub offline_after_s: i64,
    /// Seconds the wired device may be silent while the wireless one reports.
    pub wired_silent_after_s: i64,
    /// Metres between the wired and wireless devices' fixes that count as apart.
    pub devices_apart_m: f64,
    /// Invalid fixes in a row, ignition on, that suggest jamming.
    pub jamming_invalid_fixes: u32,
    /// Seconds at a risk location before the dwell alert (escalating at each further multiple).
    pub dwell_after_s: i64,
    /// Seconds without leaving `stationary_radius_m` before the stationary alert.
    pub stationary_after_s: i64,
    /// Radius of "not moved".
    pub stationary_radius_m: f64,
    /// Speed with the ignition off that counts as towing.
    pub tow_speed_kmh: f64,
    /// Seconds of that before the tow alert.
    pub tow_after_s: i64,
    /// Distance between the last fix before a silence and the first after it that counts as a jump.
    pub jump_km: f64,
    /// Speed limit.
    pub overspeed_kmh: f64,
    /// Seconds above it before the alert.
    pub overspeed_after_s: i64,
    /// More than this many parked financed vehicles together is a gathering.
    pub gathering_vehicles: u32,
    /// Within this radius.
    pub gathering_radius_m: f64,
    /// Delinquency bucket (1 = M1) from which a located vehicle gets a repossession task.
    pub repossession_bucket: i32,
    /// Nights in a row parked away from every resident place before the alert.
    pub away_nights: u32,
    /// Farther than this from a resident place counts as away.
    pub away_radius_m: f64,
    /// Days seen parked at a place before it counts as a resident place.
    pub resident_days: i32,
    /// Every resident night place farther than this from the application address is a mismatch.
    pub mismatch_km: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            offline_after_s: 24 * 3600,
            wired_silent_after_s: 2 * 3600,
            devices_apart_m: 2_000.0,
            jamming_invalid_fixes: 20,
            dwell_after_s: 2 * 3600,
            stationary_after_s: 3 * 86_400,
            stationary_radius_m: 300.0,
            tow_speed_kmh: 20.0,
            tow_after_s: 120,
            jump_km: 50.0,
            overspeed_kmh: 130.0,
            overspeed_after_s: 60,
            gathering_vehicles: 5,
            gathering_radius_m: 200.0,
            repossession_bucket: 2,
            away_nights: 2,
            away_radius_m: 1_000.0,
            resident_days: 3,
            mismatch_km: 5.0,
        }
    }
}

/// Where a rule row applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every vehicle.
    Global,
    /// Vehicles of contracts in this region's subtree.
    Region(i64),
    /// Contracts on this product.
    Product(i64),
    /// One contract.
    Contract(i64),
}

impl Scope {
    /// From the stored `scope` and `scope_id`.
    pub fn parse(scope: &str, id: i64) -> Option<Self> {
        match scope {
            "global" => Some(Self::Global),
            "region" => Some(Self::Region(id)),
            "product" => Some(Self::Product(id)),
            "contract" => Some(Self::Contract(id)),
            _ => None,
        }
    }
}

/// The rule settings in force at one scope (the latest version).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSetting {
    /// The rule.
    pub rule: Rule,
    /// Where.
    pub scope: Scope,
    /// Whether the rule runs there.
    pub enabled: bool,
    /// The thresholds it sets.
    pub params: Map<String, Value>,
}

/// Why a rule setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// A parameter that does not belong to the rule.
    #[error("`{param}` is not a threshold of {rule}; it has {allowed}")]
    UnknownParam {
        /// The rule.
        rule: &'static str,
        /// The parameter.
        param: String,
        /// What it has.
        allowed: String,
    },
    /// A value of the wrong type or out of range.
    #[error("`{0}`: {1}")]
    BadValue(String, String),
}

/// Checks `params` for `rule`: only its thresholds, each of the right type and positive.
pub fn validate(rule: Rule, params: &Map<String, Value>) -> Result<(), SettingError> {
    for (key, value) in params {
        if !rule.params().contains(&key.as_str()) {
            let allowed = if rule.params().is_empty() { "none".to_owned() } else { rule.params().join(", ") };
            return Err(SettingError::UnknownParam { rule: rule.name(), param: key.clone(), allowed });
        }
        if !value.as_f64().is_some_and(|v| v > 0.0 && v < 1e9) {
            return Err(SettingError::BadValue(key.clone(), "must be a positive number".into()));
        }
    }
    let mut merged = serde_json::to_value(Thresholds::default())
        .map_err(|e| SettingError::BadValue(String::new(), e.to_string()))?;
    if let Value::Object(map) = &mut merged {
        map.extend(params.clone());
    }
    serde_json::from_value::<Thresholds>(merged)
        .map(|_| ())
        .map_err(|e| SettingError::BadValue(String::new(), e.to_string()))
}

/// What a vehicle's thresholds depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeKey {
    /// The contract, when there is one.
    pub contract: Option<i64>,
    /// Its product.
    pub product: Option<i64>,
    /// The regions from the root down to the vehicle's (the materialized path).
    pub regions: Vec<i64>,
}

/// The thresholds and enabled rules for one vehicle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    /// The thresholds.
    pub thresholds: Thresholds,
    /// Rules switched off for it.
    pub disabled: HashSet<Rule>,
}

impl Resolved {
    /// Whether `rule` runs.
    pub fn enabled(&self, rule: Rule) -> bool {
        !self.disabled.contains(&rule)
    }
}

/// Every rule setting in force, indexed by scope.
#[derive(Debug, Clone, Default)]
pub struct RuleBook {
    by_scope: HashMap<Scope, Vec<RuleSetting>>,
}

impl RuleBook {
    /// A book of the given settings (the latest version of each rule and scope).
    pub fn new(settings: impl IntoIterator<Item = RuleSetting>) -> Self {
        let mut by_scope: HashMap<Scope, Vec<RuleSetting>> = HashMap::new();
        for s in settings {
            by_scope.entry(s.scope).or_default().push(s);
        }
        Self { by_scope }
    }

    /// The thresholds for a vehicle: global, then each region from the root down, then the
    /// product, then the contract, each overriding what it sets.
    pub fn resolve(&self, key: &ScopeKey) -> Resolved {
        let mut params = match serde_json::to_value(Thresholds::default()) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let mut disabled = HashSet::new();
        let scopes = std::iter::once(Scope::Global)
            .chain(key.regions.iter().map(|r| Scope::Region(*r)))
            .chain(key.product.map(Scope::Product))
            .chain(key.contract.map(Scope::Contract));
        for scope in scopes {
            for setting in self.by_scope.get(&scope).into_iter().flatten() {
                params.extend(setting.params.clone());
                if setting.enabled {
                    disabled.remove(&setting.rule);
                } else {
                    disabled.insert(setting.rule);
                }
            }
        }
        let thresholds = serde_json::from_value(Value::Object(params)).unwrap_or_default();
        Resolved { thresholds, disabled }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn setting(rule: Rule, scope: Scope, enabled: bool, params: Value) -> RuleSetting {
        let Value::Object(params) = params else { unreachable!() };
        RuleSetting { rule, scope, enabled, params }
    }

    #[test]
    fn the_narrowest_scope_wins_and_unset_thresholds_fall_through() {
        let book = RuleBook::new([
            setting(Rule::Offline, Scope::Global, true, json!({"offline_after_s": 7200})),
            setting(Rule::Offline, Scope::Region(4), true, json!({"offline_after_s": 3600})),
            setting(Rule::RiskLocationDwell, Scope::Product(7), true, json!({"dwell_after_s": 600})),
            setting(Rule::Overspeed, Scope::Contract(99), false, json!({})),
        ]);
        let key = ScopeKey { contract: Some(99), product: Some(7), regions: vec![1, 4, 9] };
        let r = book.resolve(&key);
        assert_eq!(r.thresholds.offline_after_s, 3600);
        assert_eq!(r.thresholds.dwell_after_s, 600);
        assert_eq!(r.thresholds.tow_after_s, Thresholds::default().tow_after_s);
        assert!(!r.enabled(Rule::Overspeed));
        let other = book.resolve(&ScopeKey { contract: Some(5), product: None, regions: vec![1, 2] });
        assert_eq!(other.thresholds.offline_after_s, 7200);
        assert!(other.enabled(Rule::Overspeed));
    }

    #[test]
    fn a_setting_names_only_its_own_positive_thresholds() {
        let Value::Object(ok) = json!({"tow_speed_kmh": 15, "tow_after_s": 60}) else { unreachable!() };
        assert_eq!(validate(Rule::Tow, &ok), Ok(()));
        let Value::Object(foreign) = json!({"offline_after_s": 60}) else { unreachable!() };
        assert!(matches!(validate(Rule::Tow, &foreign), Err(SettingError::UnknownParam { .. })));
        let Value::Object(negative) = json!({"tow_after_s": -1}) else { unreachable!() };
        assert!(matches!(validate(Rule::Tow, &negative), Err(SettingError::BadValue(..))));
        let Value::Object(fraction) = json!({"tow_after_s": 1.5}) else { unreachable!() };
        assert!(validate(Rule::Tow, &fraction).is_err());
    }

    #[test]
    fn severities_rise_and_cap() {
        assert_eq!(Severity::Medium.raised(1), Severity::High);
        assert_eq!(Severity::High.raised(3), Severity::Critical);
        assert!(Rule::ALL.iter().all(|r| Rule::parse(r.name()) == Some(*r)));
    }
}
