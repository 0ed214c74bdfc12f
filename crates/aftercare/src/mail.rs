//! Sending email over SMTP (lettre, rustls): the relay's settings from the
//! environment (`AFTERCARE_SMTP_*`: STARTTLS and authentication as NHSmail
//! and council relays require, implicit TLS, or plain for a local test
//! relay), and one message sent with a Message-ID the caller makes stable.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// How the connection to the relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which must succeed before
    /// any credentials or message are sent (port 587; the default).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption at all: for a relay on the same host in tests only.
    None,
}

impl TlsMode {
    pub fn parse(s: &str) -> Result<TlsMode, MailError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "starttls" => Ok(TlsMode::StartTls),
            "tls" => Ok(TlsMode::Tls),
            "none" => Ok(TlsMode::None),
            other => Err(MailError::Config(format!(
                "AFTERCARE_SMTP_TLS is `{other}`: use starttls (the default), tls or none"
            ))),
        }
    }
}

/// The relay and the sender's address.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// User name and password, when the relay asks for authentication.
    pub credentials: Option<(String, String)>,
    /// The From address (`Aftercare <aftercare@example.nhs.uk>` or a bare address).
    pub from: String,
    /// A PEM file of extra certificate authorities to trust (a council's
    /// own relay; the tests' self-signed one). The public roots are always trusted.
    pub ca_file: Option<std::path::PathBuf>,
    /// How long one connection or command may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is never printed.
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// The settings that name an SMTP relay (README, "Email notifications").
pub const ENV_HOST: &str = "AFTERCARE_SMTP_HOST";

impl SmtpConfig {
    /// Reads `AFTERCARE_SMTP_HOST` (none: email is off, `Ok(None)`),
    /// `AFTERCARE_SMTP_PORT` (587 for STARTTLS, 465 for TLS, 25 for none),
    /// `AFTERCARE_SMTP_TLS`, `AFTERCARE_SMTP_USERNAME` and
    /// `AFTERCARE_SMTP_PASSWORD` (or `AFTERCARE_SMTP_PASSWORD_FILE`),
    /// `AFTERCARE_SMTP_FROM` (required), `AFTERCARE_SMTP_CA_FILE` and
    /// `AFTERCARE_SMTP_TIMEOUT_SECS` (30).
    pub fn from_env() -> Result<Option<SmtpConfig>, MailError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let Some(host) = var(ENV_HOST) else { return Ok(None) };
        let tls = TlsMode::parse(&var("AFTERCARE_SMTP_TLS").unwrap_or_default())?;
        let port = match var("AFTERCARE_SMTP_PORT") {
            Some(p) => p.trim().parse().map_err(|_| {
                MailError::Config(format!("AFTERCARE_SMTP_PORT is `{p}`: give a port number"))
            })?,
            None => match tls {
                TlsMode::StartTls => 587,
                TlsMode::Tls => 465,
                TlsMode::None => 25,
            },
        };
        let password = match (var("AFTERCARE_SMTP_PASSWORD"), var("AFTERCARE_SMTP_PASSWORD_FILE")) {
            (Some(p), _) => Some(p),
            (None, Some(file)) => Some(
                std::fs::read_to_string(&file)
                    .map_err(|e| {
                        MailError::Config(format!("AFTERCARE_SMTP_PASSWORD_FILE {file}: {e}"))
                    })?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            ),
            (None, None) => None,
        };
        let credentials = match (var("AFTERCARE_SMTP_USERNAME"), password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => {
                return Err(MailError::Config(
                    "set both AFTERCARE_SMTP_USERNAME and AFTERCARE_SMTP_PASSWORD, or neither"
                        .into(),
                ));
            }
        };
        let from = var("AFTERCARE_SMTP_FROM").ok_or_else(|| {
            MailError::Config(
                "AFTERCARE_SMTP_FROM is not set: give the address messages come from".into(),
            )
        })?;
        let timeout = match var("AFTERCARE_SMTP_TIMEOUT_SECS") {
            Some(s) => Duration::from_secs(s.trim().parse().map_err(|_| {
                MailError::Config(format!("AFTERCARE_SMTP_TIMEOUT_SECS is `{s}`: give seconds"))
            })?),
            None => Duration::from_secs(30),
        };
        Ok(Some(SmtpConfig {
            host,
            port,
            tls,
            credentials,
            from,
            ca_file: var("AFTERCARE_SMTP_CA_FILE").map(Into::into),
            timeout,
        }))
    }
}

/// Why a message could not be sent, or the relay's settings are wrong.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("email settings: {0}")]
    Config(String),
    #[error("address `{0}` is not a valid email address")]
    Address(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// One message to send.
pub struct Outgoing<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// The left part of the Message-ID (`<{id}@{from's domain}>`): the
    /// same for every attempt at one message, so a receiver can drop a
    /// copy sent twice.
    pub message_id: &'a str,
}

/// A connection-per-message SMTP sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.email.to_string()).finish()
    }
}

impl Mailer {
    /// The sender for these settings (nothing is sent yet).
    pub fn new(config: &SmtpConfig) -> Result<Mailer, MailError> {
        let from: Mailbox =
            config.from.parse().map_err(|_| MailError::Address(config.from.clone()))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .timeout(Some(config.timeout));
        let tls_params = || -> Result<TlsParameters, MailError> {
            let mut params = TlsParameters::builder(config.host.clone());
            if let Some(file) = &config.ca_file {
                let pem = std::fs::read(file).map_err(|e| {
                    MailError::Config(format!("AFTERCARE_SMTP_CA_FILE {}: {e}", file.display()))
                })?;
                params = params.add_root_certificate(Certificate::from_pem(&pem)?);
            }
            Ok(params.build_rustls()?)
        };
        builder = builder.tls(match config.tls {
            TlsMode::StartTls => Tls::Required(tls_params()?),
            TlsMode::Tls => Tls::Wrapper(tls_params()?),
            TlsMode::None => Tls::None,
        });
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer { transport: builder.build(), from })
    }

    /// Sends one plain-text message.
    pub async fn send(&self, m: &Outgoing<'_>) -> Result<(), MailError> {
        let to: Mailbox = m.to.parse().map_err(|_| MailError::Address(m.to.into()))?;
        let domain = self.from.email.domain().to_string();
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject)
            .message_id(Some(format!("<{}@{domain}>", m.message_id)))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.to_string())
            .map_err(|e| MailError::Build(e.to_string()))?;
        // Machine-sent: no out-of-office replies (RFC 3834).
        if let Ok(name) = HeaderName::new_from_ascii("Auto-Submitted".into()) {
            message.headers_mut().insert_raw(HeaderValue::new(name, "auto-generated".into()));
        }
        self.transport.send(message).await?;
        Ok(())
    }
}
