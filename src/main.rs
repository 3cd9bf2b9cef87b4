//! The `leasewatch` binary: command-line interface wiring the parts into one process.
//!
//! # Layout
//! - `main.rs`: the CLI and its subcommands.
//! - `demo.rs`: `leasewatch demo`, the whole daemon with a seeded company and live vehicles.
//! - `config.rs`: the daemon's configuration (defaults, TOML file, environment).
//! - `run.rs`: `leasewatch run`, the daemon.
//! - `http.rs`: its HTTP server: the admin API, metrics and health.
//! - `decode.rs`: `leasewatch decode`, the operator's tool for captures from the field.
//! - `calc.rs`: `leasewatch calc`, the repayment calculator.
//! - `books.rs`: contract and statement imports, the daily job, the collection distribution.
//! - `replay.rs`: `leasewatch monitor replay`, the rules over stored history.
//! - `cluster status` (here): the engine's shards, their lag and holders.

mod books;
mod calc;
mod config;
mod decode;
mod demo;
mod http;
mod replay;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;

/// Telematics and risk back end for auto-finance leasing.
#[derive(Debug, Parser)]
#[command(name = "leasewatch", version, about)]
struct Cli {
    /// A TOML configuration file; the environment (DATABASE_URL, LEASEWATCH_*) overrides it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// See it work: the daemon with a seeded company and simulated vehicles playing every risk
    /// scenario; prints where to watch the alerts arrive. Starts a private PostgreSQL when none runs.
    Demo,
    /// Run the daemon: device listeners and the writer (creates and migrates the database first).
    Run {
        /// The roles this process plays (with a message engine, `engine.url`, they may run in
        /// separate processes): ingest, monitor, admin, jobs.
        #[arg(long, value_delimiter = ',', default_value = "ingest,monitor,admin,jobs")]
        roles: Vec<run::Role>,
    },
    /// Create the database if missing and apply the migrations.
    Migrate,
    /// Manage the device registry.
    Devices {
        #[command(subcommand)]
        command: DevicesCommand,
    },
    /// Decode device frames from hex or a raw capture and print one JSON object per message.
    Decode(decode::DecodeArgs),
    /// Compute a repayment schedule with its totals and IRR.
    Calc(calc::CalcArgs),
    /// Contracts: import a book.
    Contracts {
        #[command(subcommand)]
        command: books::ContractsCommand,
    },
    /// Receipts: bank statements and receiving accounts.
    Receipts {
        #[command(subcommand)]
        command: books::ReceiptsCommand,
    },
    /// The books' daily job (delinquency, penalty, credit at due dates), catching up missed days.
    Daily {
        /// The last day to run (default: yesterday in the company's time zone).
        #[arg(long)]
        through: Option<chrono::NaiveDate>,
    },
    /// The collection distribution (分案), as the daemon runs it after each daily job.
    Distribute,
    /// The risk monitor's tools.
    Monitor {
        #[command(subcommand)]
        command: MonitorCommand,
    },
    /// The roles across processes: the message engine's shards.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Administer the back office.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator (every permission, company region). The password is read from
    /// LEASEWATCH_ADMIN_PASSWORD, or from the first line of standard input.
    CreateUser {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Name shown to others (the login name when absent).
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Each shard's last message in the engine, what the monitors applied, the lag, and the holder:
    /// one JSON object per line.
    Status,
}

#[derive(Debug, Subcommand)]
enum MonitorCommand {
    /// Re-evaluate the rules over stored history (optionally with candidate thresholds) and
    /// report which alerts would have fired. Writes nothing.
    Replay(replay::ReplayArgs),
}

#[derive(Debug, Subcommand)]
enum DevicesCommand {
    /// Register devices from a CSV file: header `imei,protocol`, then optional `model,sim,kind`.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode::run(args),
        Command::Calc(args) => calc::run(args),
        command => daemon(command, cli.config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("leasewatch: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Commands that need the configuration, the database and the async runtime.
fn daemon(command: Command, config_file: Option<PathBuf>) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Config::load(config_file.as_deref()).context("invalid configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match command {
            Command::Run { roles } => run::run(config, &roles).await,
            Command::Demo => demo::run(config, std::env::var_os("DATABASE_URL").is_some()).await,
            Command::Migrate => {
                let pool = leasewatch_store::db::connect(&config.database_url, 2).await?;
                leasewatch_store::db::migrate(&pool, config.ingest.partitions_ahead_days).await?;
                eprintln!("migrations applied");
                Ok(())
            }
            Command::Devices { command: DevicesCommand::Import { file } } => {
                let text = std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))?;
                let rows = match leasewatch_ingest::devices::parse_csv(text) {
                    Ok(rows) => rows,
                    Err(errors) => {
                        for e in &errors {
                            eprintln!("{}: {e}", file.display());
                        }
                        anyhow::bail!("{} bad rows in {}; nothing imported", errors.len(), file.display());
                    }
                };
                let pool = leasewatch_store::db::connect(&config.database_url, 2).await?;
                leasewatch_store::db::migrate(&pool, config.ingest.partitions_ahead_days).await?;
                let summary = leasewatch_ingest::devices::import(&pool, &rows).await?;
                println!("{}", serde_json::to_string(&summary)?);
                Ok(())
            }
            Command::Admin { command: AdminCommand::CreateUser { username, display_name } } => {
                let password = match std::env::var("LEASEWATCH_ADMIN_PASSWORD") {
                    Ok(p) => p,
                    Err(_) => {
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line).context("cannot read the password from stdin")?;
                        line.trim_end_matches(['\r', '\n']).to_owned()
                    }
                };
                let pool = leasewatch_store::db::connect(&config.database_url, 2).await?;
                leasewatch_store::db::migrate(&pool, config.ingest.partitions_ahead_days).await?;
                let display_name = display_name.unwrap_or_else(|| username.clone());
                let new = leasewatch_backoffice::system::bootstrap::NewAdmin { username, display_name, password };
                match leasewatch_backoffice::system::bootstrap::create_admin(&pool, config.admin.password_hash, new)
                    .await
                {
                    Ok(id) => {
                        println!("{}", serde_json::json!({"created_user": id}));
                        Ok(())
                    }
                    Err(leasewatch_backoffice::Error::Validation(errors)) => {
                        for e in &errors {
                            eprintln!("{}: {}", e.field, e.message);
                        }
                        anyhow::bail!("the user was not created")
                    }
                    Err(e) => Err(anyhow::anyhow!("the user was not created: {e}")),
                }
            }
            Command::Contracts { command } => {
                let pool = leasewatch_store::db::connect(&config.database_url, 2).await?;
                leasewatch_store::db::migrate(&pool, config.ingest.partitions_ahead_days).await?;
                books::contracts(&pool, &config, command).await
            }
            Command::Receipts { command } => {
                let pool = leasewatch_store::db::connect(&config.database_url, 2).await?;
                leasewatch_store::db::migrate(&pool, config.ingest.partitions_ahead_days).await?;
                books::receipts(&pool, command).await
            }
            Command::Daily { through } => {
                let pool = leasewatch_store::db::connect(&config.database_url, 2).await?;
                leasewatch_store::db::migrate(&pool, config.ingest.partitions_ahead_days).await?;
                books::daily(&pool, through, config.utc_offset_hours).await
            }
            Command::Distribute => {
                let pool = leasewatch_store::db::connect(&config.database_url, 2).await?;
                leasewatch_store::db::migrate(&pool, config.ingest.partitions_ahead_days).await?;
                books::distribute(&pool).await
            }
            Command::Monitor { command: MonitorCommand::Replay(args) } => {
                let pool = leasewatch_store::db::connect(&config.database_url, 2).await?;
                leasewatch_store::db::migrate(&pool, config.ingest.partitions_ahead_days).await?;
                replay::run(&pool, args, config.utc_offset_hours).await
            }
            Command::Cluster { command: ClusterCommand::Status } => {
                anyhow::ensure!(config.engine.enabled(), "no message engine is configured (engine.url)");
                let pool = leasewatch_store::db::connect(&config.database_url, 2).await?;
                let js = leasewatch_cluster::stream::connect(&config.engine).await?;
                let shards =
                    leasewatch_cluster::status::shards(&js, &pool, &config.engine).await.map_err(anyhow::Error::msg)?;
                for shard in shards {
                    println!("{}", serde_json::to_string(&shard)?);
                }
                Ok(())
            }
            Command::Decode(args) => decode::run(args),
            Command::Calc(args) => calc::run(args),
        }
    })
}
