//! Pages for disputes between the responsible bodies (SPEC 8): a person's
//! disputes with the interim funding and its rule, the ladder steps with
//! their dates, and the resolution with who repays whom; and the forms to
//! open, escalate and resolve one.

use super::OnForm;
use std::collections::HashMap;

use aftercare_core::date::long_date;
use aftercare_core::disputes::{self as rules, DisputeSubject, PartnershipRule};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::fact_pages::{FieldSpec, SimpleForm, field, select};
use super::pages::{Nav, nav_for};
use super::{AppError, AppState, CsrfForm, CurrentUser, Session};
use crate::db::disputes::{self as q, DisputeRow};
use crate::db::store::{self, PersonRow};
use crate::services::disputes::{self, EscalateFields, OpenFields, ResolveFields};
use crate::services::register::FieldErrors;
use crate::services::views;

/// The person, if the user may see them: their organisation has a part in
/// the person's care, they recorded a reason, or it is a party to one of the
/// person's disputes.
async fn person_for(state: &AppState, s: &Session, id: i64) -> Result<PersonRow, AppError> {
    // Scope before existence, so an id nobody holds answers like one
    // outside the user's scope.
    if !q::is_party_for_person(&state.db, id, &s.user.org_code).await? {
        views::ensure_can_view(&state.db, s, id).await?;
    }
    let p = store::get_person(&state.db, id).await?.ok_or(AppError::NotFound)?;
    crate::services::access_log::person_read(&state.db, s, id).await?;
    Ok(p)
}

fn full_name(p: &PersonRow) -> String {
    aftercare_core::text::full_name(&p.given_name, &p.family_name)
}

fn org_label(names: &HashMap<String, String>, code: &str) -> String {
    match names.get(code) {
        Some(n) => format!("{n} ({code})"),
        None => code.to_string(),
    }
}

// ---------------------------------------------------------------- the list

pub struct StepView {
    pub no: i64,
    pub name: String,
    pub started: String,
    pub note: String,
    pub by: String,
}

pub struct ResolutionView {
    pub on: String,
    pub finding: String,
    pub text: String,
    pub paid: Vec<String>,
    pub repayments: Vec<String>,
    pub by: String,
}

pub struct DisputeView {
    pub id: i64,
    pub subject: String,
    pub parties: String,
    pub open: bool,
    pub status: String,
    pub opened: String,
    pub interim: String,
    pub interim_rule: String,
    pub interim_explanation: String,
    pub interim_citation: String,
    pub partnership_rule: String,
    pub steps: Vec<StepView>,
    pub next_step: Option<String>,
    pub resolution: Option<ResolutionView>,
    /// A resolution one party proposed, waiting for the other's agreement.
    pub proposal: Option<String>,
    /// The user's organisation is the one whose agreement the proposal waits for.
    pub may_agree: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "disputes.html")]
struct DisputesPage {
    nav: Option<Nav>,
    csrf_token: String,
    person_id: i64,
    person_name: String,
    can_act: bool,
    can_open: bool,
    disputes: Vec<DisputeView>,
}

