//! Storage edge: one schema, two backends (SQLite and PostgreSQL) chosen by
//! the database URL, each with its own migrations kept in step and checked by
//! the same conformance tests.
//!
//! Queries are written once in SQL that both backends accept (`$1`
//! placeholders, `RETURNING`, ISO dates) and run through [`on_conn!`] (a
//! read, on the pool or inside an open write transaction: one [`Conn`]) or
//! [`on_tx!`] (a write), which type-check the same body against each backend.
//! All SQL lives under `db/`; rows carrying stored codes or JSON are parsed
//! here or by a typed accessor on the row, and a stored value that does not
//! parse is [`DbError::Corrupt`], never a silent default.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::db::audit::AuditKey;

pub mod access_log;
pub mod audit;
pub mod backup;
pub mod bulk;
pub mod care;
pub mod disputes;
pub mod endings;
pub mod funding_requests;
pub mod import_mappings;
pub mod letters;
pub mod notify;
pub mod reference;
pub mod refunds;
pub mod sharing;
pub mod single_sign_on;
pub mod store;
pub mod tasks;

/// A storage failure. The HTTP edge maps it to a 500 without its text.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the record was changed by someone else since you loaded it")]
    Conflict,
    #[error("the person's record has changed since the version you hold (If-Match): read it again")]
    StaleVersion,
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    AuditKey(#[from] crate::db::audit::AuditKeyError),
    #[error("the database file could not be made owner-only: {0}")]
    Permissions(std::io::Error),
}

#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database handle shared by the server and the CLI.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: Pool,
    /// Writers take this so that the audit hash chain is extended by one
    /// transaction at a time (PostgreSQL also takes an advisory lock, for
    /// writers in other processes; SQLite uses BEGIN IMMEDIATE).
    write_lock: Arc<Mutex<()>>,
    /// Authenticates audit records; read from a file outside the database.
    audit_key: Arc<AuditKey>,
}

/// Runs the same body against whichever pool the handle holds (the database
/// layer's own plumbing; store functions read through [`on_conn!`]).
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $p:ident => $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Postgres($p) => $body,
        }
    };
}

/// Runs the same body against whichever transaction is open; `$c` is the
/// connection (`&mut *` of the transaction).
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match &mut $tx.inner {
            $crate::db::TxInner::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::TxInner::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// Runs the same body on one connection of a [`Conn`] (a connection taken
/// from the pool, or the open transaction's own); `$c` is a
/// `&mut SqliteConnection` or `&mut PgConnection`, so one SQL text is
/// type-checked for both backends and serves both the pool and a
/// transaction. `$conn` is a `Conn` place (it is borrowed, so it can be
/// used again).
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $crate::db::Conn::of($conn).hold().await {
            Err(e) => Err(e),
            Ok(mut held) => match held.backend() {
                $crate::db::Backend::Sqlite($c) => $body,
                $crate::db::Backend::Postgres($c) => $body,
            },
        }
    };
}

/// Where a read runs: on the pool, or inside an open write transaction (a
/// check that guards a write reads there, so it sees the transaction's own
/// writes and no one else's in between). Every store read takes
/// `impl Into<Conn>`: pass `&db` for the pool, `&mut *tx` (or `&mut tx`) for
/// the transaction. Writes take `&mut Tx` only.
pub enum Conn<'a> {
    Pool(&'a Db),
    Tx(&'a mut Tx),
}

impl<'a> From<&'a Db> for Conn<'a> {
    fn from(db: &'a Db) -> Self {
        Conn::Pool(db)
    }
}

impl<'a> From<&'a mut Tx> for Conn<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        Conn::Tx(tx)
    }
}

impl<'a, 'b> From<&'a mut Conn<'b>> for Conn<'a> {
    fn from(c: &'a mut Conn<'b>) -> Self {
        c.reborrow()
    }
}

/// A connection held for one query: taken from the pool, or the open
/// transaction's.
pub enum Held<'a> {
    SqlitePooled(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    PostgresPooled(sqlx::pool::PoolConnection<sqlx::Postgres>),
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

/// The backend's connection a query body runs on.
pub enum Backend<'a> {
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

impl<'a> Conn<'a> {
    /// The connection a store read was given (`&db`, `&mut *tx`, a `Conn`).
    pub fn of(c: impl Into<Conn<'a>>) -> Conn<'a> {
        c.into()
    }
}

impl Conn<'_> {
    /// The same connection, borrowed again (to pass to another read).
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Pool(db) => Conn::Pool(db),
            Conn::Tx(tx) => Conn::Tx(tx),
        }
    }

    /// A connection for one query (see [`on_conn!`]).
    pub async fn hold(&mut self) -> Result<Held<'_>, sqlx::Error> {
        Ok(match self {
            Conn::Pool(db) => match &db.pool {
                Pool::Sqlite(p) => Held::SqlitePooled(p.acquire().await?),
                Pool::Postgres(p) => Held::PostgresPooled(p.acquire().await?),
            },
            Conn::Tx(tx) => match &mut tx.inner {
                TxInner::Sqlite(t) => Held::Sqlite(t),
                TxInner::Postgres(t) => Held::Postgres(t),
            },
        })
    }
}

impl Held<'_> {
    pub fn backend(&mut self) -> Backend<'_> {
        match self {
            Held::SqlitePooled(c) => Backend::Sqlite(c),
            Held::PostgresPooled(c) => Backend::Postgres(c),
            Held::Sqlite(c) => Backend::Sqlite(c),
            Held::Postgres(c) => Backend::Postgres(c),
        }
    }
}

