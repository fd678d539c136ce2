//! The general linkage engine: two CSV files (or one against itself), a rule file,
//! and out come the pairs at or above the rules' match threshold with their
//! probability.
//!
//! Pipeline: [`data`] reads and encodes the columns once; [`block`] makes candidate
//! pairs from blocking keys (never all pairs); [`train`] learns the Fellegi–Sunter
//! model without labels; [`score`] scores the candidates in parallel; [`eval`]
//! measures pairs against known true pairs.

pub mod block;
pub mod data;
pub mod eval;
pub mod score;
pub mod train;

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;

use crate::model::{probability, Model};
use crate::rules::Rules;

pub use block::{BlockCache, Blocks};
pub use data::{DataError, Dataset};
pub use eval::PairMetrics;
pub use score::{Comparisons, Scorer};

/// A pair at or above the threshold: record numbers (`a < b`; `a` left, `b` right
/// when linking) and the match probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredPair {
    pub a: u32,
    pub b: u32,
    pub probability: f64,
}

/// What a prediction run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PredictStats {
    /// Distinct candidate pairs over all blocking rules.
    pub candidate_pairs: u64,
    /// Candidate pairs each rule added (pairs made by an earlier rule not counted).
    pub per_rule: Vec<(String, u64)>,
    pub pairs_kept: u64,
}

/// Scores every candidate pair of the prediction blocking rules; returns those at or
/// above `threshold`, sorted by record numbers.
pub fn predict(
    rules: &Rules,
    data: &Dataset,
    model: &Model,
    threshold: f64,
    cache: &mut BlockCache,
) -> (Vec<ScoredPair>, PredictStats) {
    let cmp = Comparisons::new(rules, data);
    let scorer = Scorer::new(&cmp, model, threshold);
    let idx: Vec<usize> = rules.blocking.iter().map(|r| cache.get(r, data)).collect();
    let cache = &*cache;
    let all: Vec<&Blocks> = idx.iter().map(|&i| cache.blocks(i)).collect();
    let key_rows = block::KeyRows::new(&all);
    let mut out = Vec::new();
    let mut stats = PredictStats::default();
    for (r, rule) in rules.blocking.iter().enumerate() {
        let blocks = all[r];
        let key_rows = &key_rows;
        let (pairs, n) = blocks
            .units()
            .into_par_iter()
            .fold(
                || (Vec::new(), 0u64),
                |(mut v, mut n), unit| {
                    blocks.for_each_pair(unit, |a, b| {
                        if key_rows.made_before(r, a, b) {
                            return;
                        }
                        n += 1;
                        if let Some(w) = scorer.score(a, b) {
                            v.push(ScoredPair {
                                a,
                                b,
                                probability: probability(w),
                            });
                        }
                    });
                    (v, n)
                },
            )
            .reduce(
                || (Vec::new(), 0u64),
                |(mut v, n), (w, m)| {
                    v.extend(w);
                    (v, n + m)
                },
            );
        stats.per_rule.push((rule.to_string(), n));
        stats.candidate_pairs += n;
        out.extend(pairs);
    }
    out.par_sort_unstable_by_key(|p| (p.a, p.b));
    stats.pairs_kept = out.len() as u64;
    (out, stats)
}

/// Writes `left_id,right_id,probability`.
pub fn write_pairs(path: &Path, data: &Dataset, pairs: &[ScoredPair]) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
    w.write_record(["left_id", "right_id", "probability"])?;
    let mut buf = String::new();
    for p in pairs {
        buf.clear();
        use std::fmt::Write as _;
        let _ = write!(buf, "{:.6}", p.probability);
        w.write_record([
            data.ids[p.a as usize].as_str(),
            data.ids[p.b as usize].as_str(),
            buf.as_str(),
        ])?;
    }
    w.flush()?;
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .flush()
}

/// Timings of the phases of [`run`], in seconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Timings {
    pub load: f64,
    pub train: f64,
    pub predict: f64,
    pub write: f64,
}

/// Everything `famlink link` does, as a library call.
pub struct LinkRun {
    pub data: Dataset,
    pub model: Model,
    pub pairs: Vec<ScoredPair>,
    pub stats: PredictStats,
    pub timings: Timings,
    pub cache: BlockCache,
}

