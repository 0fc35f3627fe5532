//! Reading a manifest directory that holds hostile entries: links out of the root, FIFOs,
//! devices, huge or non-UTF-8 files. Each is skipped or becomes one unreadable file; the rest of
//! the set is still read, and the loader still returns.

use std::fs;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use berth_core::manifest::{FileContent, LoadOptions, SourceFile, Unreadable, load};
use berth_source::read_path;

const WEB: &str = "\
apiVersion: berth/v1
kind: Service
metadata:
  name: web
  cluster: prod
spec:
  desiredCount: 2
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration:
      subnets: [subnet-0aaa]
      securityGroups: [sg-0123]
  taskDefinition:
    cpu: 256
    memory: 512
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    containerDefinitions:
      - name: web
        image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2
";

/// A manifest root with a valid `web.yaml`, inside a temporary directory that also has room
/// for files outside the root.
fn root_with_web() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("manifests");
    fs::create_dir(&root).expect("mkdir");
    fs::write(root.join("web.yaml"), WEB).expect("write");
    (dir, root)
}

/// Reads `root` on another thread, failing the test if that takes more than 10 s (a blocked
/// open would otherwise hang the test forever).
fn read_within_10s(root: &Path) -> Vec<SourceFile> {
    let (send, receive) = mpsc::channel();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let _ = send.send(read_path(&root).expect("reads"));
    });
    receive
        .recv_timeout(Duration::from_secs(10))
        .expect("read_path returned within 10 s")
}

fn paths(files: &[SourceFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

fn find<'a>(files: &'a [SourceFile], path: &str) -> &'a SourceFile {
    files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} not in {:?}", paths(files)))
}

/// Loads `files`: the one valid service loads, and the rest are one invalid file each, whose
/// errors are returned.
fn load_errors(files: &[SourceFile]) -> Vec<String> {
    let outcome = load(files, &LoadOptions::default());
    assert_eq!(outcome.services.len(), 1, "{:?}", outcome.invalid);
    outcome.errors().map(ToString::to_string).collect()
}

