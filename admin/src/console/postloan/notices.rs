//! Letters and reminders in the console (通知函与短信提醒): the default-notice templates by stage with
//! their versions, the reminder stages with their texts, and the forms that save a template's next
//! version or set a stage.

use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use backoffice::postloan::letters::template::{self, NewTemplate};
use backoffice::postloan::reminders::stages::{self, SetReminderStage};

use crate::console::error::PageError;
use crate::console::form::{Done, Fields, Problems, refused};
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart, settle};
use crate::console::session::Staff;
use crate::state::AppState;

async fn page(state: &AppState, staff: &Staff, done: String) -> Result<RecordPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/postloan/overdue", "nav.postloan");
    shell.title = lang.t("postloan.notices").to_owned();
    let templates = template::list(&mut db).await?;
    let reminders = stages::list(&mut db).await?;
    let facts = vec![
        Facts {
            title: lang.t("notices.letters").to_owned(),
            lines: templates
                .iter()
                .map(|t| {
                    (
                        format!("M{} v{}", t.stage, t.version),
                        format!("{} · {} {}", t.title, t.deadline_days, lang.t("notices.days")),
                    )
                })
                .collect(),
        },
        Facts {
            title: lang.t("notices.reminders").to_owned(),
            lines: reminders
                .iter()
                .map(|r| {
                    (format!("D{:+}", r.offset_days), format!("{}{}", r.template, if r.active { "" } else { " ✕" }))
                })
                .collect(),
        },
    ];
    let mut forms = Vec::new();
    if staff.can("postloan.configure") {
        forms.push(ActionForm::new(
            "letter",
            lang.t("notices.new_letter"),
            lang.t("action.save"),
            vec![
                Input::new("stage", lang.t("notices.stage"), "number").value("1"),
                Input::new("title", lang.t("notices.title"), "text"),
                Input::new("body", lang.t("notices.body"), "textarea"),
                Input::new("deadline_days", lang.t("notices.deadline_days"), "number").value("7"),
            ],
        ));
        let active = vec![("true".to_owned(), lang.yes_no(true)), ("false".to_owned(), lang.yes_no(false))];
        forms.push(ActionForm::new(
            "reminder",
            lang.t("notices.set_reminder"),
            lang.t("action.save"),
            vec![
                Input::new("offset_days", lang.t("notices.offset_days"), "number").value("-3"),
                Input::new("template", lang.t("notices.body"), "textarea"),
                Input::select("active", lang.t("code.active"), active),
            ],
        ));
    }
    Ok(RecordPage { facts, forms, ..RecordPage::new(shell, done, "/postloan/notices".to_owned()) })
}

/// `GET /postloan/notices`.
pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    Ok(render(&page(&state, &staff, done.said(staff.lang)).await?))
}

/// `POST /postloan/notices`: a template's next version, or a reminder stage.
pub async fn save(State(state): State<AppState>, staff: Staff, multipart: Multipart) -> Result<Response, PageError> {
    let (fields, _): (Fields, _) = accept_multipart(&staff, multipart, "postloan.configure").await?;
    let action = fields.one("action").to_owned();
    let mut problems = Problems::default();
    let mut tx = state.pool.begin().await?;
    let outcome = match action.as_str() {
        "letter" => {
            let new = NewTemplate {
                stage: fields.number("stage", &mut problems).unwrap_or_default(),
                title: fields.one("title").to_owned(),
                body: fields.one("body").to_owned(),
                deadline_days: fields.number("deadline_days", &mut problems).unwrap_or_default(),
            };
            template::save(&mut tx, &staff, &new).await.map(drop)
        }
        "reminder" => {
            let stage = SetReminderStage {
                offset_days: fields.number("offset_days", &mut problems).unwrap_or(i32::MIN),
                template: fields.one("template").to_owned(),
                active: fields.one("active") != "false",
            };
            stages::set(&mut tx, &staff, &stage).await.map(drop)
        }
        other => return Err(PageError::Invalid(format!("action: `{other}` is not one of this page's forms"))),
    };
    match settle(tx, outcome, problems, "/postloan/notices?done=saved").await? {
        Ok(done) => Ok(done),
        Err(problems) => Ok(refused(&page(&state, &staff, String::new()).await?.refused(&action, &fields, problems))),
    }
}
