//! The roles in separate processes over a three-node NATS JetStream cluster: two ingest processes,
//! three monitors and one admin on a fresh database. Simulated vehicles play risk scenarios over
//! both ingest nodes under a steady background fleet while one monitor is killed (its shards move
//! within the bound), another is restarted (an alert resolved while its condition holds stays
//! resolved), and one engine node is killed; every scenario's alert fires exactly once, and every
//! committed batch reaches a monitor. Two processes may run the batch jobs: one leads, and when it
//! is killed the other takes over without running the daily job again.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

#[allow(dead_code)]
#[path = "support/fleet.rs"]
mod fleet;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use fleet::{Car, car};
use leasewatch_cluster::EngineConfig;
use leasewatch_simulators::scenario::{self, Scenario, Step};
use leasewatch_simulators::track::Track;
use sqlx::PgPool;

const SHARDS: u16 = 16;
/// The advisory-lock class of shard leases ("LWSH").
const SHARD_CLASS: i64 = 0x4c57_5348;

/// A child process, killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill").args([signal, &self.pid().to_string()]).status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn nats_server() -> PathBuf {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nats-server is not installed (scripts/setup.sh installs it)")
}

/// Three clustered NATS servers with JetStream; their client URLs.
fn start_engine(dir: &Path) -> (Vec<Proc>, Vec<String>) {
    let clients: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes = Vec::new();
    for i in 0..3 {
        let others: Vec<String> =
            (0..3).filter(|j| *j != i).map(|j| format!("nats://127.0.0.1:{}", routes[j])).collect();
        let log = std::fs::File::create(dir.join(format!("nats-{i}.log"))).unwrap();
        let child = Command::new(nats_server())
            .args(["-a", "127.0.0.1", "-p", &clients[i].to_string(), "-js", "-n", &format!("n{i}")])
            .args(["-sd", &dir.join(format!("js-{i}")).display().to_string()])
            .args(["--cluster_name", "lw", "--cluster", &format!("nats://127.0.0.1:{}", routes[i])])
            .args(["--routes", &others.join(",")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        nodes.push(Proc(child));
    }
    (nodes, clients.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect())
}

/// The processes' settings, as a deployment would give them.
struct Deployment {
    dir: PathBuf,
    database_url: String,
    engine: EngineConfig,
}

impl Deployment {
    /// Starts `leasewatch run --roles {roles}` named `name`, with `extra` settings.
    fn start(&self, name: &str, roles: &str, extra: &[(&str, String)]) -> Proc {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_leasewatch"))
            .args(["run", "--roles", roles])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info,sqlx=warn")
            // The monitors' backends are named, so that the test sees who holds which shard.
            .env("DATABASE_URL", format!("{}?application_name={name}", self.database_url))
            .env("LEASEWATCH_DATABASE_POOL", "4")
            .env("LEASEWATCH_HTTP_BIND", format!("127.0.0.1:{}", free_port()))
            .env("LEASEWATCH_ENGINE__URL", &self.engine.url)
            .env("LEASEWATCH_ENGINE__STREAM", &self.engine.stream)
            .env("LEASEWATCH_ENGINE__REPLICAS", self.engine.replicas.to_string())
            .env("LEASEWATCH_ENGINE__SHARDS", self.engine.shards.to_string())
            .env("LEASEWATCH_ENGINE__CLAIM_MS", self.engine.claim_ms.to_string())
            .env("LEASEWATCH_MONITOR__TICK_MS", "200")
            .env("LEASEWATCH_MONITOR__REFRESH_SECS", "1")
            .env("LEASEWATCH_MONITOR__PUBLISH_ALERTS", "false")
            .env("LEASEWATCH_INGEST__MQTT__ENABLED", "false")
            .env("LEASEWATCH_INGEST__WRITER__FLUSH_MS", "5")
            .env("LEASEWATCH_INGEST__WRITER__SPOOL_PATH", self.dir.join(format!("{name}.spool")))
            .env("LEASEWATCH_INGEST__LISTENERS__GT06__BIND", "127.0.0.1:0")
            .env("LEASEWATCH_INGEST__LISTENERS__JT808__ENABLED", "false")
            .env("LEASEWATCH_INGEST__LISTENERS__TELTONIKA__ENABLED", "false")
            .env("LEASEWATCH_INGEST__LISTENERS__H02__ENABLED", "false")
            .env("LEASEWATCH_ADMIN__DATA_KEY_FILE", self.dir.join("data.key"))
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Proc(child)
    }

    /// An ingest node listening for GT06 on `port`.
    fn ingest(&self, name: &str, port: u16) -> Proc {
        self.start(name, "ingest", &[("LEASEWATCH_INGEST__LISTENERS__GT06__BIND", format!("127.0.0.1:{port}"))])
    }
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within {limit:?}");
}

/// Who holds each shard: the holder's name (its backend's application name).
async fn holders(pool: &PgPool) -> BTreeMap<u16, String> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT l.objid::bigint, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1",
    )
    .bind(SHARD_CLASS)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().map(|(shard, name)| (shard as u16, name)).collect()
}

