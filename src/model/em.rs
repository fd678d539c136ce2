//! Expectation–maximisation of m (and optionally u) and λ over unlabelled pairs.
//!
//! Pairs are summarised as patterns: the level of every comparison packed four bits
//! each into a `u64` ([`pack`]), with a count. Blocked data have far fewer distinct
//! patterns than pairs, so an iteration costs the number of patterns, not of pairs.

use std::collections::HashMap;

use crate::compare::MISSING;

use super::MIN_PROBABILITY;

/// Four bits per comparison; this code marks "missing".
const NIBBLE_MISSING: u64 = 0xF;

/// Counts of each pattern.
pub type PatternCounts = HashMap<u64, u64>;

/// Packs levels (at most 16 comparisons, levels below 15 or [`MISSING`]).
pub fn pack(levels: &[u8]) -> u64 {
    debug_assert!(levels.len() <= 16);
    levels.iter().enumerate().fold(0u64, |acc, (i, &l)| {
        let n = if l == MISSING {
            NIBBLE_MISSING
        } else {
            u64::from(l)
        };
        acc | (n << (4 * i))
    })
}

/// The level of comparison `c` in a packed pattern ([`MISSING`] for missing).
#[inline]
pub fn unpack_level(pattern: u64, c: usize) -> u8 {
    let n = (pattern >> (4 * c)) & 0xF;
    if n == NIBBLE_MISSING {
        MISSING
    } else {
        n as u8
    }
}

/// The parameters EM starts from and improves.
#[derive(Debug, Clone, PartialEq)]
pub struct EmParams {
    pub lambda: f64,
    /// `m[c][level]`, each row summing to 1.
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
}

