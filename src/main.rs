//! The `leasewatch` binary: command-line interface wiring the parts into one process.
//!
//! # Layout
//! - `main.rs`: the CLI and its subcommands.
//! - `decode.rs`: `leasewatch decode`, the operator's tool for captures from the field.

mod decode;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Telematics and risk back end for auto-finance leasing.
#[derive(Debug, Parser)]
#[command(name = "leasewatch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode device frames from hex or a raw capture and print one JSON object per message.
    Decode(decode::DecodeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("leasewatch: {err:#}");
            ExitCode::FAILURE
        }
    }
}
