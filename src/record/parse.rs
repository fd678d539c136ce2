//! From raw text cells to a typed [`Record`], with every problem of a row reported
//! by field, not just the first one.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::{
    AgeEstimate, CountryCode, Inquirer, KindDetails, Origin, PartialDate, Record, RecordKind,
    Relationship, Sex, MAX_AGE_YEARS,
};

/// The columns both kinds share, in the order of the import format.
pub const SHARED_COLUMNS: [&str; 18] = [
    "record_id",
    "agency",
    "given_name",
    "family_name",
    "other_names",
    "sex",
    "birth_date",
    "age_years",
    "age_recorded_on",
    "father_name",
    "mother_name",
    "origin_village",
    "origin_district",
    "origin_country",
    "separation_place",
    "separation_date",
    "languages",
    "notes",
];
/// Columns only inquiries have.
pub const INQUIRY_COLUMNS: [&str; 3] =
    ["inquirer_name", "inquirer_relationship", "inquirer_contact"];
/// Columns only children have.
pub const CHILD_COLUMNS: [&str; 1] = ["tracing_consent"];

/// Every column of a kind's import format, in order.
pub fn columns(kind: RecordKind) -> Vec<&'static str> {
    let mut cols = SHARED_COLUMNS.to_vec();
    match kind {
        RecordKind::Child => cols.extend(CHILD_COLUMNS),
        RecordKind::Inquiry => cols.extend(INQUIRY_COLUMNS),
    }
    cols
}

/// Longest text accepted in a name or place field, in characters.
const MAX_NAME_CHARS: usize = 200;
/// Longest free text (notes, contact), in characters.
const MAX_TEXT_CHARS: usize = 10_000;

/// One row as read from a file: its line and its cells, by column name.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// The line the row starts on, counting the header as line 1 in CSV.
    pub line: u64,
    pub columns: Arc<[String]>,
    pub values: Vec<String>,
}

impl RawRow {
    pub fn get(&self, column: &str) -> Option<&str> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.columns
            .iter()
            .map(String::as_str)
            .zip(self.values.iter().map(String::as_str))
    }
}

/// A problem with one field of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Turns raw rows of one kind into records.
#[derive(Debug, Clone)]
pub struct RowParser {
    kind: RecordKind,
    /// Tracing consent stated for every row of a file that has no such column.
    consent_for_all: Option<bool>,
    today: NaiveDate,
}

impl RowParser {
    pub fn new(kind: RecordKind, consent_for_all: Option<bool>) -> Self {
        RowParser {
            kind,
            consent_for_all,
            today: chrono::Local::now().date_naive(),
        }
    }

