//! Backups and restores (`aftercare backup`, `aftercare restore`).
//!
//! **SQLite.** `VACUUM INTO` writes a consistent copy of the live database
//! (one read transaction: the server keeps running and writing) to a new
//! file. Restoring copies that file next to the target, checks it
//! (`PRAGMA integrity_check`, and that it is an Aftercare database), then
//! renames it into place — so a failed restore leaves nothing behind — and
//! opens it, which brings an older backup's schema up to date. The target
//! must not exist or must hold no data; stop any server using it first.
//!
//! **PostgreSQL.** `pg_dump --format=custom` (a consistent snapshot) and
//! `pg_restore --single-transaction --exit-on-error --no-owner
//! --no-privileges` into an existing database that holds no data (create it
//! first, e.g. `createdb`). The tools are looked for on `PATH`, then in
//! `/usr/lib/postgresql/*/bin` (newest first); `pg_dump` must be at least the
//! server's version. A password in the URL is passed in `PGPASSWORD`, not on
//! the command line where other users could see it.
//!
//! A backup never overwrites an existing file, and a restore never writes
//! over data.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::Connection;

use crate::db::{Db, Pool, store};

/// Why a backup or restore failed, in words for the operator: what was
/// being done, then the cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(String);

type Result<T> = std::result::Result<T, BackupError>;

impl From<std::io::Error> for BackupError {
    fn from(e: std::io::Error) -> Self {
        BackupError(e.to_string())
    }
}

impl From<sqlx::Error> for BackupError {
    fn from(e: sqlx::Error) -> Self {
        BackupError(format!("database error: {e}"))
    }
}

impl From<crate::db::DbError> for BackupError {
    fn from(e: crate::db::DbError) -> Self {
        BackupError(e.to_string())
    }
}

/// Says what was being done when something failed (or was missing).
trait Context<T> {
    fn context(self, what: &str) -> Result<T>;
    fn with_context<D: std::fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| BackupError(format!("{what}: {e}")))
    }
    fn with_context<D: std::fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| BackupError(format!("{}: {e}", what())))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: &str) -> Result<T> {
        self.ok_or_else(|| BackupError(what.to_string()))
    }
    fn with_context<D: std::fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.ok_or_else(|| BackupError(what().to_string()))
    }
}

/// Fails with the message.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(BackupError(format!($($arg)*)))
    };
}

/// What a backup or restore holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub people: i64,
    pub audit_records: i64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} people, {} audit records", self.people, self.audit_records)
    }
}

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const PG_DUMP_MAGIC: &[u8] = b"PGDMP";

enum Target {
    Sqlite(PathBuf),
    Postgres,
}

fn target(url: &str) -> Result<Target> {
    if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            bail!("an in-memory database cannot be backed up or restored");
        }
        Ok(Target::Sqlite(PathBuf::from(path)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Target::Postgres)
    } else {
        bail!("unsupported database URL: use sqlite://PATH or postgres://…")
    }
}

async fn summary(db: &Db) -> Result<Summary> {
    let people = store::count_people(db).await?;
    let audit_records: i64 = crate::on_pool!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(p).await)?;
    Ok(Summary { people: people as i64, audit_records })
}

/// `name.partial` beside `path`.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

/// Creates `path` (which must not exist) readable and writable by its owner
/// only: backups, exports and the database hold personal data, and a
/// default umask would leave them world-readable.
pub fn create_owner_only(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Writes a new file, owner-only (see [`create_owner_only`]); any file
/// already at `path` is replaced.
pub fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = create_owner_only(path)?;
    std::io::Write::write_all(&mut f, bytes)?;
    f.sync_all()
}

/// Takes group and other permissions off an existing file (no-op elsewhere
/// than Unix, and for a file that is not there).
pub fn make_owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                let mode = m.permissions().mode() & 0o700;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            }
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("failed to write {}", path.display()))
}

