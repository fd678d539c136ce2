//! The audit log's writer: one thread with its own connection that appends every
//! line handed to it, many at a time in one transaction (group commit). A request
//! waits until its line is durable, so nothing is answered that is not audited,
//! yet fifty concurrent searches cost one fsync, not fifty.

use std::path::Path;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::store::{Store, StoreError};

use super::error::ApiError;

struct Line {
    actor: String,
    action: String,
    target: Option<String>,
    detail: Option<String>,
    origin: Option<String>,
    /// Told once the line is committed (or failed); a oneshot, so that an async
    /// handler can await it without holding a thread.
    done: oneshot::Sender<Result<(), String>>,
}

pub(crate) struct AuditWriter {
    tx: Option<mpsc::Sender<Line>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Lines written in one transaction, at most.
const GROUP_MAX: usize = 1024;

impl AuditWriter {
    pub(crate) fn open(db: &Path) -> Result<AuditWriter, StoreError> {
        let store = Store::open(db)?;
        let (tx, rx) = mpsc::channel::<Line>();
        let thread = std::thread::Builder::new()
            .name("famlink-audit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut group = vec![first];
                    while group.len() < GROUP_MAX {
                        match rx.try_recv() {
                            Ok(l) => group.push(l),
                            Err(_) => break,
                        }
                    }
                    let result = write(&store, &group).map_err(|e| e.to_string());
                    for l in group {
                        let _ = l.done.send(result.clone());
                    }
                }
            })
            .expect("spawn the audit writer");
        Ok(AuditWriter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands one line to the writer; the receiver says when it is committed.
    fn send(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
        origin: Option<&str>,
    ) -> Result<oneshot::Receiver<Result<(), String>>, ApiError> {
        let (done, wait) = oneshot::channel();
        let line = Line {
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.map(str::to_string),
            detail: detail.map(str::to_string),
            origin: origin.map(str::to_string),
            done,
        };
        self.tx
            .as_ref()
            .expect("open until dropped")
            .send(line)
            .map_err(|_| ApiError::internal("the audit writer has stopped"))?;
        Ok(wait)
    }

    /// Appends one line and returns once it is committed (from a blocking thread).
    pub(crate) fn append(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(), ApiError> {
        outcome(
            self.send(actor, action, target, detail, origin)?
                .blocking_recv(),
        )
    }

    /// [`append`](Self::append) for async code: the request waits for the commit
    /// without taking a thread from the blocking pool.
    pub(crate) async fn append_async(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(), ApiError> {
        outcome(self.send(actor, action, target, detail, origin)?.await)
    }
}

fn outcome(r: Result<Result<(), String>, oneshot::error::RecvError>) -> Result<(), ApiError> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ApiError::internal(format!("audit: {e}"))),
        Err(_) => Err(ApiError::internal("the audit writer has stopped")),
    }
}

fn write(store: &Store, group: &[Line]) -> Result<(), StoreError> {
    store.conn().execute_batch("BEGIN IMMEDIATE")?;
    for l in group {
        if let Err(e) = store.audit_from(
            &l.actor,
            &l.action,
            l.target.as_deref(),
            l.detail.as_deref(),
            l.origin.as_deref(),
        ) {
            let _ = store.conn().execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    store.conn().execute_batch("COMMIT")?;
    Ok(())
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
