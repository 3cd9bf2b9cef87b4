//! Repossession in the console (现场收车): the orders of the user's regions and an order's page —
//! the monitor's evidence (last fix, the night place and its hours), dispatch to a company, the
//! agent's live links, the recovery registered with its photos, its review and the company's fee;
//! and the agent's live view (`/track/{token}`).

use axum::extract::{Multipart, OriginalUri, Path, Query, State};
use axum::response::Response;
use backoffice::kit::list::PageParams;
use backoffice::postloan::charges;
use backoffice::postloan::repossession::companies::{self, CompanyFilter};
use backoffice::postloan::repossession::links::{self, LinkRequest};
use backoffice::postloan::repossession::orders::{
    self, Cancel, Dispatch, FeeRequest, Order, OrderFilter, Recovery, Review,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use super::TABS;
use crate::console::error::PageError;
use crate::console::form::{Done, Fields, Problems, refused};
use crate::console::format::{local_time, money};
use crate::console::i18n::Lang;
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart, settle, store_photos};
use crate::console::session::Staff;
use crate::state::AppState;

const STATUSES: &[&str] = &["open", "dispatched", "recovered", "reviewed", "cancelled"];

/// `GET /postloan/repossessions`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    let query: ListQuery<OrderFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let statuses = STATUSES.iter().map(|s| ((*s).to_owned(), lang.word("repossession.status", s))).collect();
    let spec = ListSpec {
        path: "/postloan/repossessions",
        title: "nav.postloan",
        filters: vec![query.choice("status", lang.t("repossession.status"), statuses)],
        columns: vec![
            Column::plain(lang.t("repossession.order")).sorted("id"),
            Column::plain(lang.t("contract.number")),
            Column::plain(lang.t("vehicle.plate")),
            Column::plain(lang.t("repossession.status")),
            Column::plain(lang.t("repossession.company")),
            Column::plain(lang.t("repossession.created_at")).sorted("created_at"),
        ],
        tabs: TABS,
        ..ListSpec::default()
    };
    let offset = state.utc_offset_hours;
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { orders::list(pool, actor, &page, filter).await }),
        |o| {
            let cells = vec![
                Cell::link(format!("#{}", o.id), format!("/postloan/repossessions/{}", o.id)),
                Cell::link(o.contract_number.clone(), format!("/contracts/{}", o.contract_id)),
                Cell::text(o.plate.clone().unwrap_or_default()),
                Cell::text(lang.word("repossession.status", &o.status)),
                Cell::text(o.company_name.clone().unwrap_or_default()),
                Cell::text(local_time(&o.created_at, offset)),
            ];
            (o.id, cells)
        },
    )
    .await
}

/// The evidence in words: the last fix, and the night place with its hours.
fn evidence_lines(lang: Lang, evidence: &Value) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let fix = &evidence["last_fix"];
    if let (Some(lat), Some(lon)) = (fix["latitude"].as_f64(), fix["longitude"].as_f64()) {
        lines.push((
            lang.t("repossession.last_fix").to_owned(),
            format!("{lat:.5}, {lon:.5} · {}", fix["time"].as_str().unwrap_or("")),
        ));
    }
    let night = &evidence["night_place"];
    if let (Some(lat), Some(lon)) = (night["latitude"].as_f64(), night["longitude"].as_f64()) {
        lines.push((lang.t("repossession.night_place").to_owned(), format!("{lat:.4}, {lon:.4}")));
        let (from, until) = (night["from_hour"].as_i64().unwrap_or(0), night["until_hour"].as_i64().unwrap_or(0));
        lines.push((lang.t("repossession.window").to_owned(), format!("{from:02}:00–{until:02}:00")));
    }
    lines
}

