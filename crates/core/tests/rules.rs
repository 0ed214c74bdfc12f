//! Table-driven cases for every rule and boundary date: each test is a
//! history in the `support` notation and the full rendering it must derive.

mod support;

use aftercare_core::rules::{
    Body, Determination, EventKind, RulesConfig, Successor, derive, rule, rules, what_if,
};
use support::{date, events, org, render, tidy};

fn config() -> RulesConfig {
    RulesConfig::new(date("2025-06-01"))
}

#[track_caller]
fn check(history: &str, expected: &str) {
    check_with(&config(), history, expected);
}

#[track_caller]
fn check_with(config: &RulesConfig, history: &str, expected: &str) {
    let got = render(&derive(&events(history), config));
    let want = tidy(expected);
    assert!(
        got == want,
        "\n--- history\n{}\n--- expected\n{want}\n--- got\n{got}\n",
        tidy(history)
    );
}

// --- Eligibility --------------------------------------------------------

#[test]
fn non_qualifying_sections_give_no_duty() {
    for section in [
        "2", "4", "5(2)", "5(4)", "35", "36", "38", "44", "135", "136", "7", "mhsds:36", "informal",
    ] {
        check(
            &format!(
                "2024-03-01 detained {section} or=LA-A gp=ICB-A
                 2024-03-20 left to=LA-A gp=ICB-A"
            ),
            "not eligible",
        );
    }
}

#[test]
fn every_qualifying_section_starts_a_duty_on_leaving_hospital() {
    for (section, label) in [
        ("3", "s3"),
        ("37", "s37"),
        ("37/41", "s37/41"),
        ("45A", "s45A"),
        ("mhsds:38", "s45A ended"),
    ] {
        check(
            &format!(
                "2024-03-01 detained {section} or=LA-A gp=ICB-A
                 2024-03-20 left to=LA-B gp=ICB-B"
            ),
            &format!(
                "eligible {label} 2024-03-01
                 2024-03-20.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]"
            ),
        );
    }
}

#[test]
fn eligible_while_still_in_hospital_but_no_period_yet() {
    check("2024-03-01 detained 3 or=LA-A gp=ICB-A", "eligible s3 2024-03-01");
}

#[test]
fn unknown_status_and_cpia_ask_for_a_decision() {
    check(
        "2024-03-01 detained mhsds:99 or=LA-A gp=ICB-A
         2024-03-20 left to=LA-A",
        "not eligible
         question eligibility ELIG-NEEDS-DETERMINATION",
    );
}

#[test]
fn cpia_during_an_open_duty_does_not_end_it() {
    check(
        "2023-01-09 detained 3 or=LA-A gp=ICB-A
         2023-04-20 left to=LA-A
         2024-01-09 detained mhsds:31 or=LA-B gp=ICB-B
         2024-02-09 left to=LA-B",
        "eligible s3 2023-01-09
         2023-04-20.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         question eligibility ELIG-NEEDS-DETERMINATION",
    );
}

#[test]
fn leaving_hospital_without_an_admission_is_ignored() {
    check(
        "2024-03-20 left to=LA-A",
        "not eligible\nignored #0 left_hospital EVENT-NOT-IN-HOSPITAL",
    );
}

#[test]
fn s2_converted_to_s3_in_the_same_stay_takes_nhs_from_the_initial_detention() {
    // Who Pays?: the originating commissioner is fixed at the initial
    // detention, whether for assessment or treatment [Kent 11.3.3].
    check(
        "2024-01-01 detained 2 or=LA-A gp=ICB-A
         2024-01-20 detained 3 or=LA-A gp=ICB-B
         2024-03-20 left to=LA-A gp=ICB-C",
        "eligible s3 2024-01-20
         2024-03-20.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]",
    );
}

// --- The council --------------------------------------------------------

#[test]
fn council_stays_after_discharge_elsewhere_and_moves() {
    check(
        "2021-03-01 detained 3 or=LA-A gp=ICB-A
         2021-05-10 left to=LA-B gp=ICB-B
         2022-01-15 moved LA-C
         2023-01-15 moved LA-D",
        "eligible s3 2021-03-01
         2021-05-10.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-WHO-PAYS-2016]",
    );
}

#[test]
fn care_act_boundary_31_march_and_1_april_2015() {
    check(
        "2015-03-31 detained 3 or=LA-A gp=CCG-A
         2015-06-01 left to=LA-A",
        "eligible s3 2015-03-31
         2015-06-01.. open council=LA-A[LA-RESIDENT-PRE-2015] nhs=-[NHS-COMMISSIONER-UNKNOWN]
         question nhs NHS-COMMISSIONER-UNKNOWN",
    );
    check(
        "2015-04-01 detained 3 or=LA-A gp=CCG-A
         2015-06-01 left to=LA-A gp=CCG-A",
        "eligible s3 2015-04-01
         2015-06-01.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=CCG-A[NHS-WHO-PAYS-2013]",
    );
}

#[test]
fn worcestershire_applies_either_side_of_10_august_2023() {
    for redetained in ["2023-08-09", "2023-08-10"] {
        check(
            &format!(
                "2022-01-10 detained 3 or=LA-A gp=CCG-A
                 2022-03-01 left to=LA-B gp=CCG-B
                 {redetained} detained 3 or=LA-B gp=ICB-B
                 2023-10-01 left to=LA-B gp=ICB-B"
            ),
            &format!(
                "eligible s3 2022-01-10
                 2022-03-01..{redetained} redetained council=LA-A[LA-OR-BEFORE-DETENTION] nhs=CCG-A[NHS-WHO-PAYS-2016]
                 2023-10-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=CCG-A[NHS-WHO-PAYS-2016]"
            ),
        );
    }
}

#[test]
fn worcestershire_explanation_mentions_the_court_of_appeal_only_before_the_judgment() {
    let history = |on: &str| {
        events(&format!(
            "2022-01-10 detained 3 or=LA-A gp=CCG-A
             2022-03-01 left to=LA-B
             {on} detained 3 or=LA-B gp=ICB-B
             2023-10-01 left to=LA-B"
        ))
    };
    let before = derive(&history("2023-08-09"), &config());
    let after = derive(&history("2023-08-10"), &config());
    assert!(before.entitlements[1].council.explanation.contains("LA-WORCESTERSHIRE-CA-2021"));
    assert!(!after.entitlements[1].council.explanation.contains("LA-WORCESTERSHIRE-CA-2021"));
    assert!(after.entitlements[1].council.explanation.starts_with(
        "LA-B: ordinarily resident there immediately before the re-detention under s3 on 10 August 2023"
    ));
}

