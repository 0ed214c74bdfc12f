//! What every command shares: opening the database, who is acting, reading
//! input and writing output files, the access-log line for an export.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;

use aftercare::db::Db;
use aftercare::db::store::Actor;
use aftercare::services::access_log::AccessKind;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use super::{AccessFormat, Format};

pub(super) fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

pub(super) async fn open(url: &str) -> Result<Db> {
    Db::connect(url)
        .await
        .with_context(|| format!("failed to open the database at {}", redact_url(url)))
}

/// Hides a password in a database URL before it is printed.
pub(super) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

pub(super) async fn actor_for(db: &Db, name: Option<String>) -> Result<Actor> {
    Ok(aftercare::services::accounts::actor_named(db, name.as_deref()).await?)
}

pub(super) fn progress_bar() -> ProgressBar {
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
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("failed to write {}", path.display()))
}

pub(super) fn read_checkpoint(path: &Path) -> Result<aftercare::db::audit::Checkpoint> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    aftercare::db::audit::Checkpoint::from_json(&text)
        .with_context(|| format!("{} is not an audit checkpoint", path.display()))
}

/// Records an export made at the command line in the access log.
pub(super) async fn log_export(db: &Db, kind: AccessKind, rows: usize, filter: &str) -> Result<()> {
    let actor = actor_for(db, None).await?;
    aftercare::services::access_log::record(
        db,
        &actor,
        aftercare::services::access_log::Access {
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
pub(super) fn print_access(
    rows: &[aftercare::services::access_log::AccessRow],
    format: AccessFormat,
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
        AccessFormat::Csv => {
            out.write_all(&aftercare_files::write_csv(&headers, &table))?;
        }
        AccessFormat::Table => {
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

pub(super) fn write_output(path: Option<&Path>, bytes: &[u8], format: Format) -> Result<()> {
    match path {
        Some(p) => {
            // Write to a temporary file then rename, so a failed export never leaves half a file.
            let tmp = p.with_extension("partial");
            aftercare::db::backup::write_owner_only(&tmp, bytes)
                .with_context(|| format!("failed to write {}", tmp.display()))?;
            std::fs::rename(&tmp, p).with_context(|| format!("failed to write {}", p.display()))?;
        }
        None if format == Format::Xlsx && std::io::stdout().is_terminal() => {
            bail!("an XLSX export needs --output FILE")
        }
        // Standard output keeps the byte-order mark: it is most often
        // redirected to a file, which Excel then reads as UTF-8.
        None => std::io::stdout().write_all(bytes)?,
    }
    Ok(())
}

/// Reads a file to import, refusing one larger than any file the readers
/// accept before it is loaded into memory.
pub(super) fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    let len = std::fs::metadata(path)?.len();
    if len > aftercare_files::table::MAX_FILE_BYTES as u64 {
        return Err(std::io::Error::other(format!(
            "the file is {len} bytes, more than the {} bytes a file to import may hold",
            aftercare_files::table::MAX_FILE_BYTES
        )));
    }
    std::fs::read(path)
}

/// A new password: from AFTERCARE_PASSWORD (unless `stdin_only`), else one
/// line of standard input. The rules are checked by the account service.
pub(super) fn read_password(stdin_only: bool) -> Result<String> {
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

/// A file refused by its checks: each problem (file, row, field, reason) on
/// standard error, then that nothing was written; exit status 1.
pub(super) fn nothing_imported(errors: &aftercare_files::ImportErrors) -> std::process::ExitCode {
    eprintln!("{errors}");
    eprintln!("nothing was imported");
    std::process::ExitCode::from(1)
}
