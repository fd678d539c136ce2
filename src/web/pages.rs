//! The pages themselves. Each handler: who is signed in (else the sign-in form),
//! may their role see this page (else 403), may they see this record (else 404,
//! as the API), then the library on a blocking thread, an audit line, and HTML.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

use super::session::{self, Session};
use super::{page_headers, redirect, Ctx, Lang, WebError};
use crate::access::{self, Action, Role};
use crate::batch::{self, BatchStatus, NewBatch};
use crate::import::Format;
use crate::names::normalize;
use crate::record::{PartialDate, Record, RecordKey, RecordKind, Sex};
use crate::review::{self, Band, Decision, QueueFilter, StoredProposal};
use crate::search::SearchQuery;
use crate::server::error::ApiError;
use crate::server::{AppState, Inner};
use crate::store::Store;

const CSS: &str = include_str!("static/app.css");
const JS: &str = include_str!("static/app.js");

type PageResult = Result<Response, WebError>;

async fn blocking<T: Send + 'static>(
    ctx: &Ctx,
    state: &AppState,
    f: impl FnOnce(&Arc<Inner>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, WebError> {
    let st = Arc::clone(state);
    tokio::task::spawn_blocking(move || f(&st))
        .await
        .map_err(ApiError::from)
        .and_then(|r| r)
        .map_err(ctx.api())
}

fn html_response(markup: Markup) -> Response {
    let mut r = markup.into_response();
    page_headers(&mut r);
    r
}

// ------------------------------------------------------------------ layout

fn layout(ctx: &Ctx, title: &str, main: Markup) -> Markup {
    let lang = ctx.lang;
    html! {
        (DOCTYPE)
        html lang=(lang.0) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (lang.t("app")) }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { (lang.t("skip")) }
                header {
                    nav aria-label=(lang.t("app")) {
                        a.brand href="/" { (lang.t("app")) }
                        @if let Some(s) = &ctx.session {
                            @if access::allowed(s.account.role, Action::Search) {
                                a href="/search" { (lang.t("nav_search")) }
                            }
                            @if access::allowed(s.account.role, Action::ReadQueue) {
                                a href="/queue" { (lang.t("nav_queue")) }
                            }
                            @if access::allowed(s.account.role, Action::SubmitBatch) {
                                a href="/batches" { (lang.t("nav_batches")) }
                            }
                            span.who { (lang.t("signed_in_as")) " " bdi { (s.account.name) } " (" (lang.word(s.account.role.as_str())) ", " bdi { (s.account.agency) } ")" }
                            form.inline method="post" action="/signout" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" { (lang.t("nav_signout")) }
                            }
                        }
                        span.langs {
                            @for code in super::i18n::LANGS {
                                @let l = Lang(code);
                                @if l == lang {
                                    span aria-current="true" lang=(code) { (l.t("lang_name")) }
                                } @else {
                                    a href={ "/lang/" (code) "?back=" (urlencode(&ctx.path)) } lang=(code) hreflang=(code) { (l.t("lang_name")) }
                                }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (main)
                }
            }
        }
    }
}

pub(super) fn error_page(lang: Lang, status: StatusCode, key: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.0) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (lang.t("error_title")) " " (status.as_u16()) " · " (lang.t("app")) }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                main id="main" {
                    h1 { (lang.t("error_title")) " " (status.as_u16()) }
                    p.error role="alert" { (lang.t(key)) }
                    p { a href="/" { (lang.t("back_home")) } }
                }
            }
        }
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A name as written (isolated, its direction from its own script) beside its
/// normalized form. `marks` are normalized tokens to highlight.
fn name(original: &str, marks: &[String]) -> Markup {
    let norm = normalize(original);
    html! {
        span.name {
            bdi dir="auto" {
                @for (i, part) in original.split_whitespace().enumerate() {
                    @if i > 0 { " " }
                    @if marks.iter().any(|m| normalize(part).split_whitespace().any(|p| p == m)) {
                        mark { (part) }
                    } @else {
                        (part)
                    }
                }
            }
            @if !norm.is_empty() && norm != original {
                " " span.norm dir="ltr" { "(" (norm) ")" }
            }
        }
    }
}

fn opt_name(v: &Option<String>, marks: &[String]) -> Markup {
    match v {
        Some(s) => name(s, marks),
        None => html! { span.none { "—" } },
    }
}

fn kind_label(lang: Lang, kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Child => lang.t("kind_child"),
        RecordKind::Inquiry => lang.t("kind_inquiry"),
    }
}

fn status_label(lang: Lang, status: &str) -> &'static str {
    match status {
        "pending" => lang.t("status_pending"),
        "deferred" => lang.t("status_deferred"),
        "confirmed" => lang.t("status_confirmed"),
        "rejected" => lang.t("status_rejected"),
        "undone" => lang.t("status_undone"),
        _ => "?",
    }
}

fn band_label(lang: Lang, band: &str) -> &'static str {
    match band {
        "likely" => lang.t("band_likely"),
        _ => lang.t("band_possible"),
    }
}

fn record_href(key: &RecordKey) -> String {
    format!(
        "/records/{}/{}/{}",
        key.kind.as_str(),
        urlencode(&key.agency),
        urlencode(&key.record_id)
    )
}

