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
//! - `external_checks.rs`: the credit bureau and the identity check on submit, kept as variables.
//! - `partners/`: the adapters to the bureau, the insurer and the e-signature service, simulated too.
//! - `guarantee.rs`: the guarantee insurance (人保投保): pre-approval, policy, archive.
//! - `contract_templates.rs`: contract templates per lease type and product, versioned.
//! - `signing.rs`: the contract written on its template as PDF and signed electronically.
//! - `lien.rs`: the lien on the vehicle (抵押登记).
//! - `records.rs`: the policy, the signing and the lien read back for the application's view.
//! - `after_disbursement.rs`: the documents due after disbursement (贷后审核) and the archive (贷后归档).
//! - `review.rs`: credit review (信审审核) in stages routed by amount, more documents asked (补件),
//!   rejection with a reason code, and the progress timeline (审批进度查询).

pub mod after_disbursement;
pub mod application;
pub mod contract_templates;
pub mod disbursement;
pub mod external_checks;
pub mod guarantee;
pub mod lien;
pub mod partners;
pub mod records;
pub mod review;
pub mod scorecard;
pub mod scorecards;
pub mod signing;
pub mod submit;
