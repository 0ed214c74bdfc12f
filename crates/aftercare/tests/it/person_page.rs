//! The person page (issue 14): "who is responsible now?" at the top in
//! plain English with the rules behind "Show why", the register list's tag
//! the same as the page's, deep links that survive signing in (to a path on
//! this site only), and change forms offered only to those who may use them.

use crate::common::*;
use aftercare::db::store;
use axum::http::{StatusCode, header};

/// Signs in through the log-in page opened at `login_path` (which may carry
/// `?next=`), posting `next` as the form does; returns the log-in page and
/// the answer to the post.
async fn sign_in_via(
    state: aftercare::web::AppState,
    login_path: &str,
    next: Option<&str>,
    username: &str,
) -> (Reply, Reply) {
    let mut c = Client::new(state);
    let page = c.get(login_path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    c.cookie = Some(
        page.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("; "),
    );
    let token = extract_csrf(&page.body);
    let mut pairs =
        vec![("csrf_token", token.as_str()), ("username", username), ("password", PASSWORD)];
    if let Some(n) = next {
        pairs.push(("next", n));
    }
    let reply = c.post_form("/login", &pairs).await;
    (page, reply)
}

async fn world(t: &TestDb) -> (aftercare::web::AppState, i64, i64) {
    seed_orgs(&t.db).await;
    add_user(&t.db, "mha", "RXY", "mha_administrator").await;
    import(&t.db, REGISTER_CSV).await;
    let people = store::all_people(&t.db).await.unwrap();
    let id = |name: &str| people.iter().find(|p| p.family_name == name).unwrap().id;
    (state(&t.db), id("Smith"), id("Jones"))
}

#[tokio::test]
async fn the_person_page_says_who_is_responsible_with_the_rules_behind_show_why() {
    for t in backends().await {
        let (state, smith, jones) = world(&t).await;
        let c = Client::login(state.clone(), "mha").await;
        let page = c.get(&format!("/people/{smith}")).await.body;
        let top = &page[page.find("id=\"standing\"").expect("the standing section")..];
        let why_at = top.find("<details").expect("a Show why disclosure");
        let (top, why) = top.split_at(why_at);
        for want in [
            "tag tag--green\">Entitled</strong>",
            "Entitled to after-care since 20 April 2023.",
            "Kent County Council and NHS Kent and Medway ICB are responsible, because the person lived in Kent County Council&#39;s area immediately before the detention under section 3 on 9 January 2023",
        ] {
            assert!(top.contains(want), "{}: the top says {want:?}: {top}", t.backend);
        }
        assert!(!top.contains("LA-OR-BEFORE-DETENTION"), "rule ids wait behind Show why");
        assert!(why.contains("Show why"), "{why}");
        for want in ["LA-OR-BEFORE-DETENTION", "NHS-ICB-REGS-2022", "s117(3)", "href=\"#history\""]
        {
            assert!(why.contains(want), "{}: Show why holds {want}", t.backend);
        }
        // Organisations by name, the code as secondary text.
        assert!(page.contains(
            "<strong>Kent County Council</strong> <span class=\"org-code\">E10000016</span>"
        ));

        // Jones was detained again and is in hospital: the list and the page agree.
        let jones_page = c.get(&format!("/people/{jones}")).await.body;
        assert!(jones_page.contains("tag tag--blue\">In hospital</strong>"), "{}", t.backend);
        assert!(
            jones_page.contains("In hospital, detained under section 3 since 10 January 2025.")
        );
        assert!(jones_page.contains("would be responsible if they left hospital today"));
        assert!(jones_page.contains("Plan the after-care now"));
        let list = c.get("/people").await.body;
        let row = |id: i64| {
            let at = list.find(&format!("href=\"/people/{id}\"")).unwrap();
            list[at..at + list[at..].find("</tr>").unwrap()].to_string()
        };
        assert!(row(smith).contains(">Entitled</span>"), "{}", row(smith));
        assert!(row(jones).contains(">In hospital</span>"), "{}", row(jones));
        assert!(row(smith).contains("<span class=\"org-code\">QKS</span>"), "{}", row(smith));
    }
}

#[tokio::test]
async fn a_deep_link_survives_signing_in_and_only_to_a_path_on_this_site() {
    let t = sqlite().await;
    let (state, smith, _) = world(&t).await;
    let plan = format!("/people/{smith}/plan");
    let anonymous = Client::new(state.clone());
    let r = anonymous.get(&plan).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), format!("/login?next=%2Fpeople%2F{smith}%2Fplan"));
    // A query is kept too; the API answers 401, never a redirect.
    let r = anonymous.get("/people?q=smith&page=1").await;
    assert_eq!(r.location(), "/login?next=%2Fpeople%3Fq%3Dsmith%26page%3D1");
    assert_eq!(anonymous.get("/api/v1/people").await.status, StatusCode::UNAUTHORIZED);

    // The log-in page carries it in a hidden field, and signing in lands there.
    let (page, reply) = sign_in_via(state.clone(), &r.location(), None, "mha").await;
    assert!(
        page.body.contains("name=\"next\" value=\"/people?q=smith&#38;page=1\""),
        "{}",
        page.body
    );
    let (page, reply2) = sign_in_via(
        state.clone(),
        &format!("/login?next=%2Fpeople%2F{smith}%2Fplan"),
        Some(&plan),
        "mha",
    )
    .await;
    assert!(page.body.contains(&format!("name=\"next\" value=\"{plan}\"")));
    assert_eq!(reply2.status, StatusCode::SEE_OTHER);
    assert_eq!(reply2.location(), plan);
    let _ = reply;

    // Anywhere else: the start page.
    for bad in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/people\r\nSet-Cookie: x=y",
        "evil.example",
        "javascript:alert(1)",
        "",
    ] {
        let (page, reply) = sign_in_via(
            state.clone(),
            &format!("/login?{}", serde_urlencoded::to_string([("next", bad)]).unwrap()),
            Some(bad),
            "mha",
        )
        .await;
        assert!(!page.body.contains("name=\"next\""), "{bad:?} is not carried: {}", page.body);
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{bad:?}");
        assert_eq!(reply.location(), "/", "{bad:?} lands on the start page");
    }
    // A failed sign-in keeps the way back.
    let mut c = Client::new(state.clone());
    let page = c.get(&format!("/login?next=%2Fpeople%2F{smith}%2Fplan")).await;
    c.cookie = Some(
        page.headers
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .into(),
    );
    let token = extract_csrf(&page.body);
    let wrong = c
        .post_form(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "mha"),
                ("password", "not the password"),
                ("next", &plan),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains(&format!("name=\"next\" value=\"{plan}\"")));
}

