//! Litigation and home visits in the console (诉讼管理, 家访管理): the lists of the user's regions, and
//! each record's page with what it holds and the forms that move it on (the application and the
//! visit request are decided in the approval inbox).

use axum::extract::{Multipart, OriginalUri, Path, Query, State};
use axum::response::Response;
use backoffice::postloan::charges;
use backoffice::postloan::litigation::{
    self, Case, CaseFilter, Closing, FeeApplication, Recovered, Registration, StageReached,
};
use backoffice::postloan::visits::{self, Visit, VisitDispatch, VisitFilter, VisitResult, VisitReview};

use super::TABS;
use crate::console::error::PageError;
use crate::console::form::{Done, Problems, refused};
use crate::console::format::{date, local_time, money};
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart, settle, store_photos};
use crate::console::session::Staff;
use crate::state::AppState;

/// `GET /postloan/litigation`.
pub async fn cases(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    let query: ListQuery<CaseFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/postloan/litigation",
        title: "nav.postloan",
        columns: vec![
            Column::plain("#").sorted("id"),
            Column::plain(lang.t("contract.number")),
            Column::plain(lang.t("litigation.status")),
            Column::plain(lang.t("litigation.court")),
            Column::plain(lang.t("litigation.case_number")),
            Column::plain(lang.t("litigation.claim_amount")).numeric(),
            Column::plain(lang.t("litigation.recovered_amount")).numeric(),
        ],
        tabs: TABS,
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { litigation::list(pool, actor, &page, filter).await }),
        |c| {
            let cells = vec![
                Cell::link(format!("#{}", c.id), format!("/postloan/litigation/{}", c.id)),
                Cell::link(c.contract_number.clone(), format!("/contracts/{}", c.contract_id)),
                Cell::text(lang.word("litigation.status", &c.status)),
                Cell::text(c.court.clone().unwrap_or_default()),
                Cell::text(c.case_number.clone().unwrap_or_default()),
                Cell::amount(c.claim_amount),
                Cell::amount(c.recovered_amount),
            ];
            (c.id, cells)
        },
    )
    .await
}

