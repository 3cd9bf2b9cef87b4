//! System pages (系统管理): users, roles, positions and regions, as tabs of one area; a user's page
//! with the form that edits them (name, phone, region, roles, positions, whether they may sign
//! in) and the buttons that unlock the account or sign them out everywhere.

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::kit::list::PageParams;
use backoffice::system::regions::{self, RegionFilter};
use backoffice::system::users::{self, UserFilter, UserUpdate, UserView};
use backoffice::system::{positions, roles};
use serde::Deserialize;

use super::error::PageError;
use super::form::{self, Done, Problems};
use super::format::local_time;
use super::list::{self, Cell, Column, ListQuery, ListSpec};
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;

/// The area's pages, as tabs.
const TABS: &[(&str, &str)] = &[
    ("/system/users", "system.users"),
    ("/system/roles", "system.roles"),
    ("/system/positions", "system.positions"),
    ("/system/regions", "system.regions"),
];

/// A list without filters of its own.
#[derive(Deserialize)]
pub struct NoFilter {}

/// The regions of the user's subtree for a choice, as (id, name indented by depth).
pub async fn region_choices(state: &AppState, staff: &Staff) -> Result<Vec<(String, String)>, PageError> {
    let all = PageParams { limit: Some(200), ..PageParams::default() };
    let found = regions::list(&state.pool, staff, &all, &RegionFilter::default()).await?.items;
    let depth = |path: &str| path.matches('/').count().saturating_sub(2);
    Ok(found.into_iter().map(|g| (g.id.to_string(), format!("{}{}", "· ".repeat(depth(&g.path)), g.name))).collect())
}

/// `GET /system/users`.
pub async fn users(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("users.read")?;
    let query: ListQuery<UserFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let answers = vec![("true".to_owned(), lang.yes_no(true)), ("false".to_owned(), lang.yes_no(false))];
    let spec = ListSpec {
        path: "/system/users",
        title: "nav.system",
        filters: vec![
            query.field("q", lang.t("user.q"), "text"),
            query.choice("active", lang.t("user.active"), answers),
            query.field("role", lang.t("user.role"), "text"),
            query.field("position", lang.t("user.position"), "text"),
        ],
        columns: vec![
            Column::plain(lang.t("user.username")).sorted("username"),
            Column::plain(lang.t("user.display_name")),
            Column::plain(lang.t("user.region")),
            Column::plain(lang.t("user.roles")),
            Column::plain(lang.t("user.positions")),
            Column::plain(lang.t("user.active")),
        ],
        tabs: TABS,
        ..ListSpec::default()
    };
    let (pool, vault, actor, filter) = (&state.pool, &state.vault, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { users::list(pool, vault, actor, &page, filter).await }),
        |u| {
            let cells = vec![
                Cell::link(u.username.clone(), format!("/system/users/{}", u.id)),
                Cell::text(u.display_name.clone()),
                Cell::text(u.region_name.clone()),
                Cell::text(u.roles.join(", ")),
                Cell::text(u.positions.join(", ")),
                Cell::text(lang.yes_no(u.active)),
            ];
            (u.id, cells)
        },
    )
    .await
}

/// `GET /system/roles`.
pub async fn roles(
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
        filters: Vec::new(),
        columns: vec![
            Column::plain(lang.t("role.name")).sorted("name"),
            Column::plain(lang.t("role.description")),
            Column::plain(lang.t("role.permissions")),
        ],
        tabs: TABS,
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
            (r.id, vec![Cell::text(r.name.clone()), Cell::text(r.description.clone()), Cell::text(permissions)])
        },
    )
    .await
}

/// `GET /system/positions`.
pub async fn positions(
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

/// `GET /system/regions`.
pub async fn regions(
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
        filters: vec![query.field("level", lang.t("region.level"), "text")],
        columns: vec![
            Column::plain(lang.t("region.path")).sorted("path"),
            Column::plain(lang.t("region.code")).sorted("code"),
            Column::plain(lang.t("region.name")).sorted("name"),
            Column::plain(lang.t("region.level")),
        ],
        tabs: TABS,
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
                Cell::text(g.level.clone()),
            ];
            (g.id, cells)
        },
    )
    .await
}

#[derive(Template)]
#[template(path = "system_user.html")]
struct UserPage {
    shell: Shell,
    id: i64,
    username: String,
    version: i32,
    display_name: String,
    phone: String,
    region: String,
    regions: Vec<(String, String)>,
    active: bool,
    locked_until: String,
    roles: Vec<(String, String, bool)>,
    positions: Vec<(String, String, bool)>,
    may_edit: bool,
    problems: Problems,
    done: String,
}

