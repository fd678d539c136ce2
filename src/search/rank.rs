//! The officer's ranking: how well one record answers one query, in [0, 1], with
//! short reasons.
//!
//! Tantivy only proposes candidates; this scorer decides. Names are compared token
//! by token, order-insensitively (the given and family names are often swapped),
//! each query token taking its best partner among the record's tokens, with
//! Jaro–Winkler on the normalized tokens lifted when the two share phonetic codes
//! or a consonant skeleton, and lifted further when the name rules say they are
//! one name (a variant group, one comparison form) or a nickname of it. Places are
//! compared as text and, through the gazetteer, as places: another spelling of the
//! same village, a village of the district asked for.

use std::sync::Arc;

use crate::compare::fast::{jaro_winkler, normalized_levenshtein_from, osa_within};

use crate::names::{
    normalize, skeleton_variants, NameKeys, NameRelation, NameRules, SharedKeyCache,
    MIN_VARIANT_KEY,
};
use crate::places::{Gazetteer, PlaceLevel, PlaceMatch};
use crate::record::{RecordKind, Sex, YearRange};

use super::summary::Summary;

/// A name (or place) as the officer typed it, prepared once per search.
#[derive(Debug, Clone)]
pub(crate) struct QueryName {
    pub tokens: Vec<Arc<NameKeys>>,
    /// The tokens run together: "abd al rahman" → "abdalrahman".
    pub joined: String,
    pub joined_skeletons: Vec<String>,
    /// The variant key of `joined` under the name rules.
    pub joined_key: String,
    /// The same name with the compounds the rules join only when known ("abdi
    /// rahman" → "abdirahman"), when there are any: compared too, the better
    /// counts.
    pub full: Option<Box<QueryName>>,
    /// The similarities of the tokens to record tokens already compared in this
    /// search: a search ranks dozens of candidates, whose tokens repeat.
    sims: Memo<SimRow>,
    /// The similarity of `joined` to record names run together, already compared
    /// in this search, and whether the name rules made it (see `match_group`).
    joined_sims: Memo<JoinedParts>,
}

/// A record token's similarity to each query token.
type SimRow = Box<[(f32, Via)]>;

/// Record text → what comparing it with one query name gave.
struct Memo<V>(std::cell::RefCell<crate::names::FastMap<Box<str>, V>>);

/// Distinct record texts a memo keeps; a search meets far fewer.
const SIM_MEMO_CAPACITY: usize = 4096;

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo(Default::default())
    }
}

impl<V: Default> Memo<V> {
    /// `f` of the memo's value for `key` (a default value the first time).
    fn update<R>(&self, key: &str, f: impl FnOnce(&mut V) -> R) -> R {
        let mut memo = self.0.borrow_mut();
        if !memo.contains_key(key) {
            if memo.len() >= SIM_MEMO_CAPACITY {
                memo.clear();
            }
            memo.insert(key.into(), V::default());
        }
        f(memo.get_mut(key).expect("inserted above"))
    }
}

impl<V> Clone for Memo<V> {
    /// A fresh memo: the copy is another query's.
    fn clone(&self) -> Self {
        Memo::default()
    }
}

impl<V> std::fmt::Debug for Memo<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memo({} entries)", self.0.borrow().len())
    }
}

impl QueryName {
    /// A query name from its parts (normalized tokens, or the compared parts of
    /// the name rules).
    pub fn from_parts(parts: Vec<String>, cache: &SharedKeyCache) -> Option<QueryName> {
        if parts.is_empty() {
            return None;
        }
        // A query longer than this is not a name; keep the cost bounded.
        let parts = &parts[..parts.len().min(MAX_QUERY_TOKENS)];
        let joined: String = parts.concat();
        Some(QueryName {
            tokens: parts.iter().map(|t| cache.get(t)).collect(),
            joined_skeletons: skeleton_variants(&joined),
            joined_key: cache.keyer().rules().variant_key(&joined),
            joined,
            full: None,
            sims: Memo::default(),
            joined_sims: Memo::default(),
        })
    }

    /// A person's name as typed: its loose parts, and its full parts besides when
    /// the rules join more of them (see [`NameRules::loose_parts`]).
    pub fn of_name(text: &str, cache: &SharedKeyCache) -> Option<QueryName> {
        let rules = cache.keyer().rules();
        let loose = rules.loose_parts(text, false);
        let full = rules.parts(text);
        let mut q = QueryName::from_parts(loose.clone(), cache)?;
        if full != loose {
            q.full = QueryName::from_parts(full, cache).map(Box::new);
        }
        Some(q)
    }
}

