//! Funding splits as a table: each case is a policy, a weekly cost and the
//! facts, and the council part, NHS part and rule it must give; then the
//! rounding, periods, aligned-budget invoices and re-sets, and properties
//! that hold for every amount.

use aftercare_core::funding::{
    AgreementKind, Attribution, CaseFacts, Cohort, FundingError, FundingPolicy, NeedLine, Period,
    Quarter, RechargeLine, SampledCase, Share, Split, months_since, period_cost, policies, policy,
    quarterly_recharge, reset_split, sample_cases, split, split_period, split_run, split_weekly,
    sum_splits,
};
use aftercare_core::{Pence, parse_date};
use chrono::NaiveDate;
use proptest::prelude::*;

fn date(s: &str) -> NaiveDate {
    parse_date(s).unwrap()
}

fn pounds(s: &str) -> Pence {
    Pence::parse_pounds(s).unwrap()
}

fn pct(s: &str) -> Share {
    Share::parse_percent(s).unwrap()
}

fn named(name: &str) -> FundingPolicy {
    policy(name).unwrap_or_else(|| panic!("no built-in policy `{name}`"))
}

#[track_caller]
fn check(name: &str, weekly: &str, facts: CaseFacts, council: i64, nhs: i64, rule: &str) {
    let facts = CaseFacts { weekly_cost: pounds(weekly), ..facts };
    let got = split_weekly(&named(name), &facts).unwrap();
    assert_eq!(
        (got.council_pence, got.nhs_pence, got.rule.as_str()),
        (council, nhs, rule),
        "{name} at {weekly}: {}",
        got.explanation
    );
}

#[track_caller]
fn check_err(name: &str, weekly: &str, facts: CaseFacts, code: &str) {
    let facts = CaseFacts { weekly_cost: pounds(weekly), ..facts };
    let err = split_weekly(&named(name), &facts).unwrap_err();
    assert_eq!(err.code(), code, "{err}");
}

fn none() -> CaseFacts {
    CaseFacts::default()
}

fn aged(age: u32, cohort: Cohort) -> CaseFacts {
    CaseFacts { age: Some(age), cohort: Some(cohort), ..none() }
}

fn months(m: u32, fully_chc: bool) -> CaseFacts {
    CaseFacts { months_since_discharge: Some(m), fully_chc, ..none() }
}

fn needs(lines: &[(&str, Attribution)]) -> CaseFacts {
    let per_need = lines
        .iter()
        .enumerate()
        .map(|(i, (cost, attribution))| NeedLine {
            description: format!("need {i}"),
            weekly_cost: pounds(cost),
            attribution: *attribution,
        })
        .collect();
    CaseFacts { per_need, ..none() }
}

// --- Shares and the rounding rule ---------------------------------------

#[test]
fn shares_are_exact_and_print_as_percent() {
    for (text, ppm, shown) in [
        ("53.93", 539_300, "53.93%"),
        ("46.07%", 460_700, "46.07%"),
        ("65", 650_000, "65%"),
        ("12.3456 %", 123_456, "12.3456%"),
        ("0", 0, "0%"),
        ("100.0", 1_000_000, "100%"),
    ] {
        let share = pct(text);
        assert_eq!(share.ppm(), ppm, "{text}");
        assert_eq!(share.to_string(), shown);
    }
    assert_eq!(pct("53.93").complement(), pct("46.07"));
    for bad in ["", "100.01", "101", "1.23456", "-1", "abc", "5.", ".5", "1e2", "50%%"] {
        let err = Share::parse_percent(bad).unwrap_err();
        assert_eq!(err.code(), "invalid_share", "{bad}");
    }
    assert_eq!(Share::from_ppm(1_000_001), None);
    let err = serde_json::from_str::<Share>("1000001").unwrap_err();
    assert!(err.to_string().contains("more than the whole"), "{err}");
    assert_eq!(serde_json::to_string(&pct("53.93")).unwrap(), "539300");
}

