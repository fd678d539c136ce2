//! The candidate pool of a query of weighted terms, found without scoring every
//! document that holds a common name.
//!
//! A document scores the sum of the weights of the query terms it holds (a term's
//! weight is its boost times its rarity), scaled by a factor in [0, 1] that the
//! caller's gate reads from the document's fast fields (kind, consent, birth
//! years, sex; 0 keeps it out); the `pool` best documents are kept.
//!
//! Scored exhaustively, a query for "Mohamad Ali" over a million children visits
//! a quarter of a million postings ("mohamed", "ali" and their variant keys), and
//! nearly every document they bring is out of the running. The same pool is found
//! in two phases that score far fewer:
//!
//! 1. **Rare terms** (held by few documents) are read whole, as one union. Each
//!    document it brings is completed by seeking the common terms' postings to
//!    it, so it enters the pool with its full score, and the pool's threshold rises
//!    to what a good candidate scores.
//! 2. **Documents holding common terms only**: MaxScore over the common terms
//!    (Turtle and Flood, 1995). The lightest terms whose weights together cannot
//!    beat the threshold are not walked, only seeked for the documents that the
//!    heavier terms bring; when the threshold rises past another term, the walk
//!    goes on without it from the next window.
//!
//! Both phases walk their clauses a window of documents at a time (see
//! [`Window`]): a term's postings a decoded block at a time, a group of
//! spellings from the bitset it is held in anyway. A term common in a segment is
//! read from its bitset kept by `common_bits` (when the budget allows), and
//! sought there with one load instead of a block decoded.
//!
//! No document that the exhaustive evaluation would put in the pool is skipped: a
//! document is left out only when the weights it holds or could still hold, times
//! at most 1, fall short of the threshold (of documents tied at the threshold,
//! another may be kept).

use std::rc::Rc;
use std::sync::Arc;

use tantivy::postings::{BlockSegmentPostings, SegmentPostings, TermInfo};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher, SegmentReader, Term};

use super::common_bits::SegmentBits;
use super::query::Clause;
use super::{SearchError, TopCandidates};

/// A term counts as rare when at most one document in this many holds it (or at
/// most [`RARE_FLOOR`] documents do): phase 1 reads its postings whole. Others
/// are common, and in a segment where they are common too their bitsets are
/// kept. A knob for speed only; the pool does not depend on it.
const RARE_SHARE: u64 = 200;
const RARE_FLOOR: u64 = 2_000;

/// The clauses of a query split for the two phases: rare single terms are read
/// in phase 1; groups of spellings are never (their documents are mostly near
/// misses of the name asked, and are held as a bitset to be looked up in).
pub(crate) struct Plan<'a> {
    /// Phase 1's terms, with their weights.
    rare: Vec<(&'a Term, Score)>,
    /// The common terms and the groups, heaviest first.
    common: Vec<&'a Clause>,
    /// Documents holding a term, at most, for it to count as rare.
    rare_limit: u64,
}

impl<'a> Plan<'a> {
    pub fn new(searcher: &Searcher, clauses: &'a [Clause]) -> Self {
        let rare_limit = (searcher.num_docs() / RARE_SHARE).max(RARE_FLOOR);
        Self::with_rare_limit(clauses, rare_limit)
    }

    fn with_rare_limit(clauses: &'a [Clause], rare_limit: u64) -> Self {
        let (rare, mut common): (Vec<_>, Vec<_>) = clauses
            .iter()
            .partition(|c| !c.is_group() && c.doc_freq <= rare_limit);
        common.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        let rare = rare.into_iter().map(|c| (&c.terms[0], c.weight)).collect();
        Plan {
            rare,
            common,
            rare_limit,
        }
    }

