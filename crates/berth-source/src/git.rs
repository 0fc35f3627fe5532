//! A manifest set from a git branch, read from commit trees in a bare cache clone.
//!
//! [`GitSource::open`] creates (or reuses) a bare repository under the cache directory;
//! [`GitSource::fetch`] brings the tracked branch up to date with an incremental fetch of that
//! branch only and returns its head; [`GitSource::files_at`] reads the manifests of any fetched
//! commit straight from its tree objects: no checkout, no working tree, so an older commit (the
//! last good one, while the remote is down) can always be read again.
//!
//! Every call is blocking (libgit2 does file and network IO on the calling thread): async callers
//! run them in `tokio::task::spawn_blocking`. Each call opens the cache repository afresh, so a
//! slow fetch on one thread never blocks `files_at` on another; [`GitSource`] is `Send + Sync`
//! and cheap to clone.
//!
//! URLs: `https://`, `ssh://` and scp-like `git@host:org/repo.git`, `file://` URLs and plain
//! local paths (tests and demos use local bare repositories).
//!
//! Credentials ([`GitAuth`]) are only handed to libgit2 when the remote asks for them, are never
//! logged (they are [`Secret`]s), and are never part of an error: errors carry the URL with any
//! password in it masked ([`redact_url`]).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_core::manifest::{SourceFile, Unreadable};
use berth_core::yaml::Limits;
use git2::{
    AutotagOption, Cred, CredentialType, ErrorClass, ErrorCode, FetchOptions, FetchPrune,
    ObjectType, Oid, RemoteCallbacks, Repository, Tree,
};
use sha2::{Digest, Sha256};

use crate::dir::{is_hidden, is_manifest_name};
use crate::{Secret, SourceError};

/// The branch tracked when none is configured.
pub const DEFAULT_BRANCH: &str = "main";

/// The directory that holds cached clones when none is configured: `berth-git-cache` in the
/// system's temporary directory (`$TMPDIR`).
pub fn default_cache_dir() -> PathBuf {
    std::env::temp_dir().join("berth-git-cache")
}

/// The HTTPS username sent with a [`GitAuth::Token`]. GitHub accepts any non-empty username with
/// a personal access token or an app installation token, and documents `x-access-token`; GitLab
/// (with `oauth2` documented) and Bitbucket (`x-token-auth`) also accept a token as the password
/// whatever the username, as do most servers.
pub const TOKEN_USERNAME: &str = "x-access-token";

/// The username for SSH when the URL names none (`ssh://host/repo`); GitHub, GitLab and
/// Bitbucket all use `git`.
pub const DEFAULT_SSH_USERNAME: &str = "git";

/// Where the remote-tracking ref of the branch lives in the cache repository.
const TRACKING_PREFIX: &str = "refs/remotes/origin/";

/// How berth authenticates to the remote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum GitAuth {
    /// No credentials: public repositories, local paths and `file://` URLs.
    #[default]
    None,
    /// HTTPS basic authentication with username [`TOKEN_USERNAME`] and the token as password
    /// (a GitHub personal access token, fine-grained token or app installation token). Only sent
    /// over `https://`, never over plain `http://`.
    Token {
        /// The token.
        token: Secret,
    },
    /// SSH with a private key file (a deploy key); the username is the URL's (`git@...`), or
    /// [`DEFAULT_SSH_USERNAME`].
    SshKey {
        /// The private key file (OpenSSH or PEM format).
        private_key: PathBuf,
        /// The key's passphrase, if it has one.
        passphrase: Option<Secret>,
    },
}

/// Which repository, branch and directory to read, and where to cache the clone. `Debug`
/// shows the URL with any password masked, and secrets as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct GitConfig {
    /// The repository: `https://`, `ssh://`, `git@host:org/repo.git`, `file://` or a local path.
    pub url: String,
    /// The branch to track ([`DEFAULT_BRANCH`] unless configured); `refs/heads/` is optional.
    pub branch: String,
    /// The directory inside the repository that holds the manifests (`manifests/prod`); `None`
    /// for the repository root.
    pub path: Option<String>,
    /// The directory that holds cached clones; each URL gets its own subdirectory.
    pub cache_dir: PathBuf,
    /// How to authenticate.
    pub auth: GitAuth,
}

impl GitConfig {
    /// A config for `url` tracking [`DEFAULT_BRANCH`] at the repository root, without
    /// credentials.
    pub fn new(url: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            url: url.into(),
            branch: DEFAULT_BRANCH.to_owned(),
            path: None,
            cache_dir: cache_dir.into(),
            auth: GitAuth::None,
        }
    }
}