#[test]
fn council_part_rounds_half_away_from_zero() {
    // (total pence, council share, council, nhs)
    for (total, share, council, nhs) in [
        (1, "50", 1, 0),                 // 0.5p: half goes up
        (-1, "50", -1, 0),               // -0.5p: half goes down, away from zero
        (3, "50", 2, 1),                 // 1.5p
        (-3, "50", -2, -1),              // -1.5p
        (10, "65", 7, 3),                // 6.5p
        (-10, "65", -7, -3),             // -6.5p
        (10, "35", 4, 6),                // 3.5p
        (149_999, "65", 97_499, 52_500), // 97499.35p
        (149_999, "35", 52_500, 97_499), // 52499.65p
        (2, "25", 1, 1),                 // 0.5p
        (1, "49.9999", 0, 1),            // 0.499999p
        (0, "53.93", 0, 0),
        (12_345, "0", 0, 12_345),
        (12_345, "100", 12_345, 0),
        (i64::MAX, "100", i64::MAX, 0),
        (i64::MIN, "50", i64::MIN / 2, i64::MIN / 2),
    ] {
        let s = split(Pence(total), pct(share));
        assert_eq!((s.council.0, s.nhs.0), (council, nhs), "{total}p at {share}");
    }
}

#[test]
fn bucks_aligned_split_of_a_years_spending() {
    // £12,552,310.16 × 53.93% = £6,769,460.869... → £6,769,460.87
    let year = pounds("12,552,310.16");
    let s = split(year, pct("53.93"));
    assert_eq!(s.council, pounds("6,769,460.87"));
    assert_eq!(s.nhs, pounds("5,782,849.29"));
    assert_eq!(s.total(), year);
    // The seed's "1% variance per annum" figure.
    assert_eq!(split(year, pct("1")).council, pounds("125,523.10"));
    let bucks = named("aligned-bucks-2017");
    check("aligned-bucks-2017", "12552310.16", none(), 676_946_087, 578_284_929, &bucks.rule_id);
}

// --- Built-in policies --------------------------------------------------

#[test]
fn built_in_policies_are_named_dated_and_cited() {
    let names: Vec<String> = policies().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "fixed-50-50",
            "lincolnshire-interim-2018",
            "lincolnshire-2022",
            "aligned-bucks-2017",
            "kent-cohorts",
            "rotherham-per-need",
            "transforming-care",
        ]
    );
    for p in policies() {
        assert!(p.rule_id.starts_with("FUND-"), "{}", p.name);
        assert!(!p.citation.is_empty() && !p.title.is_empty(), "{}", p.name);
        let back: FundingPolicy =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p, "a policy round-trips as configuration");
    }
    assert_eq!(policy("no-such-policy"), None);
    let lincs = named("lincolnshire-2022");
    assert!(!lincs.in_force_on(date("2022-03-31")));
    assert!(lincs.in_force_on(date("2022-04-01")));
    let interim = named("lincolnshire-interim-2018");
    assert!(!interim.in_force_on(date("2018-04-30")));
    assert!(interim.in_force_on(date("2018-05-01")));
    let bucks = named("aligned-bucks-2017");
    assert!(!bucks.in_force_on(date("2017-06-30")));
    assert!(bucks.in_force_on(date("2017-07-01")));
}

#[test]
fn fixed_and_threshold_splits() {
    check("fixed-50-50", "1000", none(), 50_000, 50_000, "FUND-FIXED-50-50");
    check("fixed-50-50", "0.01", none(), 1, 0, "FUND-FIXED-50-50");
    check("fixed-50-50", "0.03", none(), 2, 1, "FUND-FIXED-50-50");
    check("lincolnshire-interim-2018", "2000", none(), 100_000, 100_000, "FUND-LINCS-INTERIM-2018");
    let below = "FUND-LINCS-2022-BELOW-THRESHOLD";
    let above = "FUND-LINCS-2022-AT-OR-ABOVE-THRESHOLD";
    check("lincolnshire-2022", "1499.99", none(), 97_499, 52_500, below);
    check("lincolnshire-2022", "1500.00", none(), 52_500, 97_500, above);
    check("lincolnshire-2022", "1500.01", none(), 52_500, 97_501, above);
    check("lincolnshire-2022", "0", none(), 0, 0, below);
    check("lincolnshire-2022", "1000", none(), 65_000, 35_000, below);
    check("lincolnshire-2022", "3000", none(), 105_000, 195_000, above);
    check_err("lincolnshire-2022", "-1", none(), "negative_cost");
}

#[test]
fn lincolnshire_decision_serializes_for_the_cli() {
    let d =
        split_weekly(&named("lincolnshire-2022"), &CaseFacts::weekly(pounds("1499.99"))).unwrap();
    let json: serde_json::Value = serde_json::to_value(&d).unwrap();
    assert_eq!(json["council_pence"], 97_499);
    assert_eq!(json["nhs_pence"], 52_500);
    assert_eq!(json["rule"], "FUND-LINCS-2022-BELOW-THRESHOLD");
    assert_eq!(json["policy"], "lincolnshire-2022");
    let why = d.explanation;
    assert!(why.contains("£1,499.99 is below £1,500.00"), "{why}");
    assert!(why.contains("council £974.99, NHS £525.00"), "{why}");
    assert!(why.contains("Lincs 6.1.1"), "{why}");
}

