//! Letter pages: each letter filled in as a page or PDF, a text the sender
//! may change and preview before it is final, and recording it as sent
//! (who, when, how), after which it is shown and printed as it went out.

use aftercare_core::date::long_date;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::VisiblePerson;
use super::pages::{Nav, nav_for};
use super::{AppError, AppState, CsrfForm, CurrentUser, OnForm, Session};
use crate::services::endings;
use crate::services::letters::{self, Letter, SendFields, SentLetter};

/// The form that records a letter as sent.
struct SendForm {
    action: String,
    csrf_token: String,
    letter_body: String,
    methods: Vec<(&'static str, &'static str)>,
    method: String,
    sent_on: String,
    body_error: Option<String>,
    method_error: Option<String>,
    date_error: Option<String>,
}

/// How a letter shown as sent went out.
struct SentInfo {
    method: &'static str,
    sent_on: String,
    recorded_by: String,
    recorded_at: String,
    edited: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "letter.html")]
struct LetterPage {
    nav: Option<Nav>,
    back_href: String,
    back_text: &'static str,
    title: String,
    letterhead: String,
    from_address: Option<String>,
    recipient: Vec<String>,
    reference: Vec<(String, String)>,
    date: String,
    paragraphs: Vec<Vec<String>>,
    easy_read: bool,
    /// Where the PDF of what is shown comes from (`None`: the preview's own button).
    pdf_href: Option<String>,
    /// The text shown is the sender's change, not yet recorded.
    previewing: bool,
    send: Option<SendForm>,
    sent: Option<SentInfo>,
    /// Just recorded as sent: the success banner.
    recorded: bool,
    errors: Vec<(String, String)>,
}

#[derive(Deserialize)]
pub struct FormatQuery {
    #[serde(default)]
    format: String,
    #[serde(default)]
    recorded: Option<String>,
}

/// What a letter's form posts: preview the change, download it as PDF, or
/// record it as sent.
#[derive(Deserialize)]
pub struct LetterForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    letter_body: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    sent_on: String,
}

/// Where a letter's page sits: its address and the page it came from.
struct Place {
    person_id: i64,
    action: String,
    back_href: String,
    back_text: &'static str,
    pdf_file: String,
}

fn pdf_response(l: &Letter, file: &str) -> Result<Response, AppError> {
    let bytes = l.pdf()?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{file}\"")),
        ],
        bytes,
    )
        .into_response())
}

fn paragraphs(l: &Letter) -> Vec<Vec<String>> {
    l.paragraphs()
        .iter()
        .map(|p| p.lines().map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())
        .collect()
}

struct Shown<'a> {
    letter: &'a Letter,
    pdf_href: Option<String>,
    previewing: bool,
    send: Option<SendForm>,
    sent: Option<SentInfo>,
    recorded: bool,
    errors: Vec<(String, String)>,
}

async fn page(state: &AppState, s: &Session, place: &Place, shown: Shown<'_>) -> LetterPage {
    let l = shown.letter;
    LetterPage {
        nav: Some(nav_for(state, s).await),
        back_href: place.back_href.clone(),
        back_text: place.back_text,
        title: l.title.clone(),
        letterhead: l.letterhead.clone(),
        from_address: l.from_address.clone(),
        recipient: l.recipient.clone(),
        reference: l.reference.clone(),
        date: long_date(l.date),
        paragraphs: paragraphs(l),
        easy_read: l.easy_read,
        pdf_href: shown.pdf_href,
        previewing: shown.previewing,
        send: shown.send,
        sent: shown.sent,
        recorded: shown.recorded,
        errors: shown.errors,
    }
}

/// The sending form, if the user may send the person's letters.
async fn send_form(
    state: &AppState,
    s: &Session,
    place: &Place,
    body: &str,
    method: &str,
    sent_on: &str,
    errors: &[(String, String)],
) -> Result<Option<SendForm>, AppError> {
    let error = |f: &str| errors.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone());
    if !letters::can_send(&s.user)
        || !crate::services::access::has_part(&state.db, &s.user, place.person_id).await?
    {
        return Ok(None);
    }
    Ok(Some(SendForm {
        action: place.action.clone(),
        csrf_token: s.csrf_token.clone(),
        letter_body: body.to_string(),
        methods: letters::METHODS.to_vec(),
        method: method.to_string(),
        sent_on: sent_on.to_string(),
        body_error: error(aftercare_core::text::LETTER_FIELD),
        method_error: error("method"),
        date_error: error("sent_on"),
    }))
}

/// A letter as filled in: its page (with the form to change and send it),
/// or its PDF with `?format=pdf`.
async fn show(
    state: &AppState,
    s: &Session,
    place: Place,
    l: Letter,
    format: &str,
) -> Result<Response, AppError> {
    if format == "pdf" {
        return pdf_response(&l, &place.pdf_file);
    }
    // How it was sent is never pre-chosen (the GOV.UK pattern: a radio left
    // as it was is not an answer); the date is today's until changed.
    let today = state.today().to_string();
    let send = send_form(state, s, &place, &l.body, "", &today, &[]).await?;
    let shown = Shown {
        letter: &l,
        pdf_href: Some("?format=pdf".into()),
        previewing: false,
        send,
        sent: None,
        recorded: false,
        errors: Vec::new(),
    };
    Ok(page(state, s, &place, shown).await.into_response())
}

