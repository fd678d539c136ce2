//! The handlers. Each one: who is calling (401), may their role do this (403),
//! may they see this thing (404 where its existence must not leak), then the
//! library on a blocking thread, and an audit line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::openapi::RouteDoc;
use super::{AppState, Inner};
use crate::access::{self, Account, Action, Role};
use crate::batch::{self, NewBatch};
use crate::import::{Format, Item, JsonLines, RowSource};
use crate::record::{PartialDate, RawRow, Record, RecordKey, RecordKind, RowParser, Sex};
use crate::review::{self, Band, Decision, Outcome, QueueFilter};
use crate::search::SearchQuery;
use crate::store::{Store, Upsert};

pub(super) fn handler(route: &RouteDoc) -> MethodRouter<AppState> {
    match route.operation {
        "health" => get(health),
        "metrics" => get(metrics),
        "openapi" => get(openapi),
        "createRecord" => post(create_record),
        "getRecord" => get(get_record),
        "updateRecord" => put(update_record),
        "recordOutcome" => post(record_outcome),
        "submitBatch" => post(submit_batch),
        "getBatch" => get(get_batch),
        "search" => get(search),
        "listProposals" => get(list_proposals),
        "getProposal" => get(get_proposal),
        "decide" => post(decide),
        "audit" => get(audit),
        "listAccounts" => get(list_accounts),
        "addAccount" => post(add_account),
        "revokeAccount" => delete(revoke_account),
        other => panic!("route {other} has no handler"),
    }
}

/// The authenticated caller and where the request came from.
pub(super) struct Caller {
    account: Account,
    origin: String,
    audit: Arc<super::audit::AuditWriter>,
}

impl Caller {
    fn require(&self, action: Action) -> Result<(), ApiError> {
        if access::allowed(self.account.role, action) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    fn actor(&self) -> String {
        self.account.actor()
    }

    /// Appends an audit line (durably) for this caller.
    fn audit(
        &self,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), ApiError> {
        self.audit
            .append(&self.actor(), action, target, detail, Some(&self.origin))
    }

    /// [`audit`](Self::audit) from async code.
    async fn audit_async(
        &self,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), ApiError> {
        self.audit
            .append_async(&self.actor(), action, target, detail, Some(&self.origin))
            .await
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?
            .to_string();
        let origin = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        let account = state
            .with_reader(|s| Ok(access::authenticate(s, &token)?))?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(Caller {
            account,
            origin,
            audit: Arc::clone(&state.audit),
        })
    }
}

/// Runs blocking library work off the async threads.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Arc<Inner>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || f(&state)).await?
}

fn kind_of(s: &str) -> Result<RecordKind, ApiError> {
    s.parse().map_err(ApiError::bad_request)
}

/// Parses a JSON body, reporting where it is malformed.
fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("malformed JSON: {e}"))
            .with_details(json!({"line": e.line(), "column": e.column()}))
    })
}

fn string_field(v: &Value, field: &str) -> Result<Option<String>, ApiError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("{field} must be a string"))
            .with_details(json!({"field": field}))),
    }
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = blocking(&state, |st| {
        let gauges = st.with_reader(|s| {
            let (queued, running, rows) = batch::queue_counts(s)?;
            Ok(super::metrics::Gauges {
                batches_queued: queued,
                batches_running: running,
                batch_rows_read: rows,
                proposals_pending: review::pending_count(s)?,
            })
        })?;
        Ok(st.metrics.render(&gauges))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

// ---------------------------------------------------------------- records

/// One record from a JSON object of import columns, for the caller's agency.
fn parse_record(
    account: &Account,
    kind: RecordKind,
    body: &[u8],
    consent: Option<bool>,
    path_id: Option<&str>,
) -> Result<Record, ApiError> {
    let mut value = json_body(body)?;
    let Some(object) = value.as_object_mut() else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    // PUT names the record in its path; the body need not repeat it.
    if let Some(id) = path_id {
        object
            .entry("record_id")
            .or_insert_with(|| Value::String(id.to_string()));
    }
    let line = value.to_string();
    let mut rows = JsonLines::new(line.as_bytes());
    let row = match rows.next_item() {
        Some(Ok(Item::Row(row))) => row,
        Some(Ok(Item::Unreadable { field, reason, .. })) => {
            return Err(ApiError::bad_request(format!("{field}: {reason}"))
                .with_details(json!([{"line": 1, "field": field, "reason": reason}])))
        }
        _ => return Err(ApiError::bad_request("the body must be a JSON object")),
    };
    let row = if row.get("agency").is_none() {
        let mut columns = row.columns.to_vec();
        columns.push("agency".into());
        let mut values = row.values;
        values.push(account.agency.clone());
        RawRow {
            line: 1,
            columns: columns.into(),
            values,
        }
    } else {
        row
    };
    if row.get("agency").map(str::trim) != Some(account.agency.as_str()) {
        return Err(ApiError::forbidden().with_details(json!([{
            "line": 1, "field": "agency",
            "reason": "an account submits records of its own agency only"}])));
    }
    RowParser::new(kind, consent).parse(&row).map_err(|errs| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_record",
            "the record has invalid fields",
        )
        .with_details(json!(errs
            .iter()
            .map(|e| json!({"line": 1, "field": e.field, "reason": e.reason}))
            .collect::<Vec<_>>()))
    })
}

