//! The `aftercare` binary: the command-line edge. Errors are reported here,
//! once, with their causes; everything else lives in the library.

use std::io::{BufRead, IsTerminal, Read, Write};

/// mimalloc instead of the system allocator: bulk imports and busy servers
/// allocate many small rows, where glibc's allocator spent a fifth of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use aftercare::access_log::AccessKind;
use aftercare::auth::{parse_roles, roles_to_string};
use aftercare::cli::{
    AuditCommand, Cli, Command, DueFormat, ExportCommand, Format, FundingCommand, ImportCommand,
    InvoiceFormat, LettersCommand, OrgsCommand, PartnershipsCommand, ReviewsCommand,
    ScenariosCommand, ServeArgs, ShareCommand, SplitFormat, TokensCommand, UsersCommand,
    WhatIfArgs,
};
use aftercare::db::Db;
use aftercare::db::store::{self, Actor, OrgRow};
use aftercare::export::{ExportView, REGISTER_HEADERS, register_rows};
use aftercare::register::{self, RegisterError};
use aftercare::web::{AppState, ServerConfig, app};
use aftercare::{accounts, demo};
use anyhow::{Context, Result, bail};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AFTERCARE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        // A reader that stops early (`| head`) is not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

async fn open(url: &str) -> Result<Db> {
    Db::connect(url)
        .await
        .with_context(|| format!("failed to open the database at {}", redact_url(url)))
}

/// Hides a password in a database URL before it is printed.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

async fn actor_for(db: &Db, name: Option<String>) -> Result<Actor> {
    match name {
        Some(n) => {
            let row = store::user_by_username(db, &n)
                .await?
                .with_context(|| format!("no user `{n}` (see `aftercare users list`)"))?;
            Ok(Actor {
                user_id: Some(row.id),
                username: row.username,
                org_code: Some(row.org_code),
            })
        }
        None => Ok(Actor::cli(&std::env::var("USER").unwrap_or_else(|_| "unknown".into()))),
    }
}

