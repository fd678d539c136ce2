//! The child↔inquiry matcher: for each tracing inquiry, candidates among the
//! registered children (from an index of name keys, so a batch never compares all
//! pairs), role-based comparisons, a Fellegi–Sunter score with learned parameters,
//! and ranked proposals with a probability, a band and an explanation.
//!
//! - [`rules`]: the tracing rule file (`matching-rules/tracing.toml`).
//! - [`compare`]: the role comparisons (child's own name, parents, inquirer by
//!   relationship, birth with tolerance, places hierarchically, sex).
//! - [`candidates`]: the candidate stage.
//! - [`train`] learns u from random child×inquiry pairs, m and λ by EM over the
//!   candidate pairs, term frequencies of name parts; [`propose`] scores and ranks.
//!
//! A proposal is `likely` only when the child's own identity agrees (the rule file's
//! `identity` comparisons): siblings and cousins, who share parents, family name and
//! village, stay `possible`, and the explanation says why.

pub mod candidates;
pub mod compare;
pub mod eval;
pub mod live;
pub mod rules;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::compare::MISSING;
use crate::model::{
    expectation_maximisation, pack, ComparisonModel, EmOptions, EmParams, Model, SessionReport,
};
use crate::record::{Record, RecordKind, RowParser};

pub use candidates::{CandidateIndex, CandidateSource};
pub use compare::{Comparer, Kind, Outcome, Prepared, Preparer};
pub use live::{Engine, ModelStart};
pub use rules::TracingRules;

/// Errors of the matcher, each naming what went wrong where.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error("{0}")]
    Rules(#[from] crate::rules::RulesError),
    #[error("{file}: {message}")]
    Data { file: PathBuf, message: String },
    #[error("{file}: {message}")]
    Model { file: PathBuf, message: String },
}

/// A loaded side: who the records are, and what the comparisons need.
pub struct Side {
    pub agency: Vec<Box<str>>,
    pub record_id: Vec<Box<str>>,
    pub prepared: Vec<Prepared>,
    /// Rows that failed to parse, skipped.
    pub rejected: u64,
}

impl Side {
    pub fn len(&self) -> usize {
        self.prepared.len()
    }
    pub fn is_empty(&self) -> bool {
        self.prepared.is_empty()
    }
}

/// Reads a children or inquiries CSV file (the import format) and prepares every
/// row; rows that do not parse are counted and skipped.
pub fn load_side(path: &Path, kind: RecordKind, rules: &TracingRules) -> Result<Side, MatchError> {
    let file = std::fs::File::open(path).map_err(|e| MatchError::Data {
        file: path.to_path_buf(),
        message: e.to_string(),
    })?;
    read_side(path, file, kind, rules)
}

/// [`load_side`] of CSV text (e.g. the committed sample compiled in); `name` names
/// it in errors.
pub fn load_side_from_text(
    name: &str,
    text: &str,
    kind: RecordKind,
    rules: &TracingRules,
) -> Result<Side, MatchError> {
    read_side(Path::new(name), text.as_bytes(), kind, rules)
}

fn read_side(
    path: &Path,
    input: impl std::io::Read,
    kind: RecordKind,
    rules: &TracingRules,
) -> Result<Side, MatchError> {
    let err = |message: String| MatchError::Data {
        file: path.to_path_buf(),
        message,
    };
    // The import's reader: the same header and row rules as `famlink import`.
    use crate::import::{CsvRows, Item, RowSource};
    let mut source = CsvRows::new(input).map_err(|e| err(e.to_string()))?;
    let mut rows = Vec::new();
    let mut unreadable = 0u64;
    while let Some(item) = source.next_item() {
        match item.map_err(|e| err(e.to_string()))? {
            Item::Row(row) => rows.push(row),
            Item::Unreadable { .. } => unreadable += 1,
        }
    }
    let parser = RowParser::new(kind, None);
    type Row = Option<(Box<str>, Box<str>, Prepared)>;
    let parsed: Vec<Vec<Row>> = rows
        .par_chunks(20_000)
        .map(|chunk| {
            let mut prep = Preparer::new(rules);
            chunk
                .iter()
                .map(|row| {
                    parser.parse(row).ok().map(|r: Record| {
                        let p = prep.prepare(&r);
                        (r.agency.into(), r.record_id.into(), p)
                    })
                })
                .collect()
        })
        .collect();
    drop(rows);
    let mut side = Side {
        agency: Vec::new(),
        record_id: Vec::new(),
        prepared: Vec::new(),
        rejected: unreadable,
    };
    for r in parsed.into_iter().flatten() {
        match r {
            Some((a, id, p)) => {
                side.agency.push(a);
                side.record_id.push(id);
                side.prepared.push(p);
            }
            None => side.rejected += 1,
        }
    }
    Ok(side)
}