pub(crate) const MAX_QUERY_TOKENS: usize = 6;
/// Record tokens compared per group; real names have far fewer.
const MAX_RECORD_TOKENS: usize = 12;

#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub kind: Option<RecordKind>,
    pub name: Option<QueryName>,
    pub father: Option<QueryName>,
    pub mother: Option<QueryName>,
    pub place: Option<QueryName>,
    /// The gazetteer places the place text may name.
    pub place_matches: Vec<PlaceMatch>,
    /// Country codes the place text names ("Somalia", "SO").
    pub place_countries: Vec<String>,
    pub years: Option<YearRange>,
    /// Only M or F; an unknown sex asks nothing.
    pub sex: Option<Sex>,
    pub viewer_agency: Option<String>,
    /// Only records of this agency (see `SearchQuery::only_agency`).
    pub only_agency: Option<String>,
}

impl Prepared {
    pub fn has_criteria(&self) -> bool {
        self.name.is_some()
            || self.father.is_some()
            || self.mother.is_some()
            || self.place.is_some()
            || self.years.is_some()
            || self.sex.is_some()
    }

    /// The consent rule: a child without tracing consent is shown only to its own
    /// agency.
    pub fn may_see(&self, s: &Summary) -> bool {
        if self.only_agency.as_ref().is_some_and(|a| s.agency != *a) {
            return false;
        }
        match &self.viewer_agency {
            None => true,
            Some(viewer) => s.consent || s.agency == *viewer,
        }
    }
}

/// How two tokens were found to be the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Exact,
    /// One name by the rules: a variant group or the same comparison form.
    Variant,
    /// A nickname of the other, or both nicknames of one name.
    Nickname,
    Spelling,
    Typo,
    Phonetic,
    Skeleton,
    Initial,
}

impl Via {
    fn label(self) -> &'static str {
        match self {
            Via::Exact => "exact",
            Via::Variant => "variant",
            Via::Nickname => "nickname",
            Via::Spelling => "spelling",
            Via::Typo => "typo",
            Via::Phonetic => "phonetic",
            Via::Skeleton => "skeleton",
            Via::Initial => "initial",
        }
    }
}

/// Below this, two tokens are not taken to be the same name at all.
const TOKEN_THRESHOLD: f32 = 0.72;
/// Jaro–Winkler needed without any shared key.
const SPELLING_THRESHOLD: f32 = 0.85;
/// The best a token that is not the same can score: exact equality stays ahead.
const MAX_VARIANT: f32 = 0.96;
/// Two spellings of one name by the rules: a strong match (as good as one typo
/// in a long name), but below the same spelling: of two children with one name,
/// the one written as the officer heard it comes first.
const RULE_VARIANT: f32 = 0.92;
/// A nickname and its name: strong, a little less sure than a spelling.
const RULE_NICKNAME: f32 = 0.88;
/// How like the query's name a record's names run together must be to count.
const JOINED_THRESHOLD: f32 = 0.85;
/// A match of names run together counts a little less than one token by token.
const JOINED_DISCOUNT: f32 = 0.97;
/// Names run together with the same consonant skeleton.
const SAME_SKELETON: f32 = 0.9;

fn is_weak_code(code: &str) -> bool {
    // Double Metaphone codes of one or two letters ("AL") and Daitch–Mokotoff codes
    // with at most two coded sounds ("180000") join many unrelated names.
    if code.bytes().all(|b| b.is_ascii_digit()) {
        code.bytes().rev().take_while(|&b| b == b'0').count() >= 4
    } else {
        code.len() <= 2
    }
}

