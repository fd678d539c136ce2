//! Plain copies of a segment's columns, made the first time a search reads the
//! segment, and dropped once a search of a newer segment (after a merge) finds
//! that their segment has left the index.
//!
//! The searcher's hot loops read a document's facts and summary at random over
//! the whole segment; tantivy's columns and doc store are built for other reads
//! (see `facts` and `summaries` for what each copy saves). A segment never
//! changes once written, so a copy stays true for as long as the segment lives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::SegmentReader;

use super::SearchError;

/// One kind of copy, by segment.
pub(crate) struct PerSegment<T>(Mutex<HashMap<SegmentId, Slot<T>>>);

/// A segment's copy, or the lock its first reader holds while making it: the
/// searches that arrive meanwhile wait for that copy instead of each making
/// their own (a summaries copy takes about half a second at a million documents).
type Slot<T> = Arc<Mutex<Option<Arc<T>>>>;

impl<T> Default for PerSegment<T> {
    fn default() -> Self {
        PerSegment(Mutex::new(HashMap::new()))
    }
}

impl<T> PerSegment<T> {
    /// `seg`'s copy, made by `make` the first time. Copies of segments no longer
    /// in `live` are forgotten.
    pub fn get(
        &self,
        seg: &SegmentReader,
        live: &[SegmentId],
        make: impl FnOnce(&SegmentReader) -> Result<T, SearchError>,
    ) -> Result<Arc<T>, SearchError> {
        let slot = {
            let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if !map.contains_key(&seg.segment_id()) {
                map.retain(|k, _| live.contains(k));
            }
            Arc::clone(map.entry(seg.segment_id()).or_default())
        };
        let mut copy = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(made) = copy.as_ref() {
            return Ok(Arc::clone(made));
        }
        let made = Arc::new(make(seg)?);
        *copy = Some(Arc::clone(&made));
        Ok(made)
    }
}
