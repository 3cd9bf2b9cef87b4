//! Origination (订单管理): the applications dealers' staff file (申请填报) and the scorecards that score
//! them (打分卡管理), as tabs of one area.

pub mod applications;
pub mod scorecards;

/// The area's pages, as tabs.
const TABS: &[(&str, &str)] =
    &[("/origination/applications", "origination.applications"), ("/origination/scorecards", "origination.scorecards")];