impl fmt::Debug for GitConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitConfig")
            .field("url", &redact_url(&self.url))
            .field("branch", &self.branch)
            .field("path", &self.path)
            .field("cache_dir", &self.cache_dir)
            .field("auth", &self.auth)
            .finish()
    }
}

/// A commit: what [`GitSource::fetch`] returns for the branch head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The full hex object id.
    pub sha: String,
    /// The first line of the message (lossily decoded if it is not UTF-8).
    pub summary: String,
    /// The committer time.
    pub time: SystemTime,
}

/// A git repository branch as a manifest source. See the [module docs](self).
#[derive(Clone)]
pub struct GitSource {
    url: String,
    display_url: String,
    branch: String,
    path: Option<String>,
    repo_dir: PathBuf,
    auth: GitAuth,
}

impl fmt::Debug for GitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitSource")
            .field("url", &self.display_url)
            .field("branch", &self.branch)
            .field("path", &self.path)
            .field("repo_dir", &self.repo_dir)
            .field("auth", &self.auth)
            .finish()
    }
}

impl GitSource {
    /// Checks the config and creates the bare cache repository under `config.cache_dir` (in a
    /// subdirectory derived from the URL, see [`cache_subdir`]), or reuses the one already
    /// there: a restart fetches only what changed since. Does no network IO: the first
    /// [`fetch`](Self::fetch) downloads the branch.
    pub fn open(config: GitConfig) -> Result<GitSource, SourceError> {
        let display_url = redact_url(&config.url);
        let config_error = |message: String| SourceError::GitConfig {
            url: display_url.clone(),
            message,
        };
        if config.url.trim().is_empty() {
            return Err(config_error(
                "the URL is empty; set source.url to a repository URL or a local directory"
                    .to_owned(),
            ));
        }
        let branch = config
            .branch
            .strip_prefix("refs/heads/")
            .unwrap_or(&config.branch)
            .to_owned();
        if branch.is_empty() || !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
            return Err(config_error(format!(
                "`{}` is not a valid branch name; check source.branch",
                config.branch
            )));
        }
        let path = normalize_sub_path(config.path.as_deref());
        if let Some(path) = &path
            && path.split('/').any(|part| part == "..")
        {
            return Err(config_error(format!(
                "source.path `{path}` must stay inside the repository (no `..`)"
            )));
        }
        if let GitAuth::SshKey { private_key, .. } = &config.auth
            && !private_key.is_file()
        {
            return Err(config_error(format!(
                "SSH private key {} does not exist or is not a file; check source.auth.sshKeyFile",
                private_key.display()
            )));
        }
        let repo_dir = config.cache_dir.join(cache_subdir(&config.url));
        init_cache(&config.cache_dir, &repo_dir, &display_url)?;
        Ok(GitSource {
            url: config.url,
            display_url,
            branch,
            path,
            repo_dir,
            auth: config.auth,
        })
    }

    /// The URL with any password masked: what logs and errors show.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// The tracked branch (without `refs/heads/`).
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The sub-path manifests are read from, normalized (`None` for the repository root).
    pub fn sub_path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The bare cache repository's directory.
    pub fn cache_path(&self) -> &Path {
        &self.repo_dir
    }

    /// Fetches the tracked branch (only that branch, no tags; incremental: only objects the
    /// cache lacks are transferred) and returns its head. Blocking.
    ///
    /// On error nothing local changes: the previously fetched commits stay readable with
    /// [`files_at`](Self::files_at), so the caller keeps its last good commit and retries.
    pub fn fetch(&self) -> Result<Commit, SourceError> {
        let repo = self.repo()?;
        let fetch_error = |err: git2::Error| self.remote_error(err);
        let mut remote = repo.remote_anonymous(&self.url).map_err(fetch_error)?;
        let mut callbacks = RemoteCallbacks::new();
        let mut credentials = CredentialState::default();
        let auth = &self.auth;
        callbacks.credentials(move |url, username, allowed| {
            credentials.credential(auth, url, username, allowed)
        });
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(callbacks)
            .download_tags(AutotagOption::None)
            .prune(FetchPrune::Off)
            .update_fetchhead(false);
        let head_ref = format!("refs/heads/{}", self.branch);
        let tracking_ref = format!("{TRACKING_PREFIX}{}", self.branch);
        let refspec = format!("+{head_ref}:{tracking_ref}");
        tracing::debug!(url = %self.display_url, branch = %self.branch, "git fetch");
        remote
            .fetch(
                &[refspec.as_str()],
                Some(&mut options),
                Some("berth: fetch"),
            )
            .map_err(fetch_error)?;
        // The advertised refs stay listed after the fetch disconnects. A refspec whose source
        // the remote lacks matches nothing without an error, so look the branch up here: a
        // branch deleted on the remote must not leave the stale tracking ref in use.
        let head = remote
            .list()
            .map_err(fetch_error)?
            .iter()
            .find(|head| head.name() == head_ref)
            .map(|head| head.oid());
        let Some(oid) = head else {
            return Err(SourceError::GitBranchNotFound {
                url: self.display_url.clone(),
                branch: self.branch.clone(),
            });
        };
        // The fetch has written this ref already; setting it again is a no-op that also covers
        // transports which do not update tips for anonymous remotes.
        repo.reference(&tracking_ref, oid, true, "berth: fetch")
            .map_err(|err| self.cache_error(&err))?;
        let commit = repo
            .find_commit(oid)
            .map_err(|err| self.unknown_commit(&oid.to_string(), &err))?;
        Ok(to_commit(&commit))
    }

    /// The branch head as last fetched into the cache (possibly by an earlier process), without
    /// network IO; `None` before the first successful fetch. Lets a restarted daemon serve the
    /// last known commit while the remote is unreachable. Blocking.
    pub fn cached_head(&self) -> Result<Option<Commit>, SourceError> {
        let repo = self.repo()?;
        let tracking_ref = format!("{TRACKING_PREFIX}{}", self.branch);
        let oid = match repo.refname_to_id(&tracking_ref) {
            Ok(oid) => oid,
            Err(err) if err.code() == ErrorCode::NotFound => return Ok(None),
            Err(err) => return Err(self.cache_error(&err)),
        };
        let commit = repo
            .find_commit(oid)
            .map_err(|err| self.unknown_commit(&oid.to_string(), &err))?;
        Ok(Some(to_commit(&commit)))
    }

    /// Every `*.yaml`/`*.yml` file under the sub-path at commit `sha` (full or abbreviated hex),
    /// read from the commit's tree objects. Paths are relative to the sub-path, `/`-separated
    /// and sorted; hidden entries (names starting with `.`) are skipped, as are symbolic links
    /// and submodules. When the sub-path is itself a file, that one file is returned under its
    /// name, as [`crate::read_path`] does. Blocking.
    pub fn files_at(&self, sha: &str) -> Result<Vec<SourceFile>, SourceError> {
        let repo = self.repo()?;
        let commit = find_commit(&repo, sha).map_err(|err| self.unknown_commit(sha, &err))?;
        let full_sha = commit.id().to_string();
        let read_error = |what: &str, err: git2::Error| SourceError::GitRead {
            url: self.display_url.clone(),
            sha: full_sha.clone(),
            what: what.to_owned(),
            message: err.message().to_owned(),
        };
        let root = commit.tree().map_err(|err| read_error("tree", err))?;
        let mut reader = TreeReader {
            source: self,
            repo: &repo,
            sha: &full_sha,
            files: Vec::new(),
        };
        match &self.path {
            None => reader.walk(&root, "", "")?,
            Some(path) => {
                let entry = match root.get_path(Path::new(path)) {
                    Ok(entry) => entry,
                    Err(err) if err.code() == ErrorCode::NotFound => {
                        return Err(self.path_not_found(&full_sha, path));
                    }
                    Err(err) => return Err(read_error(path, err)),
                };
                match entry.kind() {
                    Some(ObjectType::Tree) => {
                        let tree = repo
                            .find_tree(entry.id())
                            .map_err(|err| read_error(path, err))?;
                        reader.walk(&tree, &format!("{path}/"), "")?;
                    }
                    Some(ObjectType::Blob) if entry.filemode() != FILEMODE_LINK => {
                        let name = path.rsplit('/').next().unwrap_or(path);
                        reader.read_blob(entry.id(), path, name.to_owned())?;
                    }
                    _ => return Err(self.path_not_found(&full_sha, path)),
                }
            }
        }
        let mut files = reader.files;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    fn repo(&self) -> Result<Repository, SourceError> {
        Repository::open_bare(&self.repo_dir).map_err(|err| self.cache_error(&err))
    }

    fn cache_error(&self, err: &git2::Error) -> SourceError {
        SourceError::GitCache {
            path: self.repo_dir.clone(),
            url: self.display_url.clone(),
            message: redact_in(err.message(), &self.url),
        }
    }

    fn unknown_commit(&self, sha: &str, err: &git2::Error) -> SourceError {
        SourceError::GitUnknownCommit {
            url: self.display_url.clone(),
            sha: sha.to_owned(),
            message: err.message().to_owned(),
        }
    }

    fn path_not_found(&self, sha: &str, path: &str) -> SourceError {
        SourceError::GitPathNotFound {
            url: self.display_url.clone(),
            sha: sha.to_owned(),
            path: path.to_owned(),
        }
    }

    fn remote_error(&self, err: git2::Error) -> SourceError {
        let mut message = redact_in(err.message(), &self.url);
        let url = self.display_url.clone();
        // libgit2 takes a local path that does not exist for a URL it cannot parse.
        if let Some(path) = local_path(&self.url)
            && !path.exists()
        {
            message = format!("{} does not exist ({message})", path.display());
        }
        if err.code() == ErrorCode::Auth
            || err.class() == ErrorClass::Ssh && is_auth_message(&message)
        {
            SourceError::GitAuth { url, message }
        } else {
            SourceError::GitFetch { url, message }
        }
    }
}

