//! Disputes through the pages, on both backends (SPEC 8): the interim funder
//! chosen by the partnership rule, parties of the wrong kind refused, the
//! escalation ladder, funding that cannot stop while a dispute is open, the
//! resolution with who repays whom, both parties' worklists with the
//! dispute's age, and every step in the person's history.

use crate::common::*;
use aftercare::db::{care as care_db, disputes as dispute_db, store};
use axum::http::StatusCode;

const KENT: &str = "E10000016";
const LINCS: &str = "E10000019";

type Fields<'a> = Vec<(&'a str, &'a str)>;

struct World {
    smith: i64,
    jones: i64,
    patel: i64,
}

async fn setup(t: &TestDb) -> World {
    seed_orgs(&t.db).await;
    add_user(&t.db, "kent", KENT, "commissioner").await;
    add_user(&t.db, "kent_qa", KENT, "qa_group").await;
    add_user(&t.db, "lincs", LINCS, "commissioner").await;
    add_user(&t.db, "lincs_icb", "QJM", "commissioner").await;
    add_user(&t.db, "bucks", "E06000060", "commissioner").await;
    add_user(&t.db, "kent_icb", "QKS", "commissioner").await;
    add_user(&t.db, "lead", KENT, "lead_professional").await;
    import(&t.db, REGISTER_CSV).await;
    let people = store::all_people(&t.db).await.unwrap();
    let id = |name: &str| people.iter().find(|p| p.family_name == name).unwrap().id;
    World { smith: id("Smith"), jones: id("Jones"), patel: id("Patel") }
}

/// An ordinary-residence dispute between Kent and Lincolnshire, opened on 2 November 2026.
fn or_dispute<'a>(funding_now: &'a str, lives_in: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("subject", "ordinary_residence"),
        ("party_a", KENT),
        ("party_b", LINCS),
        ("opened_on", "2026-11-02"),
        ("funding_now", funding_now),
        ("lives_in", lives_in),
        ("note", "Kent says the person was ordinarily resident in Lincolnshire before detention"),
    ]
}

