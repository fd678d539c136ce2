//! The tolerant candidate query: cheap, broad, and only there to find the few
//! hundred records the ranker should look at.

use std::ops::Bound;

use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{Searcher, Term};

use crate::names::skeleton_variants;

use crate::places::{Gazetteer, PlaceLevel};

use super::rank::{Prepared, QueryName};
use super::schema::{unpack_facts, Fields, NameFields, FACT_INQUIRY, FACT_RESTRICTED};
use super::summary::sex_code;
use super::SearchError;
use crate::record::RecordKind;

fn term(field: Field, text: &str) -> Term {
    Term::from_field_text(field, text)
}

fn term_query(field: Field, text: &str, boost: f32) -> Box<dyn Query> {
    let q = Box::new(TermQuery::new(
        term(field, text),
        IndexRecordOption::WithFreqs,
    ));
    if boost == 1.0 {
        q
    } else {
        Box::new(BoostQuery::new(q, boost))
    }
}

/// The should-clauses of the candidate query: one per term, the boosts of a term
/// asked for in several roles summed (a score is linear in its boost, so this
/// scores as the repeated clauses would, with fewer of them).
///
/// A group of spellings (a token's indexed neighbours within one edit) scores its
/// weight once, whichever and however many of them a document holds, as a
/// constant-score fuzzy query would: that keeps the most a document can score,
/// which the collector prunes by, close to what it does score.
#[derive(Default)]
pub(crate) struct Should {
    terms: Vec<(Term, f32)>,
    at: crate::names::FastMap<Term, usize>,
    groups: Vec<(Vec<(Term, u64)>, f32)>,
}

impl Should {
    pub fn add(&mut self, field: Field, text: &str, boost: f32) {
        if boost <= 0.0 {
            return;
        }
        let t = term(field, text);
        match self.at.get(&t) {
            Some(&i) => self.terms[i].1 += boost,
            None => {
                self.at.insert(t.clone(), self.terms.len());
                self.terms.push((t, boost));
            }
        }
    }

    /// A group of `field`'s spellings, with how many documents hold each.
    fn add_group(&mut self, field: Field, spellings: &[(String, u64)], weight: f32) {
        let terms: Vec<(Term, u64)> = spellings
            .iter()
            .filter(|(_, df)| *df > 0)
            .map(|(t, df)| (term(field, t), *df))
            .collect();
        if weight > 0.0 && !terms.is_empty() {
            self.groups.push((terms, weight));
        }
    }

    fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.groups.is_empty()
    }

    /// The clauses with their weights (a term's boost times its idf; a group's
    /// own weight), without the terms of `broad` fields (skeletons, phonetic
    /// codes) that more than `max_doc_freq` documents hold, nor terms no
    /// document holds.
    fn resolve(
        self,
        searcher: &Searcher,
        broad: &[Field],
        max_doc_freq: u64,
    ) -> Result<Vec<Clause>, SearchError> {
        let num_docs = searcher.num_docs();
        let mut kept = Vec::with_capacity(self.terms.len() + self.groups.len());
        for (term, boost) in self.terms {
            let doc_freq = searcher.doc_freq(&term)?;
            if doc_freq == 0 || (broad.contains(&term.field()) && doc_freq > max_doc_freq) {
                continue;
            }
            kept.push(Clause {
                weight: boost * idf(doc_freq, num_docs),
                terms: vec![term],
                doc_freq,
            });
        }
        for (terms, weight) in self.groups {
            kept.push(Clause {
                doc_freq: terms.iter().map(|(_, df)| df).sum(),
                terms: terms.into_iter().map(|(t, _)| t).collect(),
                weight,
            });
        }
        Ok(kept)
    }
}

