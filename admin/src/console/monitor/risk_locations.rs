//! Risk locations (二押点): the list, a page that adds one, and one location's page where its name,
//! radius and whether it is watched are changed (its place and kind stay: a moved pawn shop is a
//! new location).

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::Response;
use backoffice::risk::places::{self, NewRiskLocation, RiskLocationPatch};

use super::TABS;
use crate::console::error::PageError;
use crate::console::form::{self, Done, Fields, Problems};
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::session::Staff;
use crate::console::system::{NoFilter, region_choices};
use crate::state::AppState;

/// The kinds of risk location.
const KINDS: &[&str] = &["pawn_shop", "used_car_market", "impound_lot", "other"];

/// `GET /monitor/risk-locations`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("monitor.read")?;
    let query: ListQuery<NoFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/monitor/risk-locations",
        title: "nav.monitor",
        columns: vec![
            Column::plain(lang.t("place.name")),
            Column::plain(lang.t("place.kind")),
            Column::plain(lang.t("place.position")),
            Column::plain(lang.t("place.radius_m")).numeric(),
            Column::plain(lang.t("place.active")),
        ],
        tabs: TABS,
        create: staff.can("monitor.write").then_some("/monitor/risk-locations/new"),
        ..ListSpec::default()
    };
    let (pool, actor) = (&state.pool, &staff.caller.actor);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { places::risk_locations(pool, actor, &page).await }),
        |p| {
            let cells = vec![
                Cell::link(p.name.clone(), format!("/monitor/risk-locations/{}", p.id)),
                Cell::text(lang.word("place.kind", &p.kind)),
                Cell::text(format!("{:.5}, {:.5}", p.latitude, p.longitude)),
                Cell::number(p.radius_m),
                Cell::text(lang.yes_no(p.active)),
            ];
            (p.id, cells)
        },
    )
    .await
}

#[derive(Template)]
#[template(path = "risk_location.html")]
struct PlacePage {
    shell: Shell,
    /// `None` while being added.
    id: Option<i64>,
    version: i32,
    shown: Shown,
    kind_label: String,
    kinds: Vec<(String, String)>,
    regions: Vec<(String, String)>,
    may_edit: bool,
    problems: Problems,
    general: Vec<String>,
    done: String,
}

/// What the form shows: the location as stored, or what was typed when it was refused.
struct Shown {
    name: String,
    kind: String,
    latitude: String,
    longitude: String,
    radius_m: String,
    region: String,
    active: bool,
}

impl Shown {
    fn typed(fields: &Fields) -> Self {
        Self {
            name: fields.one("name").to_owned(),
            kind: fields.one("kind").to_owned(),
            latitude: fields.one("latitude").trim().to_owned(),
            longitude: fields.one("longitude").trim().to_owned(),
            radius_m: fields.one("radius_m").trim().to_owned(),
            region: fields.one("region_id").to_owned(),
            active: fields.one("active") != "false",
        }
    }
}

/// The fields of the form, in order: a refusal of any other is said at the top.
const FIELDS: &[&str] = &["name", "kind", "latitude", "longitude", "radius_m", "region_id", "active"];

async fn place_page(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    typed: Option<Shown>,
    problems: Problems,
    done: &str,
) -> Result<PlacePage, PageError> {
    let lang = staff.lang;
    let (version, stored, title) = match id {
        Some(id) => {
            let mut db = state.pool.acquire().await?;
            let p = places::risk_location(&mut db, staff, id).await?;
            let shown = Shown {
                name: p.name.clone(),
                kind: p.kind,
                latitude: format!("{:.6}", p.latitude),
                longitude: format!("{:.6}", p.longitude),
                radius_m: p.radius_m.to_string(),
                region: p.region_id.to_string(),
                active: p.active,
            };
            (p.version, shown, format!("{} {}", lang.t("monitor.risk_location"), p.name))
        }
        None => {
            let shown = Shown {
                name: String::new(),
                kind: "pawn_shop".to_owned(),
                latitude: String::new(),
                longitude: String::new(),
                radius_m: "300".to_owned(),
                region: staff.caller.actor.region_id.to_string(),
                active: true,
            };
            (0, shown, lang.t("monitor.new_risk_location").to_owned())
        }
    };
    let mut shell = Shell::new(staff, "/monitor/risk-locations", "nav.monitor");
    shell.title = title;
    let shown = typed.unwrap_or(stored);
    Ok(PlacePage {
        shell,
        id,
        version,
        kind_label: lang.word("place.kind", &shown.kind),
        shown,
        kinds: KINDS.iter().map(|k| ((*k).to_owned(), lang.word("place.kind", k))).collect(),
        regions: region_choices(state, staff).await?,
        may_edit: staff.can("monitor.write"),
        general: problems.others(FIELDS),
        problems,
        done: done.to_owned(),
    })
}

