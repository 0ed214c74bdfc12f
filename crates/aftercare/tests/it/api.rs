//! The JSON API under `/api/v1`, on every backend: bearer sessions, search,
//! a person with the rules' derivation, adding people and detentions with
//! field errors that carry stable codes, CSRF for cookie sessions, JSON
//! errors for unknown routes, the OpenAPI document and Swagger UI.

use crate::common::*;
use aftercare::db::store;
use axum::http::{StatusCode, header};
use serde_json::{Value, json};

/// A signed-in API client on a register holding the common master list.
/// The user is an MHA administrator of the Kent trust (RXY).
async fn setup(t: &TestDb) -> Client {
    seed_orgs(&t.db).await;
    add_user(&t.db, "admin", "RXY", "mha_administrator").await;
    import(&t.db, REGISTER_CSV).await;
    Client::api_login(state(&t.db), "admin").await
}

async fn id_of(t: &TestDb, family_name: &str) -> i64 {
    store::all_people(&t.db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.family_name == family_name)
        .unwrap()
        .id
}

fn new_person(nhs_number: &str, local_id: &str) -> Value {
    json!({
        "person": {"nhs_number": nhs_number, "local_id": local_id, "family_name": "Nowak", "given_name": "Tomasz", "date_of_birth": "1970-07-07"},
        "detention": {"section": "3", "detention_start": "2024-05-01", "ordinary_residence": "E10000016", "no_fixed_abode": "no",
                      "gp_practice": "G81009", "gp_commissioner": "QKS", "residence_commissioner": "QKS", "place_of_detention": "RXY",
                      "left_hospital": "2024-07-01", "discharged_to": "E10000016", "evidence": "AMHP application A6, medical recommendations A7"}
    })
}

fn fields(r: &Reply) -> Vec<String> {
    r.json()["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn signing_in_gives_a_bearer_token_and_a_wrong_password_a_json_401() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        let c = Client::new(state(&t.db));
        let ok = c
            .post_json("/api/v1/session", &json!({"username": "admin", "password": PASSWORD}))
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{}: {}", t.backend, ok.body);
        let token = ok.json()["token"].as_str().unwrap().to_string();
        assert_eq!(token.len(), 64, "{}", t.backend);
        assert_eq!(ok.json()["expires_in_seconds"], 8 * 3600, "{}", t.backend);
        let wrong = c
            .post_json("/api/v1/session", &json!({"username": "admin", "password": "not it"}))
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", t.backend);
        assert_eq!(wrong.json()["error"]["code"], "not_signed_in", "{}", t.backend);
        // Without a token the API answers in JSON, never with the log-in page.
        let anonymous = c.get("/api/v1/people").await;
        assert_eq!(
            (anonymous.status, anonymous.json()["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("not_signed_in")),
            "{}",
            t.backend
        );
        let mut with_token = Client::new(state(&t.db));
        with_token.bearer = Some(token);
        assert_eq!(with_token.get("/api/v1/people").await.status, StatusCode::OK, "{}", t.backend);
    }
}

#[tokio::test]
async fn searching_people_by_name_nhs_number_date_of_birth_or_local_id() {
    // (query, family names expected, in order). Patel is Lincolnshire's, outside the Kent trust's scope.
    let cases: [(&str, &[&str]); 8] = [
        ("", &["Jones", "Okafor", "Smith"]),
        ("smith", &["Smith"]),
        ("SMI", &["Smith"]),
        ("ann smith", &["Smith"]),
        ("943 476 5919", &["Smith"]),
        ("943-476-5870", &["Jones"]),
        ("30/06/1975", &["Jones"]),
        ("l4", &["Okafor"]),
    ];
    for t in backends().await {
        let c = setup(&t).await;
        for (q, expected) in cases {
            let r = c
                .get(&format!("/api/v1/people?q={}", q.replace(' ', "%20").replace('/', "%2F")))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}: {q}: {}", t.backend, r.body);
            let body = r.json();
            let names: Vec<&str> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["family_name"].as_str().unwrap())
                .collect();
            assert_eq!(names, expected, "{}: q={q:?}", t.backend);
            assert_eq!(body["total"], expected.len(), "{}: q={q:?}", t.backend);
        }
        let r = c.get("/api/v1/people?q=patel").await;
        assert_eq!(
            r.json()["total"],
            0,
            "{}: people outside the organisation's part are not listed",
            t.backend
        );
        let smith = &c.get("/api/v1/people?q=smith").await.json()["items"][0];
        assert_eq!(
            (
                smith["entitled"].as_bool(),
                smith["responsible_council"].as_str(),
                smith["responsible_nhs_commissioner"].as_str()
            ),
            (Some(true), Some("E10000016"), Some("QKS")),
            "{}",
            t.backend
        );
    }
}

