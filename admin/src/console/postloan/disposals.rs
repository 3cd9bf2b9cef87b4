//! Disposal in the console (车辆处置): the recovered vehicles of the user's regions and a disposal's
//! page — the yard and its fee, what was said with the customer, the valuation sent, entered and
//! reviewed, the sale asked for approval and how its proceeds went, the shortfall written off or
//! pursued, redemption.

use axum::extract::{Multipart, OriginalUri, Path, Query, State};
use axum::response::Response;
use backoffice::kit::day::company_today;
use backoffice::postloan::disposal::record::{self, Disposal, DisposalFilter, NewNote, Valuation};
use backoffice::postloan::disposal::sale::{self, SaleRequest};
use backoffice::postloan::disposal::shortfall::{self, ShortfallDecision};
use leasewatch_finance::Decimal;
use serde_json::Value;

use super::TABS;
use crate::console::error::PageError;
use crate::console::form::{Done, Problems, refused};
use crate::console::format::{date, local_time, money};
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart, settle};
use crate::console::session::Staff;
use crate::state::AppState;

const STATUSES: &[&str] = &["held", "redeemed", "sale_pending", "sold", "closed"];
const INTENTS: &[&str] = &["redeem", "settle", "sell", "other"];

/// `GET /postloan/disposals`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    let query: ListQuery<DisposalFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let statuses = STATUSES.iter().map(|s| ((*s).to_owned(), lang.word("disposal.status", s))).collect();
    let spec = ListSpec {
        path: "/postloan/disposals",
        title: "nav.postloan",
        filters: vec![query.choice("status", lang.t("disposal.status"), statuses)],
        columns: vec![
            Column::plain("#").sorted("id"),
            Column::plain(lang.t("contract.number")),
            Column::plain(lang.t("vehicle.plate")),
            Column::plain(lang.t("disposal.status")),
            Column::plain(lang.t("repossession.yard")),
            Column::plain(lang.t("disposal.stored_from")),
            Column::plain(lang.t("disposal.valuation")).numeric(),
            Column::plain(lang.t("disposal.sale_price")).numeric(),
            Column::plain(lang.t("disposal.shortfall")).numeric(),
        ],
        tabs: TABS,
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { record::list(pool, actor, &page, filter).await }),
        |d| {
            let cells = vec![
                Cell::link(format!("#{}", d.id), format!("/postloan/disposals/{}", d.id)),
                Cell::link(d.contract_number.clone(), format!("/contracts/{}", d.contract_id)),
                Cell::text(d.plate.clone().unwrap_or_default()),
                Cell::text(lang.word("disposal.status", &d.status)),
                Cell::text(d.yard.clone()),
                Cell::date(Some(d.stored_from)),
                d.valuation.map_or_else(|| Cell::text(""), Cell::amount),
                d.sale_price.map_or_else(|| Cell::text(""), Cell::amount),
                d.shortfall.map_or_else(|| Cell::text(""), Cell::amount),
            ];
            (d.id, cells)
        },
    )
    .await
}