#[test]
fn kent_cohorts() {
    let older = "FUND-KENT-COHORTS-OLDER-RESIDENTIAL";
    let forensic = "FUND-KENT-COHORTS-S37-41-RESIDENTIAL";
    let day_and_night = "FUND-KENT-COHORTS-UNDER-65-24-HOUR";
    check("kent-cohorts", "900", aged(80, Cohort::Over65ResidentialHome), 90_000, 0, older);
    check("kent-cohorts", "900", aged(65, Cohort::Over65ResidentialHome), 90_000, 0, older);
    let canfor = |h| Cohort::S37_41Residential { needs_tool_health_share: pct(h) };
    check("kent-cohorts", "2000", aged(45, canfor("40")), 120_000, 80_000, forensic);
    check("kent-cohorts", "2000", aged(70, canfor("40")), 120_000, 80_000, forensic);
    check("kent-cohorts", "0.01", aged(45, canfor("50")), 1, 0, forensic);
    let candid = |h| Cohort::Under65TwentyFourHour { needs_tool_health_share: pct(h) };
    check("kent-cohorts", "3000", aged(40, candid("62.5")), 112_500, 187_500, day_and_night);
    let unknown_age = CaseFacts { cohort: Some(candid("100")), ..none() };
    check("kent-cohorts", "3000", unknown_age, 0, 300_000, day_and_night);
    check_err(
        "kent-cohorts",
        "900",
        aged(64, Cohort::Over65ResidentialHome),
        "age_contradicts_cohort",
    );
    check_err("kent-cohorts", "900", aged(65, candid("50")), "age_contradicts_cohort");
    check_err("kent-cohorts", "900", CaseFacts { age: Some(50), ..none() }, "no_rule");
}

#[test]
fn cohorts_parse_from_the_command_line() {
    assert_eq!(Cohort::parse("over-65-residential-home"), Ok(Cohort::Over65ResidentialHome));
    assert_eq!(
        Cohort::parse("s37-41-residential:40"),
        Ok(Cohort::S37_41Residential { needs_tool_health_share: pct("40") })
    );
    assert_eq!(
        Cohort::parse("under-65-24-hour:62.5%"),
        Ok(Cohort::Under65TwentyFourHour { needs_tool_health_share: pct("62.5") })
    );
    for bad in ["", "over-65-residential-home:10", "s37-41-residential", "children"] {
        assert_eq!(Cohort::parse(bad).unwrap_err().code(), "unknown_cohort", "{bad}");
    }
    assert_eq!(Cohort::parse("s37-41-residential:101").unwrap_err().code(), "invalid_share");
}

#[test]
fn rotherham_per_need_attribution() {
    let rule = "FUND-ROTHERHAM-PER-NEED";
    let plan = needs(&[
        ("400", Attribution::Council),
        ("250.50", Attribution::Nhs),
        ("100.01", Attribution::Shared(pct("50"))),
    ]);
    // council 400 + 50.01 (50.005 rounded away) ; nhs 250.50 + 50.00
    check("rotherham-per-need", "750.51", plan.clone(), 45_001, 30_050, rule);
    // Each line rounds on its own: three lines of 0.01 at 50% give the
    // council 3p, where 0.03 split whole would give 2p.
    let halves = needs(&[
        ("0.01", Attribution::Shared(Share::HALF)),
        ("0.01", Attribution::Shared(Share::HALF)),
        ("0.01", Attribution::Shared(Share::HALF)),
    ]);
    check("rotherham-per-need", "0.03", halves, 3, 0, rule);
    check_err("rotherham-per-need", "750.50", plan, "needs_do_not_add_up");
    check_err("rotherham-per-need", "100", none(), "missing_fact");
    check_err("rotherham-per-need", "0", needs(&[("-1", Attribution::Nhs)]), "negative_cost");
}

