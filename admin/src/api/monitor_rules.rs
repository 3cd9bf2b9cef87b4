//! `/api/v1/monitor/rules`: the monitor's rules and their thresholds. A setting applies
//! globally or to a region's subtree, a product or a contract; the narrowest wins. Changing one
//! adds a version (the history stays); the monitor picks it up at its next reload. The service is
//! `backoffice::risk::rules`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::risk::rules::{self, NewSetting, RuleInfo, RuleSetting, SettingFilter};
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

/// Every rule, its thresholds and their built-in defaults.
#[utoipa::path(get, path = "/monitor/rule-catalogue", tag = "monitor",
    responses((status = 200, description = "The rules", body = Vec<RuleInfo>)), security(("bearer" = ["monitor.read"])))]
async fn catalogue() -> Json<Vec<RuleInfo>> {
    Json(rules::catalogue())
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
    Ok(Json(rules::list(&state.pool, &caller, &filter).await?))
}

/// Set a rule's thresholds at a scope (adds a version).
#[utoipa::path(post, path = "/monitor/rules", tag = "monitor", request_body = NewSetting,
    responses((status = 201, description = "Set", body = RuleSetting)), security(("bearer" = ["monitor.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewSetting>,
) -> Result<(StatusCode, Json<RuleSetting>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let setting = rules::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(setting)))
}