async fn case_page(state: &AppState, staff: &Staff, id: i64, done: String) -> Result<RecordPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let c: Case = litigation::TABLE.load(&mut db, staff, id).await?;
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/postloan/overdue", "nav.postloan");
    shell.title = format!("{} #{} · {}", lang.t("postloan.litigation"), c.id, c.contract_number);
    let line = |key: &str, value: String| (lang.t(key).to_owned(), value);
    let mut facts = vec![Facts {
        title: lang.t("postloan.litigation").to_owned(),
        lines: vec![
            line("litigation.status", lang.word("litigation.status", &c.status)),
            line("litigation.reason", c.reason.clone()),
            line("litigation.claim_amount", money(&c.claim_amount)),
            line("litigation.court", c.court.clone().unwrap_or_default()),
            line("litigation.case_number", c.case_number.clone().unwrap_or_default()),
            line("litigation.lawyer", c.lawyer.clone().unwrap_or_default()),
            line("litigation.status.filed", date(&c.filed_on)),
            line("litigation.status.hearing", date(&c.hearing_on)),
            line("litigation.status.judgment", date(&c.judgment_on)),
            line("litigation.status.enforcement", date(&c.enforcement_on)),
            line("litigation.recovered_amount", money(&c.recovered_amount)),
            line("litigation.status.closed", date(&c.closed_on)),
        ],
    }];
    let fees = charges::of_source(&mut db, "litigation_case", id).await?;
    if !fees.is_empty() {
        let lines = fees
            .iter()
            .map(|f| {
                (
                    format!("#{} {}", f.id, lang.word("charge.status", &f.status)),
                    format!("{} → {} ({})", money(&f.amount), f.payee, f.reason),
                )
            })
            .collect();
        facts.push(Facts { title: lang.t("litigation.fees").to_owned(), lines });
    }
    let mut forms = Vec::new();
    let status = c.status.as_str();
    if staff.can("postloan.collect") {
        if status == "approved" {
            forms.push(ActionForm::new(
                "register",
                lang.t("litigation.register"),
                lang.t("litigation.register"),
                vec![
                    Input::new("court", lang.t("litigation.court"), "text"),
                    Input::new("case_number", lang.t("litigation.case_number"), "text"),
                    Input::new("lawyer", lang.t("litigation.lawyer"), "text"),
                    Input::new("claim_amount", lang.t("litigation.claim_amount"), "text")
                        .value(c.claim_amount.to_string()),
                ],
            ));
        }
        if matches!(status, "registered" | "filed" | "hearing" | "judgment") {
            let stages =
                litigation::STAGES.iter().map(|s| ((*s).to_owned(), lang.word("litigation.status", s))).collect();
            forms.push(ActionForm::new(
                "stage",
                lang.t("litigation.stage"),
                lang.t("action.save"),
                vec![
                    Input::select("stage", lang.t("litigation.stage"), stages),
                    Input::new("on", lang.t("litigation.on"), "date"),
                ],
            ));
        }
        if !matches!(status, "applied" | "approved" | "rejected" | "closed") {
            forms.push(ActionForm::new(
                "fee",
                lang.t("litigation.apply_fee"),
                lang.t("litigation.apply_fee"),
                vec![
                    Input::new("amount", lang.t("repossession.amount"), "text"),
                    Input::new("payee", lang.t("litigation.payee"), "text"),
                    Input::new("reason", lang.t("repossession.reason"), "text"),
                ],
            ));
        }
        if matches!(status, "judgment" | "enforcement" | "closing") {
            forms.push(ActionForm::new(
                "recovered",
                lang.t("litigation.recovered_amount"),
                lang.t("action.save"),
                vec![Input::new("amount", lang.t("repossession.amount"), "text")],
            ));
        }
        if matches!(status, "registered" | "filed" | "hearing" | "judgment" | "enforcement") {
            forms.push(ActionForm::new(
                "close",
                lang.t("litigation.request_closing"),
                lang.t("litigation.request_closing"),
                vec![Input::new("note", lang.t("repossession.note"), "textarea")],
            ));
        }
    }
    let links = vec![(lang.t("contract.title").to_owned(), format!("/contracts/{}", c.contract_id))];
    Ok(RecordPage { links, facts, forms, ..RecordPage::new(shell, done, format!("/postloan/litigation/{id}")) })
}

/// `GET /postloan/litigation/{id}`.
pub async fn case(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    Ok(render(&case_page(&state, &staff, id, done.said(staff.lang)).await?))
}

/// `POST /postloan/litigation/{id}`.
pub async fn case_act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (fields, _) = accept_multipart(&staff, multipart, "postloan.collect").await?;
    let action = fields.one("action").to_owned();
    let version = litigation::TABLE.load(&mut *state.pool.acquire().await?, &staff, id).await?.version;
    let mut problems = Problems::default();
    let mut tx = state.pool.begin().await?;
    let text = |name: &str| fields.one(name).to_owned();
    let outcome = match action.as_str() {
        "register" => {
            let body = Registration {
                version,
                court: text("court"),
                case_number: text("case_number"),
                lawyer: text("lawyer"),
                claim_amount: fields.amount("claim_amount", &mut problems).unwrap_or_default(),
            };
            litigation::register(&mut tx, &staff, id, &body).await.map(drop)
        }
        "stage" => {
            let on = fields.one("on").parse().map_err(|_| problems.add("on", "must be a date")).unwrap_or_default();
            litigation::reach(&mut tx, &staff, id, &StageReached { version, stage: text("stage"), on }).await.map(drop)
        }
        "fee" => {
            let body = FeeApplication {
                amount: fields.amount("amount", &mut problems).unwrap_or_default(),
                payee: text("payee"),
                reason: text("reason"),
            };
            litigation::apply_fee(&mut tx, &staff, id, &body).await.map(drop)
        }
        "recovered" => litigation::add_recovered(
            &mut tx,
            &staff,
            id,
            &Recovered { version, amount: fields.amount("amount", &mut problems).unwrap_or_default() },
        )
        .await
        .map(drop),
        "close" => {
            litigation::request_closing(&mut tx, &staff, id, &Closing { version, note: text("note") }).await.map(drop)
        }
        other => return Err(PageError::Invalid(format!("action: `{other}` is not one of this page's forms"))),
    };
    match settle(tx, outcome, problems, &format!("/postloan/litigation/{id}?done=saved")).await? {
        Ok(done) => Ok(done),
        Err(problems) => {
            Ok(refused(&case_page(&state, &staff, id, String::new()).await?.refused(&action, &fields, problems)))
        }
    }
}

