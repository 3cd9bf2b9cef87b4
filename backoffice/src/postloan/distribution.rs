//! The morning distribution (自动分案) and the hand moves around it: every overdue active contract
//! without a fitting assignment goes to a collection group that works its bucket in its region, and
//! within the group to the active collector with the least work — the fewest contracts, or the
//! least overdue amount, as the group is set to balance (ties to the longest-serving id);
//! a contract brought current is let go. A collector claims (认领) an unassigned contract of their
//! group; a leader (or anyone who configures post-loan) assigns (分配) one to a collector of a group
//! that works it, which is also how work moves from an absent collector.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use leasewatch_finance::Decimal;

use super::groups::WORKS_CONTRACT;
use crate::actor::Actor;
use crate::books::contract;
use crate::error::Error;
use crate::kit::audit::{self, Change};

/// An overdue contract to place: its id, bucket, region path and overdue amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The contract.
    pub contract_id: i64,
    /// Its bucket.
    pub bucket: i32,
    /// Its region's path.
    pub region_path: String,
    /// What is overdue on it.
    pub overdue: Decimal,
}

/// A group as the distribution sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crew {
    /// The group.
    pub group_id: i64,
    /// The buckets it works.
    pub buckets: Vec<i32>,
    /// The region paths it works (each with its subtree).
    pub region_paths: Vec<String>,
    /// Whether it balances by the overdue amount its collectors hold, not by how many contracts.
    pub by_amount: bool,
    /// Its active collectors with what each holds now: contracts, or overdue amount.
    pub load: Vec<(i64, Decimal)>,
}

/// Where a case goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The contract.
    pub contract_id: i64,
    /// The group.
    pub group_id: i64,
    /// The collector; `None` when the group has no active collector (the case waits to be claimed).
    pub collector_id: Option<i64>,
    /// The bucket it is given for.
    pub bucket: i32,
}

/// Places each case with the first group (by id) that works its bucket and region, and with the
/// least-loaded collector of that group (by contracts or by overdue amount, as the group balances),
/// counting what this run gives out. Cases no group works are left out.
pub fn distribute(cases: &[Case], crews: &[Crew]) -> Vec<Placement> {
    let mut crews: Vec<Crew> = crews.to_vec();
    crews.sort_by_key(|c| c.group_id);
    let mut placed = Vec::with_capacity(cases.len());
    for case in cases {
        let fits = |c: &&mut Crew| {
            c.buckets.contains(&case.bucket) && c.region_paths.iter().any(|p| case.region_path.starts_with(p.as_str()))
        };
        let Some(crew) = crews.iter_mut().find(|c| fits(c)) else { continue };
        let weight = if crew.by_amount { case.overdue } else { Decimal::ONE };
        let least = crew.load.iter_mut().min_by_key(|(id, held)| (*held, *id));
        let collector_id = least.map(|(id, held)| {
            *held += weight;
            *id
        });
        placed.push(Placement {
            contract_id: case.contract_id,
            group_id: crew.group_id,
            collector_id,
            bucket: case.bucket,
        });
    }
    placed
}

/// What a distribution did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Distributed {
    /// Contracts placed with a group (and a collector when it has one).
    pub assigned: usize,
    /// Overdue contracts no group works.
    pub unplaced: usize,
    /// Contracts brought current, let go.
    pub released: u64,
}

