//! A process killed at any moment (kill -9) leaves the store and the index
//! consistent: an import is all or nothing (per file, or per batch with
//! --skip-invalid), and the next start brings the index up to the store.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{text, Workspace, CHILD_HEADER};

const ROWS: usize = 60_000;

fn big_children_csv(ws: &Workspace, prefix: &str) -> std::path::PathBuf {
    let mut s = String::with_capacity(ROWS * 80);
    s.push_str(CHILD_HEADER);
    s.push('\n');
    for i in 0..ROWS {
        s.push_str(&format!(
            "{prefix}{i},ag1,Given{i},Family{},,F,{},,,Father{},,Village{},,SO,,,,,yes\n",
            i % 977,
            2000 + i % 20,
            i % 501,
            i % 89
        ));
    }
    ws.write(&format!("{prefix}.csv"), &s)
}

fn spawn_import(ws: &Workspace, file: &std::path::Path, extra: &[&str]) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("famlink"))
        .args(["import", "--kind", "child"])
        .args(extra)
        .arg(file)
        .arg("--data")
        .arg(ws.data())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("famlink starts")
}

/// Waits until `ready` holds, then kills the child with SIGKILL, and checks that it
/// was indeed killed rather than finished: otherwise the test would prove nothing.
fn kill_when(mut child: Child, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("import finished ({status}) before it could be killed: make the input larger");
        }
        assert!(
            Instant::now() < deadline,
            "import never reached the point to kill it"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the import was killed, not finished"
    );
}

fn children_in_store(ws: &Workspace) -> i64 {
    try_children_in_store(ws).expect("the store can be read")
}

/// None while the database or its schema is still being created.
fn try_children_in_store(ws: &Workspace) -> Option<i64> {
    let db = ws.data().join("famlink.sqlite");
    let conn = rusqlite::Connection::open(db).ok()?;
    conn.query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
        .ok()
}

#[test]
fn an_import_killed_midway_stores_nothing_and_the_index_agrees() {
    let ws = Workspace::new();
    let small = ws.write(
        "small.csv",
        &format!("{CHILD_HEADER}\nS1,ag1,Amina,Yusuf,,F,2015,,,,,,,,,,,,yes\n"),
    );
    assert!(ws.import("child", &small, &[]).status.success());
    let file = big_children_csv(&ws, "K");
    let wal = ws.data().join("famlink.sqlite-wal");
    let child = spawn_import(&ws, &file, &[]);
    // Kill once the open transaction has written a good part of the file.
    kill_when(child, || {
        std::fs::metadata(&wal)
            .map(|m| m.len() > 4 << 20)
            .unwrap_or(false)
    });

    assert_eq!(
        children_in_store(&ws),
        1,
        "none of the killed file's rows are visible"
    );
    let stats = ws.stats();
    assert_eq!(stats["children"], 1);
    assert_eq!(stats["indexed_records"], 1);
    assert_eq!(ws.search(&["--name", "Amina Yusuf"])[0].0, "ag1/S1");

    // The same file imports completely afterwards.
    let out = ws.import("child", &file, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stats = ws.stats();
    assert_eq!(stats["children"], ROWS as u64 + 1);
    assert_eq!(stats["indexed_records"], ROWS as u64 + 1);
}

#[test]
fn a_batched_import_killed_midway_keeps_whole_batches_and_the_index_catches_up() {
    let ws = Workspace::new();
    let file = big_children_csv(&ws, "B");
    let batch = 1000;
    let child = spawn_import(
        &ws,
        &file,
        &["--skip-invalid", "--batch-size", &batch.to_string()],
    );
    let db = ws.data().join("famlink.sqlite");
    kill_when(child, || {
        db.exists() && try_children_in_store(&ws).unwrap_or(0) >= 5 * batch
    });

    let stored = children_in_store(&ws);
    assert!(
        stored > 0 && (stored as usize) < ROWS,
        "killed midway: {stored} rows"
    );
    assert_eq!(
        stored % batch,
        0,
        "only whole batches are visible: {stored}"
    );
    // Opening the data directory again indexes what the store has and the index lacks.
    let stats = ws.stats();
    assert_eq!(stats["children"], stored);
    assert_eq!(stats["indexed_records"], stored);
    let hits = ws.search(&["--name", "Given3 Family3"]);
    assert_eq!(hits[0].0, "ag1/B3");
}

#[test]
fn searching_while_another_process_imports_works() {
    let ws = Workspace::new();
    let small = ws.write(
        "small.csv",
        &format!("{CHILD_HEADER}\nS1,ag1,Amina,Yusuf,,F,2015,,,,,,,,,,,,yes\n"),
    );
    assert!(ws.import("child", &small, &[]).status.success());
    let file = big_children_csv(&ws, "W");
    let mut child = spawn_import(&ws, &file, &["--skip-invalid", "--batch-size", "500"]);
    // While batches commit and the importer indexes them, a search from another
    // process still answers from the index it finds.
    let deadline = Instant::now() + Duration::from_secs(120);
    while try_children_in_store(&ws).unwrap_or(0) < 2000 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let hits = ws.search(&["--name", "Amina Yusuf"]);
    assert_eq!(hits[0].0, "ag1/S1");
    let status = child.wait().unwrap();
    assert!(status.success());
    let stats = ws.stats();
    assert_eq!(stats["children"], ROWS as u64 + 1);
    assert_eq!(stats["indexed_records"], ROWS as u64 + 1);
}
