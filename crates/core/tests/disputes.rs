//! Disputes as tables: which parties may dispute which subject, who funds
//! without prejudice under each partnership's rule, the escalation ladders,
//! and who repays whom once a dispute is resolved (SPEC 8).

use aftercare_core::disputes::{
    DisputeError, DisputeSubject, Finding, PartnershipRule, Party, Repayment, ladder, next_step,
    repayment, without_prejudice,
};
use aftercare_core::funding::Share;
use aftercare_core::org::OrgKind;
use aftercare_core::{OrgCode, Pence};

fn org(code: &str) -> OrgCode {
    OrgCode::parse(code).unwrap()
}

fn party(code: &str) -> Party {
    let kind = match code {
        "KENT" | "LINCS" | "BUCKS" => OrgKind::Council,
        "QKS" | "QJM" => OrgKind::Icb,
        "91Q" => OrgKind::Ccg,
        "X24" => OrgKind::NhsEngland,
        "RXY" => OrgKind::NhsTrust,
        "G81001" => OrgKind::GpPractice,
        other => panic!("no kind for {other}"),
    };
    Party { org: org(code), kind }
}

#[test]
fn subjects_are_disputed_only_between_the_right_kinds_of_body() {
    use DisputeSubject::*;
    // (subject, party a, party b, error code or "" when valid)
    let cases: &[(DisputeSubject, &str, &str, &str)] = &[
        (OrdinaryResidence, "KENT", "LINCS", ""),
        (OrdinaryResidence, "KENT", "QKS", "wrong_party_kind"),
        (OrdinaryResidence, "QKS", "KENT", "wrong_party_kind"),
        (OrdinaryResidence, "QKS", "QJM", "wrong_party_kind"),
        (OrdinaryResidence, "KENT", "KENT", "same_party"),
        (OrdinaryResidence, "KENT", "RXY", "wrong_party_kind"),
        (ResponsibleCommissioner, "QKS", "QJM", ""),
        (ResponsibleCommissioner, "QKS", "91Q", ""),
        (ResponsibleCommissioner, "QKS", "X24", ""),
        (ResponsibleCommissioner, "QKS", "KENT", "wrong_party_kind"),
        (ResponsibleCommissioner, "KENT", "LINCS", "wrong_party_kind"),
        (ResponsibleCommissioner, "QKS", "RXY", "wrong_party_kind"),
        (ResponsibleCommissioner, "QJM", "QJM", "same_party"),
        (FundingSplit, "KENT", "QKS", ""),
        (FundingSplit, "QKS", "KENT", ""),
        (FundingSplit, "KENT", "LINCS", "wrong_party_kind"),
        (FundingSplit, "QKS", "QJM", "wrong_party_kind"),
        (FundingSplit, "KENT", "G81001", "wrong_party_kind"),
    ];
    for (subject, a, b, want) in cases {
        let got = subject.check_parties(&party(a), &party(b));
        match (*want, got) {
            ("", Ok(())) => {}
            ("", Err(e)) => panic!("{subject} {a} v {b}: refused: {e}"),
            (code, Ok(())) => panic!("{subject} {a} v {b}: accepted, wanted {code}"),
            (code, Err(e)) => assert_eq!(e.code(), code, "{subject} {a} v {b}: {e}"),
        }
    }
    let e =
        DisputeSubject::OrdinaryResidence.check_parties(&party("KENT"), &party("QKS")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ordinary_residence is disputed between two councils; QKS is Integrated care board"
    );
}

#[test]
fn subjects_and_rules_parse() {
    for s in DisputeSubject::ALL {
        assert_eq!(DisputeSubject::parse(s.as_str()), Ok(s));
    }
    assert_eq!(DisputeSubject::parse("Funding split"), Ok(DisputeSubject::FundingSplit));
    assert_eq!(DisputeSubject::parse("wages").unwrap_err().code(), "unknown_subject");
    for r in PartnershipRule::ALL {
        assert_eq!(PartnershipRule::parse(r.as_str()), Ok(r));
    }
    assert_eq!(PartnershipRule::parse("devon").unwrap_err().code(), "unknown_rule");
}

/// Bodies with their shares in percent (None: their existing part).
type Bodies = &'static [(&'static str, Option<u32>)];

/// One interim-funding case: parties, who funds now, where the person lives,
/// the rule; and the bodies with shares (percent, or None: existing part) and rule id.
struct Interim {
    parties: (&'static str, &'static str),
    funding: &'static [&'static str],
    lives_in: Option<&'static str>,
    rule: PartnershipRule,
    want: Result<(Bodies, &'static str), &'static str>,
}

