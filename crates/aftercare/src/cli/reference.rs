//! Loading the NHS's and ONS's reference files, and listing what is loaded.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::common::*;
use super::*;
use aftercare::error::ServiceError;

/// Loads each file, whichever reference file it is; stops at the first
/// refused (nothing of that file is written).
pub async fn load(database: &str, files: Vec<PathBuf>, actor: Option<String>) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, actor).await?;
    for file in files {
        // Read as it is loaded, not whole: the postcode directory is over a gigabyte.
        let reader = std::fs::File::open(&file)
            .map(std::io::BufReader::new)
            .with_context(|| format!("failed to read {}", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| file.display().to_string());
        match aftercare::services::reference::load_from(&db, &actor, &name, reader).await {
            Ok(l) if l.already => {
                println!(
                    "{name}: {} ({} rows) was loaded already, as release {}",
                    l.kind, l.rows, l.release_id
                )
            }
            Ok(l) => {
                println!("{name}: loaded {} rows of {} as release {}", l.rows, l.kind, l.release_id)
            }
            Err(ServiceError::InvalidFile(errors)) => return Ok(nothing_imported(&errors)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the releases loaded, newest first.
pub async fn list(database: &str) -> Result<ExitCode> {
    let db = open(database).await?;
    for r in aftercare::services::reference::releases(&db).await? {
        println!(
            "{}\t{}\t{}\t{} rows\t{}\t{}\t{}",
            r.id,
            r.kind,
            r.loaded_at.format("%Y-%m-%d %H:%M"),
            r.rows,
            r.file_name,
            r.sha256,
            r.loaded_by
        );
    }
    Ok(ExitCode::SUCCESS)
}
