//! `famlink bench`: import throughput, peak memory, index size and search latency
//! on a file of records (for example one written by `famlink fixtures`).
//!
//! A benchmark, not a test: it is run by hand and its figures go to BENCHMARKS.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::SeedableRng;

use famlink::import::{CsvRows, ImportOptions, Input, Item, RowSource};
use famlink::record::{RecordKind, RowParser};
use famlink::registry::{Registry, Viewer};
use famlink::search::SearchQuery;

use super::{human_bytes, parse_kind, progress_bar};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A fresh data directory for the benchmark (must not exist yet).
    #[arg(long)]
    data: PathBuf,
    /// The CSV file to import.
    #[arg(long)]
    input: PathBuf,
    #[arg(long, value_parser = parse_kind, default_value = "child")]
    kind: RecordKind,
    /// For child files without the column.
    #[arg(long = "tracing-consent", value_parser = ["yes", "no"])]
    tracing_consent: Option<String>,
    /// How many searches to time.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Search an existing data directory (imported before from the same file)
    /// instead of importing into a fresh one: for repeated timing runs.
    #[arg(long)]
    reuse: bool,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.reuse {
        if !args.data.exists() {
            anyhow::bail!("{} does not exist: nothing to reuse", args.data.display());
        }
    } else if args.data.exists() {
        anyhow::bail!(
            "{} exists: the benchmark needs a fresh data directory (or --reuse)",
            args.data.display()
        );
    }
    let t = Instant::now();
    let mut registry = Registry::open(&args.data)?;
    if args.reuse {
        // Opening brings the index up to date (rebuilt if its format changed).
        println!("opened in:          {:.1} s", t.elapsed().as_secs_f64());
        println!(
            "index size:         {}",
            human_bytes(registry.index().size_on_disk())
        );
        return time_searches(&args, &registry);
    }
    let mut opts = ImportOptions::new(args.kind);
    opts.consent_for_all = args.tracing_consent.as_deref().map(|v| v == "yes");
    opts.actor = "bench".into();
    let input = Input::file(&args.input, None)?;

    let bar = progress_bar(0, "importing");
    let start = Instant::now();
    let report = registry.import(&input, &opts, &mut |p| {
        if let Some(len) = p.bytes_total {
            bar.set_length(len);
        }
        bar.set_position(p.bytes_read);
    })?;
    let import_time = start.elapsed();
    bar.finish_and_clear();
    if !report.stored {
        for line in report.error_lines().take(20) {
            eprintln!("{line}");
        }
        anyhow::bail!("the input was refused; nothing to benchmark");
    }
    let peak_after_import = peak_rss_bytes();
    let n = report.counts.imported + report.counts.updated;
    let stats = registry.stats()?;
    let index_bytes = registry.index().size_on_disk();
    println!(
        "records imported:   {n} in {:.1} s ({:.0} records/s)",
        import_time.as_secs_f64(),
        n as f64 / import_time.as_secs_f64()
    );
    println!(
        "peak memory:        {}",
        peak_after_import.map_or("unknown".into(), human_bytes)
    );
    println!("store size:         {}", human_bytes(stats.database_bytes));
    println!("index size:         {}", human_bytes(index_bytes));

    time_searches(&args, &registry)
}

