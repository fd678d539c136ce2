//! The review workflow: proposals kept in the store, reviewers' decisions, and the
//! case status of records after a confirmed match.
//!
//! A proposal moves `pending → confirmed | rejected | deferred`; a deferred one may
//! be decided again; a confirmed one may later be `undone` with a reason. A
//! rejected pair is never proposed again. Confirming marks both records "match
//! confirmed, pending assessment"; after the assessment the case gets an outcome.
//! Every decision and every status change is kept (`decisions`, `case_events`).

mod engine;
mod matcher;

use std::collections::HashSet;

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::Serialize;

pub use engine::{consent_allows, CandidateSource, EngineMatcher, Matching, SearchCandidates};
pub use matcher::{
    counterpart_query, Band, ComparisonExplanation, Matcher, MatcherError, Proposal, ReviewRules,
    SearchMatcher, DEFAULT_RULES,
};

use crate::record::{Record, RecordKey, RecordKind};
use crate::store::{get_in, now, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no such proposal")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<rusqlite::Error> for ReviewError {
    fn from(e: rusqlite::Error) -> Self {
        ReviewError::Store(StoreError::Sqlite(e))
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Confirm,
    Reject,
    Defer,
}

impl std::str::FromStr for Decision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "confirm" => Ok(Decision::Confirm),
            "reject" => Ok(Decision::Reject),
            "defer" => Ok(Decision::Defer),
            _ => Err(format!("expected confirm, reject or defer, got {s:?}")),
        }
    }
}

impl Decision {
    fn status(&self) -> &'static str {
        match self {
            Decision::Confirm => "confirmed",
            Decision::Reject => "rejected",
            Decision::Defer => "deferred",
        }
    }
    fn as_str(&self) -> &'static str {
        match self {
            Decision::Confirm => "confirm",
            Decision::Reject => "reject",
            Decision::Defer => "defer",
        }
    }
}

/// What closes a case after a confirmed match and its assessment, or undoes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Reunified,
    KinshipCare,
    FosterCare,
    Adoption,
    Closed,
    /// The confirmed match was wrong: undone, with a reason.
    Undone,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Reunified => "reunified",
            Outcome::KinshipCare => "kinship_care",
            Outcome::FosterCare => "foster_care",
            Outcome::Adoption => "adoption",
            Outcome::Closed => "closed",
            Outcome::Undone => "undone",
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            Outcome::Reunified,
            Outcome::KinshipCare,
            Outcome::FosterCare,
            Outcome::Adoption,
            Outcome::Closed,
            Outcome::Undone,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| {
            format!("expected reunified, kinship_care, foster_care, adoption, closed or undone, got {s:?}")
        })
    }
}

/// The case status that a confirmed match gives both records.
pub const MATCH_CONFIRMED: &str = "match_confirmed_pending_assessment";
/// The case status of a record whose confirmed match was undone.
pub const OPEN: &str = "open";

/// A proposal as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredProposal {
    pub id: i64,
    pub child: RecordKey,
    pub inquiry: RecordKey,
    pub probability: f32,
    pub band: String,
    pub explanation: Vec<ComparisonExplanation>,
    /// For the reviewer, e.g. the sibling guard's "possibly a sibling or cousin".
    pub note: Option<String>,
    pub status: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// One decision on a proposal.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionEntry {
    pub decision: String,
    pub note: Option<String>,
    pub reviewer: String,
    pub at: String,
}

/// One change of a record's case status.
#[derive(Debug, Clone, Serialize)]
pub struct CaseEvent {
    pub status: String,
    pub proposal: Option<i64>,
    pub note: Option<String>,
    pub actor: String,
    pub at: String,
}

/// A record's side of the review: its case status, its history and its proposals.
#[derive(Debug, Clone, Serialize)]
pub struct RecordReview {
    pub case_status: Option<String>,
    pub case_events: Vec<CaseEvent>,
    pub proposals: Vec<ProposalWithDecisions>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProposalWithDecisions {
    #[serde(flatten)]
    pub proposal: StoredProposal,
    pub decisions: Vec<DecisionEntry>,
}

/// One page of the queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueuePage {
    pub items: Vec<StoredProposal>,
    /// Pass as `after` for the next page; `None` on the last.
    pub next: Option<String>,
}