/// Whether `path` is a git repository, bare (`deploy.git`) or with a work tree (`.git` inside):
/// such a directory is followed as git, by commit; any other directory is read as files.
pub fn is_repository(path: &Path) -> bool {
    git2::Repository::open(path).is_ok()
}

/// The directory a local URL (`/srv/deploy.git`, `./deploy`, `file:///srv/deploy.git`) names;
/// `None` for network URLs, including scp-like `git@host:org/repo.git`.
fn local_path(url: &str) -> Option<PathBuf> {
    if let Some(path) = url.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    if url.contains("://") {
        return None;
    }
    let first_colon = url.find(':');
    let first_slash = url.find('/');
    match (first_colon, first_slash) {
        (Some(colon), Some(slash)) if colon < slash => None,
        (Some(_), None) => None,
        _ => Some(PathBuf::from(url)),
    }
}

/// The git file mode of a symbolic link.
const FILEMODE_LINK: i32 = 0o120_000;

/// libssh2 reports a rejected key with its own error class, not `GIT_EAUTH`.
fn is_auth_message(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("authentication") || lower.contains("publickey") || lower.contains("auth")
}

struct TreeReader<'a> {
    source: &'a GitSource,
    repo: &'a Repository,
    sha: &'a str,
    files: Vec<SourceFile>,
}

