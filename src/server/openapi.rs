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
        responses.insert(
            "200".into(),
            json!({"description": "OK", "content": {"application/json": {}}}),
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
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}}}
        }
    })
}
