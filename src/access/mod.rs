//! Accounts, roles and API tokens, and the rules of who may do what.
//!
//! An account belongs to one agency and has one role. Its token is 32 bytes from
//! the operating system's CSPRNG, shown once when the account is made; the store
//! keeps only its SHA-256 hash, so a copy of the database gives no one a token.
//! The authorization rules are plain functions of the account and the thing asked
//! for, so that the HTTP layer and the tests use the very same rules.

use std::fmt;
use std::str::FromStr;

use rand::TryRngCore;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::record::{Record, RecordKind};
use crate::store::{now, Store, StoreError};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Tracing officer: searches, reads records.
    Officer,
    /// An agency's data clerk: submits and follows its own batches, reads its own records.
    Agency,
    /// Works the review queue and decides.
    Reviewer,
    /// Manages accounts and reads the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Officer, Role::Agency, Role::Reviewer, Role::Admin];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Agency => "agency",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("expected officer, agency, reviewer or admin, got {s:?}"))
    }
}

/// A user of the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub agency: String,
    pub role: Role,
}

impl Account {
    /// How the audit log names this account.
    pub fn actor(&self) -> String {
        format!("{}:{}@{}", self.role, self.name, self.agency)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("an account named {0:?} exists already")]
    NameTaken(String),
    #[error("no active account named {0:?}")]
    NoSuchAccount(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

impl From<rusqlite::Error> for AccessError {
    fn from(e: rusqlite::Error) -> Self {
        AccessError::Store(StoreError::Sqlite(e))
    }
}

/// Token prefix, so that a leaked token is recognisable in a secret scanner.
const TOKEN_PREFIX: &str = "flk_";

/// A fresh token: 32 random bytes from the OS, hex-encoded.
pub fn new_token() -> Result<String, AccessError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| AccessError::Random(e.to_string()))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// The hash stored for a token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_name(what: &str, s: &str) -> Result<(), AccessError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AccessError::Invalid(format!(
            "{what} must be 1 to 64 letters, digits, '-', '_' or '.'"
        )))
    }
}

/// Creates an account and returns it with its token, which is never stored.
pub fn add_account(
    store: &Store,
    name: &str,
    agency: &str,
    role: Role,
    actor: &str,
    origin: Option<&str>,
) -> Result<(Account, String), AccessError> {
    check_name("an account name", name)?;
    check_name("an agency", agency)?;
    let token = new_token()?;
    let res = store.conn().execute(
        "INSERT INTO accounts (name, agency, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, agency, role.as_str(), token_hash(&token), now()],
    );
    match res {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            return Err(AccessError::NameTaken(name.to_string()))
        }
        Err(e) => return Err(e.into()),
    }
    let account = Account {
        id: store.conn().last_insert_rowid(),
        name: name.to_string(),
        agency: agency.to_string(),
        role,
    };
    store.audit_from(
        actor,
        "account.add",
        Some(&format!("account {name}")),
        Some(&format!("agency={agency} role={role}")),
        origin,
    )?;
    Ok((account, token))
}

/// Revokes an account's token: it is refused from now on.
pub fn revoke_account(
    store: &Store,
    name: &str,
    actor: &str,
    origin: Option<&str>,
) -> Result<(), AccessError> {
    let n = store.conn().execute(
        "UPDATE accounts SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
        params![name, now()],
    )?;
    if n == 0 {
        return Err(AccessError::NoSuchAccount(name.to_string()));
    }
    store.audit_from(
        actor,
        "account.revoke",
        Some(&format!("account {name}")),
        None,
        origin,
    )?;
    Ok(())
}