async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    match cli.command {
        Command::Serve(args) => serve(&cli.database, args).await?,
        Command::Demo(args) => {
            let db = open(&cli.database).await?;
            let logins = demo::seed(&db, args.people, args.seed, today()).await?;
            print_logins(&logins);
        }
        Command::Users(UsersCommand::Add { username, name, org, roles, team, password_stdin }) => {
            let db = open(&cli.database).await?;
            let roles = parse_roles(&roles).map_err(anyhow::Error::msg)?;
            let password = read_password(password_stdin)?;
            let actor = actor_for(&db, None).await?;
            accounts::add_user(
                &db,
                &actor,
                &accounts::NewAccount {
                    username: &username,
                    display_name: &name,
                    org_code: &org,
                    roles: &roles,
                    team: team.as_deref(),
                    password: &password,
                },
            )
            .await?;
            println!("added user {username} ({}) of {org}", roles_to_string(&roles));
        }
        Command::Users(UsersCommand::Disable { username }) => {
            let db = open(&cli.database).await?;
            let actor = actor_for(&db, None).await?;
            let ended = accounts::disable(&db, &actor, &username).await?;
            println!("disabled {username}; {ended} sessions and API tokens ended");
        }
        Command::Users(UsersCommand::Enable { username }) => {
            let db = open(&cli.database).await?;
            let actor = actor_for(&db, None).await?;
            accounts::enable(&db, &actor, &username).await?;
            println!("enabled {username}");
        }
        Command::Users(UsersCommand::ResetPassword { username, password_stdin }) => {
            let db = open(&cli.database).await?;
            let actor = actor_for(&db, None).await?;
            let password = read_password(password_stdin)?;
            let ended = accounts::reset_password(&db, &actor, &username, &password).await?;
            println!("set a new password for {username}; {ended} sessions and API tokens ended");
        }
        Command::Users(UsersCommand::SetRoles { username, roles }) => {
            let db = open(&cli.database).await?;
            let roles = parse_roles(&roles).map_err(anyhow::Error::msg)?;
            let actor = actor_for(&db, None).await?;
            accounts::set_roles(&db, &actor, &username, &roles).await?;
            println!("{username} now has the roles {}", roles_to_string(&roles));
        }
        Command::Tokens(TokensCommand::Revoke { user, all: _ }) => {
            let db = open(&cli.database).await?;
            let actor = actor_for(&db, None).await?;
            let n = accounts::revoke_tokens(&db, &actor, user.as_deref()).await?;
            match user {
                Some(u) => println!("revoked {n} API tokens of {u}"),
                None => println!("revoked {n} API tokens"),
            }
        }
        Command::Users(UsersCommand::List) => {
            let db = open(&cli.database).await?;
            for u in store::list_users(&db).await? {
                println!(
                    "{}\t{}\t{}\t{}{}",
                    u.username,
                    u.org_code,
                    u.roles,
                    u.display_name,
                    if u.disabled { "\t(disabled)" } else { "" }
                );
            }
        }
        Command::Orgs(OrgsCommand::Add { code, name, kind, successor, valid_to }) => {
            let db = open(&cli.database).await?;
            let code = demo::parse_org(&code).map_err(anyhow::Error::msg)?;
            let kind = aftercare_core::org::OrgKind::parse(&kind)
                .with_context(|| format!("unknown organisation kind `{kind}`"))?;
            let successor =
                successor.map(|s| demo::parse_org(&s)).transpose().map_err(anyhow::Error::msg)?;
            let org = OrgRow {
                code: code.clone(),
                name,
                kind: kind.as_str().into(),
                valid_from: None,
                valid_to,
                successor_code: successor,
                address: None,
            };
            let mut tx = db.begin_write().await?;
            if let Some(s) = &org.successor_code
                && store::get_org(&db, s).await?.is_none()
            {
                bail!("no successor organisation `{s}`: add it first");
            }
            store::upsert_org(&mut tx, &org).await?;
            let actor = actor_for(&db, None).await?;
            store::append_audit(
                &mut tx,
                &actor,
                store::AuditEntry {
                    action: "organisation.saved",
                    person_id: None,
                    entity: "organisation",
                    entity_id: Some(code.clone()),
                    reason: None,
                    details: serde_json::to_value(&org)?,
                },
            )
            .await?;
            tx.commit().await?;
            println!("saved organisation {code}");
        }
        Command::Orgs(OrgsCommand::List) => {
            let db = open(&cli.database).await?;
            for o in store::list_orgs(&db).await? {
                println!(
                    "{}\t{}\t{}{}",
                    o.code,
                    o.kind,
                    o.name,
                    o.successor_code.map(|s| format!("\t→ {s}")).unwrap_or_default()
                );
            }
        }
        Command::Import(ImportCommand::Register { file, dry_run, actor }) => {
            let db = open(&cli.database).await?;
            let actor = actor_for(&db, actor).await?;
            let bytes =
                read_input(&file).with_context(|| format!("failed to read {}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| file.display().to_string());
            let bar = progress_bar();
            let result = register::import_register(
                &db,
                &actor,
                &name,
                &bytes,
                dry_run,
                today(),
                &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )
            .await;
            bar.finish_and_clear();
            match result {
                Ok(r) => {
                    let verb = if dry_run { "would change" } else { "changed" };
                    if r.changes() == 0 {
                        println!(
                            "{name}: {} rows checked; no changes (the register already holds this file)",
                            r.rows
                        );
                    } else {
                        println!(
                            "{name}: {} rows checked; {verb}: {} people added, {} people corrected, {} detentions added, {} detentions corrected; {} rows unchanged",
                            r.rows,
                            r.people_added,
                            r.people_corrected,
                            r.detentions_added,
                            r.detentions_corrected,
                            r.unchanged_rows
                        );
                    }
                    if dry_run {
                        println!("dry run: nothing was written");
                    }
                }
                Err(RegisterError::Invalid(errors)) => {
                    eprintln!("{errors}");
                    eprintln!("nothing was imported");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Command::Export(ExportCommand::Register { as_of, known_now, format, output }) => {
            let db = open(&cli.database).await?;
            let now = today();
            let view = ExportView {
                as_of: as_of.unwrap_or(now),
                historical: as_of.is_some_and(|d| d < now),
                known_now,
            };
            let rows = register_rows(&db, view, None).await?;
            let bytes = match format {
                Format::Csv => aftercare_files::write_csv(&REGISTER_HEADERS, &rows),
                Format::Xlsx => aftercare_files::write_xlsx("Register", &REGISTER_HEADERS, &rows)?,
            };
            let filter = format!("as_of={} known_now={known_now} format={format:?}", view.as_of);
            log_export(&db, AccessKind::RegisterExport, rows.len(), &filter).await?;
            write_output(output.as_deref(), &bytes, format)?;
        }
        Command::Export(ExportCommand::Fhir { output }) => {
            let db = open(&cli.database).await?;
            let bundle = aftercare::fhir::load(&db, chrono::Utc::now(), today()).await?;
            let entries = bundle["entry"].as_array().map_or(0, Vec::len);
            log_export(&db, AccessKind::FhirExport, entries, "").await?;
            // JSON is plain text: written as the CSV export is (no byte-order mark to strip).
            write_output(
                output.as_deref(),
                aftercare::fhir::to_json(&bundle).as_bytes(),
                Format::Csv,
            )?;
        }
        Command::Audit(AuditCommand::Verify { checkpoint }) => {
            let db = open(&cli.database).await?;
            let checkpoint = match checkpoint {
                Some(path) => Some(read_checkpoint(&path)?),
                None => None,
            };
            let report = aftercare::audit::verify(&db, checkpoint.as_ref()).await?;
            if report.problems.is_empty() {
                println!(
                    "audit trail intact: {} authenticated with the audit key, {} from before keying, {} fact rows checked{}: {} records, hash chain verified",
                    report.records - report.unkeyed,
                    report.unkeyed,
                    report.rows_checked,
                    if checkpoint.is_some() { ", checkpoint matched" } else { "" },
                    report.records,
                );
            } else {
                for p in &report.problems {
                    println!("{p}");
                }
                println!(
                    "audit trail damaged: {} problems in {} records",
                    report.problems.len(),
                    report.records
                );
                return Ok(ExitCode::from(1));
            }
        }
        Command::Audit(AuditCommand::Checkpoint { output }) => {
            let db = open(&cli.database).await?;
            let c = aftercare::audit::checkpoint(&db).await?;
            write_private(&output, c.to_json().as_bytes())?;
            println!("wrote {}: {} records, head record {}", output.display(), c.count, c.head_id);
        }
        Command::Audit(AuditCommand::Access { nhs_number, format, actor, limit }) => {
            let db = open(&cli.database).await?;
            let nhs = aftercare_core::NhsNumber::parse(&nhs_number)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let person = store::person_by_nhs_number(&db, nhs.as_str())
                .await?
                .context("no person with that NHS number is on the register")?
                .id;
            let actor = actor_for(&db, actor).await?;
            let rows = aftercare::access_log::for_person(&db, person, limit).await?;
            // Reading who has looked is itself a read of the person.
            aftercare::access_log::record(
                &db,
                &actor,
                aftercare::access_log::Access {
                    kind: aftercare::access_log::AccessKind::AccessLogRead,
                    person_id: Some(person),
                    route: Some("aftercare audit access"),
                    rows: Some(rows.len() as i64),
                    detail: None,
                },
            )
            .await?;
            print_access(&rows, format)?;
        }
        Command::Scenarios(ScenariosCommand::Check { paths }) => return scenarios_check(&paths),
        Command::WhatIf(args) => what_if(&cli.database, args).await?,
        Command::Import(ImportCommand::Reviews { file, dry_run, actor }) => {
            let db = open(&cli.database).await?;
            let actor = actor_for(&db, actor).await?;
            let bytes =
                read_input(&file).with_context(|| format!("failed to read {}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| file.display().to_string());
            match aftercare::care::import_reviews(&db, &actor, &name, &bytes, dry_run).await {
                Ok(r) => {
                    println!(
                        "{name}: {} rows checked; {} reviews {}; {} already recorded",
                        r.rows,
                        r.added,
                        if dry_run { "would be added" } else { "added" },
                        r.unchanged
                    );
                    if dry_run {
                        println!("dry run: nothing was written");
                    }
                }
                Err(RegisterError::Invalid(errors)) => {
                    eprintln!("{errors}");
                    eprintln!("nothing was imported");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Command::Reviews(ReviewsCommand::Due { as_of, policy, format }) => {
            let db = open(&cli.database).await?;
            let policy = match policy {
                Some(name) => Some(aftercare_core::reviews::policy(&name).with_context(|| {
                    format!(
                        "unknown review policy `{name}` (known: {})",
                        aftercare_core::reviews::policy_names().join(", ")
                    )
                })?),
                None => None,
            };
            let cases = aftercare::care::all_cases(&db, as_of).await?;
            let partnerships = aftercare::db::care::partnerships(&db).await?;
            let rows = aftercare::care::reviews_due(&cases, &partnerships, as_of, policy.as_ref());
            log_export(&db, AccessKind::CliReviewsDue, rows.len(), &format!("as_of={as_of}"))
                .await?;
            let mut out = std::io::stdout().lock();
            match format {
                DueFormat::Csv => {
                    writeln!(out, "nhs_number,review,due,overdue_days")?;
                    for r in rows {
                        writeln!(
                            out,
                            "{},{},{},{}",
                            r.nhs_number, r.review, r.due, r.overdue_days
                        )?;
                    }
                }
                DueFormat::Wide => {
                    let table: Vec<Vec<String>> = rows
                        .iter()
                        .map(|r| {
                            vec![
                                r.nhs_number.clone(),
                                r.review.clone(),
                                r.due.to_string(),
                                r.overdue_days.to_string(),
                                r.name.clone(),
                                r.policy.clone(),
                                r.council.clone(),
                                r.nhs.clone(),
                                r.lead_professional.clone(),
                                r.team.clone(),
                            ]
                        })
                        .collect();
                    let bytes = aftercare_files::write_csv(
                        &[
                            "nhs_number",
                            "review",
                            "due",
                            "overdue_days",
                            "name",
                            "policy",
                            "council",
                            "nhs_commissioner",
                            "lead_professional",
                            "team",
                        ],
                        &table,
                    );
                    out.write_all(strip_bom(&bytes))?;
                }
            }
        }
        Command::Partnerships(PartnershipsCommand::Add {
            council,
            nhs,
            name,
            review_policy,
            qa_ratifies_endings,
        }) => {
            let db = open(&cli.database).await?;
            if aftercare_core::reviews::policy(&review_policy).is_none() {
                bail!(
                    "unknown review policy `{review_policy}` (known: {})",
                    aftercare_core::reviews::policy_names().join(", ")
                );
            }
            for code in [&council, &nhs] {
                if store::get_org(&db, code).await?.is_none() {
                    bail!("no organisation `{code}` (add it with `aftercare orgs add`)");
                }
            }
            let row = aftercare::db::care::PartnershipRow {
                id: 0,
                council_code: council.clone(),
                nhs_code: nhs.clone(),
                name,
                review_policy,
                qa_ratifies_endings,
            };
            let mut tx = db.begin_write().await?;
            aftercare::db::care::upsert_partnership(&mut tx, &row).await?;
            let actor = actor_for(&db, None).await?;
            store::append_audit(
                &mut tx,
                &actor,
                store::AuditEntry {
                    action: "partnership.saved",
                    person_id: None,
                    entity: "partnership",
                    entity_id: Some(format!("{council}+{nhs}")),
                    reason: None,
                    details: serde_json::to_value(&row)?,
                },
            )
            .await?;
            tx.commit().await?;
            println!("saved partnership {council} + {nhs}");
        }
        Command::Funding(FundingCommand::Split {
            policy,
            weekly_cost,
            cohort,
            age,
            months_since_discharge,
            fully_chc,
            format,
        }) => {
            use aftercare_core::funding;
            let policy = funding::policy(&policy).with_context(|| {
                let known: Vec<_> =
                    funding::policies().iter().map(|p| p.name.to_string()).collect();
                format!("unknown funding policy `{policy}` (known: {})", known.join(", "))
            })?;
            let weekly = aftercare_core::Pence::parse_pounds(&weekly_cost)
                .with_context(|| format!("--weekly-cost `{weekly_cost}`"))?;
            let mut facts = funding::CaseFacts::weekly(weekly);
            facts.age = age;
            facts.months_since_discharge = months_since_discharge;
            facts.fully_chc = fully_chc;
            if let Some(c) = cohort {
                facts.cohort =
                    Some(funding::Cohort::parse(&c).with_context(|| format!("--cohort `{c}`"))?);
            }
            let d = funding::split_weekly(&policy, &facts)?;
            match format {
                SplitFormat::Json => println!(
                    "{}",
                    serde_json::json!({"council_pence": d.council_pence, "nhs_pence": d.nhs_pence, "rule": d.rule})
                ),
                SplitFormat::Text => {
                    println!(
                        "council {}  NHS {}  of {} a week",
                        aftercare_core::Pence(d.council_pence),
                        aftercare_core::Pence(d.nhs_pence),
                        weekly
                    );
                    println!("rule {}: {}", d.rule, d.explanation);
                }
            }
        }
        Command::Reconcile { charges, payments, as_of, format, output } => {
            let as_of = as_of.unwrap_or_else(today);
            let read = |path: &PathBuf| -> Result<(String, Vec<u8>)> {
                let bytes = read_input(path)
                    .with_context(|| format!("failed to read {}", path.display()))?;
                Ok((
                    path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
                    bytes,
                ))
            };
            let (cname, cbytes) = read(&charges)?;
            let (pname, pbytes) = read(&payments)?;
            // The files are checked on one core while the register is read
            // and derived on the other.
            let db = open(&cli.database).await?;
            let started = std::time::Instant::now();
            let parsing = tokio::task::spawn_blocking(move || {
                let parsed = (
                    aftercare_files::parse_charges(&cname, &cbytes),
                    aftercare_files::parse_payments(&pname, &pbytes),
                );
                tracing::debug!(elapsed = ?started.elapsed(), "reconcile: files checked");
                parsed
            });
            let entitled = aftercare::reconcile::entitled_periods(
                &db,
                as_of,
                aftercare::reconcile::Caseload::WholeRegister,
            )
            .await?;
            tracing::debug!(elapsed = ?started.elapsed(), "reconcile: register derived");
            let parsed = parsing.await?;
            let (charges, payments) = match parsed {
                (Ok(c), Ok(p)) => (c, p),
                (c, p) => {
                    for e in [c.err(), p.err()].into_iter().flatten() {
                        eprintln!("{e}");
                    }
                    eprintln!("nothing was reconciled");
                    return Ok(ExitCode::from(1));
                }
            };
            let findings = aftercare::reconcile::reconcile(&entitled, &charges, &payments, as_of);
            log_export(&db, AccessKind::Reconciliation, findings.len(), &format!("as_of={as_of}"))
                .await?;
            let rows: Vec<Vec<String>> = findings
                .iter()
                .map(|f| {
                    vec![
                        f.kind.as_str().to_string(),
                        f.nhs_number.clone(),
                        f.from.to_string(),
                        f.to.to_string(),
                        aftercare::invoice::pounds(f.amount),
                    ]
                })
                .collect();
            let headers = ["finding", "nhs_number", "from", "to", "amount"];
            let bytes = match format {
                Format::Csv => aftercare_files::write_csv(&headers, &rows),
                Format::Xlsx => aftercare_files::write_xlsx("Findings", &headers, &rows)?,
            };
            write_output(output.as_deref(), &bytes, format)?;
        }
        Command::Funding(FundingCommand::Agree { council, nhs, policy, from, to, policy_file }) => {
            let db = open(&cli.database).await?;
            let (policy, policy_json) = match policy_file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("failed to read {}", path.display()))?;
                    let custom: aftercare_core::funding::FundingPolicy =
                        serde_json::from_str(&text)
                            .with_context(|| format!("{}: not a funding policy", path.display()))?;
                    (custom.name.clone(), Some(serde_json::to_string(&custom)?))
                }
                None => (policy, None),
            };
            if policy_json.is_none() && aftercare_core::funding::policy(&policy).is_none() {
                bail!("unknown funding policy `{policy}` (see `aftercare funding policies`)");
            }
            let actor = actor_for(&db, None).await?;
            let mut tx = db.begin_write().await?;
            // Checked inside the write transaction, so an organisation
            // removed meanwhile cannot be named by the agreement.
            for code in [&council, &nhs] {
                if store::get_org_tx(&mut tx, code).await?.is_none() {
                    bail!("no organisation `{code}` (add it with `aftercare orgs add`)");
                }
            }
            let id = aftercare::db::care::insert_agreement(
                &mut tx,
                &council,
                &nhs,
                &policy,
                from,
                to,
                policy_json.as_deref(),
                &actor,
            )
            .await?;
            store::append_audit(&mut tx, &actor, store::AuditEntry { action: "funding_agreement.recorded", person_id: None, entity: "funding_agreement", entity_id: Some(id.to_string()), reason: None, details: serde_json::json!({"council": council, "nhs": nhs, "policy": policy, "from": from, "to": to}) }).await?;
            tx.commit().await?;
            println!("recorded agreement {policy} between {council} and {nhs} from {from}");
        }
        Command::Funding(FundingCommand::Costs { from, to, format, output }) => {
            let db = open(&cli.database).await?;
            let cases = aftercare::care::all_cases(&db, today()).await?;
            let agreements = aftercare::db::care::agreements(&db).await?;
            let rows: Vec<Vec<String>> =
                aftercare::costs::cost_lines(&cases, &agreements, from, to)
                    .into_iter()
                    .map(|l| {
                        vec![
                            l.month,
                            l.nhs_number,
                            l.council_code,
                            l.nhs_code,
                            l.need,
                            aftercare::invoice::pounds(l.council),
                            aftercare::invoice::pounds(l.nhs),
                            l.rule,
                        ]
                    })
                    .collect();
            log_export(
                &db,
                AccessKind::CliFundingCosts,
                rows.len(),
                &format!("from={from} to={to}"),
            )
            .await?;
            let headers = [
                "month",
                "nhs_number",
                "council",
                "nhs_commissioner",
                "need",
                "council_owes",
                "nhs_owes",
                "rule",
            ];
            let bytes = match format {
                Format::Csv => aftercare_files::write_csv(&headers, &rows),
                Format::Xlsx => aftercare_files::write_xlsx("Costs", &headers, &rows)?,
            };
            write_output(output.as_deref(), &bytes, format)?;
        }
        Command::Funding(FundingCommand::Invoice {
            council,
            nhs,
            year,
            quarter,
            format,
            output,
        }) => {
            let db = open(&cli.database).await?;
            let q = aftercare_core::funding::Quarter::new(year, quarter)?;
            let cases = aftercare::care::all_cases(&db, today()).await?;
            let agreements = aftercare::db::care::agreements(&db).await?;
            let inv =
                aftercare::invoice::quarterly_invoice(&cases, &agreements, &council, &nhs, q)?;
            let orgs = store::list_orgs(&db).await?;
            let name = |code: &str| {
                orgs.iter()
                    .find(|o| o.code == code)
                    .map(|o| format!("{} ({code})", o.name))
                    .unwrap_or_else(|| code.to_string())
            };
            let (from_code, to_code) = match inv.from {
                aftercare_core::rules::Body::Council => (council.clone(), nhs.clone()),
                aftercare_core::rules::Body::Nhs => (nhs.clone(), council.clone()),
            };
            let bytes = match format {
                InvoiceFormat::Csv => aftercare_files::write_csv(
                    &aftercare::invoice::INVOICE_HEADERS,
                    &aftercare::invoice::invoice_rows(&inv),
                ),
                InvoiceFormat::Pdf => aftercare::invoice::invoice_pdf(
                    &inv,
                    &name(&from_code),
                    &name(&to_code),
                    today(),
                ),
            };
            match (output, format) {
                (Some(p), _) => write_output(Some(&p), &bytes, Format::Xlsx)?,
                (None, InvoiceFormat::Pdf) if std::io::stdout().is_terminal() => {
                    bail!("a PDF invoice needs --output FILE")
                }
                (None, _) => write_output(None, &bytes, Format::Csv)?,
            }
        }
        Command::Funding(FundingCommand::Sample { council, nhs, year, seed }) => {
            let db = open(&cli.database).await?;
            let fy = aftercare_core::funding::Period::financial_year(year)?;
            let cases = aftercare::care::all_cases(&db, today()).await?;
            let agreements = aftercare::db::care::agreements(&db).await?;
            let lines = aftercare::invoice::client_costs(
                &cases,
                &agreements,
                &council,
                &nhs,
                fy.from(),
                fy.to_inclusive(),
            );
            let ids: Vec<String> = lines.iter().map(|l| l.client_ref.clone()).collect();
            let chosen = aftercare_core::funding::sample_cases(&ids, seed);
            let rows: Vec<Vec<String>> = chosen
                .iter()
                .map(|c| {
                    vec![
                        c.clone(),
                        String::new(),
                        lines
                            .iter()
                            .find(|l| &l.client_ref == c)
                            .map(|l| aftercare::invoice::pounds(l.cost))
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            write_output(
                None,
                &aftercare_files::write_csv(
                    &["case_ref", "qualifies_for_health_funding", "annual_cost"],
                    &rows,
                ),
                Format::Csv,
            )?;
            eprintln!(
                "sampled {} of {} cases (seed {seed}); fill in qualifies_for_health_funding (yes/no) from the decision support tool, then run `aftercare funding reset`",
                chosen.len(),
                ids.len()
            );
        }
        Command::Funding(FundingCommand::Reset { council, nhs, outcomes, pooled_total, year }) => {
            let db = open(&cli.database).await?;
            let bytes = read_input(&outcomes)
                .with_context(|| format!("failed to read {}", outcomes.display()))?;
            let name = outcomes.display().to_string();
            let table = aftercare_files::read_table(&name, &bytes)?;
            let mut sample = Vec::new();
            let mut problems = Vec::new();
            for row in &table.rows {
                let cell =
                    |i: usize| row.cells.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
                let qualifies = match cell(1).to_ascii_lowercase().as_str() {
                    "yes" | "y" | "true" => true,
                    "no" | "n" | "false" => false,
                    other => {
                        problems.push(format!("row {}, column qualifies_for_health_funding: `{other}` is not yes or no", row.line));
                        continue;
                    }
                };
                match aftercare_core::Pence::parse_pounds(&cell(2)) {
                    Ok(cost) => sample.push(aftercare_core::funding::SampledCase {
                        case_ref: cell(0),
                        qualifies_for_health_funding: qualifies,
                        annual_cost: cost,
                    }),
                    Err(e) => problems.push(format!("row {}, column annual_cost: {e}", row.line)),
                }
            }
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!("nothing was computed");
                return Ok(ExitCode::from(1));
            }
            let fy = aftercare_core::funding::Period::financial_year(year)?;
            let agreements = aftercare::db::care::agreements(&db).await?;
            let agreement = aftercare::costs::agreement_on(
                &agreements,
                &council,
                &nhs,
                fy.to_inclusive(),
            )
            .with_context(|| {
                format!(
                    "no agreement between {council} and {nhs} in force at the end of {year}/{:02}",
                    (year + 1) % 100
                )
            })?;
            let policy = agreement
                .policy()
                .with_context(|| format!("unknown policy {}", agreement.policy))?;
            let pooled = match pooled_total {
                Some(p) => aftercare_core::Pence::parse_pounds(&p)
                    .with_context(|| format!("--pooled-total `{p}`"))?,
                None => {
                    let cases = aftercare::care::all_cases(&db, today()).await?;
                    aftercare_core::Pence(
                        aftercare::invoice::client_costs(
                            &cases,
                            &agreements,
                            &council,
                            &nhs,
                            fy.from(),
                            fy.to_inclusive(),
                        )
                        .iter()
                        .map(|l| l.cost.0)
                        .sum(),
                    )
                }
            };
            let r = aftercare_core::funding::reset_split(&policy, &sample, pooled)?;
            let actor = actor_for(&db, None).await?;
            store::audit_alone(
                &db,
                &actor,
                store::AuditEntry {
                    action: "funding_split.reset_computed",
                    person_id: None,
                    entity: "funding_agreement",
                    entity_id: Some(agreement.id.to_string()),
                    reason: None,
                    details: serde_json::to_value(&r)?,
                },
            )
            .await?;
            println!(
                "current council share {}; new council share {} from {} sampled cases",
                r.current_council_share,
                r.new_council_share,
                sample.len()
            );
            println!(
                "on a pooled total of {pooled}: council {} now, {} at the new share; variance {}",
                r.current_council_pence,
                r.new_council_pence,
                aftercare_core::Pence(r.variance_pence)
            );
            println!(
                "{}",
                if r.exceeds_threshold {
                    "the variance exceeds the threshold: refer to both bodies' governance"
                } else {
                    "the variance is within the threshold"
                }
            );
        }
        Command::Share(ShareCommand::Recipient { org, age_recipient }) => {
            let db = open(&cli.database).await?;
            if store::get_org(&db, &org).await?.is_none() {
                bail!("no organisation `{org}`");
            }
            let actor = actor_for(&db, None).await?;
            aftercare::sharing::set_recipient(&db, &actor, &org, &age_recipient).await?;
            println!("copies for {org} will be encrypted to {}", age_recipient.trim());
        }
        Command::Share(ShareCommand::Monthly { org, month, format, out_dir, if_due }) => {
            use chrono::Datelike;
            let db = open(&cli.database).await?;
            let now = today();
            let month = month.unwrap_or_else(|| format!("{:04}-{:02}", now.year(), now.month()));
            if if_due && aftercare::sharing::sharing_date(&month)? != now {
                println!("not due: the share for {month} is made on its first working day");
                return Ok(ExitCode::SUCCESS);
            }
            let actor = actor_for(&db, None).await?;
            let fmt = if format == Format::Csv {
                aftercare::sharing::ShareFormat::Csv
            } else {
                aftercare::sharing::ShareFormat::Xlsx
            };
            match aftercare::sharing::share_monthly(&db, &actor, &org, &month, fmt, if_due, now)
                .await?
            {
                None => println!("already shared {month} with {org}"),
                Some(share) => {
                    let path = out_dir.join(&share.record.file_name);
                    aftercare::backup::write_owner_only(&path, &share.encrypted)
                        .with_context(|| format!("failed to write {}", path.display()))?;
                    println!(
                        "wrote {} ({} people as at {}, encrypted to {org}; SHA-256 of the contents {})",
                        path.display(),
                        share.record.rows,
                        share.record.as_of,
                        share.record.sha256
                    );
                    // The trail's head, including this share's own record,
                    // goes with the share: a copy kept outside the database.
                    let c = aftercare::audit::checkpoint(&db).await?;
                    let cp = out_dir.join(format!(
                        "{}.checkpoint.json",
                        share.record.file_name.trim_end_matches(".age")
                    ));
                    write_private(&cp, c.to_json().as_bytes())?;
                    println!("wrote {} (audit checkpoint: {} records)", cp.display(), c.count);
                }
            }
        }
        Command::Letters(LettersCommand::Show { council, kind }) => {
            let db = open(&cli.database).await?;
            if !aftercare::endings::LETTER_KINDS.iter().any(|(k, _)| *k == kind)
                && kind != "factsheet"
            {
                bail!("unknown letter `{kind}`");
            }
            let own = aftercare::db::endings::letter_template(&db, &council, &kind).await?;
            print!(
                "{}",
                own.unwrap_or_else(|| aftercare::endings::default_template(&kind).to_string())
            );
            println!();
        }
        Command::Letters(LettersCommand::Set { council, kind, file }) => {
            let db = open(&cli.database).await?;
            if !aftercare::endings::LETTER_KINDS.iter().any(|(k, _)| *k == kind)
                && kind != "factsheet"
            {
                bail!("unknown letter `{kind}`");
            }
            if store::get_org(&db, &council).await?.is_none() {
                bail!("no organisation `{council}`");
            }
            let body = std::fs::read_to_string(&file)
                .with_context(|| format!("failed to read {}", file.display()))?;
            let actor = actor_for(&db, None).await?;
            let mut tx = db.begin_write().await?;
            aftercare::db::endings::set_letter_template(&mut tx, &council, &kind, &body, &actor)
                .await?;
            store::append_audit(
                &mut tx,
                &actor,
                store::AuditEntry {
                    action: "letter_template.set",
                    person_id: None,
                    entity: "letter_template",
                    entity_id: Some(format!("{council}:{kind}")),
                    reason: None,
                    details: serde_json::json!({"council": council, "kind": kind, "body": body}),
                },
            )
            .await?;
            tx.commit().await?;
            println!("saved the {kind} letter for {council}");
        }
        Command::Share(ShareCommand::List) => {
            let db = open(&cli.database).await?;
            for s in aftercare::sharing::shares(&db, None).await? {
                println!(
                    "{}\t{}\t{}\t{} rows\t{}\t{}\t{}",
                    s.shared_at.format("%Y-%m-%d %H:%M"),
                    s.recipient_org,
                    s.month,
                    s.rows,
                    s.file_name,
                    s.sha256,
                    s.shared_by
                );
            }
        }
        Command::Funding(FundingCommand::Policies { json: Some(name) }) => {
            let p = aftercare_core::funding::policy(&name)
                .with_context(|| format!("unknown funding policy `{name}`"))?;
            println!("{}", serde_json::to_string_pretty(&p)?);
        }
        Command::Funding(FundingCommand::Policies { json: None }) => {
            for p in aftercare_core::funding::policies() {
                println!("{}\t{}\t{}", p.name, p.title, p.citation);
            }
        }
        Command::Partnerships(PartnershipsCommand::List) => {
            let db = open(&cli.database).await?;
            for p in aftercare::db::care::partnerships(&db).await? {
                println!(
                    "{}\t{}\t{}\treviews: {}{}",
                    p.council_code,
                    p.nhs_code,
                    p.name,
                    p.review_policy,
                    if p.qa_ratifies_endings { "\tQA group ratifies endings" } else { "" }
                );
            }
        }
        Command::Generate(args) => {
            let today = args.today.unwrap_or_else(today);
            let bar = progress_bar();
            bar.set_length(args.people);
            bar.set_message("generating");
            let n = aftercare::generate::generate(
                &args.out_dir,
                args.people,
                args.seed,
                args.regions,
                today,
                &|done| bar.set_position(done),
            )
            .with_context(|| format!("failed to write to {}", args.out_dir.display()))?;
            bar.finish_and_clear();
            println!(
                "wrote {} people ({} detentions) to {}, {} reviews to {}, {} charges to {} and {} payments to {} in {}",
                n.people,
                n.detentions,
                aftercare::generate::REGISTER_FILE,
                n.reviews,
                aftercare::generate::REVIEWS_FILE,
                n.charges,
                aftercare::generate::CHARGES_FILE,
                n.payments,
                aftercare::generate::PAYMENTS_FILE,
                args.out_dir.display()
            );
        }
        Command::Backup { output } => {
            let s = aftercare::backup::backup(&cli.database, &output)
                .await
                .with_context(|| format!("backup of {} failed", redact_url(&cli.database)))?;
            println!("backed up {s} to {}", output.display());
        }
        Command::Restore { input } => {
            let s = aftercare::backup::restore(&cli.database, &input)
                .await
                .with_context(|| format!("restore into {} failed", redact_url(&cli.database)))?;
            println!("restored {s} from {}", input.display());
        }
        Command::Recompute => {
            let db = open(&cli.database).await?;
            let bar = progress_bar();
            let r = aftercare::derive::recompute_all(&db, today(), &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await?;
            bar.finish_and_clear();
            println!(
                "recomputed entitlement and responsibility for {} people: {} summaries and {} sets of organisation links changed",
                r.people, r.summaries_changed, r.links_changed
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} people ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message("importing");
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// Writes a file readable by its owner only (0600).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("failed to write {}", path.display()))
}

fn read_checkpoint(path: &Path) -> Result<aftercare::audit::Checkpoint> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    aftercare::audit::Checkpoint::from_json(&text)
        .with_context(|| format!("{} is not an audit checkpoint", path.display()))
}

/// Records an export made at the command line in the access log.
async fn log_export(db: &Db, kind: AccessKind, rows: usize, filter: &str) -> Result<()> {
    let actor = actor_for(db, None).await?;
    aftercare::access_log::record(
        db,
        &actor,
        aftercare::access_log::Access {
            kind,
            person_id: None,
            route: Some(kind.as_str()),
            rows: Some(rows as i64),
            detail: Some(filter).filter(|f| !f.is_empty()),
        },
    )
    .await?;
    Ok(())
}

/// The access log as a table or CSV.
fn print_access(
    rows: &[aftercare::access_log::AccessRow],
    format: aftercare::cli::AccessFormat,
) -> Result<()> {
    let headers = ["when", "user", "organisation", "what", "route", "break_glass_grant"];
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                r.username.clone(),
                r.org_code.clone().unwrap_or_default(),
                r.kind.clone(),
                r.route.clone().unwrap_or_default(),
                r.grant_id.map(|g| g.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match format {
        aftercare::cli::AccessFormat::Csv => {
            out.write_all(strip_bom(&aftercare_files::write_csv(&headers, &table)))?;
        }
        aftercare::cli::AccessFormat::Table => {
            let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
            for row in &table {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |cells: Vec<&str>| {
                cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            writeln!(out, "{}", line(headers.to_vec()))?;
            for row in &table {
                writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
            }
            if table.is_empty() {
                writeln!(out, "(no reads recorded)")?;
            }
        }
    }
    Ok(())
}

fn write_output(path: Option<&Path>, bytes: &[u8], format: Format) -> Result<()> {
    match path {
        Some(p) => {
            // Write to a temporary file then rename, so a failed export never leaves half a file.
            let tmp = p.with_extension("partial");
            aftercare::backup::write_owner_only(&tmp, bytes)
                .with_context(|| format!("failed to write {}", tmp.display()))?;
            std::fs::rename(&tmp, p).with_context(|| format!("failed to write {}", p.display()))?;
        }
        None if format == Format::Xlsx && std::io::stdout().is_terminal() => {
            bail!("an XLSX export needs --output FILE")
        }
        // The byte-order mark helps Excel open a saved file; on standard output it would only get in the way.
        None => std::io::stdout().write_all(strip_bom(bytes))?,
    }
    Ok(())
}

/// Reads a file to import, refusing one larger than any file the readers
/// accept before it is loaded into memory.
fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    let len = std::fs::metadata(path)?.len();
    if len > aftercare_files::table::MAX_FILE_BYTES as u64 {
        return Err(std::io::Error::other(format!(
            "the file is {len} bytes, more than the {} bytes a file to import may hold",
            aftercare_files::table::MAX_FILE_BYTES
        )));
    }
    std::fs::read(path)
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// A new password: from AFTERCARE_PASSWORD (unless `stdin_only`), else one
/// line of standard input. The rules are checked by the account service.
fn read_password(stdin_only: bool) -> Result<String> {
    if !stdin_only && let Ok(p) = std::env::var("AFTERCARE_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        eprint!("password (at least 12 characters, not a common one; shown as you type): ");
    }
    let mut line = String::new();
    // A password is short: a longer line is refused by the rules, and the
    // read stops well past that limit.
    std::io::stdin().lock().take(64 * 1024).read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn print_logins(logins: &[demo::DemoLogin]) {
    if logins.is_empty() {
        return;
    }
    println!("Demo accounts (password for all: {}):", demo::DEMO_PASSWORD);
    for l in logins {
        println!("  {:<32} {:<24} {}", l.username, l.role.label(), l.org);
    }
    println!(
        "The Kent partnership (Kent County Council E10000016 and NHS Kent and Medway ICB QKS) can be walked end to end: \
         demo-mha-administrator records detention and leaving hospital, demo-lead-professional plans, reviews and proposes ending, \
         demo-council-commissioner and demo-commissioner decide for the council and the ICB, demo-qa-group ratifies where asked, \
         and anyone may ask for reinstatement."
    );
}

async fn serve(database: &str, args: ServeArgs) -> Result<()> {
    let addr: SocketAddr = args
        .listen
        .parse()
        .with_context(|| format!("`{}` is not an address such as 127.0.0.1:8117", args.listen))?;
    let db = open(database).await?;
    if args.demo {
        let logins = demo::seed(&db, args.demo_people, 117, today()).await?;
        print_logins(&logins);
        if logins.is_empty() {
            println!(
                "The database already holds a register; demo data was not added. Demo accounts, if loaded before, use the password {}.",
                demo::DEMO_PASSWORD
            );
        }
    }
    // HTTPS unless told otherwise: a loopback address is no proof of plain
    // HTTP (a TLS proxy on the same host forwards there). The demo on
    // loopback is the one exception, so it works in a browser at once.
    let plain_http = args.plain_http || (args.demo && addr.ip().is_loopback());
    let config = ServerConfig { secure_cookies: !plain_http, today: None };
    let state = AppState::new(db.clone(), config);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to listen on {addr}"))?;
    if plain_http {
        println!("Aftercare is serving {} at http://{addr}/ (plain HTTP)", db.backend());
    } else {
        println!(
            "Aftercare is serving {} on {addr} for HTTPS through a TLS proxy (cookies are Secure; use --plain-http to serve plain HTTP)",
            db.backend()
        );
    }
    // Where the key that authenticates the audit trail lives (not a secret itself).
    println!(
        "Audit records are authenticated with the key in {} (keep a copy apart from the database's backups).",
        aftercare::audit::AuditKey::location()?.display()
    );
    let limits = aftercare::web::listen::Limits {
        max_connections: args.max_connections,
        header_read_timeout: std::time::Duration::from_secs(args.header_timeout_secs.max(1)),
        request_timeout: std::time::Duration::from_secs(args.request_timeout_secs.max(1)),
        trust_forwarded_for: args.trust_forwarded_for,
    };
    aftercare::web::listen::serve(listener, app(state), limits, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    db.close().await;
    Ok(())
}

async fn what_if(database: &str, args: WhatIfArgs) -> Result<()> {
    use aftercare::facts::{WhatIfFields, parse_what_if};
    let fields = WhatIfFields {
        kind: args.kind,
        on: args.on,
        section: args.section,
        living_in: args.living_in,
        gp_commissioner: args.gp_commissioner,
    };
    let extra = parse_what_if(&fields).map_err(|errors| {
        anyhow::anyhow!(
            errors
                .iter()
                .map(|(f, r)| format!("--{}: {r}", f.replace('_', "-")))
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let result = match (args.nhs_number, args.scenario) {
        (Some(n), _) => {
            let nhs = aftercare_core::NhsNumber::parse(&n)
                .with_context(|| format!("--nhs-number `{n}`"))?;
            let db = open(database).await?;
            let (people, _) = store::search_people(
                &db,
                &store::Search { query: nhs.as_str(), scope_org: None, limit: 1, offset: 0 },
            )
            .await?;
            let person = people
                .into_iter()
                .find(|p| p.nhs_number.as_deref() == Some(nhs.as_str()))
                .with_context(|| format!("no person with NHS number {nhs} on the register"))?;
            let actor = actor_for(&db, None).await?;
            aftercare::access_log::record(
                &db,
                &actor,
                aftercare::access_log::Access {
                    kind: aftercare::access_log::AccessKind::CliWhatIf,
                    person_id: Some(person.id),
                    route: Some("aftercare what-if"),
                    rows: None,
                    detail: None,
                },
            )
            .await?;
            aftercare::facts::what_if(&db, person.id, extra, today()).await?
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            let scenario =
                aftercare_core::scenario::parse_scenario(&path.display().to_string(), &text)?;
            // The file's `config` (successors, determinations, deeming) is
            // read as `scenarios check` reads it, so the what-if asks about
            // the case the file states. A file without one parses to the
            // defaults as of its last event; then successors resolve today.
            let last = scenario.events.iter().map(|e| e.on).max().unwrap_or(chrono::NaiveDate::MIN);
            let config = if scenario.config == aftercare_core::rules::RulesConfig::new(last) {
                aftercare_core::rules::RulesConfig::new(today())
            } else {
                scenario.config
            };
            aftercare_core::rules::what_if(&scenario.events, extra, &config)
        }
        (None, None) => bail!("give --nhs-number or --scenario"),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    println!("As recorded:");
    for l in aftercare::web::fact_pages::period_lines(&result.before) {
        println!("  {l}");
    }
    println!("If it happened:");
    for l in aftercare::web::fact_pages::period_lines(&result.after) {
        println!("  {l}");
    }
    if result.changes.is_empty() {
        println!("Nothing would change.");
    } else {
        println!("What would change:");
        for c in &result.changes {
            println!("  - {c}");
        }
    }
    Ok(())
}

fn scenario_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map(|rd| {
                    rd.filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| f.extension().is_some_and(|x| x == "json"))
                        .collect()
                })
                .unwrap_or_default();
            found.sort();
            if found.is_empty() {
                files.push(p.clone()); // reported as unreadable below
            }
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    files
}

fn scenarios_check(paths: &[PathBuf]) -> Result<std::process::ExitCode> {
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in scenario_files(paths) {
        let shown = file.display().to_string();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                println!(
                    "FAIL {shown}: cannot read the file: {}",
                    if file.is_dir() {
                        "the folder has no .json files".to_string()
                    } else {
                        e.to_string()
                    }
                );
                failed += 1;
                continue;
            }
        };
        match aftercare_core::scenario::parse_scenario(&shown, &text) {
            Err(e) => {
                println!("FAIL {shown}: {e}");
                failed += 1;
            }
            Ok(s) => match aftercare_core::scenario::check(&s) {
                Ok(()) => {
                    println!("ok {}", s.name);
                    passed += 1;
                }
                Err(diffs) => {
                    println!("FAIL {}: {}", s.name, diffs.join("; "));
                    failed += 1;
                }
            },
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 && passed > 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}