const ROLES: [&str; 7] = [
    "mha_administrator",
    "lead_professional",
    "commissioner",
    "finance",
    "qa_group",
    "auditor",
    "system_administrator",
];

/// A change the person page (or the navigation) may offer: the link or form
/// that offers it, and the submissions it leads to.
struct Offer {
    name: &'static str,
    /// Text in the page that offers it (`{id}` for the person).
    marker: &'static str,
    /// Each a form post; the offer is usable if any is not refused (403).
    posts: Vec<(&'static str, Vec<(&'static str, String)>)>,
}

fn offers(n: usize) -> Vec<Offer> {
    let start =
        chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(20 * n as u64);
    let detention = vec![
        ("section", "3".to_string()),
        ("detention_start", start.to_string()),
        ("ordinary_residence", "E10000016".into()),
        ("no_fixed_abode", "no".into()),
        ("gp_commissioner", "QKS".into()),
        ("residence_commissioner", "QKS".into()),
        ("place_of_detention", "RXY".into()),
        ("left_hospital", (start + chrono::Days::new(10)).to_string()),
        ("discharged_to", "E10000016".into()),
    ];
    let determination = |body: &str, org: &str| {
        vec![
            ("body", body.to_string()),
            ("detention_on", "2023-01-09".into()),
            ("org", org.to_string()),
            ("reason", "settled at the joint panel on 1 May 2024".into()),
        ]
    };
    vec![
        Offer {
            name: "record a fact",
            marker: "href=\"/people/{id}/facts/new\"",
            posts: vec![(
                "/people/{id}/facts",
                vec![
                    ("kind", "moved".into()),
                    ("on", "2024-01-01".into()),
                    ("to", "E10000016".into()),
                    ("note", "new tenancy".into()),
                ],
            )],
        },
        Offer {
            name: "record a determination",
            marker: "href=\"/people/{id}/determinations/new\"",
            posts: vec![
                ("/people/{id}/determinations", determination("council", "E10000016")),
                ("/people/{id}/determinations", determination("nhs", "QKS")),
            ],
        },
        Offer {
            name: "name the lead professional",
            marker: "href=\"/people/{id}/lead/new\"",
            posts: vec![(
                "/people/{id}/lead",
                vec![("name", "Sam Okoro".into()), ("team", "North CMHT".into())],
            )],
        },
        Offer {
            name: "transforming care",
            marker: "action=\"/people/{id}/transforming-care\"",
            posts: vec![(
                "/people/{id}/transforming-care",
                vec![("transforming_care", "yes".into())],
            )],
        },
        Offer {
            name: "record a review",
            marker: "href=\"/people/{id}/reviews/new\"",
            posts: vec![(
                "/people/{id}/reviews",
                vec![
                    ("held_on", "2023-05-30".into()),
                    ("attendees", "the person, care co-ordinator".into()),
                    ("person_views", "wants support to continue".into()),
                    ("still_needed", "yes".into()),
                ],
            )],
        },
        // Last: a new detention changes the person's periods.
        Offer {
            name: "add a detention",
            marker: "href=\"/people/{id}/detentions/new\"",
            posts: vec![("/people/{id}/detentions", detention)],
        },
    ]
}

