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
//!   (pre-2013, 2016, 2022, 2024, or a determination) stays along the chain;
//!   a 2013–2016 period is decided afresh at each discharge. A joint ending
//!   followed by a new detention starts a new chain.
//! - The originating NHS facts come from the first detention of the hospital
//!   stay (s2 included: "initial detention, whether for assessment or
//!   treatment"); the council facts from the latest qualifying detention of
//!   the stay.
//! - Transferred prisoners (s47, s48): the council is still computed from
//!   ordinary residence before custody (the Ministry of Justice decides it;
//!   Bucks says so) but an open question asks for a determination; the NHS
//!   side is left undecided.
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
pub const RULES_VERSION: &str = "2025-12-18.1";
