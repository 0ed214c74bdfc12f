//! Importing a master list or a reviews file in the browser: upload, a dry
//! run and its report (problems by row, column and reason; people to add,
//! correct or leave), headers not known mapped once for the organisation,
//! then confirm. The upload is kept by the import service
//! (`services/import_jobs.rs`) and worked on in the background, its
//! progress shown on the page until it is done.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aftercare_files::ImportErrors;
use aftercare_files::register::column_label;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::ServiceError;
use crate::services::import_jobs::{Job, Outcome, Runner, Stage};
use crate::services::import_mappings::{self, ImportKind};
use crate::web::pages::{Nav, nav_for};
use crate::web::{AppError, AppState, CsrfForm, CsrfMultipart, CurrentUser, Session};

/// The largest upload: the application's own cap on a request body.
pub const IMPORT_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// How long a request waits for the work it started before showing the
/// progress page instead.
const WAIT_FOR_RESULT: Duration = Duration::from_secs(5);

fn may_import(s: &Session) -> Result<(), AppError> {
    import_mappings::ensure_may_import(&s.user).map_err(AppError::from)
}

// ---------------------------------------------------------------- the page

/// A row of the problems table.
struct ProblemLine {
    row: usize,
    column: String,
    reason: String,
}

/// An unknown header offered for mapping.
struct UnknownLine {
    index: usize,
    header: String,
    /// What the user chose for it, shown again when the form is refused.
    chosen: String,
}

/// A header the organisation has mapped before, or how one was read.
#[derive(Clone)]
struct MappedLine {
    header: String,
    column: String,
}

/// A count shown in the report.
struct CountLine {
    label: &'static str,
    value: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "import.html")]
struct ImportPage {
    nav: Option<Nav>,
    csrf_token: String,
    /// `upload`, `progress`, `problems`, `check`, `done` or `failed`.
    mode: &'static str,
    token: String,
    kind_label: &'static str,
    file_name: String,
    /// Progress: what is under way, and how far it is.
    progress: String,
    error: Option<String>,
    problems: Vec<ProblemLine>,
    omitted: usize,
    unknown: Vec<UnknownLine>,
    /// Our columns for the mapping form: (name, words).
    columns: Vec<(&'static str, &'static str)>,
    mapping_errors: Vec<(String, String)>,
    counts: Vec<CountLine>,
    changes: usize,
    mapped: Vec<MappedLine>,
    /// How the file's headers were read.
    read_as: Vec<MappedLine>,
    /// What the reading left out, though nothing was refused.
    warnings: Vec<String>,
}

impl ImportPage {
    fn new(nav: Nav, s: &Session, mode: &'static str) -> ImportPage {
        ImportPage::blank(Some(nav), s.csrf_token.clone(), mode)
    }