#[derive(Debug, Clone)]
pub struct EmOptions {
    pub max_iterations: u32,
    /// Stop when no probability moves more than this in an iteration.
    pub tolerance: f64,
    /// Keep u as given (estimated from random pairs) and learn only m and λ.
    pub fix_u: bool,
    /// Comparisons taking part; the others are ignored (as if missing) and their
    /// parameters left as they are.
    pub active: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmOutcome {
    pub iterations: u32,
    pub converged: bool,
    /// Per comparison: share of the (posterior) matches in which it is missing.
    pub missing_in_matches: Vec<f64>,
}

/// Runs EM on `patterns` (pattern, count) from `params`, updating them in place.
pub fn expectation_maximisation(
    patterns: &[(u64, u64)],
    params: &mut EmParams,
    opts: &EmOptions,
) -> EmOutcome {
    let nc = params.m.len();
    assert_eq!(opts.active.len(), nc);
    let active: Vec<usize> = (0..nc).filter(|&c| opts.active[c]).collect();
    // Levels of active comparisons per pattern, unpacked once.
    let levels: Vec<Vec<u8>> = patterns
        .iter()
        .map(|&(p, _)| active.iter().map(|&c| unpack_level(p, c)).collect())
        .collect();
    let counts: Vec<f64> = patterns.iter().map(|&(_, n)| n as f64).collect();
    let total: f64 = counts.iter().sum();
    let mut missing_in_matches = vec![0.0; nc];
    if total == 0.0 || active.is_empty() {
        return EmOutcome {
            iterations: 0,
            converged: false,
            missing_in_matches,
        };
    }

    let mut iterations = 0;
    let mut converged = false;
    while iterations < opts.max_iterations {
        iterations += 1;
        let ln_m: Vec<Vec<f64>> = active
            .iter()
            .map(|&c| {
                params.m[c]
                    .iter()
                    .map(|x| x.max(MIN_PROBABILITY).ln())
                    .collect()
            })
            .collect();
        let ln_u: Vec<Vec<f64>> = active
            .iter()
            .map(|&c| {
                params.u[c]
                    .iter()
                    .map(|x| x.max(MIN_PROBABILITY).ln())
                    .collect()
            })
            .collect();
        let (ln_l, ln_nl) = (params.lambda.ln(), (1.0 - params.lambda).ln());

        let mut m_acc: Vec<Vec<f64>> = active
            .iter()
            .map(|&c| vec![0.0; params.m[c].len()])
            .collect();
        let mut u_acc: Vec<Vec<f64>> = active
            .iter()
            .map(|&c| vec![0.0; params.u[c].len()])
            .collect();
        let mut miss_acc = vec![0.0; active.len()];
        let mut match_total = 0.0;
        for (lv, &n) in levels.iter().zip(&counts) {
            let (mut a, mut b) = (ln_l, ln_nl);
            for (k, &l) in lv.iter().enumerate() {
                if l != MISSING {
                    a += ln_m[k][l as usize];
                    b += ln_u[k][l as usize];
                }
            }
            let p = 1.0 / (1.0 + (b - a).exp());
            let (wm, wu) = (n * p, n * (1.0 - p));
            match_total += wm;
            for (k, &l) in lv.iter().enumerate() {
                if l == MISSING {
                    miss_acc[k] += wm;
                } else {
                    m_acc[k][l as usize] += wm;
                    u_acc[k][l as usize] += wu;
                }
            }
        }

        let mut change: f64 = 0.0;
        let new_lambda = (match_total / total).clamp(MIN_PROBABILITY, 1.0 - MIN_PROBABILITY);
        change = change.max((new_lambda - params.lambda).abs());
        params.lambda = new_lambda;
        for (k, &c) in active.iter().enumerate() {
            if let Some(new) = normalised(&m_acc[k]) {
                change = change.max(max_diff(&new, &params.m[c]));
                params.m[c] = new;
            }
            if !opts.fix_u {
                if let Some(new) = normalised(&u_acc[k]) {
                    change = change.max(max_diff(&new, &params.u[c]));
                    params.u[c] = new;
                }
            }
            missing_in_matches[c] = if match_total > 0.0 {
                miss_acc[k] / match_total
            } else {
                0.0
            };
        }
        if change < opts.tolerance {
            converged = true;
            break;
        }
    }
    EmOutcome {
        iterations,
        converged,
        missing_in_matches,
    }
}

fn normalised(acc: &[f64]) -> Option<Vec<f64>> {
    let s: f64 = acc.iter().sum();
    if s <= 0.0 {
        return None;
    }
    let v: Vec<f64> = acc.iter().map(|x| (x / s).max(MIN_PROBABILITY)).collect();
    let s2: f64 = v.iter().sum();
    Some(v.into_iter().map(|x| x / s2).collect())
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn draw(rng: &mut ChaCha8Rng, probs: &[f64]) -> u8 {
        let x: f64 = rng.random();
        let mut acc = 0.0;
        for (i, p) in probs.iter().enumerate() {
            acc += p;
            if x < acc {
                return i as u8;
            }
        }
        (probs.len() - 1) as u8
    }

    /// Pairs drawn from a known model: λ, m and u of five comparisons with 2–4 levels,
    /// some values missing.
    fn synthetic(n: usize, seed: u64) -> (EmParams, Vec<(u64, u64)>) {
        let truth = EmParams {
            lambda: 0.05,
            m: vec![
                vec![0.9, 0.07, 0.03],
                vec![0.85, 0.1, 0.05],
                vec![0.8, 0.15, 0.05],
                vec![0.95, 0.05],
                vec![0.7, 0.2, 0.06, 0.04],
            ],
            u: vec![
                vec![0.01, 0.04, 0.95],
                vec![0.005, 0.02, 0.975],
                vec![0.02, 0.08, 0.9],
                vec![0.1, 0.9],
                vec![0.001, 0.01, 0.05, 0.939],
            ],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut counts = PatternCounts::new();
        for _ in 0..n {
            let is_match = rng.random::<f64>() < truth.lambda;
            let levels: Vec<u8> = (0..truth.m.len())
                .map(|c| {
                    if rng.random::<f64>() < 0.05 {
                        MISSING
                    } else if is_match {
                        draw(&mut rng, &truth.m[c])
                    } else {
                        draw(&mut rng, &truth.u[c])
                    }
                })
                .collect();
            *counts.entry(pack(&levels)).or_default() += 1;
        }
        let mut v: Vec<(u64, u64)> = counts.into_iter().collect();
        v.sort_unstable();
        (truth, v)
    }

    fn start(truth: &EmParams, fix_u: bool) -> EmParams {
        let flat = |k: usize, first: f64| {
            let mut v = vec![(1.0 - first) / (k - 1) as f64; k];
            v[0] = first;
            v
        };
        EmParams {
            lambda: 0.3,
            m: truth.m.iter().map(|r| flat(r.len(), 0.6)).collect(),
            u: if fix_u {
                truth.u.clone()
            } else {
                truth.u.iter().map(|r| flat(r.len(), 0.1)).collect()
            },
        }
    }

    fn assert_close(a: &[Vec<f64>], b: &[Vec<f64>], tol: f64) {
        for (ra, rb) in a.iter().zip(b) {
            for (x, y) in ra.iter().zip(rb) {
                assert!((x - y).abs() < tol, "{ra:?} vs {rb:?}");
            }
        }
    }

    #[test]
    fn pack_round_trip() {
        let levels = [0u8, 3, MISSING, 14, 1];
        let p = pack(&levels);
        for (i, &l) in levels.iter().enumerate() {
            assert_eq!(unpack_level(p, i), l);
        }
    }

    #[test]
    fn em_recovers_m_and_lambda_with_u_fixed() {
        let (truth, patterns) = synthetic(200_000, 7);
        let mut p = start(&truth, true);
        let opts = EmOptions {
            max_iterations: 200,
            tolerance: 1e-7,
            fix_u: true,
            active: vec![true; 5],
        };
        let out = expectation_maximisation(&patterns, &mut p, &opts);
        assert!(out.converged, "{out:?}");
        assert!((p.lambda - truth.lambda).abs() < 0.003, "λ {}", p.lambda);
        assert_close(&p.m, &truth.m, 0.015);
        for c in 0..5 {
            assert!((out.missing_in_matches[c] - 0.05).abs() < 0.01);
        }
    }

    #[test]
    fn em_recovers_m_u_and_lambda() {
        let (truth, patterns) = synthetic(200_000, 11);
        let mut p = start(&truth, false);
        let opts = EmOptions {
            max_iterations: 500,
            tolerance: 1e-8,
            fix_u: false,
            active: vec![true; 5],
        };
        let out = expectation_maximisation(&patterns, &mut p, &opts);
        assert!(out.converged, "{out:?}");
        assert!((p.lambda - truth.lambda).abs() < 0.003, "λ {}", p.lambda);
        assert_close(&p.m, &truth.m, 0.02);
        assert_close(&p.u, &truth.u, 0.01);
    }

    #[test]
    fn inactive_comparisons_are_left_alone() {
        let (truth, patterns) = synthetic(50_000, 3);
        let mut p = start(&truth, true);
        let before = p.m[2].clone();
        let mut active = vec![true; 5];
        active[2] = false;
        let opts = EmOptions {
            max_iterations: 100,
            tolerance: 1e-6,
            fix_u: true,
            active,
        };
        expectation_maximisation(&patterns, &mut p, &opts);
        assert_eq!(p.m[2], before);
        assert!((p.lambda - truth.lambda).abs() < 0.01);
    }
}