#[test]
fn redetention_in_the_same_area_keeps_the_council_under_the_new_rule() {
    check(
        "2023-01-09 detained 3 or=LA-A gp=ICB-A
         2023-04-20 left to=LA-A
         2023-05-01 detained 37 or=LA-A gp=ICB-A
         2023-06-01 left to=LA-A",
        "eligible s3 2023-01-09
         2023-04-20..2023-05-01 redetained council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         2023-06-01.. open council=LA-A[LA-WORCESTERSHIRE-2023] nhs=ICB-A[NHS-ICB-REGS-2022]",
    );
}

#[test]
fn informal_admission_then_s3_is_a_redetention() {
    check(
        "2023-01-09 detained 3 or=LA-A gp=ICB-A
         2023-04-20 left to=LA-B
         2023-09-01 informal
         2023-09-10 detained 3 or=LA-B gp=ICB-B
         2023-11-01 left to=LA-B",
        "eligible s3 2023-01-09
         2023-04-20..2023-09-10 redetained council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         2023-11-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=ICB-A[NHS-ICB-REGS-2022]",
    );
}

#[test]
fn no_fixed_abode_goes_to_the_discharge_area() {
    check(
        "2023-09-11 detained 37 nfa gp=ICB-H hosp=LA-H
         2024-01-22 left to=LA-D gp=ICB-H",
        "eligible s37 2023-09-11
         2024-01-22.. open council=LA-D[LA-NFA-DISCHARGE-AREA] nhs=ICB-H[NHS-ICB-REGS-2022]",
    );
}

#[test]
fn no_fixed_abode_without_discharge_area_is_open_and_names_the_hospital_council() {
    let d = derive(
        &events(
            "2023-09-11 detained 3 nfa res=ICB-H hosp=LA-H
             2024-01-22 left",
        ),
        &config(),
    );
    assert_eq!(d.entitlements[0].council.org, None);
    assert_eq!(d.open_questions.len(), 1);
    assert!(
        d.open_questions[0]
            .explanation
            .contains("LA-H, where the hospital is, co-ordinates planning")
    );
}

#[test]
fn ordinary_residence_wins_over_a_stray_nfa_flag() {
    check(
        "2023-09-11 detained 3 or=LA-A nfa gp=ICB-H
         2024-01-22 left to=LA-D",
        "eligible s3 2023-09-11
         2024-01-22.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-H[NHS-ICB-REGS-2022]",
    );
}

#[test]
fn unknown_residence_is_an_open_question() {
    check(
        "2023-09-11 detained 3 gp=ICB-A
         2024-01-22 left to=LA-D",
        "eligible s3 2023-09-11
         2024-01-22.. open council=-[LA-OR-UNKNOWN] nhs=ICB-A[NHS-ICB-REGS-2022]
         question council LA-OR-UNKNOWN",
    );
}

// Transferred prisoners (SPEC 3): once the person leaves hospital for the
// community, the ordinary rules applied to the facts before custody, as the
// Ministry of Justice records them on the transfer direction.

#[test]
fn prisoners_follow_the_ordinary_rules_on_the_facts_before_custody() {
    for (section, label) in [("47", "s47"), ("47/49", "s47/49"), ("48", "s48"), ("48/49", "s48/49")]
    {
        check(
            &format!(
                "2023-03-01 detained {section} or=LA-A gp=ICB-A res=ICB-R
                 2024-06-01 left to=LA-B gp=ICB-B"
            ),
            &format!(
                "eligible {label} 2023-03-01
                 2024-06-01.. open council=LA-A[LA-PRISONER-OR-BEFORE-CUSTODY] nhs=ICB-A[NHS-PRISONER-BEFORE-CUSTODY]"
            ),
        );
    }
}

#[test]
fn prisoner_not_registered_with_a_gp_before_custody_takes_usual_residence() {
    check(
        "2023-03-01 detained 47/49 or=LA-A res=ICB-R
         2024-06-01 left to=LA-B gp=ICB-B res=ICB-B",
        "eligible s47/49 2023-03-01
         2024-06-01.. open council=LA-A[LA-PRISONER-OR-BEFORE-CUSTODY] nhs=ICB-R[NHS-PRISONER-BEFORE-CUSTODY]",
    );
}

#[test]
fn prisoner_with_neither_gp_nor_residence_before_custody_leaves_the_nhs_side_open() {
    // The GP after discharge is not a fact before custody, so it does not count.
    check(
        "2023-03-01 detained 48 or=LA-A
         2024-06-01 left to=LA-B gp=ICB-B",
        "eligible s48 2023-03-01
         2024-06-01.. open council=LA-A[LA-PRISONER-OR-BEFORE-CUSTODY] nhs=-[NHS-PRISONER-OPEN]
         question nhs NHS-PRISONER-OPEN",
    );
}

#[test]
fn prisoner_without_residence_is_open_on_both_sides() {
    check(
        "2023-03-01 detained 48
         2024-06-01 left to=LA-B",
        "eligible s48 2023-03-01
         2024-06-01.. open council=-[LA-OR-UNKNOWN] nhs=-[NHS-PRISONER-OPEN]
         question council LA-OR-UNKNOWN
         question nhs NHS-PRISONER-OPEN",
    );
    let d = derive(&events("2023-03-01 detained 48\n2024-06-01 left to=LA-B"), &config());
    assert!(
        d.open_questions[0]
            .explanation
            .contains("ordinary residence before custody is not recorded"),
        "{}",
        d.open_questions[0].explanation
    );
}

#[test]
fn prisoner_explanations_name_the_judgement_call_and_the_remitted_case() {
    let d = derive(
        &events("2023-03-01 detained 47 or=LA-A gp=ICB-A\n2024-06-01 left to=LA-B gp=ICB-B"),
        &config(),
    );
    let e = &d.entitlements[0];
    for explanation in [&e.council.explanation, &e.nhs.explanation] {
        for needle in [
            "the product's reading of SPEC 3",
            "judgement call",
            "before custody",
            "a recorded determination overrides",
            "remitted to prison rather than released is an open case",
        ] {
            assert!(explanation.contains(needle), "{needle:?} missing from {explanation}");
        }
    }
    assert!(e.nhs.explanation.starts_with(
        "ICB-A: the commissioner of the GP practice the person was registered with before custody, as recorded for the transfer direction under s47 on 1 March 2023"
    ), "{}", e.nhs.explanation);
    assert!(d.open_questions.is_empty());
}