/// What the queue is filtered by.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub status: Option<String>,
    pub band: Option<Band>,
    /// Proposals involving a record of this agency.
    pub agency: Option<String>,
    /// The reviewer's own agency: children without consent of other agencies are left out.
    pub viewer_agency: Option<String>,
}

const PROPOSAL_COLUMNS: &str = "p.id, p.child_agency, p.child_id, p.inquiry_agency, p.inquiry_id, p.probability, p.band, p.explanation, p.status, p.version, p.created_at, p.updated_at, p.note";

fn proposal_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredProposal> {
    let explanation: String = r.get(7)?;
    Ok(StoredProposal {
        id: r.get(0)?,
        child: RecordKey::new(
            RecordKind::Child,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ),
        inquiry: RecordKey::new(
            RecordKind::Inquiry,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ),
        probability: r.get::<_, f64>(5)? as f32,
        band: r.get(6)?,
        explanation: serde_json::from_str(&explanation).unwrap_or_default(),
        status: r.get(8)?,
        version: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        note: r.get(12)?,
    })
}

/// Stores proposals. A pair proposed before keeps its id: pending or deferred ones
/// take the new probability and explanation, decided ones (rejected above all) are
/// left alone. Returns the ids of the proposals now pending or deferred.
pub fn save_proposals(store: &mut Store, proposals: &[Proposal]) -> Result<Vec<i64>, ReviewError> {
    save_proposals_ranked(store, proposals, None)
}

/// The rule of the first rank over the proposals stored before some children
/// arrived, for [`save_proposals_ranked`].
pub struct FirstRank<'a> {
    /// The children that have just arrived: their `likely` proposals rank the
    /// stored ones.
    pub arrived: &'a HashSet<RecordKey>,
    /// Whether two child records are registrations of the same child (the engine's
    /// judgment: `matching::Engine::same_child`).
    pub same_child: &'a mut dyn FnMut(&Record, &Record) -> bool,
}

/// [`save_proposals`], and with `first_rank`, in the same transaction, the rule of
/// the first rank from the arriving children's side: the pending `likely` proposals
/// an arriving child outranks for an inquiry become `possible`, unless they are of
/// another registration of that child (`demote_below` says why and how).
pub fn save_proposals_ranked(
    store: &mut Store,
    proposals: &[Proposal],
    first_rank: Option<FirstRank<'_>>,
) -> Result<Vec<i64>, ReviewError> {
    if proposals.is_empty() {
        return Ok(Vec::new());
    }
    let at = now();
    let tx = store
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut ids = Vec::new();
    let mut saved: Vec<(i64, &Proposal)> = Vec::new();
    for p in proposals {
        let explanation = serde_json::to_string(&p.explanation).expect("serializable");
        let existing: Option<(i64, String)> = tx
            .prepare_cached(
                "SELECT id, status FROM proposals WHERE child_agency = ?1 AND child_id = ?2
                 AND inquiry_agency = ?3 AND inquiry_id = ?4",
            )?
            .query_row(
                params![
                    p.child.agency,
                    p.child.record_id,
                    p.inquiry.agency,
                    p.inquiry.record_id
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match existing {
            None => {
                tx.prepare_cached(
                    "INSERT INTO proposals (child_agency, child_id, inquiry_agency, inquiry_id,
                        probability, band, explanation, status, created_at, updated_at, note)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8, ?9)",
                )?
                .execute(params![
                    p.child.agency,
                    p.child.record_id,
                    p.inquiry.agency,
                    p.inquiry.record_id,
                    p.probability as f64,
                    p.band.as_str(),
                    explanation,
                    at,
                    p.note
                ])?;
                let id = tx.last_insert_rowid();
                ids.push(id);
                saved.push((id, p));
            }
            Some((id, status)) if status == "pending" || status == "deferred" => {
                tx.prepare_cached(
                    "UPDATE proposals SET probability = ?2, band = ?3, explanation = ?4,
                        updated_at = ?5, note = ?6 WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    p.probability as f64,
                    p.band.as_str(),
                    explanation,
                    at,
                    p.note
                ])?;
                ids.push(id);
                saved.push((id, p));
            }
            Some(_) => {}
        }
    }
    if let Some(rank) = first_rank {
        demote_below(&tx, &saved, rank, &at)?;
    }
    tx.commit()?;
    Ok(ids)
}

