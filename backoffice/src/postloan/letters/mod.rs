//! Default-notice letters (催收违约通知函): versioned templates per stage, generated as PDF in an
//! embedded CJK font, one at a time or many in a zip, each generation kept and audited.
//!
//! - `template.rs`: the templates and how their figures are filled.
//! - `issue.rs`: generating a contract's letter, and batches.

pub mod issue;
pub mod template;
