//! The books end to end: a book of contracts imported from CSV, bank statements imported,
//! matched and written off, and the daily job run day by day over a simulated year in which some
//! customers pay on time, some late, some in part and some not at all. The days past due, buckets
//! and penalties are checked every day against a model the test computes on its own.
//!
//! `LEASEWATCH_BOOKS_CONTRACTS` sets the size of the book (default 500).

use std::collections::HashMap;
use std::time::Instant;

use backoffice::books::{delinquency, import, receipts};
use backoffice::system::crypto::Vault;
use chrono::{Duration, NaiveDate};
use leasewatch_finance::money::CENT;
use leasewatch_finance::{Decimal, Method, Rounding, Terms, Timing, schedule};
use rust_decimal_macros::dec;
use sqlx::PgPool;

/// How a simulated customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Habit {
    /// Three days before each due date (the job applies the credit on the day).
    Early,
    /// Ten days after each due date.
    Late10,
    /// Forty days after each due date (M2).
    Late40,
    /// Half of each installment, on the due date.
    Half,
    /// Nothing from the fourth installment on.
    Stops,
}

const HABITS: [Habit; 5] = [Habit::Early, Habit::Late10, Habit::Late40, Habit::Half, Habit::Stops];

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// The test's own account of one contract: installments, penalty, credit.
struct Model {
    /// (due date, interest open, principal open) per period.
    installments: Vec<(NaiveDate, Decimal, Decimal)>,
    penalty_accrued: Decimal,
    penalty_paid: Decimal,
    credit: Decimal,
}

impl Model {
    fn penalty_open(&self) -> Decimal {
        self.penalty_accrued - self.penalty_paid
    }

    /// Pays `amount` on `day`: penalty first, then each due period's interest then principal,
    /// oldest first; the rest is credit.
    fn pay(&mut self, mut amount: Decimal, day: NaiveDate) {
        let penalty = amount.min(self.penalty_open());
        self.penalty_paid += penalty;
        amount -= penalty;
        for (due, interest, principal) in self.installments.iter_mut().filter(|i| i.0 <= day) {
            let _ = due;
            let i = amount.min(*interest);
            *interest -= i;
            amount -= i;
            let p = amount.min(*principal);
            *principal -= p;
            amount -= p;
        }
        self.credit += amount;
    }

    /// The end of `day`: credit applied to what is due, then days past due and the penalty.
    fn close_day(&mut self, day: NaiveDate) -> (u32, u32) {
        if self.credit > Decimal::ZERO && self.installments.iter().any(|i| i.0 <= day && i.1 + i.2 > Decimal::ZERO) {
            let credit = std::mem::take(&mut self.credit);
            self.pay(credit, day);
        }
        let open: Vec<_> = self.installments.iter().filter(|i| i.0 <= day && i.1 + i.2 > Decimal::ZERO).collect();
        let dpd = open.first().map_or(0, |i| u32::try_from((day - i.0).num_days()).unwrap());
        // What falls due today is not overdue yet.
        let overdue: Decimal = open.iter().filter(|i| i.0 < day).map(|i| i.1 + i.2).sum();
        if dpd > 3 {
            let days = if dpd == 4 { dec!(4) } else { dec!(1) };
            self.penalty_accrued += (overdue * dec!(0.0005) * days)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        }
        let bucket = match dpd {
            0 => 0,
            1..=30 => 1,
            31..=60 => 2,
            61..=90 => 3,
            _ => 4,
        };
        (dpd, bucket)
    }
}

