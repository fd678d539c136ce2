//! The engine as a running service uses it: the rule file and the trained
//! parameters held together, obtained once at start, and the scoring of one record
//! that has just arrived against a few candidates of the other kind (never a whole
//! side in memory). Nothing here knows about HTTP; `review::EngineMatcher` puts it
//! behind the service's `Matcher` trait.

use std::path::Path;

use super::{
    load_side_from_store, model_path, train, CandidateIndex, MatchError, Prepared, Preparer,
    Proposal, Scorer, Side, TracingRules, Trained,
};
use crate::record::{Record, RecordKind};
use crate::store::Store;

/// The rule file and the parameters `famlink train` learned from it.
pub struct Engine {
    pub rules: TracingRules,
    pub trained: Trained,
}

/// How the service came by its engine, or why it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStart {
    /// `DATA/model/` was there and fits the rule file.
    Loaded,
    /// There was no model: trained from the store's records at start and saved.
    Trained { children: usize, inquiries: usize },
    /// No engine: the service proposes with the search matcher. The reason says why.
    Fallback(String),
}

/// One scored pair for the service: the engine's proposal, `inquiry`/`child` being
/// positions in the slices given to [`Engine::score_inquiry`] / [`Engine::score_child`].
pub type Scored = Proposal;

impl Engine {
    /// Loads `DATA/model/` if it is there; otherwise trains from the store when it
    /// holds children and inquiries (and saves what it learned to `DATA/model/`, as
    /// `famlink train` would). With nothing to train on, or a model that does not
    /// load, no engine: the caller falls back to the search matcher. Only counts are
    /// logged.
    pub fn obtain(data: &Path, store: &Store, rules: TracingRules) -> (Option<Engine>, ModelStart) {
        if model_path(data).is_file() {
            return match Trained::load(data, &rules) {
                Ok(trained) => (Some(Engine { rules, trained }), ModelStart::Loaded),
                Err(e) => (None, ModelStart::Fallback(e.to_string())),
            };
        }
        let stats = match store.stats() {
            Ok(s) => s,
            Err(e) => return (None, ModelStart::Fallback(e.to_string())),
        };
        if stats.children == 0 || stats.inquiries == 0 {
            return (
                None,
                ModelStart::Fallback(format!(
                    "no model in {} and no children and inquiries to train on",
                    data.join("model").display()
                )),
            );
        }
        match Engine::train_from_store(store, rules) {
            Ok((engine, children, inquiries)) => match engine.trained.save(data) {
                Ok(()) => (
                    Some(engine),
                    ModelStart::Trained {
                        children,
                        inquiries,
                    },
                ),
                Err(e) => (
                    None,
                    ModelStart::Fallback(format!(
                        "trained, but could not save {}: {e}",
                        model_path(data).display()
                    )),
                ),
            },
            Err(e) => (None, ModelStart::Fallback(e.to_string())),
        }
    }

    /// Trains on the store's current records (both sides are loaded for the time of
    /// training only). Returns the engine and the counts of children and inquiries.
    pub fn train_from_store(
        store: &Store,
        rules: TracingRules,
    ) -> Result<(Engine, usize, usize), MatchError> {
        let children = load_side_from_store(store, RecordKind::Child, &rules)?;
        let inquiries = load_side_from_store(store, RecordKind::Inquiry, &rules)?;
        let engine = Engine::train_sides(rules, &children, &inquiries);
        Ok((engine, children.len(), inquiries.len()))
    }

    /// Trains on loaded sides.
    pub fn train_sides(rules: TracingRules, children: &Side, inquiries: &Side) -> Engine {
        let index = CandidateIndex::build(&children.prepared);
        let (trained, _) = train(&rules, children, inquiries, &index);
        Engine { rules, trained }
    }

    /// Whether two registrations look like the same child (own names agree, birth
    /// does not disagree): see [`Scorer::same_child`].
    pub fn same_child(&self, a: &Prepared, b: &Prepared) -> bool {
        Scorer::new(&self.rules, &self.trained).same_child(a, b)
    }

    pub fn prepare(&self, record: &Record) -> Prepared {
        Preparer::new(&self.rules).prepare(record)
    }

    /// An inquiry that has just arrived, against candidate children: at most `top`
    /// proposals, best first, with the sibling guard and the rule of the first rank
    /// (two different children cannot both be likely for one inquiry).
    pub fn score_inquiry(
        &self,
        inquiry: &Prepared,
        children: Vec<Prepared>,
        top: usize,
    ) -> Vec<Scored> {
        let n = children.len() as u32;
        let side = Side {
            agency: vec!["".into(); n as usize],
            record_id: vec!["".into(); n as usize],
            prepared: children,
            rejected: 0,
        };
        let all: Vec<u32> = (0..n).collect();
        Scorer::new(&self.rules, &self.trained).propose(0, inquiry, &side, &all, top)
    }

    /// A child that has just arrived, against candidate inquiries: each inquiry is
    /// scored with this child alone (inquiry = q, child = c), so the band is the
    /// thresholds and the sibling guard; at most `top`, most probable first. (The
    /// rule of the first rank needs the inquiry's other children: the caller applies
    /// it with the proposals already stored.)
    pub fn score_child(&self, child: &Prepared, inquiries: &[Prepared], top: usize) -> Vec<Scored> {
        let side = Side {
            agency: vec!["".into()],
            record_id: vec!["".into()],
            prepared: vec![child.clone()],
            rejected: 0,
        };
        let scorer = Scorer::new(&self.rules, &self.trained);
        let mut out: Vec<Scored> = inquiries
            .iter()
            .enumerate()
            .filter_map(|(qi, q)| scorer.propose(qi as u32, q, &side, &[0], 1).pop())
            .collect();
        out.sort_by(|a, b| {
            b.probability
                .total_cmp(&a.probability)
                .then(a.inquiry.cmp(&b.inquiry))
        });
        out.truncate(top);
        for (rank, p) in out.iter_mut().enumerate() {
            p.rank = rank as u32 + 1;
        }
        out
    }
}
