//! Import: files of children or inquiries into the store, validated row by row.
//!
//! By default a file is all or nothing: every row is checked, every problem is
//! reported (`FILE:LINE: field: reason`), and if there is any, nothing of that file
//! is stored. With `skip_invalid`, valid rows are stored in batches (each batch one
//! transaction) and the rejected ones are written, with their reasons, to a
//! `.rejected.csv` file beside the input.

mod read;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

pub use read::{CsvRows, Format, HeaderError, Item, JsonLines, RowSource};

use crate::record::{RawRow, RecordKind, RowParser};
use crate::store::{ImportCounts, Store, StoreError};

/// Where rows come from.
#[derive(Debug, Clone)]
pub enum Input {
    File {
        path: PathBuf,
        format: Format,
    },
    /// Standard input, named `-` in messages.
    Stdin {
        format: Format,
    },
}

impl Input {
    /// A file, its format from its extension unless given.
    pub fn file(path: impl Into<PathBuf>, format: Option<Format>) -> Result<Input, ImportError> {
        let path = path.into();
        let format = match format.or_else(|| Format::from_path(&path)) {
            Some(f) => f,
            None => return Err(ImportError::UnknownFormat(path)),
        };
        Ok(Input::File { path, format })
    }

    /// How messages name this input.
    pub fn name(&self) -> String {
        match self {
            Input::File { path, .. } => path.display().to_string(),
            Input::Stdin { .. } => "-".to_string(),
        }
    }

    fn format(&self) -> Format {
        match self {
            Input::File { format, .. } | Input::Stdin { format } => *format,
        }
    }

    /// Where rejected rows go: `FILE.rejected.csv`, or `stdin.rejected.csv`.
    pub fn default_rejected_path(&self) -> PathBuf {
        match self {
            Input::File { path, .. } => {
                let mut name = path.file_name().unwrap_or_default().to_os_string();
                name.push(".rejected.csv");
                path.with_file_name(name)
            }
            Input::Stdin { .. } => PathBuf::from("stdin.rejected.csv"),
        }
    }

    fn open(&self) -> Result<(Box<dyn Read>, Option<u64>), ImportError> {
        match self {
            Input::File { path, .. } => {
                let file =
                    File::open(path).map_err(|e| ImportError::Io(path.display().to_string(), e))?;
                let len = file.metadata().ok().map(|m| m.len());
                Ok((Box::new(file), len))
            }
            Input::Stdin { .. } => Ok((Box::new(std::io::stdin()), None)),
        }
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub kind: RecordKind,
    /// `--tracing-consent`: consent stated for every row of files without the column.
    pub consent_for_all: Option<bool>,
    pub skip_invalid: bool,
    /// Rows per transaction with `skip_invalid`.
    pub batch_size: usize,
    /// Who imports, for the `imports` table and the audit log.
    pub actor: String,
    /// Where rejected rows go with `skip_invalid`; default beside the input.
    pub rejected_path: Option<PathBuf>,
}

impl ImportOptions {
    pub fn new(kind: RecordKind) -> Self {
        ImportOptions {
            kind,
            consent_for_all: None,
            skip_invalid: false,
            batch_size: 10_000,
            actor: "local".into(),
            rejected_path: None,
        }
    }
}

/// One rejected row, or a problem of the whole file (line 1: its header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub reason: String,
}

/// What importing one input did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub source: String,
    pub counts: ImportCounts,
    pub errors: Vec<RowError>,
    /// False when the file was refused whole: nothing of it was stored.
    pub stored: bool,
    pub rejected_file: Option<PathBuf>,
}

impl ImportReport {
    /// Errors as `FILE:LINE: field: reason`, one per line.
    pub fn error_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.errors
            .iter()
            .map(|e| format!("{}:{}: {}: {}", self.source, e.line, e.field, e.reason))
    }
}

