//! Partial prepayment on a contract's page (部分提前还款): the date, amount and choice (lower
//! installment or shorter term) previewed as the new schedule before anything changes, then asked
//! for with a reason; a second person approves it in the inbox.

use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::books::contract;
use backoffice::books::prepayment::{self, PrepaymentQuery, PrepaymentRequest};
use leasewatch_finance::prepayment::{Mode, Plan};

use super::error::PageError;
use super::form::{Fields, Problems, refused};
use super::format::{company_today, money};
use super::page::{Shell, render};
use super::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart};
use super::session::Staff;
use crate::state::AppState;

const MODES: &[&str] = &["lower_installment", "shorten_term"];

/// The page: the preview form, and once previewed the plan with the form that asks for it.
async fn page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    typed: &Fields,
    plan: Option<&Plan>,
) -> Result<RecordPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let c = contract::TABLE.load(&mut db, staff, id).await?;
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/contracts", "nav.contracts");
    shell.title = format!("{} · {}", lang.t("prepayment.title"), c.number);
    let modes: Vec<(String, String)> =
        MODES.iter().map(|m| ((*m).to_owned(), lang.word("prepayment.mode", m))).collect();
    let value =
        |name: &str, default: String| Some(typed.one(name).to_owned()).filter(|v| !v.is_empty()).unwrap_or(default);
    let inputs = || {
        vec![
            Input::new("date", lang.t("prepayment.date"), "date")
                .value(value("date", company_today(state.utc_offset_hours).to_string())),
            Input::new("amount", lang.t("prepayment.amount"), "text").value(value("amount", String::new())),
            Input::select("mode", lang.t("prepayment.mode"), modes.clone()).value(value("mode", MODES[0].to_owned())),
        ]
    };
    let mut forms =
        vec![ActionForm::new("preview", lang.t("prepayment.preview"), lang.t("prepayment.preview"), inputs())];
    let mut facts = Vec::new();
    let mut history = None;
    if let Some(plan) = plan {
        let line = |key: &str, v: String| (lang.t(key).to_owned(), v);
        facts.push(Facts {
            title: lang.t("prepayment.plan").to_owned(),
            lines: vec![
                line("prepayment.principal_before", money(&plan.principal_before)),
                line("prepayment.amount", money(&plan.amount)),
                line("prepayment.accrued_interest", money(&plan.accrued_interest)),
                line("prepayment.fee", money(&plan.fee)),
                line("prepayment.total", money(&plan.total)),
                line("prepayment.principal_after", money(&plan.principal_after)),
                line(
                    "prepayment.installment",
                    format!("{} → {}", money(&plan.installment_before), money(&plan.installment_after)),
                ),
                line("prepayment.periods", format!("{} → {}", plan.periods_before, plan.periods_after)),
            ],
        });
        let heads = [
            "prepayment.period",
            "prepayment.due_date",
            "prepayment.principal",
            "prepayment.interest",
            "prepayment.payment",
        ]
        .iter()
        .map(|k| lang.t(k).to_owned())
        .collect();
        let rows = plan
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.period.to_string(),
                    r.due_date.to_string(),
                    money(&r.principal),
                    money(&r.interest),
                    money(&(r.principal + r.interest + r.fee)),
                ]
            })
            .collect();
        history = Some((lang.t("prepayment.new_schedule").to_owned(), heads, rows));
        let mut ask = inputs();
        ask.push(Input::new("reason", lang.t("repossession.reason"), "text").value(value("reason", String::new())));
        forms.push(ActionForm::new("request", lang.t("prepayment.request"), lang.t("prepayment.request"), ask));
    }
    let links = vec![(lang.t("contract.title").to_owned(), format!("/contracts/{id}"))];
    Ok(RecordPage {
        links,
        facts,
        history,
        forms,
        ..RecordPage::new(shell, String::new(), format!("/contracts/{id}/prepayment"))
    })
}

/// `GET /contracts/{id}/prepayment`.
pub async fn show(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Result<Response, PageError> {
    staff.require("contracts.read")?;
    Ok(render(&page(&state, &staff, id, &Fields::default(), None).await?))
}

/// What the form asks: refused beside the field it came from.
fn query(fields: &Fields, problems: &mut Problems) -> Option<PrepaymentQuery> {
    let date = fields.one("date").parse().map_err(|_| problems.add("date", "must be a date")).ok();
    let amount = fields.amount("amount", problems);
    let mode = match fields.one("mode") {
        "shorten_term" => Some(Mode::ShortenTerm),
        "lower_installment" => Some(Mode::LowerInstallment),
        _ => {
            problems.add("mode", "choose a lower installment or a shorter term");
            None
        }
    };
    Some(PrepaymentQuery { date: date?, amount: amount?, mode: mode? })
}

/// `POST /contracts/{id}/prepayment`: `action=preview` shows the plan; `action=request` asks for it.
pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (fields, _) = accept_multipart(&staff, multipart, "contracts.read").await?;
    let action = fields.one("action").to_owned();
    let today = company_today(state.utc_offset_hours);
    let mut problems = Problems::default();
    let asked = query(&fields, &mut problems);
    let Some(asked) = asked else {
        return Ok(refused(&page(&state, &staff, id, &fields, None).await?.refused(&action, &fields, problems)));
    };
    if action == "request" {
        staff.require("contracts.write")?;
        let request = PrepaymentRequest {
            date: asked.date,
            amount: asked.amount,
            mode: asked.mode,
            reason: fields.one("reason").to_owned(),
        };
        let mut tx = state.pool.begin().await?;
        match prepayment::request(&mut tx, &staff, id, &request, today).await {
            Ok(_) => {
                tx.commit().await?;
                return Ok(Redirect::to(&format!("/contracts/{id}?done=saved")).into_response());
            }
            Err(e) => {
                drop(tx);
                let plan = prepayment::preview(&mut *state.pool.acquire().await?, &staff, id, &asked, today).await.ok();
                let page = page(&state, &staff, id, &fields, plan.as_ref()).await?.refused(
                    "request",
                    &fields,
                    Problems::of(e)?,
                );
                return Ok(refused(&page));
            }
        }
    }
    match prepayment::preview(&mut *state.pool.acquire().await?, &staff, id, &asked, today).await {
        Ok(plan) => Ok(render(&page(&state, &staff, id, &fields, Some(&plan)).await?)),
        Err(e) => {
            Ok(refused(&page(&state, &staff, id, &fields, None).await?.refused("preview", &fields, Problems::of(e)?)))
        }
    }
}
