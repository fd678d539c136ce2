//! Names compared as sets of name parts rather than strings.
//!
//! Order does not matter (given and family name swapped), a part may be missing on
//! one side (a patronymic dropped, a grandfather added), two parts on one side may be
//! one on the other (Abdul Rahman / Abdulrahman), and each pair of parts agrees at a
//! [`PartLevel`]: exact, variant (one name under the name rules of
//! `matching-rules/names/variants.toml` — Mohammed / Maxamed, Oleksandr /
//! Aleksandr — or the same consonant skeleton with vowels that roughly agree or
//! are not written: Mohamed / محمد), nickname (`nicknames.toml`: Sasha /
//! Oleksandr), close (Jaro–Winkler or Damerau–Levenshtein), phonetic (Double
//! Metaphone or Daitch–Mokotoff code in common), or not at all.
//!
//! The rules reach the comparison through the keys: [`NameKeys::variant`] and
//! [`NameKeys::nicknames`] are computed under the rules of whoever keyed the parts
//! (the matcher's `TracingRules::names`).

use std::sync::Arc;

use crate::names::{skeleton_variants, NameKeys, NameRelation};

use super::fast;

/// How well two name parts agree, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartLevel {
    Exact = 0,
    Variant = 1,
    /// One is a nickname of the other, or both of one name (by the name rules).
    /// Below a variant (a nickname may stand for several names), above a typo.
    Nickname = 2,
    Close = 3,
    Phonetic = 4,
    Different = 5,
}

impl PartLevel {
    pub fn label(&self) -> &'static str {
        match self {
            PartLevel::Exact => "exact",
            PartLevel::Variant => "variant",
            PartLevel::Nickname => "nickname",
            PartLevel::Close => "close",
            PartLevel::Phonetic => "phonetic",
            PartLevel::Different => "different",
        }
    }
}

/// Thresholds of the `close` level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CloseOptions {
    /// Jaro–Winkler similarity at or above which two parts are close.
    pub jaro_winkler: f64,
    /// Damerau–Levenshtein distance at or under which two parts (of at least
    /// `min_len_for_edit` letters) are close.
    pub damerau: usize,
    pub min_len_for_edit: usize,
    /// Which phonetic codes count: Double Metaphone and Daitch–Mokotoff codes are
    /// all kept in [`NameKeys::phonetic`]; when false the phonetic level is off.
    pub phonetic: bool,
}

impl Default for CloseOptions {
    fn default() -> Self {
        CloseOptions {
            jaro_winkler: 0.90,
            damerau: 1,
            min_len_for_edit: 4,
            phonetic: true,
        }
    }
}

/// The level of two name parts.
pub fn part_level(a: &NameKeys, b: &NameKeys, opts: &CloseOptions) -> PartLevel {
    if a.normalized == b.normalized {
        return PartLevel::Exact;
    }
    let (x, y) = (a.normalized.as_str(), b.normalized.as_str());
    // What the name rules say: one name in other spellings, or a nickname.
    let relation = a.rule_relation(b);
    if relation == Some(NameRelation::Variant) {
        return PartLevel::Variant;
    }
    // The same consonants are the same name when the vowels roughly agree too, or
    // when one side was written without vowels (Arabic script: "mhmd"); Hassan and
    // Hussein share a skeleton and are two names.
    if a.shares_skeleton(b) && (few_vowels(x) || few_vowels(y) || fast::jaro_winkler(x, y) >= 0.8) {
        return PartLevel::Variant;
    }
    if relation == Some(NameRelation::Nickname) {
        return PartLevel::Nickname;
    }
    if x.len() >= 3 && y.len() >= 3 {
        // Jaro–Winkler rewards a common prefix: Cabdi and Cabdiwali are two names.
        if x.len().abs_diff(y.len()) <= 2 && fast::jaro_winkler(x, y) >= opts.jaro_winkler {
            return PartLevel::Close;
        }
        if x.len().min(y.len()) >= opts.min_len_for_edit
            && fast::damerau_levenshtein_within(x, y, opts.damerau)
        {
            return PartLevel::Close;
        }
    }
    if opts.phonetic && a.shares_phonetic(b) {
        return PartLevel::Phonetic;
    }
    PartLevel::Different
}

thread_local! {
    /// Part levels already computed, by the addresses of the two keys; active only
    /// inside a [`MemoScope`], which clears it when it ends.
    static MEMO: std::cell::RefCell<Option<crate::link::data::FastMap<(usize, usize), PartLevel>>> =
        const { std::cell::RefCell::new(None) };
}

