//! Scoring throughput: applications scored per second on one core by a retail-sized scorecard
//! (12 variables of 4 to 6 bins, 3 hard rules), over varied applicants.
//!
//! Run: `cargo bench -p leasewatch-backoffice --bench scoring`.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // benches fail loudly

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leasewatch_backoffice::origination::scorecard::{Bin, Card, HardRule, VARIABLES, Variable};
use leasewatch_finance::Decimal;

/// Applications per measured iteration.
const APPLICATIONS: usize = 10_000;

/// A card of every variable but one, each with bins at every tenth of its span.
fn card() -> Card {
    let variables = VARIABLES
        .iter()
        .take(12)
        .enumerate()
        .map(|(i, name)| Variable {
            name: (*name).to_owned(),
            bins: (0..(4 + i % 3))
                .map(|b| Bin {
                    from: (b > 0).then(|| Decimal::from(b * 10)),
                    to: Some(Decimal::from((b + 1) * 10)),
                    points: (b as i32 - 2) * 5,
                })
                .collect(),
            missing_points: -10,
        })
        .collect();
    let rule = |variable: &str, max: i64| HardRule {
        variable: variable.to_owned(),
        min: None,
        max: Some(Decimal::from(max)),
        reason: variable.to_owned(),
    };
    Card {
        base: 500,
        variables,
        rules: vec![rule("debt_ratio", 60), rule("phone_shared_with", 50), rule("previous_max_dpd", 55)],
        approve_from: 520,
        decline_below: 480,
    }
}

fn scoring(c: &mut Criterion) {
    let card = card();
    let applicants: Vec<BTreeMap<&str, Decimal>> = (0..APPLICATIONS)
        .map(|i| VARIABLES.iter().enumerate().map(|(v, name)| (*name, Decimal::from((i * 7 + v * 13) % 70))).collect())
        .collect();
    let mut group = c.benchmark_group("scoring");
    group.throughput(Throughput::Elements(APPLICATIONS as u64));
    group.bench_function("retail card", |b| {
        b.iter(|| {
            for values in &applicants {
                black_box(card.evaluate(black_box(values)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, scoring);
criterion_main!(benches);
