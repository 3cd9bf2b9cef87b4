//! Collection states (催收状态) and categories (催收类别): a list of each, a page that adds one, and a
//! code's page where its name, description, place in lists and whether it is offered are changed.

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use backoffice::Error;
use backoffice::postloan::codes::{self, CodeFilter, CodeUpdate, NewCode};
use sqlx::PgConnection;

use super::TABS;
use crate::console::editor::Editor;
use crate::console::error::PageError;
use crate::console::form::{Fields, Problems};
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::Shell;
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

/// An overdue state's or a collection category's form.
#[derive(Template)]
#[template(path = "postloan_code.html")]
pub struct CodePage {
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
#[derive(Default)]
pub struct CodeForm {
    kind: String,
    code: String,
    name: String,
    description: String,
    position: String,
    active: bool,
}

impl Editor for CodeForm {
    type New = NewCode;
    type Update = CodeUpdate;
    type Page = CodePage;
    const PATH: &'static str = "/postloan/codes";
    const READ: &'static str = "postloan.read";
    const WRITE: &'static str = "postloan.configure";

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

    /// `?kind=category` adds a collection category; anything else an overdue state.
    fn blank(query: &Fields) -> Option<CodeForm> {
        let kind = if query.one("kind") == "category" { "category" } else { "state" };
        Some(CodeForm { kind: kind.to_owned(), position: "0".to_owned(), active: true, ..CodeForm::default() })
    }

    async fn page(
        state: &AppState,
        staff: &Staff,
        id: Option<i64>,
        typed: Option<CodeForm>,
        problems: Problems,
        done: &str,
    ) -> Result<CodePage, PageError> {
        let lang = staff.lang;
        let (version, stored) = match id {
            Some(id) => {
                let c = codes::get(&mut *state.pool.acquire().await?, staff, id).await?;
                let shown = CodeForm {
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
                let blank = CodeForm {
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
            Some(typed) if id.is_some() => CodeForm { kind: stored.kind, code: stored.code, ..typed },
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

    fn to_new(fields: &Fields, shown: &CodeForm, problems: &mut Problems) -> Option<NewCode> {
        let position = fields.number("position", problems).unwrap_or_default();
        let (kind, code, name, description) =
            (shown.kind.clone(), shown.code.clone(), shown.name.clone(), shown.description.clone());
        Some(NewCode { kind, code, name, description, position })
    }

    fn to_update(fields: &Fields, shown: &CodeForm, version: i32, problems: &mut Problems) -> Option<CodeUpdate> {
        Some(CodeUpdate {
            version,
            name: Some(shown.name.clone()),
            description: Some(shown.description.clone()),
            active: Some(shown.active),
            position: fields.number("position", problems),
        })
    }

    async fn insert(db: &mut PgConnection, _: &AppState, staff: &Staff, new: NewCode) -> Result<i64, Error> {
        Ok(codes::create(db, staff, &new).await?.id)
    }

    async fn save(
        db: &mut PgConnection,
        _: &AppState,
        staff: &Staff,
        id: i64,
        update: CodeUpdate,
    ) -> Result<(), Error> {
        codes::update(db, staff, id, &update).await.map(drop)
    }
}
