//! Signing in through an organisation's OpenID Connect provider (NHS Care
//! Identity Service 2, Microsoft Entra ID): the authorization code flow with
//! PKCE, `state` and `nonce`, the ID token's signature checked against the
//! provider's published keys, and the provider's subject matched to a local
//! account. Who the user is comes from the provider; what they may do
//! (organisation, roles) stays the product's own, set by an administrator.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{self, User};
use crate::db::single_sign_on::{self as store_sso, FlowRow};
use crate::db::store::{self, Actor, AuditEntry};
use crate::db::{Db, DbError};
use crate::error::ServiceError;

/// How long a sign-in may stay at the provider before it must start again.
pub const FLOW_MINUTES: i64 = 10;

/// How long a provider's discovery document and keys are kept before they
/// are read again (so a key the provider rotates in is picked up).
const METADATA_SECONDS: u64 = 300;

/// The settings file (`serve --sso FILE`): where the site is reached, and
/// each provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOnFile {
    /// The site's address as users reach it, e.g. `https://aftercare.example.nhs.uk`:
    /// each provider's redirect address is `{base_url}/login/sso/{id}/callback`.
    pub base_url: String,
    pub providers: Vec<ProviderFile>,
}

/// One provider as the settings file describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    /// Short, stable and in the redirect address: `cis2`, `entra`.
    pub id: String,
    /// As the sign-in page shows it: "NHS Care Identity Service 2".
    pub name: String,
    /// The issuer; its discovery document is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// The client secret, or the name of an environment variable holding
    /// it (kept out of the file).
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Scopes beside `openid` (for example `email`, `profile`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Whether a subject not yet linked may be matched by a verified email
    /// address that exactly one local account holds (then linked for good).
    #[serde(default)]
    pub match_verified_email: bool,
    /// How the client proves itself at the token endpoint:
    /// `client_secret_basic` (the default) or `client_secret_post`.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
}

/// A provider ready to use.
#[derive(Debug, Clone)]
pub struct Provider {
    pub id: String,
    pub name: String,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    scopes: Vec<String>,
    match_verified_email: bool,
    redirect: RedirectUrl,
    /// The secret in the token request's body, not an Authorization header.
    secret_in_body: bool,
}

impl Provider {
    /// The crate's client for this provider, from what discovery found.
    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(self.redirect.clone())
        .set_auth_type(if self.secret_in_body {
            openidconnect::AuthType::RequestBody
        } else {
            openidconnect::AuthType::BasicAuth
        })
    }
}

/// Why a settings file cannot be used, or a sign-in did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SignOnError {
    #[error("{0}")]
    Settings(String),
    #[error("no sign-in provider is called `{0}`")]
    UnknownProvider(String),
    /// Discovery, the keys or the token request could not be had.
    #[error("{0}")]
    ProviderUnreachable(String),
    /// The provider sent back an error instead of a code (the user
    /// cancelled, or the provider refused them).
    #[error("{0}")]
    ProviderRefused(String),
    /// No sign-in under way for this `state` in this browser: used already,
    /// expired, or begun elsewhere.
    #[error("{0}")]
    FlowUnknown(&'static str),
    /// The ID token failed its checks (signature, issuer, audience, expiry,
    /// nonce).
    #[error("{0}")]
    TokenRefused(String),
    /// The provider's subject stands for no account here.
    #[error("{0}")]
    UnknownSubject(String),
    #[error("the account is disabled")]
    AccountDisabled,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl SignOnError {
    /// A stable code for logs, the audit trail and the page.
    pub fn code(&self) -> &'static str {
        match self {
            SignOnError::Settings(_) => "sso_settings",
            SignOnError::UnknownProvider(_) => "unknown_provider",
            SignOnError::ProviderUnreachable(_) => "provider_unreachable",
            SignOnError::ProviderRefused(_) => "provider_refused",
            SignOnError::FlowUnknown(_) => "sign_in_expired",
            SignOnError::TokenRefused(_) => "token_refused",
            SignOnError::UnknownSubject(_) => "unknown_subject",
            SignOnError::AccountDisabled => "account_disabled",
            SignOnError::Db(_) => "internal",
        }
    }
}

