//! The monitor's rules and their thresholds. A setting applies globally or to a region's subtree, a
//! product or a contract; the narrowest wins. Changing one adds a version (the history stays); the
//! monitor picks it up at its next reload.

use chrono::{DateTime, Utc};
use leasewatch_monitor::rules::{self, Rule, Thresholds};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::Error;
use crate::kit::audit::{self, Change};

/// A rule the monitor knows.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleInfo {
    /// Its name.
    pub rule: &'static str,
    /// What it watches for.
    pub description: &'static str,
    /// Severity before payment status raises it.
    pub base_severity: &'static str,
    /// Whether an overdue contract raises its severity.
    pub payment_aware: bool,
    /// Its thresholds with their built-in defaults.
    #[schema(value_type = Object)]
    pub defaults: Value,
}

/// Every rule, its thresholds and their built-in defaults.
pub fn catalogue() -> Vec<RuleInfo> {
    let defaults = serde_json::to_value(Thresholds::default()).unwrap_or_default();
    Rule::ALL
        .iter()
        .map(|r| RuleInfo {
            rule: r.name(),
            description: r.describe(),
            base_severity: r.base_severity().name(),
            payment_aware: r.payment_aware(),
            defaults: Value::Object(r.params().iter().map(|p| ((*p).to_owned(), defaults[*p].clone())).collect()),
        })
        .collect()
}

/// A rule setting (one version at one scope).
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct RuleSetting {
    /// Id.
    pub id: i64,
    /// The rule.
    pub rule: String,
    /// `global`, `region`, `product` or `contract`.
    pub scope: String,
    /// The region, product or contract (0 for global).
    pub scope_id: i64,
    /// Version at this scope.
    pub version: i32,
    /// Whether the rule runs there.
    pub enabled: bool,
    /// The thresholds set at this scope.
    #[schema(value_type = Object)]
    pub params: Value,
    /// Who set it.
    pub created_by: Option<i64>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Filters of the settings list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SettingFilter {
    /// The rule.
    pub rule: Option<String>,
    /// Every version, not only those in force.
    pub history: Option<bool>,
}

/// The settings in force (or with `history`, every version) that concern the actor's region
/// subtree: global and product settings, and those of its regions and contracts.
pub async fn list(pool: &PgPool, actor: &Actor, filter: &SettingFilter) -> Result<Vec<RuleSetting>, Error> {
    let latest = if filter.history == Some(true) {
        ""
    } else {
        "AND version = (SELECT max(version) FROM monitor_rules l WHERE l.rule = r.rule AND l.scope = r.scope AND l.scope_id = r.scope_id)"
    };
    Ok(sqlx::query_as(&format!(
        "SELECT id, rule, scope, scope_id, version, enabled, params, created_by, created_at FROM monitor_rules r
         WHERE ($1::text IS NULL OR rule = $1) {latest}
           AND (scope IN ('global', 'product')
                OR scope = 'region' AND EXISTS (SELECT 1 FROM regions g WHERE g.id = r.scope_id AND starts_with(g.path, $2))
                OR scope = 'contract' AND EXISTS (SELECT 1 FROM contracts c JOIN regions g ON g.id = c.region_id
                                                  WHERE c.id = r.scope_id AND starts_with(g.path, $2)))
         ORDER BY rule, scope, scope_id, version DESC LIMIT 1000"
    ))
    .bind(&filter.rule)
    .bind(&actor.region_path)
    .fetch_all(pool)
    .await?)
}

/// Whether the region, product or contract a monitor setting (a rule's thresholds, a geofence)
/// is scoped to exists within the actor's region subtree (global: always).
pub async fn scope_in_reach(db: &mut PgConnection, actor: &Actor, scope: &str, scope_id: i64) -> Result<bool, Error> {
    let sql = match scope {
        "global" => return Ok(true),
        "region" => "SELECT EXISTS (SELECT 1 FROM regions WHERE id = $1 AND starts_with(path, $2))",
        "product" => "SELECT EXISTS (SELECT 1 FROM products WHERE id = $1)",
        _ => {
            "SELECT EXISTS (SELECT 1 FROM contracts c JOIN regions g ON g.id = c.region_id
                            WHERE c.id = $1 AND starts_with(g.path, $2))"
        }
    };
    Ok(sqlx::query_scalar(sql).bind(scope_id).bind(&actor.region_path).fetch_one(db).await?)
}

/// A new version of a rule's setting at one scope.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSetting {
    /// The rule.
    pub rule: String,
    /// `global`, `region`, `product` or `contract`.
    #[schema(pattern = "^(global|region|product|contract)$")]
    pub scope: String,
    /// The region, product or contract; omit for global.
    pub scope_id: Option<i64>,
    /// Whether the rule runs there (default true).
    pub enabled: Option<bool>,
    /// Thresholds to set (only the rule's own; see the catalogue).
    #[schema(value_type = Object)]
    pub params: Option<Map<String, Value>>,
}

/// Sets a rule's thresholds at a scope, as its next version there.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewSetting) -> Result<RuleSetting, Error> {
    let rule =
        Rule::parse(&new.rule).ok_or_else(|| Error::invalid("rule", "no such rule (see /monitor/rule-catalogue)"))?;
    let params = new.params.clone().unwrap_or_default();
    rules::validate(rule, &params).map_err(|e| Error::invalid("params", e.to_string()))?;
    let scope_id = match (new.scope.as_str(), new.scope_id) {
        ("global", None | Some(0)) => 0,
        ("global", Some(_)) => return Err(Error::invalid("scope_id", "a global setting has no scope id")),
        ("region" | "product" | "contract", Some(id)) => id,
        ("region" | "product" | "contract", None) => {
            return Err(Error::invalid("scope_id", "is required for this scope"));
        }
        _ => return Err(Error::invalid("scope", "must be global, region, product or contract")),
    };
    if matches!(new.scope.as_str(), "global" | "product") && !actor.at_root() {
        // A product's contracts are in every region: its settings are company-wide.
        return Err(Error::Forbidden {
            code: "forbidden",
            detail: "global and product settings are set at the head office".into(),
        });
    }
    if !scope_in_reach(db, actor, &new.scope, scope_id).await? {
        return Err(Error::invalid("scope_id", format!("no {} with this id in your region", new.scope)));
    }
    // Serialises versions of the same rule and scope.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("monitor_rules/{}/{}/{scope_id}", rule.name(), new.scope))
        .execute(&mut *db)
        .await?;
    let setting: RuleSetting = sqlx::query_as(
        "INSERT INTO monitor_rules (rule, scope, scope_id, version, enabled, params, created_by)
         SELECT $1, $2, $3, COALESCE(max(version), 0) + 1, $4, $5, $6 FROM monitor_rules
         WHERE rule = $1 AND scope = $2 AND scope_id = $3
         RETURNING id, rule, scope, scope_id, version, enabled, params, created_by, created_at",
    )
    .bind(rule.name())
    .bind(&new.scope)
    .bind(scope_id)
    .bind(new.enabled.unwrap_or(true))
    .bind(Value::Object(params))
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("create", "monitor_rule", setting.id, None).after(json!(setting));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(setting)
}