fn consent_param(q: &HashMap<String, String>) -> Result<Option<bool>, ApiError> {
    match q.get("tracing_consent").map(String::as_str) {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(format!(
            "tracing_consent must be yes or no, got {other:?}"
        ))),
    }
}

/// Stores a record through the writer, matches it, audits.
fn store_record(
    st: &Inner,
    caller: &Caller,
    record: Record,
    create: bool,
) -> Result<(StatusCode, Value), ApiError> {
    let key = record.key();
    let target = key.to_string();
    let mut reg = st.writer.lock().expect("writer");
    let exists = reg.store().get(&key)?.is_some();
    if create && exists {
        return Err(ApiError::conflict(
            "a record with this agency and record_id exists: update it with PUT",
        ));
    }
    if !create && !exists {
        return Err(ApiError::not_found("record"));
    }
    let outcome = {
        let mut tx = reg.store_mut().batch(None)?;
        let o = tx.upsert(&record)?;
        tx.commit()?;
        o
    };
    let proposals = if outcome == Upsert::Unchanged {
        Vec::new()
    } else {
        batch::match_records(&mut reg, &st.matching, std::slice::from_ref(&record))?
    };
    let stored = reg
        .store()
        .get(&key)?
        .ok_or_else(|| ApiError::not_found("record"))?;
    caller.audit(
        if create {
            "record.create"
        } else {
            "record.update"
        },
        Some(&target),
        Some(&format!(
            "version={} proposals={}",
            stored.version,
            proposals.len()
        )),
    )?;
    Ok((
        if create {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        json!({"key": key, "version": stored.version, "proposals": proposals}),
    ))
}

async fn create_record(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::WriteRecord)?;
    let kind = kind_of(&kind)?;
    let record = parse_record(&caller.account, kind, &body, consent_param(&q)?, None)?;
    let (status, v) = blocking(&state, move |st| store_record(st, &caller, record, true)).await?;
    Ok((status, Json(v)).into_response())
}

async fn update_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, agency, id)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::WriteRecord)?;
    let kind = kind_of(&kind)?;
    if !access::may_write(&caller.account, &agency) {
        return Err(ApiError::forbidden());
    }
    let record = parse_record(&caller.account, kind, &body, consent_param(&q)?, Some(&id))?;
    if record.record_id != id {
        return Err(ApiError::bad_request(
            "the body's record_id differs from the path's",
        ));
    }
    let (status, v) = blocking(&state, move |st| store_record(st, &caller, record, false)).await?;
    Ok((status, Json(v)).into_response())
}

/// A record the caller may read, or 404 (audited either way).
fn readable(
    store: &Store,
    caller: &Caller,
    key: &RecordKey,
) -> Result<crate::store::StoredRecord, ApiError> {
    let found = store
        .get(key)?
        .filter(|s| access::may_read(&caller.account, &s.record));
    caller.audit(
        "record.read",
        Some(&key.to_string()),
        Some(if found.is_some() {
            "found"
        } else {
            "not found"
        }),
    )?;
    found.ok_or_else(|| ApiError::not_found("record"))
}

