//! Blocking: candidate pairs without comparing all pairs. A blocking rule gives every
//! record a key (its columns' values, or codes derived from them); records with equal,
//! present keys make pairs. Several rules make the union of their pairs, each pair
//! once: a pair is produced by the first rule whose keys it shares.

use rayon::prelude::*;
use rphonetic::DoubleMetaphone;

use crate::compare::NO_VALUE;
use crate::rules::{BlockingRule, KeyTransform};

use super::data::{Dataset, FastMap};

/// Blocks of one rule: records grouped by key.
#[derive(Debug)]
pub struct Blocks {
    /// Key of each record ([`NO_VALUE`] when a part is missing).
    pub keys: Vec<u32>,
    /// Records with a key, sorted by (key, record).
    order: Vec<u32>,
    /// Each block: start in `order`, length, and how many of its records are left
    /// records (they come first, having the lower numbers).
    blocks: Vec<(u32, u32, u32)>,
    dedupe: bool,
}

/// A slice of work: the pairs of one block whose first record is at positions
/// `from..to` of the block.
#[derive(Debug, Clone, Copy)]
pub struct Unit {
    block: u32,
    from: u32,
    to: u32,
}

/// Pairs per unit of parallel work, roughly.
const UNIT_PAIRS: u64 = 20_000;

impl Blocks {
    pub fn build(rule: &BlockingRule, data: &Dataset) -> Blocks {
        let keys = rule_keys(rule, data);
        let mut order: Vec<u32> = (0..data.len() as u32)
            .filter(|&i| keys[i as usize] != NO_VALUE)
            .collect();
        order.par_sort_unstable_by_key(|&i| (keys[i as usize], i));
        let mut blocks = Vec::new();
        let mut s = 0usize;
        while s < order.len() {
            let k = keys[order[s] as usize];
            let mut e = s + 1;
            while e < order.len() && keys[order[e] as usize] == k {
                e += 1;
            }
            if e - s > 1 {
                let n_left = order[s..e]
                    .iter()
                    .take_while(|&&i| (i as usize) < data.n_left)
                    .count();
                let useful = data.dedupe || (n_left > 0 && n_left < e - s);
                if useful {
                    blocks.push((s as u32, (e - s) as u32, n_left as u32));
                }
            }
            s = e;
        }
        Blocks {
            keys,
            order,
            blocks,
            dedupe: data.dedupe,
        }
    }

    fn block_pairs(&self, b: &(u32, u32, u32)) -> u64 {
        let (n, l) = (u64::from(b.1), u64::from(b.2));
        if self.dedupe {
            n * (n - 1) / 2
        } else {
            l * (n - l)
        }
    }

    /// Pairs this rule makes on its own (before removing those of other rules).
    pub fn total_pairs(&self) -> u64 {
        self.blocks.iter().map(|b| self.block_pairs(b)).sum()
    }

    pub fn n_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The blocks cut into units of roughly equal work.
    pub fn units(&self) -> Vec<Unit> {
        let mut out = Vec::new();
        for (bi, b) in self.blocks.iter().enumerate() {
            let (n, l) = (b.1, b.2);
            let outer = if self.dedupe { n } else { l };
            let per_outer = if self.dedupe {
                u64::from(n) / 2 + 1
            } else {
                u64::from(n - l)
            };
            let step = (UNIT_PAIRS / per_outer.max(1)).clamp(1, u64::from(outer)) as u32;
            let mut from = 0;
            while from < outer {
                let to = (from + step).min(outer);
                out.push(Unit {
                    block: bi as u32,
                    from,
                    to,
                });
                from = to;
            }
        }
        out
    }

    /// Calls `f(a, b)` for each pair of the unit, `a < b` (a left, b right when linking).
    #[inline]
    pub fn for_each_pair(&self, unit: Unit, mut f: impl FnMut(u32, u32)) {
        let (s, n, l) = self.blocks[unit.block as usize];
        let members = &self.order[s as usize..(s + n) as usize];
        if self.dedupe {
            for i in unit.from as usize..unit.to as usize {
                let a = members[i];
                for &b in &members[i + 1..] {
                    f(a, b);
                }
            }
        } else {
            let (left, right) = members.split_at(l as usize);
            for &a in &left[unit.from as usize..unit.to as usize] {
                for &b in right {
                    f(a, b);
                }
            }
        }
    }

    /// Whether two records share this rule's key.
    #[inline]
    pub fn same_key(&self, a: u32, b: u32) -> bool {
        let k = self.keys[a as usize];
        k != NO_VALUE && k == self.keys[b as usize]
    }
}

/// The keys of several rules record by record, so that asking whether an earlier
/// rule already made a pair reads two cache lines, not two per rule.
#[derive(Debug)]
pub struct KeyRows {
    rows: Vec<u32>,
    width: usize,
}

