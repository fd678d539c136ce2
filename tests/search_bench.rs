//! Indexing and search at the scale of the acceptance criteria: a million records.
//!
//! Ignored by default; run in release mode:
//! `cargo test --release --test search_bench -- --ignored --nocapture`
//! (`FAMLINK_BENCH_RECORDS` and `FAMLINK_BENCH_QUERIES` change the sizes).
//!
//! The records are synthetic, generated in-process from 64 syllables (a few
//! thousand distinct names),
//! with a skewed name distribution so that the most common given name is carried
//! by about one child in twenty, as in real caseloads. Only counts and timings are
//! printed, never names.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use famlink::record::{
    AgeEstimate, Inquirer, KindDetails, Origin, PartialDate, Record, Relationship, Sex,
};
use famlink::search::{SearchIndex, SearchQuery};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SYLLABLES: [&str; 64] = [
    "ma", "mo", "mu", "ha", "sa", "li", "na", "ra", "ka", "di", "fa", "tu", "ye", "ab", "al", "am",
    "ba", "be", "bi", "da", "de", "ga", "gu", "ja", "jo", "ke", "ki", "ko", "la", "le", "lo", "me",
    "mi", "ne", "ni", "no", "ol", "om", "or", "pa", "qa", "ri", "ro", "ru", "se", "si", "so", "ta",
    "te", "ti", "to", "ul", "us", "va", "wa", "xa", "ya", "yu", "za", "zi", "sha", "kha", "dhi",
    "nko",
];

fn word(rng: &mut ChaCha8Rng, most: usize) -> String {
    let n = rng.random_range(2..=most);
    let mut w = String::new();
    for _ in 0..n {
        w.push_str(SYLLABLES[rng.random_range(0..SYLLABLES.len())]);
    }
    let mut c = w.chars();
    let first = c.next().unwrap().to_ascii_uppercase();
    std::iter::once(first).chain(c).collect()
}

fn pool(rng: &mut ChaCha8Rng, n: usize, most_syllables: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|_| word(rng, most_syllables)).collect();
    v.sort();
    v.dedup();
    // Shuffle so that the skewed pick does not favour early syllables.
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
    v
}

/// A skewed pick: the first names of the pool are by far the most common.
fn pick<'a>(rng: &mut ChaCha8Rng, pool: &'a [String]) -> &'a str {
    let u: f64 = rng.random();
    let i = ((pool.len() as f64) * u.powf(2.5)) as usize;
    &pool[i.min(pool.len() - 1)]
}

struct Pools {
    boys: Vec<String>,
    girls: Vec<String>,
    families: Vec<String>,
    places: Vec<String>,
}

fn record(rng: &mut ChaCha8Rng, p: &Pools, i: usize) -> Record {
    let sex = if rng.random_bool(0.5) {
        Sex::Male
    } else {
        Sex::Female
    };
    let given = pick(rng, if sex == Sex::Male { &p.boys } else { &p.girls }).to_owned();
    let family = pick(rng, &p.families).to_owned();
    let father = format!("{} {family}", pick(rng, &p.boys));
    let mother = format!("{} {}", pick(rng, &p.girls), pick(rng, &p.families));
    let year = rng.random_range(2004..=2023);
    let (birth_date, age) = if rng.random_bool(0.7) {
        (Some(PartialDate::Year(year)), None)
    } else {
        let recorded = rng.random_range(year + 1..=2024);
        (
            None,
            Some(AgeEstimate {
                years: (recorded - year) as f32,
                recorded_on: PartialDate::Year(recorded),
            }),
        )
    };
    let inquiry = rng.random_bool(0.3);
    let details = if inquiry {
        KindDetails::Inquiry {
            inquirer: Inquirer {
                name: Some(mother.clone()),
                relationship: Some(Relationship::Mother),
                contact: None,
            },
        }
    } else {
        KindDetails::Child {
            tracing_consent: rng.random_bool(0.9),
        }
    };
    Record {
        agency: format!("AG{}", i % 7),
        record_id: format!("R{i:07}"),
        given_name: Some(given),
        family_name: Some(family),
        other_names: vec![],
        sex,
        birth_date,
        age,
        father_name: rng.random_bool(0.8).then_some(father),
        mother_name: rng.random_bool(0.7).then_some(mother),
        origin: Origin {
            village: Some(pick(rng, &p.places).to_owned()),
            district: rng
                .random_bool(0.5)
                .then(|| pick(rng, &p.places).to_owned()),
            country: None,
        },
        separation_place: None,
        separation_date: None,
        languages: vec![],
        notes: None,
        details,
        attributes: BTreeMap::new(),
    }
}

/// One letter replaced, or two swapped.
fn typo(rng: &mut ChaCha8Rng, s: &str) -> String {
    let mut b: Vec<u8> = s.bytes().collect();
    if b.len() < 4 {
        return s.to_owned();
    }
    let i = rng.random_range(1..b.len() - 1);
    if rng.random_bool(0.5) {
        b.swap(i, i + 1);
    } else {
        b[i] = b"aeioukmnrst"[rng.random_range(0..11)];
    }
    String::from_utf8(b).unwrap()
}