/// While alive, [`compare_sets`] on this thread remembers the level of every pair of
/// name parts it met (by the addresses of their shared keys): the candidates of one
/// inquiry repeat the same common names many times. The keys compared must outlive
/// the scope (they do: they belong to the loaded records).
pub struct MemoScope(());

impl MemoScope {
    pub fn new() -> MemoScope {
        MEMO.with(|m| *m.borrow_mut() = Some(Default::default()));
        MemoScope(())
    }
}

impl Default for MemoScope {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for MemoScope {
    fn drop(&mut self) {
        MEMO.with(|m| *m.borrow_mut() = None);
    }
}

/// [`part_level`], remembered inside a [`MemoScope`].
pub fn memo_part_level(a: &Arc<NameKeys>, b: &Arc<NameKeys>, opts: &CloseOptions) -> PartLevel {
    let key = (Arc::as_ptr(a) as usize, Arc::as_ptr(b) as usize);
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        match m.as_mut() {
            None => part_level(a, b, opts),
            Some(map) => *map.entry(key).or_insert_with(|| part_level(a, b, opts)),
        }
    })
}

/// A token written without (most of) its vowels, as abjad scripts are.
fn few_vowels(t: &str) -> bool {
    let v = t
        .bytes()
        .filter(|b| matches!(b, b'a' | b'e' | b'i' | b'o' | b'u'))
        .count();
    // Two consonants and no vowel is a short name written in Arabic script, whose
    // alef and ʿayn transliterate to nothing: عادل reads "dl" (Adel).
    (t.len() >= 3 && v * 5 < t.len()) || (t.len() == 2 && v == 0)
}

/// One agreement between the two sets: part `a` (or parts `a` and `a+1` merged) of
/// the left set with part `b` (or `b` and `b+1`) of the right.
#[derive(Debug, Clone, PartialEq)]
pub struct PartMatch {
    pub left: Vec<usize>,
    pub right: Vec<usize>,
    pub level: PartLevel,
}

/// The best assignment between two sets of name parts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SetMatch {
    pub matches: Vec<PartMatch>,
    pub left_len: usize,
    pub right_len: usize,
    pub left_unmatched: usize,
    pub right_unmatched: usize,
}

impl SetMatch {
    /// Parts of the smaller side left without a partner.
    pub fn smaller_unmatched(&self) -> usize {
        if self.left_len <= self.right_len {
            self.left_unmatched
        } else {
            self.right_unmatched
        }
    }

    /// The worst level among the agreements (Different if none).
    pub fn worst(&self) -> PartLevel {
        self.matches
            .iter()
            .map(|m| m.level)
            .max()
            .unwrap_or(PartLevel::Different)
    }

    /// The best level among the agreements (Different if none).
    pub fn best(&self) -> PartLevel {
        self.matches
            .iter()
            .map(|m| m.level)
            .min()
            .unwrap_or(PartLevel::Different)
    }

    /// Every part of the smaller side found a partner.
    pub fn smaller_covered(&self) -> bool {
        !self.matches.is_empty() && self.smaller_unmatched() == 0
    }

    pub fn left_matched(&self, i: usize) -> bool {
        self.matches.iter().any(|m| m.left.contains(&i))
    }

    pub fn right_matched(&self, j: usize) -> bool {
        self.matches.iter().any(|m| m.right.contains(&j))
    }
}

fn joined_matches(parts: &[&NameKeys], other: &NameKeys) -> bool {
    // A merged form is about as long as the two parts together (an "al" or a
    // vowel may go): skip the skeletons of anything else.
    let len: usize = parts.iter().map(|k| k.normalized.len()).sum();
    if other.normalized.len() + 4 < len || len + 1 < other.normalized.len() {
        return false;
    }
    let joined: String = parts.iter().map(|k| k.normalized.as_str()).collect();
    if joined == other.normalized {
        return true;
    }
    let skels = skeleton_variants(&joined);
    other
        .skeletons()
        .any(|s| skels.iter().any(|j| j.len() >= 2 && j == s))
}

