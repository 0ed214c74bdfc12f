//! Review schedules for s117 after-care (SPEC 5): which review is due next
//! for a person under the schedule policy their partnership chose, and which
//! review met each milestone, so registers can list overdue reviews.
//!
//! A policy is data: fixed milestones counted from the date the period of
//! after-care started (leaving hospital, or a reinstatement), then a
//! repeating review counted from the latest review held, plus a review due
//! within a set time of each change of circumstances.
//!
//! Counting rule:
//! - A review held on date D meets every milestone not yet met whose due
//!   date is on or before D, so one review after missed milestones catches
//!   them all up (a review on 30 November meets a missed 6-week and a missed
//!   6-month review at once). A review that meets none that way (it was held
//!   before the next milestone fell due) meets the earliest milestone not
//!   yet met: a review held early still counts, as it always did.
//! - Milestones are therefore met in date order, and after the latest review
//!   the next milestone is the first one due after it. Once every milestone
//!   is met, the next review is due one repeat period after the latest
//!   review held; every later review is a repeat review.
//! - A change of circumstances on date C (see [`ChangeKind`]) puts a review
//!   due by C plus the policy's `change_of_circumstances` period; any review
//!   held on or after C satisfies it (and also counts towards the milestones
//!   and repeats as above).
//! - The review due is the earliest one not yet met: the next milestone (or
//!   repeat) or a change-of-circumstances review, whichever falls due first;
//!   on the same date the milestone is named.
//! - Months are calendar months clamped to the month's last day
//!   ([`crate::date::add_months`]).
//!
//! Decisions (each tested in `tests/reviews.rs`):
//! - Only reviews held on or after the entitlement start count; a review on
//!   the start date counts. Earlier reviews (a pre-discharge meeting, reviews
//!   of an earlier, ended period) belong to no milestone of this entitlement.
//!   Changes of circumstances before the start belong to no review of it.
//! - A reinstated period's schedule counts from the reinstatement (the
//!   caller passes it as both dates), and the reinstatement is itself a
//!   change of circumstances, so the first review is due within the change
//!   period (4 weeks) or the policy's first milestone, whichever is sooner,
//!   never the 6-week milestone of the original discharge.
//! - Each distinct review date counts once: two records of the same day are
//!   one review recorded twice (duplicate imports), not two reviews. Order of
//!   the input does not matter.
//! - 72 hours is 3 calendar days after the leaving-hospital date: legal dates
//!   are calendar dates, never timestamps.
//! - Transforming care (Lincolnshire): the 3-month milestone is inserted in
//!   date order (72h, 6w, 3m, 6m) and counted like any other. A policy
//!   without a transforming-care milestone ignores the flag.
//! - The caller passes only reviews actually held and changes that have
//!   happened; anything dated after the as-of date is the caller's to filter
//!   (this module has no clock).
//! - Date arithmetic saturates at [`NaiveDate::MAX`] instead of panicking, so
//!   any date in chrono's range gives an answer.
//!
//! ```
//! use aftercare_core::parse_date;
//! use aftercare_core::reviews::{Milestone, next_review, overdue_days, policy};
//!
//! let lincs = policy("lincolnshire").unwrap();
//! let left = parse_date("2024-03-01").unwrap();
//! let held = [parse_date("2024-03-04").unwrap()];
//! let due = next_review(&lincs, left, left, &held, &[], false);
//! assert_eq!(due.milestone, Milestone::Weeks6);
//! assert_eq!(due.due, parse_date("2024-04-12").unwrap());
//! assert_eq!(due.rule.id, "REVIEW-SCHEDULE-LINCOLNSHIRE");
//! assert_eq!(overdue_days(due.due, parse_date("2024-04-22").unwrap()), 10);
//! ```

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::date::{add_months, long_date};
use crate::rules::{Entitlement, Event, EventKind, Rule, RuleRef};

