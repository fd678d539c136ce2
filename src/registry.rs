//! The registry: a data directory holding the store and the search index derived
//! from it, kept in step.
//!
//! Layout of a data directory:
//! - `famlink.sqlite` (with `-wal`, `-shm`): the store, the source of truth;
//! - `search/`: the tantivy index, rebuilt from the store at will.
//!
//! The store is always written first and the index follows it by sequence number,
//! so a process killed at any moment leaves at worst an index that lags; opening a
//! registry brings the index up to date before anything else happens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::import::{self, ImportError, ImportOptions, ImportReport, Input, Progress};
use crate::record::RecordKey;
use crate::rulebook::{RuleErrors, Rulebook};
use crate::search::{IndexWriterSession, SearchError, SearchHit, SearchIndex, SearchQuery};
use crate::store::{HistoryEntry, Store, StoreError, StoreStats, StoredRecord};

pub const DATABASE_FILE: &str = "famlink.sqlite";
pub const SEARCH_DIR: &str = "search";

/// Records indexed between two index commits when catching up, so that a long
/// catch-up that is interrupted does not start again from nothing.
const CATCH_UP_COMMIT_EVERY: u64 = 250_000;
/// Records indexed in one catch-up after which the index is merged into one
/// segment.
const COMPACT_AFTER: u64 = 50_000;

/// How long an import waits for another process to release the index writer.
const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("search index: {0}")]
    Search(#[from] SearchError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("no such record: {0}")]
    NotFound(String),
    /// Problems of a matching-rules directory, one `FILE:LINE: reason` per line.
    #[error(transparent)]
    Rules(#[from] RuleErrors),
}

/// Who is reading. Every read is audited under `actor`. With an `agency`, the
/// reader works for that agency and never sees children of other agencies who have
/// no tracing consent; without one, the reader is the local operator of the data
/// directory (the command line), who sees everything.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub actor: String,
    pub agency: Option<String>,
}

impl Viewer {
    pub fn local(actor: impl Into<String>) -> Self {
        Viewer {
            actor: actor.into(),
            agency: None,
        }
    }

    /// Whether this viewer may see a record: the consent rule for children.
    pub fn may_see(&self, record: &crate::record::Record) -> bool {
        match &self.agency {
            None => true,
            Some(agency) => record.tracing_consent() || &record.agency == agency,
        }
    }
}

/// A record with its history, as `show` returns it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordView {
    pub current: StoredRecord,
    pub history: Vec<HistoryEntry>,
}

/// A search hit with the record it found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    pub hit: SearchHit,
    pub record: StoredRecord,
}

/// How far catching up went, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct CatchUp {
    pub indexed: u64,
    pub target: u64,
}

pub struct Registry {
    dir: PathBuf,
    store: Store,
    index: Arc<SearchIndex>,
}

impl Registry {
    /// Opens (creating if needed) a data directory and brings its index up to date.
    pub fn open(dir: &Path) -> Result<Registry, RegistryError> {
        Self::open_with_progress(dir, &mut |_| {})
    }

    pub fn open_with_progress(
        dir: &Path,
        progress: &mut dyn FnMut(CatchUp),
    ) -> Result<Registry, RegistryError> {
        Self::open_with_rules(dir, Rulebook::builtin(), progress)
    }