/// Times the searches: the index alone, then the whole audited search.
fn time_searches(args: &BenchArgs, registry: &Registry) -> anyhow::Result<ExitCode> {
    let queries = sample_queries(args, args.queries)?;
    // As the service does (see `serve`).
    let t = Instant::now();
    registry.index().keep_summaries_in_memory()?;
    println!("summaries copied:   {:.1} s", t.elapsed().as_secs_f64());
    let viewer = Viewer::local("bench");
    let today = chrono::Local::now().date_naive();
    let mut index_only = Vec::with_capacity(queries.len());
    let mut audited = Vec::with_capacity(queries.len());
    let mut found_first = 0usize;
    let make = |name: &str, born: &Option<famlink::record::PartialDate>| SearchQuery {
        kind: Some(args.kind),
        name: Some(name.to_owned()),
        father: None,
        mother: None,
        place: None,
        born: *born,
        age: None,
        sex: None,
        limit: 10,
        viewer_agency: None,
        only_agency: None,
        today,
    };
    // The index searches in a loop of their own, so that the process's CPU time
    // over the loop is theirs (the kernel's per-thread counters are only brought
    // up to date at ticks and switches: too coarse for one search).
    let cpu = process_cpu_time();
    let loop_start = Instant::now();
    for (record_id, name, born) in &queries {
        let q = make(name, born);
        let t = Instant::now();
        let hits = registry.index().search(&q)?;
        index_only.push(t.elapsed());
        if hits.first().is_some_and(|h| &h.key.record_id == record_id) {
            found_first += 1;
        }
    }
    let index_wall = loop_start.elapsed();
    let index_cpu = process_cpu_time().map(|end| end.saturating_sub(cpu.unwrap_or_default()));
    for (_, name, born) in &queries {
        // The whole search as the command line and the service do it: index,
        // records read back from the store, and the audit line written.
        let q = make(name, born);
        let t = Instant::now();
        registry.search(&q, &viewer)?;
        audited.push(t.elapsed());
    }
    for (what, latencies) in [
        ("index search", &mut index_only),
        ("audited search", &mut audited),
    ] {
        let (p50, p95, p99) = percentiles(latencies);
        println!(
            "{what:<15}     p50 {p50:.2} ms, p95 {p95:.2} ms, p99 {p99:.2} ms over {} searches (name with one typo, birth year)",
            latencies.len()
        );
    }
    let n = queries.len().max(1) as f64;
    println!(
        "index search CPU:   {} ms per search (process CPU over the loop; wall {:.2} ms per search)",
        index_cpu.map_or("unknown".into(), |c| format!("{:.2}", c.as_secs_f64() * 1000.0 / n)),
        index_wall.as_secs_f64() * 1000.0 / n
    );
    println!(
        "sought record first: {found_first} of {} ({:.1}%)",
        queries.len(),
        100.0 * found_first as f64 / queries.len().max(1) as f64
    );
    Ok(ExitCode::SUCCESS)
}

/// p50, p95 and p99 in milliseconds.
fn percentiles(latencies: &mut [Duration]) -> (f64, f64, f64) {
    latencies.sort();
    let at = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.95), at(0.99))
}

type Query = (String, String, Option<famlink::record::PartialDate>);

/// Queries from records of the input: their names with one letter changed, as a
/// tracing officer would type a name heard once, and their birth year.
fn sample_queries(args: &BenchArgs, count: usize) -> anyhow::Result<Vec<Query>> {
    let file = std::fs::File::open(&args.input)?;
    let mut rows = CsvRows::new(std::io::BufReader::new(file))?;
    let consent = args.tracing_consent.as_deref().map(|v| v == "yes");
    let parser = RowParser::new(args.kind, consent);
    let mut all = Vec::new();
    while let Some(item) = rows.next_item() {
        if let Item::Row(row) = item? {
            if let Ok(r) = parser.parse(&row) {
                let name: Vec<&str> = r.own_names().take(2).collect();
                if !name.is_empty() {
                    let born = r
                        .birth_date
                        .map(|d| famlink::record::PartialDate::Year(d.year()));
                    all.push((r.record_id.clone(), name.join(" "), born));
                }
            }
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    all.shuffle(&mut rng);
    all.truncate(count);
    for (_, name, _) in all.iter_mut() {
        *name = with_typo(name, &mut rng);
    }
    Ok(all)
}

fn with_typo(name: &str, rng: &mut impl rand::Rng) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let letters: Vec<usize> = (1..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if let Some(&i) = letters.get(rng.random_range(0..letters.len().max(1))) {
        let c = chars[i];
        chars[i] = if c == 'a' { 'e' } else { 'a' };
    }
    chars.into_iter().collect()
}

/// User and system CPU time of this process so far (Linux), from
/// `/proc/self/stat` (in clock ticks, assumed 100 per second: Linux's USER_HZ).
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Peak resident memory of this process so far (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
