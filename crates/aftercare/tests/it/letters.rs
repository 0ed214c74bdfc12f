//! Letters fit to send: names in Polish, Vietnamese and Chinese print (read
//! back with `pdftotext`), every font is embedded (`pdffonts`) and the file
//! is tagged with its title and language (`pdfinfo`); a council's template
//! naming an unknown placeholder is refused by name; text a user typed is
//! printed as typed, braces and all.

use crate::common::*;
use aftercare::services::endings;
use axum::http::StatusCode;
use std::process::Command;

const NAMES_CSV: &str = "\
nhs_number,local_id,family_name,given_name,date_of_birth,section,detention_start,ordinary_residence,no_fixed_abode,gp_practice,gp_commissioner,residence_commissioner,place_of_detention,left_hospital,discharged_to,date_added
9434765919,L1,Wójcik,Łukasz,01/02/1980,3,2023-01-09,E10000016,no,G81001,QKS,QKS,RXY,2023-04-20,E10000016,2023-01-10
9434765870,L2,Nguyễn,Thị Minh Khai,1975-06-30,3,2024-03-01,E10000016,no,G81002,QKS,QKS,RXY,2024-03-20,E10000016,2024-03-02
4010232137,L3,王,芳,1990-01-01,3,2024-03-01,E10000016,no,G81002,QKS,QKS,RXY,2024-03-20,E10000016,2024-03-02
";

/// Runs a poppler tool on the PDF and returns what it printed.
fn poppler(tool: &str, pdf: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(pdf)
        .args(if tool == "pdftotext" { &["-"][..] } else { &[][..] })
        .output()
        .unwrap_or_else(|e| panic!("{tool} (Debian poppler-utils) could not run: {e}"));
    assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Checks a PDF: tagged, titled, in en-GB, every font embedded, and
/// holding each of `texts`, with only the `questions` question marks its
/// text has. Returns its text.
pub(crate) fn check_pdf(bytes: &[u8], title: &str, texts: &[&str], questions: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letter.pdf");
    std::fs::write(&path, bytes).unwrap();
    let info = poppler("pdfinfo", &path, &[]);
    assert!(info.lines().any(|l| l.starts_with("Tagged:") && l.ends_with("yes")), "{info}");
    assert!(info.lines().any(|l| l.strip_prefix("Title:").map(str::trim) == Some(title)), "{info}");
    let fonts = poppler("pdffonts", &path, &[]);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!rows.is_empty(), "{fonts}");
    for row in &rows {
        // name type encoding emb sub uni object ID: "emb" is the fourth
        // column from the right end's five (emb sub uni obj gen).
        let cols: Vec<&str> = row.split_whitespace().collect();
        let emb = cols[cols.len() - 5];
        assert_eq!(emb, "yes", "a font is not embedded: {fonts}");
    }
    let text = poppler("pdftotext", &path, &["-enc", "UTF-8"]);
    for t in texts {
        assert!(text.contains(t), "{t:?} is not in the PDF's text:\n{text}");
    }
    assert_eq!(
        text.matches('?').count(),
        questions,
        "only the text's own question marks, no character printed as ?:\n{text}"
    );
    let catalog = String::from_utf8_lossy(bytes);
    assert!(catalog.contains("en-GB"), "the document language is en-GB");
    text
}