#[test]
fn prisoner_commissioner_stays_through_a_later_redetention() {
    check(
        "2023-03-01 detained 47 or=LA-A gp=ICB-A
         2024-06-01 left to=LA-B gp=ICB-B
         2024-09-01 detained 3 or=LA-B gp=ICB-B
         2024-11-01 left to=LA-B gp=ICB-B",
        "eligible s47 2023-03-01
         2024-06-01..2024-09-01 redetained council=LA-A[LA-PRISONER-OR-BEFORE-CUSTODY] nhs=ICB-A[NHS-PRISONER-BEFORE-CUSTODY]
         2024-11-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=ICB-A[NHS-WHO-PAYS-2024]",
    );
}

#[test]
fn transfer_while_a_duty_is_open_keeps_the_originating_commissioner() {
    // Entitled from a s3 in 2023, then in custody and transferred under s47:
    // the ICB regulations keep the originating ICB for later detentions.
    check(
        "2023-01-09 detained 3 or=LA-A gp=ICB-A
         2023-04-20 left to=LA-A gp=ICB-A
         2024-05-01 detained 47 or=LA-C gp=ICB-C
         2024-08-01 left to=LA-C gp=ICB-C",
        "eligible s3 2023-01-09
         2023-04-20..2024-05-01 redetained council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         2024-08-01.. open council=LA-C[LA-PRISONER-OR-BEFORE-CUSTODY] nhs=ICB-A[NHS-WHO-PAYS-2024]",
    );
}

// --- MHA 2025 s117(3A) deeming ------------------------------------------

#[test]
fn deeming_is_off_by_default() {
    let history = "2026-05-01 detained 3 or=LA-B deemed=LA-A gp=ICB-B
                   2026-07-01 left to=LA-B";
    check(
        history,
        "eligible s3 2026-05-01
         2026-07-01.. open council=LA-B[LA-OR-BEFORE-DETENTION] nhs=ICB-B[NHS-ICB-REGS-2022]",
    );
    let d = derive(&events(history), &config());
    assert!(d.entitlements[0].council.explanation.contains("s117(3A) deeming is not in force"));
}

#[test]
fn deeming_applies_from_commencement_only() {
    let mut on = config();
    on.mha2025_s117_3a_commencement = Some(date("2026-05-01"));
    check_with(
        &on,
        "2026-05-01 detained 3 or=LA-B deemed=LA-A gp=ICB-B
         2026-07-01 left to=LA-B",
        "eligible s3 2026-05-01
         2026-07-01.. open council=LA-A[MHA2025-S117-3A-DEEMING] nhs=ICB-B[NHS-ICB-REGS-2022]",
    );
    check_with(
        &on,
        "2026-04-30 detained 3 or=LA-B deemed=LA-A gp=ICB-B
         2026-07-01 left to=LA-B",
        "eligible s3 2026-04-30
         2026-07-01.. open council=LA-B[LA-OR-BEFORE-DETENTION] nhs=ICB-B[NHS-ICB-REGS-2022]",
    );
    // No placement recorded: commencement changes nothing.
    check_with(
        &on,
        "2026-06-01 detained 3 or=LA-B gp=ICB-B
         2026-07-01 left to=LA-B",
        "eligible s3 2026-06-01
         2026-07-01.. open council=LA-B[LA-OR-BEFORE-DETENTION] nhs=ICB-B[NHS-ICB-REGS-2022]",
    );
}

// --- The NHS commissioner -----------------------------------------------

#[test]
fn who_pays_boundary_31_march_and_1_april_2013() {
    check(
        "2012-11-05 detained 3 or=LA-A gp=PCT-G res=PCT-R
         2013-03-31 left to=LA-B gp=CCG-B",
        "eligible s3 2012-11-05
         2013-03-31.. open council=LA-A[LA-RESIDENT-PRE-2015] nhs=PCT-R[NHS-WHO-PAYS-PRE-2013]",
    );
    check(
        "2012-11-05 detained 3 or=LA-A gp=PCT-G res=PCT-R
         2013-04-01 left to=LA-B gp=CCG-B",
        "eligible s3 2012-11-05
         2013-04-01.. open council=LA-A[LA-RESIDENT-PRE-2015] nhs=CCG-B[NHS-WHO-PAYS-2013]",
    );
}

#[test]
fn pre_2013_falls_back_to_gp_when_residence_is_not_recorded() {
    check(
        "2012-11-05 detained 3 or=LA-A gp=PCT-G
         2013-01-31 left to=LA-B",
        "eligible s3 2012-11-05
         2013-01-31.. open council=LA-A[LA-RESIDENT-PRE-2015] nhs=PCT-G[NHS-WHO-PAYS-PRE-2013]",
    );
}

#[test]
fn who_pays_boundary_31_march_and_1_april_2016() {
    check(
        "2016-01-05 detained 3 or=LA-A gp=CCG-A
         2016-03-31 left to=LA-B gp=CCG-B",
        "eligible s3 2016-01-05
         2016-03-31.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=CCG-B[NHS-WHO-PAYS-2013]",
    );
    check(
        "2016-01-05 detained 3 or=LA-A gp=CCG-A
         2016-04-01 left to=LA-B gp=CCG-B",
        "eligible s3 2016-01-05
         2016-04-01.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=CCG-A[NHS-WHO-PAYS-2016]",
    );
}

#[test]
fn who_pays_2013_unregistered_uses_residence_after_discharge() {
    check(
        "2014-01-05 detained 3 or=LA-A gp=CCG-A
         2014-03-01 left to=LA-B res=CCG-B",
        "eligible s3 2014-01-05
         2014-03-01.. open council=LA-A[LA-RESIDENT-PRE-2015] nhs=CCG-B[NHS-WHO-PAYS-2013]",
    );
    check(
        "2014-01-05 detained 3 or=LA-A gp=CCG-A
         2014-03-01 left to=LA-B",
        "eligible s3 2014-01-05
         2014-03-01.. open council=LA-A[LA-RESIDENT-PRE-2015] nhs=-[NHS-COMMISSIONER-UNKNOWN]
         question nhs NHS-COMMISSIONER-UNKNOWN",
    );
}

