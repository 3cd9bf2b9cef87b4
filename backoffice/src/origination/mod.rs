//! Origination (订单管理): how a lease is born.
//!
//! - `application.rs`: the application (申请填报) — applicant, the people around them, the vehicle,
//!   the quote, the documents; saved as a draft while it is typed.
//! - `submit.rs`: submitting it: every field checked whole (check digits, age at the end of the
//!   term, the quote against the product's current version), then the duplicate and fraud checks.
//! - `scorecard.rs`: scorecards (打分卡) — bins, points, hard rules, cut-offs — evaluated (pure).
//! - `scorecards.rs`: scorecard versions kept, champion and challenger, and each evaluation.
//! - `disbursement.rs`: the contract generated, the pre-disbursement checks (贷前审核) and the
//!   disbursement request (放款) on whose approval the contract becomes active.
//! - `review.rs`: credit review (信审审核) in stages routed by amount, more documents asked (补件),
//!   rejection with a reason code, and the progress timeline (审批进度查询).

pub mod application;
pub mod disbursement;
pub mod review;
pub mod scorecard;
pub mod scorecards;
pub mod submit;