/// The jobs' advisory lock ("LWJOBS" as one 64-bit key: PostgreSQL shows its halves).
const JOBS_KEY: i64 = 0x4c57_4a4f_4253;

/// Who holds a 64-bit advisory lock (its backend's application name).
async fn job_holder(pool: &PgPool, key: i64) -> Option<String> {
    sqlx::query_scalar(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1",
    )
    .bind(key >> 32)
    .bind(key & 0xffff_ffff)
    .fetch_optional(pool)
    .await
    .unwrap()
}

async fn wait_until_holder(pool: &PgPool, key: i64) -> String {
    for _ in 0..300 {
        if let Some(name) = job_holder(pool, key).await {
            return name;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nobody leads the jobs");
}

/// Lines of a process's log holding every one of `texts` (the log is coloured between fields).
fn log_count(dir: &Path, name: &str, texts: &[&str]) -> usize {
    let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
    log.lines().filter(|l| texts.iter().all(|t| l.contains(t))).count()
}

/// Rows of each rule alerted for the vehicle, and the statuses.
async fn alerts(pool: &PgPool, vehicle: i64) -> BTreeMap<String, (i64, String)> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT rule, count(*), string_agg(status, ',' ORDER BY id) FROM alerts WHERE vehicle_id = $1 GROUP BY rule",
    )
    .bind(vehicle)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().map(|(rule, n, status)| (rule, (n, status))).collect()
}

/// A scenario car: where it starts, what it plays, which rule it must fire.
struct Played {
    car: Car,
    track: Track,
    scenario: Scenario,
    rule: &'static str,
}

/// Guangdong, spread out so that no two test vehicles park near each other.
fn start_of(n: usize) -> (f64, f64) {
    (22.6 + (n / 10) as f64 * 0.08, 113.0 + (n % 10) as f64 * 0.1)
}

async fn scenario_car(pool: &PgPool, n: usize) -> Played {
    let (scenario, rule, interval) = match n % 3 {
        0 => (Scenario::Tow, "tow", 10),
        1 => (Scenario::Tamper, "tamper", 30),
        _ => (Scenario::PowerCut, "power_cut", 30),
    };
    let (lat, lon) = start_of(n);
    let track = Track::new(n as u64, Utc::now() - chrono::Duration::hours(6), lat, lon, interval);
    Played { car: car(pool, n, 0, 0).await, track, scenario, rule }
}

fn steps(played: &mut Played) -> Vec<Step> {
    let ticks = if played.scenario == Scenario::Tow { 60 } else { 30 };
    scenario::plan(played.scenario, &mut played.track, ticks, (0.0, 0.0), 0)
}

async fn play(target: u16, car: &Car, steps: &[Step]) {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], target));
    scenario::run_gt06(address, &car.imei, steps, 10, false).await.unwrap();
}

/// Plays a round of scenarios, alternating the ingest nodes, and waits for each alert.
async fn round(pool: &PgPool, cars: &mut [Played], ports: &[u16]) {
    // Cars are registered before they drive: the monitors learn of them at their next refresh.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut playing = tokio::task::JoinSet::new();
    for (i, played) in cars.iter_mut().enumerate() {
        let (steps, imei, port) = (steps(played), played.car.imei, ports[i % ports.len()]);
        playing.spawn(async move {
            let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            scenario::run_gt06(address, &imei, &steps, 10, false).await.unwrap();
        });
    }
    while let Some(done) = playing.join_next().await {
        done.unwrap();
    }
    for played in cars.iter() {
        let (vehicle, rule) = (played.car.vehicle, played.rule);
        wait_until(&format!("{rule} of vehicle {vehicle}"), Duration::from_secs(30), || async move {
            alerts(pool, vehicle).await.contains_key(rule)
        })
        .await;
    }
}

