//! Post-loan (贷后管理): the overdue customers (逾期客户查询), repossession orders and companies (现场收车,
//! 收车公司), the disposal of recovered vehicles (车辆处置) and the parameters (贷后参数配置: collection
//! states, categories and groups), as tabs of one area.

pub mod actions;
pub mod codes;
pub mod companies;
pub mod contacts;
pub mod disposals;
pub mod groups;
pub mod litigation;
pub mod notices;
pub mod overdue;
pub mod repossession;

/// The area's pages, as tabs.
const TABS: &[(&str, &str)] = &[
    ("/postloan/overdue", "postloan.overdue"),
    ("/postloan/repossessions", "postloan.repossessions"),
    ("/postloan/disposals", "postloan.disposals"),
    ("/postloan/companies", "postloan.companies"),
    ("/postloan/litigation", "postloan.litigation"),
    ("/postloan/visits", "postloan.visits"),
    ("/postloan/notices", "postloan.notices"),
    ("/postloan/states", "postloan.states"),
    ("/postloan/categories", "postloan.categories"),
    ("/postloan/groups", "postloan.groups"),
];
