//! The bridge between stored facts and the pure rules engine: turns a
//! person's detentions and other dated events into engine events, runs
//! [`aftercare_core::rules::derive`], and stores the summary the register
//! lists and exports (eligibility, responsible bodies, rule ids).

use std::collections::BTreeSet;

use aftercare_core::rules::{self, Derivation, Event, EventKind, RulesConfig, Successor};
use aftercare_core::{OrgCode, Section};
use chrono::NaiveDate;

use crate::db::store::{self, DetentionRow, OrgRow, PersonEventRow, PersonSummary};
use crate::db::{Conn, Db, DbError, Tx, bulk};

/// An organisation code a detention row stores: a code that does not parse
/// is corrupt data, never read as "not recorded" (which would leave the
/// responsible body undecided).
fn org(code: &Option<String>, d: &DetentionRow) -> Result<Option<OrgCode>, DbError> {
    code.as_deref()
        .map(|c| {
            OrgCode::parse(c).map_err(|e| DbError::Corrupt(format!("detention {}: {e}", d.id)))
        })
        .transpose()
}

/// The engine's view of a person's history, in date order. A detention row
/// gives a `detained` event and, once the person left hospital, a
/// `left_hospital` event; other facts are stored as engine events already.
pub fn events_of(
    detentions: &[DetentionRow],
    others: &[PersonEventRow],
) -> Result<Vec<Event>, DbError> {
    let mut events = Vec::with_capacity(detentions.len() * 2 + others.len());
    let mut sorted: Vec<&DetentionRow> = detentions.iter().collect();
    sorted.sort_by_key(|d| (d.detention_start, d.id));
    for d in sorted {
        let section = Section::parse(&d.section)
            .map_err(|e| DbError::Corrupt(format!("detention {}: {e}", d.id)))?;
        events.push(Event {
            on: d.detention_start,
            kind: EventKind::Detained {
                section,
                ordinary_residence: org(&d.ordinary_residence, d)?,
                no_fixed_abode: d.no_fixed_abode,
                gp_commissioner: org(&d.gp_commissioner, d)?,
                residence_commissioner: org(&d.residence_commissioner, d)?,
                place_of_detention_council: None,
                deemed_ordinary_residence: None,
            },
        });
        if let Some(left) = d.left_hospital {
            events.push(Event {
                on: left,
                kind: EventKind::LeftHospital {
                    discharged_to: org(&d.discharged_to, d)?,
                    // The master list records the GP practice's commissioner at the
                    // time of detention; without a later record (leaving hospital
                    // recorded in the product) it stands after discharge.
                    gp_commissioner: match org(&d.discharge_gp_commissioner, d)? {
                        Some(o) => Some(o),
                        None => org(&d.gp_commissioner, d)?,
                    },
                    residence_commissioner: org(&d.residence_commissioner, d)?,
                },
            });
        }
    }
    for e in others {
        if e.kind == "determination" {
            continue;
        }
        let event: Event = serde_json::from_str(&e.data)
            .map_err(|err| DbError::Corrupt(format!("event {}: {err}", e.id)))?;
        events.push(event);
    }
    // Stable: on one date, detentions (in start order) come before other facts.
    events.sort_by_key(|e| e.on);
    Ok(events)
}

/// Recorded determinations that stand over the computed answer. One that
/// does not parse is corrupt data: dropping it would silently put the
/// question back to "undecided".
pub fn determinations_of(others: &[PersonEventRow]) -> Result<Vec<rules::Determination>, DbError> {
    others
        .iter()
        .filter(|e| e.kind == "determination")
        .map(|e| {
            serde_json::from_str(&e.data)
                .map_err(|err| DbError::Corrupt(format!("determination {}: {err}", e.id)))
        })
        .collect()
}

/// The rules configuration for today: organisation successors from the
/// organisations table; MHA 2025 s117(3A) deeming from the environment
/// (`AFTERCARE_MHA2025_S117_3A_COMMENCEMENT=YYYY-MM-DD`), off by default.
/// An organisation whose stored code or successor does not parse is corrupt
/// data (skipping it would silently drop the succession).
pub fn config_from(orgs: &[OrgRow], today: NaiveDate) -> Result<RulesConfig, DbError> {
    let mut config = RulesConfig::new(today);
    let parse = |c: &str| {
        OrgCode::parse(c).map_err(|e| DbError::Corrupt(format!("organisation {c:?}: {e}")))
    };
    for o in orgs {
        if let Some(successor) = &o.successor_code {
            let (code, successor) = (parse(&o.code)?, parse(successor)?);
            let from = o.valid_to.and_then(|d| d.succ_opt()).unwrap_or(today);
            config.successors.insert(code, Successor { org: successor, from });
        }
    }
    config.mha2025_s117_3a_commencement = std::env::var("AFTERCARE_MHA2025_S117_3A_COMMENCEMENT")
        .ok()
        .and_then(|v| aftercare_core::parse_date(&v).ok());
    Ok(config)
}