#[test]
fn the_body_funding_without_prejudice_follows_the_partnership_rule() {
    use PartnershipRule::*;
    let cases = [
        // Kent 13.1.1: the body already meeting the needs keeps meeting them.
        Interim {
            parties: ("KENT", "LINCS"),
            funding: &["KENT"],
            lives_in: Some("LINCS"),
            rule: Kent,
            want: Ok((&[("KENT", Some(100))], "DISPUTE-INTERIM-EXISTING-FUNDER")),
        },
        Interim {
            parties: ("KENT", "LINCS"),
            funding: &["LINCS"],
            lives_in: Some("KENT"),
            rule: Lincolnshire,
            want: Ok((&[("LINCS", Some(100))], "DISPUTE-INTERIM-EXISTING-FUNDER")),
        },
        Interim {
            parties: ("KENT", "QKS"),
            funding: &["QKS"],
            lives_in: None,
            rule: Lincolnshire,
            want: Ok((&[("QKS", Some(100))], "DISPUTE-INTERIM-EXISTING-FUNDER")),
        },
        // Both already funding: each keeps its existing part (Lincs 6.2.1: no unilateral withdrawal).
        Interim {
            parties: ("KENT", "QKS"),
            funding: &["KENT", "QKS"],
            lives_in: None,
            rule: Kent,
            want: Ok((&[("KENT", None), ("QKS", None)], "DISPUTE-INTERIM-EXISTING-FUNDERS")),
        },
        // Kent 13.1.2: nobody funding, the council where the person lives.
        Interim {
            parties: ("KENT", "LINCS"),
            funding: &[],
            lives_in: Some("LINCS"),
            rule: Kent,
            want: Ok((&[("LINCS", Some(100))], "DISPUTE-INTERIM-COUNCIL-WHERE-LIVING")),
        },
        Interim {
            parties: ("QKS", "QJM"),
            funding: &[],
            lives_in: Some("KENT"),
            rule: Kent,
            want: Ok((&[("KENT", Some(100))], "DISPUTE-INTERIM-COUNCIL-WHERE-LIVING")),
        },
        Interim {
            parties: ("KENT", "QKS"),
            funding: &[],
            lives_in: Some("KENT"),
            rule: Kent,
            want: Ok((&[("KENT", Some(100))], "DISPUTE-INTERIM-COUNCIL-WHERE-LIVING")),
        },
        // Lincs 6.2.1: a council and an ICB, neither funding: 50/50, whichever is named first.
        Interim {
            parties: ("LINCS", "QJM"),
            funding: &[],
            lives_in: Some("LINCS"),
            rule: Lincolnshire,
            want: Ok((&[("LINCS", Some(50)), ("QJM", Some(50))], "DISPUTE-INTERIM-LINCS-50-50")),
        },
        Interim {
            parties: ("QJM", "LINCS"),
            funding: &[],
            lives_in: None,
            rule: Lincolnshire,
            want: Ok((&[("LINCS", Some(50)), ("QJM", Some(50))], "DISPUTE-INTERIM-LINCS-50-50")),
        },
        // Lincolnshire council against council follows the 2014 Regulations (6.2.3): where the person lives.
        Interim {
            parties: ("LINCS", "KENT"),
            funding: &[],
            lives_in: Some("KENT"),
            rule: Lincolnshire,
            want: Ok((&[("KENT", Some(100))], "DISPUTE-INTERIM-COUNCIL-WHERE-LIVING")),
        },
        // Errors.
        Interim {
            parties: ("KENT", "LINCS"),
            funding: &[],
            lives_in: None,
            rule: Kent,
            want: Err("lives_in_unknown"),
        },
        Interim {
            parties: ("KENT", "LINCS"),
            funding: &[],
            lives_in: Some("QKS"),
            rule: Kent,
            want: Err("lives_in_not_council"),
        },
        Interim {
            parties: ("KENT", "LINCS"),
            funding: &["KENT", "KENT"],
            lives_in: None,
            rule: Kent,
            want: Err("duplicate"),
        },
    ];
    for (n, c) in cases.iter().enumerate() {
        let (a, b) = (party(c.parties.0), party(c.parties.1));
        let funding: Vec<OrgCode> = c.funding.iter().map(|f| org(f)).collect();
        let lives = c.lives_in.map(party);
        let got =
            without_prejudice((&a, &b), &funding, lives.as_ref().map(|p| (&p.org, p.kind)), c.rule);
        match (&c.want, got) {
            (Ok((bodies, rule)), Ok(i)) => {
                let shown: Vec<(String, Option<u32>)> = i
                    .bodies
                    .iter()
                    .map(|b| (b.org.to_string(), b.share.map(|s| s.ppm() / 10_000)))
                    .collect();
                let want: Vec<(String, Option<u32>)> =
                    bodies.iter().map(|(o, s)| (o.to_string(), *s)).collect();
                assert_eq!(shown, want, "case {n}");
                assert_eq!(i.rule, *rule, "case {n}");
                assert!(!i.citation.is_empty() && !i.explanation.is_empty(), "case {n}");
            }
            (Err(code), Err(e)) => assert_eq!(e.code(), *code, "case {n}: {e}"),
            (want, got) => panic!("case {n}: wanted {:?}, got {got:?}", want.map(|(_, r)| r)),
        }
    }
}