#[test]
fn transforming_care_lead_agency_switch() {
    let first = "FUND-TRANSFORMING-CARE-NHS-FIRST-MONTHS";
    let chc = "FUND-TRANSFORMING-CARE-FULLY-CHC";
    let council = "FUND-TRANSFORMING-CARE-COUNCIL-BELOW-THRESHOLD";
    let nhs_still = "FUND-TRANSFORMING-CARE-NHS-AT-OR-ABOVE-THRESHOLD";
    check("transforming-care", "1000", months(0, false), 0, 100_000, first);
    check("transforming-care", "1000", months(2, false), 0, 100_000, first);
    check("transforming-care", "1000", months(3, false), 100_000, 0, council);
    check("transforming-care", "1499.99", months(6, false), 149_999, 0, council);
    check("transforming-care", "1500", months(6, false), 0, 150_000, nhs_still);
    check("transforming-care", "1000", months(3, true), 0, 100_000, chc);
    check("transforming-care", "1000", months(1, true), 0, 100_000, first);
    check_err("transforming-care", "1000", none(), "missing_fact");
}

#[test]
fn months_since_discharge_counts_whole_calendar_months() {
    for (discharge, on, want) in [
        ("2024-01-15", "2024-01-15", Some(0)),
        ("2024-01-15", "2024-04-14", Some(2)),
        ("2024-01-15", "2024-04-15", Some(3)),
        ("2024-01-31", "2024-02-29", Some(1)),
        ("2024-01-31", "2024-02-28", Some(0)),
        ("2023-11-30", "2024-02-28", Some(2)),
        ("2023-11-30", "2024-02-29", Some(3)), // 30 November + 3 months clamps to 29 February
        ("2024-01-15", "2024-01-14", None),
    ] {
        assert_eq!(months_since(date(discharge), date(on)), want, "{discharge} to {on}");
    }
}

#[test]
fn every_decision_names_a_rule_its_policy_lists() {
    let canfor = Cohort::S37_41Residential { needs_tool_health_share: pct("30") };
    let facts = [
        CaseFacts { age: Some(70), cohort: Some(Cohort::Over65ResidentialHome), ..none() },
        CaseFacts { cohort: Some(canfor), months_since_discharge: Some(5), ..none() },
        CaseFacts {
            per_need: vec![NeedLine {
                description: "support worker".into(),
                weekly_cost: Pence(160_000),
                attribution: Attribution::Shared(pct("30")),
            }],
            months_since_discharge: Some(1),
            ..none()
        },
    ];
    for p in policies() {
        for (i, f) in facts.iter().enumerate() {
            let f = CaseFacts { weekly_cost: Pence(160_000), ..f.clone() };
            if let Ok(d) = split_weekly(&p, &f) {
                assert!(p.decision_rules().contains(&d.rule), "{} case {i}: {}", p.name, d.rule);
                assert_eq!(d.council_pence + d.nhs_pence, 160_000);
            }
        }
    }
}

// --- Periods ------------------------------------------------------------

#[test]
fn period_costs_are_pro_rata_by_day() {
    let p = |from, to| Period::new(date(from), date(to)).unwrap();
    let weekly = pounds("1000");
    assert_eq!(period_cost(weekly, &p("2024-04-01", "2024-04-07")), Ok(weekly));
    assert_eq!(period_cost(weekly, &p("2024-04-01", "2024-04-01")), Ok(Pence(14_286))); // 14285.71
    assert_eq!(period_cost(weekly, &p("2024-04-01", "2024-04-30")), Ok(Pence(428_571))); // .43
    // 1p a week for 3.5 days would be 0.5p; whole days: 4 days = 0.571p → 1p, 3 days = 0.43 → 0
    assert_eq!(period_cost(Pence(1), &p("2024-04-01", "2024-04-04")), Ok(Pence(1)));
    assert_eq!(period_cost(Pence(1), &p("2024-04-01", "2024-04-03")), Ok(Pence(0)));
    // Never an exact half: a remainder of n/7 is at most 6/7.
    assert_eq!(period_cost(Pence(-1), &p("2024-04-01", "2024-04-04")), Ok(Pence(-1)));
    // A leap year is 366 days: 52 weeks and 2 days.
    let fy = Period::financial_year(2023).unwrap();
    assert_eq!(fy.days(), 366);
    assert_eq!(period_cost(weekly, &fy), Ok(Pence(5_228_571))); // 52 × 100000 + 28571.43
    let err = Period::new(date("2024-04-02"), date("2024-04-01")).unwrap_err();
    assert_eq!(err.code(), "empty_period");
}

