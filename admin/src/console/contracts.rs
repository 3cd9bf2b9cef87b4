//! Contract pages (合同): the list with filters, and one contract with its schedule, its collection
//! record and the form that records a contact.

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::Response;
use backoffice::assets::vehicle;
use backoffice::books::contract::{self, ContractFilter};
use backoffice::books::receipts::{self, ReceiptFilter};
use backoffice::customers::customer;
use backoffice::kit::audit::{self, AuditFilter};
use backoffice::kit::list::PageParams;
use backoffice::postloan::distribution::Assign;
use backoffice::postloan::{contacts, distribution, fees};
use backoffice::risk::scores;
use backoffice::risk::tasks::{self, TaskFilter};
use chrono::Utc;

use super::alerts::AlertLine;
use super::error::PageError;
use super::form::{self, Done, Problems};
use super::format::{company_today, date, local_time, money};
use super::i18n::Lang;
use super::list::{self, Cell, Column, ListQuery, ListSpec};
use super::page::{Shell, render};
use super::postloan::contacts::{ContactSection, Typed, section as contacts_section};
use super::session::Staff;
use crate::state::AppState;

const STATUSES: &[&str] = &["pending", "active", "settled", "closed"];

fn status_label(lang: Lang, status: &str) -> String {
    lang.t(&format!("contract.status.{status}")).to_owned()
}

/// `GET /contracts`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("contracts.read")?;
    let query: ListQuery<ContractFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let statuses = STATUSES.iter().map(|s| ((*s).to_owned(), status_label(lang, s))).collect();
    let spec = ListSpec {
        path: "/contracts",
        title: "nav.contracts",
        filters: vec![
            query.field("number", lang.t("contract.number"), "text"),
            query.choice("status", lang.t("contract.status"), statuses),
            query.field("bucket", lang.t("field.bucket"), "number"),
            query.field("min_dpd", lang.t("contract.min_dpd"), "number"),
        ],
        columns: vec![
            Column::plain(lang.t("contract.number")).sorted("number"),
            Column::plain(lang.t("contract.status")),
            Column::plain(lang.t("contract.principal")).numeric(),
            Column::plain(lang.t("contract.start_date")).sorted("start_date"),
            Column::plain(lang.t("contract.dpd")).sorted("dpd").numeric(),
            Column::plain(lang.t("field.bucket")),
            Column::plain(lang.t("field.overdue_amount")).sorted("overdue_amount").numeric(),
            Column::plain(lang.t("contract.last_payment_on")),
        ],
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { contract::list(pool, actor, &page, filter).await }),
        |c| {
            let cells = vec![
                Cell::link(c.number.clone(), format!("/contracts/{}", c.id)),
                Cell::text(status_label(lang, &c.status)),
                Cell::amount(c.principal),
                Cell::date(c.start_date),
                Cell::number(c.dpd),
                Cell::text(format!("M{}", c.bucket)),
                Cell::amount(c.overdue_amount),
                Cell::date(c.last_payment_on),
            ];
            (c.id, cells)
        },
    )
    .await
}

/// One line of the schedule as shown.
struct Line {
    period: i32,
    due_date: String,
    component: String,
    amount: String,
    paid: String,
    open: String,
    settled: bool,
}

/// The lessee as shown on the contract: numbers masked.
struct Lessee {
    id: i64,
    name: String,
    id_number: String,
    phone: String,
}

#[derive(Template)]
#[template(path = "contract.html")]
struct ContractPage {
    shell: Shell,
    lessee: Option<Lessee>,
    number: String,
    status: String,
    principal: String,
    start_date: String,
    dpd: i32,
    bucket: String,
    overdue_amount: String,
    penalty_open: String,
    credit: String,
    deposit_held: String,
    last_payment_on: String,
    hold_until: String,
    as_of: String,
    lines: Vec<Line>,
    /// The charges by kind: (kind, scheduled, due, paid, owed, outstanding).
    fees: Vec<[String; 6]>,
    /// Reminders sent about the contract: stage, status, text.
    messages: Vec<[String; 3]>,
    /// Post-loan charges asked for, newest first: asked on, kind, amount, payee, reason, status.
    charges: Vec<[String; 6]>,
    /// The financed vehicle: (id, plate or VIN).
    vehicle: Option<(i64, String)>,
    /// The risk score and its band, when computed.
    risk: Option<(i32, String)>,
    /// What the score is made of: (reason, points).
    reasons: Vec<(String, i32)>,
    receipts: Vec<ReceiptLine>,
    alerts: Vec<AlertLine>,
    tasks: Vec<TaskLine>,
    trail: Vec<TrailLine>,
    /// The collection record, for those who may read it.
    contacts: Option<ContactSection>,
    contract_id: i64,
    done: String,
}