/// Runs the distribution over the whole book: lets go of contracts brought current, and places
/// every overdue active contract that has no assignment or whose group does not work its bucket
/// any more. Idempotent: a second run places nothing new.
pub async fn run(pool: &PgPool, now: DateTime<Utc>) -> Result<Distributed, Error> {
    let mut tx = pool.begin().await?;
    // One distribution at a time.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('leasewatch collection distribution'))")
        .execute(&mut *tx)
        .await?;
    let released = sqlx::query(
        "DELETE FROM collection_assignments a USING contracts c
         WHERE c.id = a.contract_id AND (c.status <> 'active' OR c.dpd = 0)",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let cases: Vec<(i64, i32, String, Decimal)> = sqlx::query_as(
        "SELECT c.id, c.bucket, g.path, c.overdue_amount FROM contracts c JOIN regions g ON g.id = c.region_id
         LEFT JOIN collection_assignments a ON a.contract_id = c.id
         LEFT JOIN collection_groups cg ON cg.id = a.group_id
         WHERE c.status = 'active' AND c.dpd > 0
           AND (a.contract_id IS NULL OR NOT (c.bucket = ANY(cg.buckets)) OR NOT cg.active)
         ORDER BY c.dpd DESC, c.id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let cases: Vec<Case> = cases
        .into_iter()
        .map(|(contract_id, bucket, region_path, overdue)| Case { contract_id, bucket, region_path, overdue })
        .collect();
    let crews = crews(&mut tx).await?;
    let placed = distribute(&cases, &crews);
    let ids: Vec<i64> = placed.iter().map(|p| p.contract_id).collect();
    let groups: Vec<i64> = placed.iter().map(|p| p.group_id).collect();
    let collectors: Vec<Option<i64>> = placed.iter().map(|p| p.collector_id).collect();
    let buckets: Vec<i32> = placed.iter().map(|p| p.bucket).collect();
    sqlx::query(
        "INSERT INTO collection_assignments (contract_id, group_id, collector_id, bucket, assigned_at)
         SELECT *, $5 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[])
         ON CONFLICT (contract_id) DO UPDATE SET group_id = EXCLUDED.group_id, collector_id = EXCLUDED.collector_id,
             bucket = EXCLUDED.bucket, assigned_at = EXCLUDED.assigned_at, assigned_by = NULL, follow_up_on = NULL",
    )
    .bind(&ids)
    .bind(&groups)
    .bind(&collectors)
    .bind(&buckets)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Distributed { assigned: placed.len(), unplaced: cases.len() - placed.len(), released })
}

/// The active groups with their worked region paths and their active collectors' loads.
async fn crews(db: &mut PgConnection) -> Result<Vec<Crew>, Error> {
    let groups: Vec<(i64, Vec<i32>, Vec<String>, bool)> = sqlx::query_as(
        "SELECT cg.id, cg.buckets,
                CASE WHEN cardinality(cg.regions) = 0 THEN ARRAY[kg.path]
                     ELSE ARRAY(SELECT path FROM regions WHERE id = ANY(cg.regions)) END,
                cg.balance = 'amount'
         FROM collection_groups cg JOIN regions kg ON kg.id = cg.region_id
         WHERE cg.active",
    )
    .fetch_all(&mut *db)
    .await?;
    // What each active collector holds, in every group: contracts and their overdue amount.
    let held: Vec<(i64, i64, i64, Decimal)> = sqlx::query_as(
        "SELECT m.group_id, m.user_id, count(c.id), COALESCE(sum(c.overdue_amount), 0)
         FROM collection_group_members m JOIN users u ON u.id = m.user_id
         LEFT JOIN collection_assignments a ON a.collector_id = m.user_id
         LEFT JOIN contracts c ON c.id = a.contract_id
         WHERE m.active AND u.active
         GROUP BY m.group_id, m.user_id",
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(groups
        .into_iter()
        .map(|(group_id, buckets, region_paths, by_amount)| {
            let load = held
                .iter()
                .filter(|(group, ..)| *group == group_id)
                .map(|(_, user, contracts, amount)| {
                    (*user, if by_amount { *amount } else { Decimal::from(*contracts) })
                })
                .collect();
            Crew { group_id, buckets, region_paths, by_amount, load }
        })
        .collect())
}

/// An assignment as a request names it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CollectionAssign)]
pub struct Assign {
    /// The collector, a member of a group that works the contract.
    pub collector_id: i64,
}

/// A contract's current assignment.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Assignment {
    /// The contract.
    pub contract_id: i64,
    /// The group.
    pub group_id: i64,
    /// The collector, if any.
    pub collector_id: Option<i64>,
    /// The bucket it was given for.
    pub bucket: i32,
    /// When.
    pub assigned_at: DateTime<Utc>,
    /// By whom (none: the morning distribution).
    pub assigned_by: Option<i64>,
}