fn view(
    d: &DisputeRow,
    steps: Vec<StepView>,
    names: &HashMap<String, String>,
    today: chrono::NaiveDate,
    org: &str,
) -> Result<DisputeView, AppError> {
    let subject = disputes::subject_of(d)?;
    let interim = disputes::interim_of(d)?;
    let named = |code: &str| org_label(names, code);
    let interim_text = interim
        .decision
        .bodies
        .iter()
        .map(|b| match b.share {
            Some(s) => format!("{} pays {s}", named(b.org.as_str())),
            None => format!("{} keeps its existing part", named(b.org.as_str())),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let resolution = match disputes::settlement_of(d)? {
        None => None,
        Some(st) => Some(ResolutionView {
            on: d.resolved_on.map(long_date).unwrap_or_default(),
            finding: match &st.finding {
                rules::Finding::Responsible(o) => {
                    format!("{} found responsible", named(o.as_str()))
                }
                rules::Finding::Shared(s) => format!(
                    "Shared: {}",
                    s.iter()
                        .map(|(o, s)| format!("{} {s}", named(o.as_str())))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            text: d.resolution.clone().unwrap_or_default(),
            paid: st
                .paid
                .iter()
                .map(|(o, p)| format!("{} paid {p} meanwhile", named(o.as_str())))
                .collect(),
            repayments: if st.repayments.is_empty() {
                vec!["Nothing to repay: each body has paid its part.".into()]
            } else {
                st.repayments
                    .iter()
                    .map(|r| {
                        format!(
                            "{} repays {} {}",
                            named(r.from.as_str()),
                            named(r.to.as_str()),
                            r.amount
                        )
                    })
                    .collect()
            },
            by: format!(
                "{}{}",
                d.resolved_by.clone().unwrap_or_default(),
                d.resolved_at
                    .map(|t| format!(", {}", t.format("%-d %B %Y %H:%M")))
                    .unwrap_or_default()
            ),
        }),
    };
    let age = (today - d.opened_on).num_days();
    Ok(DisputeView {
        id: d.id,
        subject: subject.label().to_string(),
        parties: format!("{} and {}", named(&d.party_a), named(&d.party_b)),
        open: d.is_open(),
        status: if d.is_open() { format!("Open for {age} days") } else { "Resolved".into() },
        opened: format!(
            "{}, by {}{}",
            long_date(d.opened_on),
            d.recorded_by,
            d.recorded_org.as_ref().map(|o| format!(" ({o})")).unwrap_or_default()
        ),
        interim: interim_text,
        interim_rule: interim.decision.rule.clone(),
        interim_explanation: interim.decision.explanation.clone(),
        interim_citation: interim.decision.citation.clone(),
        partnership_rule: PartnershipRule::parse(&d.partnership_rule)
            .map(|r| r.label().to_string())
            .unwrap_or_else(|_| d.partnership_rule.clone()),
        next_step: if d.is_open() {
            rules::next_step(subject, steps.len()).map(|s| format!("{} [{}]", s.name, s.citation))
        } else {
            None
        },
        steps,
        resolution,
        proposal: proposal_text(d, &named)?,
        may_agree: d.is_open()
            && d.proposed_org.as_deref().is_some_and(|by| by != org && d.has_party(org)),
    })
}

/// "Kent County Council (E10000016) proposed on …: …; waiting for …".
fn proposal_text(
    d: &DisputeRow,
    named: &dyn Fn(&str) -> String,
) -> Result<Option<String>, AppError> {
    let (Some(text), Some(by), true) =
        (d.proposal.as_deref(), d.proposed_org.as_deref(), d.is_open())
    else {
        return Ok(None);
    };
    let p: disputes::Proposal =
        serde_json::from_str(text).map_err(|e| crate::db::DbError::Corrupt(e.to_string()))?;
    let waiting = if d.party_a == by { &d.party_b } else { &d.party_a };
    Ok(Some(format!(
        "{} proposed, resolved on {}: {}; {}. Waiting for {} to agree.",
        named(by),
        long_date(p.resolved_on),
        disputes::settlement_summary(&p.settlement.finding),
        p.resolution,
        named(waiting)
    )))
}

pub async fn disputes_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    let p = person_for(&state, &s, id).await?;
    let names = views::org_names(&state.db).await?;
    let mut steps = q::steps_for_person(&state.db, id).await?;
    let mut out = Vec::new();
    for d in q::disputes_for_person(&state.db, id).await? {
        let mine: Vec<StepView> = steps
            .extract_if(.., |st| st.dispute_id == d.id)
            .map(|st| StepView {
                no: st.step_no,
                name: st.step,
                started: long_date(st.started_on),
                note: st.note.unwrap_or_default(),
                by: format!(
                    "{}{}",
                    st.recorded_by,
                    st.recorded_org.map(|o| format!(" ({o})")).unwrap_or_default()
                ),
            })
            .collect();
        out.push(view(&d, mine, &names, state.today(), &s.user.org_code)?);
    }
    Ok(DisputesPage {
        nav: Some(nav_for(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        person_id: id,
        person_name: full_name(&p),
        can_act: disputes::can_act(&s.user),
        // Opening needs a part in the person; a confirmed party without one
        // acts on its dispute but opens none.
        can_open: disputes::can_act(&s.user)
            && crate::services::access::has_part(&state.db, &s.user, id).await?,
        disputes: out,
    })
}

// ---------------------------------------------------------------- opening

fn open_form_for(
    id: i64,
    name: String,
    nav: Nav,
    csrf: String,
    f: &OpenFields,
    errors: FieldErrors,
) -> SimpleForm {
    let choose = || (String::new(), "Choose…".to_string());
    let subjects = std::iter::once(choose())
        .chain(DisputeSubject::ALL.iter().map(|x| (x.as_str().to_string(), x.label().to_string())))
        .collect();
    let funding = vec![
        choose(),
        ("party_a".into(), "The first party".into()),
        ("party_b".into(), "The second party".into()),
        ("both".into(), "Both parties".into()),
        ("neither".into(), "Neither party".into()),
    ];
    let rules_options =
        std::iter::once((String::new(), "From the parties' funding agreements".to_string()))
            .chain(
                PartnershipRule::ALL
                    .iter()
                    .map(|r| (r.as_str().to_string(), r.label().to_string())),
            )
            .collect();
    SimpleForm {
        nav: Some(nav),
        person_id: id,
        person_name: name,
        heading: "Open a dispute",
        intro: "A dispute never delays or interrupts care: the body already meeting the needs goes on meeting them without prejudice; if nobody is, the council where the person lives does (in Lincolnshire, a council and an ICB of whom neither is funding share it 50/50) [Kent 13.1; Lincs 6.2.1]. The dispute starts at operational level.",
        method: "post",
        action: format!("/people/{id}/disputes"),
        csrf_token: csrf,
        submit: "Open the dispute",
        fields: vec![
            select(
                field(
                    "subject",
                    "What is disputed",
                    "Ordinary residence is disputed between two councils, the responsible commissioner between two ICBs, the split between a council and an ICB",
                    &f.subject,
                    &errors,
                ),
                subjects,
            ),
            field(
                "party_a",
                "First party",
                "The organisation's code, for example E10000016; one party must be your organisation",
                &f.party_a,
                &errors,
            ),
            field("party_b", "Second party", "For example E10000019 or QJM", &f.party_b, &errors),
            field(
                "opened_on",
                "Date the dispute arose",
                "For example 2026-11-02; today if left blank",
                &f.opened_on,
                &errors,
            ),
            select(
                field(
                    "funding_now",
                    "Who is meeting the person's needs now?",
                    "That body goes on funding them until the dispute is resolved",
                    &f.funding_now,
                    &errors,
                ),
                funding,
            ),
            field(
                "lives_in",
                "Council where the person lives",
                "Its code; blank for the council responsible now. Used when nobody is funding",
                &f.lives_in,
                &errors,
            ),
            select(
                field(
                    "partnership_rule",
                    "Partnership rule",
                    "Whose written rule chooses the interim funder",
                    &f.partnership_rule,
                    &errors,
                ),
                rules_options,
            ),
            FieldSpec {
                multiline: true,
                ..field(
                    "note",
                    "What is disputed and why",
                    "This goes into the person's history",
                    &f.note,
                    &errors,
                )
            },
        ],
        errors,
        result: None,
    }
}

pub async fn open_form(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    let p = person_for(&state, &s, id).await?;
    let f = OpenFields {
        party_a: s.user.org_code.clone(),
        lives_in: p.council_code.clone().unwrap_or_default(),
        ..Default::default()
    };
    Ok(open_form_for(
        id,
        full_name(&p),
        nav_for(&state, &s).await,
        s.csrf_token.clone(),
        &f,
        Vec::new(),
    ))
}

pub async fn open(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, f): CsrfForm<OpenFields>,
) -> Result<Response, AppError> {
    let p = person_for(&state, &s, id).await?;
    match disputes::open(&state.db, &s.user, id, &f, state.today()).await.on_form()? {
        Ok(d) => Ok(super::saved(&format!("/people/{id}/disputes#dispute-{d}"), "dispute_opened")),
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            open_form_for(
                id,
                full_name(&p),
                nav_for(&state, &s).await,
                s.csrf_token.clone(),
                &f,
                errors,
            ),
        )
            .into_response()),
    }
}

// ---------------------------------------------------------------- escalating and resolving

#[derive(Deserialize, Default)]
pub struct DisputeQuery {
    #[serde(default)]
    dispute: String,
}

/// The person's open disputes as options, each saying where it would go next.
async fn open_options(
    state: &AppState,
    id: i64,
    next: bool,
) -> Result<(Vec<(String, String)>, Vec<DisputeRow>), AppError> {
    let open: Vec<DisputeRow> =
        q::disputes_for_person(&state.db, id).await?.into_iter().filter(|d| d.is_open()).collect();
    let steps = q::steps_for_person(&state.db, id).await?;
    let mut options = vec![(String::new(), "Choose…".to_string())];
    for d in &open {
        let subject = disputes::subject_of(d)?;
        let taken = steps.iter().filter(|s| s.dispute_id == d.id).count();
        let to = if next {
            match rules::next_step(subject, taken) {
                Some(s) => format!(": next, {}", s.name),
                None => ": at the top of its ladder".into(),
            }
        } else {
            String::new()
        };
        options.push((
            d.id.to_string(),
            format!(
                "{} between {} and {}, opened {}{to}",
                subject.as_str().replace('_', " "),
                d.party_a,
                d.party_b,
                long_date(d.opened_on)
            ),
        ));
    }
    Ok((options, open))
}

async fn escalate_form_for(
    state: &AppState,
    s: &Session,
    id: i64,
    name: String,
    f: &EscalateFields,
    errors: FieldErrors,
) -> Result<SimpleForm, AppError> {
    let (options, _) = open_options(state, id, true).await?;
    Ok(SimpleForm {
        nav: Some(nav_for(state, s).await),
        person_id: id,
        person_name: name,
        heading: "Escalate a dispute",
        intro: "If agreement cannot be reached, the dispute goes up to the next named step of its ladder [Kent 13.2-13.7; Lincs 6.2.1-6.2.3]. Funding stays as it is meanwhile.",
        method: "post",
        action: format!("/people/{id}/disputes/escalate"),
        csrf_token: s.csrf_token.clone(),
        submit: "Escalate",
        fields: vec![
            select(field("dispute", "Dispute", "", &f.dispute, &errors), options),
            field(
                "on",
                "Date of escalation",
                "For example 2026-11-20; today if left blank",
                &f.on,
                &errors,
            ),
            FieldSpec {
                multiline: true,
                ..field(
                    "note",
                    "Why, and to whom",
                    "For example: no agreement at operational level; referred to the service manager, J. Patel",
                    &f.note,
                    &errors,
                )
            },
        ],
        errors,
        result: None,
    })
}

pub async fn escalate_form(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
    Query(qy): Query<DisputeQuery>,
) -> Result<impl IntoResponse, AppError> {
    let p = person_for(&state, &s, id).await?;
    let f = EscalateFields { dispute: qy.dispute, ..Default::default() };
    escalate_form_for(&state, &s, id, full_name(&p), &f, Vec::new()).await
}

pub async fn escalate(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, f): CsrfForm<EscalateFields>,
) -> Result<Response, AppError> {
    let p = person_for(&state, &s, id).await?;
    match disputes::escalate(&state.db, &s.user, id, &f, state.today()).await.on_form()? {
        Ok(_) => Ok(super::saved(
            &format!("/people/{id}/disputes#dispute-{}", f.dispute.trim()),
            "dispute_escalated",
        )),
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            escalate_form_for(&state, &s, id, full_name(&p), &f, errors).await?,
        )
            .into_response()),
    }
}

