//! The API for care and for partners: the plan (with its version, so two
//! systems editing at once get a conflict, never a lost update), the
//! assessment, reviews, disputes and letters of a person; the worklists;
//! organisations and partnerships; the master list and status enquiries.
//! Each handler calls the same service as the page it mirrors.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Created, ErrorBody, VisiblePerson, body_json, session};
use crate::db::care as care_db;
use crate::error::ServiceError;
use crate::services::care::{self, NeedFields, PlanChange};
use crate::services::export::ColumnMeaning;
use crate::services::sharing;
use crate::web::{ApiError, AppError, AppState, Session};

/// The current version of a person's after-care plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    /// Send this as `plan_version` with a change; 0 before the first need.
    pub version: i64,
    /// Each need: `aspect`, `description`, `s117` (free under section
    /// 117), `s117_reason`, `interventions`, `provider`, `weekly_cost`
    /// (integer pence), `start`, `end`, `funder`, `accommodation`. A need
    /// is named by its index in this list.
    #[schema(value_type = Vec<Object>)]
    pub needs: serde_json::Value,
    pub has_s117_need: bool,
    pub recorded_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub recorded_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A person's current after-care plan, with the person's version as its
/// `ETag` (send it as `If-Match` with a change to refuse one made since).
#[utoipa::path(get, path = "/api/v1/people/{id}/plan", params(("id" = i64, Path)),
    responses((status = 200, body = PlanView, headers(("ETag" = String, description = "The person's record's version")))), security(("bearer" = [])))]
pub(super) async fn get_plan(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let etag = super::versions::etag(&state, id).await?;
    let view = match care_db::current_plan(&state.db, id).await? {
        None => PlanView {
            version: 0,
            needs: serde_json::json!([]),
            has_s117_need: false,
            recorded_by: None,
            recorded_at: None,
        },
        Some(row) => PlanView {
            version: row.version,
            needs: serde_json::to_value(&care::plan_of(&row)?.needs).unwrap_or_default(),
            has_s117_need: row.has_s117_need,
            recorded_by: Some(row.recorded_by),
            recorded_at: Some(row.recorded_at),
        },
    };
    Ok(([(axum::http::header::ETAG, etag)], Json(view)).into_response())
}

/// A plan change the API refuses because the plan moved on is a conflict
/// (409), not a field to correct.
fn plan_conflict(e: ServiceError) -> ApiError {
    match e {
        ServiceError::Invalid(fields) if fields.iter().any(|(f, _)| f == "plan_version") => {
            let why = fields.into_iter().map(|(_, r)| r).collect::<Vec<_>>().join("; ");
            ApiError(AppError::Refused(StatusCode::CONFLICT, "conflict", why))
        }
        other => ApiError::from(other),
    }
}

fn version_of(s: &str) -> Result<i64, ApiError> {
    s.trim().parse().map_err(|_| {
        ApiError(
            ServiceError::invalid(
                "plan_version",
                "give the version of the plan the change is to (0 before the first need)",
            )
            .into(),
        )
    })
}

/// Adds a need to the plan. `plan_version` must be the plan's current
/// version: a plan changed since answers 409 `conflict`. Answers the new
/// version.
#[utoipa::path(post, path = "/api/v1/people/{id}/plan/needs", params(("id" = i64, Path)), request_body = NeedFields,
    responses((status = 201, description = "The plan's new version", body = Created), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn add_need(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, f): (Session, NeedFields) = body_json(req, &state).await?;
    let expected = version_of(&f.plan_version)?;
    let need = care::parse_need(&f).map_err(|e| ApiError(ServiceError::Invalid(e).into()))?;
    let version = care::change_plan(
        &state.db,
        &s.user,
        id,
        expected,
        PlanChange::AddNeed(need),
        Some("need added"),
    )
    .await
    .map_err(plan_conflict)?;
    Ok((StatusCode::CREATED, Json(Created { id: version })).into_response())
}

/// Which need ends, and when.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EndNeedRequest {
    /// The plan's current version.
    #[serde(default)]
    pub plan_version: String,
    /// The need's index in the plan's `needs`.
    #[serde(default)]
    pub index: String,
    /// The last day of the need, as YYYY-MM-DD.
    #[serde(default)]
    pub on: String,
}

