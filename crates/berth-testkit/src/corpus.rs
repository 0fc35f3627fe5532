//! The test corpus: task and service definitions in ECS's own JSON forms (register and describe
//! output, console exports, ecspresso dumps, `--cli-input-json` files), found in one place.
//!
//! The corpus lives in the repository at `testdata/corpus/` (see its `README.md`), with one
//! directory per [kind](TASK_DEFINITIONS): `task-definitions/` and `services/`. Tests that
//! iterate the corpus read [`dir()`], which `BERTH_CORPUS_DIR` can point at another set of files
//! of the same layout; tests about one particular file read [`fixture()`], which is always the
//! in-repository copy. Files whose name contains `MISTAKE` are deliberate mistakes
//! ([`is_mistake()`]) that berth must reject.
//!
//! A missing or empty directory is a test failure (a panic with the path), never a skip.

use std::path::{Path, PathBuf};

use crate::locate::workspace_root;

/// The environment variable that points the iterating tests at another corpus directory.
pub const CORPUS_DIR_ENV: &str = "BERTH_CORPUS_DIR";

/// The kind (sub-directory) holding task definitions.
pub const TASK_DEFINITIONS: &str = "task-definitions";

/// The kind (sub-directory) holding service definitions.
pub const SERVICES: &str = "services";

/// The marker in a file name that makes the file a deliberate mistake.
pub const MISTAKE_MARKER: &str = "MISTAKE";

/// The corpus committed with the repository: `testdata/corpus` under the workspace root.
pub fn in_repo_dir() -> PathBuf {
    workspace_root().join("testdata/corpus")
}

/// The corpus the iterating tests read: `$BERTH_CORPUS_DIR` when set (and not empty), else
/// [`in_repo_dir()`].
pub fn dir() -> PathBuf {
    match std::env::var_os(CORPUS_DIR_ENV) {
        Some(value) if !value.is_empty() => PathBuf::from(value),
        _ => in_repo_dir(),
    }
}

/// The `*.json` files of one kind ([`TASK_DEFINITIONS`] or [`SERVICES`]) in [`dir()`], sorted by
/// path, mistakes included.
///
/// # Panics
///
/// When the directory is missing, unreadable or holds no JSON file: a test that would check
/// nothing fails instead.
pub fn files(kind: &str) -> Vec<PathBuf> {
    json_files_in(&dir().join(kind))
}

/// The files of one kind in [`dir()`] that are not deliberate mistakes, sorted.
///
/// # Panics
///
/// As [`files()`], and when every file of the kind is a mistake.
pub fn files_without_mistakes(kind: &str) -> Vec<PathBuf> {
    let files: Vec<PathBuf> = files(kind)
        .into_iter()
        .filter(|path| !is_mistake(path))
        .collect();
    assert!(
        !files.is_empty(),
        "the corpus at {} has only deliberate mistakes under {kind}/",
        dir().display()
    );
    files
}

/// The sorted `*.json` files directly in `directory`; panics when there are none.
fn json_files_in(directory: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(directory).unwrap_or_else(|err| {
        panic!(
            "corpus directory {} cannot be read: {err} (the in-repo corpus is testdata/corpus; \
             {CORPUS_DIR_ENV} points tests at another one)",
            directory.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|entry| {
            entry
                .unwrap_or_else(|err| panic!("listing {}: {err}", directory.display()))
                .path()
        })
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus directory {} holds no *.json file",
        directory.display()
    );
    files
}

/// Whether a corpus file is a deliberate mistake: its file name contains `MISTAKE`.
pub fn is_mistake(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().contains(MISTAKE_MARKER))
}

/// One named file of the in-repository corpus (`testdata/corpus/<kind>/<name>`), whatever
/// `BERTH_CORPUS_DIR` says: for tests about that file's particular content.
///
/// # Panics
///
/// When the file does not exist.
pub fn fixture(kind: &str, name: &str) -> PathBuf {
    let path = in_repo_dir().join(kind).join(name);
    assert!(
        path.is_file(),
        "corpus fixture {} not found (the in-repo corpus is testdata/corpus)",
        path.display()
    );
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mistakes_are_recognised_by_name() {
        assert!(is_mistake(Path::new("x/MISTAKE-tags-as-map.json")));
        assert!(!is_mistake(Path::new("MISTAKE/fine.json")));
        assert!(!is_mistake(Path::new("x/describe-wrapped-read-only.json")));
    }

    #[test]
    fn the_in_repo_corpus_has_both_kinds() {
        for kind in [TASK_DEFINITIONS, SERVICES] {
            let files = json_files_in(&in_repo_dir().join(kind));
            assert!(files.windows(2).all(|pair| pair[0] < pair[1]));
        }
    }

    #[test]
    #[should_panic(expected = "cannot be read")]
    fn a_missing_directory_fails() {
        json_files_in(&in_repo_dir().join("no-such-kind"));
    }
}
