//! Products (产品管理): the rules of a product version and the terms of a deal made under them.
//!
//! - `product.rs`: product rules, validated, and a deal's terms and schedule under them.

pub mod product;