/// A clause of the candidate query: a document holding any of its terms scores
/// its weight. A single term weighs its boost times its rarity, as tantivy's BM25
/// scores a term held once; a group of spellings weighs the same whatever their
/// rarity.
pub(crate) struct Clause {
    pub terms: Vec<Term>,
    pub weight: f32,
    /// Documents holding its terms, over all segments (at most: a document
    /// holding two terms of a group counts twice).
    pub doc_freq: u64,
}

impl Clause {
    /// Whether this is a group of spellings rather than one term.
    pub fn is_group(&self) -> bool {
        self.terms.len() > 1
    }
}

/// What chooses a search's candidates.
pub(crate) enum CandidateQuery {
    /// Weighted terms (names, parents, places), collected by [`super::collect`].
    Terms(Vec<Clause>),
    /// A query without text: birth years and sex, as a tantivy query.
    Tantivy(Box<dyn Query>),
}

/// Tantivy's BM25 inverse document frequency.
fn idf(doc_freq: u64, num_docs: u64) -> f32 {
    let x = (num_docs.saturating_sub(doc_freq) as f32 + 0.5) / (doc_freq as f32 + 0.5);
    (1.0 + x).ln()
}

/// Whether a token is worth looking up within one edit: not short tokens (too
/// many neighbours). Vowel and doubling differences, and the wider differences of
/// long names, are caught by the skeleton and the phonetic codes, which are far
/// cheaper than a fuzzy match.
fn fuzzy_worthwhile(len: usize) -> bool {
    len >= 4
}

/// Most neighbours of one token looked for; a name has a handful.
const MAX_NEIGHBOURS: usize = 64;

/// The terms of `field` within one edit of `tok` (a letter deleted, inserted,
/// replaced, or two swapped; inserted and replacing letters a-z or the token's
/// own) that some segment of the index holds, the first [`MAX_NEIGHBOURS`] in
/// byte order: every candidate spelling is looked up in the term dictionaries, a
/// few hundred lookups, where tantivy's fuzzy query would walk a Levenshtein
/// automaton over the whole dictionary and then read every posting of what it
/// found. The neighbours, with the token, become one group clause (see
/// [`Should`]).
///
/// Each spelling is written into one buffer and looked up at once; only the few
/// found are sorted. (Building the few hundred spellings as vectors and sorting
/// them all first cost a third as much as the lookups.)
fn neighbours(
    searcher: &Searcher,
    field: Field,
    tok: &str,
    out: &mut Vec<(String, u64)>,
) -> Result<(), SearchError> {
    if !tok.is_ascii() {
        return Ok(());
    }
    let b = tok.as_bytes();
    let mut alphabet: Vec<u8> = (b'a'..=b'z').collect();
    for &c in b {
        if !alphabet.contains(&c) {
            alphabet.push(c);
        }
    }
    let dicts: Vec<_> = searcher
        .segment_readers()
        .iter()
        .map(|seg| seg.inverted_index(field))
        .collect::<Result<_, _>>()?;
    let mut found: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut look_up = |sp: &[u8]| -> Result<(), SearchError> {
        let mut doc_freq = 0u64;
        for inv in &dicts {
            if let Some(info) = inv.terms().get(sp)? {
                doc_freq += u64::from(info.doc_freq);
            }
        }
        if doc_freq > 0 {
            found.push((sp.to_vec(), doc_freq));
        }
        Ok(())
    };
    let mut sp: Vec<u8> = Vec::with_capacity(b.len() + 1);
    for i in 0..b.len() {
        // Deleted.
        sp.clear();
        sp.extend_from_slice(&b[..i]);
        sp.extend_from_slice(&b[i + 1..]);
        look_up(&sp)?;
        // Swapped with the next.
        if i + 1 < b.len() && b[i] != b[i + 1] {
            sp.clear();
            sp.extend_from_slice(b);
            sp.swap(i, i + 1);
            look_up(&sp)?;
        }
        // Replaced.
        sp.clear();
        sp.extend_from_slice(b);
        for &c in &alphabet {
            if c != b[i] {
                sp[i] = c;
                look_up(&sp)?;
            }
        }
    }
    for i in 0..=b.len() {
        // Inserted (the letter already there gives the same as after it).
        sp.clear();
        sp.extend_from_slice(&b[..i]);
        sp.push(0);
        sp.extend_from_slice(&b[i..]);
        for &c in &alphabet {
            if i > 0 && b[i - 1] == c {
                continue;
            }
            sp[i] = c;
            look_up(&sp)?;
        }
    }
    // Deleting either of a doubled letter finds one spelling twice.
    found.sort_unstable();
    found.dedup();
    out.extend(
        found
            .into_iter()
            .take(MAX_NEIGHBOURS)
            // ASCII in, ASCII out.
            .map(|(sp, df)| (String::from_utf8(sp).expect("ascii"), df)),
    );
    Ok(())
}

