//! Proposing links: the [`Matcher`] trait and the matcher built on the search
//! index, which the service falls back to when it has no trained model (the
//! Fellegi–Sunter engine behind the same trait is in `engine.rs`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::record::{Record, RecordKey, RecordKind};
use crate::search::{SearchError, SearchIndex, SearchQuery};

/// How probable a proposal is, by thresholds a deployment tunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Likely,
    Possible,
}

impl Band {
    pub fn as_str(&self) -> &'static str {
        match self {
            Band::Likely => "likely",
            Band::Possible => "possible",
        }
    }
}

impl std::str::FromStr for Band {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "likely" => Ok(Band::Likely),
            "possible" => Ok(Band::Possible),
            _ => Err(format!("expected likely or possible, got {s:?}")),
        }
    }
}

/// One comparison behind a proposal, for the reviewer.
///
/// The Fellegi–Sunter engine gives every comparison of its rule file with its level
/// and weight; the search matcher gives neither (they are left out of the JSON, and
/// proposals stored before they existed read back without them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonExplanation {
    /// What was compared: name, father, mother, place, born, sex (search matcher);
    /// personal_name, sex, birth, father, mother, inquirer, origin... (engine).
    pub field: String,
    /// How it compared: for the engine, the values compared.
    pub detail: String,
    /// The comparison's level, e.g. `exact`, `variant`, `same_year`, `missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The comparison's match weight (log2 of m/u, term frequency included):
    /// positive for evidence of a link, negative against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

/// A proposed link between a child and an inquiry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    pub child: RecordKey,
    pub inquiry: RecordKey,
    /// In [0, 1].
    pub probability: f32,
    pub band: Band,
    pub explanation: Vec<ComparisonExplanation>,
    /// Said to the reviewer, e.g. why a high probability is only `possible`
    /// (the sibling guard).
    pub note: Option<String>,
}

/// Why a matcher could not propose.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("search: {0}")]
    Search(#[from] SearchError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Proposes links for a record that has just arrived, against records of the other
/// kind. A matcher never decides: a person reviews every proposal. A matcher is
/// made for the records at hand and may borrow a store connection, so it is not
/// shared between threads.
pub trait Matcher {
    fn propose(&self, record: &Record) -> Result<Vec<Proposal>, MatcherError>;
}

/// The thresholds of `matching-rules/review.toml`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReviewRules {
    /// At or above: `likely`.
    pub likely: f32,
    /// At or above (and below `likely`): `possible`. Below: not proposed.
    pub possible: f32,
    /// Proposals per arriving record, at most.
    pub max_per_record: usize,
    /// Records of the other kind the engine scores per arriving record, at most
    /// (its candidates from the search index).
    pub candidates_per_record: usize,
}

impl Default for ReviewRules {
    fn default() -> Self {
        ReviewRules {
            likely: 0.75,
            possible: 0.5,
            max_per_record: 5,
            candidates_per_record: 20,
        }
    }
}

/// The committed rules file.
pub const DEFAULT_RULES: &str = include_str!("../../matching-rules/review.toml");

impl ReviewRules {
    /// Reads `key = value` lines (a small subset of TOML); `#` starts a comment.
    pub fn parse(text: &str) -> Result<ReviewRules, String> {
        let mut rules = ReviewRules::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with('[') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line {}: expected key = value", i + 1));
            };
            let value = value.trim();
            let bad = |_| format!("line {}: {value:?} is not a number", i + 1);
            let count = || -> Result<usize, String> {
                value
                    .parse()
                    .map_err(|_| format!("line {}: {value:?} is not a count", i + 1))
            };
            match key.trim() {
                "likely" => rules.likely = value.parse().map_err(bad)?,
                "possible" => rules.possible = value.parse().map_err(bad)?,
                "max_per_record" => rules.max_per_record = count()?,
                "candidates_per_record" => rules.candidates_per_record = count()?,
                other => return Err(format!("line {}: unknown key {other:?}", i + 1)),
            }
        }
        if !(0.0..=1.0).contains(&rules.possible) || rules.likely < rules.possible {
            return Err("thresholds must satisfy 0 <= possible <= likely <= 1".into());
        }
        Ok(rules)
    }

    pub fn load(path: &Path) -> Result<ReviewRules, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn band(&self, probability: f32) -> Option<Band> {
        if probability >= self.likely {
            Some(Band::Likely)
        } else if probability >= self.possible {
            Some(Band::Possible)
        } else {
            None
        }
    }
}

