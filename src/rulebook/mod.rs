//! The name and place rules of a `matching-rules/` directory, loaded together, and
//! the errors that point at the file and line of a problem.
//!
//! What counts as the same name or the same place is matching behaviour that a
//! deployment tunes, so it lives in data files, not in code:
//!
//! | file | loaded by |
//! |---|---|
//! | `names/variants.toml` | [`NameRules`]: spelling groups and transliteration rewrites |
//! | `names/nicknames.toml` | [`NameRules`]: nicknames and the full names they stand for |
//! | `names/particles.toml` | [`NameRules`]: particles that join, split or connect names |
//! | `names/placeholders.toml` | [`NameRules`]: values that mean "unknown" |
//! | `places/gazetteer.toml` | [`Gazetteer`]: places, their spellings and hierarchy |
//!
//! [`Rulebook::builtin`] embeds the files of this repository in the binary, so that
//! famlink works anywhere; [`Rulebook::load`] reads a deployment's own directory.
//! Every problem found while loading is reported as `FILE:LINE: reason`, all of
//! them at once.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;

use crate::names::NameRules;
use crate::places::Gazetteer;

/// One problem in a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The file as it was named to the loader (for the built-in rules, its path in
    /// the repository, e.g. `matching-rules/names/variants.toml`).
    pub file: String,
    /// 1-based line; 0 when the problem concerns the file as a whole (missing,
    /// unreadable).
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        }
    }
}

/// Every problem found in a set of rule files, in file and line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleErrors(pub Vec<RuleError>);

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleErrors {}

impl RuleErrors {
    pub fn errors(&self) -> &[RuleError] {
        &self.0
    }
}

/// One rule file being loaded: its name for messages, its text, and the problems
/// found so far.
pub(crate) struct RuleFile<'a> {
    pub name: String,
    pub text: &'a str,
    pub errors: Vec<RuleError>,
}

impl<'a> RuleFile<'a> {
    pub fn new(name: impl Into<String>, text: &'a str) -> Self {
        RuleFile {
            name: name.into(),
            text,
            errors: Vec::new(),
        }
    }

    /// The 1-based line of a byte offset into the text.
    pub fn line_at(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// Records a problem at a byte span (as `toml::Spanned` gives them).
    pub fn error_at(&mut self, span: std::ops::Range<usize>, reason: impl Into<String>) {
        let line = self.line_at(span.start);
        self.errors.push(RuleError {
            file: self.name.clone(),
            line,
            reason: reason.into(),
        });
    }

    /// Parses the whole file into `T`; a syntax or shape error is recorded with its
    /// line and gives `None`.
    pub fn parse<T: DeserializeOwned>(&mut self) -> Option<T> {
        match toml::from_str::<T>(self.text) {
            Ok(v) => Some(v),
            Err(e) => {
                let line = e.span().map_or(0, |s| self.line_at(s.start));
                // The message of a toml error is one line; its Display adds a
                // snippet of the file, which the line number replaces.
                let reason = e.message().trim().to_owned();
                self.errors.push(RuleError {
                    file: self.name.clone(),
                    line,
                    reason,
                });
                None
            }
        }
    }
}

/// Reads `dir/relative` into a string, or records why not.
pub(crate) fn read_rule_file(
    dir: &Path,
    relative: &str,
    errors: &mut Vec<RuleError>,
) -> Option<(String, String)> {
    let path = dir.join(relative);
    let name = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => Some((name, text)),
        Err(e) => {
            errors.push(RuleError {
                file: name,
                line: 0,
                reason: format!("cannot read: {e}"),
            });
            None
        }
    }
}

/// A 64-bit FNV-1a hash: stable across Rust versions and platforms, unlike
/// `DefaultHasher`, so that a fingerprint written to disk means the same later.
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// A string and a separator, so that ("ab","c") and ("a","bc") differ.
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
        self.bytes(&[0xff]);
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

