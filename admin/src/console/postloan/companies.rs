//! Repossession companies in the console (收车公司维护): the list with each company's schedule and
//! performance, a new company, and a company's page where its contact, the regions it serves, its
//! fee schedule and whether it takes orders are changed.

use axum::extract::{Multipart, OriginalUri, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::postloan::repossession::companies::{self, Company, CompanyFilter, CompanyUpdate, NewCompany};
use leasewatch_finance::Decimal;

use super::TABS;
use crate::console::error::PageError;
use crate::console::form::{Done, Fields, Problems, refused};
use crate::console::format::money;
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart};
use crate::console::session::Staff;
use crate::console::system::region_choices;
use crate::state::AppState;

/// A company's schedule in words: fixed fee + rate, capped.
fn schedule(c: &Company) -> String {
    let cap = c.fee_cap.as_ref().map(|cap| format!(" ≤ {}", money(cap))).unwrap_or_default();
    format!("{} + {}%{cap}", money(&c.fee_fixed), (c.fee_rate * Decimal::ONE_HUNDRED).normalize())
}

/// `GET /postloan/companies`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    let query: ListQuery<CompanyFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/postloan/companies",
        title: "nav.postloan",
        columns: vec![
            Column::plain(lang.t("company.name")).sorted("name"),
            Column::plain(lang.t("company.licence")),
            Column::plain(lang.t("company.contact")),
            Column::plain(lang.t("company.schedule")),
            Column::plain(lang.t("company.orders")).numeric(),
            Column::plain(lang.t("company.recovered")).numeric(),
            Column::plain(lang.t("company.average_days")).numeric(),
            Column::plain(lang.t("code.active")),
        ],
        tabs: TABS,
        create: staff.can("postloan.repossess").then_some("/postloan/companies/new"),
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { companies::list(pool, actor, &page, filter).await }),
        |c| {
            let cells = vec![
                Cell::link(c.name.clone(), format!("/postloan/companies/{}", c.id)),
                Cell::text(c.licence.clone()),
                Cell::text(format!("{} {}", c.contact_name, c.contact_phone)),
                Cell::text(schedule(c)),
                Cell::number(c.orders),
                Cell::number(c.recovered),
                Cell::text(c.average_days.map(|d| d.to_string()).unwrap_or_default()),
                Cell::text(lang.yes_no(c.active)),
            ];
            (c.id, cells)
        },
    )
    .await
}

/// The controls both forms share: contact, served regions and schedule.
fn terms_inputs(staff: &Staff, regions: Vec<(String, String)>, ticked: &[String]) -> Vec<Input> {
    let lang = staff.lang;
    vec![
        Input::new("contact_name", lang.t("company.contact"), "text"),
        Input::new("contact_phone", lang.t("repossession.agent_phone"), "tel"),
        Input::checks("served_region_ids", lang.t("company.served"), regions, ticked),
        Input::new("fee_fixed", lang.t("company.fee_fixed"), "text"),
        Input::new("fee_rate", lang.t("company.fee_rate"), "text"),
        Input::new("fee_cap", lang.t("company.fee_cap"), "text"),
    ]
}

/// The served regions ticked on a form, each a region id.
fn served(fields: &Fields, problems: &mut Problems) -> Vec<i64> {
    let ids: Vec<i64> = fields.all("served_region_ids").iter().filter_map(|v| v.parse().ok()).collect();
    if ids.is_empty() {
        problems.add("served_region_ids", "tick at least one region");
    }
    ids
}

/// The cap typed, if one was: none when left empty.
fn cap(fields: &Fields, problems: &mut Problems) -> Option<Decimal> {
    Some(fields.one("fee_cap").trim())
        .filter(|c| !c.is_empty())
        .map(|_| fields.amount("fee_cap", problems).unwrap_or_default())
}

async fn new_form(state: &AppState, staff: &Staff) -> Result<RecordPage, PageError> {
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/postloan/overdue", "nav.postloan");
    shell.title = lang.t("company.new").to_owned();
    let own = [staff.caller.actor.region_id.to_string()];
    let mut inputs = vec![
        Input::new("name", lang.t("company.name"), "text"),
        Input::new("licence", lang.t("company.licence"), "text"),
    ];
    inputs.extend(terms_inputs(staff, region_choices(state, staff).await?, &own));
    let form = ActionForm::new("create", lang.t("company.new"), lang.t("action.save"), inputs);
    Ok(RecordPage { forms: vec![form], ..RecordPage::new(shell, String::new(), "/postloan/companies/new".to_owned()) })
}

/// `GET /postloan/companies/new`: a company kept by the user's region.
pub async fn new(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    staff.require("postloan.repossess")?;
    Ok(render(&new_form(&state, &staff).await?))
}