/// Ends a need of the plan on a day (it stays in the plan, ended). A plan
/// changed since `plan_version` answers 409 `conflict`.
#[utoipa::path(post, path = "/api/v1/people/{id}/plan/end", params(("id" = i64, Path)), request_body = EndNeedRequest,
    responses((status = 201, description = "The plan's new version", body = Created), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn end_need(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, f): (Session, EndNeedRequest) = body_json(req, &state).await?;
    let expected = version_of(&f.plan_version)?;
    let index = f.index.trim().parse::<usize>().map_err(|_| {
        ApiError(ServiceError::invalid("index", "give the need's index in the plan").into())
    })?;
    let on = aftercare_core::parse_date(&f.on)
        .map_err(|e| ApiError(ServiceError::invalid("on", format!("end date: {e}")).into()))?;
    let version = care::change_plan(
        &state.db,
        &s.user,
        id,
        expected,
        PlanChange::EndNeed { index, on },
        Some("need ended"),
    )
    .await
    .map_err(plan_conflict)?;
    Ok((StatusCode::CREATED, Json(Created { id: version })).into_response())
}

/// The current assessment, or null before one is recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentView {
    /// `assessed_on`, who took part, and each of the 16 aspects with the
    /// person's needs in it.
    #[schema(value_type = Option<Object>)]
    pub assessment: Option<serde_json::Value>,
}

/// A person's current s117 assessment of needs.
#[utoipa::path(get, path = "/api/v1/people/{id}/assessment", params(("id" = i64, Path)),
    responses((status = 200, body = AssessmentView)), security(("bearer" = [])))]
pub(super) async fn get_assessment(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
) -> Result<Json<AssessmentView>, ApiError> {
    let a = care::current_assessment(&state.db, id).await?;
    Ok(Json(AssessmentView { assessment: a.and_then(|a| serde_json::to_value(a).ok()) }))
}

/// Records an assessment: the same fields as the assessment page's form
/// (`assessed_on`, `person`, `carer`, `imha_offered`, and each aspect's
/// `need_*` text), all strings. A new assessment supersedes the last.
#[utoipa::path(post, path = "/api/v1/people/{id}/assessment", params(("id" = i64, Path)),
    request_body(content = std::collections::HashMap<String, String>, description = "The assessment form's fields"),
    responses((status = 201, body = Created)), security(("bearer" = [])))]
pub(super) async fn save_assessment(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, f): (Session, care::AssessmentForm) = body_json(req, &state).await?;
    let aid = care::save_assessment(&state.db, &s.user, id, &f, state.today()).await?;
    Ok((StatusCode::CREATED, Json(Created { id: aid })).into_response())
}

/// A review as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub id: i64,
    #[schema(value_type = String, format = Date)]
    pub held_on: chrono::NaiveDate,
    pub outcome: Option<String>,
    pub attendees: Option<String>,
    pub person_views: Option<String>,
    /// `yes` or `no`: whether the person still needs after-care.
    pub still_needed: Option<String>,
    pub plan_changes: Option<String>,
    /// Where it came from: the form, the API or an import.
    pub source: String,
    pub recorded_by: String,
    pub recorded_org: Option<String>,
}

/// A person's reviews, newest first.
#[utoipa::path(get, path = "/api/v1/people/{id}/reviews", params(super::paging::PageParams, ("id" = i64, Path)),
    responses((status = 200, body = Vec<ReviewView>)), security(("bearer" = [])))]
pub(super) async fn list_reviews(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
) -> Result<super::paging::Paged<ReviewView>, ApiError> {
    let mut rows = care_db::reviews_for(&state.db, id).await?;
    rows.sort_by_key(|r| std::cmp::Reverse((r.held_on, r.id)));
    Ok(paging.of(rows
        .into_iter()
        .map(|r| ReviewView {
            id: r.id,
            held_on: r.held_on,
            outcome: r.outcome,
            attendees: r.attendees,
            person_views: r.person_views,
            still_needed: r.still_needed,
            plan_changes: r.plan_changes,
            source: r.source,
            recorded_by: r.recorded_by,
            recorded_org: r.recorded_org,
        })
        .collect()))
}