/// Writes a backup of the database at `url` to `output`, a new file.
pub async fn backup(url: &str, output: &Path) -> Result<Summary> {
    if output.exists() {
        bail!(
            "{} already exists: a backup is written to a new file, never over one",
            output.display()
        );
    }
    let tmp = partial(output);
    let _ = std::fs::remove_file(&tmp);
    let kind = target(url)?;
    if let Target::Sqlite(path) = &kind
        && !path.exists()
    {
        bail!("there is no database at {}", path.display());
    }
    let db = Db::connect(url).await.context("failed to open the database")?;
    let result = async {
        let summary = summary(&db).await?;
        // Created empty and owner-only first: `VACUUM INTO` accepts an empty
        // file and pg_dump keeps the mode of the file it writes over.
        create_owner_only(&tmp).with_context(|| format!("failed to create {}", tmp.display()))?;
        match (&kind, &db.pool) {
            (Target::Sqlite(_), Pool::Sqlite(p)) => {
                let file = tmp.to_str().context("the backup file's name is not valid UTF-8")?;
                sqlx::query("VACUUM INTO $1")
                    .bind(file)
                    .execute(p)
                    .await
                    .context("VACUUM INTO failed")?;
            }
            _ => {
                let mut cmd = pg_command("pg_dump", url)?;
                cmd.arg("--format=custom").arg("--no-owner").arg("--file").arg(&tmp);
                run(cmd).await?;
            }
        }
        sync(&tmp)?;
        std::fs::rename(&tmp, output)
            .with_context(|| format!("failed to write {}", output.display()))?;
        Ok(summary)
    }
    .await;
    db.close().await;
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Restores the backup `input` into the database at `url`, which must not
/// exist (SQLite) or must hold no data.
pub async fn restore(url: &str, input: &Path) -> Result<Summary> {
    let mut magic = [0u8; 16];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(input)
            .with_context(|| format!("failed to read {}", input.display()))?;
        let n =
            f.read(&mut magic).with_context(|| format!("failed to read {}", input.display()))?;
        if n < PG_DUMP_MAGIC.len() {
            bail!("{} is not an Aftercare backup", input.display());
        }
    }
    match target(url)? {
        Target::Sqlite(path) => {
            if magic.starts_with(PG_DUMP_MAGIC) {
                bail!(
                    "{} is a PostgreSQL backup: restore it into a postgres:// database",
                    input.display()
                );
            }
            if !magic.starts_with(SQLITE_MAGIC) {
                bail!("{} is not an Aftercare backup", input.display());
            }
            restore_sqlite(url, &path, input).await
        }
        Target::Postgres => {
            if magic.starts_with(SQLITE_MAGIC) {
                bail!(
                    "{} is a SQLite backup: restore it into a sqlite:// database",
                    input.display()
                );
            }
            if !magic.starts_with(PG_DUMP_MAGIC) {
                bail!(
                    "{} is not an Aftercare backup (expected a pg_dump custom-format file)",
                    input.display()
                );
            }
            restore_postgres(url, input).await
        }
    }
}

fn refuse(tables: &[String]) -> BackupError {
    BackupError(format!(
        "the target database is not empty (it holds rows in {}): restore only into a new, empty database",
        tables.join(", ")
    ))
}

async fn restore_sqlite(url: &str, path: &Path, input: &Path) -> Result<Summary> {
    let wal = |suffix: &str| {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    // The target: absent, an empty file, or a database with no rows.
    let existing = path.exists() && std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(true);
    if existing {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .with_context(|| format!("failed to open {}", path.display()))?;
        let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .with_context(|| format!("{} is not a database", path.display()))?;
        let mut full = Vec::new();
        for t in tables {
            let sql = format!("SELECT EXISTS (SELECT 1 FROM \"{}\")", t.replace('"', "\"\""));
            if sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(sql)).fetch_one(&mut conn).await? {
                full.push(t);
            }
        }
        conn.close().await?;
        if !full.is_empty() {
            return Err(refuse(&full));
        }
    }
    // Copy and check the copy before touching the target.
    let tmp = partial(path);
    let _ = std::fs::remove_file(&tmp);
    std::fs::copy(input, &tmp)
        .with_context(|| format!("failed to copy {} to {}", input.display(), tmp.display()))?;
    make_owner_only(&tmp).with_context(|| format!("failed to protect {}", tmp.display()))?;
    let checked = async {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&tmp).read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await?;
        let aftercare: bool = sqlx::query_scalar("SELECT COUNT(*) = 2 FROM sqlite_master WHERE type = 'table' AND name IN ('_sqlx_migrations', 'audit_events')").fetch_one(&mut conn).await?;
        conn.close().await?;
        Ok::<_, sqlx::Error>((integrity, aftercare))
    }
    .await;
    match checked {
        Ok((integrity, true)) if integrity == "ok" => {}
        Ok((integrity, true)) => {
            let _ = std::fs::remove_file(&tmp);
            bail!("{} is damaged: {integrity}", input.display());
        }
        Ok((_, false)) | Err(_) => {
            let _ = std::fs::remove_file(&tmp);
            bail!("{} is not an Aftercare backup", input.display());
        }
    }
    sync(&tmp)?;
    for f in [path.to_path_buf(), wal("-wal"), wal("-shm")] {
        match std::fs::remove_file(&f) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("failed to replace {}", f.display()));
            }
            _ => {}
        }
    }
    std::fs::rename(&tmp, path).with_context(|| format!("failed to write {}", path.display()))?;
    let db = Db::connect(url).await.context("failed to open the restored database")?;
    let s = summary(&db).await;
    db.close().await;
    s
}

