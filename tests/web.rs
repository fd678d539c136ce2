//! The pages, driven over loopback like a browser without JavaScript would: the
//! real server on 127.0.0.1 port 0, a cookie jar by hand, forms posted as
//! `application/x-www-form-urlencoded` and `multipart/form-data`.
#![allow(dead_code)]

mod common;

use common::http::{enc, request, Resp, TestServer, INQUIRY_HEADER};
use common::{save_sample_model, CHILD_HEADER};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use famlink::access::{self, Role};
use famlink::registry::DATABASE_FILE;
use famlink::store::Store;

/// Children of `ag1`: one named in Arabic script, one whose name is markup, one
/// without tracing consent.
fn children_csv() -> String {
    [
        CHILD_HEADER,
        "C1,ag1,محمد,عبد الرحمن,,M,2015-03-02,,,عبد الرحمن حسن,حليمة عمر,Kassala,Kassala,SD,Kassala,2024-05,ar,,yes",
        "C2,ag1,<script>alert(1)</script>,Bekele,,M,2012-07,,,Bekele Girma,Almaz Tadesse,Humera,Tigray,ET,Humera,2023-11,ti,,yes",
        "C3,ag1,Oleksandr,Kovalenko,,M,2014,,,Ivan Kovalenko,Olena Kovalenko,Bucha,Kyivska,UA,Bucha,2022-03,uk,,no",
    ]
    .join("\n")
        + "\n"
}

/// Inquiries of `ag2`, the first seeking C1 in Latin letters.
fn inquiries_csv() -> String {
    [
        INQUIRY_HEADER,
        "I1,ag2,Mohammed,Abdelrahman,,M,2015-03-02,,,Abdelrahman Hassan,Halima Omer,Kasala,Kassala,SD,Kassala,2024-05,ar,,Halima Omer,mother,+249 555 0101",
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

fn loaded() -> (tempfile::TempDir, PathBuf, Tokens, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = accounts(&data);
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
    (dir, data, t, srv)
}

/// A browser by hand: a cookie jar and a language.
struct Browser<'a> {
    srv: &'a TestServer,
    cookies: Vec<(String, String)>,
    extra: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    fn new(srv: &'a TestServer) -> Self {
        Browser {
            srv,
            cookies: Vec::new(),
            extra: Vec::new(),
        }
    }

    fn send(&mut self, method: &str, path: &str, ctype: Option<&str>, body: &[u8]) -> Resp {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut extra: Vec<(&str, &str)> = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if !cookie.is_empty() {
            extra.push(("Cookie", &cookie));
        }
        let r = request(self.srv.addr, method, path, None, ctype, &extra, body);
        for (k, v) in &r.headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let (name, rest) = v.split_once('=').unwrap();
                let value = rest.split(';').next().unwrap().to_string();
                self.cookies.retain(|(n, _)| n != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_string(), value));
                }
            }
        }
        r
    }

    fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, None, b"")
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
        )
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Signs in with a token through the form; returns the sign-in response.
    fn sign_in(&mut self, token: &str) -> Resp {
        let r = self.get("/");
        assert_eq!(r.status, 200);
        let pre = self.cookie("famlink_pre").expect("pre cookie").to_string();
        assert!(
            r.text().contains(&pre),
            "the form carries the double-submit value"
        );
        self.post("/signin", &[("token", token), ("csrf", &pre)])
    }

    /// The session's CSRF token, read off a page's sign-out form.
    fn csrf(&mut self) -> String {
        let page =
            self.get("/search").text() + &self.get("/queue").text() + &self.get("/batches").text();
        let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        page[at..at + 68].split('"').next().unwrap().to_string()
    }
}

fn signed_in<'a>(srv: &'a TestServer, token: &str) -> Browser<'a> {
    let mut b = Browser::new(srv);
    let r = b.sign_in(token);
    assert_eq!(r.status, 303, "{}", r.text());
    b
}

fn html(r: &Resp) -> String {
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html"),
        "{:?}",
        r.headers
    );
    r.text()
}

// ------------------------------------------------------------------ tests

