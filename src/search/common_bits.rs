//! The documents of a segment's common terms as bitsets, made the first time a
//! search needs one and kept while the segment lives, within a memory budget.
//!
//! The collector (see `collect`) meets a common term two ways: phase 1 completes
//! each document of the rare terms by seeking the common terms' postings to it,
//! and a seek there mostly lands in another block of 128 postings, decoded for one
//! answer; a group of spellings reads every member's postings whole, on every
//! search. Common names are common to searches too ("mohamed" is asked again and
//! again), so their documents held as a bitset (one bit a document: 125 KiB a
//! term at a million documents) answer a seek with one load and join a group by an
//! OR of words. At a million children: the searches themselves about 12 % faster
//! (the same results, to the last bit of the score), the service about 7 % less
//! CPU per search (BENCHMARKS.md, "Eighth session").
//!
//! The budget bounds the memory over all segments. Once it is spent, terms are
//! read from their postings as before: slower, never different. A segment's
//! bitsets give their bytes back when the segment leaves the index (see
//! `per_segment`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::{SegmentReader, Term};

use super::per_segment::PerSegment;
use super::SearchError;

/// The bitsets of all segments, and what is left of their budget.
pub(crate) struct CommonBits {
    segments: PerSegment<SegmentBits>,
    /// Bytes that may still be kept (below zero only for a moment, while a
    /// reservation that does not fit is given back).
    left: Arc<AtomicIsize>,
}

impl CommonBits {
    pub fn with_budget(bytes: usize) -> Self {
        CommonBits {
            segments: PerSegment::default(),
            left: Arc::new(AtomicIsize::new(bytes.min(isize::MAX as usize) as isize)),
        }
    }

    /// `seg`'s bitsets (those of segments no longer in `live` are let go).
    pub fn segment(
        &self,
        seg: &SegmentReader,
        live: &[SegmentId],
    ) -> Result<Arc<SegmentBits>, SearchError> {
        self.segments.get(seg, live, |_| {
            Ok(SegmentBits {
                terms: Mutex::new(HashMap::new()),
                left: Arc::clone(&self.left),
                held: 0.into(),
            })
        })
    }
}

/// One segment's kept bitsets, by term.
pub(crate) struct SegmentBits {
    terms: Mutex<HashMap<Term, Arc<[u64]>>>,
    left: Arc<AtomicIsize>,
    /// Bytes this segment holds of the budget.
    held: AtomicIsize,
}

impl SegmentBits {
    /// The kept bitset of `term`, if there is one.
    pub fn get(&self, term: &Term) -> Option<Arc<[u64]>> {
        self.lock().get(term).cloned()
    }

    /// Keeps the bitset of `term` that `make` writes into `words` zeroed words,
    /// if the budget has room for it; `None` (and `make` not called) if not.
    pub fn keep<E>(
        &self,
        term: &Term,
        words: usize,
        make: impl FnOnce(&mut [u64]) -> Result<(), E>,
    ) -> Result<Option<Arc<[u64]>>, E> {
        let bytes = (words * size_of::<u64>()) as isize;
        if self.left.fetch_sub(bytes, Ordering::Relaxed) < bytes {
            self.left.fetch_add(bytes, Ordering::Relaxed);
            return Ok(None);
        }
        let mut bits = vec![0u64; words];
        if let Err(e) = make(&mut bits) {
            self.left.fetch_add(bytes, Ordering::Relaxed);
            return Err(e);
        }
        let mut terms = self.lock();
        // Another search may have kept the same term meanwhile: keep the first.
        if let Some(kept) = terms.get(term) {
            self.left.fetch_add(bytes, Ordering::Relaxed);
            return Ok(Some(Arc::clone(kept)));
        }
        let bits: Arc<[u64]> = bits.into();
        terms.insert(term.clone(), Arc::clone(&bits));
        self.held.fetch_add(bytes, Ordering::Relaxed);
        Ok(Some(bits))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Term, Arc<[u64]>>> {
        self.terms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for SegmentBits {
    fn drop(&mut self) {
        self.left.fetch_add(*self.held.get_mut(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::{Schema, STRING};
    use tantivy::{doc, Index};

    fn term(t: &str) -> Term {
        let mut schema = Schema::builder();
        let field = schema.add_text_field("t", STRING);
        Term::from_field_text(field, t)
    }

    /// A segment of `n` documents, with its searcher's live segments.
    fn segment(n: usize) -> (tantivy::Searcher, Vec<SegmentId>) {
        let mut schema = Schema::builder();
        let field = schema.add_text_field("t", STRING);
        let index = Index::create_in_ram(schema.build());
        let mut w = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for _ in 0..n {
            w.add_document(doc!(field => "a")).unwrap();
        }
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let live = searcher
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect();
        (searcher, live)
    }

    /// Kept while the budget lasts, made once, then read again; past the budget
    /// nothing is made; a segment let go gives its bytes back.
    #[test]
    fn bitsets_are_kept_within_the_budget_and_given_back_with_their_segment() {
        let bits = CommonBits::with_budget(3 * 8 * 10);
        let (searcher, live) = segment(3);
        let seg = &searcher.segment_readers()[0];
        let s = bits.segment(seg, &live).unwrap();
        let made = s
            .keep(&term("a"), 10, |w| {
                w[1] = 5;
                Ok::<_, ()>(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(made[1], 5);
        assert_eq!(s.get(&term("a")).unwrap()[1], 5);
        assert!(s.get(&term("b")).is_none());
        // Kept already: the first bitset stays, `make` is not asked again.
        let again = s.keep(&term("a"), 10, |w| {
            w[1] = 9;
            Ok::<_, ()>(())
        });
        assert_eq!(again.unwrap().unwrap()[1], 5);
        s.keep(&term("b"), 10, |_| Ok::<_, ()>(()))
            .unwrap()
            .unwrap();
        // 20 words of 30 are held: 11 do not fit, 10 do.
        let mut asked = false;
        let none = s.keep(&term("c"), 11, |_| {
            asked = true;
            Ok::<_, ()>(())
        });
        assert!(none.unwrap().is_none() && !asked);
        assert!(s
            .keep(&term("c"), 10, |_| Ok::<_, ()>(()))
            .unwrap()
            .is_some());
        assert!(s
            .keep(&term("d"), 1, |_| Ok::<_, ()>(()))
            .unwrap()
            .is_none());
        // All the budget is held, by the segment (not by `s`, a handle on it).
        drop(s);
        assert_eq!(bits.left.load(Ordering::Relaxed), 0);

        // Another index's segment: the first one is no longer live, and its
        // bytes come back once nothing holds its bitsets.
        let (other, other_live) = segment(2);
        let o = bits
            .segment(&other.segment_readers()[0], &other_live)
            .unwrap();
        assert_eq!(bits.left.load(Ordering::Relaxed), 3 * 8 * 10);
        // A failed make keeps nothing and holds nothing.
        assert!(o.keep(&term("e"), 5, |_| Err("broken")).is_err());
        assert_eq!(bits.left.load(Ordering::Relaxed), 3 * 8 * 10);
        assert!(o.get(&term("e")).is_none());
    }
}
