//! Contract templates in the console (合同模板): every version per lease type and product code with
//! its wording, and the form that saves the next version — starting from the newest one's text,
//! refused beside the field that is wrong (an unknown figure in braces, a product code no product has).

use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use backoffice::origination::application::LEASE_TYPES;
use backoffice::origination::contract_templates::{self, NewContractTemplate, PLACEHOLDERS};

use crate::console::error::PageError;
use crate::console::form::{Done, Problems, refused};
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart, settle};
use crate::console::session::Staff;
use crate::state::AppState;

async fn templates_page(state: &AppState, staff: &Staff, done: String) -> Result<RecordPage, PageError> {
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/origination/applications", "nav.origination");
    shell.title = lang.t("origination.contract_templates").to_owned();
    let all = contract_templates::list(&mut *state.pool.acquire().await?).await?;
    let facts = all
        .iter()
        .map(|t| Facts {
            title: format!(
                "{} · {} v{} · {}",
                lang.word("application.lease_type", &t.lease_type),
                t.product_code.as_deref().unwrap_or(lang.t("contract_template.every_product")),
                t.version,
                t.title
            ),
            lines: t.body.lines().map(|l| (String::new(), l.to_owned())).collect(),
        })
        .collect();
    let mut forms = Vec::new();
    if staff.can("products.write") {
        let newest = all.iter().max_by_key(|t| t.created_at);
        let kinds = LEASE_TYPES.iter().map(|k| ((*k).to_owned(), lang.word("application.lease_type", k))).collect();
        let figures = PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(" ");
        let inputs = vec![
            Input::select("lease_type", lang.t("application.lease_type"), kinds)
                .value(newest.map(|t| t.lease_type.clone()).unwrap_or_default()),
            Input::new("product_code", lang.t("contract_template.product_code"), "text"),
            Input::new("title", lang.t("contract_template.title"), "text")
                .value(newest.map(|t| t.title.clone()).unwrap_or_default()),
            Input::new("body", &format!("{} ({figures})", lang.t("contract_template.body")), "textarea")
                .value(newest.map(|t| t.body.clone()).unwrap_or_default()),
        ];
        forms.push(ActionForm::new("create", lang.t("contract_template.new"), lang.t("action.save"), inputs));
    }
    Ok(RecordPage {
        links: vec![(lang.t("origination.applications").to_owned(), "/origination/applications".to_owned())],
        facts,
        forms,
        ..RecordPage::new(shell, done, "/origination/contract-templates".to_owned())
    })
}

/// `GET /origination/contract-templates`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("products.read")?;
    Ok(render(&templates_page(&state, &staff, done.said(staff.lang)).await?))
}

/// `POST /origination/contract-templates`: the next version.
pub async fn create(State(state): State<AppState>, staff: Staff, multipart: Multipart) -> Result<Response, PageError> {
    let (fields, _) = accept_multipart(&staff, multipart, "products.write").await?;
    let new = NewContractTemplate {
        lease_type: fields.one("lease_type").to_owned(),
        product_code: Some(fields.one("product_code").trim().to_owned()).filter(|c| !c.is_empty()),
        title: fields.one("title").to_owned(),
        body: fields.one("body").to_owned(),
    };
    let mut tx = state.pool.begin().await?;
    let outcome = contract_templates::save(&mut tx, &staff, &new).await.map(drop);
    let problems = match settle(tx, outcome, Problems::default(), "/origination/contract-templates?done=saved").await? {
        Ok(done) => return Ok(done),
        Err(problems) => problems,
    };
    Ok(refused(&templates_page(&state, &staff, String::new()).await?.refused("create", &fields, problems)))
}
