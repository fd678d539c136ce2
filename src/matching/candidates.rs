//! The candidate stage: an in-memory index of the children under keys built from
//! name parts (consonant skeletons, which join spelling variants, scripts and most
//! transliterations), each combined with a second fact: another name part, the
//! father's or mother's first name, or the village. An inquiry looks up its own keys;
//! the children sharing most keys with it become its candidates. A key held by too
//! many children (Mohamed + Ali at a million records) is skipped, so an inquiry never
//! meets a large share of the children and the work grows with the number of
//! inquiries times a bounded number of candidates, not with the product of the sizes.
//!
//! The same stage can instead query the data directory's search index (see
//! [`crate::search::candidates`]), the index the registry keeps from the store:
//! `[candidates] source = "index"` in the tracing rule file. [`CandidateIndex`] is
//! either; [`CandidateIndex::build`] makes the key index,
//! [`CandidateIndex::from_search`] the search-index one.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::record::RecordKind;
use crate::search::candidates::{
    key_hash, CandidateOptions, CandidateSearcher, CandidateTerms, CandidateWeights,
};
use crate::search::{SearchError, SearchIndex};

use crate::names::NameKeys;

use super::compare::Prepared;
use super::rules::TracingRules;
use crate::record::Relationship;

/// Where candidates come from (`[candidates] source` in the tracing rule file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateSource {
    /// The in-memory index of hashed blocking keys built at load.
    Keys,
    /// The data directory's search index (tantivy).
    Index,
}

impl CandidateSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            CandidateSource::Keys => "keys",
            CandidateSource::Index => "index",
        }
    }
}

/// The candidate stage: the key index, or queries to the search index.
pub struct CandidateIndex {
    inner: Inner,
}

enum Inner {
    Keys(KeyIndex),
    Search(Box<SearchCandidates>),
}

/// The search index, and the loaded children by their key hashes.
struct SearchCandidates {
    searcher: CandidateSearcher,
    child_of: HashMap<u64, u32>,
    weights: CandidateWeights,
}

/// Children under their keys: sorted keys, and for each the range of children.
struct KeyIndex {
    n_children: usize,
    keys: Vec<u64>,
    starts: Vec<u32>,
    children: Vec<u32>,
}

fn h(s: &str, salt: u64) -> u64 {
    // FNV-1a, then mixed.
    let mut x: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in s.bytes() {
        x ^= u64::from(b);
        x = x.wrapping_mul(0x0100_0000_01b3);
    }
    crate::link::train::mix(x)
}

