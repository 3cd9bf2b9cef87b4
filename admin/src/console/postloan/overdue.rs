//! Overdue customers (逾期客户查询): the collections department's list of every overdue contract of
//! the user's regions, most risky first, filtered by bucket, days past due, amount, region, group,
//! promise and score, exported to CSV or Excel like every list.

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use backoffice::kit::list::PageParams;
use backoffice::postloan::groups::{self, GroupFilter};
use backoffice::postloan::overdue::{self, OverdueFilter};

use super::TABS;
use crate::console::error::PageError;
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::session::Staff;
use crate::console::system::region_choices;
use crate::state::AppState;

/// The promise states, as the filter offers them.
const PROMISES: &[&str] = &["none", "pending", "broken"];

/// `GET /postloan/overdue`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    let query: ListQuery<OverdueFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let regions = if staff.can("regions.read") { region_choices(&state, &staff).await? } else { Vec::new() };
    let all = PageParams { limit: Some(200), ..PageParams::default() };
    let groups = groups::list(&state.pool, &staff, &all, &GroupFilter::default()).await?.items;
    let groups = groups.into_iter().map(|g| (g.id.to_string(), g.name)).collect();
    let promises = PROMISES.iter().map(|p| ((*p).to_owned(), lang.word("overdue.promise", p))).collect();
    let mut filters = vec![
        query.field("bucket", lang.t("field.bucket"), "number"),
        query.field("min_dpd", lang.t("overdue.min_dpd"), "number"),
        query.field("max_dpd", lang.t("overdue.max_dpd"), "number"),
        query.field("min_amount", lang.t("overdue.min_amount"), "number"),
        query.field("max_amount", lang.t("overdue.max_amount"), "number"),
    ];
    if !regions.is_empty() {
        filters.push(query.choice("region_id", lang.t("user.region"), regions));
    }
    filters.extend([
        query.choice("group_id", lang.t("postloan.groups"), groups),
        query.choice("promise", lang.t("overdue.promise"), promises),
        query.field("min_score", lang.t("overdue.min_score"), "number"),
        query.choice(
            "unassigned",
            lang.t("overdue.unassigned"),
            vec![("true".to_owned(), lang.yes_no(true)), ("false".to_owned(), lang.yes_no(false))],
        ),
    ]);
    let spec = ListSpec {
        path: "/postloan/overdue",
        title: "nav.postloan",
        filters,
        columns: vec![
            Column::plain(lang.t("contract.number")).sorted("number"),
            Column::plain(lang.t("overdue.customer")),
            Column::plain(lang.t("user.region")),
            Column::plain(lang.t("overdue.product")),
            Column::plain(lang.t("overdue.dealer")),
            Column::plain(lang.t("field.bucket")),
            Column::plain(lang.t("contract.dpd")).sorted("dpd").numeric(),
            Column::plain(lang.t("field.overdue_amount")).sorted("overdue_amount").numeric(),
            Column::plain(lang.t("overdue.penalty")).numeric(),
            Column::plain(lang.t("contract.last_payment_on")),
            Column::plain(lang.t("overdue.promise")),
            Column::plain(lang.t("contract.risk_score")).sorted("risk").numeric(),
            Column::plain(lang.t("overdue.collector")),
        ],
        tabs: TABS,
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { overdue::list(pool, actor, &page, filter).await }),
        |c| {
            let promise = match c.promise_until {
                Some(day) => format!("{} {}", lang.word("overdue.promise", &c.promise), day.format("%Y-%m-%d")),
                None => lang.word("overdue.promise", &c.promise),
            };
            let cells = vec![
                Cell::link(c.number.clone(), format!("/contracts/{}", c.id)),
                Cell::text(c.customer_name.clone().unwrap_or_default()),
                Cell::text(c.region_name.clone()),
                Cell::text(c.product_name.clone().unwrap_or_default()),
                Cell::text(c.dealer_name.clone().unwrap_or_default()),
                Cell::text(format!("M{}", c.bucket)),
                Cell::number(c.dpd),
                Cell::amount(c.overdue_amount),
                Cell::amount(c.penalty_open),
                Cell::date(c.last_payment_on),
                Cell::text(promise),
                Cell::number(c.risk_score),
                Cell::text(c.collector_name.clone().unwrap_or_default()),
            ];
            (c.id, cells)
        },
    )
    .await
}