#[test]
fn period_splits_follow_the_weekly_split() {
    let weekly = split(pounds("1499.99"), pct("65")); // 974.99 / 525.00
    let p = |from, to| Period::new(date(from), date(to)).unwrap();
    // Whole weeks reconcile exactly with the weekly figures.
    let four_weeks = split_period(weekly, &p("2024-04-01", "2024-04-28")).unwrap();
    assert_eq!(
        (four_weeks.total, four_weeks.council, four_weeks.nhs),
        (Pence(4 * 149_999), Pence(4 * 97_499), Pence(4 * 52_500))
    );
    // 52 weeks: 52 × the weekly council part, not 65% of the year re-rounded.
    let year = split_period(weekly, &p("2024-04-01", "2025-03-30")).unwrap();
    assert_eq!(year.council, Pence(52 * 97_499));
    assert_eq!(year.nhs, Pence(52 * 52_500));
    // Part weeks: each part pro rata, the NHS the rest of the rounded total.
    let one_day = split_period(weekly, &p("2024-04-01", "2024-04-01")).unwrap();
    assert_eq!(
        (one_day.total, one_day.council, one_day.nhs),
        (
            Pence(21_428), // 21428.43
            Pence(13_928), // 13927.86
            Pence(7_500)
        )
    );
}

#[test]
fn quarters_add_up_to_the_year_exactly() {
    let weekly = split(pounds("241,390.16"), pct("53.93"));
    let quarters: Vec<Period> =
        Quarter::all(2024).unwrap().iter().map(|q| q.period().unwrap()).collect();
    assert_eq!(quarters[0], Period::new(date("2024-04-01"), date("2024-06-30")).unwrap());
    assert_eq!(quarters[3], Period::new(date("2025-01-01"), date("2025-03-31")).unwrap());
    let run = split_run(weekly, &quarters).unwrap();
    let year = split_period(weekly, &Period::financial_year(2024).unwrap()).unwrap();
    let sum = sum_splits(run.iter().map(|q| q.split())).unwrap();
    assert_eq!(sum, year.split());
    assert_eq!(run.iter().map(|q| q.total.0).sum::<i64>(), year.total.0);
    assert_eq!(run[0], split_period(weekly, &quarters[0]).unwrap());
    // Standalone quarters need not add up (each is rounded on its own); a run
    // does by construction. In the leap year 2023-24 a 2p weekly package
    // costs 26p + 26.29p + 26.29p + 26p, which is 104p rounded quarter by
    // quarter but 104.57p → 105p for the year.
    let tiny = Split { council: Pence(1), nhs: Pence(1) };
    let leap: Vec<Period> =
        Quarter::all(2023).unwrap().iter().map(|q| q.period().unwrap()).collect();
    let alone: i64 = leap.iter().map(|q| split_period(tiny, q).unwrap().total.0).sum();
    let whole = split_period(tiny, &Period::financial_year(2023).unwrap()).unwrap();
    assert_eq!((alone, whole.total.0), (104, 105));
    let run = split_run(tiny, &leap).unwrap();
    assert_eq!(run.iter().map(|q| q.total.0).collect::<Vec<_>>(), [26, 26, 27, 26]);
    assert_eq!(sum_splits(run.iter().map(|q| q.split())).unwrap(), whole.split());
    let err = split_run(weekly, &[quarters[0], quarters[2]]).unwrap_err();
    assert_eq!(err.code(), "not_contiguous");
}

// --- Aligned budget -----------------------------------------------------

fn line(client: &str, cost: &str, exception: Option<&str>) -> RechargeLine {
    RechargeLine {
        client_ref: client.into(),
        cost: pounds(cost),
        exception: exception.map(String::from),
    }
}

#[test]
fn quarterly_recharge_invoice_adds_up_line_by_line() {
    let bucks = named("aligned-bucks-2017");
    let q2 = Quarter::new(2024, 2).unwrap();
    let invoice = quarterly_recharge(
        &bucks,
        q2,
        &[
            line("C1", "10,000.00", None),
            line("C2", "0.01", None),
            line("C3", "0.01", None),
            line("C4", "5,432.17", Some("joint arrangement with another county")),
            line("C5", "-120.00", None),
        ],
    )
    .unwrap();
    let lines: Vec<(&str, i64, i64)> =
        invoice.lines.iter().map(|l| (l.client_ref.as_str(), l.council.0, l.nhs.0)).collect();
    assert_eq!(
        lines,
        [("C1", 539_300, 460_700), ("C2", 1, 0), ("C3", 1, 0), ("C5", -6_472, -5_528)]
    );
    assert_eq!(invoice.excluded.len(), 1);
    assert_eq!(invoice.total_cost, pounds("9,880.02"));
    assert_eq!(invoice.council_total, Pence(539_300 + 2 - 6_472));
    assert_eq!(invoice.nhs_total, Pence(460_700 - 5_528));
    assert_eq!(invoice.council_total.0 + invoice.nhs_total.0, invoice.total_cost.0);
    assert_eq!(invoice.recharge, invoice.nhs_total);
    assert_eq!(invoice.management_fee, pounds("6,250"));
    assert_eq!(invoice.amount_due, Pence(invoice.recharge.0 + 625_000));
    assert_eq!((invoice.from.as_str(), invoice.to.as_str()), ("council", "nhs"));
    assert_eq!(q2.invoiceable_from(), Ok(date("2024-10-01")));
}