fn query_for(rng: &mut ChaCha8Rng, r: &Record, today: NaiveDate) -> SearchQuery {
    let mut given = r.given_name.clone().unwrap();
    let mut family = r.family_name.clone().unwrap();
    if rng.random_bool(0.25) {
        if rng.random_bool(0.5) {
            given = typo(rng, &given);
        } else {
            family = typo(rng, &family);
        }
    }
    let name = if rng.random_bool(0.2) {
        format!("{family} {given}")
    } else {
        format!("{given} {family}")
    };
    let mut q = SearchQuery::new(today);
    q.name = Some(name);
    if rng.random_bool(0.5) {
        q.father = r.father_name.clone();
    }
    if rng.random_bool(0.3) {
        q.mother = r.mother_name.clone();
    }
    if rng.random_bool(0.3) {
        q.place = r.origin.village.clone();
    }
    if let Some(years) = r.birth_years() {
        let roll: f64 = rng.random();
        if roll < 0.4 {
            q.born = Some(PartialDate::Year(years.max));
        } else if roll < 0.7 {
            q.age = Some((2024 - years.max) as f32 + rng.random_range(-1.0..1.0));
        }
    }
    if rng.random_bool(0.5) {
        q.sex = Some(r.sex);
    }
    q.limit = 10;
    q
}

fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "a million records: run in release mode with --ignored"]
fn index_and_search_a_million_records() {
    let n = env_usize("FAMLINK_BENCH_RECORDS", 1_000_000);
    let n_queries = env_usize("FAMLINK_BENCH_QUERIES", 1_000);
    let today = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let pools = Pools {
        boys: pool(&mut rng, 1500, 3),
        girls: pool(&mut rng, 1500, 3),
        families: pool(&mut rng, 3000, 4),
        places: pool(&mut rng, 800, 3),
    };
    let mut targets = Vec::with_capacity(n_queries);
    let every = (n / n_queries).max(1);

    // FAMLINK_BENCH_DIR keeps the index between runs (to time searches alone).
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("FAMLINK_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let index = SearchIndex::open(&dir).unwrap();
    let reuse = index.indexed_through() == n as u64;
    let started = Instant::now();
    let mut generating = Duration::ZERO;
    let mut w = if reuse {
        None
    } else {
        Some(index.writer().unwrap())
    };
    if let Some(w) = w.as_mut() {
        w.clear().unwrap();
    }
    for i in 0..n {
        let t = Instant::now();
        let r = record(&mut rng, &pools, i);
        generating += t.elapsed();
        if let Some(w) = w.as_mut() {
            w.put(&r).unwrap();
        }
        if i % every == every / 2 && targets.len() < n_queries {
            targets.push(r);
        }
    }
    let put_done = started.elapsed();
    if let Some(w) = w {
        w.commit(n as u64).unwrap();
        let total = started.elapsed();
        let indexing = total - generating;
        println!("records: {n}");
        println!(
            "indexing: {:.1} s (puts {:.1} s, commit and merges {:.1} s; generating the records, not counted, {:.1} s)",
            indexing.as_secs_f64(),
            (put_done - generating).as_secs_f64(),
            (total - put_done).as_secs_f64(),
            generating.as_secs_f64()
        );
        println!("peak RSS after indexing: {:?} MiB", peak_rss_mib());
    }
    println!(
        "index size: {:.1} MiB, {} records, {} segments",
        index.size_on_disk() as f64 / (1 << 20) as f64,
        index.num_records().unwrap(),
        index.num_segments()
    );

    // Reopen as a server would.
    drop(index);
    let index = SearchIndex::open(&dir).unwrap();
    assert_eq!(index.indexed_through(), n as u64);
    let mut qrng = ChaCha8Rng::seed_from_u64(11);
    let queries: Vec<SearchQuery> = targets
        .iter()
        .map(|r| query_for(&mut qrng, r, today))
        .collect();
    for q in queries.iter().take(50) {
        index.search(q).unwrap();
    }
    let mut times = Vec::with_capacity(queries.len());
    // Not first: tied with the first (identical synthetic records the query cannot
    // tell apart), scored below it, or not found at all.
    let (mut first, mut top10, mut tied, mut below, mut lost) = (0, 0, 0, 0, 0);
    for (q, r) in queries.iter().zip(&targets) {
        let t = Instant::now();
        let hits = index.search(q).unwrap();
        times.push(t.elapsed());
        let key = r.key();
        let pos = hits.iter().position(|h| h.key == key);
        if pos == Some(0) {
            first += 1;
        }
        if pos.is_some() {
            top10 += 1;
        }
        if pos != Some(0) {
            // Untimed: where the target is among all the candidates.
            let wide = SearchQuery {
                limit: 200,
                ..q.clone()
            };
            let all = index.search(&wide).unwrap();
            match all.iter().find(|h| h.key == key) {
                Some(h) if h.score >= all[0].score => tied += 1,
                Some(_) => below += 1,
                None => lost += 1,
            }
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "search over {} queries: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap())
    );
    let pct = |k: usize| 100.0 * k as f64 / queries.len() as f64;
    println!(
        "target first: {:.1} %, in the top 10: {:.1} %; not first but tied with the first: {:.1} %, scored below the first: {:.1} %, not among the candidates: {:.1} %",
        pct(first),
        pct(top10),
        pct(tied),
        pct(below),
        pct(lost)
    );
    println!("peak RSS: {:?} MiB", peak_rss_mib());
}