async fn get_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, agency, id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ReadRecord)?;
    let key = RecordKey::new(kind_of(&kind)?, agency, id);
    blocking(&state, move |st| {
        st.with_reader(|store| {
            let current = readable(store, &caller, &key)?;
            let history: Vec<Value> = store
                .history(&key)?
                .into_iter()
                .map(|h| {
                    json!({"version": h.version, "valid_from": h.valid_from,
                           "replaced_at": h.replaced_at,
                           "record": access::redact(&caller.account, &h.record)})
                })
                .collect();
            let review = review::record_review(store, &key)?;
            Ok(Json(json!({
                "record": access::redact(&caller.account, &current.record),
                "version": current.version,
                "created_at": current.created_at,
                "updated_at": current.updated_at,
                "history": history,
                "case_status": review.case_status,
                "case_events": review.case_events,
                "proposals": review.proposals,
            })))
        })
    })
    .await
}

async fn record_outcome(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, agency, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::RecordOutcome)?;
    let key = RecordKey::new(kind_of(&kind)?, agency, id);
    let v = json_body(&body)?;
    let outcome: Outcome = string_field(&v, "outcome")?
        .ok_or_else(|| ApiError::bad_request("outcome is required"))?
        .parse()
        .map_err(ApiError::bad_request)?;
    let note = string_field(&v, "note")?;
    blocking(&state, move |st| {
        let mut store = Store::open(&st.db_path)?;
        readable(&store, &caller, &key)?;
        review::record_outcome(&mut store, &key, outcome, note.as_deref(), &caller.actor())?;
        caller.audit(
            "case.outcome",
            Some(&key.to_string()),
            Some(&format!("outcome={}", outcome.as_str())),
        )?;
        let status = review::case_status(&store, &key)?.map(|(s, _)| s);
        Ok(Json(json!({"key": key, "case_status": status})))
    })
    .await
}

// ---------------------------------------------------------------- batches

async fn submit_batch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::SubmitBatch)?;
    let kind = kind_of(
        q.get("kind")
            .ok_or_else(|| ApiError::bad_request("kind=child|inquiry is required"))?,
    )?;
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let format = match media.as_str() {
        "text/csv" => Format::Csv,
        "application/x-ndjson" | "application/jsonl" | "application/json-lines" => {
            Format::JsonLines
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send text/csv or application/x-ndjson",
            ))
        }
    };
    let key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| ApiError::bad_request("Idempotency-Key must be ASCII"))
        })
        .transpose()?;
    let consent = consent_param(&q)?;
    blocking(&state, move |st| {
        let agency = caller.account.agency.clone();
        let actor = caller.actor();
        let nb = NewBatch {
            kind,
            agency: Some(&agency),
            actor: &actor,
            format,
            consent_for_all: consent,
            idempotency_key: key.as_deref(),
            body: &body,
        };
        batch::check_header(&nb)?;
        let (id, new) = st.with_reader(|s| {
            let r = batch::submit(s, &nb)?;
            caller.audit(
                "batch.submit",
                Some(&format!("batch {}", r.0)),
                Some(&format!("kind={kind} bytes={} new={}", body.len(), r.1)),
            )?;
            Ok(r)
        })?;
        if new {
            st.wake_worker();
        }
        let state_now =
            st.with_reader(|s| Ok(batch::status(s, id)?.map(|b| b.state).unwrap_or_default()))?;
        Ok((
            if new {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            },
            Json(json!({"id": id, "state": state_now, "duplicate": !new})),
        )
            .into_response())
    })
    .await
}

async fn get_batch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ReadBatch)?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("batch"))?;
    blocking(&state, move |st| {
        st.with_reader(|s| {
            let b = batch::status(s, id)?
                .filter(|b| b.agency.as_deref() == Some(caller.account.agency.as_str()))
                .ok_or_else(|| ApiError::not_found("batch"))?;
            caller.audit("batch.read", Some(&format!("batch {id}")), None)?;
            Ok(Json(serde_json::to_value(&b).unwrap_or_default()))
        })
    })
    .await
}

// ---------------------------------------------------------------- search

