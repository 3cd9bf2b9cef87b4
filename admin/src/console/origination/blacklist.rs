//! The blacklist in the console (黑名单): every entry with its masked numbers and reason, the form
//! that adds a person and the one that lifts an entry, each refused beside the field that is wrong.

use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use backoffice::customers::blacklist::{self, Lift, NewEntry};

use crate::console::error::PageError;
use crate::console::form::{Done, Problems, refused};
use crate::console::format::local_time;
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart, settle};
use crate::console::session::Staff;
use crate::state::AppState;

async fn blacklist_page(state: &AppState, staff: &Staff, done: String) -> Result<RecordPage, PageError> {
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/origination/applications", "nav.origination");
    shell.title = lang.t("origination.blacklist").to_owned();
    let entries = blacklist::list(&mut *state.pool.acquire().await?, &state.vault).await?;
    let offset = state.utc_offset_hours;
    let facts = entries
        .iter()
        .map(|e| {
            let mut lines = vec![
                (
                    lang.t("blacklist.numbers").to_owned(),
                    [e.id_number.clone(), e.phone.clone()].into_iter().flatten().collect::<Vec<_>>().join(" · "),
                ),
                (lang.t("blacklist.reason").to_owned(), e.reason.clone()),
                (lang.t("blacklist.added_at").to_owned(), local_time(&e.added_at, offset)),
            ];
            if let (Some(at), Some(why)) = (&e.lifted_at, &e.lift_reason) {
                lines.push((lang.t("blacklist.lifted").to_owned(), format!("{} · {why}", local_time(at, offset))));
            }
            Facts { title: format!("{} · {}", e.name, lang.word("blacklist.status", &e.status)), lines }
        })
        .collect();
    let mut forms = Vec::new();
    if staff.can("blacklist.write") {
        forms.push(ActionForm::new(
            "add",
            lang.t("blacklist.add"),
            lang.t("blacklist.add"),
            vec![
                Input::new("name", lang.t("blacklist.name"), "text"),
                Input::new("id_number", lang.t("blacklist.id_number"), "text"),
                Input::new("phone", lang.t("blacklist.phone"), "text"),
                Input::new("reason", lang.t("blacklist.reason"), "textarea"),
            ],
        ));
        let active: Vec<(String, String)> = entries
            .iter()
            .filter(|e| e.status == "active")
            .map(|e| {
                (format!("{}:{}", e.id, e.version), format!("{} {}", e.name, e.id_number.clone().unwrap_or_default()))
            })
            .collect();
        if !active.is_empty() {
            forms.push(ActionForm::new(
                "lift",
                lang.t("blacklist.lift"),
                lang.t("blacklist.lift"),
                vec![
                    Input::select("entry", lang.t("blacklist.entry"), active),
                    Input::new("reason", lang.t("blacklist.lift_reason"), "textarea"),
                ],
            ));
        }
    }
    Ok(RecordPage { facts, forms, ..RecordPage::new(shell, done, "/origination/blacklist".to_owned()) })
}

/// `GET /origination/blacklist`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("blacklist.read")?;
    Ok(render(&blacklist_page(&state, &staff, done.said(staff.lang)).await?))
}

/// `POST /origination/blacklist`: a person added or an entry lifted.
pub async fn act(State(state): State<AppState>, staff: Staff, multipart: Multipart) -> Result<Response, PageError> {
    let (fields, _) = accept_multipart(&staff, multipart, "blacklist.write").await?;
    let action = fields.one("action").to_owned();
    let mut problems = Problems::default();
    let mut tx = state.pool.begin().await?;
    let given = |name: &str| Some(fields.one(name).trim().to_owned()).filter(|v| !v.is_empty());
    let outcome = if action == "lift" {
        // The entry and the version it was read at travel together in the choice.
        let chosen = fields.one("entry").split_once(':').and_then(|(id, v)| Some((id.parse().ok()?, v.parse().ok()?)));
        match chosen {
            Some((id, version)) => {
                let lift = Lift { reason: fields.one("reason").to_owned(), version };
                blacklist::lift(&mut tx, &state.vault, &staff, id, &lift).await.map(drop)
            }
            None => {
                problems.add("entry", "choose the entry to lift");
                Ok(())
            }
        }
    } else {
        let new = NewEntry {
            name: fields.one("name").to_owned(),
            id_number: given("id_number"),
            phone: given("phone"),
            reason: fields.one("reason").to_owned(),
        };
        blacklist::add(&mut tx, &state.vault, &staff, &new).await.map(drop)
    };
    let problems = match settle(tx, outcome, problems, "/origination/blacklist?done=saved").await? {
        Ok(done) => return Ok(done),
        Err(problems) => problems,
    };
    Ok(refused(&blacklist_page(&state, &staff, String::new()).await?.refused(&action, &fields, problems)))
}
