//! `famlink bench-http`: concurrent clients searching a running `famlink serve`
//! over loopback for a bounded time; throughput, latency percentiles and errors.
//!
//! A benchmark, not a test: run by hand, figures in BENCHMARKS.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use famlink::import::{CsvRows, Item, RowSource};
use famlink::record::{RecordKind, RowParser};

#[derive(clap::Args, Debug)]
pub struct BenchHttpArgs {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// An officer's token.
    #[arg(long)]
    token: String,
    /// A children CSV to build queries from (names with one letter changed, birth year).
    #[arg(long)]
    input: PathBuf,
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Queries sampled from the input: more than a run asks, so that no query is
    /// asked twice and no cache of whole queries or of misspelt tokens could
    /// flatter the figures (50 clients start 7,919 queries apart).
    #[arg(long, default_value_t = 100_000)]
    queries: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Search paths from a reservoir sample of the input's records.
fn queries(args: &BenchHttpArgs) -> anyhow::Result<Vec<String>> {
    let file = std::fs::File::open(&args.input)?;
    let mut rows = CsvRows::new(BufReader::new(file))?;
    let parser = RowParser::new(RecordKind::Child, None);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let mut sample: Vec<famlink::record::RawRow> = Vec::new();
    let mut seen = 0usize;
    while let Some(item) = rows.next_item() {
        if let Item::Row(row) = item? {
            seen += 1;
            if sample.len() < args.queries {
                sample.push(row);
            } else {
                let j = rng.random_range(0..seen);
                if j < args.queries {
                    sample[j] = row;
                }
            }
        }
    }
    let mut out = Vec::new();
    for row in sample {
        let Ok(r) = parser.parse(&row) else { continue };
        let name: Vec<&str> = r.own_names().take(2).collect();
        if name.is_empty() {
            continue;
        }
        let mut chars: Vec<char> = name.join(" ").chars().collect();
        let i = rng.random_range(1..chars.len().max(2)).min(chars.len() - 1);
        if chars[i].is_alphabetic() {
            chars[i] = if chars[i] == 'a' { 'e' } else { 'a' };
        }
        let name: String = chars.into_iter().collect();
        let mut path = format!("/api/v1/search?kind=child&limit=10&name={}", enc(&name));
        if let Some(d) = r.birth_date {
            path.push_str(&format!("&born={}", d.year()));
        }
        out.push(path);
    }
    anyhow::ensure!(!out.is_empty(), "no usable records in the input");
    Ok(out)
}

struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            reader: BufReader::new(s),
        })
    }

    /// One GET on the kept-alive connection; its status.
    fn get(&mut self, addr: SocketAddr, path: &str, token: &str) -> std::io::Result<u16> {
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n");
        self.reader.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other("bad status line"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body)?;
        Ok(status)
    }
}

pub fn run(args: BenchHttpArgs) -> anyhow::Result<ExitCode> {
    let paths = Arc::new(queries(&args)?);
    eprintln!(
        "{} queries; {} clients for {} s against {}",
        paths.len(),
        args.clients,
        args.duration,
        args.addr
    );
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..args.clients)
        .map(|c| {
            let paths = Arc::clone(&paths);
            let stop = Arc::clone(&stop);
            let token = args.token.clone();
            let addr = args.addr;
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut conn = Conn::open(addr).ok();
                let mut i = c * 7919;
                while !stop.load(Ordering::Relaxed) {
                    let path = &paths[i % paths.len()];
                    i += 1;
                    let t = Instant::now();
                    let ok = match conn.as_mut() {
                        Some(c) => matches!(c.get(addr, path, &token), Ok(200)),
                        None => false,
                    };
                    if ok {
                        lat.push(t.elapsed());
                    } else {
                        errors += 1;
                        conn = Conn::open(addr).ok();
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(args.duration));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (lat, e) = h.join().expect("client thread");
        all.extend(lat);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!("requests:   {} ok, {} errors", all.len(), errors);
    println!("throughput: {:.0} searches/s", all.len() as f64 / elapsed);
    println!(
        "latency:    p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50),
        pct(0.95),
        pct(0.99),
        all.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