fn search_query(q: &HashMap<String, String>) -> Result<SearchQuery, ApiError> {
    let mut query = SearchQuery::default();
    let text = |k: &str| q.get(k).filter(|v| !v.trim().is_empty()).cloned();
    query.kind = q.get("kind").map(|k| kind_of(k)).transpose()?;
    query.name = text("name");
    query.father = text("father");
    query.mother = text("mother");
    query.place = text("place");
    query.born = q
        .get("born")
        .map(|b| b.parse::<PartialDate>())
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("born: {e}")))?;
    query.age = q
        .get("age")
        .map(|a| a.parse::<f32>())
        .transpose()
        .map_err(|_| ApiError::bad_request("age must be a number of years"))?;
    query.sex = q
        .get("sex")
        .map(|s| s.parse::<Sex>())
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("sex: {e}")))?;
    query.limit = q
        .get("limit")
        .map(|l| l.parse::<usize>())
        .transpose()
        .map_err(|_| ApiError::bad_request("limit must be a count"))?
        .unwrap_or(10)
        .min(100);
    Ok(query)
}

async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<SearchOut>, ApiError> {
    caller.require(Action::Search)?;
    let mut query = search_query(&q)?;
    query.viewer_agency = Some(caller.account.agency.clone());
    // The CPU-bound part runs on the search threads; the audit commit (I/O)
    // does not.
    let kind = query.kind;
    let found = state.search_records(query, caller.account.clone()).await?;
    let keys: Vec<String> = found
        .iter()
        .map(|(hit, _)| format!("{}/{}", hit.key.agency, hit.key.record_id))
        .collect();
    let out: Vec<HitOut> = found
        .into_iter()
        .map(|(hit, record)| HitOut {
            record,
            key: hit.key,
            score: hit.score,
            reasons: hit.reasons,
        })
        .collect();
    let asked: Vec<&str> = ["name", "father", "mother", "place", "born", "age", "sex"]
        .into_iter()
        .filter(|k| q.contains_key(*k))
        .collect();
    // The records shown, by key: a search result is a read of each.
    let detail = format!(
        "fields={} hits={} keys={}",
        asked.join(","),
        out.len(),
        keys.join(",")
    );
    caller
        .audit_async("search", kind.map(|k| k.as_str()), Some(&detail))
        .await?;
    Ok(Json(SearchOut { hits: out }))
}

/// `GET /search`'s answer, serialized as it is (not through a JSON tree: ten
/// full records a search, a thousand searches a second).
#[derive(serde::Serialize)]
struct SearchOut {
    hits: Vec<HitOut>,
}

#[derive(serde::Serialize)]
struct HitOut {
    key: RecordKey,
    score: f32,
    reasons: Vec<String>,
    record: Record,
}

// ---------------------------------------------------------------- review

async fn list_proposals(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ReadQueue)?;
    let status = q.get("status").cloned();
    if let Some(s) = &status {
        if !["pending", "deferred", "confirmed", "rejected", "undone"].contains(&s.as_str()) {
            return Err(ApiError::bad_request(format!("unknown status {s:?}")));
        }
    }
    let band = q
        .get("band")
        .map(|b| b.parse::<Band>())
        .transpose()
        .map_err(ApiError::bad_request)?;
    let limit = q
        .get("limit")
        .map(|l| l.parse::<usize>())
        .transpose()
        .map_err(|_| ApiError::bad_request("limit must be a count"))?
        .unwrap_or(50)
        .clamp(1, 500);
    let filter = QueueFilter {
        status,
        band,
        agency: q.get("agency").cloned(),
        viewer_agency: Some(caller.account.agency.clone()),
    };
    let after = q.get("after").cloned();
    blocking(&state, move |st| {
        st.with_reader(|s| {
            let page = review::queue(s, &filter, after.as_deref(), limit)?;
            caller.audit(
                "queue.read",
                None,
                Some(&format!("items={}", page.items.len())),
            )?;
            Ok(Json(serde_json::to_value(&page).unwrap_or_default()))
        })
    })
    .await
}

fn proposal_id(s: &str) -> Result<i64, ApiError> {
    s.parse().map_err(|_| ApiError::not_found("proposal"))
}