/// The rules configuration for today, on the pool or inside a write.
pub async fn config(conn: impl Into<Conn<'_>>, today: NaiveDate) -> Result<RulesConfig, DbError> {
    config_from(&store::succeeded_orgs(conn).await?, today)
}

/// Derives a person's entitlements from stored facts.
pub fn derive_person(
    detentions: &[DetentionRow],
    others: &[PersonEventRow],
    config: &RulesConfig,
) -> Result<Derivation, DbError> {
    let events = events_of(detentions, others)?;
    derive_events(&events, others, config)
}

/// A person's recorded history as engine events and what the rules derive
/// from it, read inside a write transaction so that the checks a workflow
/// makes on it and the write that follows see the same facts.
pub async fn person_in_tx(
    tx: &mut Tx,
    person_id: i64,
    today: NaiveDate,
) -> Result<(Vec<Event>, Vec<PersonEventRow>, RulesConfig, Derivation), DbError> {
    let detentions = store::current_detentions(&mut *tx, person_id).await?;
    let others = store::current_person_events(&mut *tx, person_id).await?;
    let config = config(&mut *tx, today).await?;
    let events = events_of(&detentions, &others)?;
    let derivation = derive_events(&events, &others, &config)?;
    Ok((events, others, config, derivation))
}

/// What the rules would derive if `extra` were recorded too: a workflow asks
/// this before it writes, so a change that the law gives no effect is
/// refused with the engine's reason instead of being stored silently.
pub fn derive_with(
    events: &[Event],
    others: &[PersonEventRow],
    config: &RulesConfig,
    extra: &[Event],
) -> Result<Derivation, DbError> {
    let mut all = events.to_vec();
    all.extend_from_slice(extra);
    all.sort_by_key(|e| e.on);
    derive_events(&all, others, config)
}

/// Runs the engine with the person's own determinations; the shared
/// configuration is copied only for the few people who have any.
fn derive_events(
    events: &[Event],
    others: &[PersonEventRow],
    config: &RulesConfig,
) -> Result<Derivation, DbError> {
    let determinations = determinations_of(others)?;
    if determinations.is_empty() && config.determinations.is_empty() {
        return Ok(rules::derive(events, config));
    }
    let mut config = config.clone();
    config.determinations = determinations;
    Ok(rules::derive(events, &config))
}

/// The register's summary of a derivation: the latest entitlement's bodies.
pub fn summarise(d: &Derivation, today: NaiveDate) -> PersonSummary {
    let latest = d.entitlements.last();
    let qualifying = latest
        .map(|e| (e.qualifying_section, e.qualifying_detention_on))
        .or_else(|| d.eligibility.as_ref().map(|e| (e.section, e.detention_on)));
    PersonSummary {
        eligible: d.eligible,
        qualifying_section: qualifying.map(|(s, _)| s.notation().to_string()),
        qualifying_date: qualifying.map(|(_, on)| on),
        entitled: latest.is_some_and(|e| e.start <= today && e.end.is_none_or(|end| end > today)),
        council_code: latest.and_then(|e| e.council.org.as_ref().map(|o| o.to_string())),
        nhs_code: latest.and_then(|e| e.nhs.org.as_ref().map(|o| o.to_string())),
        council_rule: latest.map(|e| e.council.rule.id.to_string()),
        nhs_rule: latest.map(|e| e.nhs.rule.id.to_string()),
        decision_needed: !d.open_questions.is_empty(),
    }
}

/// Every organisation with a part in the person: named in a detention, or
/// responsible for an entitlement. This decides who may see them.
pub fn orgs_with_part(
    detentions: &[DetentionRow],
    d: &Derivation,
    events: &[Event],
) -> Vec<String> {
    let mut codes = BTreeSet::new();
    for det in detentions {
        for c in [
            &det.ordinary_residence,
            &det.gp_practice,
            &det.gp_commissioner,
            &det.residence_commissioner,
            &det.discharged_to,
            &det.place_of_detention,
            &det.discharge_gp_practice,
            &det.discharge_gp_commissioner,
        ]
        .into_iter()
        .flatten()
        {
            codes.insert(c.to_uppercase());
        }
    }
    for e in &d.entitlements {
        for o in [&e.council.org, &e.nhs.org].into_iter().flatten() {
            codes.insert(o.to_string());
        }
    }
    for e in events {
        if let EventKind::Moved { to } = &e.kind {
            codes.insert(to.to_string());
        }
    }
    codes.into_iter().collect()
}