    /// Adds the best documents of one segment to `heap`. `gate` gives a
    /// document's factor in [0, 1] (0: never a candidate, e.g. deleted or
    /// hidden from the viewer); `bound`, cheaper, a number never below it,
    /// asked before the document's postings are sought. `kept` holds the
    /// segment's bitsets of common terms, and takes new ones while its budget
    /// lasts.
    pub fn collect_segment(
        &self,
        seg: &SegmentReader,
        seg_ord: u32,
        gate: &dyn Fn(DocId) -> Score,
        bound: &dyn Fn(DocId) -> Score,
        heap: &mut TopCandidates,
        kept: &SegmentBits,
    ) -> Result<(), SearchError> {
        let max_doc = seg.max_doc();
        if max_doc == 0 {
            return Ok(());
        }
        // Where each common clause's documents are read from, found once for
        // both phases: a group's bitset is made here.
        let sources = self
            .common
            .iter()
            .map(|c| -> Result<_, SearchError> {
                Ok(match c.is_group() {
                    true => Source::Bits(Bits::Search(Rc::new(holders(
                        seg,
                        c,
                        kept,
                        self.rare_limit,
                    )?))),
                    false => source(seg, &c.terms[0], kept, self.rare_limit)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let clauses = || self.common.iter().zip(&sources);
        // The common clauses, heaviest first, as cursors to seek in...
        let cursors = || -> Result<Vec<Cursor>, SearchError> {
            clauses()
                .map(|(c, source)| {
                    let docs = match source {
                        Source::Bits(bits) => Docs::Bits(bits.clone()),
                        Source::Postings(None) => Docs::Postings(None),
                        Source::Postings(Some(info)) => Docs::Postings(Some(Box::new(
                            seg.inverted_index(c.terms[0].field())?
                                .read_postings_from_terminfo(info, IndexRecordOption::Basic)?,
                        ))),
                    };
                    Ok(Cursor {
                        docs,
                        weight: c.weight,
                    })
                })
                .collect()
        };
        // ... or to walk, with their weights.
        let walkers = || -> Result<Vec<(Walker, Score)>, SearchError> {
            clauses()
                .map(|(c, source)| {
                    let walker = match source {
                        Source::Bits(bits) => Walker::bits(bits.clone()),
                        Source::Postings(None) => Walker::Done,
                        Source::Postings(Some(info)) => Walker::from_info(seg, &c.terms[0], info)?,
                    };
                    Ok((walker, c.weight))
                })
                .collect()
        };
        // Documents phase 1 scored, which phase 2 must not score again.
        let mut seen = DocBits::new(max_doc);
        let mut window = Window::new();

        // Phase 1: the rare terms' documents, each completed with the common
        // terms, heaviest first so that a document out of the running is known
        // after the fewest seeks; `rest[i]` is what common terms i.. can add.
        if !self.rare.is_empty() {
            let mut heavy = cursors()?;
            let mut rest = vec![0.0; heavy.len() + 1];
            for i in (0..heavy.len()).rev() {
                rest[i] = rest[i + 1] + heavy[i].weight;
            }
            let mut walkers = Vec::with_capacity(self.rare.len());
            for &(term, weight) in &self.rare {
                walkers.push((Walker::postings(seg, term)?, weight));
            }
            let mut from = 0;
            while let Some(end) = window.fill(&mut walkers, from) {
                window.drain(|d, rare_score| {
                    seen.insert(d);
                    let left = heavy.iter_mut().zip(rest[1..].iter().copied());
                    if let Some(score) =
                        complete(d, rare_score, rest[0], heap.threshold(), bound, left)
                    {
                        offer(heap, gate, score, DocAddress::new(seg_ord, d));
                    }
                });
                from = end;
            }
        }

        // Phase 2: documents holding common terms only.
        if self.common.is_empty() {
            return Ok(());
        }
        // Lightest first; `upto[i]` is what terms ..=i can add together.
        let mut light = cursors()?;
        light.reverse();
        let mut upto = Vec::with_capacity(light.len());
        let mut sum = 0.0;
        for c in &light {
            sum += c.weight;
            upto.push(sum);
        }
        // Terms [..lead) are too light together to make a document a candidate;
        // the others (heaviest first, as `common`) bring the documents to look
        // at, a window at a time. A document's sum is added in the clauses'
        // order whichever of them are walked or sought, so a window walked
        // before the threshold rose scores its documents as one walked after.
        let lead_for = |threshold: Score| upto.iter().take_while(|&&u| u < threshold).count();
        let mut lead = lead_for(heap.threshold());
        let mut walkers = walkers()?;
        let mut from = 0;
        while lead < light.len() {
            let essential = light.len() - lead;
            let Some(end) = window.fill(&mut walkers[..essential], from) else {
                break;
            };
            // The light terms heaviest first, each with what the lighter ones
            // after it can add.
            let gain = if lead > 0 { upto[lead - 1] } else { 0.0 };
            let mut raised = lead;
            window.drain(|d, walked| {
                if seen.contains(d) {
                    return;
                }
                let left = light[..lead]
                    .iter_mut()
                    .enumerate()
                    .rev()
                    .map(|(i, c)| (c, if i > 0 { upto[i - 1] } else { 0.0 }));
                let score = complete(d, walked, gain, heap.threshold(), bound, left);
                if score.is_some_and(|s| offer(heap, gate, s, DocAddress::new(seg_ord, d))) {
                    raised = lead_for(heap.threshold());
                }
            });
            // The next window leaves out the terms that became too light.
            lead = raised;
            from = end;
        }
        Ok(())
    }
}

/// Documents a window holds (tantivy's union reads as many ahead).
const WINDOW: usize = 4096;

/// The documents of a stretch of a segment that some walked clause holds, each
/// with the sum of those clauses' weights.
///
/// Tantivy's union of scorers does the same through a virtual call or three per
/// posting. Here each term's postings are read a decoded block at a time and each
/// group's bitset a word at a time into the window (a bit and a score a
/// document), and the window's documents go out in order. The weights are added
/// in the clauses' order, as tantivy's union added them: the same sums to the
/// last bit.
struct Window {
    /// The first document; a multiple of 64, so that a group's words fall on
    /// the window's.
    start: DocId,
    scores: Box<[Score; WINDOW]>,
    bits: [u64; WINDOW / 64],
}

impl Window {
    fn new() -> Self {
        Window {
            start: 0,
            scores: Box::new([0.0; WINDOW]),
            bits: [0; WINDOW / 64],
        }
    }

    /// Fills the window from the first document at or after `from` that a
    /// walker holds: each walker's documents in the window, with its weight.
    /// The window's end, or `None` when the walkers hold nothing more.
    fn fill(&mut self, walkers: &mut [(Walker, Score)], from: DocId) -> Option<DocId> {
        let first = walkers.iter_mut().filter_map(|(w, _)| w.next(from)).min()?;
        // Stretches of the segment that no walker holds are skipped.
        self.start = first & !63;
        let end = self.start.saturating_add(WINDOW as DocId);
        for (w, weight) in walkers.iter_mut() {
            w.fill(self, end, *weight);
        }
        Some(end)
    }

    #[inline]
    fn add(&mut self, d: DocId, weight: Score) {
        let i = (d - self.start) as usize;
        self.bits[i >> 6] |= 1 << (i & 63);
        self.scores[i] += weight;
    }

    /// Hands out the window's documents in order, with their sums, and empties it.
    fn drain(&mut self, mut f: impl FnMut(DocId, Score)) {
        for (w, word) in self.bits.iter_mut().enumerate() {
            while *word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                *word &= *word - 1;
                f(self.start + i as DocId, self.scores[i]);
                self.scores[i] = 0.0;
            }
        }
    }
}

/// A clause's documents, read forward a window at a time.
enum Walker {
    /// A term's postings, a decoded block at a time; `at` is the next posting
    /// in the block.
    Postings {
        block: Box<BlockSegmentPostings>,
        at: usize,
    },
    /// A group's or a kept term's bitset; `word` is the first word not yet read.
    Bits { bits: Bits, word: usize },
    /// Nothing left.
    Done,
}

impl Walker {
    fn postings(seg: &SegmentReader, term: &Term) -> Result<Walker, SearchError> {
        match seg.inverted_index(term.field())?.get_term_info(term)? {
            Some(info) => Walker::from_info(seg, term, &info),
            None => Ok(Walker::Done),
        }
    }

    /// The postings of `term`, whose entry in the segment's dictionary is `info`.
    fn from_info(seg: &SegmentReader, term: &Term, info: &TermInfo) -> Result<Walker, SearchError> {
        let block = seg
            .inverted_index(term.field())?
            .read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
        Ok(if block.docs().is_empty() {
            Walker::Done
        } else {
            Walker::Postings {
                block: Box::new(block),
                at: 0,
            }
        })
    }

    fn bits(bits: Bits) -> Walker {
        Walker::Bits { bits, word: 0 }
    }

    /// The first document left at or after `from` (the documents before `from`
    /// have all been read: windows go forward).
    fn next(&mut self, from: DocId) -> Option<DocId> {
        match self {
            Walker::Postings { block, at } => Some(block.docs()[*at]),
            Walker::Bits { bits, word } => {
                let words = bits.words();
                *word = (*word).max((from >> 6) as usize);
                while *word < words.len() {
                    let mut w = words[*word];
                    if *word == (from >> 6) as usize {
                        w &= u64::MAX << (from & 63);
                    }
                    if w != 0 {
                        return Some((*word * 64) as DocId + w.trailing_zeros());
                    }
                    *word += 1;
                }
                *self = Walker::Done;
                None
            }
            Walker::Done => None,
        }
    }

    /// Adds the documents before `end` to the window.
    fn fill(&mut self, window: &mut Window, end: DocId, weight: Score) {
        match self {
            Walker::Postings { block, at } => loop {
                let docs = block.docs();
                while *at < docs.len() && docs[*at] < end {
                    window.add(docs[*at], weight);
                    *at += 1;
                }
                if *at < docs.len() {
                    return;
                }
                block.advance();
                *at = 0;
                if block.docs().is_empty() {
                    *self = Walker::Done;
                    return;
                }
            },
            Walker::Bits { bits, word } => {
                // The window starts on a word; the words before `word` were read.
                let first = (window.start >> 6) as usize;
                let from = first.max(*word);
                let words = bits.words();
                let to = (end as usize).div_ceil(64).min(words.len());
                for (at, &w) in words.iter().enumerate().take(to).skip(from) {
                    let mut w = w;
                    while w != 0 {
                        window.add((at * 64) as DocId + w.trailing_zeros(), weight);
                        w &= w - 1;
                    }
                }
                *word = from.max(to);
            }
            Walker::Done => {}
        }
    }
}

/// Document `d`'s whole score, from the `score` it has and the clauses `left`
/// (heaviest first, each with what the clauses after it can add; `gain` is what
/// they can add together), or `None` as soon as what it could reach, times the
/// bound on its factor, falls short of `threshold`. The bound is only read for a
/// document that could reach the threshold unscaled.
fn complete<'c>(
    d: DocId,
    mut score: Score,
    gain: Score,
    threshold: Score,
    bound: &dyn Fn(DocId) -> Score,
    left: impl Iterator<Item = (&'c mut Cursor, Score)>,
) -> Option<Score> {
    if score + gain < threshold {
        return None;
    }
    let most = bound(d);
    if (score + gain) * most < threshold {
        return None;
    }
    for (c, after) in left {
        score += c.weight_at(d);
        if (score + after) * most < threshold {
            return None;
        }
    }
    Some(score)
}

/// Offers a document with its unscaled score; the factor (a fast-field read) is
/// only asked of documents that reach the threshold. Whether it entered.
fn offer(
    heap: &mut TopCandidates,
    gate: &dyn Fn(DocId) -> Score,
    score: Score,
    addr: DocAddress,
) -> bool {
    let threshold = heap.threshold();
    if score < threshold {
        return false;
    }
    let factor = gate(addr.doc_id);
    if factor <= 0.0 || score * factor < threshold {
        return false;
    }
    heap.push(score * factor, addr)
}

/// Where a common clause's documents are read from in a segment.
enum Source {
    /// A bitset: a group's, or a common term's kept one.
    Bits(Bits),
    /// A term's postings, by its entry in the dictionary (`None`: the segment
    /// has no such term).
    Postings(Option<TermInfo>),
}

/// A clause's documents as a bitset: a group's, made for one search, or a common
/// term's, kept with its segment.
#[derive(Clone)]
enum Bits {
    Search(Rc<DocBits>),
    Kept(Arc<[u64]>),
}

impl Bits {
    #[inline]
    fn words(&self) -> &[u64] {
        match self {
            Bits::Search(bits) => &bits.0,
            Bits::Kept(words) => words,
        }
    }

    #[inline]
    fn contains(&self, d: DocId) -> bool {
        self.words()[(d >> 6) as usize] & (1 << (d & 63)) != 0
    }
}

/// Where term `t`'s documents are read from: its kept bitset if it has one or
/// is common enough in the segment to be given one, else its postings.
fn source(
    seg: &SegmentReader,
    t: &Term,
    kept: &SegmentBits,
    rare_limit: u64,
) -> Result<Source, SearchError> {
    if let Some(bits) = kept.get(t) {
        return Ok(Source::Bits(Bits::Kept(bits)));
    }
    let Some(info) = seg.inverted_index(t.field())?.get_term_info(t)? else {
        return Ok(Source::Postings(None));
    };
    Ok(match keep(seg, t, &info, kept, rare_limit)? {
        Some(bits) => Source::Bits(Bits::Kept(bits)),
        None => Source::Postings(Some(info)),
    })
}

/// Makes and keeps term `t`'s bitset if the term is common in the segment (more
/// than `rare_limit` documents hold it) and the budget has room.
fn keep(
    seg: &SegmentReader,
    t: &Term,
    info: &TermInfo,
    kept: &SegmentBits,
    rare_limit: u64,
) -> Result<Option<Arc<[u64]>>, SearchError> {
    if u64::from(info.doc_freq) <= rare_limit {
        return Ok(None);
    }
    let words = (seg.max_doc() as usize).div_ceil(64);
    kept.keep(t, words, |words| {
        each_posting(seg, t, info, |d| words[(d >> 6) as usize] |= 1 << (d & 63))
    })
}

/// Calls `f` with each document of term `t`'s postings, in order.
fn each_posting(
    seg: &SegmentReader,
    t: &Term,
    info: &TermInfo,
    mut f: impl FnMut(DocId),
) -> Result<(), SearchError> {
    let mut block = seg
        .inverted_index(t.field())?
        .read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
    loop {
        let docs = block.docs();
        if docs.is_empty() {
            return Ok(());
        }
        docs.iter().copied().for_each(&mut f);
        block.advance();
    }
}

/// The documents of a segment that hold any of a clause's terms: a member
/// common in the segment from its kept bitset (made now if need be), word by
/// word; the others from their postings.
fn holders(
    seg: &SegmentReader,
    c: &Clause,
    kept: &SegmentBits,
    rare_limit: u64,
) -> Result<DocBits, SearchError> {
    let mut bits = DocBits::new(seg.max_doc());
    for t in &c.terms {
        match source(seg, t, kept, rare_limit)? {
            Source::Bits(member) => {
                for (w, m) in bits.0.iter_mut().zip(member.words()) {
                    *w |= m;
                }
            }
            Source::Postings(Some(info)) => each_posting(seg, t, &info, |d| bits.insert(d))?,
            Source::Postings(None) => {}
        }
    }
    Ok(bits)
}

/// A common clause's documents in one segment.
struct Cursor {
    docs: Docs,
    weight: Score,
}

enum Docs {
    /// A term's postings, sought forward only.
    Postings(Option<Box<SegmentPostings>>),
    /// A group's or a kept term's documents.
    Bits(Bits),
}

impl Cursor {
    /// The clause's weight if document `d` holds it (for postings, `d` never
    /// below the last asked).
    fn weight_at(&mut self, d: DocId) -> Score {
        let holds = match &mut self.docs {
            Docs::Postings(None) => false,
            Docs::Postings(Some(p)) => {
                if p.doc() < d {
                    p.seek(d);
                }
                p.doc() == d
            }
            Docs::Bits(bits) => bits.contains(d),
        };
        if holds {
            self.weight
        } else {
            0.0
        }
    }
}

/// A set of a segment's documents, one bit each.
///
/// Its buffer goes back to the thread when dropped, for the next search to
/// reuse: at a million documents a set is 125 KiB, and a zeroed allocation of
/// that size is fresh pages from the system (page faults) more often than not.
struct DocBits(Vec<u64>);

thread_local! {
    static SPARE_BITS: std::cell::RefCell<Vec<Vec<u64>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Buffers a thread keeps for reuse, at most (a search holds one, and one per
/// group of spellings).
const SPARE_BUFFERS: usize = 8;

impl DocBits {
    fn new(max_doc: DocId) -> Self {
        let mut words = SPARE_BITS
            .with(|s| s.borrow_mut().pop())
            .unwrap_or_default();
        words.clear();
        words.resize((max_doc as usize).div_ceil(64), 0);
        DocBits(words)
    }

    #[inline]
    fn insert(&mut self, d: DocId) {
        self.0[(d >> 6) as usize] |= 1 << (d & 63);
    }

    #[inline]
    fn contains(&self, d: DocId) -> bool {
        self.0[(d >> 6) as usize] & (1 << (d & 63)) != 0
    }
}

impl Drop for DocBits {
    fn drop(&mut self) {
        let words = std::mem::take(&mut self.0);
        SPARE_BITS.with(|s| {
            let mut spare = s.borrow_mut();
            if spare.len() < SPARE_BUFFERS {
                spare.push(words);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::common_bits::CommonBits;
    use super::*;
    use rand::{Rng, SeedableRng};
    use tantivy::schema::{Schema, STRING};
    use tantivy::{doc, Index};

    /// Every document the walkers hold, in order, with the sum of their weights.
    fn walk_all(mut walkers: Vec<(Walker, Score)>) -> Vec<(DocId, Score)> {
        let mut window = Window::new();
        let mut got = Vec::new();
        let mut from = 0;
        while let Some(end) = window.fill(&mut walkers, from) {
            window.drain(|d, s| got.push((d, s)));
            from = end;
        }
        got
    }

    /// The windowed walk against the terms' documents one by one, over a
    /// segment of several windows with stretches that no term holds, with terms
    /// read by block and groups read from their bitsets: every holder once, in
    /// order, with its clauses' weights summed in their order (a group's once).
    #[test]
    fn the_walk_gives_each_holder_once_in_order_with_its_weights() {
        let mut schema = Schema::builder();
        let field = schema.add_text_field("t", STRING);
        let index = Index::create_in_ram(schema.build());
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let docs = 5 * WINDOW + 123;
        let mut held: Vec<Vec<usize>> = Vec::new();
        {
            // One thread: one segment, documents in the order added.
            let mut w = index.writer_with_num_threads(1, 50_000_000).unwrap();
            for d in 0..docs {
                let mut doc = tantivy::TantivyDocument::default();
                let mut terms = Vec::new();
                // Nothing in the second window, and only term 0 in the fourth
                // but for two documents holding term 5 halfway through:
                // stretches to skip, for all walkers or for some.
                let empty = (WINDOW..2 * WINDOW).contains(&d);
                let sparse = (3 * WINDOW..4 * WINDOW).contains(&d);
                for t in 0..6usize {
                    let lone = t == 5 && [3 * WINDOW + 1000, 3 * WINDOW + 2500].contains(&d);
                    if lone
                        || !empty && (!sparse || t == 0) && rng.random_bool(0.3 / (t + 1) as f64)
                    {
                        terms.push(t);
                        doc.add_text(field, format!("w{t}"));
                    }
                }
                held.push(terms);
                w.add_document(doc).unwrap();
            }
            w.commit().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        let seg = &searcher.segment_readers()[0];
        assert_eq!(seg.max_doc() as usize, docs);
        let words: Vec<Term> = (0..7)
            .map(|t| Term::from_field_text(field, &format!("w{t}")))
            .collect();
        // Term 6 is held by no document.
        let weights = [0.3, 1.7, 2.5, 0.1, 4.0, 0.9, 8.0];
        // Clauses as lists of terms: one term, or a group (held once).
        let picks: [Vec<Vec<usize>>; 5] = [
            (0..7).map(|t| vec![t]).collect(),
            vec![vec![5], vec![2]],
            vec![vec![3]],
            vec![vec![6]],
            vec![vec![4], vec![1, 3], vec![0], vec![2, 5, 6]],
        ];
        // Terms read from their postings, or from kept bitsets (groups' members
        // too); nothing is kept for the first: a budget of nothing.
        let live = [seg.segment_id()];
        let budgets = [CommonBits::with_budget(0), CommonBits::with_budget(1 << 30)];
        for (pick, common) in picks
            .iter()
            .flat_map(|p| budgets.iter().map(move |b| (p, b)))
        {
            let kept = common.segment(seg, &live).unwrap();
            let weight = |c: &[usize]| weights[c[0]] + c.len() as Score;
            let walkers: Vec<(Walker, Score)> = pick
                .iter()
                .map(|c| {
                    let walker = if let [t] = c.as_slice() {
                        match source(seg, &words[*t], &kept, 0).unwrap() {
                            Source::Bits(bits) => Walker::bits(bits),
                            Source::Postings(_) => Walker::postings(seg, &words[*t]).unwrap(),
                        }
                    } else {
                        let clause = Clause {
                            terms: c.iter().map(|&t| words[t].clone()).collect(),
                            weight: 0.0,
                            doc_freq: 0,
                        };
                        Walker::bits(Bits::Search(Rc::new(
                            holders(seg, &clause, &kept, 0).unwrap(),
                        )))
                    };
                    (walker, weight(c))
                })
                .collect();
            let got = walk_all(walkers);
            let expected: Vec<(DocId, Score)> = held
                .iter()
                .enumerate()
                .filter_map(|(d, ts)| {
                    let mut sum = 0.0;
                    let mut any = false;
                    for c in pick {
                        if c.iter().any(|t| ts.contains(t)) {
                            sum += weight(c);
                            any = true;
                        }
                    }
                    any.then_some((d as DocId, sum))
                })
                .collect();
            assert_eq!(got, expected, "clauses {pick:?}");
        }
    }

    /// Against the exhaustive evaluation: random documents over a skewed
    /// vocabulary (a few terms in most documents, many in few), random weights,
    /// groups of spellings and factors, every split of rare and common terms,
    /// several pool sizes, common terms read from their postings (no budget for
    /// bitsets) and from kept bitsets (made by one search, read by the next).
    /// The pools must agree but for ties at the threshold.
    #[test]
    fn the_pool_is_the_exhaustive_pool() {
        let mut schema = Schema::builder();
        let field = schema.add_text_field("t", STRING);
        // Segments do not keep the order of adding: each document carries its number.
        let id = schema.add_u64_field("id", tantivy::schema::FAST);
        let index = Index::create_in_ram(schema.build());
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let vocabulary = 40usize;
        let mut held: Vec<Vec<usize>> = Vec::new();
        {
            let mut w = index.writer(50_000_000).unwrap();
            // Several windows of the walk in the first segment.
            for _ in 0..3 * WINDOW {
                let mut d = tantivy::TantivyDocument::default();
                d.add_u64(id, held.len() as u64);
                let mut terms = Vec::new();
                for _ in 0..rng.random_range(1..5) {
                    // Term i is held by about one document in (i + 1).
                    let t = (rng.random_range(0.0f64..1.0).powi(3) * vocabulary as f64) as usize;
                    if !terms.contains(&t) {
                        terms.push(t);
                        d.add_text(field, format!("w{t}"));
                    }
                }
                held.push(terms);
                w.add_document(d).unwrap();
            }
            // A second segment, so that the threshold carries across segments.
            w.commit().unwrap();
            for _ in 0..500 {
                let t = rng.random_range(0..vocabulary);
                w.add_document(doc!(field => format!("w{t}"), id => held.len() as u64))
                    .unwrap();
                held.push(vec![t]);
            }
            w.commit().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers().len() >= 2);
        let factor = |global: usize| ((global * 7919) % 10) as f32 / 9.0;
        let live: Vec<_> = searcher
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect();
        let budgets = [CommonBits::with_budget(0), CommonBits::with_budget(1 << 30)];

        for round in 0..12 {
            let mut terms: Vec<Clause> = Vec::new();
            for t in 0..vocabulary {
                if !rng.random_bool(0.6) {
                    continue;
                }
                let term = Term::from_field_text(field, &format!("w{t}"));
                terms.push(Clause {
                    doc_freq: searcher.doc_freq(&term).unwrap(),
                    terms: vec![term],
                    weight: rng.random_range(0.5f32..8.0),
                });
            }
            // Groups of spellings: a document holding any of them scores the
            // group's weight once.
            let word = |t: usize| Term::from_field_text(field, &format!("w{t}"));
            for _ in 0..3 {
                let members: Vec<usize> = (0..rng.random_range(2..5))
                    .map(|_| rng.random_range(0..vocabulary))
                    .collect();
                terms.push(Clause {
                    doc_freq: members
                        .iter()
                        .map(|&t| searcher.doc_freq(&word(t)).unwrap())
                        .sum(),
                    terms: members.iter().map(|&t| word(t)).collect(),
                    weight: rng.random_range(0.5f32..3.0),
                });
            }
            let score_of = |held: &[usize]| -> f32 {
                terms
                    .iter()
                    .filter(|c| held.iter().any(|&t| c.terms.contains(&word(t))))
                    .map(|c| c.weight)
                    .sum()
            };
            let pool = [1, 5, 30, 200][round % 4];
            let runs = [0, 20, 150, 400, u64::MAX]
                .into_iter()
                .flat_map(|limit| budgets.iter().map(move |b| (limit, b)));
            for (rare_limit, common) in runs {
                let plan = Plan::with_rare_limit(&terms, rare_limit);
                let mut heap = TopCandidates::new(pool);
                let ids: Vec<_> = searcher
                    .segment_readers()
                    .iter()
                    .map(|seg| seg.fast_fields().u64("id").unwrap().first_or_default_col(0))
                    .collect();
                for (ord, seg) in searcher.segment_readers().iter().enumerate() {
                    let ids = &ids[ord];
                    let gate = move |d: DocId| factor(ids.get_val(d) as usize);
                    let kept = common.segment(seg, &live).unwrap();
                    // The tightest bound there is: the factor itself.
                    plan.collect_segment(seg, ord as u32, &gate, &gate, &mut heap, &kept)
                        .unwrap();
                }
                let mut got: Vec<(f32, usize)> = heap
                    .scored()
                    .into_iter()
                    .map(|(s, a)| (s, ids[a.segment_ord as usize].get_val(a.doc_id) as usize))
                    .collect();
                let mut all: Vec<(f32, usize)> = held
                    .iter()
                    .enumerate()
                    .map(|(i, ts)| (score_of(ts) * factor(i), i))
                    .filter(|&(s, _)| s > 0.0)
                    .collect();
                all.sort_by(|a, b| b.0.total_cmp(&a.0));
                all.truncate(pool);
                got.sort_by(|a, b| b.0.total_cmp(&a.0));
                assert_eq!(
                    got.len(),
                    all.len(),
                    "round {round}, rare limit {rare_limit}"
                );
                let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * a.abs().max(1.0);
                for (g, e) in got.iter().zip(&all) {
                    assert!(
                        close(g.0, e.0),
                        "round {round}, rare limit {rare_limit}: {got:?} against {all:?}"
                    );
                }
                // Every document scoring clearly above the pool's last is in it.
                let last = all.last().map_or(0.0, |e| e.0);
                for e in all.iter().filter(|e| e.0 > last + 1e-3) {
                    assert!(
                        got.iter().any(|g| g.1 == e.1),
                        "round {round}, rare limit {rare_limit}: missing {e:?}"
                    );
                }
            }
        }
    }
}
