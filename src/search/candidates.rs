//! The matcher's candidate query over the search index: for one record, the records
//! of the other kind most likely to be the same child, found by cheap term queries
//! on the index the registry keeps from the store. The batch matcher (`famlink
//! match`) runs it for every inquiry; a service can run it for one arriving record.
//!
//! The query is a disjunction of exact terms (no fuzzy automata): for each of the
//! child's own name parts its normalized token, consonant skeletons, phonetic codes
//! (three letters or more) and variant keys, and adjacent parts run together (merged
//! names); the first two name parts of the father and of the mother (tokens,
//! skeletons, variant keys); the village, and weakly the district and separation
//! place; the birth years, alone and with the sex (the `born` field). Every term
//! scores by its rarity (tantivy's BM25 inverse document frequency) times a weight
//! per kind of term ([`CandidateWeights`]), the weights chosen so that each fact
//! counts alike: a child agreeing on name, parents, village and age outranks
//! namesakes agreeing on the name alone. A term held by more than `max_term_docs`
//! records is left out altogether (the key index's `max_posting`).
//!
//! The top N is exact: every document matching a term is scored. The kind (children
//! or inquiries) is checked in the collector from a fast `key_hash` whose lowest bit
//! is the kind, not by a query clause.

use std::sync::Arc;

use tantivy::collector::TopDocs;
use tantivy::columnar::ColumnValues;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, Searcher, Term};

use crate::names::{skeleton_variants, NameKeys};
use crate::record::{RecordKind, Sex};

use super::schema::{Fields, NameFields};
use super::{SearchError, SearchIndex};

/// The u64 the index keeps for a record in its fast `key_hash` field: a 64-bit
/// FNV-1a hash of the agency and record id, mixed, its lowest bit the kind (0
/// child, 1 inquiry). Stable across processes and builds (it is stored).
pub fn key_hash(kind: RecordKind, agency: &str, record_id: &str) -> u64 {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in agency.bytes().chain([0xff]).chain(record_id.bytes()) {
        x ^= u64::from(b);
        x = x.wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64's finalizer.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x & !1) | kind_bit(kind)
}

fn kind_bit(kind: RecordKind) -> u64 {
    match kind {
        RecordKind::Child => 0,
        RecordKind::Inquiry => 1,
    }
}

/// The kind a [`key_hash`] was made for.
pub fn kind_of_hash(h: u64) -> RecordKind {
    if h & 1 == 0 {
        RecordKind::Child
    } else {
        RecordKind::Inquiry
    }
}

/// Widest birth-year range given terms (an age estimate allows two years).
pub const MAX_BORN_YEARS: i32 = 5;

/// The terms of the `born` field for birth years `min..=max` and a sex: each year,
/// and each year with the sex ("m2014") when known; none for a wider range.
pub(crate) fn born_terms(min: i32, max: i32, sex: Sex) -> Vec<(String, bool)> {
    if max < min || max - min >= MAX_BORN_YEARS {
        return Vec::new();
    }
    let mut out = Vec::new();
    for y in min..=max {
        out.push((y.to_string(), false));
        if sex != Sex::Unknown {
            out.push((format!("{}{y}", sex.code().to_ascii_lowercase()), true));
        }
    }
    out
}

/// What of a record the candidate query looks for: name parts already keyed
/// (normalized, skeletons, phonetic codes, variant keys).
#[derive(Debug, Default, Clone)]
pub struct CandidateTerms<'a> {
    /// The child's own name parts, given and family in any order.
    pub own: Vec<&'a NameKeys>,
    /// The father's name parts (for an inquiry filed by the father, his name);
    /// only the first is queried.
    pub father: Vec<&'a NameKeys>,
    pub mother: Vec<&'a NameKeys>,
    /// The village's parts.
    pub village: Vec<&'a NameKeys>,
    /// District and separation place: weak evidence, shared by many.
    pub region: Vec<&'a NameKeys>,
    /// Birth years (from a date or an age estimate).
    pub years: Option<(i32, i32)>,
    pub sex: Sex,
}

/// How the candidate query runs.
#[derive(Debug, Clone, Copy)]
pub struct CandidateOptions {
    /// The kind of record wanted (children for an inquiry).
    pub kind: RecordKind,
    /// Records returned, at most.
    pub limit: usize,
    /// Terms held by more records than this are left out.
    pub max_term_docs: u64,
    pub weights: CandidateWeights,
}

