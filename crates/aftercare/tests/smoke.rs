//! A first end-to-end check that the harness works on both backends.

mod common;
use common::*;

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