/// Compares two sets of name parts: greedily pairs the best-agreeing parts (each
/// part used once), then tries merged parts (two adjacent parts of one side written
/// as one on the other) among those left over.
pub fn compare_sets(
    left: &[Arc<NameKeys>],
    right: &[Arc<NameKeys>],
    opts: &CloseOptions,
) -> SetMatch {
    let (nl, nr) = (left.len(), right.len());
    let mut out = SetMatch {
        left_len: nl,
        right_len: nr,
        ..SetMatch::default()
    };
    if nl == 0 || nr == 0 {
        out.left_unmatched = nl;
        out.right_unmatched = nr;
        return out;
    }
    let mut cells: Vec<(PartLevel, usize, usize)> = Vec::with_capacity(nl * nr);
    for (i, a) in left.iter().enumerate() {
        for (j, b) in right.iter().enumerate() {
            let l = memo_part_level(a, b, opts);
            if l != PartLevel::Different {
                cells.push((l, i, j));
            }
        }
    }
    cells.sort_unstable();
    let mut used_l = vec![false; nl];
    let mut used_r = vec![false; nr];
    for (l, i, j) in cells {
        if !used_l[i] && !used_r[j] {
            used_l[i] = true;
            used_r[j] = true;
            out.matches.push(PartMatch {
                left: vec![i],
                right: vec![j],
                level: l,
            });
        }
    }
    // Merged and split parts among the leftovers.
    for (side_is_left, many, one) in [(true, left, right), (false, right, left)] {
        let (used_many, used_one) = if side_is_left {
            (&mut used_l, &mut used_r)
        } else {
            (&mut used_r, &mut used_l)
        };
        for i in 0..many.len().saturating_sub(1) {
            if used_many[i] || used_many[i + 1] {
                continue;
            }
            for (j, o) in one.iter().enumerate() {
                if used_one[j] {
                    continue;
                }
                if joined_matches(&[&many[i], &many[i + 1]], o) {
                    used_many[i] = true;
                    used_many[i + 1] = true;
                    used_one[j] = true;
                    let (l, r) = if side_is_left {
                        (vec![i, i + 1], vec![j])
                    } else {
                        (vec![j], vec![i, i + 1])
                    };
                    out.matches.push(PartMatch {
                        left: l,
                        right: r,
                        level: PartLevel::Variant,
                    });
                    break;
                }
            }
        }
    }
    out.left_unmatched = used_l.iter().filter(|u| !**u).count();
    out.right_unmatched = used_r.iter().filter(|u| !**u).count();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{keys, name_parts, NameKeyer, NameRules};

    fn set(s: &str) -> Vec<Arc<NameKeys>> {
        name_parts(s).iter().map(|t| Arc::new(keys(t))).collect()
    }

    fn cmp(a: &str, b: &str) -> SetMatch {
        compare_sets(&set(a), &set(b), &CloseOptions::default())
    }

    #[test]
    fn part_levels_across_scripts() {
        let o = CloseOptions::default();
        let k = |s: &str| keys(&name_parts(s)[0]);
        assert_eq!(
            part_level(&k("Mohamed"), &k("Mohamed"), &o),
            PartLevel::Exact
        );
        assert_eq!(
            part_level(&k("Mohamed"), &k("محمد"), &o),
            PartLevel::Variant
        );
        assert_eq!(
            part_level(&k("Mohammed"), &k("Muhammad"), &o),
            PartLevel::Variant
        );
        assert_eq!(
            part_level(&k("Oleksandr"), &k("Олександр"), &o),
            PartLevel::Exact
        );
        assert_eq!(
            part_level(&k("Oleksandr"), &k("Olexandr"), &o),
            PartLevel::Variant
        );
        assert_eq!(part_level(&k("Adel"), &k("عادل"), &o), PartLevel::Variant);
        assert_eq!(part_level(&k("Abebe"), &k("አበበ"), &o), PartLevel::Exact);
        assert_eq!(part_level(&k("Nguyễn"), &k("NGUYEN"), &o), PartLevel::Exact);
        // A typo.
        assert_eq!(part_level(&k("Fatuma"), &k("Fatuna"), &o), PartLevel::Close);
        assert_eq!(
            part_level(&k("Gebremariam"), &k("Gebremarian"), &o),
            PartLevel::Close
        );
        // Transliteration schemes (variants.toml rewrites j, y → i).
        assert_eq!(
            part_level(&k("Yulia"), &k("Julija"), &o),
            PartLevel::Variant
        );
        // Sound-alikes only the phonetic codes join.
        assert_eq!(
            part_level(&k("Katarina"), &k("Gadarina"), &o),
            PartLevel::Phonetic
        );
        assert_eq!(
            part_level(&k("Abebe"), &k("Oleksandr"), &o),
            PartLevel::Different
        );
        assert_eq!(
            part_level(&k("Fatima"), &k("Olga"), &o),
            PartLevel::Different
        );
    }

    /// Keys under the given rules, one part.
    fn keyed(rules: &Arc<NameRules>, s: &str) -> NameKeys {
        NameKeyer::with_rules(Arc::clone(rules)).keys(&name_parts(s)[0])
    }

    #[test]
    fn the_name_rules_make_variants_and_nicknames() {
        let o = CloseOptions::default();
        let rules = NameRules::builtin();
        let none = Arc::new(NameRules::empty());
        let level =
            |r: &Arc<NameRules>, a: &str, b: &str| part_level(&keyed(r, a), &keyed(r, b), &o);
        // One group of variants.toml, or one comparison form: the rules relate
        // them (whatever the skeleton also says).
        for (a, b) in [
            ("Mohammed", "Maxamed"),
            ("Oleksandr", "Aleksandr"),
            ("Oleksandr", "Alexander"),
            ("Fatima", "Fadumo"),
        ] {
            assert_eq!(level(&rules, a, b), PartLevel::Variant, "{a} / {b}");
            assert_eq!(
                keyed(&rules, a).rule_relation(&keyed(&rules, b)),
                Some(NameRelation::Variant),
                "{a} / {b}"
            );
        }
        // Without rules, what only the rules know is no variant.
        assert!(level(&none, "Fatima", "Fadumo") > PartLevel::Variant);
        // A nickname of nicknames.toml, in any spelling of either.
        for (a, b) in [
            ("Sasha", "Oleksandr"),
            ("Саша", "Aleksandr"),
            ("Hamoudi", "Mohamed"),
        ] {
            assert_eq!(level(&rules, a, b), PartLevel::Nickname, "{a} / {b}");
            assert_eq!(
                level(&none, a, b),
                PartLevel::Different,
                "{a} / {b} without rules"
            );
        }
        // Hassan and Hussein share a skeleton and are two names.
        assert!(level(&rules, "Hassan", "Hussein") > PartLevel::Nickname);
        let m = compare_sets(
            &[Arc::new(keyed(&rules, "Sasha"))],
            &[Arc::new(keyed(&rules, "Oleksandr"))],
            &o,
        );
        assert_eq!(m.worst(), PartLevel::Nickname);
        assert_eq!(PartLevel::Nickname.label(), "nickname");
    }

    #[test]
    fn order_insensitive_and_missing_parts() {
        let m = cmp("Ahmed Hassan", "HASSAN Ahmed");
        assert!(m.smaller_covered());
        assert_eq!(m.worst(), PartLevel::Exact);
        // The patronymic dropped on one side.
        let m = cmp("Desta Yohannes Haile", "Desta Haile");
        assert!(m.smaller_covered());
        assert_eq!(m.left_unmatched, 1);
        // Different children of one family share all but their own name.
        let m = cmp("Omar Ali Hassan", "Ahmed Ali Hassan");
        assert!(!m.smaller_covered());
        assert_eq!(m.smaller_unmatched(), 1);
    }

    #[test]
    fn merged_and_split_parts() {
        let m = cmp("Abdul Rahman Ali", "Abdulrahman Ali");
        assert!(m.smaller_covered(), "{m:?}");
        let m = cmp("Abdirahman", "Abd al Rahman");
        // "al" stays over, but Abdirahman meets "abd"+"al"? No: abd+al = abdal.
        // The article is dropped by the matcher's particle rules; here the set
        // comparison alone still pairs the compound with a split form.
        let m2 = cmp("Abdirahman", "Abdi Rahman");
        assert!(m2.smaller_covered(), "{m2:?}");
        let _ = m;
        let m = cmp("Gebre Medhin", "Gebremedhin");
        assert!(m.smaller_covered());
        let m = cmp("Jean-Pierre Kabila", "Jeanpierre KABILA");
        assert!(m.smaller_covered());
    }

    #[test]
    fn cyrillic_and_transliterations() {
        let m = cmp("Юлія Шевченко", "Iuliia Shevchenko");
        assert!(m.smaller_covered(), "{m:?}");
        let m = cmp("Julija Schewtschenko", "Yuliia Shevchenko");
        assert!(m.smaller_covered(), "{m:?}");
        let m = cmp("Nguyễn Văn An", "NGUYEN Van Anh");
        assert_eq!(m.matches.len(), 3);
    }
}