async fn resolve_form_for(
    state: &AppState,
    s: &Session,
    id: i64,
    name: String,
    f: &ResolveFields,
    errors: FieldErrors,
) -> Result<SimpleForm, AppError> {
    let (options, open) = open_options(state, id, false).await?;
    // The parties of the chosen dispute, or of every open one.
    let chosen: Vec<&DisputeRow> = match open.iter().find(|d| d.id.to_string() == f.dispute.trim())
    {
        Some(d) => vec![d],
        None => open.iter().collect(),
    };
    let mut found = vec![(String::new(), "Choose…".to_string())];
    for d in chosen {
        for p in [&d.party_a, &d.party_b] {
            if !found.iter().any(|(v, _)| v == p) {
                found.push((p.clone(), format!("{p} is responsible for the whole cost")));
            }
        }
    }
    found.push(("shared".into(), "The cost is shared (give the first party's share)".into()));
    Ok(SimpleForm {
        nav: Some(nav_for(state, s).await),
        person_id: id,
        person_name: name,
        heading: "Record the resolution of a dispute",
        intro: "A dispute is resolved by both parties: what you record here is proposed to the other party, and takes effect when it agrees. At the top of the ladder the escalation body decides; give its decision's reference. Once resolved, the body found responsible repays what the other paid meanwhile [Kent 1.5.8], and a finding of who is responsible stands as a determination for the person's latest period of after-care. Give what each party paid while the dispute lasted: the repayments are worked out from it.",
        method: "post",
        action: format!("/people/{id}/disputes/resolve"),
        csrf_token: s.csrf_token.clone(),
        submit: "Record the resolution",
        fields: vec![
            select(field("dispute", "Dispute", "", &f.dispute, &errors), options),
            field(
                "resolved_on",
                "Date resolved",
                "For example 2026-11-24; today if left blank",
                &f.resolved_on,
                &errors,
            ),
            select(
                field("found_responsible", "Found responsible", "", &f.found_responsible, &errors),
                found,
            ),
            field(
                "share_a",
                "First party's share, in per cent (if shared)",
                "For example 65; the second party has the rest",
                &f.share_a,
                &errors,
            ),
            field(
                "paid_a",
                "Paid meanwhile by the first party, in pounds",
                "For example 12000; 0 if nothing",
                &f.paid_a,
                &errors,
            ),
            field(
                "paid_b",
                "Paid meanwhile by the second party, in pounds",
                "For example 0",
                &f.paid_b,
                &errors,
            ),
            field(
                "reference",
                "Reference of the escalation body's decision (at the top of the ladder only)",
                "At the top of the ladder the escalation body decides and its decision resolves the dispute; otherwise what you record is a proposal the other party must agree to",
                &f.reference,
                &errors,
            ),
            FieldSpec {
                multiline: true,
                ..field(
                    "resolution",
                    "How it was resolved, by whom and why",
                    "For example: agreed at director level on 20 November 2026 that the person was ordinarily resident in Lincolnshire",
                    &f.resolution,
                    &errors,
                )
            },
        ],
        errors,
        result: None,
    })
}

