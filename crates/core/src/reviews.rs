//! Review schedules for s117 after-care (SPEC 5): which review is due next
//! for a person under the schedule policy their partnership chose, and which
//! review met each milestone, so registers can list overdue reviews.
//!
//! A policy is data: fixed milestones counted from the date the person left
//! hospital, then a repeating review counted from the latest review held.
//!
//! Counting rule: the k-th review held since the entitlement started meets
//! the k-th milestone (in date order), however early or late it was held;
//! once every milestone is met, the next review is due one repeat period
//! after the latest review held. Months are calendar months clamped to the
//! month's last day ([`crate::date::add_months`]).
//!
//! Decisions (each tested in `tests/reviews.rs`):
//! - Only reviews held on or after the entitlement start count; a review on
//!   the start date counts. Earlier reviews (a pre-discharge meeting, reviews
//!   of an earlier, ended period) belong to no milestone of this entitlement.
//! - Each distinct review date counts once: two records of the same day are
//!   one review recorded twice (duplicate imports), not two reviews. Order of
//!   the input does not matter.
//! - 72 hours is 3 calendar days after the leaving-hospital date: legal dates
//!   are calendar dates, never timestamps.
//! - Transforming care (Lincolnshire): the 3-month milestone is inserted in
//!   date order (72h, 6w, 3m, 6m) and counted like any other, so such a person
//!   needs four reviews, not three, before the annual cycle starts. A policy
//!   without a transforming-care milestone ignores the flag.
//! - The caller passes only reviews actually held; a review dated after the
//!   as-of date is the caller's to filter (this module has no clock).
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
//! let due = next_review(&lincs, left, left, &held, false);
//! assert_eq!(due.milestone, Milestone::Weeks6);
//! assert_eq!(due.due, parse_date("2024-04-12").unwrap());
//! assert_eq!(due.rule.id, "REVIEW-SCHEDULE-LINCOLNSHIRE");
//! assert_eq!(overdue_days(due.due, parse_date("2024-04-22").unwrap()), 10);
//! ```

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::date::{add_months, long_date};
use crate::rules::{Rule, RuleRef};

/// A named review point; `name()` is the stable text used in CSV and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Milestone {
    #[serde(rename = "72h")]
    Hours72,
    #[serde(rename = "6w")]
    Weeks6,
    #[serde(rename = "3m")]
    Months3,
    #[serde(rename = "6m")]
    Months6,
    #[serde(rename = "annual")]
    Annual,
    #[serde(rename = "6-monthly")]
    SixMonthly,
}

impl Milestone {
    /// Every milestone, in the order a schedule would meet them.
    pub const ALL: [Milestone; 6] = [
        Milestone::Hours72,
        Milestone::Weeks6,
        Milestone::Months3,
        Milestone::Months6,
        Milestone::Annual,
        Milestone::SixMonthly,
    ];

    /// The stable name: `72h`, `6w`, `3m`, `6m`, `annual`, `6-monthly`.
    ///
    /// ```
    /// use aftercare_core::reviews::Milestone;
    /// assert_eq!(Milestone::SixMonthly.name(), "6-monthly");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Milestone::Hours72 => "72h",
            Milestone::Weeks6 => "6w",
            Milestone::Months3 => "3m",
            Milestone::Months6 => "6m",
            Milestone::Annual => "annual",
            Milestone::SixMonthly => "6-monthly",
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

/// A partnership's review schedule.
///
/// Invariant of the built-in policies (a property test checks it): the
/// milestones are in date order and the repeat period is at least as long as
/// the last milestone's offset, so holding a review never brings the next
/// due date forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulePolicy {
    /// The name chosen with `--policy`: `default`, `lincolnshire`, `rotherham`.
    pub name: &'static str,
    /// Fixed milestones, each counted from the date the person left hospital.
    pub milestones: Vec<(Milestone, Offset)>,
    /// The extra milestone for transforming-care cases, if the policy has one.
    pub transforming_care: Option<(Milestone, Offset)>,
    /// The review that repeats once the milestones are met, counted from the
    /// latest review held.
    pub repeat: (Milestone, Offset),
    /// Where the schedule comes from.
    pub rule: Rule,
}

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
    title: "Review within 6 weeks of leaving hospital, then every 12 months after the latest review (sooner if circumstances change)",
    effective_from: None,
    effective_to: None,
    citation: "SPEC 5 [Ombudsman]",
};

static LINCOLNSHIRE_RULE: Rule = Rule {
    id: "REVIEW-SCHEDULE-LINCOLNSHIRE",
    title: "Review 72 hours, 6 weeks and 6 months after leaving hospital (and at 3 months in transforming-care cases), then every 12 months after the latest review",
    effective_from: None,
    effective_to: None,
    citation: "SPEC 5 [Lincs 4.2]",
};

static ROTHERHAM_RULE: Rule = Rule {
    id: "REVIEW-SCHEDULE-ROTHERHAM",
    title: "Review within 6 weeks of leaving hospital, then every 6 months after the latest review (never more than 12 months apart)",
    effective_from: None,
    effective_to: None,
    citation: "SPEC 5 [RDaSH 5.11]",
};

