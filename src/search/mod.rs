//! The search index: a tantivy index derived from the store, and the tracing
//! officer's search over it.
//!
//! The SQLite store is the source of truth. Every record version stored there has a
//! sequence number; the index remembers (in its commit payload) the sequence number
//! it covers, so that the store can bring it up to date or rebuild it from scratch.
//! The index keeps only what ranking needs: the store re-reads records for display.
//!
//! A search runs in two steps. A broad, cheap query of weighted terms over
//! normalized tokens, their indexed neighbours within one edit, phonetic codes,
//! consonant skeletons, variant keys and nickname expansions, and gazetteer
//! places proposes a few dozen candidates (birth years and sex only tilt that
//! choice: ages are guessed); the `collect` module finds them without scoring every
//! document that holds a common name. Then famlink's own ranker
//! scores each candidate against the query on names (token by token, in any order,
//! Jaro–Winkler lifted by shared phonetic codes and skeletons, and by the name
//! rules' variants and nicknames), parents, place (as text and through the
//! gazetteer), birth years and sex, and returns the best, with scores in [0, 1] and
//! short reasons. The only hard filters are the kind of record and the consent
//! rule.
//!
//! What is indexed depends on the matching rules (`matching-rules/`, see
//! [`Rulebook`]): the index records their fingerprint, and an index built under
//! other rules is rebuilt.
//!
//! Measured on a shared 2-core machine (see `tests/search_bench.rs` and
//! BENCHMARKS.md): a million records index in 10–20 s into about 150–210 MiB with
//! under 300 MiB of memory, and a search takes about 1.7 ms of CPU (p95 under 4 ms
//! on a quiet core).

pub mod candidates;
mod collect;
mod common_bits;
mod document;
mod facts;
mod per_segment;
mod query;
mod rank;
mod schema;
mod summaries;
mod summary;

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use tantivy::directory::MmapDirectory;
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Score, Searcher,
    TantivyDocument, Term,
};

use crate::names::{name_parts, KeyCache, NameKeyer, SharedKeyCache};
use crate::places::PlaceLevel;
use crate::record::{AgeEstimate, PartialDate, Record, RecordKey, RecordKind, Sex, YearRange};
use crate::rulebook::Rulebook;
use crate::store::StoreRow;

use rank::{countries_named, Prepared, QueryName};
use schema::Fields;
use summary::{PlaceCache, Summary};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    #[error("search index: {0}")]
    Io(#[from] std::io::Error),
    #[error("the search index is being written by another writer")]
    WriterBusy,
    #[error("a search needs a name, a parent's name, a place, a birth date or age, or a sex")]
    EmptyQuery,
    #[error("search index entry is unreadable; rebuild the index")]
    Corrupt,
}

/// What the officer asks. Every criterion is optional; names are matched however
/// they are spelt, in any script, in any order.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub kind: Option<RecordKind>,
    /// The child's names, given and family in any order.
    pub name: Option<String>,
    pub father: Option<String>,
    pub mother: Option<String>,
    /// A village, district, separation place or country.
    pub place: Option<String>,
    pub born: Option<PartialDate>,
    /// Approximate age in years on `today`.
    pub age: Option<f32>,
    pub sex: Option<Sex>,
    /// How many hits to return (0 means [`SearchQuery::DEFAULT_LIMIT`]).
    pub limit: usize,
    /// When set, the searcher works for this agency: children without tracing
    /// consent from OTHER agencies are never returned.
    pub viewer_agency: Option<String>,
    /// When set, only records of this agency: a child without tracing consent
    /// looks for inquiries of its own agency alone, and other agencies' records
    /// must not fill its candidates.
    pub only_agency: Option<String>,
    /// The day `age` refers to (today for interactive searches); lets tests be
    /// deterministic.
    pub today: NaiveDate,
}

impl SearchQuery {
    pub const DEFAULT_LIMIT: usize = 20;

    /// A query with no criteria yet, ages counted on `today`.
    pub fn new(today: NaiveDate) -> Self {
        SearchQuery {
            kind: None,
            name: None,
            father: None,
            mother: None,
            place: None,
            born: None,
            age: None,
            sex: None,
            limit: Self::DEFAULT_LIMIT,
            viewer_agency: None,
            only_agency: None,
            today,
        }
    }

