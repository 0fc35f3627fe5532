//! berth-source against real local git repositories and a real directory watcher.
//!
//! Each test makes a bare "remote" repository in a temporary directory and commits to it with
//! git2's plumbing (no `git` CLI, no working tree), then reads it through `GitSource` with a
//! separate cache directory, as the daemon does.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use berth_core::manifest::{FileContent, Unreadable};
use berth_source::git::cache_subdir;
use berth_source::{
    DirWatcher, GitAuth, GitConfig, GitSource, Secret, SourceError, content_revision, read_path,
};
use git2::{Oid, Repository, Signature, Time};

/// A bare remote repository and a cache directory in one temporary directory.
struct Fixture {
    dir: tempfile::TempDir,
    remote: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let remote = dir.path().join("remote.git");
        Repository::init_bare(&remote).expect("init bare remote");
        Self { dir, remote }
    }

    fn url(&self) -> String {
        self.remote.to_string_lossy().into_owned()
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn config(&self) -> GitConfig {
        let mut config = GitConfig::new(self.url(), self.cache());
        config.path = Some("manifests/prod".to_owned());
        config
    }

    /// Commits a snapshot of `files` (the whole tree) on `branch`, on top of its head.
    fn commit(&self, branch: &str, files: &[(&str, &[u8])], message: &str) -> String {
        let repo = Repository::open_bare(&self.remote).expect("open remote");
        let entries: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (*p, *d)).collect();
        let tree_id = write_tree(&repo, &entries);
        let tree = repo.find_tree(tree_id).expect("tree");
        let refname = format!("refs/heads/{branch}");
        let parent = repo
            .refname_to_id(&refname)
            .ok()
            .map(|id| repo.find_commit(id).expect("parent"));
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let signature =
            Signature::new("Test", "test@example.com", &Time::new(1_700_000_000, 0)).expect("sig");
        repo.commit(
            Some(&refname),
            &signature,
            &signature,
            message,
            &tree,
            &parents,
        )
        .expect("commit")
        .to_string()
    }
}

/// Writes blobs and trees for `files` (paths relative to this tree) and returns the tree's id.
fn write_tree(repo: &Repository, files: &[(&str, &[u8])]) -> Oid {
    let mut builder = repo.treebuilder(None).expect("treebuilder");
    let mut dirs: Vec<&str> = Vec::new();
    for (path, data) in files {
        match path.split_once('/') {
            None => {
                let blob = repo.blob(data).expect("blob");
                builder.insert(path, blob, 0o100_644).expect("insert blob");
            }
            Some((dir, _)) if !dirs.contains(&dir) => dirs.push(dir),
            Some(_) => {}
        }
    }
    for dir in dirs {
        let children: Vec<(&str, &[u8])> = files
            .iter()
            .filter_map(|(path, data)| {
                let rest = path.strip_prefix(dir)?.strip_prefix('/')?;
                Some((rest, *data))
            })
            .collect();
        let subtree = write_tree(repo, &children);
        builder
            .insert(dir, subtree, 0o040_000)
            .expect("insert tree");
    }
    builder.write().expect("write tree")
}

const WEB: &[u8] = b"apiVersion: berth/v1\nkind: Service\nmetadata: {name: web}\n";
const PG: &[u8] = b"apiVersion: berth/v1\nkind: Service\nmetadata: {name: pg}\n";
const DEFAULTS: &[u8] = b"defaults: {cluster: prod}\n";

fn base_files() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("README.md", b"# deploy\n"),
        ("manifests/prod/web.yaml", WEB),
        ("manifests/prod/db/pg.yml", PG),
        ("manifests/prod/_defaults.yaml", DEFAULTS),
        ("manifests/prod/NOTES.md", b"not a manifest\n"),
        ("manifests/prod/.hidden.yaml", b"hidden: true\n"),
        ("manifests/prod/.github/ci.yaml", b"hidden: true\n"),
        ("manifests/staging/web.yaml", b"staging: true\n"),
    ]
}

fn paths(files: &[berth_core::manifest::SourceFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

fn text<'a>(files: &'a [berth_core::manifest::SourceFile], path: &str) -> &'a str {
    files
        .iter()
        .find(|f| f.path == path)
        .and_then(|f| f.text())
        .unwrap_or_else(|| panic!("{path} not in {:?}", paths(files)))
}

