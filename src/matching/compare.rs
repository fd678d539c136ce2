//! Role-based comparisons of an inquiry (the child as its family describes it) with a
//! registered child: the child's own name, the whole name, sex, birth, father,
//! mother, the inquirer by relationship, origin (hierarchically) and separation.

use std::str::FromStr;
use std::sync::Arc;

use crate::compare::nameset::{compare_sets, CloseOptions, PartLevel, SetMatch};
use crate::compare::MISSING;
use crate::names::{KeyCache, NameKeyer, NameKeys, NameRules};
use crate::record::{PartialDate, Record, Relationship, Sex, YearRange};

use super::rules::TracingRules;

/// The comparisons the matcher knows; a rule file picks from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The child's own names: name parts that are not a parent's or the family's.
    PersonalName,
    /// All name parts of the child.
    FullName,
    Sex,
    Birth,
    Father,
    Mother,
    /// The inquirer against the child's father or mother, by relationship.
    Inquirer,
    Origin,
    Separation,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::PersonalName => "personal_name",
            Kind::FullName => "full_name",
            Kind::Sex => "sex",
            Kind::Birth => "birth",
            Kind::Father => "father",
            Kind::Mother => "mother",
            Kind::Inquirer => "inquirer",
            Kind::Origin => "origin",
            Kind::Separation => "separation_place",
        }
    }

    /// The level labels, best first, the last being "different".
    pub fn levels(&self) -> &'static [&'static str] {
        match self {
            Kind::PersonalName => &[
                "exact",
                "variant",
                "close",
                "phonetic",
                "partial",
                "different",
            ],
            Kind::FullName => &[
                "all_exact",
                "all_variant",
                "all_but_one",
                "one_part",
                "different",
            ],
            Kind::Sex => &["same", "different"],
            Kind::Birth => &[
                "same_day",
                "day_month_swapped",
                "same_year",
                "overlap",
                "within_1_year",
                "within_tolerance",
                "other_calendar",
                "different",
            ],
            Kind::Father | Kind::Mother | Kind::Inquirer => {
                &["all_exact", "all_variant", "some_parts", "different"]
            }
            Kind::Origin => &["same_village", "same_district", "same_country", "different"],
            Kind::Separation => &["same", "different"],
        }
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        const ALL: [Kind; 9] = [
            Kind::PersonalName,
            Kind::FullName,
            Kind::Sex,
            Kind::Birth,
            Kind::Father,
            Kind::Mother,
            Kind::Inquirer,
            Kind::Origin,
            Kind::Separation,
        ];
        ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            format!(
                "unknown comparison {s:?}; known: {}",
                ALL.map(|k| k.as_str()).join(", ")
            )
        })
    }
}

pub type Parts = Vec<Arc<NameKeys>>;

/// What of a record the comparisons need, derived once.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub names: Parts,
    /// Parts of the family_name field.
    pub family: Parts,
    pub father: Parts,
    pub mother: Parts,
    pub inquirer: Parts,
    pub relationship: Option<Relationship>,
    pub sex: Sex,
    pub birth_date: Option<PartialDate>,
    pub birth_years: Option<YearRange>,
    pub village: Parts,
    pub district: Parts,
    pub country: Option<[u8; 2]>,
    pub separation: Parts,
    pub consent: bool,
}

/// Turns records into [`Prepared`] ones following the rule file's reading of messy
/// data; names are read by the name rules (`TracingRules::names`): placeholders
/// are missing, particles joined or dropped, a whole name typed into the given
/// name field with the family name first taken apart.
pub struct Preparer<'r> {
    rules: &'r TracingRules,
    cache: KeyCache,
}

impl<'r> Preparer<'r> {
    pub fn new(rules: &'r TracingRules) -> Self {
        Preparer {
            rules,
            cache: KeyCache::with_keyer(Arc::new(NameKeyer::with_rules(Arc::clone(&rules.names)))),
        }
    }

