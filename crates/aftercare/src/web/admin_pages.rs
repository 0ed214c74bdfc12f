//! Administration in the browser for system administrators: users (add, roles, disable and enable, a new password), organisations (with successors and validity), partnerships, funding agreements and councils' letters, each page a thin edge over `services::accounts` and `services::admin`, which audit every change.

use std::collections::HashMap;

use aftercare_core::date::long_date;
use aftercare_core::org::OrgKind;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::pages::{Nav, nav_for};
use super::{AppError, AppState, CsrfForm, CurrentUser, Session};
use crate::auth::Role;
use crate::db::store::{OrgRow, UserRow};
use crate::error::{FieldErrors, ServiceError};
use crate::services::{accounts, admin, single_sign_on};

/// A form's fields as typed (or as stored, for an edit) and its problems,
/// by field; the templates read both, so a form never loses its input.
#[derive(Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
    pub errors: FieldErrors,
}

impl Form {
    fn from_pairs(pairs: Vec<(String, String)>) -> Form {
        Form {
            pairs: pairs.into_iter().filter(|(k, _)| k != "csrf_token").collect(),
            errors: Vec::new(),
        }
    }

    fn with(mut self, name: &str, value: impl Into<String>) -> Form {
        self.pairs.push((name.to_string(), value.into()));
        self
    }

    /// A date as the three fields of the date input.
    fn with_date(self, name: &str, date: Option<NaiveDate>) -> Form {
        match date {
            Some(d) => self
                .with(&format!("{name}_day"), d.day().to_string())
                .with(&format!("{name}_month"), d.month().to_string())
                .with(&format!("{name}_year"), d.year().to_string()),
            None => self,
        }
    }

