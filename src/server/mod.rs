//! The HTTP API: a thin axum layer over the library (accounts, registry, review,
//! batches). Handlers authenticate, check the role rules of [`crate::access`],
//! call the library on a blocking thread, audit, and map errors to JSON.
//!
//! Concurrency: one writer [`Registry`] (behind a mutex) stores records and keeps
//! the search index in step; searches share the index and read the store through a
//! small pool of read connections (WAL lets them read while the writer writes).
//! Decisions and audit lines are written through pool connections too: SQLite
//! serializes them, and an `IMMEDIATE` transaction makes two reviewers deciding at
//! once come one after the other, the second seeing the first's decision.
//!
//! Logs name routes by their template and never carry query strings or bodies, so
//! they never contain names, dates of birth or contacts.

mod api;
pub(crate) mod audit;
pub(crate) mod error;
mod metrics;
pub mod openapi;
mod search_pool;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

pub use error::ApiError;
pub use openapi::{RouteDoc, ROUTES};

use crate::access::{self, Account};
use crate::batch;
use crate::matching::{Engine, ModelStart, TracingRules};
use crate::record::Record;
use crate::registry::{Registry, RegistryError, DATABASE_FILE};
use crate::review::{Matching, ReviewRules};
use crate::search::{SearchHit, SearchIndex, SearchQuery};
use crate::store::Store;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub data: PathBuf,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body: usize,
    pub rules: ReviewRules,
    /// The engine's rule file (comparisons, bands, candidates).
    pub tracing: TracingRules,
    /// Threads that run searches (0: one per core); the searches wait for them
    /// in line.
    pub search_threads: usize,
}

impl Config {
    pub fn new(data: impl Into<PathBuf>) -> Self {
        Config {
            data: data.into(),
            max_body: 64 << 20,
            rules: ReviewRules::parse(crate::review::DEFAULT_RULES).expect("committed rules parse"),
            tracing: TracingRules::default_rules(),
            search_threads: 0,
        }
    }
}

/// Read connections kept open, at most.
const MAX_READERS: usize = 64;

pub(crate) struct Inner {
    pub(crate) writer: Mutex<Registry>,
    pub(crate) index: Arc<SearchIndex>,
    readers: Mutex<Vec<Store>>,
    pub(crate) db_path: PathBuf,
    /// The engine (or, without a model, the search matcher) and the review rules.
    pub(crate) matching: Matching,
    metrics: metrics::Metrics,
    wake: Mutex<mpsc::Sender<()>>,
    stop: Arc<AtomicBool>,
    pub(crate) audit: Arc<audit::AuditWriter>,
    /// The threads that run searches, about one per core, the searches waiting
    /// in line (FIFO), so that fifty concurrent searches do not time-slice each
    /// other into a long tail.
    pub(crate) searches: search_pool::SearchPool,
}

pub(crate) type AppState = Arc<Inner>;

impl Inner {
    /// Runs `f` with a read connection from the pool.
    pub(crate) fn with_reader<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let store = self.readers.lock().expect("reader pool").pop();
        let store = match store {
            Some(s) => s,
            None => Store::open(&self.db_path)?,
        };
        let out = f(&store);
        let mut pool = self.readers.lock().expect("reader pool");
        if pool.len() < MAX_READERS {
            pool.push(store);
        }
        out
    }

    /// An officer's search, as the API and the pages show it: run on the search
    /// threads, each hit's record read from the store by the row the hit carries
    /// (the index may lag a moment behind the store; the store decides), kept
    /// only if `account` may read it, and redacted as it may see it.
    pub(crate) fn search_records(
        self: &Arc<Self>,
        query: SearchQuery,
        account: Account,
    ) -> impl Future<Output = Result<Vec<(SearchHit, Record)>, ApiError>> {
        let st = Arc::clone(self);
        self.searches.run(move || {
            let hits = st.index.search(&query)?;
            st.with_reader(|store| {
                let at: Vec<_> = hits.iter().map(|h| (h.key.clone(), h.row)).collect();
                let records = store.get_many_at(&at)?;
                Ok(hits
                    .into_iter()
                    .zip(records)
                    .filter_map(|(hit, found)| {
                        let found = found.filter(|s| access::may_read(&account, &s.record))?;
                        Some((hit, access::redact(&account, &found.record)))
                    })
                    .collect())
            })
        })
    }

    pub(crate) fn wake_worker(&self) {
        let _ = self.wake.lock().expect("wake").send(());
    }
}

