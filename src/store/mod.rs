//! The durable store: an embedded SQLite database, the source of truth.
//!
//! Records are kept as their typed form serialized to JSON, with the columns that
//! identify and order them beside it. Every change of a record gets a new `seq`, and
//! the version it replaces moves to `record_history`; the search index is derived
//! from `seq` order and can always be rebuilt from here.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a committed transaction
//! survives a crash of the process or of the machine; an import is one transaction
//! (or one per batch), so a process killed mid-way leaves nothing half-written.

mod schema;

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::record::{Record, RecordKey, RecordKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored record {key} cannot be read: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
    #[error("the database has schema version {found}, newer than this famlink knows ({known}): upgrade famlink")]
    SchemaTooNew { found: i64, known: i64 },
}

/// The current time as stored: RFC 3339, UTC, to the millisecond.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A record as stored, with its version and times.
#[derive(Debug, Clone, Serialize)]
pub struct StoredRecord {
    pub record: Record,
    pub version: i64,
    pub seq: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// Where the store keeps a record: its row's id (SQLite's rowid), a hint for
/// reading it again (see [`Store::get_many_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreRow(pub i64);

/// An earlier version of a record.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: i64,
    pub record: Record,
    pub valid_from: String,
    pub replaced_at: String,
}

/// What storing a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Inserted,
    Updated,
    /// The same record was already stored exactly so: no new version.
    Unchanged,
}

