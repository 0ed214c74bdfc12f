//! The s117 rules engine: a pure, versioned function from a person's legal
//! history to eligibility, entitlement periods and the responsible council
//! and NHS commissioner for each, every answer naming the rule it applied.
//!
//! Architecture invariant: no IO and no clock. "Today" (for organisation
//! successors) comes in through [`RulesConfig::as_of`].
//!
//! Judgement calls (each is also stated in the rule's title or citation):
//! - Worcestershire: the Supreme Court's reading is applied to re-detentions
//!   of every date (`LA-WORCESTERSHIRE-2023`); the Court of Appeal position is
//!   kept in the table (`LA-WORCESTERSHIRE-CA-2021`) only to explain older
//!   determinations, never applied.
//! - A "chain" is a run of periods joined by re-detentions while a duty was
//!   open. The NHS body named by a rule that keeps the originating body
//!   (pre-2013, 2016, 2022, 2024, prisoners, or a determination) stays along
//!   the chain; a 2013–2016 period is decided afresh at each discharge before
//!   1 April 2016. A joint ending followed by a new detention starts a new
//!   chain.
//! - A 2013–2016 duty followed by a re-detention discharged from 1 April
//!   2016: the originating commissioner kept from then on is the body that
//!   held the after-care when the person was re-detained (the latest 2013-rule
//!   body, `NHS-WHO-PAYS-2016-AFTER-2013`), not the CCG of the GP at the
//!   chain's first detention, which never held the after-care (SPEC 3). If
//!   that body is not recorded the NHS side is asked, not guessed.
//! - The originating NHS facts come from the first detention of the hospital
//!   stay (s2 included: "initial detention, whether for assessment or
//!   treatment"); the council facts from the latest qualifying detention of
//!   the stay.
//! - Transferred prisoners (s47, s48, with or without s49) who leave hospital
//!   for the community: the ordinary rules applied to the facts before
//!   custody recorded on the transfer direction: the council of ordinary
//!   residence (`LA-PRISONER-OR-BEFORE-CUSTODY`) and the commissioner of the
//!   GP practice, else of usual residence (`NHS-PRISONER-BEFORE-CUSTODY`).
//!   Computed, not asked: each explanation names it as the product's reading
//!   of SPEC 3 that a recorded determination overrides. Only when neither GP
//!   nor residence before custody is known is the NHS side an open question
//!   (`NHS-PRISONER-OPEN`). A person remitted to prison rather than released
//!   is an open case; no event records a remission, so the explanations say
//!   to record a determination then. A transfer while a duty is open keeps
//!   the originating commissioner, as any re-detention does.
//! - Determinations are keyed by the qualifying detention date, and resolve
//!   to successors like computed answers.
//! - A fresh qualifying detention clears a CTO in force (it is revoked).
//!
//! ```
//! use aftercare_core::rules::{derive, Event, EventKind, RulesConfig};
//! use aftercare_core::{parse_date, OrgCode, Section};
//!
//! let la_a = OrgCode::parse("LA-A").unwrap();
//! let icb_a = OrgCode::parse("ICB-A").unwrap();
//! let events = vec![
//!     Event {
//!         on: parse_date("2023-01-09").unwrap(),
//!         kind: EventKind::Detained {
//!             section: Section::S3,
//!             ordinary_residence: Some(la_a.clone()),
//!             no_fixed_abode: false,
//!             gp_commissioner: Some(icb_a.clone()),
//!             residence_commissioner: None,
//!             place_of_detention_council: None,
//!             deemed_ordinary_residence: None,
//!         },
//!     },
//!     Event {
//!         on: parse_date("2023-04-20").unwrap(),
//!         kind: EventKind::LeftHospital { discharged_to: None, gp_commissioner: None, residence_commissioner: None },
//!     },
//! ];
//! let d = derive(&events, &RulesConfig::new(parse_date("2025-01-01").unwrap()));
//! assert!(d.eligible);
//! assert_eq!(d.entitlements[0].council.org, Some(la_a));
//! assert_eq!(d.entitlements[0].council.rule.id, "LA-OR-BEFORE-DETENTION");
//! assert_eq!(d.entitlements[0].nhs.org, Some(icb_a));
//! ```

mod engine;
mod model;
mod responsibility;
mod table;
mod what_if;

pub use engine::derive;
pub use model::{
    Body, Derivation, Determination, Eligibility, EndReason, EndingReason, Entitlement, Event,
    EventKind, IgnoredEvent, OpenQuestion, Responsibility, RulesConfig, Successor, Topic,
};
pub use table::{
    CARE_ACT_FROM, ICB_REGS_FROM, Rule, RuleRef, WHO_PAYS_2013_FROM, WHO_PAYS_2016_FROM,
    WHO_PAYS_2024_FROM, WORCESTERSHIRE_UKSC, rule, rules,
};
pub use what_if::{WhatIf, what_if};

/// Version of the rules table; changes whenever a rule is added or its
/// meaning changes, so stored derivations can say which rules produced them.
pub const RULES_VERSION: &str = "2025-12-18.2";