fn terms(i: usize) -> Terms {
    Terms {
        principal: Decimal::from(20_000 + (i % 97) * 100),
        annual_rate: dec!(0.1188),
        term: 12,
        method: if i.is_multiple_of(7) { Method::EqualPrincipal } else { Method::EqualInstallment },
        start: d(2024, 1, 1) + Duration::days((i % 28) as i64),
        timing: Timing::Arrears,
        residual: Decimal::ZERO,
        deposit: Decimal::ZERO,
        fee: Decimal::ZERO,
        installment_multiple: CENT,
        rounding: Rounding::HalfUp,
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_simulated_year_of_payments_gives_the_dpd_buckets_and_penalties_of_an_independent_model(pool: PgPool) {
    let n: usize = std::env::var("LEASEWATCH_BOOKS_CONTRACTS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let vault = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
    sqlx::query("INSERT INTO receiving_accounts (code, bank, name) VALUES ('ICBC-01', 'ICBC', '租金户')")
        .execute(&pool)
        .await
        .unwrap();

    // The book, as CSV.
    let mut csv = String::from("number,region,principal,annual_rate,term,method,start_date,customer_name,id_number\n");
    for i in 0..n {
        let t = terms(i);
        let method = if t.method == Method::EqualPrincipal { "equal-principal" } else { "equal-installment" };
        let (name, id) = if i == 0 { ("张三", "11010519491231002X") } else { ("", "") };
        csv.push_str(&format!("HT-{i:06},HQ,{},{},12,{method},{},{name},{id}\n", t.principal, t.annual_rate, t.start));
    }
    let rows = import::parse_csv(csv.as_bytes()).unwrap();
    let started = Instant::now();
    let mut tx = pool.begin().await.unwrap();
    let summary = import::import(&mut tx, &vault, &rows).await.unwrap();
    tx.commit().await.unwrap();
    eprintln!("imported {} contracts in {:?}", summary.imported, started.elapsed());
    assert_eq!(summary.imported, n as u64);
    let mut tx = pool.begin().await.unwrap();
    assert_eq!(import::import(&mut tx, &vault, &rows).await.unwrap().skipped, n as u64, "a re-import changes nothing");
    tx.commit().await.unwrap();

    // The payments each customer will make, by value date.
    let mut models = Vec::with_capacity(n);
    let mut payments: HashMap<NaiveDate, Vec<(usize, Decimal)>> = HashMap::new();
    for i in 0..n {
        let q = schedule(&terms(i)).unwrap();
        let habit = HABITS[i % HABITS.len()];
        for row in &q.rows {
            let (day, amount) = match habit {
                Habit::Early => (row.due_date - Duration::days(3), row.payment),
                Habit::Late10 => (row.due_date + Duration::days(10), row.payment),
                Habit::Late40 => (row.due_date + Duration::days(40), row.payment),
                Habit::Half => (row.due_date, (row.payment / dec!(2)).round_dp(2)),
                Habit::Stops if row.period >= 4 => continue,
                Habit::Stops => (row.due_date, row.payment),
            };
            payments.entry(day).or_default().push((i, amount));
        }
        models.push(Model {
            installments: q.rows.iter().map(|r| (r.due_date, r.interest, r.principal)).collect(),
            penalty_accrued: Decimal::ZERO,
            penalty_paid: Decimal::ZERO,
            credit: Decimal::ZERO,
        });
    }

    let ids: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>("SELECT number, id FROM contracts")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let mut reference = 0u64;
    let (mut job_time, mut statement_time, mut mismatches) =
        (std::time::Duration::ZERO, std::time::Duration::ZERO, Vec::new());
    let mut day = d(2024, 1, 1);
    while day <= d(2024, 12, 31) {
        if let Some(list) = payments.get(&day) {
            let mut statement = String::from("reference,date,amount,payer,remark\n");
            for (i, amount) in list {
                reference += 1;
                statement.push_str(&format!("R{reference:08},{day},{amount},客户{i},HT-{i:06} 租金\n"));
                models[*i].pay(*amount, day);
            }
            let rows = receipts::parse_statement(statement.as_bytes()).unwrap();
            let started = Instant::now();
            let mut tx = pool.begin().await.unwrap();
            let summary = receipts::import_statement(&mut tx, "ICBC-01", &rows).await.unwrap();
            tx.commit().await.unwrap();
            statement_time += started.elapsed();
            assert_eq!(
                (summary.imported, summary.claimed, summary.written_off),
                (list.len() as u64, list.len() as u64, list.len() as u64)
            );
            // The same statement again is recognised line by line.
            if day == d(2024, 2, 10) {
                let mut tx = pool.begin().await.unwrap();
                let again = receipts::import_statement(&mut tx, "ICBC-01", &rows).await.unwrap();
                tx.commit().await.unwrap();
                assert_eq!((again.imported, again.duplicates), (0, list.len() as u64));
            }
        }
        let started = Instant::now();
        delinquency::run_through(&pool, day).await.unwrap();
        job_time += started.elapsed();

        let state: HashMap<i64, (i32, i32, Decimal)> =
            sqlx::query_as::<_, (i64, i32, i32, Decimal)>("SELECT id, dpd, bucket, penalty_open FROM contracts")
                .fetch_all(&pool)
                .await
                .unwrap()
                .into_iter()
                .map(|(id, dpd, bucket, penalty)| (id, (dpd, bucket, penalty)))
                .collect();
        for (i, model) in models.iter_mut().enumerate() {
            let (dpd, bucket) = model.close_day(day);
            let got = state[&ids[&format!("HT-{i:06}")]];
            let want = (dpd as i32, bucket as i32, model.penalty_open());
            if got != want && mismatches.len() < 10 {
                mismatches.push(format!("{day} HT-{i:06} ({:?}): got {got:?}, model {want:?}", HABITS[i % 5]));
            }
        }
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
        day += Duration::days(1);
    }
    eprintln!("{n} contracts, 366 days: statements {statement_time:?}, daily job {job_time:?}");

    // Every habit shows up as it should by the year's end.
    let buckets: Vec<(i32, i64)> =
        sqlx::query_as("SELECT bucket, count(*) FROM contracts GROUP BY bucket ORDER BY bucket")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(buckets.iter().any(|(b, _)| *b == 4), "those who stopped paying reach M4+: {buckets:?}");

    // The ledger balances overall and per transaction; receipts = allocated + credit held.
    let (debits, credits): (Decimal, Decimal) =
        sqlx::query_as("SELECT sum(debit), sum(credit) FROM ledger_entries").fetch_one(&pool).await.unwrap();
    assert_eq!(debits, credits);
    let (received, allocated, credit): (Decimal, Decimal, Decimal) = sqlx::query_as(
        "SELECT (SELECT sum(amount) FROM receipts),
                (SELECT COALESCE(sum(amount), 0) FROM allocations WHERE source = 'receipt')
                  + (SELECT COALESCE(sum(amount), 0) FROM allocations WHERE source = 'credit'),
                (SELECT sum(credit) FROM contracts)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(received, allocated + credit);
    let model_credit: Decimal = models.iter().map(|m| m.credit).sum();
    assert_eq!(credit, model_credit);

    // Bucket changes are events, and the read model answers per contract.
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM contract_events WHERE kind = 'bucket_changed'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(events > n as i64 / 2, "{events}");
    let status: (i32, i32, Option<NaiveDate>) =
        sqlx::query_as("SELECT dpd, bucket, last_payment_on FROM payment_status WHERE number = 'HT-000004'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status.1, 4, "HT-000004 stopped paying: {status:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn ten_thousand_contracts_and_a_ten_thousand_line_statement_are_imported_matched_and_written_off(pool: PgPool) {
    const N: usize = 10_000;
    let vault = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
    sqlx::query("INSERT INTO receiving_accounts (code, bank, name) VALUES ('CCB-02', 'CCB', '还款户')")
        .execute(&pool)
        .await
        .unwrap();
    let mut csv = String::from("number,region,principal,annual_rate,term,method,start_date\n");
    for i in 0..N {
        let t = terms(i);
        let method = if t.method == Method::EqualPrincipal { "equal-principal" } else { "equal-installment" };
        csv.push_str(&format!("HT-{i:06},HQ,{},{},12,{method},{}\n", t.principal, t.annual_rate, t.start));
    }
    let started = Instant::now();
    let rows = import::parse_csv(csv.as_bytes()).unwrap();
    let mut tx = pool.begin().await.unwrap();
    let summary = import::import(&mut tx, &vault, &rows).await.unwrap();
    tx.commit().await.unwrap();
    eprintln!("{N} contracts imported in {:?}", started.elapsed());
    assert_eq!((summary.imported, summary.receivables), (N as u64, N as u64 * 24));

    // Everyone pays their first installment, plus 1.00 too much, on its due date; one line names no contract.
    let mut statement = String::from("reference,date,amount,payer,remark\n");
    let mut expected_credit = Decimal::ZERO;
    for i in 0..N {
        let first = &schedule(&terms(i)).unwrap().rows[0];
        statement.push_str(&format!(
            "S{i:08},{},{},客户{i},租金 HT-{i:06}\n",
            first.due_date,
            first.payment + Decimal::ONE
        ));
        expected_credit += Decimal::ONE;
    }
    statement.push_str("S99999999,2024-02-01,500.00,无名氏,货款\n");
    let started = Instant::now();
    let rows = receipts::parse_statement(statement.as_bytes()).unwrap();
    let mut tx = pool.begin().await.unwrap();
    let summary = receipts::import_statement(&mut tx, "CCB-02", &rows).await.unwrap();
    tx.commit().await.unwrap();
    eprintln!("{}-line statement imported, matched and written off in {:?}", N + 1, started.elapsed());
    assert_eq!((summary.imported, summary.claimed, summary.written_off), (N as u64 + 1, N as u64, N as u64));

    let (open_first, credit): (i64, Decimal) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM receivables WHERE period = 1 AND paid < amount), (SELECT sum(credit) FROM contracts)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(open_first, 0, "every first installment is settled");
    assert_eq!(credit, expected_credit, "overpayments are held as credit");
    let unclaimed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM receipts WHERE status = 'unclaimed'").fetch_one(&pool).await.unwrap();
    assert_eq!(unclaimed, 1);
    let unbalanced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(debit) <> sum(credit)) t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unbalanced, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn settling_early_returns_interest_paid_for_later_periods(pool: PgPool) {
    let vault = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
    let today = chrono::Utc::now().date_naive();
    let start = today - Duration::days(40);
    // Three installments paid although one has fallen due: two were paid ahead.
    let csv = format!(
        "number,region,principal,annual_rate,term,method,start_date,paid_periods\nHT-9,HQ,12000,0.12,12,equal-installment,{start},3\n"
    );
    let rows = import::parse_csv(csv.as_bytes()).unwrap();
    let mut tx = pool.begin().await.unwrap();
    import::import(&mut tx, &vault, &rows).await.unwrap();
    tx.commit().await.unwrap();
    let id: i64 = sqlx::query_scalar("SELECT id FROM contracts WHERE number = 'HT-9'").fetch_one(&pool).await.unwrap();
    let prepaid_interest: Decimal = sqlx::query_scalar(
        "SELECT sum(paid) FROM receivables WHERE contract_id = $1 AND component = 'interest' AND due_date > $2",
    )
    .bind(id)
    .bind(today)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(prepaid_interest > Decimal::ZERO);
    let mut db = pool.acquire().await.unwrap();
    let quote = backoffice::books::settlement::quote(&mut db, id, today).await.unwrap();
    drop(db);
    // The customer pays exactly the quote; the prepaid interest is counted as held.
    sqlx::query("INSERT INTO receiving_accounts (code, bank, name) VALUES ('A', 'B', 'C')")
        .execute(&pool)
        .await
        .unwrap();
    let statement = format!("reference,date,amount,payer,remark\nS-1,{today},{},x,HT-9\n", quote.total);
    let mut tx = pool.begin().await.unwrap();
    receipts::import_statement(&mut tx, "A", &receipts::parse_statement(statement.as_bytes()).unwrap()).await.unwrap();
    backoffice::books::settlement::execute(&mut tx, id, today).await.unwrap();
    tx.commit().await.unwrap();
    let (open, status): (Decimal, String) = sqlx::query_as(
        "SELECT (SELECT sum(amount - paid) FROM receivables WHERE contract_id = $1), (SELECT status FROM contracts WHERE id = $1)",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((open, status.as_str()), (Decimal::ZERO, "settled"));
    let unbalanced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(debit) <> sum(credit)) t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unbalanced, 0);
    let returned: Decimal = sqlx::query_scalar(
        "SELECT COALESCE(sum(e.debit), 0) FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
         WHERE t.kind = 'prepaid_interest_returned' AND e.account = 'interest_income'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(returned, prepaid_interest, "the interest paid ahead is not kept as income");
}