/// A dispute between two bodies about who is responsible.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeView {
    pub id: i64,
    /// `ordinary_residence`, `gp_registration` or another subject.
    pub subject: String,
    pub party_a: String,
    pub party_b: String,
    #[schema(value_type = String, format = Date)]
    pub opened_on: chrono::NaiveDate,
    /// `open` or `resolved`.
    pub status: String,
    /// The rule of the partnership that decided who funds meanwhile.
    pub partnership_rule: String,
    /// Who funds meanwhile, and the facts that decided it.
    #[schema(value_type = Object)]
    pub interim: serde_json::Value,
    /// Whether the other party has confirmed it is a party.
    pub confirmed: bool,
    #[schema(value_type = Option<String>, format = Date)]
    pub resolved_on: Option<chrono::NaiveDate>,
    pub found_responsible: Option<String>,
    pub resolution: Option<String>,
    /// What each paid, the finding and the repayments, once resolved.
    #[schema(value_type = Option<Object>)]
    pub settlement: Option<serde_json::Value>,
}

/// The disputes about a person, oldest first.
#[utoipa::path(get, path = "/api/v1/people/{id}/disputes", params(super::paging::PageParams, ("id" = i64, Path)),
    responses((status = 200, body = Vec<DisputeView>)), security(("bearer" = [])))]
pub(super) async fn list_disputes(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
) -> Result<super::paging::Paged<DisputeView>, ApiError> {
    let json = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
    Ok(paging.of(crate::db::disputes::disputes_for_person(&state.db, id)
        .await?
        .into_iter()
        .map(|d| DisputeView {
            id: d.id,
            confirmed: d.confirmed_at.is_some(),
            interim: json(&d.interim),
            settlement: d.settlement.as_deref().map(json),
            subject: d.subject,
            party_a: d.party_a,
            party_b: d.party_b,
            opened_on: d.opened_on,
            status: d.status,
            partnership_rule: d.partnership_rule,
            resolved_on: d.resolved_on,
            found_responsible: d.found_responsible,
            resolution: d.resolution,
        })
        .collect()))
}

/// A letter recorded as sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct LetterView {
    pub id: i64,
    /// `ending`, `reinstatement` or another kind of letter.
    pub kind: String,
    /// The reference lines printed on the letter (our reference, NHS
    /// number, contact).
    pub reference: Vec<ReferenceLine>,
    pub title: String,
    pub easy_read: bool,
    /// How the sender sent it.
    pub method: String,
    #[schema(value_type = String, format = Date)]
    pub sent_on: chrono::NaiveDate,
    /// Whether the sender changed the text filled in.
    pub edited: bool,
    /// The organisation that sent it.
    pub org_code: String,
    pub recorded_by: String,
}

/// One reference line of a letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferenceLine {
    pub label: String,
    pub value: String,
}

/// The letters sent to or about a person.
#[utoipa::path(get, path = "/api/v1/people/{id}/letters", params(super::paging::PageParams, ("id" = i64, Path)),
    responses((status = 200, body = Vec<LetterView>)), security(("bearer" = [])))]
pub(super) async fn list_letters(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
) -> Result<super::paging::Paged<LetterView>, ApiError> {
    Ok(paging.of(crate::services::letters::sent_for_person(&state.db, id)
        .await?
        .into_iter()
        .map(|l| LetterView {
            id: l.id,
            kind: l.letter.kind.to_string(),
            reference: l
                .letter
                .reference
                .iter()
                .map(|(label, value)| ReferenceLine { label: label.clone(), value: value.clone() })
                .collect(),
            title: l.letter.title.clone(),
            easy_read: l.letter.easy_read,
            method: l.method.to_string(),
            sent_on: l.sent_on,
            edited: l.edited,
            org_code: l.org_code,
            recorded_by: l.recorded_by,
        })
        .collect()))
}

/// A person on a worklist.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkItemView {
    pub person_id: i64,
    pub nhs_number: String,
    pub name: String,
    /// Why they are on it.
    pub detail: String,
}

/// A review that is due or overdue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewDueView {
    pub person_id: i64,
    pub nhs_number: String,
    pub name: String,
    /// Which review (first, or annual).
    pub review: String,
    #[schema(value_type = String, format = Date)]
    pub due: chrono::NaiveDate,
    /// Days past due; 0 or less when not yet due.
    pub overdue_days: i64,
    /// The partnership's review policy that set the date.
    pub policy: String,
    pub responsible_council: String,
    pub responsible_nhs_commissioner: String,
    pub lead_professional: String,
    pub team: String,
}