/// Loads the current records of one kind from a data directory's store and
/// prepares every one: the matcher's view of what agencies have registered. The
/// rows are read in key order and decoded and prepared in parallel.
pub fn load_side_from_store(
    store: &crate::store::Store,
    kind: RecordKind,
    rules: &TracingRules,
) -> Result<Side, MatchError> {
    let err = |e: crate::store::StoreError| MatchError::Data {
        file: PathBuf::from(crate::registry::DATABASE_FILE),
        message: e.to_string(),
    };
    let mut side = Side {
        agency: Vec::new(),
        record_id: Vec::new(),
        prepared: Vec::new(),
        rejected: 0,
    };
    store
        .for_each_chunk_of_kind(kind, 20_000, |rows| {
            let prepared: Vec<Result<Prepared, crate::store::StoreError>> = rows
                .par_chunks(2_000)
                .flat_map_iter(|part| {
                    let mut prep = Preparer::new(rules);
                    part.iter()
                        .map(|(agency, id, data)| {
                            crate::store::Store::decode_record(kind, agency, id, data)
                                .map(|r| prep.prepare(&r))
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            for ((agency, id, _), p) in rows.into_iter().zip(prepared) {
                side.prepared.push(p?);
                side.agency.push(agency.into());
                side.record_id.push(id.into());
            }
            Ok(())
        })
        .map_err(err)?;
    Ok(side)
}

/// How often each name part (by its first skeleton, or itself when too short)
/// occurs among the children: the term frequencies of the personal-name comparison.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NameFrequencies {
    pub children: u64,
    /// Name part key → children holding it.
    pub counts: HashMap<String, u64>,
}

/// The key under which a name part is counted.
pub fn tf_key(k: &crate::names::NameKeys) -> &str {
    if k.skeleton.len() >= 2 {
        &k.skeleton
    } else {
        &k.normalized
    }
}

impl NameFrequencies {
    pub fn from_children(children: &Side) -> NameFrequencies {
        let counts = children
            .prepared
            .par_iter()
            .fold(HashMap::<String, u64>::new, |mut m, p| {
                let mut seen: Vec<&str> = Vec::new();
                for k in &p.names {
                    let key = tf_key(k);
                    if !seen.contains(&key) {
                        seen.push(key);
                        *m.entry(key.to_owned()).or_default() += 1;
                    }
                }
                m
            })
            .reduce(HashMap::new, |mut a, b| {
                for (k, v) in b {
                    *a.entry(k).or_default() += v;
                }
                a
            });
        NameFrequencies {
            children: children.len() as u64,
            counts,
        }
    }

    /// Share of children holding the part.
    pub fn frequency(&self, k: &crate::names::NameKeys) -> f64 {
        let n = self.children.max(1) as f64;
        let c = self.counts.get(tf_key(k)).copied().unwrap_or(0).max(1) as f64;
        c / n
    }
}

/// The learned parameters: the model, and the name frequencies.
pub struct Trained {
    pub model: Model,
    pub frequencies: NameFrequencies,
}

/// Where `train` saves the parameters inside a data directory.
pub fn model_path(data: &Path) -> PathBuf {
    data.join("model").join("tracing.model.json")
}

pub fn frequencies_path(data: &Path) -> PathBuf {
    data.join("model").join("tracing.term-frequencies.json")
}

impl Trained {
    pub fn save(&self, data: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(data.join("model"))?;
        self.model.save(&model_path(data))?;
        // Sorted, most frequent first, for a person to read.
        let mut v: Vec<(&String, &u64)> = self.frequencies.counts.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        #[derive(Serialize)]
        struct Out<'a> {
            children: u64,
            name_parts: Vec<(&'a String, &'a u64)>,
        }
        let text = serde_json::to_string_pretty(&Out {
            children: self.frequencies.children,
            name_parts: v,
        })
        .map_err(std::io::Error::other)?;
        std::fs::write(frequencies_path(data), text + "\n")
    }

    pub fn load(data: &Path, rules: &TracingRules) -> Result<Trained, MatchError> {
        let mp = model_path(data);
        let merr = |file: &Path, message: String| MatchError::Model {
            file: file.to_path_buf(),
            message,
        };
        let model = Model::load(&mp).map_err(|e| {
            merr(
                &mp,
                format!("{e} (run `famlink train --data {}` first)", data.display()),
            )
        })?;
        if model.comparisons.len() != rules.comparisons.len()
            || model
                .comparisons
                .iter()
                .zip(&rules.comparisons)
                .any(|(m, r)| m.name != r.kind.as_str() || m.levels != r.levels)
        {
            return Err(merr(
                &mp,
                "the model was trained with other comparisons than the rule file's; train again"
                    .into(),
            ));
        }
        let fp = frequencies_path(data);
        let text = std::fs::read_to_string(&fp).map_err(|e| merr(&fp, e.to_string()))?;
        #[derive(Deserialize)]
        struct In {
            children: u64,
            name_parts: Vec<(String, u64)>,
        }
        let parsed: In = serde_json::from_str(&text).map_err(|e| merr(&fp, e.to_string()))?;
        Ok(Trained {
            model,
            frequencies: NameFrequencies {
                children: parsed.children,
                counts: parsed.name_parts.into_iter().collect(),
            },
        })
    }
}

/// The levels of every comparison of the rule file for one pair.
pub fn levels(cmp: &Comparer, rules: &TracingRules, q: &Prepared, c: &Prepared) -> Vec<u8> {
    rules
        .comparisons
        .iter()
        .map(|r| cmp.compare(r.kind, q, c).level)
        .collect()
}

fn mix(x: u64) -> u64 {
    crate::link::train::mix(x)
}

/// What training did, for the report.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub candidate_pairs: u64,
    pub em_pairs: u64,
    pub patterns: usize,
    pub iterations: u32,
    pub converged: bool,
    pub lambda: f64,
}

/// Learns u from random child×inquiry pairs, m and λ by EM over the candidate pairs
/// (no labels), and the name frequencies among the children.
pub fn train(
    rules: &TracingRules,
    children: &Side,
    inquiries: &Side,
    index: &CandidateIndex,
) -> (Trained, TrainReport) {
    let cmp = Comparer::new(rules);
    let nc = rules.comparisons.len();
    // u from random pairs.
    let (ni, nch) = (inquiries.len(), children.len());
    let u_counts: Vec<Vec<u64>> = if ni == 0 || nch == 0 {
        rules
            .comparisons
            .iter()
            .map(|r| vec![0; r.levels.len()])
            .collect()
    } else {
        let chunks = 64u64;
        let per = rules.u_pairs.div_ceil(chunks);
        (0..chunks)
            .into_par_iter()
            .map(|k| {
                let mut rng = ChaCha8Rng::seed_from_u64(mix(rules.seed ^ mix(k + 1)));
                let mut counts: Vec<Vec<u64>> = rules
                    .comparisons
                    .iter()
                    .map(|r| vec![0; r.levels.len()])
                    .collect();
                for _ in 0..per {
                    let q = &inquiries.prepared[rng.random_range(0..ni)];
                    let c = &children.prepared[rng.random_range(0..nch)];
                    for (ci, l) in levels(&cmp, rules, q, c).into_iter().enumerate() {
                        if l != MISSING {
                            counts[ci][l as usize] += 1;
                        }
                    }
                }
                counts
            })
            .reduce(
                || {
                    rules
                        .comparisons
                        .iter()
                        .map(|r| vec![0; r.levels.len()])
                        .collect()
                },
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        for (p, q) in x.iter_mut().zip(y) {
                            *p += q;
                        }
                    }
                    a
                },
            )
    };
    let u: Vec<Vec<f64>> = u_counts
        .iter()
        .map(|c| crate::model::u_from_sample(c, None))
        .collect();

    // EM over the candidate pairs of (a sample of) the inquiries.
    let cands: Vec<Vec<u32>> = (0..ni)
        .into_par_iter()
        .map(|i| index.candidates(&inquiries.prepared[i], rules))
        .collect();
    let candidate_pairs: u64 = cands.iter().map(|c| c.len() as u64).sum();
    let keep = if candidate_pairs as usize > rules.em_pairs {
        rules.em_pairs as f64 / candidate_pairs as f64
    } else {
        1.0
    };
    let patterns: HashMap<u64, u64> = cands
        .par_iter()
        .enumerate()
        .filter(|(i, _)| {
            keep >= 1.0 || ((mix(*i as u64 ^ rules.seed) >> 11) as f64 / (1u64 << 53) as f64) < keep
        })
        .fold(HashMap::new, |mut m, (i, cs)| {
            let _memo = crate::compare::nameset::MemoScope::new();
            let q = &inquiries.prepared[i];
            for &c in cs {
                let l = levels(&cmp, rules, q, &children.prepared[c as usize]);
                *m.entry(pack(&l)).or_default() += 1;
            }
            m
        })
        .reduce(HashMap::new, |mut a, b| {
            for (k, v) in b {
                *a.entry(k).or_default() += v;
            }
            a
        });
    let pats: Vec<(u64, u64)> = patterns.into_iter().collect();
    let em_pairs: u64 = pats.iter().map(|p| p.1).sum();
    let m0: Vec<Vec<f64>> = rules
        .comparisons
        .iter()
        .map(|r| {
            let n = r.levels.len();
            let raw: Vec<f64> = (0..n)
                .map(|l| {
                    if l + 1 == n {
                        0.05
                    } else {
                        0.6f64.powi(l as i32 + 1)
                    }
                })
                .collect();
            let s: f64 = raw.iter().sum();
            raw.iter().map(|x| x / s).collect()
        })
        .collect();
    let per_inquiry = if ni == 0 {
        1.0
    } else {
        candidate_pairs as f64 / ni as f64
    };
    // EM over all candidate pairs finds "same family" rather than "same child": the
    // candidates are full of siblings and cousins who agree on every family
    // comparison. As Splink does, EM runs in sessions, each on the pairs that agree
    // on one comparison (the same own name; the same birth date), learning m of the
    // others; a comparison takes its m from the first session that learns it.
    let mut m_final: Vec<Option<Vec<f64>>> = vec![None; nc];
    let mut sessions = Vec::new();
    let mut missing_in_matches = vec![0.0; nc];
    for sess in &rules.sessions {
        let Some(fixed) = rules
            .comparisons
            .iter()
            .position(|r| r.kind == sess.agree_on)
        else {
            continue;
        };
        let sub: Vec<(u64, u64)> = pats
            .iter()
            .copied()
            .filter(|&(p, _)| {
                let l = crate::model::unpack_level(p, fixed);
                l != MISSING && l <= sess.max_level
            })
            .collect();
        let mut params = EmParams {
            lambda: 0.5,
            m: m0.clone(),
            u: u.clone(),
        };
        let active: Vec<bool> = (0..nc).map(|c| c != fixed).collect();
        let outcome = expectation_maximisation(
            &sub,
            &mut params,
            &EmOptions {
                max_iterations: rules.em_iterations,
                tolerance: rules.em_tolerance,
                fix_u: false,
                active,
            },
        );
        for c in (0..nc).filter(|&c| c != fixed) {
            if m_final[c].is_none() {
                m_final[c] = Some(params.m[c].clone());
                missing_in_matches[c] = outcome.missing_in_matches[c];
            }
        }
        sessions.push(SessionReport {
            blocking: format!("{} at level <= {}", sess.agree_on.as_str(), sess.max_level),
            fixed: vec![sess.agree_on.as_str().into()],
            pairs_in_block: sub.iter().map(|p| p.1).sum(),
            pairs_used: sub.iter().map(|p| p.1).sum(),
            iterations: outcome.iterations,
            converged: outcome.converged,
            match_share: params.lambda,
            implied_matches: None,
        });
    }
    let m: Vec<Vec<f64>> = m_final
        .into_iter()
        .zip(&m0)
        .map(|(x, d)| x.unwrap_or_else(|| d.clone()))
        .collect();
    // λ over all child × inquiry pairs: the expected number of matches among the
    // candidates (posteriors with u of random pairs), divided by all pairs.
    let total_pairs = (ni as f64 * nch as f64).max(1.0);
    let ln = |x: f64| x.max(crate::model::MIN_PROBABILITY).ln();
    let pattern_bf: Vec<(f64, f64)> = pats
        .iter()
        .map(|&(p, n)| {
            let mut w = 0.0;
            for c in 0..nc {
                let l = crate::model::unpack_level(p, c);
                if l != MISSING {
                    w += ln(m[c][l as usize]) - ln(u[c][l as usize]);
                }
            }
            (w, n as f64)
        })
        .collect();
    let mut lambda =
        (0.7 / per_inquiry.max(1.0) * candidate_pairs as f64 / total_pairs).clamp(1e-12, 0.5);
    let mut expected_matches = 0.0;
    for _ in 0..50 {
        let prior = (lambda / (1.0 - lambda)).ln();
        expected_matches = pattern_bf
            .iter()
            .map(|&(w, n)| n / (1.0 + (-(w + prior)).exp()))
            .sum::<f64>()
            / keep.min(1.0);
        lambda = (expected_matches / total_pairs).clamp(1e-12, 0.5);
    }
    // u among the candidates, for rule files that score with it.
    let u_cand: Vec<Vec<f64>> = {
        let prior = (lambda / (1.0 - lambda)).ln();
        let mut uu: Vec<Vec<f64>> = u.iter().map(|r| vec![0.0; r.len()]).collect();
        for (&(p, _), &(w, n)) in pats.iter().zip(&pattern_bf) {
            let non = n * (1.0 - 1.0 / (1.0 + (-(w + prior)).exp()));
            for (c, row) in uu.iter_mut().enumerate() {
                let l = crate::model::unpack_level(p, c);
                if l != MISSING {
                    row[l as usize] += non;
                }
            }
        }
        uu.iter()
            .map(|r| {
                let s: f64 = r.iter().sum::<f64>() + 0.5 * r.len() as f64;
                r.iter().map(|x| (x + 0.5) / s).collect()
            })
            .collect()
    };
    let (prior, u_scoring) = if rules.u_from_candidates {
        (
            (expected_matches / candidate_pairs.max(1) as f64).clamp(1e-9, 0.5),
            u_cand,
        )
    } else {
        (lambda, u.clone())
    };
    let params = EmParams {
        lambda: prior,
        m,
        u: vec![],
    };
    let outcome_iterations: u32 = sessions.iter().map(|s: &SessionReport| s.iterations).sum();
    let outcome_converged = sessions.iter().all(|s| s.converged);
    let mut model = Model {
        prior,
        comparisons: rules
            .comparisons
            .iter()
            .enumerate()
            .map(|(i, r)| ComparisonModel {
                name: r.kind.as_str().into(),
                column: r.kind.as_str().into(),
                levels: r.levels.clone(),
                m: params.m[i].clone(),
                u: u_scoring[i].clone(),
                log2_bayes_factor: vec![],
                tf_adjustment: r.kind == Kind::PersonalName && rules.term_frequency,
                missing_in_matches: missing_in_matches[i],
            })
            .collect(),
        sessions,
        u_sample_pairs: rules.u_pairs,
    };
    model.refresh();
    let report = TrainReport {
        candidate_pairs,
        em_pairs,
        patterns: pats.len(),
        iterations: outcome_iterations,
        converged: outcome_converged,
        lambda: params.lambda,
    };
    (
        Trained {
            model,
            frequencies: NameFrequencies::from_children(children),
        },
        report,
    )
}

