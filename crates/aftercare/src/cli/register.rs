//! The register: import, export, generate, recompute, what-if and the worked scenarios.

use aftercare::error::ServiceError;
use aftercare::services::access_log::AccessKind;
use aftercare::services::export::{
    ExportView, Layout, REGISTER_HEADERS, detention_headers, rows_in,
};
use aftercare::services::import_mappings::{self, ImportKind};
use aftercare::services::register;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::common::*;
use super::*;

/// Imports the master list.
pub async fn import_register(
    database: &str,
    file: PathBuf,
    dry_run: bool,
    actor: Option<String>,
    as_org: Option<String>,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, actor).await?;
    let mapping = mapping_for(&db, &actor, as_org, ImportKind::Register).await?;
    let bytes = read_input(&file).with_context(|| format!("failed to read {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| file.display().to_string());
    let bar = progress_bar();
    let options = register::ImportOptions { dry_run, today: today(), mapping: &mapping };
    let result =
        register::import_register_with(&db, &actor, &name, &bytes, options, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
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
            for w in &r.warnings {
                eprintln!("{name}: warning: {w}");
            }
            if dry_run {
                println!("dry run: nothing was written");
            }
        }
        Err(ServiceError::InvalidFile(errors)) => return Ok(nothing_imported(&errors)),
        Err(e) => return Err(e.into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// The column mapping an import reads headers by: `--as-org`'s, else the
/// acting user's organisation's.
pub(super) async fn mapping_for(
    db: &aftercare::db::Db,
    actor: &aftercare::db::store::Actor,
    as_org: Option<String>,
    kind: ImportKind,
) -> Result<aftercare_files::ColumnMapping> {
    match as_org {
        Some(org) => Ok(import_mappings::mapping_of_known_org(db, &org, kind)
            .await
            .with_context(|| format!("--as-org {org}"))?),
        None => Ok(import_mappings::mapping(db, actor.org_code.as_deref(), kind).await?),
    }
}

/// Remembers what an organisation's own headers hold.
pub async fn map_columns(
    database: &str,
    org: String,
    kind: String,
    pairs: Vec<String>,
    actor: Option<String>,
) -> Result<ExitCode> {
    let kind = ImportKind::parse(&kind)
        .with_context(|| format!("--kind `{kind}`: give register or reviews"))?;
    let mut entries = Vec::new();
    for pair in &pairs {
        let (header, column) = pair
            .rsplit_once('=')
            .with_context(|| format!("`{pair}`: give HEADER=COLUMN or HEADER=ignore"))?;
        let column = column.trim();
        let column = (!column.eq_ignore_ascii_case("ignore")).then(|| column.to_string());
        entries.push((header.trim().to_string(), column));
    }
    let db = open(database).await?;
    let actor = actor_for(&db, actor).await?;
    match import_mappings::remember_for(&db, &actor, &org, kind, &entries).await {
        Ok(n) => {
            println!("{org}: {n} column(s) of its {} files remembered", kind.label());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e.into()),
    }
}

/// Exports the register, current or as of a date.
pub async fn export_register(
    database: &str,
    as_of: Option<NaiveDate>,
    known_now: bool,
    layout: super::ExportLayout,
    format: Format,
    output: Option<PathBuf>,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let now = today();
    let view = ExportView {
        as_of: as_of.unwrap_or(now),
        historical: as_of.is_some_and(|d| d < now),
        known_now,
    };
    let (layout, headers) = match layout {
        super::ExportLayout::People => (Layout::People, REGISTER_HEADERS.to_vec()),
        super::ExportLayout::Detentions => (Layout::Detentions, detention_headers()),
    };
    let rows = rows_in(&db, view, None, layout).await?;
    let bytes = match format {
        Format::Csv => aftercare_files::write_csv(&headers, &rows),
        Format::Xlsx => aftercare_files::write_xlsx("Register", &headers, &rows)?,
    };
    let filter =
        format!("as_of={} known_now={known_now} layout={layout:?} format={format:?}", view.as_of);
    log_export(&db, AccessKind::RegisterExport, rows.len(), &filter).await?;
    write_output(output.as_deref(), &bytes, format)?;
    Ok(ExitCode::SUCCESS)
}

/// Exports the register as a FHIR bundle of `kind`.
pub async fn export_fhir(
    database: &str,
    kind: aftercare::services::fhir::BundleType,
    output: Option<PathBuf>,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let bundle =
        aftercare::services::fhir::load_of_type(&db, kind, chrono::Utc::now(), today()).await?;
    let entries = bundle["entry"].as_array().map_or(0, Vec::len);
    log_export(&db, AccessKind::FhirExport, entries, &format!("type={}", kind.as_str())).await?;
    // JSON is plain text: written as the CSV export is (no byte-order mark to strip).
    write_output(
        output.as_deref(),
        aftercare::services::fhir::to_json(&bundle).as_bytes(),
        Format::Csv,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a synthetic register as importable files.
pub async fn generate(args: GenerateArgs) -> Result<ExitCode> {
    let today = args.today.unwrap_or_else(today);
    let bar = progress_bar();
    bar.set_length(args.people);
    bar.set_message("generating");
    let n = aftercare::services::generate::generate(
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
        aftercare::services::generate::REGISTER_FILE,
        n.reviews,
        aftercare::services::generate::REVIEWS_FILE,
        n.charges,
        aftercare::services::generate::CHARGES_FILE,
        n.payments,
        aftercare::services::generate::PAYMENTS_FILE,
        args.out_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Recomputes every person's entitlement and responsibility.
pub async fn recompute(database: &str) -> Result<ExitCode> {
    let db = open(database).await?;
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
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn what_if(database: &str, args: WhatIfArgs) -> Result<ExitCode> {
    use aftercare::services::facts::{WhatIfFields, parse_what_if};
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
            let person = aftercare::services::views::person_by_nhs_number(&db, &nhs)
                .await?
                .with_context(|| format!("no person with NHS number {nhs} on the register"))?;
            let actor = actor_for(&db, None).await?;
            aftercare::services::access_log::record(
                &db,
                &actor,
                aftercare::services::access_log::Access {
                    kind: aftercare::services::access_log::AccessKind::CliWhatIf,
                    person_id: Some(person.id),
                    route: Some("aftercare what-if"),
                    rows: None,
                    detail: None,
                },
            )
            .await?;
            aftercare::services::facts::what_if(&db, person.id, extra, today()).await?
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
        return Ok(ExitCode::SUCCESS);
    }
    println!("As recorded:");
    for l in aftercare::services::facts::period_lines(&result.before) {
        println!("  {l}");
    }
    println!("If it happened:");
    for l in aftercare::services::facts::period_lines(&result.after) {
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
    Ok(ExitCode::SUCCESS)
}

pub(super) fn scenario_files(paths: &[PathBuf]) -> Vec<PathBuf> {
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

pub(super) fn scenarios_check(paths: &[PathBuf]) -> Result<std::process::ExitCode> {
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