/// Counts of one import, as kept in the `imports` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub read: u64,
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl ImportCounts {
    pub fn add(&mut self, outcome: Upsert) {
        match outcome {
            Upsert::Inserted => self.imported += 1,
            Upsert::Updated => self.updated += 1,
            Upsert::Unchanged => self.unchanged += 1,
        }
    }

    pub fn merge(&mut self, other: &ImportCounts) {
        self.read += other.read;
        self.imported += other.imported;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    /// Where the request came from (an address), for actions over the network.
    pub origin: Option<String>,
}

/// Totals for `famlink stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStats {
    pub children: u64,
    pub children_without_consent: u64,
    pub inquiries: u64,
    pub agencies: Vec<(String, RecordKind, u64)>,
    pub history_versions: u64,
    pub imports: u64,
    pub last_seq: u64,
    pub database_bytes: u64,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        // WAL lets readers go on while an import writes; FULL makes every commit
        // durable, not only against a crash of the process but of the machine.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// The underlying connection, for the library's other tables (accounts,
    /// review, batches).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })?)
    }

    /// Opens an import: one row in `imports`, committed at once, so that the
    /// import's batches can point at it.
    pub fn begin_import(
        &mut self,
        kind: RecordKind,
        source: &str,
        actor: &str,
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO imports (kind, source, actor, started_at) VALUES (?1, ?2, ?3, ?4)",
            params![kind.as_str(), source, actor, now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the final counts of an import.
    pub fn finish_import(
        &mut self,
        import_id: i64,
        counts: &ImportCounts,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE imports SET finished_at = ?2, rows_read = ?3, imported = ?4, updated = ?5,
                                unchanged = ?6, rejected = ?7 WHERE id = ?1",
            params![
                import_id,
                now(),
                counts.read as i64,
                counts.imported as i64,
                counts.updated as i64,
                counts.unchanged as i64,
                counts.rejected as i64
            ],
        )?;
        Ok(())
    }

    /// Starts a write transaction. Nothing written through it is visible to anyone
    /// until [`Batch::commit`]; dropping it rolls everything back.
    pub fn batch(&mut self, import_id: Option<i64>) -> Result<Batch<'_>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next_seq: u64 =
            tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM records", [], |r| {
                r.get::<_, i64>(0)
            })? as u64;
        Ok(Batch {
            tx,
            next_seq,
            import_id,
            now: now(),
        })
    }

    /// The current version of a record.
    pub fn get(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError> {
        get_in(&self.conn, key)
    }

    /// The current versions of several records, as of one moment: read in one
    /// transaction, which also reads the B-trees' upper pages once for all of
    /// them (a commit by another connection, such as the audit log's, empties
    /// this connection's page cache at the next transaction).
    ///
    /// A key may come with the row its record was read from when indexed (see
    /// [`Store::for_each_since`]): that row is read by its id, one B-tree instead
    /// of the key index's and then the table's, and only if it still holds that
    /// key; otherwise, and without a row, the key is looked up.
    pub fn get_many_at(
        &self,
        keys: &[(RecordKey, Option<StoreRow>)],
    ) -> Result<Vec<Option<StoredRecord>>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let records = keys
            .iter()
            .map(|(key, row)| {
                let at_row = match row {
                    Some(row) => get_row_in(&tx, key, *row)?,
                    None => None,
                };
                at_row.map_or_else(|| get_in(&tx, key), |found| Ok(Some(found)))
            })
            .collect::<Result<_, _>>()?;
        tx.commit()?;
        Ok(records)
    }

    /// Earlier versions of a record, oldest first.
    pub fn history(&self, key: &RecordKey) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT h.version, h.data, h.valid_from, h.replaced_at
             FROM record_history h JOIN records r ON r.id = h.record
             WHERE r.kind = ?1 AND r.agency = ?2 AND r.record_id = ?3
             ORDER BY h.version",
        )?;
        let rows = stmt.query_map(params![key.kind.as_str(), key.agency, key.record_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (version, data, valid_from, replaced_at) = row?;
            out.push(HistoryEntry {
                version,
                record: decode(key, &data)?,
                valid_from,
                replaced_at,
            });
        }
        Ok(out)
    }

    /// The highest `seq` stored: everything up to it is committed.
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM records", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    /// Calls `f` with every current record whose `seq` is above `after`, in `seq`
    /// order, with its row (see [`Store::get_many_at`]). This is how the search
    /// index catches up with the store.
    pub fn for_each_since<E: From<StoreError>>(
        &self,
        after: u64,
        mut f: impl FnMut(u64, StoreRow, Record) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = StoreError::from;
        let mut stmt = self
            .conn
            .prepare("SELECT seq, kind, agency, record_id, data, id FROM records WHERE seq > ?1 ORDER BY seq")
            .map_err(sql)?;
        let mut rows = stmt.query(params![after as i64]).map_err(sql)?;
        while let Some(row) = rows.next().map_err(sql)? {
            let seq = row.get::<_, i64>(0).map_err(sql)? as u64;
            let data: String = row.get(4).map_err(sql)?;
            let record: Record =
                serde_json::from_str(&data).map_err(|source| StoreError::Corrupt {
                    key: format!(
                        "{}/{}",
                        row.get::<_, String>(2).unwrap_or_default(),
                        row.get::<_, String>(3).unwrap_or_default()
                    ),
                    source,
                })?;
            let row = StoreRow(row.get::<_, i64>(5).map_err(sql)?);
            f(seq, row, record)?;
        }
        Ok(())
    }

    /// Calls `f` with chunks of the current records of one kind, as stored (JSON),
    /// with their agency and record id, in key order: the matcher loads a side from
    /// this and decodes the chunks in parallel.
    pub fn for_each_chunk_of_kind<E: From<StoreError>>(
        &self,
        kind: RecordKind,
        chunk: usize,
        mut f: impl FnMut(Vec<(String, String, String)>) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = StoreError::from;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT agency, record_id, data FROM records WHERE kind = ?1
                 ORDER BY agency, record_id",
            )
            .map_err(sql)?;
        let mut rows = stmt.query(params![kind.as_str()]).map_err(sql)?;
        let mut buf = Vec::with_capacity(chunk);
        while let Some(row) = rows.next().map_err(sql)? {
            buf.push((
                row.get::<_, String>(0).map_err(sql)?,
                row.get::<_, String>(1).map_err(sql)?,
                row.get::<_, String>(2).map_err(sql)?,
            ));
            if buf.len() == chunk {
                f(std::mem::replace(&mut buf, Vec::with_capacity(chunk)))?;
            }
        }
        if !buf.is_empty() {
            f(buf)?;
        }
        Ok(())
    }

    /// Decodes a record as [`Store::for_each_chunk_of_kind`] gives it.
    pub fn decode_record(
        kind: RecordKind,
        agency: &str,
        record_id: &str,
        data: &str,
    ) -> Result<Record, StoreError> {
        decode(
            &RecordKey {
                kind,
                agency: agency.to_owned(),
                record_id: record_id.to_owned(),
            },
            data,
        )
    }

    /// Appends one line to the audit log. Never put names or contacts in `detail`:
    /// record keys and counts only.
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![now(), actor, action, target, detail])?;
        Ok(())
    }

    /// Appends one line to the audit log for an action that came from `origin`
    /// (a network address). Same rules as [`Store::audit`].
    pub fn audit_from(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT INTO audit_log (at, actor, action, target, detail, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![now(), actor, action, target, detail, origin])?;
        Ok(())
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_entries(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_page(None, limit)
    }

    /// Up to `limit` audit entries older than `before` (an entry id), newest first.
    pub fn audit_page(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, actor, action, target, detail, origin FROM audit_log
             WHERE id < ?2 ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit as i64, before.unwrap_or(i64::MAX)], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                detail: r.get(5)?,
                origin: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many current records of one kind the store holds.
    pub fn count(&self, kind: RecordKind) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM records WHERE kind = ?1",
            params![kind.as_str()],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let count = |sql: &str| -> Result<u64, StoreError> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        let mut stats = StoreStats {
            children: count("SELECT COUNT(*) FROM records WHERE kind = 'child'")?,
            children_without_consent: count(
                "SELECT COUNT(*) FROM records WHERE kind = 'child' AND tracing_consent = 0",
            )?,
            inquiries: count("SELECT COUNT(*) FROM records WHERE kind = 'inquiry'")?,
            history_versions: count("SELECT COUNT(*) FROM record_history")?,
            imports: count("SELECT COUNT(*) FROM imports")?,
            last_seq: self.last_seq()?,
            database_bytes: count(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            )?,
            agencies: Vec::new(),
        };
        let mut stmt = self.conn.prepare(
            "SELECT agency, kind, COUNT(*) FROM records GROUP BY agency, kind ORDER BY agency, kind",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (agency, kind, n) = row?;
            let kind = kind.parse().unwrap_or(RecordKind::Child);
            stats.agencies.push((agency, kind, n as u64));
        }
        Ok(stats)
    }
}