#[test]
fn icb_regulations_boundary_30_june_and_1_july_2022() {
    check(
        "2022-06-30 detained 3 or=LA-A gp=CCG-A
         2022-09-01 left to=LA-A gp=ICB-B",
        "eligible s3 2022-06-30
         2022-09-01.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=CCG-A[NHS-WHO-PAYS-2016]",
    );
    check(
        "2022-07-01 detained 3 or=LA-A gp=ICB-A
         2022-09-01 left to=LA-A gp=ICB-B",
        "eligible s3 2022-07-01
         2022-09-01.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]",
    );
}

#[test]
fn unregistered_uses_usual_residence_commissioner() {
    check(
        "2023-06-05 detained 3 or=LA-A res=ICB-R
         2023-08-30 left to=LA-A gp=ICB-B",
        "eligible s3 2023-06-05
         2023-08-30.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-R[NHS-ICB-REGS-2022]",
    );
}

#[test]
fn originating_icb_stays_and_who_pays_2024_is_named_from_1_april_2024() {
    check(
        "2023-01-09 detained 3 or=LA-A gp=ICB-A
         2023-04-20 left to=LA-B gp=ICB-B
         2024-02-01 detained 3 or=LA-B gp=ICB-B
         2024-03-31 left to=LA-B gp=ICB-B",
        "eligible s3 2023-01-09
         2023-04-20..2024-02-01 redetained council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         2024-03-31.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=ICB-A[NHS-ICB-REGS-2022]",
    );
    check(
        "2023-01-09 detained 3 or=LA-A gp=ICB-A
         2023-04-20 left to=LA-B gp=ICB-B
         2024-02-01 detained 3 or=LA-B gp=ICB-B
         2024-04-01 left to=LA-B gp=ICB-B",
        "eligible s3 2023-01-09
         2023-04-20..2024-02-01 redetained council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         2024-04-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=ICB-A[NHS-WHO-PAYS-2024]",
    );
}

#[test]
fn duty_started_before_july_2022_stays_with_the_ccg_successor_after_later_redetention() {
    let mut c = config();
    c.successors.insert(org("CCG-A"), Successor { org: org("ICB-A"), from: date("2022-07-01") });
    check_with(
        &c,
        "2021-01-10 detained 3 or=LA-A gp=CCG-A
         2021-03-01 left to=LA-B gp=CCG-B
         2022-09-01 detained 3 or=LA-B gp=ICB-B
         2022-11-01 left to=LA-B gp=ICB-B",
        "eligible s3 2021-01-10
         2021-03-01..2022-09-01 redetained council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-WHO-PAYS-2016]
         2022-11-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=ICB-A[NHS-WHO-PAYS-2016]",
    );
}

#[test]
fn who_pays_2013_period_is_not_sticky_the_next_discharge_decides_again() {
    check(
        "2013-06-01 detained 3 or=LA-A gp=CCG-A
         2013-08-01 left to=LA-B gp=CCG-B
         2015-01-01 detained 3 or=LA-B gp=CCG-B
         2015-03-01 left to=LA-C gp=CCG-C",
        "eligible s3 2013-06-01
         2013-08-01..2015-01-01 redetained council=LA-A[LA-RESIDENT-PRE-2015] nhs=CCG-B[NHS-WHO-PAYS-2013]
         2015-03-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=CCG-C[NHS-WHO-PAYS-2013]",
    );
}

// A 2013-2016 duty followed by a re-detention after March 2016 (SPEC 3): the
// originating commissioner kept from then on is the CCG that held the
// after-care when the person was re-detained, not the CCG of the first GP.

#[test]
fn duty_under_the_2013_rule_then_redetention_keeps_the_ccg_that_held_the_aftercare() {
    check(
        "2014-02-01 detained 3 or=LA-A gp=CCG-A
         2014-05-01 left to=LA-B gp=CCG-B
         2017-02-01 detained 3 or=LA-B gp=CCG-C
         2017-05-01 left to=LA-D gp=CCG-D",
        "eligible s3 2014-02-01
         2014-05-01..2017-02-01 redetained council=LA-A[LA-RESIDENT-PRE-2015] nhs=CCG-B[NHS-WHO-PAYS-2013]
         2017-05-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=CCG-B[NHS-WHO-PAYS-2016-AFTER-2013]",
    );
    let d = derive(
        &events(
            "2014-02-01 detained 3 or=LA-A gp=CCG-A
             2014-05-01 left to=LA-B gp=CCG-B
             2017-02-01 detained 3 or=LA-B gp=CCG-C
             2017-05-01 left to=LA-D gp=CCG-D",
        ),
        &config(),
    );
    let why = &d.entitlements[1].nhs.explanation;
    assert!(why.starts_with("CCG-B: the CCG that held the after-care under the 2013 rule (NHS-WHO-PAYS-2013, for the period from 1 May 2014) when the person was re-detained under s3 on 1 February 2017"), "{why}");
    assert!(why.contains("not the CCG of the GP at the first detention on 1 February 2014 (CCG-A), which never held the after-care"), "{why}");
}

#[test]
fn the_2013_holder_carries_from_the_first_day_of_the_2016_rule_only() {
    let history = |left: &str| {
        format!(
            "2014-02-01 detained 3 or=LA-A gp=CCG-A
             2014-05-01 left to=LA-B gp=CCG-B
             2016-01-10 detained 3 or=LA-B gp=CCG-C
             {left} left to=LA-B gp=CCG-D"
        )
    };
    // Still under the 2013 rule: the new discharge's GP decides again.
    check(
        &history("2016-03-31"),
        "eligible s3 2014-02-01
         2014-05-01..2016-01-10 redetained council=LA-A[LA-RESIDENT-PRE-2015] nhs=CCG-B[NHS-WHO-PAYS-2013]
         2016-03-31.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=CCG-D[NHS-WHO-PAYS-2013]",
    );
    check(
        &history("2016-04-01"),
        "eligible s3 2014-02-01
         2014-05-01..2016-01-10 redetained council=LA-A[LA-RESIDENT-PRE-2015] nhs=CCG-B[NHS-WHO-PAYS-2013]
         2016-04-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=CCG-B[NHS-WHO-PAYS-2016-AFTER-2013]",
    );
}

