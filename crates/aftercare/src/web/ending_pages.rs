//! Pages for ending and reinstating after-care: proposals, each body's
//! decision, letters (HTML and PDF) and reinstatement requests.

use super::VisiblePerson;
use aftercare_core::date::long_date;
use aftercare_core::rules::EndingReason;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::fact_pages::person_name;
use super::pages::{Nav, nav_for};
use super::{AppError, AppState, CsrfForm, CurrentUser, Session};
use crate::auth::Role;
use crate::db::endings as q;
use crate::error::{FieldErrors, ServiceError};
use crate::services::endings::{
    self, DecisionFields, HistoricalFields, ProposalFields, ReinstateFields,
};

/// A required decision as the page shows it.
pub struct AwaitedView {
    pub body: &'static str,
    pub org: String,
    pub state: String,
    pub state_class: &'static str,
}

pub struct ProposalView {
    pub id: i64,
    pub proposed_on: String,
    pub status: String,
    pub status_class: &'static str,
    pub open: bool,
    pub historical: bool,
    pub evidence: String,
    pub version: i64,
    pub warnings: Vec<String>,
    pub late: bool,
    pub reassessment_on: String,
    pub mdt: String,
    pub person_views: String,
    pub carer_views: String,
    pub reasons: String,
    pub alternative: String,
    pub decisions: Vec<String>,
    pub awaited: Vec<AwaitedView>,
    /// The bodies this user may decide for now (empty: no form).
    pub my_bodies: Vec<(&'static str, &'static str)>,
    /// Why this user sees no decision form, when they hold a deciding role.
    pub why_no_form: String,
    pub letters: Vec<(&'static str, &'static str)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "endings.html")]
struct EndingsPage {
    nav: Option<Nav>,
    person_id: i64,
    person_name: String,
    csrf_token: String,
    errors: FieldErrors,
    ratifies: bool,
    proposals: Vec<ProposalView>,
    can_propose: bool,
    can_reinstate: bool,
    has_reinstatement: bool,
    can_record_history: bool,
    today: String,
    reason_options: Vec<(&'static str, &'static str, bool)>,
    /// What was typed, shown again after an error.
    typed: Vec<(String, String)>,
    qualifying_detentions: Vec<(String, String)>,
    requesters: [(&'static str, &'static str); 3],
}

impl EndingsPage {
    /// The value typed into a field before an error, or `default`.
    fn typed_or(&self, field: &str, default: &str) -> String {
        self.typed
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| default.to_string())
    }

    fn ticked(&self, field: &str, value: &str) -> bool {
        self.typed.iter().any(|(k, v)| k == field && v == value)
    }
}

fn decision_label(d: &q::DecisionRow) -> String {
    format!(
        "{}: {} on {} by {} ({}): {}",
        endings::body_label(&d.body),
        if d.agrees { "agrees" } else { "disagrees" },
        long_date(d.decided_on),
        d.decided_by,
        d.org_code,
        d.reason
    )
}

