//! Learning a model from the data themselves, with no labels:
//!
//! 1. u from random pairs (seeded), the exact level's u from value frequencies;
//! 2. m by EM sessions, one per training blocking rule, as Splink does: a session
//!    looks at the pairs its rule makes and learns m (with u fixed) of every
//!    comparison except those on the rule's own columns (which agree by construction
//!    there); each comparison's m is the mean over the sessions that learned it;
//! 3. λ from the sessions: the matches a session finds, divided by the chance that a
//!    true pair shares the session's key (learned in the other sessions), estimate the
//!    matches in the whole data.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::compare::{Level, MISSING};
use crate::model::{
    expectation_maximisation, u_from_sample, ComparisonModel, EmOptions, EmParams, Model,
    PatternCounts, SessionReport,
};
use crate::rules::{KeyTransform, Rules};

use super::block::BlockCache;
use super::data::Dataset;
use super::score::Comparisons;

const U_CHUNK: u64 = 1 << 15;

/// u of every comparison and level, from `rules.training.u_sample_pairs` random pairs.
pub fn estimate_u(rules: &Rules, data: &Dataset, cmp: &Comparisons) -> Vec<Vec<f64>> {
    let n_pairs = rules.training.u_sample_pairs;
    let n_levels: Vec<usize> = (0..cmp.len())
        .map(|c| cmp.comparator(c).levels().len() + 1)
        .collect();
    let empty = || n_levels.iter().map(|&k| vec![0u64; k]).collect::<Vec<_>>();
    let (n, nl) = (data.len() as u32, data.n_left as u32);
    if data.total_pairs() == 0 {
        return n_levels.iter().map(|&k| vec![1.0 / k as f64; k]).collect();
    }
    let chunks = n_pairs.div_ceil(U_CHUNK);
    let counts = (0..chunks)
        .into_par_iter()
        .map(|k| {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(rules.training.seed ^ mix(k + 1)));
            let mut counts = empty();
            let len = U_CHUNK.min(n_pairs - k * U_CHUNK);
            for _ in 0..len {
                let (a, b) = if data.dedupe {
                    let a = rng.random_range(0..n);
                    let mut b = rng.random_range(0..n - 1);
                    if b >= a {
                        b += 1;
                    }
                    (a, b)
                } else {
                    (rng.random_range(0..nl), rng.random_range(nl..n))
                };
                for (c, row) in counts.iter_mut().enumerate() {
                    let l = cmp.level(c, a, b);
                    if l != MISSING {
                        row[l as usize] += 1;
                    }
                }
            }
            counts
        })
        .reduce(empty, |mut a, b| {
            for (ra, rb) in a.iter_mut().zip(b) {
                for (x, y) in ra.iter_mut().zip(rb) {
                    *x += y;
                }
            }
            a
        });
    counts
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let exact = (cmp.comparator(c).levels()[0] == Level::Exact)
                .then(|| data.columns[cmp.column(c)].agreement_chance(data.dedupe));
            u_from_sample(row, exact)
        })
        .collect()
}

/// m to start EM from: most true pairs agree exactly, few are different.
fn initial_m(levels: usize) -> Vec<f64> {
    if levels == 2 {
        return vec![0.9, 0.1];
    }
    let middle = 0.15 / (levels - 2) as f64;
    let mut m = vec![middle; levels];
    m[0] = 0.8;
    m[levels - 1] = 0.05;
    m
}