/// One worklist.
#[derive(Debug, Serialize, ToSchema)]
pub struct Worklist {
    /// Stable: `no-lead`, `no-plan`, `no-s117`, `interim`, `reinstated`,
    /// `historical`, `decision-needed`, `unknown-code`.
    pub id: String,
    pub title: String,
    /// The page asked for of the people on it.
    pub items: Vec<WorkItemView>,
    /// Everyone on it.
    pub total: usize,
}

/// The worklists: each list's page asked for (`page`, `page_size`), with
/// the list's whole length.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorklistsView {
    /// Reviews overdue or due within 30 days, soonest first.
    pub reviews_due: Vec<ReviewDueView>,
    pub reviews_due_total: usize,
    pub lists: Vec<Worklist>,
}

/// The worklists of the caller's organisation: reviews due, and people
/// with no lead professional, no plan, no s117 need, an interim placement
/// beyond 12 weeks, or a decision the rules leave to a person.
#[utoipa::path(get, path = "/api/v1/worklists", params(super::paging::PageParams),
    responses((status = 200, body = WorklistsView)), security(("bearer" = [])))]
pub(super) async fn worklists(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<WorklistsView>, ApiError> {
    let s = session(req.extensions())?;
    let today = state.today();
    let (cases, _permit) = super::caseload(&state, &s).await?;
    let partnerships = care_db::partnerships(&state.db).await?;
    let due: Vec<ReviewDueView> = care::reviews_due_soon(&cases, &partnerships, today)
        .into_iter()
        .map(|r| ReviewDueView {
            person_id: r.person_id,
            nhs_number: r.nhs_number,
            name: r.name,
            review: r.review,
            due: r.due,
            overdue_days: r.overdue_days,
            policy: r.policy,
            responsible_council: r.council,
            responsible_nhs_commissioner: r.nhs,
            lead_professional: r.lead_professional,
            team: r.team,
        })
        .collect();
    let (due, reviews_due_total) = paging.cut(due);
    crate::services::access_log::export(
        &state.db,
        &s,
        crate::services::access_log::AccessKind::WorklistPage,
        due.len(),
        Some("api"),
    )
    .await?;
    let lists = care::worklists(&state.db, &cases, today).await?;
    Ok(Json(WorklistsView {
        reviews_due: due,
        reviews_due_total,
        lists: lists
            .into_iter()
            .map(|l| {
                let (items, total) = paging.cut(l.items);
                Worklist {
                    id: l.id.to_string(),
                    title: l.title.to_string(),
                    items: items
                        .into_iter()
                        .map(|w| WorkItemView {
                            person_id: w.person_id,
                            nhs_number: w.nhs_number,
                            name: w.name,
                            detail: w.detail,
                        })
                        .collect(),
                    total,
                }
            })
            .collect(),
    }))
}

/// An organisation: a council (by GSS code), an NHS body or a GP practice
/// (by ODS code).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationView {
    pub code: String,
    pub name: String,
    /// `council`, `icb`, `trust`, `gp_practice` or another kind.
    pub kind: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_from: Option<chrono::NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_to: Option<chrono::NaiveDate>,
    /// The body that took over, after a merger.
    pub successor_code: Option<String>,
}

/// Every organisation the register knows, by name.
#[utoipa::path(get, path = "/api/v1/organisations", params(super::paging::PageParams),
    responses((status = 200, body = Vec<OrganisationView>)), security(("bearer" = [])))]
pub(super) async fn organisations(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<OrganisationView>, ApiError> {
    session(req.extensions())?;
    Ok(paging.of(crate::services::admin::orgs(&state.db)
        .await?
        .into_iter()
        .map(|o| OrganisationView {
            code: o.code,
            name: o.name,
            kind: o.kind,
            valid_from: o.valid_from,
            valid_to: o.valid_to,
            successor_code: o.successor_code,
        })
        .collect()))
}

/// A council and an NHS commissioner who keep one register together.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnershipView {
    pub council: String,
    pub nhs_commissioner: String,
    pub name: String,
    /// When reviews fall due.
    pub review_policy: String,
    /// Whether the QA group ratifies a joint ending.
    pub qa_ratifies_endings: bool,
    /// Days a funding request may wait for a decision before it is a task.
    pub funding_decision_days: i64,
    /// Whether an import row naming a code the reference data does not know
    /// is refused, not warned of.
    pub refuse_unknown_codes: bool,
}

