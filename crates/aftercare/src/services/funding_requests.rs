//! Funding decisions on plan needs (issue 16): whoever may change the plan
//! asks one body (a council or NHS commissioner with a part in the person)
//! to fund a need; only a commissioner of that body agrees (naming the
//! funder and split) or refuses (with the reason). Each step is a version of
//! the request's lineage, audited, checked inside the write; a request
//! waiting beyond its partnership's days is a task for the body asked.

use std::collections::{HashMap, HashSet};

use aftercare_core::date::long_date;
use aftercare_core::funding::Share;
use aftercare_core::org::OrgKind;
use aftercare_core::parse_date;
use aftercare_core::plan::{FUNDING_DECISION_DAYS, Funder, FundingStatus, funding_wait};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{Role, User};
use crate::db::care::{self as care_db, PartnershipRow};
use crate::db::funding_requests::{self as q, FundingRequestRow, NewDecision, NewRequest};
use crate::db::store::{self, PersonRow};
use crate::db::{Db, DbError};
use crate::error::{FieldErrors, ServiceError};
use crate::services::audit_row;
use crate::services::care::{self, CaseState};

/// A request for a need's funding, as typed (the form and the API).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct FundingRequestFields {
    /// The need's place in the plan (0 for the first need).
    #[serde(default)]
    pub need: String,
    /// When the request was made (YYYY-MM-DD); today if empty.
    #[serde(default)]
    pub requested_on: String,
    /// The code of the body asked: a council or NHS commissioner with a part in the person.
    #[serde(default)]
    pub requested_to: String,
}

/// The asked body's decision, as typed.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct FundingDecisionFields {
    /// `agreed` or `refused`.
    #[serde(default)]
    pub decision: String,
    /// When it was decided (YYYY-MM-DD); today if empty.
    #[serde(default)]
    pub decided_on: String,
    /// For an agreement: who funds it (`council`, `nhs`, `shared`, `personal_health_budget`, `direct_payment`).
    #[serde(default)]
    pub funder: String,
    /// For a shared agreement: the council's share in percent (e.g. `60` or `53.93`).
    #[serde(default)]
    pub council_share: String,
    /// Why it was refused (required for a refusal), or a note on an agreement.
    #[serde(default)]
    pub reason: String,
    /// Why a decision already recorded is corrected (required to correct one).
    #[serde(default)]
    pub correction_reason: String,
}

/// A request's current version, as pages and the API show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FundingRequestView {
    /// The current version's id: a decision names it.
    pub id: i64,
    pub need_index: i64,
    pub need: String,
    /// `requested`, `agreed` or `refused`.
    pub status: String,
    #[schema(value_type = String, format = Date)]
    pub requested_on: NaiveDate,
    pub requested_to: String,
    pub requested_to_name: String,
    pub requested_by: String,
    /// Days waited for a decision so far (while requested), or taken to decide.
    pub days: i64,
    /// The days the partnership allows for a decision.
    pub limit_days: i64,
    /// Waiting beyond the partnership's days.
    pub overdue: bool,
    #[schema(value_type = Option<String>, format = Date)]
    pub decided_on: Option<NaiveDate>,
    pub decided_by: Option<String>,
    pub funder: Option<String>,
    /// The council's share of a shared agreement, e.g. `60%`.
    pub council_share: Option<String>,
    pub reason: Option<String>,
    pub change_reason: Option<String>,
    /// The state in one plain sentence.
    pub sentence: String,
    /// Earlier versions of this request, oldest first, in plain sentences.
    pub history: Vec<String>,
}