/// The indexed neighbours of tokens already looked up, for the searcher they were
/// looked up in: the same names are searched again and again ("Mohamed", "Ali"),
/// and each lookup is a few hundred term-dictionary probes. A new searcher (the
/// index changed) starts afresh.
#[derive(Default)]
pub(crate) struct NeighbourCache {
    map: std::sync::RwLock<NeighbourMap>,
}

/// A token's indexed spellings within one edit, with how many documents hold each.
type Spellings = std::sync::Arc<[(String, u64)]>;

#[derive(Default)]
struct NeighbourMap {
    generation: u64,
    known: crate::names::FastMap<(Field, Box<str>), Spellings>,
}

/// Tokens whose neighbours the cache keeps; emptied when full.
const NEIGHBOUR_CACHE_CAPACITY: usize = 50_000;

impl NeighbourCache {
    fn get(&self, searcher: &Searcher, field: Field, tok: &str) -> Result<Spellings, SearchError> {
        let generation = searcher.generation().generation_id();
        let key = (field, Box::<str>::from(tok));
        {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            if map.generation == generation {
                if let Some(found) = map.known.get(&key) {
                    return Ok(std::sync::Arc::clone(found));
                }
            }
        }
        let mut near = Vec::new();
        neighbours(searcher, field, tok, &mut near)?;
        let near: Spellings = near.into();
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.generation != generation || map.known.len() >= NEIGHBOUR_CACHE_CAPACITY {
            map.known.clear();
            map.generation = generation;
        }
        map.known.insert(key, std::sync::Arc::clone(&near));
        Ok(near)
    }
}

/// Should-clauses for one query name over one family of name fields.
fn name_clauses(
    out: &mut Should,
    nf: NameFields,
    q: &QueryName,
    weight: f32,
    searcher: &Searcher,
    cache: &NeighbourCache,
) -> Result<(), SearchError> {
    for k in &q.tokens {
        let tok = k.normalized.as_str();
        out.add(nf.normalized, tok, 2.0 * weight);
        if fuzzy_worthwhile(tok.len()) {
            // Spellings within one edit, the token itself included, count `weight`
            // once whatever their frequency (as a constant-score fuzzy query
            // would): a rare misspelling is no better a candidate than the common
            // spelling it is near.
            let mut near = vec![(
                tok.to_string(),
                searcher.doc_freq(&term(nf.normalized, tok))?,
            )];
            near.extend(cache.get(searcher, nf.normalized, tok)?.iter().cloned());
            out.add_group(nf.normalized, &near, weight);
        }
        if let Some(field) = nf.phonetic {
            for code in &k.phonetic {
                // One- and two-letter Metaphone codes match half the index.
                if code.len() >= 3 {
                    out.add(field, code, weight);
                }
            }
        }
        for s in k.skeletons() {
            out.add(nf.skeleton, s, weight);
        }
        // One name by the rules, or a nickname of it: a record token's variant key
        // is in the variant field, or in the normalized field when it is the token
        // itself (see `document::add_names`).
        if let Some(field) = nf.variants {
            let keys = std::iter::once(&k.variant)
                .filter(|v| !v.is_empty())
                .chain(k.nicknames.iter());
            for key in keys {
                out.add(field, key, 1.5 * weight);
                if *key != k.normalized {
                    out.add(nf.normalized, key, 1.5 * weight);
                }
            }
        }
    }
    // The compounds the rules join ("abdi rahman" → abdirahman), and their keys.
    if let Some(full) = &q.full {
        for k in full
            .tokens
            .iter()
            .filter(|k| !q.tokens.iter().any(|t| t.normalized == k.normalized))
        {
            out.add(nf.normalized, &k.normalized, 2.0 * weight);
            if let Some(field) = nf.variants {
                out.add(field, &k.variant, 1.5 * weight);
            }
        }
    }
    // Compound names written apart in the query and together in the record
    // ("abd al rahman" / "abdalrahman"): adjacent tokens run together.
    let n = q.tokens.len();
    let longest = if nf.full { 3.min(n) } else { 0 };
    for len in 2..=longest {
        for start in 0..=(n - len) {
            let joined: String = q.tokens[start..start + len]
                .iter()
                .map(|k| k.normalized.as_str())
                .collect();
            out.add(nf.normalized, &joined, 2.0 * weight);
            for sk in skeleton_variants(&joined) {
                if sk.len() >= 3 {
                    out.add(nf.skeleton, &sk, weight);
                }
            }
        }
    }
    Ok(())
}

