//! Partial dates and age estimates.
//!
//! Registrations rarely know a full date: a child may know only the year it was
//! born, an officer writes down an estimated age on the day of registration. These
//! types keep exactly the precision that was given, so that matching never treats a
//! guessed "2015" as if it were "2015-01-01".

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A date known to the year, the month or the day: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PartialDate {
    Year(i32),
    Month(i32, u32),
    Day(NaiveDate),
}

/// Years accepted in any date field. Wider than any living person's birth and any
/// registration, narrow enough to catch `20155` or `0215`.
pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 2100;

impl PartialDate {
    pub fn year(&self) -> i32 {
        match self {
            PartialDate::Year(y) | PartialDate::Month(y, _) => *y,
            PartialDate::Day(d) => d.year(),
        }
    }

    pub fn month(&self) -> Option<u32> {
        match self {
            PartialDate::Year(_) => None,
            PartialDate::Month(_, m) => Some(*m),
            PartialDate::Day(d) => Some(d.month()),
        }
    }

    pub fn day(&self) -> Option<u32> {
        match self {
            PartialDate::Day(d) => Some(d.day()),
            _ => None,
        }
    }

    /// The earliest and latest calendar day this date may stand for.
    pub fn bounds(&self) -> (NaiveDate, NaiveDate) {
        match *self {
            PartialDate::Year(y) => (ymd(y, 1, 1), ymd(y, 12, 31)),
            PartialDate::Month(y, m) => {
                let first = ymd(y, m, 1);
                let next = if m == 12 {
                    ymd(y + 1, 1, 1)
                } else {
                    ymd(y, m + 1, 1)
                };
                (
                    first,
                    next.pred_opt().expect("valid date has a predecessor"),
                )
            }
            PartialDate::Day(d) => (d, d),
        }
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("checked date parts")
}

/// Why a date could not be read. The text is shown to the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("expected YYYY, YYYY-MM or YYYY-MM-DD, got {0:?}")]
    Format(String),
    #[error("year {0} is outside {MIN_YEAR}..={MAX_YEAR}")]
    Year(i32),
    #[error("month {0} is not 1..=12")]
    Month(u32),
    #[error("{0} is not a day of the calendar")]
    Day(String),
}

impl FromStr for PartialDate {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Self, DateError> {
        let format_err = || DateError::Format(s.to_string());
        let parts: Vec<&str> = s.split('-').collect();
        let widths_ok = match parts.len() {
            1 => parts[0].len() == 4,
            2 => parts[0].len() == 4 && parts[1].len() == 2,
            3 => parts[0].len() == 4 && parts[1].len() == 2 && parts[2].len() == 2,
            _ => false,
        };
        if !widths_ok || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
            return Err(format_err());
        }
        let year: i32 = parts[0].parse().map_err(|_| format_err())?;
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(DateError::Year(year));
        }
        if parts.len() == 1 {
            return Ok(PartialDate::Year(year));
        }
        let month: u32 = parts[1].parse().map_err(|_| format_err())?;
        if !(1..=12).contains(&month) {
            return Err(DateError::Month(month));
        }
        if parts.len() == 2 {
            return Ok(PartialDate::Month(year, month));
        }
        let day: u32 = parts[2].parse().map_err(|_| format_err())?;
        NaiveDate::from_ymd_opt(year, month, day)
            .map(PartialDate::Day)
            .ok_or_else(|| DateError::Day(s.to_string()))
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartialDate::Year(y) => write!(f, "{y:04}"),
            PartialDate::Month(y, m) => write!(f, "{y:04}-{m:02}"),
            PartialDate::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An inclusive range of possible birth years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearRange {
    pub min: i32,
    pub max: i32,
}

impl YearRange {
    pub fn new(min: i32, max: i32) -> Self {
        debug_assert!(min <= max);
        YearRange { min, max }
    }

    pub fn single(year: i32) -> Self {
        YearRange::new(year, year)
    }

    /// Years between the two ranges; 0 when they overlap.
    pub fn gap(&self, other: &YearRange) -> u32 {
        if self.max < other.min {
            (other.min - self.max) as u32
        } else if other.max < self.min {
            (self.min - other.max) as u32
        } else {
            0
        }
    }

    pub fn intersects(&self, other: &YearRange) -> bool {
        self.gap(other) == 0
    }
}

/// The oldest age famlink accepts as an estimate; records are of children and of
/// the relatives who look for them, but an age field only ever describes the child.
pub const MAX_AGE_YEARS: f32 = 120.0;

