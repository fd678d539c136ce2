//! Names as officers hear and write them: normalization to Latin tokens, and the
//! keys under which spelling variants of one name meet.
//!
//! A record keeps its names exactly as written; everything here is derived. A name
//! becomes tokens ([`name_parts`]), and each token gets [`NameKeys`]: the token
//! itself, its consonant skeleton (see [`skeleton`]) and its phonetic codes (Double
//! Metaphone, primary and alternate, and every branch of Daitch–Mokotoff).
//!
//! No single key joins all variants: "Mukhammed" and "Mohammed" share a
//! Daitch–Mokotoff code and a skeleton but no Double Metaphone code, "Olexandr"
//! and "Oleksandr" share a Double Metaphone code; "محمد" ("mhmd") meets them only
//! on the skeleton. Matching therefore compares all of them.
//!
//! Beyond what the letters say, the rules of `matching-rules/names/` (see
//! [`NameRules`]) say which spellings are one name (Oleksandr, Alexander), which
//! nicknames stand for which names (Sasha), which particles join or connect parts
//! (Abdul Rahman, bin) and which values mean "unknown". Each token's keys carry its
//! variant key and nickname expansions under those rules.
//!
//! [`NameKeyer`] holds the encoders, which are built once, and the rules.

mod normalize;
mod skeleton;
mod variants;
mod whole_name;

use std::collections::HashMap;

/// The maps of name tokens that searches look up dozens of times a candidate:
/// foldhash, seeded at random per map, instead of SipHash (a third of a lookup's
/// time on tokens this short).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::{Arc, OnceLock, RwLock};

use rphonetic::{DaitchMokotoffSoundex, DoubleMetaphone};

pub use normalize::{name_parts, normalize};
pub use skeleton::{alternate_skeleton, skeleton, skeleton_variants};
pub use variants::{
    GroupId, NameRelation, NameRuleTexts, NameRules, MIN_VARIANT_KEY, NICKNAMES_FILE,
    PARTICLES_FILE, PLACEHOLDERS_FILE, VARIANTS_FILE,
};
pub use whole_name::WholeName;

/// The keys of one normalized token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameKeys {
    /// The token: lower-case ASCII letters and digits.
    pub normalized: String,
    /// The consonant skeleton in the Latin reading; empty for tokens too short to
    /// have a meaningful one.
    pub skeleton: String,
    /// Other readings of the skeleton (see [`skeleton_variants`]).
    pub alt_skeletons: Vec<String>,
    /// Double Metaphone (primary, then alternate if different) and the
    /// Daitch–Mokotoff codes of every branch, without duplicates.
    pub phonetic: Vec<String>,
    /// The variant key under the name rules ([`NameRules::variant_key`]): equal
    /// for spellings of one name.
    pub variant: String,
    /// The variant keys of the names this token is a nickname of.
    pub nicknames: Vec<String>,
}

/// Skeletons shorter than this join too many unrelated names to mean anything.
pub const MIN_SKELETON_LEN: usize = 2;

impl NameKeys {
    /// The skeletons worth comparing (at least [`MIN_SKELETON_LEN`] letters).
    pub fn skeletons(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.skeleton.as_str())
            .chain(self.alt_skeletons.iter().map(String::as_str))
            .filter(|s| s.len() >= MIN_SKELETON_LEN)
    }

    pub fn shares_skeleton(&self, other: &NameKeys) -> bool {
        self.skeletons().any(|a| other.skeletons().any(|b| a == b))
    }

    pub fn shares_phonetic(&self, other: &NameKeys) -> bool {
        self.phonetic.iter().any(|a| other.phonetic.contains(a))
    }

    /// How the name rules relate two tokens: the same variant key, or a nickname
    /// of one standing for the other (or both for one name).
    pub fn rule_relation(&self, other: &NameKeys) -> Option<NameRelation> {
        if self.normalized == other.normalized {
            return Some(NameRelation::Same);
        }
        if self.variant.is_empty() || other.variant.is_empty() {
            return None;
        }
        if self.variant == other.variant {
            return (self.variant.len() >= MIN_VARIANT_KEY).then_some(NameRelation::Variant);
        }
        let nick = self.nicknames.contains(&other.variant)
            || other.nicknames.contains(&self.variant)
            || self.nicknames.iter().any(|k| other.nicknames.contains(k));
        nick.then_some(NameRelation::Nickname)
    }
}

