//! From a name as written, in any script, to lower-case ASCII tokens.

use any_ascii::any_ascii;
use unicode_normalization::UnicodeNormalization;

/// Characters that join the letters on both sides rather than separate words:
/// apostrophes and the letters transliteration uses for glottal stops and the
/// Arabic ʿayn (`'`, `` ` ``). "N'Diaye" is one name, as is "O'Brien".
fn is_joiner(b: u8) -> bool {
    matches!(b, b'\'' | b'`')
}

/// Appends the normalized form of `ascii` (already transliterated) to `out`:
/// letters lower-cased, digits kept, joiners dropped, anything else a single space.
fn push_ascii_tokens(out: &mut String, ascii: &str) {
    let mut pending_space = false;
    for b in ascii.bytes() {
        if b.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(b.to_ascii_lowercase() as char);
        } else if !is_joiner(b) {
            pending_space = true;
        }
    }
}

/// Normalizes a name or place as written: Unicode NFKC, lower case, any script
/// transliterated to Latin (any_ascii), diacritics removed, apostrophes joined
/// ("N'Diaye" → "ndiaye"), hyphens and other punctuation turned into spaces
/// ("Abd-al Rahman" → "abd al rahman"), whitespace collapsed.
///
/// The result holds only `a-z`, `0-9` and single spaces between tokens.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    if text.is_ascii() {
        // ASCII is already in NFKC and needs no transliteration.
        push_ascii_tokens(&mut out, text);
    } else {
        let folded: String = text.nfkc().collect::<String>().to_lowercase();
        push_ascii_tokens(&mut out, &any_ascii(&folded));
    }
    out
}

/// The normalized tokens of a name or place.
pub fn name_parts(text: &str) -> Vec<String> {
    normalize(text)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_with_diacritics_and_capitals() {
        assert_eq!(normalize("José"), "jose");
        assert_eq!(normalize("Şükrü"), "sukru");
        assert_eq!(normalize("  MUKHAMMED   Ali "), "mukhammed ali");
        assert_eq!(normalize("KAMARA, Fatmata"), "kamara fatmata");
        assert_eq!(normalize("Nguyễn Thị Minh"), "nguyen thi minh");
        assert_eq!(normalize("Øystein Straße"), "oystein strasse");
    }

    #[test]
    fn apostrophes_join_hyphens_split() {
        assert_eq!(normalize("N'Diaye"), "ndiaye");
        assert_eq!(normalize("O’Brien"), "obrien");
        assert_eq!(normalize("Abd-al Rahman"), "abd al rahman");
        assert_eq!(normalize("Jean-Pierre"), "jean pierre");
        assert_eq!(normalize("'Abd al-Rahman"), "abd al rahman");
    }

    #[test]
    fn other_scripts_are_transliterated() {
        assert_eq!(normalize("Олександр"), "oleksandr");
        assert_eq!(normalize("ОЛЕКСАНДР"), "oleksandr");
        assert_eq!(normalize("Юлія"), "yuliya");
        assert_eq!(normalize("محمد"), "mhmd");
        assert_eq!(normalize("عبد الرحمن"), "bd lrhmn");
        assert_eq!(normalize("አበበ"), "abebe");
    }

    #[test]
    fn compatibility_forms_fold() {
        // Full-width letters and ligatures (NFKC).
        assert_eq!(normalize("ＡＢＥＢＥ"), "abebe");
        assert_eq!(normalize("ﬁona"), "fiona");
    }

    #[test]
    fn name_parts_splits_and_drops_empties() {
        assert_eq!(name_parts(" - Abd-al  Rahman -"), ["abd", "al", "rahman"]);
        assert!(name_parts("  ,, ").is_empty());
        let written = String::from("José N'Diaye");
        let _ = name_parts(&written);
        assert_eq!(written, "José N'Diaye");
    }
}