/// A number the form needs: refused beside its field when missing or not a number.
fn required<T: std::str::FromStr>(fields: &Fields, name: &str, problems: &mut Problems) -> Option<T> {
    if fields.one(name).trim().is_empty() {
        problems.add(name, "is required");
        return None;
    }
    fields.number(name, problems)
}

/// `GET /monitor/risk-locations/new`.
pub async fn new(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    staff.require("monitor.write")?;
    Ok(render(&place_page(&state, &staff, None, None, Problems::default(), "").await?))
}

/// `POST /monitor/risk-locations/new`: adds the location and opens its page.
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "monitor.write")?;
    let mut problems = Problems::default();
    let latitude = required(&fields, "latitude", &mut problems);
    let longitude = required(&fields, "longitude", &mut problems);
    let radius_m = required(&fields, "radius_m", &mut problems);
    let region_id = required(&fields, "region_id", &mut problems);
    let (Some(latitude), Some(longitude), Some(radius_m), Some(region_id)) = (latitude, longitude, radius_m, region_id)
    else {
        return Ok(form::refused(&place_page(&state, &staff, None, Some(Shown::typed(&fields)), problems, "").await?));
    };
    let new = NewRiskLocation {
        name: fields.one("name").to_owned(),
        kind: fields.one("kind").to_owned(),
        latitude,
        longitude,
        radius_m,
        region_id,
    };
    let mut tx = state.pool.begin().await?;
    let outcome = places::create_risk_location(&mut tx, &staff, &new).await;
    match form::finish(tx, outcome, |p| format!("/monitor/risk-locations/{}?done=saved", p.id)).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => {
            Ok(form::refused(&place_page(&state, &staff, None, Some(Shown::typed(&fields)), problems, "").await?))
        }
    }
}

/// `GET /monitor/risk-locations/{id}`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("monitor.read")?;
    let done = done.said(staff.lang);
    Ok(render(&place_page(&state, &staff, Some(id), None, Problems::default(), &done).await?))
}

/// `POST /monitor/risk-locations/{id}`: saves the name, radius and whether it is watched, with the
/// version read.
pub async fn edit(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "monitor.write")?;
    let mut problems = Problems::default();
    let version = fields.number("version", &mut problems).unwrap_or_default();
    let radius_m = required(&fields, "radius_m", &mut problems);
    let refuse = |problems| async {
        let mut typed = Shown::typed(&fields);
        // The place and kind are not in the edit form: show them as stored.
        let mut db = state.pool.acquire().await?;
        let stored = places::risk_location(&mut db, &staff, id).await?;
        drop(db);
        (typed.kind, typed.region) = (stored.kind, stored.region_id.to_string());
        (typed.latitude, typed.longitude) = (format!("{:.6}", stored.latitude), format!("{:.6}", stored.longitude));
        Ok::<_, PageError>(form::refused(&place_page(&state, &staff, Some(id), Some(typed), problems, "").await?))
    };
    if !problems.is_empty() {
        return refuse(problems).await;
    }
    let patch = RiskLocationPatch {
        version,
        name: Some(fields.one("name").to_owned()),
        radius_m,
        active: Some(fields.one("active") == "true"),
    };
    let mut tx = state.pool.begin().await?;
    let outcome = places::update_risk_location(&mut tx, &staff, id, &patch).await;
    match form::finish(tx, outcome, |_| format!("/monitor/risk-locations/{id}?done=saved")).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => refuse(problems).await,
    }
}
