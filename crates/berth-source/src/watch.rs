//! Watching a local manifest directory (development and demos): one wake-up per burst of edits.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until, timeout};

use crate::SourceError;
use crate::dir::is_hidden;

/// How many quiet periods a burst may last at most before [`DirWatcher::changed`] resolves
/// anyway, so that a directory written to without pause still gets reconciled.
const MAX_BURST_DEBOUNCES: u32 = 10;

/// Watches a local directory (recursively), or one file, for changes that may change the
/// manifest set, and wakes once per burst of them.
///
/// Ignored: hidden paths (any component starting with `.`: `.git`, editors' `.web.yaml.swp`),
/// backup files ending in `~`, and events that change nothing (reads, metadata). Other files
/// (a `README.md`) do wake it; compare [`crate::content_revision`] of what was read to tell a
/// real change. Changes made while nobody awaits [`changed`](Self::changed) are not lost: the
/// next call resolves for them.
///
/// Dropping the watcher stops watching.
#[derive(Debug)]
pub struct DirWatcher {
    // Held for its drop: the watch ends with it.
    _watcher: RecommendedWatcher,
    wake: Arc<Notify>,
    debounce: Duration,
    root: PathBuf,
}

impl DirWatcher {
    /// Starts watching `path` (a directory, recursively, or a single file). `debounce` is the
    /// quiet period that ends a burst: events less than `debounce` apart are one change.
    pub fn new(path: &Path, debounce: Duration) -> Result<DirWatcher, SourceError> {
        let root = path.canonicalize().map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound {
                path: path.to_path_buf(),
            },
            _ => SourceError::Read {
                path: path.to_path_buf(),
                source,
            },
        })?;
        let watch_error = |err: notify::Error| SourceError::Watch {
            path: path.to_path_buf(),
            message: err.to_string(),
        };
        // A single file is watched through its directory: editors replace files by renaming
        // over them, which would end a watch on the file itself.
        let (watched, mode, only) = if root.is_file() {
            let parent = root
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.clone());
            let name = root.file_name().map(|n| n.to_os_string());
            (parent, RecursiveMode::NonRecursive, name)
        } else {
            (root.clone(), RecursiveMode::Recursive, None)
        };
        let wake = Arc::new(Notify::new());
        let filter = EventFilter {
            root: watched.clone(),
            only,
        };
        let handler_wake = Arc::clone(&wake);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let relevant = match &event {
                    Ok(event) => filter.is_relevant(event),
                    // Lost events (a queue overflow) or a watch error: safer to re-read.
                    Err(_) => true,
                };
                if relevant {
                    handler_wake.notify_one();
                }
            })
            .map_err(watch_error)?;
        watcher.watch(&watched, mode).map_err(watch_error)?;
        Ok(DirWatcher {
            _watcher: watcher,
            wake,
            debounce,
            root,
        })
    }

    /// The watched path, canonicalized.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Resolves once per burst of changes: after the first change, when no further change has
    /// come for the debounce period (or after ten debounce periods of uninterrupted changes).
    /// Cancel-safe: dropping the future loses no change.
    pub async fn changed(&mut self) {
        self.wake.notified().await;
        let deadline = Instant::now() + self.debounce * MAX_BURST_DEBOUNCES;
        loop {
            let quiet = Instant::now() + self.debounce;
            if quiet >= deadline {
                sleep_until(deadline).await;
                break;
            }
            if timeout(self.debounce, self.wake.notified()).await.is_err() {
                break;
            }
        }
        // Swallow a permit left by the last events of this burst, so that it gives one wake-up.
        let drained = self.wake.notified();
        tokio::pin!(drained);
        let _ = timeout(Duration::ZERO, drained.as_mut()).await;
    }
}

/// Which filesystem events can change the manifest set.
struct EventFilter {
    root: PathBuf,
    /// When a single file is watched: its name.
    only: Option<std::ffi::OsString>,
}

impl EventFilter {
    fn is_relevant(&self, event: &notify::Event) -> bool {
        if event.need_rescan() {
            return true;
        }
        match event.kind {
            EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => return false,
            _ => {}
        }
        // No paths: the backend could not say what changed.
        event.paths.is_empty() || event.paths.iter().any(|path| self.is_relevant_path(path))
    }

    fn is_relevant_path(&self, path: &Path) -> bool {
        if let Some(only) = &self.only {
            return path.file_name() == Some(only.as_os_str());
        }
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        if relative
            .file_name()
            .is_some_and(|name| name.to_string_lossy().ends_with('~'))
        {
            return false;
        }
        !relative.components().any(|component| match component {
            Component::Normal(name) => is_hidden(&name.to_string_lossy()),
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, DataChange, Flag, MetadataKind};

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    fn filter() -> EventFilter {
        EventFilter {
            root: PathBuf::from("/srv/manifests"),
            only: None,
        }
    }

    #[test]
    fn hidden_paths_backups_reads_and_metadata_are_ignored() {
        let filter = filter();
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        assert!(filter.is_relevant(&event(write, "/srv/manifests/prod/web.yaml")));
        assert!(filter.is_relevant(&event(
            EventKind::Create(CreateKind::File),
            "/srv/manifests/README.md"
        )));
        assert!(filter.is_relevant(&event(
            EventKind::Remove(notify::event::RemoveKind::Any),
            "/srv/manifests/prod"
        )));
        for ignored in [
            "/srv/manifests/prod/.web.yaml.swp",
            "/srv/manifests/.git/index",
            "/srv/manifests/prod/web.yaml~",
        ] {
            assert!(!filter.is_relevant(&event(write, ignored)), "{ignored}");
        }
        assert!(!filter.is_relevant(&event(
            EventKind::Access(AccessKind::Any),
            "/srv/manifests/web.yaml"
        )));
        assert!(!filter.is_relevant(&event(
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)),
            "/srv/manifests/web.yaml"
        )));
        // A hidden directory *above* the root does not hide the root.
        let dotted = EventFilter {
            root: PathBuf::from("/home/me/.config/berth"),
            only: None,
        };
        assert!(dotted.is_relevant(&event(write, "/home/me/.config/berth/web.yaml")));
    }

    #[test]
    fn a_rescan_or_an_event_without_paths_counts() {
        let filter = filter();
        assert!(filter.is_relevant(&notify::Event::new(EventKind::Any)));
        let rescan = notify::Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert!(filter.is_relevant(&rescan));
    }

    #[test]
    fn a_single_file_filter_matches_only_that_file() {
        let filter = EventFilter {
            root: PathBuf::from("/srv"),
            only: Some("web.yaml".into()),
        };
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        assert!(filter.is_relevant(&event(write, "/srv/web.yaml")));
        assert!(!filter.is_relevant(&event(write, "/srv/api.yaml")));
    }
}
