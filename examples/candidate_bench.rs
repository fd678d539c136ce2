//! Times the candidate stage alone and reports its recall on a data directory:
//! `cargo run --release --example candidate_bench -- DATA TRUTH N SOURCE [MAX_TERM_DOCS]`
//! (SOURCE `index` or `keys`; N inquiries, the first ones with a registered child).

use std::collections::HashMap;
use std::time::Instant;

use famlink::matching::{self, eval, CandidateIndex, TracingRules};
use famlink::record::RecordKind;
use famlink::registry::Registry;
use rayon::prelude::*;

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let (data, truth, n, source) = (&a[1], &a[2], a[3].parse::<usize>()?, &a[4]);
    let mut rules = TracingRules::default_rules();
    let reg = Registry::open(std::path::Path::new(data))?;
    let t = Instant::now();
    let cs = matching::load_side_from_store(reg.store(), RecordKind::Child, &rules)?;
    let qs = matching::load_side_from_store(reg.store(), RecordKind::Inquiry, &rules)?;
    eprintln!("loaded in {:.1} s", t.elapsed().as_secs_f64());
    let truth = eval::read_truth(std::path::Path::new(truth))?;
    let child_of: HashMap<&str, u32> = cs
        .record_id
        .iter()
        .enumerate()
        .map(|(i, id)| (&**id, i as u32))
        .collect();
    let inq_of: HashMap<&str, usize> = qs
        .record_id
        .iter()
        .enumerate()
        .map(|(i, id)| (&**id, i))
        .collect();
    let mut want: HashMap<usize, Vec<u32>> = HashMap::new();
    for (q, c) in &truth {
        if let (Some(&qi), Some(&ci)) = (inq_of.get(q.as_str()), child_of.get(c.as_str())) {
            want.entry(qi).or_default().push(ci);
        }
    }
    let mut qis: Vec<usize> = want.keys().copied().collect();
    qis.sort_unstable();
    qis.truncate(n);
    let configs: Vec<String> = std::env::var("CAND_W")
        .map(|v| v.split(';').map(str::to_owned).collect())
        .unwrap_or_else(|_| vec![String::new()]);
    for m in a.get(5).map(String::as_str).unwrap_or("20000").split(',') {
        rules.max_term_docs = m.parse()?;
        for src in source.split(',') {
            for cfg in &configs {
                if src == "keys" && !cfg.is_empty() && cfg != &configs[0] {
                    continue;
                }
                let index = if src == "keys" {
                    CandidateIndex::build(&cs.prepared)
                } else {
                    let mut w = famlink::search::candidates::CandidateWeights::default();
                    if !cfg.is_empty() {
                        let x: Vec<f32> = cfg.split(',').map(|t| t.parse().unwrap()).collect();
                        w.own_exact = x[0];
                        w.own_variant = x[1];
                        w.own_skeleton = x[2];
                        w.own_phonetic = x[3];
                        w.own_joined = x[4];
                        w.parent = x[5];
                        w.village = x[6];
                        w.region = x[7];
                        w.parent_parts = x[8] as usize;
                        w.phonetic_codes = x[9] as usize;
                        w.year = x[10];
                    }
                    CandidateIndex::from_search(reg.index(), &cs)?.with_weights(w)
                };
                let t = Instant::now();
                let res: Vec<(usize, usize, usize)> = qis
                    .par_iter()
                    .map(|&qi| {
                        let c = index.candidates(&qs.prepared[qi], &rules);
                        let w = &want[&qi];
                        let hit = w.iter().filter(|x| c.binary_search(x).is_ok()).count();
                        (hit, w.len(), c.len())
                    })
                    .collect();
                let secs = t.elapsed().as_secs_f64();
                let (hit, all, cands) = res
                    .iter()
                    .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
                println!(
                    "{src} [{cfg}] max_term_docs={} n={}: recall {:.4} ({hit}/{all}), {:.1} cand/inq, {:.2} ms/inquiry wall",
                    rules.max_term_docs,
                    qis.len(),
                    hit as f64 / all as f64,
                    cands as f64 / qis.len() as f64,
                    secs * 1000.0 / qis.len() as f64
                );
            }
        }
    }
    Ok(())
}
