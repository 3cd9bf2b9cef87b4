//! Dealer pages (经销商): the list, searchable by code or name and filtered by status and tier.

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use backoffice::dealers::dealer::{self, DealerFilter};

use super::error::PageError;
use super::list::{self, Cell, Column, ListQuery, ListSpec};
use super::session::Staff;
use crate::state::AppState;

const STATUSES: &[&str] = &["active", "suspended", "blacklisted"];

/// `GET /dealers`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("dealers.read")?;
    let query: ListQuery<DealerFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let status = |s: &str| lang.t(&format!("dealer.status.{s}")).to_owned();
    let spec = ListSpec {
        path: "/dealers",
        title: "nav.dealers",
        filters: vec![
            query.field("q", lang.t("dealer.q"), "text"),
            query.choice(
                "status",
                lang.t("dealer.status"),
                STATUSES.iter().map(|s| ((*s).to_owned(), status(s))).collect(),
            ),
            query.field("tier", lang.t("dealer.tier"), "text"),
        ],
        columns: vec![
            Column::plain(lang.t("dealer.code")).sorted("code"),
            Column::plain(lang.t("dealer.name")).sorted("name"),
            Column::plain(lang.t("dealer.tier")),
            Column::plain(lang.t("dealer.status")),
            Column::plain(lang.t("dealer.status_reason")),
            Column::plain(lang.t("dealer.contact")),
        ],
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { dealer::list(pool, actor, &page, filter).await }),
        |d| {
            let contact =
                [d.contact_name.as_deref(), d.contact_phone.as_deref()].into_iter().flatten().collect::<Vec<_>>();
            let cells = vec![
                Cell::text(d.code.clone()),
                Cell::text(d.name.clone()),
                Cell::text(d.tier.clone()),
                Cell::text(status(&d.status)),
                Cell::text(d.status_reason.clone().unwrap_or_default()),
                Cell::text(contact.join(" ")),
            ];
            (d.id, cells)
        },
    )
    .await
}