#[test]
fn interim_decisions_cite_and_explain() {
    let (a, b) = (party("LINCS"), party("QJM"));
    let i = without_prejudice((&a, &b), &[], None, PartnershipRule::Lincolnshire).unwrap();
    assert!(i.citation.contains("Lincs 6.2.1"), "{}", i.citation);
    assert_eq!(i.summary(), "LINCS (50%), QJM (50%)");
    assert!(i.explanation.contains("neither LINCS nor QJM is funding"), "{}", i.explanation);
    let (a, b) = (party("KENT"), party("LINCS"));
    let lives = org("LINCS");
    let i =
        without_prejudice((&a, &b), &[], Some((&lives, OrgKind::Council)), PartnershipRule::Kent)
            .unwrap();
    assert!(
        i.citation.contains("Kent 13.1.2")
            && i.citation.contains("Disputes between Local Authorities"),
        "{}",
        i.citation
    );
    let i = without_prejudice((&a, &b), &[org("KENT"), org("LINCS")], None, PartnershipRule::Kent)
        .unwrap();
    assert_eq!(i.summary(), "KENT (its existing part), LINCS (its existing part)");
    // Serializes for storage and reads back the same.
    let json = serde_json::to_string(&i).unwrap();
    assert_eq!(serde_json::from_str::<aftercare_core::disputes::InterimFunding>(&json).unwrap(), i);
}

#[test]
fn each_subject_has_its_ladder_from_operational_level_up() {
    use DisputeSubject::*;
    // (subject, step names in order)
    let cases: &[(DisputeSubject, &[&str])] = &[
        (
            OrdinaryResidence,
            &[
                "Operational level",
                "Service manager",
                "Assistant director",
                "Director",
                "Formal dispute under the Care and Support (Disputes between Local Authorities) Regulations 2014",
                "Referral to the Secretary of State for a determination",
            ],
        ),
        (
            ResponsibleCommissioner,
            &[
                "Operational level",
                "Mental health commissioning lead",
                "Chief nurse or director of commissioning",
                "Who Pays? formal dispute resolution",
                "Referral to NHS England for a decision",
            ],
        ),
        (
            FundingSplit,
            &[
                "Operational level",
                "Service manager and commissioning lead",
                "Assistant director and head of commissioning",
                "Director and chief nurse",
                "Joint interagency disputes resolution process",
            ],
        ),
    ];
    for (subject, names) in cases {
        let got: Vec<&str> = ladder(*subject).iter().map(|s| s.name).collect();
        assert_eq!(&got, names, "{subject}");
        assert!(ladder(*subject).iter().all(|s| !s.citation.is_empty()));
        for (i, name) in names.iter().enumerate() {
            assert_eq!(next_step(*subject, i).map(|s| s.name), Some(*name));
        }
        assert_eq!(next_step(*subject, names.len()), None, "{subject}: nothing above the top");
    }
    assert!(ladder(OrdinaryResidence)[1].citation.contains("Kent 13.5"));
    assert!(ladder(ResponsibleCommissioner)[3].citation.contains("Lincs 6.2.2"));
    assert!(ladder(OrdinaryResidence)[4].citation.contains("Lincs 6.2.3"));
}

fn pence(p: i64) -> Pence {
    Pence(p)
}

