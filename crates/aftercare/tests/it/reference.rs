//! The NHS's and ONS's reference files, on every backend: each recognised
//! by its content whatever its name, loaded once (a second load of the same
//! file writes nothing), listed as releases, refused whole with the row and
//! column of a problem; and what the register reads from them: a GP
//! practice's commissioner for a row that names only the practice (flagged
//! when the practice joined it later), and the council and ICB of a postcode.

use crate::common::*;
use aftercare::services::reference::{self, PostcodeAreas};
use aftercare_core::postcode::Postcode;

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_aftercare"))
}

/// Two practices in the published epraccur layout (27 columns, no header):
/// one with Kent and Medway since 2013, one that joined it in 2024.
const EPRACCUR: &str = "\
G82001,\"THE GROVE SURGERY\",Y59,QKS,\"1 THE GROVE\",\"\",\"MAIDSTONE\",\"KENT\",\"\",\"ME14 1XX\",19740401,,A,B,91Q,20130401,01622 123456,,,,,0,,91Q,,4,
G82002,\"THE QUAY PRACTICE\",Y59,QKS,\"2 THE QUAY\",\"\",\"ROCHESTER\",\"KENT\",\"\",\"ME1 1AA\",19800101,,A,B,92A,20240401,01634 123456,,,,,0,,92A,,4,
";

/// The ONSPD's header (some of its columns) and three postcodes: a Kent
/// district's (two-tier), Medway's (unitary), and one in Guernsey.
const ONSPD: &str = "\
pcd,pcd2,pcds,dointr,doterm,oscty,ced,oslaua,osward,ctry,icb
ME14 1XX,ME14 1XX,ME14 1XX,198001,,E10000016,E58000001,E07000110,E05000001,E92000001,E54000032
ME1  1AA,ME1  1AA,ME1 1AA,198001,,E99999999,E99999999,E06000035,E05000002,E92000001,E54000032
GY1  1AA,GY1  1AA,GY1 1AA,198001,,,,,,L93000001,
";

const ICB_LOOKUP: &str = "\
LOC22CD,LOC22CDH,LOC22NM,ICB22CD,ICB22CDH,ICB22NM,NHSER22CD,NHSER22CDH,NHSER22NM
E38000237,91Q,NHS Kent and Medway ICB - 91Q,E54000032,QKS,NHS Kent and Medway Integrated Care Board,E40000005,Y59,South East
";

/// The tasks about codes the reference data does not know, for `c`'s user.
async fn unknown_tasks(c: &Client) -> Vec<serde_json::Value> {
    let tasks = c.get("/api/v1/tasks").await.json();
    tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "unknown_code")
        .cloned()
        .collect()
}

