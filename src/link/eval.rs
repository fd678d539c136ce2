//! Pairwise evaluation against known true pairs: precision, recall, F1.
//!
//! Pairs are unordered; recall counts every true pair, including those that candidate
//! generation never produced.

use std::collections::HashSet;
use std::path::Path;

use super::block::Blocks;
use super::data::{DataError, Dataset, FastMap};

/// Precision, recall and F1 of a set of predicted pairs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PairMetrics {
    pub predicted: u64,
    pub true_pairs: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl PairMetrics {
    pub fn from_counts(tp: u64, fp: u64, fn_: u64) -> PairMetrics {
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        PairMetrics {
            predicted: tp + fp,
            true_pairs: tp + fn_,
            true_positives: tp,
            false_positives: fp,
            false_negatives: fn_,
            precision,
            recall,
            f1,
        }
    }
}

fn canonical(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// Reads a pair file: the first two columns are ids; with `min_probability`, a third
/// column must hold a probability and pairs under it are left out. Pairs are returned
/// deduplicated and unordered.
pub fn read_pairs(
    path: &Path,
    min_probability: Option<f64>,
) -> Result<HashSet<(String, String)>, DataError> {
    let err = |message: String| DataError::File {
        file: path.to_path_buf(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| err(e.to_string()))?;
    let width = rdr.headers().map_err(|e| err(e.to_string()))?.len();
    if width < 2 || (min_probability.is_some() && width < 3) {
        return Err(err(format!(
            "expected {} columns (two ids{}), found {width}",
            if min_probability.is_some() { 3 } else { 2 },
            if min_probability.is_some() {
                " and a probability"
            } else {
                ""
            }
        )));
    }
    let mut out = HashSet::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        if let Some(t) = min_probability {
            let p: f64 = rec[2].trim().parse().map_err(|_| DataError::Row {
                file: path.to_path_buf(),
                line,
                message: "the third column is not a number".into(),
            })?;
            if p < t {
                continue;
            }
        }
        out.insert(canonical(rec[0].trim(), rec[1].trim()));
    }
    Ok(out)
}

/// Compares predicted pairs with true pairs.
pub fn evaluate(
    predicted: &HashSet<(String, String)>,
    truth: &HashSet<(String, String)>,
) -> PairMetrics {
    let tp = predicted.iter().filter(|p| truth.contains(*p)).count() as u64;
    let fp = predicted.len() as u64 - tp;
    let fn_ = truth.len() as u64 - tp;
    PairMetrics::from_counts(tp, fp, fn_)
}

/// How many true pairs (of records present in the data) the blocking rules make
/// candidates: (found, true pairs in total).
pub fn candidate_recall(
    data: &Dataset,
    rules: &[&Blocks],
    truth: &HashSet<(String, String)>,
) -> (u64, u64) {
    let index: FastMap<&str, u32> = data
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i as u32))
        .collect();
    let mut found = 0;
    for (x, y) in truth {
        let (Some(&a), Some(&b)) = (index.get(x.as_str()), index.get(y.as_str())) else {
            continue;
        };
        let across = data.dedupe || ((a as usize) < data.n_left) != ((b as usize) < data.n_left);
        if across && rules.iter().any(|bl| bl.same_key(a, b)) {
            found += 1;
        }
    }
    (found, truth.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> HashSet<(String, String)> {
        pairs.iter().map(|(a, b)| canonical(a, b)).collect()
    }

    #[test]
    fn metrics_are_unordered_and_count_missed_pairs() {
        let truth = set(&[("a", "b"), ("c", "d"), ("e", "f")]);
        let pred = set(&[("b", "a"), ("d", "c"), ("a", "c")]);
        let m = evaluate(&pred, &truth);
        assert_eq!(
            (m.true_positives, m.false_positives, m.false_negatives),
            (2, 1, 1)
        );
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn reads_pair_files_with_a_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pairs.csv");
        std::fs::write(&p, "left_id,right_id,probability\nx,y,0.9\ny,z,0.2\n").unwrap();
        assert_eq!(read_pairs(&p, None).unwrap().len(), 2);
        assert_eq!(read_pairs(&p, Some(0.5)).unwrap(), set(&[("x", "y")]));
        let t = dir.path().join("truth.csv");
        std::fs::write(&t, "rec_id_a,rec_id_b\nx\n").unwrap();
        assert!(read_pairs(&t, None).is_err());
    }
}