#[test]
fn fetch_returns_the_branch_head_and_files_at_reads_yaml_under_the_sub_path() {
    let fx = Fixture::new();
    let sha = fx.commit("main", &base_files(), "Add web and pg\n\nBody text.");
    let source = GitSource::open(fx.config()).expect("open");
    assert_eq!(source.cached_head().expect("cached head"), None);

    let head = source.fetch().expect("fetch");
    assert_eq!(head.sha, sha);
    assert_eq!(head.summary, "Add web and pg");
    assert_eq!(head.time, UNIX_EPOCH + Duration::from_secs(1_700_000_000));

    let files = source.files_at(&head.sha).expect("files");
    assert_eq!(paths(&files), ["_defaults.yaml", "db/pg.yml", "web.yaml"]);
    assert_eq!(text(&files, "web.yaml").as_bytes(), WEB);
    assert_eq!(text(&files, "db/pg.yml").as_bytes(), PG);

    // An abbreviated id works too, and the cache is a bare repository with no working tree.
    assert_eq!(source.files_at(&head.sha[..10]).expect("short sha"), files);
    let cache = Repository::open_bare(source.cache_path()).expect("cache is a repo");
    assert!(cache.is_bare());
    assert!(!source.cache_path().join("manifests").exists());
    assert!(source.cache_path().starts_with(fx.cache()));
}

#[test]
fn the_repository_root_is_read_like_a_directory() {
    let fx = Fixture::new();
    let sha = fx.commit("main", &base_files(), "init");
    let mut config = fx.config();
    config.path = None;
    let source = GitSource::open(config).expect("open");
    source.fetch().expect("fetch");
    let files = source.files_at(&sha).expect("files");
    assert_eq!(
        paths(&files),
        [
            "manifests/prod/_defaults.yaml",
            "manifests/prod/db/pg.yml",
            "manifests/prod/web.yaml",
            "manifests/staging/web.yaml",
        ]
    );
}

#[test]
fn git_and_directory_sources_agree() {
    let fx = Fixture::new();
    let sha = fx.commit("main", &base_files(), "init");
    let checkout = fx.dir.path().join("checkout");
    for (path, data) in base_files() {
        let file = checkout.join(path);
        fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        fs::write(file, data).expect("write");
    }
    let source = GitSource::open(fx.config()).expect("open");
    source.fetch().expect("fetch");
    let from_git = source.files_at(&sha).expect("git");
    let from_dir = read_path(&checkout.join("manifests/prod")).expect("dir");
    assert_eq!(from_git, from_dir);
    assert_eq!(content_revision(&from_git), content_revision(&from_dir));
}

#[test]
fn new_commits_are_fetched_incrementally_into_the_same_cache() {
    let fx = Fixture::new();
    let first = fx.commit("main", &base_files(), "first");
    let source = GitSource::open(fx.config()).expect("open");
    assert_eq!(source.fetch().expect("fetch").sha, first);
    let marker = source.cache_path().join("berth-test-marker");
    fs::write(&marker, "kept").expect("marker");

    // Remove pg, change web.
    let mut files = base_files();
    files.retain(|(path, _)| !path.ends_with("pg.yml") && !path.ends_with("prod/web.yaml"));
    files.push(("manifests/prod/web.yaml", b"image: web:v2\n"));
    let second = fx.commit("main", &files, "second");

    let head = source.fetch().expect("second fetch");
    assert_eq!(head.sha, second);
    assert_eq!(head.summary, "second");
    assert!(
        marker.exists(),
        "the cache was re-created instead of reused"
    );
    let now = source.files_at(&second).expect("files");
    assert_eq!(paths(&now), ["_defaults.yaml", "web.yaml"]);
    assert_eq!(text(&now, "web.yaml"), "image: web:v2\n");

    // The older commit still reads as it was.
    let then = source.files_at(&first).expect("old files");
    assert_eq!(paths(&then), ["_defaults.yaml", "db/pg.yml", "web.yaml"]);
    assert_eq!(text(&then, "web.yaml").as_bytes(), WEB);

    // A restart (a new GitSource on the same cache dir) reuses the clone and knows the head
    // before any network IO.
    drop(source);
    let reopened = GitSource::open(fx.config()).expect("reopen");
    assert!(marker.exists());
    assert_eq!(
        reopened.cached_head().expect("cached head").map(|c| c.sha),
        Some(second.clone())
    );
    assert_eq!(reopened.fetch().expect("fetch").sha, second);
}