/// A record's facts as a definition list; names as written and normalized.
fn record_facts(lang: Lang, r: &Record, marks: &[String]) -> Markup {
    let names: Vec<&str> = r.own_names().collect();
    html! {
        dl.facts {
            dt { (lang.t("record_names")) }
            dd {
                @if names.is_empty() { span.none { "—" } }
                @for (i, n) in names.iter().enumerate() {
                    @if i > 0 { br; }
                    (name(n, marks))
                }
            }
            dt { (lang.t("search_sex")) }
            dd { (lang.t(&format!("sex_{}", r.sex.code()))) }
            dt { (lang.t("record_born")) }
            dd {
                @if let Some(d) = &r.birth_date { (d.to_string()) }
                @else if let Some(a) = &r.age { (lang.t("record_age")) " " (a.years) " (" (a.recorded_on.to_string()) ")" }
                @else { "—" }
            }
            dt { (lang.t("record_father")) }
            dd { (opt_name(&r.father_name, marks)) }
            dt { (lang.t("record_mother")) }
            dd { (opt_name(&r.mother_name, marks)) }
            dt { (lang.t("record_places")) }
            dd {
                @for (i, p) in r.places().enumerate() {
                    @if i > 0 { ", " }
                    (name(p, marks))
                }
                @if let Some(c) = &r.origin.country { " · " (c.to_string()) }
            }
            dt { (lang.t("record_agency")) }
            dd { bdi { (r.agency) } " / " bdi { (r.record_id) } }
            @if r.kind() == RecordKind::Child {
                dt { (lang.t("record_consent")) }
                dd { (if r.tracing_consent() { lang.t("yes") } else { lang.t("no") }) }
            }
            @if let Some(i) = r.inquirer() {
                @if i.name.is_some() || i.contact.is_some() {
                    dt { (lang.t("record_inquirer")) }
                    dd {
                        (opt_name(&i.name, &[]))
                        @if let Some(rel) = &i.relationship { " · " (lang.word(rel.as_str())) }
                        @if let Some(c) = &i.contact { br; (lang.t("record_contact")) ": " bdi { (c) } }
                    }
                }
            }
            @if let Some(n) = &r.notes {
                dt { (lang.t("record_notes")) }
                dd { bdi dir="auto" { (n) } }
            }
        }
    }
}

// ------------------------------------------------------------------ static

pub(super) async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

pub(super) async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        JS,
    )
        .into_response()
}

// ------------------------------------------------------------------ sign-in

