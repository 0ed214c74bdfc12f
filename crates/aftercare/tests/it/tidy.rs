//! Tidy checks on the source tree, run with `cargo test`: the layout rules
//! of `docs/ARCHITECTURE.md` that a compiler does not enforce.
//!
//! - Only the edges (`web/`, `api/` and the command line: `main.rs`,
//!   `cli.rs`, `cli/`) may import the edges (`crate::web`, `crate::api`,
//!   `crate::cli`, or the same through `aftercare::` or `super::`). Imports
//!   still to be paid off are listed in [`KNOWN_DEBT`]; the list may only shrink.
//! - Every `.rs` file under `crates/*/src` (and these tests) opens with a
//!   `//!` line saying why it exists.
//! - No module outside the edges returns a nested `Result<Result<..>>`:
//!   services answer with one `ServiceError`.
//! - `docs/ARCHITECTURE.md`'s code map matches the tree: every file of the
//!   `aftercare` crate is named in it, and every path it names with a folder
//!   exists.
//! - All SQL is in `db/`: no query or connection macro elsewhere.
//! - `anyhow` only in `main.rs` and `cli/`: every other module has typed
//!   errors.
//! - The command line reads and writes through services only: no store
//!   module, SQL or write transaction of its own (the `Actor` and `Db`
//!   types it passes to services excepted).
//!
//! The checks read the text, not the syntax tree: `use` statements (grouped
//! ones expanded, `as` renames ignored) and any path written out in code.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Edge imports made by modules outside the edges, as (file under
/// `crates/aftercare/src`, imported path): debts to pay (issue 13: services
/// return their own types, the edges convert). The test fails when a listed
/// one is gone, so the list only shrinks; never add to it. It held
/// `views.rs` and `access_log.rs` importing `crate::web::{AppError, Session}`
/// until the session became an auth type and the read check got its own
/// error.
const KNOWN_DEBT: &[(&str, &str)] = &[];

/// The edge modules' roots, as paths start in code.
const EDGE_MODULES: &[&str] = &["web", "api", "cli"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The `src` folders of every crate in the workspace.
fn crate_sources() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Whether a file (relative to `crates/aftercare/src`) is an edge.
fn is_edge(rel: &str) -> bool {
    rel == "main.rs"
        || rel == "cli.rs"
        || ["web/", "api/", "cli/"].iter().any(|dir| rel.starts_with(dir))
}

/// The paths a `use` statement imports, each with the (1-based) line its
/// last segment is on: `use crate::{a, b::{c, d as e}};` gives `crate::a`,
/// `crate::b::c`, `crate::b::d`.
fn use_paths(statement: &str, first_line: usize) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut prefixes = vec![String::new()];
    let mut current = String::new();
    let mut line = first_line;
    let mut skip_rename = false;
    let mut chars = statement.char_indices().peekable();
    let emit = |prefixes: &[String], current: &mut String, out: &mut Vec<_>, line| {
        if !current.is_empty() {
            out.push((line, format!("{}{}", prefixes.last().unwrap(), current)));
            current.clear();
        }
    };
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' => line += 1,
            '{' => {
                prefixes.push(format!("{}{}", prefixes.last().unwrap(), current));
                current.clear();
            }
            ',' | ';' => {
                emit(&prefixes, &mut current, &mut out, line);
                skip_rename = false;
            }
            '}' => {
                emit(&prefixes, &mut current, &mut out, line);
                prefixes.pop();
                skip_rename = false;
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if !(d.is_alphanumeric() || d == '_') {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                let word = &statement[i..end];
                if word == "as" {
                    skip_rename = true;
                } else if skip_rename {
                    skip_rename = false;
                } else if !(current.is_empty() && prefixes.len() == 1 && word == "use") {
                    current.push_str(word);
                }
            }
            ':' if !skip_rename => current.push(':'),
            '*' => current.push('*'),
            _ => {}
        }
    }
    emit(&prefixes, &mut current, &mut out, line);
    for (_, p) in &mut out {
        if let Some(stripped) = p.strip_suffix("::self") {
            *p = stripped.to_string();
        }
        if let Some(stripped) = p.strip_prefix("::") {
            *p = stripped.to_string();
        }
    }
    out
}

