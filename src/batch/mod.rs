//! Batches submitted to the service: a durable job queue in the store.
//!
//! A submitted batch is kept whole (its body) with its state, so that a batch in
//! progress when the process stops resumes on the next start. Rows are stored in
//! chunks; each chunk commits together with the batch's progress, so a resumed
//! batch skips exactly the rows already stored. After each chunk the new records
//! are matched against the other kind and the proposals saved; `matched_rows`
//! says how far that went, so no row is left unmatched by a stop in between.
//!
//! Submitting the same content again (for the same agency and kind), or with the
//! same idempotency key, returns the batch already submitted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::import::{CsvRows, Format, HeaderError, Item, JsonLines, RowSource};
use crate::record::{FieldError, RawRow, Record, RecordKind, RowParser};
use crate::registry::{Registry, RegistryError};
use crate::review::{self, Matching};
use crate::store::{now, Store, StoreError, Upsert};

/// Rows per transaction.
pub const CHUNK_ROWS: usize = 500;
/// Rejected rows kept with a batch, at most (the count is always exact).
const MAX_ERRORS_KEPT: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Review(#[from] review::ReviewError),
    #[error("search: {0}")]
    Search(#[from] crate::search::SearchError),
    #[error("matching: {0}")]
    Matcher(#[from] review::MatcherError),
    #[error("the idempotency key was used for another batch with different content")]
    KeyReused,
    #[error("no such batch")]
    NotFound,
    /// The file cannot be read at all (its header): nothing is queued.
    #[error("the file cannot be imported")]
    Malformed(Vec<RowProblem>),
}

impl From<rusqlite::Error> for BatchError {
    fn from(e: rusqlite::Error) -> Self {
        BatchError::Store(StoreError::Sqlite(e))
    }
}

/// One rejected row (or a problem of the whole file, line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowProblem {
    pub line: u64,
    pub field: String,
    pub reason: String,
}

/// A batch as submitted.
#[derive(Debug, Clone)]
pub struct NewBatch<'a> {
    pub kind: RecordKind,
    /// The submitting agency: every row must be of it. `None` for the local operator.
    pub agency: Option<&'a str>,
    pub actor: &'a str,
    pub format: Format,
    /// Tracing consent for every row of a child file without the column.
    pub consent_for_all: Option<bool>,
    pub idempotency_key: Option<&'a str>,
    pub body: &'a [u8],
}

/// A batch's state and progress, as `GET /batches/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BatchStatus {
    pub id: i64,
    pub kind: String,
    pub agency: Option<String>,
    pub state: String,
    pub rows_read: u64,
    pub imported: u64,
    pub rejected: u64,
    pub rejected_rows: Vec<RowProblem>,
    pub proposals: Vec<i64>,
    pub message: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    #[serde(skip)]
    pub actor: String,
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Csv => "csv",
        Format::JsonLines => "jsonl",
    }
}

fn content_hash(kind: RecordKind, format: Format, consent: Option<bool>, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_str().as_bytes());
    h.update([0]);
    h.update(format_name(format).as_bytes());
    h.update([0, consent.map_or(2, u8::from)]);
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks what can be checked at once (a CSV file's header), so that a file that
/// cannot be read at all is refused with a 400 rather than queued.
pub fn check_header(b: &NewBatch<'_>) -> Result<(), BatchError> {
    if b.format != Format::Csv {
        return Ok(());
    }
    let rows = CsvRows::new(b.body).map_err(|HeaderError(reason)| {
        BatchError::Malformed(vec![RowProblem {
            line: 1,
            field: "(header)".into(),
            reason,
        }])
    })?;
    let mut header: Vec<String> = rows.header().map(|h| h.to_vec()).unwrap_or_default();
    if b.agency.is_some() && !header.iter().any(|h| h == "agency") {
        header.push("agency".into());
    }
    let problems = RowParser::new(b.kind, b.consent_for_all).check_columns(&header);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BatchError::Malformed(
            problems
                .into_iter()
                .map(|e| RowProblem {
                    line: 1,
                    field: e.field,
                    reason: e.reason,
                })
                .collect(),
        ))
    }
}

