//! Signing in through an identity provider: the link that sends the browser
//! to the provider, and the address it comes back to. The flow and every
//! check are the service's ([`crate::services::single_sign_on`]); this edge
//! keeps the `state` in a cookie and turns refusals into a page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::AppState;
use super::pages::{Nav, NextQuery, after_sign_in};
use crate::auth;
use crate::db::store;
use crate::services::single_sign_on::{Answer, FLOW_MINUTES, SignOnError};

/// Holds the `state` of the sign-in this browser began. `Lax`, not
/// `Strict`: the provider sends the browser back by a top-level navigation
/// from its own site, which a `Strict` cookie would not ride on.
const STATE_COOKIE: &str = "aftercare_sso_state";
const STATE_PATH: &str = "/login/sso";

fn state_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let mut c = Cookie::new(STATE_COOKIE, value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_path(STATE_PATH);
    c.set_secure(state.config.secure_cookies);
    c.set_max_age(cookie::time::Duration::minutes(FLOW_MINUTES));
    c
}

#[derive(Template, WebTemplate)]
#[template(path = "sign_in_refused.html")]
struct RefusedPage {
    nav: Option<Nav>,
    heading: String,
    message: String,
    advice: String,
}

/// The page for a sign-in that did not finish, with the status its cause
/// deserves; internal failures say nothing of themselves.
fn refused(jar: CookieJar, e: &SignOnError) -> Response {
    let (status, heading, advice) = match e {
        SignOnError::UnknownProvider(_) => (
            StatusCode::NOT_FOUND,
            "No such way to sign in",
            "Go back to the sign-in page and choose again.",
        ),
        SignOnError::ProviderUnreachable(_) => (
            StatusCode::BAD_GATEWAY,
            "Your identity provider could not be reached",
            "Try again in a few minutes. If it goes on, tell your organisation's IT service desk.",
        ),
        SignOnError::FlowUnknown(_) => (
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "Start again from the sign-in page: each sign-in can be finished once, within 10 minutes, in the browser that began it.",
        ),
        SignOnError::UnknownSubject(_) => (
            StatusCode::FORBIDDEN,
            "Your account is not set up in Aftercare",
            "Ask your organisation's Aftercare administrator to link your account, quoting the identifier above. Nothing about you has been recorded beyond this attempt.",
        ),
        SignOnError::AccountDisabled => (
            StatusCode::FORBIDDEN,
            "Your Aftercare account is disabled",
            "Ask your organisation's Aftercare administrator to enable it.",
        ),
        SignOnError::ProviderRefused(_) | SignOnError::TokenRefused(_) => (
            StatusCode::FORBIDDEN,
            "You could not be signed in",
            "Start again from the sign-in page. If it happens again, tell your Aftercare administrator the time it happened.",
        ),
        SignOnError::Settings(_) | SignOnError::Db(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sorry, there is a problem with the service",
            "Try again later.",
        ),
    };
    let message = match e {
        SignOnError::Settings(_) | SignOnError::Db(_) => {
            tracing::error!(error = %e, "single sign-on failed");
            String::new()
        }
        other => sentence(&other.to_string()),
    };
    let mut res = (
        status,
        jar.remove(Cookie::build(STATE_COOKIE).path(STATE_PATH)),
        RefusedPage { nav: None, heading: heading.into(), message, advice: advice.into() },
    )
        .into_response();
    res.extensions_mut().insert(super::ErrorCode(e.code()));
    res
}

fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().chain(chars).collect();
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

/// `GET /login/sso/{provider}`: sends the browser to the provider.
pub async fn begin(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(provider): Path<String>,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = super::local_path(&q.next).unwrap_or_default();
    match state.sign_on.begin(&state.db, &provider, next).await {
        Ok(begun) => {
            (jar.add(state_cookie(&state, begun.state)), Redirect::to(&begun.url)).into_response()
        }
        Err(e) => refused(jar, &e),
    }
}

/// `GET /login/sso/{provider}/callback`: the provider's answer. Signed in,
/// any earlier session of this browser ends and the new one begins.
pub async fn callback(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(provider): Path<String>,
    Query(mut answer): Query<Answer>,
) -> Response {
    answer.cookie_state = jar.get(STATE_COOKIE).map(|c| c.value().to_string());
    match state.sign_on.finish(&state.db, &provider, &answer).await {
        Ok(signed_in) => {
            if let Some(old) = jar.get(super::SESSION_COOKIE)
                && let Err(e) =
                    store::delete_session(&state.db, &auth::token_hash(old.value())).await
            {
                return refused(jar, &SignOnError::Db(e));
            }
            let to = after_sign_in(&signed_in.next).to_string();
            let jar = jar
                .remove(Cookie::build(STATE_COOKIE).path(STATE_PATH))
                .add(super::session_cookie(&state.config, signed_in.token));
            (jar, Redirect::to(&to)).into_response()
        }
        Err(e) => refused(jar, &e),
    }
}
