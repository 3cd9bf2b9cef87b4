//! The batch jobs run on one instance among several, and another takes them over when it dies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use leasewatch_store::leader::{Duty, Leadership, lead};
use sqlx::PgPool;

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn one_instance_leads_and_another_takes_over_when_it_lets_go(pool: PgPool) {
    let (mut first, mut second) = (Leadership::new(Duty::Jobs), Leadership::new(Duty::Jobs));
    assert!(first.check(&pool).await);
    assert!(!second.check(&pool).await, "the lead is held");
    assert!(first.check(&pool).await, "and kept");
    first.release().await;
    assert!(second.check(&pool).await);
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn a_job_runs_once_with_two_instances_and_resumes_when_its_instance_is_killed(pool: PgPool) {
    // Each instance counts its runs of an hourly job; the lead is checked every 50 ms.
    let runs: [Arc<AtomicU32>; 2] = Default::default();
    let start = |i: usize| {
        let (pool, runs) = (pool.clone(), runs[i].clone());
        tokio::spawn(async move {
            let job = || {
                runs.fetch_add(1, Ordering::SeqCst);
                std::future::ready(())
            };
            lead(&pool, Duty::Jobs, Duration::from_secs(3600), Duration::from_millis(50), job).await;
        })
    };
    let instances = [start(0), start(1)];
    tokio::time::sleep(Duration::from_millis(500)).await;
    let counts = || runs.iter().map(|r| r.load(Ordering::SeqCst)).collect::<Vec<_>>();
    let before = counts();
    assert_eq!(before.iter().sum::<u32>(), 1, "ran once, not once per instance: {before:?}");
    let leader = before.iter().position(|&n| n == 1).unwrap_or_default();
    // Killed: its task and the connection holding the lock are gone.
    instances[leader].abort();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = counts();
    assert_eq!(after[leader], 1);
    assert_eq!(after[1 - leader], 1, "the other instance took the job over: {after:?}");
    instances[1 - leader].abort();
}