#[cfg(unix)]
#[test]
fn a_symlink_to_a_file_outside_the_root_is_not_read_but_reported() {
    let (dir, root) = root_with_web();
    let outside = dir.path().join("secret.txt");
    fs::write(&outside, "password: hunter2\n").expect("write");
    std::os::unix::fs::symlink(&outside, root.join("secret.yaml")).expect("symlink");
    std::os::unix::fs::symlink("/etc/passwd", root.join("passwd.yaml")).expect("symlink");
    let files = read_within_10s(&root);
    assert_eq!(paths(&files), ["passwd.yaml", "secret.yaml", "web.yaml"]);
    assert!(
        files
            .iter()
            .all(|f| !f.text().unwrap_or("").contains("hunter2")
                && !f.text().unwrap_or("").contains("root:"))
    );
    // Each link is one invalid file with no known service: nothing can be pruned meanwhile.
    let outcome = load(&files, &LoadOptions::default());
    assert_eq!(outcome.services.len(), 1);
    assert_eq!(outcome.invalid.len(), 2);
    assert!(outcome.invalid.iter().all(|i| i.id.is_none()));
    assert!(
        outcome.invalid[0].diagnostics[0]
            .to_string()
            .contains("symbolic link, not a regular file"),
        "{:?}",
        outcome.invalid[0].diagnostics
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_to_a_device_is_not_read() {
    let (_dir, root) = root_with_web();
    std::os::unix::fs::symlink("/dev/zero", root.join("zero.yaml")).expect("symlink");
    std::os::unix::fs::symlink("/dev/urandom", root.join("random.yml")).expect("symlink");
    let files = read_within_10s(&root);
    assert_eq!(paths(&files), ["random.yml", "web.yaml", "zero.yaml"]);
    assert!(
        files
            .iter()
            .filter(|f| f.path != "web.yaml")
            .all(|f| f.text().is_none())
    );
}

#[cfg(unix)]
#[test]
fn a_device_given_as_the_path_is_not_read() {
    let files = read_within_10s(Path::new("/dev/zero"));
    assert_eq!(paths(&files), ["zero"]);
    assert_eq!(
        files[0].content,
        FileContent::Unreadable(Unreadable::NotRegularFile {
            kind: "device".into()
        })
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_fifo_named_like_a_manifest_is_not_opened_and_the_loader_returns() {
    let (_dir, root) = root_with_web();
    let fifo = root.join("pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let files = read_within_10s(&root);
    assert_eq!(paths(&files), ["pipe.yaml", "web.yaml"]);
    assert_eq!(
        find(&files, "pipe.yaml").content,
        FileContent::Unreadable(Unreadable::NotRegularFile {
            kind: "FIFO (named pipe)".into()
        })
    );
    let errors = load_errors(&files);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("pipe.yaml:1:1: a FIFO (named pipe), not a regular file"),
        "{errors:?}"
    );
}

#[test]
fn a_non_utf8_file_is_one_invalid_file_and_the_others_load() {
    let (_dir, root) = root_with_web();
    fs::write(root.join("bad.yaml"), b"a: 1\nname: caf\xe9\n").expect("write");
    let files = read_within_10s(&root);
    assert_eq!(paths(&files), ["bad.yaml", "web.yaml"]);
    assert_eq!(find(&files, "web.yaml").text(), Some(WEB));
    let errors = load_errors(&files);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("bad.yaml:2:10: not UTF-8 text (the first invalid byte is here)"),
        "{errors:?}"
    );
}

#[test]
fn a_file_over_the_size_limit_is_read_no_further_than_the_limit() {
    let (_dir, root) = root_with_web();
    let big = fs::File::create(root.join("big.yaml")).expect("create");
    // Sparse: 2 GiB that costs no disk, and that must not be read.
    big.set_len(2 * 1024 * 1024 * 1024).expect("set_len");
    let files = read_within_10s(&root);
    assert_eq!(paths(&files), ["big.yaml", "web.yaml"]);
    assert_eq!(
        find(&files, "big.yaml").content,
        FileContent::Unreadable(Unreadable::TooLarge { limit: 1024 * 1024 })
    );
    let errors = load_errors(&files);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("big.yaml:1:1: file is larger than the 1048576 byte limit"),
        "{errors:?}"
    );
    assert!(errors[0].contains("`max_file_bytes`"), "{errors:?}");
}

#[test]
fn a_directory_named_like_a_manifest_is_walked_not_read() {
    let (_dir, root) = root_with_web();
    fs::create_dir_all(root.join("x.yaml/inner.yml")).expect("mkdir");
    fs::write(
        root.join("x.yaml/api.yaml"),
        WEB.replace("name: web", "name: api"),
    )
    .expect("write");
    // A link to it, named like a manifest too: not followed (reading it failed the whole set),
    // but reported as one invalid file.
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("x.yaml"), root.join("link.yaml")).expect("symlink");
    let files = read_within_10s(&root);
    assert_eq!(paths(&files), ["link.yaml", "web.yaml", "x.yaml/api.yaml"]);
    let outcome = load(&files, &LoadOptions::default());
    assert_eq!(outcome.services.len(), 2, "{:?}", outcome.invalid);
    assert_eq!(outcome.invalid.len(), 1);
}

#[cfg(unix)]
#[test]
fn a_deep_directory_tree_is_walked_without_recursion() {
    let (_dir, root) = root_with_web();
    let mut deep = root.clone();
    for _ in 0..200 {
        deep.push("d");
    }
    fs::create_dir_all(&deep).expect("mkdir");
    fs::write(deep.join("api.yaml"), WEB.replace("name: web", "name: api")).expect("write");
    let files = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || read_path(&root).expect("reads"))
        .expect("spawn")
        .join()
        .expect("no overflow");
    assert_eq!(files.len(), 2);
}
