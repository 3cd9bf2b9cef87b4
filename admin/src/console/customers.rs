//! A customer's particulars and their changes (客户信息变更): the history of what was asked, approved
//! or rejected, with the values each change replaced, and the form that asks for a new address,
//! employer or phone — carried out only when a second person approves in the workflow inbox. Beside
//! them the customer's contact preferences, set at once: their time zone (the contact rules' hours)
//! and whether they take reminders.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use backoffice::customers::changes::{self, ChangeRequest, ContactChange as ChangeContact};
use backoffice::customers::customer::{self, CustomerTimeZone, SmsOptOut};
use backoffice::kit::day;

use super::error::PageError;
use super::form::{self, Done, Fields, Problems};
use super::format::local_time;
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;

/// One change as the history shows it.
struct ChangeLine {
    at: String,
    status: String,
    asked: String,
    replaced: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "customer_changes.html")]
struct ChangesPage {
    shell: Shell,
    id: i64,
    name: String,
    address: String,
    employer: String,
    phone: String,
    lines: Vec<ChangeLine>,
    may_ask: bool,
    typed: [String; 8],
    problems: Problems,
    general: Vec<String>,
    done: String,
    /// The time zones to choose from, the first being the company's.
    zones: Vec<(String, String)>,
    preferences: Preferences,
}

/// The fields of the preferences form.
const PREFERENCE_FIELDS: &[&str] = &["time_zone", "sms_opt_out"];

/// The contact preferences as shown or as typed.
#[derive(Default)]
struct Preferences {
    time_zone: String,
    opt_out: bool,
    problems: Problems,
}

/// The fields of the form, in order.
const FIELDS: [&str; 8] =
    ["address", "employer", "phone", "reason", "contact.role", "contact.name", "contact.relation", "contact.phone"];

/// What a change asked for or replaced, in words.
fn values(parts: [Option<String>; 4]) -> String {
    parts.into_iter().flatten().filter(|p| !p.trim().is_empty()).collect::<Vec<_>>().join(" · ")
}

async fn changes_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    typed: [String; 8],
    problems: Problems,
    done: &str,
    preferences: Option<Preferences>,
) -> Result<ChangesPage, PageError> {
    let lang = staff.lang;
    let mut db = state.pool.acquire().await?;
    let c = customer::get(&mut db, &state.vault, staff, id).await?;
    let lines = changes::history(&mut db, &state.vault, staff, id)
        .await?
        .into_iter()
        .map(|k| ChangeLine {
            at: local_time(&k.created_at, state.utc_offset_hours),
            status: lang.word("change.status", &k.status),
            asked: values([
                k.address,
                k.employer,
                k.phone,
                k.contact_name.as_ref().map(|name| {
                    let role = lang.word("change.role", k.contact_role.as_deref().unwrap_or(""));
                    let relation = k.contact_relation.clone().unwrap_or_default();
                    format!("{role} {name} {relation} {}", k.contact_phone.clone().unwrap_or_default())
                }),
            ]),
            replaced: values([
                k.old_address,
                k.old_employer,
                k.old_phone,
                k.old_contact_phone.map(|phone| format!("{} {phone}", k.old_contact_relation.unwrap_or_default())),
            ]),
            reason: k.reason,
        })
        .collect();
    let mut shell = Shell::new(staff, "/contracts", "nav.contracts");
    shell.title = format!("{} · {}", lang.t("change.title"), c.name);
    let dash = |v: Option<String>| v.unwrap_or_else(|| "—".to_owned());
    let preferences = preferences.unwrap_or_else(|| Preferences {
        time_zone: c.time_zone.clone().unwrap_or_default(),
        opt_out: c.sms_opt_out,
        problems: Problems::default(),
    });
    let zones = std::iter::once((String::new(), lang.t("customer.company_zone").to_owned()))
        .chain(day::zones(&mut db).await?.into_iter().map(|z| (z.clone(), z)))
        .collect();
    Ok(ChangesPage {
        shell,
        id,
        name: c.name,
        address: dash(c.address),
        employer: dash(c.employer),
        phone: dash(c.phone),
        lines,
        may_ask: staff.can("customers.write"),
        typed,
        general: problems.others(&[&FIELDS[..], &["contact"]].concat()),
        problems,
        done: done.to_owned(),
        zones,
        preferences,
    })
}

/// `GET /customers/{id}/changes` (and `/preferences`, where its preferences form posts).
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("customers.read")?;
    let done = done.said(staff.lang);
    Ok(render(&changes_page(&state, &staff, id, Default::default(), Problems::default(), &done, None).await?))
}

/// `POST /customers/{id}/changes`: asks for the change; it waits for approval.
pub async fn ask(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields: Fields = form::accept(&staff, fields, "customers.write")?;
    let typed = FIELDS.map(|f| fields.one(f).to_owned());
    let optional = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let request = ChangeRequest {
        address: optional(&typed[0]),
        employer: optional(&typed[1]),
        phone: optional(&typed[2]),
        contact: optional(&typed[5]).map(|name| ChangeContact {
            role: typed[4].clone(),
            name,
            relation: optional(&typed[6]),
            phone: optional(&typed[7]),
        }),
        reason: typed[3].clone(),
    };
    let mut tx = state.pool.begin().await?;
    let outcome = changes::request(&mut tx, &state.vault, &staff, id, &request).await;
    match form::finish(tx, outcome, |_| format!("/customers/{id}/changes?done=asked")).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => Ok(form::refused(&changes_page(&state, &staff, id, typed, problems, "", None).await?)),
    }
}

/// `POST /customers/{id}/preferences`: sets the customer's time zone and reminders choice at once.
pub async fn set_preferences(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields: Fields = form::accept(&staff, fields, "customers.write")?;
    let time_zone = fields.one("time_zone").trim().to_owned();
    let opt_out = fields.one("sms_opt_out") == "on";
    let mut tx = state.pool.begin().await?;
    let zone = CustomerTimeZone { time_zone: Some(time_zone.clone()).filter(|z| !z.is_empty()) };
    let outcome = match customer::set_time_zone(&mut tx, &staff, id, &zone).await {
        Ok(()) => customer::set_sms_opt_out(&mut tx, &staff, id, &SmsOptOut { opt_out }).await,
        Err(e) => Err(e),
    };
    match form::finish(tx, outcome, |_| format!("/customers/{id}/changes?done=saved")).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => {
            let typed = Preferences { time_zone, opt_out, problems };
            let page =
                changes_page(&state, &staff, id, Default::default(), Problems::default(), "", Some(typed)).await?;
            Ok(form::refused(&page))
        }
    }
}