/// A named review point; `name()` is the stable text used in CSV and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Milestone {
    #[serde(rename = "72h")]
    Hours72,
    #[serde(rename = "6w")]
    Weeks6,
    #[serde(rename = "12w")]
    Weeks12,
    #[serde(rename = "3m")]
    Months3,
    #[serde(rename = "6m")]
    Months6,
    #[serde(rename = "annual")]
    Annual,
    #[serde(rename = "6-monthly")]
    SixMonthly,
    /// The review a change of circumstances puts due (SPEC 5).
    #[serde(rename = "change_of_circumstances")]
    ChangeOfCircumstances,
}

impl Milestone {
    /// Every milestone, in the order a schedule would meet them.
    pub const ALL: [Milestone; 8] = [
        Milestone::Hours72,
        Milestone::Weeks6,
        Milestone::Weeks12,
        Milestone::Months3,
        Milestone::Months6,
        Milestone::Annual,
        Milestone::SixMonthly,
        Milestone::ChangeOfCircumstances,
    ];

    /// The stable name: `72h`, `6w`, `12w`, `3m`, `6m`, `annual`,
    /// `6-monthly`, `change_of_circumstances`.
    ///
    /// ```
    /// use aftercare_core::reviews::Milestone;
    /// assert_eq!(Milestone::SixMonthly.name(), "6-monthly");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Milestone::Hours72 => "72h",
            Milestone::Weeks6 => "6w",
            Milestone::Weeks12 => "12w",
            Milestone::Months3 => "3m",
            Milestone::Months6 => "6m",
            Milestone::Annual => "annual",
            Milestone::SixMonthly => "6-monthly",
            Milestone::ChangeOfCircumstances => "change_of_circumstances",
        }
    }

    /// The milestone with this exact [`name`](Self::name), if any.
    ///
    /// ```
    /// use aftercare_core::reviews::Milestone;
    /// assert_eq!(Milestone::parse("6w"), Some(Milestone::Weeks6));
    /// assert_eq!(Milestone::parse("six weeks"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Milestone> {
        Milestone::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for Milestone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How far a review falls after its base date: calendar days, or calendar
/// months clamped to the month's last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offset {
    Days(u32),
    Months(u32),
}

impl Offset {
    /// `n` weeks as days (weeks are exact, unlike months).
    pub const fn weeks(n: u32) -> Offset {
        Offset::Days(n.saturating_mul(7))
    }

    /// The date this offset after `base`, saturating at [`NaiveDate::MAX`].
    ///
    /// ```
    /// use aftercare_core::parse_date;
    /// use aftercare_core::reviews::Offset;
    /// let d = |s| parse_date(s).unwrap();
    /// assert_eq!(Offset::Months(6).after(d("2023-08-31")), d("2024-02-29"));
    /// assert_eq!(Offset::Days(3).after(d("2023-12-30")), d("2024-01-02"));
    /// ```
    pub fn after(self, base: NaiveDate) -> NaiveDate {
        match self {
            Offset::Days(n) => {
                base.checked_add_days(chrono::Days::new(n.into())).unwrap_or(NaiveDate::MAX)
            }
            Offset::Months(n) => add_months(base, n),
        }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match *self {
            Offset::Days(n) if n > 0 && n % 7 == 0 => (n / 7, "week"),
            Offset::Days(n) => (n, "day"),
            Offset::Months(n) => (n, "month"),
        };
        write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

/// What changed in a person's circumstances (SPEC 5: "a change of
/// circumstances ... triggers a review").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The person moved home.
    Moved,
    /// An informal (voluntary) admission to hospital.
    AdmittedInformally,
    /// A detention that does not end the duty (s2, a place of safety, ...).
    Detained,
    /// Leaving hospital after an admission that did not end the duty.
    LeftHospital,
    CtoStarted,
    CtoEnded,
    /// After-care ended prematurely and was reinstated.
    Reinstated,
}

impl ChangeKind {
    /// The stable name used in files: `moved`, `admitted_informally`, ...
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Moved => "moved",
            ChangeKind::AdmittedInformally => "admitted_informally",
            ChangeKind::Detained => "detained",
            ChangeKind::LeftHospital => "left_hospital",
            ChangeKind::CtoStarted => "cto_started",
            ChangeKind::CtoEnded => "cto_ended",
            ChangeKind::Reinstated => "reinstated",
        }
    }

    /// A label for sentences: "moved home", "admitted informally".
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Moved => "moved home",
            ChangeKind::AdmittedInformally => "admitted informally",
            ChangeKind::Detained => "detained under a section that does not end the duty",
            ChangeKind::LeftHospital => "left hospital",
            ChangeKind::CtoStarted => "community treatment order started",
            ChangeKind::CtoEnded => "community treatment order ended",
            ChangeKind::Reinstated => "after-care reinstated",
        }
    }
}