    /// The birth years the query allows: from `born` if given, else from `age`.
    pub fn birth_years(&self) -> Option<YearRange> {
        if let Some(born) = self.born {
            return Some(YearRange::single(born.year()));
        }
        let years = self.age.filter(|a| a.is_finite() && *a >= 0.0)?;
        Some(
            AgeEstimate {
                years,
                recorded_on: PartialDate::Day(self.today),
            }
            .birth_years(),
        )
    }
}

impl Default for SearchQuery {
    /// A query with no criteria, ages counted on the local date.
    fn default() -> Self {
        SearchQuery::new(chrono::Local::now().date_naive())
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchHit {
    pub key: RecordKey,
    /// The store's row the record was indexed from, when known (see
    /// [`IndexWriterSession::put_from`]). Not shown: the store's business.
    #[serde(skip)]
    pub row: Option<StoreRow>,
    /// How well the record answers the query, in [0, 1].
    pub score: f32,
    /// Short explanations, e.g. "name: mukhammed ~ mohammed (phonetic)".
    pub reasons: Vec<String>,
}

/// Candidates the ranker looks at, at least, when the query gives no birth
/// years. Measured at 1,000,000 records (`tests/search_bench.rs`): with 100 as
/// with 200, the target first in 94.4 % of queries and in the top 10 in 99.1 to
/// 99.2 % (runs differ by ties), never missing from the candidates; `famlink bench` (a name with one
/// typo, and the birth year when known) found the sought record first in 2,191
/// of 5,000 queries against 2,193 with 200, at a fifth less CPU per search.
const CANDIDATES: usize = 100;
/// Candidates the ranker looks at, at least, when the query gives birth years
/// (they scale the candidates' text scores); at least three per hit asked for.
/// Measured at 1,000,000 records (`tests/search_bench.rs`): the same ranking as
/// with 120 and 200 (the target first in 94.4 % of queries, in the top 10 in
/// 99.1 %, never missing from the candidates), at 40 % less CPU than with 120.
const CANDIDATES_WITH_YEARS: usize = 30;
/// Memory for the bitsets of common terms, over all segments (see
/// `common_bits`): at a million records a term's bitset is 125 KiB, and the
/// searches of `famlink bench-http` keep about 60 MiB of them.
const COMMON_BITS_BUDGET: usize = 256 << 20;
/// Hits scoring below this are not worth an officer's time.
const MIN_SCORE: f32 = 0.2;
/// Memory for the indexing threads together.
const WRITER_MEMORY: usize = 256 << 20;
/// Bytes per block of stored summaries (tantivy's default is 16 KiB).
const DOCSTORE_BLOCKSIZE: usize = 2048;
/// Distinct name parts whose keys the searcher keeps.
const KEY_CACHE_CAPACITY: usize = 200_000;
/// Changes with anything that changes what is indexed; an index of another format
/// is rebuilt. The rules' fingerprint is recorded next to it: an index built under
/// other matching rules is rebuilt too.
const FORMAT: &str = "famlink-search/10";

fn payload(rules: u64, through: u64) -> String {
    format!("{FORMAT} rules={rules:016x} through={through}")
}

/// The sequence number in a commit payload of this format and these rules.
fn parse_payload(payload: Option<&str>, rules: u64) -> Option<u64> {
    let rest = payload?.strip_prefix(FORMAT)?.strip_prefix(" rules=")?;
    let (fingerprint, through) = rest.split_once(" through=")?;
    if u64::from_str_radix(fingerprint, 16).ok()? != rules {
        return None;
    }
    through.parse().ok()
}

/// The segments a searcher reads.
fn live_segments(searcher: &Searcher) -> Vec<tantivy::index::SegmentId> {
    searcher
        .segment_readers()
        .iter()
        .map(|s| s.segment_id())
        .collect()
}

/// The search index of one data directory.
pub struct SearchIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    indexed_through: Arc<AtomicU64>,
    rules: Arc<Rulebook>,
    keyer: Arc<NameKeyer>,
    keys: SharedKeyCache,
    neighbours: query::NeighbourCache,
    facts: per_segment::PerSegment<facts::SegmentFacts>,
    /// Set by [`keep_summaries_in_memory`](Self::keep_summaries_in_memory).
    summaries_in_memory: AtomicBool,
    summaries: per_segment::PerSegment<summaries::SegmentSummaries>,
    common_bits: common_bits::CommonBits,
}

impl SearchIndex {
    /// Opens the index in `dir` (normally `<data>/search`) under the built-in
    /// matching rules, creating it if missing. An index of another format, or built
    /// under other rules, is deleted and created empty: it is derived data, and
    /// [`indexed_through`](Self::indexed_through) then says 0 so that the caller
    /// rebuilds it.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        Self::open_with_rules(dir, Rulebook::builtin())
    }

