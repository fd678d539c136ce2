//! The tracing rule file (`matching-rules/tracing.toml`): which role comparisons to
//! make and with which levels, how messy registration data is read (1 January,
//! swapped day and month, other calendars; names by the name rules of
//! `matching-rules/names/`, which `[names] dir` points at), candidate settings,
//! training settings and the band thresholds. Every error names the file and the
//! line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::names::NameRules;
use crate::rules::{line_of, RulesError};

use super::compare::Kind;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    bands: RawBands,
    #[serde(default)]
    names: RawNames,
    #[serde(default)]
    dates: RawDates,
    #[serde(default)]
    candidates: RawCandidates,
    #[serde(default)]
    training: RawTraining,
    #[serde(rename = "comparison")]
    comparisons: Vec<RawComparison>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBands {
    likely: Spanned<f64>,
    possible: Spanned<f64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNames {
    /// The directory of the name rules (variants, nicknames, particles,
    /// placeholders), relative to the rule file.
    dir: Option<Spanned<String>>,
    /// No longer read here: the lists live in `names/placeholders.toml` and
    /// `names/particles.toml`. Kept to say so rather than "unknown field".
    placeholders: Option<Spanned<toml::Value>>,
    particles: Option<Spanned<toml::Value>>,
    jaro_winkler: Option<Spanned<f64>>,
    damerau: Option<usize>,
    phonetic: Option<bool>,
    term_frequency: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDates {
    january_first_is_year_only: Option<bool>,
    day_month_swap: Option<bool>,
    tolerance_years: Option<u32>,
    #[serde(default)]
    calendar: Vec<RawCalendar>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    name: String,
    countries: Vec<Spanned<String>>,
    years_behind: Vec<u32>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCandidates {
    source: Option<Spanned<String>>,
    index_up_to: Option<u64>,
    max_term_docs: Option<u64>,
    per_inquiry: Option<usize>,
    max_posting: Option<usize>,
    max_single_posting: Option<usize>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTraining {
    u_pairs: Option<u64>,
    em_iterations: Option<u32>,
    em_tolerance: Option<f64>,
    em_pairs: Option<usize>,
    seed: Option<u64>,
    u_from: Option<Spanned<String>>,
    #[serde(default)]
    session: Vec<RawSession>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    agree_on: Spanned<String>,
    max_level: u8,
}

/// One EM session: the candidate pairs whose `agree_on` comparison is at a level up
/// to `max_level` (best is 0); EM learns m of the other comparisons among them.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub agree_on: Kind,
    pub max_level: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComparison {
    name: Spanned<String>,
    levels: Spanned<Vec<String>>,
    #[serde(default)]
    identity: bool,
}

/// A calendar whose years run behind the Gregorian one (Ethiopian: 7–8 years).
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub name: String,
    pub countries: Vec<String>,
    pub years_behind: Vec<u32>,
}

/// One comparison of the rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonRule {
    pub kind: Kind,
    pub levels: Vec<String>,
    /// Part of the child's own identity: a `likely` proposal needs it to agree.
    pub identity: bool,
    pub line: usize,
}

/// A parsed tracing rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct TracingRules {
    pub likely: f64,
    pub possible: f64,
    /// `[names] dir` as written (relative to the rule file), if any.
    pub names_dir: Option<PathBuf>,
    /// The name rules the comparisons use: variants, nicknames, particles and
    /// placeholders. [`TracingRules::load`] reads them from `[names] dir`;
    /// [`TracingRules::parse`] and files without `dir` use the built-in copy of
    /// `matching-rules/names/`.
    pub names: Arc<NameRules>,
    pub jaro_winkler: f64,
    pub damerau: usize,
    pub phonetic: bool,
    pub term_frequency: bool,
    pub january_first_is_year_only: bool,
    pub day_month_swap: bool,
    pub tolerance_years: u32,
    pub calendars: Vec<Calendar>,
    /// Where candidates come from: the key index or the search index (see
    /// [`TracingRules::source_for`]).
    pub candidate_source: super::candidates::CandidateSource,
    /// `source = "auto"`: the search index while the children number at most this,
    /// the key index above (at a million children the key index is faster and
    /// finds more; see BENCHMARKS.md).
    pub index_up_to: Option<u64>,
    /// Search-index source: terms held by more records than this are left out.
    pub max_term_docs: u64,
    pub per_inquiry: usize,
    pub max_posting: usize,
    /// A single name part on its own is a key only when at most this many children
    /// hold it (a rare name).
    pub max_single_posting: usize,
    pub u_pairs: u64,
    pub em_iterations: u32,
    pub em_tolerance: f64,
    pub em_pairs: usize,
    pub seed: u64,
    /// Score with the u learned among candidate pairs (and λ among them) rather than
    /// the u of random pairs (and λ over all pairs).
    pub u_from_candidates: bool,
    pub sessions: Vec<Session>,
    pub comparisons: Vec<ComparisonRule>,
}

/// The default rule file, compiled in (the same text as `matching-rules/tracing.toml`).
pub const DEFAULT_RULES: &str = include_str!("../../matching-rules/tracing.toml");

impl TracingRules {
    /// The candidate source for a store holding `children` children: with
    /// `source = "auto"`, the search index up to `index_up_to` children and the key
    /// index above.
    pub fn source_for(&self, children: u64) -> super::candidates::CandidateSource {
        match self.index_up_to {
            Some(limit) if children > limit => super::candidates::CandidateSource::Keys,
            _ => self.candidate_source,
        }
    }

    /// Reads a rule file and the name rules its `[names] dir` names (resolved
    /// against the file's directory).
    pub fn load(path: &Path) -> Result<TracingRules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|e| RulesError {
            file: path.to_path_buf(),
            line: None,
            message: e.to_string(),
        })?;
        let mut rules = Self::parse(path, &text)?;
        if let Some(dir) = &rules.names_dir {
            let dir = path.parent().unwrap_or(Path::new(".")).join(dir);
            rules.names = NameRules::load_dir(&dir).map_err(|e| RulesError {
                file: path.to_path_buf(),
                line: text
                    .lines()
                    .position(|l| {
                        let l = l.trim_start();
                        l.starts_with("dir ") || l.starts_with("dir=")
                    })
                    .map(|i| i + 1),
                message: format!("the name rules of [names] dir: {e}"),
            })?;
        }
        Ok(rules)
    }

    pub fn default_rules() -> TracingRules {
        Self::parse(Path::new("matching-rules/tracing.toml"), DEFAULT_RULES)
            .expect("the compiled-in rule file is valid")
    }

    pub fn parse(path: &Path, text: &str) -> Result<TracingRules, RulesError> {
        let err = |line: Option<usize>, message: String| RulesError {
            file: path.to_path_buf(),
            line,
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            err(
                e.span().map(|s| line_of(text, s.start)),
                e.message().to_string(),
            )
        })?;
        let at = |start: usize| Some(line_of(text, start));
        for (v, what) in [
            (&raw.bands.likely, "likely"),
            (&raw.bands.possible, "possible"),
        ] {
            if !(0.0..=1.0).contains(v.get_ref()) {
                return Err(err(
                    at(v.span().start),
                    format!("bands.{what} must be a probability in [0, 1]"),
                ));
            }
        }
        if raw.bands.possible.get_ref() > raw.bands.likely.get_ref() {
            return Err(err(
                at(raw.bands.possible.span().start),
                "bands.possible must not exceed bands.likely".into(),
            ));
        }
        for (moved, file) in [
            (&raw.names.placeholders, "placeholders.toml"),
            (&raw.names.particles, "particles.toml"),
        ] {
            if let Some(v) = moved {
                return Err(err(
                    at(v.span().start),
                    format!(
                        "names.{} moved to the name rules: edit {file} in the directory \
                         [names] dir names (matching-rules/names/)",
                        file.trim_end_matches(".toml")
                    ),
                ));
            }
        }
        if let Some(jw) = &raw.names.jaro_winkler {
            if !(0.0..=1.0).contains(jw.get_ref()) {
                return Err(err(
                    at(jw.span().start),
                    "names.jaro_winkler must be in [0, 1]".into(),
                ));
            }
        }
        for c in &raw.dates.calendar {
            for country in &c.countries {
                if country
                    .get_ref()
                    .parse::<crate::record::CountryCode>()
                    .is_err()
                {
                    return Err(err(
                        at(country.span().start),
                        format!("{:?} is not an ISO 3166-1 alpha-2 code", country.get_ref()),
                    ));
                }
            }
        }
        let mut comparisons = Vec::new();
        for c in &raw.comparisons {
            let line = line_of(text, c.name.span().start);
            let kind: Kind = c
                .name
                .get_ref()
                .parse()
                .map_err(|m: String| err(Some(line), m))?;
            if comparisons.iter().any(|x: &ComparisonRule| x.kind == kind) {
                return Err(err(
                    Some(line),
                    format!("comparison {:?} is declared twice", c.name.get_ref()),
                ));
            }
            let known = kind.levels();
            let levels = c.levels.get_ref();
            if levels.iter().map(String::as_str).ne(known.iter().copied()) {
                return Err(err(
                    at(c.levels.span().start),
                    format!(
                        "comparison {:?} has the levels {:?} (in this order); got {:?}",
                        c.name.get_ref(),
                        known,
                        levels
                    ),
                ));
            }
            comparisons.push(ComparisonRule {
                kind,
                levels: levels.clone(),
                identity: c.identity,
                line,
            });
        }
        if comparisons.is_empty() || comparisons.len() > crate::rules::MAX_COMPARISONS {
            return Err(err(
                None,
                format!(
                    "between 1 and {} comparisons, got {}",
                    crate::rules::MAX_COMPARISONS,
                    comparisons.len()
                ),
            ));
        }
        let mut sessions = Vec::new();
        for sess in &raw.training.session {
            let line = line_of(text, sess.agree_on.span().start);
            let kind: Kind = sess
                .agree_on
                .get_ref()
                .parse()
                .map_err(|m: String| err(Some(line), m))?;
            if !comparisons.iter().any(|c: &ComparisonRule| c.kind == kind) {
                return Err(err(
                    Some(line),
                    format!(
                        "training session on {:?}, which is not a comparison of this file",
                        sess.agree_on.get_ref()
                    ),
                ));
            }
            if usize::from(sess.max_level) >= kind.levels().len() {
                return Err(err(
                    Some(line),
                    format!(
                        "max_level {} is beyond the levels of {:?}",
                        sess.max_level,
                        sess.agree_on.get_ref()
                    ),
                ));
            }
            sessions.push(Session {
                agree_on: kind,
                max_level: sess.max_level,
            });
        }
        Ok(TracingRules {
            likely: *raw.bands.likely.get_ref(),
            possible: *raw.bands.possible.get_ref(),
            names_dir: raw.names.dir.map(|d| PathBuf::from(d.into_inner())),
            names: NameRules::builtin(),
            jaro_winkler: raw
                .names
                .jaro_winkler
                .map(|s| s.into_inner())
                .unwrap_or(0.9),
            damerau: raw.names.damerau.unwrap_or(1),
            phonetic: raw.names.phonetic.unwrap_or(true),
            term_frequency: raw.names.term_frequency.unwrap_or(true),
            january_first_is_year_only: raw.dates.january_first_is_year_only.unwrap_or(true),
            day_month_swap: raw.dates.day_month_swap.unwrap_or(true),
            tolerance_years: raw.dates.tolerance_years.unwrap_or(3),
            calendars: raw
                .dates
                .calendar
                .iter()
                .map(|c| Calendar {
                    name: c.name.clone(),
                    countries: c
                        .countries
                        .iter()
                        .map(|s| s.get_ref().to_uppercase())
                        .collect(),
                    years_behind: c.years_behind.clone(),
                })
                .collect(),
            index_up_to: match raw.candidates.source.as_ref().map(|s| s.get_ref().as_str()) {
                Some("auto") => Some(raw.candidates.index_up_to.unwrap_or(200_000)),
                _ => None,
            },
            candidate_source: match raw.candidates.source.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("keys") => super::candidates::CandidateSource::Keys,
                Some("index") | Some("auto") => super::candidates::CandidateSource::Index,
                Some(other) => {
                    return Err(err(
                        at(raw.candidates.source.as_ref().expect("some").span().start),
                        format!("candidates.source is auto, index or keys, got {other:?}"),
                    ))
                }
            },
            max_term_docs: raw.candidates.max_term_docs.unwrap_or(100_000),
            per_inquiry: raw.candidates.per_inquiry.unwrap_or(200),
            max_posting: raw.candidates.max_posting.unwrap_or(5000),
            max_single_posting: raw.candidates.max_single_posting.unwrap_or(200),
            u_pairs: raw.training.u_pairs.unwrap_or(200_000),
            em_iterations: raw.training.em_iterations.unwrap_or(100),
            em_tolerance: raw.training.em_tolerance.unwrap_or(1e-5),
            em_pairs: raw.training.em_pairs.unwrap_or(2_000_000),
            seed: raw.training.seed.unwrap_or(1),
            u_from_candidates: match raw.training.u_from.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("random_pairs") => false,
                Some("candidates") => true,
                Some(other) => {
                    return Err(err(
                        at(raw.training.u_from.as_ref().expect("some").span().start),
                        format!("training.u_from is random_pairs or candidates, got {other:?}"),
                    ))
                }
            },
            sessions,
            comparisons,
        })
    }
}
