//! Name rules from `matching-rules/names/`: which spellings are the same name,
//! which nicknames stand for which names, which particles join or connect name
//! parts, and which values mean "unknown".
//!
//! The rules are data (see `matching-rules/names/README.md`); this module loads
//! them, checks them, and answers questions about tokens:
//!
//! - [`NameRules::comparison_form`]: a token rewritten by the transliteration rules
//!   (kh → h, x → h, ya/ia/ja → ia, doubled letters once, ...), so that spellings
//!   that differ only by scheme compare equal ("Yuliia", "Yuliya", "Iuliia",
//!   "Julija" and "Юлія" are all "iulia");
//! - [`NameRules::variant_group`]: the group of equivalent spellings a token
//!   belongs to (Mohammed, Muhammad, Maxamed, Mehmet, محمد), matched on the
//!   comparison form so that unlisted spellings with the same form belong too;
//! - [`NameRules::variant_key`]: one string per name: the group's key, or the
//!   token's comparison form when it is in no group. Two tokens with the same
//!   variant key are the same name as far as the rules know;
//! - [`NameRules::nickname_expansions`]: the variant keys of the full names a
//!   nickname stands for (Sasha → Oleksandr, Aleksandr);
//! - [`NameRules::is_placeholder`] and the particle-aware splitting of a whole
//!   name (see `whole_name.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use toml::Spanned;

use crate::rulebook::{read_rule_file, Fnv, RuleError, RuleErrors, RuleFile, RuleMap, RuleSet};

use super::normalize;

/// The files of the name rules, relative to the rules directory.
pub const VARIANTS_FILE: &str = "names/variants.toml";
pub const NICKNAMES_FILE: &str = "names/nicknames.toml";
pub const PARTICLES_FILE: &str = "names/particles.toml";
pub const PLACEHOLDERS_FILE: &str = "names/placeholders.toml";

const BUILTIN_VARIANTS: &str = include_str!("../../matching-rules/names/variants.toml");
const BUILTIN_NICKNAMES: &str = include_str!("../../matching-rules/names/nicknames.toml");
const BUILTIN_PARTICLES: &str = include_str!("../../matching-rules/names/particles.toml");
const BUILTIN_PLACEHOLDERS: &str = include_str!("../../matching-rules/names/placeholders.toml");

/// Shorter variant keys do not make two parts one name: two-letter forms join
/// too much ("Aay" and "Ay" are both "ai"); nicknames still may.
pub const MIN_VARIANT_KEY: usize = 3;

/// A group of equivalent spellings, by its position in the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u32);

/// How two name tokens were found to be the same name by the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRelation {
    /// Equal once normalized.
    Same,
    /// Same variant key: one group of spellings, or the same comparison form.
    Variant,
    /// One is a nickname of the other, or both are nicknames of one name.
    Nickname,
}

/// One rewrite of the comparison form: `pattern` replaced by `replacement`,
/// everywhere, or only at the start (`^`) or end (`$`) of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewrite {
    pattern: String,
    replacement: String,
    at_start: bool,
    at_end: bool,
    /// What `pattern` is made of (see [`Shape`]).
    shape: Shape,
}

/// The bytes of a text and its pairs of adjacent bytes, each as a set of 64
/// bits: a pattern can occur in a text only if its sets are within the text's.
/// The comparison form tries every rewrite on every name part, and most patterns
/// have a letter or a pair of letters the part lacks; this test rules them out
/// in a few instructions where a substring search costs a hundred or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    /// One bit per letter a-z or digit, one for any other byte.
    bytes: u64,
    /// Adjacent pairs, hashed to one of 64 bits.
    pairs: u64,
}

