//! Comparing and scoring pairs of encoded records.

use crate::compare::{swapped, Comparator, Level, MISSING, NO_VALUE};
use crate::model::{pack, Model, TermFrequencies};
use crate::rules::Rules;

use super::data::Dataset;

/// The comparisons of a rule file, bound to a dataset's columns.
pub struct Comparisons<'a> {
    data: &'a Dataset,
    items: Vec<(usize, Comparator)>,
    /// For a comparison with a swapped level: the other column, and the ids in it of
    /// this column's values.
    swaps: Vec<Option<(usize, Vec<u32>)>>,
}

impl<'a> Comparisons<'a> {
    pub fn new(rules: &Rules, data: &'a Dataset) -> Comparisons<'a> {
        let items: Vec<(usize, Comparator)> = rules
            .comparisons
            .iter()
            .map(|c| {
                let col = data.column(&c.column.value).expect("checked column");
                (col, Comparator::new(c.levels.clone()))
            })
            .collect();
        let swaps = rules
            .comparisons
            .iter()
            .zip(&items)
            .map(|(c, (col, _))| {
                c.swap_column.as_ref().map(|s| {
                    let other = data.column(&s.value).expect("checked column");
                    let map = data.columns[other]
                        .values
                        .translate(&data.columns[*col].values);
                    (other, map)
                })
            })
            .collect();
        Comparisons { data, items, swaps }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn comparator(&self, c: usize) -> &Comparator {
        &self.items[c].1
    }

    pub fn column(&self, c: usize) -> usize {
        self.items[c].0
    }

    /// Level of comparison `c` for records `a`, `b`.
    #[inline]
    pub fn level(&self, c: usize, a: u32, b: u32) -> u8 {
        let col = self.items[c].0;
        let (va, vb) = (self.data.row(a)[col], self.data.row(b)[col]);
        if va == NO_VALUE || vb == NO_VALUE {
            MISSING
        } else if va == vb {
            0
        } else {
            self.level_of_distinct(c, a, b)
        }
    }

    /// Level of comparison `c` for records whose values are present and differ.
    #[inline]
    pub fn level_of_distinct(&self, c: usize, a: u32, b: u32) -> u8 {
        let (col, cmp) = &self.items[c];
        let (ra, rb) = (self.data.row(a), self.data.row(b));
        let swapped = match &self.swaps[c] {
            Some((other, map)) => swapped(map, ra[*col], rb[*col], ra[*other], rb[*other]),
            None => false,
        };
        cmp.level_of_distinct_cross(&self.data.columns[*col].values, ra[*col], rb[*col], swapped)
    }

    /// The packed levels of the comparisons flagged in `active` (others missing).
    #[inline]
    pub fn pattern(&self, a: u32, b: u32, active: &[bool]) -> u64 {
        let mut levels = [MISSING; 16];
        for (c, l) in levels.iter_mut().enumerate().take(self.items.len()) {
            if active[c] {
                *l = self.level(c, a, b);
            }
        }
        pack(&levels[..self.items.len()])
    }
}

struct Scored {
    /// The comparison's index in the rules.
    index: usize,
    col: usize,
    /// Weight per level (the last is "different").
    w: Vec<f64>,
    /// Exact-level weight per value, with term-frequency adjustment.
    tf: Option<Vec<f64>>,
    /// Most a non-identical pair can gain over "different" (at least 0).
    gain: f64,
    /// Whether non-identical values can reach a level other than "different".
    fuzzy: bool,
    exact_first: bool,
}

/// Scores pairs with a trained model: match weight, and a bound that stops as soon as
/// a pair cannot reach the threshold.
pub struct Scorer<'a> {
    cmp: &'a Comparisons<'a>,
    items: Vec<Scored>,
    prior: f64,
    threshold: f64,
}

impl<'a> Scorer<'a> {
    /// `threshold`: match probability at or above which a pair is kept.
    pub fn new(cmp: &'a Comparisons<'a>, model: &Model, threshold: f64) -> Scorer<'a> {
        let items = (0..cmp.len())
            .map(|c| {
                let cm = &model.comparisons[c];
                let w: Vec<f64> = (0..cm.m.len()).map(|l| model.weight(c, l as u8)).collect();
                let col = cmp.column(c);
                let exact_first = cmp.comparator(c).levels()[0] == Level::Exact;
                let tf = (cm.tf_adjustment && exact_first).then(|| {
                    let tfs = TermFrequencies::from_counts(&cmp.data.columns[col].counts());
                    (0..tfs.len() as u32)
                        .map(|v| tfs.exact_weight(cm.m[0], v))
                        .collect()
                });
                let different = *w.last().expect("levels");
                let first_fuzzy = usize::from(exact_first);
                let gain = w[first_fuzzy..w.len() - 1]
                    .iter()
                    .map(|x| x - different)
                    .fold(0.0, f64::max);
                Scored {
                    index: c,
                    col,
                    fuzzy: w.len() - 1 > first_fuzzy,
                    w,
                    tf,
                    gain,
                    exact_first,
                }
            })
            .collect::<Vec<Scored>>();
        // Fuzzy comparisons are computed in this order, those that can gain most
        // first: if they find "different", the pair's bound falls fastest. (Those that
        // cannot gain come last and are computed only for pairs that stay above it.)
        let mut items = items;
        items.sort_by(|x, y| y.gain.total_cmp(&x.gain));
        Scorer {
            cmp,
            items,
            prior: model.prior_weight(),
            threshold: crate::model::weight_of_probability(threshold),
        }
    }

    /// The match weight of a pair, or `None` if it is below the threshold.
    #[inline]
    pub fn score(&self, a: u32, b: u32) -> Option<f64> {
        let (ra, rb) = (self.cmp.data.row(a), self.cmp.data.row(b));
        let mut known = self.prior;
        let mut pending = [0u8; 16];
        let mut n_pending = 0;
        let mut headroom = 0.0;
        for (k, it) in self.items.iter().enumerate() {
            let (va, vb) = (ra[it.col], rb[it.col]);
            if va == NO_VALUE || vb == NO_VALUE {
                continue;
            }
            if va == vb {
                known += match &it.tf {
                    Some(t) => t[va as usize],
                    None => it.w[0],
                };
            } else {
                known += it.w[it.w.len() - 1];
                // Levels that weigh less than "different" still count once the pair
                // survives the bound; they only lower it, so the bound holds.
                if it.fuzzy {
                    pending[n_pending] = k as u8;
                    n_pending += 1;
                    headroom += it.gain;
                }
            }
        }
        if known + headroom < self.threshold {
            return None;
        }
        for &k in &pending[..n_pending] {
            let it = &self.items[k as usize];
            let l = self.cmp.level_of_distinct(it.index, a, b);
            known += it.w[l as usize] - it.w[it.w.len() - 1];
            headroom -= it.gain;
            if known + headroom < self.threshold {
                return None;
            }
        }
        Some(known)
    }

    /// The full match weight of a pair, with no threshold (for inspection and tests).
    pub fn weight(&self, a: u32, b: u32) -> f64 {
        let mut w = self.prior;
        for it in &self.items {
            let l = self.cmp.level(it.index, a, b);
            if l == MISSING {
                continue;
            }
            w += match (&it.tf, l) {
                (Some(t), 0) if it.exact_first => t[self.cmp.data.row(a)[it.col] as usize],
                _ => it.w[l as usize],
            };
        }
        w
    }
}