    /// [`open`](Self::open) under a deployment's own matching rules.
    pub fn open_with_rules(dir: &Path, rules: Arc<Rulebook>) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir)?;
        let fingerprint = rules.fingerprint();
        let (schema, fields) = schema::build();
        let existing =
            Index::exists(&MmapDirectory::open(dir)?).map_err(|e| SearchError::Index(e.into()))?;
        let mut index = None;
        let mut through = 0;
        if existing {
            let opened = Index::open_in_dir(dir)?;
            let metas = opened.load_metas()?;
            let seq = parse_payload(metas.payload.as_deref(), fingerprint);
            let fresh = metas.payload.is_none() && metas.segments.is_empty();
            if opened.schema() == schema && (seq.is_some() || fresh) {
                through = seq.unwrap_or(0);
                index = Some(opened);
            } else {
                drop(opened);
                remove_index_files(dir)?;
            }
        }
        let index = match index {
            Some(i) => i,
            None => Index::builder()
                .schema(schema)
                .settings(IndexSettings {
                    // The ranker reads dozens of summaries per search, at random:
                    // small, uncompressed blocks make each read cheap (decompressing
                    // them was an eighth of the service's CPU under load; the
                    // summaries are compact already, and the index is derived
                    // data the page cache holds).
                    docstore_blocksize: DOCSTORE_BLOCKSIZE,
                    docstore_compression: tantivy::store::Compressor::None,
                    ..IndexSettings::default()
                })
                .create_in_dir(dir)?,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let keyer = Arc::new(NameKeyer::with_rules(Arc::clone(&rules.names)));
        Ok(SearchIndex {
            dir: dir.to_path_buf(),
            index,
            reader,
            fields,
            indexed_through: Arc::new(AtomicU64::new(through)),
            keys: SharedKeyCache::with_keyer(Arc::clone(&keyer), KEY_CACHE_CAPACITY),
            keyer,
            rules,
            neighbours: query::NeighbourCache::default(),
            facts: Default::default(),
            summaries_in_memory: AtomicBool::new(false),
            summaries: Default::default(),
            common_bits: common_bits::CommonBits::with_budget(COMMON_BITS_BUDGET),
        })
    }

    /// The matching rules the index is built under.
    pub fn rules(&self) -> &Arc<Rulebook> {
        &self.rules
    }

    /// The store sequence number covered by the last commit; 0 if none.
    pub fn indexed_through(&self) -> u64 {
        self.indexed_through.load(Ordering::Acquire)
    }

    /// Starts writing. Only one writer may exist at a time, in this process or
    /// another: a second one gets [`SearchError::WriterBusy`]. Once it has the
    /// writer, [`indexed_through`](Self::indexed_through) is what is on disk.
    pub fn writer(&self) -> Result<IndexWriterSession, SearchError> {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        let writer = match self.index.writer_with_num_threads(threads, WRITER_MEMORY) {
            Ok(w) => w,
            Err(tantivy::TantivyError::LockFailure(..)) => return Err(SearchError::WriterBusy),
            Err(e) => return Err(e.into()),
        };
        // Another process may have committed since this index was opened: see its
        // documents (so `put` replaces rather than duplicates them) and its position.
        self.reader.reload()?;
        if let Some(seq) = parse_payload(
            self.index.load_metas()?.payload.as_deref(),
            self.rules.fingerprint(),
        ) {
            self.indexed_through.store(seq, Ordering::Release);
        }
        Ok(IndexWriterSession {
            writer,
            fields: self.fields,
            reader: self.reader.clone(),
            indexed_through: Arc::clone(&self.indexed_through),
            keys: KeyCache::with_keyer(Arc::clone(&self.keyer)),
            places: PlaceCache::default(),
            rules: Arc::clone(&self.rules),
            committed: Some(self.reader.searcher()),
            put_keys: HashSet::new(),
        })
    }

    /// From now on, the ranker reads the summaries of the candidates from a copy
    /// in memory (see `summaries`), made now for the segments there are and
    /// later for each new one, instead of from the doc store: for a process
    /// that searches many times (the service), at the price of about 150 MiB a
    /// million records.
    pub fn keep_summaries_in_memory(&self) -> Result<(), SearchError> {
        self.summaries_in_memory.store(true, Ordering::Release);
        let searcher = self.reader.searcher();
        self.summary_copies(&searcher, &live_segments(&searcher))
            .map(drop)
    }

    /// The summaries' copies of the searcher's segments (`live`), by segment
    /// ordinal; none unless
    /// [`keep_summaries_in_memory`](Self::keep_summaries_in_memory).
    fn summary_copies(
        &self,
        searcher: &Searcher,
        live: &[tantivy::index::SegmentId],
    ) -> Result<Option<Vec<Arc<summaries::SegmentSummaries>>>, SearchError> {
        if !self.summaries_in_memory.load(Ordering::Acquire) {
            return Ok(None);
        }
        searcher
            .segment_readers()
            .iter()
            .map(|seg| {
                self.summaries.get(seg, live, |s| {
                    summaries::SegmentSummaries::of(s, self.fields.summary)
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The best records for the query, best first.
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>, SearchError> {
        let p = self.prepare(q);
        if !p.has_criteria() {
            return Err(SearchError::EmptyQuery);
        }
        let searcher = self.reader.searcher();
        let Some(query) = query::candidate_query(
            &self.fields,
            &p,
            &self.rules.places,
            &searcher,
            &self.neighbours,
        )?
        else {
            return Err(SearchError::EmptyQuery);
        };
        let limit = if q.limit == 0 {
            SearchQuery::DEFAULT_LIMIT
        } else {
            q.limit
        };
        // Birth years already lean the pool to the right records: fewer will do.
        let least = if p.years.is_some() {
            CANDIDATES_WITH_YEARS
        } else {
            CANDIDATES
        };
        let pool = least.max(limit.saturating_mul(3));
        // The segments of this search: the copies of others are dropped.
        let live = live_segments(&searcher);
        let candidates = self.candidates(&searcher, &live, &query, &p, pool)?;

        let copies = self.summary_copies(&searcher, &live)?;
        let mut ranked: Vec<(f32, Summary, DocAddress)> = Vec::with_capacity(candidates.len());
        for addr in candidates {
            let s = match &copies {
                Some(copies) => Summary::decode(copies[addr.segment_ord as usize].get(addr.doc_id)),
                None => {
                    let doc: TantivyDocument = searcher.doc(addr)?;
                    summaries::stored(&doc, self.fields.summary).and_then(Summary::decode)
                }
            }
            .ok_or(SearchError::Corrupt)?;
            if !p.may_see(&s) || p.kind.is_some_and(|k| k != s.kind) {
                continue;
            }
            let (score, _) = rank::score(&p, &s, &self.keys, &self.rules.places, false);
            if score >= MIN_SCORE {
                ranked.push((score, s, addr));
            }
        }
        ranked.sort_by(|(sa, a, _), (sb, b, _)| {
            sb.total_cmp(sa).then_with(|| {
                (a.kind, &a.agency, &a.record_id).cmp(&(b.kind, &b.agency, &b.record_id))
            })
        });
        ranked.truncate(limit);
        // Reasons only for the hits returned.
        ranked
            .into_iter()
            .map(|(score, s, addr)| {
                let seg = searcher.segment_reader(addr.segment_ord);
                let row = self
                    .facts
                    .get(seg, &live, facts::SegmentFacts::of)?
                    .store_row(addr.doc_id);
                Ok(SearchHit {
                    key: s.key(),
                    row,
                    score,
                    reasons: rank::score(&p, &s, &self.keys, &self.rules.places, true).1,
                })
            })
            .collect()
    }

    /// Records in the index as of the last commit.
    pub fn num_records(&self) -> Result<u64, SearchError> {
        Ok(self.reader.searcher().num_docs())
    }

    /// Segments of the index as of the last commit (a diagnostic: fewer is faster).
    pub fn num_segments(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Bytes of the index files.
    pub fn size_on_disk(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// The `pool` best candidates of the query, best first.
    ///
    /// The text score of a document is scaled by a factor in [0, 1] read from its
    /// fast fields: the birth years and sex lean the pool to the right age, and the
    /// hard filters (the kind of record, the consent rule) give 0, so that a
    /// record the viewer may not see never takes the place of one it may. Weighted
    /// terms are collected by [`collect`], which skips the documents that cannot
    /// make the pool; a query without text scores every match.
    fn candidates(
        &self,
        searcher: &Searcher,
        live: &[tantivy::index::SegmentId],
        query: &query::CandidateQuery,
        p: &Prepared,
        pool: usize,
    ) -> Result<Vec<DocAddress>, SearchError> {
        enum Collector<'a> {
            Terms(collect::Plan<'a>),
            Tantivy(Box<dyn tantivy::query::Weight>),
        }
        let collector = match query {
            query::CandidateQuery::Tantivy(q) => Collector::Tantivy(q.weight(
                tantivy::query::EnableScoring::enabled_from_searcher(searcher),
            )?),
            query::CandidateQuery::Terms(terms) => {
                Collector::Terms(collect::Plan::new(searcher, terms))
            }
        };
        let filter = query::CandidateFilter::new(p);
        let mut heap = TopCandidates::new(pool);
        for (ord, seg) in searcher.segment_readers().iter().enumerate() {
            let facts = self.facts.get(seg, live, facts::SegmentFacts::of)?;
            let agencies = if p.viewer_agency.is_some() || p.only_agency.is_some() {
                seg.fast_fields().str("agency")?
            } else {
                None
            };
            // An agency as an ordinal of this segment's agency column.
            let ord_of = |agency: &str| -> Result<Option<u64>, SearchError> {
                match &agencies {
                    Some(col) => Ok(col.dictionary().term_ord(agency.as_bytes())?),
                    None => Ok(None),
                }
            };
            // The viewer's agency: only read for children without consent.
            let viewer = match &p.viewer_agency {
                Some(v) => ord_of(v)?,
                None => None,
            };
            // Only one agency's records (a segment without that agency has nothing
            // to give).
            let only = match &p.only_agency {
                Some(a) => match ord_of(a)? {
                    Some(o) => Some(o),
                    None => continue,
                },
                None => None,
            };
            let agency_of =
                |doc: tantivy::DocId| agencies.as_ref().and_then(|c| c.ords().first(doc));
            let alive = seg.alive_bitset();
            let gate = |doc: tantivy::DocId| -> Score {
                if alive.is_some_and(|a| a.is_deleted(doc)) {
                    return 0.0;
                }
                if only.is_some() && agency_of(doc) != only {
                    return 0.0;
                }
                filter.factor(facts.get(doc), || {
                    // Hidden unless the viewer's own agency registered it.
                    viewer.is_some() && agency_of(doc) == viewer
                })
            };
            let seg_ord = ord as u32;
            match &collector {
                Collector::Terms(plan) => {
                    // With birth years asked, their factor prunes the documents
                    // of other years before their postings are sought; the gate
                    // then finds the document's facts in the cache (see `facts`).
                    let years = filter.years().map(|asked| facts.year_bounds(asked));
                    let bound = |doc: tantivy::DocId| -> Score {
                        years.as_ref().map_or(1.0, |b| b.get(doc))
                    };
                    let kept = self.common_bits.segment(seg, live)?;
                    plan.collect_segment(seg, seg_ord, &gate, &bound, &mut heap, &kept)?;
                }
                Collector::Tantivy(weight) => {
                    weight.for_each(seg, &mut |doc, score| {
                        if score <= heap.threshold() {
                            return;
                        }
                        let factor = gate(doc);
                        if factor > 0.0 {
                            heap.push(score * factor, DocAddress::new(seg_ord, doc));
                        }
                    })?;
                }
            }
        }
        Ok(heap.into_sorted())
    }

    fn prepare(&self, q: &SearchQuery) -> Prepared {
        let names = &self.rules.names;
        // A placeholder typed into a criterion asks nothing.
        fn given<'a>(names: &crate::names::NameRules, t: &'a Option<String>) -> Option<&'a str> {
            t.as_deref().filter(|t| !names.is_placeholder(t))
        }
        let name =
            |t: &Option<String>| given(names, t).and_then(|t| QueryName::of_name(t, &self.keys));
        let place_text = given(names, &q.place);
        let place_matches = place_text
            .map(|t| self.rules.places.resolve(t))
            .unwrap_or_default();
        let mut place_countries = place_text.map(countries_named).unwrap_or_default();
        for m in place_matches
            .iter()
            .filter(|m| m.level == PlaceLevel::Country)
        {
            let c = m.country.as_str().to_owned();
            if !place_countries.contains(&c) {
                place_countries.push(c);
            }
        }
        Prepared {
            kind: q.kind,
            name: name(&q.name),
            father: name(&q.father),
            mother: name(&q.mother),
            place: place_text.and_then(|t| QueryName::from_parts(name_parts(t), &self.keys)),
            place_matches,
            place_countries,
            years: q.birth_years(),
            sex: q.sex.filter(|s| *s != Sex::Unknown),
            viewer_agency: q.viewer_agency.clone(),
            only_agency: q.only_agency.clone(),
        }
    }
}

/// The best scored documents so far, at most `capacity`: a min-heap whose least
/// score is the threshold to beat once it is full. Of equal scores the earlier
/// document is kept, as tantivy's own collector does.
struct TopCandidates {
    capacity: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Scored>>,
}

#[derive(PartialEq)]
struct Scored(Score, DocAddress);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    /// Better is greater: a higher score, then an earlier document.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .total_cmp(&other.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

impl TopCandidates {
    fn new(capacity: usize) -> Self {
        TopCandidates {
            capacity,
            heap: std::collections::BinaryHeap::with_capacity(capacity + 1),
        }
    }

    /// Whether the document entered.
    fn push(&mut self, score: Score, addr: DocAddress) -> bool {
        if self.heap.len() < self.capacity {
            self.heap.push(std::cmp::Reverse(Scored(score, addr)));
            return true;
        }
        match self.heap.peek_mut() {
            Some(mut least) => {
                let s = Scored(score, addr);
                let better = s > least.0;
                if better {
                    least.0 = s;
                }
                better
            }
            None => false,
        }
    }

    /// The score a document must beat to enter.
    fn threshold(&self) -> Score {
        if self.heap.len() < self.capacity {
            Score::MIN
        } else {
            self.heap.peek().map_or(Score::MIN, |least| least.0 .0)
        }
    }

    /// The pool with scores, in no order (for tests).
    #[cfg(test)]
    fn scored(self) -> Vec<(Score, DocAddress)> {
        self.heap
            .into_iter()
            .map(|std::cmp::Reverse(Scored(s, addr))| (s, addr))
            .collect()
    }

    fn into_sorted(self) -> Vec<DocAddress> {
        // Ascending by `Reverse`: best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|std::cmp::Reverse(Scored(_, addr))| addr)
            .collect()
    }
}

/// Deletes the files of a tantivy index, and nothing else, from `dir`.
fn remove_index_files(dir: &Path) -> Result<(), SearchError> {
    const EXTENSIONS: [&str; 7] = ["idx", "pos", "term", "fast", "fieldnorm", "store", "del"];
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let ours = name == "meta.json"
            || name == ".managed.json"
            || (EXTENSIONS.contains(&ext) && path.is_file());
        if ours {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Writes to the index. Nothing is visible to searches until [`commit`](Self::commit);
/// dropping a session without committing discards its changes.
pub struct IndexWriterSession {
    writer: IndexWriter<TantivyDocument>,
    fields: Fields,
    reader: IndexReader,
    indexed_through: Arc<AtomicU64>,
    keys: KeyCache,
    places: PlaceCache,
    rules: Arc<Rulebook>,
    /// The index as committed when the session began, to know whether a key is
    /// there already; `None` after [`clear`](Self::clear).
    committed: Option<Searcher>,
    /// Hashes of the keys put in this session.
    put_keys: HashSet<u64>,
}

impl IndexWriterSession {
    /// Adds a record, replacing any document with the same key.
    ///
    /// The delete is only issued when the key may be in the index (committed
    /// before, or put earlier in this session): each delete costs tantivy about a
    /// kilobyte until the commit, which a bulk load of a million new records cannot
    /// afford.
    pub fn put(&mut self, record: &Record) -> Result<(), SearchError> {
        self.put_from(record, None)
    }

    /// [`put`](Self::put) for a record read from the store at `row`: its hits
    /// carry the row, for the store to read them again by it.
    pub fn put_from(&mut self, record: &Record, row: Option<StoreRow>) -> Result<(), SearchError> {
        let summary = Summary::from_record(record, &self.rules, &mut self.places);
        let mut doc = document::build(
            &self.fields,
            &summary,
            &mut self.keys,
            &self.rules.names,
            &self.rules.places,
        );
        doc.add_i64(self.fields.store_row, row.map_or(0, |r| r.0));
        let key = document::key_text(summary.kind, &summary.agency, &summary.record_id);
        let term = Term::from_field_text(self.fields.key, &key);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let put_before = !self.put_keys.insert(hasher.finish());
        // doc_freq counts deleted documents too: at worst a useless delete.
        let committed = match &self.committed {
            Some(searcher) => searcher.doc_freq(&term)? > 0,
            None => false,
        };
        if put_before || committed {
            self.writer.delete_term(term);
        }
        self.writer.add_document(doc)?;
        Ok(())
    }

    /// Removes the record with this key, if indexed.
    pub fn delete(&mut self, key: &RecordKey) -> Result<(), SearchError> {
        let key = document::key_text_of(key);
        self.writer
            .delete_term(Term::from_field_text(self.fields.key, &key));
        Ok(())
    }

    /// Deletes every document, for a rebuild. Call it before any `put` of the
    /// session.
    pub fn clear(&mut self) -> Result<(), SearchError> {
        self.writer.delete_all_documents()?;
        self.committed = None;
        self.put_keys.clear();
        Ok(())
    }

    /// Commits, recording that the index now covers the store through `through_seq`,
    /// and waits for segment merges so that the index is compact when this returns.
    pub fn commit(self, through_seq: u64) -> Result<(), SearchError> {
        self.commit_with(through_seq, false)
    }

    /// [`commit`](Self::commit), then merges every segment into one: for the end
    /// of a bulk load, which leaves several segments of similar size that
    /// tantivy's merge policy does not join. Each segment costs every search its
    /// own term lookups and scorers, so a single one searches markedly faster.
    pub fn commit_compact(self, through_seq: u64) -> Result<(), SearchError> {
        self.commit_with(through_seq, true)
    }

    fn commit_with(mut self, through_seq: u64, compact: bool) -> Result<(), SearchError> {
        if compact {
            // No merges of the policy's own to collide with the one below.
            self.writer
                .set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        }
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&payload(self.rules.fingerprint(), through_seq));
        prepared.commit()?;
        if compact {
            let ids = self.writer.index().searchable_segment_ids()?;
            if ids.len() > 1 {
                self.writer.merge(&ids).wait()?;
            }
        }
        self.writer.wait_merging_threads()?;
        self.reader.reload()?;
        self.indexed_through.store(through_seq, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        assert_eq!(parse_payload(Some(&payload(7, 42)), 7), Some(42));
        // Other rules, another format, none.
        assert_eq!(parse_payload(Some(&payload(8, 42)), 7), None);
        assert_eq!(parse_payload(Some("famlink-search/4 through=3"), 7), None);
        assert_eq!(parse_payload(None, 7), None);
    }
}