pub enum TxInner {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// A write transaction, holding the writer lock until commit or drop.
pub struct Tx {
    pub inner: TxInner,
    _guard: OwnedMutexGuard<()>,
    audit_key: Arc<AuditKey>,
    /// The request's [`EXPECTED_PERSON_VERSION`] was checked by this write.
    pub(crate) version_checked: bool,
}

tokio::task_local! {
    /// A person and the version of their record a request's writes must
    /// still find (the API's `If-Match`). It is checked inside the write
    /// transaction, under the write lock, before the first audit record
    /// about that person: of two requests holding the same version, the
    /// second finds the first's record and writes nothing.
    pub static EXPECTED_PERSON_VERSION: (i64, i64);
}

impl Tx {
    /// The key that authenticates the audit records this write appends.
    pub fn audit_key(&self) -> &AuditKey {
        &self.audit_key
    }

    pub async fn commit(self) -> Result<(), DbError> {
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

impl Db {
    /// Connects and runs the migrations. `sqlite://PATH` creates the file.
    /// The audit key is read from `AFTERCARE_AUDIT_KEY_FILE` or its default
    /// ([`AuditKey::location`]), created on first use.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        let key = AuditKey::from_env()?;
        Db::connect_with_key(url, key).await
    }

    /// Connects with a given audit key.
    pub async fn connect_with_key(url: &str, key: AuditKey) -> Result<Db, DbError> {
        let pool = if let Some(path) =
            url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))
        {
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
                .map_err(|_| DbError::UnsupportedUrl(url.into()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30));
            // The file holds the register: created owner-only, and an existing
            // one (with its -wal and -shm, which SQLite creates with the
            // database file's mode) has group and other access taken off.
            let file = std::path::PathBuf::from(path.split('?').next().unwrap_or(path));
            let in_memory = path.starts_with(':') || path.contains("mode=memory");
            if !in_memory && !file.exists() {
                // Another process may create it first: then it is theirs to protect.
                let _ = crate::db::backup::create_owner_only(&file);
            }
            let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
            if !in_memory {
                for suffix in ["", "-wal", "-shm"] {
                    let mut name = file.clone().into_os_string();
                    name.push(suffix);
                    crate::db::backup::make_owner_only(std::path::Path::new(&name))
                        .map_err(DbError::Permissions)?;
                }
            }
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(url).map_err(|_| DbError::UnsupportedUrl(url.into()))?;
            let pool = PgPoolOptions::new().max_connections(16).connect_with(options).await?;
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Pool::Postgres(pool)
        } else {
            return Err(DbError::UnsupportedUrl(url.into()));
        };
        let db = Db { pool, write_lock: Arc::new(Mutex::new(())), audit_key: Arc::new(key) };
        store::fold_names_once(&db).await?;
        Ok(db)
    }

    pub fn audit_key(&self) -> &AuditKey {
        &self.audit_key
    }

    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Opens a write transaction, serialised with every other writer.
    pub async fn begin_write(&self) -> Result<Tx, DbError> {
        let guard = self.write_lock.clone().lock_owned().await;
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => {
                let mut t = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(117)").execute(&mut *t).await?;
                TxInner::Postgres(t)
            }
        };
        Ok(Tx { inner, _guard: guard, audit_key: self.audit_key.clone(), version_checked: false })
    }

    /// Opens a write transaction for one large piece of work (an import, a
    /// recompute). On SQLite its connection gets a 256 MiB page cache instead
    /// of 2 MiB (so index pages are not spilled to the log and read back
    /// again and again) and the file mapped into memory for reading (no copy
    /// through a system call per page). Those settings belong to the
    /// connection, not the transaction, so the connection is closed when the
    /// transaction ends (committed, rolled back by an error, or dropped with
    /// a cancelled request) rather than going back to the pool: no later
    /// request, and no other pooled connection, keeps a 256 MiB cache.
    pub async fn begin_bulk_write(&self) -> Result<Tx, DbError> {
        let Pool::Sqlite(p) = &self.pool else { return self.begin_write().await };
        let guard = self.write_lock.clone().lock_owned().await;
        let mut conn = p.acquire().await?;
        conn.close_on_drop();
        let mut t =
            sqlx::Transaction::begin(conn, Some(sqlx::SqlSafeStr::into_sql_str("BEGIN IMMEDIATE")))
                .await?;
        sqlx::query("PRAGMA cache_size = -262144").execute(&mut *t).await?;
        sqlx::query("PRAGMA mmap_size = 17179869184").execute(&mut *t).await?;
        Ok(Tx {
            inner: TxInner::Sqlite(t),
            _guard: guard,
            audit_key: self.audit_key.clone(),
            version_checked: false,
        })
    }

    /// After a large write on SQLite: copies the write-ahead log into the
    /// database and empties it. A log left holding a million-person import
    /// makes every later read search its index (recompute took twice as
    /// long), so bulk work ends with this. Nothing to do on PostgreSQL.
    pub async fn truncate_log(&self) -> Result<(), DbError> {
        if let Pool::Sqlite(p) = &self.pool {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(p).await?;
        }
        Ok(())
    }

    /// Answers whether the database is reachable (for `/healthz`).
    pub async fn ping(&self) -> Result<(), DbError> {
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// Checks the audit trail's chain with the database's key (see
/// [`crate::db::audit::verify_chain`]); [`crate::db::audit::verify`] also checks the
/// rows each record wrote and a checkpoint. Returns one line per problem.
pub fn verify_audit_chain(db: &Db, rows: &[store::AuditRow]) -> Vec<String> {
    crate::db::audit::verify_chain(db.audit_key(), rows)
}
