//! The Fellegi–Sunter model: for each comparison and level, the probability `m` of
//! reaching that level when two records are the same person and `u` when they are
//! not; a prior λ that two random records are the same person. A pair's match weight
//! is `log2(λ/(1-λ)) + Σ log2(m/u)` over its comparisons (missing values add 0), and
//! its probability `2^w / (1 + 2^w)`.
//!
//! This module holds the parameters, learns them ([`em`]: m and λ by
//! expectation–maximisation over unlabelled pairs; [`u_from_sample`]: u from random
//! pairs), adjusts exact-match weights by term frequency ([`TermFrequencies`]), and
//! saves them as JSON a person can read.

pub mod em;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use em::{
    expectation_maximisation, pack, unpack_level, EmOptions, EmOutcome, EmParams, PatternCounts,
};

/// Smallest m or u kept, so that no weight is infinite.
pub const MIN_PROBABILITY: f64 = 1e-6;

/// The learned parameters of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonModel {
    pub name: String,
    pub column: String,
    /// Labels of the levels, the last being "different".
    pub levels: Vec<String>,
    pub m: Vec<f64>,
    pub u: Vec<f64>,
    /// `log2(m/u)` of each level, for reading (recomputed on load).
    pub log2_bayes_factor: Vec<f64>,
    pub tf_adjustment: bool,
    /// Share of true pairs in which this comparison is missing (learned by EM).
    pub missing_in_matches: f64,
}

/// What one EM session did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionReport {
    pub blocking: String,
    /// Comparisons left out because the session blocks on their column.
    pub fixed: Vec<String>,
    pub pairs_in_block: u64,
    pub pairs_used: u64,
    pub iterations: u32,
    pub converged: bool,
    /// λ among the session's pairs.
    pub match_share: f64,
    /// Matches in the whole data implied by this session, if it could tell.
    pub implied_matches: Option<f64>,
}

/// A trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// λ: probability that two records drawn at random are the same person.
    pub prior: f64,
    pub comparisons: Vec<ComparisonModel>,
    #[serde(default)]
    pub sessions: Vec<SessionReport>,
    #[serde(default)]
    pub u_sample_pairs: u64,
}

impl Model {
    /// `log2(λ/(1-λ))`.
    pub fn prior_weight(&self) -> f64 {
        (self.prior / (1.0 - self.prior)).log2()
    }

    /// `log2(m/u)` of comparison `c` at `level` (0 for missing).
    pub fn weight(&self, c: usize, level: u8) -> f64 {
        if level == crate::compare::MISSING {
            return 0.0;
        }
        let cm = &self.comparisons[c];
        log2_bf(cm.m[level as usize], cm.u[level as usize])
    }

    /// Recomputes the readable Bayes factors after the parameters changed.
    pub fn refresh(&mut self) {
        for c in &mut self.comparisons {
            c.log2_bayes_factor = c.m.iter().zip(&c.u).map(|(&m, &u)| log2_bf(m, u)).collect();
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }

    pub fn load(path: &Path) -> std::io::Result<Model> {
        let text = std::fs::read_to_string(path)?;
        let mut m: Model = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        m.refresh();
        Ok(m)
    }
}

/// `log2(m/u)` with both clamped away from zero.
pub fn log2_bf(m: f64, u: f64) -> f64 {
    (m.max(MIN_PROBABILITY) / u.max(MIN_PROBABILITY)).log2()
}

/// A match weight as a probability.
pub fn probability(weight: f64) -> f64 {
    let b = weight.exp2();
    if b.is_infinite() {
        1.0
    } else {
        b / (1.0 + b)
    }
}

/// A probability as a match weight.
pub fn weight_of_probability(p: f64) -> f64 {
    (p / (1.0 - p)).log2()
}

/// u from random pairs: `counts[l]` pairs reached level l (missing ones not counted).
///
/// If `exact_u` is given (the chance that two random values are identical, computed
/// from value frequencies, which is exact where sampling is noisy for rare values),
/// level 0 takes it and the other levels share the rest in the sampled proportions.
/// Every non-exact level gets half a pair more, so that a level never seen among
/// random pairs has a small u rather than zero.
pub fn u_from_sample(counts: &[u64], exact_u: Option<f64>) -> Vec<f64> {
    let smoothed: Vec<f64> = counts.iter().map(|&c| c as f64 + 0.5).collect();
    match exact_u {
        None => {
            let total: f64 = smoothed.iter().sum();
            smoothed.iter().map(|c| c / total).collect()
        }
        Some(e) => {
            let e = e.clamp(MIN_PROBABILITY, 1.0 - MIN_PROBABILITY);
            let rest: f64 = smoothed[1..].iter().sum();
            let mut u = vec![e];
            u.extend(smoothed[1..].iter().map(|c| (1.0 - e) * c / rest));
            u
        }
    }
}

/// How often each value of a column occurs, for the term-frequency adjustment.
///
/// Two records agreeing on a common surname say less than two agreeing on a rare one:
/// for an exact agreement on value v, u is replaced by v's frequency (the chance that
/// two random records both have v, given they agree, times the chance they agree),
/// so the weight is `log2(m_exact / freq(v))` instead of `log2(m_exact / u_exact)`.
#[derive(Debug, Clone)]
pub struct TermFrequencies {
    freq: Vec<f64>,
    floor: f64,
}

impl TermFrequencies {
    /// `counts[v]`: records holding value v.
    pub fn from_counts(counts: &[u64]) -> TermFrequencies {
        let total: u64 = counts.iter().sum();
        let t = total.max(1) as f64;
        TermFrequencies {
            freq: counts.iter().map(|&c| c as f64 / t).collect(),
            floor: 1.0 / t,
        }
    }