/// Whether `path` names an edge module: `crate::web…`, `aftercare::api…`,
/// `super::cli…` (and, in the crate root, `web…`).
fn names_edge(path: &str, at_crate_root: bool) -> bool {
    let rest = ["crate::", "aftercare::", "super::"]
        .iter()
        .find_map(|root| path.strip_prefix(root))
        .or(at_crate_root.then_some(path));
    let Some(rest) = rest else { return false };
    EDGE_MODULES.iter().any(|m| {
        rest.strip_prefix(m).is_some_and(|after| after.is_empty() || after.starts_with("::"))
    })
}

/// Paths written out in a line of code outside a `use` statement, such as
/// `crate::web::pages::check_login(..)`, as far as they go.
fn inline_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for root in ["crate::", "aftercare::", "super::"] {
        for (i, _) in line.match_indices(root) {
            let before = line[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = line[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(path.trim_end_matches(':').to_string());
        }
    }
    out
}

/// Every import of an edge in a file: (line, path).
fn edge_imports(text: &str, at_crate_root: bool) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut n = 0;
    while n < lines.len() {
        let code = lines[n].trim_start();
        if code.starts_with("//") {
            n += 1;
            continue;
        }
        let is_use = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .any(|p| code.starts_with(p));
        if is_use {
            let start = n;
            let mut statement = String::new();
            loop {
                statement.push_str(lines[n]);
                statement.push('\n');
                if lines[n].contains(';') || n + 1 == lines.len() {
                    break;
                }
                n += 1;
            }
            let from = statement.find("use ").unwrap();
            for (line, path) in use_paths(&statement[from..], start + 1) {
                if names_edge(&path, at_crate_root) {
                    found.push((line, path));
                }
            }
        } else {
            for path in inline_paths(code) {
                if names_edge(&path, false) {
                    found.push((n + 1, path));
                }
            }
        }
        n += 1;
    }
    found
}

#[test]
fn the_text_matching_finds_edge_imports() {
    let text = "\
//! Not an import: crate::web::AppError in a comment.
use crate::db::Db;
use crate::web::{AppError, Session};
use crate::{
    auth,
    api::views as wire,
};
pub use aftercare::cli::Command;
use super::web;
use crate::webhooks::Hook;
fn f() { let _ = crate::web::pages::check_login(); crate::auth::x(); }
";
    let found = edge_imports(text, false);
    assert_eq!(
        found,
        vec![
            (3, "crate::web::AppError".to_string()),
            (3, "crate::web::Session".to_string()),
            (6, "crate::api::views".to_string()),
            (8, "aftercare::cli::Command".to_string()),
            (9, "super::web".to_string()),
            (11, "crate::web::pages::check_login".to_string()),
        ]
    );
    // In the crate root a path may start at the module itself.
    assert_eq!(edge_imports("pub use web::AppState;\n", true), vec![(1, "web::AppState".into())]);
    assert_eq!(edge_imports("pub mod web;\n", true), vec![]);
}

