//! `famlink link` and `famlink eval-pairs`: read arguments, call the library, print.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use famlink::link::{self, eval, ModelSource};
use famlink::rules::Rules;

/// Link two CSV files (or deduplicate one) with a rule file.
#[derive(clap::Args, Debug)]
pub struct LinkArgs {
    /// The rule file (TOML): id column, comparisons, blocking, training, threshold.
    #[arg(long)]
    rules: PathBuf,
    /// The left CSV file (the only one with --dedupe).
    #[arg(long)]
    left: PathBuf,
    /// The right CSV file.
    #[arg(long, required_unless_present = "dedupe", conflicts_with = "dedupe")]
    right: Option<PathBuf>,
    /// Find duplicates within the left file (each unordered pair once).
    #[arg(long)]
    dedupe: bool,
    /// Where the pairs go: left_id,right_id,probability for every pair at or above
    /// the rules' match threshold.
    #[arg(long)]
    out: PathBuf,
    /// Where the learned model goes (JSON); default: next to --out, as OUT.model.json.
    #[arg(long)]
    model_out: Option<PathBuf>,
    /// Use this saved model instead of learning one.
    #[arg(long)]
    model: Option<PathBuf>,
    /// True pairs (two id columns with a header): report candidate recall and the
    /// precision, recall and F1 of the written pairs.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// Precision, recall and F1 of a pair file against true pairs.
#[derive(clap::Args, Debug)]
pub struct EvalPairsArgs {
    /// Predicted pairs: two id columns, optionally a probability.
    #[arg(long)]
    pairs: PathBuf,
    /// True pairs: two id columns (e.g. rec_id_1,rec_id_2).
    #[arg(long)]
    truth: PathBuf,
    /// Count only pairs whose probability (third column) is at least this.
    #[arg(long)]
    threshold: Option<f64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn default_model_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or("pairs".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.model.json"))
}

pub fn run(args: LinkArgs) -> anyhow::Result<ExitCode> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting up worker threads")?;
    }
    let rules = match Rules::load(&args.rules) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let right = if args.dedupe {
        None
    } else {
        args.right.as_deref()
    };
    let source = match &args.model {
        Some(p) => ModelSource::Load(p),
        None => ModelSource::Train,
    };
    let run = match link::run(&rules, &args.left, right, &args.out, source) {
        Ok(r) => r,
        Err(e @ (link::LinkError::Data(_) | link::LinkError::Model { .. })) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    if args.model.is_none() {
        let path = args
            .model_out
            .clone()
            .unwrap_or_else(|| default_model_path(&args.out));
        run.model
            .save(&path)
            .with_context(|| format!("writing the model to {}", path.display()))?;
        if !args.quiet {
            eprintln!("model: {}", path.display());
        }
    }
    if !args.quiet {
        link::summary(&run, std::io::stderr())?;
        eprintln!("pairs: {}", args.out.display());
    }
    if let Some(t) = &args.truth {
        let truth = eval::read_pairs(t, None)?;
        let idx: Vec<usize> = rules.blocking.iter().map(|r| run.cache_index(r)).collect();
        let blocks: Vec<&link::Blocks> = idx.iter().map(|&i| run.cache.blocks(i)).collect();
        let (found, total) = eval::candidate_recall(&run.data, &blocks, &truth);
        let predicted = eval::read_pairs(&args.out, None)?;
        let m = eval::evaluate(&predicted, &truth);
        eprintln!(
            "candidate recall: {found} of {total} true pairs ({:.4})",
            found as f64 / total.max(1) as f64
        );
        eprintln!(
            "at threshold {}: precision {:.4}, recall {:.4}, F1 {:.4} (tp {}, fp {}, fn {})",
            rules.match_threshold,
            m.precision,
            m.recall,
            m.f1,
            m.true_positives,
            m.false_positives,
            m.false_negatives
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_eval(args: EvalPairsArgs) -> anyhow::Result<ExitCode> {
    let predicted = eval::read_pairs(&args.pairs, args.threshold)?;
    let truth = eval::read_pairs(&args.truth, None)?;
    let m = eval::evaluate(&predicted, &truth);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&m)?);
    } else {
        println!(
            "pairs {}  true pairs {}  tp {}  fp {}  fn {}",
            m.predicted, m.true_pairs, m.true_positives, m.false_positives, m.false_negatives
        );
        println!(
            "precision {:.4}  recall {:.4}  F1 {:.4}",
            m.precision, m.recall, m.f1
        );
    }
    Ok(ExitCode::SUCCESS)
}
