//! The HTTP service, driven over loopback: the real server (the library's
//! `Service`, as `famlink serve` runs it) on 127.0.0.1 port 0, and a small HTTP/1.1
//! client on plain sockets.

mod common;

use common::http::{enc, request, TestServer, INQUIRY_HEADER, MAX_BODY};
use common::{save_sample_model, CHILD_HEADER};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use famlink::access::{self, Role};
use famlink::registry::DATABASE_FILE;
use famlink::server::ROUTES;
use famlink::store::Store;
use serde_json::{json, Value};

/// Children of agency `ag1`: two with consent, one without.
fn children_csv() -> String {
    [
        CHILD_HEADER,
        "C1,ag1,Amina,Yusuf,,F,2015-03-02,,,Yusuf Hassan Ali,Halima Omar,Kassala,Kassala,SD,Kassala,2024-05,ar,,yes",
        "C2,ag1,Tesfaye,Bekele,,M,2012-07,,,Bekele Girma,Almaz Tadesse,Humera,Tigray,ET,Humera,2023-11,ti,,yes",
        "C3,ag1,Oleksandr,Kovalenko,,M,2014,,,Ivan Kovalenko,Olena Kovalenko,Bucha,Kyivska,UA,Bucha,2022-03,uk,,no",
    ]
    .join("\n")
        + "\n"
}

/// Inquiries of agency `ag2` for the two children with consent, and one for the
/// child without.
fn inquiries_csv() -> String {
    [
        INQUIRY_HEADER,
        "I1,ag2,Aminah,Yousef,,F,2015-03-02,,,Yousif Hassan Ali,Halima Omer,Kasala,Kassala,SD,Kassala,2024-05,ar,,Halima Omer,mother,+249 555 0101",
        "I2,ag2,Tesfay,Bekele,,M,2012,,,Bekele Girma,Almaz Tadese,Humera,Tigray,ET,Humera,2023-11,ti,,Bekele Girma,father,+251 555 0202",
        "I3,ag2,Oleksandr,Kovalenko,,M,2014,,,Ivan Kovalenko,Olena Kovalenko,Bucha,Kyivska,UA,Bucha,2022-03,uk,,Olena Kovalenko,mother,+380 555 0303",
    ]
    .join("\n")
        + "\n"
}

struct Tokens {
    officer: String,
    agency1: String,
    agency2: String,
    reviewer: String,
    admin: String,
}

fn accounts(data: &Path) -> Tokens {
    std::fs::create_dir_all(data).unwrap();
    let store = Store::open(&data.join(DATABASE_FILE)).unwrap();
    let add = |name: &str, agency: &str, role: Role| {
        access::add_account(&store, name, agency, role, "test", None)
            .unwrap()
            .1
    };
    Tokens {
        officer: add("olga", "ag3", Role::Officer),
        agency1: add("clerk1", "ag1", Role::Agency),
        agency2: add("clerk2", "ag2", Role::Agency),
        reviewer: add("rita", "rev", Role::Reviewer),
        admin: add("adam", "adm", Role::Admin),
    }
}