/// The active collectors of the groups that work the contract `contract_id` now (its bucket, its
/// region), as (user, name, leads the group), by name.
pub async fn candidates(db: &mut PgConnection, contract_id: i64) -> Result<Vec<(i64, String, bool)>, Error> {
    Ok(sqlx::query_as(&format!(
        "SELECT u.id, u.display_name, bool_or(m.leader) FROM contracts c JOIN regions g ON g.id = c.region_id
         JOIN collection_groups cg ON cg.active JOIN regions kg ON kg.id = cg.region_id
         JOIN collection_group_members m ON m.group_id = cg.id AND m.active
         JOIN users u ON u.id = m.user_id AND u.active
         WHERE c.id = $1 AND {WORKS_CONTRACT}
         GROUP BY u.id, u.display_name ORDER BY u.display_name"
    ))
    .bind(contract_id)
    .fetch_all(db)
    .await?)
}

/// A collector's day at a glance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Caseload {
    /// Overdue contracts the collector works.
    pub cases: i64,
    /// Of them, those whose promise to pay falls on `today`.
    pub promised_today: i64,
    /// Of them, those whose promise has passed unpaid.
    pub promises_broken: i64,
}

/// The caseload of `collector` as of the company's `today`.
pub async fn caseload(db: &mut PgConnection, collector: i64, today: chrono::NaiveDate) -> Result<Caseload, Error> {
    let (cases, promised_today, promises_broken): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE c.hold_until = $2), count(*) FILTER (WHERE c.hold_until < $2)
         FROM collection_assignments a JOIN contracts c ON c.id = a.contract_id
         WHERE a.collector_id = $1 AND c.status = 'active' AND c.dpd > 0",
    )
    .bind(collector)
    .bind(today)
    .fetch_one(db)
    .await?;
    Ok(Caseload { cases, promised_today, promises_broken })
}

/// The group (working the contract's bucket in its region) that `collector` is an active member of.
async fn group_of(db: &mut PgConnection, contract_id: i64, collector: i64) -> Result<Option<(i64, i32)>, Error> {
    Ok(sqlx::query_as(&format!(
        "SELECT cg.id, c.bucket FROM contracts c JOIN regions g ON g.id = c.region_id
         JOIN collection_groups cg ON cg.active JOIN regions kg ON kg.id = cg.region_id
         JOIN collection_group_members m ON m.group_id = cg.id AND m.user_id = $2 AND m.active
         WHERE c.id = $1 AND {WORKS_CONTRACT}
         ORDER BY cg.id LIMIT 1"
    ))
    .bind(contract_id)
    .bind(collector)
    .fetch_optional(db)
    .await?)
}

async fn put(
    db: &mut PgConnection,
    actor: &Actor,
    contract_id: i64,
    collector: i64,
    action: &'static str,
) -> Result<Assignment, Error> {
    let c = contract::TABLE.lock(db, actor, contract_id).await?;
    if c.status != "active" || c.dpd == 0 {
        return Err(Error::invalid_state("only an overdue active contract is worked by collections"));
    }
    let before: Option<Assignment> = sqlx::query_as(
        "SELECT contract_id, group_id, collector_id, bucket, assigned_at, assigned_by FROM collection_assignments
         WHERE contract_id = $1",
    )
    .bind(contract_id)
    .fetch_optional(&mut *db)
    .await?;
    if action == "claim" && before.as_ref().is_some_and(|b| b.collector_id.is_some()) {
        return Err(Error::Conflict {
            code: "already_assigned",
            detail: "the contract has a collector already".into(),
        });
    }
    let Some((group, bucket)) = group_of(db, contract_id, collector).await? else {
        return Err(Error::invalid("collector_id", "is not an active member of a group that works this contract"));
    };
    let after: Assignment = sqlx::query_as(
        "INSERT INTO collection_assignments (contract_id, group_id, collector_id, bucket, assigned_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (contract_id) DO UPDATE SET group_id = EXCLUDED.group_id, collector_id = EXCLUDED.collector_id,
             bucket = EXCLUDED.bucket, assigned_at = now(), assigned_by = EXCLUDED.assigned_by
         RETURNING contract_id, group_id, collector_id, bucket, assigned_at, assigned_by",
    )
    .bind(contract_id)
    .bind(group)
    .bind(collector)
    .bind(bucket)
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new(action, "collection_assignment", contract_id, Some(c.region_id))
        .before(before.map(|b| json!(b)))
        .after(json!(after));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(after)
}

