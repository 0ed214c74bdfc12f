//! "What if": the derivation with and without one more event, and the
//! differences in plain English, so users can see a fact's effect before
//! recording it.

use serde::{Deserialize, Serialize};

use super::engine::derive;
use super::model::{Derivation, Entitlement, Event, Responsibility, RulesConfig};
use crate::date::long_date;

/// Both derivations and what changed between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatIf {
    pub before: Derivation,
    pub after: Derivation,
    /// One sentence per difference; empty when nothing changes.
    pub changes: Vec<String>,
}

/// Derives the history as it is and with `extra` added (after any events of
/// the same date), and lists the differences.
pub fn what_if(events: &[Event], extra: Event, config: &RulesConfig) -> WhatIf {
    let before = derive(events, config);
    let mut with_extra = events.to_vec();
    with_extra.push(extra);
    let after = derive(&with_extra, config);
    let changes = differences(&before, &after, events.len());
    WhatIf { before, after, changes }
}

fn org(r: &Responsibility) -> String {
    r.org.as_ref().map_or_else(|| "undecided".to_string(), |o| o.to_string())
}

fn end(e: &Entitlement) -> String {
    match (e.end, e.end_reason) {
        (Some(end), Some(reason)) => format!("ends on {} ({})", long_date(end), reason.as_str()),
        (Some(end), None) => format!("ends on {}", long_date(end)),
        _ => "stays open".to_string(),
    }
}

fn differences(before: &Derivation, after: &Derivation, extra_index: usize) -> Vec<String> {
    let mut changes = Vec::new();
    if before.eligible != after.eligible {
        changes.push(if after.eligible {
            "the person becomes eligible for s117 after-care".to_string()
        } else {
            "the person is no longer eligible for s117 after-care".to_string()
        });
    }
    // Periods are matched by start, detention and reinstatement, each used
    // once: two periods can share a start date (a zero-length period).
    let key = |e: &Entitlement| (e.start, e.qualifying_detention_on, e.reinstated);
    let mut matched = vec![false; before.entitlements.len()];
    for a in &after.entitlements {
        let found = before
            .entitlements
            .iter()
            .enumerate()
            .find(|(i, b)| !matched[*i] && key(b) == key(a))
            .map(|(i, b)| {
                matched[i] = true;
                b
            });
        match found {
            None => changes.push(format!(
                "a new period of after-care starts on {} (council {}, NHS {}) and {}",
                long_date(a.start),
                org(&a.council),
                org(&a.nhs),
                end(a)
            )),
            Some(b) => {
                let when = long_date(a.start);
                if (b.end, b.end_reason) != (a.end, a.end_reason) {
                    changes.push(format!(
                        "the period that started on {when} {} instead of: {}",
                        end(a),
                        end(b)
                    ));
                }
                if b.council.org != a.council.org {
                    changes.push(format!(
                        "the council for the period that started on {when} changes from {} to {} ({})",
                        org(&b.council),
                        org(&a.council),
                        a.council.rule.id
                    ));
                }
                if b.nhs.org != a.nhs.org {
                    changes.push(format!(
                        "the NHS commissioner for the period that started on {when} changes from {} to {} ({})",
                        org(&b.nhs),
                        org(&a.nhs),
                        a.nhs.rule.id
                    ));
                }
                if let Some(body) =
                    a.pending_ending.filter(|_| b.pending_ending != a.pending_ending)
                {
                    changes.push(format!(
                        "{} has agreed to end the period that started on {when}; it ends only when {} agrees too",
                        body.label(),
                        body.other().label()
                    ));
                }
            }
        }
    }
    for (b, _) in before.entitlements.iter().zip(&matched).filter(|(_, m)| !**m) {
        changes.push(format!("the period that started on {} no longer exists", long_date(b.start)));
    }
    for q in &after.open_questions {
        if !before.open_questions.contains(q) {
            changes.push(format!("new open question: {}", q.explanation));
        }
    }
    // A one-body agreement is listed as ignored while pending; the pending
    // sentence above already says so.
    let pending = after.open_entitlement().is_some_and(|e| e.pending_ending.is_some());
    for i in after
        .ignored
        .iter()
        .filter(|i| i.index == extra_index && !(pending && i.rule.id == "END-JOINT"))
    {
        changes
            .push(format!("the new {} event has no effect ({}): {}", i.event, i.rule.id, i.reason));
    }
    changes
}