/// A server with accounts and the children and inquiries imported and matched.
fn loaded() -> (tempfile::TempDir, PathBuf, Tokens, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = accounts(&data);
    let srv = TestServer::start(&data);
    let r = srv.csv(
        "/api/v1/batches?kind=child",
        &t.agency1,
        &children_csv(),
        &[],
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let b = srv.wait_batch(r.json()["id"].as_i64().unwrap(), &t.agency1);
    assert_eq!(b["state"], "done", "{b}");
    let r = srv.csv(
        "/api/v1/batches?kind=inquiry",
        &t.agency2,
        &inquiries_csv(),
        &[],
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let b = srv.wait_batch(r.json()["id"].as_i64().unwrap(), &t.agency2);
    assert_eq!(b["state"], "done", "{b}");
    (dir, data, t, srv)
}

fn queue(srv: &TestServer, token: &str, query: &str) -> Vec<Value> {
    let r = srv.call("GET", &format!("/api/v1/proposals?{query}"), Some(token));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["items"].as_array().unwrap().clone()
}

fn proposal_for(srv: &TestServer, t: &Tokens, child: &str, inquiry: &str) -> Value {
    queue(srv, &t.reviewer, "limit=500")
        .into_iter()
        .find(|p| p["child"]["record_id"] == child && p["inquiry"]["record_id"] == inquiry)
        .unwrap_or_else(|| panic!("no proposal {child}-{inquiry}"))
}

// ------------------------------------------------------------------ tests

#[test]
fn each_role_may_do_its_calls_and_no_others() {
    let (_dir, _data, t, srv) = loaded();
    let p = proposal_for(&srv, &t, "C1", "I1")["id"].as_i64().unwrap();
    let search = "/api/v1/search?name=Amina%20Yusuf&kind=child";
    let rec_c1 = "/api/v1/records/child/ag1/C1";
    let rec_c3 = "/api/v1/records/child/ag1/C3";
    let rec_i1 = "/api/v1/records/inquiry/ag2/I1";
    // (who, method, path, expected status)
    let (none, wrong) = (String::new(), "flk_0000".to_string());
    let table: Vec<(&str, &String, &str, String, u16)> = vec![
        ("officer", &t.officer, "GET", search.to_string(), 200),
        ("officer", &t.officer, "GET", rec_c1.into(), 200),
        ("officer", &t.officer, "GET", rec_c3.into(), 404), // no consent, other agency
        (
            "officer",
            &t.officer,
            "GET",
            "/api/v1/proposals".into(),
            403,
        ),
        (
            "officer",
            &t.officer,
            "GET",
            format!("/api/v1/proposals/{p}"),
            403,
        ),
        ("officer", &t.officer, "GET", "/api/v1/audit".into(), 403),
        (
            "officer",
            &t.officer,
            "GET",
            "/api/v1/batches/1".into(),
            403,
        ),
        ("agency1", &t.agency1, "GET", rec_c1.into(), 200),
        ("agency1", &t.agency1, "GET", rec_c3.into(), 200), // its own child
        ("agency1", &t.agency1, "GET", rec_i1.into(), 404), // another agency's
        (
            "agency1",
            &t.agency1,
            "GET",
            "/api/v1/batches/1".into(),
            200,
        ),
        (
            "agency2",
            &t.agency2,
            "GET",
            "/api/v1/batches/1".into(),
            404,
        ), // not its batch
        ("agency1", &t.agency1, "GET", search.into(), 403),
        (
            "agency1",
            &t.agency1,
            "GET",
            "/api/v1/proposals".into(),
            403,
        ),
        ("agency1", &t.agency1, "GET", "/api/v1/audit".into(), 403),
        (
            "reviewer",
            &t.reviewer,
            "GET",
            "/api/v1/proposals".into(),
            200,
        ),
        (
            "reviewer",
            &t.reviewer,
            "GET",
            format!("/api/v1/proposals/{p}"),
            200,
        ),
        ("reviewer", &t.reviewer, "GET", rec_i1.into(), 200),
        ("reviewer", &t.reviewer, "GET", "/api/v1/audit".into(), 403),
        (
            "reviewer",
            &t.reviewer,
            "GET",
            "/api/v1/accounts".into(),
            403,
        ),
        ("admin", &t.admin, "GET", "/api/v1/audit".into(), 200),
        ("admin", &t.admin, "GET", "/api/v1/accounts".into(), 200),
        ("admin", &t.admin, "GET", search.into(), 403),
        ("admin", &t.admin, "GET", rec_c1.into(), 403),
        ("admin", &t.admin, "GET", "/api/v1/proposals".into(), 403),
        ("nobody", &none, "GET", search.into(), 401),
        ("wrong", &wrong, "GET", rec_c1.into(), 401),
    ];
    for (who, token, method, path, want) in &table {
        let tok = (!token.is_empty()).then_some(token.as_str());
        let r = srv.call(method, path, tok);
        assert_eq!(r.status, *want, "{who} {method} {path}: {}", r.text());
        if r.status >= 400 {
            let e = r.json();
            assert!(e["error"]["code"].is_string(), "{who} {path}: {e}");
        }
    }
    // Writes: a decision by an officer, a batch by a reviewer, a record of
    // another agency by an agency, accounts by a reviewer.
    let d = json!({"decision": "confirm"});
    let r = srv.json(
        "POST",
        &format!("/api/v1/proposals/{p}/decision"),
        &t.officer,
        d.clone(),
    );
    assert_eq!(r.status, 403);
    let r = srv.csv(
        "/api/v1/batches?kind=child",
        &t.reviewer,
        &children_csv(),
        &[],
    );
    assert_eq!(r.status, 403);
    let r = srv.json(
        "POST",
        "/api/v1/records/child",
        &t.agency2,
        json!({"record_id": "X1", "agency": "ag1", "given_name": "Hodan", "tracing_consent": "yes"}),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = srv.json(
        "POST",
        "/api/v1/accounts",
        &t.reviewer,
        json!({"name": "eve", "agency": "x", "role": "admin"}),
    );
    assert_eq!(r.status, 403);

    // Contacts: the inquiry's own agency and reviewers see them, an officer of
    // another agency does not.
    let contact = |token: &str| {
        let r = srv.call("GET", rec_i1, Some(token));
        r.json()["record"]["details"]["inquirer"]["contact"].clone()
    };
    assert_eq!(contact(&t.reviewer), "+249 555 0101");
    assert_eq!(contact(&t.agency2), "+249 555 0101");
    assert_eq!(contact(&t.officer), Value::Null);
    let r = srv.call(
        "GET",
        "/api/v1/search?kind=inquiry&name=Aminah%20Yousef",
        Some(&t.officer),
    );
    let hits = r.json()["hits"].as_array().unwrap().clone();
    assert!(!hits.is_empty());
    assert!(!r.text().contains("555 0101"), "contact leaked into search");
}

#[test]
fn revoked_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = accounts(&data);
    let srv = TestServer::start(&data);
    // An admin makes an account over the API; its token works, then is revoked.
    let r = srv.json(
        "POST",
        "/api/v1/accounts",
        &t.admin,
        json!({"name": "newbie", "agency": "ag9", "role": "officer"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_string();
    let list = srv.call("GET", "/api/v1/accounts", Some(&t.admin)).text();
    assert!(!list.contains(&token) && list.contains("newbie"));
    let search = "/api/v1/search?name=x";
    assert_eq!(srv.call("GET", search, Some(&token)).status, 200);
    assert_eq!(
        srv.call("DELETE", "/api/v1/accounts/newbie", Some(&t.admin))
            .status,
        204
    );
    assert_eq!(srv.call("GET", search, Some(&token)).status, 401);
    // Account changes are audited.
    let audit = srv.call("GET", "/api/v1/audit", Some(&t.admin)).json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"account.add") && actions.contains(&"account.revoke"));
    let revoke = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "account.revoke")
        .unwrap();
    assert_eq!(revoke["origin"], "127.0.0.1");
    assert!(revoke["actor"].as_str().unwrap().contains("adam"));
}

#[test]
fn user_add_prints_the_token_alone_on_its_last_line_and_revoke_works() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = assert_cmd::Command::cargo_bin("famlink")
        .unwrap()
        .args([
            "user", "add", "--agency", "ag1", "--role", "reviewer", "rosa", "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("flk_") && !token.contains(' '));
    let store = Store::open(&data.join(DATABASE_FILE)).unwrap();
    assert_eq!(
        access::authenticate(&store, &token).unwrap().unwrap().role,
        Role::Reviewer
    );
    let out = assert_cmd::Command::cargo_bin("famlink")
        .unwrap()
        .args(["user", "revoke", "rosa", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(access::authenticate(&store, &token).unwrap().is_none());
}

#[test]
fn a_batch_with_bad_rows_reports_each_and_imports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = accounts(&data);
    let srv = TestServer::start(&data);
    let body = [
        CHILD_HEADER,
        "K1,ag1,Amina,Yusuf,,F,2015-03-02,,,,,Kassala,,SD,,,,,yes",
        "K2,ag1,Bad,Date,,F,2015-13-45,,,,,Kassala,,SD,,,,,yes",
        "K3,ag2,Other,Agency,,M,2014,,,,,Kassala,,SD,,,,,yes",
        "K4,ag1,No,Consent,,M,2014,,,,,Kassala,,SD,,,,,maybe",
        "K5,ag1,Fine,Child,,M,2013,,,,,Kassala,,SD,,,,,yes",
    ]
    .join("\n");
    let r = srv.csv("/api/v1/batches?kind=child", &t.agency1, &body, &[]);
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    let b = srv.wait_batch(id, &t.agency1);
    assert_eq!(b["state"], "done");
    assert_eq!(b["rows_read"], 5);
    assert_eq!(b["imported"], 2);
    assert_eq!(b["rejected"], 3);
    let rejected = b["rejected_rows"].as_array().unwrap();
    let find = |line: u64| {
        rejected
            .iter()
            .find(|e| e["line"] == line)
            .unwrap_or_else(|| panic!("line {line} not rejected: {b}"))
    };
    assert_eq!(find(3)["field"], "birth_date");
    assert_eq!(find(4)["field"], "agency");
    assert!(find(4)["reason"].as_str().unwrap().contains("ag2"));
    assert_eq!(find(5)["field"], "tracing_consent");
    assert_eq!(
        srv.call("GET", "/api/v1/records/child/ag1/K5", Some(&t.agency1))
            .status,
        200
    );
    assert_eq!(
        srv.call("GET", "/api/v1/records/child/ag1/K2", Some(&t.agency1))
            .status,
        404
    );

    // A file whose header cannot work is refused at once, with line and field.
    let r = srv.csv(
        "/api/v1/batches?kind=child",
        &t.agency1,
        "record_id,given_name\nZ1,Amina\n",
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let e = r.json();
    assert_eq!(e["error"]["details"][0]["line"], 1);
    assert_eq!(e["error"]["details"][0]["field"], "tracing_consent");
    // JSON Lines too, with a broken line.
    let jl = "{\"record_id\":\"J1\",\"given_name\":\"Hodan\",\"sex\":\"F\",\"tracing_consent\":true}\n{not json\n";
    let r = request(
        srv.addr,
        "POST",
        "/api/v1/batches?kind=child",
        Some(&t.agency1),
        Some("application/x-ndjson"),
        &[],
        jl.as_bytes(),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let b = srv.wait_batch(r.json()["id"].as_i64().unwrap(), &t.agency1);
    assert_eq!(b["imported"], 1, "{b}");
    assert_eq!(b["rejected_rows"][0]["line"], 2);
    // Wrong media type.
    let r = request(
        srv.addr,
        "POST",
        "/api/v1/batches?kind=child",
        Some(&t.agency1),
        Some("application/pdf"),
        &[],
        b"%PDF",
    );
    assert_eq!(r.status, 415);
}

#[test]
fn resubmitting_a_batch_does_not_import_it_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = accounts(&data);
    let srv = TestServer::start(&data);
    let body = children_csv();
    let first = srv.csv("/api/v1/batches?kind=child", &t.agency1, &body, &[]);
    assert_eq!(first.status, 202);
    let id = first.json()["id"].as_i64().unwrap();
    let again = srv.csv("/api/v1/batches?kind=child", &t.agency1, &body, &[]);
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id);
    assert_eq!(again.json()["duplicate"], true);
    srv.wait_batch(id, &t.agency1);

    // By key: the same key and content is the same batch; another content under
    // the same key is refused.
    let key = [("Idempotency-Key", "upload-2026-11-23-a")];
    let body2 = body.replace("C1,", "C9,");
    let r = srv.csv("/api/v1/batches?kind=child", &t.agency1, &body2, &key);
    assert_eq!(r.status, 202);
    let id2 = r.json()["id"].as_i64().unwrap();
    let r = srv.csv("/api/v1/batches?kind=child", &t.agency1, &body2, &key);
    assert_eq!((r.status, r.json()["id"].as_i64()), (200, Some(id2)));
    let r = srv.csv(
        "/api/v1/batches?kind=child",
        &t.agency1,
        &body.replace("C1,", "C8,"),
        &key,
    );
    assert_eq!(r.status, 422, "{}", r.text());
    srv.wait_batch(id2, &t.agency1);
    let store = Store::open(&data.join(DATABASE_FILE)).unwrap();
    let stats = store.stats().unwrap();
    assert_eq!(stats.children, 4, "C1, C2, C3 and C9, each once");
    assert_eq!(stats.history_versions, 0);
}

#[test]
fn the_review_workflow_end_to_end() {
    let (_dir, _data, t, srv) = loaded();
    // The queue: most probable first, paginated.
    let all = queue(&srv, &t.reviewer, "status=pending&limit=500");
    assert!(all.len() >= 2, "{all:?}");
    let probs: Vec<f64> = all
        .iter()
        .map(|p| p["probability"].as_f64().unwrap())
        .collect();
    assert!(probs.windows(2).all(|w| w[0] >= w[1]), "{probs:?}");
    let r = srv.call(
        "GET",
        "/api/v1/proposals?status=pending&limit=1",
        Some(&t.reviewer),
    );
    let page = r.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let next = page["next"].as_str().expect("a next page").to_string();
    let r = srv.call(
        "GET",
        &format!(
            "/api/v1/proposals?status=pending&limit=1&after={}",
            enc(&next)
        ),
        Some(&t.reviewer),
    );
    assert_ne!(r.json()["items"][0]["id"], page["items"][0]["id"]);
    assert_eq!(
        queue(
            &srv,
            &t.reviewer,
            "status=pending&band=likely&agency=ag2&limit=500"
        )
        .iter()
        .filter(|p| p["band"] != "likely")
        .count(),
        0
    );
    // The child without consent was proposed to no other agency's inquiry.
    assert!(all.iter().all(|p| p["child"]["record_id"] != "C3"));

    // Side by side, with explanations.
    let p1 = proposal_for(&srv, &t, "C1", "I1");
    let id1 = p1["id"].as_i64().unwrap();
    let d = srv
        .call(
            "GET",
            &format!("/api/v1/proposals/{id1}"),
            Some(&t.reviewer),
        )
        .json();
    assert_eq!(d["child"]["record_id"], "C1");
    assert_eq!(d["inquiry"]["record_id"], "I1");
    assert!(!d["comparisons"].as_array().unwrap().is_empty());
    assert!(d["comparisons"][0]["field"].is_string());

    // Confirm: both records are "match confirmed, pending assessment".
    let r = srv.json(
        "POST",
        &format!("/api/v1/proposals/{id1}/decision"),
        &t.reviewer,
        json!({"decision": "confirm", "note": "same parents and village"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "confirmed");
    for path in [
        "/api/v1/records/child/ag1/C1",
        "/api/v1/records/inquiry/ag2/I1",
    ] {
        let v = srv.call("GET", path, Some(&t.reviewer)).json();
        assert_eq!(
            v["case_status"], "match_confirmed_pending_assessment",
            "{v}"
        );
        let dec = &v["proposals"][0]["decisions"][0];
        assert_eq!(dec["decision"], "confirm");
        assert!(dec["reviewer"].as_str().unwrap().contains("rita"));
        assert!(dec["at"].is_string());
    }

    // Reject the other pair: it is never proposed again, even when the inquiry
    // changes and is matched anew.
    let p2 = proposal_for(&srv, &t, "C2", "I2");
    let id2 = p2["id"].as_i64().unwrap();
    let r = srv.json(
        "POST",
        &format!("/api/v1/proposals/{id2}/decision"),
        &t.reviewer,
        json!({"decision": "reject", "note": "different family"}),
    );
    assert_eq!(r.status, 200);
    let r = srv.json(
        "PUT",
        "/api/v1/records/inquiry/ag2/I2",
        &t.agency2,
        json!({"given_name": "Tesfaye", "family_name": "Bekele", "sex": "M",
               "birth_date": "2012", "father_name": "Bekele Girma", "origin_village": "Humera",
               "inquirer_name": "Bekele Girma", "inquirer_relationship": "father",
               "inquirer_contact": "+251 555 0202", "notes": "called again"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = srv
        .call("GET", "/api/v1/records/inquiry/ag2/I2", Some(&t.agency2))
        .json();
    assert_eq!(r["version"], 2);
    assert_eq!(r["history"].as_array().unwrap().len(), 1);
    let p2_again = proposal_for(&srv, &t, "C2", "I2");
    assert_eq!(p2_again["status"], "rejected");
    assert_eq!(
        queue(&srv, &t.reviewer, "status=pending&limit=500")
            .iter()
            .filter(|p| p["child"]["record_id"] == "C2" && p["inquiry"]["record_id"] == "I2")
            .count(),
        0
    );
    // A decided proposal cannot be decided again.
    let r = srv.json(
        "POST",
        &format!("/api/v1/proposals/{id2}/decision"),
        &t.reviewer,
        json!({"decision": "confirm"}),
    );
    assert_eq!(r.status, 409);

    // A new single record is matched as it arrives.
    let r = srv.json(
        "POST",
        "/api/v1/records/inquiry",
        &t.agency2,
        json!({"record_id": "I4", "given_name": "Amina", "family_name": "Yusuf", "sex": "F",
               "birth_date": "2015-03", "father_name": "Yusuf Hassan", "origin_village": "Kassala",
               "inquirer_relationship": "aunt"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(!r.json()["proposals"].as_array().unwrap().is_empty());
    let r = srv.json(
        "POST",
        "/api/v1/records/inquiry",
        &t.agency2,
        json!({"record_id": "I4", "given_name": "Amina"}),
    );
    assert_eq!(r.status, 409, "POST does not overwrite");

    // Outcome: only after a confirmed match; kept in the history.
    let r = srv.json(
        "POST",
        "/api/v1/records/child/ag1/C2/outcome",
        &t.officer,
        json!({"outcome": "reunified"}),
    );
    assert_eq!(r.status, 409, "C2 has no confirmed match: {}", r.text());
    let r = srv.json(
        "POST",
        "/api/v1/records/child/ag1/C1/outcome",
        &t.officer,
        json!({"outcome": "kinship_care", "note": "assessment: grandmother"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = srv
        .call("GET", "/api/v1/records/inquiry/ag2/I1", Some(&t.reviewer))
        .json();
    assert_eq!(v["case_status"], "kinship_care");
    let events: Vec<&str> = v["case_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["match_confirmed_pending_assessment", "kinship_care"]
    );

    // Undo another confirmed match, with a reason.
    let i4 = proposal_for(&srv, &t, "C1", "I4")["id"].as_i64().unwrap();
    let r = srv.json(
        "POST",
        &format!("/api/v1/proposals/{i4}/decision"),
        &t.reviewer,
        json!({"decision": "confirm"}),
    );
    assert_eq!(r.status, 200);
    let r = srv.json(
        "POST",
        "/api/v1/records/inquiry/ag2/I4/outcome",
        &t.reviewer,
        json!({"outcome": "undone"}),
    );
    assert_eq!(r.status, 400, "undo needs a reason");
    let r = srv.json(
        "POST",
        "/api/v1/records/inquiry/ag2/I4/outcome",
        &t.reviewer,
        json!({"outcome": "undone", "note": "aunt's child is a cousin of the same name"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = srv
        .call("GET", "/api/v1/records/inquiry/ag2/I4", Some(&t.reviewer))
        .json();
    assert_eq!(v["case_status"], "open");
    assert_eq!(v["proposals"][0]["status"], "undone");

    // Everything was audited, with who and from where, never a name.
    let audit = srv.call("GET", "/api/v1/audit?limit=1000", Some(&t.admin));
    let text = audit.text();
    for action in [
        "record.read",
        "proposal.read",
        "proposal.decide",
        "case.outcome",
        "batch.submit",
    ] {
        assert!(text.contains(action), "{action} not audited");
    }
    assert!(text.contains("127.0.0.1"));
    for name in ["Amina", "Yusuf", "Halima", "555 0101", "2015-03-02"] {
        assert!(!text.contains(name), "the audit log holds {name}");
    }
}

#[test]
fn two_reviewers_deciding_at_once_one_wins_the_other_gets_409() {
    let (_dir, data, t, srv) = loaded();
    let store = Store::open(&data.join(DATABASE_FILE)).unwrap();
    let second = access::add_account(&store, "ruth", "rev", Role::Reviewer, "test", None)
        .unwrap()
        .1;
    for (child, inquiry) in [("C1", "I1"), ("C2", "I2")] {
        let id = proposal_for(&srv, &t, child, inquiry)["id"]
            .as_i64()
            .unwrap();
        let path = format!("/api/v1/proposals/{id}/decision");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = [(t.reviewer.clone(), "confirm"), (second.clone(), "reject")]
            .into_iter()
            .map(|(token, decision)| {
                let barrier = barrier.clone();
                let path = path.clone();
                let addr = srv.addr;
                std::thread::spawn(move || {
                    barrier.wait();
                    let body = json!({"decision": decision}).to_string();
                    request(
                        addr,
                        "POST",
                        &path,
                        Some(&token),
                        Some("application/json"),
                        &[],
                        body.as_bytes(),
                    )
                    .status
                })
            })
            .collect();
        let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        statuses.sort();
        assert_eq!(statuses, [200, 409]);
        let d = srv
            .call("GET", &format!("/api/v1/proposals/{id}"), Some(&t.reviewer))
            .json();
        assert_eq!(d["decisions"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn a_restart_loses_nothing() {
    let (_dir, data, t, srv) = loaded();
    let id = proposal_for(&srv, &t, "C1", "I1")["id"].as_i64().unwrap();
    let r = srv.json(
        "POST",
        &format!("/api/v1/proposals/{id}/decision"),
        &t.reviewer,
        json!({"decision": "defer", "note": "ask the father"}),
    );
    assert_eq!(r.status, 200);
    let audit_before = srv
        .call("GET", "/api/v1/audit?limit=1000", Some(&t.admin))
        .json()["items"]
        .as_array()
        .unwrap()
        .len();
    // A batch submitted just before the stop runs on the next start.
    let late = [
        CHILD_HEADER,
        "L1,ag1,Hodan,Abdi,,F,2016,,,Abdi Noor,,Dadaab,,KE,,,,,yes",
    ]
    .join("\n");
    let r = srv.csv("/api/v1/batches?kind=child", &t.agency1, &late, &[]);
    let late_id = r.json()["id"].as_i64().unwrap();
    srv.stop();

    let srv = TestServer::start(&data);
    let b = srv.wait_batch(late_id, &t.agency1);
    assert_eq!(
        (b["state"].as_str(), b["imported"].as_u64()),
        (Some("done"), Some(1))
    );
    assert_eq!(srv.wait_batch(1, &t.agency1)["state"], "done");
    let p = srv
        .call("GET", &format!("/api/v1/proposals/{id}"), Some(&t.reviewer))
        .json();
    assert_eq!(p["proposal"]["status"], "deferred");
    assert_eq!(p["decisions"][0]["note"], "ask the father");
    let audit = srv
        .call("GET", "/api/v1/audit?limit=1000", Some(&t.admin))
        .json();
    let items = audit["items"].as_array().unwrap();
    assert!(items.len() > audit_before);
    assert!(items.iter().any(|e| e["action"] == "proposal.decide"));
    // The deferred proposal can still be decided.
    let r = srv.json(
        "POST",
        &format!("/api/v1/proposals/{id}/decision"),
        &t.reviewer,
        json!({"decision": "confirm", "version": p["proposal"]["version"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn the_openapi_document_lists_exactly_the_served_routes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _t = accounts(&data);
    let srv = TestServer::start(&data);
    let r = srv.call("GET", "/api/v1/openapi.json", None);
    assert_eq!(r.status, 200);
    let doc = r.json();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut table: Vec<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    table.sort();
    assert_eq!(documented, table);
    // Every documented operation is served: with concrete path parameters and no
    // token, it answers 401 (or 200 for the open ones), never 404 or 405.
    for (method, path) in &documented {
        let concrete = path
            .replace("{kind}", "child")
            .replace("{agency}", "ag1")
            .replace("{id}", "1")
            .replace("{name}", "x");
        let r = srv.call(method, &concrete, None);
        let open = doc["paths"][path][method.to_lowercase()]["security"] == json!([]);
        let want = if open { 200 } else { 401 };
        assert_eq!(r.status, want, "{method} {concrete}: {}", r.text());
    }
    // And nothing else is: an undocumented method or path is 405 or 404, as JSON.
    let r = srv.call("DELETE", "/api/v1/search", None);
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["error"]["code"], "method_not_allowed");
    let r = srv.call("GET", "/api/v1/nothing", None);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "not_found");
    // Metrics and health.
    assert_eq!(srv.call("GET", "/healthz", None).json()["status"], "ok");
    let m = srv.call("GET", "/metrics", None);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let text = m.text();
    assert!(text.contains(
        "famlink_http_requests_total{method=\"GET\",route=\"/api/v1/openapi.json\",status=\"200\"}"
    ));
    assert!(text.contains("famlink_review_queue_pending"));
    assert!(text.contains("famlink_http_request_duration_seconds_bucket"));
}

#[test]
fn errors_are_json_with_limits_and_positions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = accounts(&data);
    let srv = TestServer::start(&data);
    // Malformed JSON: 400 with its line and column.
    let r = request(
        srv.addr,
        "POST",
        "/api/v1/records/child",
        Some(&t.agency1),
        Some("application/json"),
        &[],
        b"{\n  \"record_id\": \"A1\",\n  \"given_name\": oops\n}",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let e = r.json();
    assert_eq!(e["error"]["code"], "bad_request");
    assert_eq!(e["error"]["details"]["line"], 3);
    // An invalid field: 400 with the field.
    let r = srv.json(
        "POST",
        "/api/v1/records/child",
        &t.agency1,
        json!({"record_id": "A1", "given_name": "Hodan", "birth_date": "2015-02-30", "tracing_consent": "yes"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["details"][0]["field"], "birth_date");
    // Too big: 413, as JSON.
    let big = "x".repeat(MAX_BODY + 1024);
    let r = srv.csv("/api/v1/batches?kind=child", &t.agency1, &big, &[]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "payload_too_large");
    // A search with nothing to search for.
    let r = srv.call("GET", "/api/v1/search", Some(&t.officer));
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"].is_string());
}

#[test]
fn a_batch_interrupted_by_a_stop_resumes_on_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = accounts(&data);
    let srv = TestServer::start(&data);
    const N: usize = 6000;
    let mut body = String::from(CHILD_HEADER);
    body.push('\n');
    for i in 0..N {
        body.push_str(&format!(
            "R{i},ag1,Given{i},Family{},,F,2014,,,,,Village{},,SD,,,,,yes\n",
            i % 97,
            i % 13
        ));
    }
    // 6000 rows of about 60 bytes: above the test server's body limit, so send
    // them as two batches and interrupt the second.
    let lines: Vec<&str> = body.lines().collect();
    let half = |part: &[&str]| format!("{CHILD_HEADER}\n{}\n", part.join("\n"));
    let first = half(&lines[1..=N / 2]);
    let second = half(&lines[N / 2 + 1..]);
    let r = srv.csv("/api/v1/batches?kind=child", &t.agency1, &first, &[]);
    assert_eq!(r.status, 202, "{}", r.text());
    let r = srv.csv("/api/v1/batches?kind=child", &t.agency1, &second, &[]);
    assert_eq!(r.status, 202, "{}", r.text());
    let second_id = r.json()["id"].as_i64().unwrap();
    // Stop while the first batch is part-way.
    let start = Instant::now();
    loop {
        let b = srv
            .call("GET", "/api/v1/batches/1", Some(&t.agency1))
            .json();
        if b["rows_read"].as_u64().unwrap() >= 500 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    srv.stop();
    let (state1, read1) = {
        let store = Store::open(&data.join(DATABASE_FILE)).unwrap();
        let s = famlink::batch::status(&store, 1).unwrap().unwrap();
        (s.state, s.rows_read)
    };
    assert!(
        state1 == "running" && read1 < (N / 2) as u64,
        "the stop came too late to interrupt: {state1} {read1}"
    );
    let srv = TestServer::start(&data);
    for id in [1, second_id] {
        let b = srv.wait_batch(id, &t.agency1);
        assert_eq!(b["state"], "done");
        assert_eq!(b["rows_read"], N / 2, "{b}");
        assert_eq!(b["imported"], N / 2, "{b}");
        assert_eq!(b["rejected"], 0);
    }
    let store = Store::open(&data.join(DATABASE_FILE)).unwrap();
    let stats = store.stats().unwrap();
    assert_eq!(stats.children, N as u64);
    assert_eq!(stats.history_versions, 0);
}

/// Captures what the service logs.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

#[test]
fn the_logs_never_hold_names_dates_of_birth_or_contacts() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    // Global: the server's threads log through it (other tests' requests too).
    let _ = tracing::subscriber::set_global_default(subscriber);
    let (_dir, _data, t, srv) = loaded();
    let r = srv.call(
        "GET",
        "/api/v1/search?name=Amina%20Yusuf&born=2015-03-02&father=Yusuf",
        Some(&t.officer),
    );
    assert_eq!(r.status, 200);
    srv.call("GET", "/api/v1/records/inquiry/ag2/I1", Some(&t.reviewer));
    let bad = format!("{CHILD_HEADER}\nB1,ag1,Amina,Yusuf,,F,2015-02-30,,,,,,,,,,,,yes\n");
    let r = srv.csv("/api/v1/batches?kind=child", &t.agency1, &bad, &[]);
    srv.wait_batch(r.json()["id"].as_i64().unwrap(), &t.agency1);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("route=/api/v1/search"),
        "requests are logged: {text}"
    );
    for secret in [
        "Amina",
        "Yusuf",
        "Halima",
        "2015-03-02",
        "2015-02-30",
        "+249",
        "555 0101",
    ] {
        assert!(!text.contains(secret), "the logs hold {secret:?}");
    }
}

#[test]
fn with_a_trained_model_proposals_carry_levels_weights_and_the_sibling_note() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = accounts(&data);
    save_sample_model(&data);
    let srv = TestServer::start(&data);
    for (kind, token, body) in [
        ("child", &t.agency1, children_csv()),
        ("inquiry", &t.agency2, inquiries_csv()),
    ] {
        let r = srv.csv(&format!("/api/v1/batches?kind={kind}"), token, &body, &[]);
        assert_eq!(r.status, 202, "{}", r.text());
        let b = srv.wait_batch(r.json()["id"].as_i64().unwrap(), token);
        assert_eq!(b["state"], "done", "{b}");
    }
    // The engine's proposal: likely, every comparison of the rule file with its
    // level, the values compared and its weight.
    let p = proposal_for(&srv, &t, "C1", "I1");
    assert_eq!(p["band"], "likely", "{p}");
    let id = p["id"].as_i64().unwrap();
    let d = srv
        .call("GET", &format!("/api/v1/proposals/{id}"), Some(&t.reviewer))
        .json();
    let cmp = d["comparisons"].as_array().unwrap();
    let fields: Vec<&str> = cmp.iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "personal_name",
            "sex",
            "birth",
            "father",
            "mother",
            "inquirer",
            "origin",
            "separation_place"
        ]
    );
    for c in cmp {
        assert!(c["level"].is_string(), "{c}");
        assert!(c["weight"].is_number(), "{c}");
        assert!(c["detail"].is_string(), "{c}");
    }
    let birth = cmp.iter().find(|c| c["field"] == "birth").unwrap();
    assert_eq!(birth["level"], "same_day");
    assert_eq!(birth["detail"], "2015-03-02 / 2015-03-02");
    assert!(birth["weight"].as_f64().unwrap() > 0.0);
    assert_eq!(d["proposal"]["note"], Value::Null);
    // The child without consent (ag1) is not proposed to ag2's inquiry.
    assert!(queue(&srv, &t.reviewer, "limit=500")
        .iter()
        .all(|p| p["child"]["record_id"] != "C3"));

    // A sister of C1 arrives alone: same parents, family name and village, her own
    // name and birth. Proposed for I1 at most as possible, with the note.
    let r = srv.json(
        "POST",
        "/api/v1/records/child",
        &t.agency1,
        json!({"record_id": "C4", "given_name": "Khadija", "family_name": "Yusuf", "sex": "F",
               "birth_date": "2011-09-14", "father_name": "Yusuf Hassan Ali",
               "mother_name": "Halima Omar", "origin_village": "Kassala",
               "origin_district": "Kassala", "origin_country": "SD",
               "separation_place": "Kassala", "tracing_consent": "yes"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let s = proposal_for(&srv, &t, "C4", "I1");
    assert_eq!(s["band"], "possible", "{s}");
    assert_eq!(
        s["note"],
        "family agrees, child's identity does not: possibly a sibling or cousin"
    );
    let s = srv
        .call(
            "GET",
            &format!("/api/v1/proposals/{}", s["id"]),
            Some(&t.reviewer),
        )
        .json();
    let name = s["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "personal_name")
        .unwrap()
        .clone();
    assert_eq!(name["level"], "different", "{name}");
    assert!(name["weight"].as_f64().unwrap() < 0.0, "{name}");

    // The document describes them.
    let doc = srv.call("GET", "/api/v1/openapi.json", None).json();
    let e = &doc["components"]["schemas"]["ComparisonExplanation"]["properties"];
    assert_eq!(e["level"]["type"], "string");
    assert_eq!(e["weight"]["type"], "number");
    assert_eq!(
        doc["paths"]["/api/v1/proposals/{id}"]["get"]["responses"]["200"]["content"]
            ["application/json"]["schema"]["$ref"],
        "#/components/schemas/ProposalDetail"
    );
}
