//! Email notifications (issue 14): each user's address and preferences;
//! `enqueue` writes, from the task list (`tasks::for_user_now`), an
//! immediate message for each task with a deadline and one daily digest of
//! the rest into the outbox, each once (a unique dedupe key); `deliver`
//! claims due messages, sends them through the relay and stamps them sent,
//! or records the failure and tries again later, never dropping one.
//! Messages name no person, NHS number or diagnosis: only the kind of task,
//! the organisation whose it is, the due date and a link to sign in and see.

use std::collections::BTreeMap;

use aftercare_core::date::long_date;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::User;
use crate::db::notify::{self as store_notify, NewMessage, OutboxRow, RecipientRow};
use crate::db::store::{self, Actor, AuditEntry};
use crate::db::{Db, Tx};
use crate::error::ServiceError;
use crate::mail::{MailError, Mailer, Outgoing};
use crate::services::tasks::{self, Task, TaskKind};

/// The site's address as users reach it (`AFTERCARE_BASE_URL`), to which
/// every link in a message is made absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// An `https://` (or `http://`) address with no query or fragment;
    /// a trailing `/` is dropped.
    pub fn parse(s: &str) -> Result<BaseUrl, ServiceError> {
        let s = s.trim().trim_end_matches('/');
        let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
        match rest {
            Some(host)
                if !host.is_empty() && !s.contains(['?', '#', ' ']) && !host.starts_with('/') =>
            {
                Ok(BaseUrl(s.to_string()))
            }
            _ => Err(ServiceError::invalid(
                "base_url",
                format!("`{s}` is not a web address such as https://aftercare.example.nhs.uk"),
            )),
        }
    }

    /// The absolute address of a path on the site (`/people/12/endings`).
    pub fn link(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.0)
        } else {
            format!("{}/{path}", self.0)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where and how a user is told of their tasks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Preferences {
    /// None: no messages at all.
    #[serde(default)]
    pub email: Option<String>,
    /// A message at once for each task with a deadline.
    #[serde(default)]
    pub immediate: bool,
    /// One message a day listing the rest.
    #[serde(default)]
    pub digest: bool,
}

impl From<&RecipientRow> for Preferences {
    fn from(r: &RecipientRow) -> Self {
        Preferences {
            email: r.email.clone(),
            immediate: r.notify_immediate,
            digest: r.notify_digest,
        }
    }
}

/// A user's preferences.
pub async fn preferences(db: &Db, user_id: i64) -> Result<Preferences, ServiceError> {
    let row = store_notify::recipient(db, user_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("not_found", "no such user".into()))?;
    Ok(Preferences::from(&row))
}

/// Checks an email address: one `@`, something either side, no spaces,
/// and a form the mail library accepts.
pub fn check_email(email: &str) -> Result<String, ServiceError> {
    let e = email.trim();
    let bad = || {
        ServiceError::invalid(
            "email",
            "enter an email address in the correct format, like name@example.nhs.uk",
        )
    };
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || e.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        || e.len() > 254
        || e.parse::<lettre::Address>().is_err()
    {
        return Err(bad());
    }
    Ok(e.to_string())
}

/// Sets a user's address and preferences (the user themself on their
/// account page, or an administrator from the command line), audited.
pub async fn set_preferences(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    prefs: &Preferences,
) -> Result<Preferences, ServiceError> {
    let email = match prefs.email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(e) => Some(check_email(e)?),
    };
    let mut tx = db.begin_write().await?;
    let before = store_notify::recipient(&mut tx, user_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("not_found", "no such user".into()))?;
    store_notify::set_preferences_tx(
        &mut tx,
        user_id,
        email.as_deref(),
        prefs.immediate,
        prefs.digest,
    )
    .await?;
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "user.notifications_changed",
            person_id: None,
            entity: "user",
            entity_id: Some(user_id.to_string()),
            reason: None,
            details: json!({
                "username": before.user.username,
                "email": email,
                "immediate": prefs.immediate,
                "digest": prefs.digest,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Preferences { email, immediate: prefs.immediate, digest: prefs.digest })
}

/// Sets the preferences of the user with this user name (the command line).
pub async fn set_preferences_of(
    db: &Db,
    actor: &Actor,
    username: &str,
    prefs: &Preferences,
) -> Result<Preferences, ServiceError> {
    let row = store::user_by_username(db, username)
        .await?
        .ok_or_else(|| crate::services::accounts::AccountError::NoSuchUser(username.into()))?;
    set_preferences(db, actor, row.id, prefs).await
}

/// What one `enqueue` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Enqueued {
    /// Users with an address and a kind of message on.
    pub users: usize,
    /// New immediate messages (a task already told of is not told again).
    pub immediate: usize,
    /// New digests (at most one a user a day).
    pub digests: usize,
}