#[test]
fn only_the_tracked_branch_is_fetched() {
    let fx = Fixture::new();
    let main = fx.commit("main", &base_files(), "main");
    let feature = fx.commit(
        "feature",
        &[("manifests/prod/web.yaml", b"feature: true\n")],
        "feature",
    );
    let source = GitSource::open(fx.config()).expect("open");
    assert_eq!(source.fetch().expect("fetch").sha, main);
    let cache = Repository::open_bare(source.cache_path()).expect("cache");
    // No ref for the other branch. (Its objects may still arrive: libgit2's *local* transport
    // packs every advertised ref's objects whatever was asked for; https and ssh send only the
    // wanted branch's.)
    let refs: Vec<String> = cache
        .references()
        .expect("refs")
        .filter_map(|r| r.ok()?.name().ok().map(str::to_owned))
        .collect();
    assert_eq!(refs, ["refs/remotes/origin/main"]);

    // Tracking the other branch gives its own head, from the same cache.
    let mut config = fx.config();
    config.branch = "feature".to_owned();
    let feature_source = GitSource::open(config).expect("open feature");
    assert_eq!(feature_source.cache_path(), source.cache_path());
    assert_eq!(feature_source.fetch().expect("fetch").sha, feature);
    assert_eq!(source.fetch().expect("fetch main").sha, main);
}

