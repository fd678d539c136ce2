//! The committed sample under `fixtures/sample/` must be exactly what the generator
//! makes from its spec. When the generator changes on purpose, regenerate it:
//!
//! ```sh
//! FAMLINK_BLESS_FIXTURES=1 cargo test --test fixtures
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use famlink::fixtures::{generate, FixtureSpec, FILES};
use famlink::record::{parse::columns, RawRow, RecordKind, RowParser};

/// The spec of the committed sample (see fixtures/README.md).
fn sample_spec() -> FixtureSpec {
    FixtureSpec {
        seed: 42,
        children: 300,
        inquiries: 150,
    }
}

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample")
}

#[test]
fn fixtures_sample_in_repo_equals_regeneration() {
    if std::env::var_os("FAMLINK_BLESS_FIXTURES").is_some() {
        generate(&sample_spec(), &sample_dir()).unwrap();
        return;
    }
    let fresh = tempfile::tempdir().unwrap();
    generate(&sample_spec(), fresh.path()).unwrap();
    for f in FILES {
        let committed = std::fs::read(sample_dir().join(f))
            .unwrap_or_else(|e| panic!("fixtures/sample/{f}: {e}"));
        let regenerated = std::fs::read(fresh.path().join(f)).unwrap();
        assert!(
            committed == regenerated,
            "fixtures/sample/{f} is not what the generator makes from seed 42 any more; \
             if the change is intended, run FAMLINK_BLESS_FIXTURES=1 cargo test --test fixtures"
        );
    }
}

#[test]
fn fixtures_sample_rows_all_parse() {
    if std::env::var_os("FAMLINK_BLESS_FIXTURES").is_some() {
        return; // the files are being rewritten by the other test
    }
    for (file, kind) in [
        ("children.csv", RecordKind::Child),
        ("inquiries.csv", RecordKind::Inquiry),
    ] {
        let mut reader = csv::Reader::from_path(sample_dir().join(file)).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let expected: Vec<String> = columns(kind).iter().map(|c| c.to_string()).collect();
        assert_eq!(header, expected);
        let header: Arc<[String]> = header.into();
        let parser = RowParser::new(kind, None);
        let mut rows = 0;
        for (i, rec) in reader.records().enumerate() {
            let raw = RawRow {
                line: i as u64 + 2,
                columns: header.clone(),
                values: rec.unwrap().iter().map(String::from).collect(),
            };
            if let Err(errors) = parser.parse(&raw) {
                panic!("{file} line {}: {errors:?}", raw.line);
            }
            rows += 1;
        }
        assert!(rows > 0);
    }
}

/// A timing run at scale, not part of the suite:
///
/// ```sh
/// FAMLINK_FIXTURES_LARGE=1000000,200000,/tmp/fixtures cargo test --release --test fixtures -- --ignored
/// ```
#[test]
#[ignore]
fn fixtures_large_run() {
    let spec = std::env::var("FAMLINK_FIXTURES_LARGE").unwrap_or_default();
    let parts: Vec<&str> = spec.split(',').collect();
    let [children, inquiries, out] = parts[..] else {
        panic!("set FAMLINK_FIXTURES_LARGE=CHILDREN,INQUIRIES,OUT_DIR");
    };
    let spec = FixtureSpec {
        seed: 1,
        children: children.parse().unwrap(),
        inquiries: inquiries.parse().unwrap(),
    };
    let started = std::time::Instant::now();
    let summary = generate(&spec, Path::new(out)).unwrap();
    println!("{summary:?} in {:?}", started.elapsed());
}
