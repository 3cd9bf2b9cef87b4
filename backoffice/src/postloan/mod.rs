//! Post-loan (贷后管理): turning an overdue contract into money. Today its parameters (贷后参数配置):
//! the collection states and categories a contract's collection is recorded with, and the
//! collection groups that work the overdue book, with their buckets, regions and members; and the
//! overdue customers query (逾期客户查询); the contacts made about an overdue contract (电话催收登记)
//! under the contact rules; post-loan charges (收车/诉讼/存储/评估费用); repossession (现场收车) and
//! the disposal of the recovered vehicle (车辆处置); default-notice letters (催收违约通知函); SMS reminders
//! and overdue notices (还款提醒); litigation (诉讼管理); home visits (家访管理).

pub mod charges;
pub mod codes;
pub mod contacts;
pub mod disposal;
pub mod distribution;
pub mod fees;
pub mod groups;
pub mod letters;
pub mod litigation;
pub mod overdue;
pub mod reminders;
pub mod repossession;
pub mod visits;