/// An estimated age in years, as stated on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AgeEstimate {
    pub years: f32,
    pub recorded_on: PartialDate,
}

impl AgeEstimate {
    /// The birth years consistent with being `years` old at some day of `recorded_on`.
    ///
    /// Someone aged 7 on a day in 2020 was born between that day minus 8 years
    /// (plus a day) and that day minus 7 years, so in 2012 or 2013. A date known
    /// only to the year widens that by the year itself.
    pub fn birth_years(&self) -> YearRange {
        let whole = self.years.floor() as i32;
        let (first, last) = self.recorded_on.bounds();
        // Born at the latest `whole` years before the last possible recording day,
        // at the earliest `whole + 1` years (less a day) before the first one.
        let latest = last.year() - whole;
        let earliest = first.year() - whole - 1;
        // Someone recorded on 31 December as 7 was born in the year 7 before at the
        // earliest unless the birthday was that very day; keep the range inclusive of
        // both years rather than reasoning about leap days.
        YearRange::new(earliest, latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_three_precisions_and_prints_them_back() {
        for s in ["2014", "2014-03", "2014-03-09"] {
            let d: PartialDate = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
        assert_eq!(
            "2014".parse::<PartialDate>().unwrap(),
            PartialDate::Year(2014)
        );
        assert_eq!(
            "2014-03".parse::<PartialDate>().unwrap(),
            PartialDate::Month(2014, 3)
        );
        assert_eq!("2014-03-09".parse::<PartialDate>().unwrap().day(), Some(9));
    }

    #[test]
    fn rejects_malformed_and_impossible_dates() {
        assert!(matches!(
            "14".parse::<PartialDate>(),
            Err(DateError::Format(_))
        ));
        assert!(matches!(
            "2014/03/09".parse::<PartialDate>(),
            Err(DateError::Format(_))
        ));
        assert!(matches!(
            "2014-3-9".parse::<PartialDate>(),
            Err(DateError::Format(_))
        ));
        assert!(matches!(
            "09-03-2014".parse::<PartialDate>(),
            Err(DateError::Format(_))
        ));
        assert!(matches!(
            "2014-13".parse::<PartialDate>(),
            Err(DateError::Month(13))
        ));
        assert!(matches!(
            "2014-00-10".parse::<PartialDate>(),
            Err(DateError::Month(0))
        ));
        assert!(matches!(
            "2015-02-29".parse::<PartialDate>(),
            Err(DateError::Day(_))
        ));
        assert!("2016-02-29".parse::<PartialDate>().is_ok());
        assert!(matches!(
            "1850".parse::<PartialDate>(),
            Err(DateError::Year(1850))
        ));
        assert!(matches!(
            " 2014".parse::<PartialDate>(),
            Err(DateError::Format(_))
        ));
    }

    #[test]
    fn bounds_cover_the_stated_precision() {
        let (a, b) = PartialDate::Month(2016, 2).bounds();
        assert_eq!((a.day(), b.day()), (1, 29));
        let (a, b) = PartialDate::Month(2015, 12).bounds();
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("2015-12-01".into(), "2015-12-31".into())
        );
        let (a, b) = PartialDate::Year(2015).bounds();
        assert_eq!((a.month(), b.month()), (1, 12));
    }

    #[test]
    fn age_gives_the_two_possible_birth_years() {
        let age = AgeEstimate {
            years: 7.0,
            recorded_on: "2020-06-15".parse().unwrap(),
        };
        assert_eq!(age.birth_years(), YearRange::new(2012, 2013));
        // Half years round down: 7.5 years old is still "seven".
        let age = AgeEstimate {
            years: 7.5,
            recorded_on: "2020-06-15".parse().unwrap(),
        };
        assert_eq!(age.birth_years(), YearRange::new(2012, 2013));
        // Known only to the year, the recording day could be any day of 2020.
        let age = AgeEstimate {
            years: 0.0,
            recorded_on: "2020".parse().unwrap(),
        };
        assert_eq!(age.birth_years(), YearRange::new(2019, 2020));
    }

    #[test]
    fn year_range_gap() {
        let a = YearRange::new(2010, 2012);
        assert_eq!(a.gap(&YearRange::single(2011)), 0);
        assert_eq!(a.gap(&YearRange::single(2015)), 3);
        assert_eq!(YearRange::single(2005).gap(&a), 5);
        assert!(a.intersects(&YearRange::new(2012, 2020)));
    }
}
