//! The pages' strings: one catalogue per language (`i18n/*.toml`, embedded), every
//! user-visible string looked up by key. English is complete; another language
//! falls back to English for a key it lacks.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The languages there are catalogues for, English first.
pub const LANGS: [&str; 2] = ["en", "fr"];

const SOURCES: [(&str, &str); 2] = [
    ("en", include_str!("i18n/en.toml")),
    ("fr", include_str!("i18n/fr.toml")),
];

type Catalogue = HashMap<String, String>;

fn catalogues() -> &'static HashMap<&'static str, Catalogue> {
    static C: OnceLock<HashMap<&'static str, Catalogue>> = OnceLock::new();
    C.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(lang, text)| {
                let c: Catalogue = toml::from_str(text).expect("embedded catalogue parses");
                (*lang, c)
            })
            .collect()
    })
}

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lang(pub &'static str);

impl Lang {
    pub const EN: Lang = Lang("en");

    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        let primary = code.split(['-', '_']).next().unwrap_or("");
        LANGS.iter().find(|l| **l == primary).map(|l| Lang(l))
    }

    /// The first supported language of an Accept-Language header (by q order).
    pub fn from_accept(header: &str) -> Option<Lang> {
        let mut langs: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let lang = Lang::parse(it.next()?)?;
                let q = it
                    .find_map(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .map(|v| v.parse().unwrap_or(0.0))
                    })
                    .unwrap_or(1.0);
                (q > 0.0).then_some((q, lang))
            })
            .collect();
        langs.sort_by(|a, b| b.0.total_cmp(&a.0));
        langs.first().map(|(_, l)| *l)
    }

    /// A word of the data by its code (`word_<code>`), or the code itself.
    pub fn word<'a>(&self, code: &'a str) -> &'a str {
        let key = format!("word_{code}");
        let all = catalogues();
        all.get(self.0)
            .and_then(|c| c.get(&key))
            .or_else(|| all.get("en").and_then(|c| c.get(&key)))
            .map(String::as_str)
            .unwrap_or(code)
    }

    /// The string for `key`; the key itself if no catalogue has it (a test catches that).
    pub fn t(&self, key: &str) -> &'static str {
        let all = catalogues();
        all.get(self.0)
            .and_then(|c| c.get(key))
            .or_else(|| all.get("en").and_then(|c| c.get(key)))
            .map(String::as_str)
            .unwrap_or_else(|| {
                tracing::warn!(key, "missing string");
                "?"
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_has_every_english_key() {
        let all = catalogues();
        let en = &all["en"];
        for lang in LANGS {
            let c = &all[lang];
            let mut missing: Vec<_> = en.keys().filter(|k| !c.contains_key(*k)).collect();
            missing.sort();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            let mut extra: Vec<_> = c.keys().filter(|k| !en.contains_key(*k)).collect();
            extra.sort();
            assert!(extra.is_empty(), "{lang} has unknown keys {extra:?}");
        }
    }

    #[test]
    fn accept_language_picks_the_preferred_known_language() {
        assert_eq!(
            Lang::from_accept("fr-CH, fr;q=0.9, en;q=0.8"),
            Some(Lang("fr"))
        );
        assert_eq!(Lang::from_accept("de, en;q=0.5"), Some(Lang("en")));
        assert_eq!(Lang::from_accept("en;q=0.2, fr;q=0.9"), Some(Lang("fr")));
        assert_eq!(Lang::from_accept("de"), None);
    }
}
