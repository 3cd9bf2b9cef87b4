//! Risk locations (二押点): the list, a page that adds one, and one location's page where its name,
//! radius and whether it is watched are changed (its place and kind stay: a moved pawn shop is a
//! new location).

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use backoffice::Error;
use backoffice::risk::places::{self, NewRiskLocation, RiskLocationPatch};
use sqlx::PgConnection;

use super::TABS;
use crate::console::editor::Editor;
use crate::console::error::PageError;
use crate::console::form::{Fields, Problems};
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::Shell;
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

/// A risk location's form.
#[derive(Template)]
#[template(path = "risk_location.html")]
pub struct PlacePage {
    shell: Shell,
    /// `None` while being added.
    id: Option<i64>,
    version: i32,
    shown: PlaceForm,
    kind_label: String,
    kinds: Vec<(String, String)>,
    regions: Vec<(String, String)>,
    may_edit: bool,
    problems: Problems,
    general: Vec<String>,
    done: String,
}

/// What the form shows: the location as stored, or what was typed when it was refused.
pub struct PlaceForm {
    name: String,
    kind: String,
    latitude: String,
    longitude: String,
    radius_m: String,
    region: String,
    active: bool,
}

/// The fields of the form, in order: a refusal of any other is said at the top.
const FIELDS: &[&str] = &["name", "kind", "latitude", "longitude", "radius_m", "region_id", "active"];

/// A number the form needs: refused beside its field when missing or not a number.
fn required<T: std::str::FromStr>(fields: &Fields, name: &str, problems: &mut Problems) -> Option<T> {
    if fields.one(name).trim().is_empty() {
        problems.add(name, "is required");
        return None;
    }
    fields.number(name, problems)
}

impl Editor for PlaceForm {
    type New = NewRiskLocation;
    type Update = RiskLocationPatch;
    type Page = PlacePage;
    const PATH: &'static str = "/monitor/risk-locations";
    const READ: &'static str = "monitor.read";
    const WRITE: &'static str = "monitor.write";

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

    async fn page(
        state: &AppState,
        staff: &Staff,
        id: Option<i64>,
        typed: Option<PlaceForm>,
        problems: Problems,
        done: &str,
    ) -> Result<PlacePage, PageError> {
        let lang = staff.lang;
        let (version, stored, title) = match id {
            Some(id) => {
                let mut db = state.pool.acquire().await?;
                let p = places::risk_location(&mut db, staff, id).await?;
                let shown = PlaceForm {
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
                let shown = PlaceForm {
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
        // The place and kind stay once given: the edit form does not send them.
        let shown = match typed {
            Some(typed) if id.is_some() => {
                PlaceForm { name: typed.name, radius_m: typed.radius_m, active: typed.active, ..stored }
            }
            Some(typed) => typed,
            None => stored,
        };
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

    fn to_new(fields: &Fields, _: &PlaceForm, problems: &mut Problems) -> Option<NewRiskLocation> {
        let latitude = required(fields, "latitude", problems);
        let longitude = required(fields, "longitude", problems);
        let radius_m = required(fields, "radius_m", problems);
        let region_id = required(fields, "region_id", problems);
        Some(NewRiskLocation {
            name: fields.one("name").to_owned(),
            kind: fields.one("kind").to_owned(),
            latitude: latitude?,
            longitude: longitude?,
            radius_m: radius_m?,
            region_id: region_id?,
        })
    }

    fn to_update(fields: &Fields, _: &PlaceForm, version: i32, problems: &mut Problems) -> Option<RiskLocationPatch> {
        Some(RiskLocationPatch {
            version,
            name: Some(fields.one("name").to_owned()),
            radius_m: required(fields, "radius_m", problems),
            active: Some(fields.one("active") == "true"),
        })
    }

    async fn insert(db: &mut PgConnection, _: &AppState, staff: &Staff, new: NewRiskLocation) -> Result<i64, Error> {
        Ok(places::create_risk_location(db, staff, &new).await?.id)
    }

    async fn save(
        db: &mut PgConnection,
        _: &AppState,
        staff: &Staff,
        id: i64,
        patch: RiskLocationPatch,
    ) -> Result<(), Error> {
        places::update_risk_location(db, staff, id, &patch).await.map(drop)
    }
}