/// A letter's form posted: the changed text previewed (page or PDF), or
/// the letter recorded as sent and its page as sent shown.
async fn post(
    state: &AppState,
    s: &Session,
    place: Place,
    filled: Letter,
    f: LetterForm,
) -> Result<Response, AppError> {
    let original = filled.body.clone();
    let mut errors = Vec::new();
    let letter = match letters::edited(filled.clone(), &f.letter_body).on_form()? {
        Ok(l) => l,
        Err(e) => {
            errors.extend(e);
            filled
        }
    };
    if errors.is_empty() && f.action == "pdf" {
        return pdf_response(&letter, &place.pdf_file);
    }
    if errors.is_empty() && f.action == "send" {
        let sent_on = match f.sent_on.trim() {
            "" => None,
            d => match aftercare_core::parse_date(d) {
                Ok(d) => Some(d),
                Err(e) => {
                    errors.push(("sent_on".into(), format!("the date the letter was sent: {e}")));
                    None
                }
            },
        };
        if errors.is_empty() {
            let fields = SendFields {
                letter_body: f.letter_body.clone(),
                method: f.method.clone(),
                sent_on,
            };
            match letters::record_sent(
                &state.db,
                &s.user,
                place.person_id,
                &letter,
                &original,
                &fields,
                state.today(),
            )
            .await
            .on_form()?
            {
                Ok(id) => {
                    return Ok(Redirect::to(&format!(
                        "/people/{}/letters/{id}?recorded=1",
                        place.person_id
                    ))
                    .into_response());
                }
                Err(e) => errors.extend(e),
            }
        }
    }
    // A preview, or a problem to put right: the page again with what was typed.
    let send = send_form(state, s, &place, &f.letter_body, &f.method, &f.sent_on, &errors).await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let shown = Shown {
        letter: &letter,
        pdf_href: None,
        previewing: letter.body.trim() != original.trim(),
        send,
        sent: None,
        recorded: false,
        errors,
    };
    Ok((status, page(state, s, &place, shown).await).into_response())
}

/// An ending letter: the proposal's person, after the read check.
async fn ending_letter(
    state: &AppState,
    s: &Session,
    pid: i64,
    kind: &str,
) -> Result<(Place, Letter), AppError> {
    let which = endings::Draft::Ending { proposal_id: pid, kind };
    let (person_id, l) =
        endings::draft(&state.db, which, state.today()).await?.ok_or(AppError::NotFound)?;
    crate::services::views::ensure_can_view(&state.db, s, person_id).await?;
    let place = Place {
        person_id,
        action: format!("/endings/{pid}/letters/{kind}"),
        back_href: format!("/people/{person_id}/endings"),
        back_text: "Back to ending after-care",
        pdf_file: format!("s117-ended-{}.pdf", l.kind),
    };
    Ok((place, l))
}

pub async fn letter(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path((pid, kind)): Path<(i64, String)>,
    Query(fq): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let (place, l) = ending_letter(&state, &s, pid, &kind).await?;
    show(&state, &s, place, l, &fq.format).await
}

pub async fn letter_post(
    State(state): State<AppState>,
    Path((pid, kind)): Path<(i64, String)>,
    CsrfForm(s, f): CsrfForm<LetterForm>,
) -> Result<Response, AppError> {
    let (place, l) = ending_letter(&state, &s, pid, &kind).await?;
    post(&state, &s, place, l, f).await
}

fn factsheet_place(id: i64) -> Place {
    Place {
        person_id: id,
        action: format!("/people/{id}/factsheet"),
        back_href: format!("/people/{id}"),
        back_text: "Back to the person",
        pdf_file: "s117-fact-sheet.pdf".into(),
    }
}

/// A person's letter filled in (the person already checked as visible).
async fn draft_of(state: &AppState, which: endings::Draft<'_>) -> Result<Letter, AppError> {
    let found = endings::draft(&state.db, which, state.today()).await?;
    found.map(|(_, l)| l).ok_or(AppError::NotFound)
}

async fn factsheet_of(state: &AppState, id: i64) -> Result<Letter, AppError> {
    draft_of(state, endings::Draft::Factsheet { person_id: id }).await
}

pub async fn factsheet(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    seen: VisiblePerson,
    Query(fq): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let l = factsheet_of(&state, seen.id).await?;
    show(&state, &s, factsheet_place(seen.id), l, &fq.format).await
}

pub async fn factsheet_post(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<LetterForm>,
) -> Result<Response, AppError> {
    let l = factsheet_of(&state, seen.id).await?;
    post(&state, &s, factsheet_place(seen.id), l, f).await
}

