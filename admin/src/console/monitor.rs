//! Monitor settings (监控设置): the risk locations (二押点) the monitor watches, and each rule's
//! thresholds as set globally or for a region, product or contract, newest version first.

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use backoffice::kit::list::Paged;
use backoffice::risk::{places, rules};
use rules::SettingFilter;

use super::error::PageError;
use super::list::{self, Cell, Column, ListQuery, ListSpec};
use super::session::Staff;
use super::system::NoFilter;
use crate::state::AppState;

/// The area's pages, as tabs.
const TABS: &[(&str, &str)] =
    &[("/monitor/risk-locations", "monitor.risk_locations"), ("/monitor/rules", "monitor.rules")];

/// `GET /monitor/risk-locations`.
pub async fn risk_locations(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("monitor.read")?;
    let query: ListQuery<NoFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/monitor/risk-locations",
        title: "nav.monitor",
        filters: Vec::new(),
        columns: vec![
            Column::plain(lang.t("place.name")),
            Column::plain(lang.t("place.kind")),
            Column::plain(lang.t("place.position")),
            Column::plain(lang.t("place.radius_m")).numeric(),
            Column::plain(lang.t("place.active")),
        ],
        script: None,
        tabs: TABS,
    };
    let (pool, actor) = (&state.pool, &staff.caller.actor);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { places::risk_locations(pool, actor, &page).await }),
        |p| {
            let cells = vec![
                Cell::text(p.name.clone()),
                Cell::text(p.kind.clone()),
                Cell::text(format!("{:.5}, {:.5}", p.latitude, p.longitude)),
                Cell::number(p.radius_m),
                Cell::text(lang.yes_no(p.active)),
            ];
            (p.id, cells)
        },
    )
    .await
}

/// `GET /monitor/rules`: the latest thresholds of every rule and scope (`rule=` one rule).
pub async fn rules(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("monitor.read")?;
    let query: ListQuery<SettingFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/monitor/rules",
        title: "nav.monitor",
        filters: vec![query.field("rule", lang.t("rule.rule"), "text")],
        columns: vec![
            Column::plain(lang.t("rule.rule")),
            Column::plain(lang.t("rule.scope")),
            Column::plain(lang.t("rule.version")).numeric(),
            Column::plain(lang.t("rule.enabled")),
            Column::plain(lang.t("rule.params")),
        ],
        script: None,
        tabs: TABS,
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        // Settings are few (one per rule and scope): one page holds them all.
        |_| {
            Box::pin(async move {
                let items = rules::list(pool, actor, filter).await?;
                let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
                Ok(Paged { items, total, total_is_more: false, page: 1, limit: 1000 })
            })
        },
        |r| {
            let cells = vec![
                Cell::text(r.rule.clone()),
                Cell::text(format!("{} {}", r.scope, r.scope_id)),
                Cell::number(r.version),
                Cell::text(lang.yes_no(r.enabled)),
                Cell::text(r.params.to_string()),
            ];
            (r.id, cells)
        },
    )
    .await
}
