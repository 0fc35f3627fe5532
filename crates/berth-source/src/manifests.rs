//! The daemon's [`ManifestSource`]s: a watched local directory ([`DirManifests`]) and a git
//! branch ([`GitManifests`]), each giving a [`Snapshot`] (revision + files) per fetch.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use berth_core::vocabulary::Trigger;
use berth_engine::daemon::{ManifestSource, Snapshot};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{DirWatcher, GitSource, SourceError};

/// The quiet period that ends a burst of edits in a watched directory (see [`DirWatcher`]).
pub const DEFAULT_WATCH_DEBOUNCE: Duration = Duration::from_millis(300);

/// A local directory (not a git repository): read whole on every fetch, its
/// [`content_revision`](crate::content_revision) standing in for a commit.
#[derive(Debug, Clone)]
pub struct DirManifests {
    path: PathBuf,
}

impl DirManifests {
    /// The manifests under `path` (a directory, read recursively, or one file).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DirManifests { path: path.into() }
    }

    /// The directory read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Watches the directory and sends [`Trigger::Watch`] once per burst of edits (debounced by
    /// [`DEFAULT_WATCH_DEBOUNCE`]), until the receiver is dropped or the task is aborted. A
    /// trigger is dropped when one is already pending: the daemon reads everything anyway.
    /// Must be called inside a tokio runtime.
    pub fn watch(&self, triggers: mpsc::Sender<Trigger>) -> Result<JoinHandle<()>, SourceError> {
        let mut watcher = DirWatcher::new(&self.path, DEFAULT_WATCH_DEBOUNCE)?;
        Ok(tokio::spawn(async move {
            loop {
                watcher.changed().await;
                if let Err(mpsc::error::TrySendError::Closed(_)) = triggers.try_send(Trigger::Watch)
                {
                    break;
                }
            }
        }))
    }
}

impl ManifestSource for DirManifests {
    async fn fetch(&mut self) -> Result<Snapshot, String> {
        let files = crate::read_path(&self.path).map_err(|e| e.to_string())?;
        Ok(Snapshot {
            revision: crate::content_revision(&files),
            files,
        })
    }
}

/// A git branch: each fetch brings the branch up to date and reads the head commit's tree.
/// git2 blocks, so the work runs on tokio's blocking pool.
#[derive(Debug)]
pub struct GitManifests {
    source: GitSource,
    /// Set while a fetch runs on the blocking pool. The daemon abandons a fetch that takes too
    /// long, but its thread goes on until libgit2's I/O timeout; no second fetch starts into the
    /// same cache meanwhile.
    in_flight: Arc<AtomicBool>,
}

impl GitManifests {
    /// Fetches through `source` (opened with [`GitSource::open`]).
    pub fn new(source: GitSource) -> Self {
        GitManifests {
            source,
            in_flight: Arc::default(),
        }
    }
}

/// Clears the in-flight flag when the blocking fetch ends, however it ends.
struct InFlight(Arc<AtomicBool>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl ManifestSource for GitManifests {
    async fn fetch(&mut self) -> Result<Snapshot, String> {
        if self.in_flight.swap(true, Ordering::SeqCst) {
            return Err("the previous fetch is still running: the remote is not answering".into());
        }
        let in_flight = InFlight(Arc::clone(&self.in_flight));
        let source = self.source.clone();
        tokio::task::spawn_blocking(move || {
            let _in_flight = in_flight;
            let commit = source.fetch().map_err(|e| e.to_string())?;
            let files = source.files_at(&commit.sha).map_err(|e| e.to_string())?;
            Ok(Snapshot {
                revision: commit.sha,
                files,
            })
        })
        .await
        .map_err(|e| format!("git task failed: {e}"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_fetch_reads_every_file_and_hashes_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("web.yaml"), "a: 1\n").expect("write");
        let mut source = DirManifests::new(dir.path());
        let first = source.fetch().await.expect("reads");
        assert_eq!(first.files.len(), 1);
        assert_eq!(first.revision, crate::content_revision(&first.files));
        assert_eq!(source.fetch().await.expect("reads"), first);
        std::fs::write(dir.path().join("web.yaml"), "a: 2\n").expect("write");
        assert_ne!(
            source.fetch().await.expect("reads").revision,
            first.revision
        );
    }

    #[tokio::test]
    async fn a_missing_directory_is_a_fetch_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut source = DirManifests::new(dir.path().join("gone"));
        let error = source.fetch().await.expect_err("missing");
        assert!(error.contains("gone"), "{error}");
    }
}
