//! Pages for ending and reinstating after-care: proposals, each body's
//! decision, letters (HTML and PDF) and reinstatement requests.

use aftercare_core::date::long_date;
use aftercare_core::rules::EndingReason;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::fact_pages::person_name;
use super::pages::{Nav, nav_for};
use super::{AppError, AppState, CsrfForm, CurrentUser, Session};
use crate::auth::Role;
use crate::db::endings as q;
use crate::endings::{self, DecisionFields, ProposalFields, ReinstateFields};
use crate::register::FieldErrors;

pub struct ProposalView {
    pub id: i64,
    pub proposed_on: String,
    pub status: String,
    pub status_class: &'static str,
    pub open: bool,
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
    can_decide: bool,
    can_propose: bool,
    can_reinstate: bool,
    today: String,
    reason_options: Vec<(&'static str, &'static str, bool)>,
}

async fn page(
    state: &AppState,
    s: &Session,
    id: i64,
    errors: FieldErrors,
) -> Result<EndingsPage, AppError> {
    let name = person_name(state, s, id).await?;
    let today = state.today();
    let proposals = q::proposals_for(&state.db, id).await?;
    let person = crate::db::store::get_person(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let ratifies = crate::db::care::partnerships(&state.db).await?.iter().any(|p| {
        Some(&p.council_code) == person.council_code.as_ref()
            && Some(&p.nhs_code) == person.nhs_code.as_ref()
            && p.qa_ratifies_endings
    });
    let mut views = Vec::new();
    for p in &proposals {
        let decisions = q::decisions(&state.db, p.id).await?;
        let reasons = endings::parse_reasons(&p.reasons).unwrap_or_default();
        views.push(ProposalView {
            id: p.id,
            proposed_on: long_date(p.proposed_on),
            status: match p.status.as_str() {
                "ended" => {
                    format!("after-care ended on {}", p.ended_on.map(long_date).unwrap_or_default())
                }
                "disagreed" => "the bodies disagree: after-care continues".into(),
                "open" => "waiting for decisions: after-care continues".into(),
                other => other.to_string(),
            },
            status_class: match p.status.as_str() {
                "ended" => "grey",
                "disagreed" => "red",
                _ => "yellow",
            },
            open: p.status == "open" || p.status == "disagreed",
            version: p.version,
            warnings: serde_json::from_str(&p.warnings).unwrap_or_default(),
            late: endings::register_change_late(p, &decisions),
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
            decisions: decisions
                .iter()
                .map(|d| {
                    format!(
                        "{}: {} on {} by {} ({}): {}",
                        match d.body.as_str() {
                            "council" => "Council",
                            "nhs" => "NHS commissioner",
                            _ => "QA group",
                        },
                        if d.agrees { "agrees" } else { "disagrees" },
                        long_date(d.decided_on),
                        d.decided_by,
                        d.org_code,
                        d.reason
                    )
                })
                .collect(),
            letters: if p.status == "ended" { endings::LETTER_KINDS.to_vec() } else { Vec::new() },
        });
    }
    let d = crate::views::person_detail(&state.db, id, today).await?.ok_or(AppError::NotFound)?;
    let has_open = d.derivation.entitlements.iter().any(|e| e.end.is_none() && e.start <= today);
    let last_ended = d
        .derivation
        .entitlements
        .last()
        .is_some_and(|e| e.end_reason == Some(aftercare_core::rules::EndReason::JointDecision));
    Ok(EndingsPage {
        nav: Some(nav_for(state, s).await),
        person_id: id,
        person_name: name,
        csrf_token: s.csrf_token.clone(),
        errors,
        ratifies,
        can_decide: s.user.has(Role::Commissioner) || s.user.has(Role::QaGroup),
        can_propose: s.user.has(Role::LeadProfessional)
            && has_open
            && !proposals.iter().any(|p| p.status == "open" || p.status == "disagreed"),
        can_reinstate: last_ended,
        today: today.to_string(),
        reason_options: EndingReason::ALL
            .iter()
            .map(|r| (r.as_str(), r.label(), r.is_valid_alone()))
            .collect(),
        proposals: views,
    })
}

pub async fn endings_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    page(&state, &s, id, Vec::new()).await
}