/// The background fleet: cars driving normally, a few fixes per connection, until `stop`.
fn background(pool: PgPool, ports: Vec<u16>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut cars = Vec::new();
        for n in 500..540 {
            let (lat, lon) = start_of(n - 500 + 60);
            let track = Track::new(n as u64, Utc::now() - chrono::Duration::hours(6), lat, lon, 30);
            cars.push((car(&pool, n, 0, 0).await, track));
        }
        let mut sent = 0;
        while !stop.load(Ordering::Relaxed) {
            let mut driving = tokio::task::JoinSet::new();
            for (i, (car, track)) in cars.iter_mut().enumerate() {
                let steps = scenario::plan(Scenario::Normal, track, 10, (0.0, 0.0), 0);
                let (imei, port) = (car.imei, ports[i % ports.len()]);
                driving.spawn(async move {
                    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                    // A node being killed or slow fails a connection now and then: the device resends later.
                    scenario::run_gt06(address, &imei, &steps, 30, false).await.is_ok()
                });
            }
            while let Some(ok) = driving.join_next().await {
                sent += u64::from(ok.unwrap_or(false)) * 10;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sent
    })
}

#[sqlx::test(migrator = "leasewatch_store::MIGRATOR")]
async fn roles_in_separate_processes_survive_losing_a_monitor_and_an_engine_node(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("leasewatch-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (nodes, urls) = start_engine(&dir);
    let engine = EngineConfig {
        url: urls.join(","),
        stream: "ROWS".to_owned(),
        shards: SHARDS,
        replicas: 3,
        claim_ms: 300,
        ..EngineConfig::default()
    };
    // The stream, once the cluster has elected its leader.
    let mut js = None;
    for _ in 0..100 {
        if let Ok(connected) = leasewatch_cluster::stream::connect(&engine).await {
            js = Some(connected);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let js = js.expect("the engine cluster did not come up");
    let database = pool.connect_options().get_database().unwrap().to_owned();
    let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let database_url = format!("{}/{database}", &base[..base.rfind('/').unwrap()]);
    let deployment = Deployment { dir: dir.clone(), database_url, engine: engine.clone() };

    let ports = vec![free_port(), free_port()];
    let _ingest = [deployment.ingest("ingest-1", ports[0]), deployment.ingest("ingest-2", ports[1])];
    // Two processes may run the jobs; one leads them.
    let mut jobs: BTreeMap<String, Proc> = BTreeMap::new();
    jobs.insert("admin-1".to_owned(), deployment.start("admin-1", "admin,jobs", &[]));
    jobs.insert("jobs-2".to_owned(), deployment.start("jobs-2", "jobs", &[]));
    let mut monitors: BTreeMap<String, Proc> = (1..=3)
        .map(|i| format!("monitor-{i}"))
        .map(|name| (name.clone(), deployment.start(&name, "monitor", &[])))
        .collect();
    for port in &ports {
        wait_until("an ingest node listening", Duration::from_secs(60), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", *port)).await.is_ok()
        })
        .await;
    }
    let pool_ref = &pool;
    wait_until("the three monitors sharing every shard", Duration::from_secs(60), || async move {
        let held = holders(pool_ref).await;
        held.len() == usize::from(SHARDS) && held.values().collect::<std::collections::BTreeSet<_>>().len() == 3
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let fleet = background(pool.clone(), ports.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut first: Vec<Played> = Vec::new();
    for n in 0..6 {
        first.push(scenario_car(&pool, n).await);
    }
    round(&pool, &mut first, &ports).await;

    // One monitor killed under load: its shards move to the other two within the bound.
    let towed = first.iter().position(|p| p.rule == "tow").unwrap();
    let towed_shard = leasewatch_store::shard::of(first[towed].car.vehicle, SHARDS);
    let towed_owner = holders(&pool).await[&towed_shard].clone();
    let victim = monitors.keys().find(|name| **name != towed_owner).unwrap().clone();
    let killed = monitors.remove(&victim).unwrap();
    killed.signal("-KILL");
    drop(killed);
    let survivors: Vec<String> = monitors.keys().cloned().collect();
    let survivors_ref = &survivors;
    let failover = wait_until("the killed monitor's shards taken over", Duration::from_secs(10), || async move {
        let held = holders(pool_ref).await;
        held.len() == usize::from(SHARDS) && held.values().all(|n| survivors_ref.contains(n))
    })
    .await;
    eprintln!("failover: every shard held again {} ms after the kill", failover.as_millis());
    let mut second: Vec<Played> = Vec::new();
    for n in 6..12 {
        second.push(scenario_car(&pool, n).await);
    }
    round(&pool, &mut second, &ports).await;

    // An operator resolves the tow alert while the car is still being towed; its monitor restarts.
    sqlx::query("UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE vehicle_id = $1 AND rule = 'tow'")
        .bind(first[towed].car.vehicle)
        .execute(&pool)
        .await
        .unwrap();
    let owner = holders(&pool).await[&towed_shard].clone();
    let restarted = monitors.remove(&owner).unwrap();
    restarted.signal("-TERM");
    drop(restarted);
    monitors.insert(owner.clone(), deployment.start(&owner, "monitor", &[]));
    wait_until("the restarted monitor holding shards again", Duration::from_secs(30), || {
        let owner = owner.clone();
        async move { holders(pool_ref).await.values().any(|n| *n == owner) }
    })
    .await;
    let still_towed = steps(&mut first[towed]).split_off(15);
    play(ports[0], &first[towed].car, &still_towed).await;

    // One engine node killed: the stream has two copies left and the clients move over.
    nodes[0].signal("-KILL");
    let mut third: Vec<Played> = Vec::new();
    for n in 12..18 {
        third.push(scenario_car(&pool, n).await);
    }
    round(&pool, &mut third, &ports).await;
    stop.store(true, Ordering::Relaxed);
    let background_fixes = fleet.await.unwrap();

    // Everything committed was published, and everything published was applied.
    wait_until("the outbox emptied", Duration::from_secs(30), || async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox").fetch_one(pool_ref).await.unwrap() == 0
    })
    .await;
    let stream = js.get_stream(&engine.stream).await.unwrap();
    let mut last = BTreeMap::new();
    for shard in 0..SHARDS {
        if let Ok(message) = stream.get_last_raw_message_by_subject(&engine.subject_of(shard)).await {
            last.insert(shard, message.sequence);
        }
    }
    let last_ref = &last;
    wait_until("every shard applied to its last message", Duration::from_secs(30), || async move {
        let applied: BTreeMap<i16, i64> = sqlx::query_as("SELECT shard, applied_seq FROM monitor_shards")
            .fetch_all(pool_ref)
            .await
            .unwrap()
            .into_iter()
            .collect();
        last_ref.iter().all(|(shard, seq)| applied.get(&(*shard as i16)).is_some_and(|a| *a as u64 >= *seq))
    })
    .await;

    for played in first.iter().chain(&second).chain(&third) {
        let found = alerts(&pool, played.car.vehicle).await;
        assert_eq!(
            found.get(played.rule).map(|(n, _)| *n),
            Some(1),
            "{} of car {}: {found:?}",
            played.rule,
            played.car.vehicle
        );
    }
    let towed_alerts = alerts(&pool, first[towed].car.vehicle).await;
    assert_eq!(towed_alerts["tow"], (1, "resolved".to_owned()), "reopened after the restart: {towed_alerts:?}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM positions").fetch_one(&pool).await.unwrap();
    eprintln!(
        "{stored} positions stored ({background_fixes} from the background fleet), {} shards' last messages applied",
        last.len()
    );
    assert!(background_fixes > 0 && stored > 0);

    // The jobs ran on one of their two processes; killed, the other takes them over and finds
    // them done (the daily job resumes from what the database says, so it does not run twice).
    let leader = wait_until_holder(&pool, JOBS_KEY).await;
    let leading = |name: &str| log_count(&dir, name, &["leasewatch_store::leader", "leading", "Jobs"]);
    let other = if leader == "admin-1" { "jobs-2" } else { "admin-1" };
    assert_eq!((leading(&leader), leading(other)), (1, 0), "one process leads the jobs");
    let killed = jobs.remove(&leader).unwrap();
    killed.signal("-KILL");
    drop(killed);
    let takeover = wait_until("the jobs taken over", Duration::from_secs(15), || async move {
        job_holder(pool_ref, JOBS_KEY).await.as_deref() == Some(other)
    })
    .await;
    eprintln!("jobs: taken over {} ms after their leader was killed", takeover.as_millis());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let daily_runs = log_count(&dir, "admin-1", &["daily job done"]) + log_count(&dir, "jobs-2", &["daily job done"]);
    assert_eq!((leading(other), daily_runs), (1, 1), "the daily job ran once, by the first leader");
    drop(jobs);
    drop(monitors);
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
