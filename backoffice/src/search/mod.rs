//! Search (全局搜索): finding a record by whatever a member of staff has at hand.
//!
//! - `find.rs`: one query string against contract numbers, plates, VINs, tracker IMEIs, customer
//!   names, and ID and phone numbers through their blind index.

pub mod find;