/// Forms send one `reasons` field per ticked box.
fn proposal_fields(pairs: &[(String, String)]) -> ProposalFields {
    let get =
        |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
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

pub async fn propose(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    person_name(&state, &s, id).await?;
    match endings::propose(&state.db, &s.user, id, &proposal_fields(&pairs), state.today()).await? {
        Ok(_) => Ok(Redirect::to(&format!("/people/{id}/endings")).into_response()),
        Err(errors) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&state, &s, id, errors).await?)
                .into_response())
        }
    }
}

pub async fn decide(
    State(state): State<AppState>,
    Path(pid): Path<i64>,
    CsrfForm(s, f): CsrfForm<DecisionFields>,
) -> Result<Response, AppError> {
    let p = q::proposal(&state.db, pid).await?.ok_or(AppError::NotFound)?;
    person_name(&state, &s, p.person_id).await?;
    match endings::decide(&state.db, &s.user, pid, &f, state.today()).await? {
        Ok(_) => Ok(Redirect::to(&format!("/people/{}/endings", p.person_id)).into_response()),
        Err(errors) => {
            let status = if errors.iter().any(|(_, r)| r.contains("someone else")) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let errors = errors.into_iter().map(|(_, r)| (format!("proposal-{pid}"), r)).collect();
            Ok((status, page(&state, &s, p.person_id, errors).await?).into_response())
        }
    }
}

pub async fn reinstate(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, f): CsrfForm<ReinstateFields>,
) -> Result<Response, AppError> {
    person_name(&state, &s, id).await?;
    match endings::reinstate(&state.db, &s.user, id, &f, state.today()).await? {
        Ok(_) => Ok(Redirect::to(&format!("/people/{id}#entitlements")).into_response()),
        Err(errors) => {
            let errors = errors
                .into_iter()
                .map(|(f, r)| (if f == "reason" { "reinstate-reason".to_string() } else { f }, r))
                .collect();
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&state, &s, id, errors).await?)
                .into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "letter.html")]
struct LetterPage {
    nav: Option<Nav>,
    person_id: i64,
    title: String,
    paragraphs: Vec<String>,
}

#[derive(Deserialize)]
pub struct FormatQuery {
    #[serde(default)]
    format: String,
}

pub async fn letter(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path((pid, kind)): Path<(i64, String)>,
    Query(fq): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let p = q::proposal(&state.db, pid).await?.ok_or(AppError::NotFound)?;
    person_name(&state, &s, p.person_id).await?;
    let l =
        endings::letter(&state.db, &p, &kind, state.today()).await?.ok_or(AppError::NotFound)?;
    if fq.format == "pdf" {
        let bytes = endings::letter_pdf(&l, state.today());
        return Ok((
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"s117-ended-{}.pdf\"", l.kind),
                ),
            ],
            bytes,
        )
            .into_response());
    }
    Ok(LetterPage {
        nav: Some(nav_for(&state, &s).await),
        person_id: p.person_id,
        title: l.title,
        paragraphs: l.body.split("\n\n").map(String::from).collect(),
    }
    .into_response())
}

pub async fn factsheet(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
    Query(fq): Query<FormatQuery>,
) -> Result<Response, AppError> {
    person_name(&state, &s, id).await?;
    let l = endings::factsheet(&state.db, id, state.today()).await?.ok_or(AppError::NotFound)?;
    if fq.format == "pdf" {
        let bytes = endings::letter_pdf(&l, state.today());
        return Ok((
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    "inline; filename=\"s117-fact-sheet.pdf\"".to_string(),
                ),
            ],
            bytes,
        )
            .into_response());
    }
    Ok(LetterPage {
        nav: Some(nav_for(&state, &s).await),
        person_id: id,
        title: l.title,
        paragraphs: l.body.split("\n\n").map(String::from).collect(),
    }
    .into_response())
}