#[test]
fn management_fee_quarters_add_up_to_the_annual_fee() {
    let mut odd = named("aligned-bucks-2017");
    if let AgreementKind::Aligned { management_fee_annual, .. } = &mut odd.kind {
        *management_fee_annual = Pence(1_000_003); // £10,000.03
    }
    let fees: Vec<i64> = Quarter::all(2024)
        .unwrap()
        .into_iter()
        .map(|q| quarterly_recharge(&odd, q, &[]).unwrap().management_fee.0)
        .collect();
    assert_eq!(fees, [250_001, 250_001, 250_000, 250_001]);
    assert_eq!(fees.iter().sum::<i64>(), 1_000_003);
    let err = quarterly_recharge(&named("fixed-50-50"), Quarter::new(2024, 1).unwrap(), &[]);
    assert_eq!(err.unwrap_err().code(), "not_aligned");
    assert_eq!(Quarter::new(2024, 5).unwrap_err(), FundingError::InvalidQuarter(5));
}

#[test]
fn annual_sample_is_a_tenth_rounded_up_and_reproducible() {
    let ids: Vec<String> = (1..=401).map(|i| format!("S117-{i:04}")).collect();
    let sample = sample_cases(&ids, 2017);
    assert_eq!(sample.len(), 41);
    assert_eq!(sample, sample_cases(&ids, 2017));
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(sample, sample_cases(&reversed, 2017), "input order does not matter");
    assert_ne!(sample, sample_cases(&ids, 2018));
    assert!(sample.windows(2).all(|w| w[0] < w[1]));
    assert!(sample.iter().all(|s| ids.contains(s)));
    // Pinned so a change to the generator, which would change past samples,
    // is seen.
    let small: Vec<String> = (1..=25).map(|i| format!("C{i:02}")).collect();
    assert_eq!(sample_cases(&small, 42), PINNED_SAMPLE_SEED_42);
    assert_eq!(sample_cases(&[], 1), Vec::<String>::new());
    assert_eq!(sample_cases(&["only".to_string(), "only".to_string()], 1), ["only"]);
}

const PINNED_SAMPLE_SEED_42: [&str; 3] = ["C05", "C09", "C19"];

fn sampled(case: &str, health: bool, cost: &str) -> SampledCase {
    SampledCase {
        case_ref: case.into(),
        qualifies_for_health_funding: health,
        annual_cost: pounds(cost),
    }
}

#[test]
fn annual_reset_of_the_aligned_split() {
    let bucks = named("aligned-bucks-2017");
    let year = pounds("12,552,310.16");
    // Social care 60,000 of 100,000: the council's share becomes 60%.
    let sample = [
        sampled("A", false, "40,000"),
        sampled("B", true, "40,000"),
        sampled("C", false, "20,000"),
    ];
    let r = reset_split(&bucks, &sample, year).unwrap();
    assert_eq!(r.new_council_share, pct("60"));
    assert_eq!(r.current_council_pence, pounds("6,769,460.87"));
    assert_eq!(r.new_council_pence, pounds("7,531,386.10"));
    assert_eq!(r.variance_pence, 753_138_610 - 676_946_087);
    assert!(r.exceeds_threshold);
    // A third: 333333.33 ppm rounds to 333333.
    let thirds = [sampled("A", false, "1"), sampled("B", true, "2")];
    assert_eq!(reset_split(&bucks, &thirds, year).unwrap().new_council_share.ppm(), 333_333);
    assert_eq!(reset_split(&bucks, &[], year).unwrap_err().code(), "empty_sample");
    let negative = [sampled("A", false, "-1")];
    assert_eq!(reset_split(&bucks, &negative, year).unwrap_err().code(), "negative_sample_cost");
}