    /// Fixes "today" for dates in the future; for tests.
    pub fn with_today(mut self, today: NaiveDate) -> Self {
        self.today = today;
        self
    }

    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// Checks a file's columns before any row is read: problems that would make
    /// every row wrong are reported once, for the whole file.
    pub fn check_columns(&self, columns: &[String]) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let has = |c: &str| columns.iter().any(|h| h == c);
        for required in ["record_id", "agency"] {
            if !has(required) {
                errors.push(FieldError::new(required, "required column is missing"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for c in columns {
            if c.is_empty() {
                errors.push(FieldError::new("(header)", "a column has no name"));
            } else if !seen.insert(c) {
                errors.push(FieldError::new(c, "column appears twice in the header"));
            }
        }
        if self.kind == RecordKind::Child {
            match (has("tracing_consent"), self.consent_for_all) {
                (false, None) => errors.push(FieldError::new(
                    "tracing_consent",
                    "the file has no tracing_consent column: state it for every row with --tracing-consent yes|no",
                )),
                (true, Some(_)) => errors.push(FieldError::new(
                    "tracing_consent",
                    "the file has a tracing_consent column; --tracing-consent is only for files without one",
                )),
                _ => {}
            }
        }
        let foreign: &[&str] = match self.kind {
            RecordKind::Child => &INQUIRY_COLUMNS,
            RecordKind::Inquiry => &CHILD_COLUMNS,
        };
        for c in foreign.iter().filter(|c| has(c)) {
            errors.push(FieldError::new(
                *c,
                format!("is not a column of {} records", self.kind),
            ));
        }
        errors
    }

    /// Parses one row. Every field is checked, so a row with three mistakes reports three.
    pub fn parse(&self, row: &RawRow) -> Result<Record, Vec<FieldError>> {
        let mut cx = Cells {
            row,
            errors: Vec::new(),
            today: self.today,
        };
        let agency = cx.identifier("agency");
        let record_id = cx.identifier("record_id");
        let given_name = cx.name("given_name");
        let family_name = cx.name("family_name");
        let other_names = cx.list("other_names");
        let sex = cx.typed::<Sex>("sex").unwrap_or_default();
        let birth_date = cx.date("birth_date");
        let age_years = cx.age("age_years");
        let age_recorded_on = cx.date("age_recorded_on");
        let age = match (age_years, age_recorded_on) {
            (Some(years), Some(recorded_on)) => Some(AgeEstimate { years, recorded_on }),
            (Some(_), None) if cx.is_blank("age_recorded_on") => {
                cx.error(
                    "age_recorded_on",
                    "required when age_years is given: the day the age was estimated",
                );
                None
            }
            (None, Some(_)) if cx.is_blank("age_years") => {
                cx.error("age_recorded_on", "given without age_years");
                None
            }
            _ => None,
        };
        if let (Some(birth), Some(age)) = (&birth_date, &age) {
            if birth.bounds().0 > age.recorded_on.bounds().1 {
                cx.error("birth_date", "is after age_recorded_on");
            }
        }
        let father_name = cx.name("father_name");
        let mother_name = cx.name("mother_name");
        let origin = Origin {
            village: cx.name("origin_village"),
            district: cx.name("origin_district"),
            country: cx.typed::<CountryCode>("origin_country"),
        };
        let separation_place = cx.name("separation_place");
        let separation_date = cx.date("separation_date");
        let languages = cx.list("languages");
        let notes = cx.text("notes");

        let details = match self.kind {
            RecordKind::Child => {
                let consent = if cx.is_blank("tracing_consent") {
                    if self.consent_for_all.is_none() {
                        cx.error("tracing_consent", "required: yes or no");
                    }
                    self.consent_for_all
                } else {
                    cx.yes_no("tracing_consent")
                };
                for c in INQUIRY_COLUMNS {
                    if !cx.is_blank(c) {
                        cx.error(c, "is not a field of child records");
                    }
                }
                KindDetails::Child {
                    tracing_consent: consent.unwrap_or(false),
                }
            }
            RecordKind::Inquiry => {
                if !cx.is_blank("tracing_consent") {
                    cx.error("tracing_consent", "is not a field of inquiry records");
                }
                KindDetails::Inquiry {
                    inquirer: Inquirer {
                        name: cx.name("inquirer_name"),
                        relationship: cx.typed::<Relationship>("inquirer_relationship"),
                        contact: cx.text("inquirer_contact"),
                    },
                }
            }
        };

        let known: std::collections::HashSet<&str> = SHARED_COLUMNS
            .iter()
            .chain(INQUIRY_COLUMNS.iter())
            .chain(CHILD_COLUMNS.iter())
            .copied()
            .collect();
        let attributes: BTreeMap<String, String> = row
            .iter()
            .filter(|(c, v)| !known.contains(c) && !v.trim().is_empty())
            .map(|(c, v)| (c.to_string(), v.to_string()))
            .collect();

        if !cx.errors.is_empty() {
            return Err(cx.errors);
        }
        Ok(Record {
            agency: agency.unwrap_or_default(),
            record_id: record_id.unwrap_or_default(),
            given_name,
            family_name,
            other_names,
            sex,
            birth_date,
            age,
            father_name,
            mother_name,
            origin,
            separation_place,
            separation_date,
            languages,
            notes,
            details,
            attributes,
        })
    }
}

/// The cells of one row and the errors found so far.
struct Cells<'a> {
    row: &'a RawRow,
    errors: Vec<FieldError>,
    today: NaiveDate,
}

impl Cells<'_> {
    fn error(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, reason));
    }

    fn raw(&self, field: &str) -> &str {
        self.row.get(field).unwrap_or("")
    }

    fn is_blank(&self, field: &str) -> bool {
        self.raw(field).trim().is_empty()
    }

    /// Free text, kept exactly as written. Blank is unknown.
    fn text_within(
        &mut self,
        field: &str,
        max_chars: usize,
        allow_newlines: bool,
    ) -> Option<String> {
        let raw = self.raw(field);
        if raw.trim().is_empty() {
            return None;
        }
        let raw = raw.to_string();
        if raw.chars().count() > max_chars {
            self.error(field, format!("longer than {max_chars} characters"));
            return None;
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t')))
        {
            self.error(field, "contains a control character");
            return None;
        }
        Some(raw)
    }

    fn name(&mut self, field: &str) -> Option<String> {
        self.text_within(field, MAX_NAME_CHARS, false)
    }

    fn text(&mut self, field: &str) -> Option<String> {
        self.text_within(field, MAX_TEXT_CHARS, true)
    }

    /// Agency and record id: required, no surrounding space, and for agencies no `/`
    /// (it separates agency from id in `AGENCY/RECORD_ID`).
    fn identifier(&mut self, field: &str) -> Option<String> {
        let raw = self.raw(field);
        if raw.trim().is_empty() {
            self.error(field, "required");
            return None;
        }
        let value = raw.trim().to_string();
        if value.chars().count() > MAX_NAME_CHARS {
            self.error(field, format!("longer than {MAX_NAME_CHARS} characters"));
            None
        } else if value.chars().any(char::is_control) {
            self.error(field, "contains a control character");
            None
        } else if field == "agency" && value.contains('/') {
            self.error(field, "must not contain '/'");
            None
        } else {
            Some(value)
        }
    }

    /// A `;`-separated list; empty items are dropped, items are trimmed.
    fn list(&mut self, field: &str) -> Vec<String> {
        let raw = self.raw(field);
        let items: Vec<String> = raw
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(long) = items.iter().find(|s| s.chars().count() > MAX_NAME_CHARS) {
            let n = long.chars().count();
            self.error(
                field,
                format!("an item is {n} characters, over {MAX_NAME_CHARS}"),
            );
        }
        if items.iter().any(|s| s.chars().any(char::is_control)) {
            self.error(field, "contains a control character");
        }
        items
    }

    fn typed<T: std::str::FromStr<Err = String>>(&mut self, field: &str) -> Option<T> {
        let raw = self.raw(field).trim();
        if raw.is_empty() {
            return None;
        }
        match raw.parse() {
            Ok(v) => Some(v),
            Err(reason) => {
                self.error(field, reason);
                None
            }
        }
    }

    fn date(&mut self, field: &str) -> Option<PartialDate> {
        let raw = self.raw(field).trim();
        if raw.is_empty() {
            return None;
        }
        match raw.parse::<PartialDate>() {
            Ok(d) if d.bounds().0 > self.today => {
                self.error(field, format!("{d} is in the future"));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(field, e.to_string());
                None
            }
        }
    }

    fn age(&mut self, field: &str) -> Option<f32> {
        let raw = self.raw(field).trim();
        if raw.is_empty() {
            return None;
        }
        match raw.parse::<f32>() {
            Ok(a) if a.is_finite() && (0.0..=MAX_AGE_YEARS).contains(&a) => Some(a),
            Ok(_) => {
                self.error(
                    field,
                    format!("{raw:?} is not an age from 0 to {MAX_AGE_YEARS}"),
                );
                None
            }
            Err(_) => {
                self.error(field, format!("{raw:?} is not a number of years"));
                None
            }
        }
    }

    fn yes_no(&mut self, field: &str) -> Option<bool> {
        let raw = self.raw(field).trim();
        match raw.to_ascii_lowercase().as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => {
                self.error(field, format!("expected yes or no, got {raw:?}"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> RawRow {
        RawRow {
            line: 2,
            columns: pairs
                .iter()
                .map(|(c, _)| c.to_string())
                .collect::<Vec<_>>()
                .into(),
            values: pairs.iter().map(|(_, v)| v.to_string()).collect(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
    }

    fn child_parser() -> RowParser {
        RowParser::new(RecordKind::Child, None).with_today(today())
    }

    fn inquiry_parser() -> RowParser {
        RowParser::new(RecordKind::Inquiry, None).with_today(today())
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_full_child_row_parses_into_typed_values() {
        let r = child_parser()
            .parse(&row(&[
                ("record_id", "C-1"),
                ("agency", "unhcr-dollo"),
                ("given_name", "Maxamed"),
                ("family_name", "Cabdi"),
                ("other_names", "Xamar; Maxi ;"),
                ("sex", "m"),
                ("birth_date", "2014-03"),
                ("age_years", "9"),
                ("age_recorded_on", "2023-05-02"),
                ("father_name", "Cabdi Nuur"),
                ("mother_name", "Faadumo"),
                ("origin_village", "Dollow"),
                ("origin_district", "Gedo"),
                ("origin_country", "so"),
                ("separation_place", "Dolo Ado"),
                ("separation_date", "2022"),
                ("languages", "so;ar"),
                ("notes", "arrived with\nan uncle"),
                ("tracing_consent", "Yes"),
                ("camp_block", "B7"),
            ]))
            .unwrap();
        assert_eq!(r.kind(), RecordKind::Child);
        assert_eq!(r.other_names, vec!["Xamar", "Maxi"]);
        assert_eq!(r.sex, Sex::Male);
        assert_eq!(r.birth_date, Some(PartialDate::Month(2014, 3)));
        assert_eq!(r.age.unwrap().years, 9.0);
        assert_eq!(r.origin.country.unwrap().as_str(), "SO");
        assert_eq!(r.separation_date, Some(PartialDate::Year(2022)));
        assert_eq!(r.languages, vec!["so", "ar"]);
        assert!(r.tracing_consent());
        assert_eq!(
            r.attributes.get("camp_block").map(String::as_str),
            Some("B7")
        );
        assert_eq!(
            r.birth_years().unwrap(),
            crate::record::YearRange::single(2014)
        );
    }

    #[test]
    fn every_bad_field_of_a_row_is_reported() {
        let errs = child_parser()
            .parse(&row(&[
                ("record_id", ""),
                ("agency", "a/b"),
                ("sex", "male"),
                ("birth_date", "2014-02-30"),
                ("age_years", "-3"),
                ("age_recorded_on", "2023"),
                ("origin_country", "XX"),
                ("separation_date", "2030"),
                ("tracing_consent", "maybe"),
            ]))
            .unwrap_err();
        assert_eq!(
            fields(&errs),
            vec![
                "agency",
                "record_id",
                "sex",
                "birth_date",
                "age_years",
                "origin_country",
                "separation_date",
                "tracing_consent"
            ]
        );
        let future = errs.iter().find(|e| e.field == "separation_date").unwrap();
        assert!(future.reason.contains("future"), "{future:?}");
    }

    #[test]
    fn age_needs_the_day_it_was_estimated() {
        let errs = child_parser()
            .parse(&row(&[
                ("record_id", "1"),
                ("agency", "a"),
                ("age_years", "7"),
                ("tracing_consent", "no"),
            ]))
            .unwrap_err();
        assert_eq!(fields(&errs), vec!["age_recorded_on"]);
        let errs = child_parser()
            .parse(&row(&[
                ("record_id", "1"),
                ("agency", "a"),
                ("age_years", "seven"),
                ("age_recorded_on", "2020"),
                ("tracing_consent", "no"),
            ]))
            .unwrap_err();
        assert_eq!(fields(&errs), vec!["age_years"]);
    }

    #[test]
    fn consent_comes_from_the_column_or_the_whole_file_never_by_default() {
        let p = child_parser();
        let errs = p
            .parse(&row(&[
                ("record_id", "1"),
                ("agency", "a"),
                ("tracing_consent", ""),
            ]))
            .unwrap_err();
        assert_eq!(fields(&errs), vec!["tracing_consent"]);
        assert!(!p
            .check_columns(&["record_id".into(), "agency".into()])
            .is_empty());

        let p = RowParser::new(RecordKind::Child, Some(false)).with_today(today());
        assert!(p
            .check_columns(&["record_id".into(), "agency".into()])
            .is_empty());
        let r = p
            .parse(&row(&[("record_id", "1"), ("agency", "a")]))
            .unwrap();
        assert!(!r.tracing_consent());
        let clash = p.check_columns(&[
            "record_id".into(),
            "agency".into(),
            "tracing_consent".into(),
        ]);
        assert_eq!(fields(&clash), vec!["tracing_consent"]);
    }

    #[test]
    fn inquiries_carry_the_inquirer() {
        let r = inquiry_parser()
            .parse(&row(&[
                ("record_id", "I-9"),
                ("agency", "icrc"),
                ("given_name", "Олександр"),
                ("inquirer_name", "Олена Коваленко"),
                ("inquirer_relationship", "Mother"),
                ("inquirer_contact", "+380 44 000 0000"),
            ]))
            .unwrap();
        let inq = r.inquirer().unwrap();
        assert_eq!(inq.relationship, Some(Relationship::Mother));
        assert_eq!(inq.name.as_deref(), Some("Олена Коваленко"));
        assert_eq!(r.given_name.as_deref(), Some("Олександр"));

        let errs = inquiry_parser()
            .parse(&row(&[
                ("record_id", "I-9"),
                ("agency", "icrc"),
                ("inquirer_relationship", "cousin"),
                ("tracing_consent", "yes"),
            ]))
            .unwrap_err();
        assert_eq!(
            fields(&errs),
            vec!["tracing_consent", "inquirer_relationship"]
        );
    }

    #[test]
    fn names_are_kept_exactly_and_a_record_may_have_none() {
        let r = child_parser()
            .parse(&row(&[
                ("record_id", "1"),
                ("agency", "a"),
                ("given_name", "  عبد الرحمن "),
                ("tracing_consent", "yes"),
            ]))
            .unwrap();
        assert_eq!(r.given_name.as_deref(), Some("  عبد الرحمن "));
        let r = child_parser()
            .parse(&row(&[
                ("record_id", "2"),
                ("agency", "a"),
                ("tracing_consent", "yes"),
            ]))
            .unwrap();
        assert_eq!(r.own_names().count(), 0);
        let errs = child_parser()
            .parse(&row(&[
                ("record_id", "3"),
                ("agency", "a"),
                ("given_name", "Ab\u{0}di"),
                ("tracing_consent", "yes"),
            ]))
            .unwrap_err();
        assert_eq!(fields(&errs), vec!["given_name"]);
    }

    /// Each column with a value it accepts and one it refuses.
    #[test]
    fn each_column_accepts_good_values_and_names_bad_ones() {
        let long = "x".repeat(201);
        let cases: &[(RecordKind, &str, &str, &str)] = &[
            (RecordKind::Child, "record_id", "C-01/7", ""),
            (RecordKind::Child, "agency", "unhcr-dollo", "unhcr/dollo"),
            (RecordKind::Child, "given_name", "Maxamed", &long),
            (RecordKind::Child, "family_name", "Коваленко", "a\u{7}b"),
            (RecordKind::Child, "other_names", "Sasha;Sashko", &long),
            (RecordKind::Child, "sex", "F", "female"),
            (RecordKind::Child, "birth_date", "2015-06", "15-06-2015"),
            (RecordKind::Child, "age_years", "6.5", "about six"),
            (RecordKind::Child, "father_name", "Cabdi Nuur", &long),
            (RecordKind::Child, "mother_name", "Faadumo", "a\u{0}"),
            (RecordKind::Child, "origin_village", "Doolow", &long),
            (RecordKind::Child, "origin_district", "Gedo", &long),
            (RecordKind::Child, "origin_country", "SO", "SOM"),
            (RecordKind::Child, "separation_place", "Dolo Ado", &long),
            (
                RecordKind::Child,
                "separation_date",
                "2022-11-30",
                "2022-11-31",
            ),
            (RecordKind::Child, "languages", "so;ar", &long),
            (RecordKind::Child, "tracing_consent", "no", "n"),
            (RecordKind::Inquiry, "inquirer_name", "Faadumo Cali", &long),
            (
                RecordKind::Inquiry,
                "inquirer_relationship",
                "grandparent",
                "neighbour",
            ),
            (
                RecordKind::Inquiry,
                "inquirer_contact",
                "+252 61 000 0000",
                "a\u{1b}",
            ),
        ];
        for (kind, column, good, bad) in cases {
            let parser = RowParser::new(*kind, None).with_today(today());
            let mut base: Vec<(&str, &str)> = vec![("record_id", "1"), ("agency", "a")];
            if *kind == RecordKind::Child && *column != "tracing_consent" {
                base.push(("tracing_consent", "yes"));
            }
            if *column == "age_years" {
                base.push(("age_recorded_on", "2020-01-01"));
            }
            let with = |value: &str| {
                let mut cells: Vec<(&str, String)> = base
                    .iter()
                    .filter(|(c, _)| c != column)
                    .map(|(c, v)| (*c, v.to_string()))
                    .collect();
                cells.push((*column, value.to_string()));
                RawRow {
                    line: 2,
                    columns: cells
                        .iter()
                        .map(|(c, _)| c.to_string())
                        .collect::<Vec<_>>()
                        .into(),
                    values: cells.iter().map(|(_, v)| v.clone()).collect(),
                }
            };
            assert!(
                parser.parse(&with(good)).is_ok(),
                "{column}: {good:?} should be accepted: {:?}",
                parser.parse(&with(good)).err()
            );
            if !bad.is_empty() {
                let errs = parser.parse(&with(bad)).expect_err(column);
                assert_eq!(fields(&errs), vec![*column], "{column}: {bad:?}");
            }
        }
    }

    #[test]
    fn header_problems_are_reported_once_for_the_file() {
        let p = inquiry_parser();
        let errs = p.check_columns(&[
            "agency".into(),
            "given_name".into(),
            "given_name".into(),
            "tracing_consent".into(),
        ]);
        assert_eq!(
            fields(&errs),
            vec!["record_id", "given_name", "tracing_consent"]
        );
    }

    #[test]
    fn birth_date_after_the_age_was_recorded_is_an_error() {
        let errs = child_parser()
            .parse(&row(&[
                ("record_id", "1"),
                ("agency", "a"),
                ("birth_date", "2021"),
                ("age_years", "3"),
                ("age_recorded_on", "2020-01-05"),
                ("tracing_consent", "yes"),
            ]))
            .unwrap_err();
        assert_eq!(fields(&errs), vec!["birth_date"]);
    }
}
