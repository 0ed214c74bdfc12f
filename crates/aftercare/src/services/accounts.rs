//! Account administration: adding users, disabling a leaver (which ends
//! their sessions and API tokens at once), enabling, resetting a password,
//! changing roles and revoking API tokens. Each change is one transaction
//! with its audit record; the command line only parses and prints.

use serde_json::json;

use crate::auth::{self, PasswordError, Role, roles_to_string};
use crate::db::store::{self, Actor, AuditEntry, NewUser, UserRow};
use crate::db::{Db, DbError, Tx};
use crate::error::ServiceError;

/// Every account, by user name, for listing.
pub async fn users(db: &Db) -> Result<Vec<UserRow>, ServiceError> {
    Ok(store::list_users(db).await?)
}

/// One account by its id (pages name accounts by id: a user name may hold
/// any printable character).
pub async fn user(db: &Db, id: i64) -> Result<UserRow, ServiceError> {
    store::list_users(db)
        .await?
        .into_iter()
        .find(|u| u.id == id)
        .ok_or_else(|| ServiceError::not_found("no_such_user", "there is no such user".into()))
}

/// One account by its user name (the command line names accounts so).
pub async fn user_named(db: &Db, username: &str) -> Result<UserRow, ServiceError> {
    store::user_by_username(db, username).await?.ok_or_else(|| {
        ServiceError::not_found("no_such_user", format!("no user is called {username}"))
    })
}

fn ensure_roles(roles: &[Role]) -> Result<(), ServiceError> {
    if roles.is_empty() {
        return Err(ServiceError::invalid("roles", "choose at least one role"));
    }
    Ok(())
}

/// The actor a command runs as: the named user (who must exist), or the
/// operating-system user for commands run by the operator.
pub async fn actor_named(db: &Db, name: Option<&str>) -> Result<Actor, ServiceError> {
    match name {
        Some(n) => {
            let row = store::user_by_username(db, n)
                .await?
                .ok_or_else(|| AccountError::NoSuchUser(n.into()))?;
            Ok(Actor {
                user_id: Some(row.id),
                username: row.username,
                org_code: Some(row.org_code),
            })
        }
        None => Ok(Actor::cli(&std::env::var("USER").unwrap_or_else(|_| "unknown".into()))),
    }
}

/// Why an account change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("no user `{0}` (see `aftercare users list`)")]
    NoSuchUser(String),
    #[error("a user `{0}` already exists")]
    Exists(String),
    #[error("no organisation `{0}` (add it with `aftercare orgs add`)")]
    NoSuchOrg(String),
    #[error("the user name {0}")]
    BadUsername(String),
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("the password could not be hashed: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A user to add.
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub org_code: &'a str,
    pub roles: &'a [Role],
    pub team: Option<&'a str>,
    pub password: &'a str,
}

/// Checks a user name: 1 to 128 printable characters with no spaces.
pub fn check_username(username: &str) -> Result<(), ServiceError> {
    let bad = |why: &str| Err(ServiceError::from(AccountError::BadUsername(why.into())));
    if username.is_empty() {
        return bad("is empty");
    }
    if username.chars().count() > auth::MAX_USERNAME_CHARS {
        return bad(&format!("is longer than {} characters", auth::MAX_USERNAME_CHARS));
    }
    if username.chars().any(|c| c.is_whitespace() || aftercare_core::text::is_forbidden(c)) {
        return bad("may not hold spaces or control characters");
    }
    Ok(())
}

fn hash(password: &str) -> Result<String, ServiceError> {
    Ok(auth::hash_password(password).map_err(AccountError::Hash)?)
}

async fn user_tx(tx: &mut Tx, username: &str) -> Result<UserRow, ServiceError> {
    Ok(store::user_by_username(&mut *tx, username)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(username.into()))?)
}

async fn audit(
    tx: &mut Tx,
    actor: &Actor,
    action: &'static str,
    user: &UserRow,
    details: serde_json::Value,
) -> Result<(), DbError> {
    store::append_audit(
        tx,
        actor,
        AuditEntry {
            action,
            person_id: None,
            entity: "user",
            entity_id: Some(user.id.to_string()),
            reason: None,
            details,
        },
    )
    .await
    .map(|_| ())
}

