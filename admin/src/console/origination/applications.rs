//! Applications in the console (申请填报): the list of the user's regions, a new application, and an
//! application's page — the form saved as a draft as often as wanted (numbers on file are kept
//! when their field is left empty), documents filed with their photos, and the submit that checks
//! everything whole and names each problem beside its field; once submitted, its quote and the
//! duplicate and fraud checks' findings.

use axum::extract::{Multipart, OriginalUri, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::dealers::dealer::{self, DealerFilter};
use backoffice::kit::day::company_today;
use backoffice::kit::list::PageParams;
use backoffice::origination::application::{
    self, AFTER_DISBURSEMENT_KINDS, Application, ApplicationFilter, DOCUMENT_KINDS, Draft, EDITABLE, LEASE_TYPES,
    NewDocument, NewParty, PARTY_ROLES, Version,
};
use backoffice::origination::disbursement;
use backoffice::origination::lien::{self, NewLien};
use backoffice::origination::review::{self, REJECT_REASONS, ReviewNote};
use backoffice::origination::submit::{self, Submit};
use backoffice::origination::{after_disbursement, guarantee, signing};
use backoffice::products::catalog::{self, ProductFilter};
use serde_json::Value;

use super::TABS;
use crate::console::error::PageError;
use crate::console::form::{Done, Fields, Problems, refused};
use crate::console::format::local_time;
use crate::console::i18n::Lang;
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart, settle, store_photos};
use crate::console::session::Staff;
use crate::state::AppState;

const STATUSES: &[&str] = &["draft", "submitted", "withdrawn"];

/// `GET /origination/applications`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("applications.read")?;
    let query: ListQuery<ApplicationFilter> = ListQuery::from_uri(&uri)?;
    let (lang, offset) = (staff.lang, state.utc_offset_hours);
    let statuses = STATUSES.iter().map(|s| ((*s).to_owned(), lang.word("application.status", s))).collect();
    let spec = ListSpec {
        path: "/origination/applications",
        title: "nav.origination",
        filters: vec![query.choice("status", lang.t("application.status"), statuses)],
        columns: vec![
            Column::plain(lang.t("application.number")).sorted("number"),
            Column::plain(lang.t("application.applicant")),
            Column::plain(lang.t("application.dealer")),
            Column::plain(lang.t("application.vehicle")),
            Column::plain(lang.t("application.price")).numeric(),
            Column::plain(lang.t("application.status")),
            Column::plain(lang.t("application.created_at")).sorted("created_at"),
        ],
        tabs: TABS,
        create: staff.can("applications.write").then_some("/origination/applications/new"),
        ..ListSpec::default()
    };
    let (pool, vault, actor, filter) = (&state.pool, &state.vault, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { application::list(pool, vault, actor, &page, filter).await }),
        |a| {
            let cells = vec![
                Cell::link(a.number.clone(), format!("/origination/applications/{}", a.id)),
                Cell::text(a.applicant_name.clone()),
                Cell::text(a.dealer_name.clone().unwrap_or_default()),
                Cell::text(format!("{} {}", a.vehicle_brand, a.vehicle_model)),
                a.price.map_or_else(|| Cell::text(""), Cell::amount),
                Cell::text(lang.word("application.status", &a.status)),
                Cell::text(local_time(&a.created_at, offset)),
            ];
            (a.id, cells)
        },
    )
    .await
}

/// The choices of the form: dealers that bring business, the products' current versions.
async fn choices(state: &AppState, staff: &Staff) -> Result<(Vec<(String, String)>, Vec<(String, String)>), PageError> {
    let all = PageParams { limit: Some(200), ..PageParams::default() };
    let active = DealerFilter { status: Some("active".to_owned()), ..DealerFilter::default() };
    let mut dealers = vec![(String::new(), "—".to_owned())];
    dealers.extend(
        dealer::list(&state.pool, staff, &all, &active).await?.items.into_iter().map(|d| (d.id.to_string(), d.name)),
    );
    let current = ProductFilter { all_versions: None };
    let mut products = vec![(String::new(), "—".to_owned())];
    products.extend(
        catalog::list(&state.pool, staff, &all, &current)
            .await?
            .items
            .into_iter()
            .map(|p| (p.id.to_string(), format!("{} v{}", p.name, p.version))),
    );
    Ok((dealers, products))
}