/// One dated change of circumstances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChangeOfCircumstances {
    pub on: NaiveDate,
    pub kind: ChangeKind,
}

/// The changes of circumstances during `period`, from the person's legal
/// history (the events given to [`crate::rules::derive`]), in date order.
///
/// A change counts if it happens after the period started and while it is
/// open: a move, an informal admission, a detention that does not end the
/// duty (a qualifying one ends the period), leaving hospital after such an
/// admission, a CTO starting or ending. Events on the start date itself are
/// the discharge the milestones already schedule (leaving hospital onto a
/// CTO, say), so they do not count, except that a reinstated period's start
/// is its reinstatement, which does.
///
/// ```
/// use aftercare_core::parse_date;
/// use aftercare_core::reviews::{ChangeKind, changes_of_circumstances};
/// use aftercare_core::rules::{derive, Event, EventKind, RulesConfig};
/// use aftercare_core::{OrgCode, Section};
/// let d = |s| parse_date(s).unwrap();
/// let org = |s| Some(OrgCode::parse(s).unwrap());
/// let events = vec![
///     Event { on: d("2024-01-10"), kind: EventKind::Detained { section: Section::S3,
///         ordinary_residence: org("LA-A"), no_fixed_abode: false, gp_commissioner: org("ICB-A"),
///         residence_commissioner: None, place_of_detention_council: None,
///         deemed_ordinary_residence: None } },
///     Event { on: d("2024-03-01"), kind: EventKind::LeftHospital { discharged_to: org("LA-A"),
///         gp_commissioner: None, residence_commissioner: None } },
///     Event { on: d("2024-03-01"), kind: EventKind::CtoStarted },
///     Event { on: d("2024-06-01"), kind: EventKind::Moved { to: OrgCode::parse("LA-B").unwrap() } },
/// ];
/// let derivation = derive(&events, &RulesConfig::new(d("2025-01-01")));
/// let changes = changes_of_circumstances(&events, &derivation.entitlements[0]);
/// assert_eq!(changes.len(), 1);
/// assert_eq!((changes[0].on, changes[0].kind), (d("2024-06-01"), ChangeKind::Moved));
/// ```
pub fn changes_of_circumstances(
    events: &[Event],
    period: &Entitlement,
) -> Vec<ChangeOfCircumstances> {
    let mut out = Vec::new();
    if period.reinstated {
        out.push(ChangeOfCircumstances { on: period.start, kind: ChangeKind::Reinstated });
    }
    for event in events.iter().filter(|e| e.on > period.start && period.covers(e.on)) {
        let kind = match &event.kind {
            EventKind::Moved { .. } => ChangeKind::Moved,
            EventKind::AdmittedInformally => ChangeKind::AdmittedInformally,
            EventKind::Detained { section, .. } if section.is_detention() => ChangeKind::Detained,
            EventKind::Detained { section, .. } if *section == crate::Section::Informal => {
                ChangeKind::AdmittedInformally
            }
            EventKind::LeftHospital { .. } => ChangeKind::LeftHospital,
            EventKind::CtoStarted => ChangeKind::CtoStarted,
            EventKind::CtoEnded => ChangeKind::CtoEnded,
            // Guardianship and not-applicable codes are no admission; an
            // agreement to end, a reinstatement while open (ignored by the
            // engine) and death are not changes a review could follow.
            _ => continue,
        };
        out.push(ChangeOfCircumstances { on: event.on, kind });
    }
    out.sort();
    out.dedup();
    out
}