    fn keyed(&mut self, tokens: Vec<String>) -> Parts {
        tokens
            .iter()
            .map(|t| Arc::clone(self.cache.get(t)))
            .collect()
    }

    /// A field read by `read` under the name rules; nothing for a placeholder
    /// ("UNKNOWN", "N/A", "-").
    fn field(&mut self, field: Option<&str>, read: fn(&NameRules, &str) -> Vec<String>) -> Parts {
        match field {
            Some(f) if !self.rules.names.is_placeholder(f) => {
                let tokens = read(&self.rules.names, f);
                self.keyed(tokens)
            }
            _ => Vec::new(),
        }
    }

    /// Name parts of one field as the name rules read it: nothing for a
    /// placeholder, placeholder tokens ("FNU") left out, connectors ("bin", "s/o")
    /// dropped, particles joined ("Abdul Rahman" → abdulrahman).
    pub fn parts(&mut self, field: Option<&str>) -> Parts {
        self.field(field, NameRules::parts)
    }

    /// [`parts`](Self::parts) of a family name: family particles join too ("van
    /// der Berg").
    pub fn family_parts(&mut self, field: Option<&str>) -> Parts {
        self.field(field, NameRules::family_parts)
    }

    /// A place's parts: its words without placeholders and articles ("El Fasher"
    /// and "Fasher" agree).
    pub fn place_parts(&mut self, field: Option<&str>) -> Parts {
        self.field(field, NameRules::place_parts)
    }

    pub fn prepare(&mut self, r: &Record) -> Prepared {
        let family_field = r.family_name.as_deref();
        let family_missing = family_field.is_none_or(|f| self.rules.names.is_placeholder(f));
        // The whole name in the given name field, family name first in capitals
        // ("HASSAN Ahmed") or before a comma, and no family name of its own.
        let whole = if family_missing {
            r.given_name
                .as_deref()
                .and_then(|g| self.rules.names.split_family_first(g))
        } else {
            None
        };
        let (mut names, family) = match whole {
            Some(w) => (self.keyed(w.given), self.keyed(w.family)),
            None => (
                self.parts(r.given_name.as_deref()),
                self.family_parts(family_field),
            ),
        };
        names.extend(family.iter().cloned());
        for o in &r.other_names {
            let p = self.parts(Some(o));
            names.extend(p);
        }
        let mut birth_date = r.birth_date;
        if self.rules.january_first_is_year_only {
            if let Some(d) = birth_date {
                if d.month() == Some(1) && d.day() == Some(1) {
                    birth_date = Some(PartialDate::Year(d.year()));
                }
            }
        }
        let (inquirer, relationship) = match r.inquirer() {
            Some(i) => (self.parts(i.name.as_deref()), i.relationship),
            None => (Vec::new(), None),
        };
        Prepared {
            names,
            family,
            father: self.parts(r.father_name.as_deref()),
            mother: self.parts(r.mother_name.as_deref()),
            inquirer,
            relationship,
            sex: r.sex,
            birth_date,
            birth_years: r.birth_years(),
            village: self.place_parts(r.origin.village.as_deref()),
            district: self.place_parts(r.origin.district.as_deref()),
            country: r.origin.country.map(|c| {
                let b = c.as_str().as_bytes();
                [b[0], b[1]]
            }),
            separation: self.place_parts(r.separation_place.as_deref()),
            consent: r.tracing_consent(),
        }
    }
}

/// One comparison's outcome: its level (or [`MISSING`]) and the values it looked at,
/// for the explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub level: u8,
    /// The values compared, as a reviewer reads them ("ahmed ~ ahmad").
    pub detail: String,
    /// For term-frequency adjustment: the agreeing name part (personal name only).
    pub tf_token: Option<Arc<NameKeys>>,
}

impl Outcome {
    fn missing(detail: impl Into<String>) -> Outcome {
        Outcome {
            level: MISSING,
            detail: detail.into(),
            tf_token: None,
        }
    }
    fn level(level: u8, detail: String) -> Outcome {
        Outcome {
            level,
            detail,
            tf_token: None,
        }
    }
}

