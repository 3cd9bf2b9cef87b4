//! `/api/v1/audit-events`: the audit log, queried by entity, user and time, within the caller's
//! region subtree (records without a region are visible from the company level only).

use axum::extract::State;
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::FromRow;
use utoipa::{IntoParams, ToSchema};
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

/// One audit record.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct AuditEvent {
    /// Id, increasing.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (absent for failed logins of unknown names).
    pub user_id: Option<i64>,
    /// Their user name.
    pub username: Option<String>,
    /// What was done.
    pub action: String,
    /// The kind of entity.
    pub entity_type: String,
    /// Its id.
    pub entity_id: Option<String>,
    /// Its region.
    pub region_id: Option<i64>,
    /// Values before.
    pub before: Option<Value>,
    /// Values after.
    pub after: Option<Value>,
    /// The request's id.
    pub request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
}

/// Filters of the audit query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Entity kind (`user`, `workflow_instance`...).
    pub entity_type: Option<String>,
    /// Entity id.
    pub entity_id: Option<String>,
    /// Acting user.
    pub user_id: Option<i64>,
    /// Action.
    pub action: Option<String>,
    /// From this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive).
    pub to: Option<DateTime<Utc>>,
}

/// How the audit log is read: the records of the caller's region subtree, and company-wide records
/// (users, roles, settings) for callers at the head office.
const TABLE: Table<AuditEvent> = Table::new(
    "audit record",
    "SELECT a.id, a.at, a.user_id, a.username, a.action, a.entity_type, a.entity_id, a.region_id,
        a.before, a.after, a.request_id, a.client_addr",
    "FROM audit_log a LEFT JOIN regions g ON g.id = a.region_id",
    "a.id",
)
.scoped("g.path")
.root_also_sees("a.region_id IS NULL")
.sorted(&[("at", "a.at"), ("id", "a.id")], "-at");

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
    let items = TABLE
        .list(&state.pool, &caller, &page, |f| {
            f.eq("a.entity_type", filter.entity_type.clone())
                .eq("a.entity_id", filter.entity_id.clone())
                .eq("a.user_id", filter.user_id)
                .eq("a.action", filter.action.clone())
                .at_least("a.at", filter.from)
                .before("a.at", filter.to);
        })
        .await?;
    Ok(Json(items))
}