/// A partnership's review schedule.
///
/// Invariant of the built-in policies (a property test checks it): the
/// milestones are in date order and the repeat period is at least as long as
/// the last milestone's offset, so holding a review never brings the next
/// due date forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulePolicy {
    /// The name chosen with `--policy`: `default`, `lincolnshire`,
    /// `rotherham`, `buckinghamshire`.
    pub name: &'static str,
    /// Fixed milestones, each counted from the date the period started
    /// (leaving hospital, or the reinstatement).
    pub milestones: Vec<(Milestone, Offset)>,
    /// The extra milestone for transforming-care cases, if the policy has one.
    pub transforming_care: Option<(Milestone, Offset)>,
    /// The review that repeats once the milestones are met, counted from the
    /// latest review held.
    pub repeat: (Milestone, Offset),
    /// How soon after a change of circumstances a review is due.
    pub change_of_circumstances: Offset,
    /// Where the schedule comes from.
    pub rule: Rule,
}

/// The built-in policies' change-of-circumstances period: 4 weeks.
///
/// No source sets one: SPEC 5 (after the Ombudsman) says only "sooner if
/// circumstances change". Four weeks is sooner than every built-in first
/// milestone except Lincolnshire's 72 hours, so a move, an admission or an
/// urgent reinstatement never waits for a 6-week (or Buckinghamshire's
/// 12-week) milestone, and it is still long enough to give the person, their
/// carer or advocate and both commissioners notice of a multi-agency review
/// meeting. A partnership can set its own period in its policy.
pub const CHANGE_OF_CIRCUMSTANCES_DEFAULT: Offset = Offset::weeks(4);

impl SchedulePolicy {
    /// The milestones that apply to one person, in date order from
    /// `left_hospital`: the transforming-care milestone is inserted when
    /// `transforming_care` is set and the policy has one.
    ///
    /// ```
    /// use aftercare_core::parse_date;
    /// use aftercare_core::reviews::policy;
    /// let lincs = policy("lincolnshire").unwrap();
    /// let names: Vec<_> = lincs
    ///     .milestones_for(parse_date("2024-03-01").unwrap(), true)
    ///     .iter()
    ///     .map(|(m, _)| m.name())
    ///     .collect();
    /// assert_eq!(names, ["72h", "6w", "3m", "6m"]);
    /// ```
    pub fn milestones_for(
        &self,
        left_hospital: NaiveDate,
        transforming_care: bool,
    ) -> Vec<(Milestone, Offset)> {
        let mut milestones = self.milestones.clone();
        if let (true, Some(extra)) = (transforming_care, self.transforming_care) {
            milestones.push(extra);
            // Stable: on equal dates the policy's own order wins.
            milestones.sort_by_key(|(_, offset)| offset.after(left_hospital));
        }
        milestones
    }
}

static DEFAULT_RULE: Rule = Rule {
    id: "REVIEW-SCHEDULE-DEFAULT",
    title: "Review within 6 weeks of leaving hospital, then every 12 months after the latest review, and within 4 weeks of a change of circumstances",
    effective_from: None,
    effective_to: None,
    citation: "SPEC 5 [Ombudsman]",
};

static LINCOLNSHIRE_RULE: Rule = Rule {
    id: "REVIEW-SCHEDULE-LINCOLNSHIRE",
    title: "Review 72 hours, 6 weeks and 6 months after leaving hospital (and at 3 months in transforming-care cases), then every 12 months after the latest review, and within 4 weeks of a change of circumstances",
    effective_from: None,
    effective_to: None,
    citation: "SPEC 5 [Lincs 4.2]",
};

