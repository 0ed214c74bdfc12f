//! The law as data: every rule the engine can apply, with the dates it was
//! in force and where it comes from, so each derived fact can name its source.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One rule version: a statute, regulation, judgment or guidance row.
///
/// `effective_from` / `effective_to` (inclusive) say when the rule was the
/// stated law or guidance. How the engine picks between versions (by
/// detention date, by the date the person left hospital) is said in each
/// rule's title, because the sources choose differently for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable identifier, e.g. `LA-OR-BEFORE-DETENTION`.
    pub id: &'static str,
    /// What the rule says, in one sentence.
    pub title: &'static str,
    pub effective_from: Option<NaiveDate>,
    pub effective_to: Option<NaiveDate>,
    /// Statute, regulation, case or guidance, and the seed section.
    pub citation: &'static str,
}

impl Rule {
    /// Whether the rule was in force on `date`.
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.effective_from.is_none_or(|from| from <= date)
            && self.effective_to.is_none_or(|to| date <= to)
    }

    /// The serializable reference carried by every derived fact.
    pub fn to_ref(&self) -> RuleRef {
        RuleRef {
            id: self.id.to_string(),
            title: self.title.to_string(),
            effective_from: self.effective_from,
            effective_to: self.effective_to,
            citation: self.citation.to_string(),
        }
    }
}

/// A rule as the API returns it: owned, so it can be serialized and read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct RuleRef {
    pub id: String,
    pub title: String,
    pub effective_from: Option<NaiveDate>,
    pub effective_to: Option<NaiveDate>,
    pub citation: String,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.title)
    }
}

/// Builds a date in a `const` context; the table's dates are literals, so a
/// bad one fails the build rather than a request.
const fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => date,
        None => panic!("invalid date in the rules table"),
    }
}

/// 1 April 2013: Who Pays? (August 2013) replaces the PCT guidance.
pub const WHO_PAYS_2013_FROM: NaiveDate = date(2013, 4, 1);
/// 1 April 2015: Care Act 2014 s75 puts "ordinarily resident" into s117(3).
pub const CARE_ACT_FROM: NaiveDate = date(2015, 4, 1);
/// 1 April 2016: Who Pays? (2016) restores the originating commissioner.
pub const WHO_PAYS_2016_FROM: NaiveDate = date(2016, 4, 1);
/// 1 July 2022: ICBs replace CCGs; ICB Responsibilities Regulations 2022.
pub const ICB_REGS_FROM: NaiveDate = date(2022, 7, 1);
/// 10 August 2023: the Supreme Court decides Worcestershire.
pub const WORCESTERSHIRE_UKSC: NaiveDate = date(2023, 8, 10);
/// 1 April 2024: Who Pays? (2024) confirms the NHS rule after Worcestershire.
pub const WHO_PAYS_2024_FROM: NaiveDate = date(2024, 4, 1);

