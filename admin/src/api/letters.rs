//! Default-notice letters (催收违约通知函): `/api/v1/letter-templates`, versioned per stage;
//! `/api/v1/contracts/{id}/letters`, a contract's letter generated as PDF (and those generated
//! before); `/api/v1/letters/batch`, many in one zip. The services are `backoffice::postloan::letters`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use backoffice::kit::day::company_today;
use backoffice::postloan::letters::issue::{self, Letter};
use backoffice::postloan::letters::template::{self, LetterTemplate, NewTemplate};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::download::attachment;
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, save_template))
        .routes(routes!(list_letters, generate))
        .routes(routes!(batch))
}

/// Every template version, by stage, newest first.
#[utoipa::path(get, path = "/letter-templates", tag = "letters",
    responses((status = 200, description = "The templates", body = Vec<LetterTemplate>)), security(("bearer" = ["postloan.read"])))]
async fn list_templates(State(state): State<AppState>, _caller: Caller) -> Result<Json<Vec<LetterTemplate>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(template::list(&mut conn).await?))
}

/// Save a stage's template as its next version; letters already sent keep theirs.
#[utoipa::path(post, path = "/letter-templates", tag = "letters", request_body = NewTemplate,
    responses((status = 201, description = "Saved", body = LetterTemplate)), security(("bearer" = ["postloan.configure"])))]
async fn save_template(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewTemplate>,
) -> Result<(StatusCode, Json<LetterTemplate>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let saved = template::save(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// The letters generated for a contract, newest first.
#[utoipa::path(get, path = "/contracts/{id}/letters", tag = "letters", params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "Its letters", body = Vec<Letter>)), security(("bearer" = ["postloan.read"])))]
async fn list_letters(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Letter>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(issue::of_contract(&mut conn, &caller, id).await?))
}

/// Generate the overdue contract's default notice as PDF, from its stage's template; kept and audited.
#[utoipa::path(post, path = "/contracts/{id}/letters", tag = "letters", params(("id" = i64, Path, description = "Contract id")),
    responses((status = 201, description = "The letter", content_type = "application/pdf")), security(("bearer" = ["postloan.collect"])))]
async fn generate(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let mut tx = state.pool.begin().await?;
    let issued =
        issue::generate(&mut tx, &caller, &state.letter_font, id, company_today(state.utc_offset_hours)).await?;
    tx.commit().await?;
    let mut response = attachment("application/pdf", &issued.file_name, issued.pdf);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// Contracts to write to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Batch {
    /// 1 to 500 overdue contracts.
    contract_ids: Vec<i64>,
}

/// Generate the letters of many overdue contracts in one zip; one that cannot be written refuses the batch.
#[utoipa::path(post, path = "/letters/batch", tag = "letters", request_body = Batch,
    responses((status = 201, description = "The letters", content_type = "application/zip")), security(("bearer" = ["postloan.collect"])))]
async fn batch(State(state): State<AppState>, caller: Caller, Json(body): Json<Batch>) -> Result<Response, ApiError> {
    let today = company_today(state.utc_offset_hours);
    let mut tx = state.pool.begin().await?;
    let zip = issue::batch(&mut tx, &caller, &state.letter_font, &body.contract_ids, today).await?;
    tx.commit().await?;
    let mut response = attachment("application/zip", &format!("违约通知函-{}.zip", today.format("%Y%m%d")), zip);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}