/// The draft form, showing `a` when there is one; numbers on file are shown masked beside their
/// empty field.
fn draft_form(
    staff: &Staff,
    a: Option<&Application>,
    dealers: Vec<(String, String)>,
    products: Vec<(String, String)>,
) -> ActionForm {
    let lang = staff.lang;
    let words = |key: &str, values: &[&str]| -> Vec<(String, String)> {
        values.iter().map(|v| ((*v).to_owned(), lang.word(key, v))).collect()
    };
    let text = |v: Option<String>| v.unwrap_or_default();
    let on_file = |label: &str, masked: Option<&String>| match masked {
        Some(m) => format!("{label}（{} {m}）", lang.t("application.on_file")),
        None => label.to_owned(),
    };
    let party = a.and_then(|a| a.parties.first());
    let inputs = vec![
        Input::select("dealer_id", lang.t("application.dealer"), dealers)
            .value(text(a.and_then(|a| a.dealer_id).map(|d| d.to_string()))),
        Input::select("lease_type", lang.t("application.lease_type"), words("application.lease_type", LEASE_TYPES))
            .value(a.map_or("sale_leaseback".to_owned(), |a| a.lease_type.clone())),
        Input::select(
            "applicant_kind",
            lang.t("application.applicant_kind"),
            words("application.kind", &["individual", "company"]),
        )
        .value(a.map_or("individual".to_owned(), |a| a.applicant_kind.clone())),
        Input::new("applicant_name", lang.t("application.applicant"), "text")
            .value(text(a.map(|a| a.applicant_name.clone()))),
        Input::new(
            "id_number",
            &on_file(lang.t("application.id_number"), a.and_then(|a| a.id_number.as_ref())),
            "text",
        ),
        Input::new("phone", &on_file(lang.t("application.phone"), a.and_then(|a| a.phone.as_ref())), "tel"),
        Input::new(
            "bank_card",
            &on_file(lang.t("application.bank_card"), a.and_then(|a| a.bank_card.as_ref())),
            "text",
        ),
        Input::new("address", lang.t("application.address"), "text").value(text(a.map(|a| a.address.clone()))),
        Input::new("employer", lang.t("application.employer"), "text").value(text(a.map(|a| a.employer.clone()))),
        Input::new("monthly_income", lang.t("application.monthly_income"), "text")
            .value(text(a.and_then(|a| a.monthly_income).map(|i| i.to_string()))),
        Input::select(
            "vehicle_condition",
            lang.t("application.vehicle_condition"),
            words("application.condition", &["new", "used"]),
        )
        .value(a.map_or("new".to_owned(), |a| a.vehicle_condition.clone())),
        Input::new("vehicle_brand", lang.t("application.vehicle_brand"), "text")
            .value(text(a.map(|a| a.vehicle_brand.clone()))),
        Input::new("vehicle_model", lang.t("application.vehicle_model"), "text")
            .value(text(a.map(|a| a.vehicle_model.clone()))),
        Input::new("vin", "VIN", "text").value(text(a.and_then(|a| a.vin.clone()))),
        Input::select("product_id", lang.t("application.product"), products)
            .value(text(a.and_then(|a| a.product_id).map(|p| p.to_string()))),
        Input::new("price", lang.t("application.price"), "text")
            .value(text(a.and_then(|a| a.price).map(|p| p.to_string()))),
        Input::new("down_payment", lang.t("application.down_payment"), "text")
            .value(text(a.and_then(|a| a.down_payment).map(|p| p.to_string()))),
        Input::new("term", lang.t("application.term"), "number")
            .value(text(a.and_then(|a| a.term).map(|t| t.to_string()))),
        Input::select("party.role", lang.t("application.party_role"), words("application.party", PARTY_ROLES))
            .value(party.map_or("guarantor".to_owned(), |p| p.role.clone())),
        Input::new("party.name", lang.t("application.party_name"), "text").value(text(party.map(|p| p.name.clone()))),
        Input::new("party.relation", lang.t("application.party_relation"), "text")
            .value(text(party.map(|p| p.relation.clone()))),
        Input::new(
            "party.id_number",
            &on_file(lang.t("application.id_number"), party.and_then(|p| p.id_number.as_ref())),
            "text",
        ),
        Input::new("party.phone", &on_file(lang.t("application.phone"), party.and_then(|p| p.phone.as_ref())), "tel"),
    ];
    ActionForm::new("save", lang.t("application.form"), lang.t("application.save"), inputs)
}