/// Learns m and u of the comparisons EM left out, from the posterior match
/// probability of each pattern under the active comparisons.
pub fn complete_m_step(patterns: &[(u64, u64)], params: &mut EmParams, active: &[bool]) {
    let nc = params.m.len();
    let ln = |x: f64| x.max(crate::model::MIN_PROBABILITY).ln();
    let mut mm: Vec<Vec<f64>> = params.m.iter().map(|r| vec![0.0; r.len()]).collect();
    let mut uu: Vec<Vec<f64>> = params.u.iter().map(|r| vec![0.0; r.len()]).collect();
    for &(p, n) in patterns {
        let (mut a, mut b) = (ln(params.lambda), ln(1.0 - params.lambda));
        for c in (0..nc).filter(|&c| active[c]) {
            let l = crate::model::unpack_level(p, c);
            if l != MISSING {
                a += ln(params.m[c][l as usize]);
                b += ln(params.u[c][l as usize]);
            }
        }
        let post = 1.0 / (1.0 + (b - a).exp());
        for c in (0..nc).filter(|&c| !active[c]) {
            let l = crate::model::unpack_level(p, c);
            if l != MISSING {
                mm[c][l as usize] += post * n as f64;
                uu[c][l as usize] += (1.0 - post) * n as f64;
            }
        }
    }
    for c in (0..nc).filter(|&c| !active[c]) {
        for (row, out) in [(&mm[c], &mut params.m[c]), (&uu[c], &mut params.u[c])] {
            let s: f64 = row.iter().sum::<f64>() + 0.01 * row.len() as f64;
            *out = row.iter().map(|x| (x + 0.01) / s).collect();
        }
    }
}