impl KeyRows {
    pub fn new(rules: &[&Blocks]) -> KeyRows {
        let width = rules.len();
        let n = rules.first().map_or(0, |b| b.keys.len());
        let mut rows = vec![NO_VALUE; n * width];
        for (r, b) in rules.iter().enumerate() {
            for (i, &k) in b.keys.iter().enumerate() {
                rows[i * width + r] = k;
            }
        }
        KeyRows { rows, width }
    }

    /// Whether one of the first `r` rules makes the pair.
    #[inline]
    pub fn made_before(&self, r: usize, a: u32, b: u32) -> bool {
        let ka = &self.rows[a as usize * self.width..][..r];
        let kb = &self.rows[b as usize * self.width..][..r];
        ka.iter().zip(kb).any(|(&x, &y)| x != NO_VALUE && x == y)
    }
}

/// The key of every record under `rule`.
pub fn rule_keys(rule: &BlockingRule, data: &Dataset) -> Vec<u32> {
    let mut key: Option<Vec<u32>> = None;
    for part in &rule.parts {
        let col = &data.columns[data.column(&part.value.column).expect("checked column")];
        let ids = match &part.value.transform {
            KeyTransform::Value => col.ids.clone(),
            KeyTransform::Metaphone => {
                let dm = DoubleMetaphone::default();
                derived(&col.ids, col.values.len(), |v| {
                    let code = dm.double_metaphone(col.values.get(v)).primary();
                    (!code.is_empty()).then_some(code)
                })
            }
            KeyTransform::Prefix(n) => derived(&col.ids, col.values.len(), |v| {
                let s = col.values.get(v);
                Some(s.chars().take(*n).collect())
            }),
            KeyTransform::Unordered(other) => {
                let o = &data.columns[data.column(other).expect("checked column")];
                unordered(col, o)
            }
        };
        key = Some(match key {
            None => ids,
            Some(prev) => combine(&prev, &ids),
        });
    }
    key.expect("a rule has parts")
}

/// Maps each value to an interned code, then each record to its value's code.
fn derived(ids: &[u32], n_values: usize, code: impl Fn(u32) -> Option<String>) -> Vec<u32> {
    let mut interner: FastMap<String, u32> = FastMap::default();
    let codes: Vec<u32> = (0..n_values as u32)
        .map(|v| match code(v) {
            None => NO_VALUE,
            Some(c) => {
                let n = interner.len() as u32;
                *interner.entry(c).or_insert(n)
            }
        })
        .collect();
    ids.iter()
        .map(|&v| {
            if v == NO_VALUE {
                NO_VALUE
            } else {
                codes[v as usize]
            }
        })
        .collect()
}

/// Interns each record's two values, in sorted order, into one key.
fn unordered(x: &super::data::Column, y: &super::data::Column) -> Vec<u32> {
    let mut interner: FastMap<(&str, &str), u32> = FastMap::default();
    x.ids
        .iter()
        .zip(&y.ids)
        .map(|(&a, &b)| {
            if a == NO_VALUE || b == NO_VALUE {
                return NO_VALUE;
            }
            let (p, q) = (x.values.get(a), y.values.get(b));
            let k = if p <= q { (p, q) } else { (q, p) };
            let n = interner.len() as u32;
            *interner.entry(k).or_insert(n)
        })
        .collect()
}

/// Interns each record's pair of keys into one key.
fn combine(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut interner: FastMap<u64, u32> = FastMap::default();
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            if x == NO_VALUE || y == NO_VALUE {
                NO_VALUE
            } else {
                let n = interner.len() as u32;
                *interner
                    .entry((u64::from(x) << 32) | u64::from(y))
                    .or_insert(n)
            }
        })
        .collect()
}

/// Blocks of each distinct rule, built once and shared by training and prediction.
#[derive(Debug, Default)]
pub struct BlockCache {
    items: Vec<(String, Blocks)>,
}

impl BlockCache {
    /// The index of `rule`'s blocks, building them on first use.
    pub fn get(&mut self, rule: &BlockingRule, data: &Dataset) -> usize {
        let name = rule.to_string();
        if let Some(i) = self.items.iter().position(|(n, _)| *n == name) {
            return i;
        }
        self.items.push((name, Blocks::build(rule, data)));
        self.items.len() - 1
    }

    /// The index of `rule`'s blocks if built.
    pub fn find(&self, rule: &BlockingRule) -> Option<usize> {
        let name = rule.to_string();
        self.items.iter().position(|(n, _)| *n == name)
    }

    pub fn blocks(&self, i: usize) -> &Blocks {
        &self.items[i].1
    }
}