/// The rule of the first rank, from the side of a child that has just arrived: a
/// child is `likely` for an inquiry below another likely child of it only as
/// another registration of that child. The matcher applies it to the arriving
/// child's own proposals (`EngineMatcher`); here it goes the other way, over what
/// was stored before. The review queue shows `likely` first, so a stale `likely`
/// proposal left below a better one of a different child tells reviewers that two
/// different children may each be the one sought, and sends them to the weaker one.
///
/// So, for each likely proposal of an arriving child just saved (best first, and
/// only while it is still likely: a better arriving child of the same batch may
/// have demoted it), every PENDING `likely` proposal of the same inquiry with a
/// lower probability, whose child is not another registration of the arriving
/// child, becomes `possible`. Deferred and decided proposals never change. A
/// demoted proposal gets a new version and `updated_at` (a reviewer deciding the
/// version they saw, still `likely`, gets a conflict).
fn demote_below(
    tx: &rusqlite::Transaction<'_>,
    saved: &[(i64, &Proposal)],
    rank: FirstRank<'_>,
    at: &str,
) -> Result<(), ReviewError> {
    let FirstRank {
        arrived,
        same_child,
    } = rank;
    let mut ranking: Vec<(i64, &Proposal)> = saved
        .iter()
        .filter(|(_, p)| p.band == Band::Likely && arrived.contains(&p.child))
        .copied()
        .collect();
    ranking.sort_by(|a, b| {
        b.1.probability
            .total_cmp(&a.1.probability)
            .then(a.0.cmp(&b.0))
    });
    for (id, p) in ranking {
        let band: String = tx
            .prepare_cached("SELECT band FROM proposals WHERE id = ?1")?
            .query_row(params![id], |r| r.get(0))?;
        if band != Band::Likely.as_str() {
            continue;
        }
        let below = tx
            .prepare_cached(
                "SELECT id, child_agency, child_id FROM proposals
                 WHERE inquiry_agency = ?1 AND inquiry_id = ?2 AND id <> ?3
                   AND status = 'pending' AND band = 'likely' AND probability < ?4",
            )?
            .query_map(
                params![
                    p.inquiry.agency,
                    p.inquiry.record_id,
                    id,
                    p.probability as f64
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        RecordKey::new(
                            RecordKind::Child,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ),
                    ))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        if below.is_empty() {
            continue;
        }
        let Some(new) = get_in(tx, &p.child)? else {
            continue;
        };
        for (other_id, child) in below {
            // A child no longer stored cannot be judged: left as it is, as the
            // matcher leaves it out of the rule (`likely_children_of`).
            let Some(other) = get_in(tx, &child)? else {
                continue;
            };
            if same_child(&new.record, &other.record) {
                continue;
            }
            tx.prepare_cached(
                "UPDATE proposals SET band = 'possible', version = version + 1, updated_at = ?2
                 WHERE id = ?1 AND status = 'pending' AND band = 'likely'",
            )?
            .execute(params![other_id, at])?;
        }
    }
    Ok(())
}