impl TreeReader<'_> {
    /// Walks `tree`, whose path in the repository is `repo_prefix` (empty or ending in `/`) and
    /// relative to the sub-path is `prefix` (empty or not ending in `/`). Subtrees go on an
    /// explicit stack: a commit with a very deep tree cannot overflow ours.
    fn walk(
        &mut self,
        tree: &Tree<'_>,
        repo_prefix: &str,
        prefix: &str,
    ) -> Result<(), SourceError> {
        let mut pending = vec![(tree.id(), repo_prefix.to_owned(), prefix.to_owned())];
        while let Some((tree_id, repo_prefix, prefix)) = pending.pop() {
            let tree = self
                .repo
                .find_tree(tree_id)
                .map_err(|err| self.read_error(&repo_prefix, &err))?;
            for entry in tree.iter() {
                let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
                if is_hidden(&name) {
                    continue;
                }
                let repo_path = format!("{repo_prefix}{name}");
                let relative = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                match entry.kind() {
                    Some(ObjectType::Tree) => {
                        pending.push((entry.id(), format!("{repo_path}/"), relative));
                    }
                    Some(ObjectType::Blob) if is_manifest_name(&name) => {
                        if entry.filemode() == FILEMODE_LINK {
                            // Reported, not skipped: a manifest turned into a link must not read
                            // as a deleted manifest (and its service as one to prune).
                            let why = Unreadable::NotRegularFile {
                                kind: "symbolic link".to_owned(),
                            };
                            self.files.push(SourceFile::unreadable(relative, why));
                            continue;
                        }
                        self.read_blob(entry.id(), &repo_path, relative)?;
                    }
                    // Other files, and submodules (commits).
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Reads a manifest blob. One that is too large (checked from the object's header, before
    /// loading it) or not UTF-8 becomes an unreadable file, so the rest of the set still loads.
    fn read_blob(&mut self, id: Oid, repo_path: &str, relative: String) -> Result<(), SourceError> {
        let max_file_bytes = Limits::default().max_file_bytes;
        let (size, _) = self
            .repo
            .odb()
            .and_then(|odb| odb.read_header(id))
            .map_err(|err| self.read_error(repo_path, &err))?;
        if size > max_file_bytes {
            let why = Unreadable::TooLarge {
                limit: max_file_bytes,
            };
            self.files.push(SourceFile::unreadable(relative, why));
            return Ok(());
        }
        let blob = self
            .repo
            .find_blob(id)
            .map_err(|err| self.read_error(repo_path, &err))?;
        let bytes = blob.content().to_vec();
        self.files
            .push(SourceFile::from_bytes(relative, bytes, max_file_bytes));
        Ok(())
    }

    fn read_error(&self, what: &str, err: &git2::Error) -> SourceError {
        SourceError::GitRead {
            url: self.source.display_url.clone(),
            sha: self.sha.to_owned(),
            what: what.to_owned(),
            message: err.message().to_owned(),
        }
    }
}

/// Finds a commit by full or abbreviated hex id (at least 4 digits); nothing else (no ref
/// names, no revision expressions).
fn find_commit<'r>(repo: &'r Repository, sha: &str) -> Result<git2::Commit<'r>, git2::Error> {
    if sha.len() < 4 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(git2::Error::new(
            ErrorCode::Invalid,
            ErrorClass::Invalid,
            "not a commit id (expected hex digits)",
        ));
    }
    if sha.len() == 40 {
        return repo.find_commit(Oid::from_str(sha)?);
    }
    repo.revparse_single(sha)?.peel_to_commit()
}

fn to_commit(commit: &git2::Commit<'_>) -> Commit {
    let seconds = commit.time().seconds();
    let time = if seconds >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(seconds.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(seconds.unsigned_abs()))
    };
    Commit {
        sha: commit.id().to_string(),
        summary: String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default()).into_owned(),
        time: time.unwrap_or(UNIX_EPOCH),
    }
}