#[test]
fn the_latest_2013_holder_is_the_one_kept() {
    check(
        "2013-06-01 detained 3 or=LA-A gp=CCG-A
         2013-08-01 left to=LA-B gp=CCG-B
         2015-01-01 detained 3 or=LA-B gp=CCG-B
         2015-03-01 left to=LA-C gp=CCG-C
         2017-01-01 detained 3 or=LA-C gp=CCG-C
         2017-03-01 left to=LA-D gp=CCG-D",
        "eligible s3 2013-06-01
         2013-08-01..2015-01-01 redetained council=LA-A[LA-RESIDENT-PRE-2015] nhs=CCG-B[NHS-WHO-PAYS-2013]
         2015-03-01..2017-01-01 redetained council=LA-B[LA-WORCESTERSHIRE-2023] nhs=CCG-C[NHS-WHO-PAYS-2013]
         2017-03-01.. open council=LA-C[LA-WORCESTERSHIRE-2023] nhs=CCG-C[NHS-WHO-PAYS-2016-AFTER-2013]",
    );
}

#[test]
fn the_2013_holder_stays_through_later_redetentions_and_resolves_to_its_successor() {
    let mut c = config();
    c.successors.insert(org("CCG-B"), Successor { org: org("ICB-B"), from: date("2022-07-01") });
    check_with(
        &c,
        "2014-02-01 detained 3 or=LA-A gp=CCG-A
         2014-05-01 left to=LA-B gp=CCG-B
         2017-02-01 detained 3 or=LA-B gp=CCG-C
         2017-05-01 left to=LA-B gp=CCG-C
         2024-02-01 detained 3 or=LA-E gp=ICB-E
         2024-05-01 left to=LA-E gp=ICB-E",
        "eligible s3 2014-02-01
         2014-05-01..2017-02-01 redetained council=LA-A[LA-RESIDENT-PRE-2015] nhs=ICB-B[NHS-WHO-PAYS-2013]
         2017-05-01..2024-02-01 redetained council=LA-B[LA-WORCESTERSHIRE-2023] nhs=ICB-B[NHS-WHO-PAYS-2016-AFTER-2013]
         2024-05-01.. open council=LA-E[LA-WORCESTERSHIRE-2023] nhs=ICB-B[NHS-WHO-PAYS-2024]",
    );
}

#[test]
fn an_unknown_2013_holder_is_asked_not_replaced_by_the_first_gp() {
    check(
        "2014-02-01 detained 3 or=LA-A gp=CCG-A
         2014-05-01 left to=LA-B
         2017-02-01 detained 3 or=LA-B gp=CCG-C
         2017-05-01 left to=LA-B gp=CCG-C",
        "eligible s3 2014-02-01
         2014-05-01..2017-02-01 redetained council=LA-A[LA-RESIDENT-PRE-2015] nhs=-[NHS-COMMISSIONER-UNKNOWN]
         2017-05-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=-[NHS-COMMISSIONER-UNKNOWN]
         question nhs NHS-COMMISSIONER-UNKNOWN
         question nhs NHS-COMMISSIONER-UNKNOWN",
    );
}

#[test]
fn a_determined_2013_period_carries_its_determined_body() {
    let mut c = config();
    c.determinations.push(determination("2014-02-01", Body::Nhs, "CCG-Q", "2015-01-01"));
    check_with(
        &c,
        "2014-02-01 detained 3 or=LA-A gp=CCG-A
         2014-05-01 left to=LA-B gp=CCG-B
         2017-02-01 detained 3 or=LA-B gp=CCG-C
         2017-05-01 left to=LA-B gp=CCG-C",
        "eligible s3 2014-02-01
         2014-05-01..2017-02-01 redetained council=LA-A[LA-RESIDENT-PRE-2015] nhs=CCG-Q[DETERMINATION-RECORDED]
         2017-05-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=CCG-Q[DETERMINATION-RECORDED]",
    );
}

#[test]
fn a_joint_ending_after_a_2013_duty_starts_afresh() {
    // A new chain: nothing was held when the person was detained again.
    check(
        "2014-02-01 detained 3 or=LA-A gp=CCG-A
         2014-05-01 left to=LA-B gp=CCG-B
         2015-06-01 end council no_longer_needed
         2015-06-02 end nhs no_longer_needed
         2017-02-01 detained 3 or=LA-B gp=CCG-C
         2017-05-01 left to=LA-B gp=CCG-D",
        "eligible s3 2014-02-01
         2014-05-01..2015-06-02 joint_decision council=LA-A[LA-RESIDENT-PRE-2015] nhs=CCG-B[NHS-WHO-PAYS-2013]
         2017-05-01.. open council=LA-B[LA-OR-BEFORE-DETENTION] nhs=CCG-C[NHS-WHO-PAYS-2016]",
    );
}

// --- Successors -----------------------------------------------------------

#[test]
fn successors_resolve_by_as_of_and_chain() {
    let mut c = RulesConfig::new(date("2022-06-30"));
    c.successors.insert(org("CCG-A"), Successor { org: org("ICB-A"), from: date("2022-07-01") });
    c.successors.insert(org("ICB-A"), Successor { org: org("ICB-Z"), from: date("2026-04-01") });
    c.successors.insert(org("LA-A"), Successor { org: org("LA-N"), from: date("2020-04-01") });
    let history = "2021-01-10 detained 3 or=LA-A gp=CCG-A
                   2021-03-01 left to=LA-B";
    check_with(
        &c,
        history,
        "eligible s3 2021-01-10
         2021-03-01.. open council=LA-N[LA-OR-BEFORE-DETENTION] nhs=CCG-A[NHS-WHO-PAYS-2016]",
    );
    c.as_of = date("2022-07-01");
    let d = derive(&events(history), &c);
    assert_eq!(d.entitlements[0].nhs.org, Some(org("ICB-A")));
    assert!(
        d.entitlements[0].nhs.explanation.contains("CCG-A was succeeded by ICB-A on 1 July 2022")
    );
    c.as_of = date("2026-04-01");
    let d = derive(&events(history), &c);
    assert_eq!(d.entitlements[0].nhs.org, Some(org("ICB-Z")));
    assert!(d.entitlements[0].nhs.explanation.contains("then ICB-A was succeeded by ICB-Z"));
}

#[test]
fn successor_cycles_in_reference_data_do_not_loop() {
    let mut c = config();
    c.successors.insert(org("A"), Successor { org: org("B"), from: date("2020-01-01") });
    c.successors.insert(org("B"), Successor { org: org("A"), from: date("2020-01-01") });
    let d = derive(&events("2023-01-09 detained 3 or=A gp=A\n2023-02-01 left"), &c);
    assert_eq!(d.entitlements[0].council.org, Some(org("B")));
}