#[test]
fn only_the_edges_import_the_edges() {
    let src = workspace().join("crates/aftercare/src");
    let mut found: BTreeSet<(String, String)> = BTreeSet::new();
    let mut problems = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        if is_edge(&rel) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, path) in edge_imports(&text, rel == "lib.rs") {
            if KNOWN_DEBT.contains(&(rel.as_str(), path.as_str())) {
                found.insert((rel.clone(), path));
            } else {
                problems.push(format!(
                    "crates/aftercare/src/{rel}:{line}: imports `{path}`, but only the edges (web/, api/, main.rs, cli.rs, cli/) may use the edges; move what it needs into a service or storage module"
                ));
            }
        }
    }
    for (rel, path) in KNOWN_DEBT {
        if !found.contains(&(rel.to_string(), path.to_string())) {
            problems.push(format!(
                "crates/aftercare/tests/it/tidy.rs: KNOWN_DEBT lists ({rel:?}, {path:?}), but crates/aftercare/src/{rel} no longer imports it: take it out of the list"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn every_module_opens_with_a_doc_line() {
    let mut files: Vec<PathBuf> = crate_sources().iter().flat_map(|d| rust_files(d)).collect();
    files.extend(rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")));
    assert!(files.len() > 50, "too few source files found: {}", files.len());
    let root = workspace().canonicalize().unwrap();
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| {
            let f = f.canonicalize().unwrap();
            format!(
                "{}:1: does not open with a `//!` line saying why the module exists",
                f.strip_prefix(&root).unwrap_or(&f).display()
            )
        })
        .collect();
    assert!(missing.is_empty(), "\n{}\n", missing.join("\n"));
}

/// What the command line may not name: storage beyond the handle and the
/// actor, SQL, transactions, audit records.
const CLI_FORBIDDEN: &[&str] = &[
    "db::store::",
    "db::care",
    "db::bulk",
    "db::endings",
    "db::disputes",
    "sqlx",
    "on_pool!",
    "on_tx!",
    "begin_write",
    "append_audit",
];

#[test]
fn the_command_line_goes_through_services() {
    let src = workspace().join("crates/aftercare/src");
    let mut files = rust_files(&src.join("cli"));
    files.push(src.join("main.rs"));
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let code = code.replace("db::store::Actor", "");
            for bad in CLI_FORBIDDEN {
                if code.contains(bad) {
                    problems.push(format!(
                        "{}:{}: the command line names `{bad}`; call a service instead",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(files.len() > 5, "too few command-line files found");
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn services_return_one_error() {
    let src = workspace().join("crates/aftercare/src");
    let mut problems = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        if is_edge(&rel) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.split("//").next().unwrap_or_default().contains("Result<Result<") {
                problems.push(format!(
                    "crates/aftercare/src/{rel}:{}: a nested Result; return ServiceError::Invalid for field problems",
                    n + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn the_code_map_matches_the_tree() {
    let doc = std::fs::read_to_string(workspace().join("docs/ARCHITECTURE.md")).unwrap();
    let src = workspace().join("crates/aftercare/src");
    let mut problems = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let name = rel.rsplit('/').next().unwrap_or_default();
        // A folder's mod.rs is named by its folder; any other file by its
        // name (the doc groups files by folder, so names suffice).
        let named = if name == "mod.rs" {
            let dir = rel.trim_end_matches("mod.rs").trim_end_matches('/');
            let last = dir.rsplit('/').next().unwrap_or_default();
            doc.contains(&format!("`{dir}/")) || doc.contains(&format!("{last}/"))
        } else {
            doc.contains(&format!("`{name}`")) || doc.contains(&format!("/{name}`"))
        };
        if !named {
            problems.push(format!(
                "crates/aftercare/src/{rel} is not in docs/ARCHITECTURE.md's code map"
            ));
        }
    }
    // Every `folder/file.rs` the doc names is a file of some crate's src.
    let sources = crate_sources();
    for piece in doc.split('`').skip(1).step_by(2) {
        if piece.ends_with(".rs") && piece.contains('/') && !piece.contains(' ') {
            let exists = sources.iter().any(|d| d.join(piece).is_file())
                || workspace().join(piece).is_file()
                || sources.iter().any(|d| {
                    rust_files(d).iter().any(|f| {
                        f.to_string_lossy().replace('\\', "/").ends_with(&format!("/{piece}"))
                    })
                });
            if !exists {
                problems.push(format!(
                    "docs/ARCHITECTURE.md names `{piece}`, which is not in the tree"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn anyhow_only_in_the_command_line() {
    let mut problems = Vec::new();
    for dir in crate_sources() {
        for file in rust_files(&dir) {
            let rel = file.strip_prefix(&dir).unwrap().to_string_lossy().replace('\\', "/");
            let is_cli =
                dir.ends_with("aftercare/src") && (rel == "main.rs" || rel.starts_with("cli/"));
            if is_cli {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            if let Some(n) = text
                .lines()
                .position(|l| l.split("//").next().unwrap_or_default().contains("anyhow"))
            {
                problems.push(format!(
                    "{}:{}: uses anyhow; give the module a typed error",
                    file.display(),
                    n + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn all_sql_is_in_storage() {
    let src = workspace().join("crates/aftercare/src");
    let mut problems = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        if rel.starts_with("db/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for sql in ["sqlx::query", "on_pool!", "on_conn!", "on_tx!"] {
                if code.contains(sql) {
                    problems.push(format!(
                        "crates/aftercare/src/{rel}:{}: `{sql}` outside db/; put the query in a storage module",
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}
