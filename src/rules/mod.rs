//! Rule files: which column identifies a record, which columns to compare and how,
//! which keys make candidate pairs, how to train, and the match threshold.
//!
//! Rule files are TOML (see `matching-rules/README.md`). Every error names the file,
//! the line and the problem: syntax errors through the TOML parser's spans, semantic
//! ones (an unknown comparator, a column the data lacks) through the span of the
//! offending key.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::compare::{Level, MAX_LEVELS};

/// Most comparisons a rule file may declare (the model packs a pair's levels into
/// one 64-bit pattern, four bits each).
pub const MAX_COMPARISONS: usize = 16;

/// An error in a rule file, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesError {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file.display(), l, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for RulesError {}

/// A value and the line it was declared on.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
}

/// How a blocking key is derived from a column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyTransform {
    /// The value itself.
    Value,
    /// The Double Metaphone primary code.
    Metaphone,
    /// The first N characters.
    Prefix(usize),
    /// This column's and another's values as an unordered pair: equal for records
    /// holding the two values either way round (given name and surname swapped).
    Unordered(String),
}

/// One part of a blocking key: a column and how it is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPart {
    pub column: String,
    pub transform: KeyTransform,
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.transform {
            KeyTransform::Value => f.write_str(&self.column),
            KeyTransform::Metaphone => write!(f, "metaphone({})", self.column),
            KeyTransform::Prefix(n) => write!(f, "prefix({}, {n})", self.column),
            KeyTransform::Unordered(o) => write!(f, "unordered({}, {o})", self.column),
        }
    }
}

/// Records whose keys are all present and equal make a candidate pair.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockingRule {
    pub parts: Vec<Located<KeyPart>>,
    pub line: usize,
}

impl BlockingRule {
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().flat_map(|p| {
            let other = match &p.value.transform {
                KeyTransform::Unordered(o) => Some(o.as_str()),
                _ => None,
            };
            std::iter::once(p.value.column.as_str()).chain(other)
        })
    }
}

impl fmt::Display for BlockingRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.parts.iter().map(|p| p.value.to_string()).collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

/// One comparison: a column and its levels.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonSpec {
    pub name: String,
    pub column: Located<String>,
    /// The other column of a `swapped_with` level, if any.
    pub swap_column: Option<Located<String>>,
    pub levels: Vec<Level>,
    /// Term-frequency adjustment of the exact level.
    pub tf_adjustment: bool,
    pub line: usize,
}

/// How the model is trained.
#[derive(Debug, Clone, PartialEq)]
pub struct Training {
    /// Seed of every random choice (u sampling, EM pair sampling).
    pub seed: u64,
    /// Random pairs drawn to estimate u.
    pub u_sample_pairs: u64,
    /// The blocking rules of the EM sessions; by default the prediction rules.
    pub em_blocking: Vec<BlockingRule>,
    /// Most pairs each EM session looks at (sampled evenly beyond that).
    pub em_max_pairs: u64,
    pub em_max_iterations: u32,
    /// EM stops when no parameter moves more than this.
    pub em_tolerance: f64,
    /// A fixed prior probability that two random records match, instead of estimating it.
    pub prior: Option<f64>,
}

