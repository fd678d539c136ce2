//! Each document's summary bytes (see `summary`), copied out of the doc store
//! into one buffer per segment (see `per_segment`).
//!
//! The ranker reads the summaries of a search's 30 to 100 candidates, spread
//! over the whole segment. From the doc store each read finds the block's
//! checkpoint, copies the block (candidates seldom share one, so its block
//! cache seldom helps) and deserializes a document: 8 % of the service's CPU
//! under load. From this copy a read is a slice. The price is memory: the
//! summaries' bytes and eight bytes a document, about 150 MiB at a million
//! records, and the copy takes about half a second to make at a million, once a
//! segment.

use tantivy::schema::{Field, Value};
use tantivy::store::StoreReader;
use tantivy::{DocId, SegmentReader, TantivyDocument};

use super::SearchError;

/// The summary bytes of a document read from the doc store.
pub(crate) fn stored(doc: &TantivyDocument, field: Field) -> Option<&[u8]> {
    doc.get_first(field).and_then(|v| v.as_bytes())
}

/// One segment's summaries, by document.
pub(crate) struct SegmentSummaries {
    bytes: Vec<u8>,
    /// Where each document's summary ends in `bytes` (and the next begins).
    ends: Vec<usize>,
}

impl SegmentSummaries {
    /// The copy of `seg`'s summaries, stored in `field`.
    pub fn of(seg: &SegmentReader, field: Field) -> Result<Self, SearchError> {
        // No block cache: each block is read once, in order.
        let store: StoreReader = seg.get_store_reader(0)?;
        // The store's size bounds the summaries' (their bytes and a few of
        // framing a document): one allocation, no doubling on the way.
        let mut bytes = Vec::with_capacity(store.space_usage().total().get_bytes() as usize);
        let mut ends = Vec::with_capacity(seg.max_doc() as usize);
        // Every document, deleted ones too, so that a document's number is its
        // place in `ends` (the gate leaves the deleted ones out).
        for doc in store.iter::<TantivyDocument>(None) {
            let doc = doc?;
            bytes.extend_from_slice(stored(&doc, field).ok_or(SearchError::Corrupt)?);
            ends.push(bytes.len());
        }
        if ends.len() != seg.max_doc() as usize {
            return Err(SearchError::Corrupt);
        }
        Ok(SegmentSummaries { bytes, ends })
    }

    /// Document `d`'s summary bytes.
    #[inline]
    pub fn get(&self, d: DocId) -> &[u8] {
        let d = d as usize;
        let start = if d == 0 { 0 } else { self.ends[d - 1] };
        &self.bytes[start..self.ends[d]]
    }
}
