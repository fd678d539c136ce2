//! What the ranker needs of a record, normalized and packed into a few bytes.
//!
//! The store re-reads full records for display; the index keeps only this summary,
//! stored with each document.

use std::collections::HashMap;

use crate::names::{normalize, NameRules};
use crate::places::{Gazetteer, PlaceId};
use crate::record::{Record, RecordKey, RecordKind, Relationship, Sex, YearRange};
use crate::rulebook::Rulebook;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub kind: RecordKind,
    pub agency: String,
    pub record_id: String,
    pub consent: bool,
    pub sex: Sex,
    pub birth: Option<YearRange>,
    /// Normalized given name, family name, then other names; the first two are
    /// empty strings when absent.
    pub own: Vec<String>,
    /// Normalized names of the father: the record's father name and, for an
    /// inquiry filed by the father, the inquirer's name.
    pub father: Vec<String>,
    pub mother: Vec<String>,
    /// The inquirer when neither father nor mother.
    pub relative: Vec<String>,
    /// Normalized village, district and separation place, those present.
    pub places: Vec<String>,
    /// The gazetteer places those name (see [`Gazetteer::resolve`]), finest
    /// first, without duplicates.
    pub place_ids: Vec<PlaceId>,
    /// ISO code of the country of origin.
    pub country: Option<String>,
}

const FORMAT: u8 = 2;

/// Gazetteer look-ups by place text: a million records name far fewer places.
#[derive(Default)]
pub(crate) struct PlaceCache {
    map: HashMap<String, Vec<PlaceId>>,
}

/// Distinct place texts a [`PlaceCache`] keeps before starting over.
const PLACE_CACHE_CAPACITY: usize = 100_000;

