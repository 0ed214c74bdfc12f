//! Read models shared by the pages and the API: a person with everything the
//! person page shows, and the access check that guards it.

use std::collections::HashMap;

use aftercare_core::date::long_date;
use aftercare_core::rules::{Derivation, Event, EventKind};
use chrono::NaiveDate;
use serde::Serialize;

use crate::auth::Session;
use crate::db::store::{self, AuditRow, DetentionRow, PersonEventRow, PersonRow};
use crate::db::{Db, DbError};
use crate::derive;
use crate::error::ServiceError;
use crate::services::standing;

/// One line of a person's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineItem {
    pub on: NaiveDate,
    pub title: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonDetail {
    pub person: PersonRow,
    /// Current versions, oldest first.
    pub detentions: Vec<DetentionRow>,
    /// Superseded versions, kept for the record.
    pub superseded: Vec<DetentionRow>,
    pub events: Vec<PersonEventRow>,
    pub derivation: Derivation,
    /// While the person is in hospital on a qualifying section: what the
    /// rules would derive were they to leave hospital today with nothing
    /// else recorded (who would be responsible).
    pub if_left_today: Option<Derivation>,
    pub timeline: Vec<TimelineItem>,
    pub history: Vec<AuditRow>,
}

/// The person with this NHS number, for the command line, whose operator
/// reads the whole register (each read is logged by the command).
pub async fn person_by_nhs_number(
    db: &Db,
    nhs: &aftercare_core::NhsNumber,
) -> Result<Option<crate::db::store::PersonRow>, DbError> {
    store::person_by_nhs_number(db, nhs.as_str()).await
}

/// Organisation names by code, for showing codes to people.
pub async fn org_names(db: &Db) -> Result<HashMap<String, String>, DbError> {
    Ok(store::list_orgs(db).await?.into_iter().map(|o| (o.code, o.name)).collect())
}

/// People on one page of the register list, in pages and the API.
pub const PAGE_SIZE: i64 = 50;

/// Refuses a user whose organisation has no part in the person, unless they
/// have recorded a reason for looking (a logged, time-limited grant).
pub async fn ensure_can_view(
    db: &Db,
    session: &Session,
    person_id: i64,
) -> Result<(), ServiceError> {
    if store::may_view(db, person_id, &session.user.org_code, session.user.id).await? {
        crate::services::access_log::person_read(db, session, person_id).await?;
        Ok(())
    } else {
        Err(ServiceError::ReasonRequired(person_id))
    }
}

pub async fn person_detail(
    db: &Db,
    person_id: i64,
    today: NaiveDate,
) -> Result<Option<PersonDetail>, DbError> {
    let Some(person) = store::get_person(db, person_id).await? else { return Ok(None) };
    let versions = store::detention_versions(db, person_id).await?;
    let (mut detentions, superseded): (Vec<_>, Vec<_>) =
        versions.into_iter().partition(|d| d.superseded_at.is_none());
    detentions.sort_by_key(|d| (d.detention_start, d.id));
    let events = store::current_person_events(db, person_id).await?;
    let config = derive::config(db, today).await?;
    let derivation = derive::derive_person(&detentions, &events, &config)?;
    let if_left_today = match standing::in_hospital_on(&stays_of(&detentions)) {
        Some(_) => {
            let left = Event {
                on: today,
                kind: EventKind::LeftHospital {
                    discharged_to: None,
                    gp_commissioner: None,
                    residence_commissioner: None,
                },
            };
            let history = derive::events_of(&detentions, &events)?;
            Some(derive::derive_with(&history, &events, &config, &[left])?)
        }
        None => None,
    };
    let timeline = timeline(&detentions, &events, &derivation);
    let history = store::audit_for_person(db, person_id).await?;
    Ok(Some(PersonDetail {
        person,
        detentions,
        superseded,
        events,
        derivation,
        if_left_today,
        timeline,
        history,
    }))
}