/// The blocking tokens of one name part: its skeletons (or the part itself when too
/// short to have one) and, when `phonetic`, its first phonetic codes (Double
/// Metaphone, Daitch–Mokotoff), which join what the skeletons miss (Kowalenko /
/// Kovalenko, Jawad / Javad).
fn tokens(k: &NameKeys, phonetic: bool, out: &mut Vec<u64>) {
    let mut any = false;
    for s in k.skeletons() {
        any = true;
        let t = h(s, 1);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if !any && !k.normalized.is_empty() {
        let t = h(&k.normalized, 2);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if phonetic && k.normalized.len() >= 3 {
        for code in k.phonetic.iter().take(3) {
            let t = h(code, 3);
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
}

const MAX_PARTS: usize = 5;
/// Widest birth-year range keyed (an age estimate gives two years, a guess more).
const MAX_YEARS: i32 = 5;

/// Salts of the key families.
const PAIR: u64 = 10;
const FATHER: u64 = 11;
const MOTHER: u64 = 12;
const VILLAGE: u64 = 13;
const YEAR: u64 = 14;
/// Single-part keys, used only when few children hold them.
pub const SINGLE: u64 = 15;

fn combine(a: u64, b: u64, salt: u64) -> u64 {
    crate::link::train::mix(a ^ b.rotate_left(17) ^ salt.wrapping_mul(0x9e37_79b9))
}

/// The keys of a record (child or inquiry), each with its family's salt.
pub fn keys(p: &Prepared) -> Vec<(u64, u64)> {
    let own: Vec<Vec<u64>> = p
        .names
        .iter()
        .take(MAX_PARTS)
        .map(|k| {
            let mut t = Vec::new();
            tokens(k, true, &mut t);
            t
        })
        .collect();
    let mut keys = Vec::new();
    for (i, a) in own.iter().enumerate() {
        for b in &own[i + 1..] {
            for &x in a {
                for &y in b {
                    if x != y {
                        keys.push((combine(x.min(y), x.max(y), PAIR), PAIR));
                    }
                }
            }
        }
        for &x in a {
            keys.push((combine(x, 0, SINGLE), SINGLE));
        }
    }
    let (father, mother) = parents(p);
    for (parts, salt) in [(father, FATHER), (mother, MOTHER), (&p.village, VILLAGE)] {
        if let Some(first) = parts.first() {
            let mut t = Vec::new();
            tokens(first, false, &mut t);
            for &x in &t {
                for a in &own {
                    for &y in a {
                        keys.push((combine(y, x, salt), salt));
                    }
                }
            }
        }
    }
    if let Some(r) = p.birth_years {
        if r.max - r.min < MAX_YEARS {
            for year in r.min..=r.max {
                for a in &own {
                    for &y in a {
                        keys.push((combine(y, year as u64, YEAR), YEAR));
                    }
                }
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// What the search-index query looks for in a record: its own name parts, the
/// first name of the father and of the mother (the inquirer's when filing as one),
/// the village, the district and separation place.
pub fn search_terms(p: &Prepared) -> CandidateTerms<'_> {
    let (father, mother) = parents(p);
    CandidateTerms {
        own: p.names.iter().map(|k| &**k).collect(),
        father: father.iter().map(|k| &**k).collect(),
        mother: mother.iter().map(|k| &**k).collect(),
        village: p.village.iter().map(|k| &**k).collect(),
        region: p
            .district
            .iter()
            .chain(&p.separation)
            .map(|k| &**k)
            .collect(),
        years: p.birth_years.map(|y| (y.min, y.max)),
        sex: p.sex,
    }
}

/// The father's and mother's name parts, the inquirer's standing in for a parent
/// who files and is not named otherwise.
fn parents(p: &Prepared) -> (&super::compare::Parts, &super::compare::Parts) {
    let father = if p.father.is_empty() && p.relationship == Some(Relationship::Father) {
        &p.inquirer
    } else {
        &p.father
    };
    let mother = if p.mother.is_empty() && p.relationship == Some(Relationship::Mother) {
        &p.inquirer
    } else {
        &p.mother
    };
    (father, mother)
}

impl CandidateIndex {
    /// The in-memory key index of the children.
    pub fn build(children: &[Prepared]) -> CandidateIndex {
        CandidateIndex {
            inner: Inner::Keys(KeyIndex::build(children)),
        }
    }

    /// Candidates from the search index: its children that are among `children`
    /// (matched by agency and record id; a child the index does not hold yet is
    /// never a candidate).
    pub fn from_search(
        index: &SearchIndex,
        children: &super::Side,
    ) -> Result<CandidateIndex, SearchError> {
        let searcher = index.candidate_searcher()?;
        let child_of = children
            .agency
            .iter()
            .zip(&children.record_id)
            .enumerate()
            .map(|(i, (a, id))| (key_hash(RecordKind::Child, a, id), i as u32))
            .collect();
        Ok(CandidateIndex {
            inner: Inner::Search(Box::new(SearchCandidates {
                searcher,
                child_of,
                weights: CandidateWeights::default(),
            })),
        })
    }

    /// The search-index source with other term weights (for experiments).
    pub fn with_weights(mut self, w: CandidateWeights) -> CandidateIndex {
        if let Inner::Search(s) = &mut self.inner {
            s.weights = w;
        }
        self
    }

    /// Which source this is.
    pub fn source(&self) -> CandidateSource {
        match &self.inner {
            Inner::Keys(_) => CandidateSource::Keys,
            Inner::Search(_) => CandidateSource::Index,
        }
    }

    /// The children under a key of the key index (none for the search index).
    pub fn postings(&self, key: u64) -> &[u32] {
        match &self.inner {
            Inner::Keys(k) => k.postings(key),
            Inner::Search(_) => &[],
        }
    }

    /// Entries held (children × keys) for the key index, children mapped for the
    /// search index: for memory reports.
    pub fn entries(&self) -> usize {
        match &self.inner {
            Inner::Keys(k) => k.entries(),
            Inner::Search(s) => s.child_of.len(),
        }
    }

    /// The candidates of an inquiry, at most `rules.per_inquiry`, sorted by child
    /// index.
    pub fn candidates(&self, q: &Prepared, rules: &TracingRules) -> Vec<u32> {
        match &self.inner {
            Inner::Keys(k) => k.candidates(q, rules),
            Inner::Search(s) => {
                let opts = CandidateOptions {
                    kind: RecordKind::Child,
                    limit: rules.per_inquiry,
                    max_term_docs: rules.max_term_docs,
                    weights: s.weights,
                };
                let hits = match s.searcher.search(&search_terms(q), &opts) {
                    Ok(h) => h,
                    Err(e) => {
                        // No names in logs: the error only.
                        tracing::warn!("candidate query failed: {e}");
                        Vec::new()
                    }
                };
                let mut out: Vec<u32> = hits
                    .iter()
                    .filter_map(|h| s.child_of.get(&h.key_hash).copied())
                    .collect();
                out.sort_unstable();
                out.dedup();
                out
            }
        }
    }
}

impl KeyIndex {
    fn build(children: &[Prepared]) -> KeyIndex {
        let mut pairs: Vec<(u64, u32)> = children
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, p)| keys(p).into_iter().map(move |(k, _)| (k, i as u32)))
            .collect();
        pairs.par_sort_unstable();
        let mut keys = Vec::new();
        let mut starts = Vec::new();
        let mut ids = Vec::with_capacity(pairs.len());
        for (k, c) in pairs {
            if keys.last() != Some(&k) {
                keys.push(k);
                starts.push(ids.len() as u32);
            }
            ids.push(c);
        }
        starts.push(ids.len() as u32);
        KeyIndex {
            n_children: children.len(),
            keys,
            starts,
            children: ids,
        }
    }

    fn postings(&self, key: u64) -> &[u32] {
        match self.keys.binary_search(&key) {
            Ok(i) => &self.children[self.starts[i] as usize..self.starts[i + 1] as usize],
            Err(_) => &[],
        }
    }

    fn entries(&self) -> usize {
        self.children.len()
    }

    /// The candidates of an inquiry: children sharing most keys with it, at most
    /// `rules.per_inquiry`, keys held by more than `rules.max_posting` children
    /// skipped.
    fn candidates(&self, q: &Prepared, rules: &TracingRules) -> Vec<u32> {
        // Each shared key counts by how rare it is (an inverse document frequency):
        // two children sharing a rare name pair say more than a common one.
        let mut hits: crate::link::data::FastMap<u32, f32> = Default::default();
        let n = self.n_children.max(1) as f32;
        for (k, family) in keys(q) {
            let post = self.postings(k);
            let limit = if family == SINGLE {
                rules.max_single_posting
            } else {
                rules.max_posting
            };
            if post.len() > limit {
                continue;
            }
            if post.is_empty() {
                continue;
            }
            let w = (n / post.len() as f32).ln_1p();
            for &c in post {
                *hits.entry(c).or_default() += w;
            }
        }
        let mut v: Vec<(u32, f32)> = hits.into_iter().collect();
        if v.len() > rules.per_inquiry {
            v.select_nth_unstable_by(rules.per_inquiry, |a, b| {
                b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
            });
            v.truncate(rules.per_inquiry);
        }
        let mut out: Vec<u32> = v.into_iter().map(|(c, _)| c).collect();
        out.sort_unstable();
        out
    }
}