#[tokio::test]
async fn reference_files_load_once_by_their_content_and_give_commissioners_and_councils() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        let dir = tempfile::tempdir().unwrap();
        // Names that say nothing: the content decides.
        let files: Vec<std::path::PathBuf> =
            [("a.csv", EPRACCUR), ("b.csv", ONSPD), ("c.csv", ICB_LOOKUP)]
                .iter()
                .map(|(name, text)| {
                    let p = dir.path().join(name);
                    std::fs::write(&p, text).unwrap();
                    p
                })
                .collect();
        let db = ["--database", t.url.as_str()];
        let out = bin().args(db).args(["reference", "load"]).args(&files).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{}: {}", t.backend, String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("a.csv: loaded 2 rows of gp_practices"), "{stdout}");
        assert!(stdout.contains("b.csv: loaded 2 rows of postcodes"), "{stdout}");
        assert!(stdout.contains("c.csv: loaded 1 rows of icb_codes"), "{stdout}");
        // Again: nothing is written, and the releases say what was loaded.
        let out = bin().args(db).args(["reference", "load"]).arg(&files[0]).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("was loaded already"));
        let out = bin().args(db).args(["reference", "list"]).output().unwrap();
        let list = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(list.lines().count(), 3, "{list}");
        let audit = aftercare::db::store::all_audit(&t.db).await.unwrap();
        assert_eq!(audit.iter().filter(|a| a.action == "reference.loaded").count(), 3);
        // A bad row refuses the whole file, by row and column.
        let bad = dir.path().join("d.csv");
        std::fs::write(&bad, EPRACCUR.replace("20240401", "2024-04-01")).unwrap();
        let out = bin().args(db).args(["reference", "load"]).arg(&bad).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success());
        assert!(
            stderr.contains("row 2") && stderr.contains("join provider/purchaser date"),
            "{stderr}"
        );
        let out = bin().args(db).args(["reference", "list"]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3, "nothing half-written");

        // A row naming only its GP practice gets the practice's commissioner;
        // one whose practice joined it after the detention is flagged.
        let csv = "nhs_number,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,gp_practice\n\
                   9434765919,Smith,Ann,1980-02-01,3,2023-01-09,E10000016,G82001\n\
                   9434765870,Jones,Bob,1975-05-05,3,2023-03-01,E10000016,G82002\n";
        let report = import(&t.db, csv).await;
        assert_eq!(report.people_added, 2, "{report:?}");
        let detentions = aftercare::db::store::all_detentions(&t.db).await.unwrap();
        assert!(
            detentions.iter().all(|d| d.gp_commissioner.as_deref() == Some("QKS")),
            "{detentions:?}"
        );
        let flagged: Vec<&String> =
            report.warnings.iter().filter(|w| w.contains("G82002")).collect();
        assert_eq!(flagged.len(), 1, "{:?}", report.warnings);
        assert!(flagged[0].contains("Row 3") && flagged[0].contains("1 April 2024"), "{flagged:?}");
        assert!(!report.warnings.iter().any(|w| w.contains("G82001")), "{:?}", report.warnings);

        // At import, a postcode stands for the council and ICB of residence;
        // ZZ99 3VZ for no fixed abode; one the directory lacks refuses the file.
        let by_postcode = "nhs_number,family_name,given_name,date_of_birth,section,detention_start,Home postcode,gp_commissioner\n\
                           9876543210,Patel,Ravi,1990-01-01,3,2024-02-01,me14 1xx,QKS\n\
                           9434765838,Okafor,Ada,1985-06-06,3,2024-03-01,ZZ99 3VZ,QKS\n";
        let report = import(&t.db, by_postcode).await;
        assert_eq!(report.people_added, 2, "{report:?}");
        let people = aftercare::db::store::all_people(&t.db).await.unwrap();
        let id = |name: &str| people.iter().find(|p| p.family_name == name).unwrap().id;
        let detentions = aftercare::db::store::all_detentions(&t.db).await.unwrap();
        let of = |pid: i64| detentions.iter().find(|d| d.person_id == pid).unwrap().clone();
        let patel = of(id("Patel"));
        assert_eq!(
            patel.ordinary_residence.as_deref(),
            Some("E10000016"),
            "the county, not the district"
        );
        assert_eq!(patel.residence_commissioner.as_deref(), Some("QKS"));
        assert!(of(id("Okafor")).no_fixed_abode);
        let unknown = "nhs_number,family_name,given_name,date_of_birth,section,detention_start,residence_postcode\n\
                       9434765811,Brown,Cy,1970-01-01,3,2024-02-01,SW1A 1AA\n";
        let e = aftercare::services::register::import_register(
            &t.db,
            &aftercare::db::store::Actor::cli("test"),
            "r.csv",
            unknown.as_bytes(),
            false,
            today(),
            &|_, _| {},
        )
        .await
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("row 2")
                && text.contains("residence_postcode")
                && text.contains("SW1A 1AA"),
            "{text}"
        );

        // A code the reference data does not know is a warning at import, and
        // the person is on a worklist until it is put right.
        let made_up = "nhs_number,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,gp_commissioner,residence_commissioner,place_of_detention,left_hospital\n\
                       9434765846,Grey,Dee,1960-01-01,3,2024-01-05,E06000099,QXX,QXX,RXY,2024-03-01\n";
        let report = import(&t.db, made_up).await;
        let warned: Vec<&String> =
            report.warnings.iter().filter(|w| w.contains("does not know")).collect();
        assert_eq!(warned.len(), 1, "{:?}", report.warnings);
        assert!(
            warned[0].contains("Row 2")
                && warned[0].contains("ordinary_residence E06000099")
                && warned[0].contains("gp_commissioner QXX"),
            "{warned:?}"
        );
        add_user(&t.db, "mha", "RXY", "mha_administrator").await;
        let c = Client::api_login(state(&t.db), "mha").await;
        let lists = c.get("/api/v1/worklists").await.json();
        let list = lists["lists"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == "unknown-code")
            .unwrap()
            .clone();
        let names: Vec<&str> =
            list["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Dee Grey"], "{list}");
        assert!(list["items"][0]["detail"].as_str().unwrap().contains("E06000099"), "{list}");
        // …and a task for the MHA office holding the record, gone once it is put right.
        let mine = unknown_tasks(&c).await;
        assert_eq!(mine.len(), 1, "{}: {mine:?}", t.backend);
        assert_eq!(mine[0]["person_name"], "Dee Grey");
        assert!(mine[0]["summary"].as_str().unwrap().contains("QXX"), "{mine:?}");
        add_user(&t.db, "kent-lead", "E10000016", "lead_professional").await;
        let lead = Client::api_login(state(&t.db), "kent-lead").await;
        assert!(unknown_tasks(&lead).await.is_empty(), "not a lead professional's task");
        let fixed = made_up.replace("E06000099,QXX,QXX", "E10000016,QKS,QKS");
        import(&t.db, &fixed).await;
        assert!(unknown_tasks(&c).await.is_empty(), "put right: the task goes");

        // A postcode stands for where someone lived: a Kent district's gives
        // the county, never the district; Medway's gives Medway.
        let areas = |p: &str| {
            let p = Postcode::parse(p).unwrap();
            let db = t.db.clone();
            async move { reference::areas_of(&db, &p).await.unwrap() }
        };
        assert_eq!(
            areas("me14 1xx").await,
            PostcodeAreas::Found { council: "E10000016".into(), icb: Some("QKS".into()) }
        );
        assert_eq!(
            areas("ME1 1AA").await,
            PostcodeAreas::Found { council: "E06000035".into(), icb: Some("QKS".into()) }
        );
        assert_eq!(areas("ZZ99 3VZ").await, PostcodeAreas::NoFixedAbode);
        assert_eq!(areas("SW1A 1AA").await, PostcodeAreas::Unknown);
    }
}

