//! Pages for tracing officers, reviewers and agencies, served by `famlink serve`
//! beside the API: server-rendered (maud, escaped at compile time), no JavaScript
//! build step, every string from one catalogue per language ([`i18n`]).
//!
//! A visitor signs in at `/` with an account's API token and gets a session cookie
//! (HttpOnly, SameSite=Strict, Secure behind TLS); every form carries the
//! session's CSRF token. Each page applies the very rules of the API
//! ([`crate::access`]) and writes the same audit lines through the same writer.

pub mod i18n;
mod pages;
pub mod session;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::access::Action;
use crate::server::error::ApiError;
use crate::server::AppState;
pub use i18n::Lang;
use session::Session;

/// The pages' routes, merged into the service's router.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::root))
        .route("/signin", post(pages::sign_in))
        .route("/signout", post(pages::sign_out))
        .route("/lang/{code}", get(pages::switch_lang))
        .route("/static/app.css", get(pages::css))
        .route("/static/app.js", get(pages::js))
        .route("/search", get(pages::search))
        .route("/records/{kind}/{agency}/{id}", get(pages::record))
        .route("/queue", get(pages::queue))
        .route("/proposals/{id}", get(pages::proposal))
        .route("/proposals/{id}/decide", post(pages::decide))
        .route("/batches", get(pages::batches).post(pages::upload))
        .route("/batches/{id}", get(pages::batch))
}

/// What every page knows of its request: the language, the session if any, where
/// the request came from, whether it came over TLS.
pub(crate) struct Ctx {
    pub lang: Lang,
    pub session: Option<Session>,
    /// The session cookie's value (for sign-out).
    pub session_id: Option<String>,
    /// The pre-sign-in double-submit value, if the browser has one.
    pub pre: Option<String>,
    pub secure: bool,
    pub origin: String,
    pub path: String,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let cookies = parts
            .headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let lang = session::cookie(&cookies, session::LANG_COOKIE)
            .and_then(Lang::parse)
            .or_else(|| {
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::from_accept)
            })
            .unwrap_or(Lang::EN);
        let secure = parts
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        let origin = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        let session_id = session::cookie(&cookies, session::COOKIE)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let session = match &session_id {
            Some(id) => {
                let id = id.clone();
                let st = state.clone();
                tokio::task::spawn_blocking(move || st.with_reader(|s| Ok(session::find(s, &id)?)))
                    .await
                    .map_err(|e| WebError::from_api(lang, ApiError::internal(e)))?
                    .map_err(|e| WebError::from_api(lang, e))?
            }
            None => None,
        };
        Ok(Ctx {
            lang,
            session,
            session_id,
            pre: session::cookie(&cookies, session::PRE_COOKIE).map(str::to_string),
            secure,
            origin,
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
        })
    }
}

impl Ctx {
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The session, if its role may do `action`: a redirect to the sign-in page
    /// without one, 403 with one that may not.
    pub fn require(&self, action: Action) -> Result<&Session, WebError> {
        let Some(s) = &self.session else {
            return Err(WebError::SignIn);
        };
        if crate::access::allowed(s.account.role, action) {
            Ok(s)
        } else {
            Err(self.status(StatusCode::FORBIDDEN))
        }
    }

    /// The session's CSRF token must come back with every form.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<&Session, WebError> {
        let Some(s) = &self.session else {
            return Err(WebError::SignIn);
        };
        if session::same_secret(&s.csrf, sent.unwrap_or("")) {
            Ok(s)
        } else {
            Err(WebError::Page {
                status: StatusCode::FORBIDDEN,
                lang: self.lang,
                key: "error_csrf",
            })
        }
    }

    pub fn status(&self, status: StatusCode) -> WebError {
        WebError::Page {
            status,
            lang: self.lang,
            key: match status.as_u16() {
                403 => "error_403",
                404 => "error_404",
                400..=499 => "error_400",
                _ => "error_500",
            },
        }
    }

    /// Maps a library error to its page.
    pub fn api(&self) -> impl Fn(ApiError) -> WebError + '_ {
        move |e| WebError::from_api(self.lang, e)
    }

    /// Appends an audit line for the signed-in account (durably), as the API does.
    pub fn audit(
        &self,
        state: &AppState,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), ApiError> {
        let actor = self
            .session
            .as_ref()
            .map(|s| s.account.actor())
            .unwrap_or_else(|| "anonymous".into());
        let detail = match detail {
            Some(d) => format!("{d} via=web"),
            None => "via=web".into(),
        };
        state
            .audit
            .append(&actor, action, target, Some(&detail), Some(&self.origin))
    }
}

/// A page that is not the one asked for.
#[derive(Debug)]
pub(crate) enum WebError {
    /// No session: back to the sign-in form.
    SignIn,
    Page {
        status: StatusCode,
        lang: Lang,
        key: &'static str,
    },
}

impl WebError {
    fn from_api(lang: Lang, e: ApiError) -> WebError {
        if e.status.is_server_error() {
            tracing::error!(error = %e.message, "page failed");
        }
        WebError::Page {
            status: e.status,
            lang,
            key: match e.status.as_u16() {
                403 => "error_403",
                404 => "error_404",
                409 => "proposal_conflict",
                400..=499 => "error_400",
                _ => "error_500",
            },
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::SignIn => redirect("/"),
            WebError::Page { status, lang, key } => {
                let body = pages::error_page(lang, status, key);
                let mut r = (status, body).into_response();
                page_headers(&mut r);
                r
            }
        }
    }
}

/// 303 See Other to `to`.
pub(crate) fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Headers of every page: HTML, never cached (pages hold personal data), no
/// framing, no inline script or style, no sniffing.
pub(crate) fn page_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}