/// `manifests/prod/`, `./manifests/prod` and `/manifests//prod` all mean `manifests/prod`; an
/// empty path or `.` means the repository root.
fn normalize_sub_path(path: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = path?
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Creates the bare repository at `repo_dir` unless one is there. It is initialized beside its
/// final place and renamed into it, so a crash never leaves a half-made repository behind.
fn init_cache(cache_dir: &Path, repo_dir: &Path, display_url: &str) -> Result<(), SourceError> {
    let cache_error = |message: String| SourceError::GitCache {
        path: repo_dir.to_path_buf(),
        url: display_url.to_owned(),
        message,
    };
    if repo_dir.exists() {
        return Repository::open_bare(repo_dir)
            .map(drop)
            .map_err(|err| cache_error(err.message().to_owned()));
    }
    fs::create_dir_all(cache_dir).map_err(|err| cache_error(err.to_string()))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let file_name = repo_dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let staging = cache_dir.join(format!(".{file_name}.init-{}-{nanos}", std::process::id()));
    Repository::init_bare(&staging).map_err(|err| cache_error(err.message().to_owned()))?;
    match fs::rename(&staging, repo_dir) {
        Ok(()) => Ok(()),
        // Another process made it first: use theirs.
        Err(_) if repo_dir.exists() => {
            let _ = fs::remove_dir_all(&staging);
            Repository::open_bare(repo_dir)
                .map(drop)
                .map_err(|err| cache_error(err.message().to_owned()))
        }
        Err(err) => {
            let _ = fs::remove_dir_all(&staging);
            Err(cache_error(err.to_string()))
        }
    }
}

/// The cache subdirectory for `url`: a readable name from its last path segment plus 12 hex
/// digits of a SHA-256 of the whole URL (`deploy-1f2e3d4c5b6a`), so two URLs never share a
/// clone, and the same URL always finds its own after a restart.
pub fn cache_subdir(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let last = trimmed
        .rsplit(['/', ':', '\\'])
        .next()
        .unwrap_or_default()
        .trim_end_matches(".git");
    let mut name: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    name = name.trim_start_matches('.').to_owned();
    if name.is_empty() {
        name.push_str("repo");
    }
    let digest = Sha256::digest(url.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{name}-{hex}")
}

/// The URL as logs and errors show it: the user information of `http(s)://` URLs (where a token
/// may hide, as `https://TOKEN@host/...` or `https://user:TOKEN@host/...`) becomes `***`, and
/// any password in other URLs too (`ssh://git:***@host/...`). Local paths and scp-like URLs
/// (`git@host:org/repo.git`) are unchanged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let host_and_path = &rest[at + 1..];
    let scheme_lower = scheme.to_ascii_lowercase();
    if scheme_lower == "http" || scheme_lower == "https" {
        return format!("{scheme}://***@{host_and_path}");
    }
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host_and_path}"),
        None => url.to_owned(),
    }
}