/// Queues a batch, or finds the one submitted before with the same key or content.
/// Returns its id and whether it is new.
pub fn submit(store: &Store, b: &NewBatch<'_>) -> Result<(i64, bool), BatchError> {
    let hash = content_hash(b.kind, b.format, b.consent_for_all, b.body);
    let conn = store.conn();
    if let Some(key) = b.idempotency_key {
        let found: Option<(i64, String)> = conn
            .query_row(
                "SELECT id, content_hash FROM batches WHERE COALESCE(agency, '') = ?1 AND idempotency_key = ?2",
                params![b.agency.unwrap_or(""), key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((id, h)) = found {
            return if h == hash {
                Ok((id, false))
            } else {
                Err(BatchError::KeyReused)
            };
        }
    }
    let found: Option<i64> = conn
        .query_row(
            "SELECT id FROM batches WHERE COALESCE(agency, '') = ?1 AND kind = ?2 AND content_hash = ?3",
            params![b.agency.unwrap_or(""), b.kind.as_str(), hash],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = found {
        return Ok((id, false));
    }
    conn.execute(
        "INSERT INTO batches (kind, agency, actor, format, consent_for_all, content_hash,
                              idempotency_key, state, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?9)",
        params![
            b.kind.as_str(),
            b.agency,
            b.actor,
            format_name(b.format),
            b.consent_for_all,
            hash,
            b.idempotency_key,
            b.body,
            now()
        ],
    )?;
    Ok((conn.last_insert_rowid(), true))
}

pub fn status(store: &Store, id: i64) -> Result<Option<BatchStatus>, BatchError> {
    let row = store
        .conn()
        .query_row(
            "SELECT id, kind, agency, state, rows_read, imported, rejected, errors, proposals,
                    message, created_at, started_at, finished_at, actor
             FROM batches WHERE id = ?1",
            params![id],
            |r| {
                Ok(BatchStatus {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    agency: r.get(2)?,
                    state: r.get(3)?,
                    rows_read: r.get::<_, i64>(4)? as u64,
                    imported: r.get::<_, i64>(5)? as u64,
                    rejected: r.get::<_, i64>(6)? as u64,
                    rejected_rows: serde_json::from_str(&r.get::<_, String>(7)?)
                        .unwrap_or_default(),
                    proposals: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
                    message: r.get(9)?,
                    created_at: r.get(10)?,
                    started_at: r.get(11)?,
                    finished_at: r.get(12)?,
                    actor: r.get(13)?,
                })
            },
        )
        .optional()?;
    Ok(row)
}

/// The oldest batch not finished (running ones first: they were interrupted).
pub fn next_pending(store: &Store) -> Result<Option<i64>, BatchError> {
    Ok(store
        .conn()
        .query_row(
            "SELECT id FROM batches WHERE state IN ('running', 'queued')
             ORDER BY state = 'queued', id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// Batches waiting or running, and the rows read by the running ones, for metrics.
pub fn queue_counts(store: &Store) -> Result<(u64, u64, u64), BatchError> {
    Ok(store.conn().query_row(
        "SELECT COALESCE(SUM(state = 'queued'), 0), COALESCE(SUM(state = 'running'), 0),
                COALESCE(SUM(CASE WHEN state = 'running' THEN rows_read ELSE 0 END), 0)
         FROM batches",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        },
    )?)
}

/// What a run did: finished, or stopped (to be resumed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Done,
    Stopped,
}

struct Job {
    kind: RecordKind,
    agency: Option<String>,
    actor: String,
    format: Format,
    consent: Option<bool>,
    body: Vec<u8>,
    rows_read: u64,
    imported: u64,
    rejected: u64,
    errors: Vec<RowProblem>,
    proposals: Vec<i64>,
    matched_rows: u64,
}

fn load_job(store: &Store, id: i64) -> Result<Job, BatchError> {
    store
        .conn()
        .query_row(
            "SELECT kind, agency, actor, format, consent_for_all, body, rows_read, imported,
                    rejected, errors, proposals, matched_rows
             FROM batches WHERE id = ?1",
            params![id],
            |r| {
                Ok(Job {
                    kind: r.get::<_, String>(0)?.parse().unwrap_or(RecordKind::Child),
                    agency: r.get(1)?,
                    actor: r.get(2)?,
                    format: if r.get::<_, String>(3)? == "csv" {
                        Format::Csv
                    } else {
                        Format::JsonLines
                    },
                    consent: r.get(4)?,
                    body: r.get(5)?,
                    rows_read: r.get::<_, i64>(6)? as u64,
                    imported: r.get::<_, i64>(7)? as u64,
                    rejected: r.get::<_, i64>(8)? as u64,
                    errors: serde_json::from_str(&r.get::<_, String>(9)?).unwrap_or_default(),
                    proposals: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or_default(),
                    matched_rows: r.get::<_, i64>(11)? as u64,
                })
            },
        )
        .optional()?
        .ok_or(BatchError::NotFound)
}

/// A row with the submitting agency filled in where the row has no agency.
fn with_agency(row: RawRow, agency: Option<&str>) -> RawRow {
    match agency {
        Some(a) if row.get("agency").is_none() => {
            let mut columns = row.columns.to_vec();
            columns.push("agency".into());
            let mut values = row.values;
            values.push(a.to_string());
            RawRow {
                line: row.line,
                columns: columns.into(),
                values,
            }
        }
        _ => row,
    }
}

fn check(
    parser: &RowParser,
    agency: Option<&str>,
    row: &RawRow,
    seen: &mut HashMap<String, u64>,
) -> Result<Record, Vec<RowProblem>> {
    let problems = |errs: Vec<FieldError>| {
        errs.into_iter()
            .map(|e| RowProblem {
                line: row.line,
                field: e.field,
                reason: e.reason,
            })
            .collect::<Vec<_>>()
    };
    if let (Some(own), Some(named)) = (agency, row.get("agency")) {
        let named = named.trim();
        if named != own {
            return Err(vec![RowProblem {
                line: row.line,
                field: "agency".into(),
                reason: format!(
                    "the row names agency {named:?}; this account submits records of {own:?} only"
                ),
            }]);
        }
    }
    let record = parser.parse(row).map_err(problems)?;
    let key = format!("{}/{}", record.agency, record.record_id);
    if let Some(first) = seen.get(&key) {
        return Err(vec![RowProblem {
            line: row.line,
            field: "record_id".into(),
            reason: format!("the same agency and record_id are on line {first} of this batch"),
        }]);
    }
    seen.insert(key, row.line);
    Ok(record)
}

/// Matches records that have just been stored and saves the proposals.
/// With the engine when `matching` has one, otherwise with the search matcher; with
/// the engine, saving also demotes the stored `likely` proposals an arriving child
/// outranks ([`Matching::save`]).
pub fn match_records(
    registry: &mut Registry,
    matching: &Matching,
    records: &[Record],
) -> Result<Vec<i64>, BatchError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    registry.catch_up(&mut |_| {})?;
    let proposals = matching.propose(registry.index(), registry.store(), records)?;
    Ok(matching.save(registry.store_mut(), records, &proposals)?)
}

/// Runs (or resumes) one batch until it is done or `stop` is raised between chunks.
/// The writer is locked only to store and match each chunk, so that single records
/// and other writes go on between chunks.
pub fn run(
    writer: &Mutex<Registry>,
    rules: &Matching,
    id: i64,
    stop: &Arc<AtomicBool>,
) -> Result<RunEnd, BatchError> {
    let lock = || writer.lock().unwrap_or_else(|e| e.into_inner());
    let (mut job, import_id) = {
        let mut registry = lock();
        let job = load_job(registry.store(), id)?;
        registry.store().conn().execute(
            "UPDATE batches SET state = 'running', started_at = COALESCE(started_at, ?2) WHERE id = ?1",
            params![id, now()],
        )?;
        let import_id =
            registry
                .store_mut()
                .begin_import(job.kind, &format!("batch:{id}"), &job.actor)?;
        (job, import_id)
    };
    let body = std::mem::take(&mut job.body);
    let mut source: Box<dyn RowSource + '_> = match job.format {
        Format::Csv => match CsvRows::new(&body[..]) {
            Ok(rows) => Box::new(rows),
            Err(HeaderError(reason)) => {
                fail(lock().store(), id, &reason)?;
                return Ok(RunEnd::Done);
            }
        },
        Format::JsonLines => Box::new(JsonLines::new(&body[..])),
    };
    let parser = RowParser::new(job.kind, job.consent);
    let agency = job.agency.clone();
    let mut seen = HashMap::new();
    let mut item_no = 0u64;
    let mut chunk: Vec<Record> = Vec::new();
    // Rows stored before a stop but not yet matched.
    let mut unmatched: Vec<Record> = Vec::new();
    let mut chunk_counts = (0u64, 0u64, 0u64); // read, imported, rejected
    let mut chunk_errors: Vec<RowProblem> = Vec::new();
    let mut finished = false;
    loop {
        let item = source.next_item();
        let Some(item) = item else {
            finished = true;
            break;
        };
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                fail(lock().store(), id, &format!("reading the batch: {e}"))?;
                return Ok(RunEnd::Done);
            }
        };
        item_no += 1;
        let parsed = match item {
            Item::Unreadable {
                line,
                field,
                reason,
                ..
            } => Err(vec![RowProblem {
                line,
                field,
                reason,
            }]),
            Item::Row(row) => {
                let row = with_agency(row, agency.as_deref());
                check(&parser, agency.as_deref(), &row, &mut seen)
            }
        };
        if item_no <= job.rows_read {
            // Stored before the stop: only match it again if matching had not run.
            if item_no > job.matched_rows {
                if let Ok(r) = parsed {
                    unmatched.push(r);
                }
            }
            continue;
        }
        chunk_counts.0 += 1;
        match parsed {
            Ok(r) => chunk.push(r),
            Err(p) => {
                chunk_counts.2 += 1;
                chunk_errors.extend(p);
            }
        }
        if chunk_counts.0 as usize >= CHUNK_ROWS {
            let mut registry = lock();
            if !unmatched.is_empty() {
                let ids = match_records(&mut registry, rules, &unmatched)?;
                let through = job.rows_read;
                save_matched(registry.store(), id, &mut job, ids, through)?;
                unmatched.clear();
            }
            commit_chunk(
                &mut registry,
                rules,
                id,
                import_id,
                &mut job,
                &mut chunk,
                &mut chunk_counts,
                &mut chunk_errors,
            )?;
            if stop.load(Ordering::Acquire) {
                break;
            }
        }
    }
    let mut registry = lock();
    if !unmatched.is_empty() {
        let ids = match_records(&mut registry, rules, &unmatched)?;
        let through = job.rows_read;
        save_matched(registry.store(), id, &mut job, ids, through)?;
    }
    if finished {
        commit_chunk(
            &mut registry,
            rules,
            id,
            import_id,
            &mut job,
            &mut chunk,
            &mut chunk_counts,
            &mut chunk_errors,
        )?;
    }
    let counts = crate::store::ImportCounts {
        read: job.rows_read,
        imported: job.imported,
        rejected: job.rejected,
        ..Default::default()
    };
    registry.store_mut().finish_import(import_id, &counts)?;
    if !finished {
        return Ok(RunEnd::Stopped);
    }
    registry.store().conn().execute(
        "UPDATE batches SET state = 'done', finished_at = ?2 WHERE id = ?1",
        params![id, now()],
    )?;
    registry.store().audit(
        &job.actor,
        "batch.done",
        Some(&format!("batch {id}")),
        Some(&format!(
            "kind={} read={} imported={} rejected={} proposals={}",
            job.kind,
            job.rows_read,
            job.imported,
            job.rejected,
            job.proposals.len()
        )),
    )?;
    Ok(RunEnd::Done)
}