#[tokio::test]
async fn a_person_comes_with_detentions_derivation_and_rule_ids() {
    for t in backends().await {
        let c = setup(&t).await;
        let smith = id_of(&t, "Smith").await;
        let r = c.get(&format!("/api/v1/people/{smith}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.backend, r.body);
        let v = r.json();
        assert_eq!(v["person"]["nhs_number"], "9434765919", "{}", t.backend);
        assert_eq!(v["detentions"].as_array().unwrap().len(), 1, "{}", t.backend);
        assert_eq!(
            (v["detentions"][0]["section"].as_str(), v["detentions"][0]["qualifying"].as_bool()),
            (Some("3"), Some(true)),
            "{}",
            t.backend
        );
        let d = &v["derivation"];
        assert_eq!(d["eligible"], true, "{}", t.backend);
        let e = &d["entitlements"][0];
        assert_eq!(e["start"], "2023-04-20", "{}", t.backend);
        assert_eq!(
            (e["council"]["org"].as_str(), e["council"]["rule"]["id"].as_str()),
            (Some("E10000016"), Some("LA-OR-BEFORE-DETENTION")),
            "{}: {e}",
            t.backend
        );
        assert_eq!(
            (e["nhs"]["org"].as_str(), e["nhs"]["rule"]["id"].as_str()),
            (Some("QKS"), Some("NHS-ICB-REGS-2022")),
            "{}: {e}",
            t.backend
        );
        assert!(
            e["council"]["rule"]["citation"].as_str().is_some_and(|c| !c.is_empty()),
            "{}: every rule names its source",
            t.backend
        );
        assert!(
            e["council"]["explanation"].as_str().is_some_and(|c| !c.is_empty()),
            "{}",
            t.backend
        );
        let actions: Vec<&str> = v["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["action"].as_str().unwrap())
            .collect();
        assert!(
            actions.contains(&"person.added") && actions.contains(&"detention.added"),
            "{}: {actions:?}",
            t.backend
        );
        let history = c.get(&format!("/api/v1/people/{smith}/history")).await;
        assert_eq!(history.json().as_array().unwrap().len(), actions.len(), "{}", t.backend);
        // Jones: s2 then s3, still in hospital: eligible with no period yet.
        let jones = c.get(&format!("/api/v1/people/{}", id_of(&t, "Jones").await)).await.json();
        assert_eq!(
            (
                jones["derivation"]["eligible"].as_bool(),
                jones["derivation"]["entitlements"].as_array().map(Vec::len)
            ),
            (Some(true), Some(0)),
            "{}",
            t.backend
        );
        // An id nobody holds answers as one outside the user's scope.
        let missing = c.get("/api/v1/people/999999").await;
        assert_eq!(
            (missing.status, missing.json()["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("reason_required")),
            "{}",
            t.backend
        );
    }
}

#[tokio::test]
async fn adding_a_person_gives_201_and_invalid_details_422_with_every_field() {
    // (what is wrong, person/detention field changed, value, fields expected in the error)
    let cases: [(&str, &str, &str, &str, &[&str]); 7] = [
        ("NHS number check digit", "person", "nhs_number", "1234567890", &["nhs_number"]),
        (
            "NHS number of one repeated digit (its check digit is right)",
            "person",
            "nhs_number",
            "9999999999",
            &["nhs_number"],
        ),
        ("no identifier at all", "person", "nhs_number", "", &["nhs_number"]),
        ("impossible date of birth", "person", "date_of_birth", "31/02/1970", &["date_of_birth"]),
        ("unknown section", "detention", "section", "99", &["section"]),
        ("left before detained", "detention", "left_hospital", "2024-01-01", &["left_hospital"]),
        (
            "a district is not a social services authority",
            "detention",
            "ordinary_residence",
            "E07000105",
            &["ordinary_residence"],
        ),
    ];
    for t in backends().await {
        let c = setup(&t).await;
        let created = c.post_json("/api/v1/people", &new_person("", "K-100")).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}: {}", t.backend, created.body);
        let id = created.json()["id"].as_i64().unwrap();
        let got = c.get(&format!("/api/v1/people/{id}")).await;
        assert_eq!(
            got.status,
            StatusCode::OK,
            "{}: the creator's organisation has a part: {}",
            t.backend,
            got.body
        );
        assert_eq!(got.json()["person"]["entitled"], true, "{}", t.backend);
        assert_eq!(
            got.json()["detentions"][0]["evidence"],
            "AMHP application A6, medical recommendations A7",
            "{}",
            t.backend
        );
        let history = got.json()["history"].clone();
        assert!(
            history
                .as_array()
                .unwrap()
                .iter()
                .all(|h| h["actor"] == "admin" && h["actor_org"] == "RXY"),
            "{}: {history}",
            t.backend
        );

        for (what, part, field, value, expected) in cases {
            let mut body = new_person("", &format!("K-{what}"));
            body[part][field] = json!(value);
            if field == "nhs_number" {
                body["person"]["local_id"] = json!("");
            }
            let r = c.post_json("/api/v1/people", &body).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}: {what}: {}",
                t.backend,
                r.body
            );
            assert_eq!(r.json()["error"]["code"], "validation_failed", "{}: {what}", t.backend);
            assert_eq!(fields(&r), expected, "{}: {what}: {}", t.backend, r.body);
            assert!(
                r.json()["error"]["fields"][0]["reason"].as_str().is_some_and(|s| !s.is_empty()),
                "{}: {what}",
                t.backend
            );
        }
        // Several problems at once are all reported.
        let mut body = new_person("1234567890", "");
        body["person"]["date_of_birth"] = json!("yesterday");
        body["detention"]["section"] = json!("99");
        let r = c.post_json("/api/v1/people", &body).await;
        assert_eq!(
            fields(&r),
            ["nhs_number", "date_of_birth", "section"],
            "{}: {}",
            t.backend,
            r.body
        );
        // A person already on the register is refused by NHS number and by local id.
        let dup = c.post_json("/api/v1/people", &new_person("9434765919", "")).await;
        assert_eq!(
            (dup.status, fields(&dup)),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["nhs_number".to_string()]),
            "{}: {}",
            t.backend,
            dup.body
        );
        let dup = c.post_json("/api/v1/people", &new_person("", "K-100")).await;
        assert_eq!(
            (dup.status, fields(&dup)),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["local_id".to_string()]),
            "{}: {}",
            t.backend,
            dup.body
        );
        // Malformed JSON is a 400 with a code, not a 500.
        let bad = c
            .send(
                axum::http::Request::post("/api/v1/people")
                    .header(header::AUTHORIZATION, format!("Bearer {}", c.bearer.clone().unwrap()))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(axum::body::Body::from("{"))
                    .unwrap(),
            )
            .await;
        assert_eq!(
            (bad.status, bad.json()["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_json")),
            "{}",
            t.backend
        );
        assert_eq!(
            store::all_people(&t.db).await.unwrap().len(),
            5,
            "{}: only the one good person was added",
            t.backend
        );
    }
}

#[tokio::test]
async fn adding_a_detention_gives_201_then_refuses_the_same_one_again() {
    for t in backends().await {
        let c = setup(&t).await;
        let smith = id_of(&t, "Smith").await;
        let detention = json!({"section": "37", "detention_start": "2024-02-01", "ordinary_residence": "E10000016", "no_fixed_abode": "no",
                               "gp_commissioner": "QKS", "residence_commissioner": "QKS", "place_of_detention": "RXY", "left_hospital": "2024-05-01", "discharged_to": "E10000016"});
        let path = format!("/api/v1/people/{smith}/detentions");
        let r = c.post_json(&path, &detention).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        let v = c.get(&format!("/api/v1/people/{smith}")).await.json();
        assert_eq!(v["detentions"].as_array().unwrap().len(), 2, "{}", t.backend);
        // A new qualifying detention starts a new period of after-care.
        let starts: Vec<&str> = v["derivation"]["entitlements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["start"].as_str().unwrap())
            .collect();
        assert_eq!(starts, ["2023-04-20", "2024-05-01"], "{}", t.backend);
        let again = c.post_json(&path, &detention).await;
        assert_eq!(
            (again.status, fields(&again)),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["detention_start".to_string()]),
            "{}: {}",
            t.backend,
            again.body
        );
        // Overlapping the first detention (2023-01-09 to 2023-04-20) is refused.
        let overlapping = json!({"section": "3", "detention_start": "2023-02-01", "ordinary_residence": "E10000016"});
        let r = c.post_json(&path, &overlapping).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {}", t.backend, r.body);
        let r = c.post_json(&path, &json!({"section": "3", "detention_start": "soon"})).await;
        assert!(fields(&r).contains(&"detention_start".to_string()), "{}: {}", t.backend, r.body);
        // An id nobody holds answers like one outside the user's scope.
        let r = c.post_json("/api/v1/people/999999/detentions", &detention).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {}", t.backend, r.body);
    }
}

