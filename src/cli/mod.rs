//! Command-line wiring for the linkage commands (minimal; the full CLI lives elsewhere).

pub mod link;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// famlink: family tracing and record matching.
#[derive(Parser, Debug)]
#[command(name = "famlink", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Link two CSV files (or deduplicate one) with a rule file; write likely pairs.
    Link(link::LinkArgs),
    /// Precision, recall and F1 of a pair file against true pairs.
    EvalPairs(link::EvalPairsArgs),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Link(a) => link::run(a),
        Command::EvalPairs(a) => link::run_eval(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