#[tokio::test]
async fn each_role_is_offered_exactly_the_changes_it_may_make() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        // The trust, the council and the ICB all have a part in Smith.
        let orgs = ["RXY", "E10000016", "QKS"];
        for role in ROLES {
            for org in orgs {
                add_user(&t.db, &format!("{role}@{org}"), org, role).await;
            }
        }
        import(&t.db, REGISTER_CSV).await;
        let people = store::all_people(&t.db).await.unwrap();
        let smith = people.iter().find(|p| p.family_name == "Smith").unwrap().id;
        let state = state(&t.db);
        let mut failures = Vec::new();
        let mut n = 0;
        for org in orgs {
            for role in ROLES {
                let user = format!("{role}@{org}");
                let c = Client::login(state.clone(), &user).await;
                n += 1;
                let page = c.get(&format!("/people/{smith}")).await.body;
                // The navigation's one change: adding a person.
                let offered = page.contains("href=\"/people/new\"");
                let usable = c.get("/people/new").await.status != StatusCode::FORBIDDEN;
                if offered != usable {
                    failures
                        .push(format!("{user}: Add a person offered {offered}, usable {usable}"));
                }
                for offer in offers(n) {
                    let offered = page.contains(&offer.marker.replace("{id}", &smith.to_string()));
                    let mut usable = false;
                    for (path, body) in &offer.posts {
                        let pairs: Vec<(&str, &str)> =
                            body.iter().map(|(k, v)| (*k, v.as_str())).collect();
                        let r =
                            c.post_form(&path.replace("{id}", &smith.to_string()), &pairs).await;
                        assert_ne!(
                            r.status,
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "{user} {path}: {}",
                            r.body
                        );
                        usable |= r.status != StatusCode::FORBIDDEN;
                    }
                    if offered != usable {
                        failures.push(format!(
                            "{}/{user}: {} offered {offered}, usable {usable}",
                            t.backend, offer.name
                        ));
                    }
                }
                if role == "system_administrator"
                    && [
                        "facts/new",
                        "determinations/new",
                        "lead/new",
                        "reviews/new",
                        "detentions/new",
                    ]
                    .iter()
                    .any(|l| page.contains(&format!("/people/{smith}/{l}")))
                {
                    failures.push(format!(
                        "{user}: the system administrator is offered a register or care change"
                    ));
                }
            }
        }
        // Someone reading under a recorded reason is offered no change at all.
        add_user(&t.db, "mha@RP7", "RP7", "mha_administrator,lead_professional,commissioner").await;
        let c = Client::login(state.clone(), "mha@RP7").await;
        c.post_form(
            &format!("/people/{smith}/access"),
            &[("reason", "status enquiry from the ward")],
        )
        .await;
        let page = c.get(&format!("/people/{smith}")).await;
        assert_eq!(page.status, StatusCode::OK);
        for offer in offers(0) {
            assert!(
                !page.body.contains(&offer.marker.replace("{id}", &smith.to_string())),
                "{}: {} offered under a reason to look",
                t.backend,
                offer.name
            );
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