/// The actor takes an overdue contract that has no collector, if they collect for a group working it.
pub async fn claim(db: &mut PgConnection, actor: &Actor, contract_id: i64) -> Result<Assignment, Error> {
    put(db, actor, contract_id, actor.user_id, "claim").await
}

/// Gives an overdue contract to `assign.collector_id` (a member of a group working it): a leader's
/// hand assignment, and how work leaves an absent collector. The actor must lead such a group or
/// configure post-loan.
pub async fn assign(
    db: &mut PgConnection,
    actor: &Actor,
    contract_id: i64,
    assign: &Assign,
) -> Result<Assignment, Error> {
    if !actor.can("postloan.configure") {
        let leads: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM collection_group_members m WHERE m.user_id = $1 AND m.leader AND m.active
                             AND EXISTS (SELECT 1 FROM collection_group_members o
                                         WHERE o.group_id = m.group_id AND o.user_id = $2))",
        )
        .bind(actor.user_id)
        .bind(assign.collector_id)
        .fetch_one(&mut *db)
        .await?;
        if !leads {
            return Err(Error::Forbidden {
                code: "forbidden",
                detail: "only the collector's group leader assigns work".into(),
            });
        }
    }
    put(db, actor, contract_id, assign.collector_id, "assign").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: i64, bucket: i32, path: &str) -> Case {
        Case { contract_id: id, bucket, region_path: path.into(), overdue: Decimal::from(1000) }
    }

    fn crew(group_id: i64, buckets: Vec<i32>, path: &str, by_amount: bool, load: &[(i64, i64)]) -> Crew {
        let load = load.iter().map(|(id, held)| (*id, Decimal::from(*held))).collect();
        Crew { group_id, buckets, region_paths: vec![path.into()], by_amount, load }
    }

    #[test]
    fn cases_go_to_the_group_of_their_bucket_and_region_and_to_the_least_loaded_collector() {
        let crews = vec![crew(2, vec![1, 2], "/1/2/", false, &[(10, 5), (11, 3)]), crew(3, vec![3], "/1/", false, &[])];
        let cases: Vec<Case> =
            (1..=4).map(|i| case(i, 1, "/1/2/7/")).chain([case(5, 3, "/1/9/"), case(6, 1, "/1/9/")]).collect();
        let placed = distribute(&cases, &crews);
        // Collector 11 holds 3, 10 holds 5: 11 gets two, then they alternate from the tie (lower id first).
        let to: Vec<Option<i64>> = placed.iter().take(4).map(|p| p.collector_id).collect();
        assert_eq!(to, [Some(11), Some(11), Some(10), Some(11)]);
        assert_eq!(
            placed[4],
            Placement { contract_id: 5, group_id: 3, collector_id: None, bucket: 3 },
            "a group with no collector"
        );
        assert_eq!(placed.len(), 5, "no group works M1 in region 9");
        assert_eq!(placed.iter().filter(|p| p.collector_id == Some(11)).count(), 3);
    }

    #[test]
    fn a_group_balancing_by_amount_spreads_the_big_cases() {
        // 10 holds many small cases (9,000 in all), 11 one big one (50,000).
        let crews = vec![crew(2, vec![1], "/1/", true, &[(10, 9_000), (11, 50_000)])];
        let sized = |id: i64, overdue: i64| Case { overdue: Decimal::from(overdue), ..case(id, 1, "/1/2/") };
        let placed = distribute(&[sized(1, 30_000), sized(2, 20_000), sized(3, 500)], &crews);
        let to: Vec<Option<i64>> = placed.iter().map(|p| p.collector_id).collect();
        // 10: 9,000 → 39,000 → (11 still 50,000) 59,000; 11 then has the least: it takes the 500.
        assert_eq!(to, [Some(10), Some(10), Some(11)]);
        let by_count = vec![crew(2, vec![1], "/1/", false, &[(10, 9), (11, 1)])];
        let placed = distribute(&[sized(1, 30_000), sized(2, 20_000)], &by_count);
        assert!(placed.iter().all(|p| p.collector_id == Some(11)), "by count, the one with fewer cases takes both");
    }
}