/// The partnerships the caller's organisation is part of, with their
/// settings (every partnership, for a system administrator).
#[utoipa::path(get, path = "/api/v1/partnerships", params(super::paging::PageParams),
    responses((status = 200, body = Vec<PartnershipView>)), security(("bearer" = [])))]
pub(super) async fn partnerships(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<PartnershipView>, ApiError> {
    let s = session(req.extensions())?;
    // A system administrator sees every partnership, as the administration
    // pages show them; anyone else only their organisation's own.
    let all = s.user.administrator().is_ok();
    let org = s.user.org_code.as_str();
    Ok(paging.of(care_db::partnerships(&state.db)
        .await?
        .into_iter()
        .filter(|p| all || p.council_code == org || p.nhs_code == org)
        .map(|p| PartnershipView {
            council: p.council_code,
            nhs_commissioner: p.nhs_code,
            name: p.name,
            review_policy: p.review_policy,
            qa_ratifies_endings: p.qa_ratifies_endings,
            funding_decision_days: p.funding_decision_days,
            refuse_unknown_codes: p.refuse_unknown_codes,
        })
        .collect()))
}

/// The master list shared with the caller's organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct MasterListView {
    /// The first working day of the month the list stands at.
    #[schema(value_type = String, format = Date)]
    pub as_of: chrono::NaiveDate,
    /// What each column holds, in the rows' order.
    #[schema(value_type = Vec<Object>)]
    pub columns: Vec<ColumnMeaning>,
    /// One row per detention of each eligible person, a string per column:
    /// the page asked for (`page`, `page_size`).
    pub rows: Vec<Vec<String>>,
    /// The whole list's rows.
    pub total_rows: usize,
}

/// The master list as at this month's sharing day: everyone eligible the
/// caller's organisation or its partners have a part in (the same list as
/// `/shared`, logged the same way).
#[utoipa::path(get, path = "/api/v1/master-list", params(super::paging::PageParams),
    responses((status = 200, body = MasterListView)), security(("bearer" = [])))]
pub(super) async fn master_list(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<MasterListView>, ApiError> {
    let s = session(req.extensions())?;
    let today = state.today();
    let as_of = sharing::sharing_day_on(today);
    let rows = sharing::master_list(&state.db, &s.user.org_code, as_of, today).await?;
    let (rows, total_rows) = paging.cut(rows);
    crate::services::access_log::export(
        &state.db,
        &s,
        crate::services::access_log::AccessKind::MasterListPage,
        rows.len(),
        Some(&format!("as_of={as_of} api")),
    )
    .await?;
    Ok(Json(MasterListView {
        as_of,
        columns: crate::services::export::COLUMN_DICTIONARY.to_vec(),
        rows,
        total_rows,
    }))
}

/// "Is this person s117, and who is responsible?" Answered only with a
/// reason (at least 10 characters), which is logged; a person outside the
/// caller's caseload and partnerships is answered as not on the register.
#[utoipa::path(post, path = "/api/v1/enquiries", request_body = sharing::EnquiryForm,
    responses((status = 200, body = sharing::StatusAnswer)), security(("bearer" = [])))]
pub(super) async fn enquiry(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Json<sharing::StatusAnswer>, ApiError> {
    let (s, body): (Session, sharing::EnquiryForm) = body_json(req, &state).await?;
    let nhs =
        sharing::check_enquiry(&body).map_err(|e| ApiError(ServiceError::Invalid(e).into()))?;
    let answer =
        sharing::status_enquiry(&state.db, &s.user.actor(), &nhs, body.reason.trim()).await?;
    Ok(Json(answer))
}

/// Opens a dispute between two bodies about who is responsible or who
/// pays; the partnership's rule decides who funds meanwhile. Only the
/// commissioners and the QA group of one of the parties may.
#[utoipa::path(post, path = "/api/v1/people/{id}/disputes", params(("id" = i64, Path)), request_body = crate::services::disputes::OpenFields,
    responses((status = 201, description = "The dispute's id", body = Created)), security(("bearer" = [])))]