    /// Opens a data directory whose search follows a deployment's own matching
    /// rules (see [`Rulebook::load`]). An index built under other rules is rebuilt
    /// from the store.
    pub fn open_with_rules(
        dir: &Path,
        rules: Arc<Rulebook>,
        progress: &mut dyn FnMut(CatchUp),
    ) -> Result<Registry, RegistryError> {
        std::fs::create_dir_all(dir).map_err(|e| RegistryError::DataDir(dir.to_path_buf(), e))?;
        let store = Store::open(&dir.join(DATABASE_FILE))?;
        let search_dir = dir.join(SEARCH_DIR);
        std::fs::create_dir_all(&search_dir)
            .map_err(|e| RegistryError::DataDir(search_dir.clone(), e))?;
        let index = Arc::new(SearchIndex::open_with_rules(&search_dir, rules)?);
        let mut registry = Registry {
            dir: dir.to_path_buf(),
            store,
            index,
        };
        match registry.catch_up(progress) {
            // Another process (an import) holds the index writer and will bring the
            // index up to date itself; reading meanwhile is safe, only a moment behind.
            Err(RegistryError::Search(SearchError::WriterBusy)) => {
                tracing::info!("index writer busy in another process; not catching up now");
            }
            other => {
                other?;
            }
        }
        Ok(registry)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// The index, to search it from other threads while this registry writes.
    pub fn shared_index(&self) -> Arc<SearchIndex> {
        Arc::clone(&self.index)
    }

    pub(crate) fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Indexes whatever the store holds that the index has not seen. An index that
    /// claims more than the store has (a store restored from an older backup) is
    /// rebuilt whole.
    pub fn catch_up(&mut self, progress: &mut dyn FnMut(CatchUp)) -> Result<u64, RegistryError> {
        let target = self.store.last_seq()?;
        // What this process last saw; another process may have indexed more since,
        // which taking the writer tells.
        if self.index.indexed_through() == target {
            return Ok(0);
        }
        let writer = self.index.writer()?;
        let from = self.index.indexed_through();
        if from > target {
            drop(writer);
            return self.reindex(progress);
        }
        if from == target {
            return Ok(0);
        }
        self.index_from(writer, from, target, false, progress)
    }

    /// Catches up, waiting for the index writer while another process holds it (a
    /// command that opened the registry and is catching up itself). What was
    /// stored is safe either way; this only decides whether this call indexes it.
    fn catch_up_waiting(&mut self, patience: std::time::Duration) -> Result<u64, RegistryError> {
        let start = std::time::Instant::now();
        loop {
            match self.catch_up(&mut |_| {}) {
                Err(RegistryError::Search(SearchError::WriterBusy))
                    if start.elapsed() < patience =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    /// Rebuilds the index from the store.
    pub fn reindex(&mut self, progress: &mut dyn FnMut(CatchUp)) -> Result<u64, RegistryError> {
        let writer = self.index.writer()?;
        let target = self.store.last_seq()?;
        self.index_from(writer, 0, target, true, progress)
    }

    fn index_from(
        &mut self,
        writer: IndexWriterSession,
        from: u64,
        target: u64,
        clear: bool,
        progress: &mut dyn FnMut(CatchUp),
    ) -> Result<u64, RegistryError> {
        let mut writer = Some(writer);
        if clear {
            writer.as_mut().expect("just made").clear()?;
        }
        let mut indexed = 0u64;
        let mut last = from;
        let index = &self.index;
        self.store
            .for_each_since(from, |seq, row, record| -> Result<(), RegistryError> {
                writer
                    .as_mut()
                    .expect("present while iterating")
                    .put_from(&record, Some(row))?;
                indexed += 1;
                last = seq;
                if indexed % CATCH_UP_COMMIT_EVERY == 0 {
                    writer
                        .take()
                        .expect("present while iterating")
                        .commit(last)?;
                    writer = Some(index.writer()?);
                }
                if indexed % 4096 == 0 {
                    progress(CatchUp {
                        indexed,
                        target: target - from,
                    });
                }
                Ok(())
            })?;
        // `target` (not `last`): a clear with nothing to index still commits the clear.
        // After a bulk load, one segment: searches are faster on it.
        let writer = writer.expect("present after iterating");
        if indexed >= COMPACT_AFTER {
            writer.commit_compact(target.max(last))?;
        } else {
            writer.commit(target.max(last))?;
        }
        progress(CatchUp {
            indexed,
            target: target - from,
        });
        Ok(indexed)
    }

    /// Imports one input, then indexes what it stored.
    pub fn import(
        &mut self,
        input: &Input,
        opts: &ImportOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<ImportReport, RegistryError> {
        let report = import::import(&mut self.store, input, opts, progress)?;
        let detail = format!(
            "source={} read={} imported={} updated={} unchanged={} rejected={} stored={}",
            report.source,
            report.counts.read,
            report.counts.imported,
            report.counts.updated,
            report.counts.unchanged,
            report.counts.rejected,
            report.stored
        );
        self.store.audit(
            &opts.actor,
            "import",
            Some(opts.kind.as_str()),
            Some(&detail),
        )?;
        self.catch_up_waiting(WRITER_WAIT)?;
        Ok(report)
    }

    /// The officer's search, audited (the query's fields, never their values).
    pub fn search(
        &self,
        query: &SearchQuery,
        viewer: &Viewer,
    ) -> Result<Vec<Found>, RegistryError> {
        let mut query = query.clone();
        query.viewer_agency = viewer.agency.clone();
        let mut hits = Vec::new();
        for hit in self.index.search(&query)? {
            // The index is derived and may lag a moment behind; the store decides.
            if let Some(record) = self
                .store
                .get(&hit.key)?
                .filter(|s| viewer.may_see(&s.record))
            {
                hits.push(Found { hit, record });
            }
        }
        let mut asked = Vec::new();
        for (name, given) in [
            ("name", query.name.is_some()),
            ("father", query.father.is_some()),
            ("mother", query.mother.is_some()),
            ("place", query.place.is_some()),
            ("born", query.born.is_some()),
            ("age", query.age.is_some()),
            ("sex", query.sex.is_some()),
        ] {
            if given {
                asked.push(name);
            }
        }
        let detail = format!("fields={} hits={}", asked.join(","), hits.len());
        self.store.audit(
            &viewer.actor,
            "search",
            query.kind.map(|k| k.as_str()),
            Some(&detail),
        )?;
        Ok(hits)
    }

    /// A record with its history, audited. A record the viewer may not see is
    /// reported as not found, so that its existence does not leak.
    pub fn show(&self, key: &RecordKey, viewer: &Viewer) -> Result<RecordView, RegistryError> {
        let target = format!("{} {}/{}", key.kind, key.agency, key.record_id);
        let found = self.store.get(key)?.filter(|s| viewer.may_see(&s.record));
        self.store.audit(
            &viewer.actor,
            "record.read",
            Some(&target),
            Some(if found.is_some() {
                "found"
            } else {
                "not found"
            }),
        )?;
        let current = found.ok_or_else(|| RegistryError::NotFound(target))?;
        let history = self.store.history(key)?;
        Ok(RecordView { current, history })
    }

    pub fn stats(&self) -> Result<StoreStats, RegistryError> {
        Ok(self.store.stats()?)
    }
}