async fn open_or(c: &Client, person: i64) -> i64 {
    let r = c.post_form(&format!("/people/{person}/disputes"), &or_dispute("party_a", "")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.location();
    loc.rsplit("dispute-").next().unwrap().parse().unwrap_or_else(|_| panic!("{loc}"))
}

/// The body named confirms the dispute concerns it (until then it sees no identifiers).
async fn confirm(c: &Client, dispute: i64) {
    let r = c.post_form(&format!("/disputes/{dispute}/confirm"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

/// The other party agrees to the resolution proposed, as it stands.
async fn agree(c: &Client, person: i64, dispute: &str) {
    let r = c
        .post_form(
            &format!("/people/{person}/disputes/resolve"),
            &[("dispute", dispute), ("agree", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn an_ordinary_residence_dispute_is_funded_meanwhile_by_the_partnership_rule() {
    for t in backends().await {
        let w = setup(&t).await;
        let kent = Client::login(state(&t.db), "kent").await;
        // Kent already meets Smith's needs: it goes on funding them, without prejudice.
        let id = open_or(&kent, w.smith).await;
        let page = kent.get(&format!("/people/{}/disputes", w.smith)).await;
        assert_eq!(page.status, StatusCode::OK);
        let body = page.body;
        assert!(body.contains(&format!("id=\"dispute-{id}\"")), "{body}");
        assert!(
            body.contains("Ordinary residence (council against council)"),
            "{}: {body}",
            t.backend
        );
        assert!(
            body.contains(
                "Kent County Council (E10000016) and Lincolnshire County Council (E10000019)"
            ),
            "{body}"
        );
        assert!(body.contains("Kent County Council (E10000016) pays 100%"), "{body}");
        assert!(body.contains("Rule DISPUTE-INTERIM-EXISTING-FUNDER"), "{body}");
        assert!(body.contains("Kent 13.1"), "{body}");
        assert!(
            body.contains("1. Operational level") && body.contains("2 November 2026"),
            "{body}"
        );
        assert!(body.contains("Next step: Service manager"), "{body}");

        // Nobody funds Jones: the council where Jones lives meets the needs.
        let r = kent
            .post_form(&format!("/people/{}/disputes", w.jones), &or_dispute("neither", LINCS))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let body = kent.get(&format!("/people/{}/disputes", w.jones)).await.body;
        assert!(body.contains("Lincolnshire County Council (E10000019) pays 100%"), "{body}");
        assert!(body.contains("Rule DISPUTE-INTERIM-COUNCIL-WHERE-LIVING"), "{body}");

        // A split between Lincolnshire's council and ICB, neither funding, under a
        // Lincolnshire agreement: 50/50.
        exec_sql(
            &t.db,
            "INSERT INTO funding_agreements (council_code, nhs_code, policy, effective_from, recorded_at, recorded_by)
             VALUES ('E10000019', 'QJM', 'lincolnshire-2022', '2022-04-01', '2026-11-25 09:00:00+00:00', 'test')",
        )
        .await;
        let lincs = Client::login(state(&t.db), "lincs").await;
        let r = lincs
            .post_form(
                &format!("/people/{}/disputes", w.patel),
                &[
                    ("subject", "funding_split"),
                    ("party_a", LINCS),
                    ("party_b", "QJM"),
                    ("funding_now", "neither"),
                    ("note", "the package has just been agreed; no split yet"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let body = lincs.get(&format!("/people/{}/disputes", w.patel)).await.body;
        assert!(
            body.contains("Lincolnshire County Council (E10000019) pays 50%")
                && body.contains("NHS Lincolnshire ICB (QJM) pays 50%"),
            "{body}"
        );
        assert!(
            body.contains("Rule DISPUTE-INTERIM-LINCS-50-50") && body.contains("Lincs 6.2.1"),
            "{body}"
        );
        let stored = dispute_db::disputes_for_person(&t.db, w.patel).await.unwrap();
        assert_eq!(stored[0].partnership_rule, "lincolnshire");
        assert_eq!(stored[0].opened_on, today());
    }
}

#[tokio::test]
async fn parties_of_the_wrong_kind_and_people_who_are_not_parties_are_refused() {
    for t in backends().await {
        let w = setup(&t).await;
        let kent = Client::login(state(&t.db), "kent").await;
        let path = format!("/people/{}/disputes", w.smith);
        // (user, fields, what the refusal says)
        let cases: Vec<(&str, Fields, &str)> = vec![
            (
                "kent",
                vec![("subject", "ordinary_residence"), ("party_a", KENT), ("party_b", "QKS")],
                "disputed between two councils",
            ),
            (
                "kent",
                vec![
                    ("subject", "responsible_commissioner"),
                    ("party_a", KENT),
                    ("party_b", "QJM"),
                ],
                "two NHS commissioners",
            ),
            (
                "kent",
                vec![("subject", "funding_split"), ("party_a", KENT), ("party_b", LINCS)],
                "a council and an NHS commissioner",
            ),
            (
                "kent",
                vec![("subject", "ordinary_residence"), ("party_a", KENT), ("party_b", KENT)],
                "cannot be in dispute with itself",
            ),
            (
                "kent",
                vec![("subject", "ordinary_residence"), ("party_a", KENT), ("party_b", "NOWHERE")],
                "no organisation with code NOWHERE",
            ),
            (
                "kent",
                vec![("subject", "wages"), ("party_a", KENT), ("party_b", LINCS)],
                "not a subject of dispute",
            ),
            (
                "kent",
                vec![("subject", ""), ("party_a", KENT), ("party_b", LINCS)],
                "Choose what the dispute is about",
            ),
            (
                "kent_icb",
                vec![("subject", "ordinary_residence"), ("party_a", KENT), ("party_b", LINCS)],
                "is not one of the parties",
            ),
            (
                "lead",
                vec![("subject", "ordinary_residence"), ("party_a", KENT), ("party_b", LINCS)],
                "only commissioners and the QA group",
            ),
            (
                "kent",
                vec![
                    ("subject", "ordinary_residence"),
                    ("party_a", KENT),
                    ("party_b", LINCS),
                    ("funding_now", "neither"),
                    ("lives_in", "QKS"),
                ],
                "QKS is not a council",
            ),
            (
                "kent",
                vec![
                    ("subject", "ordinary_residence"),
                    ("party_a", KENT),
                    ("party_b", LINCS),
                    ("funding_now", ""),
                ],
                "say who is meeting the person",
            ),
        ];
        for (user, mut fields, want) in cases {
            if !fields.iter().any(|(k, _)| *k == "funding_now") {
                fields.push(("funding_now", "party_a"));
            }
            fields.push(("note", "test"));
            let c =
                if user == "kent" { None } else { Some(Client::login(state(&t.db), user).await) };
            let r = c.as_ref().unwrap_or(&kent).post_form(&path, &fields).await;
            // Who may act is a permission (403); the rest are the fields (422).
            let status = if want.starts_with("only commissioners") {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            assert_eq!(r.status, status, "{}: {fields:?}: {}", t.backend, r.body);
            assert!(r.body.contains(want), "{}: wanted `{want}`: {}", t.backend, r.body);
        }
        // Every dispute form needs the session's CSRF token.
        for form in ["", "/escalate", "/resolve"] {
            let mut fields = or_dispute("party_a", "");
            fields.push((
                "csrf_token",
                "0000000000000000000000000000000000000000000000000000000000000000",
            ));
            let r = kent.post_form(&format!("{path}{form}"), &fields).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {form}", t.backend);
            assert!(r.body.contains("csrf_failed"), "{}", r.body);
        }
        // Without a note saying why, nothing is opened either.
        let r = kent.post_form(&path, &or_dispute("party_a", "")[..6]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("say what is disputed and why"), "{}", r.body);
        assert!(
            dispute_db::disputes_for_person(&t.db, w.smith).await.unwrap().is_empty(),
            "{}",
            t.backend
        );
        // The same dispute cannot be opened twice while it is open.
        open_or(&kent, w.smith).await;
        let r = kent.post_form(&path, &or_dispute("party_a", "")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("already open"), "{}", r.body);
    }
}

#[tokio::test]
async fn a_dispute_climbs_its_ladder_and_funding_cannot_stop_while_it_is_open() {
    for t in backends().await {
        let w = setup(&t).await;
        let lead = Client::login(state(&t.db), "lead").await;
        let need = [
            ("plan_version", "0"),
            ("aspect", "accommodation"),
            ("description", "supported living"),
            ("s117", "yes"),
            ("s117_reason", "the two-stage test"),
            ("provider", "Harbour Care"),
            ("weekly_cost", "1499.99"),
            ("start", "2023-04-20"),
            ("funder", "council"),
        ];
        let r = lead.post_form(&format!("/people/{}/plan/needs", w.smith), &need).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let kent = Client::login(state(&t.db), "kent").await;
        let lincs = Client::login(state(&t.db), "lincs").await;
        let id = open_or(&kent, w.smith).await;
        let did = id.to_string();
        let esc = format!("/people/{}/disputes/escalate", w.smith);
        // Lincolnshire has no part in Smith's care: named by the dispute, it
        // sees the person only once it confirms the dispute concerns it.
        assert_eq!(
            lincs.get(&format!("/people/{}/disputes", w.smith)).await.status,
            StatusCode::SEE_OTHER
        );
        confirm(&lincs, id).await;
        assert_eq!(
            lincs.get(&format!("/people/{}/disputes", w.smith)).await.status,
            StatusCode::OK
        );
        assert_eq!(lincs.get(&format!("{esc}?dispute={id}")).await.status, StatusCode::OK);
        let r = kent
            .post_form(
                &esc,
                &[
                    ("dispute", &did),
                    ("on", "2026-11-10"),
                    ("note", "no agreement at operational level"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);
        let r = lincs
            .post_form(
                &esc,
                &[
                    ("dispute", &did),
                    ("on", "2026-11-17"),
                    ("note", "service managers could not agree"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        // A step needs its reason, cannot go back in time, and only the parties take it.
        let r = kent.post_form(&esc, &[("dispute", &did), ("on", "2026-11-18")]).await;
        assert!(
            r.status == StatusCode::UNPROCESSABLE_ENTITY
                && r.body.contains("say why it is escalated"),
            "{}",
            r.body
        );
        let r =
            kent.post_form(&esc, &[("dispute", &did), ("on", "2026-11-01"), ("note", "x")]).await;
        assert!(
            r.status == StatusCode::UNPROCESSABLE_ENTITY
                && r.body.contains("cannot start before the last one"),
            "{}",
            r.body
        );
        let kent_icb = Client::login(state(&t.db), "kent_icb").await;
        let r = kent_icb.post_form(&esc, &[("dispute", &did), ("note", "x")]).await;
        assert!(
            r.status == StatusCode::FORBIDDEN
                && r.body.contains("only commissioners and the QA group of E10000016 or E10000019"),
            "{}",
            r.body
        );
        // Someone with no part in the person and no party to the dispute must first record a reason.
        let bucks = Client::login(state(&t.db), "bucks").await;
        let r = bucks.post_form(&esc, &[("dispute", &did), ("note", "x")]).await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, format!("/people/{}/access", w.smith))
        );
        let steps = dispute_db::steps_for_person(&t.db, w.smith).await.unwrap();
        let names: Vec<(&str, String)> =
            steps.iter().map(|s| (s.step.as_str(), s.started_on.to_string())).collect();
        assert_eq!(
            names,
            [
                ("Operational level", "2026-11-02".to_string()),
                ("Service manager", "2026-11-10".into()),
                ("Assistant director", "2026-11-17".into())
            ],
            "{}",
            t.backend
        );
        let body = kent.get(&format!("/people/{}/disputes", w.smith)).await.body;
        assert!(
            body.contains("2. Service manager")
                && body.contains("10 November 2026")
                && body.contains("no agreement at operational level"),
            "{body}"
        );
        assert!(
            body.contains("3. Assistant director")
                && body.contains("17 November 2026")
                && body.contains("lincs (E10000019)"),
            "{body}"
        );
        assert!(body.contains("Next step: Director"), "{body}");

        // Ending the need would stop funding: refused while the dispute is open.
        let end = format!("/people/{}/plan/end", w.smith);
        let r = lead
            .post_form(
                &end,
                &[("plan_version", "1"), ("index", "0"), ("on", "2026-11-20"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {}", t.backend, r.body);
        assert!(
            r.body.contains("existing funding stays in place until it is resolved"),
            "{}",
            r.body
        );
        assert_eq!(care_db::current_plan(&t.db, w.smith).await.unwrap().unwrap().version, 1);

        // Once resolved, it can end.
        let r = kent
            .post_form(
                &format!("/people/{}/disputes/resolve", w.smith),
                &[
                    ("dispute", &did),
                    ("found_responsible", KENT),
                    ("resolution", "agreed Kent is responsible"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        // Proposed by Kent, it is not resolved until Lincolnshire agrees.
        let r = lead
            .post_form(
                &end,
                &[("plan_version", "1"), ("index", "0"), ("on", "2026-11-20"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        agree(&lincs, w.smith, &did).await;
        let r = lead
            .post_form(
                &end,
                &[("plan_version", "1"), ("index", "0"), ("on", "2026-11-20"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        // A resolved dispute goes no further.
        let r = kent.post_form(&esc, &[("dispute", &did), ("note", "x")]).await;
        assert!(
            r.status == StatusCode::UNPROCESSABLE_ENTITY && r.body.contains("already resolved"),
            "{}",
            r.body
        );
    }
}

#[tokio::test]
async fn resolving_a_dispute_shows_who_repays_whom() {
    for t in backends().await {
        let w = setup(&t).await;
        let kent = Client::login(state(&t.db), "kent").await;
        let lincs = Client::login(state(&t.db), "lincs").await;
        let opened = open_or(&kent, w.smith).await;
        confirm(&lincs, opened).await;
        let id = opened.to_string();
        let path = format!("/people/{}/disputes/resolve", w.smith);
        assert!(
            kent.get(&format!("{path}?dispute={id}"))
                .await
                .body
                .contains("E10000019 is responsible for the whole cost")
        );
        // The reason and a real finding are required.
        let r = lincs
            .post_form(
                &path,
                &[("dispute", &id), ("found_responsible", "QKS"), ("paid_a", "12000")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.body.contains("choose who was found responsible")
                && r.body.contains("say how the dispute was resolved"),
            "{}",
            r.body
        );
        let r = lincs
            .post_form(
                &path,
                &[
                    ("dispute", &id),
                    ("resolved_on", "2026-11-24"),
                    ("found_responsible", LINCS),
                    ("paid_a", "12,000"),
                    ("paid_b", "0"),
                    ("resolution", "Agreed at director level: ordinarily resident in Lincolnshire before detention"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", t.backend, r.body);
        // Lincolnshire proposed it; Kent sees the proposal and agrees to it.
        let body = kent.get(&format!("/people/{}/disputes", w.smith)).await.body;
        assert!(
            body.contains("Waiting for Kent County Council (E10000016) to agree")
                && body.contains("Agree to this resolution"),
            "{body}"
        );
        agree(&kent, w.smith, &id).await;
        let body = kent.get(&format!("/people/{}/disputes", w.smith)).await.body;
        assert!(body.contains("Lincolnshire County Council (E10000019) repays Kent County Council (E10000016) £12,000.00"), "{}: {body}", t.backend);
        assert!(
            body.contains("Lincolnshire County Council (E10000019) found responsible")
                && body.contains("24 November 2026"),
            "{body}"
        );
        assert!(
            body.contains("Kent County Council (E10000016) paid £12,000.00 meanwhile"),
            "{body}"
        );
        let d = &dispute_db::disputes_for_person(&t.db, w.smith).await.unwrap()[0];
        assert_eq!(
            (d.status.as_str(), d.found_responsible.as_deref(), d.resolved_by.as_deref()),
            ("resolved", Some(LINCS), Some("kent"))
        );
        let s = aftercare::services::disputes::settlement_of(d).unwrap().unwrap();
        assert_eq!(s.repayments.len(), 1);
        assert_eq!(
            (s.repayments[0].from.as_str(), s.repayments[0].to.as_str(), s.repayments[0].amount.0),
            (LINCS, KENT, 1_200_000)
        );
        // Resolving twice is refused.
        let r = kent
            .post_form(
                &path,
                &[("dispute", &id), ("found_responsible", KENT), ("resolution", "again")],
            )
            .await;
        assert!(
            r.status == StatusCode::UNPROCESSABLE_ENTITY && r.body.contains("already resolved"),
            "{}",
            r.body
        );

        // A split found shared: 65% to the council after it paid everything.
        let patel = w.patel.to_string();
        let lincs_icb = Client::login(state(&t.db), "lincs_icb").await;
        let r = lincs_icb
            .post_form(
                &format!("/people/{patel}/disputes"),
                &[
                    ("subject", "funding_split"),
                    ("party_a", LINCS),
                    ("party_b", "QJM"),
                    ("funding_now", "party_a"),
                    ("partnership_rule", "kent"),
                    ("note", "split"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let did = dispute_db::disputes_for_person(&t.db, w.patel).await.unwrap()[0].id.to_string();
        let r = lincs_icb
            .post_form(
                &format!("/people/{patel}/disputes/resolve"),
                &[
                    ("dispute", &did),
                    ("found_responsible", "shared"),
                    ("share_a", "65"),
                    ("paid_a", "1000"),
                    ("paid_b", "0"),
                    ("resolution", "split agreed 65/35 at panel"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        agree(&lincs, w.patel, &did).await;
        let body = lincs_icb.get(&format!("/people/{patel}/disputes")).await.body;
        assert!(
            body.contains(
                "NHS Lincolnshire ICB (QJM) repays Lincolnshire County Council (E10000019) £350.00"
            ),
            "{body}"
        );
    }
}

#[tokio::test]
async fn both_parties_see_an_open_dispute_on_their_worklists_with_its_age() {
    for t in backends().await {
        let w = setup(&t).await;
        let kent = Client::login(state(&t.db), "kent").await;
        let lincs = Client::login(state(&t.db), "lincs").await;
        let bucks = Client::login(state(&t.db), "bucks").await;
        let id = open_or(&kent, w.smith).await;
        // Named by the dispute, Lincolnshire sees it without the person's
        // name or NHS number until it confirms the dispute concerns it.
        let page = lincs.get("/worklists").await.body;
        let section = &page[page.find("id=\"disputes\"").unwrap()..];
        assert!(
            !section.contains("Ann Smith")
                && section.contains("Not shown until you confirm")
                && section.contains(&format!("href=\"/disputes/{id}\"")),
            "{}: {section}",
            t.backend
        );
        let shown = lincs.get(&format!("/disputes/{id}")).await;
        assert!(
            shown.status == StatusCode::OK
                && !shown.body.contains("Smith")
                && !shown.body.contains("943 476 5919"),
            "{}",
            shown.body
        );
        // Nobody else learns it exists.
        assert_eq!(bucks.get(&format!("/disputes/{id}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(kent.get(&format!("/disputes/{id}")).await.status, StatusCode::NOT_FOUND);
        confirm(&lincs, id).await;
        for c in [&kent, &lincs] {
            let page = c.get("/worklists").await;
            assert_eq!(page.status, StatusCode::OK);
            let section =
                &page.body[page.body.find("id=\"disputes\"").expect("an Open disputes section")..];
            // Opened 2 November 2026; today is 25 November 2026.
            assert!(
                section.contains("Ann Smith") && section.contains("23 days"),
                "{}: {section}",
                t.backend
            );
            assert!(
                section.contains(&format!("/people/{}/disputes#dispute-{id}", w.smith)),
                "{section}"
            );
            assert!(section.contains("Operational level"), "{section}");
            assert!(page.body.contains("Open disputes (1)"), "{}", page.body);
        }
        let kent_section = kent.get("/worklists").await.body;
        assert!(
            kent_section[kent_section.find("id=\"disputes\"").unwrap()..].contains(LINCS),
            "the other party is named"
        );
        let none = bucks.get("/worklists").await.body;
        assert!(
            none.contains("Open disputes (0)")
                && !none[none.find("id=\"disputes\"").unwrap()..].contains("Ann Smith"),
            "{none}"
        );
        let listed =
            aftercare::services::disputes::open_for_org(&t.db, LINCS, today()).await.unwrap();
        assert_eq!(
            (listed.len(), listed[0].age_days, listed[0].other_party.as_str()),
            (1, 23, KENT)
        );
        // Resolved, it leaves the worklists.
        let r = kent
            .post_form(
                &format!("/people/{}/disputes/resolve", w.smith),
                &[
                    ("dispute", &id.to_string()),
                    ("found_responsible", KENT),
                    ("resolution", "agreed"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = lincs.get("/worklists").await.body;
        assert!(page.contains("Waiting for you to agree to the proposed resolution"), "{page}");
        agree(&lincs, w.smith, &id.to_string()).await;
        assert!(lincs.get("/worklists").await.body.contains("Open disputes (0)"));
    }
}

#[tokio::test]
async fn every_step_is_in_the_persons_history_with_who_which_organisation_and_why() {
    for t in backends().await {
        let w = setup(&t).await;
        let kent = Client::login(state(&t.db), "kent").await;
        let kent_qa = Client::login(state(&t.db), "kent_qa").await;
        let lincs = Client::login(state(&t.db), "lincs").await;
        let opened = open_or(&kent, w.smith).await;
        confirm(&lincs, opened).await;
        let id = opened.to_string();
        let r = kent_qa
            .post_form(
                &format!("/people/{}/disputes/escalate", w.smith),
                &[("dispute", &id), ("note", "QA group asks the service managers to meet")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let r = lincs
            .post_form(
                &format!("/people/{}/disputes/resolve", w.smith),
                &[
                    ("dispute", &id),
                    ("found_responsible", LINCS),
                    ("paid_a", "500"),
                    ("resolution", "Lincolnshire accepts"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        agree(&kent, w.smith, &id).await;
        let history = store::audit_for_person(&t.db, w.smith).await.unwrap();
        let find = |action: &str| {
            history
                .iter()
                .find(|h| h.action == action)
                .unwrap_or_else(|| panic!("{}: no {action}", t.backend))
        };
        let opened = find("dispute.opened");
        assert_eq!(
            (opened.actor.as_str(), opened.actor_org.as_deref(), opened.entity_id.as_deref()),
            ("kent", Some(KENT), Some(id.as_str()))
        );
        let why = opened.reason.as_deref().unwrap();
        assert!(
            why.contains("ordinarily resident in Lincolnshire")
                && why.contains("DISPUTE-INTERIM-EXISTING-FUNDER"),
            "{why}"
        );
        assert!(opened.details.contains("\"interim_rule\""), "{}", opened.details);
        let confirmed = find("dispute.confirmed");
        assert_eq!(
            (confirmed.actor.as_str(), confirmed.actor_org.as_deref()),
            ("lincs", Some(LINCS))
        );
        let proposed = find("dispute.resolution_proposed");
        assert_eq!(
            (proposed.actor.as_str(), proposed.actor_org.as_deref()),
            ("lincs", Some(LINCS))
        );
        let escalated = find("dispute.escalated");
        assert_eq!(
            (escalated.actor.as_str(), escalated.actor_org.as_deref()),
            ("kent_qa", Some(KENT))
        );
        assert!(
            escalated.reason.as_deref().unwrap().contains("to Service manager: QA group asks"),
            "{:?}",
            escalated.reason
        );
        let resolved = find("dispute.resolved");
        assert_eq!((resolved.actor.as_str(), resolved.actor_org.as_deref()), ("kent", Some(KENT)));
        let why = resolved.reason.as_deref().unwrap();
        assert!(
            why.contains("E10000019 repays E10000016 £500.00")
                && why.contains("Lincolnshire accepts"),
            "{why}"
        );
        // The person page shows them to anyone who may see the person.
        let lead = Client::login(state(&t.db), "lead").await;
        let page = lead.get(&format!("/people/{}", w.smith)).await.body;
        let history_section = &page[page.find("id=\"history\"").unwrap()..];
        for what in ["dispute opened", "dispute escalated", "dispute resolved"] {
            assert!(history_section.contains(what), "{}: {what}", t.backend);
        }
        assert!(
            page.contains(&format!("href=\"/people/{}/disputes\"", w.smith)),
            "the person page links to the disputes"
        );
        // The trail still chains.
        let all = store::all_audit(&t.db).await.unwrap();
        assert!(aftercare::db::verify_audit_chain(&t.db, &all).is_empty(), "{}", t.backend);
    }
}