async fn get_proposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ReadQueue)?;
    let id = proposal_id(&id)?;
    blocking(&state, move |st| {
        st.with_reader(|s| {
            let p = review::get_proposal(s, id)?.ok_or_else(|| ApiError::not_found("proposal"))?;
            let child = readable(s, &caller, &p.child)?;
            let inquiry = readable(s, &caller, &p.inquiry)?;
            let decisions = review::decisions(s, id)?;
            caller.audit("proposal.read", Some(&format!("proposal {id}")), None)?;
            Ok(Json(json!({
                "proposal": p,
                "child": access::redact(&caller.account, &child.record),
                "inquiry": access::redact(&caller.account, &inquiry.record),
                "comparisons": p.explanation,
                "decisions": decisions,
            })))
        })
    })
    .await
}

async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::Decide)?;
    let id = proposal_id(&id)?;
    let v = json_body(&body)?;
    let decision: Decision = string_field(&v, "decision")?
        .ok_or_else(|| ApiError::bad_request("decision is required"))?
        .parse()
        .map_err(ApiError::bad_request)?;
    let note = string_field(&v, "note")?;
    let version = match v.get("version") {
        None | Some(Value::Null) => None,
        Some(x) => Some(
            x.as_i64()
                .ok_or_else(|| ApiError::bad_request("version must be an integer"))?,
        ),
    };
    blocking(&state, move |st| {
        // A connection of its own: the decision's transaction must not wait for
        // the pool, and the pool's connections stay for readers.
        let mut store = Store::open(&st.db_path)?;
        let p = review::get_proposal(&store, id)?.ok_or_else(|| ApiError::not_found("proposal"))?;
        if !review::may_read_proposal(&store, &caller.account, &p)? {
            return Err(ApiError::not_found("proposal"));
        }
        let result = review::decide(
            &mut store,
            id,
            decision,
            note.as_deref(),
            &caller.actor(),
            version,
        );
        let detail = match &result {
            Ok(_) => format!("decision={decision:?}"),
            Err(e) => format!("decision={decision:?} refused: {e}"),
        };
        caller.audit(
            "proposal.decide",
            Some(&format!("proposal {id}")),
            Some(&detail),
        )?;
        let p = result?;
        Ok(Json(serde_json::to_value(&p).unwrap_or_default()))
    })
    .await
}

// ---------------------------------------------------------------- admin

async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ReadAudit)?;
    let before = q
        .get("before")
        .map(|b| b.parse::<i64>())
        .transpose()
        .map_err(|_| ApiError::bad_request("before must be an entry id"))?;
    let limit = q
        .get("limit")
        .map(|l| l.parse::<usize>())
        .transpose()
        .map_err(|_| ApiError::bad_request("limit must be a count"))?
        .unwrap_or(100)
        .clamp(1, 1000);
    blocking(&state, move |st| {
        st.with_reader(|s| {
            let items = s.audit_page(before, limit)?;
            let next = (items.len() == limit)
                .then(|| items.last().map(|e| e.id.to_string()))
                .flatten();
            caller.audit("audit.read", None, Some(&format!("items={}", items.len())))?;
            Ok(Json(json!({"items": items, "next": next})))
        })
    })
    .await
}

async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ManageAccounts)?;
    blocking(&state, move |st| {
        st.with_reader(|s| {
            let items = access::list_accounts(s)?;
            caller.audit("account.list", None, None)?;
            Ok(Json(json!({"items": items})))
        })
    })
    .await
}

async fn add_account(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::ManageAccounts)?;
    let v = json_body(&body)?;
    let name =
        string_field(&v, "name")?.ok_or_else(|| ApiError::bad_request("name is required"))?;
    let agency =
        string_field(&v, "agency")?.ok_or_else(|| ApiError::bad_request("agency is required"))?;
    let role: Role = string_field(&v, "role")?
        .ok_or_else(|| ApiError::bad_request("role is required"))?
        .parse()
        .map_err(ApiError::bad_request)?;
    blocking(&state, move |st| {
        st.with_reader(|s| {
            let (account, token) = access::add_account(
                s,
                &name,
                &agency,
                role,
                &caller.actor(),
                Some(&caller.origin),
            )?;
            Ok((
                StatusCode::CREATED,
                Json(json!({"account": account, "token": token})),
            )
                .into_response())
        })
    })
    .await
}

async fn revoke_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Action::ManageAccounts)?;
    blocking(&state, move |st| {
        st.with_reader(|s| {
            access::revoke_account(s, &name, &caller.actor(), Some(&caller.origin))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
    })
    .await
}
