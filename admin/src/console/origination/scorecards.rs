//! Scorecards in the console (打分卡管理): every version with its role, base, cut-offs, variables
//! and bins in words, and the form that adds a version — its card edited as JSON, starting from the
//! champion's — refused beside the field that is wrong.

use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use backoffice::origination::scorecard::Card;
use backoffice::origination::scorecards::{self, NewScorecard, Scorecard};

use crate::console::error::PageError;
use crate::console::form::{Done, Problems, refused};
use crate::console::page::{Shell, render};
use crate::console::record_page::{ActionForm, Facts, Input, RecordPage, accept_multipart, settle};
use crate::console::session::Staff;
use crate::state::AppState;

/// A card in words: the cut-offs, each variable's bins with their points, the hard rules.
fn lines(s: &Scorecard, role: String) -> Facts {
    let card = &s.card.0;
    let bound = |v: &Option<leasewatch_finance::Decimal>| v.map(|d| d.to_string()).unwrap_or_default();
    let mut lines = vec![(
        role,
        format!("base {} · approve ≥ {} · decline < {}", card.base, card.approve_from, card.decline_below),
    )];
    lines.extend(card.variables.iter().map(|v| {
        let bins: Vec<String> =
            v.bins.iter().map(|b| format!("[{}, {}) {:+}", bound(&b.from), bound(&b.to), b.points)).collect();
        (v.name.clone(), format!("{} · missing {:+}", bins.join("  "), v.missing_points))
    }));
    lines.extend(
        card.rules
            .iter()
            .map(|r| (format!("✗ {}", r.reason), format!("{} < {} or > {}", r.variable, bound(&r.min), bound(&r.max)))),
    );
    Facts { title: format!("{} v{} · {}", s.code, s.version, s.name), lines }
}

async fn scorecards_page(state: &AppState, staff: &Staff, done: String) -> Result<RecordPage, PageError> {
    let lang = staff.lang;
    let mut shell = Shell::new(staff, "/origination/applications", "nav.origination");
    shell.title = lang.t("origination.scorecards").to_owned();
    let all = scorecards::list(&state.pool).await?;
    let facts = all.iter().map(|s| lines(s, lang.word("scorecard.role", &s.role))).collect();
    let mut forms = Vec::new();
    if staff.can("scorecards.write") {
        let start = all.iter().find(|s| s.role == "champion").map(|s| &s.card.0);
        let card = start.and_then(|c| serde_json::to_string_pretty(c).ok()).unwrap_or_default();
        let roles = ["champion", "challenger", "retired"]
            .iter()
            .map(|r| ((*r).to_owned(), lang.word("scorecard.role", r)))
            .collect();
        let inputs = vec![
            Input::new("code", lang.t("scorecard.code"), "text")
                .value(all.first().map(|s| s.code.clone()).unwrap_or_default()),
            Input::new("name", lang.t("scorecard.name"), "text"),
            Input::select("role", lang.t("scorecard.role"), roles).value("challenger"),
            Input::new("card", lang.t("scorecard.card"), "textarea").value(card),
        ];
        forms.push(ActionForm::new("create", lang.t("scorecard.new"), lang.t("action.save"), inputs));
    }
    Ok(RecordPage {
        links: vec![(lang.t("origination.applications").to_owned(), "/origination/applications".to_owned())],
        facts,
        forms,
        ..RecordPage::new(shell, done, "/origination/scorecards".to_owned())
    })
}

/// `GET /origination/scorecards`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("scorecards.read")?;
    Ok(render(&scorecards_page(&state, &staff, done.said(staff.lang)).await?))
}

/// `POST /origination/scorecards`: a new version.
pub async fn create(State(state): State<AppState>, staff: Staff, multipart: Multipart) -> Result<Response, PageError> {
    let (fields, _) = accept_multipart(&staff, multipart, "scorecards.write").await?;
    let mut problems = Problems::default();
    let card: Option<Card> = match serde_json::from_str(fields.one("card")) {
        Ok(card) => Some(card),
        Err(e) => {
            problems.add("card", format!("is not a scorecard: {e}"));
            None
        }
    };
    let mut tx = state.pool.begin().await?;
    let outcome = match card {
        Some(card) => {
            let new = NewScorecard {
                code: fields.one("code").trim().to_owned(),
                name: fields.one("name").to_owned(),
                card,
                role: fields.one("role").to_owned(),
            };
            scorecards::create(&mut tx, &staff, &new).await.map(drop)
        }
        None => Ok(()),
    };
    let problems = match settle(tx, outcome, problems, "/origination/scorecards?done=saved").await? {
        Ok(done) => return Ok(done),
        Err(problems) => problems,
    };
    Ok(refused(&scorecards_page(&state, &staff, String::new()).await?.refused("create", &fields, problems)))
}
