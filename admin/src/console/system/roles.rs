//! Roles (角色): the list, a page that adds one, and a role's page where its name, description and
//! permissions (ticked from the catalogue) are changed. A user may grant only permissions they hold;
//! the built-in administrator role is shown, not edited.

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use backoffice::Error;
use backoffice::system::permissions::CATALOGUE;
use backoffice::system::roles::{self, NewRole, RoleUpdate};
use sqlx::PgConnection;

use super::{NoFilter, TABS};
use crate::console::editor::Editor;
use crate::console::error::PageError;
use crate::console::form::{Fields, Problems};
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::Shell;
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

/// A role's form.
#[derive(Template)]
#[template(path = "system_role.html")]
pub struct RolePage {
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
pub struct RoleForm {
    name: String,
    description: String,
    permissions: Vec<String>,
}

impl Editor for RoleForm {
    type New = NewRole;
    type Update = RoleUpdate;
    type Page = RolePage;
    const PATH: &'static str = "/system/roles";
    const READ: &'static str = "roles.read";
    const WRITE: &'static str = "roles.write";

    fn typed(fields: &Fields) -> RoleForm {
        RoleForm {
            name: fields.one("name").to_owned(),
            description: fields.one("description").to_owned(),
            permissions: fields.all("permissions"),
        }
    }

    async fn page(
        state: &AppState,
        staff: &Staff,
        id: Option<i64>,
        typed: Option<RoleForm>,
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
                let permissions = if role.builtin {
                    CATALOGUE.iter().map(|(p, _)| (*p).to_owned()).collect()
                } else {
                    role.permissions
                };
                (role.version, role.builtin, RoleForm { name: role.name, description: role.description, permissions })
            }
            None => {
                shell.title = lang.t("role.new").to_owned();
                (0, false, RoleForm { name: String::new(), description: String::new(), permissions: Vec::new() })
            }
        };
        let shown = typed.unwrap_or(stored);
        let permissions = CATALOGUE
            .iter()
            .map(|(p, _)| {
                (
                    (*p).to_owned(),
                    format!("{} ({p})", lang.word("permission", p)),
                    shown.permissions.iter().any(|s| s == p),
                )
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

    fn to_new(_: &Fields, shown: &RoleForm, _: &mut Problems) -> Option<NewRole> {
        let (name, description, permissions) =
            (shown.name.clone(), shown.description.clone(), shown.permissions.clone());
        Some(NewRole { name, description, permissions })
    }

    fn to_update(_: &Fields, shown: &RoleForm, version: i32, _: &mut Problems) -> Option<RoleUpdate> {
        Some(RoleUpdate {
            version,
            name: Some(shown.name.clone()),
            description: Some(shown.description.clone()),
            permissions: Some(shown.permissions.clone()),
        })
    }

    async fn insert(db: &mut PgConnection, _: &AppState, staff: &Staff, new: NewRole) -> Result<i64, Error> {
        Ok(roles::create(db, staff, &new).await?.id)
    }

    async fn save(
        db: &mut PgConnection,
        _: &AppState,
        staff: &Staff,
        id: i64,
        update: RoleUpdate,
    ) -> Result<(), Error> {
        roles::update(db, staff, id, &update).await.map(drop)
    }
}
