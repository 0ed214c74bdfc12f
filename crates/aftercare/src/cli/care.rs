//! Care: importing reviews and the reviews due.

use std::io::Write;

use aftercare::error::ServiceError;
use aftercare::services::access_log::AccessKind;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::common::*;
use super::*;

/// Imports reviews.
pub async fn import_reviews(
    database: &str,
    file: PathBuf,
    dry_run: bool,
    actor: Option<String>,
    as_org: Option<String>,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, actor).await?;
    let kind = aftercare::services::import_mappings::ImportKind::Reviews;
    let mapping = super::register::mapping_for(&db, &actor, as_org, kind).await?;
    let bytes = read_input(&file).with_context(|| format!("failed to read {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| file.display().to_string());
    match aftercare::services::care::import_reviews_with(
        &db, &actor, &name, &bytes, dry_run, &mapping,
    )
    .await
    {
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
        Err(ServiceError::InvalidFile(errors)) => return Ok(nothing_imported(&errors)),
        Err(e) => return Err(e.into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the reviews due.
pub async fn reviews_due(
    database: &str,
    as_of: NaiveDate,
    policy: Option<String>,
    format: DueFormat,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let policy = match policy {
        Some(name) => Some(aftercare_core::reviews::policy(&name).with_context(|| {
            format!(
                "unknown review policy `{name}` (known: {})",
                aftercare_core::reviews::policy_names().join(", ")
            )
        })?),
        None => None,
    };
    let cases = aftercare::services::care::all_cases(&db, as_of).await?;
    let partnerships = aftercare::services::admin::partnerships(&db).await?;
    let rows =
        aftercare::services::care::reviews_due(&cases, &partnerships, as_of, policy.as_ref());
    log_export(&db, AccessKind::CliReviewsDue, rows.len(), &format!("as_of={as_of}")).await?;
    let mut out = std::io::stdout().lock();
    match format {
        DueFormat::Csv => {
            writeln!(out, "nhs_number,review,due,overdue_days")?;
            for r in rows {
                writeln!(out, "{},{},{},{}", r.nhs_number, r.review, r.due, r.overdue_days)?;
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
            out.write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
