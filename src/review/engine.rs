//! The Fellegi–Sunter engine ([`crate::matching`]) behind the service's [`Matcher`]
//! trait. For a record that has just arrived (a child or an inquiry) it asks a
//! [`CandidateSource`] for a few records of the other kind, reads them from the
//! store by key, prepares them, scores every pair with the engine's `Scorer`
//! (always inquiry = q, child = c) and turns the engine's proposals into the
//! review's: probability, band (the rule file's thresholds and the sibling guard),
//! the note, and per comparison its level, the values compared and its weight.
//!
//! Consent: a child without tracing consent is proposed only with inquiries of its
//! own agency, whichever of the two arrived. The inquirer's name never enters an
//! explanation (only the child's side of that comparison). A pair a reviewer rejected is left out
//! before ranking (and `save_proposals` never reopens a decided pair). [`Matching::save`]
//! stores the proposals, demoting the pending `likely` ones an arriving child outranks.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::params;

use super::matcher::{
    counterpart_query, Band, ComparisonExplanation, Matcher, MatcherError, Proposal, ReviewRules,
    SearchMatcher,
};
use super::{FirstRank, ReviewError};
use crate::matching::{self, Engine, Prepared};
use crate::record::{Record, RecordKey, RecordKind};
use crate::search::{SearchError, SearchIndex};
use crate::store::{Store, StoreError};

/// Finds the records of the other kind worth scoring against one that has just
/// arrived. The search index does it today; a dedicated candidate stage can take
/// its place without the engine matcher changing.
pub trait CandidateSource: Send + Sync {
    /// Keys of records of the other kind, at most `limit`, best first.
    fn candidates(
        &self,
        record: &Record,
        prepared: &Prepared,
        limit: usize,
    ) -> Result<Vec<RecordKey>, MatcherError>;
}

/// Candidates from the registry's search index: the record's counterpart search
/// ([`counterpart_query`]), which already leaves out children without consent of
/// other agencies when an inquiry searches.
pub struct SearchCandidates<'a> {
    pub index: &'a SearchIndex,
}