/// `POST /postloan/companies/new`.
pub async fn create(State(state): State<AppState>, staff: Staff, multipart: Multipart) -> Result<Response, PageError> {
    let (fields, _) = accept_multipart(&staff, multipart, "postloan.repossess").await?;
    let mut problems = Problems::default();
    let new = NewCompany {
        name: fields.one("name").to_owned(),
        licence: fields.one("licence").to_owned(),
        region_id: staff.caller.actor.region_id,
        served_region_ids: served(&fields, &mut problems),
        contact_name: fields.one("contact_name").to_owned(),
        contact_phone: fields.one("contact_phone").to_owned(),
        fee_fixed: fields.amount("fee_fixed", &mut problems).unwrap_or_default(),
        fee_rate: fields.amount("fee_rate", &mut problems).unwrap_or_default(),
        fee_cap: cap(&fields, &mut problems),
    };
    if problems.is_empty() {
        let mut tx = state.pool.begin().await?;
        match companies::create(&mut tx, &staff, &new).await {
            Ok(company) => {
                tx.commit().await?;
                return Ok(Redirect::to(&format!("/postloan/companies/{}?done=saved", company.id)).into_response());
            }
            Err(e) => problems = Problems::of(e)?,
        }
    }
    Ok(refused(&new_form(&state, &staff).await?.refused("create", &fields, problems)))
}

async fn company_page(state: &AppState, staff: &Staff, id: i64, done: String) -> Result<RecordPage, PageError> {
    let lang = staff.lang;
    let c = companies::TABLE.load(&mut *state.pool.acquire().await?, staff, id).await?;
    let regions = region_choices(state, staff).await?;
    let region_name = |id: &i64| {
        regions
            .iter()
            .find(|(v, _)| *v == id.to_string())
            .map_or(format!("#{id}"), |(_, name)| name.trim_start_matches("· ").to_owned())
    };
    let mut shell = Shell::new(staff, "/postloan/overdue", "nav.postloan");
    shell.title = c.name.clone();
    let facts = vec![Facts {
        title: lang.t("company.title").to_owned(),
        lines: vec![
            (lang.t("company.name").to_owned(), c.name.clone()),
            (lang.t("company.licence").to_owned(), c.licence.clone()),
            (lang.t("company.contact").to_owned(), format!("{} {}", c.contact_name, c.contact_phone)),
            (
                lang.t("company.served").to_owned(),
                c.served_region_ids.iter().map(region_name).collect::<Vec<_>>().join("、"),
            ),
            (lang.t("company.schedule").to_owned(), schedule(&c)),
            (lang.t("company.orders").to_owned(), c.orders.to_string()),
            (lang.t("company.recovered").to_owned(), c.recovered.to_string()),
            (lang.t("company.average_days").to_owned(), c.average_days.map(|d| d.to_string()).unwrap_or_default()),
            (lang.t("code.active").to_owned(), lang.yes_no(c.active).to_owned()),
        ],
    }];
    let mut forms = Vec::new();
    if staff.can("postloan.repossess") {
        let ticked: Vec<String> = c.served_region_ids.iter().map(i64::to_string).collect();
        let mut inputs: Vec<Input> = terms_inputs(staff, regions.clone(), &ticked)
            .into_iter()
            .map(|i| {
                let value = match i.name {
                    "contact_name" => c.contact_name.clone(),
                    "contact_phone" => c.contact_phone.clone(),
                    "fee_fixed" => c.fee_fixed.to_string(),
                    "fee_rate" => c.fee_rate.normalize().to_string(),
                    "fee_cap" => c.fee_cap.map(|cap| cap.to_string()).unwrap_or_default(),
                    _ => return i,
                };
                i.value(value)
            })
            .collect();
        let yes_no = vec![
            ("true".to_owned(), lang.yes_no(true).to_owned()),
            ("false".to_owned(), lang.yes_no(false).to_owned()),
        ];
        inputs.push(Input::select("active", lang.t("company.takes_orders"), yes_no).value(c.active.to_string()));
        forms.push(ActionForm::new("update", lang.t("company.edit"), lang.t("action.save"), inputs));
    }
    Ok(RecordPage {
        links: vec![(lang.t("postloan.companies").to_owned(), "/postloan/companies".to_owned())],
        facts,
        forms,
        ..RecordPage::new(shell, done, format!("/postloan/companies/{id}"))
    })
}

/// `GET /postloan/companies/{id}`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    Ok(render(&company_page(&state, &staff, id, done.said(staff.lang)).await?))
}

/// `POST /postloan/companies/{id}`: the company's terms changed.
pub async fn edit(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (fields, _) = accept_multipart(&staff, multipart, "postloan.repossess").await?;
    let version = companies::TABLE.load(&mut *state.pool.acquire().await?, &staff, id).await?.version;
    let mut problems = Problems::default();
    let changes = CompanyUpdate {
        version,
        contact_name: Some(fields.one("contact_name").to_owned()),
        contact_phone: Some(fields.one("contact_phone").to_owned()),
        served_region_ids: Some(served(&fields, &mut problems)),
        fee_fixed: fields.amount("fee_fixed", &mut problems),
        fee_rate: fields.amount("fee_rate", &mut problems),
        fee_cap: cap(&fields, &mut problems),
        active: Some(fields.one("active") == "true"),
    };
    if problems.is_empty() {
        let mut tx = state.pool.begin().await?;
        match companies::update(&mut tx, &staff, id, &changes).await {
            Ok(_) => {
                tx.commit().await?;
                return Ok(Redirect::to(&format!("/postloan/companies/{id}?done=saved")).into_response());
            }
            Err(e) => problems = Problems::of(e)?,
        }
    }
    Ok(refused(&company_page(&state, &staff, id, String::new()).await?.refused("update", &fields, problems)))
}
