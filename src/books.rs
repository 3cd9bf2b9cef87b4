//! `leasewatch contracts import`, `leasewatch receipts import`, `leasewatch daily` and
//! `leasewatch distribute`: the books from the command line (a company's first migration, bank
//! statements, the daily job, the collection distribution).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::Subcommand;
use leasewatch_backoffice::books::{delinquency, import, receipts};
use sqlx::PgPool;

use crate::config::Config;

/// Contract commands.
#[derive(Debug, Subcommand)]
pub enum ContractsCommand {
    /// Import a book of contracts from CSV (header: number,region,principal,annual_rate,term,method,
    /// start_date, then optional payment_timing,residual,deposit,fee,paid_periods,customer_name,
    /// id_number,phone,vin,plate). Contracts whose number exists are skipped.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
}

/// Receipt commands.
#[derive(Debug, Subcommand)]
pub enum ReceiptsCommand {
    /// Import a bank statement (header: reference,date,amount[,payer,remark]); receipts naming a
    /// contract number are claimed and written off. A reference already imported is skipped.
    Import {
        /// The receiving account's code.
        #[arg(long)]
        account: String,
        /// The CSV file.
        file: PathBuf,
    },
    /// Register a receiving account.
    AddAccount {
        /// Its code (used by imports).
        #[arg(long)]
        code: String,
        /// The bank.
        #[arg(long)]
        bank: String,
        /// The account's name.
        #[arg(long)]
        name: String,
    },
}

fn read(file: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))
}

fn report(file: &Path, errors: &[import::LineError]) -> anyhow::Error {
    for e in errors {
        eprintln!("{}:{}: {}", file.display(), e.line, e.message);
    }
    anyhow::anyhow!("{} bad lines in {}; nothing imported", errors.len(), file.display())
}

/// Runs a contract command.
pub async fn contracts(pool: &PgPool, config: &Config, command: ContractsCommand) -> anyhow::Result<()> {
    let ContractsCommand::Import { file } = command;
    let rows = import::parse_csv(read(&file)?).map_err(|e| report(&file, &e))?;
    let vault = config.admin.vault().context("cannot load the data key")?;
    // A transaction per chunk keeps memory flat on large books; a re-run skips what is in.
    let mut total = import::ImportSummary::default();
    for chunk in rows.chunks(5_000) {
        let mut tx = pool.begin().await?;
        let summary = import::import(&mut tx, &vault, chunk).await.map_err(|e| anyhow::anyhow!("{e}: {e:?}"))?;
        tx.commit().await?;
        total.imported += summary.imported;
        total.skipped += summary.skipped;
        total.receivables += summary.receivables;
    }
    println!("{}", serde_json::to_string(&total)?);
    Ok(())
}

/// Runs a receipt command.
pub async fn receipts(pool: &PgPool, command: ReceiptsCommand) -> anyhow::Result<()> {
    match command {
        ReceiptsCommand::Import { account, file } => {
            let rows = receipts::parse_statement(read(&file)?).map_err(|e| report(&file, &e))?;
            let mut tx = pool.begin().await?;
            let summary = receipts::import_statement(&mut tx, &account, &rows)
                .await
                .map_err(|e| anyhow::anyhow!("{e}: {e:?}"))?;
            tx.commit().await?;
            println!("{}", serde_json::to_string(&summary)?);
        }
        ReceiptsCommand::AddAccount { code, bank, name } => {
            sqlx::query(
                "INSERT INTO receiving_accounts (code, bank, name) VALUES ($1, $2, $3) ON CONFLICT (code) DO NOTHING",
            )
            .bind(code)
            .bind(bank)
            .bind(name)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// Runs the collection distribution now; prints what it did and how long it took.
pub async fn distribute(pool: &PgPool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let done = leasewatch_backoffice::postloan::distribution::run(pool, chrono::Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("{e}: {e:?}"))?;
    println!("{}", serde_json::to_string(&done)?);
    eprintln!("distributed in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs the daily job through `through` (default: yesterday in the company's time zone).
pub async fn daily(pool: &PgPool, through: Option<NaiveDate>, utc_offset_hours: i32) -> anyhow::Result<()> {
    let through = match through {
        Some(d) => d,
        None => business_yesterday(utc_offset_hours),
    };
    let started = std::time::Instant::now();
    let days = delinquency::run_through(pool, through).await.map_err(|e| anyhow::anyhow!("{e}: {e:?}"))?;
    if days.is_empty() {
        bail!("nothing to do: the job is done through {through} already");
    }
    for day in &days {
        println!("{}", serde_json::to_string(day)?);
    }
    eprintln!("{} days in {:.2} s", days.len(), started.elapsed().as_secs_f64());
    Ok(())
}

/// Yesterday's date where the company is.
pub fn business_yesterday(utc_offset_hours: i32) -> NaiveDate {
    leasewatch_backoffice::kit::day::company_today(utc_offset_hours) - chrono::Duration::days(1)
}
