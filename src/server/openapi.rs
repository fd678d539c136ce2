//! The routes, as one table: the router is built from it and the OpenAPI document
//! is written from it, so the document lists exactly the routes served.

use serde_json::{json, Map, Value};

/// One operation of the API.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    pub method: &'static str,
    /// axum's path syntax, which is OpenAPI's: `/records/{kind}`.
    pub path: &'static str,
    pub operation: &'static str,
    pub summary: &'static str,
    /// Roles allowed; empty for routes without authentication.
    pub roles: &'static [&'static str],
    /// Query parameters.
    pub query: &'static [&'static str],
    /// Request body media types.
    pub body: &'static [&'static str],
}

const NONE: &[&str] = &[];
const JSON: &[&str] = &["application/json"];

pub const ROUTES: &[RouteDoc] = &[
    RouteDoc {
        method: "GET",
        path: "/healthz",
        operation: "health",
        summary: "Liveness: 200 when the service answers.",
        roles: NONE,
        query: NONE,
        body: NONE,
    },
    RouteDoc {
        method: "GET",
        path: "/metrics",
        operation: "metrics",
        summary: "Prometheus metrics: requests, latencies, batch progress, queue size.",
        roles: NONE,
        query: NONE,
        body: NONE,
    },
    RouteDoc {
        method: "GET",
        path: "/api/v1/openapi.json",
        operation: "openapi",
        summary: "This document.",
        roles: NONE,
        query: NONE,
        body: NONE,
    },
    RouteDoc {
        method: "POST",
        path: "/api/v1/records/{kind}",
        operation: "createRecord",
        summary: "Register one child or inquiry of the account's agency (a JSON object with the import columns); it is matched at once.",
        roles: &["agency"],
        query: &["tracing_consent"],
        body: JSON,
    },
    RouteDoc {
        method: "GET",
        path: "/api/v1/records/{kind}/{agency}/{id}",
        operation: "getRecord",
        summary: "A record with its history, case status, proposals and decisions.",
        roles: &["officer", "agency", "reviewer"],
        query: NONE,
        body: NONE,
    },
    RouteDoc {
        method: "PUT",
        path: "/api/v1/records/{kind}/{agency}/{id}",
        operation: "updateRecord",
        summary: "Update a record of the account's agency; the earlier version is kept in its history.",
        roles: &["agency"],
        query: &["tracing_consent"],
        body: JSON,
    },
    RouteDoc {
        method: "POST",
        path: "/api/v1/records/{kind}/{agency}/{id}/outcome",
        operation: "recordOutcome",
        summary: "Close a confirmed match's case (reunified, kinship_care, foster_care, adoption, closed) or undo it (undone, with a reason).",
        roles: &["officer", "reviewer"],
        query: NONE,
        body: JSON,
    },
    RouteDoc {
        method: "POST",
        path: "/api/v1/batches",
        operation: "submitBatch",
        summary: "Submit a CSV or JSON Lines file of records; 202 with its id, imported and matched in the background. Idempotent by content and by Idempotency-Key.",
        roles: &["agency"],
        query: &["kind", "tracing_consent"],
        body: &["text/csv", "application/x-ndjson"],
    },
    RouteDoc {
        method: "GET",
        path: "/api/v1/batches/{id}",
        operation: "getBatch",
        summary: "A batch's state, progress, rejected rows and proposals.",
        roles: &["agency"],
        query: NONE,
        body: NONE,
    },
    RouteDoc {
        method: "GET",
        path: "/api/v1/search",
        operation: "search",
        summary: "The officer's search: ranked hits with explanations.",
        roles: &["officer", "reviewer"],
        query: &[
            "kind", "name", "father", "mother", "place", "born", "age", "sex", "limit",
        ],
        body: NONE,
    },
    RouteDoc {
        method: "GET",
        path: "/api/v1/proposals",
        operation: "listProposals",
        summary: "The review queue, most probable first, paginated.",
        roles: &["reviewer"],
        query: &["status", "band", "agency", "after", "limit"],
        body: NONE,
    },
    RouteDoc {
        method: "GET",
        path: "/api/v1/proposals/{id}",
        operation: "getProposal",
        summary: "A proposal: child and inquiry side by side, with every comparison explained.",
        roles: &["reviewer"],
        query: NONE,
        body: NONE,
    },
    RouteDoc {
        method: "POST",
        path: "/api/v1/proposals/{id}/decision",
        operation: "decide",
        summary: "Confirm, reject or defer a proposal; 409 if someone decided it first.",
        roles: &["reviewer"],
        query: NONE,
        body: JSON,
    },
    RouteDoc {
        method: "GET",
        path: "/api/v1/audit",
        operation: "audit",
        summary: "The audit log, newest first, paginated.",
        roles: &["admin"],
        query: &["before", "limit"],
        body: NONE,
    },
    RouteDoc {
        method: "GET",
        path: "/api/v1/accounts",
        operation: "listAccounts",
        summary: "Accounts (never tokens).",
        roles: &["admin"],
        query: NONE,
        body: NONE,
    },
    RouteDoc {
        method: "POST",
        path: "/api/v1/accounts",
        operation: "addAccount",
        summary: "Create an account; its token is in the response, once.",
        roles: &["admin"],
        query: NONE,
        body: JSON,
    },
    RouteDoc {
        method: "DELETE",
        path: "/api/v1/accounts/{name}",
        operation: "revokeAccount",
        summary: "Revoke an account's token.",
        roles: &["admin"],
        query: NONE,
        body: NONE,
    },
];