/// Weights of the criteria in the candidate score.
const W_NAME: f32 = 1.0;
const W_PARENT: f32 = 0.6;
const W_PLACE: f32 = 0.4;
/// A skeleton or phonetic code held by more than one record in this many (and by
/// more than [`BROAD_FLOOR`] records) is left out of the candidate query: "mhmd"
/// or "MHMT" match a sixth of a million records, cost most of the query's
/// postings, and add next to nothing a token's own spelling, its neighbours
/// and its variant keys do not (the ranker still compares skeletons and codes).
/// Measured at 1,000,000 records: p95 8.2 → 5.4 ms, the same ranking.
const BROAD_SHARE: u64 = 50;
const BROAD_FLOOR: u64 = 20_000;
/// How far outside the asked birth years a name-less query still looks.
pub(crate) const YEAR_SLACK: i32 = 3;

/// The candidate query, or `None` when the query asks nothing.
pub(crate) fn candidate_query<'a>(
    f: &Fields,
    p: &Prepared,
    g: &'a Gazetteer,
    searcher: &Searcher,
    cache: &NeighbourCache,
) -> Result<Option<CandidateQuery>, SearchError> {
    let mut should = Should::default();
    if let Some(q) = &p.name {
        name_clauses(&mut should, f.own, q, W_NAME, searcher, cache)?;
    }
    for (q, nf) in [(&p.father, f.father), (&p.mother, f.mother)] {
        let Some(q) = q else { continue };
        name_clauses(&mut should, nf, q, W_PARENT, searcher, cache)?;
        // Inquiries by other relatives: the exact tokens only.
        for k in &q.tokens {
            should.add(f.relative.normalized, &k.normalized, W_PARENT);
        }
    }
    if let Some(q) = &p.place {
        name_clauses(&mut should, f.place, q, W_PLACE, searcher, cache)?;
        for c in &p.place_countries {
            should.add(f.country, c, W_PLACE);
        }
        // The gazetteer's places, by every spelling it knows of them: the place
        // itself; a district's villages too; around a village, weakly, its
        // district. Records' place words meet these (places are not indexed by
        // gazetteer id, which would cost every record several terms).
        let mut words: std::collections::BTreeMap<&str, f32> = Default::default();
        let mut want = |w: &'a str, weight: f32| {
            let e = words.entry(w).or_insert(0.0);
            *e = e.max(weight);
        };
        for m in &p.place_matches {
            if m.level == PlaceLevel::Country {
                continue;
            }
            for w in g.words(m.id) {
                want(w, 1.5 * W_PLACE);
            }
            match m.level {
                PlaceLevel::District => {
                    for &c in g.children(m.id) {
                        for w in g.words(c) {
                            want(w, W_PLACE);
                        }
                    }
                }
                _ => {
                    if let Some(d) = g.district_of(m.id) {
                        for w in g.words(d) {
                            want(w, 0.5 * W_PLACE);
                        }
                    }
                }
            }
        }
        for (w, weight) in words {
            should.add(f.place.normalized, w, weight);
        }
    }

    if !should.is_empty() {
        // Term queries alone, one per term. The kind of record, the consent rule,
        // the birth years and sex are the collector's (see [`CandidateFilter`]).
        let mut broad = Vec::new();
        for nf in [f.own, f.father, f.mother, f.relative, f.place] {
            broad.push(nf.skeleton);
            broad.extend(nf.phonetic);
        }
        let max_df = (searcher.num_docs() / BROAD_SHARE).max(BROAD_FLOOR);
        // Terms no record holds drop out here; a query whose every term is so
        // finds nothing (it still asked something).
        return Ok(Some(CandidateQuery::Terms(
            should.resolve(searcher, &broad, max_df)?,
        )));
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if let Some(y) = p.years {
        // No text: the birth years choose the candidates, sex only scores.
        let lo = Term::from_field_i64(f.birth_max, i64::from(y.min - YEAR_SLACK));
        let hi = Term::from_field_i64(f.birth_min, i64::from(y.max + YEAR_SLACK));
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(Bound::Included(lo), Bound::Unbounded)),
        ));
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(Bound::Unbounded, Bound::Included(hi))),
        ));
        if let Some(sex) = p.sex {
            clauses.push((Occur::Should, term_query(f.sex, sex.code(), 1.0)));
        }
    } else if let Some(sex) = p.sex {
        clauses.push((Occur::Must, term_query(f.sex, sex.code(), 1.0)));
    } else {
        return Ok(None);
    }
    Ok(Some(CandidateQuery::Tantivy(Box::new(BooleanQuery::new(
        clauses,
    )))))
}

