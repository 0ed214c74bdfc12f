//! The API for letters: each letter filled in (as JSON, or its PDF),
//! recorded as sent (how, when, and the text as it went out, which may be
//! the sender's change), a letter as it was sent, and the person's postal
//! address. The same services as the letter pages.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::care::ReferenceLine;
use super::{Created, PathId, PersonRecordPath, VisiblePerson, body_json, optional_day, session};
use crate::error::ServiceError;
use crate::services::endings::{self, Draft};
use crate::services::letters::{self, Letter, SendFields};
use crate::web::{ApiError, AppError, AppState, Session};

/// How to send a letter back.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LetterParams {
    /// `pdf` for the letter as a tagged PDF; JSON when left out.
    #[serde(default)]
    pub format: Option<String>,
}

/// Which reinstatement letter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReinstatementParams {
    /// `pdf` for the letter as a tagged PDF; JSON when left out.
    #[serde(default)]
    pub format: Option<String>,
    /// The easy-read letter.
    #[serde(default)]
    pub easy_read: Option<bool>,
}

/// A letter filled in: what it says and to whom.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilledLetterView {
    pub kind: String,
    pub title: String,
    /// The council whose letter it is.
    pub letterhead: String,
    pub from_address: Option<String>,
    pub recipient: Vec<String>,
    pub reference: Vec<ReferenceLine>,
    pub date: NaiveDate,
    /// The text; paragraphs are separated by a blank line.
    pub body: String,
    pub easy_read: bool,
}

impl From<&Letter> for FilledLetterView {
    fn from(l: &Letter) -> Self {
        FilledLetterView {
            kind: l.kind.to_string(),
            title: l.title.clone(),
            letterhead: l.letterhead.clone(),
            from_address: l.from_address.clone(),
            recipient: l.recipient.clone(),
            reference: l
                .reference
                .iter()
                .map(|(label, value)| ReferenceLine { label: label.clone(), value: value.clone() })
                .collect(),
            date: l.date,
            body: l.body.clone(),
            easy_read: l.easy_read,
        }
    }
}

/// A letter as it was sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentLetterView {
    pub id: i64,
    pub letter: FilledLetterView,
    /// How it went out, in words.
    pub method: String,
    pub sent_on: NaiveDate,
    /// The sender changed the text filled in.
    pub edited: bool,
    pub recorded_by: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// The organisation that sent it.
    pub org_code: String,
}

/// A letter to record as sent.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SendLetterRequest {
    /// The text as it went out, when the sender changed the one filled in
    /// (left out: as filled in).
    #[serde(default)]
    pub letter_body: Option<String>,
    /// `post`, `secure_email`, `email` or `hand`.
    #[serde(default)]
    pub method: String,
    /// The day it was sent, as YYYY-MM-DD, today or before.
    #[serde(default)]
    pub sent_on: Option<String>,
}

/// Whether `format` asks for the PDF (JSON when left out).
fn wants_pdf(format: Option<&str>) -> Result<bool, ApiError> {
    match format.map(str::trim) {
        Some("pdf") => Ok(true),
        None | Some("" | "json") => Ok(false),
        Some(_) => Err(ApiError(AppError::BadRequest(
            "bad_query",
            "format is `pdf`, or left out for JSON".into(),
        ))),
    }
}

