//! Leadership of a duty among the instances that share one database (the batch jobs run on exactly
//! one): a PostgreSQL session advisory lock held on a connection of its own, so that it ends when
//! the process dies or its connection breaks, and another instance takes it at its next try.

use std::future::Future;
use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};
use tokio::time::Instant;

/// Duties that one instance leads at a time; each is an advisory-lock key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// The batch jobs: partitions, retention, the daily job, the distribution, reminders.
    Jobs,
}

impl Duty {
    /// The lock's key: fixed numbers, so that every version of the daemon agrees on them.
    fn key(self) -> i64 {
        match self {
            // "leasewatch jobs" in a number of its own, clear of other applications' keys.
            Duty::Jobs => 0x4c57_4a4f_4253,
        }
    }
}

/// This instance's hold on a duty: leading or not, kept across checks.
#[derive(Debug)]
pub struct Leadership {
    duty: Duty,
    /// The connection holding the lock, while this instance leads.
    held: Option<PgConnection>,
}

impl Leadership {
    /// Not leading `duty` yet.
    pub fn new(duty: Duty) -> Self {
        Self { duty, held: None }
    }

    /// Whether this instance leads the duty now: a held lock is checked to be still held (its
    /// connection alive); otherwise the lock is tried, without waiting.
    pub async fn check(&mut self, pool: &PgPool) -> bool {
        if let Some(conn) = &mut self.held {
            if conn.ping().await.is_ok() {
                return true;
            }
            tracing::warn!(duty = ?self.duty, "lost the connection holding the lead");
            self.held = None;
        }
        match self.try_take(pool).await {
            Ok(Some(conn)) => {
                tracing::info!(duty = ?self.duty, "leading");
                self.held = Some(conn);
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(duty = ?self.duty, error = %e, "could not try the lead");
                false
            }
        }
    }

    /// A connection of its own holding the lock, or `None` when another instance holds it.
    async fn try_take(&self, pool: &PgPool) -> Result<Option<PgConnection>, sqlx::Error> {
        // Detached: the pool must not hand a connection holding the lock to anyone else.
        let mut conn = pool.acquire().await?.detach();
        let taken: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(self.duty.key()).fetch_one(&mut conn).await?;
        if taken {
            Ok(Some(conn))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }

    /// Gives the duty up (on shutdown), so that another instance takes it at once.
    pub async fn release(&mut self) {
        if let Some(conn) = self.held.take() {
            let _ = conn.close().await;
        }
    }
}

/// Runs `job` every `every` while this instance leads `duty`, checking the lead every `check`: with
/// several instances the job runs on one; when that one dies, another runs it within `check`.
/// Jobs are written to resume (each catches up from what the database says is done), so a job cut
/// short by a death is finished by the next leader, not run twice.
pub async fn lead<F, Job>(pool: &PgPool, duty: Duty, every: Duration, check: Duration, mut job: F)
where
    F: FnMut() -> Job,
    Job: Future<Output = ()>,
{
    let mut leadership = Leadership::new(duty);
    let mut tick = tokio::time::interval(check);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<Instant> = None;
    loop {
        tick.tick().await;
        if !leadership.check(pool).await {
            last = None;
            continue;
        }
        if last.is_some_and(|at| at.elapsed() < every) {
            continue;
        }
        last = Some(Instant::now());
        job().await;
    }
}

/// Shards held on one connection of their own (a monitor's): each taken without waiting, all lost
/// together when the connection or the process dies.
#[derive(Debug, Default)]
pub struct Leases {
    conn: Option<PgConnection>,
    held: std::collections::BTreeSet<u16>,
}

/// The advisory-lock class of shard leases ("LWSH"); the shard is the lock's second key.
pub const SHARD_CLASS: i32 = 0x4c57_5348;

impl Leases {
    /// The shards held.
    pub fn held(&self) -> &std::collections::BTreeSet<u16> {
        &self.held
    }

    /// Checks the connection holding the leases; when it is gone, so are they: returns them.
    pub async fn check(&mut self) -> Vec<u16> {
        if let Some(conn) = &mut self.conn {
            if conn.ping().await.is_ok() {
                return Vec::new();
            }
            tracing::warn!(shards = self.held.len(), "lost the connection holding the shard leases");
            self.conn = None;
        }
        std::mem::take(&mut self.held).into_iter().collect()
    }

    /// Takes `shard` when no other instance holds it.
    pub async fn try_take(&mut self, pool: &PgPool, shard: u16) -> Result<bool, sqlx::Error> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            // Detached: the pool must not hand a connection holding leases to anyone else.
            None => self.conn.insert(pool.acquire().await?.detach()),
        };
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(SHARD_CLASS)
            .bind(i32::from(shard))
            .fetch_one(conn)
            .await?;
        if taken {
            self.held.insert(shard);
        }
        Ok(taken)
    }

    /// Gives `shard` up, for another instance to take.
    pub async fn give_up(&mut self, shard: u16) -> Result<(), sqlx::Error> {
        if !self.held.remove(&shard) {
            return Ok(());
        }
        if let Some(conn) = &mut self.conn {
            sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                .bind(SHARD_CLASS)
                .bind(i32::from(shard))
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// Gives every lease up at once (on shutdown).
    pub async fn release(&mut self) {
        self.held.clear();
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }
}

/// Notes that `instance` of `role` is alive, forgets members not seen within `stale`, and returns
/// how many of the role are alive (this one included).
pub async fn heartbeat(pool: &PgPool, role: &str, instance: &str, stale: Duration) -> Result<u16, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO cluster_members (role, instance) VALUES ($1, $2)
         ON CONFLICT (role, instance) DO UPDATE SET seen_at = now()",
    )
    .bind(role)
    .bind(instance)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM cluster_members WHERE role = $1 AND seen_at < now() - $2")
        .bind(role)
        .bind(stale)
        .execute(&mut *tx)
        .await?;
    let alive: i64 = sqlx::query_scalar("SELECT count(*) FROM cluster_members WHERE role = $1")
        .bind(role)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(u16::try_from(alive).unwrap_or(u16::MAX).max(1))
}

/// Removes `instance` from its role's members (on shutdown), so the others rebalance at once.
pub async fn leave(pool: &PgPool, role: &str, instance: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM cluster_members WHERE role = $1 AND instance = $2")
        .bind(role)
        .bind(instance)
        .execute(pool)
        .await?;
    Ok(())
}