/// Similarity of two tokens in [0, 1] and what made them similar.
pub(crate) fn token_similarity(q: &NameKeys, r: &NameKeys) -> (f32, Via) {
    let (a, b) = (q.normalized.as_str(), r.normalized.as_str());
    if a == b {
        return (1.0, Via::Exact);
    }
    let rule = match q.rule_relation(r) {
        Some(NameRelation::Variant) => Some((RULE_VARIANT, Via::Variant)),
        Some(NameRelation::Nickname) => Some((RULE_NICKNAME, Via::Nickname)),
        _ => None,
    };
    if a.len() == 1 || b.len() == 1 {
        let initial = a.as_bytes()[0] == b.as_bytes()[0];
        return if initial {
            (0.75, Via::Initial)
        } else {
            (0.0, Via::Spelling)
        };
    }
    let jw = jaro_winkler(a, b) as f32;
    // Jaro–Winkler alone: only close spellings count ("Halima"/"Haliima"); two
    // unrelated short names easily reach 0.75.
    let mut best = if jw >= SPELLING_THRESHOLD {
        (jw.min(MAX_VARIANT), Via::Spelling)
    } else {
        (0.0, Via::Spelling)
    };
    if let Some((score, via)) = rule {
        if score >= best.0 {
            best = (score, via);
        }
    }
    let mut lift = |score: f32, via: Via| {
        let score = score.min(MAX_VARIANT);
        if score > best.0 {
            best = (score, via);
        }
    };
    if jw >= 0.8 && a.len() >= 4 && b.len() >= 4 && osa_within(a, b, 1) == 1 {
        lift(0.9_f32.max(jw), Via::Typo);
    }
    // How many keys the two share, weak keys counting half.
    let mut phonetic = 0.0_f32;
    for code in &q.phonetic {
        if r.phonetic.contains(code) {
            phonetic += if is_weak_code(code) { 0.5 } else { 1.0 };
        }
    }
    let phonetic = phonetic.min(2.0);
    let skeleton = if q.shares_skeleton(r) {
        let len = q.skeletons().chain(r.skeletons()).map(str::len).min();
        if len.unwrap_or(0) >= 3 {
            1.0
        } else {
            0.5
        }
    } else {
        0.0
    };
    let strength = phonetic + skeleton;
    let floor = if strength >= 2.5 {
        0.78 + 0.17 * jw
    } else if strength >= 1.5 {
        0.74 + 0.18 * jw
    } else if strength >= 1.0 {
        0.68 + 0.2 * jw
    } else if strength > 0.0 && jw >= 0.75 {
        // Weak keys only ("Omar"/"Cumar" on a two-letter skeleton): a fairly close
        // spelling that also sounds alike, just over the threshold.
        0.72 + 0.3 * (jw - 0.75)
    } else {
        0.0
    };
    let via = if phonetic >= skeleton {
        Via::Phonetic
    } else {
        Via::Skeleton
    };
    lift(floor, via);
    best
}

/// One record token a query token may pair with.
struct Candidate {
    keys: Arc<NameKeys>,
    /// Multiplies the similarity: tokens of another group count for less.
    factor: f32,
    /// Whether it belongs to the group proper (counts for coverage).
    own: bool,
    label: &'static str,
}

/// The outcome of comparing a query name with a record's group of names.
struct GroupMatch {
    score: f32,
    reasons: Vec<String>,
}

fn collect_tokens<'a>(
    out: &mut Vec<Candidate>,
    values: impl IntoIterator<Item = &'a String>,
    factor: f32,
    own: bool,
    label: &'static str,
    cache: &SharedKeyCache,
) {
    for value in values {
        for tok in value.split(' ').filter(|t| !t.is_empty()) {
            if out.len() >= MAX_RECORD_TOKENS {
                return;
            }
            if out.iter().any(|c| c.keys.normalized == tok) {
                continue;
            }
            out.push(Candidate {
                keys: cache.get(tok),
                factor,
                own,
                label,
            });
        }
    }
}

