//! Settings (参数设置): every company-wide setting with the value in force, its bounds and default,
//! each changed by its own form (sign-in limits, the contact rules' hours and daily cap).

use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use backoffice::system::settings::{self, SettingChange};
use serde_json::json;

use crate::console::error::PageError;
use crate::console::form::{Done, Problems, refused};
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart, settle};
use crate::console::session::Staff;
use crate::state::AppState;

async fn settings_page(state: &AppState, staff: &Staff, done: String) -> Result<RecordPage, PageError> {
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/system/users", "nav.system");
    shell.title = lang.t("system.settings").to_owned();
    let mut lines = Vec::new();
    let mut forms = Vec::new();
    for s in settings::list(&state.pool).await? {
        let Some(key) = settings::find(&s.key).map(|found| found.key) else { continue };
        let title = lang.t(&format!("setting.{key}")).to_owned();
        let range = format!("{}–{} · {} {}", s.min, s.max, lang.t("setting.default"), s.default);
        if staff.can("settings.write") {
            let input = Input::new("value", &range, "number").value(s.value.to_string());
            forms.push(ActionForm::new(key, &title, lang.t("action.save"), vec![input]));
        } else {
            lines.push((title, format!("{} ({range})", s.value)));
        }
    }
    let facts =
        if lines.is_empty() { Vec::new() } else { vec![Facts { title: lang.t("system.settings").to_owned(), lines }] };
    Ok(RecordPage { facts, forms, ..RecordPage::new(shell, done, "/system/settings".to_owned()) })
}

/// `GET /system/settings`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("settings.read")?;
    Ok(render(&settings_page(&state, &staff, done.said(staff.lang)).await?))
}

/// `POST /system/settings`: one setting's new value, at the version in force.
pub async fn set(State(state): State<AppState>, staff: Staff, multipart: Multipart) -> Result<Response, PageError> {
    let (fields, _) = accept_multipart(&staff, multipart, "settings.write").await?;
    let key = fields.one("action").to_owned();
    let mut problems = Problems::default();
    let value: i64 = fields.number("value", &mut problems).unwrap_or_default();
    let version = settings::list(&state.pool).await?.into_iter().find(|s| s.key == key).map_or(0, |s| s.version);
    let mut tx = state.pool.begin().await?;
    let outcome = if problems.is_empty() {
        settings::set(&mut tx, &staff, &key, &SettingChange { value: json!(value), version }).await.map(drop)
    } else {
        Ok(())
    };
    let problems = match settle(tx, outcome, problems, "/system/settings?done=saved").await? {
        Ok(done) => return Ok(done),
        Err(problems) => problems,
    };
    Ok(refused(&settings_page(&state, &staff, String::new()).await?.refused(&key, &fields, problems)))
}