/// Most Daitch–Mokotoff branches kept for one token; names with many ambiguous
/// letters branch exponentially.
const MAX_DM_BRANCHES: usize = 8;

/// The phonetic encoders, built once per process (the Daitch–Mokotoff rules are
/// parsed when built).
struct Encoders {
    double_metaphone: DoubleMetaphone,
    daitch_mokotoff: DaitchMokotoffSoundex,
}

fn encoders() -> &'static Encoders {
    static ENCODERS: OnceLock<Encoders> = OnceLock::new();
    ENCODERS.get_or_init(|| Encoders {
        double_metaphone: DoubleMetaphone::default(),
        daitch_mokotoff: DaitchMokotoffSoundex::default(),
    })
}

/// Computes [`NameKeys`] under a set of name rules. Cheap to build (the encoders
/// are shared); [`NameKeyer::global`] uses the built-in rules.
pub struct NameKeyer {
    encoders: &'static Encoders,
    rules: Arc<NameRules>,
}

impl Default for NameKeyer {
    fn default() -> Self {
        Self::new()
    }
}

impl NameKeyer {
    /// A keyer with the built-in name rules.
    pub fn new() -> Self {
        Self::with_rules(NameRules::builtin())
    }

    pub fn with_rules(rules: Arc<NameRules>) -> Self {
        NameKeyer {
            encoders: encoders(),
            rules,
        }
    }

    pub fn rules(&self) -> &Arc<NameRules> {
        &self.rules
    }

    /// The keyer shared by the whole process (built-in rules), built on first use.
    pub fn global() -> &'static Arc<NameKeyer> {
        static KEYER: OnceLock<Arc<NameKeyer>> = OnceLock::new();
        KEYER.get_or_init(|| Arc::new(NameKeyer::new()))
    }

    /// The keys of one token, which must already be normalized (one element of
    /// [`name_parts`]).
    pub fn keys(&self, token: &str) -> NameKeys {
        let mut keys = NameKeys {
            normalized: token.to_owned(),
            variant: self.rules.variant_key(token),
            ..NameKeys::default()
        };
        keys.nicknames = self.rules.expansions_of_key(&keys.variant).to_vec();
        if token.len() < 2 {
            // Initials and stray letters: nothing to key on but the letter.
            return keys;
        }
        let mut skeletons = skeleton_variants(token).into_iter();
        keys.skeleton = skeletons.next().unwrap_or_default();
        keys.alt_skeletons = skeletons.collect();
        if token.bytes().all(|b| b.is_ascii_lowercase()) {
            let dm = self.encoders.double_metaphone.double_metaphone(token);
            for code in [dm.primary(), dm.alternate()] {
                if !code.is_empty() && !keys.phonetic.contains(&code) {
                    keys.phonetic.push(code);
                }
            }
            for code in self
                .encoders
                .daitch_mokotoff
                .inner_soundex(token, true)
                .into_iter()
                .take(MAX_DM_BRANCHES)
            {
                if !keys.phonetic.contains(&code) {
                    keys.phonetic.push(code);
                }
            }
        }
        keys
    }
}

/// The keys of one normalized token, with the global keyer.
pub fn keys(token: &str) -> NameKeys {
    NameKeyer::global().keys(token)
}

/// Normalizes `text` and keys each of its tokens.
pub fn name_keys(text: &str) -> Vec<NameKeys> {
    name_parts(text).iter().map(|t| keys(t)).collect()
}