/// The service over one data directory, with its batch worker.
pub struct Service {
    state: AppState,
    worker: std::thread::JoinHandle<()>,
    model: ModelStart,
}

impl Service {
    /// Opens the data directory (bringing the index up to date), obtains the
    /// matcher and starts the batch worker, which first resumes any batch a previous
    /// run left unfinished.
    ///
    /// The matcher is the Fellegi–Sunter engine with the model in `DATA/model/`
    /// (what `famlink train` saved). Without one, the service trains from the
    /// store's records at start and saves the model there; with no records to train
    /// on (or a model that does not fit the rule file) it proposes with the search
    /// matcher and warns. The model is read once: after `famlink train`, restart.
    pub fn open(config: &Config) -> Result<Service, RegistryError> {
        let registry = Registry::open(&config.data)?;
        let (engine, model) =
            Engine::obtain(&config.data, registry.store(), config.tracing.clone());
        match &model {
            ModelStart::Loaded => tracing::info!("matcher: Fellegi-Sunter engine, model loaded"),
            ModelStart::Trained {
                children,
                inquiries,
            } => tracing::warn!(
                children,
                inquiries,
                "matcher: no model was saved; trained the Fellegi-Sunter engine from the store and saved it"
            ),
            ModelStart::Fallback(reason) => tracing::warn!(
                reason = %reason,
                "matcher: no usable model; proposing with the search matcher (run `famlink train` and restart)"
            ),
        }
        let matching = Matching {
            rules: config.rules,
            engine: engine.map(Arc::new),
        };
        let index = registry.shared_index();
        // A search a millisecond: the ranker reads its candidates' summaries from
        // memory, not the doc store (see `search::summaries`).
        index.keep_summaries_in_memory()?;
        let (tx, rx) = mpsc::channel();
        let state = Arc::new(Inner {
            writer: Mutex::new(registry),
            index,
            readers: Mutex::new(Vec::new()),
            db_path: config.data.join(DATABASE_FILE),
            matching,
            metrics: metrics::Metrics::default(),
            wake: Mutex::new(tx),
            stop: Arc::new(AtomicBool::new(false)),
            audit: Arc::new(audit::AuditWriter::open(&config.data.join(DATABASE_FILE))?),
            searches: search_pool::SearchPool::new(match config.search_threads {
                0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
                n => n,
            }),
        });
        let worker_state = Arc::clone(&state);
        let worker = std::thread::Builder::new()
            .name("famlink-batches".into())
            .spawn(move || batch_worker(worker_state, rx))
            .expect("spawn the batch worker");
        let svc = Service {
            state,
            worker,
            model,
        };
        svc.state.wake_worker();
        Ok(svc)
    }

    /// How the matcher was obtained at start (engine loaded or trained, or why the
    /// search matcher stands in).
    pub fn model(&self) -> &ModelStart {
        &self.model
    }

    /// Whether proposals come from the Fellegi–Sunter engine.
    pub fn uses_engine(&self) -> bool {
        self.state.matching.engine.is_some()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.state
            .writer
            .lock()
            .expect("writer")
            .dir()
            .to_path_buf()
    }