#[tokio::test]
async fn a_cookie_session_must_send_the_csrf_header_to_change_anything() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        let c = Client::login(state(&t.db), "admin").await;
        // Reading needs no token.
        assert_eq!(c.get("/api/v1/people").await.status, StatusCode::OK, "{}", t.backend);
        let without = c.post_json("/api/v1/people", &new_person("", "K-1")).await;
        assert_eq!(
            (without.status, without.json()["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("csrf_failed")),
            "{}",
            t.backend
        );
        let send = |token: String| {
            axum::http::Request::post("/api/v1/people")
                .header(header::COOKIE, c.cookie.clone().unwrap())
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-csrf-token", token)
                .body(axum::body::Body::from(new_person("", "K-1").to_string()))
                .unwrap()
        };
        let wrong = c.send(send("0".repeat(64))).await;
        assert_eq!(
            (wrong.status, wrong.json()["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("csrf_failed")),
            "{}",
            t.backend
        );
        assert_eq!(store::all_people(&t.db).await.unwrap().len(), 0, "{}", t.backend);
        let right = c.send(send(c.csrf.clone())).await;
        assert_eq!(right.status, StatusCode::CREATED, "{}: {}", t.backend, right.body);
    }
}

#[tokio::test]
async fn unknown_api_routes_answer_404_in_json() {
    for t in backends().await {
        let c = setup(&t).await;
        for path in ["/api/v1/nothing-here", "/api/v1/people/1/nothing", "/api/v2/people"] {
            let r = c.get(path).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: {path}", t.backend);
            if path.starts_with("/api/v1/") {
                assert_eq!(
                    r.json()["error"]["code"],
                    "not_found",
                    "{}: {path}: {}",
                    t.backend,
                    r.body
                );
            }
        }
        // A known path with the wrong method is not a server error either.
        let r = c
            .send(
                axum::http::Request::delete("/api/v1/people")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", t.backend);
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_path() {
    let t = sqlite().await;
    let c = Client::new(state(&t.db));
    let r = c.get("/api/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", r.body);
    let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    // Every route the API router serves, read from its source, with its methods.
    let routes: Vec<(String, Vec<&str>)> = routes_in_source("src/api/mod.rs")
        .into_iter()
        .map(|(p, m)| (format!("/api/v1{p}"), m))
        .collect();
    assert!(routes.len() >= 6, "{routes:?}");
    for (path, methods) in &routes {
        for m in methods {
            assert!(
                doc["paths"][path][m].is_object(),
                "{m} {path} is not documented; documented: {paths:?}"
            );
        }
    }
    for path in &paths {
        assert!(
            routes.iter().any(|(p, _)| p == path),
            "{path} is documented but the router does not serve it"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    // Schema names are part of the contract: the Rust type is `ApiDetention`,
    // the schema clients see stays `DetentionView`.
    assert!(doc["components"]["schemas"]["DetentionView"].is_object());
    assert_eq!(
        doc["components"]["schemas"]["PersonDetailView"]["properties"]["detentions"]["items"]["$ref"],
        "#/components/schemas/DetentionView"
    );
    assert!(doc["components"]["schemas"]["ApiDetention"].is_null());
}

#[tokio::test]
async fn swagger_ui_and_health_check_are_served() {
    for t in backends().await {
        let c = Client::new(state(&t.db));
        let docs = c.get("/api/docs/").await;
        assert_eq!(docs.status, StatusCode::OK, "{}", t.backend);
        assert!(
            docs.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"),
            "{}",
            t.backend
        );
        assert!(docs.body.to_lowercase().contains("swagger"), "{}", t.backend);
        let health = c.get("/healthz").await;
        assert_eq!(
            (health.status, health.body.as_str()),
            (StatusCode::OK, "ok\n"),
            "{}",
            t.backend
        );
        t.db.close().await;
        assert_eq!(
            c.get("/healthz").await.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}: a closed database is reported",
            t.backend
        );
    }
}

/// Regression: a page number so large that the offset overflowed made the
/// handler panic (debug) or send a negative OFFSET to the database (release).
#[tokio::test]
async fn a_huge_page_number_is_an_empty_page_not_a_crash() {
    for t in backends().await {
        let api = setup(&t).await;
        let pages = Client::login(state(&t.db), "admin").await;
        for page in ["9223372036854775807", "4611686018427387904", "-5"] {
            let r = api.get(&format!("/api/v1/people?page={page}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}: page {page}: {}", t.backend, r.body);
            if !page.starts_with('-') {
                assert_eq!(
                    r.json()["items"].as_array().map(Vec::len),
                    Some(0),
                    "{}: page {page}",
                    t.backend
                );
                // A page past the end still says how many people match.
                let first = api.get("/api/v1/people").await.json()["total"].clone();
                assert_eq!(r.json()["total"], first, "{}: page {page}", t.backend);
                assert!(first.as_i64().unwrap() > 0);
            }
            assert_eq!(
                pages.get(&format!("/people?page={page}")).await.status,
                StatusCode::OK,
                "{}: page {page}",
                t.backend
            );
        }
    }
}

/// Regression: a person id that is not a number was answered in plain text,
/// not the API's JSON error.
#[tokio::test]
async fn a_person_id_that_is_not_a_number_is_a_json_404() {
    for t in backends().await {
        let c = setup(&t).await;
        for path in [
            "/api/v1/people/abc",
            "/api/v1/people/1e3/history",
            "/api/v1/people/99999999999999999999",
        ] {
            let r = c.get(path).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: {path}: {}", t.backend, r.body);
            assert_eq!(r.json()["error"]["code"], "not_found", "{}: {path}", t.backend);
        }
        let r = c.post_json("/api/v1/people/abc/detentions", &json!({})).await;
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{}",
            t.backend
        );
    }
}

#[tokio::test]
async fn the_plan_can_be_read_and_changed_and_a_stale_version_is_a_409() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "lead", "RXY", "lead_professional").await;
        import(&t.db, REGISTER_CSV).await;
        let c = Client::api_login(state(&t.db), "lead").await;
        let smith = id_of(&t, "Smith").await;
        let plan = c.get(&format!("/api/v1/people/{smith}/plan")).await;
        assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
        assert_eq!(plan.json()["version"], 0);
        let need = |version: &str| {
            json!({"plan_version": version, "aspect": "accommodation", "description": "supported living",
                   "s117": "yes", "s117_reason": "two-stage test met", "weekly_cost": "1499.99",
                   "start": "2023-04-20", "funder": "shared"})
        };
        let path = format!("/api/v1/people/{smith}/plan/needs");
        let r = c.post_json(&path, &need("0")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        assert_eq!(r.json()["id"], 1);
        // A second system still looking at version 0 is told, not overwritten.
        let r = c.post_json(&path, &need("0")).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], "conflict");
        let plan = c.get(&format!("/api/v1/people/{smith}/plan")).await.json();
        assert_eq!(plan["version"], 1);
        assert_eq!(plan["needs"][0]["weekly_cost"], 149999, "integer pence");
        assert_eq!(plan["has_s117_need"], true);
        let end = format!("/api/v1/people/{smith}/plan/end");
        let r = c
            .post_json(&end, &json!({"plan_version": "1", "index": "0", "on": "2024-06-01"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let plan = c.get(&format!("/api/v1/people/{smith}/plan")).await.json();
        assert_eq!(plan["needs"][0]["end"], "2024-06-01");
        // Bad input names the field.
        let r = c
            .post_json(&end, &json!({"plan_version": "two", "index": "0", "on": "2024-06-01"}))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&r), ["plan_version"]);
        // The assessment, the same way as the page records it.
        let r = c
            .post_json(
                &format!("/api/v1/people/{smith}/assessment"),
                &json!({"assessed_on": "2023-03-01", "person": "yes", "imha_offered": "yes"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let a = c.get(&format!("/api/v1/people/{smith}/assessment")).await.json();
        assert_eq!(a["assessment"]["assessed_on"], "2023-03-01", "{a}");
        // Reviews recorded by the API are listed by it, newest first.
        for held_on in ["2023-05-30", "2024-05-30"] {
            let r = c
                .post_json(
                    &format!("/api/v1/people/{smith}/reviews"),
                    &json!({"held_on": held_on, "attendees": "the person", "person_views": "wants it to go on", "still_needed": "yes"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
        let reviews = c.get(&format!("/api/v1/people/{smith}/reviews")).await.json();
        let days: Vec<&str> =
            reviews.as_array().unwrap().iter().map(|r| r["held_on"].as_str().unwrap()).collect();
        assert_eq!(days, ["2024-05-30", "2023-05-30"]);
    }
}

#[tokio::test]
async fn partners_read_worklists_organisations_the_master_list_and_ask_about_a_person() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "finance", "E10000016", "finance").await;
        import(&t.db, REGISTER_CSV).await;
        let c = Client::api_login(state(&t.db), "finance").await;
        let orgs = c.get("/api/v1/organisations").await.json();
        assert!(orgs.as_array().unwrap().iter().any(|o| o["code"] == "E10000016"), "{orgs}");
        let list = c.get("/api/v1/master-list").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let list = list.json();
        let columns: Vec<&str> = list["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(columns, aftercare::services::sharing::master_list_headers());
        assert!(list["rows"].as_array().unwrap().iter().any(|r| r[0] == "9434765919"), "{list}");
        let w = c.get("/api/v1/worklists").await.json();
        let ids: Vec<&str> =
            w["lists"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "no-lead",
                "no-plan",
                "no-s117",
                "interim",
                "reinstated",
                "historical",
                "decision-needed",
                "unknown-code"
            ]
        );
        let r = c
            .post_json("/api/v1/enquiries", &json!({"nhs_number": "943 476 5919", "reason": ""}))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&r), ["reason"]);
        let r = c
            .post_json(
                "/api/v1/enquiries",
                &json!({"nhs_number": "943 476 5919", "reason": "care home invoice received"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["on_register"], true);
        let audit = store::all_audit(&t.db).await.unwrap();
        assert!(audit.iter().any(|a| a.action == "status.enquiry" && a.actor == "finance"));
    }
}

#[tokio::test]
async fn finance_reconciles_by_the_api_and_records_the_refund_once() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "finance", "E10000016", "finance").await;
        import(&t.db, REGISTER_CSV).await;
        let c = Client::api_login(state(&t.db), "finance").await;
        let charges = "nhs_number,charged_from,charged_to,amount,service\n9434765919,2023-05-01,2023-05-31,300.00,home care\n";
        let payments = "nhs_number,period_from,period_to,amount,payer,funding_stream\n";
        let body = |record: bool| json!({"as_of": "2025-01-01", "charges_csv": charges, "payments_csv": payments, "record": record});
        let r = c.post_json("/api/v1/reconciliation", &body(false)).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.backend, r.body);
        let found = r.json();
        assert_eq!(found["findings"][0]["finding"], "charged_while_entitled", "{found}");
        assert_eq!(found["findings"][0]["amount"], 30000, "integer pence");
        assert_eq!(found["findings"][0]["person_id"], id_of(&t, "Smith").await);
        assert!(found["recorded"].is_null());
        let r = c.post_json("/api/v1/reconciliation", &body(true)).await.json();
        assert_eq!(r["recorded"]["charges_added"], 1, "{r}");
        let r = c.post_json("/api/v1/reconciliation", &body(true)).await.json();
        assert_eq!(
            (r["recorded"]["charges_added"].clone(), r["recorded"]["charges_known"].clone()),
            (json!(0), json!(1))
        );
        let refunds = c.get("/api/v1/refunds").await.json();
        assert_eq!(refunds.as_array().map(Vec::len), Some(1), "{refunds}");
        // A bad file is refused whole, naming the row and column.
        let bad = json!({"charges_csv": "nhs_number,charged_from,charged_to,amount\n9434765919,2023-05-01,soon,300\n", "payments_csv": payments});
        let r = c.post_json("/api/v1/reconciliation", &bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(fields(&r), ["charges"]);
        assert!(r.body.contains("row 2, column charged_to"), "{}", r.body);
        let m = c.get("/api/v1/monitoring?months=24").await;
        assert_eq!(m.status, StatusCode::OK, "{}", m.body);
        assert_eq!(m.json()["months"].as_array().map(Vec::len), Some(24));
    }
}

#[tokio::test]
async fn a_master_list_is_imported_by_the_api_all_or_nothing() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        let c = Client::api_login(state(&t.db), "admin").await;
        let send = async |path: &str, body: &str| {
            c.post_bytes(path, "text/csv", body.as_bytes().to_vec()).await
        };
        let r =
            send("/api/v1/imports/register?dry_run=true&file_name=master.csv", REGISTER_CSV).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.backend, r.body);
        assert_eq!(
            (r.json()["dry_run"].clone(), r.json()["people_added"].clone()),
            (json!(true), json!(4))
        );
        assert!(store::all_people(&t.db).await.unwrap().is_empty(), "a dry run writes nothing");
        // One bad row refuses the whole file, naming its row and column.
        let bad = REGISTER_CSV.replace("9876543210", "1234567890");
        let r = send("/api/v1/imports/register", &bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(fields(&r), ["row 4, column nhs_number"]);
        assert!(store::all_people(&t.db).await.unwrap().is_empty(), "nothing is half-written");
        let with_notes: String = REGISTER_CSV
            .lines()
            .enumerate()
            .map(|(i, l)| {
                format!("{l},{}\n", if i == 0 { "Notes" } else { "seen by the MHA office" })
            })
            .collect();
        let r = send("/api/v1/imports/register", &with_notes).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["ignored_columns"], json!(["Notes"]));
        assert_eq!(store::all_people(&t.db).await.unwrap().len(), 4);
        // Reviews the same way.
        let reviews = "nhs_number,held_on,outcome\n9434765919,2024-04-01,continue\n";
        let r = send("/api/v1/imports/reviews", reviews).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["added"], 1);
    }
}

