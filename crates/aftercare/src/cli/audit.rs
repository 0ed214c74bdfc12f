//! The audit trail and the access log: verify, checkpoint, who has read a person.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::common::*;
use super::*;

/// Verifies the audit trail.
pub async fn verify(database: &str, checkpoint: Option<PathBuf>) -> Result<ExitCode> {
    let db = open(database).await?;
    let checkpoint = match checkpoint {
        Some(path) => Some(read_checkpoint(&path)?),
        None => None,
    };
    let report = aftercare::db::audit::verify(&db, checkpoint.as_ref()).await?;
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
    Ok(ExitCode::SUCCESS)
}

/// Writes a checkpoint of the audit trail.
pub async fn checkpoint(database: &str, output: PathBuf) -> Result<ExitCode> {
    let db = open(database).await?;
    let c = aftercare::db::audit::checkpoint(&db).await?;
    write_private(&output, c.to_json().as_bytes())?;
    println!("wrote {}: {} records, head record {}", output.display(), c.count, c.head_id);
    Ok(ExitCode::SUCCESS)
}

/// Lists who has read a person.
pub async fn access(
    database: &str,
    nhs_number: String,
    format: AccessFormat,
    actor: Option<String>,
    limit: i64,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let nhs = aftercare_core::NhsNumber::parse(&nhs_number).map_err(|e| anyhow::anyhow!("{e}"))?;
    let person = aftercare::services::views::person_by_nhs_number(&db, &nhs)
        .await?
        .context("no person with that NHS number is on the register")?
        .id;
    let actor = actor_for(&db, actor).await?;
    let rows = aftercare::services::access_log::for_person(&db, person, limit).await?;
    // Reading who has looked is itself a read of the person.
    aftercare::services::access_log::record(
        &db,
        &actor,
        aftercare::services::access_log::Access {
            kind: aftercare::services::access_log::AccessKind::AccessLogRead,
            person_id: Some(person),
            route: Some("aftercare audit access"),
            rows: Some(rows.len() as i64),
            detail: None,
        },
    )
    .await?;
    print_access(&rows, format)?;
    Ok(ExitCode::SUCCESS)
}