/// The letter as JSON, or as a PDF.
fn shown(l: &Letter, pdf: bool, file: &str) -> Result<Response, ApiError> {
    if !pdf {
        return Ok(Json(FilledLetterView::from(l)).into_response());
    }
    let disposition = format!("inline; filename=\"{file}\"");
    let headers = [
        (header::CONTENT_TYPE, "application/pdf".to_string()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    Ok((headers, l.pdf()?).into_response())
}

/// The letter filled in, after the check that its person may be seen.
async fn filled(
    state: &AppState,
    s: &Session,
    which: Draft<'_>,
) -> Result<(i64, Letter), ApiError> {
    let (person_id, l) =
        endings::draft(&state.db, which, state.today()).await?.ok_or(AppError::NotFound)?;
    crate::services::views::ensure_can_view(&state.db, s, person_id).await?;
    Ok((person_id, l))
}

/// Records the letter as sent, with the sender's text if they changed it.
async fn send(
    state: &AppState,
    s: &Session,
    person_id: i64,
    filled: Letter,
    body: SendLetterRequest,
) -> Result<Response, ApiError> {
    let original = filled.body.clone();
    let mut problems = Vec::new();
    let sent_on = optional_day(&mut problems, "sent_on", &body.sent_on).or(Some(state.today()));
    if !problems.is_empty() {
        return Err(ApiError(ServiceError::Invalid(problems).into()));
    }
    let text = body.letter_body.unwrap_or_else(|| original.clone());
    let letter = letters::edited(filled, &text)?;
    let fields = SendFields { letter_body: text, method: body.method.trim().to_string(), sent_on };
    let id = letters::record_sent(
        &state.db,
        &s.user,
        person_id,
        &letter,
        &original,
        &fields,
        state.today(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

/// An ending proposal's id and a letter's kind, from the path; an id that
/// is not a number names nothing (a JSON 404).
pub(super) struct ProposalLetter(i64, String);

impl axum::extract::FromRequestParts<AppState> for ProposalLetter {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path((id, kind)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError(AppError::NotFound))?;
        let id = id.parse().map_err(|_| ApiError(AppError::NotFound))?;
        Ok(ProposalLetter(id, kind))
    }
}

/// One of an ending's letters, filled in: `person`, `person_easy_read`,
/// `mha_office`, `gp`, `providers` or `council_finance`.
#[utoipa::path(get, path = "/api/v1/endings/{id}/letters/{kind}",
    params(("id" = i64, Path, description = "The ending proposal's id"), ("kind" = String, Path, description = "Which letter"), LetterParams),
    responses((status = 200, description = "The letter", content((FilledLetterView = "application/json"), (Vec<u8> = "application/pdf")))), security(("bearer" = [])))]
pub(super) async fn ending_letter(
    State(state): State<AppState>,
    ProposalLetter(id, kind): ProposalLetter,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let s = session(req.extensions())?;
    let p: LetterParams = super::query(&req)?;
    let (_, l) = filled(&state, &s, Draft::Ending { proposal_id: id, kind: &kind }).await?;
    shown(&l, wants_pdf(p.format.as_deref())?, &format!("s117-ended-{kind}.pdf"))
}

/// Records one of an ending's letters as sent.
#[utoipa::path(post, path = "/api/v1/endings/{id}/letters/{kind}",
    params(("id" = i64, Path, description = "The ending proposal's id"), ("kind" = String, Path, description = "Which letter")),
    request_body = SendLetterRequest, responses((status = 201, description = "Recorded as sent", body = Created)), security(("bearer" = [])))]
pub(super) async fn send_ending_letter(
    State(state): State<AppState>,
    ProposalLetter(id, kind): ProposalLetter,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, SendLetterRequest) = body_json(req, &state).await?;
    let (person_id, l) = filled(&state, &s, Draft::Ending { proposal_id: id, kind: &kind }).await?;
    send(&state, &s, person_id, l, body).await
}

/// The fact sheet for the person, filled in: what s117 after-care is, and
/// who provides theirs.
#[utoipa::path(get, path = "/api/v1/people/{id}/factsheet", params(("id" = i64, Path), LetterParams),
    responses((status = 200, description = "The fact sheet", content((FilledLetterView = "application/json"), (Vec<u8> = "application/pdf")))), security(("bearer" = [])))]
pub(super) async fn factsheet(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let s = session(req.extensions())?;
    let p: LetterParams = super::query(&req)?;
    let (_, l) = filled(&state, &s, Draft::Factsheet { person_id: id }).await?;
    shown(&l, wants_pdf(p.format.as_deref())?, "s117-fact-sheet.pdf")
}

/// Records the fact sheet as sent.
#[utoipa::path(post, path = "/api/v1/people/{id}/factsheet", params(("id" = i64, Path)),
    request_body = SendLetterRequest, responses((status = 201, description = "Recorded as sent", body = Created)), security(("bearer" = [])))]
