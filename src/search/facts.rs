//! Each document's facts (kind, consent, sex, birth years: see
//! `schema::pack_facts`), copied out of the `facts` fast field into plain four-byte
//! words, kept per segment.
//!
//! The candidate collector reads a document's facts twice: for a bound on its
//! birth-year factor before its postings are sought, then for its exact factor
//! when its score reaches the pool's threshold. A search over a million children
//! does so for thousands of documents (all those sharing a name with the query,
//! most born in other years), in no order: each read is a cache miss. From the
//! bit-packed column it is also a few shifts and masks, and the two reads land on
//! two different lines; from this copy (4 MiB at a million documents) the second
//! read finds the line the first brought in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::{DocId, SegmentReader};

use super::schema::FACT_RESTRICTED;
use super::SearchError;

// `pack_facts` sets no bit above the consent bit: the facts fit in 32 bits.
const _: () = assert!(FACT_RESTRICTED < 1 << 32);

/// One segment's facts, by document.
pub(crate) struct SegmentFacts(Vec<u32>);

impl SegmentFacts {
    fn of(seg: &SegmentReader) -> Result<Self, SearchError> {
        let column = seg.fast_fields().u64("facts")?.first_or_default_col(0);
        Ok(SegmentFacts(
            (0..seg.max_doc())
                .map(|d| column.get_val(d) as u32)
                .collect(),
        ))
    }

    /// Document `d`'s facts, as `schema::pack_facts` packed them.
    #[inline]
    pub fn get(&self, d: DocId) -> u64 {
        u64::from(self.0[d as usize])
    }
}

/// The facts of the segments searched lately.
#[derive(Default)]
pub(crate) struct FactsCache(Mutex<HashMap<SegmentId, Arc<SegmentFacts>>>);

impl FactsCache {
    /// A segment's facts, copied the first time (a few milliseconds at a million
    /// documents). Segments no longer in `live` are forgotten.
    pub fn get(
        &self,
        seg: &SegmentReader,
        live: &[SegmentId],
    ) -> Result<Arc<SegmentFacts>, SearchError> {
        let id = seg.segment_id();
        if let Some(f) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(Arc::clone(f));
        }
        let built = Arc::new(SegmentFacts::of(seg)?);
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|k, _| live.contains(k));
        map.insert(id, Arc::clone(&built));
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::schema::{pack_facts, unpack_facts, FACT_INQUIRY};
    use tantivy::schema::{NumericOptions, Schema};
    use tantivy::{doc, Index};

    /// The copy holds what the column holds, every bit of every pack.
    #[test]
    fn the_copy_is_the_column() {
        let mut schema = Schema::builder();
        let facts = schema.add_u64_field("facts", NumericOptions::default().set_fast());
        let index = Index::create_in_ram(schema.build());
        let packs: Vec<u64> = [
            (0, None, false, false),
            (2, Some((2012, 2013)), true, false),
            (1, Some((1800, 5000)), false, true),
            (3, Some((1500, 1500)), true, true),
        ]
        .into_iter()
        .map(|(sex, birth, inquiry, restricted)| pack_facts(sex, birth, inquiry, restricted))
        .collect();
        let mut w = index.writer(15_000_000).unwrap();
        for &v in &packs {
            w.add_document(doc!(facts => v)).unwrap();
        }
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let seg = &searcher.segment_readers()[0];
        let column = seg
            .fast_fields()
            .u64("facts")
            .unwrap()
            .first_or_default_col(0);
        let copy = FactsCache::default().get(seg, &[seg.segment_id()]).unwrap();
        for d in 0..seg.max_doc() {
            let v = column.get_val(d);
            assert_eq!(copy.get(d), v);
            assert_eq!(unpack_facts(copy.get(d)), unpack_facts(v));
            assert_eq!(copy.get(d) & FACT_INQUIRY, v & FACT_INQUIRY);
        }
        let mut sorted = packs.clone();
        sorted.sort();
        let mut got: Vec<u64> = (0..seg.max_doc()).map(|d| copy.get(d)).collect();
        got.sort();
        assert_eq!(got, sorted);
    }
}