/// A proposal's band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Likely,
    Possible,
}

impl Band {
    pub fn as_str(&self) -> &'static str {
        match self {
            Band::Likely => "likely",
            Band::Possible => "possible",
        }
    }
}

/// One comparison in an explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    pub comparison: &'static str,
    pub level: String,
    pub values: String,
    pub weight: f64,
}

/// A proposed link of an inquiry with a child.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub inquiry: u32,
    pub child: u32,
    pub rank: u32,
    pub probability: f64,
    pub band: Band,
    /// Whether the child's own identity agrees (the sibling guard).
    pub identity_agrees: bool,
    pub child_consent: bool,
    pub reasons: Vec<Reason>,
    pub note: Option<String>,
}

impl Proposal {
    /// The explanation in one line a reviewer can read.
    pub fn explanation(&self) -> String {
        let mut s = String::new();
        for r in &self.reasons {
            if !s.is_empty() {
                s.push_str("; ");
            }
            let _ = write!(
                s,
                "{}: {} ({}) {:+.1}",
                r.comparison, r.level, r.values, r.weight
            );
        }
        if let Some(n) = &self.note {
            let _ = write!(s, " | {n}");
        }
        s
    }
}

/// The note for proposals held back by the sibling guard.
pub const SIBLING_NOTE: &str =
    "family agrees, child's identity does not: possibly a sibling or cousin";

