//! `famlink import`

use std::path::PathBuf;
use std::process::ExitCode;

use famlink::import::{Format, ImportOptions, Input};
use famlink::record::RecordKind;
use famlink::store::ImportCounts;

use super::{cli_actor, open, parse_kind, progress_bar, DataArg};

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    data: DataArg,
    #[arg(long, value_parser = parse_kind)]
    kind: RecordKind,
    /// Tracing consent for every row of child files that have no tracing_consent column.
    #[arg(long = "tracing-consent", value_parser = ["yes", "no"])]
    tracing_consent: Option<String>,
    /// The format of the inputs; needed for `-` (standard input), else read from the extension.
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    /// Import the valid rows and write the rejected ones, with reasons, to FILE.rejected.csv.
    #[arg(long)]
    skip_invalid: bool,
    /// Rows per transaction with --skip-invalid.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    /// Where rejected rows go (with --skip-invalid and a single input).
    #[arg(long)]
    rejected: Option<PathBuf>,
    /// .csv or .jsonl files, or - for standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    if args.rejected.is_some() && args.files.len() != 1 {
        anyhow::bail!("--rejected names one file: give a single input");
    }
    let mut inputs = Vec::with_capacity(args.files.len());
    for f in &args.files {
        if f.as_os_str() == "-" {
            let format = args.format.ok_or_else(|| {
                anyhow::anyhow!("reading standard input needs --format csv|jsonl")
            })?;
            inputs.push(Input::Stdin { format });
        } else {
            inputs.push(Input::file(f, args.format)?);
        }
    }
    let opts = ImportOptions {
        kind: args.kind,
        consent_for_all: args.tracing_consent.as_deref().map(|v| v == "yes"),
        skip_invalid: args.skip_invalid,
        batch_size: args.batch_size as usize,
        actor: cli_actor(),
        rejected_path: args.rejected.clone(),
    };

    let mut registry = open(&args.data)?;
    let mut total = ImportCounts::default();
    let mut any_rejected = false;
    for input in &inputs {
        let bar = progress_bar(0, "importing");
        let report = registry.import(input, &opts, &mut |p| {
            if let Some(len) = p.bytes_total {
                bar.set_length(len);
            }
            bar.set_position(p.bytes_read);
        })?;
        bar.finish_and_clear();
        for line in report.error_lines() {
            eprintln!("{line}");
        }
        let c = &report.counts;
        if report.stored {
            println!(
                "{}: read {}, imported {}, updated {}, unchanged {}, rejected {}",
                report.source, c.read, c.imported, c.updated, c.unchanged, c.rejected
            );
        } else {
            println!(
                "{}: read {}, imported 0, updated 0, rejected {}: file refused, nothing imported ({} errors)",
                report.source,
                c.read,
                c.rejected,
                report.errors.len()
            );
        }
        if let Some(path) = &report.rejected_file {
            println!(
                "{}: rejected rows written to {}",
                report.source,
                path.display()
            );
        }
        any_rejected |= !report.errors.is_empty();
        total.merge(c);
    }
    if inputs.len() > 1 {
        println!(
            "total: read {}, imported {}, updated {}, unchanged {}, rejected {}",
            total.read, total.imported, total.updated, total.unchanged, total.rejected
        );
    }
    Ok(if any_rejected {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
