//! Typed records: the separated child as registered, and the inquiry of a family
//! looking for a child.
//!
//! Everything here has already been validated. Values are parsed once, at the
//! boundary ([`parse`]), and the rest of famlink works with these types and never
//! re-reads a string to find out whether it is a date.

mod date;
pub mod parse;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use date::{AgeEstimate, DateError, PartialDate, YearRange, MAX_AGE_YEARS, MAX_YEAR, MIN_YEAR};
pub use parse::{FieldError, RawRow, RowParser};

/// Which of the two record files a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// A separated child, registered by the agency caring for it.
    Child,
    /// A tracing inquiry: a parent or relative describing the child they seek.
    Inquiry,
}

impl RecordKind {
    pub const ALL: [RecordKind; 2] = [RecordKind::Child, RecordKind::Inquiry];

    pub fn as_str(&self) -> &'static str {
        match self {
            RecordKind::Child => "child",
            RecordKind::Inquiry => "inquiry",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "child" => Ok(RecordKind::Child),
            "inquiry" => Ok(RecordKind::Inquiry),
            _ => Err(format!("expected child or inquiry, got {s:?}")),
        }
    }
}

/// What identifies a record: its kind, the agency that holds it and that agency's id.
/// Importing a record with the same key again updates it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordKey {
    pub kind: RecordKind,
    pub agency: String,
    pub record_id: String,
}

impl RecordKey {
    pub fn new(kind: RecordKind, agency: impl Into<String>, record_id: impl Into<String>) -> Self {
        RecordKey {
            kind,
            agency: agency.into(),
            record_id: record_id.into(),
        }
    }

    /// Reads `AGENCY/RECORD_ID`, the form the command line and the API use. Agency
    /// names cannot contain `/`, so the first one splits; record ids may contain it.
    pub fn parse_path(kind: RecordKind, path: &str) -> Result<Self, String> {
        match path.split_once('/') {
            Some((agency, id)) if !agency.is_empty() && !id.is_empty() => {
                Ok(RecordKey::new(kind, agency, id))
            }
            _ => Err(format!("expected AGENCY/RECORD_ID, got {path:?}")),
        }
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.agency, self.record_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Sex {
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "F")]
    Female,
    #[default]
    #[serde(rename = "U")]
    Unknown,
}

impl Sex {
    pub fn code(&self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
            Sex::Unknown => "U",
        }
    }
}

impl FromStr for Sex {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "M" | "m" => Ok(Sex::Male),
            "F" | "f" => Ok(Sex::Female),
            "U" | "u" | "" => Ok(Sex::Unknown),
            other => Err(format!("expected M, F or U, got {other:?}")),
        }
    }
}

/// How the person filing an inquiry is related to the child they seek.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relationship {
    Mother,
    Father,
    Grandparent,
    Sibling,
    Uncle,
    Aunt,
    Other,
}

impl Relationship {
    pub const ALL: [Relationship; 7] = [
        Relationship::Mother,
        Relationship::Father,
        Relationship::Grandparent,
        Relationship::Sibling,
        Relationship::Uncle,
        Relationship::Aunt,
        Relationship::Other,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Relationship::Mother => "mother",
            Relationship::Father => "father",
            Relationship::Grandparent => "grandparent",
            Relationship::Sibling => "sibling",
            Relationship::Uncle => "uncle",
            Relationship::Aunt => "aunt",
            Relationship::Other => "other",
        }
    }
}

impl FromStr for Relationship {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_lowercase();
        Relationship::ALL
            .into_iter()
            .find(|r| r.as_str() == lower)
            .ok_or_else(|| {
                format!(
                    "expected one of mother, father, grandparent, sibling, uncle, aunt, other, got {s:?}"
                )
            })
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII letters")
    }

    /// The country's English name, for display.
    pub fn name(&self) -> &'static str {
        isocountry::CountryCode::for_alpha2(self.as_str())
            .map(|c| c.name())
            .unwrap_or("")
    }
}

impl FromStr for CountryCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        match isocountry::CountryCode::for_alpha2(&upper) {
            Ok(_) => {
                let b = upper.as_bytes();
                Ok(CountryCode([b[0], b[1]]))
            }
            Err(_) => Err(format!("{s:?} is not an ISO 3166-1 alpha-2 country code")),
        }
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where the child comes from, as far as anyone knows.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Origin {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub village: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
}

/// The person who filed an inquiry. Their contact is personal data of an adult and is
/// shown only to the inquiry's own agency and to reviewers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Inquirer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<Relationship>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// The part of a record that only one kind has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum KindDetails {
    Child {
        /// Whether the child, or a guardian, agreed to tracing. A child without it
        /// is never shown to or proposed to users of another agency.
        tracing_consent: bool,
    },
    Inquiry {
        inquirer: Inquirer,
    },
}

/// One record, child or inquiry. Names are kept exactly as written, in whatever
/// script; their normalized forms are derived (see [`crate::names`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub agency: String,
    pub record_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_names: Vec<String>,
    #[serde(default)]
    pub sex: Sex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<AgeEstimate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub father_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mother_name: Option<String>,
    #[serde(default)]
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separation_place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separation_date: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub details: KindDetails,
    /// Columns famlink does not know, kept as they came.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl Record {
    pub fn kind(&self) -> RecordKind {
        match self.details {
            KindDetails::Child { .. } => RecordKind::Child,
            KindDetails::Inquiry { .. } => RecordKind::Inquiry,
        }
    }

    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.kind(), self.agency.clone(), self.record_id.clone())
    }

    /// Tracing consent for children; inquiries are filed to be traced.
    pub fn tracing_consent(&self) -> bool {
        match self.details {
            KindDetails::Child { tracing_consent } => tracing_consent,
            KindDetails::Inquiry { .. } => true,
        }
    }

    pub fn inquirer(&self) -> Option<&Inquirer> {
        match &self.details {
            KindDetails::Inquiry { inquirer } => Some(inquirer),
            KindDetails::Child { .. } => None,
        }
    }

    /// The child's own names as written: given, family, then other names.
    pub fn own_names(&self) -> impl Iterator<Item = &str> {
        self.given_name
            .iter()
            .chain(self.family_name.iter())
            .chain(self.other_names.iter())
            .map(String::as_str)
    }

    /// The birth years this record allows: from the birth date when there is one,
    /// else from the estimated age.
    pub fn birth_years(&self) -> Option<YearRange> {
        match (&self.birth_date, &self.age) {
            (Some(d), _) => Some(YearRange::single(d.year())),
            (None, Some(age)) => Some(age.birth_years()),
            (None, None) => None,
        }
    }

    /// Places as written, for display and search: village, district, separation place.
    pub fn places(&self) -> impl Iterator<Item = &str> {
        self.origin
            .village
            .iter()
            .chain(self.origin.district.iter())
            .chain(self.separation_place.iter())
            .map(String::as_str)
    }
}

/// A consenting child with one given name and nothing else, for the library's unit
/// tests.
#[cfg(test)]
pub(crate) fn sample_child(id: &str, given: &str) -> Record {
    Record {
        agency: "a".into(),
        record_id: id.into(),
        given_name: Some(given.into()),
        family_name: None,
        other_names: vec![],
        sex: Sex::Female,
        birth_date: None,
        age: None,
        father_name: None,
        mother_name: None,
        origin: Origin::default(),
        separation_place: None,
        separation_date: None,
        languages: vec![],
        notes: None,
        details: KindDetails::Child {
            tracing_consent: true,
        },
        attributes: Default::default(),
    }
}