// --- Determinations -------------------------------------------------------

fn determination(detention_on: &str, body: Body, code: &str, decided_on: &str) -> Determination {
    Determination {
        detention_on: date(detention_on),
        body,
        org: org(code),
        reason: format!("settled at panel: {code}"),
        decided_on: date(decided_on),
        decided_by: "Joint QA group".into(),
    }
}

#[test]
fn determination_overrides_and_latest_wins() {
    let mut c = config();
    c.determinations.push(determination("2023-01-09", Body::Council, "LA-X", "2023-06-01"));
    c.determinations.push(determination("2023-01-09", Body::Council, "LA-Y", "2023-07-01"));
    check_with(
        &c,
        "2023-01-09 detained 3 gp=ICB-A
         2023-04-20 left to=LA-B",
        "eligible s3 2023-01-09
         2023-04-20.. open council=LA-Y[DETERMINATION-RECORDED] nhs=ICB-A[NHS-ICB-REGS-2022]",
    );
    let d = derive(&events("2023-01-09 detained 3 gp=ICB-A\n2023-04-20 left"), &c);
    assert_eq!(
        d.entitlements[0].council.explanation,
        "LA-Y: determined by Joint QA group on 1 July 2023: \"settled at panel: LA-Y\" (computed answer was left open by LA-OR-UNKNOWN); SPEC 3 (determinations), 8 [Kent 13; Lincs 6.2]"
    );
}

#[test]
fn nhs_determination_becomes_the_originating_body_for_later_periods() {
    let mut c = config();
    c.determinations.push(determination("2023-03-01", Body::Nhs, "ICB-D", "2024-07-01"));
    check_with(
        &c,
        "2023-03-01 detained 47 or=LA-A gp=ICB-A
         2024-06-01 left to=LA-B gp=ICB-B
         2024-09-01 detained 3 or=LA-B gp=ICB-B
         2024-11-01 left to=LA-B",
        "eligible s47 2023-03-01
         2024-06-01..2024-09-01 redetained council=LA-A[LA-PRISONER-OR-BEFORE-CUSTODY] nhs=ICB-D[DETERMINATION-RECORDED]
         2024-11-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=ICB-D[DETERMINATION-RECORDED]",
    );
}

#[test]
fn determination_that_matches_nothing_is_flagged() {
    let mut c = config();
    c.determinations.push(determination("2023-01-10", Body::Council, "LA-X", "2023-06-01"));
    check_with(
        &c,
        "2023-01-09 detained 3 or=LA-A gp=ICB-A
         2023-04-20 left",
        "eligible s3 2023-01-09
         2023-04-20.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         question determination DETERMINATION-RECORDED",
    );
}

#[test]
fn determinations_resolve_to_successors() {
    let mut c = config();
    c.determinations.push(determination("2021-01-10", Body::Nhs, "CCG-Q", "2021-05-01"));
    c.successors.insert(org("CCG-Q"), Successor { org: org("ICB-Q"), from: date("2022-07-01") });
    check_with(
        &c,
        "2021-01-10 detained 3 or=LA-A gp=CCG-A
         2021-03-01 left",
        "eligible s3 2021-01-10
         2021-03-01.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-Q[DETERMINATION-RECORDED]",
    );
}

// --- Ending ---------------------------------------------------------------

const DISCHARGED: &str = "2022-09-01 detained 3 or=LA-A gp=ICB-A
                          2022-11-14 left to=LA-A gp=ICB-A";

#[test]
fn both_bodies_must_agree_and_the_second_date_ends_it() {
    check(
        &format!("{DISCHARGED}\n2024-06-03 end council no_longer_needed\n2024-07-19 end nhs no_longer_needed"),
        "eligible s3 2022-09-01
         2022-11-14..2024-07-19 joint_decision council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]",
    );
}

#[test]
fn one_body_alone_has_no_effect() {
    check(
        &format!("{DISCHARGED}\n2024-06-03 end nhs no_longer_needed\n2024-06-04 end nhs no_longer_needed"),
        "eligible s3 2022-09-01
         2022-11-14.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022] pending=nhs
         ignored #3 ending_agreed END-JOINT",
    );
}

#[test]
fn every_never_valid_reason_is_ignored() {
    for reason in [
        "discharged_from_specialist_services",
        "time_elapsed",
        "deprived_of_liberty",
        "readmitted_informally_or_s2",
        "cto_ended",
        "on_s17_leave",
        "refuses_services",
        "person_requests",
    ] {
        check(
            &format!("{DISCHARGED}\n2024-06-03 end council {reason}\n2024-06-03 end nhs {reason}"),
            "eligible s3 2022-09-01
             2022-11-14.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
             ignored #2 ending_agreed END-NEVER-VALID
             ignored #3 ending_agreed END-NEVER-VALID",
        );
    }
}

#[test]
fn a_valid_and_a_never_valid_reason_do_not_make_a_joint_decision() {
    check(
        &format!("{DISCHARGED}\n2024-06-03 end council no_longer_needed\n2024-06-03 end nhs time_elapsed"),
        "eligible s3 2022-09-01
         2022-11-14.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022] pending=council
         ignored #2 ending_agreed END-JOINT
         ignored #3 ending_agreed END-NEVER-VALID",
    );
}

#[test]
fn cto_guard_voids_agreements_which_do_not_revive() {
    check(
        &format!(
            "{DISCHARGED}
             2022-11-14 cto+
             2023-01-01 end council no_longer_needed
             2023-01-02 end nhs no_longer_needed
             2023-03-01 cto-
             2023-03-02 end nhs no_longer_needed"
        ),
        "eligible s3 2022-09-01
         2022-11-14.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022] pending=nhs
         ignored #3 ending_agreed END-NOT-ON-CTO
         ignored #4 ending_agreed END-NOT-ON-CTO
         ignored #6 ending_agreed END-JOINT",
    );
}

#[test]
fn agreement_on_the_day_the_cto_ends_counts_after_it_in_file_order() {
    check(
        &format!(
            "{DISCHARGED}
             2022-11-14 cto+
             2023-03-01 end council no_longer_needed
             2023-03-01 cto-
             2023-03-01 end council no_longer_needed
             2023-03-01 end nhs no_longer_needed"
        ),
        "eligible s3 2022-09-01
         2022-11-14..2023-03-01 joint_decision council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         ignored #3 ending_agreed END-NOT-ON-CTO",
    );
}

