//! `leasewatch monitor replay`: which alerts the rules would have raised over stored history,
//! with candidate thresholds from a TOML file, before changing them for real:
//!
//! ```toml
//! [[setting]]
//! rule = "risk_location_dwell"
//! scope = "global"            # global, region, product or contract
//! # scope_id = 12             # the region, product or contract
//! params = { dwell_after_s = 3600 }
//!
//! [[setting]]
//! rule = "overspeed"
//! scope = "global"
//! enabled = false
//! ```

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use leasewatch_monitor::rules::{self, Rule, RuleSetting, Scope};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Arguments of `monitor replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Start of the history to replay (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    from: DateTime<Utc>,
    /// End of it (exclusive).
    #[arg(long)]
    to: DateTime<Utc>,
    /// Candidate rule settings (TOML); they replace the stored ones of the same rule and scope.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Print the whole report as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    setting: Vec<Setting>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Setting {
    rule: String,
    scope: String,
    #[serde(default)]
    scope_id: i64,
    #[serde(default = "enabled")]
    enabled: bool,
    #[serde(default)]
    params: Map<String, Value>,
}

fn enabled() -> bool {
    true
}

/// Reads and checks the candidate settings.
pub fn settings(text: &str) -> anyhow::Result<Vec<RuleSetting>> {
    let file: File = toml::from_str(text).context("not a rules file")?;
    file.setting
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let n = i + 1;
            let rule = Rule::parse(&s.rule).with_context(|| format!("setting {n}: no rule `{}`", s.rule))?;
            let scope =
                Scope::parse(&s.scope, s.scope_id).with_context(|| format!("setting {n}: no scope `{}`", s.scope))?;
            rules::validate(rule, &s.params).with_context(|| format!("setting {n} ({})", s.rule))?;
            Ok(RuleSetting { rule, scope, enabled: s.enabled, params: s.params })
        })
        .collect()
}

/// Runs the replay and prints the report.
pub async fn run(pool: &sqlx::PgPool, args: ReplayArgs, utc_offset_hours: i32) -> anyhow::Result<()> {
    anyhow::ensure!(args.from < args.to, "--from must be before --to");
    let overrides = match &args.rules {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            settings(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Vec::new(),
    };
    let report = leasewatch_monitor::replay::replay(pool, args.from, args.to, &overrides, utc_offset_hours).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("replayed {} positions and {} events from {} to {}", report.positions, report.events, args.from, args.to);
    println!("{} alerts would have been raised", report.alerts.len());
    for (rule, n) in &report.by_rule {
        println!("  {rule:<22} {n:>7}");
    }
    for (severity, n) in &report.by_severity {
        println!("  {severity:<22} {n:>7}");
    }
    for a in report.alerts.iter().take(20) {
        println!(
            "  vehicle {:>8}  {:<20} {:<8} {}  {}",
            a.vehicle_id,
            a.rule,
            a.severity.name(),
            a.first_at.format("%F %T"),
            a.title
        );
    }
    if report.alerts.len() > 20 {
        println!("  … {} more (--json for all)", report.alerts.len() - 20);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_file_is_read_and_checked() {
        let ok = settings(
            "[[setting]]\nrule = \"risk_location_dwell\"\nscope = \"global\"\nparams = { dwell_after_s = 3600 }\n\n\
             [[setting]]\nrule = \"overspeed\"\nscope = \"region\"\nscope_id = 4\nenabled = false\n",
        );
        let Ok(ok) = ok else { unreachable!("{ok:?}") };
        assert_eq!(ok.len(), 2);
        assert_eq!((ok[1].scope, ok[1].enabled), (Scope::Region(4), false));
        assert!(settings("[[setting]]\nrule = \"tow\"\nscope = \"global\"\nparams = { dwell_after_s = 1 }\n").is_err());
        assert!(settings("[[setting]]\nrule = \"teleport\"\nscope = \"global\"\n").is_err());
    }
}