/// The note when the child's identity does not agree (and the family does not either).
pub const IDENTITY_NOTE: &str = "child's identity does not agree";

/// Scores pairs with a trained model.
pub struct Scorer<'a> {
    pub rules: &'a TracingRules,
    pub trained: &'a Trained,
    cmp: Comparer<'a>,
    prior_weight: f64,
}

/// Whether a level of an identity comparison counts as agreement (None: unknown).
fn identity_agrees(kind: Kind, level: u8) -> Option<bool> {
    if level == MISSING {
        // The child's own name must be there to be agreed with; sex and birth may
        // be unknown.
        return if kind == Kind::PersonalName {
            Some(false)
        } else {
            None
        };
    }
    let n = kind.levels().len() as u8;
    Some(match kind {
        // Exact, variant or close: a phonetic code alone joins too many names.
        Kind::PersonalName => level <= 2,
        Kind::FullName => level <= 1,
        _ => level + 1 < n,
    })
}

/// Comparisons that say the family agrees (for the sibling note).
fn family_kind(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Father | Kind::Mother | Kind::Inquirer | Kind::Origin | Kind::FullName
    )
}

const TF_CLAMP: f64 = 6.0;

impl<'a> Scorer<'a> {
    pub fn new(rules: &'a TracingRules, trained: &'a Trained) -> Scorer<'a> {
        Scorer {
            rules,
            trained,
            cmp: Comparer::new(rules),
            prior_weight: trained.model.prior_weight(),
        }
    }

    /// The match weight and its parts; the reasons only when `explain`.
    pub fn score(
        &self,
        q: &Prepared,
        c: &Prepared,
        explain: bool,
    ) -> (f64, bool, bool, Vec<Reason>) {
        let model = &self.trained.model;
        let mut w = self.prior_weight;
        let mut identity = true;
        let mut family = false;
        let mut reasons = Vec::new();
        for (i, r) in self.rules.comparisons.iter().enumerate() {
            let o = self.cmp.compare(r.kind, q, c);
            let mut wi = model.weight(i, o.level);
            if o.level != MISSING && model.comparisons[i].tf_adjustment && o.level <= 1 {
                if let Some(t) = &o.tf_token {
                    let u = model.comparisons[i].u[o.level as usize];
                    let f = self.trained.frequencies.frequency(t);
                    wi += (u / f).log2().clamp(-TF_CLAMP, TF_CLAMP);
                }
            }
            w += wi;
            if r.identity && identity_agrees(r.kind, o.level) == Some(false) {
                identity = false;
            }
            if family_kind(r.kind) && o.level != MISSING && o.level <= 1 {
                family = true;
            }
            if explain {
                reasons.push(Reason {
                    comparison: r.kind.as_str(),
                    level: if o.level == MISSING {
                        "missing".into()
                    } else {
                        r.levels[o.level as usize].clone()
                    },
                    values: o.detail,
                    weight: (wi * 100.0).round() / 100.0,
                });
            }
        }
        (w, identity, family, reasons)
    }

    /// Whether two registrations look like the same child: own names agree (exact
    /// or variant) and birth does not disagree.
    pub fn same_child(&self, a: &Prepared, b: &Prepared) -> bool {
        let name = self.cmp.compare(Kind::PersonalName, a, b).level;
        let birth = self.cmp.compare(Kind::Birth, a, b).level;
        let sex = self.cmp.compare(Kind::Sex, a, b).level;
        name <= 1 && (birth == MISSING || birth <= 5) && (sex == MISSING || sex == 0)
    }

    /// Proposals for one inquiry among its candidates: above the `possible` band,
    /// best first, at most `top`.
    pub fn propose(
        &self,
        qi: u32,
        q: &Prepared,
        children: &Side,
        candidates: &[u32],
        top: usize,
    ) -> Vec<Proposal> {
        self.propose_visible(qi, q, children, candidates, top, &|_| true)
    }

    /// [`Scorer::propose`] among the candidates `visible` lets through.
    pub fn propose_visible(
        &self,
        qi: u32,
        q: &Prepared,
        children: &Side,
        candidates: &[u32],
        top: usize,
        visible: &dyn Fn(u32) -> bool,
    ) -> Vec<Proposal> {
        let _memo = crate::compare::nameset::MemoScope::new();
        let min_w =
            crate::model::weight_of_probability(self.rules.possible.clamp(1e-12, 1.0 - 1e-12));
        let mut scored: Vec<(f64, u32)> = candidates
            .iter()
            .map(|&ci| (self.score(q, &children.prepared[ci as usize], false).0, ci))
            .filter(|(w, ci)| *w >= min_w && visible(*ci))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(top);
        let first = scored
            .first()
            .map(|&(_, ci)| &children.prepared[ci as usize]);
        scored
            .into_iter()
            .enumerate()
            .map(|(rank, (w, ci))| {
                let c = &children.prepared[ci as usize];
                let (_, identity, family, reasons) = self.score(q, c, true);
                let probability = crate::model::probability(w);
                // Below the first rank a child is likely only as another
                // registration of the first-ranked child (same own name and birth);
                // otherwise two different children cannot both be the one sought.
                let same_as_first = rank == 0 || first.is_some_and(|f| self.same_child(f, c));
                let band = if probability >= self.rules.likely && identity && same_as_first {
                    Band::Likely
                } else {
                    Band::Possible
                };
                let note = if !identity && family {
                    Some(SIBLING_NOTE.to_string())
                } else if !identity {
                    Some(IDENTITY_NOTE.to_string())
                } else {
                    None
                };
                Proposal {
                    inquiry: qi,
                    child: ci,
                    rank: rank as u32 + 1,
                    probability,
                    band,
                    identity_agrees: identity,
                    child_consent: c.consent,
                    reasons,
                    note,
                }
            })
            .collect()
    }
}