/// Greedy best assignment of query tokens to record tokens (each used once),
/// highest similarity first; for a handful of tokens this is as good as exact.
/// [`match_group`] for the query name and, if it has one, its form with the
/// compounds the rules join (see [`QueryName::full`]): the better of the two.
fn match_name(
    label: &str,
    q: &QueryName,
    record: &[Candidate],
    joined_alternatives: impl Fn() -> Vec<String>,
    rules: &NameRules,
    explain: bool,
) -> Option<GroupMatch> {
    let loose = match_group(label, q, record, &joined_alternatives, rules, explain);
    let Some(full) = &q.full else {
        return loose;
    };
    let full = match_group(label, full, record, &joined_alternatives, rules, explain);
    match (loose, full) {
        (Some(a), Some(b)) => Some(if b.score > a.score { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn match_group(
    label: &str,
    q: &QueryName,
    record: &[Candidate],
    joined_alternatives: impl Fn() -> Vec<String>,
    rules: &NameRules,
    explain: bool,
) -> Option<GroupMatch> {
    let own_count = record.iter().filter(|c| c.own).count();
    if own_count == 0 {
        return None;
    }
    let n = q.tokens.len();
    let m = record.len();
    // Row-major by query token, as the pairing below reads it.
    let mut sims: Vec<(f32, Via)> = vec![(0.0, Via::Spelling); n * m];
    {
        let mut memo = q.sims.0.borrow_mut();
        for (j, rc) in record.iter().enumerate() {
            let tok = rc.keys.normalized.as_str();
            if !memo.contains_key(tok) {
                if memo.len() >= SIM_MEMO_CAPACITY {
                    memo.clear();
                }
                let row: SimRow = q
                    .tokens
                    .iter()
                    .map(|qt| token_similarity(qt, &rc.keys))
                    .collect();
                memo.insert(tok.into(), row);
            }
            let row = &memo[tok];
            for i in 0..n {
                let (s, via) = row[i];
                sims[i * m + j] = (s * rc.factor, via);
            }
        }
    }
    let mut q_used = vec![false; n];
    let mut r_used = vec![false; m];
    let mut pairs: Vec<(usize, usize, f32, Via)> = Vec::new();
    loop {
        let mut best: Option<(usize, usize, f32, Via)> = None;
        for i in (0..n).filter(|&i| !q_used[i]) {
            for j in (0..m).filter(|&j| !r_used[j]) {
                let (s, via) = sims[i * m + j];
                if s >= TOKEN_THRESHOLD && best.is_none_or(|b| s > b.2) {
                    best = Some((i, j, s, via));
                }
            }
        }
        match best {
            Some(p) => {
                q_used[p.0] = true;
                r_used[p.1] = true;
                pairs.push(p);
            }
            None => break,
        }
    }
    let matched_sum: f32 = pairs.iter().map(|p| p.2).sum();
    let matched_own = pairs.iter().filter(|p| record[p.1].own).count();
    let unmatched_q = n - pairs.len();
    // Query tokens for which the record has no name left to compare with are
    // unknown, not contradicted: a record without a family name neither confirms
    // nor denies the one asked for.
    let free_own = own_count - matched_own;
    let missing = unmatched_q.saturating_sub(free_own);
    let coverage = matched_own as f32 / own_count as f32;
    let mut score = (matched_sum + 0.4 * missing as f32) / n as f32 * (0.9 + 0.1 * coverage);
    let mut reasons: Vec<String> = pairs
        .iter()
        .filter(|_| explain)
        .map(|&(i, j, _, via)| {
            let (qn, rc) = (&q.tokens[i].normalized, &record[j]);
            let who = if rc.label.is_empty() {
                String::new()
            } else {
                format!("{} ", rc.label)
            };
            if via == Via::Exact {
                format!("{label}: {who}{qn}")
            } else {
                format!(
                    "{label}: {who}{} ~ {qn} ({})",
                    rc.keys.normalized,
                    via.label()
                )
            }
        })
        .collect();

    // Compound names written apart or together ("Abdelrahman" / "Abd al-Rahman"):
    // compare the names run together.
    // Only when tokens were left over: otherwise the tokens tell it better.
    let leftovers = pairs.len() < n || matched_own < own_count;
    // What a joined form must reach to replace the score.
    let counts = |s: f32, score: f32| s >= JOINED_THRESHOLD && s * JOINED_DISCOUNT > score;
    let alternatives = if leftovers && counts(1.0, score) {
        joined_alternatives()
    } else {
        Vec::new()
    };
    for alt in alternatives.iter().filter(|a| !a.is_empty()) {
        let Some((s, by_rules)) = joined_similarity(q, alt, rules, |s| counts(s, score)) else {
            continue;
        };
        let via = if by_rules { "variant" } else { "joined" };
        score = s * JOINED_DISCOUNT;
        reasons.clear();
        if explain {
            reasons.push(format!("{label}: {alt} ~ {} ({via})", q.joined));
        }
    }
    Some(GroupMatch {
        score: score.clamp(0.0, 1.0),
        reasons,
    })
}

/// The parts of a comparison of a query name run together with one record name run
/// together, each computed the first time a candidate needs it (see
/// [`joined_similarity`]).
#[derive(Clone, Default)]
struct JoinedParts {
    /// Normalized Levenshtein similarity.
    spelling: Option<f32>,
    /// Whether they share a consonant skeleton.
    skeleton: Option<bool>,
    /// Whether the name rules make them one name.
    variant: Option<bool>,
}

/// How like the query's name run together a record's name run together `alt`
/// is, and whether that is the name rules' doing: the best of the ways they can
/// be alike, when it `counts`; `None` when no way does.
///
/// Each way but spelling gives a fixed similarity, so a way whose similarity
/// would not count, or not beat one already found, is never computed: a good
/// candidate, whose tokens already matched well, seldom needs the costly ones
/// (the name rules' key, the skeletons of the record's names).
fn joined_similarity(
    q: &QueryName,
    alt: &str,
    rules: &NameRules,
    counts: impl Fn(f32) -> bool,
) -> Option<(f32, bool)> {
    if alt == q.joined {
        return counts(1.0).then_some((1.0, false));
    }
    let beats = |s: f32, best: Option<(f32, bool)>| counts(s) && best.is_none_or(|b| s > b.0);
    q.joined_sims.update(alt, |parts| {
        let mut best = None;
        // The edit distance is at least the difference in length: most names
        // run together are too long or too short to come near.
        let (a, b) = (alt.chars().count(), q.joined.chars().count());
        let most = 1.0 - a.abs_diff(b) as f32 / a.max(b) as f32;
        if beats(most, best) {
            // Exact from the threshold up: below it, no candidate counts it.
            let s = *parts.spelling.get_or_insert_with(|| {
                normalized_levenshtein_from(alt, &q.joined, f64::from(JOINED_THRESHOLD)) as f32
            });
            if beats(s, best) {
                best = Some((s, false));
            }
        }
        if beats(SAME_SKELETON, best)
            && *parts.skeleton.get_or_insert_with(|| {
                let alt_skeletons = skeleton_variants(alt);
                q.joined_skeletons
                    .iter()
                    .any(|s| s.len() >= 3 && alt_skeletons.contains(s))
            })
        {
            best = Some((SAME_SKELETON, false));
        }
        // One name by the rules, written together on one side ("Abdi Rahman",
        // "Cabdiraxmaan").
        if beats(RULE_VARIANT, best)
            && q.joined_key.len() >= MIN_VARIANT_KEY
            && *parts
                .variant
                .get_or_insert_with(|| rules.variant_key(alt) == q.joined_key)
        {
            best = Some((RULE_VARIANT, true));
        }
        best
    })
}

fn joined(values: &[&str]) -> String {
    values.iter().flat_map(|v| v.split(' ')).collect()
}

/// Birth-year agreement by gap in years.
pub(crate) fn birth_score(gap: u32) -> f32 {
    match gap {
        0 => 1.0,
        1 => 0.8,
        2 => 0.55,
        3 => 0.3,
        4 => 0.15,
        _ => 0.0,
    }
}

const W_NAME: f32 = 0.45;
const W_PARENT: f32 = 0.15;
const W_PLACE: f32 = 0.10;
const W_BIRTH: f32 = 0.20;
const W_SEX: f32 = 0.08;

/// The weighted mean under construction, and the reasons if asked for.
struct Tally {
    total: f32,
    weights: f32,
    reasons: Option<Vec<String>>,
}

impl Tally {
    fn add(&mut self, w: f32, score: f32, why: impl FnOnce() -> Vec<String>) {
        self.total += w * score;
        self.weights += w;
        if let Some(r) = &mut self.reasons {
            r.extend(why());
        }
    }
}

/// Scores one record against the query: a weighted mean over the criteria the
/// query gives, in [0, 1]. Reasons are written only when `explain` is set (for the
/// hits returned, not for every candidate).
pub(crate) fn score(
    p: &Prepared,
    s: &Summary,
    cache: &SharedKeyCache,
    g: &Gazetteer,
    explain: bool,
) -> (f32, Vec<String>) {
    let rules = &**cache.keyer().rules();
    let mut t = Tally {
        total: 0.0,
        weights: 0.0,
        reasons: explain.then(Vec::new),
    };

    if let Some(q) = &p.name {
        let mut record = Vec::new();
        collect_tokens(&mut record, &s.own, 1.0, true, "", cache);
        // Where the child's second name is its father's given name (Somali,
        // Ethiopian, Arabic naming), the father's name carries it.
        collect_tokens(&mut record, &s.father, 0.85, false, "father's", cache);
        let alts = || {
            let own: Vec<&str> = s.own.iter().map(String::as_str).collect();
            let mut alts = Vec::new();
            if own.len() >= 2 {
                alts.push(joined(&own));
                let mut swapped = own.clone();
                swapped.swap(0, 1);
                alts.push(joined(&swapped));
            }
            alts.extend(own.iter().filter(|v| v.contains(' ')).map(|v| joined(&[v])));
            alts
        };
        match match_name("name", q, &record, alts, rules, explain) {
            Some(m) => t.add(W_NAME, m.score, || m.reasons),
            None => t.add(W_NAME, 0.3, || vec!["name: not recorded".into()]),
        }
    }

    for (label, q, values) in [
        ("father", &p.father, &s.father),
        ("mother", &p.mother, &s.mother),
    ] {
        let Some(q) = q else { continue };
        let mut record = Vec::new();
        collect_tokens(&mut record, values, 1.0, true, "", cache);
        if record.is_empty() {
            // An inquiry filed by a grandparent or an uncle names a relative who
            // often shares the family name.
            collect_tokens(&mut record, &s.relative, 0.8, true, "relative", cache);
        }
        let alts = || values.iter().map(|v| joined(&[v])).collect();
        match match_name(label, q, &record, alts, rules, explain) {
            Some(m) => t.add(W_PARENT, m.score, || m.reasons),
            None => t.add(W_PARENT, 0.4, Vec::new),
        }
    }

    if let Some(q) = &p.place {
        let mut record = Vec::new();
        collect_tokens(&mut record, &s.places, 1.0, true, "", cache);
        let country_hit = s
            .country
            .as_ref()
            .is_some_and(|c| p.place_countries.contains(c))
            || s.place_ids
                .iter()
                .any(|&id| p.place_countries.iter().any(|c| c == g.country_code(id)));
        let alts = || s.places.iter().map(|v| joined(&[v])).collect();
        let text = match_group("place", q, &record, alts, rules, explain);
        let (mut best, mut why) = match text {
            Some(m) => (m.score, m.reasons),
            None => (0.4, Vec::new()),
        };
        if country_hit && best < 0.9 {
            best = 0.9;
            why = vec![format!(
                "place: country {}",
                s.country
                    .as_deref()
                    .unwrap_or_else(|| s.place_ids.first().map_or("", |&id| g.country_code(id)))
            )];
        }
        if let Some((score, reason)) = gazetteer_place(p, s, g, q, explain) {
            if score > best {
                best = score;
                why = reason.into_iter().collect();
            }
        }
        t.add(W_PLACE, best, || why);
    }

    if let Some(years) = p.years {
        match s.birth {
            Some(r) => {
                let gap = years.gap(&r);
                t.add(W_BIRTH, birth_score(gap), || {
                    vec![if gap == 0 {
                        format!("born: {}", show_years(r))
                    } else {
                        format!("born: {} ({gap} y off)", show_years(r))
                    }]
                });
            }
            None => t.add(W_BIRTH, 0.5, Vec::new),
        }
    }

    if let Some(sex) = p.sex {
        match s.sex {
            Sex::Unknown => t.add(W_SEX, 0.6, Vec::new),
            r if r == sex => t.add(W_SEX, 1.0, || vec![format!("sex: {}", r.code())]),
            r => t.add(W_SEX, 0.0, || vec![format!("sex: {} differs", r.code())]),
        }
    }

    let reasons = t.reasons.unwrap_or_default();
    if t.weights == 0.0 {
        return (0.0, reasons);
    }
    ((t.total / t.weights).clamp(0.0, 1.0), reasons)
}

/// How well the record's places answer the query's place through the gazetteer,
/// and why: the same place in another spelling, a place within the one asked for,
/// the district around it, a neighbour in the same district, the same country.
fn gazetteer_place(
    p: &Prepared,
    s: &Summary,
    g: &Gazetteer,
    q: &QueryName,
    explain: bool,
) -> Option<(f32, Option<String>)> {
    let mut best: Option<(f32, &PlaceMatch, crate::places::PlaceId)> = None;
    // The record's finest places: a district that holds one of its villages
    // says nothing more (a record of Luuq, Gedo is not "around" Dollow).
    let finest = s.place_ids.iter().copied().filter(|&rid| {
        !s.place_ids
            .iter()
            .any(|&other| other != rid && g.contains(rid, other))
    });
    for qm in &p.place_matches {
        for rid in finest.clone() {
            let score = if qm.id == rid {
                1.0
            } else if g.contains(qm.id, rid) {
                // The record names a place within the one asked for.
                0.95
            } else if g.contains(rid, qm.id) {
                // The record is less precise: the district around the village.
                match g.get(rid).level {
                    PlaceLevel::District => 0.8,
                    _ => 0.5,
                }
            } else if g.district_of(qm.id).is_some() && g.district_of(qm.id) == g.district_of(rid) {
                0.6
            } else if qm.country == g.get(rid).country && qm.level != PlaceLevel::Country {
                0.45
            } else {
                continue;
            };
            if best.is_none_or(|b| score > b.0) {
                best = Some((score, qm, rid));
            }
        }
    }
    let (score, qm, rid) = best?;
    let reason = explain.then(|| {
        let asked: Vec<&str> = q.tokens.iter().map(|k| k.normalized.as_str()).collect();
        let asked = asked.join(" ");
        // The record's own spelling of the place, if one of its texts names it.
        let found = s
            .places
            .iter()
            .find(|t| g.resolve(t).iter().any(|m| m.id == rid))
            .cloned()
            .unwrap_or_else(|| normalize(g.name(rid)));
        let where_ = normalize(g.name(qm.id));
        if score >= 1.0 {
            format!("place: {found} ~ {asked} (gazetteer)")
        } else if score >= 0.95 {
            format!("place: {found} in {where_} (gazetteer)")
        } else if score >= 0.8 {
            format!("place: {found}, around {where_} (gazetteer)")
        } else if score >= 0.6 {
            format!("place: {found}, same district as {where_} (gazetteer)")
        } else {
            format!("place: {found}, same country as {where_} (gazetteer)")
        }
    });
    Some((score, reason))
}

fn show_years(r: YearRange) -> String {
    if r.min == r.max {
        r.min.to_string()
    } else {
        format!("{}-{}", r.min, r.max)
    }
}

/// Country codes a place text names: the code itself or the English name.
pub(crate) fn countries_named(text: &str) -> Vec<String> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static BY_NAME: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    let by_name = BY_NAME.get_or_init(|| {
        isocountry::CountryCode::iter()
            .map(|c| (normalize(c.name()), c.alpha2()))
            .collect()
    });
    let trimmed = text.trim();
    let mut out = Vec::new();
    if trimmed.len() == 2 {
        if let Ok(c) = isocountry::CountryCode::for_alpha2(&trimmed.to_ascii_uppercase()) {
            out.push(c.alpha2().to_owned());
        }
    }
    if let Some(code) = by_name.get(&normalize(trimmed)) {
        if !out.iter().any(|c| c == code) {
            out.push((*code).to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::keys;

    fn sim(a: &str, b: &str) -> (f32, Via) {
        token_similarity(&keys(a), &keys(b))
    }

    #[test]
    fn token_similarity_orders_variants() {
        assert_eq!(sim("mohammed", "mohammed"), (1.0, Via::Exact));
        let mukhammed = sim("mohammed", "mukhammed").0;
        let mhmd = sim("mohammed", "mhmd").0;
        let mahmoud = sim("mohammed", "mahmoud").0;
        let olga = sim("mohammed", "olga").0;
        assert!(mukhammed > 0.9, "{mukhammed}");
        assert!(mhmd >= TOKEN_THRESHOLD, "{mhmd}");
        assert!(mukhammed > mahmoud, "{mukhammed} {mahmoud}");
        assert!(olga < TOKEN_THRESHOLD, "{olga}");
        assert!(sim("oleksandr", "aleksandr").0 > 0.9);
        assert!(sim("oleksandr", "oleksnadr").0 > 0.9);
        assert!(sim("kovalenko", "kovalneko").0 > 0.9);
        assert!(sim("kovalenko", "kovalenkp").0 >= 0.9);
        assert!(sim("yulia", "ali").0 < 0.8);
        assert_eq!(sim("a", "abebe"), (0.75, Via::Initial));
    }

    #[test]
    fn countries_by_code_and_name() {
        assert_eq!(countries_named("so"), ["SO"]);
        assert_eq!(countries_named("Somalia"), ["SO"]);
        assert!(countries_named("Kharkiv").is_empty());
    }
}