async fn page(
    state: &AppState,
    s: &Session,
    id: i64,
    errors: FieldErrors,
    typed: Vec<(String, String)>,
) -> Result<EndingsPage, AppError> {
    let name = person_name(state, s, id).await?;
    let today = state.today();
    let all = endings::proposals(&state.db, id, today).await?;
    let d = crate::services::views::person_detail(&state.db, id, today)
        .await?
        .ok_or(AppError::NotFound)?;
    let names = crate::services::views::org_names(&state.db).await?;
    // A reason to look reads; it changes nothing, so no form is offered.
    let has_part = crate::services::access::has_part(&state.db, &s.user, id).await?;
    let org_name = |code: &Option<String>| match code {
        Some(c) => names.get(c).map(|n| format!("{n} ({c})")).unwrap_or_else(|| c.clone()),
        None => "undecided".to_string(),
    };
    let open_period =
        d.derivation.entitlements.iter().find(|e| e.end.is_none() && e.start <= today);
    let ratifies = match open_period {
        Some(e) => endings::partnership_ratifies(&state.db, e).await?,
        None => false,
    };
    let mut views = Vec::new();
    for (p, decisions, v) in &all {
        let reasons = endings::parse_reasons(&p.reasons).unwrap_or_default();
        let period = endings::period_of(p, &d.derivation);
        let p_ratifies = match period {
            Some(e) => endings::partnership_ratifies(&state.db, e).await?,
            None => false,
        };
        let waiting = matches!(v.status, "open" | "disagreed");
        let my_bodies: Vec<(&'static str, &'static str)> = match (waiting, period) {
            (true, Some(e)) => endings::decidable_bodies(&s.user, e, p_ratifies, decisions)
                .into_iter()
                .map(|b| (b, endings::body_label(b)))
                .collect(),
            _ => Vec::new(),
        };
        let decider = s.user.has(Role::Commissioner) || s.user.has(Role::QaGroup);
        let why_no_form = if waiting && decider && my_bodies.is_empty() {
            "You cannot record a decision on this proposal: each body decides for itself (a commissioner of the responsible council or NHS body, or the QA group once both have agreed), and one person supplies at most one decision.".to_string()
        } else {
            String::new()
        };
        let awaited = endings::progress(p, period, p_ratifies, decisions)
            .into_iter()
            .map(|a| {
                let (state, class) = match (a.decided, a.agrees) {
                    (true, Some(true)) => (
                        format!(
                            "Agreed on {} by {}",
                            a.decided_on.map(long_date).unwrap_or_default(),
                            a.decided_by.clone().unwrap_or_default()
                        ),
                        "green",
                    ),
                    (true, _) => (
                        format!(
                            "Disagreed on {} by {}",
                            a.decided_on.map(long_date).unwrap_or_default(),
                            a.decided_by.clone().unwrap_or_default()
                        ),
                        "red",
                    ),
                    _ if !waiting => ("Not decided".to_string(), "grey"),
                    _ => match a.due {
                        Some(due) if due < today => {
                            (format!("Awaited: overdue since {}", long_date(due)), "red")
                        }
                        Some(due) => (format!("Awaited by {}", long_date(due)), "yellow"),
                        None => ("Awaited once both bodies agree".to_string(), "grey"),
                    },
                };
                AwaitedView {
                    body: endings::body_label(a.body),
                    org: if a.body == "qa_group" { "Joint".into() } else { org_name(&a.org) },
                    state,
                    state_class: class,
                }
            })
            .collect();
        views.push(ProposalView {
            id: p.id,
            proposed_on: long_date(p.proposed_on),
            status: match (v.status, &v.lapsed_because) {
                ("ended", _) => {
                    format!("after-care ended on {}", v.ended_on.map(long_date).unwrap_or_default())
                }
                ("disagreed", _) => "the bodies disagree: after-care continues".into(),
                ("open", _) => "waiting for decisions: after-care continues".into(),
                ("lapsed", Some(why)) => format!("lapsed: {why}"),
                (other, _) => other.to_string(),
            },
            status_class: match v.status {
                "ended" | "lapsed" | "withdrawn" => "grey",
                "disagreed" => "red",
                _ => "yellow",
            },
            open: waiting,
            historical: p.historical,
            evidence: p.evidence.clone().unwrap_or_default(),
            version: p.version,
            warnings: v.warnings.clone(),
            late: v.status == "ended" && endings::register_change_late(p, decisions),
            reassessment_on: long_date(p.reassessment_on),
            mdt: p.mdt_attendees.clone(),
            person_views: format!(
                "{}{}",
                p.person_views,
                if p.imha_support { " (with IMHA support)" } else { " (without IMHA support)" }
            ),
            carer_views: p.carer_views.clone().unwrap_or_else(|| "Not recorded".into()),
            reasons: reasons.iter().map(|r| r.label()).collect::<Vec<_>>().join("; ")
                + &format!(". {}", p.reason_text),
            alternative: p
                .alternative_accommodation
                .clone()
                .unwrap_or_else(|| "Not applicable".into()),
            decisions: decisions.iter().map(decision_label).collect(),
            awaited,
            my_bodies,
            why_no_form,
            letters: if v.status == "ended" { endings::LETTER_KINDS.to_vec() } else { Vec::new() },
        });
    }
    let has_open = open_period.is_some();
    let last_ended = d
        .derivation
        .entitlements
        .last()
        .is_some_and(|e| e.end_reason == Some(aftercare_core::rules::EndReason::JointDecision));
    let mut qualifying_detentions: Vec<(String, String)> = d
        .derivation
        .entitlements
        .iter()
        .filter(|e| e.end_reason != Some(aftercare_core::rules::EndReason::JointDecision))
        .map(|e| {
            (
                e.qualifying_detention_on.to_string(),
                format!(
                    "Detention under {} on {} (after-care from {})",
                    e.qualifying_section.label(),
                    long_date(e.qualifying_detention_on),
                    long_date(e.start)
                ),
            )
        })
        .collect();
    qualifying_detentions.dedup();
    Ok(EndingsPage {
        nav: Some(nav_for(state, s).await),
        person_id: id,
        person_name: name,
        csrf_token: s.csrf_token.clone(),
        errors,
        ratifies,
        can_propose: endings::may_propose(&s.user)
            && has_part
            && has_open
            && !views.iter().any(|p| p.open),
        can_reinstate: last_ended && has_part && endings::may_reinstate(&s.user),
        has_reinstatement: !q::reinstatements_of(&state.db, id).await?.is_empty(),
        can_record_history: endings::may_record_historical(&s.user)
            && has_part
            && !qualifying_detentions.is_empty(),
        today: today.to_string(),
        reason_options: EndingReason::ALL
            .iter()
            .map(|r| (r.as_str(), r.label(), r.is_valid_alone()))
            .collect(),
        proposals: views,
        typed,
        qualifying_detentions,
        requesters: [
            ("person", "The person"),
            ("gp", "Their GP"),
            ("professional", "A professional"),
        ],
    })
}