    fn blank(nav: Option<Nav>, csrf_token: String, mode: &'static str) -> ImportPage {
        ImportPage {
            nav,
            csrf_token,
            mode,
            token: String::new(),
            kind_label: "",
            file_name: String::new(),
            progress: String::new(),
            error: None,
            problems: Vec::new(),
            omitted: 0,
            unknown: Vec::new(),
            columns: Vec::new(),
            mapping_errors: Vec::new(),
            counts: Vec::new(),
            changes: 0,
            mapped: Vec::new(),
            read_as: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn mapping_error(&self, index: &usize) -> Option<&str> {
        let field = format!("column_{index}");
        self.mapping_errors.iter().find(|(f, _)| *f == field).map(|(_, r)| r.as_str())
    }
}

/// The organisation's remembered headers, for the upload page.
async fn mapped_lines(state: &AppState, s: &Session) -> Result<Vec<MappedLine>, AppError> {
    let mut lines = Vec::new();
    for kind in [ImportKind::Register, ImportKind::Reviews] {
        for row in import_mappings::rows(&state.db, &s.user.org_code, kind).await? {
            lines.push(MappedLine {
                header: row.header,
                column: match row.column_name.as_deref() {
                    Some(c) => format!("{} ({})", column_label(c), kind.label()),
                    None => format!("Ignored ({})", kind.label()),
                },
            });
        }
    }
    Ok(lines)
}

/// The upload form.
pub async fn import_page(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
) -> Result<Response, AppError> {
    may_import(&s)?;
    let mut page = ImportPage::new(nav_for(&state, &s).await, &s, "upload");
    page.mapped = mapped_lines(&state, &s).await?;
    Ok(page.into_response())
}

/// Takes the upload (multipart, its CSRF token checked by
/// [`CsrfMultipart`]), keeps it under a new token and starts the dry run.
pub async fn import_upload(
    State(state): State<AppState>,
    CsrfMultipart(s, fields): CsrfMultipart,
) -> Result<Response, AppError> {
    may_import(&s)?;
    let text = |key: &str| fields.get(key).map(|(_, b)| String::from_utf8_lossy(b).to_string());
    let kind = text("kind").as_deref().and_then(ImportKind::parse);
    let file = fields.get("file").filter(|(name, b)| !name.is_empty() || !b.is_empty());
    let problem = match (kind, file) {
        (None, _) => Some("Choose what the file holds: the master list or reviews held."),
        (_, None) => Some("Choose the file to import."),
        (_, Some((_, b))) if b.is_empty() => Some("The file chosen is empty."),
        _ => None,
    };
    let (Some(kind), Some((name, bytes)), None) = (kind, file, problem) else {
        let mut page = ImportPage::new(nav_for(&state, &s).await, &s, "upload");
        page.error = problem.map(str::to_string);
        page.mapped = mapped_lines(&state, &s).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    // The name as the user knows it, without any folder a browser sends.
    let file_name = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let file_name =
        aftercare_core::text::excerpt(if file_name.is_empty() { "upload" } else { file_name });
    let token = state.imports.insert(s.user.id, kind, file_name, bytes.clone())?;
    let job = state.imports.get(&token, s.user.id)?;
    run(&state, &s, job, true).await;
    Ok(Redirect::to(&format!("/import/{token}")).into_response())
}

/// Runs the dry run or the import in the background, and waits a little
/// for it, so a small file goes straight to its result.
async fn run(state: &AppState, s: &Session, job: Arc<Job>, dry_run: bool) {
    let runner = Runner {
        db: state.db.clone(),
        actor: s.user.actor(),
        org: s.user.org_code.clone(),
        today: state.today(),
    };
    state.imports.run(runner, job, dry_run, WAIT_FOR_RESULT).await;
}

/// The upload's page: progress, the dry run's report, or the result.
pub async fn import_status(
    State(state): State<AppState>,
    CurrentUser(s): CurrentUser,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    may_import(&s)?;
    let job = state.imports.get(&token, s.user.id)?;
    let page = status_page(&state, &s, &token, &job, Vec::new()).await;
    Ok(page.into_response())
}

async fn status_page(
    state: &AppState,
    s: &Session,
    token: &str,
    job: &Job,
    mapping_errors: Vec<(String, String)>,
) -> ImportPage {
    let nav = nav_for(state, s).await;
    let mut page = ImportPage::new(nav, s, "progress");
    page.token = token.to_string();
    page.kind_label = job.kind.label();
    page.file_name = job.file_name.clone();
    page.read_as = job
        .read_as()
        .into_iter()
        .map(|r| MappedLine { header: r.header, column: r.column })
        .collect();
    let stage = job.stage();
    match &stage {
        Stage::Checking | Stage::Importing => {
            let (done, total) = job.progress();
            let what = if matches!(stage, Stage::Checking) { "Checking" } else { "Importing" };
            page.progress = match (done * 100).checked_div(total) {
                Some(percent) => format!("{what}: {done} of {total} people done ({percent}%)."),
                None => format!("{what}: reading the file."),
            };
        }
        Stage::Checked(outcome) | Stage::Imported(outcome) => {
            let imported = matches!(stage, Stage::Imported(_));
            match outcome {
                Outcome::Problems(errors) => {
                    page.mode = "problems";
                    fill_problems(&mut page, errors, job.kind);
                    page.mapping_errors = mapping_errors;
                }
                Outcome::Failed(message) => {
                    page.mode = "failed";
                    page.error = Some(message.clone());
                }
                Outcome::Register(r) => {
                    page.mode = if imported { "done" } else { "check" };
                    page.changes = r.changes();
                    page.warnings.clone_from(&r.warnings);
                    if !imported {
                        // An ignored column may hold something we keep: offer to say so.
                        page.unknown = unknown_lines(&r.ignored_columns);
                        page.mapping_errors = mapping_errors;
                        page.columns =
                            job.kind.columns().iter().map(|c| (*c, column_label(c))).collect();
                    }
                    page.counts = vec![
                        CountLine { label: "Rows read", value: r.rows },
                        CountLine { label: "People added", value: r.people_added },
                        CountLine { label: "People corrected", value: r.people_updated },
                        CountLine { label: "People unchanged", value: r.people_unchanged },
                        CountLine { label: "Detentions added", value: r.detentions_added },
                        CountLine { label: "Detentions corrected", value: r.detentions_corrected },
                    ];
                }
                Outcome::Reviews(r) => {
                    page.mode = if imported { "done" } else { "check" };
                    page.changes = r.added;
                    page.counts = vec![
                        CountLine { label: "Rows read", value: r.rows },
                        CountLine { label: "Reviews added", value: r.added },
                        CountLine { label: "Reviews already recorded", value: r.unchanged },
                    ];
                }
            }
        }
    }
    page
}

fn fill_problems(page: &mut ImportPage, errors: &ImportErrors, kind: ImportKind) {
    if let Some(e) = &errors.unreadable {
        page.error = Some(sentence(&e.to_string()));
        return;
    }
    page.problems = errors
        .errors
        .iter()
        .map(|e| ProblemLine {
            row: e.line,
            column: column_label(&e.column).to_string(),
            reason: if e.reason.starts_with(aftercare_files::table::UNKNOWN_COLUMN) {
                "Aftercare does not know this column: say below what it holds, or ignore it.".into()
            } else {
                sentence(&plain_reason(&e.reason))
            },
        })
        .collect();
    page.omitted = errors.omitted;
    page.unknown = unknown_lines(&errors.unknown_columns);
    page.columns = kind.columns().iter().map(|c| (*c, column_label(c))).collect();
}

fn unknown_lines(headers: &[String]) -> Vec<UnknownLine> {
    headers
        .iter()
        .enumerate()
        .map(|(index, header)| UnknownLine { index, header: header.clone(), chosen: String::new() })
        .collect()
}

/// A reason with our column names in words and quoted values in quotes.
fn plain_reason(reason: &str) -> String {
    let mut text = reason.to_string();
    for (name, label) in aftercare_files::register::REGISTER_COLUMN_LABELS
        .iter()
        .chain(aftercare_files::reviews::REVIEW_COLUMN_LABELS.iter())
    {
        // Mid-sentence: `no fixed abode`, but `NHS number` and `GP practice`.
        let mut chars = label.chars();
        let words = match (chars.next(), chars.next()) {
            (Some(a), Some(b)) if b.is_lowercase() => {
                a.to_lowercase().chain(label.chars().skip(1)).collect()
            }
            _ => label.to_string(),
        };
        text = text.replace(name, &words);
    }
    let mut out = String::with_capacity(text.len());
    let mut open = true;
    for c in text.chars() {
        if c == '`' {
            out.push(if open { '“' } else { '”' });
            open = !open;
        } else {
            out.push(c);
        }
    }
    out
}

/// Starts with a capital and ends with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '?', '!']) {
        out.push('.');
    }
    out
}

#[derive(serde::Deserialize)]
pub struct MappingForm {
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

/// Remembers what the unknown headers hold, for the user's organisation,
/// and checks the same file again.
pub async fn import_mapping(
    State(state): State<AppState>,
    Path(token): Path<String>,
    CsrfForm(s, form): CsrfForm<MappingForm>,
) -> Result<Response, AppError> {
    may_import(&s)?;
    let job = state.imports.get(&token, s.user.id)?;
    // The headers the form named: refused as unknown, or ignored by a dry run.
    let Some(unknown) = job.unmapped() else {
        return Ok(Redirect::to(&format!("/import/{token}")).into_response());
    };
    let mut entries = Vec::new();
    let mut missing = Vec::new();
    for (index, header) in unknown.iter().enumerate() {
        let field = format!("column_{index}");
        match form.fields.get(&field).map(String::as_str).unwrap_or("") {
            "" => missing.push((field, format!("Choose what “{header}” holds, or ignore it"))),
            "ignore" => entries.push((header.clone(), None)),
            column => entries.push((header.clone(), Some(column.to_string()))),
        }
    }
    let result = if missing.is_empty() {
        import_mappings::remember(&state.db, &s.user, job.kind, &entries).await
    } else {
        Err(ServiceError::Invalid(missing))
    };
    match result {
        Ok(_) => {
            run(&state, &s, job, true).await;
            Ok(Redirect::to(&format!("/import/{token}")).into_response())
        }
        Err(ServiceError::Invalid(fields)) => {
            let mut page = status_page(&state, &s, &token, &job, fields).await;
            // No choice made is lost to the one left out.
            for u in &mut page.unknown {
                u.chosen =
                    form.fields.get(&format!("column_{}", u.index)).cloned().unwrap_or_default();
            }
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Imports the file the dry run checked.
pub async fn import_confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    CsrfForm(s, _): CsrfForm<MappingForm>,
) -> Result<Response, AppError> {
    may_import(&s)?;
    let job = state.imports.get(&token, s.user.id)?;
    if job.start_import() {
        run(&state, &s, job, false).await;
    }
    Ok(Redirect::to(&format!("/import/{token}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_file_shows_how_far_the_work_has_got() {
        let mut page = ImportPage::blank(None, "t".into(), "progress");
        page.token = "abc".into();
        page.file_name = "master.csv".into();
        page.kind_label = "master list";
        page.progress = "Importing: 256 of 1000 people done (25%).".into();
        let html = page.render().unwrap();
        assert!(html.contains("<h1>Working on your file</h1>"), "{html}");
        assert!(html.contains(r#"<p role="status">Importing: 256 of 1000 people done (25%).</p>"#));
        assert!(html.contains(r#"href="/import/abc""#));
        // It does not refresh itself (WCAG 2.2.1): the user looks again.
        assert!(!html.contains("http-equiv"));
    }

    #[test]
    fn reasons_read_as_words() {
        assert_eq!(
            sentence(&plain_reason(
                "blank, but no_fixed_abode is not yes: give the council, or no_fixed_abode = yes"
            )),
            "Blank, but no fixed abode is not yes: give the council, or no fixed abode = yes."
        );
        assert_eq!(
            sentence(&plain_reason("`1234567890`: NHS number fails the modulus 11 check")),
            "“1234567890”: NHS number fails the modulus 11 check."
        );
    }
}