impl CandidateSource for SearchCandidates<'_> {
    fn candidates(
        &self,
        record: &Record,
        _prepared: &Prepared,
        limit: usize,
    ) -> Result<Vec<RecordKey>, MatcherError> {
        let Some(mut q) = counterpart_query(record) else {
            return Ok(Vec::new());
        };
        q.limit = limit;
        match self.index.search(&q) {
            Ok(hits) => Ok(hits.into_iter().map(|h| h.key).collect()),
            Err(SearchError::EmptyQuery) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The engine as a [`Matcher`], for the records at hand (e.g. one chunk of a
/// batch): it keeps the name keys it derived, so a candidate met again is prepared
/// faster.
pub struct EngineMatcher<'a> {
    engine: &'a Engine,
    candidates: &'a dyn CandidateSource,
    store: &'a Store,
    /// Proposals per arriving record, at most.
    max_per_record: usize,
    /// Candidates scored per arriving record, at most.
    candidates_per_record: usize,
    prep: RefCell<matching::Preparer<'a>>,
}

impl<'a> EngineMatcher<'a> {
    /// `rules`: the proposals and the candidates per arriving record.
    pub fn new(
        engine: &'a Engine,
        candidates: &'a dyn CandidateSource,
        store: &'a Store,
        rules: &ReviewRules,
    ) -> EngineMatcher<'a> {
        EngineMatcher {
            engine,
            candidates,
            store,
            max_per_record: rules.max_per_record,
            candidates_per_record: rules.candidates_per_record,
            prep: RefCell::new(matching::Preparer::new(&engine.rules)),
        }
    }
}

/// Whether a child and an inquiry may be proposed together: the child consented to
/// tracing, or the inquiry was filed at the child's own agency.
pub fn consent_allows(child: &Record, inquiry: &Record) -> bool {
    child.tracing_consent() || child.agency == inquiry.agency
}

/// The counterparts of `key` in pairs a reviewer rejected.
fn rejected_counterparts(store: &Store, key: &RecordKey) -> Result<Vec<RecordKey>, StoreError> {
    let (sql, other) = match key.kind {
        RecordKind::Child => (
            "SELECT inquiry_agency, inquiry_id FROM proposals
             WHERE child_agency = ?1 AND child_id = ?2 AND status = 'rejected'",
            RecordKind::Inquiry,
        ),
        RecordKind::Inquiry => (
            "SELECT child_agency, child_id FROM proposals
             WHERE inquiry_agency = ?1 AND inquiry_id = ?2 AND status = 'rejected'",
            RecordKind::Child,
        ),
    };
    let mut stmt = store.conn().prepare_cached(sql)?;
    let rows = stmt.query_map(params![key.agency, key.record_id], |r| {
        Ok(RecordKey::new(
            other,
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The comparison whose inquiry side is the inquirer's own name.
const INQUIRER: &str = "inquirer";

/// The children an inquiry already has open or confirmed `likely` proposals with
/// (other than `except`), with their probabilities.
fn likely_children_of(
    store: &Store,
    inquiry: &RecordKey,
    except: &RecordKey,
) -> Result<Vec<(RecordKey, f64)>, StoreError> {
    let mut stmt = store.conn().prepare_cached(
        "SELECT child_agency, child_id, probability FROM proposals
         WHERE inquiry_agency = ?1 AND inquiry_id = ?2 AND band = 'likely'
           AND status IN ('pending', 'deferred', 'confirmed')",
    )?;
    let rows = stmt.query_map(params![inquiry.agency, inquiry.record_id], |r| {
        Ok((
            RecordKey::new(
                RecordKind::Child,
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
            ),
            r.get::<_, f64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (key, p) = row?;
        if key != *except {
            out.push((key, p));
        }
    }
    Ok(out)
}

fn explanation(p: &matching::Proposal) -> Vec<ComparisonExplanation> {
    p.reasons
        .iter()
        .map(|r| ComparisonExplanation {
            field: r.comparison.to_string(),
            detail: if r.comparison == INQUIRER {
                // The inquirer's name is shown only to the inquiry's agency and to
                // reviewers (`access::redact`); proposals are read by others too
                // (a record's history), so the explanation keeps the child's side.
                match r.values.split_once(" / ") {
                    Some((_, child)) => format!("(inquirer) / {child}"),
                    None => r.values.clone(),
                }
            } else {
                r.values.clone()
            },
            level: Some(r.level.clone()),
            weight: Some(r.weight),
        })
        .collect()
}

fn band(b: matching::Band) -> Band {
    match b {
        matching::Band::Likely => Band::Likely,
        matching::Band::Possible => Band::Possible,
    }
}

impl Matcher for EngineMatcher<'_> {
    fn propose(&self, record: &Record) -> Result<Vec<Proposal>, MatcherError> {
        let own = record.key();
        let mut prep = self.prep.borrow_mut();
        let prepared = prep.prepare(record);
        let keys = self.candidates.candidates(
            record,
            &prepared,
            self.candidates_per_record.max(self.max_per_record),
        )?;
        let rejected = rejected_counterparts(self.store, &own)?;
        let mut found: Vec<(RecordKey, Prepared)> = Vec::new();
        for key in keys {
            if key.kind == own.kind || rejected.contains(&key) || found.iter().any(|f| f.0 == key) {
                continue;
            }
            let Some(stored) = self.store.get(&key)? else {
                continue;
            };
            let other = stored.record;
            let allowed = match own.kind {
                RecordKind::Child => consent_allows(record, &other),
                RecordKind::Inquiry => consent_allows(&other, record),
            };
            if allowed {
                found.push((key, prep.prepare(&other)));
            }
        }
        let (keys, others): (Vec<RecordKey>, Vec<Prepared>) = found.into_iter().unzip();
        let scored = match own.kind {
            RecordKind::Inquiry => {
                self.engine
                    .score_inquiry(&prepared, others, self.max_per_record)
            }
            RecordKind::Child => {
                let mut scored = self
                    .engine
                    .score_child(&prepared, &others, self.max_per_record);
                // The rule of the first rank, as when the inquiry arrives: a child
                // is likely below another likely child of the same inquiry only as
                // another registration of that child. (The other way round, a stored
                // likely child below this one, is demoted when the proposals are
                // saved: `Matching::save`.)
                for p in scored
                    .iter_mut()
                    .filter(|p| p.band == matching::Band::Likely)
                {
                    for (child, probability) in
                        likely_children_of(self.store, &keys[p.inquiry as usize], &own)?
                    {
                        if probability < p.probability {
                            continue;
                        }
                        let Some(first) = self.store.get(&child)? else {
                            continue;
                        };
                        if !self
                            .engine
                            .same_child(&prep.prepare(&first.record), &prepared)
                        {
                            p.band = matching::Band::Possible;
                            break;
                        }
                    }
                }
                scored
            }
        };
        Ok(scored
            .into_iter()
            .map(|p| {
                let (child, inquiry) = match own.kind {
                    RecordKind::Inquiry => (keys[p.child as usize].clone(), own.clone()),
                    RecordKind::Child => (own.clone(), keys[p.inquiry as usize].clone()),
                };
                Proposal {
                    child,
                    inquiry,
                    probability: p.probability as f32,
                    band: band(p.band),
                    explanation: explanation(&p),
                    note: p.note.clone(),
                }
            })
            .collect())
    }
}

/// How the service proposes: the engine when it has a trained model, otherwise the
/// search matcher with the review thresholds.
#[derive(Clone)]
pub struct Matching {
    /// The review thresholds (`matching-rules/review.toml`): the search matcher's
    /// bands, and the proposals per arriving record for both matchers.
    pub rules: ReviewRules,
    pub engine: Option<Arc<Engine>>,
}

impl std::fmt::Debug for Matching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matching")
            .field("rules", &self.rules)
            .field("engine", &self.engine.is_some())
            .finish()
    }
}

impl Matching {
    /// The search matcher alone.
    pub fn search_only(rules: ReviewRules) -> Matching {
        Matching {
            rules,
            engine: None,
        }
    }

    /// Proposals for records that have just been stored, with the engine when there
    /// is one (candidates from `index`), otherwise the search matcher.
    pub fn propose(
        &self,
        index: &SearchIndex,
        store: &Store,
        records: &[Record],
    ) -> Result<Vec<Proposal>, MatcherError> {
        let candidates = SearchCandidates { index };
        let engine_matcher;
        let search_matcher;
        let matcher: &dyn Matcher = match &self.engine {
            Some(engine) => {
                engine_matcher = EngineMatcher::new(engine, &candidates, store, &self.rules);
                &engine_matcher
            }
            None => {
                search_matcher = SearchMatcher {
                    index,
                    rules: self.rules,
                };
                &search_matcher
            }
        };
        let mut out = Vec::new();
        for r in records {
            out.extend(matcher.propose(r)?);
        }
        Ok(out)
    }

    /// Stores the proposals [`Matching::propose`] made for `records`, which have
    /// just arrived. With the engine, the same transaction demotes the pending
    /// `likely` proposals an arriving child now outranks, unless they are of another
    /// registration of that child (the rule of the first rank, from the other side:
    /// [`super::save_proposals_ranked`]). The search matcher has no rule of the first
    /// rank (nor a judgment of the same child), so its proposals are only stored.
    pub fn save(
        &self,
        store: &mut Store,
        records: &[Record],
        proposals: &[Proposal],
    ) -> Result<Vec<i64>, ReviewError> {
        let Some(engine) = &self.engine else {
            return super::save_proposals(store, proposals);
        };
        let arrived: HashSet<RecordKey> = records
            .iter()
            .filter(|r| r.kind() == RecordKind::Child)
            .map(Record::key)
            .collect();
        let mut prep = matching::Preparer::new(&engine.rules);
        let mut same_child =
            |a: &Record, b: &Record| engine.same_child(&prep.prepare(a), &prep.prepare(b));
        super::save_proposals_ranked(
            store,
            proposals,
            Some(FirstRank {
                arrived: &arrived,
                same_child: &mut same_child,
            }),
        )
    }
}
