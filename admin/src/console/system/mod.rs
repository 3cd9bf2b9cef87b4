//! System pages (系统管理): users, roles, positions, regions and settings, as tabs of one area.

pub mod positions;
pub mod regions;
pub mod roles;
pub mod settings;
pub mod users;

use backoffice::kit::list::PageParams;
use backoffice::system::regions::RegionFilter;
use serde::Deserialize;

use super::error::PageError;
use super::session::Staff;
use crate::state::AppState;

/// The area's pages, as tabs.
const TABS: &[(&str, &str)] = &[
    ("/system/users", "system.users"),
    ("/system/roles", "system.roles"),
    ("/system/positions", "system.positions"),
    ("/system/regions", "system.regions"),
    ("/system/settings", "system.settings"),
];

/// A list without filters of its own.
#[derive(Deserialize)]
pub struct NoFilter {}

/// The regions of the user's subtree for a choice, as (id, name indented by depth).
pub async fn region_choices(state: &AppState, staff: &Staff) -> Result<Vec<(String, String)>, PageError> {
    let all = PageParams { limit: Some(200), ..PageParams::default() };
    let found = backoffice::system::regions::list(&state.pool, staff, &all, &RegionFilter::default()).await?.items;
    let depth = |path: &str| path.matches('/').count().saturating_sub(2);
    Ok(found.into_iter().map(|g| (g.id.to_string(), format!("{}{}", "· ".repeat(depth(&g.path)), g.name))).collect())
}
