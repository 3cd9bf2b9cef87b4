//! `/api/v1/partners/{partner}/callbacks`: where the guarantee insurer and the e-signature service
//! answer. No session: each callback is signed with the secret shared with that partner
//! (`X-Leasewatch-Signature`, `backoffice::kit::signed_http`) and refused unsigned, wrongly signed
//! or stale. An answer heard twice changes nothing the second time.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use backoffice::kit::signed_http::{HEADER, verify};
use backoffice::origination::partners::esign::SigningAnswer;
use backoffice::origination::partners::insurer::InsurerAnswer;
use backoffice::origination::{guarantee, signing};
use chrono::Utc;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::Path;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(callback))
}

/// A partner's answer: `insurer` (pre-approval or policy) or `esign` (signing), signed.
#[utoipa::path(post, path = "/partners/{partner}/callbacks", tag = "applications",
    params(("partner" = String, Path, description = "`insurer` or `esign`")),
    request_body(content = Object, description = "The partner's answer"),
    responses((status = 204, description = "Taken"), (status = 401, description = "Not signed by that partner"),
        (status = 404, description = "No such partner or request")),
    security(()))]
async fn callback(
    State(state): State<AppState>,
    Path(partner): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let secret = match partner.as_str() {
        "insurer" => state.partners.insurer.as_ref().map(|i| i.callback_secret().to_owned()),
        "esign" => state.partners.esign.as_ref().map(|e| e.callback_secret().to_owned()),
        _ => None,
    };
    let secret = secret.ok_or(backoffice::Error::NotFound("partner"))?;
    let signed = headers.get(HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !verify(&secret, signed, &body, Utc::now().timestamp()) {
        return Err(backoffice::Error::Unauthenticated {
            code: "invalid_signature",
            detail: format!("the callback is not signed by the {partner} (X-Leasewatch-Signature)"),
        }
        .into());
    }
    let mut tx = state.pool.begin().await?;
    if partner == "insurer" {
        guarantee::answered(&mut tx, &parse::<InsurerAnswer>(&body)?).await?;
    } else {
        signing::answered(&mut tx, &parse::<SigningAnswer>(&body)?).await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, backoffice::Error> {
    serde_json::from_slice(body)
        .map_err(|e| backoffice::Error::BadRequest(format!("the answer is not understood: {e}")))
}
