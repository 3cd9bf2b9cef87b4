//! `/api/v1/contract-templates` (合同模板): the versions of the contracts' wording per lease type and
//! product. The service is `backoffice::origination::contract_templates`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::origination::contract_templates::{self, ContractTemplate, NewContractTemplate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::Json;
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_contract_templates, save_contract_template))
}

/// Every template version: lease type, product code, newest first.
#[utoipa::path(get, path = "/contract-templates", tag = "applications",
    responses((status = 200, description = "The templates", body = Vec<ContractTemplate>)),
    security(("bearer" = ["products.read"])))]
async fn list_contract_templates(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<ContractTemplate>>, ApiError> {
    Ok(Json(contract_templates::list(&mut *state.pool.acquire().await?).await?))
}

/// Save a template as the next version of its lease type (and product code); contracts written
/// from now on use it.
#[utoipa::path(post, path = "/contract-templates", tag = "applications", request_body = NewContractTemplate,
    responses((status = 201, description = "Saved", body = ContractTemplate)),
    security(("bearer" = ["products.write"])))]
async fn save_contract_template(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewContractTemplate>,
) -> Result<(StatusCode, Json<ContractTemplate>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let saved = contract_templates::save(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}
