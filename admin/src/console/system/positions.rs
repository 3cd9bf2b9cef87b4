//! Positions (岗位): the list.

use axum::extract::{OriginalUri, State};
use axum::response::Response;

use super::{NoFilter, TABS};
use crate::console::error::PageError;
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::session::Staff;
use crate::state::AppState;
use backoffice::system::positions;

/// `GET /system/positions`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("positions.read")?;
    let query: ListQuery<NoFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/system/positions",
        title: "nav.system",
        filters: Vec::new(),
        columns: vec![
            Column::plain(lang.t("position.code")),
            Column::plain(lang.t("position.name")),
            Column::plain(lang.t("position.description")),
        ],
        tabs: TABS,
        ..ListSpec::default()
    };
    let (pool, actor) = (&state.pool, &staff.caller.actor);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { positions::list(pool, actor, &page).await }),
        |p| (p.id, vec![Cell::text(p.code.clone()), Cell::text(p.name.clone()), Cell::text(p.description.clone())]),
    )
    .await
}