/// Adds a user, the password checked against the rules of
/// [`auth::check_new_password`] (the demo's own accounts are made by the
/// demo loader, not here, so the demo password is refused).
pub async fn add_user(db: &Db, actor: &Actor, new: &NewAccount<'_>) -> Result<i64, ServiceError> {
    check_username(new.username)?;
    ensure_roles(new.roles)?;
    auth::check_new_password(new.username, new.password, false)?;
    let hash = hash(new.password)?;
    let mut tx = db.begin_write().await?;
    if store::get_org(&mut tx, new.org_code).await?.is_none() {
        return Err(ServiceError::from(AccountError::NoSuchOrg(new.org_code.into())));
    }
    if store::user_by_username(&mut tx, new.username).await?.is_some() {
        return Err(ServiceError::from(AccountError::Exists(new.username.into())));
    }
    let roles = roles_to_string(new.roles);
    let id = store::insert_user(
        &mut tx,
        &NewUser {
            username: new.username,
            display_name: new.display_name,
            org_code: new.org_code,
            roles: &roles,
            team: new.team,
            password_hash: &hash,
        },
    )
    .await?;
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "user.added",
            person_id: None,
            entity: "user",
            entity_id: Some(id.to_string()),
            reason: None,
            details: json!({"username": new.username, "org": new.org_code, "roles": roles}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Disables a user (a leaver): they cannot sign in, and every session and
/// API token of theirs ends in the same transaction. Returns how many ended.
pub async fn disable(db: &Db, actor: &Actor, username: &str) -> Result<u64, ServiceError> {
    let mut tx = db.begin_write().await?;
    let user = user_tx(&mut tx, username).await?;
    if actor.user_id == Some(user.id) {
        return Err(ServiceError::conflict(
            "own_account",
            "you cannot disable your own account: ask another system administrator".into(),
        ));
    }
    store::set_user_disabled_tx(&mut tx, user.id, true).await?;
    let ended = store::delete_user_sessions_tx(&mut tx, user.id, None).await?;
    audit(&mut tx, actor, "user.disabled", &user, json!({"sessions_ended": ended})).await?;
    tx.commit().await?;
    Ok(ended)
}

/// Lets a disabled user sign in again.
pub async fn enable(db: &Db, actor: &Actor, username: &str) -> Result<(), ServiceError> {
    let mut tx = db.begin_write().await?;
    let user = user_tx(&mut tx, username).await?;
    store::set_user_disabled_tx(&mut tx, user.id, false).await?;
    audit(&mut tx, actor, "user.enabled", &user, json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a new password (checked as for a new user) and ends the user's
/// sessions and tokens: a reset usually follows a password that leaked.
pub async fn reset_password(
    db: &Db,
    actor: &Actor,
    username: &str,
    password: &str,
) -> Result<u64, ServiceError> {
    auth::check_new_password(username, password, false)?;
    let hash = hash(password)?;
    let mut tx = db.begin_write().await?;
    let user = user_tx(&mut tx, username).await?;
    store::set_user_password_tx(&mut tx, user.id, &hash).await?;
    let ended = store::delete_user_sessions_tx(&mut tx, user.id, None).await?;
    audit(&mut tx, actor, "user.password_reset", &user, json!({"sessions_ended": ended})).await?;
    tx.commit().await?;
    Ok(ended)
}

/// Replaces a user's roles. Sessions read roles on every request, so the
/// change holds from the next one.
pub async fn set_roles(
    db: &Db,
    actor: &Actor,
    username: &str,
    roles: &[Role],
) -> Result<(), ServiceError> {
    ensure_roles(roles)?;
    let mut tx = db.begin_write().await?;
    let user = user_tx(&mut tx, username).await?;
    if actor.user_id == Some(user.id)
        && user.roles.split(',').any(|r| Role::parse(r) == Some(Role::SystemAdministrator))
        && !roles.contains(&Role::SystemAdministrator)
    {
        return Err(ServiceError::invalid(
            "roles",
            "you cannot take the system administrator role from your own account: ask another system administrator",
        ));
    }
    let new = roles_to_string(roles);
    store::set_user_roles_tx(&mut tx, user.id, &new).await?;
    audit(&mut tx, actor, "user.roles_changed", &user, json!({"from": user.roles, "to": new}))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes API tokens: one user's, or (`None`) everyone's. Browser sessions
/// are left alone. Returns how many were revoked.
pub async fn revoke_tokens(
    db: &Db,
    actor: &Actor,
    username: Option<&str>,
) -> Result<u64, ServiceError> {
    let mut tx = db.begin_write().await?;
    let revoked = match username {
        Some(name) => {
            let user = user_tx(&mut tx, name).await?;
            let n =
                store::delete_user_sessions_tx(&mut tx, user.id, Some(store::SESSION_API)).await?;
            audit(&mut tx, actor, "tokens.revoked", &user, json!({"revoked": n})).await?;
            n
        }
        None => {
            let n = store::delete_all_sessions_tx(&mut tx, store::SESSION_API).await?;
            store::append_audit(
                &mut tx,
                actor,
                AuditEntry {
                    action: "tokens.revoked_all",
                    person_id: None,
                    entity: "user",
                    entity_id: None,
                    reason: None,
                    details: json!({"revoked": n}),
                },
            )
            .await?;
            n
        }
    };
    tx.commit().await?;
    Ok(revoked)
}

impl From<AccountError> for ServiceError {
    fn from(e: AccountError) -> Self {
        let message = e.to_string();
        match e {
            AccountError::NoSuchUser(_) => ServiceError::not_found("no_such_user", message),
            AccountError::Exists(_) => ServiceError::conflict("user_exists", message),
            AccountError::NoSuchOrg(_) => ServiceError::not_found("no_such_org", message),
            AccountError::BadUsername(_) => ServiceError::invalid("username", message),
            AccountError::Password(_) => ServiceError::invalid("password", message),
            AccountError::Hash(_) => ServiceError::Internal(message),
            AccountError::Db(db) => ServiceError::Storage(db),
        }
    }
}

impl From<PasswordError> for ServiceError {
    fn from(e: PasswordError) -> Self {
        AccountError::Password(e).into()
    }
}
