//! `famlink train`, `match` and `eval` on a data directory: the records come from the
//! store that `famlink import` filled, the learned parameters go next to it.

mod common;

use std::path::Path;

use common::{text, Workspace};

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sample")
        .join(name)
}

#[test]
fn train_match_and_eval_read_the_store() {
    let ws = Workspace::new();
    // Nothing imported yet: a clear error, not an empty run.
    let out = ws.famlink(&["train"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("import"),
        "{}",
        text(&out.stderr)
    );

    for (kind, file) in [("child", "children.csv"), ("inquiry", "inquiries.csv")] {
        let out = ws.import(kind, &sample(file), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = ws.famlink(&["train"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(ws.data().join("model/tracing.model.json").is_file());
    assert!(text(&out.stderr).contains("loaded 300 children, 150 inquiries"));
    // The committed rules (`source = "auto"`): the search index at this size.
    assert!(
        text(&out.stderr).contains("candidate source: the search index"),
        "{}",
        text(&out.stderr)
    );

    let proposals = ws.path("p.csv");
    let out = ws
        .famlink(&["match", &format!("--out={}", proposals.display())])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(&proposals).unwrap();
    assert!(csv.starts_with("inquiry_agency,inquiry_record_id,child_agency,child_record_id,rank,probability,band,explanation"));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_famlink"))
        .args(["eval", "--json", "--proposals"])
        .arg(&proposals)
        .arg("--truth")
        .arg(sample("truth_links.csv"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The same floors as the library test on the same sample read from CSV.
    assert!(e["recall_at_1"].as_f64().unwrap() >= 0.95, "{e}");
    assert!(e["recall_at_k"].as_f64().unwrap() >= 0.97, "{e}");

    // --top 1: one proposal per inquiry at most, ranked first.
    let p1 = ws.path("p1.csv");
    let out = ws
        .famlink(&["match", "--top", "1", &format!("--out={}", p1.display())])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ranks: Vec<String> = std::fs::read_to_string(&p1)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().to_string())
        .collect();
    assert!(!ranks.is_empty() && ranks.iter().all(|r| r == "1"));
}

/// Each candidate source, and `auto` choosing by the number of children: the key
/// index above `index_up_to` (300 sample children against a limit of 100).
#[test]
fn train_and_match_with_each_candidate_source() {
    let ws = Workspace::new();
    for (kind, file) in [("child", "children.csv"), ("inquiry", "inquiries.csv")] {
        let out = ws.import(kind, &sample(file), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // A copy of the committed rule file elsewhere: its names directory, relative to
    // the file, is pointed back at the committed one.
    let names = Path::new(env!("CARGO_MANIFEST_DIR")).join("matching-rules/names");
    let committed = famlink::matching::rules::DEFAULT_RULES.replace(
        "dir = \"names\"",
        &format!("dir = {:?}", names.display().to_string()),
    );
    assert!(committed.contains("source = \"auto\""));
    for (from, source, says) in [
        (
            "source = \"auto\"",
            "source = \"index\"",
            "candidate source: the search index",
        ),
        (
            "source = \"auto\"",
            "source = \"keys\"",
            "candidate key index",
        ),
        (
            "index_up_to = 200000",
            "index_up_to = 100",
            "candidate key index",
        ),
    ] {
        assert!(committed.contains(from));
        let rules = committed.replacen(from, source, 1);
        let rules_file = ws.write("tracing.toml", &rules);
        let rules_arg = format!("--rules={}", rules_file.display());
        let out = ws.famlink(&["train", &rules_arg]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(says),
            "{source}: {}",
            text(&out.stderr)
        );
        let proposals = ws.path("p.csv");
        let out = ws
            .famlink(&[
                "match",
                &rules_arg,
                &format!("--out={}", proposals.display()),
                &format!("--truth={}", sample("truth_links.csv").display()),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        // "candidate stage: N pairs (...); recall R (...)": every true pair of the
        // sample reaches scoring.
        let stdout = text(&out.stdout);
        let recall: f64 = stdout
            .split("recall ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("{stdout}"));
        assert!(recall >= 0.98, "{source}: {stdout}");
    }
}