/// Who sees the proposals: the local operator sees every child; a user of another
/// agency never sees a child without tracing consent.
#[derive(Debug, Clone, Default)]
pub enum ProposalViewer {
    #[default]
    Operator,
    Agency(String),
}

impl ProposalViewer {
    pub fn may_see(&self, children: &Side, p: &Proposal) -> bool {
        self.may_see_child(children, p.child)
    }

    pub fn may_see_child(&self, children: &Side, child: u32) -> bool {
        match self {
            ProposalViewer::Operator => true,
            ProposalViewer::Agency(a) => {
                children.prepared[child as usize].consent || *children.agency[child as usize] == **a
            }
        }
    }
}

/// What a match run found, with its phase timings.
pub struct MatchRun {
    pub proposals: Vec<Vec<Proposal>>,
    pub candidate_pairs: u64,
    pub candidates: Vec<Vec<u32>>,
}

/// Proposes up to `top` children for every inquiry, in parallel over inquiries.
#[allow(clippy::too_many_arguments)]
/// `progress` is called with the number of inquiries done (from any thread).
pub fn propose_all(
    rules: &TracingRules,
    trained: &Trained,
    children: &Side,
    inquiries: &Side,
    index: &CandidateIndex,
    top: usize,
    viewer: &ProposalViewer,
    keep_candidates: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> MatchRun {
    let scorer = Scorer::new(rules, trained);
    let done = std::sync::atomic::AtomicU64::new(0);
    let out: Vec<(Vec<Proposal>, Vec<u32>)> = (0..inquiries.len())
        .into_par_iter()
        .map(|i| {
            let q = &inquiries.prepared[i];
            let cands = index.candidates(q, rules);
            let props = scorer.propose_visible(i as u32, q, children, &cands, top, &|c| {
                viewer.may_see_child(children, c)
            });
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n % 1024 == 0 {
                progress(n);
            }
            (props, if keep_candidates { cands } else { Vec::new() })
        })
        .collect();
    progress(inquiries.len() as u64);
    let mut run = MatchRun {
        proposals: Vec::with_capacity(out.len()),
        candidate_pairs: 0,
        candidates: Vec::new(),
    };
    for (p, c) in out {
        run.proposals.push(p);
        if keep_candidates {
            run.candidate_pairs += c.len() as u64;
            run.candidates.push(c);
        }
    }
    run
}

/// Writes proposals as CSV: `inquiry_agency, inquiry_record_id, child_agency,
/// child_record_id, rank, probability, band, explanation, child_tracing_consent`.
pub fn write_csv(
    path: &Path,
    run: &MatchRun,
    children: &Side,
    inquiries: &Side,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "inquiry_agency",
        "inquiry_record_id",
        "child_agency",
        "child_record_id",
        "rank",
        "probability",
        "band",
        "explanation",
        "child_tracing_consent",
    ])?;
    for props in &run.proposals {
        for p in props {
            w.write_record([
                &*inquiries.agency[p.inquiry as usize],
                &*inquiries.record_id[p.inquiry as usize],
                &*children.agency[p.child as usize],
                &*children.record_id[p.child as usize],
                &p.rank.to_string(),
                &format!("{:.4}", p.probability),
                p.band.as_str(),
                &p.explanation(),
                if p.child_consent { "yes" } else { "no" },
            ])?;
        }
    }
    w.flush()
}

/// Writes proposals as JSON Lines, one proposal per line with its reasons.
pub fn write_jsonl(
    path: &Path,
    run: &MatchRun,
    children: &Side,
    inquiries: &Side,
) -> std::io::Result<()> {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for props in &run.proposals {
        for p in props {
            let v = serde_json::json!({
                "inquiry_agency": &*inquiries.agency[p.inquiry as usize],
                "inquiry_record_id": &*inquiries.record_id[p.inquiry as usize],
                "child_agency": &*children.agency[p.child as usize],
                "child_record_id": &*children.record_id[p.child as usize],
                "rank": p.rank,
                "probability": p.probability,
                "band": p.band,
                "child_tracing_consent": p.child_consent,
                "identity_agrees": p.identity_agrees,
                "note": p.note,
                "reasons": p.reasons,
            });
            writeln!(w, "{v}")?;
        }
    }
    w.flush()
}
