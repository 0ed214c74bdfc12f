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
    let r = c.get(&format!("/people?{q}")).await;
    assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
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
