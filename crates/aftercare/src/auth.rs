//! Who may do what: roles, passwords (argon2id), session tokens and the
//! permission checks that hand out capabilities.
//!
//! A handler that changes the register needs a [`RegisterEditor`], which only
//! [`User::register_editor`] can make; code without the permission cannot
//! call the writing functions at all.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

use crate::db::store::{Actor, UserRow};

/// The roles of SPEC 1 ("Who uses it").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    MhaAdministrator,
    LeadProfessional,
    Commissioner,
    Finance,
    QaGroup,
    Auditor,
    SystemAdministrator,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::MhaAdministrator,
        Role::LeadProfessional,
        Role::Commissioner,
        Role::Finance,
        Role::QaGroup,
        Role::Auditor,
        Role::SystemAdministrator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::MhaAdministrator => "mha_administrator",
            Role::LeadProfessional => "lead_professional",
            Role::Commissioner => "commissioner",
            Role::Finance => "finance",
            Role::QaGroup => "qa_group",
            Role::Auditor => "auditor",
            Role::SystemAdministrator => "system_administrator",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::MhaAdministrator => "MHA administrator",
            Role::LeadProfessional => "Lead professional",
            Role::Commissioner => "Commissioner",
            Role::Finance => "Finance",
            Role::QaGroup => "Quality-assurance group",
            Role::Auditor => "Auditor",
            Role::SystemAdministrator => "System administrator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        let s = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Parses a comma-separated list of roles, naming the first unknown one.
pub fn parse_roles(s: &str) -> Result<Vec<Role>, String> {
    let mut roles = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let role = Role::parse(part).ok_or_else(|| {
            let known: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown role `{part}` (known roles: {})", known.join(", "))
        })?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if roles.is_empty() {
        return Err("at least one role is required".into());
    }
    Ok(roles)
}

pub fn roles_to_string(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub org_code: String,
    pub roles: Vec<Role>,
    pub team: Option<String>,
}

/// The signed-in user and their session's CSRF token, put in the request
/// extensions by the HTTP edge's session layer; services read who is asking
/// (and which request, for the access log) from it.
#[derive(Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    /// Signed in with a bearer token (API clients): no CSRF needed, since
    /// browsers never attach it on their own.
    pub bearer: bool,
    /// The request served, for the access log.
    pub request: crate::services::access_log::RequestInfo,
    /// What the change just made said, for this page's success banner.
    pub saved: Option<&'static str>,
}

/// Why a user may not do something.
#[derive(Debug, Clone, thiserror::Error)]
#[error("you do not have permission to {0}")]
pub struct Forbidden(pub &'static str);

/// Proof that the holder may change the register (add people, detentions, import).
pub struct RegisterEditor<'a>(&'a User);

impl<'a> RegisterEditor<'a> {
    /// The user holding the permission.
    pub fn user(&self) -> &'a User {
        self.0
    }
}

/// Proof that the holder administers the system: users, organisations,
/// partnerships, funding agreements and letter templates (what the command
/// line's administrative commands do for the operator).
pub struct Administrator<'a>(&'a User);

impl<'a> Administrator<'a> {
    /// The user holding the permission.
    pub fn user(&self) -> &'a User {
        self.0
    }
}

impl User {
    /// Only system administrators manage accounts and the reference data.
    pub fn administrator(&self) -> Result<Administrator<'_>, Forbidden> {
        if self.has(Role::SystemAdministrator) {
            Ok(Administrator(self))
        } else {
            Err(Forbidden(
                "manage users, organisations, partnerships, funding agreements or letters: only a system administrator may",
            ))
        }
    }

    pub fn from_row(row: &UserRow) -> User {
        User {
            id: row.id,
            username: row.username.clone(),
            display_name: row.display_name.clone(),
            org_code: row.org_code.clone(),
            roles: row.roles.split(',').filter_map(Role::parse).collect(),
            team: row.team.clone(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.id),
            username: self.username.clone(),
            org_code: Some(self.org_code.clone()),
        }
    }

    /// MHA administrators keep the register; lead professionals may add the
    /// people they work with.
    pub fn register_editor(&self) -> Result<RegisterEditor<'_>, Forbidden> {
        if self.has(Role::MhaAdministrator) || self.has(Role::LeadProfessional) {
            Ok(RegisterEditor(self))
        } else {
            Err(Forbidden("change the register"))
        }
    }

    pub fn can_edit_register(&self) -> bool {
        self.register_editor().is_ok()
    }

    pub fn roles_label(&self) -> String {
        self.roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ")
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id minimum: 19 MiB, 2 iterations, 1 lane.
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"),
    )
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash that takes as long to check as a real one, so that unknown user
/// names cannot be told apart from wrong passwords by timing.
pub fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let _ = verify_password(password, hash);
}

/// A random token for sessions and CSRF (32 bytes, hex).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    hex::encode(bytes)
}

/// Session tokens are stored only as their SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Longest user name accepted anywhere: a longer one is refused before any
/// database work (a 1.9 MB name once grew the log-in table by megabytes).
pub const MAX_USERNAME_CHARS: usize = 128;
/// Longest password accepted: hashing cost grows with length.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Why a password may not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password must have at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("the password must not be only spaces")]
    Blank,
    #[error("the password is too simple: it repeats a few characters")]
    Repetitive,
    #[error("the password is on the list of common and breached passwords")]
    Breached,
    #[error("the password must not contain the user name")]
    ContainsUsername,
    #[error("the password is the published demo password")]
    DemoPassword,
}