/// What the form shows: the user as stored, or what was typed when it was refused.
struct Shown {
    display_name: String,
    phone: String,
    region: String,
    active: bool,
    roles: Vec<String>,
    positions: Vec<String>,
}

impl Shown {
    fn of(user: &UserView) -> Self {
        Self {
            display_name: user.display_name.clone(),
            phone: String::new(),
            region: user.region_id.to_string(),
            active: user.active,
            roles: user.roles.clone(),
            positions: user.positions.clone(),
        }
    }
}

async fn user_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    shown: Option<Shown>,
    problems: Problems,
    done: &str,
) -> Result<UserPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let user = users::get(&mut db, &state.vault, staff, id).await?;
    drop(db);
    let shown = shown.unwrap_or_else(|| Shown::of(&user));
    let all = PageParams { limit: Some(200), ..PageParams::default() };
    let regions = region_choices(state, staff).await?;
    let roles = if staff.can("roles.read") { roles::list(&state.pool, staff, &all).await?.items } else { Vec::new() };
    let roles = roles.into_iter().map(|r| (r.name.clone(), r.name.clone(), shown.roles.contains(&r.name))).collect();
    let positions =
        if staff.can("positions.read") { positions::list(&state.pool, staff, &all).await?.items } else { Vec::new() };
    let positions = positions
        .into_iter()
        .map(|p| (p.code.clone(), format!("{} ({})", p.name, p.code), shown.positions.contains(&p.code)))
        .collect();
    let mut shell = Shell::new(staff, "/system/users", "nav.system");
    shell.title = format!("{} {}", staff.lang.t("system.user"), user.username);
    Ok(UserPage {
        shell,
        id,
        username: user.username,
        version: user.version,
        display_name: shown.display_name,
        phone: shown.phone,
        region: shown.region,
        regions,
        active: shown.active,
        locked_until: user.locked_until.map(|t| local_time(&t, state.utc_offset_hours)).unwrap_or_default(),
        roles,
        positions,
        may_edit: staff.can("users.write"),
        problems,
        done: done.to_owned(),
    })
}

/// `GET /system/users/{id}`.
pub async fn user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> Result<Response, PageError> {
    staff.require("users.read")?;
    let done = done.said(staff.lang);
    Ok(render(&user_page(&state, &staff, id, None, Problems::default(), &done).await?))
}

/// `POST /system/users/{id}`: `action=save` writes the form (with the version read), `unlock`
/// lifts a lockout, `sign_out` ends every session of the user.
pub async fn edit_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "users.write")?;
    let mut problems = Problems::default();
    let mut tx = state.pool.begin().await?;
    let (done, shown) = match fields.one("action") {
        "unlock" => (users::unlock(&mut tx, &state.vault, &staff, id).await.map(|_| ()), None),
        "sign_out" => (users::revoke_sessions(&mut tx, &state.vault, &staff, id).await.map(|_| ()), None),
        "save" => {
            let version = fields.number("version", &mut problems).unwrap_or_default();
            let region_id = fields.number("region_id", &mut problems);
            let shown = Shown {
                display_name: fields.one("display_name").to_owned(),
                phone: fields.one("phone").trim().to_owned(),
                region: fields.one("region_id").to_owned(),
                active: fields.one("active") == "true",
                roles: fields.all("roles"),
                positions: fields.all("positions"),
            };
            if !problems.is_empty() {
                drop(tx);
                return Ok(form::refused(&user_page(&state, &staff, id, Some(shown), problems, "").await?));
            }
            let update = UserUpdate {
                version,
                display_name: Some(shown.display_name.clone()),
                // An empty phone field leaves the number as it is; it is shown masked, never filled in.
                phone: Some(shown.phone.clone()).filter(|p| !p.is_empty()),
                region_id,
                active: Some(shown.active),
                roles: Some(shown.roles.clone()),
                positions: Some(shown.positions.clone()),
            };
            (users::update(&mut tx, &state.vault, &staff, id, &update).await.map(|_| ()), Some(shown))
        }
        other => return Err(PageError::Invalid(format!("action: {other} is not save, unlock or sign_out"))),
    };
    match done {
        Ok(()) => {
            tx.commit().await?;
            let word = match fields.one("action") {
                "unlock" => "unlocked",
                "sign_out" => "signed_out",
                _ => "saved",
            };
            Ok(Redirect::to(&format!("/system/users/{id}?done={word}")).into_response())
        }
        Err(e) => {
            drop(tx);
            let problems = Problems::of(e)?;
            Ok(form::refused(&user_page(&state, &staff, id, shown, problems, "").await?))
        }
    }
}
