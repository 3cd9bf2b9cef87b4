//! Origination (订单管理): the applications dealers' staff file (申请填报), as tabs of one area.

pub mod applications;

/// The area's pages, as tabs.
const TABS: &[(&str, &str)] = &[("/origination/applications", "origination.applications")];