static ROTHERHAM_RULE: Rule = Rule {
    id: "REVIEW-SCHEDULE-ROTHERHAM",
    title: "Review within 6 weeks of leaving hospital, then every 6 months after the latest review (never more than 12 months apart), and within 4 weeks of a change of circumstances",
    effective_from: None,
    effective_to: None,
    citation: "SPEC 5 [RDaSH 5.11]",
};

static BUCKINGHAMSHIRE_RULE: Rule = Rule {
    id: "REVIEW-SCHEDULE-BUCKINGHAMSHIRE",
    title: "New placements reviewed 6 to 12 weeks after leaving hospital (due at 12 weeks), then at least every 12 months after the latest review, and within 4 weeks of a change of circumstances",
    effective_from: None,
    effective_to: None,
    citation: "SPEC 5 [Bucks]",
};

/// The built-in policies: `default` (Ombudsman), `lincolnshire`,
/// `rotherham`, `buckinghamshire`.
///
/// Buckinghamshire reviews a new placement at 6 to 12 weeks: the window
/// opens at 6 weeks after leaving hospital and the review is due (overdue
/// after) 12 weeks, so the schedule's milestone is `12w`. A review held
/// before 6 weeks still meets it under the counting rule, as an early review
/// does under every policy; the register shows the due date, not the
/// window's opening.
pub fn policies() -> Vec<SchedulePolicy> {
    vec![
        SchedulePolicy {
            name: "default",
            milestones: vec![(Milestone::Weeks6, Offset::weeks(6))],
            transforming_care: None,
            repeat: (Milestone::Annual, Offset::Months(12)),
            change_of_circumstances: CHANGE_OF_CIRCUMSTANCES_DEFAULT,
            rule: DEFAULT_RULE,
        },
        SchedulePolicy {
            name: "lincolnshire",
            milestones: vec![
                (Milestone::Hours72, Offset::Days(3)),
                (Milestone::Weeks6, Offset::weeks(6)),
                (Milestone::Months6, Offset::Months(6)),
            ],
            transforming_care: Some((Milestone::Months3, Offset::Months(3))),
            repeat: (Milestone::Annual, Offset::Months(12)),
            change_of_circumstances: CHANGE_OF_CIRCUMSTANCES_DEFAULT,
            rule: LINCOLNSHIRE_RULE,
        },
        SchedulePolicy {
            name: "rotherham",
            milestones: vec![(Milestone::Weeks6, Offset::weeks(6))],
            transforming_care: None,
            repeat: (Milestone::SixMonthly, Offset::Months(6)),
            change_of_circumstances: CHANGE_OF_CIRCUMSTANCES_DEFAULT,
            rule: ROTHERHAM_RULE,
        },
        SchedulePolicy {
            name: "buckinghamshire",
            milestones: vec![(Milestone::Weeks12, Offset::weeks(12))],
            transforming_care: None,
            repeat: (Milestone::Annual, Offset::Months(12)),
            change_of_circumstances: CHANGE_OF_CIRCUMSTANCES_DEFAULT,
            rule: BUCKINGHAMSHIRE_RULE,
        },
    ]
}

/// The names of the built-in policies, for messages that list them.
///
/// ```
/// use aftercare_core::reviews::policy_names;
/// assert_eq!(policy_names(), ["default", "lincolnshire", "rotherham", "buckinghamshire"]);
/// ```
pub fn policy_names() -> Vec<&'static str> {
    policies().iter().map(|p| p.name).collect()
}

