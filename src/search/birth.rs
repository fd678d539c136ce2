//! Each document's birth years, two bytes a document, kept per segment: the
//! candidate collector's cheap bound on how much the asked birth years can scale
//! a document's score, read before the document's postings are sought.
//!
//! The exact factor comes from the `facts` fast field, at about one cache miss a
//! document (a million documents' facts are some 4 MiB, bit-packed); this copy is
//! half that, plain bytes, and a search that asks birth years reads it for the
//! thousands of documents that share a name with the query, most of them born
//! in other years.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::{DocId, SegmentReader};

use super::query::year_factor;
use super::schema::unpack_facts;
use super::SearchError;

/// Years are kept as offsets from this year, in a byte.
const BASE: i32 = 1900;
/// No birth year known.
const UNKNOWN: u16 = 0xFFFF;
/// Years outside what a byte holds: no bound (factor at most 1).
const WIDE: u16 = 0xFFFE;

/// One segment's birth years.
pub(crate) struct BirthYears(Vec<u16>);

impl BirthYears {
    fn of(seg: &SegmentReader) -> Result<Self, SearchError> {
        let facts = seg.fast_fields().u64("facts")?.first_or_default_col(0);
        Ok(BirthYears(
            (0..seg.max_doc())
                .map(|d| encode(unpack_facts(facts.get_val(d)).1))
                .collect(),
        ))
    }

    /// The most the birth years `asked` can scale document `d`'s score by: the
    /// factor of `query::candidate_factor` without its sex part (which only
    /// lowers it).
    #[inline]
    pub fn bound(&self, asked: (i32, i32), d: DocId) -> f32 {
        match self.0.get(d as usize).copied().unwrap_or(WIDE) {
            UNKNOWN => year_factor(asked, None),
            WIDE => 1.0,
            code => {
                let year = |b: u16| i32::from(b) + BASE;
                year_factor(asked, Some((year(code >> 8), year(code & 0xFF))))
            }
        }
    }
}

fn encode(birth: Option<(i32, i32)>) -> u16 {
    let Some((min, max)) = birth else {
        return UNKNOWN;
    };
    let byte = |y: i32| u8::try_from(y - BASE).ok().filter(|&b| b < 0xFF);
    match (byte(min), byte(max)) {
        (Some(a), Some(b)) => u16::from(a) << 8 | u16::from(b),
        _ => WIDE,
    }
}

/// The birth years of the segments searched lately.
#[derive(Default)]
pub(crate) struct BirthYearCache(Mutex<HashMap<SegmentId, Arc<BirthYears>>>);

impl BirthYearCache {
    /// A segment's birth years, read from its facts the first time (a few
    /// milliseconds at a million documents). Segments no longer in `live` are
    /// forgotten.
    pub fn get(
        &self,
        seg: &SegmentReader,
        live: &[SegmentId],
    ) -> Result<Arc<BirthYears>, SearchError> {
        let id = seg.segment_id();
        if let Some(b) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(Arc::clone(b));
        }
        let built = Arc::new(BirthYears::of(seg)?);
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|k, _| live.contains(k));
        map.insert(id, Arc::clone(&built));
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_the_year_factor_or_above() {
        let asked = (2014, 2015);
        for birth in [
            None,
            Some((2015, 2015)),
            Some((2010, 2011)),
            Some((2016, 2019)),
            Some((1850, 2015)),
            Some((2014, 2200)),
        ] {
            let b = BirthYears(vec![encode(birth)]);
            let exact = year_factor(asked, birth);
            let bound = b.bound(asked, 0);
            assert!(bound >= exact, "{birth:?}: {bound} < {exact}");
            if birth.is_some_and(|(a, z)| a >= BASE && z < BASE + 0xFF) || birth.is_none() {
                assert_eq!(bound, exact, "{birth:?}");
            }
        }
    }
}