pub(super) async fn send_factsheet(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, SendLetterRequest) = body_json(req, &state).await?;
    let (person_id, l) = filled(&state, &s, Draft::Factsheet { person_id: id }).await?;
    send(&state, &s, person_id, l, body).await
}

/// The letter telling the person their after-care was reinstated, filled
/// in (404 when it was not).
#[utoipa::path(get, path = "/api/v1/people/{id}/reinstatement-letter", params(("id" = i64, Path), ReinstatementParams),
    responses((status = 200, description = "The letter", content((FilledLetterView = "application/json"), (Vec<u8> = "application/pdf")))), security(("bearer" = [])))]
pub(super) async fn reinstatement_letter(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let s = session(req.extensions())?;
    let p: ReinstatementParams = super::query(&req)?;
    let easy_read = p.easy_read.unwrap_or(false);
    let (_, l) = filled(&state, &s, Draft::Reinstatement { person_id: id, easy_read }).await?;
    shown(&l, wants_pdf(p.format.as_deref())?, "s117-reinstated.pdf")
}

/// Records the reinstatement letter as sent.
#[utoipa::path(post, path = "/api/v1/people/{id}/reinstatement-letter", params(("id" = i64, Path), ReinstatementParams),
    request_body = SendLetterRequest, responses((status = 201, description = "Recorded as sent", body = Created)), security(("bearer" = [])))]
pub(super) async fn send_reinstatement_letter(
    State(state): State<AppState>,
    PathId(id): PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let p: ReinstatementParams = super::query(&req)?;
    let easy_read = p.easy_read.unwrap_or(false);
    let (s, body): (Session, SendLetterRequest) = body_json(req, &state).await?;
    let (person_id, l) =
        filled(&state, &s, Draft::Reinstatement { person_id: id, easy_read }).await?;
    send(&state, &s, person_id, l, body).await
}

/// A letter as it was sent: who sent it, when and how, and the text that
/// went out (or its PDF).
#[utoipa::path(get, path = "/api/v1/people/{id}/letters/{letter_id}",
    params(("id" = i64, Path), ("letter_id" = i64, Path, description = "The letter's id"), LetterParams),
    responses((status = 200, description = "The letter sent", content((SentLetterView = "application/json"), (Vec<u8> = "application/pdf")))), security(("bearer" = [])))]
pub(super) async fn sent_letter(
    State(state): State<AppState>,
    PersonRecordPath(id, letter_id): PersonRecordPath,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let p: LetterParams = super::query(&req)?;
    let pdf = wants_pdf(p.format.as_deref())?;
    let sent = letters::sent_one(&state.db, id, letter_id).await?.ok_or(AppError::NotFound)?;
    if pdf {
        return shown(&sent.letter, true, &format!("s117-letter-{letter_id}.pdf"));
    }
    Ok(Json(SentLetterView {
        id: sent.id,
        letter: FilledLetterView::from(&sent.letter),
        method: sent.method.to_string(),
        sent_on: sent.sent_on,
        edited: sent.edited,
        recorded_by: sent.recorded_by,
        recorded_at: sent.recorded_at,
        org_code: sent.org_code,
    })
    .into_response())
}

/// The person's postal address for letters.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AddressView {
    /// One line per line of the address, the postcode last; none: no
    /// address recorded (or, when saving, clear it).
    #[serde(default)]
    pub lines: Vec<String>,
}

/// The person's postal address for letters.
#[utoipa::path(get, path = "/api/v1/people/{id}/address", params(("id" = i64, Path)),
    responses((status = 200, body = AddressView)), security(("bearer" = [])))]
pub(super) async fn address(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
) -> Result<Json<AddressView>, ApiError> {
    Ok(Json(AddressView { lines: letters::address_of(&state.db, id).await? }))
}

/// Records the person's postal address for letters (no lines: clears it);
/// the address before is kept in the history.
#[utoipa::path(post, path = "/api/v1/people/{id}/address", params(("id" = i64, Path)),
    request_body = AddressView, responses((status = 204, description = "Saved")), security(("bearer" = [])))]
pub(super) async fn save_address(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, body): (Session, AddressView) = body_json(req, &state).await?;
    letters::set_address(&state.db, &s.user, id, &body.lines.join("\n")).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
