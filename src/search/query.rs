//! The tolerant candidate query: cheap, broad, and only there to find the few
//! hundred records the ranker should look at.

use std::ops::Bound;

use tantivy::query::{
    BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

use crate::names::skeleton_variants;

use crate::places::{Gazetteer, PlaceLevel};

use super::rank::{Prepared, QueryName};
use super::schema::{unpack_facts, Fields, NameFields, RESTRICTED};
use super::summary::sex_code;

fn term(field: Field, text: &str) -> Term {
    Term::from_field_text(field, text)
}

fn term_query(field: Field, text: &str, boost: f32) -> Box<dyn Query> {
    let q = Box::new(TermQuery::new(
        term(field, text),
        IndexRecordOption::WithFreqs,
    ));
    if boost == 1.0 {
        q
    } else {
        Box::new(BoostQuery::new(q, boost))
    }
}

/// Edit distance allowed for a token: none for short tokens (too many neighbours),
/// one for most names, two for long names of the child. Vowel and doubling
/// differences are caught by the skeleton and the phonetic codes, which are far
/// cheaper than a wider fuzzy match.
fn fuzzy_distance(len: usize, own: bool) -> u8 {
    match len {
        0..=3 => 0,
        10.. if own => 2,
        _ => 1,
    }
}

/// Should-clauses for one query name over one family of name fields.
fn name_clauses(
    out: &mut Vec<(Occur, Box<dyn Query>)>,
    nf: NameFields,
    q: &QueryName,
    weight: f32,
) {
    for k in &q.tokens {
        let tok = k.normalized.as_str();
        out.push((Occur::Should, term_query(nf.normalized, tok, 2.0 * weight)));
        let d = fuzzy_distance(tok.len(), nf.full);
        if d > 0 {
            let fq = FuzzyTermQuery::new(term(nf.normalized, tok), d, true);
            out.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(fq), weight)),
            ));
        }
        if let Some(field) = nf.phonetic {
            for code in &k.phonetic {
                // One- and two-letter Metaphone codes match half the index.
                if code.len() >= 3 {
                    out.push((Occur::Should, term_query(field, code, weight)));
                }
            }
        }
        for s in k.skeletons() {
            out.push((Occur::Should, term_query(nf.skeleton, s, weight)));
        }
        // One name by the rules, or a nickname of it: a record token's variant key
        // is in the variant field, or in the normalized field when it is the token
        // itself (see `document::add_names`).
        if let Some(field) = nf.variants {
            let keys = std::iter::once(&k.variant)
                .filter(|v| !v.is_empty())
                .chain(k.nicknames.iter());
            for key in keys {
                out.push((Occur::Should, term_query(field, key, 1.5 * weight)));
                if *key != k.normalized {
                    out.push((Occur::Should, term_query(nf.normalized, key, 1.5 * weight)));
                }
            }
        }
    }
    // The compounds the rules join ("abdi rahman" → abdirahman), and their keys.
    if let Some(full) = &q.full {
        for k in full
            .tokens
            .iter()
            .filter(|k| !q.tokens.iter().any(|t| t.normalized == k.normalized))
        {
            out.push((
                Occur::Should,
                term_query(nf.normalized, &k.normalized, 2.0 * weight),
            ));
            if let Some(field) = nf.variants {
                out.push((Occur::Should, term_query(field, &k.variant, 1.5 * weight)));
            }
        }
    }
    // Compound names written apart in the query and together in the record
    // ("abd al rahman" / "abdalrahman"): adjacent tokens run together.
    let n = q.tokens.len();
    let longest = if nf.full { 3.min(n) } else { 0 };
    for len in 2..=longest {
        for start in 0..=(n - len) {
            let joined: String = q.tokens[start..start + len]
                .iter()
                .map(|k| k.normalized.as_str())
                .collect();
            out.push((
                Occur::Should,
                term_query(nf.normalized, &joined, 2.0 * weight),
            ));
            for sk in skeleton_variants(&joined) {
                if sk.len() >= 3 {
                    out.push((Occur::Should, term_query(nf.skeleton, &sk, weight)));
                }
            }
        }
    }
}

/// Weights of the criteria in the candidate score.
const W_NAME: f32 = 1.0;
const W_PARENT: f32 = 0.6;
const W_PLACE: f32 = 0.4;
/// How far outside the asked birth years a name-less query still looks.
pub(crate) const YEAR_SLACK: i32 = 3;