/// Writes the messages due today for every user who asked for them: an
/// immediate message for each task with a deadline not yet told of, and
/// (when `with_digest`) one digest of the rest unless one was written today
/// already or nothing waits. Running it twice writes nothing more.
pub async fn enqueue(
    db: &Db,
    today: NaiveDate,
    base_url: &BaseUrl,
    with_digest: bool,
) -> Result<Enqueued, ServiceError> {
    let mut total = Enqueued::default();
    for r in store_notify::recipients(db).await? {
        let user = User::from_row(&r.user);
        let tasks = tasks::for_user_now(db, &user, today).await?;
        let done = enqueue_for(db, &user, &tasks, today, base_url, with_digest).await?;
        total.users += done.users;
        total.immediate += done.immediate;
        total.digests += done.digests;
    }
    Ok(total)
}

/// [`enqueue`] for one user and their tasks (so a test can give the tasks).
/// The user's address and preferences are read inside the write.
pub async fn enqueue_for(
    db: &Db,
    user: &User,
    tasks: &[Task],
    today: NaiveDate,
    base_url: &BaseUrl,
    with_digest: bool,
) -> Result<Enqueued, ServiceError> {
    let mut done = Enqueued::default();
    let mut tx = db.begin_write().await?;
    let Some(row) = store_notify::recipient(&mut tx, user.id).await? else {
        return Ok(done);
    };
    let (Some(email), false) = (row.email.clone(), row.user.disabled) else {
        return Ok(done);
    };
    if !row.notify_immediate && !row.notify_digest {
        return Ok(done);
    }
    done.users = 1;
    let at = store::now();
    let mut orgs = OrgNames::default();
    let mut rest = Vec::new();
    for task in tasks {
        if task.kind.immediate() && row.notify_immediate {
            let org = orgs.name(&mut tx, &task.org_code).await?;
            let (subject, body) = immediate_message(task, &org, base_url);
            let key = format!("user:{}:{}", user.id, task.key);
            let added = store_notify::enqueue_tx(
                &mut tx,
                &NewMessage {
                    user_id: user.id,
                    kind: "immediate",
                    dedupe_key: &key,
                    recipient: &email,
                    subject: &subject,
                    body: &body,
                    at,
                },
            )
            .await?;
            done.immediate += usize::from(added);
        } else if !task.kind.immediate() || !row.notify_immediate {
            // A task with a deadline goes in the digest when its owner asked
            // for no immediate messages, so it is still told of.
            rest.push(task);
        }
    }
    if with_digest && row.notify_digest && !rest.is_empty() {
        let org = orgs.name(&mut tx, &user.org_code).await?;
        let (subject, body) = digest_message(&rest, &org, today, base_url);
        let key = format!("user:{}:digest:{today}", user.id);
        let added = store_notify::enqueue_tx(
            &mut tx,
            &NewMessage {
                user_id: user.id,
                kind: "digest",
                dedupe_key: &key,
                recipient: &email,
                subject: &subject,
                body: &body,
                at,
            },
        )
        .await?;
        done.digests += usize::from(added);
    }
    tx.commit().await?;
    Ok(done)
}

/// Organisations' names, each read once.
#[derive(Default)]
struct OrgNames(BTreeMap<String, String>);

impl OrgNames {
    async fn name(&mut self, tx: &mut Tx, code: &str) -> Result<String, ServiceError> {
        if let Some(n) = self.0.get(code) {
            return Ok(n.clone());
        }
        let name = store::get_org(&mut *tx, code).await?.map(|o| o.name).unwrap_or(code.into());
        self.0.insert(code.into(), name.clone());
        Ok(name)
    }
}