#[tokio::test]
async fn a_system_administrator_loads_a_reference_file_in_the_browser() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "sysadmin", "X24", "system_administrator").await;
        add_user(&t.db, "admin", "RXY", "mha_administrator").await;
        let c = Client::login(state(&t.db), "sysadmin").await;
        let page = c.get("/admin/reference").await;
        assert_eq!(page.status, axum::http::StatusCode::OK, "{}: {}", t.backend, page.body);
        assert!(page.body.contains("No reference files are loaded"), "{}", page.body);
        let r = c.upload("/admin/reference", &[("file", Some("practices.csv"), EPRACCUR)]).await;
        assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER, "{}", r.body);
        let page = c.get(&r.location()).await.body;
        assert!(page.contains("2 rows loaded"), "{page}");
        assert!(page.contains("GP practices (ODS)") && page.contains("practices.csv"), "{page}");
        // The same file again changes nothing; a file of another kind is refused in words.
        let r = c.upload("/admin/reference", &[("file", Some("again.csv"), EPRACCUR)]).await;
        assert!(c.get(&r.location()).await.body.contains("was loaded before"));
        let r =
            c.upload("/admin/reference", &[("file", Some("notes.csv"), "name,age\nAnn,3\n")]).await;
        assert_eq!(r.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("There is a problem") && r.body.contains("epraccur"), "{}", r.body);
        let r = c.upload("/admin/reference", &[]).await;
        assert!(r.body.contains("Choose the file to load."), "{}", r.body);
        // Only system administrators.
        let other = Client::login(state(&t.db), "admin").await;
        assert_eq!(other.get("/admin/reference").await.status, axum::http::StatusCode::FORBIDDEN);
    }
}

/// ODS's ICB file (an ICB and its region), its sub-ICB locations (Kent and
/// Medway's 91Q, the CCG of 2020–22, and a made-up 92A) and a succession
/// (NHS Ashford CCG, 09C, merged into 91Q on 1 April 2020), in the published
/// headerless layout.
const ODS_ICBS: &str = "\
QKS,\"NHS KENT AND MEDWAY INTEGRATED CARE BOARD\",Y59,Y59,\"ADDRESS\",,,,,\"ME14 1XX\",20220701,,,,,,,,,,,,,,,,
Y59,\"SOUTH EAST COMMISSIONING REGION\",Y59,,,,,,,,20180401,,,,,,,,,,,,,,,,
";
const ODS_SUB_ICBS: &str = "\
91Q,\"NHS KENT AND MEDWAY ICB - 91Q\",Y59,QKS,\"ADDRESS\",,,,,\"ME14 1XX\",20200401,,,,,,,,,,,,,,,,
92A,\"NHS KENT AND MEDWAY ICB - 92A\",Y59,QKS,\"ADDRESS\",,,,,\"ME1 1AA\",20130401,,,,,,,,,,,,,,,,
";
const ODS_SUCCESSIONS: &str = "09C,91Q,\"Merger\",20200401,\n";