impl Shape {
    fn of(text: &str) -> Shape {
        let b = text.as_bytes();
        let byte = |c: u8| -> u64 {
            1 << match c {
                b'a'..=b'z' => c - b'a',
                b'0'..=b'9' => 26 + (c - b'0'),
                _ => 63,
            }
        };
        let pair = |x: u8, y: u8| -> u64 {
            1 << ((u64::from(x) << 8 | u64::from(y)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
        };
        Shape {
            bytes: b.iter().fold(0, |set, &c| set | byte(c)),
            pairs: b.windows(2).fold(0, |set, w| set | pair(w[0], w[1])),
        }
    }

    /// Whether a text of this shape may hold a pattern of shape `p`.
    #[inline]
    fn may_hold(self, p: Shape) -> bool {
        p.bytes & !self.bytes == 0 && p.pairs & !self.pairs == 0
    }
}

impl Rewrite {
    fn new(pattern: &str, replacement: &str, at_start: bool, at_end: bool) -> Self {
        Rewrite {
            pattern: pattern.to_owned(),
            replacement: replacement.to_owned(),
            at_start,
            at_end,
            shape: Shape::of(pattern),
        }
    }

    /// Applies the rewrite to `s`, of shape `have`; whether it changed `s`.
    fn apply(&self, s: &mut String, have: Shape) -> bool {
        if !have.may_hold(self.shape) {
            return false;
        }
        let p = self.pattern.as_str();
        match (self.at_start, self.at_end) {
            (true, true) => {
                if s == p {
                    s.clone_from(&self.replacement);
                    return true;
                }
            }
            (true, false) => {
                if s.starts_with(p) {
                    s.replace_range(..p.len(), &self.replacement);
                    return true;
                }
            }
            (false, true) => {
                if s.ends_with(p) {
                    let at = s.len() - p.len();
                    s.replace_range(at.., &self.replacement);
                    return true;
                }
            }
            (false, false) => {
                if s.contains(p) {
                    *s = s.replace(p, &self.replacement);
                    return true;
                }
            }
        }
        false
    }
}

#[derive(Debug, Clone)]
struct Group {
    /// The variant key: the comparison form of the first spelling.
    key: String,
    /// The first spelling, normalized: what reasons show.
    label: String,
    /// Every spelling, normalized, in file order.
    spellings: Vec<String>,
}

/// What a particle does to the parts around it (see `particles.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ParticleKind {
    /// "son of", "daughter of": dropped between two parts.
    Connector,
    /// Joined with the part after it, always.
    Prefix,
    /// Joined with the part after it when the result is a known name.
    PrefixIfKnown,
    /// Joined with the part before it, always.
    Suffix,
    /// Joined with the part before it when the result is a known name.
    SuffixIfKnown,
    /// Joined with the part after it (al, el).
    Article,
    /// In family names only: joined with the part after it (van, de).
    FamilyParticle,
}

impl ParticleKind {
    fn label(self) -> &'static str {
        match self {
            ParticleKind::Connector => "connectors",
            ParticleKind::Prefix => "prefixes.always",
            ParticleKind::PrefixIfKnown => "prefixes.when_known",
            ParticleKind::Suffix => "suffixes.always",
            ParticleKind::SuffixIfKnown => "suffixes.when_known",
            ParticleKind::Article => "articles",
            ParticleKind::FamilyParticle => "family_particles",
        }
    }
}

/// A particle: one or more normalized tokens.
#[derive(Debug, Clone)]
pub(crate) struct Particle {
    pub tokens: Vec<String>,
    pub kind: ParticleKind,
}

/// The loaded name rules. Build with [`NameRules::builtin`] or [`NameRules::load`].
#[derive(Debug)]
pub struct NameRules {
    rewrites: Vec<Rewrite>,
    collapse_doubles: bool,
    groups: Vec<Group>,
    /// Comparison form of every spelling → its group.
    group_of_form: RuleMap<String, GroupId>,
    /// Variant key of a nickname → variant keys of the names it stands for.
    nicknames: RuleMap<String, Vec<String>>,
    /// Particles by their first token, longest first.
    pub(crate) particles: RuleMap<String, Vec<Particle>>,
    placeholder_values: RuleSet<String>,
    placeholder_exact: RuleSet<String>,
    placeholder_tokens: RuleSet<String>,
    /// A bit per (first letters, length) of every particle's first token and
    /// every placeholder token: most name parts are neither, and this says so
    /// without a hash look-up.
    special: TokenBloom,
    fingerprint: u64,
}