/// The providers configured, with what discovery found for each.
#[derive(Debug, Default)]
pub struct SignOn {
    providers: Vec<Provider>,
    http: Option<reqwest::Client>,
    metadata: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

/// A sign-in begun: send the browser to `url`, and keep `state` in a cookie
/// that must come back with it.
pub struct Begun {
    pub url: String,
    pub state: String,
}

/// A sign-in finished: the user and their new session's token.
pub struct SignedIn {
    pub user: User,
    pub token: String,
    pub next: String,
}

impl SignOn {
    /// No providers: password sign-in only.
    pub fn none() -> SignOn {
        SignOn::default()
    }

    /// Reads the settings file, naming the file and field of any problem.
    pub fn from_file(path: &Path) -> Result<SignOn, SignOnError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SignOnError::Settings(format!("{}: {e}", path.display())))?;
        let file: SignOnFile = serde_json::from_str(&text)
            .map_err(|e| SignOnError::Settings(format!("{}: {e}", path.display())))?;
        SignOn::from_settings(file, |name| std::env::var(name).ok())
            .map_err(|e| SignOnError::Settings(format!("{}: {e}", path.display())))
    }

    /// Checks the settings; `env` reads the environment variables secrets
    /// may be kept in.
    pub fn from_settings(
        file: SignOnFile,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<SignOn, SignOnError> {
        let bad = |s: String| SignOnError::Settings(s);
        let base = file.base_url.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(bad(format!("base_url `{base}` is not an http(s) address")));
        }
        let mut providers: Vec<Provider> = Vec::new();
        for (i, p) in file.providers.into_iter().enumerate() {
            let at = format!("providers[{i}]");
            if p.id.is_empty()
                || !p.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(bad(format!(
                    "{at}.id `{}` must be lower-case letters, digits and hyphens",
                    p.id
                )));
            }
            if providers.iter().any(|q| q.id == p.id) {
                return Err(bad(format!("{at}.id `{}` is used twice", p.id)));
            }
            if p.name.trim().is_empty() {
                return Err(bad(format!("{at}.name is empty")));
            }
            let issuer = IssuerUrl::new(p.issuer.clone())
                .map_err(|e| bad(format!("{at}.issuer `{}`: {e}", p.issuer)))?;
            let secret = match (&p.client_secret, &p.client_secret_env) {
                (Some(s), None) => s.clone(),
                (None, Some(var)) => env(var).ok_or_else(|| {
                    bad(format!(
                        "{at}.client_secret_env: the environment variable {var} is not set"
                    ))
                })?,
                _ => {
                    return Err(bad(format!(
                        "{at}: give exactly one of client_secret and client_secret_env"
                    )));
                }
            };
            let redirect = RedirectUrl::new(format!("{base}/login/sso/{}/callback", p.id))
                .map_err(|e| bad(format!("base_url `{base}`: {e}")))?;
            let secret_in_body = match p.token_endpoint_auth_method.as_deref() {
                None | Some("client_secret_basic") => false,
                Some("client_secret_post") => true,
                Some(other) => {
                    return Err(bad(format!(
                        "{at}.token_endpoint_auth_method `{other}`: use client_secret_basic or client_secret_post"
                    )));
                }
            };
            providers.push(Provider {
                id: p.id,
                name: p.name,
                issuer,
                client_id: ClientId::new(p.client_id),
                client_secret: ClientSecret::new(secret),
                scopes: p.scopes,
                match_verified_email: p.match_verified_email,
                redirect,
                secret_in_body,
            });
        }
        // Redirects are never followed: the crate's advice, so a provider's
        // answer cannot send the server's requests elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(StdDuration::from_secs(15))
            .build()
            .map_err(|e| bad(format!("the HTTP client could not start: {e}")))?;
        Ok(SignOn { providers, http: Some(http), metadata: Mutex::default() })
    }

    /// The providers, in the settings' order, as the sign-in page lists them.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The name of the provider with this id, if one is configured.
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.providers.iter().find(|p| p.id == id).map(|p| p.name.as_str())
    }

    fn provider(&self, id: &str) -> Result<&Provider, SignOnError> {
        self.providers
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| SignOnError::UnknownProvider(id.chars().take(64).collect()))
    }

    fn http(&self) -> Result<&reqwest::Client, SignOnError> {
        self.http.as_ref().ok_or_else(|| SignOnError::UnknownProvider(String::new()))
    }

    /// The provider's discovery document and keys, read again after
    /// [`METADATA_SECONDS`] or when `fresh` asks.
    async fn metadata(
        &self,
        p: &Provider,
        fresh: bool,
    ) -> Result<CoreProviderMetadata, SignOnError> {
        if !fresh
            && let Ok(cache) = self.metadata.lock()
            && let Some((at, m)) = cache.get(&p.id)
            && at.elapsed() < StdDuration::from_secs(METADATA_SECONDS)
        {
            return Ok(m.clone());
        }
        let m = CoreProviderMetadata::discover_async(p.issuer.clone(), self.http()?)
            .await
            .map_err(|e| {
                SignOnError::ProviderUnreachable(format!(
                    "{} could not be reached: {}",
                    p.name,
                    error_chain(&e)
                ))
            })?;
        if let Ok(mut cache) = self.metadata.lock() {
            cache.insert(p.id.clone(), (Instant::now(), m.clone()));
        }
        Ok(m)
    }

    /// Starts a sign-in: records the `state`, `nonce` and PKCE verifier
    /// and gives the provider's address to send the browser to.
    pub async fn begin(&self, db: &Db, provider: &str, next: &str) -> Result<Begun, SignOnError> {
        let p = self.provider(provider)?;
        let metadata = self.metadata(p, false).await?;
        let client = p.client(metadata);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = auth::random_token();
        let nonce = auth::random_token();
        let (state_sent, nonce_sent) = (state.clone(), nonce.clone());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_sent),
                move || Nonce::new(nonce_sent),
            )
            .set_pkce_challenge(challenge);
        for s in &p.scopes {
            if s != "openid" {
                request = request.add_scope(Scope::new(s.clone()));
            }
        }
        let (url, _, _) = request.url();
        store_sso::insert_flow(
            db,
            &auth::token_hash(&state),
            &FlowRow {
                provider: p.id.clone(),
                nonce,
                pkce_verifier: verifier.secret().clone(),
                next: next.to_string(),
                expires_at: store::now() + Duration::minutes(FLOW_MINUTES),
            },
        )
        .await?;
        Ok(Begun { url: url.to_string(), state })
    }

    /// Finishes a sign-in from the provider's answer: the `state` must be
    /// the one this browser was given (`cookie_state`) and still under way;
    /// the code is exchanged with the PKCE verifier; the ID token's
    /// signature, issuer, audience, expiry and nonce are checked; and its
    /// subject must stand for an enabled account. Every refusal after the
    /// `state` checks is audited.
    pub async fn finish(
        &self,
        db: &Db,
        provider: &str,
        answer: &Answer,
    ) -> Result<SignedIn, SignOnError> {
        let p = self.provider(provider)?;
        let state = answer.state.as_deref().unwrap_or_default();
        let same_browser = answer
            .cookie_state
            .as_deref()
            .is_some_and(|c| !c.is_empty() && auth::tokens_equal(c, state));
        if state.is_empty() || !same_browser {
            return Err(SignOnError::FlowUnknown(
                "this sign-in was not started in this browser, or has finished already",
            ));
        }
        let flow = store_sso::take_flow(db, &auth::token_hash(state))
            .await?
            .ok_or(SignOnError::FlowUnknown("this sign-in has been used already or has expired"))?;
        if flow.provider != p.id || flow.expires_at < store::now() {
            return Err(SignOnError::FlowUnknown("this sign-in has expired"));
        }
        let outcome = self.verify(p, answer, &flow).await;
        let (subject, email) = match outcome {
            Ok(found) => found,
            Err(e) => {
                refusal(db, p, None, &e).await?;
                return Err(e);
            }
        };
        let user = match self.account(db, p, &subject, email.as_deref()).await {
            Ok(user) => user,
            Err(e) => {
                refusal(db, p, Some(&subject), &e).await?;
                return Err(e);
            }
        };
        let token = crate::services::sign_in::begin_signed_in(
            db,
            &user,
            store::SESSION_BROWSER,
            json!({"provider": p.id, "subject": subject}),
        )
        .await?;
        Ok(SignedIn { user, token, next: flow.next })
    }

    /// The code exchanged and the ID token checked: its subject and, where
    /// the provider vouches for it, its email address.
    async fn verify(
        &self,
        p: &Provider,
        answer: &Answer,
        flow: &FlowRow,
    ) -> Result<(String, Option<String>), SignOnError> {
        if let Some(error) = &answer.error {
            let described = answer.error_description.as_deref().unwrap_or_default();
            return Err(SignOnError::ProviderRefused(format!(
                "{} did not sign you in ({}{}{})",
                p.name,
                clip(error),
                if described.is_empty() { "" } else { ": " },
                clip(described)
            )));
        }
        // An answer naming another issuer is a mix-up: a code meant for
        // another provider (RFC 9207).
        if let Some(iss) = &answer.iss
            && iss.trim_end_matches('/') != p.issuer.as_str().trim_end_matches('/')
        {
            return Err(SignOnError::ProviderRefused(format!(
                "the answer came from another issuer than {}",
                p.name
            )));
        }
        let code = answer.code.as_deref().filter(|c| !c.is_empty()).ok_or_else(|| {
            SignOnError::ProviderRefused(format!("{} sent back no authorization code", p.name))
        })?;
        let metadata = self.metadata(p, false).await?;
        let client = p.client(metadata);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| SignOnError::ProviderUnreachable(format!("{}: {e}", p.name)))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(self.http()?)
            .await
            .map_err(|e| {
                SignOnError::ProviderRefused(format!(
                    "{} refused the sign-in code: {}",
                    p.name,
                    error_chain(&e)
                ))
            })?;
        let id_token = tokens.id_token().ok_or_else(|| {
            SignOnError::TokenRefused(format!("{} sent back no ID token", p.name))
        })?;
        let nonce = Nonce::new(flow.nonce.clone());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => c.clone(),
            // A key the cached keys lack may be newly rotated in: read the
            // provider's keys once more before refusing.
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                let metadata = self.metadata(p, true).await?;
                let client = p.client(metadata);
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|e| token_refused(p, &e))?
                    .clone()
            }
            Err(e) => return Err(token_refused(p, &e)),
        };
        let email = if claims.email_verified() == Some(true) {
            claims.email().map(|e| e.as_str().to_string())
        } else {
            None
        };
        Ok((claims.subject().as_str().to_string(), email))
    }

    /// The enabled account a subject stands for: its link, or (where the
    /// provider allows) the one account holding its verified email, then
    /// linked.
    async fn account(
        &self,
        db: &Db,
        p: &Provider,
        subject: &str,
        email: Option<&str>,
    ) -> Result<User, SignOnError> {
        let unknown = || {
            SignOnError::UnknownSubject(format!(
                "your {} account (identifier {subject}) is not linked to an Aftercare account",
                p.name
            ))
        };
        let row = match store_sso::user_for_subject(db, &p.id, subject).await? {
            Some(row) => row,
            None => {
                let Some(email) = email.filter(|_| p.match_verified_email) else {
                    return Err(unknown());
                };
                let mut holders = store_sso::users_with_email(db, email).await?;
                if holders.len() != 1 {
                    return Err(unknown());
                }
                let row = holders.remove(0);
                if row.disabled {
                    return Err(SignOnError::AccountDisabled);
                }
                let user = User::from_row(&row);
                let mut tx = db.begin_write().await?;
                if store_sso::link_tx(&mut tx, &p.id, subject, row.id, &format!("email:{email}"))
                    .await?
                {
                    store::append_audit(
                        &mut tx,
                        &user.actor(),
                        AuditEntry {
                            action: "user.identity_linked",
                            person_id: None,
                            entity: "user",
                            entity_id: Some(row.id.to_string()),
                            reason: None,
                            details: json!({"provider": p.id, "subject": subject, "matched_by": "verified email"}),
                        },
                    )
                    .await?;
                }
                tx.commit().await?;
                row
            }
        };
        if row.disabled {
            return Err(SignOnError::AccountDisabled);
        }
        Ok(User::from_row(&row))
    }
}

