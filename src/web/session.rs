//! Sessions of the pages: a random id in an HttpOnly cookie, only its SHA-256 hash
//! in the store, and a CSRF token per session that every form carries back.

use rusqlite::{params, OptionalExtension};

use crate::access::{self, AccessError, Account};
use crate::store::Store;

/// The cookie that carries the session id.
pub const COOKIE: &str = "famlink_session";
/// Before sign-in: a random value in a cookie and in the sign-in form (double submit).
pub const PRE_COOKIE: &str = "famlink_pre";
/// The language switch's cookie.
pub const LANG_COOKIE: &str = "famlink_lang";
/// How long a session lasts without signing in again.
pub const HOURS: i64 = 12;

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: Account,
    pub csrf: String,
}

fn at(offset_hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(offset_hours))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Signs in with an API token: a new session for its account, or None if the token
/// is not valid. Returns the session id (for the cookie only) and the session.
pub fn create(store: &Store, token: &str) -> Result<Option<(String, Session)>, AccessError> {
    let Some(account) = access::authenticate(store, token)? else {
        return Ok(None);
    };
    let id = access::new_token()?;
    let csrf = access::new_token()?;
    store.conn().execute(
        "DELETE FROM web_sessions WHERE expires_at < ?1",
        params![at(0)],
    )?;
    store.conn().execute(
        "INSERT INTO web_sessions (id_hash, account, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![access::token_hash(&id), account.id, csrf, at(0), at(HOURS)],
    )?;
    Ok(Some((id, Session { account, csrf })))
}

/// The session of a cookie's id, if it is live and its account not revoked.
pub fn find(store: &Store, id: &str) -> Result<Option<Session>, AccessError> {
    let row = store
        .conn()
        .prepare_cached(
            "SELECT a.id, a.name, a.agency, a.role, s.csrf
             FROM web_sessions s JOIN accounts a ON a.id = s.account
             WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND a.revoked_at IS NULL",
        )?
        .query_row(params![access::token_hash(id), at(0)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .optional()?;
    Ok(row.and_then(|(id, name, agency, role, csrf)| {
        Some(Session {
            account: Account {
                id,
                name,
                agency,
                role: role.parse().ok()?,
            },
            csrf,
        })
    }))
}

/// Ends a session.
pub fn end(store: &Store, id: &str) -> Result<(), AccessError> {
    store.conn().execute(
        "DELETE FROM web_sessions WHERE id_hash = ?1",
        params![access::token_hash(id)],
    )?;
    Ok(())
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie's value from a Cookie header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A Set-Cookie value: HttpOnly, SameSite=Strict, Path=/, and Secure behind TLS.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(s) = max_age {
        c.push_str(&format!("; Max-Age={s}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}
