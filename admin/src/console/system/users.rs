//! Users (用户): the list, and a user's page with the form that edits them (name, phone, region,
//! roles, positions, whether they may sign in) and the buttons that unlock the account or sign them
//! out everywhere.

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use backoffice::Error;
use backoffice::kit::list::PageParams;
use sqlx::PgConnection;

use super::TABS;
use super::region_choices;
use crate::console::editor::{self, Editor};
use crate::console::error::PageError;
use crate::console::form::{self, Fields, Problems};
use crate::console::format::local_time;
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::Shell;
use crate::console::session::Staff;
use crate::state::AppState;
use backoffice::dealers::dealer::{self, DealerFilter};
use backoffice::system::users::{self, NewUser, UserFilter, UserUpdate, UserView};
use backoffice::system::{positions, roles};

/// `GET /system/users`.
pub async fn list(
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
        create: staff.can("users.write").then_some("/system/users/new"),
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

/// A user's form.
#[derive(Template)]
#[template(path = "system_user.html")]
pub struct UserPage {
    shell: Shell,
    /// `None` while being added.
    id: Option<i64>,
    username: String,
    version: i32,
    display_name: String,
    phone: String,
    region: String,
    regions: Vec<(String, String)>,
    /// For a new user: the dealer they work for (none: the company's own staff), and the choices.
    dealer: String,
    dealers: Vec<(String, String)>,
    active: bool,
    locked_until: String,
    roles: Vec<(String, String, bool)>,
    positions: Vec<(String, String, bool)>,
    may_edit: bool,
    problems: Problems,
    general: Vec<String>,
    done: String,
}

/// What the form shows: the user as stored, or what was typed when it was refused (never the
/// password, nor the phone number, which is stored sealed and shown masked).
pub struct UserForm {
    username: String,
    display_name: String,
    phone: String,
    region: String,
    dealer: String,
    active: bool,
    roles: Vec<String>,
    positions: Vec<String>,
}

impl UserForm {
    fn of(user: &UserView) -> Self {
        Self {
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            phone: String::new(),
            region: user.region_id.to_string(),
            dealer: String::new(),
            active: user.active,
            roles: user.roles.clone(),
            positions: user.positions.clone(),
        }
    }
}

/// The fields of the form: a refusal of any other is said at the top.
const FIELDS: &[&str] =
    &["username", "password", "display_name", "phone", "region_id", "dealer_id", "active", "roles", "positions"];

/// `POST /system/users/{id}`: `action=save` writes the form (with the version read), `unlock`
/// lifts a lockout, `sign_out` ends every session of the user.
pub async fn edit(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(sent): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let action = sent.iter().find(|(name, _)| name == "action").map(|(_, v)| v.clone()).unwrap_or_default();
    if action == "save" {
        return editor::edit::<UserForm>(State(state), staff, Path(id), Form(sent)).await;
    }
    form::accept(&staff, sent, UserForm::WRITE)?;
    let mut tx = state.pool.begin().await?;
    let (done, word) = match action.as_str() {
        "unlock" => (users::unlock(&mut tx, &state.vault, &staff, id).await.map(drop), "unlocked"),
        "sign_out" => (users::revoke_sessions(&mut tx, &state.vault, &staff, id).await.map(drop), "signed_out"),
        other => return Err(PageError::Invalid(format!("action: {other} is not save, unlock or sign_out"))),
    };
    match form::finish(tx, done, |_| format!("/system/users/{id}?done={word}")).await? {
        Ok(done) => Ok(done),
        Err(problems) => Ok(form::refused(&UserForm::page(&state, &staff, Some(id), None, problems, "").await?)),
    }
}

impl Editor for UserForm {
    type New = NewUser;
    type Update = UserUpdate;
    type Page = UserPage;
    const PATH: &'static str = "/system/users";
    const READ: &'static str = "users.read";
    const WRITE: &'static str = "users.write";

    fn typed(fields: &Fields) -> Self {
        Self {
            username: fields.one("username").trim().to_owned(),
            display_name: fields.one("display_name").to_owned(),
            phone: fields.one("phone").trim().to_owned(),
            region: fields.one("region_id").to_owned(),
            dealer: fields.one("dealer_id").to_owned(),
            active: fields.one("active") != "false",
            roles: fields.all("roles"),
            positions: fields.all("positions"),
        }
    }

    async fn page(
        state: &AppState,
        staff: &Staff,
        id: Option<i64>,
        typed: Option<UserForm>,
        problems: Problems,
        done: &str,
    ) -> Result<UserPage, PageError> {
        let lang = staff.lang;
        let mut shell = Shell::new(staff, "/system/users", "nav.system");
        let (version, locked_until, stored) = match id {
            Some(id) => {
                let mut db = state.pool.acquire().await?;
                let user = users::get(&mut db, &state.vault, staff, id).await?;
                shell.title = format!("{} {}", lang.t("system.user"), user.username);
                let locked = user.locked_until.map(|t| local_time(&t, state.utc_offset_hours)).unwrap_or_default();
                (user.version, locked, UserForm::of(&user))
            }
            None => {
                shell.title = lang.t("user.new").to_owned();
                let region = staff.caller.actor.region_id.to_string();
                let blank = UserForm {
                    username: String::new(),
                    display_name: String::new(),
                    phone: String::new(),
                    region,
                    dealer: String::new(),
                    active: true,
                    roles: Vec::new(),
                    positions: Vec::new(),
                };
                (0, String::new(), blank)
            }
        };
        let shown = match typed {
            // A user's name is not changed once given.
            Some(typed) if id.is_some() => UserForm { username: stored.username, ..typed },
            Some(typed) => typed,
            None => stored,
        };
        let all = PageParams { limit: Some(200), ..PageParams::default() };
        let regions = region_choices(state, staff).await?;
        let mut dealers = vec![(String::new(), lang.t("user.no_dealer").to_owned())];
        if staff.can("dealers.read") {
            let found = dealer::list(&state.pool, staff, &all, &DealerFilter::default()).await?.items;
            dealers.extend(found.into_iter().map(|d| (d.id.to_string(), d.name)));
        }
        let roles =
            if staff.can("roles.read") { roles::list(&state.pool, staff, &all).await?.items } else { Vec::new() };
        let roles =
            roles.into_iter().map(|r| (r.name.clone(), r.name.clone(), shown.roles.contains(&r.name))).collect();
        let positions = if staff.can("positions.read") {
            positions::list(&state.pool, staff, &all).await?.items
        } else {
            Vec::new()
        };
        let positions = positions
            .into_iter()
            .map(|p| (p.code.clone(), format!("{} ({})", p.name, p.code), shown.positions.contains(&p.code)))
            .collect();
        Ok(UserPage {
            shell,
            id,
            username: shown.username,
            version,
            display_name: shown.display_name,
            phone: shown.phone,
            region: shown.region,
            regions,
            dealer: shown.dealer,
            dealers,
            active: shown.active,
            locked_until,
            roles,
            positions,
            may_edit: staff.can("users.write"),
            general: problems.others(FIELDS),
            problems,
            done: done.to_owned(),
        })
    }

    fn to_new(fields: &Fields, shown: &UserForm, problems: &mut Problems) -> Option<NewUser> {
        let region_id = fields.number("region_id", problems);
        if region_id.is_none() && problems.is_empty() {
            problems.add("region_id", "is required");
        }
        Some(NewUser {
            username: shown.username.clone(),
            display_name: shown.display_name.clone(),
            password: fields.one("password").to_owned(),
            phone: Some(shown.phone.clone()).filter(|p| !p.is_empty()),
            region_id: region_id?,
            roles: shown.roles.clone(),
            positions: shown.positions.clone(),
            dealer_id: Some(shown.dealer.trim()).filter(|d| !d.is_empty()).and_then(|d| d.parse().ok()),
        })
    }

    fn to_update(fields: &Fields, shown: &UserForm, version: i32, problems: &mut Problems) -> Option<UserUpdate> {
        Some(UserUpdate {
            version,
            display_name: Some(shown.display_name.clone()),
            // An empty phone field leaves the number as it is; it is shown masked, never filled in.
            phone: Some(shown.phone.clone()).filter(|p| !p.is_empty()),
            region_id: fields.number("region_id", problems),
            active: Some(shown.active),
            roles: Some(shown.roles.clone()),
            positions: Some(shown.positions.clone()),
        })
    }

    async fn insert(db: &mut PgConnection, state: &AppState, staff: &Staff, new: NewUser) -> Result<i64, Error> {
        Ok(users::create(db, &state.vault, state.hash_cost, staff, new).await?.id)
    }

    async fn save(
        db: &mut PgConnection,
        state: &AppState,
        staff: &Staff,
        id: i64,
        update: UserUpdate,
    ) -> Result<(), Error> {
        users::update(db, &state.vault, staff, id, &update).await.map(drop)
    }
}