/// `GET /postloan/visits`.
pub async fn visits_list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    let query: ListQuery<VisitFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let answers = vec![("true".to_owned(), lang.yes_no(true)), ("false".to_owned(), lang.yes_no(false))];
    let spec = ListSpec {
        path: "/postloan/visits",
        title: "nav.postloan",
        filters: vec![query.choice("far", lang.t("visit.far"), answers)],
        columns: vec![
            Column::plain("#").sorted("id"),
            Column::plain(lang.t("visit.status")),
            Column::plain(lang.t("visit.reason")),
            Column::plain(lang.t("visit.met")),
            Column::plain(lang.t("visit.distance")).numeric(),
            Column::plain(lang.t("visit.far")),
        ],
        tabs: TABS,
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { visits::list(pool, actor, &page, filter).await }),
        |v| {
            let cells = vec![
                Cell::link(format!("#{}", v.id), format!("/postloan/visits/{}", v.id)),
                Cell::text(lang.word("visit.status", &v.status)),
                Cell::text(v.reason.clone()),
                Cell::text(v.met.as_deref().map(|m| lang.word("visit.met", m)).unwrap_or_default()),
                v.distance_m.map_or_else(|| Cell::text(""), Cell::number),
                Cell::text(v.far.map(|f| lang.yes_no(f)).unwrap_or_default()),
            ];
            (v.id, cells)
        },
    )
    .await
}

async fn visit_page(state: &AppState, staff: &Staff, id: i64, done: String) -> Result<RecordPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let v: Visit = visits::TABLE.load(&mut db, staff, id).await?;
    let (lang, offset) = (staff.lang, state.utc_offset_hours);
    let mut shell = Shell::new(staff, "/postloan/overdue", "nav.postloan");
    shell.title = format!("{} #{}", lang.t("postloan.visits"), v.id);
    let places = v.addresses.as_array().cloned().unwrap_or_default();
    let place_lines = places
        .iter()
        .map(|p| {
            let label = lang.word("visit.place", p["label"].as_str().unwrap_or(""));
            let at = match (p["latitude"].as_f64(), p["longitude"].as_f64()) {
                (Some(lat), Some(lon)) => format!("{lat:.4}, {lon:.4} · {}", p["hours"].as_str().unwrap_or("")),
                _ => p["address"].as_str().unwrap_or("").to_owned(),
            };
            (label, at)
        })
        .collect();
    let mut facts = vec![
        Facts {
            title: lang.t("postloan.visits").to_owned(),
            lines: vec![
                (lang.t("visit.status").to_owned(), lang.word("visit.status", &v.status)),
                (lang.t("visit.reason").to_owned(), v.reason.clone()),
                (lang.t("visit.result").to_owned(), v.result.clone().unwrap_or_default()),
                (
                    lang.t("visit.met").to_owned(),
                    v.met.as_deref().map(|m| lang.word("visit.met", m)).unwrap_or_default(),
                ),
                (
                    lang.t("visit.check_in").to_owned(),
                    v.check_in_at.as_ref().map(|t| local_time(t, offset)).unwrap_or_default(),
                ),
                (lang.t("visit.distance").to_owned(), v.distance_m.map(|d| format!("{d} m")).unwrap_or_default()),
                (lang.t("visit.far").to_owned(), v.far.map(|f| lang.yes_no(f)).unwrap_or_default()),
                (lang.t("repossession.review_note").to_owned(), v.review_note.clone().unwrap_or_default()),
            ],
        },
        Facts { title: lang.t("visit.places").to_owned(), lines: place_lines },
    ];
    if v.far == Some(true) {
        facts[0].lines.insert(0, (lang.t("visit.flag").to_owned(), lang.t("visit.far_explained").to_owned()));
    }
    let mut forms = Vec::new();
    if staff.can("postloan.collect") {
        if v.status == "approved" {
            let agents = visits::agents(&mut db, staff, id)
                .await?
                .into_iter()
                .map(|(user, name)| (user.to_string(), name))
                .collect();
            forms.push(ActionForm::new(
                "dispatch",
                lang.t("visit.dispatch"),
                lang.t("visit.dispatch"),
                vec![Input::select("agent_id", lang.t("visit.agent"), agents)],
            ));
        }
        if v.status == "dispatched" {
            let met = ["customer", "family", "nobody", "moved"]
                .iter()
                .map(|m| ((*m).to_owned(), lang.word("visit.met", m)))
                .collect();
            forms.push(ActionForm::new(
                "register",
                lang.t("visit.register"),
                lang.t("visit.register"),
                vec![
                    Input::new("result", lang.t("visit.result"), "textarea"),
                    Input::select("met", lang.t("visit.met"), met),
                    Input::new("latitude", lang.t("repossession.latitude"), "text"),
                    Input::new("longitude", lang.t("repossession.longitude"), "text"),
                    Input::new("photos", lang.t("repossession.photos"), "file"),
                ],
            ));
        }
    }
    if v.status == "registered" && staff.can("postloan.review") {
        forms.push(ActionForm::new(
            "review",
            lang.t("visit.review"),
            lang.t("visit.review"),
            vec![Input::new("note", lang.t("repossession.note"), "textarea")],
        ));
    }
    let links = vec![(lang.t("contract.title").to_owned(), format!("/contracts/{}", v.contract_id))];
    Ok(RecordPage {
        links,
        facts,
        photos: v.photos.clone(),
        forms,
        ..RecordPage::new(shell, done, format!("/postloan/visits/{id}"))
    })
}