/// Masks `url`'s user information wherever git's `message` repeats it.
fn redact_in(message: &str, url: &str) -> String {
    let redacted = redact_url(url);
    if redacted == url {
        return message.to_owned();
    }
    let mut out = message.replace(url, &redacted);
    if let Some((_, rest)) = url.split_once("://") {
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            let userinfo = &rest[..at];
            if !userinfo.is_empty() {
                out = out.replace(userinfo, "***");
            }
        }
    }
    out
}

/// What to answer libgit2's credential request with; the decision is separate from building a
/// [`Cred`] so that it can be tested without a server.
#[derive(Debug, PartialEq, Eq)]
enum CredentialChoice<'a> {
    /// HTTPS basic authentication.
    UserPass {
        username: &'static str,
        password: &'a Secret,
    },
    /// SSH asks for the username first when the URL has none.
    Username(String),
    /// An SSH private key file.
    SshKey {
        username: String,
        private_key: &'a Path,
        passphrase: Option<&'a Secret>,
    },
}

/// Remembers which credential kinds were already offered in one fetch: libgit2 asks again when
/// the remote rejects them, and offering the same again would loop until the server gives up.
#[derive(Debug, Default)]
struct CredentialState {
    offered: CredentialType,
}

impl CredentialState {
    fn credential(
        &mut self,
        auth: &GitAuth,
        url: &str,
        username_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        let auth_error = |message: String| {
            git2::Error::new(
                ErrorCode::Auth,
                ErrorClass::Callback,
                redact_in(&message, url),
            )
        };
        let choice = self
            .choose(auth, url, username_from_url, allowed)
            .map_err(auth_error)?;
        match choice {
            CredentialChoice::UserPass { username, password } => {
                Cred::userpass_plaintext(username, password.expose())
            }
            CredentialChoice::Username(username) => Cred::username(&username),
            CredentialChoice::SshKey {
                username,
                private_key,
                passphrase,
            } => Cred::ssh_key(&username, None, private_key, passphrase.map(Secret::expose)),
        }
    }