/// Renders the first page to a PNG under `target/letters/` (copied to
/// docs/letters/ for the README).
fn snapshot(bytes: &[u8], name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/letters");
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = dir.join(format!("{name}.pdf"));
    std::fs::write(&pdf, bytes).unwrap();
    let out = Command::new("pdftoppm")
        .args(["-png", "-r", "72", "-singlefile"])
        .arg(&pdf)
        .arg(dir.join(name))
        .output()
        .expect("pdftoppm (Debian poppler-utils)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

async fn person(t: &TestDb, family: &str) -> i64 {
    aftercare::db::store::all_people(&t.db)
        .await
        .unwrap()
        .iter()
        .find(|p| p.family_name == family)
        .unwrap()
        .id
}

#[tokio::test]
async fn names_in_any_script_print_in_embedded_fonts_in_a_tagged_pdf() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    let report = import(&t.db, NAMES_CSV).await;
    assert_eq!(report.people_added, 3);
    for (family, name) in
        [("Wójcik", "Łukasz Wójcik"), ("Nguyễn", "Thị Minh Khai Nguyễn"), ("王", "王芳")]
    {
        let id = person(&t, family).await;
        let letter = endings::factsheet(&t.db, id, today()).await.unwrap().unwrap();
        assert_eq!(letter.recipient, vec![name.to_string()]);
        let pdf = letter.pdf().unwrap();
        let text = check_pdf(
            &pdf,
            "Section 117 after-care: fact sheet",
            &[name, "Kent County Council", "NHS Kent and Medway ICB", "S117/P"],
            0,
        );
        // The NHS number, formatted, and a named contact.
        assert!(text.contains("NHS number:"), "{text}");
        assert!(text.contains("Contact:"), "{text}");
        if family == "Wójcik" {
            assert!(text.contains("943 476 5919"), "{text}");
            snapshot(&pdf, "factsheet");
        }
        // The letters when after-care ends, standard and easy read, filled
        // from the built-in templates (the workflow itself is in endings.rs).
        for kind in ["person", "person_easy_read"] {
            let values = std::collections::BTreeMap::from([
                ("name", name.to_string()),
                ("nhs_number", "943 476 5919".to_string()),
                ("end_date", "19 July 2024".to_string()),
                ("council", "Kent County Council".to_string()),
                ("nhs", "NHS Kent and Medway ICB".to_string()),
                ("reasons", "Needs met; stable for two years. {{ name }}".to_string()),
                ("today", "1 August 2024".to_string()),
                ("reference", "S117/END/7/P1".to_string()),
                ("contact", "Sam Patel, lead professional, Kent County Council".to_string()),
            ]);
            use aftercare::services::letters;
            let body = letters::fill(kind, letters::default_template(kind), &values).unwrap();
            let l = letters::Letter {
                kind: "person",
                title: if kind == "person" {
                    "To the person: section 117 after-care ended".into()
                } else {
                    "Your after-care has stopped".into()
                },
                letterhead: "Kent County Council".into(),
                from_address: Some("Sessions House, Maidstone, ME14 1XQ".into()),
                recipient: vec![name.to_string()],
                reference: letter.reference.clone(),
                date: today(),
                body,
                easy_read: kind == "person_easy_read",
            };
            let pdf = l.pdf().unwrap();
            check_pdf(&pdf, &l.title, &[name, "{{ name }}"], l.body.matches('?').count());
            if family == "Nguyễn" {
                snapshot(&pdf, &format!("letter-{kind}"));
            }
        }
    }
}

#[tokio::test]
async fn an_invoice_is_tagged_with_embedded_fonts_and_right_aligned_amounts() {
    // The invoice CLI path is exercised in finance.rs; here the writer
    // itself, with a table of amounts.
    let rows = vec![
        vec!["943 476 5919".to_string(), "£1,499.99".into(), "£749.99".into(), "£750.00".into()],
        vec![
            "943 476 5870".to_string(),
            "£12,000.00".into(),
            "£6,000.00".into(),
            "£6,000.00".into(),
        ],
    ];
    let pdf = aftercare::pdf::render(
        "Recharge invoice Q1 2024/25",
        &[
            aftercare::pdf::Block::Title("Kent County Council (E10000016)".into()),
            aftercare::pdf::Block::Heading("Section 117 aligned budget: recharge invoice".into()),
            aftercare::pdf::Block::Table {
                widths: vec![3, 2, 2, 2],
                header: vec!["Client".into(), "Cost".into(), "Council".into(), "NHS".into()],
                rows,
                right: vec![false, true, true, true],
            },
        ],
    )
    .unwrap();
    check_pdf(&pdf, "Recharge invoice Q1 2024/25", &["£12,000.00", "£749.99"], 0);
    snapshot(&pdf, "invoice");
}

#[tokio::test]
async fn a_template_with_an_unknown_placeholder_is_refused_by_name() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    let dir = tempfile::tempdir().unwrap();
    let set = |body: &str| {
        let file = dir.path().join("letter.txt");
        std::fs::write(&file, body).unwrap();
        Command::new(env!("CARGO_BIN_EXE_aftercare"))
            .args(["--database", &t.url, "letters", "set", "--council", "E10000016"])
            .args(["--kind", "gp", "--file"])
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = set("Dear {{ doctor_name }}, {{ name }} ...");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("doctor_name") && err.contains("unknown placeholder"), "{err}");
    // The old form is checked the same way.
    let out = set("Dear {doctor}, {name}");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("doctor"));
    // A good one is saved in the new form.
    let out = set("Dear Doctor, {name} ({nhs_number}) left after-care on {end_date}.");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown =
        aftercare::services::admin::letter_template(&t.db, "E10000016", "gp").await.unwrap();
    assert_eq!(
        shown,
        "Dear Doctor, {{ name }} ({{ nhs_number }}) left after-care on {{ end_date }}."
    );
}

