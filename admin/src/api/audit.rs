//! `/api/v1/audit-events`: the audit log, scoped to the caller's region; the records and their
//! query are `backoffice::kit::audit`.

use axum::extract::State;
use backoffice::kit::audit::{self, AuditEvent, AuditFilter};
use backoffice::kit::list::{PageParams, Paged};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// Query the audit log (newest first by default).
#[utoipa::path(get, path = "/audit-events", tag = "audit", params(PageParams, AuditFilter),
    responses((status = 200, description = "A page of audit records", body = Paged<AuditEvent>)),
    security(("bearer" = ["audit.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Paged<AuditEvent>>, ApiError> {
    Ok(Json(audit::list(&state.pool, &caller, &page, &filter).await?))
}