/// Two rule sets are equal when they would match alike (their fingerprints).
impl PartialEq for NameRules {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

/// A 1024-bit filter of tokens by their first two bytes and length: no false
/// negatives, few false positives for the few dozen tokens it holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenBloom([u64; 16]);

impl TokenBloom {
    fn bit(token: &str) -> usize {
        let b = token.as_bytes();
        let first = usize::from(b.first().copied().unwrap_or(0));
        let second = usize::from(b.get(1).copied().unwrap_or(0));
        ((first * 31 + second) * 7 + b.len()) & 1023
    }

    fn insert(&mut self, token: &str) {
        let i = Self::bit(token);
        self.0[i / 64] |= 1 << (i % 64);
    }

    /// False when the token is certainly not in the filter.
    pub(crate) fn may_contain(&self, token: &str) -> bool {
        let i = Self::bit(token);
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

// ---- the file formats ----------------------------------------------------------

type Spellings = Spanned<Vec<Spanned<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariants {
    comparison: RawComparison,
    #[serde(default)]
    groups: BTreeMap<Spanned<String>, Vec<Spellings>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComparison {
    #[serde(default)]
    collapse_doubles: bool,
    #[serde(default)]
    rewrites: Vec<Spellings>,
}

/// `[culture]` tables of `nickname = ["full name", ...]`.
type RawNicknames = BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spellings>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWords {
    #[serde(default)]
    words: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawJoining {
    #[serde(default)]
    always: Vec<Spanned<String>>,
    #[serde(default)]
    when_known: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParticles {
    #[serde(default)]
    connectors: RawWords,
    #[serde(default)]
    prefixes: RawJoining,
    #[serde(default)]
    suffixes: RawJoining,
    #[serde(default)]
    articles: RawWords,
    #[serde(default)]
    family_particles: RawWords,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaceholders {
    #[serde(default)]
    values: Vec<Spanned<String>>,
    #[serde(default)]
    exact: Vec<Spanned<String>>,
    #[serde(default)]
    tokens: Vec<Spanned<String>>,
}

/// Whether a rewrite pattern or replacement holds only what a normalized token
/// can hold.
fn is_token_text(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

// ---- loading -------------------------------------------------------------------

/// The four texts of the name rules, with the names to report them under.
pub struct NameRuleTexts<'a> {
    pub variants: (&'a str, &'a str),
    pub nicknames: (&'a str, &'a str),
    pub particles: (&'a str, &'a str),
    pub placeholders: (&'a str, &'a str),
}

impl NameRules {
    /// Rules that know nothing: every token is its own comparison form.
    pub fn empty() -> NameRules {
        NameRules {
            rewrites: Vec::new(),
            collapse_doubles: false,
            groups: Vec::new(),
            group_of_form: RuleMap::default(),
            nicknames: RuleMap::default(),
            particles: RuleMap::default(),
            placeholder_values: RuleSet::default(),
            placeholder_exact: RuleSet::default(),
            placeholder_tokens: RuleSet::default(),
            special: TokenBloom::default(),
            fingerprint: 0,
        }
    }

    /// The rules of this repository (`matching-rules/names/`), compiled in.
    pub fn builtin() -> Arc<NameRules> {
        static BUILTIN: OnceLock<Arc<NameRules>> = OnceLock::new();
        Arc::clone(BUILTIN.get_or_init(|| {
            let texts = NameRuleTexts {
                variants: (
                    concat!("matching-rules/", "names/variants.toml"),
                    BUILTIN_VARIANTS,
                ),
                nicknames: (
                    concat!("matching-rules/", "names/nicknames.toml"),
                    BUILTIN_NICKNAMES,
                ),
                particles: (
                    concat!("matching-rules/", "names/particles.toml"),
                    BUILTIN_PARTICLES,
                ),
                placeholders: (
                    concat!("matching-rules/", "names/placeholders.toml"),
                    BUILTIN_PLACEHOLDERS,
                ),
            };
            // The built-in files are tested; a failure here is a broken build.
            Arc::new(NameRules::from_texts(&texts).unwrap_or_else(|e| panic!("{e}")))
        }))
    }

    /// Loads `dir/names/{variants,nicknames,particles,placeholders}.toml`.
    pub fn load(dir: &Path) -> Result<Arc<NameRules>, RuleErrors> {
        Self::load_files(
            dir,
            [
                VARIANTS_FILE,
                NICKNAMES_FILE,
                PARTICLES_FILE,
                PLACEHOLDERS_FILE,
            ],
        )
    }

    /// Loads `{variants,nicknames,particles,placeholders}.toml` of a names
    /// directory itself (`matching-rules/names`), as the tracing rule file's
    /// `[names] dir` names it.
    pub fn load_dir(names_dir: &Path) -> Result<Arc<NameRules>, RuleErrors> {
        let file = |f: &'static str| f.strip_prefix("names/").unwrap_or(f);
        Self::load_files(
            names_dir,
            [
                file(VARIANTS_FILE),
                file(NICKNAMES_FILE),
                file(PARTICLES_FILE),
                file(PLACEHOLDERS_FILE),
            ],
        )
    }

    fn load_files(dir: &Path, names: [&str; 4]) -> Result<Arc<NameRules>, RuleErrors> {
        let mut errors = Vec::new();
        let files: Vec<Option<(String, String)>> = names
            .iter()
            .map(|f| read_rule_file(dir, f, &mut errors))
            .collect();
        if !errors.is_empty() {
            return Err(RuleErrors(errors));
        }
        let f: Vec<(String, String)> = files.into_iter().flatten().collect();
        let texts = NameRuleTexts {
            variants: (&f[0].0, &f[0].1),
            nicknames: (&f[1].0, &f[1].1),
            particles: (&f[2].0, &f[2].1),
            placeholders: (&f[3].0, &f[3].1),
        };
        NameRules::from_texts(&texts).map(Arc::new)
    }

    /// Builds the rules from the texts of the four files, reporting every problem.
    pub fn from_texts(texts: &NameRuleTexts<'_>) -> Result<NameRules, RuleErrors> {
        let mut rules = NameRules::empty();
        let mut h = Fnv::default();
        let mut errors: Vec<RuleError> = Vec::new();

        let mut file = RuleFile::new(texts.variants.0, texts.variants.1);
        if let Some(raw) = file.parse::<RawVariants>() {
            rules.load_variants(&mut file, raw);
        }
        errors.append(&mut file.errors);

        // Particles before nicknames: neither depends on the other, but both need
        // the groups; placeholders last.
        let mut file = RuleFile::new(texts.particles.0, texts.particles.1);
        if let Some(raw) = file.parse::<RawParticles>() {
            rules.load_particles(&mut file, raw);
        }
        errors.append(&mut file.errors);

        let mut file = RuleFile::new(texts.nicknames.0, texts.nicknames.1);
        if let Some(raw) = file.parse::<RawNicknames>() {
            rules.load_nicknames(&mut file, raw);
        }
        errors.append(&mut file.errors);

        let mut file = RuleFile::new(texts.placeholders.0, texts.placeholders.1);
        if let Some(raw) = file.parse::<RawPlaceholders>() {
            rules.load_placeholders(&mut file, raw);
        }
        errors.append(&mut file.errors);

        if !errors.is_empty() {
            return Err(RuleErrors(errors));
        }
        rules.fingerprint_into(&mut h);
        rules.fingerprint = h.finish();
        Ok(rules)
    }

    fn load_variants(&mut self, file: &mut RuleFile<'_>, raw: RawVariants) {
        self.collapse_doubles = raw.comparison.collapse_doubles;
        for rule in raw.comparison.rewrites {
            let span = rule.span();
            let parts = rule.into_inner();
            if parts.len() != 2 {
                file.error_at(
                    span,
                    format!(
                        "a rewrite is [pattern, replacement], got {} strings",
                        parts.len()
                    ),
                );
                continue;
            }
            let mut pattern = parts[0].get_ref().as_str();
            let replacement = parts[1].get_ref().as_str();
            let at_start = pattern.starts_with('^');
            if at_start {
                pattern = &pattern[1..];
            }
            let at_end = pattern.ends_with('$');
            if at_end {
                pattern = &pattern[..pattern.len() - 1];
            }
            if pattern.is_empty() || !is_token_text(pattern) {
                file.error_at(
                    parts[0].span(),
                    format!(
                        "rewrite pattern {:?}: use lower-case a-z and 0-9, optionally with ^ (start) and $ (end)",
                        parts[0].get_ref()
                    ),
                );
                continue;
            }
            if !is_token_text(replacement) {
                file.error_at(
                    parts[1].span(),
                    format!(
                        "rewrite replacement {replacement:?}: use lower-case a-z and 0-9 (or \"\" to delete)"
                    ),
                );
                continue;
            }
            self.rewrites
                .push(Rewrite::new(pattern, replacement, at_start, at_end));
        }

        // Groups in file order, whatever the culture table they are in.
        let mut all: Vec<(String, Spellings)> = Vec::new();
        for (culture, groups) in raw.groups {
            for g in groups {
                all.push((culture.get_ref().clone(), g));
            }
        }
        all.sort_by_key(|(_, g)| g.span().start);
        // Where each comparison form was first seen: (group, line).
        let mut seen: HashMap<String, (GroupId, usize, String)> = HashMap::new();
        for (_, group) in all {
            let span = group.span();
            let spellings = group.into_inner();
            if spellings.len() < 2 {
                file.error_at(
                    span,
                    "a group needs at least two spellings (an empty or one-name group matches nothing)",
                );
                continue;
            }
            let id = GroupId(self.groups.len() as u32);
            let mut g = Group {
                key: String::new(),
                label: String::new(),
                spellings: Vec::new(),
            };
            let mut ok = true;
            for s in &spellings {
                let normalized = normalize(s.get_ref());
                let form = self.comparison_form(&normalized);
                if form.is_empty() {
                    file.error_at(s.span(), format!("{:?} has no letters", s.get_ref()));
                    ok = false;
                    continue;
                }
                let line = file.line_at(s.span().start);
                match seen.get(&form) {
                    Some((other, other_line, other_spelling)) if *other != id => {
                        file.error_at(
                            s.span(),
                            format!(
                                "{:?} is already in the group on line {other_line} (as {other_spelling:?}; both compare as {form:?}): a name can be in one group only",
                                s.get_ref()
                            ),
                        );
                        ok = false;
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(form.clone(), (id, line, s.get_ref().clone()));
                    }
                }
                if g.key.is_empty() {
                    g.key = form.clone();
                    g.label = normalized.replace(' ', "");
                }
                if !g.spellings.contains(&normalized) {
                    g.spellings.push(normalized);
                }
                self.group_of_form.insert(form, id);
            }
            if ok || !g.key.is_empty() {
                self.groups.push(g);
            }
        }
    }

    fn load_particles(&mut self, file: &mut RuleFile<'_>, raw: RawParticles) {
        let sections = [
            (ParticleKind::Connector, raw.connectors.words),
            (ParticleKind::Prefix, raw.prefixes.always),
            (ParticleKind::PrefixIfKnown, raw.prefixes.when_known),
            (ParticleKind::Suffix, raw.suffixes.always),
            (ParticleKind::SuffixIfKnown, raw.suffixes.when_known),
            (ParticleKind::Article, raw.articles.words),
            (ParticleKind::FamilyParticle, raw.family_particles.words),
        ];
        let mut seen: HashMap<Vec<String>, (ParticleKind, usize)> = HashMap::new();
        for (kind, words) in sections {
            for w in words {
                let tokens: Vec<String> = normalize(w.get_ref())
                    .split(' ')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                if tokens.is_empty() {
                    file.error_at(
                        w.span(),
                        format!("particle {:?} has no letters", w.get_ref()),
                    );
                    continue;
                }
                let line = file.line_at(w.span().start);
                if let Some((other, other_line)) = seen.get(&tokens) {
                    file.error_at(
                        w.span(),
                        format!(
                            "particle {:?} is already listed in {} on line {other_line}",
                            w.get_ref(),
                            other.label()
                        ),
                    );
                    continue;
                }
                seen.insert(tokens.clone(), (kind, line));
                self.special.insert(&tokens[0]);
                self.particles
                    .entry(tokens[0].clone())
                    .or_default()
                    .push(Particle { tokens, kind });
            }
        }
        for list in self.particles.values_mut() {
            list.sort_by_key(|p| std::cmp::Reverse(p.tokens.len()));
        }
    }

    fn load_nicknames(&mut self, file: &mut RuleFile<'_>, raw: RawNicknames) {
        let mut entries: Vec<(Spanned<String>, Spellings)> = raw
            .into_values()
            .flat_map(|table| table.into_iter())
            .collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        for (nick, full) in entries {
            let nick_key = self.variant_key(nick.get_ref());
            if nick_key.is_empty() {
                file.error_at(
                    nick.span(),
                    format!("nickname {:?} has no letters", nick.get_ref()),
                );
                continue;
            }
            let span = full.span();
            let full = full.into_inner();
            if full.is_empty() {
                file.error_at(
                    span,
                    format!("nickname {:?} stands for no name", nick.get_ref()),
                );
                continue;
            }
            for name in full {
                let key = self.variant_key(name.get_ref());
                if key.is_empty() {
                    file.error_at(name.span(), format!("{:?} has no letters", name.get_ref()));
                    continue;
                }
                if key == nick_key {
                    file.error_at(
                        name.span(),
                        format!(
                            "{:?} is the same name as its nickname {:?}: list it in variants.toml instead",
                            name.get_ref(),
                            nick.get_ref()
                        ),
                    );
                    continue;
                }
                let list = self.nicknames.entry(nick_key.clone()).or_default();
                if !list.contains(&key) {
                    list.push(key);
                }
            }
        }
    }

    fn load_placeholders(&mut self, file: &mut RuleFile<'_>, raw: RawPlaceholders) {
        for v in raw.values {
            let n = normalize(v.get_ref());
            if n.is_empty() {
                // Punctuation alone is unknown anyway; listing it documents it.
                continue;
            }
            self.placeholder_values.insert(n);
        }
        for v in raw.exact {
            let t = v.get_ref().trim();
            if t.is_empty() {
                file.error_at(v.span(), "an empty exact placeholder matches nothing");
                continue;
            }
            self.placeholder_exact.insert(t.to_owned());
        }
        for v in raw.tokens {
            let n = normalize(v.get_ref());
            if n.is_empty() || n.contains(' ') {
                file.error_at(
                    v.span(),
                    format!(
                        "placeholder token {:?} must be one word of letters or digits",
                        v.get_ref()
                    ),
                );
                continue;
            }
            self.special.insert(&n);
            self.placeholder_tokens.insert(n);
        }
    }

    /// Hashes what the rules do, in a canonical order: comments, layout and the
    /// order of groups or lists do not change it.
    fn fingerprint_into(&self, h: &mut Fnv) {
        h.str("rewrites");
        for r in &self.rewrites {
            h.str(&r.pattern);
            h.str(&r.replacement);
            h.bytes(&[u8::from(r.at_start), u8::from(r.at_end)]);
        }
        h.bytes(&[u8::from(self.collapse_doubles)]);
        h.str("groups");
        let groups: BTreeSet<(String, BTreeSet<&String>)> = self
            .groups
            .iter()
            .map(|g| (g.label.clone(), g.spellings.iter().collect()))
            .collect();
        for (label, spellings) in &groups {
            h.str(label);
            for s in spellings {
                h.str(s);
            }
        }
        h.str("nicknames");
        let nicks: BTreeMap<&String, BTreeSet<&String>> = self
            .nicknames
            .iter()
            .map(|(k, v)| (k, v.iter().collect()))
            .collect();
        for (k, v) in nicks {
            h.str(k);
            for x in v {
                h.str(x);
            }
        }
        h.str("particles");
        let particles: BTreeSet<(ParticleKind, &Vec<String>)> = self
            .particles
            .values()
            .flatten()
            .map(|p| (p.kind, &p.tokens))
            .collect();
        for (kind, tokens) in particles {
            h.str(kind.label());
            for t in tokens {
                h.str(t);
            }
        }
        for (label, set) in [
            ("values", &self.placeholder_values),
            ("exact", &self.placeholder_exact),
            ("tokens", &self.placeholder_tokens),
        ] {
            h.str(label);
            for v in set.iter().collect::<BTreeSet<_>>() {
                h.str(v);
            }
        }
    }

    /// Changes whenever the rules would match differently.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

// ---- questions -----------------------------------------------------------------

impl NameRules {
    /// The comparison form of a name part: normalized (any script to lower-case
    /// Latin, see [`normalize`](super::normalize)), spaces removed, rewritten by the
    /// rules in order, doubled letters written once.
    pub fn comparison_form(&self, token: &str) -> String {
        let mut s = if is_token_text(token) {
            token.to_owned()
        } else {
            normalize(token).replace(' ', "")
        };
        let mut have = Shape::of(&s);
        for r in &self.rewrites {
            if r.apply(&mut s, have) {
                have = Shape::of(&s);
            }
        }
        if self.collapse_doubles {
            let mut last = None;
            s.retain(|c| {
                let repeated = last == Some(c);
                last = Some(c);
                !repeated
            });
        }
        s
    }

    /// The group of spellings a name part belongs to.
    pub fn variant_group(&self, token: &str) -> Option<GroupId> {
        self.group_of_form
            .get(&self.comparison_form(token))
            .copied()
    }

    /// The variant key of a name part: its group's key, else its comparison form.
    pub fn variant_key(&self, token: &str) -> String {
        let form = self.comparison_form(token);
        match self.group_of_form.get(&form) {
            Some(g) => self.groups[g.0 as usize].key.clone(),
            None => form,
        }
    }

    /// The first spelling of a group, normalized (what reasons show).
    pub fn group_label(&self, id: GroupId) -> &str {
        &self.groups[id.0 as usize].label
    }

    /// The spellings of a group as the rules list them, normalized.
    pub fn group_spellings(&self, id: GroupId) -> &[String] {
        &self.groups[id.0 as usize].spellings
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The variant keys of the names a nickname stands for (empty when the token
    /// is no known nickname). Compare them with [`variant_key`](Self::variant_key)
    /// of the other name.
    pub fn nickname_expansions(&self, token: &str) -> &[String] {
        self.expansions_of_key(&self.variant_key(token))
    }

    pub(crate) fn expansions_of_key(&self, key: &str) -> &[String] {
        self.nicknames.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether two name parts are the same name by the rules, and how.
    pub fn relation(&self, a: &str, b: &str) -> Option<NameRelation> {
        if normalize(a) == normalize(b) {
            return Some(NameRelation::Same);
        }
        let (ka, kb) = (self.variant_key(a), self.variant_key(b));
        if ka.is_empty() || kb.is_empty() {
            return None;
        }
        if ka == kb && ka.len() >= MIN_VARIANT_KEY {
            return Some(NameRelation::Variant);
        }
        let (ea, eb) = (self.expansions_of_key(&ka), self.expansions_of_key(&kb));
        if ea.contains(&kb) || eb.contains(&ka) || ea.iter().any(|x| eb.contains(x)) {
            return Some(NameRelation::Nickname);
        }
        None
    }

    /// Whether a whole field value means "unknown" (UNKNOWN, N/A, LNU, -, ?,
    /// "not known", невідомо, ...). Empty values and values of punctuation alone
    /// are unknown too.
    pub fn is_placeholder(&self, value: &str) -> bool {
        let trimmed = value.trim();
        if self.placeholder_exact.contains(trimmed) {
            return true;
        }
        let n = normalize(trimmed);
        n.is_empty() || self.placeholder_values.contains(&n) || self.placeholder_tokens.contains(&n)
    }

    /// [`is_placeholder`](Self::is_placeholder) when the value's normalized form
    /// is at hand already.
    pub(crate) fn is_placeholder_normalized(&self, value: &str, normalized: &str) -> bool {
        normalized.is_empty()
            || self.placeholder_values.contains(normalized)
            || self.placeholder_tokens.contains(normalized)
            || self.placeholder_exact.contains(value.trim())
    }

    /// Whether a normalized token may be a particle's first token or a
    /// placeholder token; false is certain.
    pub(crate) fn may_be_special(&self, token: &str) -> bool {
        self.special.may_contain(token)
    }

    /// Whether a normalized token stands for an unknown part of a name (FNU, LNU).
    pub fn is_placeholder_token(&self, token: &str) -> bool {
        self.placeholder_tokens.contains(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The comparison form as the rules define it: every rewrite tried in turn,
    /// with no shortcut.
    fn every_rewrite_tried(rules: &NameRules, token: &str) -> String {
        let mut s = token.to_owned();
        for r in &rules.rewrites {
            r.apply(
                &mut s,
                Shape {
                    bytes: u64::MAX,
                    pairs: u64::MAX,
                },
            );
        }
        if rules.collapse_doubles {
            let mut out = String::new();
            for c in s.chars() {
                if !out.ends_with(c) {
                    out.push(c);
                }
            }
            s = out;
        }
        s
    }

    /// The shape test only skips rewrites that cannot apply: the same forms as
    /// trying every one, for the listed spellings and for random parts made of the
    /// patterns' letters (where one rewrite's output feeds a later one: "dzh" →
    /// "j" → "i").
    #[test]
    fn skipping_by_shape_gives_the_forms_of_every_rewrite_tried() {
        let rules = NameRules::builtin();
        let mut tokens: Vec<String> = rules
            .groups
            .iter()
            .flat_map(|g| g.spellings.iter())
            .flat_map(|s| s.split(' ').map(str::to_owned).collect::<Vec<_>>())
            .filter(|t| is_token_text(t))
            .collect();
        let alphabet = b"tschdzjkhxgqpwyouieacnrl";
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..20_000 {
            let len = rng.random_range(1..=9);
            tokens.push(
                (0..len)
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
                    .collect(),
            );
        }
        tokens.extend(["dzhamal", "tschernihiw", "khadidja", "cabdi", "fatimah"].map(String::from));
        let mut changed = 0;
        for t in &tokens {
            let form = rules.comparison_form(t);
            assert_eq!(form, every_rewrite_tried(&rules, t), "{t}");
            changed += usize::from(form != *t);
        }
        assert_eq!(rules.comparison_form("dzhamal"), "iamal");
        assert!(changed > tokens.len() / 2, "the rewrites were exercised");
    }
}
