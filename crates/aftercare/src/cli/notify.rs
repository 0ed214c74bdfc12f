//! `notify run`, `notify status`, `users set-email` and the notifier that
//! `serve` runs beside the web server when an SMTP relay is configured:
//! the settings read from the environment, then services only.

use std::process::ExitCode;
use std::time::Duration;

use aftercare::db::Db;
use aftercare::mail::{Mailer, SmtpConfig};
use aftercare::services::notify::{self, BaseUrl, Preferences};
use anyhow::{Context, Result, bail};
use chrono::Timelike;

use super::common::*;

/// What the notifier needs: the relay, and the site's address for links.
pub(super) struct NotifySettings {
    pub mailer: Mailer,
    pub base_url: BaseUrl,
    /// How often the server's notifier runs (`AFTERCARE_NOTIFY_INTERVAL_SECS`, 300).
    pub interval: Duration,
    /// The hour (UTC) from which the day's digest is written
    /// (`AFTERCARE_NOTIFY_DIGEST_HOUR`, 7).
    pub digest_hour: u32,
}

/// Reads the notifier's settings: None when `AFTERCARE_SMTP_HOST` is unset
/// (email is off); an error when it is set and anything else is wrong.
pub(super) fn settings_from_env() -> Result<Option<NotifySettings>> {
    let Some(config) = SmtpConfig::from_env()? else { return Ok(None) };
    let mailer = Mailer::new(&config)?;
    let base = std::env::var("AFTERCARE_BASE_URL").unwrap_or_default();
    if base.trim().is_empty() {
        bail!(
            "AFTERCARE_SMTP_HOST is set but AFTERCARE_BASE_URL is not: give the address users open Aftercare at (links in messages are made from it)"
        );
    }
    let base_url = BaseUrl::parse(&base)?;
    let number = |name: &str, default: u64| -> Result<u64> {
        match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => {
                v.trim().parse().with_context(|| format!("{name} is `{v}`: give a whole number"))
            }
            _ => Ok(default),
        }
    };
    let interval = Duration::from_secs(number("AFTERCARE_NOTIFY_INTERVAL_SECS", 300)?.max(10));
    let digest_hour = number("AFTERCARE_NOTIFY_DIGEST_HOUR", 7)?;
    if digest_hour > 23 {
        bail!("AFTERCARE_NOTIFY_DIGEST_HOUR is {digest_hour}: give an hour from 0 to 23");
    }
    Ok(Some(NotifySettings { mailer, base_url, interval, digest_hour: digest_hour as u32 }))
}

/// One round: write what is due into the outbox, then send what is due.
async fn round(
    db: &Db,
    s: &NotifySettings,
    with_digest: bool,
) -> Result<(notify::Enqueued, notify::Delivered)> {
    let enqueued = notify::enqueue(db, today(), &s.base_url, with_digest).await?;
    let delivered = notify::deliver(db, &s.mailer, chrono::Utc::now()).await?;
    Ok((enqueued, delivered))
}

/// `aftercare notify run`: one round now, digests included unless `--no-digest`.
pub async fn run(database: &str, no_digest: bool) -> Result<ExitCode> {
    let Some(settings) = settings_from_env()? else {
        bail!(
            "email is not configured: set AFTERCARE_SMTP_HOST and the other AFTERCARE_SMTP_* variables (see the README)"
        );
    };
    let db = open(database).await?;
    let (e, d) = round(&db, &settings, !no_digest).await?;
    println!(
        "{} users to tell: {} immediate messages and {} digests written to the outbox",
        e.users, e.immediate, e.digests
    );
    println!("{} messages sent, {} failed (kept, to try again)", d.sent, d.failed.len());
    for (id, why) in &d.failed {
        println!("  message {id}: {why}");
    }
    let waiting = notify::unsent(&db).await?;
    println!("{waiting} messages wait in the outbox");
    Ok(if d.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
}

/// `aftercare notify status`: the outbox, one message a line (no bodies).
pub async fn status(database: &str) -> Result<ExitCode> {
    let db = open(database).await?;
    for m in notify::outbox(&db).await? {
        let state = match (m.sent_at, &m.last_error) {
            (Some(at), _) => format!("sent {}", at.format("%Y-%m-%d %H:%M:%S")),
            (None, Some(e)) => format!(
                "waiting, {} attempts, next {}, last error: {e}",
                m.attempts,
                m.next_attempt_at.format("%Y-%m-%d %H:%M:%S")
            ),
            (None, None) => "waiting".into(),
        };
        println!("{}\t{}\t{}\t{}", m.id, m.kind, m.recipient, state);
    }
    Ok(ExitCode::SUCCESS)
}

/// `aftercare users set-email`: an administrator sets a user's address and
/// preferences.
pub async fn set_email(
    database: &str,
    username: String,
    email: Option<String>,
    immediate: bool,
    digest: bool,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, None).await?;
    let prefs = Preferences { email, immediate, digest };
    let saved = notify::set_preferences_of(&db, &actor, &username, &prefs).await?;
    match saved.email {
        Some(e) => println!(
            "{username}: email {e}, immediate messages {}, daily digest {}",
            on_off(saved.immediate),
            on_off(saved.digest)
        ),
        None => println!("{username}: no email address; no messages are sent"),
    }
    Ok(ExitCode::SUCCESS)
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// The server's notifier: a round every interval (digests from the digest
/// hour on), each failure logged and tried again next round. Runs until
/// the server stops.
pub(super) fn spawn(db: Db, s: NotifySettings) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(s.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let with_digest = chrono::Utc::now().hour() >= s.digest_hour;
            match round(&db, &s, with_digest).await {
                Ok((e, d)) => {
                    if e.immediate + e.digests + d.sent + d.failed.len() > 0 {
                        tracing::info!(
                            immediate = e.immediate,
                            digests = e.digests,
                            sent = d.sent,
                            failed = d.failed.len(),
                            "notifications"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "notifications round failed; trying again next round")
                }
            }
        }
    });
}
