//! Finance: funding splits and policies, costs, invoices, the annual re-set and reconciliation.

use std::io::IsTerminal;

use aftercare::services::access_log::AccessKind;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::common::*;
use super::*;

/// Splits a weekly cost between the bodies.
pub async fn split(
    policy: String,
    weekly_cost: String,
    cohort: Option<String>,
    age: Option<u32>,
    months_since_discharge: Option<u32>,
    fully_chc: bool,
    format: SplitFormat,
) -> Result<ExitCode> {
    use aftercare_core::funding;
    let policy = funding::policy(&policy).with_context(|| {
        let known: Vec<_> = funding::policies().iter().map(|p| p.name.to_string()).collect();
        format!("unknown funding policy `{policy}` (known: {})", known.join(", "))
    })?;
    let weekly = aftercare_core::Pence::parse_pounds(&weekly_cost)
        .with_context(|| format!("--weekly-cost `{weekly_cost}`"))?;
    let mut facts = funding::CaseFacts::weekly(weekly);
    facts.age = age;
    facts.months_since_discharge = months_since_discharge;
    facts.fully_chc = fully_chc;
    if let Some(c) = cohort {
        facts.cohort = Some(funding::Cohort::parse(&c).with_context(|| format!("--cohort `{c}`"))?);
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
    Ok(ExitCode::SUCCESS)
}

/// Compares charges and payments with the register.
pub async fn reconcile(
    database: &str,
    charges: PathBuf,
    payments: PathBuf,
    as_of: Option<NaiveDate>,
    format: Format,
    output: Option<PathBuf>,
    record: Option<Option<String>>,
) -> Result<ExitCode> {
    let as_of = as_of.unwrap_or_else(today);
    let read = |path: &PathBuf| -> Result<(String, Vec<u8>)> {
        let bytes =
            read_input(path).with_context(|| format!("failed to read {}", path.display()))?;
        Ok((path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(), bytes))
    };
    let (cname, cbytes) = read(&charges)?;
    let (pname, pbytes) = read(&payments)?;
    let sha = |b: &[u8]| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b))
    };
    let files_sha256 = (sha(&cbytes), sha(&pbytes));
    // The files are checked on one core while the register is read
    // and derived on the other.
    let db = open(database).await?;
    let started = std::time::Instant::now();
    let parsing = tokio::task::spawn_blocking(move || {
        let parsed = (
            aftercare_files::parse_charges(&cname, &cbytes),
            aftercare_files::parse_payments(&pname, &pbytes),
        );
        tracing::debug!(elapsed = ?started.elapsed(), "reconcile: files checked");
        parsed
    });
    let entitled = aftercare::services::finance::reconcile::entitled_periods(
        &db,
        as_of,
        aftercare::services::finance::reconcile::Caseload::WholeRegister,
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
    let chargeable = aftercare::services::finance::reconcile::chargeable_needs(
        &db,
        aftercare::services::finance::reconcile::Caseload::WholeRegister,
    )
    .await?;
    let findings = aftercare::services::finance::reconcile::reconcile(
        &entitled,
        &chargeable,
        &charges,
        &payments,
        as_of,
    );
    log_export(&db, AccessKind::Reconciliation, findings.len(), &format!("as_of={as_of}")).await?;
    if let Some(as_user) = record {
        let actor = actor_for(&db, as_user).await?;
        let done = aftercare::services::finance::refunds::record(
            &db,
            &actor,
            as_of,
            (&files_sha256.0, &files_sha256.1),
            &findings,
            &charges,
        )
        .await?;
        eprintln!(
            "recorded as run {}: {} charge(s) added to the refund ledger ({} refund(s) opened), {} already recorded",
            done.run_id, done.charges_added, done.refunds_opened, done.charges_known
        );
    }
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            vec![
                f.kind.as_str().to_string(),
                f.nhs_number.clone(),
                f.from.to_string(),
                f.to.to_string(),
                aftercare::services::finance::invoice::pounds(f.amount),
            ]
        })
        .collect();
    let headers = ["finding", "nhs_number", "from", "to", "amount"];
    let bytes = match format {
        Format::Csv => aftercare_files::write_csv(&headers, &rows),
        Format::Xlsx => {
            aftercare_files::write_xlsx_with_money("Findings", &headers, &rows, &["amount"])?
        }
    };
    write_output(output.as_deref(), &bytes, format)?;
    Ok(ExitCode::SUCCESS)
}