async fn order_page(state: &AppState, staff: &Staff, id: i64, done: String) -> Result<RecordPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let o: Order = orders::TABLE.load(&mut db, staff, id).await?;
    let (lang, offset) = (staff.lang, state.utc_offset_hours);
    let mut shell = Shell::new(staff, "/postloan/overdue", "nav.postloan");
    shell.title = format!("{} #{} · {}", lang.t("repossession.order"), o.id, o.plate.clone().unwrap_or_default());
    let time = |t: &Option<DateTime<Utc>>| t.as_ref().map(|t| local_time(t, offset)).unwrap_or_default();
    let mut order = vec![
        (lang.t("repossession.status").to_owned(), lang.word("repossession.status", &o.status)),
        (lang.t("contract.number").to_owned(), o.contract_number.clone()),
        (lang.t("vehicle.plate").to_owned(), o.plate.clone().unwrap_or_default()),
        ("VIN".to_owned(), o.vin.clone()),
        (lang.t("repossession.company").to_owned(), o.company_name.clone().unwrap_or_default()),
        (
            lang.t("repossession.agent").to_owned(),
            format!("{} {}", o.agent_name.clone().unwrap_or_default(), o.agent_phone.clone().unwrap_or_default()),
        ),
        (lang.t("repossession.dispatched_at").to_owned(), time(&o.dispatched_at)),
    ];
    order.extend(evidence_lines(lang, &o.evidence));
    let mut facts = vec![Facts { title: lang.t("repossession.order").to_owned(), lines: order }];
    if o.recovered_at.is_some() {
        facts.push(Facts {
            title: lang.t("repossession.recovery").to_owned(),
            lines: vec![
                (lang.t("repossession.recovered_at").to_owned(), time(&o.recovered_at)),
                (lang.t("repossession.place").to_owned(), o.recovered_place.clone().unwrap_or_default()),
                (lang.t("repossession.mileage_km").to_owned(), o.mileage_km.map(|m| m.to_string()).unwrap_or_default()),
                (lang.t("repossession.condition").to_owned(), o.condition.clone().unwrap_or_default()),
                (lang.t("repossession.keys").to_owned(), o.keys.map(|k| k.to_string()).unwrap_or_default()),
                (lang.t("repossession.belongings").to_owned(), o.belongings.clone().unwrap_or_default()),
                (lang.t("repossession.yard").to_owned(), o.yard.clone().unwrap_or_default()),
                (
                    lang.t("repossession.storage_daily_fee").to_owned(),
                    o.storage_daily_fee.as_ref().map(money).unwrap_or_default(),
                ),
                (lang.t("repossession.review_note").to_owned(), o.review_note.clone().unwrap_or_default()),
            ],
        });
    }
    let fees = charges::of_source(&mut db, "repossession_order", id).await?;
    if !fees.is_empty() {
        let lines = fees
            .iter()
            .map(|c| {
                (
                    format!("#{} {}", c.id, lang.word("charge.status", &c.status)),
                    format!("{} → {}", money(&c.amount), c.payee),
                )
            })
            .collect();
        facts.push(Facts { title: lang.t("repossession.fees").to_owned(), lines });
    }
    let live_links = links::of_order(&mut db, staff, id).await?;
    let history = (!live_links.is_empty()).then(|| {
        let rows = live_links
            .iter()
            .map(|l| {
                vec![
                    format!("#{}", l.id),
                    local_time(&l.created_at, offset),
                    local_time(&l.expires_at, offset),
                    l.revoked_at.as_ref().map(|t| local_time(t, offset)).unwrap_or_default(),
                ]
            })
            .collect();
        let heads = ["#", "repossession.link_made", "repossession.link_expires", "repossession.link_revoked"]
            .iter()
            .map(|k| lang.t(k).to_owned())
            .collect();
        (lang.t("repossession.links").to_owned(), heads, rows)
    });
    let mut forms = Vec::new();
    let status = o.status.as_str();
    if staff.can("postloan.repossess") {
        if matches!(status, "open" | "dispatched") {
            let all = PageParams { limit: Some(200), ..PageParams::default() };
            let filter = CompanyFilter { active: Some(true) };
            let choices = companies::list(&state.pool, staff, &all, &filter)
                .await?
                .items
                .into_iter()
                .map(|c| (c.id.to_string(), c.name))
                .collect();
            forms.push(ActionForm::new(
                "dispatch",
                lang.t("repossession.dispatch"),
                lang.t("repossession.dispatch"),
                vec![
                    Input::select("company_id", lang.t("repossession.company"), choices),
                    Input::new("agent_name", lang.t("repossession.agent"), "text"),
                    Input::new("agent_phone", lang.t("repossession.agent_phone"), "tel"),
                ],
            ));
        }
        if status == "dispatched" {
            forms.push(ActionForm::new(
                "link",
                lang.t("repossession.make_link"),
                lang.t("repossession.make_link"),
                vec![Input::new("hours", lang.t("repossession.link_hours"), "number").value("72")],
            ));
            let live: Vec<(String, String)> = live_links
                .iter()
                .filter(|l| l.revoked_at.is_none())
                .map(|l| (l.id.to_string(), format!("#{}", l.id)))
                .collect();
            if !live.is_empty() {
                forms.push(ActionForm::new(
                    "revoke",
                    lang.t("repossession.revoke"),
                    lang.t("repossession.revoke"),
                    vec![Input::select("link_id", "#", live)],
                ));
            }
            forms.push(ActionForm::new(
                "recover",
                lang.t("repossession.recovery"),
                lang.t("repossession.register"),
                vec![
                    Input::new("recovered_at", lang.t("repossession.recovered_at"), "datetime-local"),
                    Input::new("place", lang.t("repossession.place"), "text"),
                    Input::new("latitude", lang.t("repossession.latitude"), "text"),
                    Input::new("longitude", lang.t("repossession.longitude"), "text"),
                    Input::new("mileage_km", lang.t("repossession.mileage_km"), "number"),
                    Input::new("condition", lang.t("repossession.condition"), "textarea"),
                    Input::new("keys", lang.t("repossession.keys"), "number").value("1"),
                    Input::new("belongings", lang.t("repossession.belongings"), "textarea"),
                    Input::new("yard", lang.t("repossession.yard"), "text"),
                    Input::new("storage_daily_fee", lang.t("repossession.storage_daily_fee"), "text"),
                    Input::new("photos", lang.t("repossession.photos"), "file"),
                ],
            ));
        }
        if matches!(status, "open" | "dispatched") {
            forms.push(ActionForm::new(
                "cancel",
                lang.t("repossession.cancel"),
                lang.t("repossession.cancel"),
                vec![Input::new("note", lang.t("repossession.note"), "textarea")],
            ));
        }
        if matches!(status, "recovered" | "reviewed") && fees.iter().all(|c| c.status == "rejected") {
            forms.push(ActionForm::new(
                "fee",
                lang.t("repossession.request_fee"),
                lang.t("repossession.request_fee"),
                vec![
                    Input::new("amount", lang.t("repossession.amount"), "text"),
                    Input::new("reason", lang.t("repossession.reason"), "text"),
                    Input::new("above_schedule_reason", lang.t("repossession.above_schedule_reason"), "text"),
                ],
            ));
        }
    }
    if status == "recovered" && staff.can("postloan.review") {
        let answers = vec![
            ("true".to_owned(), lang.t("repossession.accept").to_owned()),
            ("false".to_owned(), lang.t("repossession.send_back").to_owned()),
        ];
        forms.push(ActionForm::new(
            "review",
            lang.t("repossession.review"),
            lang.t("repossession.review"),
            vec![
                Input::select("approve", lang.t("repossession.review"), answers),
                Input::new("note", lang.t("repossession.note"), "textarea"),
            ],
        ));
    }
    let links = vec![(lang.t("contract.title").to_owned(), format!("/contracts/{}", o.contract_id))];
    Ok(RecordPage {
        links,
        facts,
        photos: o.photos.clone(),
        history,
        forms,
        ..RecordPage::new(shell, done, format!("/postloan/repossessions/{id}"))
    })
}

