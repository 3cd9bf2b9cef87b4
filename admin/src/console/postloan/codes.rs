//! Collection states (催收状态) and categories (催收类别): a list of each, a page that adds one, and a
//! code's page where its name, description, place in lists and whether it is offered are changed.

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::Response;
use backoffice::postloan::codes::{self, CodeFilter, CodeUpdate, NewCode};
use serde::Deserialize;

use super::TABS;
use crate::console::error::PageError;
use crate::console::form::{self, Done, Fields, Problems};
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::session::Staff;
use crate::state::AppState;

/// `GET /postloan/states`.
pub async fn states(state: State<AppState>, staff: Staff, uri: OriginalUri) -> Result<Response, PageError> {
    list_of(state, staff, uri, "state").await
}

/// `GET /postloan/categories`.
pub async fn categories(state: State<AppState>, staff: Staff, uri: OriginalUri) -> Result<Response, PageError> {
    list_of(state, staff, uri, "category").await
}

/// The list of the codes of `kind`.
async fn list_of(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
    kind: &'static str,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    let mut query: ListQuery<CodeFilter> = ListQuery::from_uri(&uri)?;
    query.filter.kind = Some(kind.to_owned());
    let lang = staff.lang;
    let (path, create) = match kind {
        "category" => (TABS[2].0, "/postloan/codes/new?kind=category"),
        _ => (TABS[1].0, "/postloan/codes/new?kind=state"),
    };
    let answers = vec![("true".to_owned(), lang.yes_no(true)), ("false".to_owned(), lang.yes_no(false))];
    let spec = ListSpec {
        path,
        title: "nav.postloan",
        filters: vec![query.choice("active", lang.t("code.active"), answers)],
        columns: vec![
            Column::plain(lang.t("code.code")).sorted("code"),
            Column::plain(lang.t("code.name")).sorted("name"),
            Column::plain(lang.t("code.description")),
            Column::plain(lang.t("code.position")).sorted("position").numeric(),
            Column::plain(lang.t("code.active")),
        ],
        tabs: TABS,
        create: staff.can("postloan.configure").then_some(create),
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { codes::list(pool, actor, &page, filter).await }),
        |c| {
            let cells = vec![
                Cell::link(c.code.clone(), format!("/postloan/codes/{}", c.id)),
                Cell::text(c.name.clone()),
                Cell::text(c.description.clone()),
                Cell::number(c.position),
                Cell::text(lang.yes_no(c.active)),
            ];
            (c.id, cells)
        },
    )
    .await
}

#[derive(Template)]
#[template(path = "postloan_code.html")]
struct CodePage {
    shell: Shell,
    /// `None` while being added.
    id: Option<i64>,
    version: i32,
    kind: String,
    list: &'static str,
    list_label: String,
    code: String,
    code_name: String,
    description: String,
    position: String,
    active: bool,
    may_edit: bool,
    problems: Problems,
    general: Vec<String>,
    done: String,
}

/// What the form shows: the code as stored, or what was typed.
struct Shown {
    kind: String,
    code: String,
    name: String,
    description: String,
    position: String,
    active: bool,
}

impl Shown {
    fn typed(fields: &Fields) -> Self {
        Self {
            kind: fields.one("kind").to_owned(),
            code: fields.one("code").trim().to_owned(),
            name: fields.one("name").to_owned(),
            description: fields.one("description").to_owned(),
            position: fields.one("position").trim().to_owned(),
            active: fields.one("active") != "false",
        }
    }
}