pub(super) async fn root(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(s) = &ctx.session {
        let role = s.account.role;
        return match role {
            Role::Officer => redirect("/search"),
            Role::Reviewer => redirect("/queue"),
            Role::Agency => redirect("/batches"),
            Role::Admin => html_response(layout(
                &ctx,
                ctx.t("app"),
                html! { p { (ctx.t("signed_in_as")) " " bdi { (s.account.name) } } },
            )),
        };
    }
    // A fresh double-submit value unless the browser already holds one.
    let pre = match &ctx.pre {
        Some(p) if p.len() >= 16 => p.clone(),
        _ => access::new_token().unwrap_or_default(),
    };
    let failed = q.contains_key("failed");
    let body = html! {
        form.card method="post" action="/signin" {
            @if failed {
                p.error role="alert" id="signin-error" { (ctx.t("signin_bad")) }
            }
            input type="hidden" name="csrf" value=(pre);
            label for="token" { (ctx.t("signin_token")) }
            input #token type="password" name="token" required autocomplete="off" autofocus
                aria-describedby="token-help";
            p.help id="token-help" { (ctx.t("signin_help")) }
            button type="submit" { (ctx.t("signin_submit")) }
        }
    };
    let mut r = html_response(layout(&ctx, ctx.t("signin_title"), body));
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(
        session::PRE_COOKIE,
        &pre,
        ctx.secure,
        Some(3600),
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub(super) struct SignIn {
    token: String,
    csrf: Option<String>,
}

pub(super) async fn sign_in(
    ctx: Ctx,
    State(state): State<AppState>,
    Form(f): Form<SignIn>,
) -> PageResult {
    // Login CSRF: the form's value must be the one in this browser's cookie.
    let pre_ok = ctx
        .pre
        .as_deref()
        .is_some_and(|p| session::same_secret(p, f.csrf.as_deref().unwrap_or("")));
    if !pre_ok {
        return Err(WebError::Page {
            status: StatusCode::FORBIDDEN,
            lang: ctx.lang,
            key: "error_csrf",
        });
    }
    let token = f.token.trim().to_string();
    let origin = ctx.origin.clone();
    let created = blocking(&ctx, &state, move |st| {
        let made = st.with_reader(|s| Ok(session::create(s, &token)?))?;
        match &made {
            Some((_, sess)) => st.audit.append(
                &sess.account.actor(),
                "web.signin",
                None,
                None,
                Some(&origin),
            )?,
            None => st.audit.append(
                "anonymous",
                "web.signin",
                None,
                Some("refused"),
                Some(&origin),
            )?,
        }
        Ok(made)
    })
    .await?;
    let Some((id, _)) = created else {
        return Ok(redirect("/?failed=1"));
    };
    let mut r = redirect("/");
    let h = r.headers_mut();
    for c in [
        session::set_cookie(
            session::COOKIE,
            &id,
            ctx.secure,
            Some(session::HOURS * 3600),
        ),
        session::set_cookie(session::PRE_COOKIE, "", ctx.secure, Some(0)),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    Ok(r)
}

#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    csrf: Option<String>,
}

pub(super) async fn sign_out(
    ctx: Ctx,
    State(state): State<AppState>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    ctx.check_csrf(f.csrf.as_deref())?;
    if let Some(id) = ctx.session_id.clone() {
        blocking(&ctx, &state, move |st| {
            st.with_reader(|s| Ok(session::end(s, &id)?))
        })
        .await?;
    }
    let mut r = redirect("/");
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(
        session::COOKIE,
        "",
        ctx.secure,
        Some(0),
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

pub(super) async fn switch_lang(
    ctx: Ctx,
    Path(code): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::EN);
    // Only a path of this site: never an open redirect.
    let back = q
        .get("back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .map(String::as_str)
        .unwrap_or("/");
    let mut r = redirect(back);
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(
        session::LANG_COOKIE,
        lang.0,
        ctx.secure,
        Some(365 * 24 * 3600),
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

// ------------------------------------------------------------------ search

struct Hit {
    key: RecordKey,
    score: f32,
    reasons: Vec<String>,
    record: Record,
}

/// The normalized tokens a search's reasons name, to highlight in the record.
fn marks_of(reasons: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for r in reasons {
        let detail = r.split_once(':').map_or(r.as_str(), |(_, d)| d);
        for w in detail.split(|c: char| !c.is_alphanumeric()) {
            if w.chars().count() >= 2 {
                out.push(w.to_lowercase());
            }
        }
    }
    out
}

fn search_query(q: &HashMap<String, String>) -> Result<Option<SearchQuery>, ApiError> {
    let text = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut query = SearchQuery {
        name: text("name").map(str::to_string),
        father: text("father").map(str::to_string),
        mother: text("mother").map(str::to_string),
        place: text("place").map(str::to_string),
        ..SearchQuery::default()
    };
    query.kind = text("kind")
        .map(|k| k.parse::<RecordKind>())
        .transpose()
        .map_err(ApiError::bad_request)?;
    query.born = text("born")
        .map(|b| b.parse::<PartialDate>())
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("born: {e}")))?;
    query.age = text("age")
        .map(|a| a.parse::<f32>())
        .transpose()
        .map_err(|_| ApiError::bad_request("age must be a number of years"))?;
    query.sex = text("sex")
        .map(|s| s.parse::<Sex>())
        .transpose()
        .map_err(ApiError::bad_request)?;
    query.limit = 20;
    let asked = query.name.is_some()
        || query.father.is_some()
        || query.mother.is_some()
        || query.place.is_some()
        || query.born.is_some()
        || query.age.is_some();
    Ok(asked.then_some(query))
}

pub(super) async fn search(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let sess = ctx.require(Action::Search)?.clone();
    let lang = ctx.lang;
    let submitted = q.contains_key("name");
    let (query, problem) = match search_query(&q) {
        Ok(query) => (query, None),
        Err(e) => (None, Some(e.message)),
    };
    let mut hits: Option<Vec<Hit>> = None;
    if let Some(mut query) = query {
        query.viewer_agency = Some(sess.account.agency.clone());
        let kind = query.kind;
        let found: Vec<Hit> = state
            .search_records(query, sess.account.clone())
            .await
            .map_err(ctx.api())?
            .into_iter()
            .map(|(h, record)| Hit {
                key: h.key,
                score: h.score,
                reasons: h.reasons,
                record,
            })
            .collect();
        let asked: Vec<&str> = ["name", "father", "mother", "place", "born", "age", "sex"]
            .into_iter()
            .filter(|k| q.get(*k).is_some_and(|v| !v.trim().is_empty()))
            .collect();
        let keys: Vec<String> = found
            .iter()
            .map(|h| format!("{}/{}", h.key.agency, h.key.record_id))
            .collect();
        let detail = format!(
            "fields={} hits={} keys={}",
            asked.join(","),
            found.len(),
            keys.join(",")
        );
        let st = state.clone();
        let actor_ctx = Ctx {
            lang,
            session: Some(sess.clone()),
            session_id: None,
            pre: None,
            secure: ctx.secure,
            origin: ctx.origin.clone(),
            path: String::new(),
        };
        blocking(&ctx, &state, move |_| {
            actor_ctx.audit(&st, "search", kind.map(|k| k.as_str()), Some(&detail))
        })
        .await?;
        hits = Some(found);
    }
    let v = |k: &str| q.get(k).cloned().unwrap_or_default();
    let field = |id: &str, key: &str, kind: &str| {
        html! {
            div.field {
                label for=(id) { (lang.t(key)) }
                input id=(id) name=(id) type=(kind) value=(v(id)) dir="auto" autocomplete="off";
            }
        }
    };
    let sel = |k: &str, val: &str| q.get(k).is_some_and(|x| x == val);
    let body = html! {
        form.search method="get" action="/search" role="search" {
            div.grid {
                (field("name", "search_name", "text"))
                (field("father", "search_father", "text"))
                (field("mother", "search_mother", "text"))
                (field("place", "search_place", "text"))
                (field("born", "search_born", "text"))
                div.field {
                    label for="age" { (lang.t("search_age")) }
                    input #age name="age" type="number" min="0" max="30" step="0.5" value=(v("age"));
                }
                div.field {
                    label for="sex" { (lang.t("search_sex")) }
                    select #sex name="sex" {
                        option value="" { (lang.t("search_any")) }
                        option value="M" selected[sel("sex", "M")] { (lang.t("sex_M")) }
                        option value="F" selected[sel("sex", "F")] { (lang.t("sex_F")) }
                    }
                }
                div.field {
                    label for="kind" { (lang.t("search_kind")) }
                    select #kind name="kind" {
                        option value="" { (lang.t("search_any")) }
                        option value="child" selected[sel("kind", "child")] { (lang.t("kind_child")) }
                        option value="inquiry" selected[sel("kind", "inquiry")] { (lang.t("kind_inquiry")) }
                    }
                }
            }
            button type="submit" { (lang.t("search_submit")) }
        }
        @if let Some(p) = &problem {
            p.error role="alert" { (lang.t("error_400")) " " (p) }
        } @else if submitted && hits.is_none() {
            p.error role="alert" { (lang.t("search_empty")) }
        }
        @if let Some(hits) = &hits {
            section aria-labelledby="results-h" {
                h2 #results-h { (lang.t("search_results")) " (" (hits.len()) ")" }
                @if hits.is_empty() { p { (lang.t("search_none")) } }
                ol.results {
                    @for h in hits {
                        @let marks = marks_of(&h.reasons);
                        li.result {
                            div.result-head {
                                a href=(record_href(&h.key)) {
                                    (kind_label(lang, h.key.kind)) " " bdi { (h.key.agency) "/" (h.key.record_id) }
                                }
                                span.score { (lang.t("search_score")) " " (format!("{:.2}", h.score)) }
                            }
                            (record_facts(lang, &h.record, &marks))
                            @if !h.reasons.is_empty() {
                                details {
                                    summary { (lang.t("search_why")) }
                                    ul.reasons { @for r in &h.reasons { li { bdi { (r) } } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_response(layout(&ctx, lang.t("search_title"), body)))
}

// ------------------------------------------------------------------ record

/// A record the account may read, or 404; audited either way (as the API).
fn readable(
    ctx: &Ctx,
    st: &Inner,
    store: &Store,
    key: &RecordKey,
) -> Result<crate::store::StoredRecord, ApiError> {
    let account = &ctx.session.as_ref().expect("signed in").account;
    let found = store
        .get(key)?
        .filter(|s| access::may_read(account, &s.record));
    let st_audit = Arc::clone(&st.audit);
    st_audit.append(
        &account.actor(),
        "record.read",
        Some(&key.to_string()),
        Some(if found.is_some() {
            "found via=web"
        } else {
            "not found via=web"
        }),
        Some(&ctx.origin),
    )?;
    found.ok_or_else(|| ApiError::not_found("record"))
}

fn ctx_copy(ctx: &Ctx) -> Ctx {
    Ctx {
        lang: ctx.lang,
        session: ctx.session.clone(),
        session_id: None,
        pre: None,
        secure: ctx.secure,
        origin: ctx.origin.clone(),
        path: ctx.path.clone(),
    }
}

pub(super) async fn record(
    ctx: Ctx,
    State(state): State<AppState>,
    Path((kind, agency, id)): Path<(String, String, String)>,
) -> PageResult {
    let sess = ctx.require(Action::ReadRecord)?.clone();
    let kind: RecordKind = kind
        .parse()
        .map_err(|_| ctx.status(StatusCode::NOT_FOUND))?;
    let key = RecordKey::new(kind, agency, id);
    let c2 = ctx_copy(&ctx);
    let (current, history, rr) = blocking(&ctx, &state, move |st| {
        st.with_reader(|store| {
            let current = readable(&c2, st, store, &key)?;
            let history = store.history(&key)?;
            let rr = review::record_review(store, &key)?;
            Ok((current, history, rr))
        })
    })
    .await?;
    let lang = ctx.lang;
    let account = &sess.account;
    let rec = access::redact(account, &current.record);
    let title = format!(
        "{} {}/{}",
        kind_label(lang, rec.kind()),
        rec.agency,
        rec.record_id
    );
    let body = html! {
        (record_facts(lang, &rec, &[]))
        section aria-labelledby="case-h" {
            h2 #case-h { (lang.t("record_case")) }
            p { (rr.case_status.as_deref().map(|s| lang.word(s)).unwrap_or("—")) }
            @if !rr.case_events.is_empty() {
                table {
                    caption.sr { (lang.t("record_case_events")) }
                    thead { tr { th scope="col" { (lang.t("record_case")) } th scope="col" { (lang.t("proposal_note")) } th scope="col" { (lang.t("record_valid_from")) } } }
                    tbody {
                        @for e in &rr.case_events {
                            tr { td { (lang.word(&e.status)) } td { bdi dir="auto" { (e.note.as_deref().unwrap_or("")) } } td { (e.at) } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="prop-h" {
            h2 #prop-h { (lang.t("record_proposals")) }
            @if rr.proposals.is_empty() { p { (lang.t("record_none")) } }
            ul.history {
                @for pw in &rr.proposals {
                    @let p = &pw.proposal;
                    li {
                        @if access::allowed(account.role, Action::ReadQueue) {
                            a href={ "/proposals/" (p.id) } { (lang.t("proposal_title")) " " (p.id) }
                        } @else {
                            (lang.t("proposal_title")) " " (p.id)
                        }
                        " · " (band_label(lang, &p.band)) " · " (format!("{:.2}", p.probability))
                        " · " span class={ "status status-" (p.status) } { (status_label(lang, &p.status)) }
                        @if !pw.decisions.is_empty() {
                            ul.decisions {
                                @for d in &pw.decisions {
                                    li.decision {
                                        strong { (status_label(lang, &decided(&d.decision))) } " · " bdi { (d.reviewer) } " · " (d.at)
                                        @if let Some(n) = &d.note { " · " bdi dir="auto" { (n) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="hist-h" {
            h2 #hist-h { (lang.t("record_history")) }
            table.history {
                thead { tr { th scope="col" { (lang.t("record_version")) } th scope="col" { (lang.t("record_valid_from")) } th scope="col" { (lang.t("record_names")) } } }
                tbody {
                    tr {
                        td { (current.version) " (" (lang.t("record_current")) ")" }
                        td { (current.updated_at) }
                        td { @for n in rec.own_names() { (name(n, &[])) " " } }
                    }
                    @for h in history.iter().rev() {
                        @let hr = access::redact(account, &h.record);
                        tr {
                            td { (h.version) }
                            td { (h.valid_from) " – " (h.replaced_at) }
                            td { @for n in hr.own_names() { (name(n, &[])) " " } }
                        }
                    }
                }
            }
        }
    };
    Ok(html_response(layout(&ctx, &title, body)))
}

/// A decision's word (confirm) as the status it leads to (confirmed).
fn decided(decision: &str) -> String {
    match decision {
        "confirm" => "confirmed".into(),
        "reject" => "rejected".into(),
        "defer" => "deferred".into(),
        "undo" => "undone".into(),
        other => other.to_string(),
    }
}

// ------------------------------------------------------------------ review queue

fn names_of(r: &Record) -> String {
    r.own_names().collect::<Vec<_>>().join(" ")
}

pub(super) async fn queue(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let sess = ctx.require(Action::ReadQueue)?.clone();
    let lang = ctx.lang;
    let band = q
        .get("band")
        .filter(|b| !b.is_empty())
        .map(|b| b.parse::<Band>())
        .transpose()
        .map_err(|_| ctx.status(StatusCode::BAD_REQUEST))?;
    let agency = q.get("agency").filter(|a| !a.trim().is_empty()).cloned();
    let filter = QueueFilter {
        status: Some("pending".into()),
        band,
        agency: agency.clone(),
        viewer_agency: Some(sess.account.agency.clone()),
    };
    let after = q.get("after").cloned();
    let c2 = ctx_copy(&ctx);
    let account = sess.account.clone();
    let (page, rows) = blocking(&ctx, &state, move |st| {
        st.with_reader(|s| {
            let page = review::queue(s, &filter, after.as_deref(), 50)?;
            let mut rows = Vec::new();
            for p in &page.items {
                let get = |k: &RecordKey| -> Result<Option<Record>, ApiError> {
                    Ok(s.get(k)?
                        .filter(|r| access::may_read(&account, &r.record))
                        .map(|r| r.record))
                };
                rows.push((get(&p.child)?, get(&p.inquiry)?));
            }
            // The page shows the names of both records: a read of each, by key.
            let keys: Vec<String> = page
                .items
                .iter()
                .map(|p| {
                    format!(
                        "{}/{}+{}/{}",
                        p.child.agency, p.child.record_id, p.inquiry.agency, p.inquiry.record_id
                    )
                })
                .collect();
            c2.audit(
                st,
                "queue.read",
                None,
                Some(&format!(
                    "items={} keys={}",
                    page.items.len(),
                    keys.join(",")
                )),
            )?;
            Ok((page, rows))
        })
    })
    .await?;
    let bandv = q.get("band").cloned().unwrap_or_default();
    let body = html! {
        form.filters method="get" action="/queue" {
            div.field {
                label for="band" { (lang.t("queue_band")) }
                select #band name="band" {
                    option value="" { (lang.t("queue_all")) }
                    option value="likely" selected[bandv == "likely"] { (lang.t("band_likely")) }
                    option value="possible" selected[bandv == "possible"] { (lang.t("band_possible")) }
                }
            }
            div.field {
                label for="agency" { (lang.t("queue_agency")) }
                input #agency name="agency" type="text" value=(agency.clone().unwrap_or_default());
            }
            button type="submit" { (lang.t("queue_filter")) }
        }
        p.help { (lang.t("queue_keys")) }
        @if page.items.is_empty() { p { (lang.t("queue_empty")) } }
        @else {
            table.queue data-keys="queue" {
                thead { tr {
                    th scope="col" { "#" }
                    th scope="col" { (lang.t("queue_probability")) }
                    th scope="col" { (lang.t("queue_band")) }
                    th scope="col" { (lang.t("queue_child")) }
                    th scope="col" { (lang.t("queue_inquiry")) }
                } }
                tbody {
                    @for (p, (c, i)) in page.items.iter().zip(&rows) {
                        tr {
                            td { a.row-link href={ "/proposals/" (p.id) } { (lang.t("queue_open")) " " (p.id) } }
                            td { (format!("{:.2}", p.probability)) }
                            td { span class={ "band band-" (p.band) } { (band_label(lang, &p.band)) } }
                            td { @if let Some(c) = c { (name(&names_of(c), &[])) } br; small { bdi { (p.child.agency) } } }
                            td { @if let Some(i) = i { (name(&names_of(i), &[])) } br; small { bdi { (p.inquiry.agency) } } }
                        }
                    }
                }
            }
            @if let Some(next) = &page.next {
                p { a rel="next" href={ "/queue?band=" (urlencode(&bandv)) "&agency=" (urlencode(&agency.clone().unwrap_or_default())) "&after=" (urlencode(next)) } { (lang.t("next")) " →" } }
            }
        }
    };
    Ok(html_response(layout(&ctx, lang.t("queue_title"), body)))
}

// ------------------------------------------------------------------ proposal

/// A comparison's level from the matcher's words: "exact" when the two agreed as
/// written, else the way they agreed ("phonetic", "skeleton", "joined"...).
fn level_of(detail: &str) -> String {
    if let Some(open) = detail.rfind('(') {
        if detail.ends_with(')') {
            return detail[open + 1..detail.len() - 1].to_string();
        }
    }
    if detail.contains("differs") || detail.contains("off") {
        return detail.to_string();
    }
    "exact".to_string()
}

/// Evidence for a link, against it, or neither (for the page's colours).
fn weight_class(w: f64) -> &'static str {
    if w > 0.0 {
        "for"
    } else if w < 0.0 {
        "against"
    } else {
        "neutral"
    }
}

/// A matcher's note in the reader's language (the engine's notes are known
/// sentences; anything else is shown as it is).
fn note_text(lang: Lang, note: &str) -> String {
    if note == crate::matching::SIBLING_NOTE {
        lang.t("note_sibling").to_string()
    } else if note == crate::matching::IDENTITY_NOTE {
        lang.t("note_identity").to_string()
    } else {
        note.to_string()
    }
}

pub(super) async fn proposal(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let sess = ctx.require(Action::ReadQueue)?.clone();
    let id: i64 = id.parse().map_err(|_| ctx.status(StatusCode::NOT_FOUND))?;
    let c2 = ctx_copy(&ctx);
    let filter = QueueFilter {
        status: Some("pending".into()),
        band: None,
        agency: None,
        viewer_agency: Some(sess.account.agency.clone()),
    };
    let (p, child, inquiry, decisions, next) = blocking(&ctx, &state, move |st| {
        st.with_reader(|s| {
            let p = review::get_proposal(s, id)?.ok_or_else(|| ApiError::not_found("proposal"))?;
            let child = readable(&c2, st, s, &p.child)?;
            let inquiry = readable(&c2, st, s, &p.inquiry)?;
            let decisions = review::decisions(s, id)?;
            c2.audit(st, "proposal.read", Some(&format!("proposal {id}")), None)?;
            let next = review::queue(s, &filter, None, 2)?
                .items
                .into_iter()
                .map(|x: StoredProposal| x.id)
                .find(|x| *x != id);
            Ok((p, child.record, inquiry.record, decisions, next))
        })
    })
    .await?;
    let lang = ctx.lang;
    let account = &sess.account;
    let child = access::redact(account, &child);
    let inquiry = access::redact(account, &inquiry);
    let marks = marks_of(
        &p.explanation
            .iter()
            .map(|e| format!("{}: {}", e.field, e.detail))
            .collect::<Vec<_>>(),
    );
    let may_decide = access::allowed(account.role, Action::Decide)
        && (p.status == "pending" || p.status == "deferred");
    let title = format!("{} {}", lang.t("proposal_title"), p.id);
    let body = html! {
        @if q.contains_key("saved") { p.ok role="status" { (lang.t("proposal_saved")) } }
        @if q.contains_key("conflict") { p.error role="alert" { (lang.t("proposal_conflict")) } }
        p {
            (lang.t("proposal_status")) ": " span class={ "status status-" (p.status) } { (status_label(lang, &p.status)) }
            " · " (band_label(lang, &p.band)) " · " (lang.t("queue_probability")) " " (format!("{:.2}", p.probability))
        }
        @if let Some(note) = &p.note {
            p.note role="note" { strong { (lang.t("proposal_note_label")) ": " } (note_text(lang, note)) }
        }
        div.side {
            section.card aria-labelledby="child-h" {
                h2 #child-h { (lang.t("kind_child")) " " a href=(record_href(&p.child)) { bdi { (p.child.agency) "/" (p.child.record_id) } } }
                (record_facts(lang, &child, &marks))
            }
            section.card aria-labelledby="inq-h" {
                h2 #inq-h { (lang.t("kind_inquiry")) " " a href=(record_href(&p.inquiry)) { bdi { (p.inquiry.agency) "/" (p.inquiry.record_id) } } }
                (record_facts(lang, &inquiry, &marks))
            }
        }
        section aria-labelledby="cmp-h" {
            h2 #cmp-h { (lang.t("proposal_comparisons")) }
            table.comparisons {
                thead { tr {
                    th scope="col" { (lang.t("proposal_field")) }
                    th scope="col" { (lang.t("proposal_level")) }
                    th scope="col" { (lang.t("proposal_weight")) }
                    th scope="col" { (lang.t("proposal_detail")) }
                } }
                tbody {
                    @for e in &p.explanation {
                        tr {
                            td { (lang.word(&e.field)) }
                            @match &e.level {
                                Some(level) => { td.level { (lang.word(level)) } }
                                None => { td { (lang.word(&level_of(&e.detail))) } }
                            }
                            @match e.weight {
                                Some(w) => { td class={ "weight " (weight_class(w)) } { (format!("{w:+.2}")) } }
                                None => { td { small { (lang.t("weight_unknown")) } } }
                            }
                            td { bdi { (e.detail) } }
                        }
                    }
                }
            }
        }
        @if may_decide {
            form.card.decide method="post" action={ "/proposals/" (p.id) "/decide" } data-keys="decide" {
                h2 { (lang.t("proposal_decide")) }
                input type="hidden" name="csrf" value=(sess.csrf);
                input type="hidden" name="version" value=(p.version);
                label for="note" { (lang.t("proposal_note")) }
                textarea #note name="note" rows="2" dir="auto" {}
                div.buttons {
                    button.confirm type="submit" name="decision" value="confirm" data-key="c" { (lang.t("proposal_confirm")) }
                    button.reject type="submit" name="decision" value="reject" data-key="r" { (lang.t("proposal_reject")) }
                    button.defer type="submit" name="decision" value="defer" data-key="d" { (lang.t("proposal_defer")) }
                }
                p.help { (lang.t("proposal_keys")) }
            }
        }
        @if let Some(n) = next {
            p { a #next-proposal href={ "/proposals/" (n) } rel="next" { "→ " (lang.t("proposal_title")) " " (n) } }
        }
        section aria-labelledby="dec-h" {
            h2 #dec-h { (lang.t("proposal_decisions")) }
            @if decisions.is_empty() { p { (lang.t("record_none")) } }
            ul.decisions {
                @for d in &decisions {
                    li.decision {
                        strong { (status_label(lang, &decided(&d.decision))) } " · " bdi { (d.reviewer) } " · " (d.at)
                        @if let Some(n) = &d.note { " · " bdi dir="auto" { (n) } }
                    }
                }
            }
        }
    };
    Ok(html_response(layout(&ctx, &title, body)))
}

#[derive(Deserialize)]
pub(super) struct DecideForm {
    csrf: Option<String>,
    decision: String,
    note: Option<String>,
    version: Option<i64>,
}

pub(super) async fn decide(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<DecideForm>,
) -> PageResult {
    let sess = ctx.check_csrf(f.csrf.as_deref())?.clone();
    ctx.require(Action::Decide)?;
    let id: i64 = id.parse().map_err(|_| ctx.status(StatusCode::NOT_FOUND))?;
    let decision: Decision = f
        .decision
        .parse()
        .map_err(|_| ctx.status(StatusCode::BAD_REQUEST))?;
    let note = f.note.filter(|n| !n.trim().is_empty());
    let c2 = ctx_copy(&ctx);
    let account = sess.account.clone();
    let result = blocking(&ctx, &state, move |st| {
        let mut store = Store::open(&st.db_path)?;
        let p = review::get_proposal(&store, id)?.ok_or_else(|| ApiError::not_found("proposal"))?;
        if !review::may_read_proposal(&store, &account, &p)? {
            return Err(ApiError::not_found("proposal"));
        }
        let result = review::decide(
            &mut store,
            id,
            decision,
            note.as_deref(),
            &account.actor(),
            f.version,
        );
        let detail = match &result {
            Ok(_) => format!("decision={decision:?}"),
            Err(e) => format!("decision={decision:?} refused: {e}"),
        };
        c2.audit(
            st,
            "proposal.decide",
            Some(&format!("proposal {id}")),
            Some(&detail),
        )?;
        Ok(result.map_err(ApiError::from))
    })
    .await?;
    match result {
        Ok(_) => Ok(redirect(&format!("/proposals/{id}?saved=1"))),
        Err(e) if e.status == StatusCode::CONFLICT => {
            Ok(redirect(&format!("/proposals/{id}?conflict=1")))
        }
        Err(e) => Err(ctx.api()(e)),
    }
}

// ------------------------------------------------------------------ batches

fn own_batches(s: &Store, agency: &str) -> Result<Vec<BatchStatus>, ApiError> {
    let ids: Vec<i64> = s
        .conn()
        .prepare_cached("SELECT id FROM batches WHERE agency = ?1 ORDER BY id DESC LIMIT 20")
        .and_then(|mut st| {
            st.query_map([agency], |r| r.get(0))?
                .collect::<Result<Vec<i64>, _>>()
        })
        .map_err(ApiError::internal)?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(b) = batch::status(s, id)? {
            out.push(b);
        }
    }
    Ok(out)
}

fn upload_form(lang: Lang, sess: &Session, problem: Option<&str>) -> Markup {
    html! {
        form.card method="post" action="/batches" enctype="multipart/form-data" {
            h2 { (lang.t("batch_upload")) }
            @if let Some(p) = problem { p.error role="alert" { (p) } }
            input type="hidden" name="csrf" value=(sess.csrf);
            div.field {
                label for="file" { (lang.t("batch_file")) }
                input #file type="file" name="file" accept=".csv,.jsonl,.ndjson,text/csv,application/x-ndjson" required;
            }
            div.field {
                label for="bkind" { (lang.t("batch_kind")) }
                select #bkind name="kind" {
                    option value="child" { (lang.t("kind_child")) }
                    option value="inquiry" { (lang.t("kind_inquiry")) }
                }
            }
            div.field {
                label for="consent" { (lang.t("batch_consent")) }
                select #consent name="consent" {
                    option value="" { (lang.t("batch_consent_file")) }
                    option value="yes" { (lang.t("yes")) }
                    option value="no" { (lang.t("no")) }
                }
            }
            button type="submit" { (lang.t("batch_submit")) }
        }
    }
}

fn batch_summary(lang: Lang, b: &BatchStatus) -> Markup {
    html! {
        dl.facts {
            dt { (lang.t("batch_state")) } dd.state { (lang.word(&b.state)) }
            dt { (lang.t("batch_rows")) } dd { (b.rows_read) }
            dt { (lang.t("batch_imported")) } dd { (b.imported) }
            dt { (lang.t("batch_rejected")) } dd { (b.rejected) }
        }
    }
}

pub(super) async fn batches(ctx: Ctx, State(state): State<AppState>) -> PageResult {
    let sess = ctx.require(Action::SubmitBatch)?.clone();
    let lang = ctx.lang;
    let agency = sess.account.agency.clone();
    let c2 = ctx_copy(&ctx);
    let list = blocking(&ctx, &state, move |st| {
        st.with_reader(|s| {
            let l = own_batches(s, &agency)?;
            c2.audit(st, "batch.list", None, Some(&format!("items={}", l.len())))?;
            Ok(l)
        })
    })
    .await?;
    let body = html! {
        (upload_form(lang, &sess, None))
        @if !list.is_empty() {
            table {
                thead { tr { th scope="col" { "#" } th scope="col" { (lang.t("batch_kind")) } th scope="col" { (lang.t("batch_state")) } th scope="col" { (lang.t("batch_imported")) } th scope="col" { (lang.t("batch_rejected")) } } }
                tbody {
                    @for b in &list {
                        tr {
                            td { a href={ "/batches/" (b.id) } { (b.id) } }
                            td { (lang.word(&b.kind)) } td { (lang.word(&b.state)) } td { (b.imported) } td { (b.rejected) }
                        }
                    }
                }
            }
        }
    };
    Ok(html_response(layout(&ctx, lang.t("batch_title"), body)))
}

pub(super) async fn upload(
    ctx: Ctx,
    State(state): State<AppState>,
    mut mp: Multipart,
) -> PageResult {
    let mut csrf = None;
    let mut kind = None;
    let mut consent = None;
    let mut file: Option<(String, Option<String>, Vec<u8>)> = None;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|_| ctx.status(StatusCode::BAD_REQUEST))?
    {
        let fname = field.name().unwrap_or("").to_string();
        match fname.as_str() {
            "file" => {
                let filename = field.file_name().unwrap_or("").to_string();
                let ctype = field.content_type().map(str::to_string);
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|_| ctx.status(StatusCode::PAYLOAD_TOO_LARGE))?;
                file = Some((filename, ctype, bytes.to_vec()));
            }
            other => {
                let text = field
                    .text()
                    .await
                    .map_err(|_| ctx.status(StatusCode::BAD_REQUEST))?;
                match other {
                    "csrf" => csrf = Some(text),
                    "kind" => kind = Some(text),
                    "consent" => consent = Some(text),
                    _ => {}
                }
            }
        }
    }
    let sess = ctx.check_csrf(csrf.as_deref())?.clone();
    ctx.require(Action::SubmitBatch)?;
    let lang = ctx.lang;
    let kind: RecordKind = kind
        .unwrap_or_default()
        .parse()
        .map_err(|_| ctx.status(StatusCode::BAD_REQUEST))?;
    let consent = match consent.as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    let refuse = |msg: String| {
        let mut r = html_response(layout(
            &ctx,
            lang.t("batch_title"),
            upload_form(lang, &sess, Some(&msg)),
        ));
        *r.status_mut() = StatusCode::BAD_REQUEST;
        Ok(r)
    };
    let Some((filename, ctype, body)) = file.filter(|f| !f.2.is_empty()) else {
        return refuse(lang.t("batch_no_file").to_string());
    };
    let lower = filename.to_ascii_lowercase();
    let format = if lower.ends_with(".csv") || ctype.as_deref() == Some("text/csv") {
        Format::Csv
    } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        Format::JsonLines
    } else {
        return refuse(lang.t("batch_bad_format").to_string());
    };
    let c2 = ctx_copy(&ctx);
    let account = sess.account.clone();
    let submitted = blocking(&ctx, &state, move |st| {
        let actor = account.actor();
        let nb = NewBatch {
            kind,
            agency: Some(&account.agency),
            actor: &actor,
            format,
            consent_for_all: consent,
            idempotency_key: None,
            body: &body,
        };
        if let Err(e) = batch::check_header(&nb) {
            return Ok(Err(e.to_string()));
        }
        let (id, new) = st.with_reader(|s| {
            let r = batch::submit(s, &nb)?;
            c2.audit(
                st,
                "batch.submit",
                Some(&format!("batch {}", r.0)),
                Some(&format!("kind={kind} bytes={} new={}", body.len(), r.1)),
            )?;
            Ok(r)
        })?;
        if new {
            st.wake_worker();
        }
        Ok(Ok(id))
    })
    .await?;
    match submitted {
        Ok(id) => Ok(redirect(&format!("/batches/{id}"))),
        Err(msg) => refuse(msg),
    }
}

pub(super) async fn batch(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let sess = ctx.require(Action::ReadBatch)?.clone();
    let id: i64 = id.parse().map_err(|_| ctx.status(StatusCode::NOT_FOUND))?;
    let lang = ctx.lang;
    let c2 = ctx_copy(&ctx);
    let agency = sess.account.agency.clone();
    let b = blocking(&ctx, &state, move |st| {
        st.with_reader(|s| {
            let b = batch::status(s, id)?
                .filter(|b| b.agency.as_deref() == Some(agency.as_str()))
                .ok_or_else(|| ApiError::not_found("batch"))?;
            c2.audit(st, "batch.read", Some(&format!("batch {id}")), None)?;
            Ok(b)
        })
    })
    .await?;
    let live = b.state == "queued" || b.state == "running";
    let title = format!("{} {}", lang.t("batch_title"), b.id);
    let body = html! {
        div #progress data-live=(if live { "1" } else { "0" }) aria-live="polite" {
            @if live { p.help { (lang.t("batch_live")) } }
            (batch_summary(lang, &b))
            @if let Some(m) = &b.message { p.error { (m) } }
            @if !b.rejected_rows.is_empty() {
                h2 { (lang.t("batch_problems")) }
                table.problems {
                    thead { tr { th scope="col" { (lang.t("batch_line")) } th scope="col" { (lang.t("batch_field")) } th scope="col" { (lang.t("batch_reason")) } } }
                    tbody {
                        @for r in &b.rejected_rows {
                            tr { td { (r.line) } td { (r.field) } td { bdi { (r.reason) } } }
                        }
                    }
                }
            }
        }
        p { a href="/batches" { (lang.t("batch_upload")) } }
    };
    let _ = PreEscaped("");
    Ok(html_response(layout(&ctx, &title, body)))
}