#[test]
fn a_missing_branch_says_which_and_where() {
    let fx = Fixture::new();
    fx.commit("main", &base_files(), "init");
    let mut config = fx.config();
    config.branch = "production".to_owned();
    let source = GitSource::open(config).expect("open");
    let err = source.fetch().unwrap_err();
    assert!(
        matches!(err, SourceError::GitBranchNotFound { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("`production`"), "{message}");
    assert!(message.contains(&fx.url()), "{message}");
    assert!(message.contains("source.branch"), "{message}");
}

#[test]
fn a_branch_deleted_on_the_remote_is_not_served_from_the_stale_ref() {
    let fx = Fixture::new();
    fx.commit("main", &base_files(), "main");
    fx.commit("release", &base_files(), "release");
    let mut config = fx.config();
    config.branch = "release".to_owned();
    let source = GitSource::open(config).expect("open");
    source.fetch().expect("fetch");
    Repository::open_bare(&fx.remote)
        .expect("remote")
        .find_reference("refs/heads/release")
        .expect("ref")
        .delete()
        .expect("delete branch");
    assert!(matches!(
        source.fetch(),
        Err(SourceError::GitBranchNotFound { .. })
    ));
}

#[test]
fn sub_path_errors_and_single_file_sub_paths() {
    let fx = Fixture::new();
    let sha = fx.commit("main", &base_files(), "init");
    let mut config = fx.config();
    config.path = Some("manifests/production".to_owned());
    let source = GitSource::open(config.clone()).expect("open");
    source.fetch().expect("fetch");
    let err = source.files_at(&sha).unwrap_err();
    assert!(
        matches!(err, SourceError::GitPathNotFound { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("`manifests/production`"), "{message}");
    assert!(message.contains(&sha), "{message}");
    assert!(message.contains("source.path"), "{message}");

    config.path = Some("/manifests/prod/web.yaml".to_owned());
    let single = GitSource::open(config).expect("open");
    let files = single.files_at(&sha).expect("one file");
    assert_eq!(paths(&files), ["web.yaml"]);
    assert_eq!(files[0].text().map(str::as_bytes), Some(WEB));

    assert!(matches!(
        single.files_at("not-a-sha"),
        Err(SourceError::GitUnknownCommit { .. })
    ));
}

#[test]
fn a_non_utf8_manifest_is_one_unreadable_file_and_the_others_are_read() {
    let fx = Fixture::new();
    let mut files = base_files();
    files.push(("manifests/prod/bad.yaml", b"name: \xff\xfe\n"));
    let sha = fx.commit("main", &files, "bad bytes");
    let source = GitSource::open(fx.config()).expect("open");
    source.fetch().expect("fetch");
    let files = source.files_at(&sha).expect("files");
    let bad = files
        .iter()
        .find(|f| f.path == "bad.yaml")
        .expect("bad.yaml");
    assert_eq!(
        bad.content,
        FileContent::Unreadable(Unreadable::NotUtf8 { line: 1, column: 7 })
    );
    assert_eq!(text(&files, "web.yaml").as_bytes(), WEB);
}

#[test]
fn a_blob_over_the_size_limit_is_one_unreadable_file_and_the_others_are_read() {
    let fx = Fixture::new();
    let mut files = base_files();
    let big = vec![b'#'; 2 * 1024 * 1024];
    files.push(("manifests/prod/big.yaml", &big));
    let sha = fx.commit("main", &files, "a big file");
    let source = GitSource::open(fx.config()).expect("open");
    source.fetch().expect("fetch");
    let files = source.files_at(&sha).expect("files");
    let big = files
        .iter()
        .find(|f| f.path == "big.yaml")
        .expect("big.yaml");
    assert_eq!(
        big.content,
        FileContent::Unreadable(Unreadable::TooLarge { limit: 1024 * 1024 })
    );
    assert_eq!(text(&files, "web.yaml").as_bytes(), WEB);
}

#[test]
fn a_vanished_remote_fails_fetch_but_keeps_the_last_good_commit_readable() {
    let fx = Fixture::new();
    let good = fx.commit("main", &base_files(), "good");
    let source = GitSource::open(fx.config()).expect("open");
    assert_eq!(source.fetch().expect("fetch").sha, good);

    let away = fx.dir.path().join("remote.away");
    fs::rename(&fx.remote, &away).expect("remove the remote");
    let err = source.fetch().unwrap_err();
    assert!(matches!(err, SourceError::GitFetch { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&fx.url()), "{message}");
    assert!(message.contains("cannot fetch"), "{message}");
    assert!(message.contains("does not exist"), "{message}");

    // The daemon keeps serving the last good commit.
    let files = source.files_at(&good).expect("last good commit");
    assert_eq!(paths(&files), ["_defaults.yaml", "db/pg.yml", "web.yaml"]);
    assert_eq!(
        source.cached_head().expect("cached").map(|c| c.sha),
        Some(good.clone())
    );

    // The remote comes back, with a new commit.
    fs::rename(&away, &fx.remote).expect("restore the remote");
    let next = fx.commit("main", &base_files()[..3], "next");
    assert_eq!(source.fetch().expect("fetch after recovery").sha, next);
    assert_eq!(
        paths(&source.files_at(&next).expect("files")),
        ["db/pg.yml", "web.yaml"]
    );
}

#[test]
fn file_urls_work() {
    let fx = Fixture::new();
    let sha = fx.commit("main", &base_files(), "init");
    let mut config = fx.config();
    config.url = format!("file://{}", fx.remote.display());
    let source = GitSource::open(config).expect("open");
    assert_eq!(source.fetch().expect("fetch").sha, sha);
    assert_eq!(source.files_at(&sha).expect("files").len(), 3);
    // A different URL spelling is a different cache.
    assert_ne!(cache_subdir(&fx.url()), cache_subdir(source.display_url()));
}

#[test]
fn credentials_never_show_in_debug_output_or_errors() {
    let fx = Fixture::new();
    let secret = Secret::new("ghp_do_not_log");
    assert_eq!(format!("{secret:?}"), "***");
    assert_eq!(format!("{secret}"), "***");
    let mut config = fx.config();
    config.auth = GitAuth::Token {
        token: secret.clone(),
    };
    let shown = format!("{config:?}");
    assert!(!shown.contains("ghp_do_not_log"), "{shown}");

    // A token written into the URL is masked in what the source shows and in its errors.
    config.url = format!(
        "https://x-access-token:ghp_do_not_log@127.0.0.1:9/{}",
        "acme/deploy.git"
    );
    assert!(!format!("{config:?}").contains("ghp_do_not_log"));
    let source = GitSource::open(config).expect("open");
    assert!(!format!("{source:?}").contains("ghp_do_not_log"));
    assert_eq!(
        source.display_url(),
        "https://***@127.0.0.1:9/acme/deploy.git"
    );
    let err = source.fetch().unwrap_err();
    let message = format!("{err} {err:?}");
    assert!(!message.contains("ghp_do_not_log"), "{message}");
    assert!(
        message.contains("https://***@127.0.0.1:9/acme/deploy.git"),
        "{message}"
    );
}

/// Whether the watcher does not wake within 800 ms (four debounce periods).
async fn stays_quiet(watcher: &mut DirWatcher) -> bool {
    tokio::time::timeout(Duration::from_millis(800), watcher.changed())
        .await
        .is_err()
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).expect("write");
}

#[tokio::test]
async fn the_watcher_wakes_once_per_burst_and_ignores_hidden_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fs::create_dir_all(root.join("prod")).expect("mkdir");
    write(&root.join("prod/web.yaml"), "a: 0");
    let debounce = Duration::from_millis(200);
    let mut watcher = DirWatcher::new(root, debounce).expect("watch");
    // Nothing happened yet.
    assert!(stays_quiet(&mut watcher).await, "woke without a change");

    // A burst of three quick writes: one wake-up.
    for i in 1..=3 {
        write(&root.join("prod/web.yaml"), &format!("a: {i}"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::timeout(Duration::from_secs(10), watcher.changed())
        .await
        .expect("woke for the burst");
    assert!(stays_quiet(&mut watcher).await, "woke twice for one burst");

    // Hidden files (editor swap files, .git) do not wake it.
    write(&root.join("prod/.web.yaml.swp"), "swap");
    fs::create_dir_all(root.join(".git")).expect("mkdir");
    write(&root.join(".git/index"), "x");
    assert!(stays_quiet(&mut watcher).await, "woke for a hidden file");

    // A new file in a new subdirectory does.
    fs::create_dir_all(root.join("staging")).expect("mkdir");
    tokio::time::sleep(Duration::from_millis(100)).await;
    write(&root.join("staging/api.yml"), "b: 1");
    tokio::time::timeout(Duration::from_secs(10), watcher.changed())
        .await
        .expect("woke for a new file");
}

#[test]
fn the_watcher_reports_a_missing_directory() {
    let err =
        DirWatcher::new(Path::new("/nonexistent/berth"), Duration::from_millis(10)).unwrap_err();
    assert!(matches!(err, SourceError::NotFound { .. }), "{err:?}");
}

/// `git daemon` on a loopback port, killed on drop.
struct GitDaemon {
    child: std::process::Child,
    port: u16,
}

impl GitDaemon {
    /// Serves the repositories under `base`, or `None` when no `git` CLI is installed.
    fn start(base: &Path) -> Option<GitDaemon> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        // `git daemon` would fork `git-daemon` and leave it running when killed: run that.
        let exec_path = std::process::Command::new("git")
            .arg("--exec-path")
            .output()
            .ok()
            .filter(|out| out.status.success())?;
        let exec_path = String::from_utf8(exec_path.stdout).ok()?;
        let child = std::process::Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args([
                "--reuseaddr",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                "--export-all",
                "--informative-errors",
            ])
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let daemon = GitDaemon { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "git daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(daemon)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The smart protocol (what https and ssh speak, here over `git://`): the branch list is read
/// after the fetch, and only the tracked branch's objects are transferred.
#[test]
fn the_smart_protocol_fetches_only_the_tracked_branch() {
    let fx = Fixture::new();
    let Some(daemon) = GitDaemon::start(fx.dir.path()) else {
        eprintln!("skipped: no `git` CLI to run `git daemon`");
        return;
    };
    let main = fx.commit("main", &base_files(), "main");
    let feature = fx.commit(
        "feature",
        &[("manifests/prod/web.yaml", b"f: 1\n")],
        "feature",
    );
    let mut config = fx.config();
    config.url = format!("git://127.0.0.1:{}/remote.git", daemon.port);
    let source = GitSource::open(config.clone()).expect("open");
    assert_eq!(source.fetch().expect("fetch").sha, main);
    let cache = Repository::open_bare(source.cache_path()).expect("cache");
    assert!(
        cache
            .find_commit(Oid::from_str(&feature).expect("oid"))
            .is_err()
    );
    assert!(matches!(
        source.files_at(&feature),
        Err(SourceError::GitUnknownCommit { .. })
    ));
    let next = fx.commit("main", &base_files()[..2], "next");
    assert_eq!(source.fetch().expect("fetch").sha, next);
    assert_eq!(paths(&source.files_at(&next).expect("files")), ["web.yaml"]);

    config.branch = "nope".to_owned();
    assert!(matches!(
        GitSource::open(config).expect("open").fetch(),
        Err(SourceError::GitBranchNotFound { .. })
    ));

    drop(daemon);
    let err = source.fetch().unwrap_err();
    assert!(matches!(err, SourceError::GitFetch { .. }), "{err:?}");
    assert!(err.to_string().contains("git://127.0.0.1"), "{err}");
    assert_eq!(source.files_at(&next).expect("last good").len(), 1);
}
