//! Files being imported, for the import page and the API alike: each kept
//! in memory under a random token bound to the user who uploaded it,
//! checked first (a dry run: problems by row, column and reason; people to
//! add, correct or leave), imported only when confirmed, and the work run
//! in the background with its progress, so a large file neither holds a
//! request open nor is lost to one that ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aftercare_files::ImportErrors;
use aftercare_files::register::column_label;
use aftercare_files::table::HeaderMatch;
use chrono::NaiveDate;

use crate::db::Db;
use crate::db::store::Actor;
use crate::error::ServiceError;
use crate::services::care::ReviewImportReport;
use crate::services::import_mappings::{self, ImportKind};
use crate::services::register::{ImportOptions, ImportReport};

/// An upload is forgotten this long after it was made.
const KEEP_FOR: Duration = Duration::from_secs(60 * 60);
/// Uploads kept for one user at once: a new one forgets the oldest.
const PER_USER: usize = 2;
/// All the uploads kept, together: beyond this the oldest finished ones go.
const MAX_KEPT_BYTES: usize = 128 * 1024 * 1024;

/// Uploaded files waiting to be confirmed, and the work on them, by token.
pub struct ImportJobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    /// Puts a failure in words the user may read (the edge's own mapping,
    /// which logs what is internal and never shows it).
    describe: fn(ServiceError) -> String,
}

/// One upload: the file, and how far the work on it has got.
pub struct Job {
    user_id: i64,
    pub kind: ImportKind,
    pub file_name: String,
    bytes: Vec<u8>,
    created: Instant,
    done: AtomicU64,
    total: AtomicU64,
    stage: Mutex<Stage>,
    /// How each header of the file was read, as of the last dry run.
    read_as: Mutex<Vec<ReadAs>>,
}

/// A header of the file, and the column it was read as (in words).
#[derive(Clone, Debug)]
pub struct ReadAs {
    pub header: String,
    pub column: String,
}

/// Where the work on an upload is.
#[derive(Clone)]
pub enum Stage {
    Checking,
    Checked(Outcome),
    Importing,
    Imported(Outcome),
}

/// What a dry run or an import came to.
#[derive(Clone)]
pub enum Outcome {
    Register(ImportReport),
    Reviews(ReviewImportReport),
    Problems(ImportErrors),
    /// Refused or failed for another reason, in words.
    Failed(String),
}

/// Why an upload was not taken.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("too many files are being imported at the moment: try again in a few minutes")]
    Busy,
    #[error("no such upload")]
    NotFound,
    #[error("the uploads could not be reached")]
    Poisoned,
    #[error("no random token could be made")]
    NoToken,
}

impl Job {
    pub fn stage(&self) -> Stage {
        self.stage.lock().map(|s| s.clone()).unwrap_or(Stage::Checking)
    }

    fn set(&self, stage: Stage) {
        if let Ok(mut s) = self.stage.lock() {
            *s = stage;
        }
    }

    /// Moves a checked file without problems on to importing, once: of two
    /// confirmations at the same moment, one starts the import.
    pub fn start_import(&self) -> bool {
        let Ok(mut s) = self.stage.lock() else { return false };
        if matches!(*s, Stage::Checked(Outcome::Register(_) | Outcome::Reviews(_))) {
            *s = Stage::Importing;
            true
        } else {
            false
        }
    }

    fn running(&self) -> bool {
        matches!(self.stage(), Stage::Checking | Stage::Importing)
    }

    /// People done and to do, while the work runs (0 of 0: reading the file).
    pub fn progress(&self) -> (u64, u64) {
        (self.done.load(Ordering::Relaxed), self.total.load(Ordering::Relaxed))
    }

    /// How each header was read, as of the last dry run.
    pub fn read_as(&self) -> Vec<ReadAs> {
        self.read_as.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The headers a mapping may name: refused as unknown by the dry run,
    /// or ignored by it (`None`: the file is not waiting on a mapping).
    pub fn unmapped(&self) -> Option<Vec<String>> {
        match self.stage() {
            Stage::Checked(Outcome::Problems(errors)) => Some(errors.unknown_columns.clone()),
            Stage::Checked(Outcome::Register(r)) => Some(r.ignored_columns.clone()),
            _ => None,
        }
    }
}

/// What is needed to run the work on an upload.
pub struct Runner {
    pub db: Db,
    pub actor: Actor,
    pub org: String,
    pub today: NaiveDate,
}

impl ImportJobs {
    pub fn new(describe: fn(ServiceError) -> String) -> ImportJobs {
        ImportJobs { jobs: Mutex::new(HashMap::new()), describe }
    }