impl LinkRun {
    /// The index in [`LinkRun::cache`] of a rule's blocks (built if not yet).
    pub fn cache_index(&self, rule: &crate::rules::BlockingRule) -> usize {
        self.cache.find(rule).expect("prediction rules are built")
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The rule file or a data file is wrong (the user's to fix).
    #[error(transparent)]
    Data(#[from] DataError),
    /// A saved model cannot be read or does not fit the rules.
    #[error("{}: {message}", path.display())]
    Model {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Where a model comes from.
pub enum ModelSource<'a> {
    /// Learn it from the data.
    Train,
    /// Use a saved one (its comparisons must match the rules').
    Load(&'a Path),
}

/// Reads the files, trains (or loads) the model, scores the candidates and writes
/// the pairs to `out`.
pub fn run(
    rules: &Rules,
    left: &Path,
    right: Option<&Path>,
    out: &Path,
    model_source: ModelSource,
) -> Result<LinkRun, LinkError> {
    let t = Instant::now();
    let data = Dataset::load(rules, left, right)?;
    let mut timings = Timings {
        load: t.elapsed().as_secs_f64(),
        ..Timings::default()
    };
    let t = Instant::now();
    let mut cache = BlockCache::default();
    let model = match model_source {
        ModelSource::Train => {
            let cmp = Comparisons::new(rules, &data);
            train::train(rules, &data, &cmp, &mut cache)
        }
        ModelSource::Load(p) => {
            let bad = |message: String| LinkError::Model {
                path: p.to_path_buf(),
                message,
            };
            let m = Model::load(p).map_err(|e| bad(e.to_string()))?;
            check_model(rules, &m).map_err(bad)?;
            m
        }
    };
    timings.train = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (pairs, stats) = predict(rules, &data, &model, rules.match_threshold, &mut cache);
    timings.predict = t.elapsed().as_secs_f64();
    let t = Instant::now();
    write_pairs(out, &data, &pairs).map_err(|source| LinkError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    timings.write = t.elapsed().as_secs_f64();
    Ok(LinkRun {
        data,
        model,
        pairs,
        stats,
        timings,
        cache,
    })
}

/// A saved model fits the rules if it has the same comparisons with as many levels.
pub fn check_model(rules: &Rules, model: &Model) -> Result<(), String> {
    if model.comparisons.len() != rules.comparisons.len() {
        return Err(format!(
            "the model has {} comparisons, the rules {}",
            model.comparisons.len(),
            rules.comparisons.len()
        ));
    }
    for (m, r) in model.comparisons.iter().zip(&rules.comparisons) {
        if m.name != r.name || m.m.len() != r.levels.len() + 1 || m.u.len() != m.m.len() {
            return Err(format!(
                "comparison `{}` does not match the rules' `{}`",
                m.name, r.name
            ));
        }
    }
    if !(model.prior > 0.0 && model.prior < 1.0) {
        return Err("prior is not a probability".into());
    }
    Ok(())
}

/// Writes a short human summary of a run (no record values).
pub fn summary(run: &LinkRun, mut w: impl Write) -> std::io::Result<()> {
    let d = &run.data;
    if d.dedupe {
        writeln!(w, "records: {} (deduplication)", d.len())?;
    } else {
        writeln!(w, "records: {} left, {} right", d.n_left, d.n_right())?;
    }
    writeln!(
        w,
        "prior (λ): {:.3e}  ({:.0} expected matches of {} pairs)",
        run.model.prior,
        run.model.prior * d.total_pairs() as f64,
        d.total_pairs()
    )?;
    for s in &run.model.sessions {
        writeln!(
            w,
            "EM on {}: {} of {} pairs, {} iterations{}, match share {:.4}",
            s.blocking,
            s.pairs_used,
            s.pairs_in_block,
            s.iterations,
            if s.converged { "" } else { " (not converged)" },
            s.match_share
        )?;
    }
    for (rule, n) in &run.stats.per_rule {
        writeln!(w, "candidates from {rule}: {n}")?;
    }
    writeln!(
        w,
        "candidate pairs: {}, at or above threshold: {}",
        run.stats.candidate_pairs, run.stats.pairs_kept
    )?;
    let t = &run.timings;
    writeln!(
        w,
        "time: load {:.3}s, train {:.3}s, predict {:.3}s, write {:.3}s",
        t.load, t.train, t.predict, t.write
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::fmt::Write as _;
    use std::path::Path;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const RULES: &str = r#"
id_column = "id"
match_threshold = 0.8

[[blocking]]
on = ["surname"]

[[blocking]]
on = ["born"]

[[blocking]]
on = ["unordered(given, surname)"]

[[comparison]]
column = "given"
tf_adjustment = true
levels = ["exact", { swapped_with = "surname" }, { jaro_winkler = 0.9 }, { jaro_winkler = 0.7 }]

[[comparison]]
column = "surname"
tf_adjustment = true
levels = ["exact", { jaro_winkler = 0.9 }, "phonetic"]

[[comparison]]
column = "born"
levels = ["exact", { damerau_levenshtein = 1 }, { date_within_days = 400 }]

[training]
u_sample_pairs = 5000
em_blocking = [["surname"], ["born"]]
"#;

    /// 120 records over few names and years, so that blocks overlap a lot; some
    /// values missing, some names swapped.
    fn files(dir: &Path) -> (Rules, std::path::PathBuf, std::path::PathBuf) {
        let given = ["ana", "anna", "omar", "omer", "li", "lee", "sara", "sarah"];
        let family = [
            "haddad", "hadad", "okello", "okelo", "kim", "nasser", "naser",
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let write = |name: &str, n: usize, rng: &mut ChaCha8Rng| {
            let mut s = String::from("id,given,surname,born\n");
            for i in 0..n {
                let mut g = given[rng.random_range(0..given.len())].to_string();
                let mut f = family[rng.random_range(0..family.len())].to_string();
                if rng.random_bool(0.1) {
                    std::mem::swap(&mut g, &mut f);
                }
                if rng.random_bool(0.1) {
                    g.clear();
                }
                let born = if rng.random_bool(0.1) {
                    String::new()
                } else {
                    format!(
                        "19{:02}0{}1{}",
                        rng.random_range(80..84),
                        rng.random_range(1..3),
                        rng.random_range(0..2)
                    )
                };
                writeln!(s, "{name}{i},{g},{f},{born}").unwrap();
            }
            let p = dir.join(format!("{name}.csv"));
            std::fs::write(&p, s).unwrap();
            p
        };
        let l = write("L", 120, &mut rng);
        let r = write("R", 90, &mut rng);
        (Rules::parse(Path::new("t.toml"), RULES).unwrap(), l, r)
    }

    /// The pairs any rule's keys make, computed the slow way.
    fn expected_pairs(data: &Dataset, blocks: &[&Blocks]) -> HashSet<(u32, u32)> {
        let mut out = HashSet::new();
        for a in 0..data.len() as u32 {
            for b in a + 1..data.len() as u32 {
                let allowed =
                    data.dedupe || ((a as usize) < data.n_left && (b as usize) >= data.n_left);
                if allowed && blocks.iter().any(|bl| bl.same_key(a, b)) {
                    out.insert((a, b));
                }
            }
        }
        out
    }

    fn check_blocking(data: &Dataset, rules: &Rules) {
        let mut cache = BlockCache::default();
        let idx: Vec<usize> = rules.blocking.iter().map(|r| cache.get(r, data)).collect();
        let all: Vec<&Blocks> = idx.iter().map(|&i| cache.blocks(i)).collect();
        let key_rows = block::KeyRows::new(&all);
        let mut seen = Vec::new();
        for (r, blocks) in all.iter().enumerate() {
            for unit in blocks.units() {
                blocks.for_each_pair(unit, |a, b| {
                    assert!(a < b);
                    if !key_rows.made_before(r, a, b) {
                        seen.push((a, b));
                    }
                });
            }
        }
        let distinct: HashSet<(u32, u32)> = seen.iter().copied().collect();
        assert_eq!(distinct.len(), seen.len(), "a pair was made twice");
        assert_eq!(distinct, expected_pairs(data, &all));
    }

    #[test]
    fn data_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let (rules, _, _) = files(dir.path());
        // Past the first batch handed to the interning workers.
        let mut text = String::from("id,given,surname,born\n");
        for i in 0..20_000 {
            writeln!(text, "x{i},ana,kim,19800101").unwrap();
        }
        text.push_str(",ana,kim,19800101\n");
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, &text).unwrap();
        let e = Dataset::load(&rules, &p, None).unwrap_err().to_string();
        assert!(e.ends_with("bad.csv:20002: empty id column `id`"), "{e}");

        std::fs::write(&p, "id,given,surname\nx,ana,kim\n").unwrap();
        let e = Dataset::load(&rules, &p, None).unwrap_err().to_string();
        assert!(
            e.contains("t.toml:") && e.contains("column `born` is not in"),
            "{e}"
        );

        std::fs::write(&p, b"id,given,surname,born\nx,an\xffa,kim,1980\n").unwrap();
        let e = Dataset::load(&rules, &p, None).unwrap_err().to_string();
        assert!(
            e.ends_with("bad.csv:2: column `given` is not valid UTF-8"),
            "{e}"
        );
    }

    #[test]
    fn blocking_makes_each_candidate_once() {
        let dir = tempfile::tempdir().unwrap();
        let (rules, l, r) = files(dir.path());
        check_blocking(&Dataset::load(&rules, &l, None).unwrap(), &rules);
        check_blocking(&Dataset::load(&rules, &l, Some(&r)).unwrap(), &rules);
    }

    #[test]
    fn bounded_score_agrees_with_full_weight() {
        let dir = tempfile::tempdir().unwrap();
        let (rules, l, r) = files(dir.path());
        for right in [None, Some(r.as_path())] {
            let data = Dataset::load(&rules, &l, right).unwrap();
            let cmp = Comparisons::new(&rules, &data);
            let mut cache = BlockCache::default();
            let model = train::train(&rules, &data, &cmp, &mut cache);
            // Random records: few true pairs, so look at low thresholds too.
            for threshold in [1e-12, 1e-6, 1e-3, 0.5] {
                let scorer = Scorer::new(&cmp, &model, threshold);
                let cut = crate::model::weight_of_probability(threshold);
                let mut kept = 0;
                for a in 0..data.len() as u32 {
                    for b in a + 1..data.len() as u32 {
                        let w = scorer.weight(a, b);
                        match scorer.score(a, b) {
                            Some(s) => {
                                assert!((s - w).abs() < 1e-9, "{s} vs {w}");
                                kept += 1;
                            }
                            None => assert!(w < cut + 1e-9, "pair {a},{b} dropped at weight {w}"),
                        }
                    }
                }
                assert!(threshold > 1e-12 || kept > 0);
            }
        }
    }
}