fn decode(key: &RecordKey, data: &str) -> Result<Record, StoreError> {
    serde_json::from_str(data).map_err(|source| StoreError::Corrupt {
        key: format!("{}/{}", key.agency, key.record_id),
        source,
    })
}

/// The current version of a record, read through `conn`: [`Store::get`], and the
/// library's writes that read records inside their own transaction.
pub(crate) fn get_in(
    conn: &Connection,
    key: &RecordKey,
) -> Result<Option<StoredRecord>, StoreError> {
    read_record(conn, key, None)
}

/// The record with this key at this row, if the row holds it.
fn get_row_in(
    conn: &Connection,
    key: &RecordKey,
    row: StoreRow,
) -> Result<Option<StoredRecord>, StoreError> {
    read_record(conn, key, Some(row))
}

/// The record with this key, looked up by the key, or at `row` only.
fn read_record(
    conn: &Connection,
    key: &RecordKey,
    row: Option<StoreRow>,
) -> Result<Option<StoredRecord>, StoreError> {
    let read = |r: &rusqlite::Row<'_>| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    };
    let (kind, agency, id) = (key.kind.as_str(), &key.agency, &key.record_id);
    let found = match row {
        // SQLite looks the row up by its id; the key's columns are only compared.
        Some(StoreRow(row)) => conn
            .prepare_cached(
                "SELECT data, version, seq, created_at, updated_at FROM records
                 WHERE id = ?1 AND kind = ?2 AND agency = ?3 AND record_id = ?4",
            )?
            .query_row(params![row, kind, agency, id], read),
        None => conn
            .prepare_cached(
                "SELECT data, version, seq, created_at, updated_at FROM records
                 WHERE kind = ?1 AND agency = ?2 AND record_id = ?3",
            )?
            .query_row(params![kind, agency, id], read),
    }
    .optional()?;
    found
        .map(|(data, version, seq, created_at, updated_at)| {
            Ok(StoredRecord {
                record: decode(key, &data)?,
                version,
                seq: seq as u64,
                created_at,
                updated_at,
            })
        })
        .transpose()
}

