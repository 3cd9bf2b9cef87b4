//! Roles (角色): the list, a page that adds one, and a role's page where its name, description and
//! permissions (ticked from the catalogue) are changed. A user may grant only permissions they hold;
//! the built-in administrator role is shown, not edited.

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::Response;
use backoffice::system::permissions::CATALOGUE;
use backoffice::system::roles::{self, NewRole, RoleUpdate};

use super::{NoFilter, TABS};
use crate::console::error::PageError;
use crate::console::form::{self, Done, Fields, Problems};
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::session::Staff;
use crate::state::AppState;

/// `GET /system/roles`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("roles.read")?;
    let query: ListQuery<NoFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/system/roles",
        title: "nav.system",
        columns: vec![
            Column::plain(lang.t("role.name")).sorted("name"),
            Column::plain(lang.t("role.description")),
            Column::plain(lang.t("role.permissions")),
        ],
        tabs: TABS,
        create: staff.can("roles.write").then_some("/system/roles/new"),
        ..ListSpec::default()
    };
    let (pool, actor) = (&state.pool, &staff.caller.actor);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { roles::list(pool, actor, &page).await }),
        |r| {
            let permissions = if r.builtin { lang.t("role.all").to_owned() } else { r.permissions.join(", ") };
            let cells = vec![
                Cell::link(r.name.clone(), format!("/system/roles/{}", r.id)),
                Cell::text(r.description.clone()),
                Cell::text(permissions),
            ];
            (r.id, cells)
        },
    )
    .await
}

#[derive(Template)]
#[template(path = "system_role.html")]
struct RolePage {
    shell: Shell,
    /// `None` while being added.
    id: Option<i64>,
    version: i32,
    builtin: bool,
    role_name: String,
    description: String,
    /// (permission, label, ticked).
    permissions: Vec<(String, String, bool)>,
    may_edit: bool,
    problems: Problems,
    general: Vec<String>,
    done: String,
}

/// What the form shows: the role as stored, or what was typed when it was refused.
struct Shown {
    name: String,
    description: String,
    permissions: Vec<String>,
}

impl Shown {
    fn typed(fields: &Fields) -> Self {
        Self {
            name: fields.one("name").to_owned(),
            description: fields.one("description").to_owned(),
            permissions: fields.all("permissions"),
        }
    }
}

async fn role_page(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    typed: Option<Shown>,
    problems: Problems,
    done: &str,
) -> Result<RolePage, PageError> {
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/system/roles", "nav.system");
    let (version, builtin, stored) = match id {
        Some(id) => {
            let mut db = state.pool.acquire().await?;
            let role = roles::get(&mut db, staff, id).await?;
            shell.title = format!("{} {}", lang.t("role.title"), role.name);
            let permissions =
                if role.builtin { CATALOGUE.iter().map(|(p, _)| (*p).to_owned()).collect() } else { role.permissions };
            (role.version, role.builtin, Shown { name: role.name, description: role.description, permissions })
        }
        None => {
            shell.title = lang.t("role.new").to_owned();
            (0, false, Shown { name: String::new(), description: String::new(), permissions: Vec::new() })
        }
    };
    let shown = typed.unwrap_or(stored);
    let permissions = CATALOGUE
        .iter()
        .map(|(p, _)| {
            ((*p).to_owned(), format!("{} ({p})", lang.word("permission", p)), shown.permissions.iter().any(|s| s == p))
        })
        .collect();
    Ok(RolePage {
        shell,
        id,
        version,
        builtin,
        role_name: shown.name,
        description: shown.description,
        permissions,
        may_edit: staff.can("roles.write") && !builtin,
        general: problems.others(&["name", "description", "permissions"]),
        problems,
        done: done.to_owned(),
    })
}

/// `GET /system/roles/new`.
pub async fn new(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    staff.require("roles.write")?;
    Ok(render(&role_page(&state, &staff, None, None, Problems::default(), "").await?))
}

/// `POST /system/roles/new`: adds the role and opens its page.
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "roles.write")?;
    let shown = Shown::typed(&fields);
    let new = NewRole {
        name: shown.name.clone(),
        description: shown.description.clone(),
        permissions: shown.permissions.clone(),
    };
    let mut tx = state.pool.begin().await?;
    let outcome = roles::create(&mut tx, &staff, &new).await;
    match form::finish(tx, outcome, |role| format!("/system/roles/{}?done=saved", role.id)).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => Ok(form::refused(&role_page(&state, &staff, None, Some(shown), problems, "").await?)),
    }
}

/// `GET /system/roles/{id}`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("roles.read")?;
    let done = done.said(staff.lang);
    Ok(render(&role_page(&state, &staff, Some(id), None, Problems::default(), &done).await?))
}

/// `POST /system/roles/{id}`: saves the name, description and permissions, with the version read.
pub async fn edit(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "roles.write")?;
    let mut problems = Problems::default();
    let version = fields.number("version", &mut problems).unwrap_or_default();
    let shown = Shown::typed(&fields);
    if !problems.is_empty() {
        return Ok(form::refused(&role_page(&state, &staff, Some(id), Some(shown), problems, "").await?));
    }
    let update = RoleUpdate {
        version,
        name: Some(shown.name.clone()),
        description: Some(shown.description.clone()),
        permissions: Some(shown.permissions.clone()),
    };
    let mut tx = state.pool.begin().await?;
    let outcome = roles::update(&mut tx, &staff, id, &update).await;
    match form::finish(tx, outcome, |_| format!("/system/roles/{id}?done=saved")).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => Ok(form::refused(&role_page(&state, &staff, Some(id), Some(shown), problems, "").await?)),
    }
}
