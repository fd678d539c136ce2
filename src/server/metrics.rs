//! Request counts and latencies, in the Prometheus text format. Labels are route
//! templates (`/api/v1/records/{kind}/{agency}/{id}`), never the path asked for,
//! and never a query string: those can hold names.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
}

/// Batch and queue figures read from the store when scraped.
pub struct Gauges {
    pub batches_queued: u64,
    pub batches_running: u64,
    pub batch_rows_read: u64,
    pub proposals_pending: u64,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let key = (method.to_string(), route.to_string());
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((key.0.clone(), key.1.clone(), status))
            .or_default() += 1;
        let secs = elapsed.as_secs_f64();
        let mut lat = self.latency.lock().expect("metrics lock");
        let h = lat.entry(key).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        out.push_str("# HELP famlink_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE famlink_http_requests_total counter\n");
        for ((m, r, s), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "famlink_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}"
            );
        }
        out.push_str("# HELP famlink_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE famlink_http_request_duration_seconds histogram\n");
        for ((m, r), h) in self.latency.lock().expect("metrics lock").iter() {
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "famlink_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "famlink_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "famlink_http_request_duration_seconds_sum{{method=\"{m}\",route=\"{r}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "famlink_http_request_duration_seconds_count{{method=\"{m}\",route=\"{r}\"}} {}",
                h.count
            );
        }
        for (name, help, v) in [
            (
                "famlink_batches_queued",
                "Batches waiting to run.",
                g.batches_queued,
            ),
            (
                "famlink_batches_running",
                "Batches being imported.",
                g.batches_running,
            ),
            (
                "famlink_batch_rows_read",
                "Rows read so far by running batches.",
                g.batch_rows_read,
            ),
            (
                "famlink_review_queue_pending",
                "Proposals waiting for a reviewer.",
                g.proposals_pending,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}