/// What the candidate collector asks of a document's facts (see
/// `schema::pack_facts`): the hard filters, and how much its birth years and sex
/// scale its text score.
#[derive(Clone)]
pub(crate) struct CandidateFilter {
    years: Option<(i32, i32)>,
    sex: Option<u8>,
    /// The facts bit a document must have, or must not have, for the kind asked.
    kind: Option<bool>,
    /// Whether the consent rule applies (the search works for an agency).
    consent_rule: bool,
}

impl CandidateFilter {
    pub fn new(p: &Prepared) -> Self {
        CandidateFilter {
            years: p.years.map(|y| (y.min, y.max)),
            sex: p.sex.map(sex_code),
            kind: p.kind.map(|k| k == RecordKind::Inquiry),
            consent_rule: p.viewer_agency.is_some(),
        }
    }

    /// The birth years asked, if any.
    pub fn years(&self) -> Option<(i32, i32)> {
        self.years
    }

    /// The factor in [0, 1] for a document with these facts; 0 for a document the
    /// search must not return. `viewers_own` says whether the viewer's agency
    /// registered the document; it is only asked about children without consent.
    #[inline]
    pub fn factor(&self, facts: u64, viewers_own: impl FnOnce() -> bool) -> f32 {
        if self
            .kind
            .is_some_and(|inquiry| (facts & FACT_INQUIRY != 0) != inquiry)
        {
            return 0.0;
        }
        if self.consent_rule && facts & FACT_RESTRICTED != 0 && !viewers_own() {
            return 0.0;
        }
        if self.years.is_none() && self.sex.is_none() {
            return 1.0;
        }
        candidate_factor(self.years, self.sex, facts)
    }
}