/// Whether `account` may read both records of a proposal: only then may it see or
/// decide the proposal (to anyone else it does not exist).
pub fn may_read_proposal(
    store: &Store,
    account: &crate::access::Account,
    p: &StoredProposal,
) -> Result<bool, StoreError> {
    for key in [&p.child, &p.inquiry] {
        let readable = store
            .get(key)?
            .is_some_and(|s| crate::access::may_read(account, &s.record));
        if !readable {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn get_proposal(store: &Store, id: i64) -> Result<Option<StoredProposal>, ReviewError> {
    Ok(store
        .conn()
        .prepare_cached(&format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals p WHERE p.id = ?1"
        ))?
        .query_row(params![id], proposal_row)
        .optional()?)
}

pub fn decisions(store: &Store, proposal: i64) -> Result<Vec<DecisionEntry>, ReviewError> {
    let mut stmt = store.conn().prepare_cached(
        "SELECT decision, note, reviewer, at FROM decisions WHERE proposal = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![proposal], |r| {
        Ok(DecisionEntry {
            decision: r.get(0)?,
            note: r.get(1)?,
            reviewer: r.get(2)?,
            at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The review queue, most probable first.
pub fn queue(
    store: &Store,
    filter: &QueueFilter,
    after: Option<&str>,
    limit: usize,
) -> Result<QueuePage, ReviewError> {
    let (after_p, after_id) = match after {
        None => (f64::INFINITY, 0),
        Some(cursor) => {
            let bad = || ReviewError::Invalid(format!("{cursor:?} is not a queue cursor"));
            let (p, id) = cursor.split_once('_').ok_or_else(bad)?;
            (
                p.parse::<f64>().map_err(|_| bad())?,
                id.parse::<i64>().map_err(|_| bad())?,
            )
        }
    };
    let sql = format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposals p
         LEFT JOIN records c ON c.kind = 'child' AND c.agency = p.child_agency AND c.record_id = p.child_id
         WHERE (?1 IS NULL OR p.status = ?1)
           AND (?2 IS NULL OR p.band = ?2)
           AND (?3 IS NULL OR p.child_agency = ?3 OR p.inquiry_agency = ?3)
           AND (?4 IS NULL OR COALESCE(c.tracing_consent, 1) = 1 OR p.child_agency = ?4)
           AND (p.probability < ?5 OR (p.probability = ?5 AND p.id > ?6))
         ORDER BY p.probability DESC, p.id
         LIMIT ?7"
    );
    let mut stmt = store.conn().prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            filter.status,
            filter.band.map(|b| b.as_str()),
            filter.agency,
            filter.viewer_agency,
            after_p,
            after_id,
            (limit + 1) as i64
        ],
        proposal_row,
    )?;
    let mut items: Vec<StoredProposal> = rows.collect::<Result<_, _>>()?;
    let next = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|p| format!("{}_{}", p.probability as f64, p.id))
    } else {
        None
    };
    Ok(QueuePage { items, next })
}

fn set_case(
    tx: &rusqlite::Transaction<'_>,
    key: &RecordKey,
    status: &str,
    proposal: Option<i64>,
    note: Option<&str>,
    actor: &str,
    at: &str,
) -> Result<(), ReviewError> {
    tx.prepare_cached(
        "INSERT INTO case_status (kind, agency, record_id, status, proposal, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (kind, agency, record_id) DO UPDATE SET status = ?4, proposal = ?5, updated_at = ?6",
    )?
    .execute(params![
        key.kind.as_str(),
        key.agency,
        key.record_id,
        status,
        proposal,
        at
    ])?;
    tx.prepare_cached(
        "INSERT INTO case_events (kind, agency, record_id, status, proposal, note, actor, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        key.kind.as_str(),
        key.agency,
        key.record_id,
        status,
        proposal,
        note,
        actor,
        at
    ])?;
    Ok(())
}

