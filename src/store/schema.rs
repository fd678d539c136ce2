//! The database schema, as an ordered list of migrations.
//!
//! A migration is applied once, in its own transaction, and recorded in
//! `schema_migrations`; a database is never altered by hand. New migrations go at
//! the end of [`MIGRATIONS`]; published ones are never edited.

use rusqlite::{Connection, TransactionBehavior};

use super::{now, StoreError};

pub(super) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "records, history, imports and audit",
        r#"
CREATE TABLE imports (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('child', 'inquiry')),
    source      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    rows_read   INTEGER NOT NULL DEFAULT 0,
    imported    INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0
);

-- The current version of every record. `seq` grows with every stored change, so
-- that the search index (derived) can catch up with what it has not seen.
CREATE TABLE records (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('child', 'inquiry')),
    agency          TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    version         INTEGER NOT NULL,
    seq             INTEGER NOT NULL UNIQUE,
    tracing_consent INTEGER NOT NULL,
    data            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    import_id       INTEGER REFERENCES imports (id),
    UNIQUE (kind, agency, record_id)
);

-- Every earlier version, kept when a record is updated.
CREATE TABLE record_history (
    record      INTEGER NOT NULL REFERENCES records (id),
    version     INTEGER NOT NULL,
    data        TEXT NOT NULL,
    valid_from  TEXT NOT NULL,
    replaced_at TEXT NOT NULL,
    import_id   INTEGER REFERENCES imports (id),
    PRIMARY KEY (record, version)
) WITHOUT ROWID;

-- Who read or changed what, when. Rows are never updated or deleted.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    ),
    (
        "accounts, review, case status, batches and audit origin",
        r#"
-- Users of the service. Only a SHA-256 hash of a token is kept.
CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    agency     TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('officer', 'agency', 'reviewer', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- A proposed link between a child and an inquiry, at most one per pair.
CREATE TABLE proposals (
    id              INTEGER PRIMARY KEY,
    child_agency    TEXT NOT NULL,
    child_id        TEXT NOT NULL,
    inquiry_agency  TEXT NOT NULL,
    inquiry_id      TEXT NOT NULL,
    probability     REAL NOT NULL,
    band            TEXT NOT NULL,
    explanation     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'deferred', 'confirmed', 'rejected', 'undone')),
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (child_agency, child_id, inquiry_agency, inquiry_id)
);
CREATE INDEX proposals_queue ON proposals (status, probability DESC, id);
CREATE INDEX proposals_inquiry ON proposals (inquiry_agency, inquiry_id);

-- Every decision on a proposal, and every later change of it (undo).
CREATE TABLE decisions (
    id        INTEGER PRIMARY KEY,
    proposal  INTEGER NOT NULL REFERENCES proposals (id),
    decision  TEXT NOT NULL,
    note      TEXT,
    reviewer  TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;

-- The case status of a record, beside the record (which keeps its own history).
CREATE TABLE case_status (
    kind       TEXT NOT NULL,
    agency     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    status     TEXT NOT NULL,
    proposal   INTEGER REFERENCES proposals (id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, agency, record_id)
) WITHOUT ROWID;

-- Every change of a case status, kept.
CREATE TABLE case_events (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,
    agency    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    status    TEXT NOT NULL,
    proposal  INTEGER REFERENCES proposals (id),
    note      TEXT,
    actor     TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX case_events_record ON case_events (kind, agency, record_id);

-- Batches submitted to the service: a durable job queue.
CREATE TABLE batches (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('child', 'inquiry')),
    agency          TEXT,
    actor           TEXT NOT NULL,
    format          TEXT NOT NULL,
    consent_for_all INTEGER,
    content_hash    TEXT NOT NULL,
    idempotency_key TEXT,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    rows_read       INTEGER NOT NULL DEFAULT 0,
    imported        INTEGER NOT NULL DEFAULT 0,
    rejected        INTEGER NOT NULL DEFAULT 0,
    errors          TEXT NOT NULL DEFAULT '[]',
    proposals       TEXT NOT NULL DEFAULT '[]',
    matched_rows    INTEGER NOT NULL DEFAULT 0,
    body            BLOB NOT NULL,
    message         TEXT,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT
);
CREATE UNIQUE INDEX batches_content ON batches (COALESCE(agency, ''), kind, content_hash);
CREATE UNIQUE INDEX batches_key ON batches (COALESCE(agency, ''), idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE audit_log ADD COLUMN origin TEXT;
"#,
    ),
    (
        "web sessions",
        r#"
CREATE TABLE web_sessions (
    id_hash    TEXT PRIMARY KEY,
    account    INTEGER NOT NULL REFERENCES accounts(id),
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX web_sessions_account ON web_sessions (account);
"#,
    ),
    (
        "proposal notes",
        r#"
-- What the matcher tells the reviewer beside the comparisons (the sibling guard).
ALTER TABLE proposals ADD COLUMN note TEXT;
"#,
    ),
];

/// Brings the database up to the newest schema.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at TEXT NOT NULL
         )",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    if current > MIGRATIONS.len() as i64 {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: MIGRATIONS.len() as i64,
        });
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![i as i64 + 1, name, now()],
        )?;
        tx.commit()?;
    }
    Ok(())
}