impl PlaceCache {
    /// Appends the places `text` names to `out` (without duplicates).
    fn resolve_into(&mut self, g: &Gazetteer, text: &str, out: &mut Vec<PlaceId>) {
        let ids = match self.map.get(text) {
            Some(ids) => ids,
            None => {
                if self.map.len() >= PLACE_CACHE_CAPACITY {
                    self.map.clear();
                }
                let ids = g.resolve(text).iter().map(|m| m.id).collect();
                self.map.entry(text.to_owned()).or_insert(ids)
            }
        };
        for &id in ids {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
}

/// A value as the rules see it, as written and normalized: `None` when absent or
/// a placeholder.
fn known<'a>(rules: &NameRules, v: &'a Option<String>) -> Option<(&'a str, String)> {
    let raw = v.as_deref()?;
    let n = normalize(raw);
    (!rules.is_placeholder_normalized(raw, &n)).then_some((raw, n))
}

/// The compared parts of a given and a family name (loose: see
/// [`NameRules::loose_parts`]), with a whole name typed into one of the two fields
/// ("NGUYEN Van An") taken apart.
fn given_and_family(
    rules: &NameRules,
    given: Option<(&str, String)>,
    family: Option<(&str, String)>,
) -> (String, String) {
    let whole = match (&given, &family) {
        (Some((g, _)), None) => rules.split_family_first_with(g, true),
        (None, Some((f, _))) => rules.split_family_first_with(f, true),
        _ => None,
    };
    if let Some(w) = whole {
        return (w.given.join(" "), w.family.join(" "));
    }
    (
        given
            .map(|(_, n)| rules.loose_value(n, false))
            .unwrap_or_default(),
        family
            .map(|(_, n)| rules.loose_value(n, true))
            .unwrap_or_default(),
    )
}

fn push_nonempty(v: &mut Vec<String>, s: String) {
    if !s.is_empty() && !v.contains(&s) {
        v.push(s);
    }
}

impl Summary {
    /// The summary of a record under the rules: names as loose compared parts
    /// (see [`NameRules::loose_parts`]), placeholders left out, places resolved.
    pub fn from_record(r: &Record, rules: &Rulebook, places: &mut PlaceCache) -> Summary {
        let names = &*rules.names;
        let parts = |v: &Option<String>| {
            known(names, v)
                .map(|(_, n)| names.loose_value(n, false))
                .unwrap_or_default()
        };
        let (given, family) = given_and_family(
            names,
            known(names, &r.given_name),
            known(names, &r.family_name),
        );
        let mut own = vec![given, family];
        for o in &r.other_names {
            let n = normalize(o);
            if !names.is_placeholder_normalized(o, &n) {
                push_nonempty(&mut own, names.loose_value(n, false));
            }
        }
        let mut father = Vec::new();
        let mut mother = Vec::new();
        let mut relative = Vec::new();
        push_nonempty(&mut father, parts(&r.father_name));
        push_nonempty(&mut mother, parts(&r.mother_name));
        if let Some(inq) = r.inquirer() {
            let name = parts(&inq.name);
            match inq.relationship {
                Some(Relationship::Father) => push_nonempty(&mut father, name),
                Some(Relationship::Mother) => push_nonempty(&mut mother, name),
                _ => push_nonempty(&mut relative, name),
            }
        }
        let mut place_texts = Vec::new();
        let mut place_ids = Vec::new();
        for p in r.places() {
            let n = normalize(p);
            if names.is_placeholder_normalized(p, &n) {
                continue;
            }
            push_nonempty(&mut place_texts, n);
            places.resolve_into(&rules.places, p, &mut place_ids);
        }
        Summary {
            kind: r.kind(),
            agency: r.agency.clone(),
            record_id: r.record_id.clone(),
            consent: r.tracing_consent(),
            sex: r.sex,
            birth: r.birth_years(),
            own,
            father,
            mother,
            relative,
            places: place_texts,
            place_ids,
            country: r.origin.country.map(|c| c.as_str().to_owned()),
        }
    }

    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.kind, self.agency.clone(), self.record_id.clone())
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.push(FORMAT);
        let kind = match self.kind {
            RecordKind::Child => 0u8,
            RecordKind::Inquiry => 1,
        };
        out.push(kind | (u8::from(self.consent) << 1) | (sex_code(self.sex) << 2));
        let (min, max) = match self.birth {
            Some(y) => (y.min as i16, y.max as i16),
            None => (0, 0),
        };
        out.extend_from_slice(&min.to_le_bytes());
        out.extend_from_slice(&max.to_le_bytes());
        put_str(&mut out, &self.agency);
        put_str(&mut out, &self.record_id);
        for group in [
            &self.own,
            &self.father,
            &self.mother,
            &self.relative,
            &self.places,
        ] {
            out.push(group.len().min(255) as u8);
            for s in group.iter().take(255) {
                put_str(&mut out, s);
            }
        }
        put_str(&mut out, self.country.as_deref().unwrap_or(""));
        out.push(self.place_ids.len().min(255) as u8);
        for id in self.place_ids.iter().take(255) {
            out.extend_from_slice(&id.0.to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Summary> {
        let mut r = Reader(bytes);
        if r.u8()? != FORMAT {
            return None;
        }
        let flags = r.u8()?;
        let kind = if flags & 1 == 0 {
            RecordKind::Child
        } else {
            RecordKind::Inquiry
        };
        let consent = flags & 2 != 0;
        let sex = sex_from_code(flags >> 2);
        let min = i16::from_le_bytes([r.u8()?, r.u8()?]);
        let max = i16::from_le_bytes([r.u8()?, r.u8()?]);
        let birth = (min != 0 || max != 0).then(|| YearRange::new(min.into(), max.into()));
        let agency = r.str()?;
        let record_id = r.str()?;
        let mut groups: [Vec<String>; 5] = Default::default();
        for g in groups.iter_mut() {
            let n = r.u8()?;
            for _ in 0..n {
                g.push(r.str()?);
            }
        }
        let country = Some(r.str()?).filter(|c| !c.is_empty());
        let n = r.u8()?;
        let mut place_ids = Vec::with_capacity(n as usize);
        for _ in 0..n {
            place_ids.push(PlaceId(u32::from_le_bytes([
                r.u8()?,
                r.u8()?,
                r.u8()?,
                r.u8()?,
            ])));
        }
        let [own, father, mother, relative, places] = groups;
        Some(Summary {
            kind,
            agency,
            record_id,
            consent,
            sex,
            birth,
            own,
            father,
            mother,
            relative,
            places,
            place_ids,
            country,
        })
    }
}

pub(crate) fn sex_code(sex: Sex) -> u8 {
    match sex {
        Sex::Unknown => 0,
        Sex::Male => 1,
        Sex::Female => 2,
    }
}

fn sex_from_code(code: u8) -> Sex {
    match code {
        1 => Sex::Male,
        2 => Sex::Female,
        _ => Sex::Unknown,
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len().min(u16::MAX as usize);
    // Cut on a character boundary; normalized text is ASCII, ids may not be.
    let mut cut = len;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    out.extend_from_slice(&(cut as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..cut]);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn str(&mut self) -> Option<String> {
        let len = u16::from_le_bytes([self.u8()?, self.u8()?]) as usize;
        if self.0.len() < len {
            return None;
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(s.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{KindDetails, Origin};

    fn record(given: &str, family: &str, father: &str, places: [&str; 3]) -> Record {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Record {
            agency: "ag".into(),
            record_id: "r1".into(),
            given_name: opt(given),
            family_name: opt(family),
            other_names: vec!["Bé".into(), "UNKNOWN".into()],
            sex: Sex::Unknown,
            birth_date: None,
            age: None,
            father_name: opt(father),
            mother_name: None,
            origin: Origin {
                village: opt(places[0]),
                district: opt(places[1]),
                country: None,
            },
            separation_place: opt(places[2]),
            separation_date: None,
            languages: vec![],
            notes: None,
            details: KindDetails::Child {
                tracing_consent: true,
            },
            attributes: Default::default(),
        }
    }

    #[test]
    fn from_record_under_the_rules() {
        let rules = Rulebook::builtin();
        let mut cache = PlaceCache::default();
        let r = record(
            "NGUYEN Van An",
            "",
            "Ahmed bin Ali",
            ["Doolow", "N/A", "Dolo Ado"],
        );
        let s = Summary::from_record(&r, &rules, &mut cache);
        assert_eq!(s.own, ["van an", "nguyen", "be"]);
        assert_eq!(s.father, ["ahmed ali"]);
        assert_eq!(s.places, ["doolow", "dolo ado"]);
        let paths: Vec<&str> = s
            .place_ids
            .iter()
            .map(|&id| rules.places.path(id))
            .collect();
        assert_eq!(paths, ["SO/gedo/dollow", "ET/liben/dolo-ado"]);
        assert_eq!(Summary::decode(&s.encode()), Some(s));

        let r = record("FNU", "Abd al-Rahman", "UNKNOWN", ["", "", ""]);
        let s = Summary::from_record(&r, &rules, &mut cache);
        assert_eq!(s.own[..2], ["", "abdalrahman"]);
        assert!(s.father.is_empty());
        assert!(s.places.is_empty() && s.place_ids.is_empty());
    }

    #[test]
    fn round_trip() {
        let s = Summary {
            kind: RecordKind::Inquiry,
            agency: "ICRC-SO".into(),
            record_id: "inq/2024/ß".into(),
            consent: true,
            sex: Sex::Female,
            birth: Some(YearRange::new(2012, 2013)),
            own: vec!["yuliia".into(), "".into(), "oksana".into()],
            father: vec!["oleksandr kovalenko".into()],
            mother: vec![],
            relative: vec!["ivan".into()],
            places: vec!["kharkiv".into(), "izium".into()],
            place_ids: vec![PlaceId(3), PlaceId(70_000)],
            country: Some("UA".into()),
        };
        assert_eq!(Summary::decode(&s.encode()), Some(s.clone()));
        let none = Summary {
            birth: None,
            country: None,
            consent: false,
            kind: RecordKind::Child,
            sex: Sex::Unknown,
            ..s
        };
        assert_eq!(Summary::decode(&none.encode()), Some(none));
        assert_eq!(Summary::decode(&[9, 0]), None);
    }
}
