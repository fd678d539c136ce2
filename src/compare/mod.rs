//! Comparators: given two values of one column, which level of agreement they reach.
//!
//! A comparison is an ordered list of [`Level`]s; the first level whose test passes is
//! the pair's level. Two further outcomes are implicit: [`MISSING`] (either value is
//! absent, which carries no evidence) and "different" (no declared level passed), whose
//! index is `levels.len()`.
//!
//! Values are compared through a [`ValueSet`]: the distinct values of a column, each
//! analysed once (phonetic codes, parsed dates, numbers), so that comparing two records
//! costs an index lookup and, for fuzzy levels, one string-distance computation.

pub mod fast;
pub mod nameset;

use std::collections::HashMap;
use std::fmt;

use rphonetic::DoubleMetaphone;

/// The level index of a pair where either value is missing.
pub const MISSING: u8 = u8::MAX;

/// The value id standing for an absent value.
pub const NO_VALUE: u32 = u32::MAX;

/// Most levels a comparison may declare (the "different" level makes one more; the
/// model packs a level into four bits with one code kept for "missing").
pub const MAX_LEVELS: usize = 14;

/// One level of agreement and its test.
#[derive(Debug, Clone, PartialEq)]
pub enum Level {
    /// The values are identical.
    Exact,
    /// Jaro–Winkler similarity at least this (0..=1).
    JaroWinkler(f64),
    /// Jaro similarity at least this (0..=1).
    Jaro(f64),
    /// Levenshtein distance at most this.
    Levenshtein(u32),
    /// Damerau–Levenshtein distance (unrestricted transpositions) at most this.
    DamerauLevenshtein(u32),
    /// The Double Metaphone codes (primary or alternate) of the values meet.
    Phonetic,
    /// Both are dates (YYYYMMDD or YYYY-MM-DD) at most this many days apart.
    DateWithinDays(u32),
    /// Both are dates and one is the other with day and month swapped.
    DateSwappedDayMonth,
    /// Both are numbers at most this far apart.
    NumericWithin(f64),
    /// The two records hold this column's and the named column's values the other
    /// way round (given name and surname swapped). Needs a [`Cross`].
    SwappedWith(String),
}

impl Level {
    /// A short label for the level, as saved with the model.
    pub fn label(&self) -> String {
        match self {
            Level::Exact => "exact".into(),
            Level::JaroWinkler(t) => format!("jaro_winkler>={t}"),
            Level::Jaro(t) => format!("jaro>={t}"),
            Level::Levenshtein(k) => format!("levenshtein<={k}"),
            Level::DamerauLevenshtein(k) => format!("damerau_levenshtein<={k}"),
            Level::Phonetic => "phonetic".into(),
            Level::DateWithinDays(d) => format!("date_within_days<={d}"),
            Level::DateSwappedDayMonth => "date_swapped_day_month".into(),
            Level::NumericWithin(x) => format!("numeric_within<={x}"),
            Level::SwappedWith(c) => format!("swapped_with({c})"),
        }
    }

