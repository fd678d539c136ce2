//! Byte-level string metrics for short ASCII values, with no allocation. They give the
//! same results as strsim's (checked against it in the tests below) and fall back to
//! strsim for longer or non-ASCII values.

/// Longest value the fast paths take (bit masks of 64 positions).
const MAX: usize = 64;

/// Jaro similarity, as `strsim::jaro`.
pub fn jaro(a: &str, b: &str) -> f64 {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !(a.is_ascii() && b.is_ascii()) || x.len() > MAX || y.len() > MAX {
        return strsim::jaro(a, b);
    }
    jaro_bytes(x, y)
}

thread_local! {
    /// Per byte value, the positions where it occurs in the second string; all zero
    /// between calls.
    static POSITIONS: std::cell::RefCell<[u64; 128]> = const { std::cell::RefCell::new([0; 128]) };
}

fn jaro_bytes(a: &[u8], b: &[u8]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if la == 0 && lb == 0 {
        return 1.0;
    }
    if la == 0 || lb == 0 {
        return 0.0;
    }
    let window = (la.max(lb) / 2).saturating_sub(1);
    let (mut fa, mut fb) = (0u64, 0u64);
    let mut matches = 0usize;
    POSITIONS.with(|cell| {
        let mut pos = cell.borrow_mut();
        for (j, &c) in b.iter().enumerate() {
            pos[c as usize] |= 1 << j;
        }
        for (i, &ca) in a.iter().enumerate() {
            let lo = i.saturating_sub(window);
            let hi = (i + window + 1).min(lb);
            // Positions lo..hi of b, not yet matched, holding the same byte: the
            // first of them is the one a left-to-right scan would take.
            let span = if hi >= 64 { u64::MAX } else { (1u64 << hi) - 1 } & !((1u64 << lo) - 1);
            let free = pos[ca as usize] & span & !fb;
            if free != 0 {
                fb |= free & free.wrapping_neg();
                fa |= 1 << i;
                matches += 1;
            }
        }
        for &c in b {
            pos[c as usize] = 0;
        }
    });
    if matches == 0 {
        return 0.0;
    }
    // Matched characters in order on both sides; count the positions that differ.
    let mut half_transpositions = 0usize;
    let (mut ma, mut mb) = (fa, fb);
    while ma != 0 {
        let i = ma.trailing_zeros() as usize;
        let j = mb.trailing_zeros() as usize;
        if a[i] != b[j] {
            half_transpositions += 1;
        }
        ma &= ma - 1;
        mb &= mb - 1;
    }
    let t = half_transpositions / 2;
    let m = matches as f64;
    (m / la as f64 + m / lb as f64 + (matches - t) as f64 / m) / 3.0
}

