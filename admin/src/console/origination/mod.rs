//! Origination (订单管理): the applications dealers' staff file (申请填报), the scorecards that score
//! them (打分卡管理), the contract templates their contracts are written on (合同模板) and the
//! blacklist submit refuses (黑名单), as tabs of one area.

pub mod applications;
pub mod blacklist;
pub mod contract_templates;
pub mod scorecards;

/// The area's pages, as tabs.
const TABS: &[(&str, &str)] = &[
    ("/origination/applications", "origination.applications"),
    ("/origination/scorecards", "origination.scorecards"),
    ("/origination/contract-templates", "origination.contract_templates"),
    ("/origination/blacklist", "origination.blacklist"),
];
