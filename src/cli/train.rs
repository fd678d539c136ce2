//! `famlink train`: learn the matcher's parameters from the data itself and save them
//! next to it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use famlink::matching::{self, CandidateIndex, CandidateSource, TracingRules};
use famlink::record::RecordKind;
use famlink::registry::{Registry, DATABASE_FILE};
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
    let store = Store::open(&db)?;
    let source = rules.source_for(store.count(RecordKind::Child)?);
    if source == CandidateSource::Keys {
        // The store alone: the key index does not need the search index.
        let (children, inquiries) = load_sides(&store, rules, t)?;
        let t = Instant::now();
        let index = CandidateIndex::build(&children.prepared);
        eprintln!(
            "candidate key index: {} entries in {:.1} s",
            index.entries(),
            t.elapsed().as_secs_f64()
        );
        return Ok(Loaded {
            children,
            inquiries,
            index,
        });
    }
    drop(store);
    // The registry brings the search index up to date with the store (or rebuilds
    // it, when it was built by another version or under other rules).
    let bar = super::progress_bar(0, "indexing");
    let registry = Registry::open_with_progress(data, &mut |c| {
        bar.set_length(c.target);
        bar.set_position(c.indexed);
    })?;
    bar.finish_and_clear();
    let lag = registry
        .store()
        .last_seq()?
        .saturating_sub(registry.index().indexed_through());
    if lag > 0 {
        eprintln!(
            "warning: the search index is {lag} record versions behind the store (another \
             process holds its writer); records not yet indexed are not candidates"
        );
    }
    eprintln!("search index ready in {:.1} s", t.elapsed().as_secs_f64());
    let (children, inquiries) = load_sides(registry.store(), rules, Instant::now())?;
    let t = Instant::now();
    let index = CandidateIndex::from_search(registry.index(), &children)?;
    eprintln!(
        "candidate source: the search index ({} documents, {} children mapped) in {:.1} s",
        registry.index().num_records()?,
        index.entries(),
        t.elapsed().as_secs_f64()
    );
    Ok(Loaded {
        children,
        inquiries,
        index,
    })
}

fn load_sides(
    store: &Store,
    rules: &TracingRules,
    t: Instant,
) -> anyhow::Result<(matching::Side, matching::Side)> {
    let children = matching::load_side_from_store(store, RecordKind::Child, rules)?;
    let inquiries = matching::load_side_from_store(store, RecordKind::Inquiry, rules)?;
    eprintln!(
        "loaded {} children, {} inquiries from the store in {:.1} s",
        children.len(),
        inquiries.len(),
        t.elapsed().as_secs_f64()
    );
    Ok((children, inquiries))
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
