//! The server-rendered pages: sign in, the register list, the person page
//! and the forms that add people and detentions. Plain HTML forms that work
//! without JavaScript, in the style of the NHS service manual.

use super::OnForm;
use std::collections::HashMap;

use aftercare_core::date::long_date;
use aftercare_core::rules::Body;
use aftercare_core::{NhsNumber, Section};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::NaiveDate;
use serde::Deserialize;

use super::controls::{DateInput, Offer, OrgSelect, Pick};
use super::{AppError, AppState, CsrfForm, CurrentUser, Session, VisiblePerson};
use crate::auth;
use crate::db::store::{self, Actor, ListSort, ListStatus, OrgRow, Search};
use crate::services::register::{self, DetentionFields, PersonFields};
use crate::services::standing::{Standing, Tag};
use crate::services::views::{self, PersonDetail};

/// What the header shows for a signed-in user.
pub struct Nav {
    pub display_name: String,
    pub org_name: String,
    pub csrf_token: String,
    pub can_edit: bool,
    /// For auditors: how many reasons to look wait for review (the alert).
    pub reasons_to_review: Option<usize>,
    /// The register's pages: not for an account that only administers the
    /// system (it has no caseload, so they would all be empty).
    pub register: bool,
    /// The success banner of the change just made, if any.
    pub saved: Option<&'static str>,
    /// The administration pages: for system administrators.
    pub admin: bool,
}

pub async fn nav_for(state: &AppState, s: &Session) -> Nav {
    nav(state, s).await
}

async fn nav(state: &AppState, s: &Session) -> Nav {
    let org_name = store::get_org(&state.db, &s.user.org_code)
        .await
        .ok()
        .flatten()
        .map(|o| o.name)
        .unwrap_or_else(|| s.user.org_code.clone());
    let reasons_to_review = if s.user.has(crate::auth::Role::Auditor) {
        crate::services::access::grants_to_review(&state.db, &s.user).await.ok().map(|g| g.len())
    } else {
        None
    };
    Nav {
        display_name: s.user.display_name.clone(),
        org_name,
        csrf_token: s.csrf_token.clone(),
        can_edit: s.user.can_edit_register(),
        reasons_to_review,
        register: s.user.roles.iter().any(|r| *r != crate::auth::Role::SystemAdministrator),
        saved: s.saved,
        admin: s.user.has(crate::auth::Role::SystemAdministrator),
    }
}

// ---------------------------------------------------------------- reviewing reasons to look

#[derive(Template, WebTemplate)]
#[template(path = "access_reviews.html")]
struct AccessReviewsPage {
    nav: Option<Nav>,
    csrf_token: String,
    grants: Vec<GrantLine>,
}

/// A reason to look waiting for an auditor's review.
struct GrantLine {
    id: i64,
    granted_at: String,
    /// The user, with their organisation's name.
    by: String,
    person_id: i64,
    reason: String,
    until: String,
}