fn opt(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// Whoever may change the plan may ask for a need's funding.
pub fn can_request(user: &User) -> bool {
    care::can_plan(user)
}

/// Only a commissioner of the body asked decides: a body decides only for itself.
pub fn can_decide(user: &User, row: &FundingRequestRow) -> bool {
    user.has(Role::Commissioner) && user.org_code == row.requested_to
}

/// The days a request about `person` made to `asked` may wait: the
/// partnership of the person's responsible council and NHS commissioner,
/// else one the body asked belongs to, else [`FUNDING_DECISION_DAYS`].
pub fn decision_days(partnerships: &[PartnershipRow], person: &PersonRow, asked: &str) -> i64 {
    let (council, nhs) = (person.council_code.as_deref(), person.nhs_code.as_deref());
    partnerships
        .iter()
        .find(|p| Some(p.council_code.as_str()) == council && Some(p.nhs_code.as_str()) == nhs)
        .or_else(|| partnerships.iter().find(|p| p.council_code == asked || p.nhs_code == asked))
        .map(|p| p.funding_decision_days)
        .unwrap_or(FUNDING_DECISION_DAYS)
}

fn date_or_today(field: &str, s: &str, today: NaiveDate) -> Result<NaiveDate, FieldErrors> {
    match opt(s) {
        None => Ok(today),
        Some(t) => {
            let d = parse_date(t).map_err(|e| vec![(field.to_string(), e.to_string())])?;
            if d > today {
                return Err(vec![(field.to_string(), "the date cannot be in the future".into())]);
            }
            Ok(d)
        }
    }
}

/// Asks one body to fund a need of the person's current plan. Refused
/// unless the user may change the plan and their organisation has a part;
/// the body asked must be a council or NHS commissioner with a part in the
/// person (so it can see and decide it), and a need has one request waiting
/// at a time.
pub async fn request(
    db: &Db,
    user: &User,
    person_id: i64,
    f: &FundingRequestFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    if !can_request(user) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "only those who write the plan (lead professionals) ask for a need's funding".into(),
        ));
    }
    let mut errors: FieldErrors = Vec::new();
    let need_index = f.need.trim().parse::<usize>().ok();
    if need_index.is_none() {
        errors.push(("need".into(), "choose the need to be funded".into()));
    }
    let requested_on =
        date_or_today("requested_on", &f.requested_on, today).map_err(|e| errors.extend(e)).ok();
    let asked = f.requested_to.trim().to_string();
    if asked.is_empty() {
        errors.push(("requested_to".into(), "choose the body asked to fund the need".into()));
    }
    let (Some(need_index), Some(requested_on), true) =
        (need_index, requested_on, errors.is_empty())
    else {
        return Err(ServiceError::Invalid(errors));
    };
    let mut tx = db.begin_write().await?;
    store::get_person(&mut tx, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let plan = match care_db::current_plan(&mut tx, person_id).await? {
        Some(row) => care::plan_of(&row)?,
        None => Default::default(),
    };
    let Some(need) = plan.needs.get(need_index) else {
        return Err(ServiceError::invalid("need", "no such need in the plan"));
    };
    let commissioner = store::get_org(&mut tx, &asked)
        .await?
        .and_then(|o| OrgKind::parse(&o.kind))
        .is_some_and(|k| k == OrgKind::Council || k.is_nhs_commissioner());
    if !commissioner {
        return Err(ServiceError::invalid(
            "requested_to",
            "ask a council or an NHS commissioner (an ICB)",
        ));
    }
    if !store::org_has_part(&mut tx, person_id, &asked).await? {
        return Err(ServiceError::invalid(
            "requested_to",
            "that body has no part in this person's after-care: ask the responsible council or NHS commissioner",
        ));
    }
    let index = need_index as i64;
    if q::waiting_on_need(&mut tx, person_id, index).await?.is_some() {
        return Err(ServiceError::conflict(
            "funding_requested",
            "a request for this need's funding is already waiting for a decision".into(),
        ));
    }
    let new = NewRequest {
        person_id,
        need_index: index,
        need_description: &need.description,
        requested_on,
        requested_to: &asked,
    };
    let id = q::insert_request(&mut tx, &new, &user.actor()).await?;
    audit_row(
        &mut tx,
        &user.actor(),
        "funding.requested",
        person_id,
        "funding_request",
        id,
        None,
        json!({"need": index, "description": need.description, "requested_on": requested_on, "requested_to": asked}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The asked body's decision on the request version `request_id` (which
/// must still be current): agreed, naming the funder (and the council's
/// share when shared), or refused with the reason. A decision already
/// recorded is corrected only with a reason; every version is kept.
pub async fn decide(
    db: &Db,
    user: &User,
    person_id: i64,
    request_id: i64,
    f: &FundingDecisionFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    if !user.has(Role::Commissioner) {
        return Err(ServiceError::forbidden(
            "not_your_decision",
            "only a commissioner of the body asked decides a funding request".into(),
        ));
    }
    let no_such = || ServiceError::not_found("not_found", "no such funding request".into());
    // Named before its fields are read (and read again inside the write).
    q::get(db, request_id).await?.filter(|r| r.person_id == person_id).ok_or_else(no_such)?;
    let mut errors: FieldErrors = Vec::new();
    let status = match f.decision.trim() {
        "agreed" => Some(FundingStatus::Agreed),
        "refused" => Some(FundingStatus::Refused),
        _ => {
            errors.push(("decision".into(), "choose agreed or refused".into()));
            None
        }
    };
    let decided_on =
        date_or_today("decided_on", &f.decided_on, today).map_err(|e| errors.extend(e)).ok();
    let mut funder = None;
    let mut share = None;
    if status == Some(FundingStatus::Agreed) {
        match Funder::parse(&f.funder) {
            Some(Funder::OtherChargeable | Funder::Chc) => errors.push((
                "funder".into(),
                "an agreement under s117 is funded by the council, the NHS, both, or a personal budget".into(),
            )),
            Some(x) => funder = Some(x),
            None => errors.push(("funder".into(), "choose who funds the need".into())),
        }
        if funder == Some(Funder::Shared) {
            match Share::parse_percent(&f.council_share) {
                Ok(s) if s != Share::NONE && s != Share::WHOLE => share = Some(s),
                _ => errors.push((
                    "council_share".into(),
                    "give the council's share as a percentage between 0 and 100, e.g. 60".into(),
                )),
            }
        }
    }
    if status == Some(FundingStatus::Refused) && opt(&f.reason).is_none() {
        errors.push(("reason".into(), "give the reason for refusing".into()));
    }
    let (Some(status), Some(decided_on), true) = (status, decided_on, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let mut tx = db.begin_write().await?;
    let old = q::get(&mut tx, request_id)
        .await?
        .filter(|r| r.person_id == person_id)
        .ok_or_else(no_such)?;
    if old.superseded_at.is_some() {
        return Err(ServiceError::conflict(
            "stale_request",
            "this request was decided or corrected since you opened it: reload the page to see how it stands".into(),
        ));
    }
    if !can_decide(user, &old) {
        return Err(ServiceError::forbidden(
            "not_your_decision",
            format!(
                "this request was made to {}: a body decides only for itself",
                old.requested_to
            ),
        ));
    }
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let correction = opt(&f.correction_reason);
    if old.status != FundingStatus::Requested.as_str() && correction.is_none() {
        return Err(ServiceError::invalid(
            "correction_reason",
            "this request is already decided: give the reason for correcting the decision",
        ));
    }
    if decided_on < old.requested_on {
        return Err(ServiceError::invalid("decided_on", "the decision cannot precede the request"));
    }
    let d = NewDecision {
        status: status.as_str(),
        decided_on,
        funder: funder.map(|x| x.as_str()),
        council_share_ppm: share.map(|s| i64::from(s.ppm())),
        reason: opt(&f.reason),
        change_reason: correction,
    };
    let id = match q::insert_decision(&mut tx, &old, &d, &user.actor()).await {
        Err(DbError::Conflict) => {
            return Err(ServiceError::conflict(
                "stale_request",
                "this request was decided or corrected since you opened it".into(),
            ));
        }
        other => other?,
    };
    audit_row(
        &mut tx,
        &user.actor(),
        if correction.is_some() { "funding.decision_corrected" } else { "funding.decided" },
        person_id,
        "funding_request",
        id,
        correction,
        json!({"supersedes": old.id, "need": old.need_index, "status": d.status, "decided_on": decided_on,
               "funder": d.funder, "council_share_ppm": d.council_share_ppm, "reason": d.reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn share_text(ppm: Option<i64>) -> Option<String> {
    ppm.and_then(|p| u32::try_from(p).ok()).and_then(Share::from_ppm).map(|s| s.to_string())
}

fn funder_text(row: &FundingRequestRow) -> String {
    let funder = row.funder.as_deref().and_then(Funder::parse);
    match (funder, share_text(row.council_share_ppm)) {
        (Some(Funder::Shared), Some(s)) => {
            let nhs = row
                .council_share_ppm
                .and_then(|p| u32::try_from(p).ok())
                .and_then(Share::from_ppm)
                .map(|s| s.complement().to_string())
                .unwrap_or_default();
            format!("shared, council {s} and NHS {nhs}")
        }
        (Some(f), _) => f.label().to_lowercase(),
        (None, _) => "no funder named".into(),
    }
}

/// One version in a plain sentence.
fn sentence(row: &FundingRequestRow, asked: &str, today: NaiveDate, limit: i64) -> String {
    let asked_part =
        format!("requested {} from {} by {}", long_date(row.requested_on), asked, row.requested_by);
    match FundingStatus::parse(&row.status) {
        Some(FundingStatus::Requested) => {
            let (days, overdue) = funding_wait(row.requested_on, today, limit);
            format!(
                "Funding {asked_part}, waiting {days} day{}{}",
                if days == 1 { "" } else { "s" },
                if overdue {
                    format!(", beyond the {limit} days the partnership allows")
                } else {
                    String::new()
                }
            )
        }
        Some(s) => {
            let on = row.decided_on.unwrap_or(row.requested_on);
            let took = (on - row.requested_on).num_days();
            let what = if s == FundingStatus::Agreed {
                format!("agreed ({})", funder_text(row))
            } else {
                format!("refused: {}", row.reason.as_deref().unwrap_or(""))
            };
            format!(
                "Funding {asked_part}; {what} on {} by {} after {took} days{}",
                long_date(on),
                row.decided_by.as_deref().unwrap_or("?"),
                row.change_reason
                    .as_deref()
                    .map(|r| format!(" (corrected: {r})"))
                    .unwrap_or_default()
            )
        }
        None => format!("Funding {asked_part}; stored status `{}` is not known", row.status),
    }
}

/// The person's funding requests, the current version of each lineage with
/// its earlier versions, for the plan page and the API.
pub async fn for_person(
    db: &Db,
    person_id: i64,
    today: NaiveDate,
) -> Result<Vec<FundingRequestView>, ServiceError> {
    let person =
        store::get_person(db, person_id).await?.ok_or_else(ServiceError::no_such_person)?;
    let rows = q::for_person(db, person_id).await?;
    let partnerships = care_db::partnerships(db).await?;
    let mut names: HashMap<String, String> = HashMap::new();
    for code in rows.iter().map(|r| r.requested_to.clone()).collect::<HashSet<_>>() {
        let name = store::get_org(db, &code).await?.map(|o| o.name).unwrap_or(code.clone());
        names.insert(code, name);
    }
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| r.superseded_at.is_none()) {
        if FundingStatus::parse(&row.status).is_none() {
            return Err(DbError::Corrupt(format!("funding request {}: status", row.id)).into());
        }
        let asked = names.get(&row.requested_to).cloned().unwrap_or_default();
        let limit = decision_days(&partnerships, &person, &row.requested_to);
        let waiting = row.status == FundingStatus::Requested.as_str();
        let (days, overdue) = match (waiting, row.decided_on) {
            (true, _) => funding_wait(row.requested_on, today, limit),
            (false, Some(on)) => ((on - row.requested_on).num_days(), false),
            (false, None) => (0, false),
        };
        out.push(FundingRequestView {
            id: row.id,
            need_index: row.need_index,
            need: row.need_description.clone(),
            status: row.status.clone(),
            requested_on: row.requested_on,
            requested_to: row.requested_to.clone(),
            requested_to_name: asked.clone(),
            requested_by: row.requested_by.clone(),
            days,
            limit_days: limit,
            overdue,
            decided_on: row.decided_on,
            decided_by: row.decided_by.clone(),
            funder: row.funder.clone(),
            council_share: share_text(row.council_share_ppm),
            reason: row.reason.clone(),
            change_reason: row.change_reason.clone(),
            sentence: sentence(row, &asked, today, limit),
            history: rows
                .iter()
                .filter(|o| o.lineage() == row.lineage() && o.superseded_at.is_some())
                .map(|o| sentence(o, &asked, today, limit))
                .collect(),
        });
    }
    Ok(out)
}

/// The bodies a request for the person's funding may go to: the councils
/// and NHS commissioners with a part in the person, as (code, name).
pub async fn bodies_to_ask(db: &Db, person_id: i64) -> Result<Vec<(String, String)>, ServiceError> {
    Ok(store::orgs_of_person(db, person_id)
        .await?
        .into_iter()
        .filter(|o| {
            OrgKind::parse(&o.kind)
                .is_some_and(|k| k == OrgKind::Council || k.is_nhs_commissioner())
        })
        .map(|o| (o.code, o.name))
        .collect())
}

/// One request waiting for a decision, about a person in a caseload.
pub struct Waiting<'a> {
    pub case: &'a CaseState,
    pub row: FundingRequestRow,
    pub days: i64,
    pub limit_days: i64,
    pub overdue: bool,
}

/// The requests waiting for a decision about the people of `cases`: those
/// made to `org`, or to anyone.
pub async fn waiting<'a>(
    db: &Db,
    cases: impl IntoIterator<Item = &'a CaseState>,
    org: Option<&str>,
    today: NaiveDate,
) -> Result<Vec<Waiting<'a>>, ServiceError> {
    let by_id: HashMap<i64, &CaseState> = cases.into_iter().map(|c| (c.person.id, c)).collect();
    let partnerships = care_db::partnerships(db).await?;
    let mut out = Vec::new();
    for row in q::waiting(db, org).await? {
        let Some(case) = by_id.get(&row.person_id).copied() else { continue };
        let limit_days = decision_days(&partnerships, &case.person, &row.requested_to);
        let (days, overdue) = funding_wait(row.requested_on, today, limit_days);
        out.push(Waiting { case, row, days, limit_days, overdue });
    }
    Ok(out)
}

/// What the monitoring page says of funding decisions.
pub struct WaitingSummary {
    pub waiting: usize,
    pub beyond_limit: usize,
    pub longest_days: i64,
    pub longest_since: Option<NaiveDate>,
}

/// Requests waiting about the people of `cases` (made to any body).
pub async fn waiting_summary<'a>(
    db: &Db,
    cases: impl IntoIterator<Item = &'a CaseState>,
    today: NaiveDate,
) -> Result<WaitingSummary, ServiceError> {
    let all = waiting(db, cases, None, today).await?;
    let longest = all.iter().max_by_key(|w| w.days);
    Ok(WaitingSummary {
        waiting: all.len(),
        beyond_limit: all.iter().filter(|w| w.overdue).count(),
        longest_days: longest.map(|w| w.days).unwrap_or(0),
        longest_since: longest.map(|w| w.row.requested_on),
    })
}
