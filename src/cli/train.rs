//! `famlink train`: learn the matcher's parameters from the data itself and save them
//! next to it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use famlink::matching::{self, CandidateIndex, TracingRules};
use famlink::record::RecordKind;
use famlink::registry::DATABASE_FILE;
use famlink::store::Store;

/// Learn u (random pairs), m and λ (EM, no labels) and name frequencies.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// The data directory: its store holds the children and inquiries (import them
    /// with `famlink import`); the parameters are written to DIR/model/.
    #[arg(long, default_value = "index")]
    pub data: PathBuf,
    /// The tracing rule file (default: the built-in matching-rules/tracing.toml).
    #[arg(long)]
    pub rules: Option<PathBuf>,
}

pub(crate) fn load_rules(path: &Option<PathBuf>) -> anyhow::Result<TracingRules> {
    Ok(match path {
        Some(p) => TracingRules::load(p)?,
        None => TracingRules::default_rules(),
    })
}

pub(crate) struct Loaded {
    pub children: matching::Side,
    pub inquiries: matching::Side,
    pub index: CandidateIndex,
}

pub(crate) fn load(data: &std::path::Path, rules: &TracingRules) -> anyhow::Result<Loaded> {
    let t = Instant::now();
    let db = data.join(DATABASE_FILE);
    if !db.is_file() {
        anyhow::bail!(
            "{}: no famlink store here; import children and inquiries first \
             (famlink import --data {} --kind child|inquiry FILE)",
            data.display(),
            data.display()
        );
    }
    // The store alone: the matcher does not need the search index brought up to date.
    let store = Store::open(&db)?;
    let children = matching::load_side_from_store(&store, RecordKind::Child, rules)?;
    let inquiries = matching::load_side_from_store(&store, RecordKind::Inquiry, rules)?;
    eprintln!(
        "loaded {} children, {} inquiries from the store in {:.1} s",
        children.len(),
        inquiries.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let index = CandidateIndex::build(&children.prepared);
    eprintln!(
        "candidate index: {} entries in {:.1} s",
        index.entries(),
        t.elapsed().as_secs_f64()
    );
    Ok(Loaded {
        children,
        inquiries,
        index,
    })
}

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let rules = load_rules(&args.rules)?;
    let l = load(&args.data, &rules)?;
    let t = Instant::now();
    let (trained, report) = matching::train(&rules, &l.children, &l.inquiries, &l.index);
    trained.save(&args.data)?;
    eprintln!(
        "trained in {:.1} s: {} candidate pairs, EM on {} pairs ({} patterns), {} iterations{}, lambda {:.5}",
        t.elapsed().as_secs_f64(),
        report.candidate_pairs,
        report.em_pairs,
        report.patterns,
        report.iterations,
        if report.converged { " (converged)" } else { " (not converged)" },
        report.lambda
    );
    println!(
        "wrote {} and {}",
        matching::model_path(&args.data).display(),
        matching::frequencies_path(&args.data).display()
    );
    Ok(ExitCode::SUCCESS)
}
