//! Pages for changing a detention already recorded: recording that the
//! person left hospital, and correcting it. Each is a plain form; the work is
//! done by [`crate::services::detentions`], as for the API.

use super::OnForm;
use std::collections::HashMap;

use aftercare_core::date::long_date;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::controls::{DateInput, OrgSelect};
use super::pages::{FormView, Nav, nav_for};
use super::{AppError, AppState, CsrfForm, CurrentUser, Session};
use crate::db::store::{self, DetentionRow, PersonRow};
use crate::services::detentions::{self, CorrectionFields, LeftHospitalFields};
use crate::services::register::FieldErrors;
use crate::services::views;

/// A form of detention fields plus this page's own ones (the shared
/// templates ask it for labels, hints, values and errors by name).
pub struct DetentionForm {
    pub inner: FormView,
    pub errors: FieldErrors,
    own: Vec<&'static str>,
}

impl DetentionForm {
    async fn load(
        state: &AppState,
        values: HashMap<String, String>,
        errors: FieldErrors,
        own: Vec<&'static str>,
    ) -> Result<Self, AppError> {
        let inner = FormView::load(state, values, errors.clone()).await?;
        Ok(DetentionForm { inner, errors, own })
    }
    /// The fields this page adds to the shared detention fields.
    pub fn names(&self) -> Vec<&'static str> {
        self.own.clone()
    }
    pub fn detention_fields(&self) -> Vec<&'static str> {
        self.inner.detention_fields()
    }
    pub fn kind(&self, name: &str) -> &'static str {
        self.inner.kind(name)
    }
    pub fn date_input(&self, name: &str) -> DateInput {
        self.inner.date_input_with(name, self.label(name), self.hint(name))
    }
    pub fn org_select(&self, name: &str) -> OrgSelect {
        self.inner.org_select_with(name, self.label(name), self.hint(name))
    }
    pub fn value(&self, name: &str) -> &str {
        self.inner.value(name)
    }
    pub fn error(&self, name: &str) -> Option<&str> {
        self.inner.error(name)
    }
    pub fn label(&self, name: &str) -> &'static str {
        match (self.own.contains(&"reason"), name) {
            (false, "left_hospital") => "Date the person left hospital",
            (false, "discharged_to") => "Council area the person went to",
            (false, "gp_practice") => "GP practice after discharge",
            (false, "gp_commissioner") => "NHS commissioner of that GP practice",
            (_, "reason") => "Why the recorded detention was wrong",
            (_, "discharge_gp_practice") => "GP practice after discharge, if different",
            (_, "discharge_gp_commissioner") => {
                "NHS commissioner of the GP practice after discharge"
            }
            _ => self.inner.label(name),
        }
    }
    pub fn hint(&self, name: &str) -> &'static str {
        match (self.own.contains(&"reason"), name) {
            (false, "left_hospital") => {
                "For example, 20 11 2026. Not in the future, not before the detention began"
            }
            (false, "gp_practice") | (_, "discharge_gp_practice") => {
                "ODS code, for example A81001. Leave blank if the person is not registered with a GP"
            }
            (_, "reason") => "For example: start date mistyped on the section papers",
            _ => self.inner.hint(name),
        }
    }
}

struct Loaded {
    person: PersonRow,
    detention: DetentionRow,
}

