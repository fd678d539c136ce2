//! Each document's facts (kind, consent, sex, birth years: see
//! `schema::pack_facts`), copied out of the `facts` fast field into plain
//! four-byte words, and its birth years besides in one byte; kept per segment
//! (see `per_segment`), with the column of the store's rows held open.
//!
//! The candidate collector reads a bound on a document's birth-year factor
//! before its postings are sought, for every document that shares a name with
//! the query: a search over a million children does so for thousands of
//! documents, most born in other years, in no order. From the bit-packed column
//! each read is a cache miss and a few shifts; from a byte a document (1 MiB at
//! a million documents, which stays in a core's own cache) through a table of
//! the 256 codes' bounds, it is a load. The exact factor, for the few documents
//! whose score reaches the pool's threshold, comes from the four-byte copy.

use tantivy::{DocId, SegmentReader};

use super::query::year_factor;
use super::schema::{unpack_facts, FACT_RESTRICTED};
use super::SearchError;
use crate::store::StoreRow;

// `pack_facts` sets no bit above the consent bit: the facts fit in 32 bits.
const _: () = assert!(FACT_RESTRICTED < 1 << 32);

/// One segment's facts, by document.
pub(crate) struct SegmentFacts {
    facts: Vec<u32>,
    /// The store's rows, by document (0: none), for the few hits a search
    /// returns: kept open, since opening the column decodes its whole block index.
    rows: tantivy::columnar::Column<i64>,
    /// Each document's birth years in a byte (see [`YearCode`]): a million
    /// documents' fit in a core's own cache, where the bound on the birth-year
    /// factor is read for every document that shares a name with the query.
    years: Vec<u8>,
    code: YearCode,
}

impl SegmentFacts {
    /// The copy of `seg`'s facts (a few milliseconds at a million documents).
    pub fn of(seg: &SegmentReader) -> Result<Self, SearchError> {
        let column = seg.fast_fields().u64("facts")?.first_or_default_col(0);
        let facts: Vec<u32> = (0..seg.max_doc())
            .map(|d| column.get_val(d) as u32)
            .collect();
        let births: Vec<_> = facts.iter().map(|&f| unpack_facts(f.into()).1).collect();
        let code = YearCode::fitting(births.iter().flatten().map(|&(min, _)| min));
        Ok(SegmentFacts {
            years: births.iter().map(|&b| code.encode(b)).collect(),
            facts,
            rows: seg.fast_fields().i64("store_row")?,
            code,
        })
    }

    /// Document `d`'s facts, as `schema::pack_facts` packed them.
    #[inline]
    pub fn get(&self, d: DocId) -> u64 {
        u64::from(self.facts[d as usize])
    }

    /// The store's row document `d` was put from, if known.
    pub fn store_row(&self, d: DocId) -> Option<StoreRow> {
        self.rows.first(d).filter(|&r| r != 0).map(StoreRow)
    }

    /// The bounds on the birth-year factor of the years `asked`, by document:
    /// never below `query::year_factor` of the document's years.
    pub fn year_bounds(&self, asked: (i32, i32)) -> YearBounds<'_> {
        let mut table = [1.0; 256];
        for (c, bound) in table.iter_mut().enumerate() {
            *bound = match self.code.decode(c as u8) {
                Decoded::Unknown => year_factor(asked, None),
                Decoded::Wide => 1.0,
                Decoded::Within(min, max) => year_factor(asked, Some((min, max))),
            };
        }
        YearBounds {
            years: &self.years,
            table,
        }
    }
}

/// [`SegmentFacts::year_bounds`].
pub(crate) struct YearBounds<'a> {
    years: &'a [u8],
    table: [f32; 256],
}

impl YearBounds<'_> {
    #[inline]
    pub fn get(&self, d: DocId) -> f32 {
        self.table[usize::from(self.years[d as usize])]
    }
}

/// Birth years in a byte: the first year as one of [`SPAN`] years from a
/// segment's base year (low six bits), and the years the range spans at most
/// (high two bits: 0, 1, 2 or 4 more). Ranges that do not fit are `WIDE`, no
/// bound; none known is `UNKNOWN`, whose factor is exact.
#[derive(Clone, Copy)]
struct YearCode {
    base: i32,
}

/// First years a code tells apart; 62 and 63 with the widest span are the two
/// special codes.
const SPAN: i32 = 62;
const WIDE: u8 = 0xFE;
const UNKNOWN: u8 = 0xFF;
/// The most years a range spans, by its two high bits.
const SPANS: [i32; 4] = [0, 1, 2, 4];

enum Decoded {
    Unknown,
    Wide,
    Within(i32, i32),
}

