//! berth-source: reads manifest sets from where they live.
//!
//! - a git branch ([`git`]): a bare cache clone, incremental fetches, manifests read from commit
//!   trees (no checkout), HTTPS token or SSH key authentication;
//! - a local directory ([`read_path`]), watched for changes with [`watch::DirWatcher`], with
//!   [`content_revision`] standing in for a commit id.
//!
//! Both give the same `Vec<SourceFile>`: every `*.yaml`/`*.yml` file, hidden entries skipped,
//! paths relative to the manifest root, `/`-separated and sorted.
//!
//! [`DirManifests`] and [`GitManifests`] are the daemon's `ManifestSource`s over them: this crate
//! implements `berth-engine`'s port, as `berth-aws` implements its ECS ports.

mod dir;
mod error;
pub mod git;
mod identity;
mod manifests;
mod revision;
mod timeouts;
pub mod watch;

pub use berth_core::secret::Secret;
pub use dir::read_path;
pub use error::SourceError;
pub use git::{Commit, DEFAULT_BRANCH, GitAuth, GitConfig, GitSource, default_cache_dir};
pub use identity::{dir_source_id, git_source_id};
pub use manifests::{DEFAULT_WATCH_DEBOUNCE, DirManifests, GitManifests};
pub use revision::content_revision;
pub use timeouts::{GIT_CONNECT_TIMEOUT, GIT_IO_TIMEOUT, set_git_timeouts};
pub use watch::DirWatcher;
