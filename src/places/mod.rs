//! The gazetteer: places, their spellings in several scripts and schemes, and
//! where each lies (village → district → country), from
//! `matching-rules/places/gazetteer.toml`.
//!
//! [`Gazetteer::resolve`] turns a place as written ("Baydhabo", "Doolow, Gedo",
//! "Харків", "Baidoa IDP site") into the places it may name;
//! [`Gazetteer::relation`] says how close two places are (same village, same
//! district, same country, different, or unknown) for a hierarchical comparison
//! of places.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use toml::Spanned;

use crate::names::{normalize, NameRules};
use crate::record::CountryCode;
use crate::rulebook::{read_rule_file, Fnv, RuleErrors, RuleFile, RuleMap};

pub const GAZETTEER_FILE: &str = "gazetteer.toml";
const BUILTIN_GAZETTEER: &str = include_str!("../../matching-rules/places/gazetteer.toml");

/// A place of the gazetteer, by its position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlaceId(pub u32);

/// The level of a place, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlaceLevel {
    /// A village, town, city, camp, crossing or station.
    Village,
    /// A district, region, province, state, oblast or governorate.
    District,
    Country,
}

impl PlaceLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceLevel::Village => "village",
            PlaceLevel::District => "district",
            PlaceLevel::Country => "country",
        }
    }
}

/// A place a text may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlaceMatch {
    pub id: PlaceId,
    pub level: PlaceLevel,
    pub country: CountryCode,
}

/// How close two places are, closest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlaceRelation {
    /// The same village or town.
    SameVillage,
    /// The same district (two villages of it, a village and its district, or the
    /// district named twice).
    SameDistrict,
    /// The same country, not known to be the same district.
    SameCountry,
    /// Different countries.
    Different,
    /// One of the two is not in the gazetteer.
    Unknown,
}

#[derive(Debug, Clone)]
struct Place {
    /// `SO`, `SO/gedo`, `SO/gedo/dollow`; `DE/berlin` for a place directly in a
    /// country (its level says it is a village).
    path: String,
    /// The first name listed, as written.
    name: String,
    level: PlaceLevel,
    parent: Option<PlaceId>,
    country: CountryCode,
    /// The places directly within it (a district's villages).
    children: Vec<PlaceId>,
    /// The words of all its names, normalized, without kind words and words
    /// under three letters: what a search for the place looks for.
    words: Vec<String>,
}

/// The loaded gazetteer. Build with [`Gazetteer::builtin`] or [`Gazetteer::load`].
#[derive(Debug)]
pub struct Gazetteer {
    rules: Arc<NameRules>,
    places: Vec<Place>,
    /// Folded name (see [`Gazetteer::fold`]) → the places it names.
    by_key: RuleMap<String, Vec<PlaceId>>,
    by_path: RuleMap<String, PlaceId>,
    by_code: RuleMap<String, PlaceId>,
    /// Kind words by their first token: (the words, the level they hint at).
    kinds: RuleMap<String, Vec<(Vec<String>, PlaceLevel)>>,
    fingerprint: u64,
}

// ---- the file format -----------------------------------------------------------

