//! Products (产品管理): the rules of a product version, the terms of a deal made under them, and
//! the catalogue of versions.
//!
//! - `product.rs`: product rules, validated, and a deal's terms and schedule under them.
//! - `catalog.rs`: product versions listed, read and added (audited).

pub mod catalog;
pub mod product;