/// Every rule, grouped: eligibility, council, NHS, ending, housekeeping.
static RULES: &[Rule] = &[
    // --- Eligibility and entitlement -------------------------------------
    Rule {
        id: "ELIG-QUALIFYING-SECTION",
        title: "A person detained under s3, s37 (with or without s41), s45A, s47 or s48 (with or without s49) is eligible for s117 after-care",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(1); SPEC 2 [Kent 3.1; Lincs 1.1; RDaSH 5.2]",
    },
    Rule {
        id: "ELIG-NEEDS-DETERMINATION",
        title: "A legal status the sources do not settle (Criminal Procedure (Insanity) Act 1964, status not known) needs a recorded human decision on eligibility",
        effective_from: None,
        effective_to: None,
        citation: "NHS Data Dictionary MHA legal status codes 31, 99; SPEC 10",
    },
    Rule {
        id: "ENT-STARTS-ON-LEAVING-HOSPITAL",
        title: "The s117 duty starts when a person detained under a qualifying section ceases to be detained and leaves hospital, whether or not immediately; an informal admission or s2 detention while a duty is open does not end it",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(1); SPEC 2 [Kent 3.1; Lincs 1.1; RDaSH 5.2]",
    },
    // --- The council ----------------------------------------------------
    Rule {
        id: "LA-RESIDENT-PRE-2015",
        title: "Council where the person was resident immediately before a qualifying detention that began before 1 April 2015 (s117(3) before the Care Act amendment)",
        effective_from: None,
        effective_to: Some(date(2015, 3, 31)),
        citation: "MHA 1983 s117(3) as originally enacted; [Bucks, ordinary residence]",
    },
    Rule {
        id: "LA-OR-BEFORE-DETENTION",
        title: "Council where the person was ordinarily resident immediately before the qualifying detention (detentions from 1 April 2015); it stays so after discharge elsewhere and later moves",
        effective_from: Some(CARE_ACT_FROM),
        effective_to: None,
        citation: "MHA 1983 s117(3) as amended by Care Act 2014 s75; SPEC 3 [Kent 11.4.2; Lincs 2.0; Ombudsman]",
    },
    Rule {
        id: "LA-WORCESTERSHIRE-2023",
        title: "A qualifying re-detention ends the earlier duty; the new duty falls on the council of ordinary residence (ordinary meaning, no Care Act deeming) immediately before the new detention. Judgment of 10 August 2023; the product applies it to re-detentions of any date because it states what the law always was",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(3); R (Worcestershire CC) v SSHSC [2023] UKSC 31; SPEC 3 [Kent 11.5.3; Bucks]",
    },
    Rule {
        id: "LA-WORCESTERSHIRE-CA-2021",
        title: "Superseded: the Court of Appeal held the original council kept the duty after a re-detention. Kept only to explain determinations made before 10 August 2023; the engine never applies it",
        effective_from: None,
        effective_to: Some(date(2023, 8, 9)),
        citation: "R (Worcestershire CC) v SSHSC [2021] EWCA Civ 1957, reversed by [2023] UKSC 31; [Ombudsman, Funding]",
    },
    Rule {
        id: "LA-NFA-DISCHARGE-AREA",
        title: "No settled residence before the qualifying detention: the council for the area the person is discharged to; until that is known the council where the hospital is co-ordinates planning",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(3)(b); SPEC 3 [Bucks, no place of residence]",
    },
    Rule {
        id: "LA-OR-UNKNOWN",
        title: "Ordinary residence before the qualifying detention is not recorded and the person is not of no fixed abode: the AMHP, court or Ministry of Justice (or else the care co-ordinator) must decide it",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(3); SPEC 3 [Lincs 2.1]",
    },
    Rule {
        id: "LA-PRISONER-OR-BEFORE-CUSTODY",
        title: "Transferred prisoner (s47, s48, with or without s49) who leaves hospital for the community: the council where the person was ordinarily resident before custody, as the Ministry of Justice records it on the transfer direction. The product's reading of SPEC 3 (a judgement call, overridden by a recorded determination); a person remitted to prison rather than released stays an open case",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(3); SPEC 3 [Bucks: 'admitted to hospital from prison ... resident at the point they were detained in custody'; Lincs 2.1]",
    },
    Rule {
        id: "MHA2025-S117-3A-DEEMING",
        title: "Mental Health Act 2025 s117(3A): Care Act s39 deeming applies to ordinary residence for s117, so a person placed by a council stays that council's responsibility; applies to qualifying detentions on or after commencement (set in configuration; off until known)",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(3A) inserted by Mental Health Act 2025; Care Act 2014 s39; SPEC 3 (law not yet in force)",
    },
    // --- The NHS commissioner -------------------------------------------
    Rule {
        id: "NHS-WHO-PAYS-PRE-2013",
        title: "Left hospital before 1 April 2013: the PCT (now its successor) for where the person was resident immediately before detention; the originating body keeps later detentions and after-care until s117 ends",
        effective_from: None,
        effective_to: Some(date(2013, 3, 31)),
        citation: "Who Pays? (PCT guidance, 2007); SPEC 3 [Bucks, Who Pays? table]",
    },
    Rule {
        id: "NHS-WHO-PAYS-2013",
        title: "Left hospital 1 April 2013 to 31 March 2016: the CCG of the GP practice the person is registered with after discharge, or of usual residence if unregistered",
        effective_from: Some(WHO_PAYS_2013_FROM),
        effective_to: Some(date(2016, 3, 31)),
        citation: "Who Pays? (NHS England, August 2013); SPEC 3 [Bucks, Who Pays? table]",
    },
    Rule {
        id: "NHS-WHO-PAYS-2016",
        title: "Left hospital from 1 April 2016, duty started before 1 July 2022: the originating CCG (GP practice at the initial detention, or usual residence if unregistered), now its successor ICB, keeps responsibility through repeat detentions, informal admissions and moves until s117 ends",
        effective_from: Some(WHO_PAYS_2016_FROM),
        effective_to: Some(date(2022, 6, 30)),
        citation: "Who Pays? (NHS England, 2016 and 2020); SPEC 3 [Kent 11.3.3-11.3.4; Bucks]. The statute names the CCG of ordinary residence; the product follows Who Pays?, which the NHS pays by",
    },
    Rule {
        id: "NHS-ICB-REGS-2022",
        title: "Detention application that started the duty made on or after 1 July 2022: the ICB linked to the person's GP practice when it was made (usual residence if unregistered) is responsible for the detention and the after-care, including later detentions, until discharge from after-care",
        effective_from: Some(ICB_REGS_FROM),
        effective_to: None,
        citation: "NHS (ICB Responsibilities) Regulations 2022 regs 5 and 7; SPEC 3 [Lincs 2.0; Ombudsman]",
    },
    Rule {
        id: "NHS-WHO-PAYS-2024",
        title: "After a re-detention the council can change (Worcestershire) while the originating commissioner stays responsible; applied to periods after a re-detention that start on or after 1 April 2024",
        effective_from: Some(WHO_PAYS_2024_FROM),
        effective_to: None,
        citation: "Who Pays? (NHS England, 2024); NHS (ICB Responsibilities) Regulations 2022 reg 7; SPEC 3",
    },
    Rule {
        id: "NHS-COMMISSIONER-UNKNOWN",
        title: "Neither a GP practice nor a usual residence commissioner is recorded: the sources leave the NHS commissioner open and a determination must be recorded",
        effective_from: None,
        effective_to: None,
        citation: "Who Pays? (NHS England); SPEC 3",
    },
    Rule {
        id: "NHS-WHO-PAYS-2016-AFTER-2013",
        title: "A duty decided by the 2013 rule, then a re-detention, and leaving hospital from 1 April 2016: the originating commissioner kept through re-detentions is the CCG that held the after-care when the person was re-detained (the 2013 rule's CCG of the GP practice after discharge), not the CCG of the GP at the first detention, which never held the after-care",
        effective_from: Some(WHO_PAYS_2016_FROM),
        effective_to: None,
        citation: "Who Pays? (NHS England, 2016); SPEC 3 (a 2013-2016 duty followed by a re-detention after March 2016)",
    },
    Rule {
        id: "NHS-PRISONER-BEFORE-CUSTODY",
        title: "Transferred prisoner (s47, s48, with or without s49) who leaves hospital for the community: the commissioner of the GP practice the person was registered with before custody, or of usual residence before custody if unregistered; kept through later re-detentions like any originating commissioner. The product's reading of SPEC 3 (a judgement call, overridden by a recorded determination)",
        effective_from: None,
        effective_to: None,
        citation: "SPEC 3 (transferred prisoners) [Bucks: 'admitted to hospital from prison ... resident at the point they were detained in custody']",
    },
    Rule {
        id: "NHS-PRISONER-OPEN",
        title: "Transferred prisoner (s47, s48) with neither the GP practice nor the usual residence before custody recorded: NHS England commissions health care in prison, not after-care in the community, so the commissioner is undecided and a determination must be recorded",
        effective_from: None,
        effective_to: None,
        citation: "SPEC 3 [Bucks: 'NHS England ... responsible ... for people detained in prison']",
    },
    // --- Ending and reinstating -----------------------------------------
    Rule {
        id: "END-JOINT",
        title: "The duty ends only when both the council and the NHS commissioner are satisfied the person no longer needs after-care; one body ending it alone has no effect, and an agreement counts only towards the period open when it is recorded",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(2); SPEC 6 [Kent 9.1, 9.11; Lincs 5.1; Ombudsman]",
    },
    Rule {
        id: "END-NEVER-VALID",
        title: "Discharge from specialist services, time elapsed, deprivation of liberty, informal or s2 readmission, end of CTO or s17 leave, being on s17 leave, refusing services or asking to be discharged are never valid reasons on their own",
        effective_from: None,
        effective_to: None,
        citation: "SPEC 6 [Kent 9.7-9.8; Lincs 5.1, FAQ 1; RDaSH 5.12; Ombudsman; Bucks]",
    },
    Rule {
        id: "END-NOT-ON-CTO",
        title: "The duty cannot end while the person is on a community treatment order; an agreement recorded then is void and does not revive when the CTO ends",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(2); SPEC 6",
    },
    Rule {
        id: "END-NO-OPEN-PERIOD",
        title: "An agreement to end after-care when no duty is open has nothing to end",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(2); SPEC 6",
    },
    Rule {
        id: "END-OTHER-PERIOD",
        title: "An agreement to end after-care belongs to the period it was made about (named by its qualifying detention); it has no effect on any other period",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(2); SPEC 3, 6 [Kent 9.1, 11.5.3]",
    },
    Rule {
        id: "END-REDETAINED",
        title: "Detention again under a qualifying section ends the open duty on the date of the new detention",
        effective_from: None,
        effective_to: None,
        citation: "R (Worcestershire CC) v SSHSC [2023] UKSC 31; SPEC 3 [Kent 11.5.3; Bucks]",
    },
    Rule {
        id: "END-DIED",
        title: "The duty ends on the person's death",
        effective_from: None,
        effective_to: None,
        citation: "SPEC 9 (deaths feed) [Lincs 3.2]",
    },
    Rule {
        id: "REINSTATE-SAME-BODIES",
        title: "After-care ended prematurely is reinstated from the reinstatement date with the same responsible bodies",
        effective_from: None,
        effective_to: None,
        citation: "SPEC 6 [Lincs 5.2; Kent 9.15]",
    },
    Rule {
        id: "REINSTATE-NOTHING-TO-REINSTATE",
        title: "Reinstatement needs a duty that was ended by joint decision and not since followed by a new qualifying detention or death",
        effective_from: None,
        effective_to: None,
        citation: "SPEC 6 [Lincs 5.2; Kent 9.15]",
    },
    // --- Housekeeping ---------------------------------------------------
    Rule {
        id: "DETERMINATION-RECORDED",
        title: "A reasoned determination recorded by an authorised user (e.g. after a dispute is settled) stands over the computed answer",
        effective_from: None,
        effective_to: None,
        citation: "SPEC 3 (determinations), 8 [Kent 13; Lincs 6.2]",
    },
    Rule {
        id: "ORG-SUCCESSOR",
        title: "A responsible body that has been succeeded (e.g. a CCG by its ICB on 1 July 2022, or a reorganised council) is answered for by its successor",
        effective_from: None,
        effective_to: None,
        citation: "Health and Care Act 2022 (CCGs abolished, ICBs established 1 July 2022); SPEC 3 (organisations change)",
    },
    Rule {
        id: "EVENT-AFTER-DEATH",
        title: "Events recorded after the person's death have no effect",
        effective_from: None,
        effective_to: None,
        citation: "SPEC 6, 9",
    },
    Rule {
        id: "EVENT-NOT-IN-HOSPITAL",
        title: "Leaving hospital when no admission or detention is recorded has no effect",
        effective_from: None,
        effective_to: None,
        citation: "MHA 1983 s117(1); SPEC 2",
    },
];