pub async fn resolve_form(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
    Query(qy): Query<DisputeQuery>,
) -> Result<impl IntoResponse, AppError> {
    let p = person_for(&state, &s, id).await?;
    let f = ResolveFields { dispute: qy.dispute, ..Default::default() };
    resolve_form_for(&state, &s, id, full_name(&p), &f, Vec::new()).await
}

pub async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, f): CsrfForm<ResolveFields>,
) -> Result<Response, AppError> {
    let p = person_for(&state, &s, id).await?;
    match disputes::resolve(&state.db, &s.user, id, &f, state.today()).await.on_form()? {
        Ok(_) => Ok(super::saved(
            &format!("/people/{id}/disputes#dispute-{}", f.dispute.trim()),
            "dispute_resolved",
        )),
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            resolve_form_for(&state, &s, id, full_name(&p), &f, errors).await?,
        )
            .into_response()),
    }
}

// ---------------------------------------------------------------- confirming

#[derive(Template, WebTemplate)]
#[template(path = "dispute_confirm.html")]
struct ConfirmPage {
    nav: Option<Nav>,
    csrf_token: String,
    can_act: bool,
    d: disputes::UnconfirmedDispute,
}

/// The dispute as the body it names sees it before confirming: no
/// identifiers. Anyone else gets "not found", whether or not it exists.
pub async fn confirm_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    let mut d =
        disputes::unconfirmed_view(&state.db, &s.user, id).await?.ok_or(AppError::NotFound)?;
    let names = views::org_names(&state.db).await?;
    d.opened_by = org_label(&names, &d.opened_by);
    Ok(ConfirmPage {
        nav: Some(nav_for(&state, &s).await),
        csrf_token: s.csrf_token.clone(),
        can_act: disputes::can_act(&s.user),
        d,
    })
}

pub async fn confirm(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(s, _): CsrfForm<crate::web::pages::Empty>,
) -> Result<Response, AppError> {
    match disputes::confirm(&state.db, &s.user, id).await.on_form()? {
        Ok(person_id) => Ok(super::saved(
            &format!("/people/{person_id}/disputes#dispute-{id}"),
            "dispute_confirmed",
        )),
        Err(errors) => Err(AppError::Validation(errors)),
    }
}
