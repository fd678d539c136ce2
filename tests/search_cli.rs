//! `famlink search`, `reindex` and `stats` on the command line.

mod common;

use common::{child_row, text, Workspace, CHILD_HEADER};

fn registry_with_variants() -> Workspace {
    let ws = Workspace::new();
    let rows = [
        child_row(
            "C1",
            "Mukhammed",
            "Aliev",
            "M",
            "2014",
            "Ali Aliev",
            "Kharkiv",
        ),
        child_row(
            "C2",
            "Aleksandr",
            "Kovalenko",
            "M",
            "2013",
            "Petro Kovalenko",
            "Kharkiv",
        ),
        child_row(
            "C3",
            "Hodan",
            "Warsame",
            "F",
            "2016",
            "Warsame Cali",
            "Dollow",
        ),
        child_row("C4", "Amina", "Aliev", "F", "2011", "Ali Aliev", "Kharkiv"),
        child_row(
            "C5",
            "Yusuf",
            "Kovalenko",
            "M",
            "2002",
            "Petro Kovalenko",
            "Kyiv",
        ),
    ];
    let mut csv = format!("{CHILD_HEADER}\n");
    for r in rows {
        csv.push_str(&r);
        csv.push('\n');
    }
    let file = ws.write("children.csv", &csv);
    let out = ws.import("child", &file, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    ws
}

#[test]
fn finds_transliteration_variants() {
    let ws = registry_with_variants();
    assert_eq!(ws.search(&["--name", "Mohammed"])[0].0, "ag1/C1");
    assert_eq!(ws.search(&["--name", "Oleksandr"])[0].0, "ag1/C2");
    assert_eq!(ws.search(&["--name", "Олександр Коваленко"])[0].0, "ag1/C2");
    // Family name first, with a typo, and the father.
    assert_eq!(
        ws.search(&["--name", "Warsamé Hodaan", "--father", "Warsame"])[0].0,
        "ag1/C3"
    );
}

#[test]
fn search_without_a_name_uses_what_is_given() {
    let ws = registry_with_variants();
    let hits = ws.search(&["--place", "Dolow", "--sex", "F"]);
    assert_eq!(hits[0].0, "ag1/C3");
    let hits = ws.search(&["--name", "Kovalenko", "--born", "2002"]);
    assert_eq!(
        hits[0].0, "ag1/C5",
        "the birth year ranks the right Kovalenko first"
    );
}

#[test]
fn reindex_and_a_lost_index_give_the_same_results() {
    let ws = registry_with_variants();
    let queries: [&[&str]; 3] = [
        &["--name", "Mohammed"],
        &["--name", "Kovalenko"],
        &["--place", "Kharkiv"],
    ];
    let before: Vec<_> = queries.iter().map(|q| ws.search(q)).collect();
    let out = ws.famlink(&["reindex"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "reindexed 5 records");
    let after: Vec<_> = queries.iter().map(|q| ws.search(q)).collect();
    assert_eq!(before, after);

    std::fs::remove_dir_all(ws.data().join("search")).unwrap();
    let rebuilt: Vec<_> = queries.iter().map(|q| ws.search(q)).collect();
    assert_eq!(before, rebuilt);
}

#[test]
fn every_search_and_read_is_audited_without_names() {
    let ws = registry_with_variants();
    ws.search(&["--name", "Mohammed"]);
    let out = ws
        .famlink(&["show", "--kind", "child", "ag1/C1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let db = rusqlite::Connection::open(ws.data().join("famlink.sqlite")).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT action, COALESCE(target, ''), COALESCE(detail, '') FROM audit_log ORDER BY id",
        )
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(actions, vec!["import", "search", "record.read"]);
    assert_eq!(rows[2].1, "child ag1/C1");
    for (_, target, detail) in &rows {
        assert!(!target.contains("Mohammed") && !detail.contains("Mohammed"));
        assert!(!target.contains("Mukhammed") && !detail.contains("Mukhammed"));
    }
}

#[test]
fn rules_from_a_directory_and_their_errors() {
    let ws = registry_with_variants();
    // A copy of the repository's rules with one more nickname.
    let rules = ws.path("rules");
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("matching-rules");
    for sub in ["names", "places"] {
        std::fs::create_dir_all(rules.join(sub)).unwrap();
        for entry in std::fs::read_dir(src.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, rules.join(sub).join(path.file_name().unwrap())).unwrap();
        }
    }
    let nicknames = rules.join("names/nicknames.toml");
    let mut rules_text = std::fs::read_to_string(&nicknames).unwrap();
    rules_text.push_str("\n[local]\nHodi = [\"Hodan\"]\n");
    std::fs::write(&nicknames, &rules_text).unwrap();
    let rules_arg = rules.to_str().unwrap();
    assert_eq!(
        ws.search(&["--name", "Hodi Warsame", "--rules", rules_arg])[0].0,
        "ag1/C3"
    );

    // A broken file: every command says which file and line, and does nothing.
    rules_text.push_str("Broken = [\"Hodan\"\n");
    std::fs::write(&nicknames, &rules_text).unwrap();
    let out = ws
        .famlink(&["search", "--name", "Hodan", "--rules", rules_arg])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let line = rules_text.lines().count();
    assert!(
        err.contains(&format!("nicknames.toml:{line}:"))
            || err.contains(&format!("nicknames.toml:{}:", line + 1)),
        "{err}"
    );
}