// ---------------------------------------------------------------- administration

/// The subjects linked to an account, for its administration page.
pub async fn identities(
    db: &Db,
    user_id: i64,
) -> Result<Vec<store_sso::IdentityRow>, ServiceError> {
    Ok(store_sso::identities_of(db, user_id).await?)
}

/// Links a provider's subject to an account (an administrator's act). A
/// subject already linked, to this account or another, is refused.
pub async fn link_identity(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    provider: &str,
    subject: &str,
) -> Result<(), ServiceError> {
    let provider = provider.trim();
    let subject = subject.trim();
    let mut problems = Vec::new();
    if provider.is_empty() {
        problems.push(("provider".to_string(), "Choose the identity provider.".to_string()));
    }
    if subject.is_empty() {
        problems.push((
            "subject".to_string(),
            "Enter the subject the provider gives this user.".to_string(),
        ));
    } else if subject.chars().count() > 255 || subject.chars().any(char::is_control) {
        problems.push((
            "subject".to_string(),
            "A subject is at most 255 characters, with no control characters.".to_string(),
        ));
    }
    if !problems.is_empty() {
        return Err(ServiceError::Invalid(problems));
    }
    let mut tx = db.begin_write().await?;
    let user = store_sso::user_tx(&mut tx, user_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("not_found", "no such user".into()))?;
    if !store_sso::link_tx(&mut tx, provider, subject, user.id, &actor.username).await? {
        return Err(ServiceError::conflict(
            "identity_linked",
            format!(
                "that {provider} subject is linked to an account already: remove it there first"
            ),
        ));
    }
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "user.identity_linked",
            person_id: None,
            entity: "user",
            entity_id: Some(user.id.to_string()),
            reason: None,
            details: json!({"provider": provider, "subject": subject, "username": user.username}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a link: the subject no longer signs in as this account, and the
/// user's sessions end.
pub async fn unlink_identity(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    provider: &str,
    subject: &str,
) -> Result<(), ServiceError> {
    let mut tx = db.begin_write().await?;
    if !store_sso::unlink_tx(&mut tx, provider, subject, user_id).await? {
        return Err(ServiceError::not_found(
            "not_found",
            "that subject is not linked to this account".into(),
        ));
    }
    let ended = store::delete_user_sessions_tx(&mut tx, user_id, None).await?;
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "user.identity_unlinked",
            person_id: None,
            entity: "user",
            entity_id: Some(user_id.to_string()),
            reason: None,
            details: json!({"provider": provider, "subject": subject, "sessions_ended": ended}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Switches password sign-in on or off for an organisation's users. Off,
/// their next sign-in must come through a provider (sessions already
/// begun run to their end, at most a working day).
pub async fn set_password_sign_in(
    db: &Db,
    actor: &Actor,
    org_code: &str,
    allowed: bool,
) -> Result<(), ServiceError> {
    let mut tx = db.begin_write().await?;
    if store_sso::set_password_sign_in_tx(&mut tx, org_code, allowed).await? == 0 {
        return Err(ServiceError::not_found(
            "not_found",
            format!("no organisation has the code {org_code}"),
        ));
    }
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "organisation.password_sign_in",
            person_id: None,
            entity: "organisation",
            entity_id: Some(org_code.to_string()),
            reason: None,
            details: json!({"allowed": allowed}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether an organisation's users may sign in with a password.
pub async fn password_sign_in(db: &Db, org_code: &str) -> Result<bool, ServiceError> {
    Ok(store_sso::password_sign_in(db, org_code).await?)
}

/// What the provider sent back to the callback, with the `state` this
/// browser's cookie holds.
#[derive(Debug, Default, Deserialize)]
pub struct Answer {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
    /// The issuer the answer says it comes from (RFC 9207), where sent.
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(skip)]
    pub cookie_state: Option<String>,
}

fn token_refused(p: &Provider, e: &openidconnect::ClaimsVerificationError) -> SignOnError {
    SignOnError::TokenRefused(format!("the identity token from {} failed its checks: {e}", p.name))
}

/// An error and its sources on one line (for logs; never a secret).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A provider's own words, cut short: they are shown and audited.
fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Audits a refused sign-in, naming the provider, the subject where one
/// was vouched for, and why.
async fn refusal(
    db: &Db,
    p: &Provider,
    subject: Option<&str>,
    e: &SignOnError,
) -> Result<(), DbError> {
    // A subject the provider vouched for but nobody linked waits for the
    // system administrator (a task), until it is linked.
    if let (SignOnError::UnknownSubject(_), Some(subject)) = (e, subject) {
        store_sso::record_refusal(db, &p.id, subject).await?;
    }
    tracing::warn!(
        target: "security",
        event = "sso_refused",
        provider = %p.id,
        code = e.code(),
        reason = %e
    );
    let actor = Actor {
        user_id: None,
        username: format!("{}:{}", p.id, subject.unwrap_or("unverified")),
        org_code: None,
    };
    store::audit_alone(
        db,
        &actor,
        AuditEntry {
            action: "session.sign_in_refused",
            person_id: None,
            entity: "user",
            entity_id: None,
            reason: None,
            details: json!({"provider": p.id, "subject": subject, "code": e.code(), "reason": e.to_string()}),
        },
    )
    .await
}
