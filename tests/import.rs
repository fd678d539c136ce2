//! `famlink import`: all or nothing, --skip-invalid, upserts with history, exact
//! storage of names in any script, formats and the consent rule.

mod common;

use common::{child_row, text, Workspace, CHILD_HEADER};

fn children_csv(rows: &[String]) -> String {
    let mut s = String::from(CHILD_HEADER);
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

#[test]
fn a_file_with_bad_rows_is_refused_whole_with_every_error_named() {
    let ws = Workspace::new();
    let csv = children_csv(&[
        child_row("C1", "Amina", "Yusuf", "F", "2015", "Yusuf Ali", "Dollow"),
        child_row(
            "C2",
            "Hodan",
            "Yusuf",
            "X",
            "2015-13",
            "Yusuf Ali",
            "Dollow",
        ),
        child_row("C3", "Nuur", "Yusuf", "M", "2012", "Yusuf Ali", "Dollow"),
        "C4,ag1,Faarax,,,M,,7,,,,,,ZZ,,,,,perhaps".to_string(),
    ]);
    let file = ws.write("children.csv", &csv);
    let out = ws.import("child", &file, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let name = file.display().to_string();
    for expected in [
        format!("{name}:3: sex: expected M, F or U"),
        format!("{name}:3: birth_date: month 13 is not 1..=12"),
        format!("{name}:5: age_recorded_on: required when age_years is given"),
        format!("{name}:5: origin_country: \"ZZ\" is not an ISO 3166-1 alpha-2 country code"),
        format!("{name}:5: tracing_consent: expected yes or no"),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    assert!(text(&out.stdout).contains("nothing imported"));
    let stats = ws.stats();
    assert_eq!(stats["children"], 0, "nothing of a refused file is stored");
    assert_eq!(stats["indexed_records"], 0);
}

#[test]
fn skip_invalid_imports_the_good_rows_and_writes_the_rejected_ones() {
    let ws = Workspace::new();
    let csv = children_csv(&[
        child_row("C1", "Amina", "Yusuf", "F", "2015", "Yusuf Ali", "Dollow"),
        child_row("C2", "Hodan", "Yusuf", "X", "2015", "Yusuf Ali", "Dollow"),
        child_row("C3", "Nuur", "Yusuf", "M", "2012", "Yusuf Ali", "Dollow"),
        child_row("C1", "Amina", "Yusuf", "F", "2015", "Yusuf Ali", "Dollow"),
    ]);
    let file = ws.write("children.csv", &csv);
    let out = ws.import("child", &file, &["--skip-invalid", "--batch-size", "1"]);
    assert!(
        !out.status.success(),
        "rejections make the exit status non-zero"
    );
    let summary = text(&out.stdout);
    assert!(
        summary.contains("read 4, imported 2, updated 0, unchanged 0, rejected 2"),
        "{summary}"
    );
    assert_eq!(ws.stats()["children"], 2);

    let rejected = std::fs::read_to_string(ws.path("children.csv.rejected.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(rejected.as_bytes());
    let header = rows.headers().unwrap().clone();
    assert_eq!(&header[0], "rejected_line");
    assert_eq!(&header[1], "rejected_reasons");
    assert_eq!(&header[2], "record_id");
    let recs: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 2);
    assert_eq!((&recs[0][0], &recs[0][2]), ("3", "C2"));
    assert!(recs[0][1].starts_with("sex: "), "{:?}", &recs[0][1]);
    assert_eq!((&recs[1][0], &recs[1][2]), ("5", "C1"));
    assert!(
        recs[1][1].contains("line 2"),
        "a repeated key names the first line: {:?}",
        &recs[1][1]
    );
}

#[test]
fn importing_again_updates_and_keeps_the_earlier_version() {
    let ws = Workspace::new();
    let v1 = ws.write(
        "v1.csv",
        &children_csv(&[child_row("C1", "Amina", "Yusuf", "F", "2015", "", "Dollow")]),
    );
    assert!(ws.import("child", &v1, &[]).status.success());
    let v2 = ws.write(
        "v2.csv",
        &children_csv(&[child_row(
            "C1",
            "Aamina",
            "Yuusuf",
            "F",
            "2015-04",
            "Yuusuf Cali",
            "Doolow",
        )]),
    );
    let out = ws.import("child", &v2, &[]);
    assert!(
        text(&out.stdout).contains("imported 0, updated 1"),
        "{}",
        text(&out.stdout)
    );
    // The same file once more changes nothing and makes no new version.
    let out = ws.import("child", &v2, &[]);
    assert!(
        text(&out.stdout).contains("unchanged 1"),
        "{}",
        text(&out.stdout)
    );

    let out = ws
        .famlink(&["show", "--kind", "child", "ag1/C1", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["current"]["version"], 2);
    assert_eq!(view["current"]["record"]["given_name"], "Aamina");
    assert_eq!(view["current"]["record"]["birth_date"], "2015-04");
    let history = view["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["version"], 1);
    assert_eq!(history[0]["record"]["given_name"], "Amina");
    assert_eq!(
        ws.stats()["indexed_records"],
        1,
        "the index holds one document per record"
    );
}

#[test]
fn names_in_any_script_are_stored_exactly() {
    let ws = Workspace::new();
    let names = [
        ("C1", "Олександр", "Коваленко"),
        ("C2", "عبد الرحمن", "محمد"),
        ("C3", "አበበ", "ቢቂላ"),
        ("C4", " Zoë ", "N'Diaye-Şükrü"),
    ];
    let rows: Vec<String> = names
        .iter()
        .map(|(id, g, f)| child_row(id, &format!("\"{g}\""), f, "U", "", "", ""))
        .collect();
    let file = ws.write("children.csv", &children_csv(&rows));
    let out = ws.import("child", &file, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (id, given, family) in names {
        let out = ws
            .famlink(&["show", "--kind", "child", &format!("ag1/{id}"), "--json"])
            .output()
            .unwrap();
        let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(view["current"]["record"]["given_name"], given);
        assert_eq!(view["current"]["record"]["family_name"], family);
    }
}

#[test]
fn json_lines_and_standard_input() {
    let ws = Workspace::new();
    let jsonl = ws.write(
        "inquiries.jsonl",
        concat!(
            r#"{"record_id": "I1", "agency": "icrc", "given_name": "Oleksandr", "sex": "M", "age_years": 9, "age_recorded_on": "2024-03-01", "inquirer_name": "Olena", "inquirer_relationship": "mother", "inquirer_contact": "+380000", "shoe_size": "31"}"#,
            "\n",
            r#"{"record_id": "I2", "agency": "icrc", "other_names": ["Sasha", "Sashko"], "inquirer_relationship": "father"}"#,
            "\n"
        ),
    );
    let out = ws.import("inquiry", &jsonl, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ws
        .famlink(&["show", "--kind", "inquiry", "icrc/I1", "--json"])
        .output()
        .unwrap();
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &view["current"]["record"];
    assert_eq!(r["age"]["years"], 9.0);
    assert_eq!(r["details"]["inquirer"]["relationship"], "mother");
    assert_eq!(
        r["attributes"]["shoe_size"], "31",
        "unknown columns are kept"
    );

    let csv = children_csv(&[child_row("C9", "Hodan", "", "F", "2016", "", "")]);
    let out = ws
        .famlink(&["import", "--kind", "child", "--format", "csv", "-"])
        .write_stdin(csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("-: read 1, imported 1"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(ws.stats()["children"], 1);
}

#[test]
fn a_child_file_without_consent_needs_it_stated() {
    let ws = Workspace::new();
    let file = ws.write("nc.csv", "record_id,agency,given_name\nC1,ag1,Hodan\n");
    let out = ws.import("child", &file, &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(":1: tracing_consent: the file has no tracing_consent column")
    );
    let out = ws.import("child", &file, &["--tracing-consent", "no"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(ws.stats()["children_without_consent"], 1);
}

#[test]
fn children_without_consent_are_hidden_from_other_agencies() {
    let ws = Workspace::new();
    let file = ws.write(
        "c.csv",
        &format!(
            "{CHILD_HEADER}\nC1,ag1,Hodan,Warsame,,F,2016,,,,,,,,,,,,no\nC2,ag1,Hodan,Warsame,,F,2016,,,,,,,,,,,,yes\n"
        ),
    );
    assert!(ws.import("child", &file, &[]).status.success());
    let mine = ws.search(&["--name", "Hodan Warsame", "--as-agency", "ag1"]);
    assert_eq!(mine.len(), 2);
    let theirs = ws.search(&["--name", "Hodan Warsame", "--as-agency", "ag2"]);
    assert_eq!(
        theirs.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
        vec!["ag1/C2"]
    );
    let out = ws
        .famlink(&["show", "--kind", "child", "ag1/C1", "--as-agency", "ag2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no such record"));
}