#[tokio::test]
async fn a_dispute_is_opened_confirmed_and_listed_by_the_api() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "kent", "E10000016", "commissioner").await;
        add_user(&t.db, "lincs", "E10000019", "commissioner").await;
        import(&t.db, REGISTER_CSV).await;
        let smith = id_of(&t, "Smith").await;
        let kent = Client::api_login(state(&t.db), "kent").await;
        let r = kent
            .post_json(
                &format!("/api/v1/people/{smith}/disputes"),
                &json!({"subject": "ordinary_residence", "party_a": "E10000016", "party_b": "E10000019",
                        "funding_now": "party_a", "note": "Kent says Ann Smith lived in Lincolnshire"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        let dispute = r.json()["id"].as_i64().unwrap();
        let lincs = Client::api_login(state(&t.db), "lincs").await;
        let before = lincs.get(&format!("/api/v1/people/{smith}/disputes")).await;
        assert_eq!(before.status, StatusCode::FORBIDDEN, "{}", before.body);
        let r = lincs.post_json(&format!("/api/v1/disputes/{dispute}/confirm"), &json!({})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        // Before confirming, Lincolnshire had no part in Ann Smith; now it
        // sees her record.
        let list = lincs.get(&format!("/api/v1/people/{smith}/disputes")).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let list = list.json();
        assert_eq!(
            (list[0]["status"].clone(), list[0]["confirmed"].clone()),
            (json!("open"), json!(true)),
            "{list}"
        );
        // A body not a party may not escalate it.
        let r = kent
            .post_json(
                &format!("/api/v1/people/{smith}/disputes/escalate"),
                &json!({"dispute": dispute.to_string(), "on": "2026-11-01", "note": ""}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(fields(&r), ["note"]);
    }
}

#[tokio::test]
async fn long_files_reconcile_and_partners_see_only_their_own_partnerships() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "finance", "E10000016", "finance").await;
        add_user(&t.db, "lead", "RXY", "lead_professional").await;
        import(&t.db, REGISTER_CSV).await;
        exec_sql(&t.db, "INSERT INTO partnerships (council_code, nhs_code, name) VALUES ('E10000016', 'QKS', 'Kent and Medway'), ('E10000019', '71E', 'Lincolnshire')").await;
        let c = Client::api_login(state(&t.db), "finance").await;
        // A charges file of 200 rows, with a byte-order mark, as Excel saves it.
        let mut charges =
            String::from("\u{feff}nhs_number,charged_from,charged_to,amount,service\n");
        for day in 1..=200u32 {
            let d = chrono::NaiveDate::from_ymd_opt(2023, 5, 1).unwrap()
                + chrono::Days::new(u64::from(day));
            charges.push_str(&format!("9434765919,{d},{d},1.00,home care\n"));
        }
        assert!(charges.len() > 8000);
        let r = c
            .post_json(
                "/api/v1/reconciliation",
                &json!({"as_of": "2025-01-01", "charges_csv": charges, "payments_csv": "nhs_number,period_from,period_to,amount,payer,funding_stream\n"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.backend, r.body);
        assert_eq!(r.json()["findings"].as_array().map(Vec::len), Some(200));
        // Kent's council sees Kent's partnership, not Lincolnshire's.
        let p = c.get("/api/v1/partnerships").await.json();
        let names: Vec<&str> =
            p.as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Kent and Medway"], "{p}");
        // Costs for a period, and a bad one named.
        assert_eq!(
            c.get("/api/v1/costs?from=2024-04-01&to=2024-06-30").await.status,
            StatusCode::OK
        );
        let r = c.get("/api/v1/costs?from=2024-04-01&to=2024-03-01").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&r), ["to"]);
        // The lead professional named by the API, and listed current first.
        let lead = Client::api_login(state(&t.db), "lead").await;
        let smith = id_of(&t, "Smith").await;
        let path = format!("/api/v1/people/{smith}/lead");
        for name in ["Sam Okoro", "Ada Obi"] {
            let r = lead.post_json(&path, &json!({"name": name, "team": "North CMHT"})).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
        let leads = lead.get(&path).await.json();
        assert_eq!(leads[0]["name"], "Ada Obi", "{leads}");
        assert_eq!(
            (leads[0]["superseded"].clone(), leads[1]["superseded"].clone()),
            (json!(false), json!(true))
        );
        assert_eq!(fields(&lead.post_json(&path, &json!({"name": ""})).await), ["name"]);
        // A transforming-care case, marked and refused a third answer.
        let tc = format!("/api/v1/people/{smith}/transforming-care");
        let r = lead.post_json(&tc, &json!({"transforming_care": "yes"})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        assert!(store::get_person(&t.db, smith).await.unwrap().unwrap().transforming_care);
        assert_eq!(
            fields(&lead.post_json(&tc, &json!({"transforming_care": "maybe"})).await),
            ["transforming_care"]
        );
    }
}

#[tokio::test]
async fn a_system_administrator_adds_an_account_an_organisation_and_a_partnership() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "sysadmin", "X24", "system_administrator").await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        let c = Client::api_login(state(&t.db), "sysadmin").await;
        let body = json!({"username": "sam.okoro@nhs.net", "display_name": "Sam Okoro", "org_code": "RXY",
                          "roles": ["lead_professional"], "team": "North CMHT", "password": "a long and unusual pass phrase 7"});
        let r = c.post_json("/api/v1/users", &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        let id = r.json()["id"].as_i64().unwrap();
        assert_eq!(c.post_json("/api/v1/users", &body).await.status, StatusCode::CONFLICT);
        let r = c.post_json("/api/v1/users", &json!({"username": "x", "display_name": "", "org_code": "RXY", "roles": ["king"], "password": "p"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&r), ["roles", "display_name"]);
        // The new account signs in, and is disabled.
        let new = Client::new(state(&t.db));
        let r = new.post_json("/api/v1/session", &json!({"username": "sam.okoro@nhs.net", "password": "a long and unusual pass phrase 7"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = c.post_json(&format!("/api/v1/users/{id}/disable"), &json!({})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let r = new.post_json("/api/v1/session", &json!({"username": "sam.okoro@nhs.net", "password": "a long and unusual pass phrase 7"})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        // An organisation and a partnership.
        let r = c
            .post_json(
                "/api/v1/organisations",
                &json!({"code": "e06000035", "name": "Medway Council", "kind": "council"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["code"], "E06000035");
        let r = c
            .post_json(
                "/api/v1/partnerships",
                &json!({"council": "E06000035", "nhs_commissioner": "QKS", "name": "Medway", "review_policy": "default"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let p = c.get("/api/v1/partnerships").await.json();
        assert!(p.as_array().unwrap().iter().any(|x| x["name"] == "Medway"), "{p}");
        // Nobody else may.
        let other = Client::api_login(state(&t.db), "admin").await;
        assert_eq!(other.post_json("/api/v1/users", &body).await.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_letter_is_read_as_json_or_pdf_and_recorded_as_sent_by_the_api() {
    for t in backends().await {
        let c = setup(&t).await;
        let smith = id_of(&t, "Smith").await;
        let path = format!("/api/v1/people/{smith}/factsheet");
        let r = c.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.backend, r.body);
        let filled = r.json();
        assert_eq!(filled["kind"], "factsheet");
        assert_eq!(filled["letterhead"], "Kent County Council", "{filled}");
        let r = c.get(&format!("{path}?format=pdf")).await;
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/pdf");
        crate::letters::check_pdf(
            &r.bytes,
            "Section 117 after-care: fact sheet",
            &["Kent County Council"],
            0,
        );
        assert_eq!(c.get(&format!("{path}?format=doc")).await.status, StatusCode::BAD_REQUEST);
        // Sent, with the sender's change to the text; how it went is asked.
        let r = c.post_json(&path, &json!({"letter_body": "Changed text."})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&r), ["method"]);
        let r = c
            .post_json(
                &path,
                &json!({"letter_body": "Changed text.", "method": "post", "sent_on": "2026-11-20"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.json()["id"].as_i64().unwrap();
        let sent = c.get(&format!("/api/v1/people/{smith}/letters/{id}")).await.json();
        assert_eq!(sent["letter"]["body"], "Changed text.", "{sent}");
        assert_eq!(sent["sent_on"], "2026-11-20");
        assert_eq!(sent["edited"], true);
        assert_eq!(sent["recorded_by"], "admin");
        let pdf = c.get(&format!("/api/v1/people/{smith}/letters/{id}?format=pdf")).await;
        assert_eq!(pdf.headers[header::CONTENT_TYPE], "application/pdf");
        let list = c.get(&format!("/api/v1/people/{smith}/letters")).await.json();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        // A day still to come is refused; a letter no ending made is not there.
        let r = c.post_json(&path, &json!({"method": "post", "sent_on": "2099-01-01"})).await;
        assert_eq!(fields(&r), ["sent_on"]);
        let r = c.get(&format!("/api/v1/people/{smith}/reinstatement-letter")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // The postal address letters go to, kept and cleared.
        let address = format!("/api/v1/people/{smith}/address");
        let lines = json!({"lines": ["1 High Street", "Maidstone", "ME14 1XX"]});
        assert_eq!(c.post_json(&address, &lines).await.status, StatusCode::NO_CONTENT);
        assert_eq!(c.get(&address).await.json(), lines);
        let long = json!({"lines": vec!["line"; 9]});
        assert_eq!(fields(&c.post_json(&address, &long).await), ["address"]);
        assert_eq!(
            c.post_json(&address, &json!({"lines": []})).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(c.get(&address).await.json()["lines"], json!([]));
    }
}

#[tokio::test]
async fn a_system_administrator_sets_roles_passwords_agreements_and_letters() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "sysadmin", "X24", "system_administrator").await;
        add_user(&t.db, "lead", "RXY", "lead_professional").await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        let c = Client::api_login(state(&t.db), "sysadmin").await;
        let users = c.get("/api/v1/users").await.json();
        let lead = users.as_array().unwrap().iter().find(|u| u["username"] == "lead").unwrap();
        let uid = lead["id"].as_i64().unwrap();
        let r = c
            .post_json(
                &format!("/api/v1/users/{uid}/roles"),
                &json!({"roles": ["lead_professional", "king"]}),
            )
            .await;
        assert_eq!(fields(&r), ["roles"]);
        let r = c
            .post_json(
                &format!("/api/v1/users/{uid}/roles"),
                &json!({"roles": ["lead_professional", "qa_group"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}: {}", t.backend, r.body);
        let users = c.get("/api/v1/users").await.json();
        let lead = users.as_array().unwrap().iter().find(|u| u["username"] == "lead").unwrap();
        assert!(lead["roles"].to_string().contains("qa_group"), "{lead}");
        // A weak password is refused by the rules; a good one lets them in.
        let password = format!("/api/v1/users/{uid}/password");
        let r = c.post_json(&password, &json!({"password": "short"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        let r = c.post_json(&password, &json!({"password": "another long pass phrase 42"})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let sign_in = json!({"username": "lead", "password": "another long pass phrase 42"});
        let anon = Client::new(state(&t.db));
        assert_eq!(anon.post_json("/api/v1/session", &sign_in).await.status, StatusCode::OK);
        c.post_json(&format!("/api/v1/users/{uid}/disable"), &json!({})).await;
        assert_eq!(
            anon.post_json("/api/v1/session", &sign_in).await.status,
            StatusCode::UNAUTHORIZED
        );
        let r = c.post_json(&format!("/api/v1/users/{uid}/enable"), &json!({})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        assert_eq!(anon.post_json("/api/v1/session", &sign_in).await.status, StatusCode::OK);
        // A funding agreement, checked and then listed.
        let agreement = json!({"council": "E10000016", "nhs_commissioner": "QKS", "policy": "no-such-policy", "effective_from": "2026-04-01"});
        let r = c.post_json("/api/v1/funding-agreements", &agreement).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        let r = c.post_json("/api/v1/funding-agreements", &json!({"council": "E10000016", "nhs_commissioner": "QKS", "policy": "fixed-50-50", "effective_from": "2026-04-01", "effective_to": "2026-03-01"})).await;
        assert_eq!(fields(&r), ["effective_to"]);
        let r = c.post_json("/api/v1/funding-agreements", &json!({"council": "E10000016", "nhs_commissioner": "QKS", "policy": "fixed-50-50", "effective_from": "2026-04-01"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let listed = c.get("/api/v1/funding-agreements").await.json();
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["policy"] == "fixed-50-50" && a["effective_from"] == "2026-04-01"),
            "{listed}"
        );
        // A council's own letter: an unknown placeholder is refused by name.
        let letters = c.get("/api/v1/councils/E10000016/letters").await.json();
        assert!(letters.as_array().unwrap().iter().all(|l| l["own"] == false), "{letters}");
        let path = "/api/v1/councils/E10000016/letters/factsheet";
        let r = c.post_json(path, &json!({"text": "Dear {{ nom }}"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("nom"), "{}", r.body);
        let r = c
            .post_json(path, &json!({"text": "Dear {{ name }},\n\nYour after-care is free."}))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let got = c.get(path).await.json();
        assert_eq!(got["text"], "Dear {{ name }},\n\nYour after-care is free.");
        assert!(got["placeholders"].as_array().unwrap().contains(&json!("name")), "{got}");
        let letters = c.get("/api/v1/councils/E10000016/letters").await.json();
        assert!(
            letters
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["kind"] == "factsheet" && l["own"] == true)
        );
        assert_eq!(
            c.get("/api/v1/councils/E10000016/letters/ballad").await.status,
            StatusCode::NOT_FOUND
        );
        // Nobody else may.
        let other = Client::api_login(state(&t.db), "admin").await;
        assert_eq!(other.get(path).await.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn settings_reasons_to_look_and_column_names_by_the_api() {
    for t in backends().await {
        let c = setup(&t).await;
        add_user(&t.db, "auditor", "RXY", "auditor").await;
        // Notification settings, checked and saved.
        let path = "/api/v1/account/notifications";
        let r = c.post_json(path, &json!({"email": "not an address", "immediate": true})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}: {}", t.backend, r.body);
        let prefs = json!({"email": "admin@nhs.net", "immediate": true, "digest": false});
        let r = c.post_json(path, &prefs).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(c.get(path).await.json(), prefs);
        // A reason to look at someone outside the caseload waits for the
        // organisation's auditor, who reviews it once.
        let patel = id_of(&t, "Patel").await;
        let r = c
            .post_json(
                &format!("/api/v1/people/{patel}/access"),
                &json!({"reason": "status enquiry from council finance"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        assert_eq!(c.get("/api/v1/access-reasons").await.status, StatusCode::FORBIDDEN);
        let auditor = Client::api_login(state(&t.db), "auditor").await;
        let reasons = auditor.get("/api/v1/access-reasons").await.json();
        let reason = reasons.as_array().unwrap().iter().find(|g| g["person_id"] == patel).unwrap();
        assert_eq!(reason["username"], "admin");
        let review = format!("/api/v1/access-reasons/{}/review", reason["id"]);
        let r = auditor.post_json(&review, &json!({"note": "checked with council finance"})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        assert_eq!(auditor.post_json(&review, &json!({})).await.status, StatusCode::CONFLICT);
        let reasons = auditor.get("/api/v1/access-reasons").await.json();
        assert!(!reasons.as_array().unwrap().iter().any(|g| g["person_id"] == patel), "{reasons}");
        // A column name remembered for the organisation's files, then read so.
        let mappings = "/api/v1/column-mappings";
        let r = c.post_json(mappings, &json!({"kind": "register", "columns": [{"header": "Hospital number", "column": "local_id"}, {"header": "Notes", "column": null}]})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let got = c.get(&format!("{mappings}?kind=register")).await.json();
        assert!(
            got.as_array()
                .unwrap()
                .iter()
                .any(|m| m["header"] == "Hospital number" && m["column"] == "local_id"),
            "{got}"
        );
        assert!(
            got.as_array().unwrap().iter().any(|m| m["header"] == "Notes" && m["column"].is_null()),
            "{got}"
        );
        let r = c.post_json(mappings, &json!({"kind": "register", "columns": [{"header": "Ward", "column": "no_such_column"}]})).await;
        assert_eq!(fields(&r), ["column_0"], "{}", r.body);
        assert_eq!(
            c.get(&format!("{mappings}?kind=payroll")).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            auditor.post_json(mappings, &json!({"kind": "register", "columns": []})).await.status,
            StatusCode::FORBIDDEN
        );
        // A task key that is no late register change is refused by name.
        let r = c.post_json("/api/v1/tasks/acknowledge", &json!({"key": "review:1"})).await;
        assert_eq!(fields(&r), ["key"]);
    }
}

#[tokio::test]
async fn a_file_is_uploaded_checked_mapped_and_confirmed_by_the_api() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        add_user(&t.db, "other", "RXY", "mha_administrator").await;
        let c = Client::api_login(state(&t.db), "admin").await;
        let with_ward: String = REGISTER_CSV
            .lines()
            .enumerate()
            .map(|(i, l)| format!("{l},{}\n", if i == 0 { "Ward" } else { "Oak" }))
            .collect();
        let upload = "/api/v1/imports?kind=register&file_name=master.csv";
        let r = c.post_bytes(upload, "text/csv", with_ward.into_bytes()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        let token = r.json()["token"].as_str().unwrap().to_string();
        let status = format!("/api/v1/imports/{token}");
        assert_eq!(r.headers[header::LOCATION], status.as_str());
        // A small file is checked before the answer; nothing is written yet.
        let v = r.json();
        assert_eq!(v["state"], "checked", "{v}");
        assert_eq!(v["register"]["people_added"], 4);
        assert_eq!(v["unknown_columns"], json!(["Ward"]));
        assert!(store::all_people(&t.db).await.unwrap().is_empty());
        // Every unknown column must be answered, and only those.
        let mapping = format!("{status}/mapping");
        let r =
            c.post_json(&mapping, &json!({"columns": [{"header": "Bed", "column": null}]})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(fields(&r), ["columns[0]", "columns"]);
        let r =
            c.post_json(&mapping, &json!({"columns": [{"header": "Ward", "column": null}]})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["unknown_columns"], json!([]), "ignored from now on: {}", r.body);
        // Someone else cannot see or confirm it.
        let other = Client::api_login(state(&t.db), "other").await;
        assert_eq!(other.get(&status).await.status, StatusCode::NOT_FOUND);
        let confirm = format!("{status}/confirm");
        assert_eq!(other.post_json(&confirm, &json!({})).await.status, StatusCode::NOT_FOUND);
        let r = c.post_json(&confirm, &json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let mut v = r.json();
        for _ in 0..100 {
            if v["state"] != "importing" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            v = c.get(&status).await.json();
        }
        assert_eq!(v["state"], "imported", "{v}");
        assert_eq!(v["register"]["dry_run"], false);
        assert_eq!(store::all_people(&t.db).await.unwrap().len(), 4);
        // Once only.
        assert_eq!(c.post_json(&confirm, &json!({})).await.status, StatusCode::CONFLICT);
        // A file the check refuses says why, row by row, and cannot be confirmed.
        let bad = REGISTER_CSV.replace("9876543210", "1234567890");
        let r = c.post_bytes(upload, "text/csv", bad.into_bytes()).await;
        let v = r.json();
        assert_eq!(v["state"], "problems", "{v}");
        assert_eq!(v["problems"][0]["row"], 4);
        assert_eq!(v["problems"][0]["column"], "nhs_number");
        let token = v["token"].as_str().unwrap();
        let r = c.post_json(&format!("/api/v1/imports/{token}/confirm"), &json!({})).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        let r = c.post_bytes("/api/v1/imports?kind=payroll", "text/csv", b"a\n1\n".to_vec()).await;
        assert_eq!(fields(&r), ["kind"]);
    }
}

#[tokio::test]
async fn lists_come_in_pages_with_their_length_and_links() {
    for t in backends().await {
        let c = setup(&t).await;
        let all = c.get("/api/v1/organisations").await;
        let total: usize = all.headers["x-total-count"].to_str().unwrap().parse().unwrap();
        assert!(total > 4, "{}", all.body);
        assert_eq!(all.json().as_array().unwrap().len(), total.min(100));
        let r = c.get("/api/v1/organisations?page=2&page_size=2").await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", t.backend, r.body);
        let page = r.json();
        assert_eq!(page.as_array().unwrap().len(), 2);
        assert_eq!(page[0], all.json()[2], "page 2 starts at the third");
        let link = r.headers[header::LINK].to_str().unwrap();
        assert!(
            link.contains("</api/v1/organisations?page=3&page_size=2>; rel=\"next\""),
            "{link}"
        );
        assert!(link.contains("rel=\"prev\""), "{link}");
        // Past the end: an empty page, still a list.
        let r = c.get("/api/v1/organisations?page=999").await;
        assert_eq!(r.json(), json!([]));
        // Lists inside an answer are cut the same way, with their lengths.
        let w = c.get("/api/v1/worklists?page_size=1").await.json();
        for list in w["lists"].as_array().unwrap() {
            assert!(list["items"].as_array().unwrap().len() <= 1, "{list}");
            assert!(
                list["total"].as_u64().unwrap() >= list["items"].as_array().unwrap().len() as u64
            );
        }
        let tasks = c.get("/api/v1/tasks?page_size=1").await.json();
        assert!(tasks["items"].as_array().unwrap().len() <= 1);
        assert!(tasks["total"].as_u64().is_some(), "{tasks}");
        let m = c.get("/api/v1/master-list?page_size=2").await.json();
        assert_eq!(m["rows"].as_array().unwrap().len(), 2);
        assert!(m["total_rows"].as_u64().unwrap() >= 2, "{m}");
    }
}

#[tokio::test]
async fn a_change_sent_with_a_stale_etag_is_refused_and_only_one_of_two_lands() {
    for t in backends().await {
        let c = setup(&t).await;
        let smith = id_of(&t, "Smith").await;
        let person = format!("/api/v1/people/{smith}");
        let r = c.get(&person).await;
        let etag = r.headers[header::ETAG].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let plan = c.get(&format!("{person}/plan")).await;
        assert_eq!(plan.headers[header::ETAG].to_str().unwrap(), etag, "the person's version");
        let fact =
            |on: &str| json!({"kind": "moved", "on": on, "to": "E10000016", "note": "new tenancy"});
        let facts = format!("{person}/facts");
        let r = c.post_json_with(&facts, &fact("2024-01-01"), ("if-match", &etag)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", t.backend, r.body);
        // The same version again: the record moved on since.
        let r = c.post_json_with(&facts, &fact("2024-02-01"), ("if-match", &etag)).await;
        assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], "stale_version");
        let now = c.get(&person).await.headers[header::ETAG].to_str().unwrap().to_string();
        assert_ne!(now, etag);
        // Looking with a reason, or asking about someone, changes no version.
        let asked =
            json!({"nhs_number": "9434765919", "reason": "invoice received by council finance"});
        c.post_json("/api/v1/enquiries", &asked).await;
        assert_eq!(c.get(&person).await.headers[header::ETAG].to_str().unwrap(), now);
        // A tag that names no version cannot match; `*` and none at all do not check.
        let r = c.post_json_with(&facts, &fact("2024-03-01"), ("if-match", "seven")).await;
        assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
        let r = c.post_json_with(&facts, &fact("2024-03-01"), ("if-match", "*")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        // Two systems holding the same version at once: one change lands.
        let now = c.get(&person).await.headers[header::ETAG].to_str().unwrap().to_string();
        let (april, may) = (fact("2024-04-01"), fact("2024-05-01"));
        let (a, b) = tokio::join!(
            c.post_json_with(&facts, &april, ("if-match", &now)),
            c.post_json_with(&facts, &may, ("if-match", &now)),
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 412], "{} / {}", a.body, b.body);
    }
}
