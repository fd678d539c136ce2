//! The threads that run searches: a fixed few (one per core by default), taking
//! the searches from one queue in the order they came.
//!
//! A search is a millisecond or two of CPU and nothing else, and fifty officers
//! may ask at once. Run on tokio's blocking pool, fifty searches would time-slice
//! each other and all finish late. Before this pool, a semaphore let a few run
//! and queued the rest, but a slot was held from its grant to the moment the
//! async task holding it was polled again after the search: two wake-ups and two
//! hand-offs between threads, during which no search ran on that slot. With a
//! slot per core a core idled through those gaps, and with more slots than cores
//! the searches time-sliced again. Measured at 50 clients with three slots on two
//! cores: 9 % of the machine idle. A pool thread goes from one search straight to
//! the next; the request's task waits on a oneshot channel, holding no thread.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};

use tokio::sync::oneshot;

use super::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct SearchPool {
    queue: mpsc::Sender<Job>,
}

impl SearchPool {
    /// Starts `threads` threads (at least one). They stop once the pool is
    /// dropped and the searches already queued are done.
    pub fn new(threads: usize) -> Self {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads.max(1) {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("famlink-search-{i}"))
                .spawn(move || loop {
                    // One thread waits on the queue, the others on the lock: each
                    // search goes to the first thread free, in the order queued.
                    let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("spawn a search thread");
        }
        SearchPool { queue }
    }

    /// Queues `f` at once, behind the searches queued before it; the future
    /// answers with its result without holding a thread while it waits. A panic
    /// in `f` is an internal error of this request alone.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> impl Future<Output = Result<T, ApiError>> {
        let (done, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(catch_unwind(AssertUnwindSafe(f)));
        });
        // Sending fails only once the threads are gone; `done` is then dropped
        // with the job, and the answer says so.
        let _ = self.queue.send(job);
        async move {
            match answer.await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(ApiError::internal("the search failed")),
                Err(_) => Err(ApiError::internal("the search threads have stopped")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Never more searches at once than threads, all of them answered, in the
    /// order queued; a panicking search is an error for its caller alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn searches_run_a_few_at_a_time_in_order_and_a_panic_stays_in_its_request() {
        let pool = SearchPool::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(Mutex::new(Vec::new()));
        let searches: Vec<_> = (0..12)
            .map(|i| {
                let (running, most, started) = (
                    Arc::clone(&running),
                    Arc::clone(&most),
                    Arc::clone(&started),
                );
                pool.run(move || {
                    started.lock().unwrap().push(i);
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(10));
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(i * 2)
                })
            })
            .collect();
        let failed = pool.run(|| -> Result<(), ApiError> { panic!("a broken search") });
        for (i, search) in searches.into_iter().enumerate() {
            assert_eq!(search.await.unwrap(), i * 2);
        }
        assert!(failed.await.is_err());
        assert_eq!(most.load(Ordering::SeqCst), 2);
        // Each search starts once all those queued before it have started (two
        // threads: the one just before may note its start a moment later).
        let started = started.lock().unwrap().clone();
        let mut sorted = started.clone();
        sorted.sort();
        assert_eq!(sorted, (0..12).collect::<Vec<_>>());
        for (at, &i) in started.iter().enumerate() {
            assert!(i <= at + 1, "search {i} started {at}th: {started:?}");
        }
        // The pool still answers after the panic.
        assert_eq!(pool.run(|| Ok(7)).await.unwrap(), 7);
    }
}