type Names = Spanned<Vec<Spanned<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGazetteer {
    #[serde(default)]
    kinds: RawKinds,
    countries: BTreeMap<Spanned<String>, Names>,
    #[serde(default)]
    districts: BTreeMap<Spanned<String>, Spanned<RawArea>>,
    #[serde(default)]
    places: BTreeMap<Spanned<String>, Spanned<RawArea>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawKinds {
    #[serde(default)]
    district: Vec<Spanned<String>>,
    #[serde(default)]
    village: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArea {
    country: Option<Spanned<String>>,
    district: Option<Spanned<String>>,
    names: Names,
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn tokens(text: &str) -> Vec<String> {
    normalize(text)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Gazetteer {
    /// The gazetteer of this repository (`matching-rules/places/gazetteer.toml`),
    /// compiled in, with the built-in name rules.
    pub fn builtin() -> Arc<Gazetteer> {
        static BUILTIN: OnceLock<Arc<Gazetteer>> = OnceLock::new();
        Arc::clone(BUILTIN.get_or_init(|| {
            let g = Gazetteer::from_text(
                concat!("matching-rules/places/", "gazetteer.toml"),
                BUILTIN_GAZETTEER,
                NameRules::builtin(),
            )
            // The built-in file is tested; a failure here is a broken build.
            .unwrap_or_else(|e| panic!("{e}"));
            Arc::new(g)
        }))
    }

    /// Loads `dir/gazetteer.toml`, spellings compared with `rules`.
    pub fn load(dir: &Path, rules: Arc<NameRules>) -> Result<Gazetteer, RuleErrors> {
        let mut errors = Vec::new();
        let Some((name, text)) = read_rule_file(dir, GAZETTEER_FILE, &mut errors) else {
            return Err(RuleErrors(errors));
        };
        Gazetteer::from_text(&name, &text, rules)
    }

    /// Builds the gazetteer from the text of its file, reporting every problem
    /// with its line.
    pub fn from_text(
        file_name: &str,
        text: &str,
        rules: Arc<NameRules>,
    ) -> Result<Gazetteer, RuleErrors> {
        let mut file = RuleFile::new(file_name, text);
        let mut g = Gazetteer {
            rules,
            places: Vec::new(),
            by_key: RuleMap::default(),
            by_path: RuleMap::default(),
            by_code: RuleMap::default(),
            kinds: RuleMap::default(),
            fingerprint: 0,
        };
        if let Some(raw) = file.parse::<RawGazetteer>() {
            g.build(&mut file, raw);
        }
        if !file.errors.is_empty() {
            return Err(RuleErrors(file.errors));
        }
        g.fingerprint = g.compute_fingerprint();
        Ok(g)
    }

    fn build(&mut self, file: &mut RuleFile<'_>, raw: RawGazetteer) {
        let mut seen_kinds: HashMap<Vec<String>, usize> = HashMap::new();
        for (level, words) in [
            (PlaceLevel::District, raw.kinds.district),
            (PlaceLevel::Village, raw.kinds.village),
        ] {
            for w in words {
                let t = tokens(w.get_ref());
                if t.is_empty() {
                    file.error_at(
                        w.span(),
                        format!("kind word {:?} has no letters", w.get_ref()),
                    );
                    continue;
                }
                let line = file.line_at(w.span().start);
                if let Some(other) = seen_kinds.get(&t) {
                    if *other != line {
                        file.error_at(
                            w.span(),
                            format!(
                                "kind word {:?} is already listed on line {other}",
                                w.get_ref()
                            ),
                        );
                    }
                    continue;
                }
                seen_kinds.insert(t.clone(), line);
                self.kinds.entry(t[0].clone()).or_default().push((t, level));
            }
        }
        for list in self.kinds.values_mut() {
            list.sort_by_key(|k| std::cmp::Reverse(k.0.len()));
        }

        // Countries.
        let mut countries: Vec<_> = raw.countries.into_iter().collect();
        countries.sort_by_key(|(k, _)| k.span().start);
        for (code, names) in countries {
            let c = code.get_ref();
            let valid = c.len() == 2
                && c.bytes().all(|b| b.is_ascii_uppercase())
                && c.parse::<CountryCode>().is_ok();
            if !valid {
                file.error_at(
                    code.span(),
                    format!("unknown country code {c:?}: use an ISO 3166-1 alpha-2 code in capitals (SO, ET, UA)"),
                );
                continue;
            }
            let country: CountryCode = c.parse().expect("checked");
            let id = self.add(file, c.clone(), PlaceLevel::Country, None, country, names);
            if let Some(id) = id {
                self.by_code.insert(c.to_ascii_lowercase(), id);
            }
        }

        // Districts.
        let mut districts: Vec<_> = raw.districts.into_iter().collect();
        districts.sort_by_key(|(k, _)| k.span().start);
        let mut district_ids: HashMap<String, PlaceId> = HashMap::new();
        // Districts reported already: their places are not reported again.
        let mut broken: std::collections::HashSet<String> = std::collections::HashSet::new();
        for (key, area) in districts {
            broken.insert(key.get_ref().clone());
            if !is_id(key.get_ref()) {
                file.error_at(key.span(), bad_id(key.get_ref()));
                continue;
            }
            let area = area.into_inner();
            if let Some(d) = &area.district {
                file.error_at(
                    d.span(),
                    format!(
                        "district {:?} names a district: a district lies in a country (country = \"XX\")",
                        key.get_ref()
                    ),
                );
                continue;
            }
            let Some(code) = &area.country else {
                file.error_at(
                    key.span(),
                    format!(
                        "district {:?} needs its country (country = \"XX\")",
                        key.get_ref()
                    ),
                );
                continue;
            };
            let Some(country_id) = self.country_by_code(file, code) else {
                continue;
            };
            let country = self.places[country_id.0 as usize].country;
            let path = format!("{}/{}", country.as_str(), key.get_ref());
            if let Some(id) = self.add(
                file,
                path,
                PlaceLevel::District,
                Some(country_id),
                country,
                area.names,
            ) {
                broken.remove(key.get_ref());
                district_ids.insert(key.get_ref().clone(), id);
            }
        }

        // Villages, towns, camps.
        let mut places: Vec<_> = raw.places.into_iter().collect();
        places.sort_by_key(|(k, _)| k.span().start);
        for (key, area) in places {
            if !is_id(key.get_ref()) {
                file.error_at(key.span(), bad_id(key.get_ref()));
                continue;
            }
            let area = area.into_inner();
            let parent = match (&area.district, &area.country) {
                (Some(d), country) => {
                    let Some(&did) = district_ids.get(d.get_ref()) else {
                        if broken.contains(d.get_ref()) {
                            continue;
                        }
                        file.error_at(
                            d.span(),
                            format!(
                                "place {:?}: district {:?} is not declared in [districts]",
                                key.get_ref(),
                                d.get_ref()
                            ),
                        );
                        continue;
                    };
                    if let Some(c) = country {
                        let declared = self.places[did.0 as usize].country;
                        if c.get_ref() != declared.as_str() {
                            file.error_at(
                                c.span(),
                                format!(
                                    "place {:?}: country {:?} differs from the country of district {:?} ({})",
                                    key.get_ref(),
                                    c.get_ref(),
                                    d.get_ref(),
                                    declared.as_str()
                                ),
                            );
                            continue;
                        }
                    }
                    did
                }
                (None, Some(c)) => match self.country_by_code(file, c) {
                    Some(id) => id,
                    None => continue,
                },
                (None, None) => {
                    file.error_at(
                        key.span(),
                        format!(
                            "place {:?} needs its district (district = \"id\") or its country (country = \"XX\")",
                            key.get_ref()
                        ),
                    );
                    continue;
                }
            };
            let country = self.places[parent.0 as usize].country;
            let path = format!("{}/{}", self.places[parent.0 as usize].path, key.get_ref());
            self.add(
                file,
                path,
                PlaceLevel::Village,
                Some(parent),
                country,
                area.names,
            );
        }
    }

    fn country_by_code(&self, file: &mut RuleFile<'_>, code: &Spanned<String>) -> Option<PlaceId> {
        let c = code.get_ref();
        match self.by_code.get(&c.to_ascii_lowercase()) {
            Some(&id) if c.bytes().all(|b| b.is_ascii_uppercase()) => Some(id),
            _ => {
                let reason = if c.len() == 2 && c.parse::<CountryCode>().is_ok() {
                    format!("country {c:?} is not declared in [countries]")
                } else {
                    format!("unknown country code {c:?}: use an ISO 3166-1 alpha-2 code in capitals declared in [countries]")
                };
                file.error_at(code.span(), reason);
                None
            }
        }
    }

    fn add(
        &mut self,
        file: &mut RuleFile<'_>,
        path: String,
        level: PlaceLevel,
        parent: Option<PlaceId>,
        country: CountryCode,
        names: Names,
    ) -> Option<PlaceId> {
        let span = names.span();
        let names = names.into_inner();
        if names.is_empty() {
            file.error_at(span, format!("{path} has no names"));
            return None;
        }
        let id = PlaceId(self.places.len() as u32);
        let mut any = false;
        let mut words: Vec<String> = Vec::new();
        for n in &names {
            let toks = tokens(n.get_ref());
            let (rest, _) = self.strip_kinds(&toks);
            for w in rest {
                if w.len() >= 3 && !words.contains(&w) {
                    words.push(w);
                }
            }
            let key = self.fold(&toks);
            if key.is_empty() {
                file.error_at(
                    n.span(),
                    format!("place name {:?} has no letters", n.get_ref()),
                );
                continue;
            }
            let list = self.by_key.entry(key).or_default();
            if !list.contains(&id) {
                list.push(id);
            }
            any = true;
        }
        if !any {
            return None;
        }
        self.by_path.insert(path.clone(), id);
        if let Some(p) = parent {
            self.places[p.0 as usize].children.push(id);
        }
        self.places.push(Place {
            path,
            name: names[0].get_ref().clone(),
            level,
            parent,
            country,
            children: Vec::new(),
            words,
        });
        Some(id)
    }

    fn compute_fingerprint(&self) -> u64 {
        let mut h = Fnv::default();
        let mut keys: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (k, ids) in &self.by_key {
            for id in ids {
                keys.entry(&self.places[id.0 as usize].path)
                    .or_default()
                    .insert(k);
            }
        }
        for p in &self.places {
            h.str(&p.path);
            h.str(p.level.as_str());
            for k in keys.get(p.path.as_str()).into_iter().flatten() {
                h.str(k);
            }
        }
        let kinds: BTreeSet<(&Vec<String>, PlaceLevel)> = self
            .kinds
            .values()
            .flatten()
            .map(|(t, l)| (t, *l))
            .collect();
        for (t, l) in kinds {
            h.str(l.as_str());
            for x in t {
                h.str(x);
            }
        }
        h.finish()
    }

    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

fn bad_id(id: &str) -> String {
    format!("id {id:?}: use lower-case letters, digits and '-'")
}

// ---- questions -----------------------------------------------------------------

/// Longest run of words tried when looking for a place name inside a longer text.
const MAX_NGRAM: usize = 4;
/// Shortest single word looked up inside a longer text ("Bay" would be found in
/// too many texts).
const MIN_NGRAM_WORD: usize = 4;

impl Gazetteer {
    /// A name's lookup key: its tokens run together, in comparison form.
    fn fold(&self, tokens: &[String]) -> String {
        self.rules.comparison_form(&tokens.concat())
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    fn place(&self, id: PlaceId) -> &Place {
        &self.places[id.0 as usize]
    }

    pub fn get(&self, id: PlaceId) -> PlaceMatch {
        let p = self.place(id);
        PlaceMatch {
            id,
            level: p.level,
            country: p.country,
        }
    }

    /// The place with this path (`SO/gedo/dollow`).
    pub fn by_path(&self, path: &str) -> Option<PlaceMatch> {
        self.by_path.get(path).map(|&id| self.get(id))
    }

    /// The canonical id of a place: `SO`, `SO/gedo`, `SO/gedo/dollow`.
    pub fn path(&self, id: PlaceId) -> &str {
        &self.place(id).path
    }

    /// The ISO code of a place's country.
    pub fn country_code(&self, id: PlaceId) -> &str {
        self.place(id).country.as_str()
    }

    /// The first name the gazetteer lists for a place.
    pub fn name(&self, id: PlaceId) -> &str {
        &self.place(id).name
    }

    /// The place a place lies in (a village's district, a district's country).
    pub fn parent(&self, id: PlaceId) -> Option<PlaceId> {
        self.place(id).parent
    }

    /// The places directly within a place (a district's villages, a country's
    /// districts and the places declared in it without a district).
    pub fn children(&self, id: PlaceId) -> &[PlaceId] {
        &self.place(id).children
    }

    /// The words of all a place's names, normalized, without kind words
    /// ("region", "camp") and words under three letters: what a search for the
    /// place looks for among the words of records' places.
    pub fn words(&self, id: PlaceId) -> &[String] {
        &self.place(id).words
    }

    /// The district of a place: itself if a district, its district if a village
    /// that has one.
    pub fn district_of(&self, id: PlaceId) -> Option<PlaceId> {
        let p = self.place(id);
        match p.level {
            PlaceLevel::District => Some(id),
            PlaceLevel::Village => p
                .parent
                .filter(|&d| self.place(d).level == PlaceLevel::District),
            PlaceLevel::Country => None,
        }
    }

    /// Whether `outer` is `inner` or lies above it (Gedo contains Dollow).
    pub fn contains(&self, outer: PlaceId, inner: PlaceId) -> bool {
        let mut at = Some(inner);
        while let Some(id) = at {
            if id == outer {
                return true;
            }
            at = self.place(id).parent;
        }
        false
    }

    /// The places a text may name, finest first: a name of the gazetteer in any
    /// listed spelling ("Baydhabo"), with kind words ("Baidoa IDP site", "Kharkiv
    /// region"), a comma-separated list ("Dollow, Gedo, Somalia": its finest
    /// consistent places), an ISO country code, or a place name within a longer
    /// text. Empty when nothing is known.
    pub fn resolve(&self, text: &str) -> Vec<PlaceMatch> {
        let text = text.trim();
        if text.is_empty() || self.rules.is_placeholder(text) {
            return Vec::new();
        }
        let ids = self.resolve_ids(text);
        ids.into_iter().map(|id| self.get(id)).collect()
    }

    fn resolve_ids(&self, text: &str) -> Vec<PlaceId> {
        if let Some(ids) = self.lookup(text) {
            return self.finest_first(ids);
        }
        let parts: Vec<&str> = text
            .split([',', ';', '(', ')', '/'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() > 1 {
            let found: Vec<Vec<PlaceId>> = parts.iter().filter_map(|p| self.lookup(p)).collect();
            if !found.is_empty() {
                return self.finest_first(self.consistent(&found));
            }
        }
        let (rest, _) = self.strip_kinds(&tokens(text));
        self.finest_first(self.named_inside(&rest))
    }

    /// A whole text as one name: as written, or without its kind words.
    fn lookup(&self, text: &str) -> Option<Vec<PlaceId>> {
        let toks = tokens(text);
        if toks.is_empty() {
            return None;
        }
        if let Some(ids) = self.by_key.get(&self.fold(&toks)) {
            return Some(ids.clone());
        }
        let trimmed = text.trim();
        if trimmed.len() == 2 && trimmed.chars().all(|c| c.is_ascii_alphabetic()) {
            if let Some(&id) = self.by_code.get(&trimmed.to_ascii_lowercase()) {
                return Some(vec![id]);
            }
        }
        let (rest, hint) = self.strip_kinds(&toks);
        if rest.is_empty() || rest.len() == toks.len() {
            return None;
        }
        let ids = self.by_key.get(&self.fold(&rest))?;
        if let Some(level) = hint {
            let preferred: Vec<PlaceId> = ids
                .iter()
                .copied()
                .filter(|&id| self.place(id).level == level)
                .collect();
            if !preferred.is_empty() {
                return Some(preferred);
            }
        }
        Some(ids.clone())
    }

    /// The tokens without kind words, and the level the kind words hint at (the
    /// last one wins: "Kharkiv city region" is a region).
    fn strip_kinds(&self, toks: &[String]) -> (Vec<String>, Option<PlaceLevel>) {
        let mut rest = Vec::with_capacity(toks.len());
        let mut hint = None;
        let mut i = 0;
        'outer: while i < toks.len() {
            if let Some(list) = self.kinds.get(&toks[i]) {
                for (words, level) in list {
                    if toks.len() >= i + words.len()
                        && words.iter().zip(&toks[i..]).all(|(a, b)| a == b)
                    {
                        hint = Some(*level);
                        i += words.len();
                        continue 'outer;
                    }
                }
            }
            rest.push(toks[i].clone());
            i += 1;
        }
        (rest, hint)
    }

    /// Place names inside a longer text: the longest runs of words that name
    /// something.
    fn named_inside(&self, toks: &[String]) -> Vec<PlaceId> {
        for len in (1..=MAX_NGRAM.min(toks.len().saturating_sub(1))).rev() {
            let mut found = Vec::new();
            for w in toks.windows(len) {
                if len == 1 && w[0].len() < MIN_NGRAM_WORD {
                    continue;
                }
                if let Some(ids) = self.by_key.get(&self.fold(w)) {
                    found.extend(ids.iter().copied());
                }
            }
            if !found.is_empty() {
                return found;
            }
        }
        Vec::new()
    }

    /// Of the places named by several parts of a text, those every other part
    /// agrees with (lies in or contains); all of them if none is consistent. Of
    /// the consistent ones, only the finest level is kept.
    fn consistent(&self, found: &[Vec<PlaceId>]) -> Vec<PlaceId> {
        let all: Vec<PlaceId> = found.iter().flatten().copied().collect();
        let agreed: Vec<PlaceId> = all
            .iter()
            .copied()
            .filter(|&c| {
                found.iter().all(|part| {
                    part.iter()
                        .any(|&s| self.contains(s, c) || self.contains(c, s))
                })
            })
            .collect();
        let pool = if agreed.is_empty() { all } else { agreed };
        let finest = pool.iter().map(|&id| self.place(id).level).min();
        pool.into_iter()
            .filter(|&id| Some(self.place(id).level) == finest)
            .collect()
    }

    fn finest_first(&self, mut ids: Vec<PlaceId>) -> Vec<PlaceId> {
        ids.sort_by_key(|&id| (self.place(id).level, id));
        ids.dedup();
        ids
    }

    /// How close two places are.
    pub fn relate(&self, a: &PlaceMatch, b: &PlaceMatch) -> PlaceRelation {
        if a.id == b.id {
            return match a.level {
                PlaceLevel::Village => PlaceRelation::SameVillage,
                PlaceLevel::District => PlaceRelation::SameDistrict,
                PlaceLevel::Country => PlaceRelation::SameCountry,
            };
        }
        if let (Some(da), Some(db)) = (self.district_of(a.id), self.district_of(b.id)) {
            if da == db {
                return PlaceRelation::SameDistrict;
            }
        }
        if a.country == b.country {
            PlaceRelation::SameCountry
        } else {
            PlaceRelation::Different
        }
    }

    /// How close the places two texts name are: the closest relation between any
    /// place one may name and any the other may name; `Unknown` when either names
    /// nothing the gazetteer knows.
    pub fn relation(&self, a: &str, b: &str) -> PlaceRelation {
        let (ra, rb) = (self.resolve(a), self.resolve(b));
        let mut best = PlaceRelation::Unknown;
        for x in &ra {
            for y in &rb {
                best = best.min(self.relate(x, y));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests;