/// The built-in policy with this exact name.
///
/// ```
/// use aftercare_core::reviews::policy;
/// assert_eq!(policy("rotherham").unwrap().rule.citation, "SPEC 5 [RDaSH 5.11]");
/// assert!(policy("Rotherham").is_none());
/// ```
pub fn policy(name: &str) -> Option<SchedulePolicy> {
    policies().into_iter().find(|p| p.name == name)
}

/// The next review a person needs, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDue {
    pub milestone: Milestone,
    pub due: NaiveDate,
    /// The policy's rule.
    pub rule: RuleRef,
    /// One sentence: how many reviews counted, and what the due date is
    /// counted from.
    pub explanation: String,
}

/// How the counted reviews met a schedule's milestones.
struct Met {
    /// For each milestone (in the order given), the review that met it.
    by: Vec<Option<NaiveDate>>,
    /// How many of the counted reviews went to milestones; the rest are
    /// repeat reviews.
    used: usize,
}

/// Applies the counting rule (module documentation) to reviews in date order.
fn meet_milestones(dues: &[NaiveDate], counted: &[NaiveDate]) -> Met {
    let mut by: Vec<Option<NaiveDate>> = vec![None; dues.len()];
    let mut used = 0;
    for &held in counted {
        if by.iter().all(Option::is_some) {
            break;
        }
        used += 1;
        let mut met_any = false;
        for (slot, due) in by.iter_mut().zip(dues) {
            if slot.is_none() && *due <= held {
                *slot = Some(held);
                met_any = true;
            }
        }
        if !met_any && let Some(slot) = by.iter_mut().find(|s| s.is_none()) {
            // Held before the next milestone fell due: it meets that one.
            *slot = Some(held);
        }
    }
    Met { by, used }
}

/// The changes on or after the start, each with its due date and the first
/// counted review held on or after it.
fn change_reviews(
    policy: &SchedulePolicy,
    entitlement_start: NaiveDate,
    changes: &[ChangeOfCircumstances],
    counted: &[NaiveDate],
) -> Vec<(ChangeOfCircumstances, NaiveDate, Option<NaiveDate>)> {
    let mut changes: Vec<ChangeOfCircumstances> =
        changes.iter().copied().filter(|c| c.on >= entitlement_start).collect();
    changes.sort();
    changes.dedup();
    changes
        .into_iter()
        .map(|c| {
            let met = counted.iter().copied().find(|held| *held >= c.on);
            (c, policy.change_of_circumstances.after(c.on), met)
        })
        .collect()
}

