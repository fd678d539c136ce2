//! Helpers shared by the tests: a data directory per test and the `famlink` binary
//! run on it, and a model trained on the committed sample.
#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub const CHILD_HEADER: &str = "record_id,agency,given_name,family_name,other_names,sex,birth_date,age_years,age_recorded_on,father_name,mother_name,origin_village,origin_district,origin_country,separation_place,separation_date,languages,notes,tracing_consent";

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write test file");
        p
    }

    /// `famlink ARGS --data <this workspace's data>`.
    pub fn famlink(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("famlink").expect("binary built");
        cmd.args(args)
            .arg("--data")
            .arg(self.data())
            .current_dir(self.dir.path());
        cmd
    }

    pub fn import(&self, kind: &str, file: &Path, extra: &[&str]) -> std::process::Output {
        let mut cmd = self.famlink(&["import", "--kind", kind]);
        cmd.args(extra).arg(file);
        cmd.output().expect("famlink runs")
    }

    pub fn stats(&self) -> serde_json::Value {
        let out = self
            .famlink(&["stats", "--json"])
            .output()
            .expect("famlink runs");
        assert!(
            out.status.success(),
            "stats failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("stats prints JSON")
    }

    /// `famlink search ... --json`, as (agency/record_id, score) pairs.
    pub fn search(&self, args: &[&str]) -> Vec<(String, f64)> {
        let mut cmd = self.famlink(&["search", "--json"]);
        cmd.args(args);
        let out = cmd.output().expect("famlink runs");
        assert!(
            out.status.success(),
            "search failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hits: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("search prints JSON");
        hits.as_array()
            .expect("a list of hits")
            .iter()
            .map(|h| {
                let r = &h["record"]["record"];
                (
                    format!(
                        "{}/{}",
                        r["agency"].as_str().unwrap(),
                        r["record_id"].as_str().unwrap()
                    ),
                    h["hit"]["score"].as_f64().unwrap(),
                )
            })
            .collect()
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A child CSV row from the columns that matter to a test.
pub fn child_row(
    id: &str,
    given: &str,
    family: &str,
    sex: &str,
    born: &str,
    father: &str,
    village: &str,
) -> String {
    format!("{id},ag1,{given},{family},,{sex},{born},,,{father},,{village},,,,,,,yes")
}

/// A model trained on the committed sample, saved where `famlink train` saves it.
pub fn save_sample_model(data: &Path) {
    use famlink::matching::{self, Engine, TracingRules};
    use famlink::record::RecordKind;
    let text = matching::rules::DEFAULT_RULES.replace("u_pairs = 100000", "u_pairs = 20000");
    let rules = TracingRules::parse(Path::new("tracing.toml"), &text).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample");
    let children =
        matching::load_side(&root.join("children.csv"), RecordKind::Child, &rules).unwrap();
    let inquiries =
        matching::load_side(&root.join("inquiries.csv"), RecordKind::Inquiry, &rules).unwrap();
    Engine::train_sides(rules, &children, &inquiries)
        .trained
        .save(data)
        .unwrap();
}