    fn needs(&self) -> Needs {
        match self {
            Level::Phonetic => Needs {
                phonetic: true,
                ..Needs::default()
            },
            Level::DateWithinDays(_) | Level::DateSwappedDayMonth => Needs {
                dates: true,
                ..Needs::default()
            },
            Level::NumericWithin(_) => Needs {
                numbers: true,
                ..Needs::default()
            },
            _ => Needs::default(),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Which analyses of the values a set of levels needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub phonetic: bool,
    pub dates: bool,
    pub numbers: bool,
}

impl Needs {
    pub fn of(levels: &[Level]) -> Needs {
        levels.iter().fold(Needs::default(), |a, l| {
            let b = l.needs();
            Needs {
                phonetic: a.phonetic || b.phonetic,
                dates: a.dates || b.dates,
                numbers: a.numbers || b.numbers,
            }
        })
    }
}

/// A calendar date as parsed from a value, with its day number for differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ymd {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    /// Days since 1970-01-01.
    pub days: i64,
}

/// Parses `YYYYMMDD` or `YYYY-MM-DD` (also `/` or `.` separated). Invalid calendar
/// dates (month 13, 30 February) give `None`.
pub fn parse_date(s: &str) -> Option<Ymd> {
    let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_digit()).collect();
    let seps = s
        .bytes()
        .filter(|b| matches!(b, b'-' | b'/' | b'.'))
        .count();
    if digits.len() != 8 || digits.len() + seps != s.len() {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        digits[r]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (num(0..4) as i32, num(4..6), num(6..8));
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(Ymd {
        year,
        month,
        day,
        days: days_from_civil(year, month, day),
    })
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The characters of a short ASCII value: a bit per character (letters and digits
/// each their own; others may share bits) and the length.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    mask: u64,
    len: u8,
    /// ASCII and at most 64 bytes: the bounds and fast paths apply.
    fast: bool,
}

impl Shape {
    fn of(s: &str) -> Shape {
        if !s.is_ascii() || s.len() > 64 {
            return Shape::default();
        }
        let mask = s.bytes().fold(0u64, |m, c| {
            let bit = match c {
                b'a'..=b'z' => c - b'a',
                b'A'..=b'Z' => c - b'A' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                _ => 62 + (c & 1),
            };
            m | (1 << bit)
        });
        Shape {
            mask,
            len: s.len() as u8,
            fast: true,
        }
    }
}

/// Distinct characters of each value the other lacks: every one needs an edit, and
/// none can be a Jaro match. (Characters sharing a bit make these smaller, so the
/// bounds stay valid.)
#[inline]
fn lacking(x: Shape, y: Shape) -> (usize, usize) {
    (
        (x.mask & !y.mask).count_ones() as usize,
        (y.mask & !x.mask).count_ones() as usize,
    )
}

/// An upper bound of the Jaro similarity of two values of these lengths, each lacking
/// this many of the other's distinct characters.
#[inline]
fn jaro_bound(la: usize, lb: usize, da: usize, db: usize) -> f64 {
    let m = la.saturating_sub(da).min(lb.saturating_sub(db));
    if m == 0 {
        return 0.0;
    }
    let m = m as f64;
    (m / la as f64 + m / lb as f64 + 1.0) / 3.0
}

/// Tolerance for comparing a bound with a threshold in floating point.
const BOUND_SLACK: f64 = 1e-9;

/// The distinct values of one column and what each was analysed into.
#[derive(Debug, Default)]
pub struct ValueSet {
    /// Each value with which characters it holds (for cheap bounds on string
    /// metrics), side by side so that one memory read brings both.
    entries: Vec<(Box<str>, Shape)>,
    /// Double Metaphone primary and alternate codes, interned.
    phonetic: Vec<[u32; 2]>,
    dates: Vec<Option<Ymd>>,
    numbers: Vec<Option<f64>>,
}

impl ValueSet {
    /// Analyses `strings` (distinct, non-empty values) for the given needs.
    pub fn new(strings: Vec<Box<str>>, needs: Needs) -> ValueSet {
        let mut set = ValueSet {
            entries: strings
                .into_iter()
                .map(|s| {
                    let shape = Shape::of(&s);
                    (s, shape)
                })
                .collect(),
            ..ValueSet::default()
        };
        if needs.phonetic {
            let dm = DoubleMetaphone::default();
            let mut codes: HashMap<String, u32> = HashMap::new();
            let mut intern = |c: String| {
                let n = codes.len() as u32;
                *codes.entry(c).or_insert(n)
            };
            set.phonetic = set
                .entries
                .iter()
                .map(|(s, _)| {
                    let r = dm.double_metaphone(s);
                    let p = r.primary();
                    if p.is_empty() {
                        // No code (no letters): only identical values meet.
                        [NO_VALUE, NO_VALUE]
                    } else {
                        [intern(p), intern(r.alternate())]
                    }
                })
                .collect();
        }
        if needs.dates {
            set.dates = set.entries.iter().map(|(s, _)| parse_date(s)).collect();
        }
        if needs.numbers {
            set.numbers = set
                .entries
                .iter()
                .map(|(s, _)| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect();
        }
        set
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, id: u32) -> &str {
        &self.entries[id as usize].0
    }

    /// The id in this set of each value of `other` (or [`NO_VALUE`]), so that values
    /// of two columns can be compared as ids.
    pub fn translate(&self, other: &ValueSet) -> Vec<u32> {
        let index: HashMap<&str, u32> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, (s, _))| (&**s, i as u32))
            .collect();
        other
            .entries
            .iter()
            .map(|(s, _)| index.get(&**s).copied().unwrap_or(NO_VALUE))
            .collect()
    }
}

/// Whether two records hold a column's and another column's values the other way
/// round: `this_*` are value ids of the column, `other_*` of the other column, and
/// `to_other` maps the column's value ids to the other's ([`ValueSet::translate`]).
#[inline]
pub fn swapped(to_other: &[u32], this_a: u32, this_b: u32, other_a: u32, other_b: u32) -> bool {
    if this_a == NO_VALUE || this_b == NO_VALUE || other_a == NO_VALUE || other_b == NO_VALUE {
        return false;
    }
    to_other[this_a as usize] == other_b && to_other[this_b as usize] == other_a
}

/// The levels of one comparison, applied to value ids of one [`ValueSet`].
#[derive(Debug, Clone)]
pub struct Comparator {
    levels: Vec<Level>,
    /// Largest Levenshtein threshold among the levels: distances are computed up to it.
    max_lev: usize,
}

impl Comparator {
    /// `levels` must be non-empty and at most [`MAX_LEVELS`] long (the rules module
    /// checks this for rule files).
    pub fn new(levels: Vec<Level>) -> Comparator {
        assert!(!levels.is_empty() && levels.len() <= MAX_LEVELS);
        let max_lev = levels
            .iter()
            .filter_map(|l| match l {
                Level::Levenshtein(k) => Some(*k as usize),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Comparator { levels, max_lev }
    }

    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// The index of the "different" level.
    pub fn different(&self) -> u8 {
        self.levels.len() as u8
    }

    pub fn needs(&self) -> Needs {
        Needs::of(&self.levels)
    }

    /// The level reached by two values (ids into `set`, or [`NO_VALUE`]).
    /// Identical ids always reach level 0: every level's test is reflexive.
    #[inline]
    pub fn level(&self, set: &ValueSet, a: u32, b: u32) -> u8 {
        if a == NO_VALUE || b == NO_VALUE {
            return MISSING;
        }
        if a == b {
            return 0;
        }
        self.level_of_distinct(set, a, b)
    }

    /// The level of two different, present values.
    pub fn level_of_distinct(&self, set: &ValueSet, a: u32, b: u32) -> u8 {
        self.level_of_distinct_cross(set, a, b, false)
    }

    /// The level of two different, present values; `swapped` tells a swapped-columns
    /// level whether the records hold the two columns the other way round.
    pub fn level_of_distinct_cross(&self, set: &ValueSet, a: u32, b: u32, swapped: bool) -> u8 {
        let (ea, eb) = (&set.entries[a as usize], &set.entries[b as usize]);
        let (sa, sb): (&str, &str) = (&ea.0, &eb.0);
        let (xa, xb) = (ea.1, eb.1);
        let fast = xa.fast && xb.fast;
        // Lower bound of edit distances, and an upper bound of Jaro, from the shapes.
        let (da, db) = if fast { lacking(xa, xb) } else { (0, 0) };
        let edits_at_least = da.max(db);
        let jaro_ub = if fast {
            jaro_bound(xa.len as usize, xb.len as usize, da, db)
        } else {
            1.0
        };
        // Winkler's bonus is at most four prefix characters' worth.
        let jw_ub = if jaro_ub > 0.7 {
            jaro_ub + 0.4 * (1.0 - jaro_ub)
        } else {
            jaro_ub
        };
        let mut jw: Option<f64> = None;
        let mut jaro: Option<f64> = None;
        let mut lev: Option<usize> = None;
        for (i, level) in self.levels.iter().enumerate() {
            let pass = match *level {
                Level::Exact => false, // the values differ
                Level::SwappedWith(_) => swapped,
                Level::JaroWinkler(t) => {
                    jw_ub + BOUND_SLACK >= t
                        && *jw.get_or_insert_with(|| fast::jaro_winkler(sa, sb)) >= t
                }
                Level::Jaro(t) => {
                    jaro_ub + BOUND_SLACK >= t
                        && *jaro.get_or_insert_with(|| fast::jaro(sa, sb)) >= t
                }
                Level::Levenshtein(k) => {
                    edits_at_least <= k as usize
                        && length_gap(sa, sb) <= k as usize
                        && *lev
                            .get_or_insert_with(|| fast::levenshtein_within(sa, sb, self.max_lev))
                            <= k as usize
                }
                Level::DamerauLevenshtein(k) => {
                    edits_at_least <= k as usize
                        && length_gap(sa, sb) <= k as usize
                        && fast::damerau_levenshtein_within(sa, sb, k as usize)
                }
                Level::Phonetic => {
                    let (pa, pb) = (set.phonetic[a as usize], set.phonetic[b as usize]);
                    pa[0] != NO_VALUE
                        && (pa[0] == pb[0] || pa[0] == pb[1] || pa[1] == pb[0] || pa[1] == pb[1])
                }
                Level::DateWithinDays(d) => match (set.dates[a as usize], set.dates[b as usize]) {
                    (Some(x), Some(y)) => (x.days - y.days).unsigned_abs() <= u64::from(d),
                    _ => false,
                },
                Level::DateSwappedDayMonth => {
                    match (set.dates[a as usize], set.dates[b as usize]) {
                        (Some(x), Some(y)) => {
                            x.year == y.year && x.month == y.day && x.day == y.month
                        }
                        _ => false,
                    }
                }
                Level::NumericWithin(t) => {
                    match (set.numbers[a as usize], set.numbers[b as usize]) {
                        (Some(x), Some(y)) => (x - y).abs() <= t,
                        _ => false,
                    }
                }
            };
            if pass {
                return i as u8;
            }
        }
        self.different()
    }

    /// Compares two raw strings (empty = missing). Convenient for tests and one-off
    /// checks; the pipeline uses [`Comparator::level`] on interned values.
    pub fn compare_str(&self, a: &str, b: &str) -> u8 {
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() || b.is_empty() {
            return MISSING;
        }
        let set = ValueSet::new(vec![a.into(), b.into()], self.needs());
        if a == b {
            return 0;
        }
        self.level_of_distinct(&set, 0, 1)
    }
}

/// A lower bound of the edit distance: the difference of the lengths in chars.
#[inline]
fn length_gap(a: &str, b: &str) -> usize {
    if a.is_ascii() && b.is_ascii() {
        a.len().abs_diff(b.len())
    } else {
        a.chars().count().abs_diff(b.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(levels: Vec<Level>) -> Comparator {
        Comparator::new(levels)
    }

    #[test]
    fn exact_and_missing() {
        let c = cmp(vec![Level::Exact]);
        assert_eq!(c.compare_str("dent", "dent"), 0);
        assert_eq!(c.compare_str("dent", "dant"), 1);
        assert_eq!(c.compare_str("", "dent"), MISSING);
        assert_eq!(c.compare_str("dent", "  "), MISSING);
    }

    #[test]
    fn jaro_winkler_levels() {
        let c = cmp(vec![
            Level::Exact,
            Level::JaroWinkler(0.92),
            Level::JaroWinkler(0.8),
        ]);
        // One typo in a long name: very close.
        assert_eq!(c.compare_str("lachlan", "lachlnn"), 1);
        assert_eq!(c.compare_str("rachael", "rachel"), 1);
        // Different first letters get no Winkler prefix bonus.
        assert_eq!(c.compare_str("jonathan", "johnathon"), 2);
        assert_eq!(c.compare_str("steven", "stephen"), 2);
        assert_eq!(c.compare_str("isabella", "hayden"), 3);
    }

    #[test]
    fn jaro_level() {
        let c = cmp(vec![Level::Jaro(0.9)]);
        assert_eq!(c.compare_str("martha", "marhta"), 0);
        assert_eq!(c.compare_str("martha", "jones"), 1);
    }

    #[test]
    fn levenshtein_and_damerau() {
        let lev = cmp(vec![Level::Levenshtein(1), Level::Levenshtein(2)]);
        assert_eq!(lev.compare_str("2152", "2153"), 0);
        // A transposition costs two substitutions in Levenshtein...
        assert_eq!(lev.compare_str("2464", "2446"), 1);
        assert_eq!(lev.compare_str("4129", "2152"), 2);
        // ...and one edit in Damerau–Levenshtein.
        let dl = cmp(vec![Level::DamerauLevenshtein(1)]);
        assert_eq!(dl.compare_str("2464", "2446"), 0);
        assert_eq!(dl.compare_str("1683994", "1683949"), 0);
        assert_eq!(dl.compare_str("1683994", "6653129"), 1);
    }

    #[test]
    fn phonetic_level() {
        let c = cmp(vec![Level::Exact, Level::Phonetic]);
        assert_eq!(c.compare_str("smith", "smyth"), 1);
        assert_eq!(c.compare_str("catherine", "kathryn"), 1);
        // Alternate codes meet: Schmidt's alternate is Smith's primary.
        assert_eq!(c.compare_str("schmidt", "smith"), 1);
        assert_eq!(c.compare_str("smith", "jones"), 2);
        // Values without letters have no code and never meet phonetically.
        assert_eq!(c.compare_str("12", "13"), 2);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("19280722").map(|d| d.month), Some(7));
        assert_eq!(parse_date("1928-07-22").map(|d| d.day), Some(22));
        assert_eq!(parse_date("19281322"), None);
        assert_eq!(parse_date("19010229"), None);
        assert_eq!(parse_date("20000229").map(|d| d.day), Some(29));
        assert_eq!(parse_date("1970-01-01").map(|d| d.days), Some(0));
        assert_eq!(parse_date("2000-03-01").map(|d| d.days), Some(11_017));
        assert_eq!(parse_date("1928072"), None);

        let c = cmp(vec![
            Level::Exact,
            Level::DateSwappedDayMonth,
            Level::DateWithinDays(31),
            Level::Levenshtein(1),
        ]);
        assert_eq!(c.compare_str("19280702", "19280207"), 1);
        assert_eq!(c.compare_str("19281231", "19290102"), 2);
        // A typo making an impossible month is still one edit away.
        assert_eq!(c.compare_str("19280722", "19281722"), 3);
        assert_eq!(c.compare_str("19280722", "19530101"), 4);
    }

    #[test]
    fn numbers() {
        let c = cmp(vec![Level::Exact, Level::NumericWithin(2.0)]);
        assert_eq!(c.compare_str("25", "27"), 1);
        assert_eq!(c.compare_str("25", "28"), 2);
        assert_eq!(c.compare_str("25", "x"), 2);
    }

    #[test]
    fn swapped_columns() {
        // given_name and surname of three records: (nathan, reid), (reid, nathan),
        // (reid, smith).
        let given = ValueSet::new(vec!["nathan".into(), "reid".into()], Needs::default());
        let surname = ValueSet::new(
            vec!["reid".into(), "nathan".into(), "smith".into()],
            Needs::default(),
        );
        let to_surname = surname.translate(&given);
        assert_eq!(to_surname, vec![1, 0]);
        assert!(swapped(&to_surname, 0, 1, 0, 1));
        // Only one crossing agrees: not a swap.
        assert!(!swapped(&to_surname, 0, 1, 0, 2));
        assert!(!swapped(&to_surname, 0, NO_VALUE, 0, 1));
        let c = cmp(vec![
            Level::Exact,
            Level::SwappedWith("surname".into()),
            Level::JaroWinkler(0.9),
        ]);
        assert_eq!(c.level_of_distinct_cross(&given, 0, 1, true), 1);
        assert_eq!(c.level_of_distinct_cross(&given, 0, 1, false), 3);
    }

    #[test]
    fn bounds_never_change_a_level() {
        // Levels computed through the shape bounds against the metrics themselves.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let alphabet = b"aeinrstlmb 0123";
        let words: Vec<String> = (0..400)
            .map(|_| {
                let n = rng.random_range(1..10);
                (0..n)
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
                    .collect()
            })
            .collect();
        let c = cmp(vec![
            Level::JaroWinkler(0.9),
            Level::Jaro(0.8),
            Level::JaroWinkler(0.7),
            Level::Levenshtein(1),
            Level::DamerauLevenshtein(2),
            Level::Levenshtein(3),
        ]);
        let set = ValueSet::new(
            words.iter().map(|w| w.as_str().into()).collect(),
            Needs::default(),
        );
        for a in 0..words.len() as u32 {
            for b in 0..words.len() as u32 {
                if words[a as usize] == words[b as usize] {
                    continue;
                }
                let (x, y) = (set.get(a), set.get(b));
                let expected = if strsim::jaro_winkler(x, y) >= 0.9 {
                    0
                } else if strsim::jaro(x, y) >= 0.8 {
                    1
                } else if strsim::jaro_winkler(x, y) >= 0.7 {
                    2
                } else if strsim::levenshtein(x, y) <= 1 {
                    3
                } else if strsim::damerau_levenshtein(x, y) <= 2 {
                    4
                } else if strsim::levenshtein(x, y) <= 3 {
                    5
                } else {
                    6
                };
                assert_eq!(c.level_of_distinct(&set, a, b), expected, "{x:?} {y:?}");
            }
        }
    }

    #[test]
    fn identical_ids_reach_level_zero() {
        let set = ValueSet::new(vec!["knox street".into()], Needs::default());
        let c = cmp(vec![Level::JaroWinkler(0.9)]);
        assert_eq!(c.level(&set, 0, 0), 0);
        assert_eq!(c.level(&set, 0, NO_VALUE), MISSING);
    }
}