async fn code_page(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    typed: Option<Shown>,
    problems: Problems,
    done: &str,
) -> Result<CodePage, PageError> {
    let lang = staff.lang;
    let (version, stored) = match id {
        Some(id) => {
            let c = codes::get(&mut *state.pool.acquire().await?, staff, id).await?;
            let shown = Shown {
                kind: c.kind,
                code: c.code,
                name: c.name,
                description: c.description,
                position: c.position.to_string(),
                active: c.active,
            };
            (c.version, shown)
        }
        None => {
            let kind = typed.as_ref().map_or("state", |t| t.kind.as_str()).to_owned();
            let blank = Shown {
                kind,
                code: String::new(),
                name: String::new(),
                description: String::new(),
                position: "0".to_owned(),
                active: true,
            };
            (0, blank)
        }
    };
    // The kind and code are fixed once given.
    let shown = match typed {
        Some(typed) if id.is_some() => Shown { kind: stored.kind, code: stored.code, ..typed },
        Some(typed) => typed,
        None => stored,
    };
    // The tab (list) the code's kind is kept in: states after the overdue list, then categories.
    let (list, tab) = if shown.kind == "category" { TABS[2] } else { TABS[1] };
    let mut shell = Shell::new(staff, list, "nav.postloan");
    shell.title = match id {
        Some(_) => format!("{} {}", lang.word("code.kind", &shown.kind), shown.code),
        None => format!("{} · {}", lang.t("action.create"), lang.word("code.kind", &shown.kind)),
    };
    Ok(CodePage {
        shell,
        id,
        version,
        kind: shown.kind,
        list,
        list_label: lang.t(tab).to_owned(),
        code: shown.code,
        code_name: shown.name,
        description: shown.description,
        position: shown.position,
        active: shown.active,
        may_edit: staff.can("postloan.configure"),
        general: problems.others(&["code", "name", "description", "position", "active"]),
        problems,
        done: done.to_owned(),
    })
}

/// Which kind of code a new page adds.
#[derive(Deserialize)]
pub struct KindQuery {
    /// `state` or `category`.
    #[serde(default)]
    kind: String,
}

/// `GET /postloan/codes/new?kind=state|category`.
pub async fn new(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<KindQuery>,
) -> Result<Response, PageError> {
    staff.require("postloan.configure")?;
    let kind = if query.kind == "category" { "category" } else { "state" };
    let typed = Shown {
        kind: kind.to_owned(),
        code: String::new(),
        name: String::new(),
        description: String::new(),
        position: "0".to_owned(),
        active: true,
    };
    Ok(render(&code_page(&state, &staff, None, Some(typed), Problems::default(), "").await?))
}

/// `POST /postloan/codes/new`: adds the code and opens its page.
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "postloan.configure")?;
    let mut problems = Problems::default();
    let position = fields.number("position", &mut problems).unwrap_or_default();
    let shown = Shown::typed(&fields);
    if !problems.is_empty() {
        return Ok(form::refused(&code_page(&state, &staff, None, Some(shown), problems, "").await?));
    }
    let new = NewCode {
        kind: shown.kind.clone(),
        code: shown.code.clone(),
        name: shown.name.clone(),
        description: shown.description.clone(),
        position,
    };
    let mut tx = state.pool.begin().await?;
    let outcome = codes::create(&mut tx, &staff, &new).await;
    match form::finish(tx, outcome, |c| format!("/postloan/codes/{}?done=saved", c.id)).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => Ok(form::refused(&code_page(&state, &staff, None, Some(shown), problems, "").await?)),
    }
}

/// `GET /postloan/codes/{id}`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    let done = done.said(staff.lang);
    Ok(render(&code_page(&state, &staff, Some(id), None, Problems::default(), &done).await?))
}

/// `POST /postloan/codes/{id}`: saves the name, description, place and whether it is offered.
pub async fn edit(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "postloan.configure")?;
    let mut problems = Problems::default();
    let version = fields.number("version", &mut problems).unwrap_or_default();
    let position = fields.number("position", &mut problems);
    let shown = Shown::typed(&fields);
    if !problems.is_empty() {
        return Ok(form::refused(&code_page(&state, &staff, Some(id), Some(shown), problems, "").await?));
    }
    let update = CodeUpdate {
        version,
        name: Some(shown.name.clone()),
        description: Some(shown.description.clone()),
        active: Some(shown.active),
        position,
    };
    let mut tx = state.pool.begin().await?;
    let outcome = codes::update(&mut tx, &staff, id, &update).await;
    match form::finish(tx, outcome, |_| format!("/postloan/codes/{id}?done=saved")).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => Ok(form::refused(&code_page(&state, &staff, Some(id), Some(shown), problems, "").await?)),
    }
}