/// What the form typed, as a draft: empty number fields keep what is on file.
fn typed(fields: &Fields, problems: &mut Problems) -> Draft {
    let text = |name: &str| Some(fields.one(name).trim().to_owned());
    let given = |name: &str| Some(fields.one(name).trim().to_owned()).filter(|v| !v.is_empty());
    let amount = |name: &str, problems: &mut Problems| given(name).and_then(|_| fields.amount(name, problems));
    let party_name = given("party.name");
    Draft {
        dealer_id: given("dealer_id").and_then(|_| fields.number("dealer_id", problems)),
        lease_type: given("lease_type"),
        applicant_kind: given("applicant_kind"),
        applicant_name: text("applicant_name"),
        id_number: given("id_number"),
        phone: given("phone"),
        bank_card: given("bank_card"),
        address: text("address"),
        employer: text("employer"),
        monthly_income: amount("monthly_income", problems),
        vehicle_condition: given("vehicle_condition"),
        vehicle_brand: text("vehicle_brand"),
        vehicle_model: text("vehicle_model"),
        vin: given("vin"),
        vehicle_type: None,
        product_id: given("product_id").and_then(|_| fields.number("product_id", problems)),
        price: amount("price", problems),
        down_payment: amount("down_payment", problems),
        term: given("term").and_then(|_| fields.number("term", problems)),
        parties: party_name.map(|name| {
            vec![NewParty {
                role: fields.one("party.role").to_owned(),
                name,
                relation: fields.one("party.relation").trim().to_owned(),
                id_number: given("party.id_number"),
                phone: given("party.phone"),
                monthly_income: None,
            }]
        }),
    }
}

async fn new_page(state: &AppState, staff: &Staff) -> Result<RecordPage, PageError> {
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/origination/applications", "nav.origination");
    shell.title = lang.t("application.new").to_owned();
    let (dealers, products) = choices(state, staff).await?;
    Ok(RecordPage {
        forms: vec![draft_form(staff, None, dealers, products)],
        ..RecordPage::new(shell, String::new(), "/origination/applications/new".to_owned())
    })
}

/// `GET /origination/applications/new`.
pub async fn new(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    staff.require("applications.write")?;
    Ok(render(&new_page(&state, &staff).await?))
}

/// `POST /origination/applications/new`: saved as a draft, then its page.
pub async fn create(State(state): State<AppState>, staff: Staff, multipart: Multipart) -> Result<Response, PageError> {
    let (fields, _) = accept_multipart(&staff, multipart, "applications.write").await?;
    let mut problems = Problems::default();
    let draft = typed(&fields, &mut problems);
    if problems.is_empty() {
        let mut tx = state.pool.begin().await?;
        match application::create(&mut tx, &state.vault, &staff, &draft).await {
            Ok(made) => {
                tx.commit().await?;
                return Ok(Redirect::to(&format!("/origination/applications/{}?done=saved", made.id)).into_response());
            }
            Err(e) => problems = Problems::of(e)?,
        }
    }
    Ok(refused(&new_page(&state, &staff).await?.refused("save", &fields, problems)))
}

/// A wait in words: minutes, hours or days.
fn waited(seconds: i64) -> String {
    match seconds {
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{:.1} h", s as f64 / 3_600.0),
        s => format!("{:.1} d", s as f64 / 86_400.0),
    }
}

/// A JSON object's fields as (label, value) lines.
fn lines(value: &Value) -> Vec<(String, String)> {
    value
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect())
        .unwrap_or_default()
}