/// `GET /postloan/visits/{id}`.
pub async fn visit(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    Ok(render(&visit_page(&state, &staff, id, done.said(staff.lang)).await?))
}

/// `POST /postloan/visits/{id}`.
pub async fn visit_act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (fields, uploads) = accept_multipart(&staff, multipart, "postloan.read").await?;
    let action = fields.one("action").to_owned();
    staff.require(if action == "review" { "postloan.review" } else { "postloan.collect" })?;
    let version = visits::TABLE.load(&mut *state.pool.acquire().await?, &staff, id).await?.version;
    let mut problems = Problems::default();
    let mut tx = state.pool.begin().await?;
    let outcome = match action.as_str() {
        "dispatch" => {
            let agent_id = fields.number("agent_id", &mut problems).unwrap_or_default();
            visits::dispatch(&mut tx, &staff, id, &VisitDispatch { version, agent_id }).await.map(drop)
        }
        "register" => {
            let photos = store_photos(&mut tx, &staff, &uploads, &mut problems).await?;
            let body = VisitResult {
                version,
                result: fields.one("result").to_owned(),
                met: fields.one("met").to_owned(),
                latitude: fields.number("latitude", &mut problems).unwrap_or(f64::NAN),
                longitude: fields.number("longitude", &mut problems).unwrap_or(f64::NAN),
                photos,
            };
            if problems.is_empty() { visits::register(&mut tx, &staff, id, &body).await.map(drop) } else { Ok(()) }
        }
        "review" => visits::review(&mut tx, &staff, id, &VisitReview { version, note: fields.one("note").to_owned() })
            .await
            .map(drop),
        other => return Err(PageError::Invalid(format!("action: `{other}` is not one of this page's forms"))),
    };
    match settle(tx, outcome, problems, &format!("/postloan/visits/{id}?done=saved")).await? {
        Ok(done) => Ok(done),
        Err(problems) => {
            Ok(refused(&visit_page(&state, &staff, id, String::new()).await?.refused(&action, &fields, problems)))
        }
    }
}