#[test]
fn ending_with_no_open_period_is_ignored() {
    check(
        "2022-09-01 detained 3 or=LA-A gp=ICB-A
         2022-10-01 end council no_longer_needed",
        "eligible s3 2022-09-01
         ignored #1 ending_agreed END-NO-OPEN-PERIOD",
    );
}

#[test]
fn one_body_agreement_lapses_at_redetention() {
    check(
        &format!(
            "{DISCHARGED}
             2023-09-01 end council no_longer_needed
             2023-10-01 detained 3 or=LA-A gp=ICB-A
             2023-12-01 left to=LA-A
             2024-02-01 end nhs no_longer_needed"
        ),
        "eligible s3 2022-09-01
         2022-11-14..2023-10-01 redetained council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         2023-12-01.. open council=LA-A[LA-WORCESTERSHIRE-2023] nhs=ICB-A[NHS-ICB-REGS-2022] pending=nhs
         ignored #2 ending_agreed END-JOINT
         ignored #5 ending_agreed END-JOINT",
    );
}

// --- Reinstating and death -------------------------------------------------

#[test]
fn reinstatement_reopens_with_the_same_bodies() {
    check(
        &format!(
            "{DISCHARGED}
             2024-03-01 end council no_longer_needed
             2024-03-01 end nhs no_longer_needed
             2024-05-01 reinstated
             2024-08-01 end council no_longer_needed
             2024-08-02 end nhs no_longer_needed
             2024-09-01 reinstated"
        ),
        "eligible s3 2022-09-01
         2022-11-14..2024-03-01 joint_decision council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         2024-05-01..2024-08-02 joint_decision council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022] reinstated
         2024-09-01.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022] reinstated",
    );
}

#[test]
fn reinstatement_needs_a_joint_ending_to_undo() {
    check(
        &format!("{DISCHARGED}\n2024-05-01 reinstated"),
        "eligible s3 2022-09-01
         2022-11-14.. open council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         ignored #2 reinstated REINSTATE-NOTHING-TO-REINSTATE",
    );
    check(
        "2024-05-01 reinstated",
        "not eligible\nignored #0 reinstated REINSTATE-NOTHING-TO-REINSTATE",
    );
}

#[test]
fn reinstated_period_ends_on_redetention_and_the_chain_continues() {
    check(
        &format!(
            "{DISCHARGED}
             2024-03-01 end council no_longer_needed
             2024-03-01 end nhs no_longer_needed
             2024-05-01 reinstated
             2024-06-01 detained 3 or=LA-B gp=ICB-B
             2024-07-01 left to=LA-B"
        ),
        "eligible s3 2022-09-01
         2022-11-14..2024-03-01 joint_decision council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         2024-05-01..2024-06-01 redetained council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022] reinstated
         2024-07-01.. open council=LA-B[LA-WORCESTERSHIRE-2023] nhs=ICB-A[NHS-WHO-PAYS-2024]",
    );
}

#[test]
fn death_ends_the_duty_and_everything_after_is_ignored() {
    check(
        &format!(
            "{DISCHARGED}
             2024-01-01 end council no_longer_needed
             2024-01-15 died
             2024-01-15 end nhs no_longer_needed
             2024-02-01 reinstated"
        ),
        "eligible s3 2022-09-01
         2022-11-14..2024-01-15 died council=LA-A[LA-OR-BEFORE-DETENTION] nhs=ICB-A[NHS-ICB-REGS-2022]
         ignored #2 ending_agreed END-JOINT
         ignored #4 ending_agreed EVENT-AFTER-DEATH
         ignored #5 reinstated EVENT-AFTER-DEATH",
    );
}

#[test]
fn death_in_hospital_before_discharge_gives_no_period() {
    check(
        "2022-09-01 detained 3 or=LA-A gp=ICB-A
         2022-10-01 died
         2022-10-01 left to=LA-A",
        "eligible s3 2022-09-01
         ignored #2 left_hospital EVENT-AFTER-DEATH",
    );
}

#[test]
fn same_day_events_apply_in_given_order_even_when_unsorted() {
    // Given out of date order: sorted stably, so the two same-day events
    // keep their relative order (detention before discharge).
    let mut history = events(
        "2023-04-20 detained 3 or=LA-A gp=ICB-A
         2023-04-20 left to=LA-A",
    );
    history.insert(0, events("2023-06-01 moved LA-B").remove(0));
    let d = derive(&history, &config());
    assert_eq!(d.entitlements.len(), 1);
    assert_eq!(d.entitlements[0].start, date("2023-04-20"));
}

// --- what_if --------------------------------------------------------------

#[test]
fn what_if_redetention_describes_the_change() {
    let history = events(
        "2023-01-09 detained 3 or=LA-A gp=ICB-A
         2023-04-20 left to=LA-B gp=ICB-B",
    );
    let extra = events("2024-02-01 detained 3 or=LA-B gp=ICB-B").remove(0);
    let w = what_if(&history, extra, &config());
    assert_eq!(w.before.entitlements.len(), 1);
    assert_eq!(w.after.entitlements.len(), 1);
    assert_eq!(
        w.changes,
        [
            "the period that started on 20 April 2023 ends on 1 February 2024 (redetained) instead of: stays open"
        ]
    );
}

#[test]
fn what_if_reports_new_periods_and_ignored_extras() {
    let history = events("2023-01-09 detained 3 or=LA-A gp=ICB-A");
    let w = what_if(&history, events("2023-04-20 left to=LA-B").remove(0), &config());
    assert_eq!(
        w.changes,
        [
            "a new period of after-care starts on 20 April 2023 (council LA-A, NHS ICB-A) and stays open"
        ]
    );
    let history = events("2023-01-09 detained 3 or=LA-A gp=ICB-A\n2023-04-20 left to=LA-B");
    let w = what_if(&history, events("2024-01-01 end council time_elapsed").remove(0), &config());
    assert_eq!(w.changes.len(), 1);
    assert!(
        w.changes[0].starts_with("the new ending_agreed event has no effect (END-NEVER-VALID)"),
        "{:?}",
        w.changes
    );
    let w = what_if(&history, events("2024-01-01 moved LA-Q").remove(0), &config());
    assert!(w.changes.is_empty(), "{:?}", w.changes);
    assert!(matches!(w.after.entitlements[0].council.org, Some(ref o) if o.as_str() == "LA-A"));
}

