//! Device integrity: external power cut, tamper and light sensor (once per episode), GNSS jamming
//! or antenna cut alarms.

use chrono::{DateTime, Utc};
use leasewatch_protocols::{Alarm, AlarmSet, Status};
use serde_json::json;

use super::outcome::{Ctx, Outcome};
use super::state::{DeviceState, LastFix};
use crate::rules::{Rule, Severity};

/// Power cut, tamper and light sensor, jamming.
pub(super) fn check(
    ctx: &Ctx<'_>,
    state: &mut DeviceState,
    alarms: AlarmSet,
    status: &Status,
    at: DateTime<Utc>,
    fix: Option<LastFix>,
    out: &mut Vec<Outcome>,
) {
    let evidence =
        |what: &str| json!({"alarm": what, "fix": fix.map(|f| f.evidence()), "power_voltage": status.power_voltage});
    let lost_power = ctx.install.wired
        && state.power_voltage.is_some_and(|v| v >= 6.0)
        && status.power_voltage.is_some_and(|v| v < 1.0);
    if (alarms.contains(Alarm::PowerCut) || lost_power) && !state.latches.power_cut && ctx.enabled(Rule::PowerCut) {
        state.latches.power_cut = true;
        out.push(ctx.raise(
            Rule::PowerCut,
            Severity::High,
            "External power cut".into(),
            at,
            fix,
            evidence("power_cut"),
        ));
    } else if !alarms.contains(Alarm::PowerCut) && !status.power_voltage.is_some_and(|v| v < 1.0) {
        // Some protocols report no voltage: a frame without the alarm and without a dead supply ends it.
        state.latches.power_cut = false;
    }
    // Level alarms (JT/T 808 sets the bit in every report while it holds) fire once per episode.
    let exposed = [Alarm::Tamper, Alarm::LightSensor].into_iter().find(|a| alarms.contains(*a));
    match exposed {
        Some(alarm) if !state.latches.tamper_fired && ctx.enabled(Rule::Tamper) => {
            state.latches.tamper_fired = true;
            let title =
                if alarm == Alarm::Tamper { "Tracker removed or opened" } else { "Hidden tracker exposed to light" };
            out.push(ctx.raise(Rule::Tamper, Severity::High, title.into(), at, fix, evidence(alarm.name())));
        }
        Some(_) => {}
        None => state.latches.tamper_fired = false,
    }
    let jammed = alarms.contains(Alarm::Jamming) || alarms.contains(Alarm::GnssAntennaCut);
    if !jammed {
        state.latches.jamming_alarm_fired = false;
    } else if ctx.enabled(Rule::Jamming) && !state.latches.jamming_alarm_fired {
        state.latches.jamming_alarm_fired = true;
        out.push(ctx.raise(
            Rule::Jamming,
            Severity::High,
            "GNSS jamming or antenna cut".into(),
            at,
            fix,
            evidence("jamming"),
        ));
    }
}