fn reinstatement_place(id: i64, easy_read: bool) -> Place {
    let suffix = if easy_read { "/easy-read" } else { "" };
    Place {
        person_id: id,
        action: format!("/people/{id}/reinstatement-letter{suffix}"),
        back_href: format!("/people/{id}/endings"),
        back_text: "Back to ending after-care",
        pdf_file: format!("s117-reinstated{}.pdf", if easy_read { "-easy-read" } else { "" }),
    }
}

async fn reinstatement_of(state: &AppState, id: i64, easy_read: bool) -> Result<Letter, AppError> {
    draft_of(state, endings::Draft::Reinstatement { person_id: id, easy_read }).await
}

/// The letter telling the person their after-care was reinstated.
pub async fn reinstatement_letter(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    seen: VisiblePerson,
    Query(fq): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let l = reinstatement_of(&state, seen.id, false).await?;
    show(&state, &s, reinstatement_place(seen.id, false), l, &fq.format).await
}

pub async fn reinstatement_letter_post(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<LetterForm>,
) -> Result<Response, AppError> {
    let l = reinstatement_of(&state, seen.id, false).await?;
    post(&state, &s, reinstatement_place(seen.id, false), l, f).await
}

/// The reinstatement letter in easy read.
pub async fn reinstatement_easy_read(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    seen: VisiblePerson,
    Query(fq): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let l = reinstatement_of(&state, seen.id, true).await?;
    show(&state, &s, reinstatement_place(seen.id, true), l, &fq.format).await
}

pub async fn reinstatement_easy_read_post(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<LetterForm>,
) -> Result<Response, AppError> {
    let l = reinstatement_of(&state, seen.id, true).await?;
    post(&state, &s, reinstatement_place(seen.id, true), l, f).await
}

/// A letter as it was sent: the page (with who sent it, when and how) or,
/// with `?format=pdf`, the PDF of the text that went out.
pub async fn sent(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path((_, letter_id)): Path<(i64, i64)>,
    seen: VisiblePerson,
    Query(fq): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let SentLetter { letter, method, sent_on, edited, recorded_by, recorded_at, .. } =
        letters::sent_one(&state.db, seen.id, letter_id).await?.ok_or(AppError::NotFound)?;
    let place = Place {
        person_id: seen.id,
        action: String::new(),
        back_href: format!("/people/{}#letters", seen.id),
        back_text: "Back to the person",
        pdf_file: format!("s117-letter-{letter_id}.pdf"),
    };
    if fq.format == "pdf" {
        return pdf_response(&letter, &place.pdf_file);
    }
    let shown = Shown {
        letter: &letter,
        pdf_href: Some("?format=pdf".into()),
        previewing: false,
        send: None,
        sent: Some(SentInfo {
            method,
            sent_on: long_date(sent_on),
            recorded_by,
            recorded_at: recorded_at.format("%-d %B %Y at %H:%M").to_string(),
            edited,
        }),
        recorded: fq.recorded.is_some(),
        errors: Vec::new(),
    };
    Ok(page(&state, &s, &place, shown).await.into_response())
}

/// The postal address form.
#[derive(Deserialize, Default)]
pub struct AddressForm {
    #[serde(default)]
    address: String,
}

fn address_form(
    id: i64,
    name: String,
    nav: Nav,
    csrf: String,
    f: &AddressForm,
    errors: crate::error::FieldErrors,
) -> super::fact_pages::SimpleForm {
    let mut address = super::fact_pages::field(
        "address",
        "Postal address",
        "One line per line of the address, the postcode last. Leave it empty if there is no address to write to.",
        &f.address,
        &errors,
    );
    address.multiline = true;
    super::fact_pages::SimpleForm {
        nav: Some(nav),
        person_id: id,
        person_name: name,
        heading: "Postal address for letters",
        intro: "Letters to the person are addressed here. The address before is kept in the history.",
        method: "post",
        action: format!("/people/{id}/address"),
        csrf_token: csrf,
        submit: "Save the address",
        errors,
        fields: vec![address],
        result: None,
    }
}

pub async fn address_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    seen: VisiblePerson,
) -> Result<Response, AppError> {
    let address = letters::address_of(&state.db, seen.id).await?.join("\n");
    let name = seen.name();
    Ok(address_form(
        seen.id,
        name,
        nav_for(&state, &s).await,
        s.csrf_token.clone(),
        &AddressForm { address },
        Vec::new(),
    )
    .into_response())
}

pub async fn address_save(
    State(state): State<AppState>,
    seen: VisiblePerson,
    CsrfForm(s, f): CsrfForm<AddressForm>,
) -> Result<Response, AppError> {
    let outcome = letters::set_address(&state.db, &s.user, seen.id, &f.address).await.on_form()?;
    let next = format!("/people/{}#identity", seen.id);
    Ok(super::fact_pages::after_submit(
        &state,
        &s,
        seen.id,
        seen.name(),
        &f,
        outcome,
        next,
        "address_saved",
        address_form,
    )
    .await)
}