async fn application_page(state: &AppState, staff: &Staff, id: i64, done: String) -> Result<RecordPage, PageError> {
    let (lang, offset) = (staff.lang, state.utc_offset_hours);
    let a = application::get(&mut *state.pool.acquire().await?, &state.vault, staff, id).await?;
    let mut shell = Shell::new(staff, "/origination/applications", "nav.origination");
    shell.title = format!("{} {} · {}", lang.t("application.title"), a.number, a.applicant_name);
    let mut facts = vec![Facts {
        title: lang.t("application.title").to_owned(),
        lines: vec![
            (lang.t("application.number").to_owned(), a.number.clone()),
            (lang.t("application.status").to_owned(), lang.word("application.status", &a.status)),
            (lang.t("application.created_at").to_owned(), local_time(&a.created_at, offset)),
            (
                lang.t("application.submitted_at").to_owned(),
                a.submitted_at.as_ref().map(|t| local_time(t, offset)).unwrap_or_default(),
            ),
            (
                lang.t("application.documents").to_owned(),
                a.documents.iter().map(|d| lang.word("application.document", &d.kind)).collect::<Vec<_>>().join("、"),
            ),
        ],
    }];
    if let Some(score) = a.score {
        let decision = a.score_decision.as_deref().map(|d| lang.word("application.decision", d)).unwrap_or_default();
        facts[0].lines.push((lang.t("application.score").to_owned(), format!("{score} · {decision}")));
    }
    if let Some(reason) = &a.reject_reason {
        facts[0].lines.push((lang.t("application.reason").to_owned(), lang.word("application.reason", reason)));
    }
    if let Some(quote) = &a.quote {
        facts.push(Facts { title: lang.t("application.quote").to_owned(), lines: lines(quote) });
    }
    if a.status != "draft" {
        facts.push(Facts { title: lang.t("application.findings").to_owned(), lines: lines(&a.findings) });
    }
    if !a.external_checks.is_empty() {
        let lines = a
            .external_checks
            .iter()
            .map(|c| {
                let said = if c.status == "done" { c.result.to_string() } else { c.detail.clone() };
                (lang.t(&format!("application.external.{}", c.kind)).to_owned(), said)
            })
            .collect();
        facts.push(Facts { title: lang.t("application.external").to_owned(), lines });
    }
    if let Some(g) = &a.guarantee {
        let mut lines = vec![(lang.t("application.status").to_owned(), lang.word("application.guarantee", &g.status))];
        if let (Some(number), Some(premium)) = (&g.policy_number, g.premium) {
            lines.push((lang.t("application.policy").to_owned(), format!("{number} · {premium}")));
        }
        if let (Some(from), Some(to)) = (g.period_start, g.period_end) {
            lines.push((lang.t("application.period").to_owned(), format!("{from} – {to}")));
        }
        if let Some(reason) = &g.decline_reason {
            lines.push((lang.t("application.reason").to_owned(), reason.clone()));
        }
        facts.push(Facts { title: lang.t("application.guarantee").to_owned(), lines });
    }
    if let Some(s) = &a.signature {
        let mut lines = vec![(lang.t("application.status").to_owned(), lang.word("application.signature", &s.status))];
        if let Some(at) = &s.signed_at {
            lines.push((lang.t("application.signed_at").to_owned(), local_time(at, offset)));
        }
        facts.push(Facts { title: lang.t("application.signature").to_owned(), lines });
    }
    if let Some(l) = &a.lien {
        let lines = vec![(
            lang.t("application.lien").to_owned(),
            format!("{} · {} · {}", l.registration, l.office, l.registered_on),
        )];
        facts.push(Facts { title: lang.t("application.lien").to_owned(), lines });
    }
    if let Some(due) = a.documents_due.filter(|_| a.status == "disbursed") {
        facts[0].lines.push((lang.t("application.documents_due").to_owned(), due.to_string()));
    }
    let mut db = state.pool.acquire().await?;
    if a.contract_id.is_some() {
        let lines = disbursement::checks(&mut db, staff, id)
            .await?
            .into_iter()
            .map(|c| {
                (
                    lang.t(&format!("application.check.{}", c.name)).to_owned(),
                    format!("{} {}", if c.ok { "✓" } else { "✗" }, c.detail),
                )
            })
            .collect();
        facts.push(Facts { title: lang.t("application.checks").to_owned(), lines });
    }
    let steps = review::timeline(&mut db, staff, id).await?;
    let history = Some((
        lang.t("application.timeline").to_owned(),
        vec![
            lang.t("audit.at").to_owned(),
            lang.t("application.step").to_owned(),
            lang.t("application.stage").to_owned(),
            lang.t("application.by").to_owned(),
            lang.t("application.note").to_owned(),
            lang.t("application.waited").to_owned(),
        ],
        steps
            .into_iter()
            .map(|s| {
                vec![
                    local_time(&s.at, offset),
                    lang.word("application.step", &s.action),
                    s.stage.unwrap_or_default(),
                    s.by.unwrap_or_default(),
                    s.note.unwrap_or_default(),
                    waited(s.waited_s),
                ]
            })
            .collect(),
    ));
    let mut forms = Vec::new();
    if a.status == "submitted" && staff.can("workflows.act") {
        forms.push(ActionForm::new(
            "ask_documents",
            lang.t("application.ask_documents"),
            lang.t("application.ask_documents"),
            vec![Input::new("note", lang.t("application.missing"), "textarea")],
        ));
        let reasons = REJECT_REASONS.iter().map(|r| ((*r).to_owned(), lang.word("application.reason", r))).collect();
        forms.push(ActionForm::new(
            "reject",
            lang.t("application.reject"),
            lang.t("application.reject"),
            vec![
                Input::select("reason_code", lang.t("application.reason"), reasons),
                Input::new("note", lang.t("application.note"), "textarea"),
            ],
        ));
    }
    if staff.can("contracts.write") {
        forms.extend(closing_forms(&a, lang));
    }
    if EDITABLE.contains(&a.status.as_str()) && staff.can("applications.write") {
        let (dealers, products) = choices(state, staff).await?;
        forms.push(draft_form(staff, Some(&a), dealers, products));
        forms.push(document_form(DOCUMENT_KINDS, lang));
        forms.push(ActionForm::new("submit", lang.t("application.submit"), lang.t("application.submit"), Vec::new()));
    }
    let (photos, files): (Vec<_>, Vec<_>) = a.documents.iter().partition(|d| d.content_type.starts_with("image/"));
    let photos = photos.into_iter().map(|d| d.sha256.clone()).collect();
    let files = files.into_iter().map(|d| {
        (format!("{} (PDF)", lang.word("application.document", &d.kind)), format!("/attachments/{}", d.sha256))
    });
    let contract_pdf = a
        .signature
        .as_ref()
        .map(|s| (lang.t("application.contract_document").to_owned(), format!("/attachments/{}", s.document)));
    Ok(RecordPage {
        links: std::iter::once((lang.t("origination.applications").to_owned(), "/origination/applications".to_owned()))
            .chain(a.contract_id.map(|c| (lang.t("contract.title").to_owned(), format!("/contracts/{c}"))))
            .chain(contract_pdf)
            .chain(files)
            .collect(),
        facts,
        photos,
        history,
        forms,
        ..RecordPage::new(shell, done, format!("/origination/applications/{id}"))
    })
}