    /// Keeps an upload under a new token, forgetting the user's oldest and,
    /// when memory is short, the oldest finished ones.
    pub fn insert(
        &self,
        user_id: i64,
        kind: ImportKind,
        file_name: String,
        bytes: Vec<u8>,
    ) -> Result<String, JobError> {
        let job = Job {
            user_id,
            kind,
            file_name,
            bytes,
            created: Instant::now(),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            stage: Mutex::new(Stage::Checking),
            read_as: Mutex::new(Vec::new()),
        };
        let mut token = [0u8; 24];
        getrandom::fill(&mut token).map_err(|_| JobError::NoToken)?;
        let token = hex::encode(token);
        let mut jobs = self.jobs.lock().map_err(|_| JobError::Poisoned)?;
        jobs.retain(|_, j| j.running() || j.created.elapsed() < KEEP_FOR);
        let mut mine: Vec<(String, Instant)> = jobs
            .iter()
            .filter(|(_, j)| j.user_id == job.user_id && !j.running())
            .map(|(t, j)| (t.clone(), j.created))
            .collect();
        mine.sort_by_key(|(_, at)| *at);
        while mine.len() >= PER_USER {
            jobs.remove(&mine.remove(0).0);
        }
        let mut finished: Vec<(String, Instant)> = jobs
            .iter()
            .filter(|(_, j)| !j.running())
            .map(|(t, j)| (t.clone(), j.created))
            .collect();
        finished.sort_by_key(|(_, at)| *at);
        let kept =
            |jobs: &HashMap<String, Arc<Job>>| jobs.values().map(|j| j.bytes.len()).sum::<usize>();
        while kept(&jobs) + job.bytes.len() > MAX_KEPT_BYTES {
            if finished.is_empty() {
                return Err(JobError::Busy);
            }
            jobs.remove(&finished.remove(0).0);
        }
        jobs.insert(token.clone(), Arc::new(job));
        Ok(token)
    }

    /// The upload under `token`, if it is this user's: anyone else's
    /// answers as one that does not exist.
    pub fn get(&self, token: &str, user_id: i64) -> Result<Arc<Job>, JobError> {
        let jobs = self.jobs.lock().map_err(|_| JobError::Poisoned)?;
        jobs.get(token)
            .filter(|j| j.user_id == user_id && (j.running() || j.created.elapsed() < KEEP_FOR))
            .cloned()
            .ok_or(JobError::NotFound)
    }

    /// Runs the dry run or the import in the background, and waits up to
    /// `wait` for it, so a small file goes straight to its result.
    pub async fn run(&self, runner: Runner, job: Arc<Job>, dry_run: bool, wait: Duration) {
        job.set(if dry_run { Stage::Checking } else { Stage::Importing });
        job.done.store(0, Ordering::Relaxed);
        job.total.store(0, Ordering::Relaxed);
        let describe = self.describe;
        // On a blocking thread of its own, driving the import there: the
        // service's future borrows its arguments across awaits, which a task
        // spawned on the runtime cannot.
        let runtime = tokio::runtime::Handle::current();
        let handle = tokio::task::spawn_blocking(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runtime.block_on(work(&runner, &job, dry_run, describe))
            }))
            .unwrap_or_else(|_| {
                tracing::error!("an import in the background panicked");
                Outcome::Failed(describe(ServiceError::Internal("import panicked".into())))
            });
            job.set(if dry_run { Stage::Checked(outcome) } else { Stage::Imported(outcome) });
        });
        let _ = tokio::time::timeout(wait, handle).await;
    }
}

async fn work(
    r: &Runner,
    job: &Job,
    dry_run: bool,
    describe: fn(ServiceError) -> String,
) -> Outcome {
    let mapping = match import_mappings::mapping(&r.db, Some(&r.org), job.kind).await {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(describe(e)),
    };
    if dry_run {
        let rules = aftercare_files::table::HeaderRules {
            known: job.kind.columns(),
            aliases: job.kind.aliases(),
            mapping: &mapping,
        };
        let headers = aftercare_files::table::read_headers(&job.file_name, &job.bytes);
        let lines = headers
            .unwrap_or_default()
            .iter()
            .map(|h| ReadAs {
                header: aftercare_core::text::excerpt(h),
                column: match rules.resolve(h) {
                    HeaderMatch::Column(c) => column_label(&c).to_string(),
                    HeaderMatch::Ignored => "Ignored".into(),
                    HeaderMatch::Unknown => "Not known".into(),
                },
            })
            .collect();
        if let Ok(mut read_as) = job.read_as.lock() {
            *read_as = lines;
        }
    }
    let result = match job.kind {
        ImportKind::Register => {
            let options = ImportOptions { dry_run, today: r.today, mapping: &mapping };
            let progress = |done: u64, total: u64| {
                job.done.store(done, Ordering::Relaxed);
                job.total.store(total, Ordering::Relaxed);
            };
            crate::services::register::import_register_with(
                &r.db,
                &r.actor,
                &job.file_name,
                &job.bytes,
                options,
                &progress,
            )
            .await
            .map(Outcome::Register)
        }
        ImportKind::Reviews => crate::services::care::import_reviews_with(
            &r.db,
            &r.actor,
            &job.file_name,
            &job.bytes,
            dry_run,
            &mapping,
        )
        .await
        .map(Outcome::Reviews),
    };
    match result {
        Ok(o) => o,
        Err(ServiceError::InvalidFile(errors)) => Outcome::Problems(errors),
        Err(e) => Outcome::Failed(describe(e)),
    }
}