/// Operations whose answer is described by a schema of `components.schemas`.
const RESPONSE_SCHEMAS: &[(&str, &str)] = &[
    ("listProposals", "ProposalPage"),
    ("getProposal", "ProposalDetail"),
];

/// The schemas of the review's answers: a proposal and its comparisons.
fn schemas() -> Value {
    let key = json!({"type": "object", "required": ["kind", "agency", "record_id"], "properties": {
        "kind": {"type": "string", "enum": ["child", "inquiry"]},
        "agency": {"type": "string"}, "record_id": {"type": "string"}}});
    json!({
        "Error": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}},
        "RecordKey": key,
        "ComparisonExplanation": {
            "type": "object",
            "description": "One comparison behind a proposal. The Fellegi-Sunter engine gives every comparison of its rule file (matching-rules/tracing.toml) with its level and weight; proposals of the search matcher (the service's fallback without a trained model) and proposals stored before carry neither.",
            "required": ["field", "detail"],
            "properties": {
                "field": {"type": "string", "description": "What was compared: for the engine, the comparison (personal_name, sex, birth, father, mother, inquirer, origin, separation_place)."},
                "detail": {"type": "string", "description": "How it compared: for the engine, the values compared, inquiry's / child's (the inquirer's own name is never given)."},
                "level": {"type": "string", "description": "The comparison's level, e.g. exact, variant, close, same_day, same_year, all_exact, same_village, different; missing when a side does not say."},
                "weight": {"type": "number", "description": "The comparison's match weight, log2(m/u) with the term-frequency adjustment: positive is evidence for the link, negative against, 0 for missing."}
            }
        },
        "Proposal": {
            "type": "object",
            "required": ["id", "child", "inquiry", "probability", "band", "explanation", "status", "version", "created_at", "updated_at"],
            "properties": {
                "id": {"type": "integer"},
                "child": {"$ref": "#/components/schemas/RecordKey"},
                "inquiry": {"$ref": "#/components/schemas/RecordKey"},
                "probability": {"type": "number", "minimum": 0, "maximum": 1},
                "band": {"type": "string", "enum": ["likely", "possible"], "description": "likely needs the engine's threshold and the child's own identity (name, sex, birth) to agree: a sibling or cousin is never likely."},
                "explanation": {"type": "array", "items": {"$ref": "#/components/schemas/ComparisonExplanation"}},
                "note": {"type": ["string", "null"], "description": "For the reviewer, e.g. the sibling guard: family agrees, child's identity does not: possibly a sibling or cousin."},
                "status": {"type": "string", "enum": ["pending", "deferred", "confirmed", "rejected", "undone"]},
                "version": {"type": "integer"},
                "created_at": {"type": "string"},
                "updated_at": {"type": "string"}
            }
        },
        "ProposalPage": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Proposal"}},
            "next": {"type": ["string", "null"], "description": "Pass as after for the next page."}}},
        "ProposalDetail": {"type": "object", "required": ["proposal", "child", "inquiry", "comparisons", "decisions"], "properties": {
            "proposal": {"$ref": "#/components/schemas/Proposal"},
            "child": {"type": "object"}, "inquiry": {"type": "object"},
            "comparisons": {"type": "array", "items": {"$ref": "#/components/schemas/ComparisonExplanation"}},
            "decisions": {"type": "array", "items": {"type": "object"}}}}
    })
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// The OpenAPI 3.1 document of [`ROUTES`].
pub fn document() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let mut paths = Map::new();
    for r in ROUTES {
        let mut params: Vec<Value> = path_params(r.path)
            .into_iter()
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(r.query.iter().map(
            |q| json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}}),
        ));
        let mut responses = Map::new();
        let ok = match RESPONSE_SCHEMAS.iter().find(|(op, _)| *op == r.operation) {
            Some((_, schema)) => {
                json!({"schema": {"$ref": format!("#/components/schemas/{schema}")}})
            }
            None => json!({}),
        };
        responses.insert(
            "200".into(),
            json!({"description": "OK", "content": {"application/json": ok}}),
        );
        if !r.roles.is_empty() {
            for (code, what) in [
                ("400", "Malformed request"),
                ("401", "Missing or wrong token"),
                ("403", "The role or agency may not do this"),
                ("404", "Not found, or not visible to this account"),
            ] {
                responses.insert(
                    code.into(),
                    json!({"description": what, "content": {"application/json": {"schema": error}}}),
                );
            }
        }
        let mut op = json!({
            "operationId": r.operation,
            "summary": r.summary,
            "parameters": params,
            "responses": responses,
        });
        if r.roles.is_empty() {
            op["security"] = json!([]);
        } else {
            op["x-roles"] = json!(r.roles);
        }
        if !r.body.is_empty() {
            let content: Map<String, Value> =
                r.body.iter().map(|m| (m.to_string(), json!({}))).collect();
            op["requestBody"] = json!({"required": true, "content": content});
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "famlink", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Family tracing: records, search, review of proposed matches, audit."},
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas()
        }
    })
}
