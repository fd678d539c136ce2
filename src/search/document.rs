//! From a record's summary to the terms of its index document.

use tantivy::TantivyDocument;

use crate::names::{skeleton_variants, KeyCache, NameRules, MIN_SKELETON_LEN};
use crate::places::Gazetteer;
use crate::record::{RecordKey, RecordKind};

use super::schema::{pack_facts, Fields, NameFields, RESTRICTED};
use super::summary::{sex_code, Summary};

/// The text of the key term: `kind:agency/record_id`. Agencies cannot contain `/`
/// and the kind is a fixed word, so distinct keys give distinct texts.
pub(crate) fn key_text(kind: RecordKind, agency: &str, record_id: &str) -> String {
    format!("{}:{agency}/{record_id}", kind.as_str())
}

pub(crate) fn key_text_of(key: &RecordKey) -> String {
    key_text(key.kind, &key.agency, &key.record_id)
}

/// Adds the tokens of each value, their keys, and each multi-token value run
/// together (so "Abd al-Rahman" is also found as "Abdalrahman").
///
/// The variant field holds each token's variant key where it differs from the
/// token (a token that is its own key is already in the normalized field, and the
/// query looks for keys in both), and the keys of the names a nickname stands
/// for. So a query token and a record token meet there when they are one name by
/// the rules, or one is a nickname of the other, or both of one name.
fn add_names<'a>(
    doc: &mut TantivyDocument,
    nf: NameFields,
    values: impl IntoIterator<Item = &'a String>,
    cache: &mut KeyCache,
    rules: &NameRules,
) {
    for value in values {
        // Compounds the rules join only when known ("abdi rahman" → abdirahman):
        // the values keep their halves apart, the compound is indexed besides.
        if let Some(field) = nf.variants {
            for c in rules.compounds(value) {
                doc.add_text(nf.normalized, &c);
                let key = rules.variant_key(&c);
                if key != c {
                    doc.add_text(field, &key);
                }
            }
        }
        let mut count = 0;
        for tok in value.split(' ').filter(|t| !t.is_empty()) {
            let k = cache.get(tok);
            doc.add_text(nf.normalized, &k.normalized);
            if let Some(field) = nf.phonetic {
                for code in &k.phonetic {
                    doc.add_text(field, code);
                }
            }
            for s in k.skeletons() {
                doc.add_text(nf.skeleton, s);
            }
            if let Some(field) = nf.variants {
                if k.variant != k.normalized && !k.variant.is_empty() {
                    doc.add_text(field, &k.variant);
                }
                for n in &k.nicknames {
                    doc.add_text(field, n);
                }
            }
            count += 1;
        }
        if nf.full && (2..=4).contains(&count) {
            let joined: String = value.split(' ').collect();
            doc.add_text(nf.normalized, &joined);
            for sk in skeleton_variants(&joined) {
                if sk.len() > MIN_SKELETON_LEN {
                    doc.add_text(nf.skeleton, &sk);
                }
            }
        }
    }
}

pub(crate) fn build(
    f: &Fields,
    s: &Summary,
    cache: &mut KeyCache,
    rules: &NameRules,
    g: &Gazetteer,
) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(f.key, key_text(s.kind, &s.agency, &s.record_id));
    doc.add_text(f.kind, s.kind.as_str());
    doc.add_text(f.agency, &s.agency);
    if !s.consent {
        doc.add_text(f.restricted, RESTRICTED);
    }
    add_names(&mut doc, f.own, &s.own, cache, rules);
    add_names(&mut doc, f.father, &s.father, cache, rules);
    add_names(&mut doc, f.mother, &s.mother, cache, rules);
    add_names(&mut doc, f.relative, &s.relative, cache, rules);
    add_names(&mut doc, f.place, &s.places, cache, rules);
    // Gazetteer places are not indexed: a query expands the place it names into
    // all its spellings (see `query::candidate_query`), which the place tokens
    // above meet. Without a country of origin, the country of the places stands
    // in for it.
    match &s.country {
        Some(c) => doc.add_text(f.country, c),
        None => {
            let mut countries: Vec<&str> =
                s.place_ids.iter().map(|&id| g.country_code(id)).collect();
            countries.sort_unstable();
            countries.dedup();
            for c in countries {
                doc.add_text(f.country, c);
            }
        }
    }
    doc.add_text(f.sex, s.sex.code());
    doc.add_u64(
        f.facts,
        pack_facts(
            sex_code(s.sex),
            s.birth.map(|y| (y.min, y.max)),
            s.kind == RecordKind::Inquiry,
            !s.consent,
        ),
    );
    if let Some(y) = s.birth {
        doc.add_i64(f.birth_min, i64::from(y.min));
        doc.add_i64(f.birth_max, i64::from(y.max));
    }
    doc.add_bytes(f.summary, &s.encode());
    if let Some(y) = s.birth {
        for (term, _) in super::candidates::born_terms(y.min, y.max, s.sex) {
            doc.add_text(f.born, term);
        }
    }
    doc.add_u64(
        f.key_hash,
        super::candidates::key_hash(s.kind, &s.agency, &s.record_id),
    );
    doc
}
