//! Post-loan (贷后管理): the overdue customers (逾期客户查询) and the parameters (贷后参数配置: collection
//! states, categories and groups), as tabs of one area.

pub mod codes;
pub mod contacts;
pub mod groups;
pub mod overdue;

/// The area's pages, as tabs.
const TABS: &[(&str, &str)] = &[
    ("/postloan/overdue", "postloan.overdue"),
    ("/postloan/states", "postloan.states"),
    ("/postloan/categories", "postloan.categories"),
    ("/postloan/groups", "postloan.groups"),
];