impl YearCode {
    /// The code whose [`SPAN`] years hold the most of these first years.
    fn fitting(firsts: impl Iterator<Item = i32>) -> YearCode {
        let mut count: std::collections::BTreeMap<i32, usize> = Default::default();
        for y in firsts {
            *count.entry(y).or_default() += 1;
        }
        let years: Vec<(i32, usize)> = count.into_iter().collect();
        // A window over the sorted years, starting at each one.
        let (mut best, mut best_base, mut inside, mut end) = (0, 0, 0, 0);
        for start in 0..years.len() {
            while end < years.len() && years[end].0 < years[start].0 + SPAN {
                inside += years[end].1;
                end += 1;
            }
            if inside > best {
                (best, best_base) = (inside, years[start].0);
            }
            inside -= years[start].1;
        }
        YearCode { base: best_base }
    }

    fn encode(self, birth: Option<(i32, i32)>) -> u8 {
        let Some((min, max)) = birth else {
            return UNKNOWN;
        };
        let first = min - self.base;
        let Some(span) = SPANS.iter().position(|&s| max - min <= s) else {
            return WIDE;
        };
        if !(0..SPAN).contains(&first) || max < min {
            return WIDE;
        }
        first as u8 | (span as u8) << 6
    }

    fn decode(self, code: u8) -> Decoded {
        match code {
            UNKNOWN => Decoded::Unknown,
            WIDE => Decoded::Wide,
            c => {
                let min = self.base + i32::from(c & 0x3F);
                Decoded::Within(min, min + SPANS[usize::from(c >> 6)])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every range of years: its bound is its factor or above, and exactly its
    /// factor when it fits the code.
    #[test]
    fn a_year_code_bounds_the_factor() {
        let code = YearCode::fitting([2000, 2001, 2010, 1930].into_iter());
        assert_eq!(code.base, 2000, "the window holding the most years");
        for min in 1990..2070 {
            for width in 0..7 {
                let birth = Some((min, min + width));
                let fits = (2000..2000 + SPAN).contains(&min) && width != 3 && width <= 4;
                for asked in [(2005, 2005), (2010, 2012), (1995, 1996), (2060, 2061)] {
                    let exact = year_factor(asked, birth);
                    let bound = match code.decode(code.encode(birth)) {
                        Decoded::Unknown => year_factor(asked, None),
                        Decoded::Wide => 1.0,
                        Decoded::Within(a, b) => year_factor(asked, Some((a, b))),
                    };
                    assert!(bound >= exact, "{birth:?} asked {asked:?}");
                    if fits {
                        assert_eq!(bound, exact, "{birth:?} asked {asked:?}");
                    }
                }
            }
        }
        assert!(matches!(code.decode(code.encode(None)), Decoded::Unknown));
    }
}

#[cfg(test)]
mod column_tests {
    use super::*;
    use crate::search::schema::{pack_facts, FACT_INQUIRY};
    use tantivy::schema::{NumericOptions, Schema};
    use tantivy::{doc, Index};

    /// The copy holds what the column holds, every bit of every pack, and each
    /// document's store row (0 for none).
    #[test]
    fn the_copy_is_the_column() {
        let mut schema = Schema::builder();
        let facts = schema.add_u64_field("facts", NumericOptions::default().set_fast());
        let store_row = schema.add_i64_field("store_row", NumericOptions::default().set_fast());
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
        let rows = [0i64, 7, 12, 3];
        let mut w = index.writer(15_000_000).unwrap();
        for (&v, &row) in packs.iter().zip(&rows) {
            w.add_document(doc!(facts => v, store_row => row)).unwrap();
        }
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let seg = &searcher.segment_readers()[0];
        let column = seg
            .fast_fields()
            .u64("facts")
            .unwrap()
            .first_or_default_col(0);
        let copy = SegmentFacts::of(seg).unwrap();
        for d in 0..seg.max_doc() {
            let v = column.get_val(d);
            assert_eq!(copy.get(d), v);
            assert_eq!(unpack_facts(copy.get(d)), unpack_facts(v));
            assert_eq!(copy.get(d) & FACT_INQUIRY, v & FACT_INQUIRY);
            let row = rows[packs.iter().position(|&p| p == v).unwrap()];
            assert_eq!(copy.store_row(d), (row != 0).then_some(StoreRow(row)));
        }
        // The year bounds: the exact factor where the years fit a byte, never below it.
        for asked in [(2012, 2012), (2000, 2003), (1800, 1801), (2030, 2040)] {
            let bounds = copy.year_bounds(asked);
            for d in 0..seg.max_doc() {
                let birth = unpack_facts(copy.get(d)).1;
                let exact = year_factor(asked, birth);
                assert!(bounds.get(d) >= exact, "{birth:?} asked {asked:?}");
            }
        }
        let mut sorted = packs.clone();
        sorted.sort();
        let mut got: Vec<u64> = (0..seg.max_doc()).map(|d| copy.get(d)).collect();
        got.sort();
        assert_eq!(got, sorted);
    }
}