/// `GET /postloan/repossessions/{id}`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    Ok(render(&order_page(&state, &staff, id, done.said(staff.lang)).await?))
}

/// A local date and time typed in a form (`2026-12-01T14:30`), as UTC.
fn local_instant(fields: &Fields, name: &str, offset: i32, problems: &mut Problems) -> DateTime<Utc> {
    match NaiveDateTime::parse_from_str(fields.one(name).trim(), "%Y-%m-%dT%H:%M") {
        Ok(t) => t.and_utc() - chrono::Duration::hours(i64::from(offset)),
        Err(_) => {
            problems.add(name, "must be a date and time");
            Utc::now()
        }
    }
}

/// `POST /postloan/repossessions/{id}`: one of the page's forms.
pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (fields, uploads) = accept_multipart(&staff, multipart, "postloan.read").await?;
    let action = fields.one("action").to_owned();
    staff.require(if action == "review" { "postloan.review" } else { "postloan.repossess" })?;
    let version = orders::TABLE.load(&mut *state.pool.acquire().await?, &staff, id).await?.version;
    let mut problems = Problems::default();
    let mut tx = state.pool.begin().await?;
    let mut made_link = None;
    let outcome: Result<(), backoffice::Error> = match action.as_str() {
        "dispatch" => {
            let company_id = fields.number("company_id", &mut problems).unwrap_or_default();
            let body = Dispatch {
                version,
                company_id,
                agent_name: fields.one("agent_name").to_owned(),
                agent_phone: fields.one("agent_phone").to_owned(),
            };
            if problems.is_empty() { orders::dispatch(&mut tx, &staff, id, &body).await.map(drop) } else { Ok(()) }
        }
        "link" => {
            let hours = fields.number("hours", &mut problems);
            match links::create(&mut tx, &staff, id, &LinkRequest { hours }).await {
                Ok(link) => {
                    made_link = Some(link.path);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        "revoke" => {
            let link = fields.number("link_id", &mut problems).unwrap_or_default();
            links::revoke(&mut tx, &staff, id, link).await.map(drop)
        }
        "recover" => {
            let photos = store_photos(&mut tx, &staff, &uploads, &mut problems).await?;
            let body = Recovery {
                version,
                recovered_at: local_instant(&fields, "recovered_at", state.utc_offset_hours, &mut problems),
                place: fields.one("place").to_owned(),
                latitude: fields.number("latitude", &mut problems),
                longitude: fields.number("longitude", &mut problems),
                mileage_km: fields.number("mileage_km", &mut problems).unwrap_or(-1),
                condition: fields.one("condition").to_owned(),
                keys: fields.number("keys", &mut problems).unwrap_or_default(),
                belongings: fields.one("belongings").to_owned(),
                yard: fields.one("yard").to_owned(),
                storage_daily_fee: fields.amount("storage_daily_fee", &mut problems).unwrap_or_default(),
                photos,
            };
            if problems.is_empty() {
                orders::register_recovery(&mut tx, &staff, id, &body).await.map(drop)
            } else {
                Ok(())
            }
        }
        "review" => {
            let body =
                Review { version, approve: fields.one("approve") == "true", note: fields.one("note").to_owned() };
            orders::review(&mut tx, &staff, id, &body, state.utc_offset_hours).await.map(drop)
        }
        "cancel" => orders::cancel(&mut tx, &staff, id, &Cancel { version, note: fields.one("note").to_owned() })
            .await
            .map(drop),
        "fee" => {
            let above = Some(fields.one("above_schedule_reason").trim().to_owned()).filter(|r| !r.is_empty());
            let body = FeeRequest {
                amount: fields.amount("amount", &mut problems).unwrap_or_default(),
                reason: fields.one("reason").to_owned(),
                above_schedule_reason: above,
            };
            if problems.is_empty() { orders::request_fee(&mut tx, &staff, id, &body).await.map(drop) } else { Ok(()) }
        }
        other => return Err(PageError::Invalid(format!("action: `{other}` is not one of this page's forms"))),
    };
    // A link made is shown this once, on the page itself.
    if let (Some(path), Ok(()), true) = (&made_link, &outcome, problems.is_empty()) {
        tx.commit().await?;
        let said = format!("{} {path}", staff.lang.t("repossession.link_made_once"));
        return Ok(render(&order_page(&state, &staff, id, said).await?));
    }
    let problems = match settle(tx, outcome, problems, &format!("/postloan/repossessions/{id}?done=saved")).await? {
        Ok(done) => return Ok(done),
        Err(problems) => problems,
    };
    let page = order_page(&state, &staff, id, String::new()).await?.refused(&action, &fields, problems);
    Ok(refused(&page))
}

#[derive(askama::Template)]
#[template(path = "track.html")]
struct TrackPage {
    title: String,
    token: String,
    tile_url: String,
    no_fix: String,
    dead: String,
}

/// `GET /track/{token}`: the agent's live view of one vehicle, without an account; the page reads
/// the vehicle from `/api/v1/track/{token}` and says when the link is no longer live.
pub async fn track(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, PageError> {
    let mut db = state.pool.acquire().await?;
    links::whereabouts(&mut db, &token).await.map_err(|_| PageError::NotFound)?;
    let lang = Lang::Zh;
    let page = TrackPage {
        title: lang.t("track.title").to_owned(),
        token,
        tile_url: state.tile_url.clone().unwrap_or_default(),
        no_fix: lang.t("track.no_fix").to_owned(),
        dead: lang.t("track.dead").to_owned(),
    };
    Ok(render(&page))
}
