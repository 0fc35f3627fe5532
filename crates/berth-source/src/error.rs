//! The one error type of this crate.
//!
//! Git variants carry the source URL with any password in it masked (see
//! [`crate::git::redact_url`]), never a credential, plus git's own message, and say what to do.

use std::io;
use std::path::PathBuf;

/// Why a manifest set could not be read, or a source could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The path given does not exist.
    #[error("{path}: no such file or directory; pass the directory that holds your manifests")]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// A file or directory could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// What could not be read.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A local directory could not be watched for changes.
    #[error(
        "{path}: cannot watch for changes: {message}; check that the directory exists (on Linux, \
         raise fs.inotify.max_user_watches if the limit is reached)"
    )]
    Watch {
        /// The directory.
        path: PathBuf,
        /// notify's message.
        message: String,
    },
    /// The source configuration itself is unusable (empty URL, missing SSH key file, ...).
    #[error("git source {url}: {message}")]
    GitConfig {
        /// The repository URL (password masked).
        url: String,
        /// What is wrong and what to change.
        message: String,
    },
    /// The local cache repository could not be created or opened.
    #[error(
        "git cache {path} (for {url}): {message}; check that source.cacheDir is writable, or \
         delete this directory to start over with a fresh clone"
    )]
    GitCache {
        /// The cache repository directory.
        path: PathBuf,
        /// The repository URL (password masked).
        url: String,
        /// git's message.
        message: String,
    },
    /// The remote rejected the credentials, or asked for a kind berth was not given.
    #[error(
        "cannot authenticate to {url}: {message}; check source.auth (an HTTPS token needs read \
         access to the repository; an SSH deploy key must be added to it)"
    )]
    GitAuth {
        /// The repository URL (password masked).
        url: String,
        /// git's message.
        message: String,
    },
    /// Fetching from the remote failed (unreachable, not a repository, network, TLS).
    #[error(
        "cannot fetch from {url}: {message}; check source.url and the network (the last good \
         commit stays in use)"
    )]
    GitFetch {
        /// The repository URL (password masked).
        url: String,
        /// git's message.
        message: String,
    },
    /// The remote has no such branch.
    #[error("branch `{branch}` not found on {url}: check source.branch")]
    GitBranchNotFound {
        /// The repository URL (password masked).
        url: String,
        /// The branch that was asked for.
        branch: String,
    },
    /// The revision asked for is not a commit in the local cache (never fetched, or malformed).
    #[error("commit `{sha}` of {url} is not in the local cache: {message}; fetch it first")]
    GitUnknownCommit {
        /// The repository URL (password masked).
        url: String,
        /// The revision as given.
        sha: String,
        /// git's message.
        message: String,
    },
    /// The configured sub-path does not exist in that commit.
    #[error(
        "path `{path}` does not exist in commit {sha} of {url}: check source.path (it is \
         relative to the repository root)"
    )]
    GitPathNotFound {
        /// The repository URL (password masked).
        url: String,
        /// The commit.
        sha: String,
        /// The sub-path.
        path: String,
    },
    /// Objects of a commit could not be read from the cache (a damaged cache).
    #[error(
        "cannot read {what} in commit {sha} of {url}: {message}; delete the cache directory to \
         clone afresh"
    )]
    GitRead {
        /// The repository URL (password masked).
        url: String,
        /// The commit.
        sha: String,
        /// What was being read (a path, or `tree`).
        what: String,
        /// git's message.
        message: String,
    },
}