#[tokio::test]
async fn typed_text_with_placeholders_is_printed_literally() {
    let t = sqlite().await;
    seed_orgs(&t.db).await;
    add_user(&t.db, "lead", "E10000016", "lead_professional").await;
    import(&t.db, REGISTER_CSV).await;
    let smith = person(&t, "Smith").await;
    let lead = Client::login(state(&t.db), "lead").await;
    let r = lead
        .post_form(
            &format!("/people/{smith}/lead"),
            &[
                ("name", "Dr {{ name }} {council} Jones"),
                ("team", "Community {% if %} team"),
                ("org", "E10000016"),
                ("from", "2024-01-01"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let letter = endings::factsheet(&t.db, smith, today()).await.unwrap().unwrap();
    assert!(
        letter
            .body
            .contains("Dr {{ name }} {council} Jones, lead professional, Community {% if %} team"),
        "{}",
        letter.body
    );
    let text = check_pdf(&letter.pdf().unwrap(), &letter.title, &["Ann Smith"], 0);
    assert!(text.contains("Dr {{ name }} {council} Jones"), "{text}");
}

/// The value of the form field `name` on a page (a textarea's text).
fn textarea(html: &str, name: &str) -> String {
    let open = format!("name=\"{name}\"");
    let i = html.find(&open).unwrap();
    let start = html[i..].find('>').unwrap() + i + 1;
    let end = html[start..].find("</textarea>").unwrap() + start;
    html[start..end].replace("&#10;", "\n").replace("&#x27;", "'").replace("&#39;", "'")
}

#[tokio::test]
async fn a_letter_is_changed_previewed_and_recorded_as_sent() {
    for t in backends().await {
        seed_orgs(&t.db).await;
        add_user(&t.db, "lead", "E10000016", "lead_professional").await;
        add_user(&t.db, "audit", "E10000016", "auditor").await;
        import(&t.db, NAMES_CSV).await;
        let id = person(&t, "王").await;
        let lead = Client::login(state(&t.db), "lead").await;
        let path = format!("/people/{id}/factsheet");
        let page = lead.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        // The name in its own order, and the text offered to change.
        assert!(page.body.contains("王芳"), "{}", t.backend);
        let body = textarea(&page.body, "letter_body");
        assert!(body.starts_with("This fact sheet is for 王芳."), "{body}");
        let changed = body.replace("This fact sheet is for", "We wrote this fact sheet for");
        // A preview shows the change and records nothing.
        let r = lead.post_form(&path, &[("action", "preview"), ("letter_body", &changed)]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(
            r.body.contains("We wrote this fact sheet for 王芳")
                && r.body.contains("not recorded as sent yet")
        );
        // The changed text as a PDF, before it is final.
        let r = lead.post_form(&path, &[("action", "pdf"), ("letter_body", &changed)]).await;
        assert!(r.body.starts_with("%PDF-1.7"));
        // Refused without how or when: the page again, with what was typed.
        let r = lead
            .post_form(
                &path,
                &[("action", "send"), ("letter_body", &changed), ("sent_on", "2099-01-01")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("choose how the letter was sent"), "{}", r.body);
        assert!(r.body.contains("today or in the past"), "{}", r.body);
        assert!(textarea(&r.body, "letter_body").contains("We wrote this fact sheet for"));
        // An empty text is refused on its field.
        let r = lead.post_form(&path, &[("action", "send"), ("letter_body", "  ")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("href=\"#letter_body\""), "{}", r.body);
        assert!(aftercare::services::letters::sent_for_person(&t.db, id).await.unwrap().is_empty());
        // An auditor reads letters but does not send them.
        let auditor = Client::login(state(&t.db), "audit").await;
        assert!(!auditor.get(&path).await.body.contains("Record as sent"));
        let r = auditor
            .post_form(
                &path,
                &[
                    ("action", "send"),
                    ("letter_body", &changed),
                    ("method", "post"),
                    ("sent_on", "2026-11-24"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", t.backend);
        // Sent by post: recorded as it went out, on the history and the person's page.
        let r = lead
            .post_form(
                &path,
                &[
                    ("action", "send"),
                    ("letter_body", &changed),
                    ("method", "post"),
                    ("sent_on", "2026-11-24"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let at = r.location();
        assert!(
            at.starts_with(&format!("/people/{id}/letters/")) && at.ends_with("?recorded=1"),
            "{at}"
        );
        let shown = lead.get(&at).await.body;
        assert!(
            shown.contains("Letter recorded as sent")
                && shown.contains("24 November 2026, by post"),
            "{shown}"
        );
        assert!(
            shown.contains("Changed by the sender")
                && shown.contains("We wrote this fact sheet for 王芳")
        );
        assert!(
            !shown.contains("Record as sent"),
            "a letter sent is not sent again from its own page"
        );
        let pdf = lead.get(&format!("{}?format=pdf", at.split('?').next().unwrap())).await;
        let text = check_pdf(
            &pdf.bytes,
            "Section 117 after-care: fact sheet",
            &["We wrote this fact sheet for 王芳"],
            0,
        );
        assert!(!text.contains("This fact sheet is for"), "{text}");
        let history = aftercare::db::store::audit_for_person(&t.db, id).await.unwrap();
        let h = history.iter().find(|h| h.action == "letter.sent").expect("in the history");
        assert_eq!(h.actor, "lead");
        assert!(
            h.reason
                .as_deref()
                .unwrap()
                .contains("by post, 24 November 2026 (text changed before sending)"),
            "{:?}",
            h.reason
        );
        let person_page = lead.get(&format!("/people/{id}")).await.body;
        assert!(
            person_page.contains("Letters sent")
                && person_page.contains("24 November 2026, by post, recorded by lead"),
            "{}",
            t.backend
        );
        // An address recorded is where the person's letters go; the letter sent keeps the old one.
        let r = lead
            .post_form(
                &format!("/people/{id}/address"),
                &[("address", "Flat 2\r\n 10 High Street \r\n\r\nMaidstone\r\nME14 1XQ")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let person_page = lead.get(&format!("/people/{id}")).await.body;
        assert!(
            person_page.contains("Flat 2<br>10 High Street<br>Maidstone<br>ME14 1XQ"),
            "{}",
            t.backend
        );
        let sheet =
            aftercare::services::endings::factsheet(&t.db, id, today()).await.unwrap().unwrap();
        assert_eq!(sheet.recipient, ["王芳", "Flat 2", "10 High Street", "Maidstone", "ME14 1XQ"]);
        check_pdf(&sheet.pdf().unwrap(), &sheet.title, &["10 High Street", "ME14 1XQ"], 0);
        let too_long = "a\nb\nc\nd\ne\nf\ng\nh\ni";
        let r = lead.post_form(&format!("/people/{id}/address"), &[("address", too_long)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("at most 8 lines"), "{}", r.body);
        let r = auditor.post_form(&format!("/people/{id}/address"), &[("address", "x")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let history = aftercare::db::store::audit_for_person(&t.db, id).await.unwrap();
        assert!(history.iter().any(|h| h.action == "person.address_recorded"));
        // The letter as sent does not change when the template or the address does.
        let sent = aftercare::services::letters::sent_for_person(&t.db, id).await.unwrap();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].edited && sent[0].letter.recipient == vec!["王芳".to_string()]);
    }
}