    fn choose<'a>(
        &mut self,
        auth: &'a GitAuth,
        url: &str,
        username_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<CredentialChoice<'a>, String> {
        let mut offer = |kind: CredentialType, rejected: &str| {
            if self.offered.contains(kind) {
                Err(format!("the remote rejected the {rejected}"))
            } else {
                self.offered |= kind;
                Ok(())
            }
        };
        match auth {
            GitAuth::None => Err(
                "the remote asks for credentials and none are configured: set source.auth \
                 (tokenEnv for https, sshKeyFile for ssh)"
                    .to_owned(),
            ),
            GitAuth::Token { token } => {
                if !allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
                    return Err(
                        "a token authenticates https:// URLs only, and this remote asks for \
                         another kind of credential (an SSH key?): use an https:// URL or \
                         sshKeyFile"
                            .to_owned(),
                    );
                }
                if url
                    .get(..7)
                    .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
                {
                    return Err(
                        "refusing to send the token over plain http://: use an https:// URL"
                            .to_owned(),
                    );
                }
                offer(CredentialType::USER_PASS_PLAINTEXT, "token")?;
                Ok(CredentialChoice::UserPass {
                    username: TOKEN_USERNAME,
                    password: token,
                })
            }
            GitAuth::SshKey {
                private_key,
                passphrase,
            } => {
                let username = username_from_url
                    .filter(|u| !u.is_empty())
                    .unwrap_or(DEFAULT_SSH_USERNAME)
                    .to_owned();
                if allowed.contains(CredentialType::USERNAME)
                    && !allowed.contains(CredentialType::SSH_KEY)
                {
                    offer(CredentialType::USERNAME, "username")?;
                    return Ok(CredentialChoice::Username(username));
                }
                if !allowed.contains(CredentialType::SSH_KEY) {
                    return Err(
                        "an SSH key authenticates ssh:// and git@host: URLs only, and this \
                         remote asks for another kind of credential (a token?): use an SSH URL \
                         or tokenEnv"
                            .to_owned(),
                    );
                }
                offer(CredentialType::SSH_KEY, "SSH key")?;
                Ok(CredentialChoice::SshKey {
                    username,
                    private_key,
                    passphrase: passphrase.as_ref(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> GitAuth {
        GitAuth::Token {
            token: Secret::new("ghp_secret"),
        }
    }

    fn ssh_key() -> GitAuth {
        GitAuth::SshKey {
            private_key: PathBuf::from("/secrets/deploy_key"),
            passphrase: Some(Secret::new("hunter2")),
        }
    }

    #[test]
    fn token_is_offered_once_as_basic_auth_over_https() {
        let auth = token();
        let mut state = CredentialState::default();
        let url = "https://github.com/acme/deploy.git";
        let choice = state
            .choose(&auth, url, None, CredentialType::USER_PASS_PLAINTEXT)
            .expect("offers the token");
        assert_eq!(
            choice,
            CredentialChoice::UserPass {
                username: "x-access-token",
                password: &Secret::new("ghp_secret"),
            }
        );
        // Asked again: the server rejected it, so stop instead of looping.
        let err = state
            .choose(&auth, url, None, CredentialType::USER_PASS_PLAINTEXT)
            .unwrap_err();
        assert!(err.contains("rejected the token"), "{err}");
        assert!(!err.contains("ghp_secret"));
    }

    #[test]
    fn token_is_never_sent_over_plain_http_or_to_ssh() {
        let auth = token();
        let err = CredentialState::default()
            .choose(
                &auth,
                "HTTP://git.internal/deploy.git",
                None,
                CredentialType::USER_PASS_PLAINTEXT,
            )
            .unwrap_err();
        assert!(err.contains("plain http://"), "{err}");
        let err = CredentialState::default()
            .choose(
                &auth,
                "ssh://git@github.com/acme/deploy.git",
                Some("git"),
                CredentialType::SSH_KEY | CredentialType::SSH_CUSTOM,
            )
            .unwrap_err();
        assert!(err.contains("https:// URLs only"), "{err}");
    }

    #[test]
    fn ssh_key_gives_the_username_first_then_the_key_once() {
        let auth = ssh_key();
        let mut state = CredentialState::default();
        let url = "ssh://github.com/acme/deploy.git";
        assert_eq!(
            state.choose(&auth, url, None, CredentialType::USERNAME),
            Ok(CredentialChoice::Username("git".to_owned()))
        );
        let choice = state
            .choose(
                &auth,
                url,
                None,
                CredentialType::SSH_KEY | CredentialType::SSH_MEMORY,
            )
            .expect("offers the key");
        assert_eq!(
            choice,
            CredentialChoice::SshKey {
                username: "git".to_owned(),
                private_key: Path::new("/secrets/deploy_key"),
                passphrase: Some(&Secret::new("hunter2")),
            }
        );
        let err = state
            .choose(&auth, url, None, CredentialType::SSH_KEY)
            .unwrap_err();
        assert!(err.contains("rejected the SSH key"), "{err}");
    }

    #[test]
    fn ssh_key_uses_the_urls_username_and_refuses_https() {
        let auth = ssh_key();
        let choice = CredentialState::default()
            .choose(
                &auth,
                "deploy@git.example.com:acme/deploy.git",
                Some("deploy"),
                CredentialType::SSH_KEY,
            )
            .expect("offers the key");
        assert!(
            matches!(choice, CredentialChoice::SshKey { username, .. } if username == "deploy")
        );
        let err = CredentialState::default()
            .choose(
                &auth,
                "https://github.com/acme/deploy.git",
                None,
                CredentialType::USER_PASS_PLAINTEXT,
            )
            .unwrap_err();
        assert!(err.contains("SSH URL"), "{err}");
    }

    #[test]
    fn no_auth_says_how_to_configure_it() {
        let err = CredentialState::default()
            .choose(
                &GitAuth::None,
                "https://github.com/acme/private.git",
                None,
                CredentialType::USER_PASS_PLAINTEXT,
            )
            .unwrap_err();
        assert!(err.contains("source.auth"), "{err}");
    }

    #[test]
    fn credential_errors_are_auth_errors_without_secrets() {
        let auth = token();
        let mut state = CredentialState::default();
        let url = "https://github.com/acme/deploy.git";
        assert!(
            state
                .credential(&auth, url, None, CredentialType::USER_PASS_PLAINTEXT)
                .is_ok()
        );
        let Err(err) = state.credential(&auth, url, None, CredentialType::USER_PASS_PLAINTEXT)
        else {
            panic!("a second request must fail");
        };
        assert_eq!(err.code(), ErrorCode::Auth);
        assert!(!err.message().contains("ghp_secret"));
    }

    #[test]
    fn auth_debug_never_shows_secrets() {
        let shown = format!("{:?} {:?}", token(), ssh_key());
        assert!(
            !shown.contains("ghp_secret") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(shown.contains("***"));
    }

    #[test]
    fn urls_lose_their_passwords_for_display() {
        assert_eq!(
            redact_url("https://x-access-token:ghp_1@github.com/acme/deploy.git"),
            "https://***@github.com/acme/deploy.git"
        );
        assert_eq!(
            redact_url("https://ghp_1@github.com/acme/deploy.git"),
            "https://***@github.com/acme/deploy.git"
        );
        assert_eq!(
            redact_url("ssh://git:pw@host/repo.git"),
            "ssh://git:***@host/repo.git"
        );
        for unchanged in [
            "https://github.com/acme/deploy.git",
            "ssh://git@github.com/acme/deploy.git",
            "git@github.com:acme/deploy.git",
            "/srv/git/deploy.git",
            "file:///srv/git/deploy.git",
            "https://github.com/acme/a@b.git",
        ] {
            assert_eq!(redact_url(unchanged), unchanged);
        }
        assert_eq!(
            redact_in(
                "failed for x-access-token:ghp_1@github.com",
                "https://x-access-token:ghp_1@github.com/acme/deploy.git"
            ),
            "failed for ***@github.com"
        );
    }

    #[test]
    fn cache_subdirs_are_readable_and_distinct() {
        let a = cache_subdir("https://github.com/acme/deploy.git");
        assert!(a.starts_with("deploy-"), "{a}");
        assert_eq!(a.len(), "deploy-".len() + 12);
        assert_eq!(a, cache_subdir("https://github.com/acme/deploy.git"));
        assert_ne!(a, cache_subdir("https://github.com/other/deploy.git"));
        assert!(cache_subdir("git@github.com:acme/deploy.git").starts_with("deploy-"));
        assert!(cache_subdir("/").starts_with("repo-"));
        assert!(cache_subdir("/srv/../..").starts_with("repo-"));
        assert!(cache_subdir("C:\\repos\\x y").starts_with("xy-"));
    }

    #[test]
    fn local_urls_are_told_from_network_ones() {
        assert_eq!(
            local_path("/srv/deploy.git"),
            Some(PathBuf::from("/srv/deploy.git"))
        );
        assert_eq!(local_path("./deploy"), Some(PathBuf::from("./deploy")));
        assert_eq!(local_path("deploy"), Some(PathBuf::from("deploy")));
        assert_eq!(
            local_path("file:///srv/deploy.git"),
            Some(PathBuf::from("/srv/deploy.git"))
        );
        assert_eq!(local_path("/srv/a:b"), Some(PathBuf::from("/srv/a:b")));
        for network in [
            "https://github.com/acme/deploy.git",
            "ssh://git@github.com/acme/deploy.git",
            "git@github.com:acme/deploy.git",
            "host:deploy",
        ] {
            assert_eq!(local_path(network), None, "{network}");
        }
    }

    #[test]
    fn sub_paths_are_normalized() {
        assert_eq!(normalize_sub_path(None), None);
        assert_eq!(normalize_sub_path(Some("")), None);
        assert_eq!(normalize_sub_path(Some("./")), None);
        assert_eq!(
            normalize_sub_path(Some("/manifests//prod/")),
            Some("manifests/prod".to_owned())
        );
        assert_eq!(
            normalize_sub_path(Some("./manifests/prod")),
            Some("manifests/prod".to_owned())
        );
    }

    #[test]
    fn open_rejects_bad_config_with_advice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = GitConfig::new("", dir.path());
        let err = GitSource::open(config.clone()).unwrap_err();
        assert!(err.to_string().contains("URL is empty"), "{err}");

        config.url = "https://x-access-token:ghp_1@github.com/acme/deploy.git".to_owned();
        config.branch = "bad..name".to_owned();
        let err = GitSource::open(config.clone()).unwrap_err().to_string();
        assert!(err.contains("source.branch"), "{err}");
        assert!(!err.contains("ghp_1"), "{err}");

        config.branch = "main".to_owned();
        config.path = Some("../etc".to_owned());
        let err = GitSource::open(config.clone()).unwrap_err().to_string();
        assert!(err.contains("inside the repository"), "{err}");

        config.path = None;
        config.auth = GitAuth::SshKey {
            private_key: dir.path().join("missing_key"),
            passphrase: None,
        };
        let err = GitSource::open(config).unwrap_err().to_string();
        assert!(err.contains("sshKeyFile"), "{err}");
    }
}