pub(super) async fn open_dispute(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, f): (Session, crate::services::disputes::OpenFields) = body_json(req, &state).await?;
    let did = crate::services::disputes::open(&state.db, &s.user, id, &f, state.today()).await?;
    Ok((StatusCode::CREATED, Json(Created { id: did })).into_response())
}

/// Takes a dispute (`dispute`: its id) one step up its ladder, with a
/// date and a note.
#[utoipa::path(post, path = "/api/v1/people/{id}/disputes/escalate", params(("id" = i64, Path)), request_body = crate::services::disputes::EscalateFields,
    responses((status = 201, description = "The step's id", body = Created)), security(("bearer" = [])))]
pub(super) async fn escalate_dispute(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, f): (Session, crate::services::disputes::EscalateFields) =
        body_json(req, &state).await?;
    let step =
        crate::services::disputes::escalate(&state.db, &s.user, id, &f, state.today()).await?;
    Ok((StatusCode::CREATED, Json(Created { id: step })).into_response())
}

/// What a resolution did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResolutionView {
    /// `proposed` (waiting for the other party's agreement) or `resolved`.
    pub status: String,
    /// Who was found responsible, what each paid and the repayments owed.
    #[schema(value_type = Object)]
    pub settlement: serde_json::Value,
}

/// Proposes a resolution of a dispute, or (`agree`: `yes`) agrees to the
/// other party's proposal; at the top of the ladder the escalation body's
/// decision resolves it at once. Once resolved, the body found responsible
/// repays what the other paid.
#[utoipa::path(post, path = "/api/v1/people/{id}/disputes/resolve", params(("id" = i64, Path)), request_body = crate::services::disputes::ResolveFields,
    responses((status = 200, body = ResolutionView)), security(("bearer" = [])))]
pub(super) async fn resolve_dispute(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Json<ResolutionView>, ApiError> {
    use crate::services::disputes::Outcome;
    let (s, f): (Session, crate::services::disputes::ResolveFields) =
        body_json(req, &state).await?;
    let outcome =
        crate::services::disputes::resolve(&state.db, &s.user, id, &f, state.today()).await?;
    let (status, settlement) = match outcome {
        Outcome::Proposed(x) => ("proposed", x),
        Outcome::Resolved(x) => ("resolved", x),
    };
    Ok(Json(ResolutionView {
        status: status.to_string(),
        settlement: serde_json::to_value(&settlement).unwrap_or_default(),
    }))
}

/// The body a dispute names confirms that it concerns it (from then on it
/// sees the person). Only its commissioners and QA group may.
#[utoipa::path(post, path = "/api/v1/disputes/{id}/confirm", params(("id" = i64, Path)),
    responses((status = 204, description = "Confirmed")), security(("bearer" = [])))]
pub(super) async fn confirm_dispute(
    State(state): State<AppState>,
    super::PathId(id): super::PathId,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let s = session(req.extensions())?;
    crate::web::check_api_csrf(&s, req.headers(), req.method())?;
    crate::services::disputes::confirm(&state.db, &s.user, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An agreement between a council and an NHS commissioner on how they
/// share the cost of after-care, from a date.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundingAgreementView {
    pub id: i64,
    pub council: String,
    pub nhs_commissioner: String,
    /// The policy's name (`fifty_fifty`, `by_need`, `annual_sample`…).
    pub policy: String,
    #[schema(value_type = String, format = Date)]
    pub effective_from: chrono::NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub effective_to: Option<chrono::NaiveDate>,
    /// The partnership's own terms, when it wrote its own.
    #[schema(value_type = Option<Object>)]
    pub terms: Option<serde_json::Value>,
    pub recorded_by: String,
}

/// The funding agreements of the caller's organisation's partnerships, as
/// recorded (every partnership's, for a system administrator).
#[utoipa::path(get, path = "/api/v1/funding-agreements", params(super::paging::PageParams),
    responses((status = 200, body = Vec<FundingAgreementView>)), security(("bearer" = [])))]