#[tokio::test]
async fn ods_commissioners_and_successions_complete_the_directory_and_a_partnership_may_refuse_unknown_codes()
 {
    for t in backends().await {
        seed_orgs(&t.db).await;
        let actor = aftercare::db::store::Actor::cli("test");
        for (name, text, kind) in [
            ("eauth.csv", ODS_ICBS, "icbs"),
            ("eccg.csv", ODS_SUB_ICBS, "sub_icb_locations"),
            ("succ.csv", ODS_SUCCESSIONS, "successions"),
        ] {
            let loaded = reference::load(&t.db, &actor, name, text.as_bytes()).await.unwrap();
            assert_eq!(loaded.kind, kind, "{}: {name}", t.backend);
        }
        // One file of a kind replaces only that kind.
        let again = reference::load(
            &t.db,
            &actor,
            "eauth2.csv",
            ODS_ICBS.replace("20180401", "20180402").as_bytes(),
        )
        .await
        .unwrap();
        assert!(!again.already);
        let orgs = aftercare::db::reference::ods_organisations(&t.db).await.unwrap();
        assert_eq!(orgs.len(), 4, "{orgs:?}");
        assert!(
            orgs.iter()
                .any(|o| o.code == "Y59"
                    && o.open_date == chrono::NaiveDate::from_ymd_opt(2018, 4, 2))
        );

        // A 2019 detention whose commissioners are Ashford CCG and the
        // sub-ICB location 92A, which the directory lacks: both are added,
        // each with its successor (91Q, which the directory holds, is
        // succeeded by the ICB), so the duty resolves to the ICB today.
        let csv = "nhs_number,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,gp_commissioner,residence_commissioner,place_of_detention,left_hospital\n\
                   9434765919,Smith,Ann,1980-02-01,3,2019-01-09,E10000016,09C,92A,RXY,2019-03-01\n";
        let report = import(&t.db, csv).await;
        assert_eq!(report.people_added, 1, "{report:?}");
        let added: Vec<&String> =
            report.warnings.iter().filter(|w| w.contains("organisation directory")).collect();
        assert_eq!(added.len(), 1, "{:?}", report.warnings);
        assert!(
            added[0].contains("09C (09C, succeeded by 91Q)")
                && added[0].contains("92A (NHS Kent and Medway ICB - 92A, succeeded by QKS)"),
            "{added:?}"
        );
        assert!(
            !report.warnings.iter().any(|w| w.contains("does not know")),
            "{:?}",
            report.warnings
        );
        let ashford = aftercare::db::store::get_org(&t.db, "09C").await.unwrap().unwrap();
        assert_eq!(
            (ashford.kind.as_str(), ashford.valid_to),
            ("ccg", chrono::NaiveDate::from_ymd_opt(2020, 3, 31))
        );
        let location = aftercare::db::store::get_org(&t.db, "92A").await.unwrap().unwrap();
        assert_eq!(
            (location.valid_to, location.successor_code.as_deref()),
            (chrono::NaiveDate::from_ymd_opt(2022, 6, 30), Some("QKS")),
            "a CCG until the ICBs began"
        );
        let people = aftercare::db::store::all_people(&t.db).await.unwrap();
        assert_eq!(people[0].nhs_code.as_deref(), Some("QKS"), "{}: {:?}", t.backend, people[0]);
        let audit = aftercare::db::store::all_audit(&t.db).await.unwrap();
        assert_eq!(
            audit.iter().filter(|a| a.action == "organisation.added_from_reference").count(),
            2
        );

        // A partnership that refuses unknown codes: a row naming one of its
        // bodies and a made-up code is refused by row and column, and
        // nothing is written.
        aftercare::services::admin::save_partnership(
            &t.db,
            &actor,
            aftercare::services::admin::NewPartnership {
                council: "E10000016".into(),
                nhs: "QKS".into(),
                name: "Kent section 117 partnership".into(),
                review_policy: "default".into(),
                qa_ratifies_endings: false,
                funding_decision_days: 28,
                refuse_unknown_codes: true,
            },
        )
        .await
        .unwrap();
        let made_up = "nhs_number,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,gp_commissioner,place_of_detention\n\
                       9434765870,Jones,Bob,1975-05-05,3,2024-01-05,E10000016,QXX,RXY\n";
        let e = aftercare::services::register::import_register(
            &t.db,
            &actor,
            "m.csv",
            made_up.as_bytes(),
            false,
            today(),
            &|_, _| {},
        )
        .await
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("row 2")
                && text.contains("gp_commissioner")
                && text.contains("QXX")
                && text.contains("Kent section 117 partnership"),
            "{text}"
        );
        assert_eq!(aftercare::db::store::all_people(&t.db).await.unwrap().len(), 1);
        // Elsewhere (Lincolnshire, no such partnership), it is a warning.
        let lincs = made_up.replace("E10000016,QXX", "E10000019,QXX");
        let report = import(&t.db, &lincs).await;
        assert_eq!(report.people_added, 1, "{report:?}");
        assert!(
            report.warnings.iter().any(|w| w.contains("does not know")),
            "{:?}",
            report.warnings
        );
    }
}