#[test]
fn escalation_is_for_more_than_500k_either_way() {
    let bucks = named("aligned-bucks-2017");
    // Pooled £10,000,000 with the sample moving the council from 53.93% to
    // 58.93% is exactly £500,000: within the threshold.
    let exactly = [sampled("A", false, "58.93"), sampled("B", true, "41.07")];
    let r = reset_split(&bucks, &exactly, pounds("10,000,000")).unwrap();
    assert_eq!(r.variance_pence, 50_000_000);
    assert!(!r.exceeds_threshold);
    // £10,000,000.20: 53.93% is 539300010.786p → 539300011p, 58.93% is
    // 589300011.786p → 589300012p, one penny over.
    let r = reset_split(&bucks, &exactly, pounds("10,000,000.20")).unwrap();
    assert_eq!(r.variance_pence, 50_000_001);
    assert!(r.exceeds_threshold);
    let down = [sampled("A", false, "48.93"), sampled("B", true, "51.07")];
    let r = reset_split(&bucks, &down, pounds("10,000,000.20")).unwrap();
    assert_eq!(r.variance_pence, -50_000_001);
    assert!(r.exceeds_threshold);
}

// --- Tidiness -----------------------------------------------------------

#[test]
fn no_floating_point_in_the_funding_module() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/funding");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("//! "), "{} has no `//!` line", path.display());
        for word in ["f32", "f64", "as_f", "powf"] {
            assert!(!text.contains(word), "{} mentions `{word}`", path.display());
        }
    }
}

// --- Properties ---------------------------------------------------------

fn share() -> impl Strategy<Value = Share> {
    prop_oneof![
        (0..=1_000_000_u32).prop_map(|p| Share::from_ppm(p).unwrap()),
        (0..=100_u32).prop_map(|p| Share::percent(p).unwrap()),
    ]
}

fn amount() -> impl Strategy<Value = Pence> {
    prop_oneof![
        (-1_000_000_000_000_i64..=1_000_000_000_000).prop_map(Pence),
        (-10_i64..=10).prop_map(Pence),
        any::<i64>().prop_map(Pence),
    ]
}

fn day() -> impl Strategy<Value = NaiveDate> {
    (0_u64..20_000).prop_map(|d| date("2000-01-01") + chrono::Days::new(d))
}