/// A parsed, checked rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub path: PathBuf,
    pub id_column: Located<String>,
    /// Pairs whose match probability is at or above this are written.
    pub match_threshold: f64,
    pub comparisons: Vec<ComparisonSpec>,
    pub blocking: Vec<BlockingRule>,
    pub training: Training,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    id_column: Spanned<String>,
    match_threshold: Spanned<f64>,
    #[serde(default)]
    blocking: Vec<Spanned<RawBlocking>>,
    #[serde(default)]
    comparison: Vec<Spanned<RawComparison>>,
    #[serde(default)]
    training: Option<RawTraining>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlocking {
    on: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComparison {
    name: Option<String>,
    column: Spanned<String>,
    levels: Spanned<Vec<Spanned<toml::Value>>>,
    #[serde(default)]
    tf_adjustment: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTraining {
    seed: Option<u64>,
    u_sample_pairs: Option<Spanned<u64>>,
    em_blocking: Option<Vec<Spanned<Vec<Spanned<String>>>>>,
    em_max_pairs: Option<Spanned<u64>>,
    em_max_iterations: Option<Spanned<u32>>,
    em_tolerance: Option<Spanned<f64>>,
    prior: Option<Spanned<f64>>,
}

impl Rules {
    /// Reads and checks a rule file.
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|e| RulesError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Rules::parse(path, &text)
    }

    /// Parses and checks rule-file text; `path` is used in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Rules, RulesError> {
        let at = |offset: usize, message: String| RulesError {
            file: path.to_path_buf(),
            line: Some(line_of(text, offset)),
            message,
        };
        let raw: RawRules = toml::from_str(text).map_err(|e| RulesError {
            file: path.to_path_buf(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        })?;

        let id_column = located(text, &raw.id_column);
        if id_column.value.trim().is_empty() {
            return Err(at(raw.id_column.span().start, "id_column is empty".into()));
        }
        let t = *raw.match_threshold.get_ref();
        if !(t > 0.0 && t < 1.0) {
            return Err(at(
                raw.match_threshold.span().start,
                format!(
                    "match_threshold must be a probability between 0 and 1 (exclusive), got {t}"
                ),
            ));
        }

        if raw.comparison.is_empty() {
            return Err(RulesError {
                file: path.to_path_buf(),
                line: None,
                message: "no [[comparison]] declared".into(),
            });
        }
        if raw.comparison.len() > MAX_COMPARISONS {
            return Err(at(
                raw.comparison[MAX_COMPARISONS].span().start,
                format!("at most {MAX_COMPARISONS} comparisons are supported"),
            ));
        }
        let mut comparisons = Vec::new();
        for c in &raw.comparison {
            let rc = c.get_ref();
            let mut levels = Vec::new();
            let mut swap_column: Option<Located<String>> = None;
            for l in rc.levels.get_ref() {
                let level = parse_level(l.get_ref()).map_err(|m| at(l.span().start, m))?;
                if let Level::SwappedWith(other) = &level {
                    if swap_column.as_ref().is_some_and(|s| s.value != *other) {
                        return Err(at(
                            l.span().start,
                            "a comparison can swap with one other column only".into(),
                        ));
                    }
                    if *other == *rc.column.get_ref() {
                        return Err(at(
                            l.span().start,
                            "swapped_with names the comparison's own column".into(),
                        ));
                    }
                    swap_column = Some(Located {
                        value: other.clone(),
                        line: line_of(text, l.span().start),
                    });
                }
                levels.push(level);
            }
            if levels.is_empty() {
                return Err(at(
                    rc.levels.span().start,
                    "a comparison needs at least one level".into(),
                ));
            }
            if levels.len() > MAX_LEVELS {
                return Err(at(
                    rc.levels.span().start,
                    format!("at most {MAX_LEVELS} levels per comparison are supported"),
                ));
            }
            if rc.tf_adjustment && levels[0] != Level::Exact {
                return Err(at(
                    c.span().start,
                    "tf_adjustment applies to an \"exact\" first level; this comparison has none"
                        .into(),
                ));
            }
            let column = located(text, &rc.column);
            let name = rc.name.clone().unwrap_or_else(|| column.value.clone());
            if comparisons.iter().any(|x: &ComparisonSpec| x.name == name) {
                return Err(at(
                    c.span().start,
                    format!("two comparisons are named `{name}`; give one a `name`"),
                ));
            }
            comparisons.push(ComparisonSpec {
                name,
                column,
                swap_column,
                levels,
                tf_adjustment: rc.tf_adjustment,
                line: line_of(text, c.span().start),
            });
        }

        if raw.blocking.is_empty() {
            return Err(RulesError {
                file: path.to_path_buf(),
                line: None,
                message: "no [[blocking]] rule declared: comparing all pairs is not supported"
                    .into(),
            });
        }
        let mut blocking = Vec::new();
        for b in &raw.blocking {
            blocking.push(
                parse_blocking(text, b.get_ref().on.get_ref(), b.span().start)
                    .map_err(|(off, m)| at(off.unwrap_or(b.span().start), m))?,
            );
        }

        let tr = raw.training.unwrap_or(RawTraining {
            seed: None,
            u_sample_pairs: None,
            em_blocking: None,
            em_max_pairs: None,
            em_max_iterations: None,
            em_tolerance: None,
            prior: None,
        });
        let em_blocking = match &tr.em_blocking {
            None => blocking.clone(),
            Some(rules) => {
                let mut out = Vec::new();
                for r in rules {
                    out.push(
                        parse_blocking(text, r.get_ref(), r.span().start)
                            .map_err(|(off, m)| at(off.unwrap_or(r.span().start), m))?,
                    );
                }
                out
            }
        };
        if em_blocking.is_empty() {
            return Err(RulesError {
                file: path.to_path_buf(),
                line: None,
                message: "training.em_blocking is empty".into(),
            });
        }
        let positive = |v: &Option<Spanned<u64>>, name: &str, default: u64| match v {
            Some(s) if *s.get_ref() == 0 => {
                Err(at(s.span().start, format!("{name} must be positive")))
            }
            Some(s) => Ok(*s.get_ref()),
            None => Ok(default),
        };
        let u_sample_pairs = positive(&tr.u_sample_pairs, "u_sample_pairs", 1_000_000)?;
        let em_max_pairs = positive(&tr.em_max_pairs, "em_max_pairs", 1_000_000)?;
        let em_max_iterations = match &tr.em_max_iterations {
            Some(s) if *s.get_ref() == 0 => {
                return Err(at(
                    s.span().start,
                    "em_max_iterations must be positive".into(),
                ))
            }
            Some(s) => *s.get_ref(),
            None => 50,
        };
        let em_tolerance = match &tr.em_tolerance {
            Some(s) if s.get_ref().is_nan() || *s.get_ref() <= 0.0 => {
                return Err(at(s.span().start, "em_tolerance must be positive".into()))
            }
            Some(s) => *s.get_ref(),
            None => 1e-5,
        };
        let prior = match &tr.prior {
            Some(s) if !(*s.get_ref() > 0.0 && *s.get_ref() < 1.0) => {
                return Err(at(
                    s.span().start,
                    "prior must be a probability between 0 and 1".into(),
                ))
            }
            Some(s) => Some(*s.get_ref()),
            None => None,
        };

        // The id column identifies records; it is not evidence.
        let id = id_column.value.as_str();
        for c in &comparisons {
            if let Some(l) = std::iter::once(&c.column)
                .chain(&c.swap_column)
                .find(|x| x.value == id)
            {
                return Err(RulesError {
                    file: path.to_path_buf(),
                    line: Some(l.line),
                    message: format!("`{id}` is the id column and cannot be compared"),
                });
            }
        }
        for b in blocking.iter().chain(&em_blocking) {
            if b.columns().any(|c| c == id) {
                return Err(RulesError {
                    file: path.to_path_buf(),
                    line: Some(b.line),
                    message: format!("`{id}` is the id column and cannot be a blocking key"),
                });
            }
        }

        Ok(Rules {
            path: path.to_path_buf(),
            id_column,
            match_threshold: t,
            comparisons,
            blocking,
            training: Training {
                seed: tr.seed.unwrap_or(42),
                u_sample_pairs,
                em_blocking,
                em_max_pairs,
                em_max_iterations,
                em_tolerance,
                prior,
            },
        })
    }

    /// Every column the rules read, each once, in order of first mention.
    pub fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![self.id_column.value.as_str()];
        let compared = self.comparisons.iter().flat_map(|c| {
            std::iter::once(c.column.value.as_str())
                .chain(c.swap_column.as_ref().map(|s| s.value.as_str()))
        });
        let blocked = self
            .blocking
            .iter()
            .chain(&self.training.em_blocking)
            .flat_map(|b| b.columns());
        for c in compared.chain(blocked) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// Checks that a data file's header has every column the rules name; the error
    /// points at the first rule line naming a missing column.
    pub fn check_columns(&self, header: &[String], data_file: &Path) -> Result<(), RulesError> {
        let missing = |name: &str, line: usize| RulesError {
            file: self.path.clone(),
            line: Some(line),
            message: format!(
                "column `{name}` is not in {} (its columns: {})",
                data_file.display(),
                header.join(", ")
            ),
        };
        let has = |c: &str| header.iter().any(|h| h == c);
        if !has(&self.id_column.value) {
            return Err(missing(&self.id_column.value, self.id_column.line));
        }
        for c in &self.comparisons {
            if !has(&c.column.value) {
                return Err(missing(&c.column.value, c.column.line));
            }
            if let Some(s) = c.swap_column.as_ref().filter(|s| !has(&s.value)) {
                return Err(missing(&s.value, s.line));
            }
        }
        for b in self.blocking.iter().chain(&self.training.em_blocking) {
            for p in &b.parts {
                if !has(&p.value.column) {
                    return Err(missing(&p.value.column, p.line));
                }
                if let KeyTransform::Unordered(o) = &p.value.transform {
                    if !has(o) {
                        return Err(missing(o, p.line));
                    }
                }
            }
        }
        Ok(())
    }
}

fn located(text: &str, s: &Spanned<String>) -> Located<String> {
    Located {
        value: s.get_ref().clone(),
        line: line_of(text, s.span().start),
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

type Located2 = (Option<usize>, String);

fn parse_blocking(
    text: &str,
    parts: &[Spanned<String>],
    start: usize,
) -> Result<BlockingRule, Located2> {
    if parts.is_empty() {
        return Err((Some(start), "a blocking rule needs at least one key".into()));
    }
    let mut out = Vec::new();
    for p in parts {
        let part = parse_key(p.get_ref()).map_err(|m| (Some(p.span().start), m))?;
        out.push(Located {
            value: part,
            line: line_of(text, p.span().start),
        });
    }
    Ok(BlockingRule {
        parts: out,
        line: line_of(text, start),
    })
}

/// `column`, `metaphone(column)`, `prefix(column, N)` or `unordered(column, other)`.
fn parse_key(s: &str) -> Result<KeyPart, String> {
    let s = s.trim();
    let Some(open) = s.find('(') else {
        if s.is_empty() {
            return Err("empty blocking key".into());
        }
        return Ok(KeyPart {
            column: s.to_string(),
            transform: KeyTransform::Value,
        });
    };
    let func = s[..open].trim();
    let Some(inner) = s[open + 1..].strip_suffix(')') else {
        return Err(format!("blocking key `{s}`: missing `)`"));
    };
    let args: Vec<&str> = inner.split(',').map(str::trim).collect();
    let column = args[0].to_string();
    if column.is_empty() {
        return Err(format!("blocking key `{s}`: no column"));
    }
    let transform = match (func, args.len()) {
        ("metaphone", 1) => KeyTransform::Metaphone,
        ("prefix", 2) => match args[1].parse::<usize>() {
            Ok(n) if n > 0 => KeyTransform::Prefix(n),
            _ => {
                return Err(format!(
                    "blocking key `{s}`: prefix length must be a positive integer"
                ))
            }
        },
        ("unordered", 2) if !args[1].is_empty() && args[1] != args[0] => {
            KeyTransform::Unordered(args[1].to_string())
        }
        ("metaphone" | "prefix" | "unordered", _) => {
            return Err(format!(
                "blocking key `{s}`: expected metaphone(column), prefix(column, N) or \
                 unordered(column, other column)"
            ))
        }
        _ => {
            return Err(format!(
                "blocking key `{s}`: unknown key function `{func}` (expected metaphone, prefix or unordered)"
            ))
        }
    };
    Ok(KeyPart { column, transform })
}

const LEVEL_KINDS: &str = "\"exact\", \"phonetic\", \"date_swapped_day_month\", \
{ swapped_with = COLUMN }, { jaro_winkler = T }, { jaro = T }, { levenshtein = K }, { damerau_levenshtein = K }, \
{ date_within_days = D }, { numeric_within = X }";

fn parse_level(v: &toml::Value) -> Result<Level, String> {
    match v {
        toml::Value::String(s) => match s.as_str() {
            "exact" => Ok(Level::Exact),
            "phonetic" => Ok(Level::Phonetic),
            "date_swapped_day_month" => Ok(Level::DateSwappedDayMonth),
            other => Err(format!(
                "unknown comparator `{other}` (expected one of {LEVEL_KINDS})"
            )),
        },
        toml::Value::Table(t) if t.len() == 1 => {
            let (k, v) = t.iter().next().expect("one entry");
            let similarity =
                |v: &toml::Value| match v.as_float().or(v.as_integer().map(|i| i as f64)) {
                    Some(x) if (0.0..=1.0).contains(&x) => Ok(x),
                    _ => Err(format!("`{k}` needs a similarity between 0 and 1")),
                };
            let count = |v: &toml::Value| match v.as_integer() {
                Some(x) if (0..=u32::MAX as i64).contains(&x) => Ok(x as u32),
                _ => Err(format!("`{k}` needs a non-negative integer")),
            };
            match k.as_str() {
                "jaro_winkler" => similarity(v).map(Level::JaroWinkler),
                "jaro" => similarity(v).map(Level::Jaro),
                "levenshtein" => count(v).map(Level::Levenshtein),
                "damerau_levenshtein" => count(v).map(Level::DamerauLevenshtein),
                "date_within_days" => count(v).map(Level::DateWithinDays),
                "swapped_with" => match v.as_str() {
                    Some(c) if !c.trim().is_empty() => Ok(Level::SwappedWith(c.trim().to_string())),
                    _ => Err("`swapped_with` needs a column name".into()),
                },
                "numeric_within" => match v.as_float().or(v.as_integer().map(|i| i as f64)) {
                    Some(x) if x >= 0.0 => Ok(Level::NumericWithin(x)),
                    _ => Err("`numeric_within` needs a non-negative number".into()),
                },
                other => Err(format!(
                    "unknown comparator `{other}` (expected one of {LEVEL_KINDS})"
                )),
            }
        }
        _ => Err(format!("a level is one of {LEVEL_KINDS}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id_column = "rec_id"
match_threshold = 0.5

[[blocking]]
on = ["given_name", "surname"]

[[blocking]]
on = ["metaphone(surname)", "prefix(dob, 4)"]

[[blocking]]
on = ["unordered(given_name, surname)"]

[[comparison]]
column = "given_name"
tf_adjustment = true
levels = ["exact", { jaro_winkler = 0.92 }, "phonetic"]

[[comparison]]
column = "dob"
levels = ["exact", "date_swapped_day_month", { date_within_days = 31 }, { levenshtein = 1 }]

[training]
u_sample_pairs = 1000
em_blocking = [["dob"], ["given_name"]]
"#;

    fn parse(text: &str) -> Result<Rules, RulesError> {
        Rules::parse(Path::new("rules/test.toml"), text)
    }

    #[test]
    fn parses_a_good_file() {
        let r = parse(GOOD).unwrap();
        assert_eq!(r.id_column.value, "rec_id");
        assert_eq!(r.comparisons.len(), 2);
        assert_eq!(r.comparisons[0].levels[1], Level::JaroWinkler(0.92));
        assert!(r.comparisons[0].tf_adjustment);
        assert_eq!(r.comparisons[1].column.line, 20);
        assert_eq!(
            r.blocking[1].parts[0].value.transform,
            KeyTransform::Metaphone
        );
        assert_eq!(
            r.blocking[1].parts[1].value.transform,
            KeyTransform::Prefix(4)
        );
        assert_eq!(
            r.blocking[2].parts[0].value.transform,
            KeyTransform::Unordered("surname".into())
        );
        assert_eq!(r.training.u_sample_pairs, 1000);
        assert_eq!(r.training.em_blocking.len(), 2);
        assert_eq!(r.training.seed, 42);
        assert_eq!(r.columns(), vec!["rec_id", "given_name", "dob", "surname"]);
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let text = GOOD.replace("match_threshold = 0.5", "match_threshold = = 0.5");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(3));
        let shown = e.to_string();
        assert!(shown.starts_with("rules/test.toml:3: "), "{shown}");
    }

    #[test]
    fn unknown_comparator_points_at_its_line() {
        let text = GOOD.replace("\"phonetic\"]", "\"soundex\"]");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(17), "{e}");
        assert!(e.message.contains("unknown comparator `soundex`"), "{e}");
    }

    #[test]
    fn unknown_key_and_bad_values_point_at_their_lines() {
        let text = GOOD.replace("tf_adjustment = true", "tf_adjustmnt = true");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(16), "{e}");
        assert!(e.message.contains("tf_adjustmnt"), "{e}");

        let text = GOOD.replace("{ jaro_winkler = 0.92 }", "{ jaro_winkler = 1.5 }");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(17), "{e}");

        let text = GOOD.replace("match_threshold = 0.5", "match_threshold = 1.5");
        assert_eq!(parse(&text).unwrap_err().line, Some(3));

        let text = GOOD.replace("prefix(dob, 4)", "suffix(dob, 4)");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(9), "{e}");
        assert!(e.message.contains("unknown key function `suffix`"), "{e}");

        let text = GOOD.replace("u_sample_pairs = 1000", "u_sample_pairs = 0");
        assert_eq!(parse(&text).unwrap_err().line, Some(24));
    }

    #[test]
    fn the_id_column_is_not_evidence() {
        let e = parse(&GOOD.replace("column = \"dob\"", "column = \"rec_id\"")).unwrap_err();
        assert_eq!(e.line, Some(20), "{e}");
        assert!(e.message.contains("id column"), "{e}");
        let e = parse(&GOOD.replace("on = [\"given_name\", \"surname\"]", "on = [\"rec_id\"]"))
            .unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
    }

    #[test]
    fn missing_required_keys_and_sections() {
        let e = parse(&GOOD.replace("id_column = \"rec_id\"\n", "")).unwrap_err();
        assert!(e.message.contains("id_column"), "{e}");
        let text = "id_column = \"id\"\nmatch_threshold = 0.9\n[[blocking]]\non = [\"a\"]\n";
        let e = parse(text).unwrap_err();
        assert!(e.message.contains("no [[comparison]]"), "{e}");
    }

    #[test]
    fn unknown_column_points_at_the_rule_line() {
        let r = parse(GOOD).unwrap();
        let header: Vec<String> = ["rec_id", "given_name", "surname"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = r.check_columns(&header, Path::new("a.csv")).unwrap_err();
        assert_eq!(e.line, Some(20), "{e}");
        assert!(e
            .to_string()
            .starts_with("rules/test.toml:20: column `dob` is not in a.csv"));
    }
}
