//! The map (车辆地图): every vehicle at its last fix, clustered so that tens of thousands stay
//! smooth, coloured by its contract's bucket, over the province outlines the daemon ships (no
//! online tiles). The page loads the vehicles from `/map/vehicles.json` with the filters chosen.

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use backoffice::assets::fleet::{self, FleetFilter};
use serde_json::{Value, json};

use super::error::PageError;
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "map.html")]
struct MapPage {
    shell: Shell,
}

/// `GET /map`.
pub async fn page(staff: Staff) -> Result<Response, PageError> {
    staff.require("vehicles.read")?;
    Ok(render(&MapPage { shell: Shell::new(&staff, "/map", "nav.map") }))
}

/// `GET /map/vehicles.json`: `[[id, latitude, longitude, bucket, alerts, label], ...]`, compact
/// because a map may hold a hundred thousand of them.
pub async fn vehicles(
    State(state): State<AppState>,
    staff: Staff,
    Query(filter): Query<FleetFilter>,
) -> Result<Response, PageError> {
    staff.require("vehicles.read")?;
    let fixes = fleet::last_fixes(&state.pool, &staff, &filter).await?;
    let rows: Vec<Value> =
        fixes.into_iter().map(|f| json!([f.id, f.latitude, f.longitude, f.bucket, f.alerts, f.label])).collect();
    Ok(Json(rows).into_response())
}