proptest! {
    #[test]
    fn parts_always_add_up(total in amount(), share in share()) {
        let s = split(total, share);
        prop_assert_eq!(s.council.0 + s.nhs.0, total.0);
        if total.0 >= 0 {
            prop_assert!(0 <= s.council.0 && s.council.0 <= total.0);
            prop_assert!(0 <= s.nhs.0 && s.nhs.0 <= total.0);
        }
        // Negating the amount negates the parts (rounding is symmetric).
        if total.0 != i64::MIN {
            let neg = split(Pence(-total.0), share);
            prop_assert_eq!((neg.council.0, neg.nhs.0), (-s.council.0, -s.nhs.0));
        }
    }

    #[test]
    fn council_part_is_the_nearest_penny(total in -1_000_000_000_i64..1_000_000_000, share in share()) {
        let s = split(Pence(total), share);
        // |council × 1e6 − total × share| ≤ 0.5e6
        let err = i128::from(s.council.0) * 1_000_000 - i128::from(total) * i128::from(share.ppm());
        prop_assert!(2 * err.abs() <= 1_000_000);
    }

    #[test]
    fn weekly_decisions_add_up(
        pence in 0_i64..10_000_000,
        age in 18_u32..100,
        months in 0_u32..24,
        fully_chc in any::<bool>(),
        health in share(),
    ) {
        let cohort = if age >= 65 {
            Cohort::Over65ResidentialHome
        } else {
            Cohort::Under65TwentyFourHour { needs_tool_health_share: health }
        };
        let facts = CaseFacts {
            weekly_cost: Pence(pence),
            age: Some(age),
            cohort: Some(cohort),
            per_need: vec![NeedLine {
                description: "package".into(),
                weekly_cost: Pence(pence),
                attribution: Attribution::Shared(health),
            }],
            months_since_discharge: Some(months),
            fully_chc,
        };
        for p in policies() {
            let d = split_weekly(&p, &facts).unwrap();
            prop_assert_eq!(d.council_pence + d.nhs_pence, pence);
            prop_assert!(0 <= d.council_pence && d.council_pence <= pence);
            prop_assert!(p.decision_rules().contains(&d.rule));
        }
    }

    #[test]
    fn period_splits_add_up_to_the_period_total(
        weekly in -100_000_000_i64..100_000_000,
        share in share(),
        from in day(),
        days in 0_u64..800,
    ) {
        let period = Period::new(from, from + chrono::Days::new(days)).unwrap();
        let ps = split_period(split(Pence(weekly), share), &period).unwrap();
        prop_assert_eq!(ps.council.0 + ps.nhs.0, ps.total.0);
        prop_assert_eq!(Ok(ps.total), period_cost(Pence(weekly), &period));
        if weekly >= 0 {
            prop_assert!(0 <= ps.council.0 && ps.council.0 <= ps.total.0);
        }
        if (days + 1) % 7 == 0 {
            let weeks = i64::try_from((days + 1) / 7).unwrap();
            let w = split(Pence(weekly), share);
            prop_assert_eq!((ps.council.0, ps.nhs.0), (weeks * w.council.0, weeks * w.nhs.0));
        }
    }

    #[test]
    fn annual_is_the_sum_of_four_quarters(
        weekly in 0_i64..1_000_000_000,
        share in share(),
        year in 2000_i32..2100,
    ) {
        let w = split(Pence(weekly), share);
        let quarters: Vec<Period> =
            Quarter::all(year).unwrap().iter().map(|q| q.period().unwrap()).collect();
        let run = split_run(w, &quarters).unwrap();
        let annual = split_period(w, &Period::financial_year(year).unwrap()).unwrap();
        prop_assert_eq!(sum_splits(run.iter().map(|q| q.split())).unwrap(), annual.split());
        for q in &run {
            prop_assert_eq!(q.council.0 + q.nhs.0, q.total.0);
            prop_assert!(0 <= q.council.0 && q.council.0 <= q.total.0);
        }
    }

    #[test]
    fn any_run_adds_up_to_the_whole(
        weekly in -10_000_000_i64..10_000_000,
        share in share(),
        from in day(),
        lengths in proptest::collection::vec(0_u64..100, 1..12),
    ) {
        let mut periods = Vec::new();
        let mut start = from;
        for len in lengths {
            let end = start + chrono::Days::new(len);
            periods.push(Period::new(start, end).unwrap());
            start = end + chrono::Days::new(1);
        }
        let w = split(Pence(weekly), share);
        let whole = Period::new(from, periods.last().unwrap().to_inclusive()).unwrap();
        let run = split_run(w, &periods).unwrap();
        prop_assert_eq!(
            sum_splits(run.iter().map(|p| p.split())).unwrap(),
            split_period(w, &whole).unwrap().split()
        );
    }

    #[test]
    fn invoices_add_up(costs in proptest::collection::vec((0_i64..100_000_000, any::<bool>()), 0..40), q in 1_u8..=4) {
        let lines: Vec<RechargeLine> = costs
            .iter()
            .enumerate()
            .map(|(i, (c, out))| RechargeLine {
                client_ref: format!("C{i}"),
                cost: Pence(*c),
                exception: out.then(|| "other area".to_string()),
            })
            .collect();
        let inv = quarterly_recharge(&named("aligned-bucks-2017"), Quarter::new(2024, q).unwrap(), &lines).unwrap();
        let inside: i64 = costs.iter().filter(|(_, out)| !out).map(|(c, _)| c).sum();
        prop_assert_eq!(inv.total_cost.0, inside);
        prop_assert_eq!(inv.council_total.0 + inv.nhs_total.0, inv.total_cost.0);
        prop_assert_eq!(inv.nhs_total.0, inv.lines.iter().map(|l| l.nhs.0).sum::<i64>());
        prop_assert_eq!(inv.council_total.0, inv.lines.iter().map(|l| l.council.0).sum::<i64>());
        prop_assert_eq!(inv.amount_due.0, inv.recharge.0 + inv.management_fee.0);
        prop_assert_eq!(inv.lines.len() + inv.excluded.len(), lines.len());
    }

    #[test]
    fn samples_are_a_tenth_rounded_up(n in 0_usize..300, seed in any::<u64>()) {
        let ids: Vec<String> = (0..n).map(|i| format!("case-{i}")).collect();
        let sample = sample_cases(&ids, seed);
        prop_assert_eq!(sample.len(), n.div_ceil(10));
        prop_assert!(sample.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(sample.iter().all(|s| ids.contains(s)));
    }
}