/// The form that files a document of one of `kinds` (a photo or a PDF).
fn document_form(kinds: &[&str], lang: Lang) -> ActionForm {
    let kinds = kinds.iter().map(|k| ((*k).to_owned(), lang.word("application.document", k))).collect();
    ActionForm::new(
        "document",
        lang.t("application.add_document"),
        lang.t("application.add_document"),
        vec![
            Input::select("kind", lang.t("application.document_kind"), kinds),
            Input::new("photos", lang.t("record.photo"), "file"),
        ],
    )
}

/// The forms that take an approved application to the money and on to the archive, as far as it
/// has come: the guarantee, the contract and its signing, the lien, the disbursement, the
/// documents due after it, the archive.
fn closing_forms(a: &Application, lang: Lang) -> Vec<ActionForm> {
    let plain = |action: &'static str, title: &str| ActionForm::new(action, lang.t(title), lang.t(title), Vec::new());
    let mut forms = Vec::new();
    let closing = matches!(a.status.as_str(), "approved" | "contracted");
    match a.guarantee.as_ref().map(|g| g.status.as_str()) {
        None | Some("declined") if closing => forms.push(plain("pre_approve", "application.pre_approve")),
        Some("pre_approved") if closing => forms.push(plain("apply_policy", "application.apply_policy")),
        _ => {}
    }
    match a.status.as_str() {
        "approved" => forms.push(plain("make_contract", "application.make_contract")),
        "contracted" => {
            if a.signature.as_ref().is_none_or(|s| s.status == "declined") {
                forms.push(plain("send_signature", "application.send_signature"));
            }
            forms.push(ActionForm::new(
                "lien",
                lang.t("application.lien"),
                lang.t("application.record_lien"),
                vec![
                    Input::new("registration", lang.t("application.lien_registration"), "text"),
                    Input::new("registered_on", lang.t("application.lien_date"), "date"),
                    Input::new("office", lang.t("application.lien_office"), "text"),
                ],
            ));
            forms.push(plain("request_disbursement", "application.request_disbursement"));
        }
        "disbursed" => {
            forms.push(document_form(AFTER_DISBURSEMENT_KINDS, lang));
            forms.push(plain("complete_documents", "application.complete_documents"));
        }
        "documents_complete" => forms.push(plain("archive", "application.archive")),
        _ => {}
    }
    forms
}

/// `GET /origination/applications/{id}`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("applications.read")?;
    Ok(render(&application_page(&state, &staff, id, done.said(staff.lang)).await?))
}

