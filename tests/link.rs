//! End-to-end tests of `famlink link` and `famlink eval-pairs`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use famlink::link::{self, eval, ModelSource};
use famlink::rules::Rules;
use predicates::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shared_data() -> Option<PathBuf> {
    let d = repo().join("../shared/data");
    if d.join("febrl1.csv").exists() {
        Some(d)
    } else {
        eprintln!("skipped: {} is absent", d.display());
        None
    }
}

#[test]
fn febrl1_dedupe_reaches_f1() {
    let Some(data) = shared_data() else { return };
    let mut rules = Rules::load(&repo().join("matching-rules/febrl.toml")).unwrap();
    rules.training.u_sample_pairs = 30_000; // debug builds are slow; the exact u comes from counts
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pairs.csv");
    let run = link::run(
        &rules,
        &data.join("febrl1.csv"),
        None,
        &out,
        ModelSource::Train,
    )
    .unwrap();
    let truth = eval::read_pairs(&data.join("febrl1_true_pairs.csv"), None).unwrap();
    let m = eval::evaluate(&eval::read_pairs(&out, None).unwrap(), &truth);
    eprintln!("FEBRL1: {m:?}, prior {}", run.model.prior);
    assert!(m.f1 >= 0.99, "{m:?}");
    // Every written pair is at or above the threshold and appears once.
    assert!(run
        .pairs
        .iter()
        .all(|p| p.probability >= rules.match_threshold));
    let distinct: HashSet<(u32, u32)> = run.pairs.iter().map(|p| (p.a, p.b)).collect();
    assert_eq!(distinct.len(), run.pairs.len());
}

const GIVEN: &[&str] = &[
    "amina", "yusuf", "fatima", "omar", "leila", "hassan", "mariam", "ibrahim", "zainab", "ali",
    "grace", "joseph", "esther", "samuel", "ruth", "daniel", "mercy", "peter", "joy", "david",
];
const FAMILY: &[&str] = &[
    "abdi",
    "mohamed",
    "hussein",
    "okello",
    "achieng",
    "mwangi",
    "nkurunziza",
    "habimana",
    "uwase",
    "niyonzima",
    "kamara",
    "conteh",
    "bangura",
    "sesay",
    "diallo",
    "barry",
    "toure",
    "kone",
    "traore",
    "keita",
    "haddad",
    "nasser",
    "khalil",
    "saleh",
    "mansour",
];
const CAMPS: &[&str] = &[
    "kakuma",
    "dadaab",
    "nyarugusu",
    "bidibidi",
    "zaatari",
    "azraq",
    "kutupalong",
];

fn typo(s: &str, rng: &mut ChaCha8Rng) -> String {
    let mut c: Vec<char> = s.chars().collect();
    let i = rng.random_range(0..c.len().saturating_sub(1).max(1));
    if c.len() > 2 {
        c.swap(i, i + 1);
    }
    c.into_iter().collect()
}

/// Two small files of the same 150 children (a third of the right side's names have
/// a typo, a few dates are missing) plus 150 others on each side.
fn small_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut left = String::from("id,given,family,born,camp\n");
    let mut right = String::from("ref,given,family,born,camp\n");
    let mut truth = String::from("rec_id_a,rec_id_b\n");
    let person = |rng: &mut ChaCha8Rng| {
        let g = GIVEN[rng.random_range(0..GIVEN.len())];
        let f = FAMILY[rng.random_range(0..FAMILY.len())];
        let born = format!(
            "20{:02}{:02}{:02}",
            rng.random_range(8..20),
            rng.random_range(1..13),
            rng.random_range(1..29)
        );
        let camp = CAMPS[rng.random_range(0..CAMPS.len())];
        (g.to_string(), f.to_string(), born, camp.to_string())
    };
    for i in 0..300 {
        let (g, f, b, c) = person(&mut rng);
        writeln!(left, "L{i},{g},{f},{b},{c}").unwrap();
        if i < 150 {
            let g2 = if rng.random_bool(0.33) {
                typo(&g, &mut rng)
            } else {
                g
            };
            let b2 = if rng.random_bool(0.05) {
                String::new()
            } else {
                b
            };
            writeln!(right, "R{i},{g2},{f},{b2},{c}").unwrap();
            writeln!(truth, "L{i},R{i}").unwrap();
        } else {
            let (g, f, b, c) = person(&mut rng);
            writeln!(right, "R{i},{g},{f},{b},{c}").unwrap();
        }
    }
    let paths = (
        dir.join("left.csv"),
        dir.join("right.csv"),
        dir.join("truth.csv"),
    );
    std::fs::write(&paths.0, left).unwrap();
    std::fs::write(&paths.1, right.replace("ref,", "id,")).unwrap();
    std::fs::write(&paths.2, truth).unwrap();
    paths
}