    /// Runs `f` on the writer registry (for the command line: accounts, demo data).
    pub fn with_registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        f(&mut self.state.writer.lock().expect("writer"))
    }

    /// Waits until no batch is queued or running (for the demo and tests).
    pub fn wait_for_batches(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let idle = self
                .state
                .with_reader(|s| batch::queue_counts(s).map_err(ApiError::from))
                .map(|(q, r, _)| q == 0 && r == 0)
                .unwrap_or(false);
            if idle {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn router(&self, max_body: usize) -> Router {
        router(Arc::clone(&self.state), max_body)
    }

    /// Serves on `listener` until `shutdown` resolves; requests in flight finish,
    /// then the batch worker stops after its current chunk (the batch resumes on
    /// the next start).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        max_body: usize,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = self
            .router(max_body)
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        self.state.stop.store(true, Ordering::Release);
        self.state.wake_worker();
        let worker = self.worker;
        let _ = tokio::task::spawn_blocking(move || worker.join()).await;
        tracing::info!("stopped");
        served
    }

    /// Stops the batch worker without serving (for the command line).
    pub fn close(self) {
        self.state.stop.store(true, Ordering::Release);
        self.state.wake_worker();
        let _ = self.worker.join();
    }
}

fn batch_worker(state: AppState, wake: mpsc::Receiver<()>) {
    loop {
        if state.stop.load(Ordering::Acquire) {
            return;
        }
        let next = state.with_reader(|s| batch::next_pending(s).map_err(ApiError::from));
        match next {
            Ok(Some(id)) => {
                tracing::info!(batch = id, "batch running");
                match batch::run(&state.writer, &state.matching, id, &state.stop) {
                    Ok(end) => tracing::info!(batch = id, ?end, "batch ended"),
                    Err(e) => {
                        tracing::error!(batch = id, error = %e, "batch failed");
                        let registry = state.writer.lock().unwrap_or_else(|e| e.into_inner());
                        let _ = registry.store().conn().execute(
                            "UPDATE batches SET state = 'failed', message = ?2 WHERE id = ?1",
                            rusqlite::params![id, e.to_string()],
                        );
                    }
                }
                continue;
            }
            Ok(None) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
        let _ = wake.recv_timeout(Duration::from_secs(2));
    }
}

fn router(state: AppState, max_body: usize) -> Router {
    let mut router: Router<AppState> = Router::new();
    for route in ROUTES {
        router = router.route(route.path, api::handler(route));
    }
    router
        .merge(crate::web::routes())
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            observe,
        ))
        .with_state(state)
}

/// Logs and counts every request by route template, and gives every error the
/// JSON shape, also those axum makes itself (404, 405, 413, 415).
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".into());
    let response = next.run(req).await;
    let status = response.status();
    let response = if status.as_u16() >= 400
        && response.headers().get(CONTENT_TYPE).is_none_or(|v| {
            // Pages answer their errors in HTML of their own.
            v.as_bytes() != b"application/json" && !v.as_bytes().starts_with(b"text/html")
        }) {
        let code = match status.as_u16() {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            422 => "unprocessable",
            _ => "error",
        };
        let body = axum::body::to_bytes(response.into_body(), 64 << 10)
            .await
            .unwrap_or_default();
        let message = String::from_utf8_lossy(&body).trim().to_string();
        let message = if message.is_empty() {
            status.canonical_reason().unwrap_or("error").to_string()
        } else {
            message
        };
        ApiError::new(status, code, message).into_response()
    } else {
        response
    };
    let elapsed = start.elapsed();
    state
        .metrics
        .observe(&method, &route, status.as_u16(), elapsed);
    tracing::info!(
        method = %method,
        route = %route,
        status = status.as_u16(),
        micros = elapsed.as_micros() as u64,
        "request"
    );
    response
}

/// A fresh directory for `serve --demo`.
pub fn demo_dir() -> PathBuf {
    std::env::temp_dir().join(format!(
        "famlink-demo-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp()
    ))
}

/// Whether `dir` is missing or empty.
pub fn is_fresh(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}