/// Jaro–Winkler similarity, as `strsim::jaro_winkler` (prefix bonus above 0.7, at
/// most four characters, scale 0.1).
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !(a.is_ascii() && b.is_ascii()) || x.len() > MAX || y.len() > MAX {
        return strsim::jaro_winkler(a, b);
    }
    let sim = jaro_bytes(x, y);
    if sim > 0.7 {
        let prefix = x.iter().zip(y).take(4).take_while(|(p, q)| p == q).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// Levenshtein distance, as `strsim::levenshtein`.
pub fn levenshtein(a: &str, b: &str) -> usize {
    levenshtein_within(a, b, usize::MAX)
}

/// Levenshtein similarity in [0, 1], as `strsim::normalized_levenshtein` (one
/// less the distance over the longer value's length in characters, 1 for two
/// empty values), where it is at least `floor`; below `floor`, some value below
/// `floor`. Only the cells of the edit matrix that can stay within
/// the distance `floor` allows are computed: for names run together, a tenth of
/// them.
pub fn normalized_levenshtein_from(a: &str, b: &str, floor: f64) -> f64 {
    if !(a.is_ascii() && b.is_ascii()) {
        return strsim::normalized_levenshtein(a, b);
    }
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    // One more than the most the floor allows, so that rounding cannot cut off
    // a distance right at it; a distance over `k` comes back as `k + 1`, which
    // is below the floor.
    let k = ((1.0 - floor).max(0.0) * longest as f64) as usize + 1;
    1.0 - levenshtein_within(a, b, k) as f64 / longest as f64
}

/// Levenshtein distance if at most `k`, else `k + 1` (stops as soon as it knows).
pub fn levenshtein_within(a: &str, b: &str, k: usize) -> usize {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !(a.is_ascii() && b.is_ascii()) || x.len() > MAX || y.len() > MAX {
        return strsim::levenshtein(a, b).min(k.saturating_add(1));
    }
    edit_within(x, y, false, k)
}

/// Optimal string alignment distance (adjacent transpositions, each substring edited
/// once), as `strsim::osa_distance`.
pub fn osa(a: &str, b: &str) -> usize {
    osa_within(a, b, usize::MAX)
}

/// OSA distance if at most `k`, else `k + 1`.
pub fn osa_within(a: &str, b: &str, k: usize) -> usize {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !(a.is_ascii() && b.is_ascii()) || x.len() > MAX || y.len() > MAX {
        return strsim::osa_distance(a, b).min(k.saturating_add(1));
    }
    edit_within(x, y, true, k)
}

/// Whether the (unrestricted) Damerau–Levenshtein distance is at most `k`, as
/// `strsim::damerau_levenshtein(a, b) <= k`.
///
/// The optimal string alignment distance is an upper bound (so at most `k` settles
/// it) and at most twice the Damerau–Levenshtein distance (so over `2k` settles it
/// the other way); with `k <= 1` the two agree. Only what falls between is left to
/// strsim.
pub fn damerau_levenshtein_within(a: &str, b: &str, k: usize) -> bool {
    let d = osa_within(a, b, k.saturating_mul(2));
    if d <= k {
        return true;
    }
    if k <= 1 || d > 2 * k {
        return false;
    }
    strsim::damerau_levenshtein(a, b) <= k
}

/// Edit distance over bytes (with `transpose`, the OSA distance), computed only in
/// the band of cells that can stay within `k`; returns `k + 1` for anything more.
fn edit_within(a: &[u8], b: &[u8], transpose: bool, k: usize) -> usize {
    let (la, lb) = (a.len(), b.len());
    let k = k.min(la.max(lb));
    let inf = k + 1;
    if la.abs_diff(lb) > k {
        return inf;
    }
    if la == 0 || lb == 0 {
        return la.max(lb).min(inf);
    }
    let inf16 = inf as u16;
    let mut rows = [[0u16; MAX + 2]; 3];
    for (j, p) in rows[1].iter_mut().enumerate().take(lb + 1) {
        *p = (j as u16).min(inf16);
    }
    if lb < MAX + 1 {
        rows[1][lb + 1] = inf16;
    }
    // rows[(i + 1) % 3]: row i - 1; rows[i % 3]: row i - 2; rows[(i + 2) % 3]: row i.
    for i in 1..=la {
        let (r_prev2, r_prev, r_cur) = ((i + 2) % 3, i % 3, (i + 1) % 3);
        let lo = if i > k { i - k } else { 1 };
        let hi = (i + k).min(lb);
        let [x, y, z] = &mut rows;
        let (prev2, prev, cur) = match (r_prev2, r_prev, r_cur) {
            (0, 1, 2) => (&*x, &*y, z),
            (1, 2, 0) => (&*y, &*z, x),
            _ => (&*z, &*x, y),
        };
        cur[lo - 1] = if lo == 1 {
            (i as u16).min(inf16)
        } else {
            inf16
        };
        let mut row_min = cur[lo - 1];
        for j in lo..=hi {
            let cost = u16::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if transpose && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            let v = v.min(inf16);
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if hi < lb {
            cur[hi + 1] = inf16;
        }
        if row_min >= inf16 {
            return inf;
        }
    }
    usize::from(rows[(la + 1) % 3][lb]).min(inf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Random short strings over a small alphabet, and edited copies of each other, so
    /// that matches, transpositions and near misses are all common.
    fn pairs(n: usize) -> Vec<(String, String)> {
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let alphabet = b"abcde 12";
        let word = |rng: &mut ChaCha8Rng| -> String {
            let len = rng.random_range(0..12);
            (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
                .collect()
        };
        (0..n)
            .map(|_| {
                let a = word(&mut rng);
                let b = if rng.random_bool(0.5) || a.len() < 2 {
                    word(&mut rng)
                } else {
                    let mut c: Vec<char> = a.chars().collect();
                    for _ in 0..rng.random_range(1..3) {
                        let i = rng.random_range(0..c.len() - 1);
                        match rng.random_range(0..3) {
                            0 => c.swap(i, i + 1),
                            1 => {
                                c.remove(i);
                            }
                            _ => c.insert(i, 'x'),
                        }
                        if c.len() < 2 {
                            break;
                        }
                    }
                    c.into_iter().collect()
                };
                (a, b)
            })
            .collect()
    }

    #[test]
    fn same_as_strsim() {
        for (a, b) in pairs(20_000) {
            assert_eq!(jaro(&a, &b), strsim::jaro(&a, &b), "{a:?} {b:?}");
            assert_eq!(
                jaro_winkler(&a, &b),
                strsim::jaro_winkler(&a, &b),
                "{a:?} {b:?}"
            );
            assert_eq!(
                levenshtein(&a, &b),
                strsim::levenshtein(&a, &b),
                "{a:?} {b:?}"
            );
            assert_eq!(osa(&a, &b), strsim::osa_distance(&a, &b), "{a:?} {b:?}");
            let sim = strsim::normalized_levenshtein(&a, &b);
            for floor in [0.0, 0.5, 0.7, 0.85, 0.9, 1.0] {
                let from = normalized_levenshtein_from(&a, &b, floor);
                if sim >= floor {
                    assert_eq!(from, sim, "{a:?} {b:?} {floor}");
                } else {
                    assert!(from < floor, "{a:?} {b:?} {floor}: {from}");
                }
            }
            assert_eq!(
                normalized_levenshtein_from(&a, &b, 0.0),
                strsim::normalized_levenshtein(&a, &b),
                "{a:?} {b:?}"
            );
            for k in 0..4 {
                let lev = strsim::levenshtein(&a, &b).min(k + 1);
                assert_eq!(levenshtein_within(&a, &b, k), lev, "{a:?} {b:?} {k}");
                let o = strsim::osa_distance(&a, &b).min(k + 1);
                assert_eq!(osa_within(&a, &b, k), o, "{a:?} {b:?} {k}");
            }
            let dl = strsim::damerau_levenshtein(&a, &b);
            for k in 0..4 {
                assert_eq!(
                    damerau_levenshtein_within(&a, &b, k),
                    dl <= k,
                    "{a:?} {b:?} {k}"
                );
            }
        }
    }

    #[test]
    fn osa_and_damerau_differ_where_they_should() {
        // "ca" -> "abc": OSA cannot edit the transposed pair again.
        assert_eq!(osa("ca", "abc"), 3);
        assert_eq!(strsim::damerau_levenshtein("ca", "abc"), 2);
        assert!(damerau_levenshtein_within("ca", "abc", 2));
        assert!(!damerau_levenshtein_within("ca", "abc", 1));
    }

    #[test]
    fn long_and_non_ascii_values_fall_back() {
        let long = "a".repeat(80);
        assert_eq!(levenshtein(&long, "a"), 79);
        assert_eq!(
            normalized_levenshtein_from(&long, "b", 0.0),
            strsim::normalized_levenshtein(&long, "b")
        );
        assert_eq!(
            normalized_levenshtein_from("zoë", "zoe", 0.0),
            strsim::normalized_levenshtein("zoë", "zoe")
        );
        assert_eq!(
            jaro_winkler("zoë", "zoe"),
            strsim::jaro_winkler("zoë", "zoe")
        );
    }
}