/// One candidate: the record's [`key_hash`] and its query score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandidateHit {
    pub key_hash: u64,
    pub score: f32,
    pub doc: DocAddress,
}

/// Weights of the kinds of terms (times each term's inverse document frequency).
/// One fact (a name part, a parent's name, the village) is found by several terms
/// (token, skeletons, codes, variant key): their weights together should make it
/// count about as much as another fact of the same rarity, so that a child agreeing
/// on own name, parents and village outranks namesakes agreeing on the name alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandidateWeights {
    pub own_exact: f32,
    pub own_variant: f32,
    pub own_skeleton: f32,
    pub own_phonetic: f32,
    pub own_joined: f32,
    pub parent: f32,
    pub village: f32,
    pub region: f32,
    /// A birth year agreeing (half more with the sex).
    pub year: f32,
    /// Name parts of each parent queried.
    pub parent_parts: usize,
    /// Phonetic codes of each own name part queried (Double Metaphone first).
    pub phonetic_codes: usize,
}

impl Default for CandidateWeights {
    fn default() -> Self {
        // Tuned on 600 inquiries of the 1,000,000 × 50,000 fixtures (seed 5):
        // candidate recall 0.47 with the child's own name weighing most, 0.55 with
        // the facts balanced, 0.72 with common terms kept (max_term_docs 100,000).
        CandidateWeights {
            own_exact: 0.8,
            own_variant: 0.6,
            own_skeleton: 0.5,
            own_phonetic: 0.15,
            own_joined: 0.8,
            parent: 1.2,
            village: 1.0,
            region: 0.2,
            year: 1.5,
            parent_parts: 2,
            phonetic_codes: 3,
        }
    }
}

/// Own name parts queried, at most.
const MAX_OWN: usize = 5;

/// A searcher for candidate queries: one view of the index, with the fast column
/// of record hashes of every segment opened once.
pub struct CandidateSearcher {
    searcher: Searcher,
    fields: Fields,
    hashes: Vec<Arc<dyn ColumnValues<u64>>>,
}

impl SearchIndex {
    /// A candidate searcher over the index as of its last commit.
    pub fn candidate_searcher(&self) -> Result<CandidateSearcher, SearchError> {
        let searcher = self.reader.searcher();
        let hashes = searcher
            .segment_readers()
            .iter()
            .map(|seg| {
                Ok(seg
                    .fast_fields()
                    .u64("key_hash")?
                    .first_or_default_col(u64::MAX))
            })
            .collect::<Result<Vec<_>, tantivy::TantivyError>>()?;
        Ok(CandidateSearcher {
            searcher,
            fields: self.fields,
            hashes,
        })
    }
}

/// Collects the weighted terms of a query, each (field, text) once at its highest
/// weight.
struct Terms {
    terms: Vec<(Term, f32)>,
}

impl Terms {
    fn add(&mut self, field: Field, text: &str, weight: f32) {
        if text.is_empty() {
            return;
        }
        let t = Term::from_field_text(field, text);
        match self.terms.iter_mut().find(|(x, _)| *x == t) {
            Some((_, w)) => *w = w.max(weight),
            None => self.terms.push((t, weight)),
        }
    }

    fn parent(&mut self, nf: NameFields, k: &NameKeys, w: f32) {
        self.add(nf.normalized, &k.normalized, w);
        for s in k.skeletons() {
            self.add(nf.skeleton, s, 0.6 * w);
        }
        if let Some(v) = nf.variants {
            if k.variant != k.normalized {
                self.add(v, &k.variant, 0.8 * w);
                self.add(nf.normalized, &k.variant, 0.8 * w);
            }
        }
    }

    fn place(&mut self, nf: NameFields, k: &NameKeys, w: f32) {
        self.add(nf.normalized, &k.normalized, w);
        for s in k.skeletons() {
            self.add(nf.skeleton, s, 0.6 * w);
        }
    }
}

