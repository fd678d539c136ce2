//! Command-line arguments and dispatch. Each command lives in its own module and
//! does no more than read arguments, call the library and print.

mod bench;
mod bench_http;
mod import;
mod link;
mod matching;
mod search;
mod serve;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use famlink::record::{PartialDate, RecordKind, Sex};
use famlink::registry::{Registry, RegistryError, Viewer};

/// famlink: family tracing and record matching.
#[derive(Parser, Debug)]
#[command(name = "famlink", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Debug, Clone)]
struct DataArg {
    /// The data directory (store and search index).
    #[arg(long, default_value = "index")]
    data: PathBuf,
    /// A matching-rules directory (names/*.toml, places/gazetteer.toml) to use
    /// instead of the rules built into famlink. The search index is rebuilt when
    /// the rules change.
    #[arg(long)]
    rules: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import children or inquiries from CSV or JSON Lines files.
    Import(import::ImportArgs),
    /// Search for a child or an inquiry with names as heard, places, dates or ages.
    Search(search::SearchArgs),
    /// Show one record with its history.
    Show {
        #[command(flatten)]
        data: DataArg,
        #[arg(long, value_parser = parse_kind)]
        kind: RecordKind,
        /// AGENCY/RECORD_ID
        key: String,
        /// Read as a user of this agency (applies the tracing-consent rule).
        #[arg(long = "as-agency")]
        as_agency: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Counts of what the data directory holds.
    Stats {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search index from the store.
    Reindex {
        #[command(flatten)]
        data: DataArg,
    },
    /// Write a seeded set of synthetic children, inquiries and their ground truth.
    Fixtures {
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 300)]
        children: usize,
        #[arg(long, default_value_t = 150)]
        inquiries: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure import throughput, memory, index size and search latency.
    Bench(bench::BenchArgs),
    /// Link two CSV files (or deduplicate one) with a rule file; write likely pairs.
    Link(link::LinkArgs),
    /// Precision, recall and F1 of a pair file against true pairs.
    EvalPairs(link::EvalPairsArgs),
    /// Learn the child↔inquiry matcher's parameters from DIR and save them in DIR/model/.
    Train(train::TrainArgs),
    /// Propose, for each inquiry, up to K registered children with a probability,
    /// a band and an explanation.
    Match(matching::MatchArgs),
    /// Precision, recall and F1 of proposals at each band; recall@1 and recall@K.
    Eval(matching::EvalArgs),
    /// Load-test a running service: concurrent searches over loopback.
    BenchHttp(bench_http::BenchHttpArgs),
    /// Run the HTTP service (`--demo`: with the sample loaded and demo accounts).
    Serve(serve::ServeArgs),
    /// Manage accounts of the service.
    #[command(subcommand)]
    User(serve::UserCommand),
}

fn parse_kind(s: &str) -> Result<RecordKind, String> {
    s.parse()
}

fn parse_sex(s: &str) -> Result<Sex, String> {
    match s.parse::<Sex>()? {
        Sex::Unknown => Err("search by M or F".into()),
        sex => Ok(sex),
    }
}

fn parse_date(s: &str) -> Result<PartialDate, String> {
    s.parse()
        .map_err(|e: famlink::record::DateError| e.to_string())
}

/// The name the audit log gives to whoever runs the command line.
fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

fn open(data: &DataArg) -> Result<Registry, RegistryError> {
    let rules = match &data.rules {
        Some(dir) => std::sync::Arc::new(famlink::rulebook::Rulebook::load(dir)?),
        None => famlink::rulebook::Rulebook::builtin(),
    };
    let bar = progress_bar(0, "indexing");
    let registry = Registry::open_with_rules(&data.data, rules, &mut |p| {
        bar.set_length(p.target);
        bar.set_position(p.indexed);
    });
    bar.finish_and_clear();
    registry
}

/// A progress bar on standard error, drawn only when it is a terminal.
fn progress_bar(len: u64, what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>10} [{bar:40}] {percent:>3}% {elapsed_precise} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // The service logs each request (route template, status, time: never names).
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Import(args) => import::run(args),
        Command::Search(args) => search::run(args),
        Command::Show {
            data,
            kind,
            key,
            as_agency,
            json,
        } => search::show(&data, kind, &key, as_agency, json),
        Command::Stats { data, json } => stats(&data, json),
        Command::Reindex { data } => reindex(&data),
        Command::Fixtures {
            seed,
            children,
            inquiries,
            out,
        } => fixtures(seed, children, inquiries, out),
        Command::Bench(args) => bench::run(args),
        Command::Link(args) => link::run(args),
        Command::EvalPairs(args) => link::run_eval(args),
        Command::Train(args) => train::run(args),
        Command::Match(args) => matching::run(args),
        Command::Eval(args) => matching::run_eval(args),
        Command::BenchHttp(args) => bench_http::run(args),
        Command::Serve(args) => serve::serve(args),
        Command::User(cmd) => serve::user(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("famlink: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn stats(data: &DataArg, json: bool) -> anyhow::Result<ExitCode> {
    let registry = open(data)?;
    let stats = registry.stats()?;
    let indexed = registry.index().num_records()?;
    let index_bytes = registry.index().size_on_disk();
    if json {
        let mut v = serde_json::to_value(&stats)?;
        v["indexed_records"] = indexed.into();
        v["index_bytes"] = index_bytes.into();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "children:   {} ({} without tracing consent)",
        stats.children, stats.children_without_consent
    );
    println!("inquiries:  {}", stats.inquiries);
    println!("earlier versions kept: {}", stats.history_versions);
    println!("imports:    {}", stats.imports);
    println!(
        "store:      {} (last change {})",
        human_bytes(stats.database_bytes),
        stats.last_seq
    );
    println!(
        "index:      {} records, {}",
        indexed,
        human_bytes(index_bytes)
    );
    if !stats.agencies.is_empty() {
        println!("by agency:");
        for (agency, kind, n) in &stats.agencies {
            println!("  {agency:<24} {kind:<8} {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn reindex(data: &DataArg) -> anyhow::Result<ExitCode> {
    let mut registry = open(data)?;
    let bar = progress_bar(0, "reindexing");
    let n = registry.reindex(&mut |p| {
        bar.set_length(p.target);
        bar.set_position(p.indexed);
    })?;
    bar.finish_and_clear();
    registry
        .store()
        .audit(&cli_actor(), "reindex", None, Some(&format!("records={n}")))?;
    println!("reindexed {n} records");
    Ok(ExitCode::SUCCESS)
}

fn fixtures(
    seed: u64,
    children: usize,
    inquiries: usize,
    out: PathBuf,
) -> anyhow::Result<ExitCode> {
    let spec = famlink::fixtures::FixtureSpec {
        seed,
        children,
        inquiries,
    };
    let s = famlink::fixtures::generate(&spec, &out)?;
    println!(
        "wrote {} children, {} inquiries, {} links, {} duplicates, {} sibling pairs to {}",
        s.children,
        s.inquiries,
        s.links,
        s.duplicates,
        s.sibling_pairs,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub(crate) fn viewer(as_agency: Option<String>) -> Viewer {
    Viewer {
        actor: cli_actor(),
        agency: as_agency,
    }
}
