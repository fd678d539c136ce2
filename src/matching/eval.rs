//! Scores a proposal file against the true links: precision, recall and F1 at each
//! band threshold, recall@1 and recall@K over the inquiries whose child is registered.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::MatchError;

/// One proposal as read back from a file.
#[derive(Debug, Clone)]
pub struct ReadProposal {
    pub inquiry: String,
    pub child: String,
    pub rank: u32,
    pub band: String,
}

fn data_err(path: &Path, message: String) -> MatchError {
    MatchError::Data {
        file: path.to_path_buf(),
        message,
    }
}

/// Reads a proposal file (`famlink match` output, or any CSV with the columns
/// `inquiry_record_id, child_record_id, rank, band`).
pub fn read_proposals(path: &Path) -> Result<Vec<ReadProposal>, MatchError> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| data_err(path, e.to_string()))?;
    let header = rdr
        .headers()
        .map_err(|e| data_err(path, e.to_string()))?
        .clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| data_err(path, format!("no column {name:?}")))
    };
    let (qi, ci, ri, bi) = (
        col("inquiry_record_id")?,
        col("child_record_id")?,
        col("rank")?,
        col("band")?,
    );
    let mut out = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| data_err(path, e.to_string()))?;
        let line = n + 2;
        out.push(ReadProposal {
            inquiry: rec[qi].to_string(),
            child: rec[ci].to_string(),
            rank: rec[ri]
                .parse()
                .map_err(|_| data_err(path, format!("line {line}: rank {:?}", &rec[ri])))?,
            band: rec[bi].to_string(),
        });
    }
    Ok(out)
}

/// Reads `child_record_id,inquiry_record_id` true links.
pub fn read_truth(path: &Path) -> Result<HashSet<(String, String)>, MatchError> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| data_err(path, e.to_string()))?;
    let mut out = HashSet::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| data_err(path, e.to_string()))?;
        if rec.len() < 2 {
            return Err(data_err(
                path,
                "expected child_record_id,inquiry_record_id".into(),
            ));
        }
        out.insert((rec[1].to_string(), rec[0].to_string()));
    }
    Ok(out)
}

/// Precision, recall and F1 of the proposals at or above a band.
#[derive(Debug, Clone, Serialize)]
pub struct BandMetrics {
    pub band: String,
    pub proposals: u64,
    pub true_positives: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub true_links: u64,
    /// Inquiries whose child is registered (appear in the truth).
    pub inquiries_with_child: u64,
    pub bands: Vec<BandMetrics>,
    pub k: u32,
    pub recall_at_1: f64,
    pub recall_at_k: f64,
}

/// Evaluates proposals (ranks beyond `k` ignored) against the truth.
pub fn evaluate(props: &[ReadProposal], truth: &HashSet<(String, String)>, k: u32) -> Evaluation {
    let mut by_inquiry: HashMap<&str, Vec<&ReadProposal>> = HashMap::new();
    for p in props.iter().filter(|p| p.rank <= k) {
        by_inquiry.entry(&p.inquiry).or_default().push(p);
    }
    let sought: HashSet<&str> = truth.iter().map(|(q, _)| q.as_str()).collect();
    let is_true = |p: &ReadProposal| truth.contains(&(p.inquiry.clone(), p.child.clone()));
    let mut at1 = 0u64;
    let mut atk = 0u64;
    for q in &sought {
        if let Some(ps) = by_inquiry.get(q) {
            if ps.iter().any(|p| p.rank == 1 && is_true(p)) {
                at1 += 1;
            }
            if ps.iter().any(|p| is_true(p)) {
                atk += 1;
            }
        }
    }
    let n_true = truth.len() as u64;
    let bands = [
        ("likely", &["likely"][..]),
        ("possible", &["likely", "possible"][..]),
    ]
    .iter()
    .map(|(name, which)| {
        let chosen: Vec<&ReadProposal> = props
            .iter()
            .filter(|p| p.rank <= k && which.contains(&p.band.as_str()))
            .collect();
        let tp = chosen.iter().filter(|p| is_true(p)).count() as u64;
        let n = chosen.len() as u64;
        let precision = if n == 0 { 0.0 } else { tp as f64 / n as f64 };
        let recall = if n_true == 0 {
            0.0
        } else {
            tp as f64 / n_true as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        BandMetrics {
            band: format!("{name} and above"),
            proposals: n,
            true_positives: tp,
            precision,
            recall,
            f1,
        }
    })
    .collect();
    let ns = sought.len().max(1) as f64;
    Evaluation {
        true_links: n_true,
        inquiries_with_child: sought.len() as u64,
        bands,
        k,
        recall_at_1: at1 as f64 / ns,
        recall_at_k: atk as f64 / ns,
    }
}

impl Evaluation {
    pub fn print(&self, mut w: impl std::io::Write) -> std::io::Result<()> {
        writeln!(
            w,
            "true links {}, inquiries whose child is registered {}",
            self.true_links, self.inquiries_with_child
        )?;
        writeln!(
            w,
            "{:<20} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "band", "proposals", "correct", "precision", "recall", "F1"
        )?;
        for b in &self.bands {
            writeln!(
                w,
                "{:<20} {:>9} {:>9} {:>9.4} {:>9.4} {:>9.4}",
                b.band, b.proposals, b.true_positives, b.precision, b.recall, b.f1
            )?;
        }
        writeln!(w, "recall@1 {:.4}", self.recall_at_1)?;
        writeln!(w, "recall@{} {:.4}", self.k, self.recall_at_k)
    }
}
