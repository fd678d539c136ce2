//! The database schema, as an ordered list of migrations.
//!
//! A migration is applied once, in its own transaction, and recorded in
//! `schema_migrations`; a database is never altered by hand. New migrations go at
//! the end of [`MIGRATIONS`]; published ones are never edited.

use rusqlite::{Connection, TransactionBehavior};

use super::{now, StoreError};

pub(super) const MIGRATIONS: &[(&str, &str)] = &[(
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
)];

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