/// A fast hash for the rules' own tables (keys written by whoever edits the
/// rules, looked up for every name part indexed): a multiply-rotate over eight
/// bytes at a time, several times cheaper than SipHash on short names. Not for
/// tables whose keys come from records.
#[derive(Default, Clone, Copy)]
pub(crate) struct RuleHasher(u64);

impl std::hash::Hasher for RuleHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("eight bytes"));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by rule data (see [`RuleHasher`]).
pub(crate) type RuleMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<RuleHasher>>;
/// A set of rule data (see [`RuleHasher`]).
pub(crate) type RuleSet<K> =
    std::collections::HashSet<K, std::hash::BuildHasherDefault<RuleHasher>>;

/// The name rules and the gazetteer of one `matching-rules/` directory.
#[derive(Debug)]
pub struct Rulebook {
    pub names: Arc<NameRules>,
    pub places: Arc<Gazetteer>,
}

impl Rulebook {
    /// Loads `dir/names/*.toml` and `dir/places/gazetteer.toml`, reporting every
    /// problem of every file.
    pub fn load(dir: &Path) -> Result<Rulebook, RuleErrors> {
        let names = NameRules::load(dir);
        let places = match &names {
            Ok(names) => Gazetteer::load(&dir.join("places"), Arc::clone(names)).map(Arc::new),
            // Without name rules the gazetteer cannot fold its spellings; report
            // its syntax anyway.
            Err(_) => {
                Gazetteer::load(&dir.join("places"), Arc::new(NameRules::empty())).map(Arc::new)
            }
        };
        match (names, places) {
            (Ok(names), Ok(places)) => Ok(Rulebook { names, places }),
            (names, places) => {
                let mut all = Vec::new();
                if let Err(e) = names {
                    all.extend(e.0);
                }
                if let Err(e) = places {
                    all.extend(e.0);
                }
                Err(RuleErrors(all))
            }
        }
    }

    /// The rules of this repository's `matching-rules/`, compiled into the binary.
    pub fn builtin() -> Arc<Rulebook> {
        static BUILTIN: OnceLock<Arc<Rulebook>> = OnceLock::new();
        Arc::clone(BUILTIN.get_or_init(|| {
            Arc::new(Rulebook {
                names: NameRules::builtin(),
                places: Gazetteer::builtin(),
            })
        }))
    }

    /// Changes whenever the rules would match differently (not when only comments
    /// or layout change): derived data such as the search index records it.
    pub fn fingerprint(&self) -> u64 {
        let mut h = Fnv::default();
        h.bytes(&self.names.fingerprint().to_le_bytes());
        h.bytes(&self.places.fingerprint().to_le_bytes());
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_offsets() {
        let f = RuleFile::new("x.toml", "a\nb\n\nc");
        assert_eq!(f.line_at(0), 1);
        assert_eq!(f.line_at(2), 2);
        assert_eq!(f.line_at(5), 4);
        assert_eq!(f.line_at(500), 4);
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let mut f = RuleFile::new("dir/x.toml", "a = 1\n\nb = [1, \n");
        assert!(f.parse::<toml::Table>().is_none());
        assert_eq!(f.errors.len(), 1);
        let e = &f.errors[0];
        assert_eq!(e.file, "dir/x.toml");
        assert!(e.line >= 3, "{e}");
        assert!(e.to_string().starts_with("dir/x.toml:"), "{e}");
    }

    #[test]
    fn builtin_rules_load() {
        let r = Rulebook::builtin();
        assert_ne!(r.fingerprint(), 0);
        assert_eq!(r.fingerprint(), Rulebook::builtin().fingerprint());
    }

    #[test]
    fn the_repository_directory_loads_like_the_builtin() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("matching-rules");
        let loaded = Rulebook::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.fingerprint(), Rulebook::builtin().fingerprint());
    }

    #[test]
    fn fnv_is_stable() {
        let mut h = Fnv::default();
        h.bytes(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
