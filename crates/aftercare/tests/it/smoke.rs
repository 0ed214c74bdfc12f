//! A first end-to-end check that the harness works on both backends.

use crate::common::*;

#[tokio::test]
async fn import_login_search_and_view_on_every_backend() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        let report = import(&t.db, REGISTER_CSV).await;
        assert_eq!(report.people_added, 4, "{}", t.backend);
        let c = Client::login(state(&t.db), "admin").await;
        let list = c.get("/people?q=smith").await;
        assert!(list.body.contains("SMITH, Ann"), "{}: {}", t.backend, list.body);
        assert!(t.db.ping().await.is_ok());
    }
}

#[tokio::test]
async fn names_match_by_prefix_in_any_order_of_given_and_family() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        import(&t.db, REGISTER_CSV).await;
        let c = Client::api_login(state(&t.db), "admin").await;
        let count = |q: &'static str| {
            let c = &c;
            async move {
                c.get(&format!("/api/v1/people?q={q}")).await.json()["total"].as_i64().unwrap()
            }
        };
        for (q, want) in [
            ("smi", 1),
            ("SMITH", 1),
            ("ann", 1),
            ("ann%20smi", 1),
            ("mith", 0),
            ("943%20476%205919", 1),
            ("01/02/1980", 1),
            ("l2", 1),
            ("", 3),
        ] {
            assert_eq!(count(q).await, want, "{}: {q}", t.backend);
        }
    }
}
