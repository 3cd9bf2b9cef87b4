//! Positions (岗位): the list, and a page that adds one (its code is what workflow stages and task
//! groups name).

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use backoffice::system::positions::{self, NewPosition};

use super::{NoFilter, TABS};
use crate::console::error::PageError;
use crate::console::form::{self, Problems};
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::session::Staff;
use crate::state::AppState;

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
        columns: vec![
            Column::plain(lang.t("position.code")),
            Column::plain(lang.t("position.name")),
            Column::plain(lang.t("position.description")),
        ],
        tabs: TABS,
        create: staff.can("positions.write").then_some("/system/positions/new"),
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

#[derive(Template)]
#[template(path = "system_position.html")]
struct PositionPage {
    shell: Shell,
    code: String,
    position_name: String,
    description: String,
    problems: Problems,
    general: Vec<String>,
}

fn position_page(staff: &Staff, typed: &NewPosition, problems: Problems) -> PositionPage {
    let mut shell = Shell::new(staff, "/system/positions", "nav.system");
    shell.title = staff.lang.t("position.new").to_owned();
    PositionPage {
        shell,
        code: typed.code.clone(),
        position_name: typed.name.clone(),
        description: typed.description.clone(),
        general: problems.others(&["code", "name", "description"]),
        problems,
    }
}

/// `GET /system/positions/new`.
pub async fn new(staff: Staff) -> Result<Response, PageError> {
    staff.require("positions.write")?;
    let blank = NewPosition { code: String::new(), name: String::new(), description: String::new() };
    Ok(render(&position_page(&staff, &blank, Problems::default())))
}

/// `POST /system/positions/new`: adds the position and shows the list.
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "positions.write")?;
    let new = NewPosition {
        code: fields.one("code").trim().to_owned(),
        name: fields.one("name").to_owned(),
        description: fields.one("description").to_owned(),
    };
    let mut tx = state.pool.begin().await?;
    let outcome = positions::create(&mut tx, &staff, &new).await;
    match form::finish(tx, outcome, |_| "/system/positions".to_owned()).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => Ok(form::refused(&position_page(&staff, &new, problems))),
    }
}