/// The factor by which the birth years and sex of a candidate scale its text score,
/// so that the candidates kept for ranking already lean to the right age.
pub(crate) fn candidate_factor(p_years: Option<(i32, i32)>, p_sex: Option<u8>, facts: u64) -> f32 {
    let (sex, birth) = unpack_facts(facts);
    let mut f = p_years.map_or(1.0, |q| year_factor(q, birth));
    if let Some(q) = p_sex {
        if sex != 0 && sex != q {
            f *= 0.8;
        }
    }
    f
}

/// The birth years' part of [`candidate_factor`]: by the gap between the asked
/// years and the record's.
pub(crate) fn year_factor((qmin, qmax): (i32, i32), birth: Option<(i32, i32)>) -> f32 {
    match birth {
        Some((rmin, rmax)) => {
            let gap = if rmax < qmin {
                qmin - rmax
            } else if qmax < rmin {
                rmin - qmax
            } else {
                0
            };
            match gap {
                0 => 1.0,
                1 => 0.9,
                2 => 0.75,
                3 => 0.6,
                _ => 0.45,
            }
        }
        None => 0.7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use tantivy::schema::{Schema, STRING};
    use tantivy::{doc, Index, IndexWriter};

    /// The neighbours against every term of the index compared with the token:
    /// one edit away (optimal string alignment distance 1), no letter but a-z
    /// and the token's own, document counts summed over segments, the first in
    /// byte order. The index: random short words over a few letters and a digit,
    /// so that most tokens have neighbours, in two segments.
    #[test]
    fn the_neighbours_are_the_terms_one_edit_away() {
        let mut schema = Schema::builder();
        let field = schema.add_text_field("t", STRING);
        let index = Index::create_in_ram(schema.build());
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let letters = b"abdehilmnorsu7";
        let word = |rng: &mut rand::rngs::StdRng| -> String {
            (0..rng.random_range(1..=7))
                .map(|_| letters[rng.random_range(0..letters.len())] as char)
                .collect()
        };
        let mut words = Vec::new();
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 20_000_000).unwrap();
        for _segment in 0..2 {
            for _ in 0..3_000 {
                let w = word(&mut rng);
                writer.add_document(doc!(field => w.clone())).unwrap();
                if rng.random_bool(0.5) {
                    writer.add_document(doc!(field => w.clone())).unwrap();
                }
                words.push(w);
            }
            writer.commit().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 2);
        let mut all: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
        for seg in searcher.segment_readers() {
            let inverted = seg.inverted_index(field).unwrap();
            let mut terms = inverted.terms().stream().unwrap();
            while let Some((term, info)) = terms.next() {
                *all.entry(term.to_vec()).or_default() += u64::from(info.doc_freq);
            }
        }
        let mut tokens: Vec<String> = words.iter().take(200).cloned().collect();
        tokens.extend((0..200).map(|_| word(&mut rng) + "a"));
        tokens.extend(["aa", "a", "abba", "aaaaaaa", "héllo", "mississippi"].map(String::from));
        let mut with_neighbours = 0;
        for tok in &tokens {
            let expected: Vec<(String, u64)> = all
                .iter()
                .filter(|(term, _)| {
                    let term = std::str::from_utf8(term).unwrap();
                    tok.is_ascii()
                        && crate::compare::fast::osa(tok, term) == 1
                        && term
                            .bytes()
                            .all(|c| c.is_ascii_lowercase() || tok.as_bytes().contains(&c))
                })
                .take(MAX_NEIGHBOURS)
                .map(|(term, &df)| (String::from_utf8(term.clone()).unwrap(), df))
                .collect();
            let mut found = Vec::new();
            neighbours(&searcher, field, tok, &mut found).unwrap();
            assert_eq!(found, expected, "{tok}");
            with_neighbours += usize::from(!found.is_empty());
        }
        assert!(with_neighbours > tokens.len() / 2, "{with_neighbours}");
    }
}