/// The candidate query, or `None` when the query asks nothing.
pub(crate) fn candidate_query<'a>(
    f: &Fields,
    p: &Prepared,
    g: &'a Gazetteer,
) -> Option<Box<dyn Query>> {
    let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if let Some(q) = &p.name {
        name_clauses(&mut should, f.own, q, W_NAME);
    }
    for (q, nf) in [(&p.father, f.father), (&p.mother, f.mother)] {
        let Some(q) = q else { continue };
        name_clauses(&mut should, nf, q, W_PARENT);
        // Inquiries by other relatives: the exact tokens only.
        for k in &q.tokens {
            should.push((
                Occur::Should,
                term_query(f.relative.normalized, &k.normalized, W_PARENT),
            ));
        }
    }
    if let Some(q) = &p.place {
        name_clauses(&mut should, f.place, q, W_PLACE);
        for c in &p.place_countries {
            should.push((Occur::Should, term_query(f.country, c, W_PLACE)));
        }
        // The gazetteer's places, by every spelling it knows of them: the place
        // itself; a district's villages too; around a village, weakly, its
        // district. Records' place words meet these (places are not indexed by
        // gazetteer id, which would cost every record several terms).
        let mut words: std::collections::BTreeMap<&str, f32> = Default::default();
        let mut want = |w: &'a str, weight: f32| {
            let e = words.entry(w).or_insert(0.0);
            *e = e.max(weight);
        };
        for m in &p.place_matches {
            if m.level == PlaceLevel::Country {
                continue;
            }
            for w in g.words(m.id) {
                want(w, 1.5 * W_PLACE);
            }
            match m.level {
                PlaceLevel::District => {
                    for &c in g.children(m.id) {
                        for w in g.words(c) {
                            want(w, W_PLACE);
                        }
                    }
                }
                _ => {
                    if let Some(d) = g.district_of(m.id) {
                        for w in g.words(d) {
                            want(w, 0.5 * W_PLACE);
                        }
                    }
                }
            }
        }
        for (w, weight) in words {
            should.push((Occur::Should, term_query(f.place.normalized, w, weight)));
        }
    }

    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !should.is_empty() {
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(should))));
    } else if let Some(y) = p.years {
        // No text: the birth years choose the candidates, sex only scores.
        let lo = Term::from_field_i64(f.birth_max, i64::from(y.min - YEAR_SLACK));
        let hi = Term::from_field_i64(f.birth_min, i64::from(y.max + YEAR_SLACK));
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(Bound::Included(lo), Bound::Unbounded)),
        ));
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(Bound::Unbounded, Bound::Included(hi))),
        ));
        if let Some(sex) = p.sex {
            clauses.push((Occur::Should, term_query(f.sex, sex.code(), 1.0)));
        }
    } else if let Some(sex) = p.sex {
        clauses.push((Occur::Must, term_query(f.sex, sex.code(), 1.0)));
    } else {
        return None;
    }

    if let Some(kind) = p.kind {
        clauses.push((Occur::Must, term_query(f.kind, kind.as_str(), 0.0)));
    }
    if let Some(viewer) = &p.viewer_agency {
        // Never a child without consent from another agency.
        let hidden = BooleanQuery::new(vec![
            (Occur::Must, term_query(f.restricted, RESTRICTED, 1.0)),
            (Occur::MustNot, term_query(f.agency, viewer, 1.0)),
        ]);
        clauses.push((Occur::MustNot, Box::new(hidden)));
    }
    Some(Box::new(BooleanQuery::new(clauses)))
}

/// The factor by which the birth years and sex of a candidate scale its text score,
/// so that the candidates kept for ranking already lean to the right age.
pub(crate) fn candidate_factor(p_years: Option<(i32, i32)>, p_sex: Option<u8>, facts: u64) -> f32 {
    let (sex, birth) = unpack_facts(facts);
    let mut f = 1.0;
    if let Some((qmin, qmax)) = p_years {
        f *= match birth {
            Some((rmin, rmax)) => {
                let gap = if rmax < qmin {
                    qmin - rmax
                } else if qmax < rmin {
                    rmin - qmax
                } else {
                    0
                };
                match gap {
                    0 => 1.0,
                    1 => 0.9,
                    2 => 0.75,
                    3 => 0.6,
                    _ => 0.45,
                }
            }
            None => 0.7,
        };
    }
    if let Some(q) = p_sex {
        if sex != 0 && sex != q {
            f *= 0.8;
        }
    }
    f
}

pub(crate) fn sex_code_of(p: &Prepared) -> Option<u8> {
    p.sex.map(sex_code)
}