#[test]
fn root_is_the_sign_in_form_and_sign_in_sets_a_strict_http_only_cookie() {
    let (_d, _data, t, srv) = loaded();
    let mut b = Browser::new(&srv);
    let r = b.get("/");
    assert_eq!(r.status, 200);
    let page = html(&r);
    assert!(page.contains("action=\"/signin\""), "{page}");
    assert!(
        page.contains("<label for=\"token\">"),
        "labelled token field"
    );

    let r = b.sign_in(&t.reviewer);
    assert_eq!(r.status, 303);
    let set = r
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("famlink_session="))
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP on loopback: {set}");
    assert!(
        !set.contains(&t.reviewer),
        "the cookie is not the API token"
    );
    // Signed in, the root leads to the reviewer's queue.
    let r = b.get("/");
    assert_eq!((r.status, r.header("location")), (303, Some("/queue")));

    // Behind a TLS proxy the cookie is Secure.
    let mut b = Browser::new(&srv);
    b.extra.push(("X-Forwarded-Proto".into(), "https".into()));
    let r = b.sign_in(&t.officer);
    let set = r.header("set-cookie").unwrap_or("").to_string();
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.contains("Secure")),
        "{set}"
    );

    // A wrong token: back to the form with a message; no session.
    let mut b = Browser::new(&srv);
    let r = b.sign_in("flk_not_a_token");
    assert_eq!(r.header("location"), Some("/?failed=1"));
    assert!(b.cookie("famlink_session").is_none());
    assert!(html(&b.get("/?failed=1")).contains("role=\"alert\""));

    // The sign-in form without its double-submit value is refused (login CSRF).
    let mut b = Browser::new(&srv);
    let r = b.post("/signin", &[("token", &t.reviewer), ("csrf", "forged")]);
    assert_eq!(r.status, 403);
    assert!(b.cookie("famlink_session").is_none());
}

#[test]
fn sign_out_and_revocation_end_the_session() {
    let (_d, data, t, srv) = loaded();
    let mut b = signed_in(&srv, &t.officer);
    let session = b.cookie("famlink_session").unwrap().to_string();
    assert_eq!(b.get("/search").status, 200);
    let csrf = b.csrf();
    let r = b.post("/signout", &[("csrf", &csrf)]);
    assert_eq!(r.status, 303);
    // Even replayed, the old cookie no longer opens a page.
    b.cookies.push(("famlink_session".into(), session));
    assert_eq!(b.get("/search").status, 303);
    // Revoking the account ends its sessions at once.
    let mut b = signed_in(&srv, &t.officer);
    assert_eq!(b.get("/search").status, 200);
    let store = Store::open(&data.join(DATABASE_FILE)).unwrap();
    access::revoke_account(&store, "olga", "test", None).unwrap();
    assert_eq!(b.get("/search").status, 303);
}

