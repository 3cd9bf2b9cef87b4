//! Post-loan parameters (贷后参数配置): collection states, categories and groups, as tabs of one area.

pub mod codes;
pub mod groups;

/// The area's pages, as tabs.
const TABS: &[(&str, &str)] = &[
    ("/postloan/states", "postloan.states"),
    ("/postloan/categories", "postloan.categories"),
    ("/postloan/groups", "postloan.groups"),
];
