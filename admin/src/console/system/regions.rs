//! Regions (区域): the list, and a page that adds a region under one of the user's subtree.

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use backoffice::system::regions::{self, NewRegion, RegionFilter};

use super::{TABS, region_choices};
use crate::console::error::PageError;
use crate::console::form::{self, Problems};
use crate::console::i18n::Lang;
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::session::Staff;
use crate::state::AppState;

/// The levels a new region may have, below the company.
const LEVELS: &[&str] = &["province", "city", "branch"];

/// `GET /system/regions`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("regions.read")?;
    let query: ListQuery<RegionFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/system/regions",
        title: "nav.system",
        filters: vec![query.choice("level", lang.t("region.level"), levels(lang))],
        columns: vec![
            Column::plain(lang.t("region.path")).sorted("path"),
            Column::plain(lang.t("region.code")).sorted("code"),
            Column::plain(lang.t("region.name")).sorted("name"),
            Column::plain(lang.t("region.level")),
        ],
        tabs: TABS,
        create: staff.can("regions.write").then_some("/system/regions/new"),
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { regions::list(pool, actor, &page, filter).await }),
        |g| {
            let cells = vec![
                Cell::text(g.path.clone()),
                Cell::text(g.code.clone()),
                Cell::text(g.name.clone()),
                Cell::text(lang.word("region.level", &g.level)),
            ];
            (g.id, cells)
        },
    )
    .await
}

/// The levels as (value, words).
fn levels(lang: Lang) -> Vec<(String, String)> {
    LEVELS.iter().map(|l| ((*l).to_owned(), lang.word("region.level", l))).collect()
}

#[derive(Template)]
#[template(path = "system_region.html")]
struct RegionPage {
    shell: Shell,
    parents: Vec<(String, String)>,
    levels: Vec<(String, String)>,
    parent: String,
    code: String,
    region_name: String,
    level: String,
    problems: Problems,
    general: Vec<String>,
}

async fn region_page(
    state: &AppState,
    staff: &Staff,
    typed: [&str; 4],
    problems: Problems,
) -> Result<RegionPage, PageError> {
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/system/regions", "nav.system");
    shell.title = lang.t("region.new").to_owned();
    let [parent, code, name, level] = typed.map(str::to_owned);
    Ok(RegionPage {
        shell,
        parents: region_choices(state, staff).await?,
        levels: levels(lang),
        parent,
        code,
        region_name: name,
        level,
        general: problems.others(&["parent_id", "code", "name", "level"]),
        problems,
    })
}

/// `GET /system/regions/new`.
pub async fn new(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    staff.require("regions.write")?;
    let parent = staff.caller.actor.region_id.to_string();
    Ok(render(&region_page(&state, &staff, [&parent, "", "", "city"], Problems::default()).await?))
}

/// `POST /system/regions/new`: adds the region and shows the list.
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "regions.write")?;
    let mut problems = Problems::default();
    let parent_id = fields.number("parent_id", &mut problems);
    let typed = ["parent_id", "code", "name", "level"].map(|f| fields.one(f));
    let Some(parent_id) = parent_id.filter(|_| problems.is_empty()) else {
        if problems.is_empty() {
            problems.add("parent_id", "is required");
        }
        return Ok(form::refused(&region_page(&state, &staff, typed, problems).await?));
    };
    let new = NewRegion {
        parent_id,
        code: fields.one("code").to_owned(),
        name: fields.one("name").to_owned(),
        level: fields.one("level").to_owned(),
    };
    let mut tx = state.pool.begin().await?;
    let outcome = regions::create(&mut tx, &staff, &new).await;
    // The list of the parent's children shows the new one.
    match form::finish(tx, outcome, |_| format!("/system/regions?parent_id={parent_id}")).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => Ok(form::refused(&region_page(&state, &staff, typed, problems).await?)),
    }
}
