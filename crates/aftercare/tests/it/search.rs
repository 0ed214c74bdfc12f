//! Finding people on the register (issue 15), on both backends: names
//! typed without their accents find them, dates as the pages show them,
//! an exact NHS number or local id opens the record, and names stored
//! before folding existed are folded once when the database is opened.

use crate::common::*;
use axum::http::StatusCode;

const ACCENTED_CSV: &str = "\
nhs_number,local_id,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,no_fixed_abode,gp_practice,gp_commissioner,residence_commissioner,place_of_detention,left_hospital,discharged_to,date_added
9434765919,L1,Wójcik,Zoë,01/02/1980,3,2023-01-09,E10000016,no,G81001,QKS,QKS,RXY,2023-04-20,E10000016,2023-01-10
9434765870,L2,Nguyễn,Thị Minh Khai,1975-06-30,3,2024-03-01,E10000016,no,G81002,QKS,QKS,RXY,2024-03-20,E10000016,2024-03-02
4010232137,KENT-77,Łęcki,Łukasz,1990-01-01,3,2024-03-01,E10000016,no,G81002,QKS,QKS,RXY,2024-03-20,E10000016,2024-03-02
";

/// The names the people list shows for a search.
async fn found(c: &Client, q: &str) -> Vec<String> {
    let q: String = serde_urlencoded::to_string([("q", q)]).unwrap();
    listed(c, &format!("/people?{q}")).await
}

#[tokio::test]
async fn names_without_accents_dates_as_shown_and_exact_ids() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "lead", "E10000016", "lead_professional").await;
        import(&t.db, ACCENTED_CSV).await;
        let lead = Client::login(state(&t.db), "lead").await;
        for (q, who) in [
            ("wojcik", "WÓJCIK, Zoë"),
            ("Zoe", "WÓJCIK, Zoë"),
            ("zoe wojc", "WÓJCIK, Zoë"),
            ("NGUYEN", "NGUYỄN, Thị Minh Khai"),
            ("thi minh", "NGUYỄN, Thị Minh Khai"),
            ("lecki", "ŁĘCKI, Łukasz"),
            ("Wójcik", "WÓJCIK, Zoë"),
            ("1 February 1980", "WÓJCIK, Zoë"),
            ("1 feb 1980", "WÓJCIK, Zoë"),
            ("30 June 1975", "NGUYỄN, Thị Minh Khai"),
        ] {
            assert_eq!(found(&lead, q).await, [who], "{}: {q}", t.backend);
        }
        // An exact NHS number (as typed or shown) or local id opens the record.
        let id = aftercare::db::store::person_by_nhs_number(&t.db, "9434765919")
            .await
            .unwrap()
            .unwrap()
            .id;
        for q in ["9434765919", "943%20476%205919"] {
            let r = lead.get(&format!("/people?q={q}")).await;
            assert_eq!(
                (r.status, r.location()),
                (StatusCode::SEE_OTHER, format!("/people/{id}")),
                "{}: {q}",
                t.backend
            );
        }
        let r = lead.get("/people?q=kent-77").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "a local id in any case");
        // A name that matches one person is still a list: the user chooses.
        assert_eq!(lead.get("/people?q=lecki").await.status, StatusCode::OK);

        // Names stored before folding are folded when the database is opened.
        exec_sql(
            &t.db,
            "UPDATE people SET family_lower = LOWER(family_name), given_lower = LOWER(given_name)",
        )
        .await;
        exec_sql(&t.db, "DELETE FROM name_folding").await;
        let again = aftercare::db::Db::connect(&t.url).await.unwrap();
        let lead = Client::login(state(&again), "lead").await;
        assert_eq!(found(&lead, "wojcik").await, ["WÓJCIK, Zoë"], "{}", t.backend);
    }
}

/// The names the people list shows at `path`, in order.
async fn listed(c: &Client, path: &str) -> Vec<String> {
    let r = c.get(path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r.body
        .split("<a href=\"/people/")
        .skip(1)
        .filter_map(|s| {
            s.split_once('>').map(|(_, rest)| rest.split('<').next().unwrap().to_string())
        })
        .filter(|n| n.contains(','))
        .collect()
}

#[tokio::test]
async fn the_register_filtered_and_sorted() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "lead", "E10000016", "lead_professional").await;
        import(&t.db, REGISTER_CSV).await;
        let c = Client::login(state(&t.db), "lead").await;
        let everyone = listed(&c, "/people").await;
        assert!(everyone.len() >= 2, "{everyone:?}");
        let mut sorted = everyone.clone();
        sorted.sort();
        assert_eq!(everyone, sorted, "by name unless asked otherwise");

        let entitled = listed(&c, "/people?status=entitled").await;
        assert!(entitled.contains(&"SMITH, Ann".to_string()), "{}: {entitled:?}", t.backend);
        assert!(!entitled.contains(&"JONES, Bob".to_string()), "in hospital");
        let waiting = listed(&c, "/people?status=not_entitled_now").await;
        assert!(waiting.contains(&"JONES, Bob".to_string()), "{}: {waiting:?}", t.backend);
        assert!(
            listed(&c, "/people?council=E10000016&nhs=QKS").await.contains(&"SMITH, Ann".into())
        );
        assert!(listed(&c, "/people?council=E06000060").await.is_empty(), "another council");
        // A value the page does not offer is no filter at all.
        assert_eq!(listed(&c, "/people?status=bogus&sort=bogus").await, everyone);

        let smith = aftercare::db::store::person_by_nhs_number(&t.db, "9434765919")
            .await
            .unwrap()
            .unwrap()
            .id;
        let r = c
            .post_form(
                &format!("/people/{smith}/lead"),
                &[("name", "Sam Okoro"), ("team", "North CMHT")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(listed(&c, "/people?team=North+CMHT").await, ["SMITH, Ann"], "{}", t.backend);
        assert_eq!(listed(&c, "/people?lead=Sam+Okoro").await, ["SMITH, Ann"]);
        let page = c.get("/people").await.body;
        assert!(page.contains("<option value=\"North CMHT\">North CMHT</option>"), "offered");

        // Oldest first: Jones (1975) before Smith (1980).
        let by_age = listed(&c, "/people?sort=date_of_birth").await;
        let (jones, smith) = (
            by_age.iter().position(|n| n == "JONES, Bob").unwrap(),
            by_age.iter().position(|n| n == "SMITH, Ann").unwrap(),
        );
        assert!(jones < smith, "{}: {by_age:?}", t.backend);
        // A new search keeps the filters chosen.
        assert!(
            c.get("/people?status=entitled&sort=newest")
                .await
                .body
                .contains("<input type=\"hidden\" name=\"status\" value=\"entitled\">"),
            "a new search keeps the filters"
        );
    }
}