fn show(parts: &[Arc<NameKeys>]) -> String {
    if parts.is_empty() {
        return "-".into();
    }
    parts
        .iter()
        .map(|k| k.normalized.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Compares an inquiry with a child.
pub struct Comparer<'r> {
    pub rules: &'r TracingRules,
    opts: CloseOptions,
}

/// The same name written alike or another way (not a nickname: a child called
/// Hamoudi is not named after his father Ahmed).
fn loose(a: &Arc<NameKeys>, b: &Arc<NameKeys>, opts: &CloseOptions) -> bool {
    let l = crate::compare::nameset::memo_part_level(a, b, opts);
    l <= PartLevel::Close && l != PartLevel::Nickname
}

/// Every part of the smaller side agrees, spelt alike (exact, variant or close):
/// places.
fn spelt_alike(m: &SetMatch) -> bool {
    m.smaller_covered()
        && m.worst() <= PartLevel::Close
        && m.matches.iter().all(|x| x.level != PartLevel::Nickname)
}

/// The level of the personal-name comparison for the worst agreement of a covered
/// set: a nickname (Sasha for Oleksandr) is `close`: it agrees about the child's
/// identity, and weighs less than a variant spelling, since a nickname may stand
/// for several names (Hamoudi: Mohammed, Mahmoud, Ahmed, ...).
fn personal_level(worst: PartLevel) -> u8 {
    match worst {
        PartLevel::Exact => 0,
        PartLevel::Variant => 1,
        PartLevel::Nickname | PartLevel::Close => 2,
        PartLevel::Phonetic => 3,
        PartLevel::Different => 5,
    }
}

/// The explanation of the nicknames among the agreements: " (nickname: sasha =
/// oleksandr)", or nothing.
fn nickname_note(m: &SetMatch, left: &[Arc<NameKeys>], right: &[Arc<NameKeys>]) -> String {
    let pairs: Vec<String> = m
        .matches
        .iter()
        .filter(|x| x.level == PartLevel::Nickname)
        .map(|x| {
            let side = |ix: &[usize], parts: &[Arc<NameKeys>]| {
                ix.iter()
                    .map(|&i| parts[i].normalized.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            format!("{} = {}", side(&x.left, left), side(&x.right, right))
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!(" (nickname: {})", pairs.join(", "))
    }
}

impl<'r> Comparer<'r> {
    pub fn new(rules: &'r TracingRules) -> Self {
        Comparer {
            rules,
            opts: CloseOptions {
                jaro_winkler: rules.jaro_winkler,
                damerau: rules.damerau,
                min_len_for_edit: 4,
                phonetic: rules.phonetic,
            },
        }
    }

    pub fn compare(&self, kind: Kind, q: &Prepared, c: &Prepared) -> Outcome {
        match kind {
            Kind::PersonalName => self.personal(q, c),
            Kind::FullName => self.full_name(q, c),
            Kind::Sex => match (q.sex, c.sex) {
                (Sex::Unknown, _) | (_, Sex::Unknown) => Outcome::missing("sex unknown"),
                (a, b) => Outcome::level(u8::from(a != b), format!("{} / {}", a.code(), b.code())),
            },
            Kind::Birth => self.birth(q, c),
            Kind::Father => self.parent(&q.father, &c.father),
            Kind::Mother => self.parent(&q.mother, &c.mother),
            Kind::Inquirer => {
                // Only when the inquiry does not already name that parent: the
                // inquirer is then the only word on the parent.
                let (own, other) = match q.relationship {
                    Some(Relationship::Father) => (&q.father, &c.father),
                    Some(Relationship::Mother) => (&q.mother, &c.mother),
                    _ => return Outcome::missing("not a parent"),
                };
                if !own.is_empty() {
                    return Outcome::missing("parent named in the inquiry");
                }
                self.parent(&q.inquirer, other)
            }
            Kind::Origin => self.origin(q, c),
            Kind::Separation => {
                if q.separation.is_empty() || c.separation.is_empty() {
                    return Outcome::missing("-");
                }
                let m = compare_sets(&q.separation, &c.separation, &self.opts);
                let agree = spelt_alike(&m);
                Outcome::level(
                    u8::from(!agree),
                    format!("{} / {}", show(&q.separation), show(&c.separation)),
                )
            }
        }
    }

    /// Whether a name part belongs to the family rather than to the child: it is a
    /// part of a parent's name (in either record, so that a parent left blank on
    /// one side still counts), or of the family name in both records.
    fn family_parts(&self, q: &Prepared, c: &Prepared) -> Vec<Arc<NameKeys>> {
        let mut fam: Vec<Arc<NameKeys>> = Vec::new();
        for p in [&q.father, &q.mother, &c.father, &c.mother] {
            fam.extend(p.iter().cloned());
        }
        if matches!(
            q.relationship,
            Some(Relationship::Father | Relationship::Mother)
        ) {
            fam.extend(q.inquirer.iter().cloned());
        }
        for a in &q.family {
            if c.family.iter().any(|b| loose(a, b, &self.opts)) {
                fam.push(Arc::clone(a));
            }
        }
        fam
    }

    fn personal_parts(&self, parts: &Parts, fam: &[Arc<NameKeys>]) -> Parts {
        parts
            .iter()
            .filter(|p| {
                !fam.iter().any(|f| {
                    loose(p, f, &self.opts)
                        // A patronymic from the father's name: Yuriyovych, Yuriivna.
                        || (f.normalized.len() >= 4
                            && p.normalized.len() > f.normalized.len() + 2
                            && p.normalized.starts_with(&f.normalized[..f.normalized.len() - 1]))
                })
            })
            .cloned()
            .collect()
    }

    fn personal(&self, q: &Prepared, c: &Prepared) -> Outcome {
        let fam = self.family_parts(q, c);
        let pq = self.personal_parts(&q.names, &fam);
        let pc = self.personal_parts(&c.names, &fam);
        if pq.is_empty() || pc.is_empty() {
            return Outcome::missing(format!("{} / {}", show(&pq), show(&pc)));
        }
        let m = compare_sets(&pq, &pc, &self.opts);
        let detail = format!(
            "{} / {}{}",
            show(&pq),
            show(&pc),
            nickname_note(&m, &pq, &pc)
        );
        let level = if m.matches.is_empty() {
            5
        } else if !m.smaller_covered() {
            4
        } else {
            personal_level(m.worst())
        };
        // The agreeing part that says most about the child: the most frequent one
        // is chosen later by the scorer; here the first single-part agreement.
        let tf_token = m
            .matches
            .iter()
            .filter(|x| x.left.len() == 1 && x.level <= PartLevel::Variant)
            .map(|x| Arc::clone(&pq[x.left[0]]))
            .next();
        Outcome {
            level,
            detail,
            tf_token,
        }
    }

    fn full_name(&self, q: &Prepared, c: &Prepared) -> Outcome {
        if q.names.is_empty() || c.names.is_empty() {
            return Outcome::missing("-");
        }
        let m = compare_sets(&q.names, &c.names, &self.opts);
        let level = full_level(&m);
        Outcome::level(level, format!("{} / {}", show(&q.names), show(&c.names)))
    }

    fn parent(&self, a: &Parts, b: &Parts) -> Outcome {
        if a.is_empty() || b.is_empty() {
            return Outcome::missing(format!("{} / {}", show(a), show(b)));
        }
        let m = compare_sets(a, b, &self.opts);
        let level = if m.smaller_covered() && m.worst() == PartLevel::Exact {
            0
        } else if m.smaller_covered() {
            1
        } else if !m.matches.is_empty() {
            2
        } else {
            3
        };
        Outcome::level(
            level,
            format!("{} / {}{}", show(a), show(b), nickname_note(&m, a, b)),
        )
    }

    fn place_agrees(&self, a: &Parts, b: &Parts) -> Option<bool> {
        if a.is_empty() || b.is_empty() {
            return None;
        }
        Some(spelt_alike(&compare_sets(a, b, &self.opts)))
    }

    fn origin(&self, q: &Prepared, c: &Prepared) -> Outcome {
        let detail = format!(
            "{}, {}, {} / {}, {}, {}",
            show(&q.village),
            show(&q.district),
            q.country
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or("-".into()),
            show(&c.village),
            show(&c.district),
            c.country
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or("-".into()),
        );
        let village = self.place_agrees(&q.village, &c.village);
        // A village may be named in the district field of the other record.
        if village == Some(true) {
            return Outcome::level(0, detail);
        }
        let district = self.place_agrees(&q.district, &c.district);
        if district == Some(true) {
            return Outcome::level(1, detail);
        }
        let country = match (q.country, c.country) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        };
        if country == Some(true) {
            return Outcome::level(2, detail);
        }
        if village.is_some() || district.is_some() || country.is_some() {
            return Outcome::level(3, detail);
        }
        Outcome::missing(detail)
    }

    fn birth(&self, q: &Prepared, c: &Prepared) -> Outcome {
        let (Some(rq), Some(rc)) = (q.birth_years, c.birth_years) else {
            return Outcome::missing("-");
        };
        let show_b = |p: &Prepared| match (p.birth_date, p.birth_years) {
            (Some(d), _) => d.to_string(),
            (None, Some(r)) => format!("{}-{} (age)", r.min, r.max),
            _ => "-".into(),
        };
        let detail = format!("{} / {}", show_b(q), show_b(c));
        if let (Some(a), Some(b)) = (q.birth_date, c.birth_date) {
            if a == b {
                // Agree at the precision both have.
                let level = if a.day().is_some() { 0 } else { 2 };
                return Outcome::level(level, detail);
            }
            if a.year() == b.year() {
                if let (Some(da), Some(db), Some(ma), Some(mb)) =
                    (a.day(), b.day(), a.month(), b.month())
                {
                    if self.rules.day_month_swap && da == mb && db == ma {
                        return Outcome::level(1, detail);
                    }
                    return Outcome::level(3, detail);
                }
                // One of them known to the year or month only, same year.
                let months_agree = match (a.month(), b.month()) {
                    (Some(x), Some(y)) => x == y,
                    _ => true,
                };
                return Outcome::level(if months_agree { 2 } else { 3 }, detail);
            }
        }
        let gap = rq.gap(&rc);
        let level = match gap {
            0 => 3,
            1 => 4,
            g if g <= self.rules.tolerance_years => 5,
            g => {
                let other_calendar = self.rules.calendars.iter().any(|cal| {
                    let uses = |p: &Prepared| {
                        p.country
                            .is_some_and(|cc| cal.countries.iter().any(|x| x.as_bytes() == cc))
                    };
                    (uses(q) || uses(c)) && cal.years_behind.contains(&g)
                });
                if other_calendar {
                    6
                } else {
                    7
                }
            }
        };
        Outcome::level(level, detail)
    }
}

/// The level of the full-name comparison from a set match.
fn full_level(m: &SetMatch) -> u8 {
    let smaller = m.left_len.min(m.right_len);
    let larger_unmatched = if m.left_len > m.right_len {
        m.left_unmatched
    } else {
        m.right_unmatched
    };
    let whole = m.smaller_covered() && smaller >= 2 && larger_unmatched <= 1;
    if whole && m.worst() == PartLevel::Exact {
        0
    } else if whole {
        1
    } else if m.smaller_covered() || (m.smaller_unmatched() == 1 && m.matches.len() >= 2) {
        2
    } else if !m.matches.is_empty() {
        3
    } else {
        4
    }
}
