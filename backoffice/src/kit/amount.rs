//! Money in responses: always a decimal string with its cents (`"0.00"`, `"1500.00"`), whatever
//! scale the database or the arithmetic left on the value. A money field of a record is
//! `#[serde(serialize_with = "cents")]` (with `cents` imported); utoipa's `decimal` feature already
//! documents a `Decimal` as a string, so it needs no `#[schema(value_type = String)]`.

use leasewatch_finance::Decimal;
use serde::Serializer;

/// Serializes an amount with two decimals.
pub fn cents<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    let mut amount = *amount;
    amount.rescale(2);
    serializer.serialize_str(&amount.to_string())
}

/// Serializes an optional amount with two decimals.
pub fn cents_opt<S: Serializer>(amount: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
    match amount {
        Some(a) => cents(a, serializer),
        None => serializer.serialize_none(),
    }
}
