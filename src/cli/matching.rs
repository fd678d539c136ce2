//! `famlink match` and `famlink eval`.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use famlink::matching::{self, eval, ProposalViewer, Trained};

/// Propose, for each inquiry, up to K registered children.
#[derive(clap::Args, Debug)]
pub struct MatchArgs {
    /// The data directory: its store holds the records, model/ what `famlink train`
    /// learned from them.
    #[arg(long, default_value = "index")]
    pub data: PathBuf,
    /// The tracing rule file (default: the built-in matching-rules/tracing.toml).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Children proposed per inquiry, at most.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Where the proposals go (CSV).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the proposals with their reasons as JSON Lines to OUT.jsonl.
    #[arg(long)]
    pub json: bool,
    /// Propose as a user of this agency: children of other agencies without tracing
    /// consent are left out (default: the local operator, who sees all, each proposal
    /// carrying the child's consent).
    #[arg(long = "as-agency")]
    pub as_agency: Option<String>,
    /// True links (child_record_id,inquiry_record_id): report the candidate stage's
    /// recall (true pairs that reach scoring).
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

pub fn run(args: MatchArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let rules = super::train::load_rules(&args.rules)?;
    let l = super::train::load(&args.data, &rules)?;
    let trained = Trained::load(&args.data, &rules)?;
    let viewer = match args.as_agency {
        Some(a) => ProposalViewer::Agency(a),
        None => ProposalViewer::Operator,
    };
    let t = Instant::now();
    let bar = super::progress_bar(l.inquiries.len() as u64, "matching");
    let run = matching::propose_all(
        &rules,
        &trained,
        &l.children,
        &l.inquiries,
        &l.index,
        args.top,
        &viewer,
        args.truth.is_some(),
        &|n| bar.set_position(n),
    );
    bar.finish_and_clear();
    let scoring = t.elapsed().as_secs_f64();
    let t = Instant::now();
    matching::write_csv(&args.out, &run, &l.children, &l.inquiries)?;
    if args.json {
        let mut p = args.out.clone().into_os_string();
        p.push(".jsonl");
        matching::write_jsonl(&PathBuf::from(p), &run, &l.children, &l.inquiries)?;
    }
    let n: usize = run.proposals.iter().map(Vec::len).sum();
    let likely: usize = run
        .proposals
        .iter()
        .flatten()
        .filter(|p| p.band == matching::Band::Likely)
        .count();
    eprintln!(
        "candidates and scoring {:.1} s, writing {:.1} s, whole {:.1} s",
        scoring,
        t.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    println!(
        "{n} proposals ({likely} likely) for {} inquiries written to {}",
        l.inquiries.len(),
        args.out.display()
    );
    if let Some(truth) = &args.truth {
        let truth = eval::read_truth(truth)?;
        let child_of: HashMap<&str, u32> = l
            .children
            .record_id
            .iter()
            .enumerate()
            .map(|(i, id)| (&**id, i as u32))
            .collect();
        let mut reached = 0u64;
        let mut registered = 0u64;
        let cand_sets: Vec<HashSet<u32>> = run
            .candidates
            .iter()
            .map(|c| c.iter().copied().collect())
            .collect();
        let inq_of: HashMap<&str, usize> = l
            .inquiries
            .record_id
            .iter()
            .enumerate()
            .map(|(i, id)| (&**id, i))
            .collect();
        for (q, c) in &truth {
            if let (Some(&qi), Some(&ci)) = (inq_of.get(q.as_str()), child_of.get(c.as_str())) {
                registered += 1;
                if cand_sets[qi].contains(&ci) {
                    reached += 1;
                }
            }
        }
        println!(
            "candidate stage: {} pairs ({:.1} per inquiry); recall {:.4} ({} of {} true pairs reach scoring)",
            run.candidate_pairs,
            run.candidate_pairs as f64 / l.inquiries.len().max(1) as f64,
            reached as f64 / registered.max(1) as f64,
            reached,
            registered
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Precision, recall and F1 of a proposal file at each band; recall@1 and recall@K.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[arg(long)]
    pub proposals: PathBuf,
    /// child_record_id,inquiry_record_id
    #[arg(long)]
    pub truth: PathBuf,
    #[arg(long, default_value_t = 5)]
    pub top: u32,
    #[arg(long)]
    pub json: bool,
}

pub fn run_eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let props = eval::read_proposals(&args.proposals)?;
    let truth = eval::read_truth(&args.truth)?;
    let e = eval::evaluate(&props, &truth, args.top);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        e.print(std::io::stdout())?;
    }
    Ok(ExitCode::SUCCESS)
}