    /// The field's value (the last given), or empty.
    pub fn value(&self, name: &str) -> &str {
        self.pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// One part (`day`, `month`, `year`) of a date input.
    pub fn part(&self, name: &str, part: &str) -> &str {
        let key = format!("{name}_{part}");
        self.pairs.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// Whether a checkbox or radio of the field with this value is chosen.
    pub fn is(&self, name: &str, value: &str) -> bool {
        self.pairs.iter().any(|(k, v)| k == name && v == value)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }

    /// The ids a field is described by: its hint and its error message.
    pub fn described(&self, name: &str, hint: &str) -> String {
        let mut ids = Vec::new();
        if !hint.is_empty() {
            ids.push(format!("{name}-hint"));
        }
        if self.error(name).is_some() {
            ids.push(format!("{name}-error"));
        }
        ids.join(" ")
    }

    fn problem(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push((field.to_string(), reason.into()));
    }

    /// A service's field problems, moved to the form's own field names and
    /// said as a sentence.
    fn service_problems(&mut self, fields: FieldErrors, rename: &[(&str, &str)]) {
        for (field, reason) in fields {
            let field =
                rename.iter().find(|(from, _)| *from == field).map(|(_, to)| *to).unwrap_or(&field);
            let reason = sentence(&reason);
            self.problem(field, reason);
        }
    }

    /// A date from its three fields: None when all are empty.
    fn date(&mut self, name: &str, what: &str) -> Option<NaiveDate> {
        let (d, m, y) = (
            self.part(name, "day").trim().to_string(),
            self.part(name, "month").trim().to_string(),
            self.part(name, "year").trim().to_string(),
        );
        if d.is_empty() && m.is_empty() && y.is_empty() {
            return None;
        }
        let missing: Vec<&str> = [("a day", &d), ("a month", &m), ("a year", &y)]
            .iter()
            .filter(|(_, v)| v.is_empty())
            .map(|(w, _)| *w)
            .collect();
        if !missing.is_empty() {
            self.problem(name, format!("{what} must include {}", missing.join(" and ")));
            return None;
        }
        let date = match (d.parse::<u32>(), m.parse::<u32>(), y.parse::<i32>()) {
            (Ok(d), Ok(m), Ok(y)) if y.to_string().len() == 4 => NaiveDate::from_ymd_opt(y, m, d),
            _ => None,
        };
        if date.is_none() {
            self.problem(
                name,
                format!("{what} must be a real date, written in numbers, for example 31 3 2027"),
            );
        }
        date
    }
}

/// A service's message as a sentence: a capital first letter and a full stop.
fn sentence(s: &str) -> String {
    let mut c = s.chars();
    let mut out = match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect::<String>(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// A success message shown above a list after a save.
pub struct Banner {
    pub title: String,
    pub text: String,
}

/// A choice in a select or a set of radios.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub hint: String,
}

fn choice(value: &str, label: &str, hint: &str) -> Choice {
    Choice { value: value.into(), label: label.into(), hint: hint.into() }
}

/// The administrator's session, or the refusal every other role gets.
fn administrator(s: &Session) -> Result<(), AppError> {
    s.user.administrator()?;
    Ok(())
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn unprocessable(page: impl IntoResponse) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

fn kind_label(kind: &str) -> String {
    OrgKind::parse(kind).map(|k| k.label().to_string()).unwrap_or_else(|| kind.to_string())
}

/// Organisations as choices, by name, optionally only some kinds.
fn org_choices(orgs: &[OrgRow], kinds: &[OrgKind]) -> Vec<Choice> {
    let mut v: Vec<Choice> = orgs
        .iter()
        .filter(|o| kinds.is_empty() || OrgKind::parse(&o.kind).is_some_and(|k| kinds.contains(&k)))
        .map(|o| choice(&o.code, &o.name, ""))
        .collect();
    v.sort_by(|a, b| a.label.cmp(&b.label));
    v
}

const NHS_COMMISSIONERS: &[OrgKind] =
    &[OrgKind::Icb, OrgKind::Ccg, OrgKind::Pct, OrgKind::NhsEngland];

async fn names(state: &AppState) -> Result<HashMap<String, String>, AppError> {
    Ok(crate::services::views::org_names(&state.db).await?)
}

fn name_of(names: &HashMap<String, String>, code: &str) -> String {
    names.get(code).cloned().unwrap_or_else(|| code.to_string())
}

fn date_text(d: Option<NaiveDate>) -> String {
    d.map(long_date).unwrap_or_default()
}

// ---------------------------------------------------------------- the landing page

#[derive(Template, WebTemplate)]
#[template(path = "admin.html")]
struct AdminPage {
    nav: Option<Nav>,
    /// How many of each there are, in words: "4 accounts", "1 partnership".
    users: String,
    orgs: String,
    partnerships: String,
    agreements: String,
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub async fn landing(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    administrator(&s)?;
    Ok(AdminPage {
        nav: Some(nav_for(&state, &s).await),
        users: count(accounts::users(&state.db).await?.len(), "account", "accounts"),
        orgs: count(admin::orgs(&state.db).await?.len(), "organisation", "organisations"),
        partnerships: count(
            admin::partnerships(&state.db).await?.len(),
            "partnership",
            "partnerships",
        ),
        agreements: count(admin::agreements(&state.db).await?.len(), "agreement", "agreements"),
    }
    .into_response())
}

// ---------------------------------------------------------------- users

/// An account as the lists show it.
pub struct UserLine {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub org: String,
    pub roles: String,
    pub team: String,
    pub disabled: bool,
}

fn user_line(u: &UserRow, names: &HashMap<String, String>) -> UserLine {
    UserLine {
        id: u.id,
        username: u.username.clone(),
        name: u.display_name.clone(),
        org: name_of(names, &u.org_code),
        roles: u
            .roles
            .split(',')
            .filter_map(Role::parse)
            .map(|r| r.label())
            .collect::<Vec<_>>()
            .join(", "),
        team: u.team.clone().unwrap_or_default(),
        disabled: u.disabled,
    }
}

fn role_choices() -> Vec<Choice> {
    Role::ALL.iter().map(|r| choice(r.as_str(), r.label(), "")).collect()
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    pub done: String,
    #[serde(default)]
    pub id: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_users.html")]
struct UsersPage {
    nav: Option<Nav>,
    banner: Option<Banner>,
    users: Vec<UserLine>,
}

pub async fn users(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<Done>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let names = names(&state).await?;
    let users: Vec<UserLine> =
        accounts::users(&state.db).await?.iter().map(|u| user_line(u, &names)).collect();
    let who =
        q.id.and_then(|id| users.iter().find(|u| u.id == id))
            .map(|u| u.username.clone())
            .unwrap_or_default();
    let banner = match q.done.as_str() {
        "added" => Some(("Account added", format!("{who} can now sign in with the password you set. Give it to them privately, and ask them to change it if your organisation's policy says so."))),
        "roles" => Some(("Roles changed", format!("The roles of {who} are changed. They hold from the next page {who} opens."))),
        "password" => Some(("New password set", format!("{who} has a new password. Their sessions and API tokens have ended: they sign in again with the new password."))),
        "disabled" => Some(("Account disabled", format!("{who} can no longer sign in. Their sessions and API tokens have ended."))),
        "enabled" => Some(("Account enabled", format!("{who} can sign in again."))),
        "identity" => Some(("Identity linked", format!("{who} can now sign in through the identity provider you chose."))),
        "identity_removed" => Some(("Identity removed", format!("That identity no longer signs in as {who}, and their sessions have ended."))),
        _ => None,
    }
    .filter(|_| !who.is_empty())
    .map(|(title, text)| Banner { title: title.into(), text });
    Ok(UsersPage { nav: Some(nav_for(&state, &s).await), banner, users }.into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_user_new.html")]
struct UserNewPage {
    nav: Option<Nav>,
    csrf_token: String,
    form: Form,
    orgs: Vec<Choice>,
    roles: Vec<Choice>,
}

async fn user_new_page(state: &AppState, s: &Session, form: Form) -> Result<UserNewPage, AppError> {
    Ok(UserNewPage {
        nav: Some(nav_for(state, s).await),
        csrf_token: s.csrf_token.clone(),
        form,
        orgs: org_choices(&admin::orgs(&state.db).await?, &[]),
        roles: role_choices(),
    })
}

pub async fn user_new(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    administrator(&s)?;
    // The organisation defaults to the administrator's own.
    let form = Form::default().with("org", s.user.org_code.clone());
    Ok(user_new_page(&state, &s, form).await?.into_response())
}

pub async fn user_create(
    State(state): State<AppState>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let mut form = Form::from_pairs(pairs);
    let username = form.value("username").trim().to_string();
    let name = form.value("display_name").trim().to_string();
    let org = form.value("org").to_string();
    let team = form.value("team").trim().to_string();
    let password = form.value("password").to_string();
    let roles: Vec<Role> = form.all("roles").filter_map(Role::parse).collect();
    if username.is_empty() {
        form.problem("username", "Enter a user name, for example the person's work email address.");
    }
    if name.is_empty() {
        form.problem("display_name", "Enter the person's full name.");
    }
    if org.is_empty() {
        form.problem("org", "Choose the organisation the person works for.");
    }
    if roles.is_empty() {
        form.problem("roles", "Choose at least one role.");
    }
    if password.is_empty() {
        form.problem("password", "Enter a password for the person's first sign-in.");
    }
    // The service checks these again; checked here too, every problem is
    // shown at once.
    if !username.is_empty()
        && let Err(ServiceError::Invalid(fields)) = accounts::check_username(&username)
    {
        form.service_problems(fields, &[]);
    }
    if !password.is_empty()
        && let Err(e) = crate::auth::check_new_password(&username, &password, false)
    {
        form.problem("password", sentence(&e.to_string()));
    }
    if form.errors.is_empty() {
        let new = accounts::NewAccount {
            username: &username,
            display_name: &name,
            org_code: &org,
            roles: &roles,
            team: Some(team.as_str()).filter(|t| !t.is_empty()),
            password: &password,
        };
        match accounts::add_user(&state.db, &s.user.actor(), &new).await {
            Ok(id) => return Ok(see_other(&format!("/admin/users?done=added&id={id}"))),
            Err(ServiceError::Invalid(fields)) => form.service_problems(fields, &[]),
            Err(ServiceError::Conflict(r)) if r.code == "user_exists" => form.problem(
                "username",
                "There is already an account with this user name: choose another one.",
            ),
            Err(ServiceError::NotFound(r)) if r.code == "no_such_org" => {
                form.problem("org", "Choose the organisation the person works for.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unprocessable(user_new_page(&state, &s, form).await?))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_user.html")]
struct UserPage {
    nav: Option<Nav>,
    csrf_token: String,
    user: UserLine,
    form: Form,
    roles: Vec<Choice>,
    /// The administrator's own account: it cannot be disabled here.
    own: bool,
    /// Identity-provider subjects that sign in as this account.
    identities: Vec<IdentityLine>,
    /// The providers configured, to link a subject of.
    providers: Vec<Choice>,
}

pub struct IdentityLine {
    pub provider: String,
    pub provider_name: String,
    pub subject: String,
    pub linked: String,
}

async fn user_page(
    state: &AppState,
    s: &Session,
    id: i64,
    form: Option<Form>,
) -> Result<UserPage, AppError> {
    let row = accounts::user(&state.db, id).await?;
    let form = form.unwrap_or_else(|| {
        row.roles.split(',').fold(Form::default(), |f, r| f.with("roles", r.trim()))
    });
    let identities = single_sign_on::identities(&state.db, row.id)
        .await?
        .into_iter()
        .map(|i| IdentityLine {
            provider_name: state
                .sign_on
                .name_of(&i.provider)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{} (no longer configured)", i.provider)),
            provider: i.provider,
            subject: i.subject,
            linked: format!("{} by {}", long_date(i.linked_at.date_naive()), i.linked_by),
        })
        .collect();
    Ok(UserPage {
        nav: Some(nav_for(state, s).await),
        csrf_token: s.csrf_token.clone(),
        user: user_line(&row, &names(state).await?),
        form,
        roles: role_choices(),
        own: row.id == s.user.id,
        identities,
        providers: state.sign_on.providers().iter().map(|p| choice(&p.id, &p.name, "")).collect(),
    })
}

/// Links an identity provider's subject to the account.
pub async fn user_identity_link(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let row = accounts::user(&state.db, id).await?;
    let mut form = Form::from_pairs(pairs);
    let provider = form.value("provider").to_string();
    let subject = form.value("subject").to_string();
    if !provider.is_empty() && state.sign_on.name_of(&provider).is_none() {
        form.problem("provider", "Choose one of the identity providers listed.");
    } else {
        match single_sign_on::link_identity(&state.db, &s.user.actor(), row.id, &provider, &subject)
            .await
        {
            Ok(()) => return Ok(see_other(&format!("/admin/users?done=identity&id={id}"))),
            Err(ServiceError::Invalid(fields)) => form.service_problems(fields, &[]),
            Err(ServiceError::Conflict(r)) => form.problem("subject", sentence(&r.message)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unprocessable(user_page(&state, &s, id, Some(form)).await?))
}

/// Removes a subject's link to the account (its sessions end).
pub async fn user_identity_remove(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let row = accounts::user(&state.db, id).await?;
    let form = Form::from_pairs(pairs);
    single_sign_on::unlink_identity(
        &state.db,
        &s.user.actor(),
        row.id,
        form.value("provider"),
        form.value("subject"),
    )
    .await?;
    Ok(see_other(&format!("/admin/users?done=identity_removed&id={id}")))
}

pub async fn user(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    Ok(user_page(&state, &s, id, None).await?.into_response())
}

pub async fn user_roles(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let row = accounts::user(&state.db, id).await?;
    let mut form = Form::from_pairs(pairs);
    let roles: Vec<Role> = form.all("roles").filter_map(Role::parse).collect();
    if roles.is_empty() {
        form.problem("roles", "Choose at least one role.");
    } else {
        match accounts::set_roles(&state.db, &s.user.actor(), &row.username, &roles).await {
            Ok(()) => return Ok(see_other(&format!("/admin/users?done=roles&id={id}"))),
            Err(ServiceError::Invalid(fields)) => form.service_problems(fields, &[]),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unprocessable(user_page(&state, &s, id, Some(form)).await?))
}

pub async fn user_password(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let row = accounts::user(&state.db, id).await?;
    let sent = Form::from_pairs(pairs);
    let password = sent.value("password").to_string();
    // The roles form beside it shows the roles as stored; the password is
    // never sent back to the browser.
    let mut form = row.roles.split(',').fold(Form::default(), |f, r| f.with("roles", r.trim()));
    if password.is_empty() {
        form.problem("password", "Enter the new password.");
    } else {
        match accounts::reset_password(&state.db, &s.user.actor(), &row.username, &password).await {
            Ok(_) => return Ok(see_other(&format!("/admin/users?done=password&id={id}"))),
            Err(ServiceError::Invalid(fields)) => form.service_problems(fields, &[]),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unprocessable(user_page(&state, &s, id, Some(form)).await?))
}

#[derive(Template, WebTemplate)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    nav: Option<Nav>,
    csrf_token: String,
    person_name: String,
    heading: String,
    lines: Vec<String>,
    warning: String,
    action: String,
    hidden: Vec<(String, String)>,
    button: String,
    cancel_href: String,
}

/// The confirmation before a user is disabled.
pub async fn user_disable_confirm(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let row = accounts::user(&state.db, id).await?;
    Ok(ConfirmPage {
        nav: Some(nav_for(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        person_name: format!("{} ({})", row.display_name, row.username),
        heading: format!("Disable the account of {}?", row.display_name),
        lines: vec![
            "Disable the account of someone who has left, or whose account may be misused.".into(),
        ],
        warning: format!(
            "{} will not be able to sign in, and every session and API token of theirs ends at once. Nothing they recorded is removed, and you can enable the account again later.",
            row.username
        ),
        action: format!("/admin/users/{id}/disable"),
        hidden: Vec::new(),
        button: "Disable the account".into(),
        cancel_href: format!("/admin/users/{id}"),
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub confirm: String,
}

pub async fn user_disable(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, f): CsrfForm<ConfirmForm>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let row = accounts::user(&state.db, id).await?;
    if f.confirm != "yes" {
        return Ok(see_other(&format!("/admin/users/{id}/disable")));
    }
    accounts::disable(&state.db, &s.user.actor(), &row.username).await?;
    Ok(see_other(&format!("/admin/users?done=disabled&id={id}")))
}

pub async fn user_enable(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, _): CsrfForm<ConfirmForm>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let row = accounts::user(&state.db, id).await?;
    accounts::enable(&state.db, &s.user.actor(), &row.username).await?;
    Ok(see_other(&format!("/admin/users?done=enabled&id={id}")))
}

// ---------------------------------------------------------------- organisations

pub struct OrgLine {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub from: String,
    pub to: String,
    pub successor: String,
}

#[derive(Deserialize)]
pub struct Saved {
    #[serde(default)]
    pub saved: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_orgs.html")]
struct OrgsPage {
    nav: Option<Nav>,
    banner: Option<Banner>,
    orgs: Vec<OrgLine>,
}

pub async fn orgs(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let rows = admin::orgs(&state.db).await?;
    let names: HashMap<String, String> =
        rows.iter().map(|o| (o.code.clone(), o.name.clone())).collect();
    let banner = names
        .get(&q.saved)
        .map(|n| Banner { title: "Organisation saved".into(), text: format!("{n} is saved.") });
    let mut orgs: Vec<OrgLine> = rows
        .iter()
        .map(|o| OrgLine {
            code: o.code.clone(),
            name: o.name.clone(),
            kind: kind_label(&o.kind),
            from: date_text(o.valid_from),
            to: date_text(o.valid_to),
            successor: o.successor_code.as_deref().map(|c| name_of(&names, c)).unwrap_or_default(),
        })
        .collect();
    orgs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(OrgsPage { nav: Some(nav_for(&state, &s).await), banner, orgs }.into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_org_form.html")]
struct OrgFormPage {
    nav: Option<Nav>,
    csrf_token: String,
    /// The organisation changed (its code is fixed), or None for a new one.
    editing: Option<String>,
    form: Form,
    kinds: Vec<Choice>,
    successors: Vec<Choice>,
    /// Editing: whether its users may sign in with a password.
    password_sign_in: bool,
}

async fn org_form_page(
    state: &AppState,
    s: &Session,
    editing: Option<String>,
    form: Form,
) -> Result<OrgFormPage, AppError> {
    let orgs = admin::orgs(&state.db).await?;
    let successors = org_choices(&orgs, &[])
        .into_iter()
        .filter(|c| Some(&c.value) != editing.as_ref())
        .collect();
    let password_sign_in = match &editing {
        Some(code) => single_sign_on::password_sign_in(&state.db, code).await?,
        None => true,
    };
    Ok(OrgFormPage {
        nav: Some(nav_for(state, s).await),
        csrf_token: s.csrf_token.clone(),
        password_sign_in,
        editing,
        form,
        kinds: OrgKind::ALL.iter().map(|k| choice(k.as_str(), k.label(), "")).collect(),
        successors,
    })
}

pub async fn org_new(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    administrator(&s)?;
    Ok(org_form_page(&state, &s, None, Form::default()).await?.into_response())
}

pub async fn org_edit(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let org = admin::org(&state.db, &code).await?.ok_or(AppError::NotFound)?;
    let form = Form::default()
        .with("code", org.code.clone())
        .with("name", org.name)
        .with("kind", org.kind)
        .with("successor", org.successor_code.unwrap_or_default())
        .with_date("valid_from", org.valid_from)
        .with_date("valid_to", org.valid_to);
    Ok(org_form_page(&state, &s, Some(org.code), form).await?.into_response())
}

/// Switches password sign-in on or off for the organisation's users.
pub async fn org_sign_in(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let form = Form::from_pairs(pairs);
    let allowed = match form.value("passwords") {
        "on" => true,
        "off" => false,
        _ => return Ok(see_other(&format!("/admin/organisations/{code}"))),
    };
    single_sign_on::set_password_sign_in(&state.db, &s.user.actor(), &code, allowed).await?;
    Ok(see_other(&format!("/admin/organisations?saved={code}")))
}

pub async fn org_save(
    State(state): State<AppState>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let mut form = Form::from_pairs(pairs);
    let editing = form.value("editing") == "yes";
    let code = form.value("code").trim().to_ascii_uppercase();
    let name = form.value("name").trim().to_string();
    let kind = form.value("kind").to_string();
    let successor = form.value("successor").to_string();
    if code.is_empty() {
        form.problem(
            "code",
            "Enter the organisation's ODS or GSS code, for example E10000016 or QKS.",
        );
    }
    if name.is_empty() {
        form.problem("name", "Enter the organisation's name.");
    }
    if kind.is_empty() {
        form.problem("kind", "Choose what kind of organisation it is.");
    }
    let valid_from = form.date("valid_from", "The first day");
    let valid_to = form.date("valid_to", "The last day");
    if !editing && !code.is_empty() && admin::org(&state.db, &code).await?.is_some() {
        form.problem(
            "code",
            "An organisation with this code is already on the register: change it from the list of organisations.",
        );
    }
    if form.errors.is_empty() {
        let new = admin::NewOrg {
            code: &code,
            name,
            kind: &kind,
            successor: Some(successor.as_str()).filter(|s| !s.is_empty()),
            valid_from,
            valid_to,
            // Not on the form: an edit keeps the ODS code held.
            ods_code: None,
        };
        match admin::save_org(&state.db, &s.user.actor(), new).await {
            Ok(code) => return Ok(see_other(&format!("/admin/organisations?saved={code}"))),
            Err(ServiceError::Invalid(fields)) => form.service_problems(fields, &[]),
            Err(e) => return Err(e.into()),
        }
    }
    let editing = editing.then_some(code);
    Ok(unprocessable(org_form_page(&state, &s, editing, form).await?))
}

// ---------------------------------------------------------------- partnerships

pub struct PartnershipLine {
    pub council_code: String,
    pub nhs_code: String,
    pub name: String,
    pub council: String,
    pub nhs: String,
    pub review_policy: String,
    pub qa: bool,
    pub days: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_partnerships.html")]
struct PartnershipsPage {
    nav: Option<Nav>,
    banner: Option<Banner>,
    partnerships: Vec<PartnershipLine>,
}

fn policy_label(name: &str) -> String {
    let mut c = name.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

pub async fn partnerships(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let names = names(&state).await?;
    let partnerships: Vec<PartnershipLine> = admin::partnerships(&state.db)
        .await?
        .into_iter()
        .map(|p| PartnershipLine {
            council: name_of(&names, &p.council_code),
            nhs: name_of(&names, &p.nhs_code),
            council_code: p.council_code,
            nhs_code: p.nhs_code,
            name: p.name,
            review_policy: policy_label(&p.review_policy),
            qa: p.qa_ratifies_endings,
            days: p.funding_decision_days,
        })
        .collect();
    let banner = partnerships
        .iter()
        .find(|p| format!("{}+{}", p.council_code, p.nhs_code) == q.saved)
        .map(|p| Banner {
            title: "Partnership saved".into(),
            text: format!("The partnership of {} and {} is saved.", p.council, p.nhs),
        });
    Ok(PartnershipsPage { nav: Some(nav_for(&state, &s).await), banner, partnerships }
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_partnership_form.html")]
struct PartnershipFormPage {
    nav: Option<Nav>,
    csrf_token: String,
    editing: bool,
    form: Form,
    councils: Vec<Choice>,
    nhs: Vec<Choice>,
    policies: Vec<Choice>,
    yes_no: Vec<Choice>,
    unknown_codes: Vec<Choice>,
}

async fn partnership_form_page(
    state: &AppState,
    s: &Session,
    editing: bool,
    form: Form,
) -> Result<PartnershipFormPage, AppError> {
    let orgs = admin::orgs(&state.db).await?;
    Ok(PartnershipFormPage {
        nav: Some(nav_for(state, s).await),
        csrf_token: s.csrf_token.clone(),
        editing,
        form,
        councils: org_choices(&orgs, &[OrgKind::Council]),
        nhs: org_choices(&orgs, NHS_COMMISSIONERS),
        policies: aftercare_core::reviews::policies()
            .iter()
            .map(|p| choice(p.name, &policy_label(p.name), p.rule.title))
            .collect(),
        yes_no: vec![choice("yes", "Yes", ""), choice("no", "No", "")],
        unknown_codes: vec![
            choice(
                "no",
                "Warn",
                "The row is imported, with a warning, and the person is on a worklist until it is put right.",
            ),
            choice(
                "yes",
                "Refuse the row",
                "Nothing in the file is imported until the code is put right.",
            ),
        ],
    })
}

#[derive(Deserialize)]
pub struct PartnershipQuery {
    #[serde(default)]
    pub council: String,
    #[serde(default)]
    pub nhs: String,
}

pub async fn partnership_new(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<PartnershipQuery>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let existing = admin::partnerships(&state.db)
        .await?
        .into_iter()
        .find(|p| p.council_code == q.council && p.nhs_code == q.nhs);
    let form = match &existing {
        Some(p) => Form::default()
            .with("name", p.name.clone())
            .with("council", p.council_code.clone())
            .with("nhs", p.nhs_code.clone())
            .with("review_policy", p.review_policy.clone())
            .with("qa_ratifies_endings", if p.qa_ratifies_endings { "yes" } else { "no" })
            .with("funding_decision_days", p.funding_decision_days.to_string())
            .with("refuse_unknown_codes", if p.refuse_unknown_codes { "yes" } else { "no" }),
        // A task's link names the two bodies to set up.
        None => Form::default()
            .with("council", q.council.clone())
            .with("nhs", q.nhs.clone())
            .with("review_policy", "default")
            .with("qa_ratifies_endings", "no")
            .with("funding_decision_days", "28")
            .with("refuse_unknown_codes", "no"),
    };
    Ok(partnership_form_page(&state, &s, existing.is_some(), form).await?.into_response())
}

pub async fn partnership_save(
    State(state): State<AppState>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let mut form = Form::from_pairs(pairs);
    let editing = form.value("editing") == "yes";
    let name = form.value("name").trim().to_string();
    let council = form.value("council").to_string();
    let nhs = form.value("nhs").to_string();
    let policy = form.value("review_policy").to_string();
    let qa = form.value("qa_ratifies_endings").to_string();
    let days_text = form.value("funding_decision_days").trim().to_string();
    if name.is_empty() {
        form.problem(
            "name",
            "Enter the partnership's name, for example Kent section 117 partnership.",
        );
    }
    if council.is_empty() {
        form.problem("council", "Choose the council.");
    }
    if nhs.is_empty() {
        form.problem("nhs", "Choose the NHS commissioner.");
    }
    if policy.is_empty() {
        form.problem("review_policy", "Choose when reviews are due.");
    }
    if qa.is_empty() {
        form.problem(
            "qa_ratifies_endings",
            "Choose whether the quality-assurance group ratifies endings.",
        );
    }
    let days = days_text.parse::<i64>().ok();
    if days.is_none() {
        form.problem(
            "funding_decision_days",
            "Enter the number of days as a whole number, for example 28.",
        );
    }
    if form.errors.is_empty() {
        let new = admin::NewPartnership {
            council: council.clone(),
            nhs: nhs.clone(),
            name,
            review_policy: policy,
            qa_ratifies_endings: qa == "yes",
            funding_decision_days: days.unwrap_or_default(),
            refuse_unknown_codes: form.value("refuse_unknown_codes") == "yes",
        };
        match admin::save_partnership(&state.db, &s.user.actor(), new).await {
            Ok(()) => {
                let saved = format!("{council}+{nhs}");
                let q = serde_urlencoded::to_string([("saved", saved)]).unwrap_or_default();
                return Ok(see_other(&format!("/admin/partnerships?{q}")));
            }
            Err(ServiceError::Invalid(fields)) => form.service_problems(fields, &[]),
            Err(ServiceError::NotFound(r)) if r.code == "no_such_org" => {
                form.problem("council", "Choose a council and an NHS commissioner from the lists.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unprocessable(partnership_form_page(&state, &s, editing, form).await?))
}

// ---------------------------------------------------------------- funding agreements

pub struct AgreementLine {
    pub council: String,
    pub nhs: String,
    pub policy: String,
    pub terms: String,
    pub from: String,
    pub to: String,
    pub recorded: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_agreements.html")]
struct AgreementsPage {
    nav: Option<Nav>,
    banner: Option<Banner>,
    agreements: Vec<AgreementLine>,
}

pub async fn agreements(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let names = names(&state).await?;
    let agreements = admin::agreements(&state.db)
        .await?
        .into_iter()
        .map(|a| {
            let title = a
                .terms
                .as_ref()
                .map(|t| t.title.clone())
                .or_else(|| aftercare_core::funding::policy(&a.policy).map(|p| p.title))
                .unwrap_or_default();
            AgreementLine {
                council: name_of(&names, &a.council_code),
                nhs: name_of(&names, &a.nhs_code),
                policy: a.policy,
                terms: title,
                from: long_date(a.effective_from),
                to: date_text(a.effective_to),
                recorded: format!("{} by {}", long_date(a.recorded_at.date_naive()), a.recorded_by),
            }
        })
        .collect();
    let banner = (q.saved == "yes").then(|| Banner {
        title: "Funding agreement recorded".into(),
        text: "The agreement is recorded. Who pays follows it from its first day.".into(),
    });
    Ok(AgreementsPage { nav: Some(nav_for(&state, &s).await), banner, agreements }.into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_agreement_form.html")]
struct AgreementFormPage {
    nav: Option<Nav>,
    csrf_token: String,
    form: Form,
    councils: Vec<Choice>,
    nhs: Vec<Choice>,
    policies: Vec<Choice>,
}

async fn agreement_form_page(
    state: &AppState,
    s: &Session,
    form: Form,
) -> Result<AgreementFormPage, AppError> {
    let orgs = admin::orgs(&state.db).await?;
    Ok(AgreementFormPage {
        nav: Some(nav_for(state, s).await),
        csrf_token: s.csrf_token.clone(),
        form,
        councils: org_choices(&orgs, &[OrgKind::Council]),
        nhs: org_choices(&orgs, NHS_COMMISSIONERS),
        policies: aftercare_core::funding::policies()
            .iter()
            .map(|p| choice(&p.name, &p.name, &p.title))
            .collect(),
    })
}

pub async fn agreement_new(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    administrator(&s)?;
    Ok(agreement_form_page(&state, &s, Form::default()).await?.into_response())
}

pub async fn agreement_save(
    State(state): State<AppState>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let mut form = Form::from_pairs(pairs);
    let council = form.value("council").to_string();
    let nhs = form.value("nhs").to_string();
    let policy = form.value("policy").to_string();
    if council.is_empty() {
        form.problem("council", "Choose the council.");
    }
    if nhs.is_empty() {
        form.problem("nhs", "Choose the NHS commissioner.");
    }
    if policy.is_empty() {
        form.problem("policy", "Choose the funding policy the agreement follows.");
    }
    let from = form.date("from", "The first day");
    let to = form.date("to", "The last day");
    if from.is_none() && form.error("from").is_none() {
        form.problem("from", "Enter the first day the agreement applies.");
    }
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        form.problem("to", "The last day must be on or after the first day.");
    }
    if form.errors.is_empty()
        && let Some(from) = from
    {
        let named = admin::AgreedPolicy::Named(policy);
        match admin::record_funding_agreement(
            &state.db,
            &s.user.actor(),
            &council,
            &nhs,
            named,
            from,
            to,
        )
        .await
        {
            Ok(_) => return Ok(see_other("/admin/funding-agreements?saved=yes")),
            Err(ServiceError::Invalid(fields)) => form.service_problems(fields, &[]),
            Err(ServiceError::NotFound(r)) if r.code == "no_such_org" => {
                form.problem("council", "Choose a council and an NHS commissioner from the lists.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unprocessable(agreement_form_page(&state, &s, form).await?))
}

// ---------------------------------------------------------------- letters

fn kind_title(kind: &str) -> Result<String, AppError> {
    crate::services::letters::template_title(kind).ok_or(AppError::NotFound)
}

async fn council(state: &AppState, code: &str) -> Result<OrgRow, AppError> {
    admin::council(&state.db, code).await?.ok_or(AppError::NotFound)
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_letters.html")]
struct LettersPage {
    nav: Option<Nav>,
    councils: Vec<Choice>,
}

pub async fn letters(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let councils = org_choices(&admin::orgs(&state.db).await?, &[OrgKind::Council]);
    Ok(LettersPage { nav: Some(nav_for(&state, &s).await), councils }.into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_council_letters.html")]
struct CouncilLettersPage {
    nav: Option<Nav>,
    banner: Option<Banner>,
    code: String,
    council: String,
    letters: Vec<admin::CouncilLetter>,
}

pub async fn council_letters(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(code): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let org = council(&state, &code).await?;
    let letters = admin::council_letters(&state.db, &org.code).await?;
    let banner = letters.iter().find(|l| l.kind == q.saved).map(|l| Banner {
        title: "Letter saved".into(),
        text: format!("{} of {} is saved: letters made from now on use it.", l.title, org.name),
    });
    Ok(CouncilLettersPage {
        nav: Some(nav_for(&state, &s).await),
        banner,
        code: org.code,
        council: org.name,
        letters,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_letter_form.html")]
struct LetterFormPage {
    nav: Option<Nav>,
    csrf_token: String,
    code: String,
    council: String,
    kind: String,
    title: String,
    placeholders: String,
    form: Form,
}

async fn letter_form_page(
    state: &AppState,
    s: &Session,
    org: OrgRow,
    kind: &str,
    form: Form,
) -> Result<LetterFormPage, AppError> {
    Ok(LetterFormPage {
        nav: Some(nav_for(state, s).await),
        csrf_token: s.csrf_token.clone(),
        code: org.code,
        council: org.name,
        kind: kind.into(),
        title: kind_title(kind)?,
        placeholders: crate::services::letters::placeholders(kind)
            .iter()
            .map(|p| format!("{{{{ {p} }}}}"))
            .collect::<Vec<_>>()
            .join(", "),
        form,
    })
}

pub async fn letter(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path((code, kind)): Path<(String, String)>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let org = council(&state, &code).await?;
    kind_title(&kind)?;
    let text = admin::letter_template(&state.db, &org.code, &kind).await?;
    let form = Form::default().with(aftercare_core::text::LETTER_FIELD, text);
    Ok(letter_form_page(&state, &s, org, &kind, form).await?.into_response())
}

pub async fn letter_save(
    State(state): State<AppState>,
    Path((code, kind)): Path<(String, String)>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let org = council(&state, &code).await?;
    kind_title(&kind)?;
    let mut form = Form::from_pairs(pairs);
    let body = form.value(aftercare_core::text::LETTER_FIELD).replace("\r\n", "\n");
    if body.trim().is_empty() {
        form.problem(aftercare_core::text::LETTER_FIELD, "Enter the letter's text.");
    } else {
        match admin::set_letter_template(&state.db, &s.user.actor(), &org.code, &kind, &body).await
        {
            Ok(()) => {
                return Ok(see_other(&format!("/admin/letters/{}?saved={kind}", org.code)));
            }
            Err(ServiceError::Invalid(fields)) => form.service_problems(
                fields,
                &[
                    ("template", aftercare_core::text::LETTER_FIELD),
                    ("letter", aftercare_core::text::LETTER_FIELD),
                ],
            ),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unprocessable(letter_form_page(&state, &s, org, &kind, form).await?))
}

// ---------------------------------------------------------------- reference data

/// The largest reference file the page takes (the postcode directory goes
/// by the command line).
pub const REFERENCE_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// A reference file loaded, as the page lists it.
pub struct ReleaseLine {
    pub what: &'static str,
    pub file_name: String,
    pub rows: i64,
    pub loaded_at: String,
    pub loaded_by: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_reference.html")]
struct ReferencePage {
    nav: Option<Nav>,
    banner: Option<Banner>,
    csrf_token: String,
    error: Option<String>,
    releases: Vec<ReleaseLine>,
}

fn kind_words(kind: &str) -> &'static str {
    match kind {
        "gp_practices" => "GP practices (ODS)",
        "postcodes" => "Postcode directory (ONS)",
        _ => "ICB codes (ONS)",
    }
}

async fn reference_page(
    state: &AppState,
    s: &Session,
    banner: Option<Banner>,
    error: Option<String>,
) -> Result<ReferencePage, AppError> {
    let releases = crate::services::reference::releases(&state.db)
        .await?
        .into_iter()
        .map(|r| ReleaseLine {
            what: kind_words(&r.kind),
            file_name: r.file_name,
            rows: r.rows,
            loaded_at: r.loaded_at.format("%-d %B %Y at %H:%M").to_string(),
            loaded_by: r.loaded_by,
        })
        .collect();
    Ok(ReferencePage {
        nav: Some(nav_for(state, s).await),
        banner,
        csrf_token: s.csrf_token.clone(),
        error,
        releases,
    })
}

#[derive(Deserialize)]
pub struct LoadedQuery {
    #[serde(default)]
    pub loaded: Option<i64>,
    #[serde(default)]
    pub already: Option<String>,
}

pub async fn reference(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Query(q): Query<LoadedQuery>,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let banner = q.loaded.map(|rows| Banner {
        title: if q.already.is_some() { "Loaded already".into() } else { "File loaded".into() },
        text: if q.already.is_some() {
            format!("This file ({rows} rows) was loaded before: nothing changed.")
        } else {
            format!("{rows} rows loaded. Imports and the worklists read them from now on.")
        },
    });
    Ok(reference_page(&state, &s, banner, None).await?.into_response())
}

/// Takes a reference file (multipart, its CSRF token checked) and loads it.
pub async fn reference_load(
    State(state): State<AppState>,
    crate::web::CsrfMultipart(s, fields): crate::web::CsrfMultipart,
) -> Result<Response, AppError> {
    administrator(&s)?;
    let refused = async |message: String| -> Result<Response, AppError> {
        let page = reference_page(&state, &s, None, Some(message)).await?;
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let Some((name, bytes)) = fields.get("file").filter(|(_, b)| !b.is_empty()) else {
        return refused("Choose the file to load.".into()).await;
    };
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let name = aftercare_core::text::excerpt(if name.is_empty() { "upload.csv" } else { name });
    match crate::services::reference::load(&state.db, &s.user.actor(), &name, bytes).await {
        Ok(l) => {
            let already = if l.already { "&already=yes" } else { "" };
            Ok(see_other(&format!("/admin/reference?loaded={}{already}", l.rows)))
        }
        Err(ServiceError::InvalidFile(errors)) => refused(errors.to_string()).await,
        Err(e) => Err(e.into()),
    }
}