/// What each body owes, month by month.
pub async fn costs(
    database: &str,
    from: NaiveDate,
    to: NaiveDate,
    format: Format,
    output: Option<PathBuf>,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let cases = aftercare::services::care::all_cases(&db, today()).await?;
    let agreements = aftercare::services::admin::agreements(&db).await?;
    let rows: Vec<Vec<String>> =
        aftercare::services::finance::costs::cost_lines(&cases, &agreements, from, to)
            .into_iter()
            .map(|l| {
                vec![
                    l.month,
                    l.nhs_number,
                    l.council_code,
                    l.nhs_code,
                    l.need,
                    aftercare::services::finance::invoice::pounds(l.council),
                    aftercare::services::finance::invoice::pounds(l.nhs),
                    l.rule,
                ]
            })
            .collect();
    log_export(&db, AccessKind::CliFundingCosts, rows.len(), &format!("from={from} to={to}"))
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
        Format::Xlsx => aftercare_files::write_xlsx_with_money(
            "Costs",
            &headers,
            &rows,
            &["council_owes", "nhs_owes"],
        )?,
    };
    write_output(output.as_deref(), &bytes, format)?;
    Ok(ExitCode::SUCCESS)
}

/// A quarterly invoice between the bodies.
pub async fn invoice(
    database: &str,
    council: String,
    nhs: String,
    year: i32,
    quarter: u8,
    format: InvoiceFormat,
    output: Option<PathBuf>,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let q = aftercare_core::funding::Quarter::new(year, quarter)?;
    let cases = aftercare::services::care::all_cases(&db, today()).await?;
    let agreements = aftercare::services::admin::agreements(&db).await?;
    let inv = aftercare::services::finance::invoice::quarterly_invoice(
        &cases,
        &agreements,
        &council,
        &nhs,
        q,
    )?;
    let orgs = aftercare::services::admin::orgs(&db).await?;
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
            &aftercare::services::finance::invoice::INVOICE_HEADERS,
            &aftercare::services::finance::invoice::invoice_rows(&inv),
        ),
        InvoiceFormat::Pdf => aftercare::services::finance::invoice::invoice_pdf(
            &inv,
            &name(&from_code),
            &name(&to_code),
            today(),
        )?,
    };
    match (output, format) {
        (Some(p), _) => write_output(Some(&p), &bytes, Format::Xlsx)?,
        (None, InvoiceFormat::Pdf) if std::io::stdout().is_terminal() => {
            bail!("a PDF invoice needs --output FILE")
        }
        (None, _) => write_output(None, &bytes, Format::Csv)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Samples cases for the annual re-set.
pub async fn sample(
    database: &str,
    council: String,
    nhs: String,
    year: i32,
    seed: u64,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let fy = aftercare_core::funding::Period::financial_year(year)?;
    let cases = aftercare::services::care::all_cases(&db, today()).await?;
    let agreements = aftercare::services::admin::agreements(&db).await?;
    let lines = aftercare::services::finance::invoice::client_costs(
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
                    .map(|l| aftercare::services::finance::invoice::pounds(l.cost))
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
    Ok(ExitCode::SUCCESS)
}

/// Computes the re-set of the funding split.
pub async fn reset(
    database: &str,
    council: String,
    nhs: String,
    outcomes: PathBuf,
    pooled_total: Option<String>,
    year: i32,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let bytes =
        read_input(&outcomes).with_context(|| format!("failed to read {}", outcomes.display()))?;
    let name = outcomes.display().to_string();
    let table = aftercare_files::read_table(&name, &bytes)?;
    let mut sample = Vec::new();
    let mut problems = Vec::new();
    for row in &table.rows {
        let cell = |i: usize| row.cells.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
        let qualifies = match cell(1).to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" => true,
            "no" | "n" | "false" => false,
            other => {
                problems.push(format!(
                    "row {}, column qualifies_for_health_funding: `{other}` is not yes or no",
                    row.line
                ));
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
    let agreements = aftercare::services::admin::agreements(&db).await?;
    let agreement = aftercare::services::finance::costs::agreement_on(
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
    let policy =
        agreement.policy().with_context(|| format!("unknown policy {}", agreement.policy))?;
    let pooled = match pooled_total {
        Some(p) => aftercare_core::Pence::parse_pounds(&p)
            .with_context(|| format!("--pooled-total `{p}`"))?,
        None => {
            let cases = aftercare::services::care::all_cases(&db, today()).await?;
            aftercare_core::Pence(
                aftercare::services::finance::invoice::client_costs(
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
    aftercare::services::admin::record_reset_computed(&db, &actor, agreement.id, &r).await?;
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
    Ok(ExitCode::SUCCESS)
}

/// One funding policy as JSON.
pub async fn policy_json(name: String) -> Result<ExitCode> {
    let p = aftercare_core::funding::policy(&name)
        .with_context(|| format!("unknown funding policy `{name}`"))?;
    println!("{}", serde_json::to_string_pretty(&p)?);
    Ok(ExitCode::SUCCESS)
}

/// The built-in funding policies.
pub async fn policies() -> Result<ExitCode> {
    for p in aftercare_core::funding::policies() {
        println!("{}\t{}\t{}", p.name, p.title, p.citation);
    }
    Ok(ExitCode::SUCCESS)
}

/// The refund ledger.
pub async fn refunds(database: &str, command: RefundsCommand) -> Result<ExitCode> {
    use aftercare::services::finance::refunds;
    use aftercare_core::Pence;
    let db = open(database).await?;
    let pounds = |s: &str| Pence::parse_pounds(s).with_context(|| format!("--amount `{s}`"));
    match command {
        RefundsCommand::List { council, format, output } => {
            let all = refunds::list(&db, council.as_deref()).await?;
            log_export(&db, AccessKind::CliRefunds, all.len(), &format!("council={council:?}"))
                .await?;
            let money = aftercare::services::finance::invoice::pounds;
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|r| {
                    vec![
                        r.row.id.to_string(),
                        r.row.nhs_number.clone(),
                        r.row.council_code.clone().unwrap_or_default(),
                        r.row.charged_party.clone(),
                        r.row.period_from.to_string(),
                        r.row.period_to.to_string(),
                        money(Pence(r.row.owed)),
                        money(Pence(r.row.housing_benefit)),
                        money(Pence(r.row.paid)),
                        money(r.outstanding),
                        r.status.as_str().to_string(),
                        r.row.waived_reason.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            let headers = [
                "refund",
                "nhs_number",
                "council",
                "charged_party",
                "from",
                "to",
                "owed",
                "housing_benefit",
                "paid",
                "outstanding",
                "status",
                "waived_reason",
            ];
            let bytes = match format {
                Format::Csv => aftercare_files::write_csv(&headers, &rows),
                Format::Xlsx => aftercare_files::write_xlsx_with_money(
                    "Refunds",
                    &headers,
                    &rows,
                    &["owed", "housing_benefit", "paid", "outstanding"],
                )?,
            };
            write_output(output.as_deref(), &bytes, format)?;
        }
        RefundsCommand::Pay { nhs_number, amount, on, reference, refund, as_user } => {
            let actor = actor_for(&db, as_user).await?;
            let r = refunds::pay(
                &db,
                &actor,
                &nhs_number,
                refund,
                pounds(&amount)?,
                on,
                reference.as_deref(),
            )
            .await?;
            println!(
                "refund {}: paid {}, outstanding {} ({})",
                r.row.id,
                Pence(r.row.paid),
                r.outstanding,
                r.status.as_str()
            );
        }
        RefundsCommand::Waive { nhs_number, reason, refund, as_user } => {
            let actor = actor_for(&db, as_user).await?;
            refunds::waive(&db, &actor, &nhs_number, refund, &reason).await?;
            println!("waived");
        }
        RefundsCommand::AddCharge {
            nhs_number,
            from,
            to,
            amount,
            service,
            charged_party,
            as_user,
        } => {
            let actor = actor_for(&db, as_user).await?;
            let fields = refunds::ChargeTakenFields {
                nhs_number,
                from: Some(from),
                to: Some(to),
                amount_pence: pounds(&amount)?.0,
                service,
                charged_party,
            };
            let j = refunds::record_charge_by_operator(&db, &actor, &fields, today()).await?;
            if j.charges_added > 0 {
                println!(
                    "{} was taken while entitled and is owed back ({} refund(s) opened)",
                    Pence(j.owed_pence),
                    j.refunds_opened
                );
            } else if j.charges_known > 0 {
                println!("already recorded: nothing added");
            } else {
                println!("nothing is owed back: not while entitled, or for a chargeable need");
            }
        }
        RefundsCommand::HousingBenefit { nhs_number, amount, refund, as_user } => {
            let actor = actor_for(&db, as_user).await?;
            refunds::offset_housing_benefit(&db, &actor, &nhs_number, refund, pounds(&amount)?)
                .await?;
            println!("housing benefit recorded");
        }
    }
    Ok(ExitCode::SUCCESS)
}