pub async fn endings_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    page(&state, &s, id, Vec::new(), Vec::new()).await
}

/// A form field's value, or blank.
fn field(pairs: &[(String, String)], k: &str) -> String {
    pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// Forms send one `reasons` field per ticked box.
fn proposal_fields(pairs: &[(String, String)]) -> ProposalFields {
    let get = |k: &str| field(pairs, k);
    ProposalFields {
        proposed_on: get("proposed_on"),
        reassessment_on: get("reassessment_on"),
        mdt_attendees: get("mdt_attendees"),
        person_views: get("person_views"),
        imha_support: get("imha_support"),
        carer_views: get("carer_views"),
        reasons: pairs
            .iter()
            .filter(|(n, _)| n == "reasons")
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(","),
        reason_text: get("reason_text"),
        alternative_accommodation: get("alternative_accommodation"),
    }
}

/// The status a refused step answers with: 403 for a permission, 409 for
/// the state of the record, 422 for fields.
/// Shows a refused step on the page beside its form, with what was typed;
/// storage failures and unknown records go to the error page.
async fn refused(
    state: &AppState,
    s: &Session,
    person_id: i64,
    e: ServiceError,
    field: &str,
    typed: Vec<(String, String)>,
) -> Result<Response, AppError> {
    if !matches!(
        e,
        ServiceError::Invalid(_) | ServiceError::Forbidden(_) | ServiceError::Conflict(_)
    ) {
        return Err(e.into());
    }
    let errors = e.fields(field);
    // The status the error page would have had (403, 409 or 422), from the
    // one mapping in web/mod.rs.
    let status = AppError::from(e).status_and_code().0;
    Ok((status, page(state, s, person_id, errors, typed).await?).into_response())
}

pub async fn propose(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let id = seen.id;
    match endings::propose(&state.db, &s.user, id, &proposal_fields(&pairs), state.today()).await {
        Ok(_) => Ok(super::saved(&format!("/people/{id}/endings"), "ending_proposed")),
        Err(e) => refused(&state, &s, id, e, "reasons", pairs).await,
    }
}

pub async fn decide(
    State(state): State<AppState>,
    Path(pid): Path<i64>,
    CsrfForm(s, form): CsrfForm<DecisionForm>,
) -> Result<Response, AppError> {
    let p = q::proposal(&state.db, pid).await?.ok_or(AppError::NotFound)?;
    crate::services::views::ensure_can_view(&state.db, &s, p.person_id).await?;
    let f = form.fields;
    // An agreement may be the one that ends after-care, which only a
    // reinstatement undoes: ask first, saying what it will do.
    if f.decision == "agree" && form.confirm != "yes" {
        match endings::preview_decision(&state.db, &s.user, pid, &f, state.today()).await {
            Ok(preview) => return confirm_page(&state, &s, pid, &f, preview).await,
            Err(e) => {
                let field = format!("proposal-{pid}");
                let e = e.point_fields(|_| field.clone());
                return refused(&state, &s, p.person_id, e, &field, Vec::new()).await;
            }
        }
    }
    match endings::decide(&state.db, &s.user, pid, &f, state.today()).await {
        Ok(_) => Ok(super::saved(&format!("/people/{}/endings", p.person_id), "ending_decided")),
        Err(e) => {
            let field = format!("proposal-{pid}");
            // Every problem points at the proposal's own form.
            let e = e.point_fields(|_| field.clone());
            refused(&state, &s, p.person_id, e, &field, Vec::new()).await
        }
    }
}

/// A decision as the page posts it: the fields, and whether the user has
/// already answered "yes" to the question an agreement asks.
#[derive(serde::Deserialize)]
pub struct DecisionForm {
    #[serde(flatten)]
    fields: DecisionFields,
    #[serde(default)]
    confirm: String,
}

/// "Record that … agrees?", with what the agreement will do.
async fn confirm_page(
    state: &AppState,
    s: &Session,
    proposal_id: i64,
    f: &DecisionFields,
    preview: endings::DecisionPreview,
) -> Result<Response, AppError> {
    let person_id = preview.person_id;
    let body = match preview.body.as_str() {
        "council" => "the council",
        "nhs" => "the NHS commissioner",
        _ => "the quality assurance group",
    };
    let mut lines = vec![format!(
        "You are recording that {body} agrees, on {}, that this person no longer needs after-care under section 117.",
        long_date(preview.decided_on)
    )];
    if !f.reason.trim().is_empty() {
        lines.push(format!("Reason given: {}", f.reason.trim()));
    }
    lines.push(match preview.ends_on {
        Some(on) => format!(
            "This is the last agreement needed: after-care ends on {}, and the letters to the person are ready to send.",
            long_date(on)
        ),
        None => "After-care continues until every body that must decide has agreed.".to_string(),
    });
    Ok(super::care::ConfirmPage {
        nav: Some(nav_for(state, s).await),
        person_name: person_name(state, s, person_id).await?,
        heading: format!("Record that {body} agrees after-care is no longer needed?"),
        lines,
        warning: "Once after-care has ended, only a reinstatement can restore it.",
        action: format!("/endings/{proposal_id}/decisions"),
        csrf_token: s.csrf_token.clone(),
        hidden: vec![
            ("body", f.body.clone()),
            ("decision", f.decision.clone()),
            ("decided_on", preview.decided_on.to_string()),
            ("reason", f.reason.clone()),
            ("version", f.version.clone()),
        ],
        button: "Yes, record the decision",
        cancel_href: format!("/people/{person_id}/endings"),
    }
    .into_response())
}

pub async fn reinstate(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let get = |k: &str| field(&pairs, k);
    let f = ReinstateFields {
        requested_by: get("requested_by"),
        requested_on: get("requested_on"),
        urgent: get("urgent"),
        reason: get("reason"),
    };
    match endings::reinstate(&state.db, &s.user, id, &f, state.today()).await {
        Ok(_) => Ok(super::saved(&format!("/people/{id}#entitlements"), "reinstated")),
        Err(e) => {
            let e = e.point_fields(|f| {
                if f == "reason" { "reinstate-reason".into() } else { f.to_string() }
            });
            let typed = pairs.into_iter().map(|(k, v)| (format!("reinstate-{k}"), v)).collect();
            refused(&state, &s, id, e, "reinstate", typed).await
        }
    }
}

pub async fn record_historical(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let id = seen.id;
    let get = |k: &str| field(&pairs, k);
    let f = HistoricalFields {
        detention_on: get("detention_on"),
        council_decided_on: get("council_decided_on"),
        council_decided_by: get("council_decided_by"),
        nhs_decided_on: get("nhs_decided_on"),
        nhs_decided_by: get("nhs_decided_by"),
        reason_text: get("historical_reason_text"),
        evidence: get("evidence"),
    };
    match endings::record_historical(&state.db, &s.user, id, &f, state.today()).await {
        Ok(_) => Ok(super::saved(&format!("/people/{id}/endings"), "historical_ending")),
        Err(e) => {
            let e = e.point_fields(|f| {
                if f == "reason_text" { "historical_reason_text".into() } else { f.to_string() }
            });
            refused(&state, &s, id, e, "history", pairs).await
        }
    }
}