/// An open write transaction.
pub struct Batch<'a> {
    tx: rusqlite::Transaction<'a>,
    next_seq: u64,
    import_id: Option<i64>,
    now: String,
}

impl Batch<'_> {
    /// Stores a record: inserts it, or makes it the new version of the record with
    /// the same key and moves the old version into history.
    pub fn upsert(&mut self, record: &Record) -> Result<Upsert, StoreError> {
        let key = record.key();
        let data = serde_json::to_string(record).expect("records always serialize");
        let existing = self
            .tx
            .prepare_cached(
                "SELECT id, version, data, updated_at FROM records
                 WHERE kind = ?1 AND agency = ?2 AND record_id = ?3",
            )?
            .query_row(params![key.kind.as_str(), key.agency, key.record_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()?;
        let seq = self.next_seq as i64;
        let consent = record.tracing_consent();
        let outcome = match existing {
            None => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO records (kind, agency, record_id, version, seq, tracing_consent,
                                              data, created_at, updated_at, import_id)
                         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?7, ?8)",
                    )?
                    .execute(params![
                        key.kind.as_str(),
                        key.agency,
                        key.record_id,
                        seq,
                        consent,
                        data,
                        self.now,
                        self.import_id
                    ])?;
                Upsert::Inserted
            }
            Some((_, _, old, _)) if old == data => return Ok(Upsert::Unchanged),
            Some((id, version, old, valid_from)) => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO record_history (record, version, data, valid_from, replaced_at, import_id)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![id, version, old, valid_from, self.now, self.import_id])?;
                self.tx
                    .prepare_cached(
                        "UPDATE records SET version = ?2, seq = ?3, tracing_consent = ?4, data = ?5,
                                            updated_at = ?6, import_id = ?7
                         WHERE id = ?1",
                    )?
                    .execute(params![id, version + 1, seq, consent, data, self.now, self.import_id])?;
                Upsert::Updated
            }
        };
        self.next_seq += 1;
        Ok(outcome)
    }

    /// The open transaction, for writes of the library's other tables that must
    /// commit together with the records (a batch's progress).
    pub(crate) fn tx(&self) -> &rusqlite::Transaction<'_> {
        &self.tx
    }

    /// Makes everything in the batch durable and visible at once.
    pub fn commit(self) -> Result<(), StoreError> {
        self.tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::sample_child as child;

    #[test]
    fn upsert_keeps_history_and_bumps_seq() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let mut b = store.batch(None).unwrap();
        assert_eq!(b.upsert(&child("1", "Амina")).unwrap(), Upsert::Inserted);
        assert_eq!(b.upsert(&child("2", "Hodan")).unwrap(), Upsert::Inserted);
        b.commit().unwrap();
        assert_eq!(store.last_seq().unwrap(), 2);

        let mut b = store.batch(None).unwrap();
        assert_eq!(b.upsert(&child("1", "Amina")).unwrap(), Upsert::Updated);
        assert_eq!(b.upsert(&child("2", "Hodan")).unwrap(), Upsert::Unchanged);
        b.commit().unwrap();

        let key = RecordKey::new(RecordKind::Child, "a", "1");
        let now = store.get(&key).unwrap().unwrap();
        assert_eq!(now.version, 2);
        assert_eq!(now.seq, 3);
        assert_eq!(now.record.given_name.as_deref(), Some("Amina"));
        let hist = store.history(&key).unwrap();
        assert_eq!(hist.len(), 1);
        assert_eq!(hist[0].record.given_name.as_deref(), Some("Амina"));

        let mut seen = vec![];
        store
            .for_each_since(2, |seq, _, r| {
                seen.push((seq, r.record_id));
                Ok::<(), StoreError>(())
            })
            .unwrap();
        assert_eq!(seen, vec![(3, "1".to_string())]);
    }

    /// Records read again by the rows `for_each_since` gave: each its own,
    /// after an update too (the row stays); a row that holds another record, or
    /// none, falls back to the key; a key not stored is absent either way.
    #[test]
    fn records_are_read_again_by_their_rows_and_by_key_when_the_row_is_not_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let mut b = store.batch(None).unwrap();
        for (id, name) in [("1", "Amina"), ("2", "Hodan"), ("3", "Yulia")] {
            b.upsert(&child(id, name)).unwrap();
        }
        b.commit().unwrap();
        let mut rows = Vec::new();
        store
            .for_each_since(0, |_, row, r| {
                rows.push((r.key(), row));
                Ok::<(), StoreError>(())
            })
            .unwrap();
        assert_eq!(rows.len(), 3);
        let mut b = store.batch(None).unwrap();
        b.upsert(&child("2", "Xodan")).unwrap();
        b.commit().unwrap();

        // A row holds its own record only.
        for (i, (key, row)) in rows.iter().enumerate() {
            assert!(get_row_in(&store.conn, key, *row).unwrap().is_some());
            assert!(get_row_in(&store.conn, key, rows[(i + 1) % 3].1)
                .unwrap()
                .is_none());
        }
        let given = |r: &Option<StoredRecord>| r.as_ref().and_then(|s| s.record.given_name.clone());
        let by_row: Vec<_> = rows
            .iter()
            .map(|(k, row)| (k.clone(), Some(*row)))
            .collect();
        let got = store.get_many_at(&by_row).unwrap();
        let names: Vec<_> = got.iter().map(given).collect();
        assert_eq!(
            names,
            ["Amina", "Xodan", "Yulia"].map(|n| Some(n.to_string()))
        );

        // Each key with another record's row, with no row, and a key not stored
        // with a stored record's row.
        let other = |i: usize| Some(rows[(i + 1) % 3].1);
        let mut asked: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), other(i)))
            .collect();
        asked.push((rows[0].0.clone(), None));
        asked.push((RecordKey::new(RecordKind::Child, "a", "9"), Some(rows[0].1)));
        let got = store.get_many_at(&asked).unwrap();
        let names: Vec<_> = got.iter().map(given).collect();
        let want = ["Amina", "Xodan", "Yulia", "Amina"].map(|n| Some(n.to_string()));
        assert_eq!(names[..4], want);
        assert_eq!(names[4], None);
    }

    #[test]
    fn a_dropped_batch_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        {
            let mut b = store.batch(None).unwrap();
            b.upsert(&child("1", "x")).unwrap();
        }
        assert_eq!(store.stats().unwrap().children, 0);
        assert_eq!(store.last_seq().unwrap(), 0);
    }

    #[test]
    fn audit_log_is_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        store
            .audit("cli:test", "record.read", Some("child a/1"), None)
            .unwrap();
        assert_eq!(store.audit_entries(10).unwrap().len(), 1);
        assert!(store.conn.execute("DELETE FROM audit_log", []).is_err());
        assert!(store
            .conn
            .execute("UPDATE audit_log SET actor = 'x'", [])
            .is_err());
    }

    #[test]
    fn reopening_does_not_migrate_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            schema::MIGRATIONS.len() as i64
        );
    }
}
