//! `/api/v1/settings`: the tunable parameters, each validated against its declaration and audited.

use axum::extract::State;
use backoffice::kit::audit::{self, Change};
use backoffice::system::settings::{CATALOGUE, Setting, find};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(put))
}

/// A setting with its current value.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingView {
    /// Its key.
    pub key: String,
    /// What it controls.
    pub description: String,
    /// The value in force.
    pub value: i64,
    /// The value when never set.
    pub default: i64,
    /// Smallest allowed.
    pub min: i64,
    /// Largest allowed.
    pub max: i64,
    /// For optimistic concurrency: 0 while never set.
    pub version: i32,
}

fn view(setting: &Setting, stored: Option<&(String, Value, i32)>) -> SettingView {
    SettingView {
        key: setting.key.to_owned(),
        description: setting.description.to_owned(),
        value: stored.and_then(|(_, v, _)| setting.validate(v).ok()).unwrap_or(setting.default),
        default: setting.default,
        min: setting.min,
        max: setting.max,
        version: stored.map_or(0, |(_, _, v)| *v),
    }
}

/// Every setting and its value.
#[utoipa::path(get, path = "/settings", tag = "settings",
    responses((status = 200, description = "The settings", body = Vec<SettingView>)), security(("bearer" = ["settings.read"])))]
async fn list(State(state): State<AppState>) -> Result<Json<Vec<SettingView>>, ApiError> {
    let stored: Vec<(String, Value, i32)> =
        sqlx::query_as("SELECT key, value, version FROM settings").fetch_all(&state.pool).await?;
    Ok(Json(CATALOGUE.iter().map(|s| view(s, stored.iter().find(|(k, _, _)| k == s.key))).collect()))
}

/// A new value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingChange {
    /// The value.
    pub value: Value,
    /// The version read (0 for a setting never set).
    pub version: i32,
}

/// Set a value.
#[utoipa::path(put, path = "/settings/{key}", tag = "settings", params(("key" = String, Path, description = "Setting key")),
    request_body = SettingChange,
    responses((status = 200, description = "Set", body = SettingView)), security(("bearer" = ["settings.write"])))]
async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    Json(change): Json<SettingChange>,
) -> Result<Json<SettingView>, ApiError> {
    let setting = find(&key).ok_or(ApiError::NotFound("setting"))?;
    let value = setting.validate(&change.value).map_err(|m| ApiError::invalid("value", m))?;
    let mut tx = state.pool.begin().await?;
    let before: Option<(String, Value, i32)> =
        sqlx::query_as("SELECT key, value, version FROM settings WHERE key = $1 FOR UPDATE")
            .bind(setting.key)
            .fetch_optional(&mut *tx)
            .await?;
    let current = before.as_ref().map_or(0, |(_, _, v)| *v);
    if current != change.version {
        return Err(ApiError::stale(current));
    }
    let after: (String, Value, i32) = sqlx::query_as(
        "INSERT INTO settings (key, value, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = settings.version + 1,
             updated_by = EXCLUDED.updated_by, updated_at = now()
         RETURNING key, value, version",
    )
    .bind(setting.key)
    .bind(json!(value))
    .bind(caller.user_id)
    .fetch_one(&mut *tx)
    .await?;
    let (before, after) = (view(setting, before.as_ref()), view(setting, Some(&after)));
    let entry =
        Change::new("update", "setting", setting.key.to_owned(), None).before(json!(before)).after(json!(after));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(Json(after))
}