/// Detentions as the standing reads them; a section that does not parse
/// (never stored: the parser guards every write) counts as not qualifying.
pub fn stays_of(detentions: &[DetentionRow]) -> Vec<standing::Stay> {
    detentions
        .iter()
        .map(|d| standing::Stay {
            section: aftercare_core::Section::parse(&d.section)
                .unwrap_or(aftercare_core::Section::NotKnown),
            start: d.detention_start,
            left: d.left_hospital,
        })
        .collect()
}

/// The person's standing in plain English, for the top of the person page.
pub fn standing_of(
    d: &PersonDetail,
    today: NaiveDate,
    names: &HashMap<String, String>,
) -> standing::Standing {
    standing::standing(&standing::StandingInput {
        derivation: &d.derivation,
        stays: &stays_of(&d.detentions),
        if_left_today: d.if_left_today.as_ref(),
        today,
        names,
    })
}

/// The tag of each person on a page of the register list, from their
/// stored summary and their current detentions (one read for the page),
/// by the rule the person page uses ([`standing::Tag::of`]).
pub async fn list_tags(
    db: &Db,
    people: &[PersonRow],
) -> Result<HashMap<i64, standing::Tag>, DbError> {
    let ids: Vec<i64> = people.iter().map(|p| p.id).collect();
    let mut by_person: HashMap<i64, Vec<DetentionRow>> = HashMap::new();
    for d in store::current_detentions_of(db, &ids).await? {
        by_person.entry(d.person_id).or_default().push(d);
    }
    Ok(people
        .iter()
        .map(|p| {
            let stays = by_person.get(&p.id).map(|d| stays_of(d)).unwrap_or_default();
            let tag = standing::Tag::of(standing::TagFacts {
                eligible: p.eligible,
                entitled: p.entitled,
                decision_needed: p.decision_needed,
                in_hospital_qualifying: standing::in_hospital_on(&stays).is_some(),
                ever_entitled: p.council_rule.is_some(),
            });
            (p.id, tag)
        })
        .collect())
}

fn timeline(
    detentions: &[DetentionRow],
    events: &[PersonEventRow],
    d: &Derivation,
) -> Vec<TimelineItem> {
    let mut items = Vec::new();
    for det in detentions {
        let section = aftercare_core::Section::parse(&det.section)
            .map(|s| s.label())
            .unwrap_or_else(|_| det.section.clone());
        items.push(TimelineItem {
            on: det.detention_start,
            title: format!("Detained under {section}"),
            detail: det.place_of_detention.clone().map(|p| format!("at {p}")).unwrap_or_default(),
        });
        if let Some(left) = det.left_hospital {
            items.push(TimelineItem {
                on: left,
                title: "Left hospital".into(),
                detail: det
                    .discharged_to
                    .clone()
                    .map(|p| format!("discharged to {p}"))
                    .unwrap_or_default(),
            });
        }
    }
    for e in events {
        items.push(TimelineItem {
            on: e.occurred_on,
            title: e.kind.replace('_', " "),
            detail: String::new(),
        });
    }
    for e in &d.entitlements {
        items.push(TimelineItem {
            on: e.start,
            title: if e.reinstated {
                "s117 after-care reinstated".into()
            } else {
                "s117 after-care began".into()
            },
            detail: format!(
                "council {}, NHS commissioner {}",
                e.council.org.as_ref().map(|o| o.to_string()).unwrap_or_else(|| "undecided".into()),
                e.nhs.org.as_ref().map(|o| o.to_string()).unwrap_or_else(|| "undecided".into())
            ),
        });
        if let (Some(end), Some(reason)) = (e.end, e.end_reason) {
            let why = serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_default();
            items.push(TimelineItem {
                on: end,
                title: "s117 after-care ended".into(),
                detail: why,
            });
        }
    }
    items.sort_by_key(|i| i.on);
    items
}

/// `9 January 2023`, for templates.
pub fn show_date(d: &NaiveDate) -> String {
    long_date(*d)
}
