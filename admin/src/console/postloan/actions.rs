//! A contract's post-loan actions (贷后处置): from the contract, open a repossession order (from the
//! monitor's open proposal when there is one, carrying its evidence), apply to sue, or ask for a home
//! visit; each leads to the new record's page.

use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::books::contract;
use backoffice::kit::list::PageParams;
use backoffice::postloan::litigation::{self, Application};
use backoffice::postloan::repossession::orders::{self, NewOrder};
use backoffice::postloan::visits::{self, VisitRequest};
use backoffice::risk::tasks::{self, TaskFilter};

use crate::console::error::PageError;
use crate::console::form::{Fields, Problems, refused};
use crate::console::format::money;
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart};
use crate::console::session::Staff;
use crate::state::AppState;

async fn page(state: &AppState, staff: &Staff, id: i64) -> Result<RecordPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let c = contract::TABLE.load(&mut db, staff, id).await?;
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/contracts", "nav.contracts");
    shell.title = format!("{} · {}", lang.t("actions.title"), c.number);
    let facts = vec![Facts {
        title: c.number.clone(),
        lines: vec![
            (lang.t("contract.dpd").to_owned(), c.dpd.to_string()),
            (lang.t("field.bucket").to_owned(), format!("M{}", c.bucket)),
            (lang.t("field.overdue_amount").to_owned(), money(&(c.overdue_amount + c.penalty_open))),
        ],
    }];
    let mut forms = Vec::new();
    if staff.can("postloan.repossess") {
        forms.push(ActionForm::new(
            "repossess",
            lang.t("actions.repossess"),
            lang.t("actions.repossess"),
            vec![Input::new("note", lang.t("repossession.note"), "textarea")],
        ));
    }
    if staff.can("postloan.collect") {
        forms.push(ActionForm::new(
            "sue",
            lang.t("actions.sue"),
            lang.t("actions.sue"),
            vec![
                Input::new("claim_amount", lang.t("litigation.claim_amount"), "text")
                    .value((c.overdue_amount + c.penalty_open).to_string()),
                Input::new("reason", lang.t("litigation.reason"), "textarea"),
            ],
        ));
        forms.push(ActionForm::new(
            "visit",
            lang.t("actions.visit"),
            lang.t("actions.visit"),
            vec![Input::new("reason", lang.t("visit.reason"), "textarea")],
        ));
    }
    let links = vec![(lang.t("contract.title").to_owned(), format!("/contracts/{id}"))];
    Ok(RecordPage { links, facts, forms, ..RecordPage::new(shell, String::new(), format!("/contracts/{id}/postloan")) })
}

/// `GET /contracts/{id}/postloan`.
pub async fn show(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    Ok(render(&page(&state, &staff, id).await?))
}

/// `POST /contracts/{id}/postloan`: one of the actions; on to the record it made.
pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (fields, _): (Fields, _) = accept_multipart(&staff, multipart, "postloan.read").await?;
    let action = fields.one("action").to_owned();
    staff.require(if action == "repossess" { "postloan.repossess" } else { "postloan.collect" })?;
    let mut problems = Problems::default();
    let mut tx = state.pool.begin().await?;
    let made: Result<String, backoffice::Error> = match action.as_str() {
        "repossess" => {
            // The monitor's open proposal for the contract, when there is one, carries its evidence.
            let filter = TaskFilter {
                kind: Some("repossession".into()),
                status: Some("open".into()),
                contract_id: Some(id),
                ..TaskFilter::default()
            };
            let proposal =
                tasks::list(&state.pool, &staff, &PageParams::default(), &filter).await?.items.first().map(|t| t.id);
            let note = Some(fields.one("note").trim().to_owned()).filter(|n| !n.is_empty());
            let new = match proposal {
                Some(task) => NewOrder { task_id: Some(task), contract_id: None, note },
                None => NewOrder { task_id: None, contract_id: Some(id), note },
            };
            orders::create(&mut tx, &staff, &new, state.utc_offset_hours)
                .await
                .map(|o| format!("/postloan/repossessions/{}", o.id))
        }
        "sue" => {
            let claim_amount = fields.amount("claim_amount", &mut problems).unwrap_or_default();
            let body = Application { contract_id: id, claim_amount, reason: fields.one("reason").to_owned() };
            litigation::apply(&mut tx, &staff, &body).await.map(|c| format!("/postloan/litigation/{}", c.id))
        }
        "visit" => {
            visits::request(&mut tx, &staff, &VisitRequest { contract_id: id, reason: fields.one("reason").to_owned() })
                .await
                .map(|v| format!("/postloan/visits/{}", v.id))
        }
        other => return Err(PageError::Invalid(format!("action: `{other}` is not one of this page's forms"))),
    };
    let problems = match made {
        Ok(to) if problems.is_empty() => {
            tx.commit().await?;
            return Ok(Redirect::to(&to).into_response());
        }
        Ok(_) => problems,
        Err(e) => {
            let mut all = Problems::of(e)?;
            all.extend(problems);
            all
        }
    };
    drop(tx);
    Ok(refused(&page(&state, &staff, id).await?.refused(&action, &fields, problems)))
}