pub(super) async fn funding_agreements(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<FundingAgreementView>, ApiError> {
    let s = session(req.extensions())?;
    let all = s.user.administrator().is_ok();
    let org = s.user.org_code.as_str();
    Ok(paging.of(crate::services::admin::agreements(&state.db)
        .await?
        .into_iter()
        .filter(|a| all || a.council_code == org || a.nhs_code == org)
        .map(|a| FundingAgreementView {
            id: a.id,
            terms: a.policy_json.as_deref().and_then(|j| serde_json::from_str(j).ok()),
            council: a.council_code,
            nhs_commissioner: a.nhs_code,
            policy: a.policy,
            effective_from: a.effective_from,
            effective_to: a.effective_to,
            recorded_by: a.recorded_by,
        })
        .collect()))
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// The organisation the user works for.
    pub org_code: String,
    /// `mha_administrator`, `lead_professional`, `commissioner`, `finance`,
    /// `qa_group`, `auditor`, `system_administrator`.
    pub roles: Vec<String>,
    pub team: Option<String>,
    pub disabled: bool,
}

/// Every account, by user name: for system administrators only.
#[utoipa::path(get, path = "/api/v1/users", params(super::paging::PageParams),
    responses((status = 200, body = Vec<UserView>)), security(("bearer" = [])))]
pub(super) async fn users(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<super::paging::Paged<UserView>, ApiError> {
    let s = session(req.extensions())?;
    s.user.administrator()?;
    Ok(paging.of(crate::services::accounts::users(&state.db)
        .await?
        .into_iter()
        .map(|u| UserView {
            id: u.id,
            roles: u
                .roles
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(String::from)
                .collect(),
            username: u.username,
            display_name: u.display_name,
            org_code: u.org_code,
            team: u.team,
            disabled: u.disabled,
        })
        .collect()))
}

/// A lead professional, as named.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadView {
    pub id: i64,
    pub name: String,
    pub team: Option<String>,
    pub org_code: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub from_date: chrono::NaiveDate,
    pub recorded_by: String,
    /// Whether a later naming has taken over.
    pub superseded: bool,
}

/// A person's lead professionals, the current one first.
#[utoipa::path(get, path = "/api/v1/people/{id}/lead", params(super::paging::PageParams, ("id" = i64, Path)),
    responses((status = 200, body = Vec<LeadView>)), security(("bearer" = [])))]
pub(super) async fn list_leads(
    paging: super::paging::Paging,
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
) -> Result<super::paging::Paged<LeadView>, ApiError> {
    let mut rows = care_db::lead_professional_history(&state.db, id).await?;
    rows.sort_by_key(|r| (r.superseded_at.is_some(), std::cmp::Reverse((r.from_date, r.id))));
    Ok(paging.of(rows
        .into_iter()
        .map(|r| LeadView {
            id: r.id,
            superseded: r.superseded_at.is_some(),
            name: r.name,
            team: r.team,
            org_code: r.org_code,
            from_date: r.from_date,
            recorded_by: r.recorded_by,
        })
        .collect()))
}

/// Names the person's lead professional (care co-ordinator) from a day;
/// the one before is kept in the history.
#[utoipa::path(post, path = "/api/v1/people/{id}/lead", params(("id" = i64, Path)), request_body = crate::services::care::LeadFields,
    responses((status = 201, body = Created)), security(("bearer" = [])))]
pub(super) async fn name_lead(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, f): (Session, crate::services::care::LeadFields) = body_json(req, &state).await?;
    let lid = care::name_lead_professional(&state.db, &s.user, id, &f, state.today()).await?;
    Ok((StatusCode::CREATED, Json(Created { id: lid })).into_response())
}

/// Whether a person is a transforming-care case.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TransformingCareRequest {
    /// `yes` or `no`.
    #[serde(default)]
    pub transforming_care: String,
}

/// Marks a person as a transforming-care case, or not: such cases have
/// their own review timing [Lincs 4.2] and lead agency (SPEC 7).
#[utoipa::path(post, path = "/api/v1/people/{id}/transforming-care", params(("id" = i64, Path)), request_body = TransformingCareRequest,
    responses((status = 204, description = "Recorded")), security(("bearer" = [])))]
pub(super) async fn set_transforming_care(
    State(state): State<AppState>,
    VisiblePerson(id): VisiblePerson,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (s, f): (Session, TransformingCareRequest) = body_json(req, &state).await?;
    let value = match f.transforming_care.trim() {
        "yes" => true,
        "no" => false,
        _ => {
            return Err(ApiError(
                ServiceError::invalid("transforming_care", "say yes or no").into(),
            ));
        }
    };
    care::set_transforming_care(&state.db, &s.user, id, value).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
