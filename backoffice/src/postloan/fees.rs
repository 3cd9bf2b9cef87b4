//! The customer's fees (客户费用查询): what a contract charges by kind — principal, interest, fees,
//! penalties and the post-loan charges (collection, litigation, repossession, storage, valuation) — with what is scheduled, what has fallen due, what is paid and what is owed. Worked
//! out from the contract's receivable items, without the database.

use chrono::NaiveDate;
use leasewatch_finance::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use crate::books::receivables::Receivable;
use crate::kit::amount::cents;

/// One kind of charge of a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FeeLine {
    /// `principal`, `interest`, `fee`, `penalty`, or a post-loan charge: `repossession`, `storage`,
    /// `litigation`, `valuation`, `collection`.
    pub component: String,
    /// Everything scheduled (or accrued, for penalties).
    #[serde(serialize_with = "cents")]
    #[schema(value_type = String)]
    pub scheduled: Decimal,
    /// Of it, what has fallen due by the day.
    #[serde(serialize_with = "cents")]
    #[schema(value_type = String)]
    pub due: Decimal,
    /// Paid, early payments included.
    #[serde(serialize_with = "cents")]
    #[schema(value_type = String)]
    pub paid: Decimal,
    /// Fallen due and not paid: what the customer owes today.
    #[serde(serialize_with = "cents")]
    #[schema(value_type = String)]
    pub owed: Decimal,
    /// Not yet paid at all, due or not.
    #[serde(serialize_with = "cents")]
    #[schema(value_type = String)]
    pub outstanding: Decimal,
}

/// The order charges are listed in: the costs of recovery, then what is collected first first.
const ORDER: &[&str] =
    &["repossession", "storage", "valuation", "litigation", "collection", "penalty", "fee", "interest", "principal"];

/// The charges of `items` by kind as of `day`, in collection order; kinds without items left out.
pub fn summary(items: &[Receivable], day: NaiveDate) -> Vec<FeeLine> {
    ORDER
        .iter()
        .filter_map(|kind| {
            let of_kind: Vec<&Receivable> =
                items.iter().filter(|r| r.charge.as_deref().unwrap_or(&r.component) == *kind).collect();
            if of_kind.is_empty() {
                return None;
            }
            let sum = |f: &dyn Fn(&Receivable) -> Decimal| of_kind.iter().map(|r| f(r)).sum::<Decimal>();
            Some(FeeLine {
                component: (*kind).to_owned(),
                scheduled: sum(&|r| r.amount),
                due: sum(&|r| if r.due_date <= day { r.amount } else { Decimal::ZERO }),
                paid: sum(&|r| r.paid),
                owed: sum(&|r| if r.due_date <= day { r.amount - r.paid } else { Decimal::ZERO }),
                outstanding: sum(&|r| r.amount - r.paid),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn item(component: &str, due: &str, amount: Decimal, paid: Decimal) -> Receivable {
        let (component, charge) = match component {
            "repossession" | "storage" => ("fee", Some(component.to_owned())),
            _ => (component, None),
        };
        Receivable {
            id: 0,
            period: 1,
            due_date: due.parse().unwrap(),
            component: component.into(),
            amount,
            paid,
            charge,
        }
    }

    #[test]
    fn charges_add_up_by_kind_as_of_the_day() {
        let items = [
            item("interest", "2026-10-15", dec!(500), dec!(500)),
            item("principal", "2026-10-15", dec!(2000), dec!(2000)),
            item("interest", "2026-11-15", dec!(480), dec!(100)),
            item("principal", "2026-11-15", dec!(2020), dec!(0)),
            item("interest", "2026-12-15", dec!(460), dec!(0)),
            item("principal", "2026-12-15", dec!(2040), dec!(0)),
            item("penalty", "2026-11-30", dec!(12.34), dec!(0)),
            item("storage", "2026-11-30", dec!(300), dec!(0)),
            item("repossession", "2026-11-29", dec!(4000), dec!(1000)),
        ];
        let lines = summary(&items, "2026-12-01".parse().unwrap());
        let kinds: Vec<&str> = lines.iter().map(|l| l.component.as_str()).collect();
        assert_eq!(
            kinds,
            ["repossession", "storage", "penalty", "interest", "principal"],
            "post-loan charges first, by kind; no product fees charged: none listed"
        );
        assert_eq!((lines[0].owed, lines[1].owed), (dec!(3000), dec!(300)));
        let interest = &lines[3];
        assert_eq!((interest.scheduled, interest.due, interest.paid), (dec!(1440), dec!(980), dec!(600)));
        assert_eq!((interest.owed, interest.outstanding), (dec!(380), dec!(840)));
        assert_eq!(lines[4].owed, dec!(2020));
        assert_eq!(lines[2].owed, dec!(12.34));
    }
}