/// The matcher on the search index: an inquiry's sought child (names, parents,
/// place, birth date or age, sex) is searched among children, and a child among
/// inquiries; the search score is the probability and its reasons the explanation.
pub struct SearchMatcher<'a> {
    pub index: &'a SearchIndex,
    pub rules: ReviewRules,
}

/// The search that looks for `record`'s counterparts.
pub fn counterpart_query(record: &Record) -> Option<SearchQuery> {
    let mut q = SearchQuery {
        kind: Some(match record.kind() {
            RecordKind::Child => RecordKind::Inquiry,
            RecordKind::Inquiry => RecordKind::Child,
        }),
        ..SearchQuery::default()
    };
    let names: Vec<&str> = record.own_names().collect();
    q.name = (!names.is_empty()).then(|| names.join(" "));
    q.father = record.father_name.clone();
    q.mother = record.mother_name.clone();
    q.place = record
        .origin
        .village
        .clone()
        .or_else(|| record.origin.district.clone());
    q.born = record.birth_date;
    if q.born.is_none() {
        if let Some(age) = record.age {
            q.age = Some(age.years);
            q.today = age.recorded_on.bounds().0;
        }
    }
    q.sex = Some(record.sex).filter(|s| *s != crate::record::Sex::Unknown);
    // A child without consent is seen only by its own agency's inquiries; an
    // inquiry looks among children as its agency would.
    q.viewer_agency = Some(record.agency.clone());
    if record.kind() == RecordKind::Child && !record.tracing_consent() {
        q.only_agency = Some(record.agency.clone());
    }
    (q.name.is_some() || q.father.is_some() || q.mother.is_some()).then_some(q)
}

fn explain(reasons: &[String]) -> Vec<ComparisonExplanation> {
    reasons
        .iter()
        .map(|r| match r.split_once(':') {
            Some((field, detail)) => ComparisonExplanation {
                field: field.trim().to_string(),
                detail: detail.trim().to_string(),
                level: None,
                weight: None,
            },
            None => ComparisonExplanation {
                field: "record".into(),
                detail: r.clone(),
                level: None,
                weight: None,
            },
        })
        .collect()
}

impl Matcher for SearchMatcher<'_> {
    fn propose(&self, record: &Record) -> Result<Vec<Proposal>, MatcherError> {
        let Some(mut q) = counterpart_query(record) else {
            return Ok(Vec::new());
        };
        q.limit = self.rules.max_per_record;
        let own = record.key();
        let mut out = Vec::new();
        for hit in self.index.search(&q)? {
            let Some(band) = self.rules.band(hit.score) else {
                continue;
            };
            // A child without consent: only its own agency's inquiries.
            if !record.tracing_consent() && hit.key.agency != record.agency {
                continue;
            }
            let (child, inquiry) = match record.kind() {
                RecordKind::Child => (own.clone(), hit.key),
                RecordKind::Inquiry => (hit.key, own.clone()),
            };
            out.push(Proposal {
                child,
                inquiry,
                probability: hit.score,
                band,
                explanation: explain(&hit.reasons),
                note: None,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_rules_parse() {
        let r = ReviewRules::parse(DEFAULT_RULES).unwrap();
        assert!(r.likely >= r.possible);
        assert_eq!(r.band(1.0), Some(Band::Likely));
        assert_eq!(r.band(0.0), None);
        assert!(ReviewRules::parse("likely = x").is_err());
        assert!(ReviewRules::parse("likely = 0.1\npossible = 0.5").is_err());
        assert_eq!(r.candidates_per_record, 20);
        assert_eq!(
            ReviewRules::parse("candidates_per_record = 7")
                .unwrap()
                .candidates_per_record,
            7
        );
    }
}
