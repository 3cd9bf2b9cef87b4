//! Trackers apart (子母分离): a vehicle's wired and wireless trackers reporting far apart at the same time.

use serde_json::json;

use super::latched::Latched;
use super::outcome::{Ctx, Outcome};
use super::state::LastFix;
use crate::places::distance_m;
use crate::rules::{Rule, Severity};

/// Only fixes this recent (device time vs. the newest seen) count as "now" for pairs of devices.
const PAIR_WINDOW_S: i64 = 600;

/// The vehicle's wired and wireless trackers reporting far apart at the same time: once, until
/// they report together again.
pub(super) fn apart(ctx: &Ctx<'_>, fix: &LastFix, others: &[LastFix], latched: &mut Latched, out: &mut Vec<Outcome>) {
    let t = &ctx.vehicle.rules.thresholds;
    let key = (ctx.install.vehicle_id, Rule::DevicesApart);
    let concurrent: Vec<&LastFix> =
        others.iter().filter(|o| (fix.time - o.time).num_seconds().abs() <= PAIR_WINDOW_S).collect();
    let Some((other, d)) =
        concurrent.iter().map(|o| (*o, distance_m(fix.at(), o.at()))).max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return;
    };
    if d <= t.devices_apart_m {
        latched.remove(&key);
    } else if ctx.enabled(Rule::DevicesApart) && latched.insert(key) {
        let title = format!("Trackers {:.1} km apart", d / 1000.0);
        let evidence = json!({"this": fix.evidence(), "other": other.evidence(), "metres": d.round()});
        out.push(ctx.raise(Rule::DevicesApart, Severity::High, title, fix.time, Some(*fix), evidence));
    }
}