/// Progress of one import, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub bytes_read: u64,
    pub bytes_total: Option<u64>,
    pub rows_read: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: cannot tell the format from the name; use a .csv or .jsonl file, or --format")]
    UnknownFormat(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How often, in rows, progress is reported.
const PROGRESS_EVERY: u64 = 4096;

/// Imports one input into the store. Row problems are in the report, not errors:
/// an `Err` means the import could not run (unreadable file, database failure),
/// and then nothing of the current transaction was stored.
pub fn import(
    store: &mut Store,
    input: &Input,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportReport, ImportError> {
    let name = input.name();
    let (reader, bytes_total) = input.open()?;
    let reader = BufReader::with_capacity(1 << 16, reader);
    let mut source: Box<dyn RowSource> = match input.format() {
        Format::Csv => match CsvRows::new(reader) {
            Ok(rows) => Box::new(rows),
            Err(HeaderError(reason)) => return Ok(refused(name, "(header)", reason)),
        },
        Format::JsonLines => Box::new(JsonLines::new(reader)),
    };
    let parser = RowParser::new(opts.kind, opts.consent_for_all);
    if let Some(header) = source.header() {
        let problems = parser.check_columns(header);
        if !problems.is_empty() {
            let errors = problems
                .into_iter()
                .map(|e| RowError {
                    line: 1,
                    field: e.field,
                    reason: e.reason,
                })
                .collect();
            return Ok(ImportReport {
                source: name,
                counts: ImportCounts::default(),
                errors,
                stored: false,
                rejected_file: None,
            });
        }
    }

    let import_id = store.begin_import(opts.kind, &name, &opts.actor)?;
    let mut rejected = if opts.skip_invalid {
        let path = opts
            .rejected_path
            .clone()
            .unwrap_or_else(|| input.default_rejected_path());
        Some(RejectedWriter::new(
            path,
            source.header().map(|h| h.to_vec()),
        ))
    } else {
        None
    };
    let mut counts = ImportCounts::default();
    let mut errors = Vec::new();
    // Keys seen in this input, to catch the same record twice in one file.
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    let mut batch = store.batch(Some(import_id))?;
    let mut in_batch = 0usize;
    // Counts of the open transaction, added to `counts` only once it commits.
    let mut pending = ImportCounts::default();

    while let Some(item) = source.next_item() {
        let item = item.map_err(|e| ImportError::Io(name.clone(), e))?;
        counts.read += 1;
        if counts.read % PROGRESS_EVERY == 0 {
            progress(Progress {
                bytes_read: source.bytes_read(),
                bytes_total,
                rows_read: counts.read,
            });
        }
        let (row_errors, raw) = match item {
            Item::Unreadable {
                line,
                field,
                reason,
                raw,
            } => (
                vec![RowError {
                    line,
                    field,
                    reason,
                }],
                Rejected::Text(raw),
            ),
            Item::Row(row) => match check_row(&parser, opts, &row, &mut seen) {
                Ok(record) => {
                    // Once the file is refused there is no point writing more of it.
                    if opts.skip_invalid || errors.is_empty() {
                        pending.add(batch.upsert(&record)?);
                        in_batch += 1;
                    }
                    if opts.skip_invalid && in_batch >= opts.batch_size {
                        batch.commit()?;
                        counts.merge(&pending);
                        pending = ImportCounts::default();
                        in_batch = 0;
                        batch = store.batch(Some(import_id))?;
                    }
                    continue;
                }
                Err(errs) => (errs, Rejected::Row(row)),
            },
        };
        counts.rejected += 1;
        if let Some(w) = rejected.as_mut() {
            w.write(&raw, &row_errors)
                .map_err(|e| ImportError::Io(w.path.display().to_string(), e))?;
        }
        errors.extend(row_errors);
    }
    progress(Progress {
        bytes_read: source.bytes_read(),
        bytes_total,
        rows_read: counts.read,
    });

    let stored = opts.skip_invalid || errors.is_empty();
    if stored {
        batch.commit()?;
        counts.merge(&pending);
    } else {
        drop(batch);
    }
    store.finish_import(import_id, &counts)?;
    let rejected_file = match rejected {
        Some(w) => w.finish().map_err(|(p, e)| ImportError::Io(p, e))?,
        None => None,
    };
    Ok(ImportReport {
        source: name,
        counts,
        errors,
        stored,
        rejected_file,
    })
}

fn refused(source: String, field: &str, reason: String) -> ImportReport {
    ImportReport {
        source,
        counts: ImportCounts::default(),
        errors: vec![RowError {
            line: 1,
            field: field.into(),
            reason,
        }],
        stored: false,
        rejected_file: None,
    }
}

/// Parses a row and checks what only the whole file can tell: the same record twice.
fn check_row(
    parser: &RowParser,
    opts: &ImportOptions,
    row: &RawRow,
    seen: &mut HashMap<(String, String), u64>,
) -> Result<crate::record::Record, Vec<RowError>> {
    let to_row_errors = |errs: Vec<crate::record::FieldError>| {
        errs.into_iter()
            .map(|e| RowError {
                line: row.line,
                field: e.field,
                reason: e.reason,
            })
            .collect::<Vec<_>>()
    };
    // JSON Lines has no header to check once; a row stating consent beside
    // --tracing-consent is as ambiguous as such a column.
    if opts.kind == RecordKind::Child
        && opts.consent_for_all.is_some()
        && row
            .get("tracing_consent")
            .is_some_and(|v| !v.trim().is_empty())
    {
        return Err(vec![RowError {
            line: row.line,
            field: "tracing_consent".into(),
            reason: "given in the row and by --tracing-consent".into(),
        }]);
    }
    let record = parser.parse(row).map_err(to_row_errors)?;
    let key = (record.agency.clone(), record.record_id.clone());
    if let Some(first) = seen.get(&key) {
        return Err(vec![RowError {
            line: row.line,
            field: "record_id".into(),
            reason: format!("the same agency and record_id are on line {first} of this file"),
        }]);
    }
    seen.insert(key, row.line);
    Ok(record)
}

enum Rejected {
    Row(RawRow),
    Text(String),
}

/// Writes rejected rows, created on the first one.
struct RejectedWriter {
    path: PathBuf,
    header: Option<Vec<String>>,
    writer: Option<csv::Writer<File>>,
}

impl RejectedWriter {
    fn new(path: PathBuf, header: Option<Vec<String>>) -> Self {
        RejectedWriter {
            path,
            header,
            writer: None,
        }
    }

    fn write(&mut self, row: &Rejected, errors: &[RowError]) -> std::io::Result<()> {
        if self.writer.is_none() {
            let mut w = csv::Writer::from_path(&self.path)?;
            let mut head = vec!["rejected_line".to_string(), "rejected_reasons".to_string()];
            match &self.header {
                Some(h) => head.extend(h.iter().cloned()),
                None => head.push("original".into()),
            }
            w.write_record(&head)?;
            self.writer = Some(w);
        }
        let w = self.writer.as_mut().expect("created above");
        let reasons = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.reason))
            .collect::<Vec<_>>()
            .join("; ");
        let line = errors.first().map_or(0, |e| e.line).to_string();
        let mut out = vec![line, reasons];
        match (row, &self.header) {
            (Rejected::Row(r), Some(h)) if r.values.len() == h.len() => {
                out.extend(r.values.iter().cloned())
            }
            (Rejected::Row(r), None) => {
                let obj: serde_json::Map<String, serde_json::Value> = r
                    .iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                    .collect();
                out.push(serde_json::Value::Object(obj).to_string());
            }
            (Rejected::Text(t), None) => out.push(t.clone()),
            (_, Some(h)) => {
                // A row too broken to split into the header's columns: keep its text
                // in the first column so nothing typed is lost.
                let text = match row {
                    Rejected::Text(t) => t.clone(),
                    Rejected::Row(r) => r.values.join(","),
                };
                out.push(text);
                out.extend(std::iter::repeat_n(
                    String::new(),
                    h.len().saturating_sub(1),
                ));
            }
        }
        w.write_record(&out)?;
        Ok(())
    }

    fn finish(self) -> Result<Option<PathBuf>, (String, std::io::Error)> {
        match self.writer {
            Some(mut w) => {
                w.flush()
                    .map_err(|e| (self.path.display().to_string(), e))?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }
}