/// Auditors see every reason to look that concerns their organisation
/// until one of them marks it reviewed.
pub async fn access_reviews(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    let grants = crate::services::access::grants_to_review(&state.db, &s.user).await?;
    let names = views::org_names(&state.db).await?;
    Ok(AccessReviewsPage {
        nav: Some(nav(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        grants: grants
            .into_iter()
            .map(|g| {
                let org = names.get(&g.user_org).cloned().unwrap_or_else(|| g.user_org.clone());
                GrantLine {
                    id: g.id,
                    granted_at: g.granted_at.format("%-d %b %Y %H:%M").to_string(),
                    by: format!("{} ({org})", g.username),
                    person_id: g.person_id,
                    reason: g.reason,
                    until: g.expires_at.format("%-d %b %Y %H:%M").to_string(),
                }
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    pub note: String,
}

pub async fn access_review_submit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, f): CsrfForm<ReviewForm>,
) -> Result<Response, AppError> {
    if !crate::services::access::review_grant(&state.db, &s.user, id, &f.note).await? {
        return Err(AppError::Conflict("this reason to look was already reviewed".into()));
    }
    Ok(super::saved("/audit/reasons", "reason_reviewed"))
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Option<Nav>,
    heading: String,
    message: String,
    /// What the user can do next, in plain words.
    next_step: &'static str,
    code: &'static str,
}

pub fn error_page(e: &AppError) -> Response {
    let (status, code) = e.status_and_code();
    let heading = match status {
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::FORBIDDEN => "You cannot do that",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::INTERNAL_SERVER_ERROR => "Sorry, there is a problem with the service",
        _ => "There is a problem",
    };
    let next_step = match status {
        StatusCode::NOT_FOUND => "Check the address, or find the person from the register.",
        StatusCode::FORBIDDEN => {
            "If you need to do this for your work, ask someone with that role in your organisation, or your system administrator."
        }
        StatusCode::TOO_MANY_REQUESTS => "Wait a few minutes, then try again.",
        StatusCode::INTERNAL_SERVER_ERROR => "Try again later. Nothing you entered was saved.",
        StatusCode::CONFLICT => {
            "Go back, reload the page to see the record as it is now, and try again."
        }
        _ => "Go back and check what you entered.",
    };
    let page =
        ErrorPage { nav: None, heading: heading.into(), message: e.message(), next_step, code };
    (status, page).into_response()
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/app.css"),
    )
        .into_response()
}

// ---------------------------------------------------------------- sign in

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf_token: String,
    username: String,
    error: Option<String>,
    /// Where to go after signing in (a local path), carried in a hidden field.
    next: String,
    /// The identity providers to sign in through: (id, name).
    providers: Vec<(String, String)>,
}

fn provider_links(state: &AppState) -> Vec<(String, String)> {
    state.sign_on.providers().iter().map(|p| (p.id.clone(), p.name.clone())).collect()
}

/// The page to open after signing in: `next` if it is a path on this site
/// ([`super::local_path`]), otherwise the start page.
pub fn after_sign_in(next: &str) -> &str {
    super::local_path(next).unwrap_or("/")
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    pub next: String,
}

fn login_csrf_cookie(state: &AppState, token: &str) -> Cookie<'static> {
    let mut c = Cookie::new(super::LOGIN_CSRF_COOKIE, token.to_string());
    c.set_http_only(true);
    c.set_same_site(SameSite::Strict);
    c.set_path("/login");
    c.set_secure(state.config.secure_cookies);
    c
}

pub async fn login_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<NextQuery>,
) -> impl IntoResponse {
    // Log-in CSRF uses a double-submit cookie: there is no session yet.
    let token = auth::random_token();
    let jar = jar.add(login_csrf_cookie(&state, &token));
    // Only a local path is carried on; anything else is dropped here too.
    let next = super::local_path(&q.next).unwrap_or_default().to_string();
    let providers = provider_links(&state);
    (
        jar,
        LoginPage {
            nav: None,
            csrf_token: token,
            username: String::new(),
            error: None,
            next,
            providers,
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login_submit(
    State(state): State<AppState>,
    super::ClientAddress(address): super::ClientAddress,
    jar: CookieJar,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, AppError> {
    super::check_login_csrf(&jar, &form.csrf_token)?;
    let retry = |status: StatusCode, error: &str| {
        let token = auth::random_token();
        let jar = jar.clone().add(login_csrf_cookie(&state, &token));
        // A name too long to be anyone's is not shown back.
        let username: String = form.username.chars().take(auth::MAX_USERNAME_CHARS).collect();
        (
            status,
            jar,
            LoginPage {
                nav: None,
                csrf_token: token,
                username,
                error: Some(error.into()),
                next: super::local_path(&form.next).unwrap_or_default().to_string(),
                providers: provider_links(&state),
            },
        )
            .into_response()
    };
    match crate::services::sign_in::check_login(
        &state.db,
        &state.password_permits,
        &address,
        &form.username,
        &form.password,
        store::SESSION_BROWSER,
    )
    .await?
    {
        crate::services::sign_in::LoginOutcome::SignedIn(_, token) => {
            // Rotate: any earlier session cookie in this browser is replaced.
            if let Some(old) = jar.get(super::SESSION_COOKIE) {
                store::delete_session(&state.db, &auth::token_hash(old.value())).await?;
            }
            let jar = jar
                .remove(Cookie::build(super::LOGIN_CSRF_COOKIE).path("/login"))
                .add(super::session_cookie(&state.config, token));
            Ok((jar, Redirect::to(after_sign_in(&form.next))).into_response())
        }
        crate::services::sign_in::LoginOutcome::Refused => {
            Ok(retry(StatusCode::UNAUTHORIZED, "The user name or password is not right."))
        }
        crate::services::sign_in::LoginOutcome::PasswordsOff => {
            let mut res = retry(
                StatusCode::FORBIDDEN,
                "Your organisation signs in through its identity provider, not with a password. Use the button for it below.",
            );
            res.extensions_mut().insert(super::ErrorCode("password_sign_in_off"));
            Ok(res)
        }
        crate::services::sign_in::LoginOutcome::RateLimited(secs) => {
            let mut res = retry(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Too many failed attempts from here. Wait {} and try again.",
                    super::wait_text(secs)
                ),
            );
            if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res.extensions_mut().insert(super::ErrorCode("rate_limited"));
            Ok(res)
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    CsrfForm(_, _): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    if let Some(c) = jar.get(super::SESSION_COOKIE) {
        store::delete_session(&state.db, &auth::token_hash(c.value())).await?;
    }
    let jar = jar.remove(Cookie::build(super::SESSION_COOKIE).path("/"));
    Ok((jar, Redirect::to("/login")).into_response())
}

// ---------------------------------------------------------------- register list

pub struct PersonListRow {
    pub id: i64,
    pub name: String,
    pub nhs_number: String,
    pub date_of_birth: String,
    pub local_id: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub council: OrgName,
    pub nhs: OrgName,
}

fn show_nhs(n: &Option<String>) -> String {
    n.as_deref()
        .and_then(|n| NhsNumber::parse(n).ok())
        .map(|n| n.formatted())
        .unwrap_or_else(|| "not recorded".into())
}

/// An organisation as pages show it: by name, with its code as secondary
/// text (the code alone where the name is not known; both empty for none).
#[derive(Default)]
pub struct OrgName {
    pub name: String,
    /// Empty when `name` is the code itself.
    pub code: String,
}

impl OrgName {
    pub fn is_empty(&self) -> bool {
        self.name.is_empty()
    }
}

pub fn org_name(names: &HashMap<String, String>, code: &Option<String>) -> OrgName {
    match code {
        Some(c) => match names.get(c) {
            Some(n) => OrgName { name: n.clone(), code: c.clone() },
            None => OrgName { name: c.clone(), code: String::new() },
        },
        None => OrgName::default(),
    }
}

/// "Name (CODE)" in one string, where markup cannot set the code apart.
fn org_label(names: &HashMap<String, String>, code: &Option<String>) -> String {
    let o = org_name(names, code);
    if o.code.is_empty() { o.name } else { format!("{} ({})", o.name, o.code) }
}

#[derive(Template, WebTemplate)]
#[template(path = "people.html")]
struct PeoplePage {
    nav: Option<Nav>,
    query: String,
    /// The search and filters as a query string, for the page links.
    filters_encoded: String,
    /// The filters chosen, which a new search keeps.
    kept_filters: Vec<(String, String)>,
    summary: String,
    rows: Vec<PersonListRow>,
    scoped: bool,
    prev_page: Option<i64>,
    next_page: Option<i64>,
    filtered: bool,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
    council: OrgSelect,
    nhs: OrgSelect,
    team: String,
    teams: Vec<String>,
    lead: String,
    leads: Vec<String>,
    sort: String,
    sorts: Vec<(&'static str, &'static str)>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    council: String,
    #[serde(default)]
    nhs: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    lead: String,
    #[serde(default)]
    sort: String,
}

/// The list's statuses by their value in the address, with their labels.
const LIST_STATUSES: [(&str, &str, ListStatus); 4] = [
    ("decision_needed", "Decision needed", ListStatus::DecisionNeeded),
    ("entitled", "Entitled", ListStatus::Entitled),
    (
        "not_entitled_now",
        "Eligible, not entitled now (in hospital, ended, or leaving to come)",
        ListStatus::NotEntitledNow,
    ),
    ("not_eligible", "Not eligible", ListStatus::NotEligible),
];

/// The list's orders by their value in the address, with their labels.
const LIST_SORTS: [(&str, &str, ListSort); 4] = [
    ("name", "Name", ListSort::Name),
    ("date_of_birth", "Date of birth, oldest first", ListSort::DateOfBirth),
    ("qualifying_date", "Qualifying detention, most recent first", ListSort::QualifyingDate),
    ("newest", "Most recently added", ListSort::Newest),
];

pub use crate::services::views::PAGE_SIZE;

pub async fn people_list(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let page = q.page.unwrap_or(1).clamp(1, i64::MAX / PAGE_SIZE);
    fn chosen(v: &str) -> Option<&str> {
        Some(v.trim()).filter(|v| !v.is_empty())
    }
    // A value not offered (an old bookmark, a hand-typed address) is no filter.
    let status = LIST_STATUSES.iter().find(|(k, _, _)| *k == q.status).map(|(_, _, v)| *v);
    let sort = LIST_SORTS.iter().find(|(k, _, _)| *k == q.sort).map(|(_, _, v)| *v);
    let (people, total) = store::search_people(
        &state.db,
        &Search {
            query: &q.q,
            scope_org: Some(&s.user.org_code),
            limit: PAGE_SIZE,
            offset: (page - 1) * PAGE_SIZE,
            status,
            council: chosen(&q.council),
            nhs: chosen(&q.nhs),
            team: chosen(&q.team),
            lead: chosen(&q.lead),
            sort: sort.unwrap_or_default(),
        },
    )
    .await?;
    let filters: Vec<(&str, &str)> = [
        ("q", q.q.trim()),
        ("status", if status.is_some() { q.status.as_str() } else { "" }),
        ("council", q.council.trim()),
        ("nhs", q.nhs.trim()),
        ("team", q.team.trim()),
        ("lead", q.lead.trim()),
        ("sort", if sort.is_some() { q.sort.as_str() } else { "" }),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let filters_encoded = serde_urlencoded::to_string(&filters).unwrap_or_default();
    let kept_filters: Vec<(String, String)> = filters
        .iter()
        .filter(|(k, _)| *k != "q")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    crate::services::access_log::export(
        &state.db,
        &s,
        crate::services::access_log::AccessKind::PeopleList,
        people.len(),
        Some(&format!("{} page={page}", filters_encoded)),
    )
    .await?;
    let filtered = filters.iter().any(|(k, _)| !matches!(*k, "q" | "sort"));
    // An exact NHS number or local id is a request for that record: open it.
    if let [p] = &people[..]
        && !filtered
    {
        let typed = q.q.trim();
        let digits: String = typed.chars().filter(|c| c.is_ascii_digit()).collect();
        let exact_nhs = p.nhs_number.as_deref().is_some_and(|n| {
            n == digits && typed.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        });
        let exact_local = p.local_id.as_deref().is_some_and(|l| l.eq_ignore_ascii_case(typed));
        if total == 1 && (exact_nhs || exact_local) {
            return Ok(Redirect::to(&format!("/people/{}", p.id)).into_response());
        }
    }
    let names = views::org_names(&state.db).await?;
    let tags = views::list_tags(&state.db, &people).await?;
    let rows = people
        .iter()
        .map(|p| {
            let tag = tags.get(&p.id).copied().unwrap_or(Tag::NotEligible);
            let (status, status_class) = (tag.label(), tag.class());
            PersonListRow {
                id: p.id,
                name: format!("{}, {}", p.family_name.to_uppercase(), p.given_name),
                nhs_number: show_nhs(&p.nhs_number),
                date_of_birth: long_date(p.date_of_birth),
                local_id: p.local_id.clone().unwrap_or_default(),
                status,
                status_class,
                council: org_name(&names, &p.council_code),
                nhs: org_name(&names, &p.nhs_code),
            }
        })
        .collect::<Vec<_>>();
    let searched = !q.q.trim().is_empty() || filtered;
    let summary = match (total, searched) {
        (0, false) => "Nobody is on the register for your organisation yet.".to_string(),
        (0, true) if filtered => "No one matches your search and filters.".to_string(),
        (0, true) => "No one matches your search.".to_string(),
        (1, _) => "1 person".to_string(),
        (n, _) => format!(
            "{n} people{}",
            if n > PAGE_SIZE {
                format!(", page {page} of {}", (n + PAGE_SIZE - 1) / PAGE_SIZE)
            } else {
                String::new()
            }
        ),
    };
    let orgs = crate::services::admin::orgs(&state.db).await?;
    let today = state.today();
    let picker = |id: &str, label: &str, value: &str, pick: Pick| {
        OrgSelect::new(id, label, "", value, None, Offer { pick, orgs: &orgs, today })
            .blank_as("Any")
    };
    let (teams, leads) = store::caseload_teams_and_leads(&state.db, &s.user.org_code).await?;
    Ok(PeoplePage {
        nav: Some(nav(&state, &s).await),
        filters_encoded,
        kept_filters,
        query: q.q.clone(),
        summary,
        rows,
        scoped: true,
        prev_page: (page > 1).then_some(page - 1),
        next_page: (page * PAGE_SIZE < total).then_some(page + 1),
        filtered,
        status: q.status.clone(),
        statuses: LIST_STATUSES.iter().map(|(k, l, _)| (*k, *l)).collect(),
        council: picker("council", "Responsible council", q.council.trim(), Pick::Council),
        nhs: picker("nhs", "Responsible NHS commissioner", q.nhs.trim(), Pick::NhsCommissioner),
        team: q.team.trim().to_string(),
        teams,
        lead: q.lead.trim().to_string(),
        leads,
        sort: q.sort.clone(),
        sorts: LIST_SORTS.iter().map(|(k, l, _)| (*k, *l)).collect(),
    }
    .into_response())
}

// ---------------------------------------------------------------- person page

pub struct EntitlementView {
    pub heading: String,
    pub period: String,
    pub council: OrgName,
    pub council_explanation: String,
    pub council_rule: String,
    pub nhs: OrgName,
    pub nhs_explanation: String,
    pub nhs_rule: String,
    pub pending: String,
}

/// A detention as the person page shows it: each field a line of text.
pub struct DetentionLines {
    pub id: i64,
    /// In hospital on this detention: the latest one, with no date of leaving.
    pub in_hospital: bool,
    pub discharge_gp: String,
    pub section: String,
    pub qualifying: bool,
    pub start: String,
    pub ordinary_residence: OrgName,
    pub gp_practice: OrgName,
    pub gp_commissioner: OrgName,
    pub residence_commissioner: OrgName,
    pub place_of_detention: OrgName,
    pub left_hospital: String,
    pub discharged_to: OrgName,
    pub evidence: String,
    pub recorded: String,
}

pub struct PersonView {
    pub id: i64,
    pub name: String,
    pub nhs_number: String,
    pub local_id: String,
    pub date_of_birth: String,
    pub date_added: String,
    /// Who is responsible now, in plain English, with the tag.
    pub standing: Standing,
    pub eligibility: String,
    pub no_entitlement_reason: String,
    pub entitlements: Vec<EntitlementView>,
    pub open_questions: Vec<String>,
    pub ignored: Vec<String>,
    pub detentions: Vec<DetentionLines>,
    pub corrections: Vec<String>,
    pub timeline: Vec<TimelineLine>,
    pub history: Vec<HistoryLine>,
    pub grant_note: Option<String>,
}

/// An event on the person's timeline.
pub struct TimelineLine {
    pub on: String,
    pub title: String,
    pub detail: String,
}

/// A change to the person's record, from the audit trail.
pub struct HistoryLine {
    pub at: String,
    pub actor: String,
    pub actor_org: String,
    pub action: String,
    pub reason: String,
}

fn rule_text(r: &aftercare_core::rules::RuleRef) -> String {
    format!("{} ({}); {}", r.id, r.title, r.citation)
}

fn person_view(d: &PersonDetail, names: &HashMap<String, String>, today: NaiveDate) -> PersonView {
    let p = &d.person;
    let org = |o: &Option<aftercare_core::OrgCode>| match o {
        Some(c) => org_name(names, &Some(c.to_string())),
        None => OrgName { name: "Not decided".into(), code: String::new() },
    };
    let entitlements = d
        .derivation
        .entitlements
        .iter()
        .enumerate()
        .map(|(i, e)| EntitlementView {
            heading: format!("{}Period {}", if e.reinstated { "Reinstated: " } else { "" }, i + 1),
            period: match (e.end, e.end_reason) {
                (None, _) => format!("From {}, after detention under {} on {}. Open.", long_date(e.start), e.qualifying_section.label(), long_date(e.qualifying_detention_on)),
                (Some(end), reason) => format!(
                    "From {} to {} ({}), after detention under {} on {}.",
                    long_date(e.start),
                    long_date(end),
                    reason.and_then(|r| serde_json::to_value(r).ok()).and_then(|v| v.as_str().map(|s| s.replace('_', " "))).unwrap_or_default(),
                    e.qualifying_section.label(),
                    long_date(e.qualifying_detention_on)
                ),
            },
            council: org(&e.council.org),
            council_explanation: e.council.explanation.clone(),
            council_rule: rule_text(&e.council.rule),
            nhs: org(&e.nhs.org),
            nhs_explanation: e.nhs.explanation.clone(),
            nhs_rule: rule_text(&e.nhs.rule),
            pending: match e.pending_ending {
                Some(Body::Council) => "The council has agreed to end after-care; the NHS commissioner has not. After-care continues.".into(),
                Some(Body::Nhs) => "The NHS commissioner has agreed to end after-care; the council has not. After-care continues.".into(),
                None => String::new(),
            },
        })
        .collect();
    let detentions = d
        .detentions
        .iter()
        .map(|x| {
            let section = Section::parse(&x.section).ok();
            DetentionLines {
                id: x.id,
                in_hospital: x.left_hospital.is_none()
                    && !d.detentions.iter().any(|o| o.detention_start > x.detention_start),
                discharge_gp: match (&x.discharge_gp_practice, &x.discharge_gp_commissioner) {
                    (None, None) => String::new(),
                    (p, c) => format!(
                        "GP after discharge: {}{}",
                        org_label(names, p),
                        c.as_ref()
                            .map(|_| format!(" ({})", org_label(names, c)))
                            .unwrap_or_default()
                    ),
                },
                section: section.map(|s| s.label()).unwrap_or_else(|| x.section.clone()),
                qualifying: section.is_some_and(|s| s.is_qualifying()),
                start: long_date(x.detention_start),
                ordinary_residence: if x.no_fixed_abode {
                    OrgName { name: "No fixed abode".into(), code: String::new() }
                } else {
                    org_name(names, &x.ordinary_residence)
                },
                gp_practice: org_name(names, &x.gp_practice),
                gp_commissioner: org_name(names, &x.gp_commissioner),
                residence_commissioner: org_name(names, &x.residence_commissioner),
                place_of_detention: org_name(names, &x.place_of_detention),
                left_hospital: x
                    .left_hospital
                    .map(long_date)
                    .unwrap_or_else(|| "In hospital".into()),
                discharged_to: org_name(names, &x.discharged_to),
                evidence: x.evidence.clone().unwrap_or_else(|| "None recorded".into()),
                recorded: format!("{} by {}", x.recorded_at.format("%-d %b %Y"), x.recorded_by),
            }
        })
        .collect();
    PersonView {
        id: p.id,
        name: aftercare_core::text::full_name(&p.given_name, &p.family_name),
        nhs_number: show_nhs(&p.nhs_number),
        local_id: p.local_id.clone().unwrap_or_else(|| "none".into()),
        date_of_birth: long_date(p.date_of_birth),
        date_added: long_date(p.date_added),
        standing: views::standing_of(d, today, names),
        eligibility: match &d.derivation.eligibility {
            Some(e) => {
                let mut text = e.explanation.clone();
                if let Some(first) = text.get(0..1) {
                    text.replace_range(0..1, &first.to_uppercase());
                }
                format!("{text} (rule {})", e.rule.id)
            }
            None => "No: no detention under a qualifying section is recorded.".into(),
        },
        no_entitlement_reason: if d.derivation.eligible {
            "the person has not yet left hospital after the qualifying detention.".into()
        } else {
            "no qualifying detention.".into()
        },
        entitlements,
        open_questions: d
            .derivation
            .open_questions
            .iter()
            .map(|q| format!("{} ({}: {})", q.explanation, long_date(q.on), q.rule.id))
            .collect(),
        ignored: d
            .derivation
            .ignored
            .iter()
            .map(|i| {
                format!(
                    "{}: {} – {} (rule {})",
                    long_date(i.on),
                    i.event.replace('_', " "),
                    i.reason,
                    i.rule.id
                )
            })
            .collect(),
        detentions,
        corrections: d
            .superseded
            .iter()
            .map(|x| {
                format!(
                    "{} detention from {}, recorded {} by {}, corrected {}: {}",
                    x.section,
                    long_date(x.detention_start),
                    x.recorded_at.format("%-d %b %Y"),
                    x.recorded_by,
                    x.superseded_at.map(|t| t.format("%-d %b %Y").to_string()).unwrap_or_default(),
                    x.correction_reason.clone().unwrap_or_default()
                )
            })
            .collect(),
        timeline: d
            .timeline
            .iter()
            .map(|t| TimelineLine {
                on: long_date(t.on),
                title: t.title.clone(),
                detail: t.detail.clone(),
            })
            .collect(),
        history: d
            .history
            .iter()
            .map(|h| HistoryLine {
                at: h.at.format("%-d %b %Y %H:%M").to_string(),
                actor: h.actor.clone(),
                actor_org: h.actor_org.clone().unwrap_or_default(),
                action: h.action.replace(['.', '_'], " "),
                reason: h.reason.clone().unwrap_or_default(),
            })
            .collect(),
        grant_note: None,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "person.html")]
struct PersonPage {
    nav: Option<Nav>,
    p: PersonView,
    /// Register changes (detentions, facts): the register role and a part.
    can_edit: bool,
    /// The determination form: as `facts::can_determine` decides.
    can_determine: bool,
    care: super::care::summary::CareSummary,
    /// "Who has looked at this record": for auditors only.
    looked: Option<WhoLooked>,
    letters_sent: Vec<SentLine>,
    /// The postal address for letters, as lines.
    address: Vec<String>,
    can_set_address: bool,
}

/// A letter recorded as sent, as the person page lists it.
struct SentLine {
    id: i64,
    title: String,
    sent_on: String,
    method: &'static str,
    by: String,
}

/// The newest reads of a person from the access log, for an auditor.
struct WhoLooked {
    rows: Vec<ReadLine>,
    total: i64,
    /// More reads are logged than are shown.
    more: bool,
}

/// One read of the person, from the access log.
struct ReadLine {
    at: String,
    username: String,
    org: String,
    /// The kind of read and its route.
    what: String,
    /// The recorded reason it was read under, if it was break-glass.
    grant: String,
}

/// The person page shows the newest reads; `aftercare audit access` has them all.
const LOOKED_SHOWN: i64 = 50;

async fn who_looked(
    db: &crate::db::Db,
    s: &Session,
    id: i64,
) -> Result<Option<WhoLooked>, AppError> {
    if !s.user.has(crate::auth::Role::Auditor) {
        return Ok(None);
    }
    let rows = crate::services::access_log::for_person(db, id, LOOKED_SHOWN).await?;
    let total = crate::services::access_log::count_for_person(db, id).await?;
    Ok(Some(WhoLooked {
        more: total > rows.len() as i64,
        rows: rows
            .into_iter()
            .map(|r| ReadLine {
                at: r.at.format("%-d %B %Y %H:%M:%S").to_string(),
                username: r.username,
                org: r.org_code.unwrap_or_default(),
                what: format!("{} ({})", r.kind.replace('_', " "), r.route.unwrap_or_default()),
                grant: r
                    .grant_id
                    .map(|g| format!("under recorded reason #{g}"))
                    .unwrap_or_default(),
            })
            .collect(),
        total,
    }))
}

pub async fn person_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    // Scope first: an id outside the user's scope and an id nobody holds
    // answer alike (state a reason), so ids cannot be enumerated.
    views::ensure_can_view(&state.db, &s, id).await?;
    let detail =
        views::person_detail(&state.db, id, state.today()).await?.ok_or(AppError::NotFound)?;
    let names = views::org_names(&state.db).await?;
    let mut p = person_view(&detail, &names, state.today());
    let has_part = crate::services::access::has_part(&state.db, &s.user, id).await?;
    if !has_part {
        p.grant_note = Some("Your organisation has no part in this person's care. You recorded a reason for looking; it is in the history below, and lets you read this record, not change it.".into());
    }
    let mut care = super::care::summary::care_summary(
        &state,
        &s,
        id,
        &detail.derivation,
        detail.person.transforming_care,
    )
    .await?;
    // A reason to look is read-only: no change links without a part.
    care.can_plan &= has_part;
    care.can_name_lead &= has_part;
    let can_determine = crate::services::facts::can_determine(
        &state.db,
        &s.user,
        id,
        &detail.detentions,
        &detail.derivation,
    )
    .await?;
    Ok(PersonPage {
        nav: Some(nav(&state, &s).await),
        p,
        can_edit: s.user.can_edit_register() && has_part,
        can_determine,
        care,
        looked: who_looked(&state.db, &s, id).await?,
        address: crate::services::letters::address_of(&state.db, id).await?,
        can_set_address: has_part && crate::services::letters::can_send(&s.user),
        letters_sent: crate::services::letters::sent_for_person(&state.db, id)
            .await?
            .into_iter()
            .map(|l| SentLine {
                id: l.id,
                title: l.letter.title,
                sent_on: long_date(l.sent_on),
                method: l.method,
                by: l.recorded_by,
            })
            .collect(),
    })
}

// ---------------------------------------------------------------- stating a reason

#[derive(Template, WebTemplate)]
#[template(path = "access.html")]
struct AccessPage {
    nav: Option<Nav>,
    person_id: i64,
    csrf_token: String,
    error: Option<String>,
}

pub async fn access_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    // Shown for any id: whether someone holds it is told only once a
    // reason has been given (and recorded).
    Ok(AccessPage {
        nav: Some(nav(&state, &s).await),
        person_id: id,
        csrf_token: s.csrf_token.clone(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    pub reason: String,
}

pub async fn access_submit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, form): CsrfForm<ReasonForm>,
) -> Result<Response, AppError> {
    if let Err(errors) =
        crate::services::access::record_reason(&state.db, &s.user, id, &form.reason)
            .await
            .on_form()?
    {
        let page = AccessPage {
            nav: Some(nav(&state, &s).await),
            person_id: id,
            csrf_token: s.csrf_token.clone(),
            error: errors.into_iter().next().map(|(_, why)| why),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    Ok(super::saved(&format!("/people/{id}"), "reason_recorded"))
}

// ---------------------------------------------------------------- forms

/// Field values and errors of a form being filled in, with the
/// organisation directory its pickers offer.
#[derive(Default)]
pub struct FormView {
    pub values: HashMap<String, String>,
    pub errors: Vec<(String, String)>,
    pub orgs: Vec<OrgRow>,
    pub today: NaiveDate,
}

impl FormView {
    /// A form with `values` and `errors`, its pickers offering the
    /// directory's organisations.
    pub async fn load(
        state: &AppState,
        values: HashMap<String, String>,
        errors: Vec<(String, String)>,
    ) -> Result<Self, AppError> {
        let orgs = crate::services::admin::orgs(&state.db).await?;
        Ok(FormView { values, errors, orgs, today: state.today() })
    }

    /// A blank form for a new person, the place of detention set to the
    /// user's own trust (a trust's MHA office records its own patients).
    /// The fields that decide who is responsible (residence, commissioners)
    /// are never filled in for the user: each is a fact to be chosen.
    pub async fn for_new(state: &AppState, s: &Session) -> Result<Self, AppError> {
        let mut form = FormView::load(state, HashMap::new(), Vec::new()).await?;
        let own = &s.user.org_code;
        if let Some(kind) = form.orgs.iter().find(|o| &o.code == own).map(|o| o.kind.clone())
            && form.pick("place_of_detention").is_some_and(|p| p.offers(&kind))
        {
            form.values.insert("place_of_detention".to_string(), own.clone());
        }
        Ok(form)
    }

    /// Which organisations a field's picker offers, for the fields that
    /// name an organisation chosen from the directory.
    pub fn pick(&self, name: &str) -> Option<Pick> {
        match name {
            "ordinary_residence" | "discharged_to" => Some(Pick::Council),
            "gp_commissioner" | "residence_commissioner" | "discharge_gp_commissioner" => {
                Some(Pick::NhsCommissioner)
            }
            "place_of_detention" => Some(Pick::Trust),
            _ => None,
        }
    }

    /// The day, month and year boxes of date field `name`.
    pub fn date_input_with(&self, name: &str, label: &str, hint: &str) -> DateInput {
        DateInput::new(name, name, label, hint, self.value(name), self.error(name))
    }

    /// The picker of organisation field `name`.
    pub fn org_select_with(&self, name: &str, label: &str, hint: &str) -> OrgSelect {
        let pick = self.pick(name).unwrap_or(Pick::Council);
        let (value, error) = (self.value(name), self.error(name));
        let offer = Offer { pick, orgs: &self.orgs, today: self.today };
        OrgSelect::new(name, label, hint, value, error, offer)
    }

    pub fn date_input(&self, name: &str) -> DateInput {
        self.date_input_with(name, self.label(name), self.hint(name))
    }

    pub fn org_select(&self, name: &str) -> OrgSelect {
        self.org_select_with(name, self.label(name), self.hint(name))
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }

    pub fn person_fields(&self) -> Vec<&'static str> {
        vec!["nhs_number", "local_id", "given_name", "family_name", "date_of_birth"]
    }

    pub fn detention_fields(&self) -> Vec<&'static str> {
        vec![
            "section",
            "detention_start",
            "no_fixed_abode",
            "ordinary_residence",
            "gp_practice",
            "gp_commissioner",
            "residence_commissioner",
            "place_of_detention",
            "left_hospital",
            "discharged_to",
            "evidence",
        ]
    }

    pub fn kind(&self, name: &str) -> &'static str {
        match name {
            "no_fixed_abode" => "radio",
            "evidence" => "textarea",
            "date_of_birth" | "detention_start" | "left_hospital" => "date",
            _ if self.pick(name).is_some() => "org",
            _ => "text",
        }
    }

    pub fn label(&self, name: &str) -> &'static str {
        match name {
            "nhs_number" => "NHS number",
            "local_id" => "Local id (if there is no NHS number)",
            "given_name" => "Given name",
            "family_name" => "Family name",
            "date_of_birth" => "Date of birth",
            "section" => "Section of the Mental Health Act",
            "detention_start" => "Date the detention began",
            "no_fixed_abode" => "Did the person have no fixed abode when detained?",
            "ordinary_residence" => "Council of ordinary residence immediately before detention",
            "gp_practice" => "GP practice",
            "gp_commissioner" => "NHS commissioner of the GP practice",
            "residence_commissioner" => "NHS commissioner where the person usually lives",
            "place_of_detention" => "Place of detention",
            "left_hospital" => "Date the person left hospital",
            "discharged_to" => "Council area the person was discharged to",
            "evidence" => "Evidence seen",
            "form" => "Form",
            _ => "Field",
        }
    }

    pub fn hint(&self, name: &str) -> &'static str {
        match name {
            "nhs_number" => "10 digits, for example 943 476 5919",
            "date_of_birth" => "For example, 27 3 1980",
            "detention_start" => "For example, 9 1 2023",
            "left_hospital" => {
                "Leave blank if the person is still in hospital. For example, 20 4 2023"
            }
            "section" => "For example 3, 37/41, 2, 5(2), or an MHSDS code such as mhsds:03",
            "ordinary_residence" => "Leave as not recorded if the person had no fixed abode",
            "discharged_to" => "Leave as not recorded if the person is still in hospital",
            "gp_commissioner" | "residence_commissioner" => {
                "For a detention before July 2022, the clinical commissioning group of the time"
            }
            "gp_practice" => "ODS code, for example A81001",
            "place_of_detention" => "The NHS trust running the hospital",
            "no_fixed_abode" => {
                "If yes, the council is the one for the area the person is discharged to"
            }
            "evidence" => {
                "For s3: AMHP application (form A6) and two medical recommendations (A7 or A8); for s37 or s45A the court order; for s47 or s48 the Ministry of Justice transfer direction"
            }
            _ => "",
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "person_new.html")]
struct PersonNewPage {
    nav: Option<Nav>,
    csrf_token: String,
    form: FormView,
}

pub async fn person_new(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    s.user.register_editor()?;
    Ok(PersonNewPage {
        nav: Some(nav(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        form: FormView::for_new(&state, &s).await?,
    })
}

#[derive(Deserialize)]
pub struct PersonForm {
    #[serde(flatten)]
    person: PersonFieldsForm,
}

/// Form fields as strings (serde `flatten` cannot mix two structs' defaults well).
#[derive(Deserialize, Default)]
pub struct PersonFieldsForm {
    #[serde(default)]
    nhs_number: String,
    #[serde(default)]
    local_id: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    section: String,
    #[serde(default)]
    detention_start: String,
    #[serde(default)]
    ordinary_residence: String,
    #[serde(default)]
    no_fixed_abode: String,
    #[serde(default)]
    gp_practice: String,
    #[serde(default)]
    gp_commissioner: String,
    #[serde(default)]
    residence_commissioner: String,
    #[serde(default)]
    place_of_detention: String,
    #[serde(default)]
    left_hospital: String,
    #[serde(default)]
    discharged_to: String,
    #[serde(default)]
    evidence: String,
}

impl PersonFieldsForm {
    fn split(&self) -> (PersonFields, DetentionFields) {
        (
            PersonFields {
                nhs_number: self.nhs_number.clone(),
                local_id: self.local_id.clone(),
                family_name: self.family_name.clone(),
                given_name: self.given_name.clone(),
                date_of_birth: self.date_of_birth.clone(),
            },
            DetentionFields {
                section: self.section.clone(),
                detention_start: self.detention_start.clone(),
                ordinary_residence: self.ordinary_residence.clone(),
                no_fixed_abode: self.no_fixed_abode.clone(),
                gp_practice: self.gp_practice.clone(),
                gp_commissioner: self.gp_commissioner.clone(),
                residence_commissioner: self.residence_commissioner.clone(),
                place_of_detention: self.place_of_detention.clone(),
                left_hospital: self.left_hospital.clone(),
                discharged_to: self.discharged_to.clone(),
                evidence: self.evidence.clone(),
            },
        )
    }

    fn values(&self) -> HashMap<String, String> {
        [
            ("nhs_number", &self.nhs_number),
            ("local_id", &self.local_id),
            ("family_name", &self.family_name),
            ("given_name", &self.given_name),
            ("date_of_birth", &self.date_of_birth),
            ("section", &self.section),
            ("detention_start", &self.detention_start),
            ("ordinary_residence", &self.ordinary_residence),
            ("no_fixed_abode", &self.no_fixed_abode),
            ("gp_practice", &self.gp_practice),
            ("gp_commissioner", &self.gp_commissioner),
            ("residence_commissioner", &self.residence_commissioner),
            ("place_of_detention", &self.place_of_detention),
            ("left_hospital", &self.left_hospital),
            ("discharged_to", &self.discharged_to),
            ("evidence", &self.evidence),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }
}

pub async fn person_create(
    State(state): State<AppState>,
    CsrfForm(s, form): CsrfForm<PersonForm>,
) -> Result<Response, AppError> {
    let editor = s.user.register_editor()?;
    let (person, detention) = form.person.split();
    match register::add_person(&state.db, &editor, &person, &detention, state.today())
        .await
        .on_form()?
    {
        Ok(id) => Ok(super::saved(&format!("/people/{id}"), "person_added")),
        Err(errors) => {
            let page = PersonNewPage {
                nav: Some(nav(&state, &s).await),
                csrf_token: s.csrf_token.clone(),
                form: FormView::load(&state, form.person.values(), errors).await?,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "detention_new.html")]
struct DetentionNewPage {
    nav: Option<Nav>,
    csrf_token: String,
    person_id: i64,
    person_name: String,
    form: FormView,
}

pub async fn detention_new(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    seen: VisiblePerson,
) -> Result<impl IntoResponse, AppError> {
    s.user.register_editor()?;
    Ok(DetentionNewPage {
        nav: Some(nav(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        person_id: seen.id,
        person_name: seen.name(),
        form: FormView::load(&state, HashMap::new(), Vec::new()).await?,
    })
}

pub async fn detention_create(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, form): CsrfForm<PersonFieldsForm>,
) -> Result<Response, AppError> {
    let editor = s.user.register_editor()?;
    let id = seen.id;
    let (_, detention) = form.split();
    match register::add_detention(&state.db, &editor, id, &detention, state.today())
        .await
        .on_form()?
    {
        Ok(_) => Ok(super::saved(&format!("/people/{id}#detentions"), "detention_added")),
        Err(errors) => {
            let page = DetentionNewPage {
                nav: Some(nav(&state, &s).await),
                csrf_token: s.csrf_token.clone(),
                person_id: id,
                person_name: seen.name(),
                form: FormView::load(&state, form.values(), errors).await?,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// The actor for audit entries made on behalf of a session.
pub fn actor_of(s: &Session) -> Actor {
    s.user.actor()
}