/// What waits, as a noun phrase with its article (lower case).
fn phrase(kind: TaskKind) -> String {
    match kind {
        TaskKind::EndingDecision => "an ending decision".into(),
        TaskKind::QaRatification => "a QA ratification of an ending".into(),
        TaskKind::RegisterChangeLate => "a register change recorded late".into(),
        other => format!("a task ({})", other.heading().to_lowercase()),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn footer(base_url: &BaseUrl) -> String {
    format!(
        "This message names nobody: sign in to Aftercare to see who it concerns.\n\
         To change the messages you receive: {}\n",
        base_url.link("/account/notifications")
    )
}

/// The subject and body of an immediate message. Only the task's kind,
/// organisation, dates and link go in: never its summary, the person's
/// name or NHS number.
pub fn immediate_message(task: &Task, org_name: &str, base_url: &BaseUrl) -> (String, String) {
    let what = phrase(task.kind);
    let due = match task.due {
        Some(d) if task.overdue => format!(", due {} (overdue)", long_date(d)),
        Some(d) => format!(", due {}", long_date(d)),
        None => String::new(),
    };
    let subject = format!("Aftercare: {what} awaits {org_name}");
    let body = format!(
        "{} awaits {org_name}{due}.\n\nWaiting since {}.\n\nOpen it: {}\n\n{}",
        capitalised(&what),
        long_date(task.since),
        base_url.link(&task.link),
        footer(base_url),
    );
    (subject, body)
}

/// How many links of one kind a digest lists before pointing at the home page.
const DIGEST_LINKS_PER_KIND: usize = 20;

/// The subject and body of a digest: counts per kind of task with a link
/// to each, and to the home page (`/`) that lists them all.
pub fn digest_message(
    tasks: &[&Task],
    org_name: &str,
    today: NaiveDate,
    base_url: &BaseUrl,
) -> (String, String) {
    let mut by_kind: BTreeMap<TaskKind, Vec<&Task>> = BTreeMap::new();
    for t in tasks {
        by_kind.entry(t.kind).or_default().push(t);
    }
    let n = tasks.len();
    let subject = format!(
        "Aftercare: {n} {} for {org_name} on {}",
        if n == 1 { "task waits" } else { "tasks wait" },
        long_date(today)
    );
    let mut body = format!("Waiting for {org_name} on {}:\n\n", long_date(today));
    for (kind, list) in &by_kind {
        let overdue = list.iter().filter(|t| t.overdue).count();
        body.push_str(&format!("{}: {}", kind.heading(), list.len()));
        if overdue > 0 {
            body.push_str(&format!(" ({overdue} overdue)"));
        }
        body.push('\n');
        for t in list.iter().take(DIGEST_LINKS_PER_KIND) {
            body.push_str(&format!("  {}\n", base_url.link(&t.link)));
        }
        if list.len() > DIGEST_LINKS_PER_KIND {
            body.push_str(&format!(
                "  and {} more: {}\n",
                list.len() - DIGEST_LINKS_PER_KIND,
                base_url.link("/")
            ));
        }
        body.push('\n');
    }
    body.push_str(&format!("All your tasks: {}\n\n{}", base_url.link("/"), footer(base_url)));
    (subject, body)
}

/// What one `deliver` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    /// Messages whose attempt failed, with why (each kept, to try again).
    pub failed: Vec<(i64, String)>,
}

/// How many messages one claim takes: with the relay's timeout (30 s by
/// default, for connecting and for each command) a batch is sent well
/// within [`CLAIM_MINUTES`].
const BATCH: i64 = 10;
/// How long a claim holds a message from other senders; a sender that dies
/// holding one lets it go when this runs out.
pub const CLAIM_MINUTES: i64 = 15;

/// When to try again after the `attempts`-th failure: 1, 5, 30 minutes,
/// 2 hours, then every 6 hours until the relay takes it.
pub fn retry_after(attempts: i64) -> Duration {
    Duration::minutes(match attempts {
        ..=1 => 1,
        2 => 5,
        3 => 30,
        4 => 120,
        _ => 360,
    })
}

/// The left part of a message's Message-ID: a digest of its dedupe key, so
/// every attempt at one message carries the same id (and the key, which
/// names a task, is not shown).
pub fn message_id(dedupe_key: &str) -> String {
    let digest = Sha256::digest(dedupe_key.as_bytes());
    format!("aftercare.{}", hex::encode(&digest[..16]))
}

/// Sends every message due by `now`: claims a batch in a write transaction
/// (so two servers never claim one message), sends each, and stamps it sent
/// or records the failure with the next attempt's time; until none is due.
/// A sender stopped between the relay's acceptance and the stamp sends that
/// message again once its claim runs out, with the same Message-ID.
pub async fn deliver(
    db: &Db,
    mailer: &Mailer,
    now: DateTime<Utc>,
) -> Result<Delivered, ServiceError> {
    // Stored to the microsecond on both backends.
    let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    let mut done = Delivered::default();
    // Each pass either stamps a message sent or puts it off past `now`, so
    // this ends; the bound is a guard against a clock gone wrong.
    for _ in 0..1000 {
        let mut tx = db.begin_write().await?;
        let batch =
            store_notify::claim_due_tx(&mut tx, now, now + Duration::minutes(CLAIM_MINUTES), BATCH)
                .await?;
        tx.commit().await?;
        if batch.is_empty() {
            break;
        }
        for row in batch {
            let result = send_one(mailer, &row).await;
            let mut tx = db.begin_write().await?;
            match result {
                Ok(()) => {
                    store_notify::mark_sent_tx(&mut tx, row.id, store::now().max(now)).await?;
                    done.sent += 1;
                }
                Err(e) => {
                    let why = e.to_string();
                    let next = now + retry_after(row.attempts + 1);
                    store_notify::mark_failed_tx(&mut tx, row.id, &why, next).await?;
                    tracing::warn!(
                        outbox_id = row.id,
                        attempts = row.attempts + 1,
                        "email not sent; will retry"
                    );
                    done.failed.push((row.id, why));
                }
            }
            tx.commit().await?;
        }
    }
    Ok(done)
}

async fn send_one(mailer: &Mailer, row: &OutboxRow) -> Result<(), MailError> {
    mailer
        .send(&Outgoing {
            to: &row.recipient,
            subject: &row.subject,
            body: &row.body,
            message_id: &message_id(&row.dedupe_key),
        })
        .await
}

/// The outbox, oldest first (for `aftercare notify status` and tests).
pub async fn outbox(db: &Db) -> Result<Vec<OutboxRow>, ServiceError> {
    Ok(store_notify::outbox(db).await?)
}

/// How many messages wait to be sent.
pub async fn unsent(db: &Db) -> Result<i64, ServiceError> {
    Ok(store_notify::unsent_count(db).await?)
}