const SMALL_RULES: &str = r#"
id_column = "id"
match_threshold = 0.9

[[blocking]]
on = ["family"]

[[blocking]]
on = ["born"]

[[comparison]]
column = "given"
tf_adjustment = true
levels = ["exact", { jaro_winkler = 0.9 }, "phonetic"]

[[comparison]]
column = "family"
tf_adjustment = true
levels = ["exact", { jaro_winkler = 0.9 }]

[[comparison]]
column = "born"
levels = ["exact", "date_swapped_day_month", { date_within_days = 366 }]

[[comparison]]
column = "camp"
levels = ["exact"]

[training]
u_sample_pairs = 20_000
em_blocking = [["family"], ["born"]]
"#;

#[test]
fn link_command_writes_pairs_and_model() {
    let dir = tempfile::tempdir().unwrap();
    let (left, right, truth) = small_files(dir.path());
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, SMALL_RULES).unwrap();
    let out = dir.path().join("pairs.csv");
    Command::cargo_bin("famlink")
        .unwrap()
        .args(["link", "--rules"])
        .arg(&rules)
        .arg("--left")
        .arg(&left)
        .arg("--right")
        .arg(&right)
        .arg("--out")
        .arg(&out)
        .arg("--truth")
        .arg(&truth)
        .assert()
        .success()
        .stderr(predicate::str::contains("candidate recall"));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("left_id,right_id,probability\n"));
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert!(f[0].starts_with('L') && f[1].starts_with('R'), "{line}");
        assert!(f[2].parse::<f64>().unwrap() >= 0.9);
    }
    let model = std::fs::read_to_string(dir.path().join("pairs.model.json")).unwrap();
    assert!(model.contains("\"log2_bayes_factor\"") && model.contains("\"prior\""));

    let got = Command::cargo_bin("famlink")
        .unwrap()
        .args(["eval-pairs", "--json", "--pairs"])
        .arg(&out)
        .arg("--truth")
        .arg(&truth)
        .output()
        .unwrap();
    assert!(got.status.success());
    let m: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    let f1 = m["f1"].as_f64().unwrap();
    assert!(f1 >= 0.95, "{m}");

    // The saved model can be used again, with the same result.
    let out2 = dir.path().join("again.csv");
    Command::cargo_bin("famlink")
        .unwrap()
        .args(["link", "--quiet", "--rules"])
        .arg(&rules)
        .arg("--left")
        .arg(&left)
        .arg("--right")
        .arg(&right)
        .arg("--out")
        .arg(&out2)
        .arg("--model")
        .arg(dir.path().join("pairs.model.json"))
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out2).unwrap(), text);
}

#[test]
fn rule_file_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (left, right, _) = small_files(dir.path());
    let rules = dir.path().join("bad.toml");
    std::fs::write(&rules, SMALL_RULES.replace("\"phonetic\"", "\"soundex\"")).unwrap();
    let shown = format!("{}:14: unknown comparator `soundex`", rules.display());
    Command::cargo_bin("famlink")
        .unwrap()
        .args(["link", "--rules"])
        .arg(&rules)
        .arg("--left")
        .arg(&left)
        .arg("--right")
        .arg(&right)
        .arg("--out")
        .arg(dir.path().join("p.csv"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(shown));

    // A column the data lacks points at the rule naming it.
    std::fs::write(
        &rules,
        SMALL_RULES.replace("column = \"camp\"", "column = \"site\""),
    )
    .unwrap();
    Command::cargo_bin("famlink")
        .unwrap()
        .args(["link", "--rules"])
        .arg(&rules)
        .arg("--left")
        .arg(&left)
        .arg("--right")
        .arg(&right)
        .arg("--out")
        .arg(dir.path().join("p.csv"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:26: column `site` is not in",
            rules.display()
        )));
}