/// The active account a token belongs to, if any.
pub fn authenticate(store: &Store, token: &str) -> Result<Option<Account>, AccessError> {
    let row = store
        .conn()
        .prepare_cached(
            "SELECT id, name, agency, role FROM accounts WHERE token_hash = ?1 AND revoked_at IS NULL",
        )?
        .query_row(params![token_hash(token)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .optional()?;
    Ok(row.and_then(|(id, name, agency, role)| {
        Some(Account {
            id,
            name,
            agency,
            role: role.parse().ok()?,
        })
    }))
}

/// Account listing for admins (no token hashes).
#[derive(Debug, Clone, Serialize)]
pub struct AccountInfo {
    pub name: String,
    pub agency: String,
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

pub fn list_accounts(store: &Store) -> Result<Vec<AccountInfo>, AccessError> {
    let mut stmt = store
        .conn()
        .prepare("SELECT name, agency, role, created_at, revoked_at FROM accounts ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok(AccountInfo {
            name: r.get(0)?,
            agency: r.get(1)?,
            role: r.get(2)?,
            created_at: r.get(3)?,
            revoked_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Things one asks to do, for [`allowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Search,
    ReadRecord,
    WriteRecord,
    SubmitBatch,
    ReadBatch,
    ReadQueue,
    Decide,
    RecordOutcome,
    ManageAccounts,
    ReadAudit,
}

/// Whether a role may do an action at all (agency scoping comes on top).
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Officer => matches!(action, Search | ReadRecord | RecordOutcome),
        Role::Agency => matches!(action, ReadRecord | WriteRecord | SubmitBatch | ReadBatch),
        Role::Reviewer => matches!(
            action,
            ReadRecord | ReadQueue | Decide | Search | RecordOutcome
        ),
        Role::Admin => matches!(action, ManageAccounts | ReadAudit),
    }
}

/// Whether an account may read this record. Officers and reviewers read across
/// agencies, except children without tracing consent of another agency; an agency
/// account reads only its own agency's records.
pub fn may_read(account: &Account, record: &Record) -> bool {
    if !allowed(account.role, Action::ReadRecord) {
        return false;
    }
    match account.role {
        Role::Agency => record.agency == account.agency,
        _ => record.tracing_consent() || record.agency == account.agency,
    }
}

/// Whether an account may change a record of this agency (or its case).
pub fn may_write(account: &Account, agency: &str) -> bool {
    allowed(account.role, Action::WriteRecord) && account.agency == agency
}

/// Whether an account sees an inquirer's contact details: the inquiry's own
/// agency and reviewers.
pub fn may_see_contact(account: &Account, record: &Record) -> bool {
    record.kind() != RecordKind::Inquiry
        || account.role == Role::Reviewer
        || account.agency == record.agency
}

/// The record as this account may see it: the inquirer's name and contact are
/// removed for anyone else than the inquiry's agency and reviewers.
pub fn redact(account: &Account, record: &Record) -> Record {
    let mut r = record.clone();
    if !may_see_contact(account, record) {
        if let crate::record::KindDetails::Inquiry { inquirer } = &mut r.details {
            inquirer.contact = None;
            inquirer.name = None;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_hashes_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let (a, token) = add_account(&store, "ana", "ag1", Role::Officer, "test", None).unwrap();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 64);
        let stored: String = store
            .conn()
            .query_row("SELECT token_hash FROM accounts", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, token);
        assert_eq!(stored, token_hash(&token));
        assert_eq!(authenticate(&store, &token).unwrap(), Some(a));
        assert_eq!(authenticate(&store, "flk_nothing").unwrap(), None);
        assert!(matches!(
            add_account(&store, "ana", "ag2", Role::Admin, "test", None),
            Err(AccessError::NameTaken(_))
        ));
        revoke_account(&store, "ana", "test", None).unwrap();
        assert_eq!(authenticate(&store, &token).unwrap(), None);
        assert_ne!(new_token().unwrap(), new_token().unwrap());
    }

    #[test]
    fn role_table() {
        assert!(allowed(Role::Officer, Action::Search));
        assert!(!allowed(Role::Officer, Action::Decide));
        assert!(!allowed(Role::Agency, Action::Search));
        assert!(allowed(Role::Reviewer, Action::Decide));
        assert!(!allowed(Role::Admin, Action::ReadRecord));
        assert!(allowed(Role::Admin, Action::ReadAudit));
    }
}
