//! Sharing the master list: recipients, the monthly encrypted share and its record.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::common::*;
use super::*;

/// Sets the key a partner's copies are encrypted to.
pub async fn recipient(database: &str, org: String, age_recipient: String) -> Result<ExitCode> {
    let db = open(database).await?;
    aftercare::services::admin::ensure_org(&db, &org).await?;
    let actor = actor_for(&db, None).await?;
    aftercare::services::sharing::set_recipient(&db, &actor, &org, &age_recipient).await?;
    println!("copies for {org} will be encrypted to {}", age_recipient.trim());
    Ok(ExitCode::SUCCESS)
}

/// Makes the monthly encrypted share.
pub async fn monthly(
    database: &str,
    org: String,
    month: Option<String>,
    format: Format,
    out_dir: PathBuf,
    if_due: bool,
) -> Result<ExitCode> {
    use chrono::Datelike;
    let db = open(database).await?;
    let now = today();
    let month = month.unwrap_or_else(|| format!("{:04}-{:02}", now.year(), now.month()));
    if if_due && aftercare::services::sharing::sharing_date(&month)? != now {
        println!("not due: the share for {month} is made on its first working day");
        return Ok(ExitCode::SUCCESS);
    }
    let actor = actor_for(&db, None).await?;
    let fmt = if format == Format::Csv {
        aftercare::services::sharing::ShareFormat::Csv
    } else {
        aftercare::services::sharing::ShareFormat::Xlsx
    };
    match aftercare::services::sharing::share_monthly(&db, &actor, &org, &month, fmt, if_due, now)
        .await?
    {
        None => println!("already shared {month} with {org}"),
        Some(share) => {
            let path = out_dir.join(&share.record.file_name);
            aftercare::db::backup::write_owner_only(&path, &share.encrypted)
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
            let c = aftercare::db::audit::checkpoint(&db).await?;
            let cp = out_dir.join(format!(
                "{}.checkpoint.json",
                share.record.file_name.trim_end_matches(".age")
            ));
            write_private(&cp, c.to_json().as_bytes())?;
            println!("wrote {} (audit checkpoint: {} records)", cp.display(), c.count);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the shares made.
pub async fn list(database: &str) -> Result<ExitCode> {
    let db = open(database).await?;
    for s in aftercare::services::sharing::shares(&db, None).await? {
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
    Ok(ExitCode::SUCCESS)
}
