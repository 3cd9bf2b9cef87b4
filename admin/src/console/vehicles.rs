//! Vehicle pages (车辆): the list, and one vehicle with its trackers (wired and wireless, when
//! each was last heard from) and their commands, each shown with where it stands
//! (requested → approved → waiting for the vehicle to stop → sent → acknowledged), and the form to
//! request one. An engine cut waits for a second person's approval in the approval inbox.

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::assets::device_commands::{self, NewCommand};
use backoffice::assets::vehicle::{self, InstalledDevice, VehicleFilter};
use serde::Deserialize;

use super::alerts::AlertLine;
use super::error::PageError;
use super::format::local_time;
use super::i18n::Lang;
use super::list::{self, Cell, Column, ListQuery, ListSpec};
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;

/// `GET /vehicles`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("vehicles.read")?;
    let query: ListQuery<VehicleFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/vehicles",
        title: "nav.vehicles",
        filters: vec![
            query.field("plate", lang.t("vehicle.plate"), "text"),
            query.field("vin", lang.t("vehicle.vin"), "text"),
        ],
        columns: vec![
            Column::plain(lang.t("vehicle.plate")),
            Column::plain(lang.t("vehicle.vin")).sorted("vin"),
            Column::plain(lang.t("vehicle.model")),
            Column::plain(lang.t("vehicle.status")),
        ],
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { vehicle::list(pool, actor, &page, filter).await }),
        |v| {
            let model = [v.brand.as_deref(), v.series.as_deref(), v.model.as_deref()].into_iter().flatten();
            let cells = vec![
                Cell::link(v.plate.clone().unwrap_or_else(|| "—".to_owned()), format!("/vehicles/{}", v.id)),
                Cell::text(v.vin.clone()),
                Cell::text(model.collect::<Vec<_>>().join(" ")),
                Cell::text(lang.t(&format!("vehicle.status.{}", v.status)).to_owned()),
            ];
            (v.id, cells)
        },
    )
    .await
}

/// Where a command stands, step by step.
struct CommandView {
    command: String,
    reason: String,
    requested: String,
    status: String,
    /// The steps it passed (true) or has still to pass (false); empty when it ended otherwise.
    steps: Vec<(String, bool)>,
    result: String,
}

/// The steps a command goes through, and how far `status` is along them.
fn steps(lang: Lang, command: &str, status: &str) -> Vec<(String, bool)> {
    let approved = command == device_commands::ENGINE_CUT;
    let mut path = vec!["requested"];
    if approved {
        path.extend(["approved", "waiting_stop"]);
    }
    path.extend(["sent", "acknowledged"]);
    let reached = match status {
        "awaiting_approval" => 1,
        "queued" => 1 + usize::from(approved),
        "waiting_stop" => 3,
        "sent" => path.len() - 1,
        "acknowledged" => path.len(),
        _ => return Vec::new(),
    };
    path.iter().enumerate().map(|(i, s)| (lang.t(&format!("command.step.{s}")).to_owned(), i < reached)).collect()
}

/// Whether a command in `status` has yet to end.
fn under_way(status: &str) -> bool {
    matches!(status, "awaiting_approval" | "queued" | "waiting_stop" | "sent")
}

/// The latest fix in words: when, where, how fast, the ignition.
fn last_fix(lang: Lang, offset: i32, d: &InstalledDevice) -> String {
    let (Some(at), Some(lat), Some(lon)) = (d.fix_time, d.latitude, d.longitude) else {
        return lang.t("device.no_fix").to_owned();
    };
    let mut parts = vec![local_time(&at, offset)];
    if d.valid == Some(false) {
        parts.push(lang.t("device.invalid_fix").to_owned());
    } else {
        parts.push(format!("{lat:.5}, {lon:.5}"));
    }
    if let Some(speed) = d.speed_kmh {
        parts.push(format!("{speed:.0} km/h"));
    }
    match d.ignition {
        Some(true) => parts.push(lang.t("device.ignition_on").to_owned()),
        Some(false) => parts.push(lang.t("device.ignition_off").to_owned()),
        None => {}
    }
    parts.join(" · ")
}

/// A tracker with its commands.
struct DeviceView {
    id: i64,
    imei: String,
    protocol: String,
    kind: String,
    last_seen: String,
    /// Where and how its latest fix found the vehicle.
    last_fix: String,
    /// Whether a command is under way (the progress refreshes itself).
    live: bool,
    commands: Vec<CommandView>,
}

#[derive(Template)]
#[template(path = "vehicle.html")]
struct VehiclePage {
    shell: Shell,
    vehicle_id: i64,
    plate: String,
    vin: String,
    model: String,
    status: String,
    devices: Vec<DeviceView>,
    alerts: Vec<AlertLine>,
    may_command: bool,
    problem: Option<(i64, String, String)>,
}