/// A receipt claimed to the contract.
struct ReceiptLine {
    received_on: String,
    amount: String,
    reference: String,
    payer: String,
    status: String,
}

/// A collection or repossession task of the contract.
struct TaskLine {
    id: i64,
    kind: String,
    status: String,
    assignee: String,
    created_at: String,
}

/// One change of the contract in the audit log.
struct TrailLine {
    at: String,
    who: String,
    action: String,
}

/// `GET /contracts/{id}`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("contracts.read")?;
    let done = done.said(staff.lang);
    Ok(render(&contract_page(&state, &staff, id, None, Problems::default(), &done).await?))
}

/// `POST /contracts/{id}`: records a call, message or visit from the collection form (with
/// `action=claim`, takes the contract as its collector; with `action=letter`, downloads its default notice; with `action=assign`, gives it to
/// `collector_id`); back to the contract, or the page again with the refusal beside the form.
pub async fn record_contact(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "postloan.collect")?;
    staff.require("contracts.read")?;
    let action = fields.one("action");
    if action == "letter" {
        return letter(&state, &staff, id).await;
    }
    if action == "claim" || action == "assign" {
        let mut problems = Problems::default();
        let collector = fields.number("collector_id", &mut problems);
        let mut tx = state.pool.begin().await?;
        let outcome = match (action, collector) {
            ("assign", Some(collector_id)) => distribution::assign(&mut tx, &staff, id, &Assign { collector_id }).await,
            ("assign", None) => Err(backoffice::Error::invalid("collector_id", "choose a collector")),
            _ => distribution::claim(&mut tx, &staff, id).await,
        };
        return match form::finish(tx, outcome, |_| format!("/contracts/{id}?done=saved#contacts")).await? {
            Ok(saved) => Ok(saved),
            Err(problems) => Ok(form::refused(&contract_page(&state, &staff, id, None, problems, "").await?)),
        };
    }
    let typed = Typed::of(&fields);
    let mut problems = Problems::default();
    let contact = typed.contact(&mut problems);
    if problems.is_empty() {
        let mut tx = state.pool.begin().await?;
        let outcome = contacts::record(&mut tx, &staff, id, &contact, Utc::now(), state.utc_offset_hours).await;
        match form::finish(tx, outcome, |_| format!("/contracts/{id}?done=saved#contacts")).await? {
            Ok(saved) => return Ok(saved),
            Err(refused) => problems = refused,
        }
    }
    Ok(form::refused(&contract_page(&state, &staff, id, Some(typed), problems, "").await?))
}

/// The overdue contract's default-notice letter, as a PDF download (kept and audited like any
/// generated letter); a contract with no letter to send gets the reason.
async fn letter(state: &AppState, staff: &Staff, id: i64) -> Result<Response, PageError> {
    let today = company_today(state.utc_offset_hours);
    let mut tx = state.pool.begin().await?;
    match backoffice::postloan::letters::issue::generate(&mut tx, staff, &state.letter_font, id, today).await {
        Ok(issued) => {
            tx.commit().await?;
            Ok(crate::download::attachment("application/pdf", &issued.file_name, issued.pdf))
        }
        Err(backoffice::Error::Conflict { detail, .. }) => Err(PageError::Invalid(detail)),
        Err(e) => Err(e.into()),
    }
}