/// `POST /origination/applications/{id}`: the draft saved, a document filed, or the submit.
pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (fields, uploads) = accept_multipart(&staff, multipart, "applications.read").await?;
    let action = fields.one("action").to_owned();
    let closing = matches!(
        action.as_str(),
        "pre_approve"
            | "apply_policy"
            | "make_contract"
            | "send_signature"
            | "lien"
            | "request_disbursement"
            | "complete_documents"
            | "archive"
    );
    let current = application::get(&mut *state.pool.acquire().await?, &state.vault, &staff, id).await?;
    let (status, version) = (current.status, current.version);
    staff.require(match action.as_str() {
        "ask_documents" | "reject" => "workflows.act",
        "document" if status == "disbursed" => "contracts.write",
        _ if closing => "contracts.write",
        _ => "applications.write",
    })?;
    let mut problems = Problems::default();
    let mut tx = state.pool.begin().await?;
    let outcome: Result<(), backoffice::Error> = match action.as_str() {
        "save" => {
            let draft = typed(&fields, &mut problems);
            if problems.is_empty() {
                application::update(&mut tx, &state.vault, &staff, id, version, &draft).await.map(drop)
            } else {
                Ok(())
            }
        }
        "document" => {
            if uploads.is_empty() {
                problems.add("photos", "choose a photo of the document");
            }
            let photos = store_photos(&mut tx, &staff, &uploads, &mut problems).await?;
            let mut outcome = Ok(());
            for sha256 in photos.into_iter().filter(|_| problems.is_empty()) {
                let document = NewDocument { kind: fields.one("kind").to_owned(), sha256 };
                outcome = application::add_document(&mut tx, &state.vault, &staff, id, &document).await.map(drop);
                if outcome.is_err() {
                    break;
                }
            }
            outcome
        }
        "ask_documents" | "reject" => {
            let note = ReviewNote {
                version,
                reason_code: Some(fields.one("reason_code").to_owned()).filter(|r| !r.is_empty()),
                note: fields.one("note").to_owned(),
            };
            if action == "reject" {
                review::reject(&mut tx, &state.hooks, &state.vault, &staff, id, &note).await.map(drop)
            } else {
                review::ask_documents(&mut tx, &state.vault, &staff, id, &note).await.map(drop)
            }
        }
        "make_contract" => {
            disbursement::make_contract(&mut tx, &state.vault, &staff, id, &Version { version }).await.map(drop)
        }
        "request_disbursement" => {
            disbursement::request(&mut tx, &state.vault, &staff, id, &Version { version }).await.map(drop)
        }
        "pre_approve" => {
            guarantee::pre_approve(&mut tx, &state.vault, &state.partners, &staff, id, &Version { version })
                .await
                .map(drop)
        }
        "apply_policy" => {
            guarantee::apply(&mut tx, &state.vault, &state.partners, &staff, id, &Version { version }).await.map(drop)
        }
        "send_signature" => {
            let font = &state.letter_font;
            signing::send(&mut tx, &state.vault, &state.partners, font, &staff, id, &Version { version })
                .await
                .map(drop)
        }
        "lien" => {
            let registered_on = fields.one("registered_on").parse().ok();
            if registered_on.is_none() {
                problems.add("registered_on", "give the day the lien was registered");
            }
            match registered_on {
                Some(registered_on) => {
                    let lien = NewLien {
                        registration: fields.one("registration").to_owned(),
                        registered_on,
                        office: fields.one("office").to_owned(),
                        version,
                    };
                    let today = company_today(state.utc_offset_hours);
                    lien::record(&mut tx, &state.vault, &staff, id, &lien, today).await.map(drop)
                }
                None => Ok(()),
            }
        }
        "complete_documents" => {
            after_disbursement::complete_documents(&mut tx, &state.vault, &staff, id, &Version { version })
                .await
                .map(drop)
        }
        "archive" => {
            after_disbursement::archive(&mut tx, &state.vault, &staff, id, &Version { version }).await.map(drop)
        }
        "submit" => {
            let today = company_today(state.utc_offset_hours);
            submit::submit(&mut tx, &state.vault, &state.partners, &staff, id, &Submit { version }, today)
                .await
                .map(drop)
        }
        _ => Err(backoffice::Error::invalid("action", "is not an action of this page")),
    };
    let problems = match settle(tx, outcome, problems, &format!("/origination/applications/{id}?done=saved")).await? {
        Ok(done) => return Ok(done),
        Err(problems) => problems,
    };
    let page = application_page(&state, &staff, id, String::new()).await?;
    // A refused submit shows its problems on the draft's form, beside the fields they name.
    let page =
        if action == "submit" { page.flagged("save", problems) } else { page.refused(&action, &fields, problems) };
    Ok(refused(&page))
}