async fn load(state: &AppState, s: &Session, id: i64, did: i64) -> Result<Loaded, AppError> {
    s.user.register_editor()?;
    views::ensure_can_view(&state.db, s, id).await?;
    let person = store::get_person(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let detention = store::get_detention(&state.db, did)
        .await?
        .filter(|d| d.person_id == id)
        .ok_or(AppError::NotFound)?;
    Ok(Loaded { person, detention })
}

fn name_of(p: &PersonRow) -> String {
    aftercare_core::text::full_name(&p.given_name, &p.family_name)
}

fn detention_label(d: &DetentionRow) -> String {
    format!("section {} from {}", d.section, long_date(d.detention_start))
}

#[derive(Template, WebTemplate)]
#[template(path = "detention_left.html")]
struct LeftPage {
    nav: Option<Nav>,
    csrf_token: String,
    person_id: i64,
    person_name: String,
    detention_id: i64,
    detention: String,
    form: DetentionForm,
}

const LEFT_FIELDS: [&str; 4] = ["left_hospital", "discharged_to", "gp_practice", "gp_commissioner"];

fn left_values(f: &LeftHospitalFields) -> HashMap<String, String> {
    [
        ("left_hospital", &f.left_hospital),
        ("discharged_to", &f.discharged_to),
        ("gp_practice", &f.gp_practice),
        ("gp_commissioner", &f.gp_commissioner),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect()
}

async fn left_page(
    state: &AppState,
    s: &Session,
    l: &Loaded,
    f: &LeftHospitalFields,
    errors: FieldErrors,
) -> Result<LeftPage, AppError> {
    Ok(LeftPage {
        nav: Some(nav_for(state, s).await),
        csrf_token: s.csrf_token.clone(),
        person_id: l.person.id,
        person_name: name_of(&l.person),
        detention_id: l.detention.id,
        detention: detention_label(&l.detention),
        form: DetentionForm::load(state, left_values(f), errors, LEFT_FIELDS.to_vec()).await?,
    })
}

pub async fn left_hospital_form(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path((id, did)): Path<(i64, i64)>,
) -> Result<impl IntoResponse, AppError> {
    let l = load(&state, &s, id, did).await?;
    // The GP practice at detention is the likeliest one after it too.
    let f = LeftHospitalFields {
        gp_practice: l.detention.gp_practice.clone().unwrap_or_default(),
        gp_commissioner: l.detention.gp_commissioner.clone().unwrap_or_default(),
        ..Default::default()
    };
    left_page(&state, &s, &l, &f, Vec::new()).await
}

pub async fn left_hospital_submit(
    State(state): State<AppState>,
    Path((id, did)): Path<(i64, i64)>,
    CsrfForm(s, f): CsrfForm<LeftHospitalFields>,
) -> Result<Response, AppError> {
    let l = load(&state, &s, id, did).await?;
    let editor = s.user.register_editor()?;
    match detentions::record_left_hospital(&state.db, &editor, id, did, &f, state.today())
        .await
        .on_form()?
    {
        Ok(_) => Ok(super::saved(&format!("/people/{id}#detentions"), "left_hospital")),
        Err(errors) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, left_page(&state, &s, &l, &f, errors).await?)
                .into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "detention_correct.html")]
struct CorrectPage {
    nav: Option<Nav>,
    csrf_token: String,
    person_id: i64,
    person_name: String,
    detention_id: i64,
    detention: String,
    form: DetentionForm,
}

const CORRECT_FIELDS: [&str; 3] = ["discharge_gp_practice", "discharge_gp_commissioner", "reason"];

fn correct_values(f: &CorrectionFields) -> HashMap<String, String> {
    let d = &f.detention;
    [
        ("section", &d.section),
        ("detention_start", &d.detention_start),
        ("ordinary_residence", &d.ordinary_residence),
        ("no_fixed_abode", &d.no_fixed_abode),
        ("gp_practice", &d.gp_practice),
        ("gp_commissioner", &d.gp_commissioner),
        ("residence_commissioner", &d.residence_commissioner),
        ("place_of_detention", &d.place_of_detention),
        ("left_hospital", &d.left_hospital),
        ("discharged_to", &d.discharged_to),
        ("evidence", &d.evidence),
        ("discharge_gp_practice", &f.discharge_gp_practice),
        ("discharge_gp_commissioner", &f.discharge_gp_commissioner),
        ("reason", &f.reason),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect()
}

async fn correct_page(
    state: &AppState,
    s: &Session,
    l: &Loaded,
    f: &CorrectionFields,
    errors: FieldErrors,
) -> Result<CorrectPage, AppError> {
    Ok(CorrectPage {
        nav: Some(nav_for(state, s).await),
        csrf_token: s.csrf_token.clone(),
        person_id: l.person.id,
        person_name: name_of(&l.person),
        detention_id: l.detention.id,
        detention: detention_label(&l.detention),
        form: DetentionForm::load(state, correct_values(f), errors, CORRECT_FIELDS.to_vec())
            .await?,
    })
}

pub async fn correct_form(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path((id, did)): Path<(i64, i64)>,
) -> Result<impl IntoResponse, AppError> {
    let l = load(&state, &s, id, did).await?;
    let f = CorrectionFields::from_row(&l.detention);
    correct_page(&state, &s, &l, &f, Vec::new()).await
}

pub async fn correct_submit(
    State(state): State<AppState>,
    Path((id, did)): Path<(i64, i64)>,
    CsrfForm(s, f): CsrfForm<CorrectionFields>,
) -> Result<Response, AppError> {
    let l = load(&state, &s, id, did).await?;
    let editor = s.user.register_editor()?;
    match detentions::correct(&state.db, &editor, id, did, &f, state.today()).await.on_form()? {
        Ok(_) => Ok(super::saved(&format!("/people/{id}#detentions"), "detention_corrected")),
        Err(errors) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, correct_page(&state, &s, &l, &f, errors).await?)
                .into_response())
        }
    }
}
