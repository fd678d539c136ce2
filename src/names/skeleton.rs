//! Consonant skeletons of normalized tokens.
//!
//! Arabic script is written without short vowels, so a transliterated "محمد" is
//! "mhmd" and meets "Mohammed", "Muhammad" and "Mohamed" only once the vowels of the
//! Latin spellings are gone too. The skeleton keeps the consonants of a token,
//! folds the spellings that differ between transliteration traditions (Russian
//! "kh" for the Arabic ḥ, "ph" for f, q/c/k) and collapses doubled letters.

/// How to read the letters whose value depends on the orthography.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Most Latin orthographies: x = ks, c = k (s before e/i/y).
    Latin,
    /// Somali: x is the pharyngeal ḥ ("Maxamed" = Mohammed), c is the ʿayn and
    /// not written in other spellings ("Cabdi" = Abdi).
    Somali,
}

fn is_vowel(b: u8) -> bool {
    // y and w are half vowels in the names that concern us: the Arabic ي and و
    // stand for long ī and ū ("سعيد" → "syd" is Saeed), Ukrainian "Yuliia" is
    // also "Iuliia".
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y' | b'w')
}

/// Letters after which an `h` only marks a digraph (sh, th, dh, gh, zh, ch).
fn h_marks_digraph(prev: u8) -> bool {
    matches!(prev, b's' | b't' | b'd' | b'g' | b'z' | b'c')
}

fn emit(out: &mut Vec<u8>, letters: &[u8], vowel_since_last: &mut bool) {
    for &ch in letters {
        if !*vowel_since_last && out.last() == Some(&ch) {
            continue;
        }
        out.push(ch);
        *vowel_since_last = false;
    }
}

fn skeleton_with(token: &str, reading: Reading) -> String {
    let b = token.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    // Whether a vowel came between the last emitted consonant and this one: only
    // adjacent doubles collapse ("Muhammad" → mhmd, but "Mama" keeps both m).
    let mut vowel_since_last = true;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let prev = if i > 0 { Some(b[i - 1]) } else { None };
        match c {
            _ if is_vowel(c) => vowel_since_last = true,
            b'k' if next == Some(b'h') => {
                emit(&mut out, b"h", &mut vowel_since_last);
                i += 1;
            }
            b'p' if next == Some(b'h') => {
                emit(&mut out, b"f", &mut vowel_since_last);
                i += 1;
            }
            b'h' if prev.is_some_and(h_marks_digraph) => {}
            b'q' => emit(&mut out, b"k", &mut vowel_since_last),
            b'c' => match reading {
                Reading::Somali => vowel_since_last = true,
                Reading::Latin => {
                    let soft = matches!(next, Some(b'e' | b'i' | b'y'));
                    emit(
                        &mut out,
                        if soft { b"s" } else { b"k" },
                        &mut vowel_since_last,
                    )
                }
            },
            b'x' => match reading {
                Reading::Somali => emit(&mut out, b"h", &mut vowel_since_last),
                Reading::Latin => emit(&mut out, b"ks", &mut vowel_since_last),
            },
            _ => emit(&mut out, &[c], &mut vowel_since_last),
        }
        i += 1;
    }
    String::from_utf8(out).expect("ASCII in, ASCII out")
}

/// The consonant skeleton of a normalized token (`a-z0-9`), in the Latin reading.
pub fn skeleton(token: &str) -> String {
    skeleton_with(token, Reading::Latin)
}

/// The skeleton in the other reading of `x` and `c` (Somali), when it differs.
pub fn alternate_skeleton(token: &str) -> Option<String> {
    if !token.bytes().any(|b| b == b'x' || b == b'c') {
        return None;
    }
    let alt = skeleton_with(token, Reading::Somali);
    (alt != skeleton(token)).then_some(alt)
}

/// Every skeleton of a token: the Latin reading first, then the Somali reading of
/// `x` and `c`, then, for "Abd al-" names written as one word ("Abdulrahman",
/// "Abdelkadir"), the form without the article's `l` ("Abdirahman", "Abdikadir").
pub fn skeleton_variants(token: &str) -> Vec<String> {
    let mut v = vec![skeleton(token)];
    if let Some(alt) = alternate_skeleton(token) {
        v.push(alt);
    }
    for i in 0..v.len() {
        if let Some(rest) = v[i].strip_prefix("bdl") {
            if rest.len() >= 2 {
                let without = format!("bd{rest}");
                if !v.contains(&without) {
                    v.push(without);
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mohammed_variants_share_a_skeleton() {
        for name in [
            "mohammed",
            "muhammad",
            "mohamed",
            "mukhammed",
            "mhmd",
            "mohamad",
        ] {
            assert_eq!(skeleton(name), "mhmd", "{name}");
        }
        assert_eq!(alternate_skeleton("maxamed").as_deref(), Some("mhmd"));
        assert_eq!(skeleton("maxamed"), "mksmd");
    }

    #[test]
    fn digraphs_and_doubles() {
        assert_eq!(skeleton("khalid"), "hld");
        assert_eq!(skeleton("khaled"), "hld");
        assert_eq!(skeleton("shadi"), "sd");
        assert_eq!(skeleton("ghassan"), "gsn");
        assert_eq!(skeleton("philip"), "flp");
        assert_eq!(skeleton("mama"), "mm");
        assert_eq!(skeleton("cecilia"), "ssl");
        assert_eq!(skeleton("oleksandr"), "lksndr");
        assert_eq!(skeleton("olexandr"), "lksndr");
        assert_eq!(skeleton("aleksandr"), "lksndr");
    }

    #[test]
    fn abd_al_compounds() {
        assert_eq!(skeleton_variants("abdulrahman"), ["bdlrhmn", "bdrhmn"]);
        assert_eq!(skeleton_variants("abdirahman"), ["bdrhmn"]);
        assert_eq!(
            skeleton_variants("cabdulqaadir"),
            ["kbdlkdr", "bdlkdr", "bdkdr"]
        );
        assert_eq!(skeleton_variants("abdullah"), ["bdlh"]);
    }

    #[test]
    fn somali_reading() {
        assert_eq!(alternate_skeleton("cabdi").as_deref(), Some("bd"));
        assert_eq!(skeleton("abdi"), "bd");
        assert_eq!(alternate_skeleton("xasan").as_deref(), Some("hsn"));
        assert_eq!(skeleton("hassan"), "hsn");
        assert_eq!(alternate_skeleton("hassan"), None);
    }
}