/// The 20 000 most common passwords, lower case, one a line (Django's list,
/// see `assets/common-passwords.LICENSE`), unpacked on first use.
fn breached() -> &'static std::collections::HashSet<String> {
    static LIST: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        use std::io::Read;
        let packed: &[u8] = include_bytes!("../assets/common-passwords.txt.gz");
        let mut text = String::new();
        // The list is part of the binary; it cannot fail to unpack unless
        // the build is damaged, and then no password is refused for it.
        let _ = flate2::read::GzDecoder::new(packed).read_to_string(&mut text);
        text.lines().map(|l| l.trim().to_lowercase()).filter(|l| !l.is_empty()).collect()
    })
}

/// Whether a password is on the shipped list of common passwords, as typed
/// or with digits and symbols added at either end (`Password1234!`).
pub fn is_breached(password: &str) -> bool {
    let lower = password.trim().to_lowercase();
    let list = breached();
    if list.contains(&lower) {
        return true;
    }
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    core.chars().count() >= 4 && list.contains(core)
}

/// The rules for a new password, wherever it is set (`users add`,
/// `users reset-password`). `allow_demo` is for the demo's own accounts.
pub fn check_new_password(
    username: &str,
    password: &str,
    allow_demo: bool,
) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong);
    }
    if password.trim().is_empty() {
        return Err(PasswordError::Blank);
    }
    let distinct: std::collections::HashSet<char> = password.chars().collect();
    if distinct.len() < 5 {
        return Err(PasswordError::Repetitive);
    }
    if !allow_demo && password == crate::services::demo::DEMO_PASSWORD {
        return Err(PasswordError::DemoPassword);
    }
    let name = username.trim().to_lowercase();
    if name.chars().count() >= 3 && password.to_lowercase().contains(&name) {
        return Err(PasswordError::ContainsUsername);
    }
    if is_breached(password) {
        return Err(PasswordError::Breached);
    }
    Ok(())
}

/// Log-in back-off: failed attempts allowed before waiting, per address and
/// per address and user name together, then waits that double with each
/// further failure up to [`MAX_LOGIN_WAIT_SECS`]. Nothing is counted by user
/// name alone, so no one can lock another person out from elsewhere.
pub const FREE_FAILURES_PER_ADDRESS_AND_NAME: i64 = 5;
pub const FREE_FAILURES_PER_ADDRESS: i64 = 20;
pub const FIRST_LOGIN_WAIT_SECS: i64 = 30;
pub const MAX_LOGIN_WAIT_SECS: i64 = 15 * 60;
/// How far back failures are counted.
pub const LOGIN_WINDOW_MINUTES: i64 = 60;

/// How long after the last failure the next attempt must wait, given the
/// failures counted.
///
/// ```
/// use aftercare::auth::login_wait_secs;
/// assert_eq!(login_wait_secs(4, 4), 0);
/// assert_eq!(login_wait_secs(5, 5), 30);
/// assert_eq!(login_wait_secs(6, 6), 60);
/// assert_eq!(login_wait_secs(50, 50), 900);
/// assert_eq!(login_wait_secs(20, 0), 30);
/// ```
pub fn login_wait_secs(by_address: i64, by_address_and_name: i64) -> i64 {
    let wait = |failures: i64, free: i64| {
        if failures < free {
            return 0;
        }
        let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(20);
        FIRST_LOGIN_WAIT_SECS.saturating_mul(1i64 << doublings).min(MAX_LOGIN_WAIT_SECS)
    };
    wait(by_address, FREE_FAILURES_PER_ADDRESS)
        .max(wait(by_address_and_name, FREE_FAILURES_PER_ADDRESS_AND_NAME))
}

/// A user name as security logs may show it: a short hash, never the name.
pub fn name_tag(username: &str) -> String {
    hex::encode(&Sha256::digest(username.trim().to_lowercase().as_bytes())[..6])
}

/// Constant-time comparison for CSRF tokens.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        for (password, want) in [
            ("            ", PasswordError::Blank),
            ("password1234", PasswordError::Breached),
            ("Password1234!", PasswordError::Breached),
            ("qwertyuiop12", PasswordError::Breached),
            ("aaaaaaaaaaaa", PasswordError::Repetitive),
            ("alice-smith-2026", PasswordError::ContainsUsername),
            ("short", PasswordError::TooShort),
        ] {
            assert_eq!(check_new_password("alice-smith", password, false), Err(want), "{password}");
        }
        assert_eq!(
            check_new_password("someone", crate::services::demo::DEMO_PASSWORD, false),
            Err(PasswordError::DemoPassword)
        );
        assert_eq!(check_new_password("someone", "correct horse battery staple", false), Ok(()));
    }

    #[test]
    fn roles_parse() {
        assert_eq!(
            parse_roles("mha_administrator, Auditor").unwrap(),
            vec![Role::MhaAdministrator, Role::Auditor]
        );
        assert!(parse_roles("wizard").unwrap_err().contains("unknown role `wizard`"));
        assert!(parse_roles("").is_err());
    }
}