/// Everything stored from a derivation: the derivation itself, the
/// register's summary, and the organisations with a part in the person.
pub fn derive_and_summarise(
    detentions: &[DetentionRow],
    others: &[PersonEventRow],
    config: &RulesConfig,
    today: NaiveDate,
) -> Result<(Derivation, PersonSummary, Vec<String>), DbError> {
    let events = events_of(detentions, others)?;
    let derivation = derive_events(&events, others, config)?;
    let summary = summarise(&derivation, today);
    let orgs = orgs_with_part(detentions, &derivation, &events);
    Ok((derivation, summary, orgs))
}

/// Recomputes and stores a person's derived summary and organisation links.
pub async fn refresh_person_with(
    tx: &mut Tx,
    person_id: i64,
    config: &RulesConfig,
    today: NaiveDate,
) -> Result<Derivation, DbError> {
    let detentions = store::current_detentions(&mut *tx, person_id).await?;
    let others = store::current_person_events(&mut *tx, person_id).await?;
    let (derivation, summary, orgs) = derive_and_summarise(&detentions, &others, config, today)?;
    store::update_summary(tx, person_id, &summary).await?;
    store::set_person_orgs(tx, person_id, &orgs).await?;
    Ok(derivation)
}

pub async fn refresh_person(
    tx: &mut Tx,
    person_id: i64,
    today: NaiveDate,
) -> Result<Derivation, DbError> {
    let config = config(&mut *tx, today).await?;
    refresh_person_with(tx, person_id, &config, today).await
}

/// What a full recomputation found and changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecomputeReport {
    pub people: u64,
    /// People whose stored summary (eligibility, bodies, rules) changed.
    pub summaries_changed: u64,
    /// People whose organisation links (and so who may see them) changed.
    pub links_changed: u64,
}

/// Recomputes every person's summary and organisation links in one
/// transaction (all or nothing). Facts are read in bulk, a range of people
/// at a time; only what changed is written back, many rows to a statement.
pub async fn recompute_all(
    db: &Db,
    today: NaiveDate,
    progress: &dyn Fn(u64, u64),
) -> Result<RecomputeReport, DbError> {
    let mut tx = db.begin_bulk_write().await?;
    let config = std::sync::Arc::new(config(&mut tx, today).await?);
    let (low, high, total) = store::people_id_span(&mut tx).await?;
    let mut report = RecomputeReport { people: total as u64, ..Default::default() };
    let mut from = low;
    let mut done = 0u64;
    let mut next =
        Some(bulk::packed_facts_in_range(&mut tx, from, from + bulk::PEOPLE_PER_STEP).await?);
    // Each step derives one range on a blocking thread while the database
    // reads the next, then writes back what changed.
    // Time spent reading, and then waiting for the derivation of the range before.
    let (mut reading, mut waiting) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    while let Some(packed) = next.take() {
        let config = config.clone();
        let work = tokio::task::spawn_blocking(move || changes_of(packed, &config, today));
        from += bulk::PEOPLE_PER_STEP;
        let started = std::time::Instant::now();
        if from <= high {
            next = Some(
                bulk::packed_facts_in_range(&mut tx, from, from + bulk::PEOPLE_PER_STEP).await?,
            );
        }
        reading += started.elapsed();
        let started = std::time::Instant::now();
        let step =
            work.await.map_err(|e| DbError::Corrupt(format!("recompute stopped: {e}")))??;
        waiting += started.elapsed();
        report.summaries_changed += step.summaries.len() as u64;
        report.links_changed += step.relinked.len() as u64;
        bulk::update_summaries(&mut tx, &step.summaries).await?;
        bulk::delete_person_orgs(&mut tx, &step.relinked).await?;
        bulk::insert_person_orgs(&mut tx, &step.links).await?;
        done += step.people;
        progress(done, report.people);
    }
    tx.commit().await?;
    db.truncate_log().await?;
    tracing::debug!(?reading, ?waiting, "recompute: reading, then waiting for derivation");
    Ok(report)
}

/// What one step of a recompute found to write back.
struct StepChanges {
    people: u64,
    summaries: Vec<(i64, PersonSummary)>,
    relinked: Vec<i64>,
    links: Vec<(i64, String)>,
}

fn changes_of(
    packed: Vec<String>,
    config: &RulesConfig,
    today: NaiveDate,
) -> Result<StepChanges, DbError> {
    let mut step =
        StepChanges { people: 0, summaries: Vec::new(), relinked: Vec::new(), links: Vec::new() };
    for p in
        packed.iter().map(|p| bulk::unpack(p)).collect::<Result<Vec<_>, _>>()?.into_iter().flatten()
    {
        step.people += 1;
        let (_, summary, orgs) = derive_and_summarise(&p.detentions, &p.events, config, today)?;
        if summary != p.summary {
            step.summaries.push((p.person_id, summary));
        }
        if p.links != orgs {
            step.relinked.push(p.person_id);
            step.links.extend(orgs.into_iter().map(|o| (p.person_id, o)));
        }
    }
    Ok(step)
}