/// Trains a model (u, m, λ) as the rules say.
pub fn train(rules: &Rules, data: &Dataset, cmp: &Comparisons, cache: &mut BlockCache) -> Model {
    let nc = cmp.len();
    let u = estimate_u(rules, data, cmp);
    let mut params = EmParams {
        lambda: 0.1,
        m: (0..nc).map(|c| initial_m(u[c].len())).collect(),
        u: u.clone(),
    };
    let mut m_sum: Vec<Vec<f64>> = u.iter().map(|r| vec![0.0; r.len()]).collect();
    let mut miss_sum = vec![0.0; nc];
    let mut sessions_of = vec![0usize; nc];
    let mut sessions = Vec::new();
    let mut session_stats = Vec::new(); // (λ_s, pairs in block)

    for (si, rule) in rules.training.em_blocking.iter().enumerate() {
        let bi = cache.get(rule, data);
        let blocks = cache.blocks(bi);
        let in_block = blocks.total_pairs();
        let active: Vec<bool> = rules
            .comparisons
            .iter()
            .map(|c| !rule.columns().any(|col| col == c.column.value))
            .collect();
        let take_all = in_block <= rules.training.em_max_pairs;
        let cut = if take_all {
            u64::MAX
        } else {
            (rules.training.em_max_pairs as f64 / in_block as f64 * u64::MAX as f64) as u64
        };
        let salt = mix(rules.training.seed.wrapping_add(si as u64 + 101));
        let counts = blocks
            .units()
            .into_par_iter()
            .fold(PatternCounts::new, |mut acc, unit| {
                blocks.for_each_pair(unit, |a, b| {
                    if take_all || mix(((u64::from(a)) << 32 | u64::from(b)) ^ salt) < cut {
                        *acc.entry(cmp.pattern(a, b, &active)).or_default() += 1;
                    }
                });
                acc
            })
            .reduce(PatternCounts::new, |mut a, b| {
                if a.len() < b.len() {
                    return merge(b, a);
                }
                for (k, v) in b {
                    *a.entry(k).or_default() += v;
                }
                a
            });
        let mut patterns: Vec<(u64, u64)> = counts.into_iter().collect();
        patterns.sort_unstable();
        let used: u64 = patterns.iter().map(|p| p.1).sum();

        params.lambda = 0.1;
        for c in 0..nc {
            if active[c] && sessions_of[c] > 0 {
                params.m[c] = m_sum[c].iter().map(|x| x / sessions_of[c] as f64).collect();
            }
        }
        let out = expectation_maximisation(
            &patterns,
            &mut params,
            &EmOptions {
                max_iterations: rules.training.em_max_iterations,
                tolerance: rules.training.em_tolerance,
                fix_u: true,
                active: active.clone(),
            },
        );
        if used > 0 {
            for c in (0..nc).filter(|&c| active[c]) {
                for (s, x) in m_sum[c].iter_mut().zip(&params.m[c]) {
                    *s += x;
                }
                miss_sum[c] += out.missing_in_matches[c];
                sessions_of[c] += 1;
            }
        }
        session_stats.push((params.lambda, in_block, used));
        sessions.push(SessionReport {
            blocking: rule.to_string(),
            fixed: rules
                .comparisons
                .iter()
                .zip(&active)
                .filter(|(_, &a)| !a)
                .map(|(c, _)| c.name.clone())
                .collect(),
            pairs_in_block: in_block,
            pairs_used: used,
            iterations: out.iterations,
            converged: out.converged,
            match_share: params.lambda,
            implied_matches: None,
        });
    }

    let m: Vec<Vec<f64>> = (0..nc)
        .map(|c| {
            if sessions_of[c] == 0 {
                initial_m(u[c].len())
            } else {
                m_sum[c].iter().map(|x| x / sessions_of[c] as f64).collect()
            }
        })
        .collect();
    let miss: Vec<f64> = (0..nc)
        .map(|c| miss_sum[c] / sessions_of[c].max(1) as f64)
        .collect();

    // λ from each session whose key agreement among true pairs can be told.
    for (si, rule) in rules.training.em_blocking.iter().enumerate() {
        let (share, in_block, used) = session_stats[si];
        if used == 0 {
            continue;
        }
        let mut p_key = 1.0;
        for part in &rule.parts {
            let c = rules
                .comparisons
                .iter()
                .position(|c| c.column.value == part.value.column && c.levels[0] == Level::Exact);
            match (c, &part.value.transform) {
                (Some(c), KeyTransform::Value) if sessions_of[c] > 0 => {
                    p_key *= (1.0 - miss[c]) * m[c][0];
                }
                _ => {
                    p_key = f64::NAN;
                    break;
                }
            }
        }
        if p_key.is_finite() && p_key > 0.0 {
            sessions[si].implied_matches = Some(share * in_block as f64 / p_key);
        }
    }
    let total = data.total_pairs().max(1) as f64;
    let implied: Vec<f64> = sessions.iter().filter_map(|s| s.implied_matches).collect();
    let matches = if implied.is_empty() {
        // A lower bound: the most matches any one session saw.
        session_stats
            .iter()
            .map(|&(share, in_block, _)| share * in_block as f64)
            .fold(1.0, f64::max)
    } else {
        implied.iter().sum::<f64>() / implied.len() as f64
    };
    let prior = rules
        .training
        .prior
        .unwrap_or_else(|| (matches / total).clamp(1.0 / total, 0.5));

    let mut model = Model {
        prior,
        comparisons: rules
            .comparisons
            .iter()
            .enumerate()
            .map(|(c, spec)| {
                let mut levels: Vec<String> = spec.levels.iter().map(Level::label).collect();
                levels.push("different".into());
                ComparisonModel {
                    name: spec.name.clone(),
                    column: spec.column.value.clone(),
                    levels,
                    m: m[c].clone(),
                    u: u[c].clone(),
                    log2_bayes_factor: Vec::new(),
                    tf_adjustment: spec.tf_adjustment,
                    missing_in_matches: miss[c],
                }
            })
            .collect(),
        sessions,
        u_sample_pairs: rules.training.u_sample_pairs,
    };
    model.refresh();
    model
}

fn merge(mut a: PatternCounts, b: PatternCounts) -> PatternCounts {
    for (k, v) in b {
        *a.entry(k).or_default() += v;
    }
    a
}

/// SplitMix64's finaliser: a well-mixed hash of a 64-bit value.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
