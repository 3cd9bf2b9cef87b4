//! `/api/v1/settings`: the tunable parameters, each validated against its declaration and audited;
//! the service is `backoffice::system::settings`.

use axum::extract::State;
use backoffice::system::settings::{self, SettingChange, SettingView};
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

/// Every setting and its value.
#[utoipa::path(get, path = "/settings", tag = "settings",
    responses((status = 200, description = "The settings", body = Vec<SettingView>)), security(("bearer" = ["settings.read"])))]
async fn list(State(state): State<AppState>) -> Result<Json<Vec<SettingView>>, ApiError> {
    Ok(Json(settings::list(&state.pool).await?))
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
    let mut tx = state.pool.begin().await?;
    let after = settings::set(&mut tx, &caller, &key, &change).await?;
    tx.commit().await?;
    Ok(Json(after))
}