async fn disposal_page(state: &AppState, staff: &Staff, id: i64, done: String) -> Result<RecordPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let d: Disposal = record::TABLE.load(&mut db, staff, id).await?;
    let (lang, offset) = (staff.lang, state.utc_offset_hours);
    let mut shell = Shell::new(staff, "/postloan/overdue", "nav.postloan");
    shell.title = format!("{} #{} · {}", lang.t("postloan.disposals"), d.id, d.plate.clone().unwrap_or_default());
    let amount = |a: &Option<Decimal>| a.as_ref().map(money).unwrap_or_default();
    let mut facts = vec![Facts {
        title: lang.t("postloan.disposals").to_owned(),
        lines: vec![
            (lang.t("disposal.status").to_owned(), lang.word("disposal.status", &d.status)),
            (lang.t("contract.number").to_owned(), d.contract_number.clone()),
            (lang.t("repossession.yard").to_owned(), d.yard.clone()),
            (lang.t("repossession.storage_daily_fee").to_owned(), money(&d.storage_daily_fee)),
            (lang.t("disposal.stored_from").to_owned(), date(&Some(d.stored_from))),
            (lang.t("disposal.appraiser").to_owned(), d.appraiser.clone().unwrap_or_default()),
            (
                lang.t("disposal.valuation").to_owned(),
                format!(
                    "{} {}",
                    amount(&d.valuation),
                    d.valuation_status
                        .as_deref()
                        .map(|s| lang.word("disposal.valuation_status", s))
                        .unwrap_or_default()
                ),
            ),
            (lang.t("disposal.valuation_note").to_owned(), d.valuation_note.clone().unwrap_or_default()),
            (
                lang.t("disposal.sale_price").to_owned(),
                format!("{} {}", amount(&d.sale_price), d.buyer.clone().unwrap_or_default()),
            ),
            (lang.t("disposal.sold_on").to_owned(), date(&d.sold_on)),
        ],
    }];
    if let Some(Value::Object(proceeds)) = &d.proceeds {
        let lines = [
            "price",
            "deposit",
            "storage",
            "costs",
            "fees",
            "arrears",
            "principal",
            "refund",
            "shortfall",
            "written_off_principal",
            "waived",
        ]
        .iter()
        .filter_map(|k| {
            proceeds.get(*k).and_then(Value::as_str).map(|v| (lang.word("disposal.proceeds", k), v.to_owned()))
        })
        .collect();
        facts.push(Facts { title: lang.t("disposal.proceeds").to_owned(), lines });
    }
    let notes = record::notes(&mut db, staff, id).await?;
    let history = (!notes.is_empty()).then(|| {
        let heads = vec![
            lang.t("disposal.noted_at").to_owned(),
            lang.t("disposal.intent").to_owned(),
            lang.t("disposal.note").to_owned(),
        ];
        let rows = notes
            .iter()
            .map(|n| vec![local_time(&n.created_at, offset), lang.word("disposal.intent", &n.intent), n.note.clone()])
            .collect();
        (lang.t("disposal.notes").to_owned(), heads, rows)
    });
    let mut forms = Vec::new();
    let valuation = d.valuation_status.as_deref();
    if staff.can("postloan.dispose") {
        let intents = INTENTS.iter().map(|i| ((*i).to_owned(), lang.word("disposal.intent", i))).collect();
        forms.push(ActionForm::new(
            "note",
            lang.t("disposal.notes"),
            lang.t("action.save"),
            vec![
                Input::select("intent", lang.t("disposal.intent"), intents),
                Input::new("note", lang.t("disposal.note"), "textarea"),
            ],
        ));
        if d.status == "held" {
            if valuation != Some("approved") && valuation != Some("submitted") {
                forms.push(ActionForm::new(
                    "appraise",
                    lang.t("disposal.dispatch_valuation"),
                    lang.t("disposal.dispatch_valuation"),
                    vec![Input::new("appraiser", lang.t("disposal.appraiser"), "text")],
                ));
            }
            if valuation == Some("dispatched") {
                forms.push(ActionForm::new(
                    "valuation",
                    lang.t("disposal.submit_valuation"),
                    lang.t("action.save"),
                    vec![
                        Input::new("amount", lang.t("disposal.valuation"), "text"),
                        Input::new("valuation_note", lang.t("disposal.valuation_note"), "textarea"),
                    ],
                ));
            }
            if valuation == Some("approved") {
                let methods = ["auction", "dealer_buyback"]
                    .iter()
                    .map(|m| ((*m).to_owned(), lang.word("disposal.method", m)))
                    .collect();
                forms.push(ActionForm::new(
                    "sale",
                    lang.t("disposal.request_sale"),
                    lang.t("disposal.request_sale"),
                    vec![
                        Input::select("method", lang.t("disposal.method"), methods),
                        Input::new("price", lang.t("disposal.sale_price"), "text"),
                        Input::new("buyer", lang.t("disposal.buyer"), "text"),
                        Input::new("sold_on", lang.t("disposal.sold_on"), "date")
                            .value(company_today(offset).to_string()),
                    ],
                ));
            }
            forms.push(ActionForm::new("redeem", lang.t("disposal.redeem"), lang.t("disposal.redeem"), Vec::new()));
        }
        if d.status == "sold" && d.shortfall_action.is_none() {
            forms.push(ActionForm::new(
                "write_off",
                lang.t("disposal.write_off"),
                lang.t("disposal.write_off"),
                vec![Input::new("reason", lang.t("repossession.reason"), "text")],
            ));
            forms.push(ActionForm::new(
                "pursue",
                lang.t("disposal.pursue"),
                lang.t("disposal.pursue"),
                vec![Input::new("reason", lang.t("repossession.reason"), "text")],
            ));
        }
    }
    if d.status == "held" && valuation == Some("submitted") && staff.can("postloan.review") {
        let answers = vec![
            ("true".to_owned(), lang.t("repossession.accept").to_owned()),
            ("false".to_owned(), lang.t("disposal.reject").to_owned()),
        ];
        forms.push(ActionForm::new(
            "review",
            lang.t("disposal.review_valuation"),
            lang.t("disposal.review_valuation"),
            vec![
                Input::select("approve", lang.t("disposal.review_valuation"), answers),
                Input::new("review_note", lang.t("repossession.note"), "textarea"),
            ],
        ));
    }
    let mut links = vec![(lang.t("contract.title").to_owned(), format!("/contracts/{}", d.contract_id))];
    if let Some(order) = d.order_id {
        links.push((lang.t("repossession.order").to_owned(), format!("/postloan/repossessions/{order}")));
    }
    Ok(RecordPage { links, facts, history, forms, ..RecordPage::new(shell, done, format!("/postloan/disposals/{id}")) })
}