async fn contract_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    typed: Option<Typed>,
    problems: Problems,
    done: &str,
) -> Result<ContractPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let detail = contract::detail(&mut db, staff, id).await?;
    let lang = staff.lang;
    let c = detail.contract;
    let lessee = match c.customer_id.filter(|_| staff.can("customers.read")) {
        Some(id) => {
            let customer = customer::get(&mut db, &state.vault, staff, id).await?;
            let dash = |v: Option<String>| v.unwrap_or_else(|| "—".to_owned());
            let (id_number, phone) = (dash(customer.id_number), dash(customer.phone));
            Some(Lessee { id: customer.id, name: customer.name, id_number, phone })
        }
        None => None,
    };
    let mut shell = Shell::new(staff, "/contracts", "nav.contracts");
    shell.title = format!("{} {}", lang.t("contract.title"), c.number);
    let lines = detail
        .receivables
        .iter()
        .map(|r| Line {
            period: r.period,
            due_date: r.due_date.format("%Y-%m-%d").to_string(),
            component: lang.t(&format!("component.{}", r.component)).to_owned(),
            amount: money(&r.amount),
            paid: money(&r.paid),
            open: money(&(r.amount - r.paid)),
            settled: r.paid >= r.amount,
        })
        .collect();
    let offset = state.utc_offset_hours;
    let fees = fees::summary(&detail.receivables, company_today(offset))
        .into_iter()
        .map(|f| {
            let kind = lang.t(&format!("component.{}", f.component)).to_owned();
            [kind, money(&f.scheduled), money(&f.due), money(&f.paid), money(&f.owed), money(&f.outstanding)]
        })
        .collect();
    let messages = if staff.can("postloan.read") {
        backoffice::postloan::reminders::messages::of_contract(&mut db, staff, id)
            .await?
            .into_iter()
            .take(20)
            .map(|m| [format!("D{:+}", m.offset_days), lang.word("messages.status", &m.status), m.text])
            .collect()
    } else {
        Vec::new()
    };
    let charges = if staff.can("postloan.read") {
        backoffice::postloan::charges::of_contract(&mut db, id)
            .await?
            .into_iter()
            .map(|c| {
                [
                    local_time(&c.created_at, offset),
                    lang.t(&format!("component.{}", c.kind)).to_owned(),
                    money(&c.amount),
                    c.payee,
                    c.reason,
                    lang.word("charge.status", &c.status),
                ]
            })
            .collect()
    } else {
        Vec::new()
    };
    let few = PageParams { limit: Some(20), ..PageParams::default() };
    let vehicle = match c.vehicle_id.filter(|_| staff.can("vehicles.read")) {
        Some(v) => {
            let v = vehicle::TABLE.load(&mut db, staff, v).await?;
            Some((v.id, v.plate.unwrap_or(v.vin)))
        }
        None => None,
    };
    let (risk, reasons) = match scores::get(&mut db, staff, id).await {
        Ok(score) => {
            let reasons = score.reasons.as_array().cloned().unwrap_or_default();
            let reasons = reasons
                .iter()
                .map(|r| {
                    let code = r.get("code").and_then(|c| c.as_str()).unwrap_or_default();
                    let points = r.get("points").and_then(|p| p.as_i64()).unwrap_or_default();
                    (lang.t(&format!("risk.reason.{code}")).to_owned(), i32::try_from(points).unwrap_or_default())
                })
                .collect();
            (Some((score.score, lang.word("risk.band", &score.band))), reasons)
        }
        Err(backoffice::Error::NotFound(_)) => (None, Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let receipts = if staff.can("receipts.read") {
        let filter = ReceiptFilter { status: None, contract_id: Some(id), from: None, to: None };
        receipts::list(&state.pool, staff, &few, &filter)
            .await?
            .items
            .into_iter()
            .map(|r| ReceiptLine {
                received_on: r.received_on.format("%Y-%m-%d").to_string(),
                amount: money(&r.amount),
                reference: r.bank_reference,
                payer: r.payer.unwrap_or_default(),
                status: lang.word("receipt.status", &r.status),
            })
            .collect()
    } else {
        Vec::new()
    };
    let tasks = if staff.can("tasks.read") {
        let filter = TaskFilter { contract_id: Some(id), ..TaskFilter::default() };
        tasks::list(&state.pool, staff, &few, &filter)
            .await?
            .items
            .into_iter()
            .map(|t| TaskLine {
                id: t.id,
                kind: lang.word("task.kind", &t.kind),
                status: lang.word("task.status", &t.status),
                assignee: t.assignee_name.unwrap_or_default(),
                created_at: local_time(&t.created_at, offset),
            })
            .collect()
    } else {
        Vec::new()
    };
    let trail = if staff.can("audit.read") {
        let filter = AuditFilter {
            entity_type: Some("contract".to_owned()),
            entity_id: Some(id.to_string()),
            user_id: None,
            action: None,
            from: None,
            to: None,
        };
        audit::list(&state.pool, staff, &few, &filter)
            .await?
            .items
            .into_iter()
            .map(|a| TrailLine {
                at: local_time(&a.at, offset),
                who: a.username.unwrap_or_else(|| "—".to_owned()),
                action: a.action,
            })
            .collect()
    } else {
        Vec::new()
    };
    let alerts = super::alerts::lines(state, staff, None, Some(id)).await?;
    drop(db);
    let contacts = contacts_section(state, staff, id, typed, problems).await?;
    Ok(ContractPage {
        shell,
        lessee,
        number: c.number,
        status: status_label(lang, &c.status),
        principal: money(&c.principal),
        start_date: date(&c.start_date),
        dpd: c.dpd,
        bucket: format!("M{}", c.bucket),
        overdue_amount: money(&c.overdue_amount),
        penalty_open: money(&c.penalty_open),
        credit: money(&c.credit),
        deposit_held: money(&c.deposit_held),
        last_payment_on: date(&c.last_payment_on),
        hold_until: date(&c.hold_until),
        as_of: date(&c.as_of),
        lines,
        fees,
        messages,
        charges,
        vehicle,
        risk,
        reasons,
        receipts,
        alerts,
        tasks,
        trail,
        contacts,
        contract_id: id,
        done: done.to_owned(),
    })
}