#[test]
fn what_if_pending_ending_is_described() {
    let history = events("2023-01-09 detained 3 or=LA-A gp=ICB-A\n2023-04-20 left to=LA-B");
    let w =
        what_if(&history, events("2024-01-01 end council no_longer_needed").remove(0), &config());
    assert_eq!(
        w.changes,
        [
            "the council has agreed to end the period that started on 20 April 2023; it ends only when the NHS commissioner agrees too"
        ]
    );
}

// --- Explanations and the table ---------------------------------------------

#[test]
fn explanation_reads_as_plain_english_with_long_dates() {
    let d = derive(&events("2023-01-09 detained 3 or=LA-A gp=ICB-A\n2023-04-20 left"), &config());
    assert_eq!(
        d.entitlements[0].council.explanation,
        "LA-A: ordinarily resident there immediately before detention under s3 on 9 January 2023; MHA 1983 s117(3) as amended by Care Act 2014 s75; SPEC 3 [Kent 11.4.2; Lincs 2.0; Ombudsman]"
    );
    assert!(d.entitlements[0].nhs.explanation.starts_with(
        "ICB-A: the ICB of the GP practice the person was registered with when the initial detention on 9 January 2023 began"
    ));
    let e = d.eligibility.unwrap();
    assert_eq!(e.rule.id, "ELIG-QUALIFYING-SECTION");
    assert!(e.explanation.starts_with("eligible: detained under s3 on 9 January 2023"));
}

#[test]
fn every_rule_is_findable_and_the_required_ids_exist() {
    for id in [
        "LA-OR-BEFORE-DETENTION",
        "LA-WORCESTERSHIRE-2023",
        "LA-NFA-DISCHARGE-AREA",
        "NHS-WHO-PAYS-PRE-2013",
        "NHS-WHO-PAYS-2013",
        "NHS-WHO-PAYS-2016",
        "NHS-WHO-PAYS-2016-AFTER-2013",
        "NHS-ICB-REGS-2022",
        "NHS-PRISONER-BEFORE-CUSTODY",
        "NHS-PRISONER-OPEN",
        "LA-PRISONER-OR-BEFORE-CUSTODY",
        "END-JOINT",
        "END-NEVER-VALID",
        "END-NOT-ON-CTO",
        "ELIG-QUALIFYING-SECTION",
        "MHA2025-S117-3A-DEEMING",
        "DETERMINATION-RECORDED",
    ] {
        assert!(rule(id).is_some(), "{id}");
    }
    for r in rules() {
        assert_eq!(rule(r.id), Some(r));
    }
    assert_eq!(rule("NO-SUCH-RULE"), None);
}

#[test]
fn events_serialize_in_the_scenario_shape() {
    let e = events("2023-01-09 detained 37/41 or=LA-A gp=ICB-A").remove(0);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["event"], "detained");
    assert_eq!(json["section"], "37/41");
    assert_eq!(json["on"], "2023-01-09");
    let back: aftercare_core::rules::Event = serde_json::from_value(json).unwrap();
    assert_eq!(back, e);
    let e: aftercare_core::rules::Event = serde_json::from_str(
        r#"{"on":"2024-01-01","event":"ending_agreed","by":"nhs","reason":"cto_ended"}"#,
    )
    .unwrap();
    assert!(matches!(e.kind, EventKind::EndingAgreed { by: Body::Nhs, .. }));
}

#[test]
fn config_round_trips_through_json() {
    let mut c = config();
    c.successors.insert(org("CCG-A"), Successor { org: org("ICB-A"), from: date("2022-07-01") });
    c.determinations.push(determination("2023-01-09", Body::Nhs, "ICB-Q", "2023-06-01"));
    c.mha2025_s117_3a_commencement = Some(date("2027-01-01"));
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        json.contains(r#""successors":{"CCG-A":{"org":"ICB-A","from":"2022-07-01"}}"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<RulesConfig>(&json).unwrap(), c);
    let minimal: RulesConfig = serde_json::from_str(r#"{"as_of":"2025-01-01"}"#).unwrap();
    assert_eq!(minimal, RulesConfig::new(date("2025-01-01")));
}

/// An agreement made about one period never ends another: a re-detention in
/// between starts a duty whose bodies never agreed to end it.
#[test]
fn an_agreement_belongs_to_the_period_it_was_made_about() {
    use aftercare_core::rules::{self, Body, EndingReason, Event, EventKind, RulesConfig};
    let d = |s: &str| aftercare_core::parse_date(s).unwrap();
    let kent = aftercare_core::OrgCode::parse("E10000016").unwrap();
    let qks = aftercare_core::OrgCode::parse("QKS").unwrap();
    let detained = |on: &str| Event {
        on: d(on),
        kind: EventKind::Detained {
            section: aftercare_core::Section::S3,
            ordinary_residence: Some(kent.clone()),
            no_fixed_abode: false,
            gp_commissioner: Some(qks.clone()),
            residence_commissioner: None,
            place_of_detention_council: None,
            deemed_ordinary_residence: None,
        },
    };
    let left = |on: &str| Event {
        on: d(on),
        kind: EventKind::LeftHospital {
            discharged_to: None,
            gp_commissioner: None,
            residence_commissioner: None,
        },
    };
    let agreed = |on: &str, by, about: &str| Event {
        on: d(on),
        kind: EventKind::EndingAgreed {
            by,
            reason: EndingReason::NoLongerNeeded,
            detention_on: Some(d(about)),
        },
    };
    let events = vec![
        detained("2023-01-09"),
        left("2023-04-20"),
        detained("2024-07-01"),
        left("2024-08-01"),
        agreed("2024-09-01", Body::Council, "2023-01-09"),
        agreed("2024-09-02", Body::Nhs, "2023-01-09"),
    ];
    let out = rules::derive(&events, &RulesConfig::new(d("2026-01-01")));
    assert_eq!(out.entitlements.len(), 2);
    assert!(out.entitlements[1].end.is_none(), "the new period is untouched");
    assert_eq!(out.ignored.iter().filter(|i| i.rule.id == "END-OTHER-PERIOD").count(), 2);
    // The same agreements about the open period end it.
    let mut events = events[..4].to_vec();
    events.push(agreed("2024-09-01", Body::Council, "2024-07-01"));
    events.push(agreed("2024-09-02", Body::Nhs, "2024-07-01"));
    let out = rules::derive(&events, &RulesConfig::new(d("2026-01-01")));
    assert_eq!(out.entitlements[1].end, Some(d("2024-09-02")));
}