async fn restore_postgres(url: &str, input: &Path) -> Result<Summary> {
    // Checked without running the migrations, so an empty database stays as it was.
    let options =
        sqlx::postgres::PgConnectOptions::from_str(url).context("not a PostgreSQL URL")?;
    let mut conn = sqlx::PgConnection::connect_with(&options)
        .await
        .context("failed to open the database (create it first, e.g. with createdb)")?;
    let tables: Vec<(String, String)> = sqlx::query_as("SELECT schemaname::text, tablename::text FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2").fetch_all(&mut conn).await?;
    let mut full = Vec::new();
    let mut any = false;
    for (schema, table) in &tables {
        any = true;
        if table == "_sqlx_migrations" {
            continue;
        }
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM \"{}\".\"{}\")",
            schema.replace('"', "\"\""),
            table.replace('"', "\"\"")
        );
        if sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(sql)).fetch_one(&mut conn).await? {
            full.push(table.clone());
        }
    }
    conn.close().await?;
    if !full.is_empty() {
        return Err(refuse(&full));
    }
    let mut cmd = pg_command("pg_restore", url)?;
    cmd.args(["--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges"]);
    if any {
        // Empty tables (the schema of an opened but unused database): replaced by the backup's.
        cmd.args(["--clean", "--if-exists"]);
    }
    cmd.arg(input);
    run(cmd).await?;
    let db = Db::connect(url).await.context("failed to open the restored database")?;
    let s = summary(&db).await;
    db.close().await;
    s
}

/// A PostgreSQL client tool: on `PATH`, else the newest `/usr/lib/postgresql/*/bin`.
pub fn pg_tool(name: &str) -> Result<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin").join(name)))
                })
                .filter(|(_, p): &(u32, PathBuf)| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().map(|(_, p)| p).with_context(|| format!("{name} was not found on PATH or in /usr/lib/postgresql/*/bin: install the PostgreSQL client tools (on Debian, postgresql-client)"))
}

/// The tool with the database named and any password moved to `PGPASSWORD`.
fn pg_command(tool: &str, url: &str) -> Result<tokio::process::Command> {
    let (url, password) = split_password(url);
    let mut cmd = tokio::process::Command::new(pg_tool(tool)?);
    cmd.arg("--dbname").arg(url);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    Ok(cmd)
}

async fn run(mut cmd: tokio::process::Command) -> Result<()> {
    let program = cmd.as_std().get_program().to_string_lossy().to_string();
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("failed to run {program}"))?;
    if !out.status.success() {
        bail!("{program} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Takes the password out of `postgres://user:password@host/db`, decoded.
fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return (url.into(), None) };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return (url.into(), None) };
    let Some(colon) = rest[..at].find(':') else { return (url.into(), None) };
    let password = percent_decode(&rest[colon + 1..at]);
    (format!("{}{}{}", &url[..scheme_end], &rest[..colon], &rest[at..]), Some(password))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(hex) = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok())
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url() {
        assert_eq!(
            split_password("postgres://u:p%40ss@h:5432/db?sslmode=require"),
            ("postgres://u@h:5432/db?sslmode=require".into(), Some("p@ss".into()))
        );
        assert_eq!(split_password("postgres://u@h/db"), ("postgres://u@h/db".into(), None));
        assert_eq!(split_password("postgres://h/db"), ("postgres://h/db".into(), None));
    }
}
