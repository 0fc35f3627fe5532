//! Test helpers for loading manifests built with `berth_testkit::fixtures::ManifestText`.

pub use berth_testkit::fixtures::ManifestText;

use crate::manifest::{LoadOptions, LoadOutcome, SourceFile, load};

/// Loading a fixture.
pub trait LoadAs {
    /// Loads this manifest alone as `path`.
    fn load_as(&self, path: &str) -> LoadOutcome;
}

impl LoadAs for ManifestText {
    fn load_as(&self, path: &str) -> LoadOutcome {
        load_files(&[(path, &self.text())])
    }
}

/// Loads `(path, text)` files with default options.
pub fn load_files(files: &[(&str, &str)]) -> LoadOutcome {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(path, text)| SourceFile::new(*path, *text))
        .collect();
    load(&files, &LoadOptions::default())
}

/// The errors of an outcome as displayed strings.
pub fn error_lines(outcome: &LoadOutcome) -> Vec<String> {
    outcome.errors().map(ToString::to_string).collect()
}