/// Every rule the engine knows, in a stable order.
pub fn rules() -> &'static [Rule] {
    RULES
}

/// Looks a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// The reference for a rule the engine itself names; a missing id is a bug
/// in this crate, caught by the table tests.
pub(crate) fn rref(id: &str) -> RuleRef {
    match rule(id) {
        Some(r) => r.to_ref(),
        None => RuleRef {
            id: id.to_string(),
            title: "unknown rule".into(),
            effective_from: None,
            effective_to: None,
            citation: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = BTreeSet::new();
        for r in rules() {
            assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
            assert!(r.id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'));
            assert!(!r.citation.is_empty() && !r.title.is_empty(), "{}", r.id);
            if let (Some(from), Some(to)) = (r.effective_from, r.effective_to) {
                assert!(from <= to, "{}", r.id);
            }
        }
    }

    #[test]
    fn who_pays_versions_meet_without_gaps() {
        let pre = rule("NHS-WHO-PAYS-PRE-2013").unwrap();
        let y13 = rule("NHS-WHO-PAYS-2013").unwrap();
        let y16 = rule("NHS-WHO-PAYS-2016").unwrap();
        let y22 = rule("NHS-ICB-REGS-2022").unwrap();
        assert_eq!(pre.effective_to.unwrap().succ_opt(), y13.effective_from);
        assert_eq!(y13.effective_to.unwrap().succ_opt(), y16.effective_from);
        assert_eq!(y16.effective_to.unwrap().succ_opt(), y22.effective_from);
        assert!(y13.in_force_on(date(2016, 3, 31)) && !y13.in_force_on(date(2016, 4, 1)));
    }
}
