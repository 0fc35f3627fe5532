//! Replays the loader fuzz target's saved corpus (`fuzz/corpus/loader/`) on stable, without
//! cargo-fuzz: every input goes through the same function the target calls
//! (`berth_core::fuzzing::load_fuzz_input`) and must come back, on a small stack and in time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_core::fuzzing::load_fuzz_input;

/// The stack each input runs on: an eighth of a main thread's, so that a recursion on the
/// input's shape overflows here deterministically instead of passing by luck.
const STACK: usize = 1024 * 1024;

/// How long one input may take in a debug build before it counts as a hang.
const PER_INPUT: Duration = Duration::from_secs(5);

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/loader")
}

#[test]
fn every_saved_fuzz_input_loads_without_panicking() {
    let dir = corpus_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err} (the saved fuzz corpus)", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "{}: no saved fuzz inputs (the corpus must not be empty)",
        dir.display()
    );

    for path in &paths {
        let bytes = std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let started = Instant::now();
        let outcome = std::thread::Builder::new()
            .name(format!("fuzz input {}", path.display()))
            .stack_size(STACK)
            .spawn(move || load_fuzz_input(&bytes))
            .expect("spawn")
            .join();
        assert!(
            outcome.is_ok(),
            "{}: the loader panicked on this input (rerun with `cargo fuzz run loader {}`)",
            path.display(),
            path.display()
        );
        let took = started.elapsed();
        assert!(
            took < PER_INPUT,
            "{}: took {took:?} to load (over {PER_INPUT:?})",
            path.display()
        );
    }
}