/// The built-in policies: `default` (Ombudsman), `lincolnshire`, `rotherham`.
pub fn policies() -> Vec<SchedulePolicy> {
    vec![
        SchedulePolicy {
            name: "default",
            milestones: vec![(Milestone::Weeks6, Offset::weeks(6))],
            transforming_care: None,
            repeat: (Milestone::Annual, Offset::Months(12)),
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
            rule: LINCOLNSHIRE_RULE,
        },
        SchedulePolicy {
            name: "rotherham",
            milestones: vec![(Milestone::Weeks6, Offset::weeks(6))],
            transforming_care: None,
            repeat: (Milestone::SixMonthly, Offset::Months(6)),
            rule: ROTHERHAM_RULE,
        },
    ]
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

/// The next review due under `policy`.
///
/// `left_hospital` is the date the milestones count from; `entitlement_start`
/// is the date from which reviews count (usually the same date; for a
/// reinstated period the caller chooses both). See the module documentation
/// for the counting rule.
///
/// ```
/// use aftercare_core::parse_date;
/// use aftercare_core::reviews::{Milestone, next_review, policy};
/// let d = |s| parse_date(s).unwrap();
/// let rotherham = policy("rotherham").unwrap();
/// let left = d("2024-03-01");
/// let due = next_review(&rotherham, left, left, &[d("2024-04-10"), d("2025-03-31")], false);
/// assert_eq!((due.milestone, due.due), (Milestone::SixMonthly, d("2025-09-30")));
/// ```
pub fn next_review(
    policy: &SchedulePolicy,
    left_hospital: NaiveDate,
    entitlement_start: NaiveDate,
    reviews_held: &[NaiveDate],
    transforming_care: bool,
) -> ReviewDue {
    let counted = counted_reviews(entitlement_start, reviews_held);
    let milestones = policy.milestones_for(left_hospital, transforming_care);
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
    let (milestone, due, mut explanation) = match milestones.get(k) {
        Some(&(milestone, offset)) => (
            milestone,
            offset.after(left_hospital),
            format!(
                "{held}; the {} meets the {milestone} milestone, {offset} after leaving hospital on {}",
                ordinal(k + 1),
                long_date(left_hospital)
            ),
        ),
        None => {
            let (milestone, offset) = policy.repeat;
            // Only a policy without milestones can reach here with no review.
            let (base, from) = match counted.last() {
                Some(&latest) => (latest, "the latest review, held on"),
                None => (left_hospital, "leaving hospital on"),
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
}

/// The review timeline up to `until`, for the person page: every milestone
/// met or due by `until` with the review that met it, every repeat review
/// held (each due one period after the review before it), then the pending
/// repeat review if it falls due by `until`.
///
/// Counting is the same as [`next_review`], so with `until` at
/// [`NaiveDate::MAX`] the first entry without `held_on` is the next review.
///
/// ```
/// use aftercare_core::parse_date;
/// use aftercare_core::reviews::{Milestone, policy, schedule};
/// let d = |s| parse_date(s).unwrap();
/// let left = d("2024-03-01");
/// let timeline = schedule(&policy("default").unwrap(), left, left, &[d("2024-04-01")], false, d("2025-06-01"));
/// assert_eq!(timeline.len(), 2);
/// assert_eq!((timeline[0].milestone, timeline[0].held_on), (Milestone::Weeks6, Some(d("2024-04-01"))));
/// assert_eq!((timeline[1].milestone, timeline[1].due, timeline[1].held_on), (Milestone::Annual, d("2025-04-01"), None));
/// ```
pub fn schedule(
    policy: &SchedulePolicy,
    left_hospital: NaiveDate,
    entitlement_start: NaiveDate,
    reviews_held: &[NaiveDate],
    transforming_care: bool,
    until: NaiveDate,
) -> Vec<ScheduledReview> {
    let counted = counted_reviews(entitlement_start, reviews_held);
    let milestones = policy.milestones_for(left_hospital, transforming_care);
    let mut timeline: Vec<ScheduledReview> = milestones
        .iter()
        .enumerate()
        .map(|(i, &(milestone, offset))| ScheduledReview {
            milestone,
            due: offset.after(left_hospital),
            held_on: counted.get(i).copied(),
        })
        .filter(|r| r.held_on.is_some() || r.due <= until)
        .collect();
    if counted.len() < milestones.len() {
        // The next review still meets a milestone; no repeat is due yet.
        return timeline;
    }
    let (milestone, offset) = policy.repeat;
    let mut base = milestones.len().checked_sub(1).map_or(left_hospital, |i| counted[i]);
    for &held in &counted[milestones.len()..] {
        timeline.push(ScheduledReview { milestone, due: offset.after(base), held_on: Some(held) });
        base = held;
    }
    let pending = offset.after(base);
    if pending <= until {
        timeline.push(ScheduledReview { milestone, due: pending, held_on: None });
    }
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

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`, ...
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