    pub fn frequency(&self, value: u32) -> f64 {
        self.freq[value as usize].max(self.floor)
    }

    /// The adjusted weight of an exact agreement on `value`.
    pub fn exact_weight(&self, m_exact: f64, value: u32) -> f64 {
        log2_bf(m_exact, self.frequency(value))
    }

    pub fn len(&self) -> usize {
        self.freq.len()
    }

    pub fn is_empty(&self) -> bool {
        self.freq.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequent_values_weigh_less() {
        // 1,000 records: "smith" 100 times, "zaragoza" once, others spread.
        let counts = [100u64, 1, 899];
        let tf = TermFrequencies::from_counts(&counts);
        let m_exact = 0.9;
        let u_exact = 0.01; // the column's average chance of agreement
        let plain = log2_bf(m_exact, u_exact);
        let smith = tf.exact_weight(m_exact, 0);
        let rare = tf.exact_weight(m_exact, 1);
        assert!(smith < plain, "{smith} !< {plain}");
        assert!(rare > plain, "{rare} !> {plain}");
        assert!((smith - (0.9f64 / 0.1).log2()).abs() < 1e-9);
        assert!((rare - (0.9f64 / 0.001).log2()).abs() < 1e-9);
        // The frequent value's probability of a match falls accordingly.
        let prior = weight_of_probability(0.001);
        assert!(probability(prior + smith) < probability(prior + rare));
    }

    #[test]
    fn u_with_exact_from_frequencies() {
        let u = u_from_sample(&[10, 40, 950], Some(0.001));
        assert!((u.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(u[0], 0.001);
        assert!((u[1] / u[2] - 40.5 / 950.5).abs() < 1e-12);
        let u = u_from_sample(&[0, 0, 100], None);
        assert!(u[0] > 0.0 && u[0] < 0.01);
    }

    #[test]
    fn probability_round_trip() {
        for p in [0.001, 0.5, 0.9, 0.999] {
            assert!((probability(weight_of_probability(p)) - p).abs() < 1e-12);
        }
        assert_eq!(probability(5000.0), 1.0);
    }

    #[test]
    fn saves_and_loads_json() {
        let mut m = Model {
            prior: 1e-4,
            comparisons: vec![ComparisonModel {
                name: "surname".into(),
                column: "surname".into(),
                levels: vec!["exact".into(), "different".into()],
                m: vec![0.9, 0.1],
                u: vec![0.01, 0.99],
                log2_bayes_factor: vec![],
                tf_adjustment: true,
                missing_in_matches: 0.0,
            }],
            sessions: vec![],
            u_sample_pairs: 10,
        };
        m.refresh();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.json");
        m.save(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"log2_bayes_factor\""));
        assert_eq!(Model::load(&p).unwrap(), m);
    }
}