/// `GET /postloan/disposals/{id}`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    Ok(render(&disposal_page(&state, &staff, id, done.said(staff.lang)).await?))
}

/// `POST /postloan/disposals/{id}`: one of the page's forms.
pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (fields, _) = accept_multipart(&staff, multipart, "postloan.read").await?;
    let action = fields.one("action").to_owned();
    staff.require(if action == "review" { "postloan.review" } else { "postloan.dispose" })?;
    let version = record::TABLE.load(&mut *state.pool.acquire().await?, &staff, id).await?.version;
    let mut problems = Problems::default();
    let text = |name: &str| Some(fields.one(name).trim().to_owned()).filter(|t| !t.is_empty());
    let mut tx = state.pool.begin().await?;
    let outcome: Result<(), backoffice::Error> = match action.as_str() {
        "note" => record::add_note(
            &mut tx,
            &staff,
            id,
            &NewNote { intent: fields.one("intent").to_owned(), note: fields.one("note").to_owned() },
        )
        .await
        .map(drop),
        "appraise" => {
            let body = Valuation { version, appraiser: text("appraiser"), amount: None, approve: None, note: None };
            record::dispatch_valuation(&mut tx, &staff, id, &body).await.map(drop)
        }
        "valuation" => {
            let body = Valuation {
                version,
                appraiser: None,
                amount: fields.amount("amount", &mut problems),
                approve: None,
                note: text("valuation_note"),
            };
            if problems.is_empty() {
                record::submit_valuation(&mut tx, &staff, id, &body).await.map(drop)
            } else {
                Ok(())
            }
        }
        "review" => {
            let body = Valuation {
                version,
                appraiser: None,
                amount: None,
                approve: Some(fields.one("approve") == "true"),
                note: text("review_note"),
            };
            record::review_valuation(&mut tx, &staff, id, &body).await.map(drop)
        }
        "sale" => {
            let price = fields.amount("price", &mut problems).unwrap_or_default();
            let sold_on = fields
                .one("sold_on")
                .parse()
                .map_err(|_| problems.add("sold_on", "must be a date"))
                .unwrap_or_default();
            let body = SaleRequest {
                version,
                method: fields.one("method").to_owned(),
                price,
                buyer: fields.one("buyer").to_owned(),
                sold_on,
            };
            if problems.is_empty() {
                sale::request(&mut tx, &staff, id, &body, company_today(state.utc_offset_hours)).await.map(drop)
            } else {
                Ok(())
            }
        }
        "write_off" => shortfall::request_write_off(
            &mut tx,
            &staff,
            id,
            &ShortfallDecision { version, reason: fields.one("reason").to_owned() },
        )
        .await
        .map(drop),
        "pursue" => shortfall::pursue(
            &mut tx,
            &staff,
            id,
            &ShortfallDecision { version, reason: fields.one("reason").to_owned() },
        )
        .await
        .map(drop),
        "redeem" => record::redeem(&mut tx, &staff, id, version).await.map(drop),
        other => return Err(PageError::Invalid(format!("action: `{other}` is not one of this page's forms"))),
    };
    match settle(tx, outcome, problems, &format!("/postloan/disposals/{id}?done=saved")).await? {
        Ok(done) => Ok(done),
        Err(problems) => {
            let page = disposal_page(&state, &staff, id, String::new()).await?.refused(&action, &fields, problems);
            Ok(refused(&page))
        }
    }
}