/// A cache of keys by token, for bulk work: a million records hold far fewer
/// distinct name parts than names. Not shared between threads; see
/// [`SharedKeyCache`] for that.
pub struct KeyCache {
    keyer: Arc<NameKeyer>,
    map: FastMap<Box<str>, Arc<NameKeys>>,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyCache {
    /// A cache with the built-in rules.
    pub fn new() -> Self {
        Self::with_keyer(Arc::clone(NameKeyer::global()))
    }

    pub fn with_keyer(keyer: Arc<NameKeyer>) -> Self {
        KeyCache {
            keyer,
            map: FastMap::default(),
        }
    }

    /// The keys of a normalized token, computed on first request.
    pub fn get(&mut self, token: &str) -> &Arc<NameKeys> {
        if !self.map.contains_key(token) {
            let k = Arc::new(self.keyer.keys(token));
            self.map.insert(token.into(), k);
        }
        &self.map[token]
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A bounded key cache shared between threads (searches run concurrently). When
/// full it starts over, which costs a few microseconds per token to refill.
pub struct SharedKeyCache {
    keyer: Arc<NameKeyer>,
    map: RwLock<FastMap<Box<str>, Arc<NameKeys>>>,
    capacity: usize,
}

impl SharedKeyCache {
    /// A cache with the built-in rules.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_keyer(Arc::clone(NameKeyer::global()), capacity)
    }

    pub fn with_keyer(keyer: Arc<NameKeyer>, capacity: usize) -> Self {
        SharedKeyCache {
            keyer,
            map: RwLock::new(FastMap::default()),
            capacity,
        }
    }

    pub fn keyer(&self) -> &Arc<NameKeyer> {
        &self.keyer
    }

    pub fn get(&self, token: &str) -> Arc<NameKeys> {
        if let Some(k) = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
        {
            return Arc::clone(k);
        }
        let computed = Arc::new(self.keyer.keys(token));
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(token.into(), Arc::clone(&computed));
        computed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether two spellings meet on some key of their single token.
    fn meet(a: &str, b: &str) -> bool {
        let (a, b) = (name_keys(a), name_keys(b));
        assert_eq!((a.len(), b.len()), (1, 1));
        let (a, b) = (&a[0], &b[0]);
        a.normalized == b.normalized || a.shares_phonetic(b) || a.shares_skeleton(b)
    }

    #[test]
    fn mohammed_variants_meet() {
        for v in [
            "Muhammad",
            "Mohamed",
            "Mukhammed",
            "Maxamed",
            "محمد",
            "MOHAMMED",
        ] {
            assert!(meet("Mohammed", v), "{v}");
        }
        // The skeleton carries the Arabic-script spelling.
        assert!(name_keys("محمد")[0].shares_skeleton(&name_keys("Muhammad")[0]));
    }

    #[test]
    fn oleksandr_variants_meet() {
        for v in ["Aleksandr", "Olexandr", "Олександр", "OLEKSANDR"] {
            assert!(meet("Oleksandr", v), "{v}");
        }
        assert_eq!(name_keys("Олександр")[0].normalized, "oleksandr");
    }

    #[test]
    fn yuliia_variants_meet() {
        for v in ["Yulia", "Юлія", "Iuliia"] {
            assert!(meet("Yuliia", v), "{v}");
        }
    }

    #[test]
    fn abebe_in_ethiopic() {
        assert_eq!(name_keys("አበበ")[0].normalized, "abebe");
        assert!(meet("Abebe", "አበበ"));
    }

    #[test]
    fn diacritics_and_capitals() {
        assert_eq!(name_parts("José"), name_parts("Jose"));
        assert_eq!(name_parts("Şükrü"), ["sukru"]);
        assert_eq!(name_parts("KAMARA"), name_parts("Kamara"));
        assert_eq!(name_keys("ÇELİK"), name_keys("Celik"));
    }

    #[test]
    fn unrelated_names_do_not_meet() {
        assert!(!meet("Oleksandr", "Mohammed"));
        assert!(!meet("Abebe", "Yulia"));
        assert!(!meet("Fatima", "Olga"));
    }

    #[test]
    fn caches_return_the_same_keys() {
        let mut cache = KeyCache::new();
        let a = cache.get("mukhammed").clone();
        assert_eq!(*a, keys("mukhammed"));
        cache.get("mukhammed");
        assert_eq!(cache.len(), 1);
        let shared = SharedKeyCache::with_capacity(1);
        assert_eq!(*shared.get("abebe"), keys("abebe"));
        assert_eq!(*shared.get("yulia"), keys("yulia"));
        assert_eq!(*shared.get("abebe"), keys("abebe"));
    }
}

#[cfg(test)]
mod rules_tests;
