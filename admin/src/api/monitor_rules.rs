//! `/api/v1/monitor/rules`: the monitor's rules and their thresholds. A setting applies
//! globally or to a region's subtree, a product or a contract; the narrowest wins. Changing one
//! adds a version (the history stays); the monitor picks it up at its next reload.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::audit::{self, Change};
use chrono::{DateTime, Utc};
use leasewatch_monitor::rules::{self, Rule, Thresholds};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(catalogue)).routes(routes!(list, create))
}

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
#[utoipa::path(get, path = "/monitor/rule-catalogue", tag = "monitor",
    responses((status = 200, description = "The rules", body = Vec<RuleInfo>)), security(("bearer" = ["monitor.read"])))]
async fn catalogue() -> Json<Vec<RuleInfo>> {
    let defaults = serde_json::to_value(Thresholds::default()).unwrap_or_default();
    Json(
        Rule::ALL
            .iter()
            .map(|r| RuleInfo {
                rule: r.name(),
                description: r.describe(),
                base_severity: r.base_severity().name(),
                payment_aware: r.payment_aware(),
                defaults: Value::Object(r.params().iter().map(|p| ((*p).to_owned(), defaults[*p].clone())).collect()),
            })
            .collect(),
    )
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

/// The settings in force (or with `history`, every version) that concern the caller's region
/// subtree: global and product settings, and those of its regions and contracts.
#[utoipa::path(get, path = "/monitor/rules", tag = "monitor", params(SettingFilter),
    responses((status = 200, description = "Settings", body = Vec<RuleSetting>)), security(("bearer" = ["monitor.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<SettingFilter>,
) -> Result<Json<Vec<RuleSetting>>, ApiError> {
    let latest = if filter.history == Some(true) {
        ""
    } else {
        "AND version = (SELECT max(version) FROM monitor_rules l WHERE l.rule = r.rule AND l.scope = r.scope AND l.scope_id = r.scope_id)"
    };
    let rows = sqlx::query_as(&format!(
        "SELECT id, rule, scope, scope_id, version, enabled, params, created_by, created_at FROM monitor_rules r
         WHERE ($1::text IS NULL OR rule = $1) {latest}
           AND (scope IN ('global', 'product')
                OR scope = 'region' AND EXISTS (SELECT 1 FROM regions g WHERE g.id = r.scope_id AND starts_with(g.path, $2))
                OR scope = 'contract' AND EXISTS (SELECT 1 FROM contracts c JOIN regions g ON g.id = c.region_id
                                                  WHERE c.id = r.scope_id AND starts_with(g.path, $2)))
         ORDER BY rule, scope, scope_id, version DESC LIMIT 1000"
    ))
    .bind(&filter.rule)
    .bind(&caller.region_path)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// Whether the region, product or contract a monitor setting (a rule's thresholds, a geofence)
/// is scoped to exists within the caller's region subtree (global: always).
pub(crate) async fn scope_in_reach(
    db: &mut PgConnection,
    caller: &Caller,
    scope: &str,
    scope_id: i64,
) -> Result<bool, sqlx::Error> {
    let sql = match scope {
        "global" => return Ok(true),
        "region" => "SELECT EXISTS (SELECT 1 FROM regions WHERE id = $1 AND starts_with(path, $2))",
        "product" => "SELECT EXISTS (SELECT 1 FROM products WHERE id = $1)",
        _ => {
            "SELECT EXISTS (SELECT 1 FROM contracts c JOIN regions g ON g.id = c.region_id
                            WHERE c.id = $1 AND starts_with(g.path, $2))"
        }
    };
    sqlx::query_scalar(sql).bind(scope_id).bind(&caller.region_path).fetch_one(db).await
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

/// Set a rule's thresholds at a scope (adds a version).
#[utoipa::path(post, path = "/monitor/rules", tag = "monitor", request_body = NewSetting,
    responses((status = 201, description = "Set", body = RuleSetting)), security(("bearer" = ["monitor.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewSetting>,
) -> Result<(StatusCode, Json<RuleSetting>), ApiError> {
    let rule = Rule::parse(&new.rule)
        .ok_or_else(|| ApiError::invalid("rule", "no such rule (see /monitor/rule-catalogue)"))?;
    let params = new.params.unwrap_or_default();
    rules::validate(rule, &params).map_err(|e| ApiError::invalid("params", e.to_string()))?;
    let scope_id = match (new.scope.as_str(), new.scope_id) {
        ("global", None | Some(0)) => 0,
        ("global", Some(_)) => return Err(ApiError::invalid("scope_id", "a global setting has no scope id")),
        ("region" | "product" | "contract", Some(id)) => id,
        ("region" | "product" | "contract", None) => {
            return Err(ApiError::invalid("scope_id", "is required for this scope"));
        }
        _ => return Err(ApiError::invalid("scope", "must be global, region, product or contract")),
    };
    if matches!(new.scope.as_str(), "global" | "product") && !caller.at_root() {
        // A product's contracts are in every region: its settings are company-wide.
        return Err(ApiError::Forbidden {
            code: "forbidden",
            detail: "global and product settings are set at the head office".into(),
        });
    }
    let mut tx = state.pool.begin().await?;
    if !scope_in_reach(&mut tx, &caller, &new.scope, scope_id).await? {
        return Err(ApiError::invalid("scope_id", format!("no {} with this id in your region", new.scope)));
    }
    // Serialises versions of the same rule and scope.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("monitor_rules/{}/{}/{scope_id}", rule.name(), new.scope))
        .execute(&mut *tx)
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
    .bind(caller.user_id)
    .fetch_one(&mut *tx)
    .await?;
    let entry = Change::new("create", "monitor_rule", setting.id, None).after(json!(setting));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(setting)))
}