/// Records a reviewer's decision. Only a pending or deferred proposal can be
/// decided, and with `expected_version` only that version of it: whoever comes
/// second gets [`ReviewError::Conflict`].
pub fn decide(
    store: &mut Store,
    id: i64,
    decision: Decision,
    note: Option<&str>,
    reviewer: &str,
    expected_version: Option<i64>,
) -> Result<StoredProposal, ReviewError> {
    let at = now();
    let tx = store
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = tx
        .prepare_cached(&format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals p WHERE p.id = ?1"
        ))?
        .query_row(params![id], proposal_row)
        .optional()?
        .ok_or(ReviewError::NotFound)?;
    if current.status != "pending" && current.status != "deferred" {
        return Err(ReviewError::Conflict(format!(
            "the proposal was decided already: it is {}",
            current.status
        )));
    }
    if let Some(v) = expected_version {
        if v != current.version {
            return Err(ReviewError::Conflict(format!(
                "the proposal changed: it is at version {}, not {v}",
                current.version
            )));
        }
    }
    tx.prepare_cached(
        "UPDATE proposals SET status = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id, decision.status(), at])?;
    tx.prepare_cached(
        "INSERT INTO decisions (proposal, decision, note, reviewer, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, decision.as_str(), note, reviewer, at])?;
    if decision == Decision::Confirm {
        for key in [&current.child, &current.inquiry] {
            set_case(&tx, key, MATCH_CONFIRMED, Some(id), note, reviewer, &at)?;
        }
    }
    tx.commit()?;
    Ok(get_proposal(store, id)?.expect("just updated"))
}

/// The case status of a record, if it has one.
pub fn case_status(
    store: &Store,
    key: &RecordKey,
) -> Result<Option<(String, Option<i64>)>, ReviewError> {
    Ok(store
        .conn()
        .prepare_cached(
            "SELECT status, proposal FROM case_status WHERE kind = ?1 AND agency = ?2 AND record_id = ?3",
        )?
        .query_row(params![key.kind.as_str(), key.agency, key.record_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// Closes the case of a confirmed match with an outcome, on both of its records,
/// or undoes the confirmed match (a reason is required).
pub fn record_outcome(
    store: &mut Store,
    key: &RecordKey,
    outcome: Outcome,
    note: Option<&str>,
    actor: &str,
) -> Result<(), ReviewError> {
    let Some((status, Some(proposal))) = case_status(store, key)? else {
        return Err(ReviewError::Conflict(
            "the record has no confirmed match".into(),
        ));
    };
    if status != MATCH_CONFIRMED {
        return Err(ReviewError::Conflict(format!(
            "the case is {status}, not a confirmed match pending assessment"
        )));
    }
    if outcome == Outcome::Undone && note.is_none_or(|n| n.trim().is_empty()) {
        return Err(ReviewError::Invalid(
            "undoing a confirmed match needs a reason in note".into(),
        ));
    }
    let p = get_proposal(store, proposal)?.ok_or(ReviewError::NotFound)?;
    let at = now();
    let tx = store
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let new_status = if outcome == Outcome::Undone {
        tx.prepare_cached(
            "UPDATE proposals SET status = 'undone', version = version + 1, updated_at = ?2 WHERE id = ?1",
        )?
        .execute(params![proposal, at])?;
        tx.prepare_cached(
            "INSERT INTO decisions (proposal, decision, note, reviewer, at) VALUES (?1, 'undo', ?2, ?3, ?4)",
        )?
        .execute(params![proposal, note, actor, at])?;
        OPEN
    } else {
        outcome.as_str()
    };
    for k in [&p.child, &p.inquiry] {
        set_case(&tx, k, new_status, Some(proposal), note, actor, &at)?;
    }
    tx.commit()?;
    Ok(())
}

/// A record's case status, its changes and its proposals with their decisions.
pub fn record_review(store: &Store, key: &RecordKey) -> Result<RecordReview, ReviewError> {
    let case_status = case_status(store, key)?.map(|(s, _)| s);
    let mut stmt = store.conn().prepare_cached(
        "SELECT status, proposal, note, actor, at FROM case_events
         WHERE kind = ?1 AND agency = ?2 AND record_id = ?3 ORDER BY id",
    )?;
    let case_events = stmt
        .query_map(params![key.kind.as_str(), key.agency, key.record_id], |r| {
            Ok(CaseEvent {
                status: r.get(0)?,
                proposal: r.get(1)?,
                note: r.get(2)?,
                actor: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let side = match key.kind {
        RecordKind::Child => "p.child_agency = ?1 AND p.child_id = ?2",
        RecordKind::Inquiry => "p.inquiry_agency = ?1 AND p.inquiry_id = ?2",
    };
    let mut stmt = store.conn().prepare_cached(&format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposals p WHERE {side} ORDER BY p.probability DESC, p.id"
    ))?;
    let found = stmt
        .query_map(params![key.agency, key.record_id], proposal_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut proposals = Vec::new();
    for p in found {
        let d = decisions(store, p.id)?;
        proposals.push(ProposalWithDecisions {
            proposal: p,
            decisions: d,
        });
    }
    Ok(RecordReview {
        case_status,
        case_events,
        proposals,
    })
}

/// Pending proposals, for the metrics.
pub fn pending_count(store: &Store) -> Result<u64, ReviewError> {
    Ok(store.conn().query_row(
        "SELECT COUNT(*) FROM proposals WHERE status = 'pending'",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::sample_child as child_record;

    fn proposal(child: &str, inquiry: &str, p: f32) -> Proposal {
        Proposal {
            child: RecordKey::new(RecordKind::Child, "a", child),
            inquiry: RecordKey::new(RecordKind::Inquiry, "b", inquiry),
            probability: p,
            band: Band::Likely,
            explanation: vec![ComparisonExplanation {
                field: "name".into(),
                detail: "same".into(),
                level: None,
                weight: None,
            }],
            note: None,
        }
    }

    #[test]
    fn explanations_stored_before_levels_and_weights_still_read() {
        let old: Vec<ComparisonExplanation> =
            serde_json::from_str(r#"[{"field":"name","detail":"amina ~ amina (exact)"}]"#).unwrap();
        assert_eq!(old[0].level, None);
        assert_eq!(old[0].weight, None);
        // Without them, the JSON is what it was; with them, both are there.
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"[{"field":"name","detail":"amina ~ amina (exact)"}]"#
        );
        let new = ComparisonExplanation {
            level: Some("exact".into()),
            weight: Some(7.11),
            ..old[0].clone()
        };
        let v = serde_json::to_value(&new).unwrap();
        assert_eq!(v["level"], "exact");
        assert_eq!(v["weight"], 7.11);
        // A note is kept with the proposal.
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let mut p = proposal("c1", "i1", 0.9);
        p.explanation = vec![new];
        p.note = Some("possibly a sibling".into());
        let id = save_proposals(&mut store, &[p]).unwrap()[0];
        let stored = get_proposal(&store, id).unwrap().unwrap();
        assert_eq!(stored.note.as_deref(), Some("possibly a sibling"));
        assert_eq!(stored.explanation[0].weight, Some(7.11));
    }

    #[test]
    fn an_arriving_child_demotes_the_pending_likely_children_it_outranks() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        // The same child when the given names agree.
        let names = [
            ("c1", "amina"),
            ("c2", "hodan"),
            ("c3", "new"),
            ("c4", "farah"),
            ("c5", "new"),
            ("c6", "idil"),
            ("c7", "sahra"),
            ("c8", "nasra"),
        ];
        let mut b = store.batch(None).unwrap();
        for (id, given) in names {
            b.upsert(&child_record(id, given)).unwrap();
        }
        b.commit().unwrap();
        let mut same_child = |x: &Record, y: &Record| x.given_name == y.given_name;
        let possible = |c, i, p| Proposal {
            band: Band::Possible,
            ..proposal(c, i, p)
        };
        let ids = save_proposals(
            &mut store,
            &[
                proposal("c1", "i1", 0.8),
                proposal("c2", "i1", 0.7),
                proposal("c3", "i1", 0.6),
                possible("c4", "i1", 0.65),
                proposal("c4", "i2", 0.5),
                proposal("c1", "i3", 0.9),
            ],
        )
        .unwrap();
        decide(&mut store, ids[1], Decision::Defer, None, "r", None).unwrap();
        let before: Vec<StoredProposal> = ids
            .iter()
            .map(|&id| get_proposal(&store, id).unwrap().unwrap())
            .collect();
        let arrived: HashSet<RecordKey> = [RecordKey::new(RecordKind::Child, "a", "c5")].into();
        let new = save_proposals_ranked(
            &mut store,
            &[proposal("c5", "i1", 0.85), proposal("c5", "i3", 0.7)],
            Some(FirstRank {
                arrived: &arrived,
                same_child: &mut same_child,
            }),
        )
        .unwrap();
        let now: Vec<StoredProposal> = ids
            .iter()
            .map(|&id| get_proposal(&store, id).unwrap().unwrap())
            .collect();
        // c1 is outranked by another child: possible, as a new version.
        assert_eq!(now[0].band, "possible");
        assert_eq!(now[0].status, "pending");
        assert_eq!(now[0].version, before[0].version + 1);
        // Deferred, another registration of the arriving child, already possible,
        // another inquiry, above the arriving child: all as they were.
        for i in 1..6 {
            assert_eq!(
                (&now[i].band, &now[i].status, now[i].version),
                (&before[i].band, &before[i].status, before[i].version),
                "{i}"
            );
        }
        assert_eq!(
            get_proposal(&store, new[0]).unwrap().unwrap().band,
            "likely"
        );

        // Without the rule, or for children that did not arrive, nothing is demoted.
        let ids = save_proposals(&mut store, &[proposal("c6", "i4", 0.8)]).unwrap();
        save_proposals(&mut store, &[proposal("c7", "i4", 0.9)]).unwrap();
        save_proposals_ranked(
            &mut store,
            &[proposal("c8", "i4", 0.95)],
            Some(FirstRank {
                arrived: &arrived,
                same_child: &mut same_child,
            }),
        )
        .unwrap();
        assert_eq!(
            get_proposal(&store, ids[0]).unwrap().unwrap().band,
            "likely"
        );

        // Two children arriving together: the better one ranks the other, and a
        // child demoted so no longer ranks the ones below it.
        let arrived: HashSet<RecordKey> = ["c6", "c7", "c8"]
            .into_iter()
            .map(|c| RecordKey::new(RecordKind::Child, "a", c))
            .collect();
        let mut same_child = |x: &Record, y: &Record| {
            x.given_name == y.given_name
                || [x.given_name.as_deref(), y.given_name.as_deref()]
                    == [Some("nasra"), Some("idil")]
        };
        let ids = save_proposals_ranked(
            &mut store,
            &[
                proposal("c6", "i5", 0.7),
                proposal("c7", "i5", 0.8),
                proposal("c8", "i5", 0.9),
            ],
            Some(FirstRank {
                arrived: &arrived,
                same_child: &mut same_child,
            }),
        )
        .unwrap();
        let bands: Vec<String> = ids
            .iter()
            .map(|&id| get_proposal(&store, id).unwrap().unwrap().band)
            .collect();
        // c8 demotes c7; c6 is another registration of c8, and c7, no longer likely,
        // does not demote it.
        assert_eq!(bands, ["likely", "possible", "likely"]);
    }

    #[test]
    fn the_state_machine() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let ids = save_proposals(
            &mut store,
            &[proposal("c1", "i1", 0.9), proposal("c2", "i2", 0.8)],
        )
        .unwrap();
        let (p1, p2) = (ids[0], ids[1]);
        // Defer, then decide: a deferred proposal is still open.
        decide(&mut store, p1, Decision::Defer, None, "r", None).unwrap();
        // A stale version conflicts.
        assert!(matches!(
            decide(&mut store, p1, Decision::Confirm, None, "r", Some(1)),
            Err(ReviewError::Conflict(_))
        ));
        let p = decide(&mut store, p1, Decision::Confirm, Some("ok"), "r", Some(2)).unwrap();
        assert_eq!(p.status, "confirmed");
        assert!(matches!(
            decide(&mut store, p1, Decision::Reject, None, "r", None),
            Err(ReviewError::Conflict(_))
        ));
        let child = RecordKey::new(RecordKind::Child, "a", "c1");
        assert_eq!(
            case_status(&store, &child).unwrap().unwrap().0,
            MATCH_CONFIRMED
        );
        // Rejected pairs are never proposed again; decided ones keep their state.
        decide(&mut store, p2, Decision::Reject, None, "r", None).unwrap();
        let again = save_proposals(
            &mut store,
            &[proposal("c1", "i1", 0.95), proposal("c2", "i2", 0.99)],
        )
        .unwrap();
        assert!(again.is_empty());
        assert_eq!(
            get_proposal(&store, p2).unwrap().unwrap().status,
            "rejected"
        );
        // Outcome, then no second outcome; history kept.
        record_outcome(&mut store, &child, Outcome::Reunified, None, "o").unwrap();
        assert!(matches!(
            record_outcome(&mut store, &child, Outcome::Closed, None, "o"),
            Err(ReviewError::Conflict(_))
        ));
        let review = record_review(&store, &child).unwrap();
        assert_eq!(review.case_status.as_deref(), Some("reunified"));
        assert_eq!(review.case_events.len(), 2);
        assert_eq!(review.proposals[0].decisions.len(), 2);
        // The queue is ordered and paginated.
        let page = queue(&store, &QueueFilter::default(), None, 1).unwrap();
        assert_eq!(page.items[0].id, p1);
        let page2 = queue(&store, &QueueFilter::default(), page.next.as_deref(), 1).unwrap();
        assert_eq!(page2.items[0].id, p2);
        assert!(page2.next.is_none());
    }
}