#[test]
fn the_body_found_responsible_repays_what_the_others_paid() {
    // (paid by each, finding, repayments (from, to, pence) or an error code)
    type Case = (
        &'static [(&'static str, i64)],
        Finding,
        Result<&'static [(&'static str, &'static str, i64)], &'static str>,
    );
    let half = Share::HALF;
    let pct = |p: u32| Share::percent(p).unwrap();
    let cases: Vec<Case> = vec![
        // Kent 1.5.8: the one found responsible pays back what the other paid.
        (
            &[("KENT", 1_200_000), ("LINCS", 0)],
            Finding::Responsible(org("LINCS")),
            Ok(&[("LINCS", "KENT", 1_200_000)]),
        ),
        (&[("KENT", 1_200_000), ("LINCS", 0)], Finding::Responsible(org("KENT")), Ok(&[])),
        (
            &[("KENT", 300_000), ("LINCS", 500_000)],
            Finding::Responsible(org("KENT")),
            Ok(&[("KENT", "LINCS", 500_000)]),
        ),
        // 50/50 interim, one found responsible: it repays the other's half.
        (
            &[("LINCS", 600_001), ("QJM", 600_000)],
            Finding::Responsible(org("QJM")),
            Ok(&[("QJM", "LINCS", 600_001)]),
        ),
        // A split resolved at 65/35 after the council paid everything.
        (
            &[("KENT", 1_000_000), ("QKS", 0)],
            Finding::Shared(vec![(org("KENT"), pct(65)), (org("QKS"), pct(35))]),
            Ok(&[("QKS", "KENT", 350_000)]),
        ),
        // Odd pennies: the council's part rounds half away, the last takes the rest.
        (
            &[("KENT", 3), ("QKS", 0)],
            Finding::Shared(vec![(org("KENT"), half), (org("QKS"), half)]),
            Ok(&[("QKS", "KENT", 1)]),
        ),
        (
            &[("KENT", 0), ("QKS", 3)],
            Finding::Shared(vec![(org("KENT"), half), (org("QKS"), half)]),
            Ok(&[("KENT", "QKS", 2)]),
        ),
        // Three bodies paid; one is responsible: it repays both.
        (
            &[("KENT", 100), ("LINCS", 200), ("BUCKS", 50)],
            Finding::Responsible(org("BUCKS")),
            Ok(&[("BUCKS", "KENT", 100), ("BUCKS", "LINCS", 200)]),
        ),
        // Nothing paid: nothing owed.
        (&[("KENT", 0), ("LINCS", 0)], Finding::Responsible(org("LINCS")), Ok(&[])),
        // Errors.
        (&[("KENT", 100), ("LINCS", 0)], Finding::Responsible(org("QKS")), Err("not_a_party")),
        (&[("KENT", -1), ("LINCS", 0)], Finding::Responsible(org("KENT")), Err("negative_amount")),
        (&[("KENT", 1), ("KENT", 2)], Finding::Responsible(org("KENT")), Err("duplicate")),
        (
            &[("KENT", 1), ("QKS", 2)],
            Finding::Shared(vec![(org("KENT"), pct(60)), (org("QKS"), pct(35))]),
            Err("shares_not_whole"),
        ),
        (&[("KENT", i64::MAX), ("QKS", 1)], Finding::Responsible(org("KENT")), Err("overflow")),
    ];
    for (n, (paid, finding, want)) in cases.iter().enumerate() {
        let paid: Vec<(OrgCode, Pence)> = paid.iter().map(|(o, p)| (org(o), pence(*p))).collect();
        let got = repayment(&paid, finding);
        match (want, got) {
            (Ok(rows), Ok(r)) => {
                let want: Vec<Repayment> = rows
                    .iter()
                    .map(|(f, t, p)| Repayment { from: org(f), to: org(t), amount: pence(*p) })
                    .collect();
                assert_eq!(r, want, "case {n}");
                // Afterwards each body has borne exactly its part, and the parts add up to what was paid.
                let total: i64 = paid.iter().map(|(_, p)| p.0).sum();
                let borne: i64 = paid
                    .iter()
                    .map(|(o, p)| {
                        p.0 + r.iter().filter(|x| &x.from == o).map(|x| x.amount.0).sum::<i64>()
                            - r.iter().filter(|x| &x.to == o).map(|x| x.amount.0).sum::<i64>()
                    })
                    .sum();
                assert_eq!(borne, total, "case {n}");
            }
            (Err(code), Err(e)) => assert_eq!(e.code(), *code, "case {n}: {e}"),
            (want, got) => panic!("case {n}: wanted {want:?}, got {got:?}"),
        }
    }
    assert!(matches!(
        repayment(&[(org("KENT"), pence(1))], &Finding::Shared(vec![(org("KENT"), Share::percent(60).unwrap())])),
        Err(DisputeError::SharesNotWhole(s)) if s == "60%"
    ));
}
