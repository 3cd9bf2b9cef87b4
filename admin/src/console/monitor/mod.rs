//! Monitor settings (监控设置): the risk locations (二押点) the monitor watches, and each rule's
//! thresholds as set for the company or a region, as two tabs of one area.

pub mod risk_locations;
pub mod rules;

/// The area's pages, as tabs.
const TABS: &[(&str, &str)] =
    &[("/monitor/risk-locations", "monitor.risk_locations"), ("/monitor/rules", "monitor.rules")];