/// The next review due under `policy`.
///
/// `left_hospital` is the date the milestones count from; `entitlement_start`
/// is the date from which reviews and changes count (usually the same date;
/// for a reinstated period the caller passes the reinstatement as both).
/// `changes` are the changes of circumstances so far (see
/// [`changes_of_circumstances`]). See the module documentation for the
/// counting rule.
///
/// ```
/// use aftercare_core::parse_date;
/// use aftercare_core::reviews::{ChangeKind, ChangeOfCircumstances, Milestone, next_review, policy};
/// let d = |s| parse_date(s).unwrap();
/// let rotherham = policy("rotherham").unwrap();
/// let left = d("2024-03-01");
/// let due = next_review(&rotherham, left, left, &[d("2024-04-10"), d("2025-03-31")], &[], false);
/// assert_eq!((due.milestone, due.due), (Milestone::SixMonthly, d("2025-09-30")));
/// // A move on 1 May 2025 puts a review due within 4 weeks.
/// let moved = [ChangeOfCircumstances { on: d("2025-05-01"), kind: ChangeKind::Moved }];
/// let due = next_review(&rotherham, left, left, &[d("2024-04-10"), d("2025-03-31")], &moved, false);
/// assert_eq!((due.milestone, due.due), (Milestone::ChangeOfCircumstances, d("2025-05-29")));
/// ```
pub fn next_review(
    policy: &SchedulePolicy,
    left_hospital: NaiveDate,
    entitlement_start: NaiveDate,
    reviews_held: &[NaiveDate],
    changes: &[ChangeOfCircumstances],
    transforming_care: bool,
) -> ReviewDue {
    let counted = counted_reviews(entitlement_start, reviews_held);
    let milestones = policy.milestones_for(left_hospital, transforming_care);
    let dues: Vec<NaiveDate> = milestones.iter().map(|(_, o)| o.after(left_hospital)).collect();
    let met = meet_milestones(&dues, &counted);
    let k = counted.len();
    let held = format!(
        "Under the {} policy, {} been held since the entitlement started on {}",
        policy.name,
        match k {
            1 => "1 review has".to_string(),
            _ => format!("{k} reviews have"),
        },
        long_date(entitlement_start)
    );
    let unmet = met.by.iter().position(Option::is_none);
    let (mut milestone, mut due, mut explanation) = match unmet {
        Some(i) => {
            let (milestone, offset) = milestones[i];
            (
                milestone,
                dues[i],
                format!(
                    "{held}; the next review meets the {milestone} milestone, {offset} after the period started on {}",
                    long_date(left_hospital)
                ),
            )
        }
        None => {
            let (milestone, offset) = policy.repeat;
            // Only a policy without milestones can reach here with no review.
            let (base, from) = match counted.last() {
                Some(&latest) => (latest, "the latest review, held on"),
                None => (left_hospital, "the period started on"),
            };
            (
                milestone,
                offset.after(base),
                format!(
                    "{held}; no milestone remains, so the next {milestone} review is due {offset} after {from} {}",
                    long_date(base)
                ),
            )
        }
    };
    let pending_change = change_reviews(policy, entitlement_start, changes, &counted)
        .into_iter()
        .filter(|(_, _, met)| met.is_none())
        .min_by_key(|(c, change_due, _)| (*change_due, c.on));
    if let Some((change, change_due, _)) = pending_change
        && change_due < due
    {
        milestone = Milestone::ChangeOfCircumstances;
        due = change_due;
        explanation = format!(
            "{held}; a change of circumstances ({} on {}) puts a review due within {} of it, and no review has been held since",
            change.kind.label(),
            long_date(change.on),
            policy.change_of_circumstances
        );
    }
    let catch_up: Vec<String> = counted
        .iter()
        .filter_map(|&review| {
            let names: Vec<&str> = milestones
                .iter()
                .zip(&met.by)
                .filter(|(_, by)| **by == Some(review))
                .map(|((m, _), _)| m.name())
                .collect();
            (names.len() > 1).then(|| {
                format!("the review on {} met {} at once", long_date(review), names.join(", "))
            })
        })
        .collect();
    if !catch_up.is_empty() {
        explanation.push_str(&format!(
            " ({}: a review meets every milestone already due)",
            catch_up.join("; ")
        ));
    }
    let ignored = distinct(reviews_held.iter().copied().filter(|d| *d < entitlement_start)).len();
    if ignored > 0 {
        explanation.push_str(&format!(
            " ({} held before the entitlement started {} not counted)",
            plural(ignored, "review"),
            if ignored == 1 { "is" } else { "are" }
        ));
    }
    explanation.push('.');
    ReviewDue { milestone, due, rule: policy.rule.to_ref(), explanation }
}

/// Days past due on `as_of`; 0 on or before the due date.
///
/// ```
/// use aftercare_core::parse_date;
/// use aftercare_core::reviews::overdue_days;
/// let d = |s| parse_date(s).unwrap();
/// assert_eq!(overdue_days(d("2024-04-12"), d("2024-05-01")), 19);
/// assert_eq!(overdue_days(d("2024-04-12"), d("2024-04-12")), 0);
/// ```
pub fn overdue_days(due: NaiveDate, as_of: NaiveDate) -> i64 {
    // Any two NaiveDates are within ±2^24 years, so this cannot overflow.
    as_of.signed_duration_since(due).num_days().max(0)
}