impl CandidateSearcher {
    /// The weighted terms of the candidate query, common ones left out.
    pub fn terms(
        &self,
        t: &CandidateTerms,
        max_term_docs: u64,
        w: &CandidateWeights,
    ) -> Result<Vec<(Term, f32)>, SearchError> {
        let f = &self.fields;
        let mut q = Terms { terms: Vec::new() };
        let own = &t.own[..t.own.len().min(MAX_OWN)];
        for k in own {
            q.add(f.own.normalized, &k.normalized, w.own_exact);
            for s in k.skeletons() {
                q.add(f.own.skeleton, s, w.own_skeleton);
            }
            if let Some(p) = f.own.phonetic {
                for code in k
                    .phonetic
                    .iter()
                    .take(w.phonetic_codes)
                    .filter(|c| c.len() >= 3)
                {
                    q.add(p, code, w.own_phonetic);
                }
            }
            if let Some(v) = f.own.variants {
                // A record token's variant key is in the variant field, or in the
                // normalized field when it is the token itself.
                if !k.variant.is_empty() {
                    q.add(v, &k.variant, w.own_variant);
                    if k.variant != k.normalized {
                        q.add(f.own.normalized, &k.variant, w.own_variant);
                    }
                }
                for n in &k.nicknames {
                    q.add(v, n, w.own_variant);
                }
            }
        }
        // Merged names: adjacent parts run together meet a record's compound.
        for len in 2..=3.min(own.len()) {
            for win in own.windows(len) {
                let joined: String = win.iter().map(|k| k.normalized.as_str()).collect();
                q.add(f.own.normalized, &joined, w.own_joined);
                for sk in skeleton_variants(&joined) {
                    if sk.len() >= 3 {
                        q.add(f.own.skeleton, &sk, w.own_skeleton);
                    }
                }
            }
        }
        for (parts, nf) in [(&t.father, f.father), (&t.mother, f.mother)] {
            for k in parts.iter().take(w.parent_parts) {
                q.parent(nf, k, w.parent);
            }
        }
        for k in &t.village {
            q.place(f.place, k, w.village);
        }
        for k in &t.region {
            q.place(f.place, k, w.region);
        }
        if let (Some((min, max)), true) = (t.years, w.year > 0.0) {
            for (term, with_sex) in born_terms(min, max, t.sex) {
                q.add(f.born, &term, if with_sex { 0.5 * w.year } else { w.year });
            }
        }
        let mut kept = Vec::with_capacity(q.terms.len());
        for (term, w) in q.terms {
            let df = self.searcher.doc_freq(&term)?;
            if df > 0 && df <= max_term_docs {
                kept.push((term, w));
            }
        }
        Ok(kept)
    }

    /// The candidate query of the terms, or `None` when none is left.
    pub fn query(
        &self,
        t: &CandidateTerms,
        max_term_docs: u64,
        w: &CandidateWeights,
    ) -> Result<Option<BooleanQuery>, SearchError> {
        let terms = self.terms(t, max_term_docs, w)?;
        if terms.is_empty() {
            return Ok(None);
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .into_iter()
            .map(|(term, w)| {
                let tq: Box<dyn Query> =
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                (Occur::Should, Box::new(BoostQuery::new(tq, w)) as Box<_>)
            })
            .collect();
        Ok(Some(BooleanQuery::new(clauses)))
    }

    /// The best records of `opts.kind` for the terms, best first, at most
    /// `opts.limit`.
    pub fn search(
        &self,
        t: &CandidateTerms,
        opts: &CandidateOptions,
    ) -> Result<Vec<CandidateHit>, SearchError> {
        let Some(query) = self.query(t, opts.max_term_docs, &opts.weights)? else {
            return Ok(Vec::new());
        };
        if opts.limit == 0 {
            return Ok(Vec::new());
        }
        let want = kind_bit(opts.kind);
        // The kind is checked in the collector (a record of the other kind scores
        // -1 and is dropped). Tweaking the score also keeps tantivy from pruning
        // with block-max WAND, which on these fields (no field norms) skips
        // documents that belong in the top N: measured at a million children, the
        // pruned top 100 shared 17 to 56 documents with the exact one.
        let collector =
            TopDocs::with_limit(opts.limit).tweak_score(move |seg: &tantivy::SegmentReader| {
                let col = seg
                    .fast_fields()
                    .u64("key_hash")
                    .ok()
                    .map(|c| c.first_or_default_col(u64::MAX));
                move |doc, score: tantivy::Score| {
                    let h = col.as_ref().map_or(u64::MAX, |c| c.get_val(doc));
                    if h != u64::MAX && h & 1 == want {
                        score
                    } else {
                        -1.0
                    }
                }
            });
        let top = self.searcher.search(&query, &collector)?;
        Ok(top
            .into_iter()
            .filter(|(score, _)| *score >= 0.0)
            .map(|(score, doc)| CandidateHit {
                key_hash: self.hashes[doc.segment_ord as usize].get_val(doc.doc_id),
                score,
                doc,
            })
            .collect())
    }

    /// Documents in the index.
    pub fn num_docs(&self) -> u64 {
        self.searcher.num_docs()
    }
}