#[test]
fn forms_without_the_session_csrf_token_are_refused() {
    let (_d, data, t, srv) = loaded();
    let mut b = signed_in(&srv, &t.reviewer);
    let page = html(&b.get("/queue"));
    let at = page.find("href=\"/proposals/").expect("a proposal") + 17;
    let id: String = page[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    for csrf in [None, Some("flk_forged")] {
        let mut form = vec![("decision", "confirm")];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        let r = b.post(&format!("/proposals/{id}/decide"), &form);
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(html(&r).contains("expired"));
    }
    let store = Store::open(&data.join(DATABASE_FILE)).unwrap();
    let p = famlink::review::get_proposal(&store, id.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(p.status, "pending");
    // Another session's token does not do either.
    let mut other = signed_in(&srv, &t.reviewer);
    let theirs = other.csrf();
    let r = b.post(
        &format!("/proposals/{id}/decide"),
        &[("decision", "confirm"), ("csrf", &theirs)],
    );
    assert_eq!(r.status, 403);
}

#[test]
fn pages_follow_the_roles_and_agency_rules_of_the_api() {
    let (_d, _data, t, srv) = loaded();
    // Without a session every page leads to the sign-in form.
    let mut anon = Browser::new(&srv);
    for path in [
        "/search",
        "/queue",
        "/proposals/1",
        "/batches",
        "/records/child/ag1/C1",
    ] {
        let r = anon.get(path);
        assert_eq!((r.status, r.header("location")), (303, Some("/")), "{path}");
    }
    let mut officer = signed_in(&srv, &t.officer);
    let mut agency = signed_in(&srv, &t.agency1);
    let mut reviewer = signed_in(&srv, &t.reviewer);
    let mut admin = signed_in(&srv, &t.admin);
    for (who, path, status) in [
        (0, "/search", 200),
        (0, "/queue", 403),
        (0, "/batches", 403),
        (1, "/search", 403),
        (1, "/queue", 403),
        (1, "/batches", 200),
        (2, "/queue", 200),
        (2, "/search", 200),
        (2, "/batches", 403),
        (3, "/search", 403),
        (3, "/queue", 403),
        (3, "/records/child/ag1/C1", 403),
    ] {
        let b = match who {
            0 => &mut officer,
            1 => &mut agency,
            2 => &mut reviewer,
            _ => &mut admin,
        };
        let r = b.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        if status == 403 {
            assert!(html(&r).contains("not allowed"));
        }
    }
    // A child without tracing consent is not there for an officer of another
    // agency (404, as the API), but is for its own agency.
    assert_eq!(officer.get("/records/child/ag1/C3").status, 404);
    assert_eq!(officer.get("/records/child/ag1/C1").status, 200);
    assert_eq!(agency.get("/records/child/ag1/C3").status, 200);
    // An agency reads only its own records.
    assert_eq!(agency.get("/records/inquiry/ag2/I1").status, 404);
    // Nor does a search show it to the officer.
    let page = html(&officer.get("/search?name=Oleksandr+Kovalenko"));
    assert!(!page.contains("C3"), "{page}");
    // The inquirer's contact is for the inquiry's agency and reviewers only.
    let page = html(&officer.get("/records/inquiry/ag2/I1"));
    assert!(!page.contains("+249 555 0101"));
    let page = html(&reviewer.get("/records/inquiry/ag2/I1"));
    assert!(page.contains("+249 555 0101"));
}

#[test]
fn names_that_are_markup_are_shown_as_text() {
    let (_d, _data, t, srv) = loaded();
    let mut b = signed_in(&srv, &t.officer);
    for path in [
        "/search?name=Bekele&father=Bekele+Girma",
        "/records/child/ag1/C2",
    ] {
        let page = html(&b.get(path));
        assert!(page.contains("C2"), "{path}: {page}");
        assert!(!page.contains("<script>alert"), "{path}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
    }
}

#[test]
fn arabic_names_are_isolated_and_shown_with_their_normalized_form() {
    let (_d, _data, t, srv) = loaded();
    let mut b = signed_in(&srv, &t.officer);
    // A transliterated search finds the name written in Arabic script.
    let page = html(&b.get("/search?name=Mohammed+Abdelrahman&kind=child"));
    assert!(page.contains("ag1/C1"), "{page}");
    let page = html(&b.get("/records/child/ag1/C1"));
    let at = page.find("محمد").expect("the name as written");
    let before = &page[..at];
    let open = before.rfind("<bdi").expect("inside a bdi");
    assert!(
        page[open..at].contains("dir=\"auto\""),
        "{}",
        &page[open..at]
    );
    let norm = famlink::names::normalize("محمد");
    assert!(!norm.is_empty() && norm.is_ascii(), "{norm}");
    assert!(
        page.contains(&format!("({norm})")),
        "normalized form beside it"
    );
}

#[test]
fn french_is_chosen_by_accept_language_or_the_switch() {
    let (_d, _data, t, srv) = loaded();
    let mut b = Browser::new(&srv);
    b.extra
        .push(("Accept-Language".into(), "fr-FR,fr;q=0.9,en;q=0.5".into()));
    let page = html(&b.get("/"));
    assert!(page.contains("<html lang=\"fr\">"), "{page}");
    assert!(
        page.contains("Jeton d'accès") || page.contains("Jeton d&#39;accès"),
        "{page}"
    );
    assert!(page.contains("Se connecter"));
    let mut b = Browser::new(&srv);
    assert!(html(&b.get("/")).contains("Sign in"));
    let r = b.get("/lang/fr?back=/search");
    assert_eq!(r.header("location"), Some("/search"));
    assert!(html(&b.get("/")).contains("Se connecter"));
    // The switch never sends anyone off the site.
    assert_eq!(
        b.get("/lang/en?back=//evil.example").header("location"),
        Some("/")
    );
    let mut b = signed_in(&srv, &t.reviewer);
    b.get("/lang/fr");
    assert!(html(&b.get("/queue")).contains("File de revue"));
    // Words of the data come from the catalogue too: the inquirer's relationship.
    let page = html(&b.get("/records/inquiry/ag2/I1"));
    assert!(
        page.contains("mère") && page.contains("Demandeur"),
        "{page}"
    );
    assert!(!page.contains(" · mother"), "{page}");
}

#[test]
fn pages_are_under_100_kb() {
    let (_d, _data, t, srv) = loaded();
    let mut r = signed_in(&srv, &t.reviewer);
    let page = html(&r.get("/queue"));
    let at = page.find("href=\"/proposals/").unwrap() + 17;
    let id: String = page[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let css = r.get("/static/app.css").body.len();
    let js = r.get("/static/app.js").body.len();
    for path in [
        "/".to_string(),
        "/queue".into(),
        format!("/proposals/{id}"),
        "/search?name=Mohammed".into(),
        "/records/child/ag1/C1".into(),
    ] {
        let resp = r.get(&path);
        let size = resp.body.len() + if path == "/" { 0 } else { css + js };
        assert!(resp.status == 200 || resp.status == 303, "{path}");
        assert!(size < 100_000, "{path}: {size} bytes");
    }
}

#[test]
fn a_reviewer_confirms_through_the_form_and_the_record_shows_it() {
    let (_d, data, t, srv) = loaded();
    let mut b = signed_in(&srv, &t.reviewer);
    let page = html(&b.get("/queue?band="));
    let at = page.find("href=\"/proposals/").expect("a pending proposal") + 17;
    let id: String = page[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let page = html(&b.get(&format!("/proposals/{id}")));
    assert!(
        page.contains("محمد") && page.contains("Mohammed"),
        "both sides"
    );
    assert!(page.contains("class=\"comparisons\""));
    let csrf = b.csrf();
    let r = b.post(
        &format!("/proposals/{id}/decide"),
        &[
            ("decision", "confirm"),
            ("note", "same parents"),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let page = html(&b.get(r.header("location").unwrap()));
    assert!(page.contains("Decision saved"));
    let page = html(&b.get("/records/child/ag1/C1"));
    assert!(page.contains("status-confirmed"), "{page}");
    assert!(page.contains("same parents"));
    // Deciding twice: the second sees the first's decision.
    let r = b.post(
        &format!("/proposals/{id}/decide"),
        &[("decision", "reject"), ("csrf", &csrf)],
    );
    assert!(
        r.header("location").unwrap_or("").contains("conflict"),
        "{:?}",
        r.headers
    );
    // Reads and the decision are audited, as through the API.
    let store = Store::open(&data.join(DATABASE_FILE)).unwrap();
    let audit = store.audit_page(None, 200).unwrap();
    let text = serde_json::to_string(&audit).unwrap();
    for action in [
        "proposal.read",
        "proposal.decide",
        "record.read",
        "queue.read",
        "web.signin",
    ] {
        assert!(text.contains(action), "{action} audited");
    }
    assert!(
        !text.contains("same parents") && !text.contains("Mohammed"),
        "no names or notes"
    );
}

fn multipart(fields: &[(&str, &str)], file: (&str, &str)) -> (String, Vec<u8>) {
    let boundary = "----famlinkboundary7MA4YWxk";
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: text/csv\r\n\r\n{}\r\n--{boundary}--\r\n",
        file.0, file.1
    ));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

#[test]
fn an_upload_with_a_bad_row_shows_the_row_and_its_reason() {
    let (_d, _data, t, srv) = loaded();
    let mut b = signed_in(&srv, &t.agency1);
    let csrf = b.csrf();
    let csv = [
        CHILD_HEADER,
        "C10,ag1,Amina,Yusuf,,F,2015-03-02,,,Yusuf Ali,Halima Omar,Kassala,Kassala,SD,Kassala,2024-05,ar,,yes",
        "C11,ag1,Bad,Date,,F,2015-13-45,,,,,Kassala,Kassala,SD,Kassala,2024-05,ar,,yes",
    ]
    .join("\n")
        + "\n";
    let (ct, body) = multipart(
        &[("csrf", &csrf), ("kind", "child"), ("consent", "")],
        ("kids.csv", &csv),
    );
    let r = b.send("POST", "/batches", Some(&ct), &body);
    assert_eq!(r.status, 303, "{}", r.text());
    let loc = r.header("location").unwrap().to_string();
    assert!(loc.starts_with("/batches/"));
    let start = Instant::now();
    let page = loop {
        let page = html(&b.get(&loc));
        if page.contains("data-live=\"0\"") {
            break page;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{page}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(page.contains("class=\"problems\""), "{page}");
    assert!(page.contains("<td>3</td><td>birth_date</td>"), "{page}");
    // Without the CSRF token nothing is submitted; another agency cannot see it.
    let (ct, body) = multipart(&[("kind", "child")], ("kids.csv", &csv));
    assert_eq!(b.send("POST", "/batches", Some(&ct), &body).status, 403);
    let mut other = signed_in(&srv, &t.agency2);
    assert_eq!(other.get(&loc).status, 404);
    // A file that is neither CSV nor JSON Lines is refused with a message.
    let (ct, body) = multipart(&[("csrf", &csrf), ("kind", "child")], ("kids.xlsx", "x"));
    let r = b.send("POST", "/batches", Some(&ct), &body);
    assert_eq!(r.status, 400);
    assert!(html(&r).contains(".jsonl"));
}

fn proposal_id_in(page: &str) -> String {
    let at = page.find("href=\"/proposals/").expect("a proposal") + 17;
    page[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect()
}

#[test]
fn the_proposal_page_shows_each_comparisons_level_weight_and_the_sibling_note() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = accounts(&data);
    save_sample_model(&data);
    let srv = TestServer::start(&data);
    // The inquiry for C1, then a brother of C1 (same parents and village, his own
    // name and birth) registered later.
    let brother = format!(
        "{CHILD_HEADER}\nC4,ag1,Khalid,Abdelrahman,,M,2011-09-14,,,Abdelrahman Hassan,Halima Omer,Kassala,Kassala,SD,Kassala,2024-05,ar,,yes\n"
    );
    for (kind, token, body) in [
        ("child", &t.agency1, children_csv()),
        ("inquiry", &t.agency2, inquiries_csv()),
        ("child", &t.agency1, brother),
    ] {
        let r = srv.csv(&format!("/api/v1/batches?kind={kind}"), token, &body, &[]);
        assert_eq!(r.status, 202, "{}", r.text());
        let b = srv.wait_batch(r.json()["id"].as_i64().unwrap(), token);
        assert_eq!(b["state"], "done", "{b}");
    }
    let mut b = signed_in(&srv, &t.reviewer);
    // The queue, most probable first: C1 for I1, then its brother.
    let queue = html(&b.get("/queue?band="));
    let first = proposal_id_in(&queue);
    let page = html(&b.get(&format!("/proposals/{first}")));
    assert!(page.contains("Mohammed") && page.contains("محمد"), "{page}");
    assert!(!page.contains("not given by this matcher"), "{page}");
    // Each comparison: its level (in words), its weight, the values compared.
    assert!(page.contains("<td class=\"level\">same day</td>"), "{page}");
    assert!(page.contains("2015-03-02 / 2015-03-02"), "{page}");
    let weights = page.matches("<td class=\"weight ").count();
    assert_eq!(weights, 8, "{page}");
    assert!(page.contains("<td class=\"weight for\">+"), "{page}");
    assert!(!page.contains("class=\"note\""), "{page}");

    // The brother's proposal: possible, with the note, in French too.
    let api = srv.call("GET", "/api/v1/proposals?limit=50", Some(&t.reviewer));
    let brother = api.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["child"]["record_id"] == "C4")
        .unwrap_or_else(|| panic!("the brother is proposed: {}", api.text()))
        .clone();
    assert_eq!(brother["band"], "possible", "{brother}");
    let page = html(&b.get(&format!("/proposals/{}", brother["id"])));
    assert!(page.contains("class=\"note\""), "{page}");
    assert!(page.contains("possibly a sibling or cousin"), "{page}");
    assert!(page.contains("<td class=\"weight against\">-"), "{page}");
    b.extra
        .push(("Accept-Language".into(), "fr-FR,fr;q=0.9".into()));
    let page = html(&b.get(&format!("/proposals/{}", brother["id"])));
    assert!(page.contains("Remarque"), "{page}");
    assert!(page.contains("frère, une sœur ou un cousin"), "{page}");
    assert!(
        page.contains("<td class=\"level\">différent</td>"),
        "{page}"
    );
}
