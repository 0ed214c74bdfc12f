//! Tidy checks that run with `cargo test`: every module of the rules engine
//! and the scenario reader opens with a `//!` line saying why it exists.

use std::fs;
use std::path::PathBuf;

#[test]
fn every_module_opens_with_a_doc_line() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("scenario.rs")];
    for entry in fs::read_dir(src.join("rules")).unwrap() {
        files.push(entry.unwrap().path());
    }
    for test in fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")).unwrap() {
        let path = test.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/mod.rs"));
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !fs::read_to_string(f).unwrap().starts_with("//! "))
        .map(|f| f.display().to_string())
        .collect();
    assert!(missing.is_empty(), "modules without a `//!` line: {missing:?}");
}