/// One point on a person's review timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledReview {
    pub milestone: Milestone,
    pub due: NaiveDate,
    /// The counted review that met this point, if one has.
    pub held_on: Option<NaiveDate>,
    /// For a change-of-circumstances review, the change that put it due.
    #[serde(default)]
    pub change: Option<ChangeOfCircumstances>,
}

/// The review timeline up to `until`, for the person page, in due-date
/// order: every milestone met or due by `until` with the review that met it
/// (one review can meet several), every repeat review held (each due one
/// period after the review before it), the pending repeat review if it falls
/// due by `until`, and a review for each change of circumstances met or due
/// by `until`.
///
/// Counting is the same as [`next_review`], so with `until` at
/// [`NaiveDate::MAX`] the first entry without `held_on` is the next review.
///
/// ```
/// use aftercare_core::parse_date;
/// use aftercare_core::reviews::{Milestone, policy, schedule};
/// let d = |s| parse_date(s).unwrap();
/// let left = d("2024-03-01");
/// let timeline = schedule(&policy("default").unwrap(), left, left, &[d("2024-04-01")], &[], false, d("2025-06-01"));
/// assert_eq!(timeline.len(), 2);
/// assert_eq!((timeline[0].milestone, timeline[0].held_on), (Milestone::Weeks6, Some(d("2024-04-01"))));
/// assert_eq!((timeline[1].milestone, timeline[1].due, timeline[1].held_on), (Milestone::Annual, d("2025-04-01"), None));
/// ```
pub fn schedule(
    policy: &SchedulePolicy,
    left_hospital: NaiveDate,
    entitlement_start: NaiveDate,
    reviews_held: &[NaiveDate],
    changes: &[ChangeOfCircumstances],
    transforming_care: bool,
    until: NaiveDate,
) -> Vec<ScheduledReview> {
    let counted = counted_reviews(entitlement_start, reviews_held);
    let milestones = policy.milestones_for(left_hospital, transforming_care);
    let dues: Vec<NaiveDate> = milestones.iter().map(|(_, o)| o.after(left_hospital)).collect();
    let met = meet_milestones(&dues, &counted);
    let mut timeline: Vec<ScheduledReview> = milestones
        .iter()
        .zip(&dues)
        .zip(&met.by)
        .map(|((&(milestone, _), &due), &held_on)| ScheduledReview {
            milestone,
            due,
            held_on,
            change: None,
        })
        .filter(|r| r.held_on.is_some() || r.due <= until)
        .collect();
    if met.by.iter().all(Option::is_some) {
        let (milestone, offset) = policy.repeat;
        let mut base = met.used.checked_sub(1).map_or(left_hospital, |i| counted[i]);
        for &held in &counted[met.used..] {
            timeline.push(ScheduledReview {
                milestone,
                due: offset.after(base),
                held_on: Some(held),
                change: None,
            });
            base = held;
        }
        let pending = offset.after(base);
        if pending <= until {
            timeline.push(ScheduledReview { milestone, due: pending, held_on: None, change: None });
        }
    }
    for (change, due, held_on) in change_reviews(policy, entitlement_start, changes, &counted) {
        if held_on.is_some() || due <= until {
            timeline.push(ScheduledReview {
                milestone: Milestone::ChangeOfCircumstances,
                due,
                held_on,
                change: Some(change),
            });
        }
    }
    // Stable: on one date the schedule's own review comes before a change's,
    // as `next_review` names it.
    timeline.sort_by_key(|r| r.due);
    timeline
}

/// The distinct review dates on or after `entitlement_start`, in order.
fn counted_reviews(entitlement_start: NaiveDate, reviews_held: &[NaiveDate]) -> Vec<NaiveDate> {
    distinct(reviews_held.iter().copied().filter(|d| *d >= entitlement_start))
}

fn distinct(dates: impl Iterator<Item = NaiveDate>) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = dates.collect();
    dates.sort_unstable();
    dates.dedup();
    dates
}

fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