fn fail(store: &Store, id: i64, message: &str) -> Result<(), BatchError> {
    store.conn().execute(
        "UPDATE batches SET state = 'failed', message = ?2, finished_at = ?3 WHERE id = ?1",
        params![id, message, now()],
    )?;
    Ok(())
}

fn save_matched(
    store: &Store,
    id: i64,
    job: &mut Job,
    ids: Vec<i64>,
    matched_rows: u64,
) -> Result<(), BatchError> {
    for i in ids {
        if !job.proposals.contains(&i) {
            job.proposals.push(i);
        }
    }
    job.matched_rows = matched_rows;
    store.conn().execute(
        "UPDATE batches SET proposals = ?2, matched_rows = ?3 WHERE id = ?1",
        params![
            id,
            serde_json::to_string(&job.proposals).expect("serializable"),
            matched_rows as i64
        ],
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn commit_chunk(
    registry: &mut Registry,
    rules: &Matching,
    id: i64,
    import_id: i64,
    job: &mut Job,
    chunk: &mut Vec<Record>,
    counts: &mut (u64, u64, u64),
    errors: &mut Vec<RowProblem>,
) -> Result<(), BatchError> {
    let mut changed = Vec::new();
    {
        let mut tx = registry.store_mut().batch(Some(import_id))?;
        for r in chunk.drain(..) {
            let outcome = tx.upsert(&r)?;
            counts.1 += 1;
            if outcome != Upsert::Unchanged {
                changed.push(r);
            }
        }
        job.rows_read += counts.0;
        job.imported += counts.1;
        job.rejected += counts.2;
        let room = MAX_ERRORS_KEPT.saturating_sub(job.errors.len());
        job.errors.extend(errors.drain(..).take(room));
        errors.clear();
        tx.tx().execute(
            "UPDATE batches SET rows_read = ?2, imported = ?3, rejected = ?4, errors = ?5 WHERE id = ?1",
            params![
                id,
                job.rows_read as i64,
                job.imported as i64,
                job.rejected as i64,
                serde_json::to_string(&job.errors).expect("serializable")
            ],
        )?;
        tx.commit()?;
    }
    *counts = (0, 0, 0);
    let ids = match_records(registry, rules, &changed)?;
    let through = job.rows_read;
    save_matched(registry.store(), id, job, ids, through)?;
    Ok(())
}