async fn vehicle_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    problem: Option<(i64, String, String)>,
) -> Result<VehiclePage, PageError> {
    let mut db = state.pool.acquire().await?;
    let detail = vehicle::detail(&mut db, staff, id).await?;
    let lang = staff.lang;
    let offset = state.utc_offset_hours;
    let mut devices = Vec::new();
    for d in detail.devices {
        let commands =
            if staff.can("commands.read") { device_commands::list(&mut db, staff, d.id).await? } else { Vec::new() };
        let live = commands.iter().any(|c| under_way(&c.status));
        let commands = commands
            .into_iter()
            .take(20)
            .map(|c| CommandView {
                steps: steps(lang, &c.command, &c.status),
                command: lang.t(&format!("command.{}", c.command)).to_owned(),
                reason: c.reason,
                requested: local_time(&c.created_at, offset),
                status: lang.t(&format!("command.status.{}", c.status)).to_owned(),
                result: c.result.unwrap_or_default(),
            })
            .collect();
        let fix = last_fix(lang, offset, &d);
        devices.push(DeviceView {
            id: d.id,
            imei: d.imei,
            protocol: d.protocol,
            kind: lang.t(&format!("device.kind.{}", d.kind)).to_owned(),
            last_seen: d.last_seen.map(|t| local_time(&t, offset)).unwrap_or_else(|| "—".to_owned()),
            last_fix: fix,
            live,
            commands,
        });
    }
    let v = detail.vehicle;
    let mut shell = Shell::new(staff, "/vehicles", "nav.vehicles");
    shell.title = format!("{} {}", lang.t("vehicle.title"), v.plate.as_deref().unwrap_or(&v.vin));
    let model = [v.brand.as_deref(), v.series.as_deref(), v.model.as_deref()].into_iter().flatten();
    Ok(VehiclePage {
        shell,
        vehicle_id: v.id,
        plate: v.plate.clone().unwrap_or_else(|| "—".to_owned()),
        model: model.collect::<Vec<_>>().join(" "),
        status: lang.t(&format!("vehicle.status.{}", v.status)).to_owned(),
        vin: v.vin,
        devices,
        alerts: super::alerts::lines(state, staff, Some(id), None).await?,
        may_command: staff.can("commands.send"),
        problem,
    })
}

/// `GET /vehicles/{id}`.
pub async fn page(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Result<Response, PageError> {
    staff.require("vehicles.read")?;
    Ok(render(&vehicle_page(&state, &staff, id, None).await?))
}

/// The command form's fields.
#[derive(Debug, Deserialize)]
pub struct CommandForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// The command.
    pub command: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// `POST /vehicles/{id}/devices/{device}/commands`: requests the command, then back to the
/// vehicle; a refusal is said beside the form.
pub async fn command(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, device)): Path<(i64, i64)>,
    Form(form): Form<CommandForm>,
) -> Result<Response, PageError> {
    staff.check_csrf(&form.csrf)?;
    staff.require("commands.send")?;
    // The device must be one of this vehicle's, as the page showed it.
    let mut db = state.pool.acquire().await?;
    if !vehicle::detail(&mut db, &staff, id).await?.devices.iter().any(|d| d.id == device) {
        return Err(PageError::Forbidden);
    }
    drop(db);
    let new = NewCommand { command: form.command.clone(), seconds: None, reason: form.reason.clone() };
    let mut tx = state.pool.begin().await?;
    match device_commands::request(&mut tx, &staff, device, &new).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/vehicles/{id}")).into_response())
        }
        Err(backoffice::Error::Validation(errors)) => {
            drop(tx);
            let problem = errors.into_iter().next().map(|e| (device, e.field, e.message));
            let page = vehicle_page(&state, &staff, id, problem).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(e) => Err(PageError::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_cut_shows_approval_and_the_wait_for_a_stop() {
        let reached = |status| steps(Lang::En, "engine_cut", status).iter().filter(|(_, done)| *done).count();
        assert_eq!(steps(Lang::En, "engine_cut", "awaiting_approval").len(), 5);
        assert_eq!(reached("awaiting_approval"), 1);
        assert_eq!(reached("queued"), 2);
        assert_eq!(reached("waiting_stop"), 3);
        assert_eq!(reached("sent"), 4);
        assert_eq!(reached("acknowledged"), 5);
        assert!(steps(Lang::En, "engine_cut", "rejected").is_empty());
        let locate = steps(Lang::En, "locate_now", "queued");
        assert_eq!((locate.len(), locate.iter().filter(|(_, done)| *done).count()), (3, 1));
    }
}
