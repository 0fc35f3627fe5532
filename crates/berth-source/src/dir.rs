//! A manifest set from a local directory (or one file): every `*.yaml`/`*.yml`, recursively.
//!
//! Manifests come from anyone who can merge, so reading is bounded. Only regular files are
//! opened: symbolic links are skipped (as they are in git trees), so nothing outside the root
//! is ever read; FIFOs, sockets and devices named like manifests are reported, never opened. At
//! most `max_file_bytes` + 1 bytes are read from a file. A file that is too large, not UTF-8 or
//! unreadable becomes one unreadable [`SourceFile`] (one invalid file for the loader), and the
//! others still load.
//!
//! One race remains: a regular file replaced by a FIFO between the directory listing and the
//! open would block the open; only someone who can write to the directory itself can do that.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use berth_core::manifest::{SourceFile, Unreadable};
use berth_core::yaml::Limits;

use crate::SourceError;

/// Whether a directory entry is hidden (`.git`, `.web.yaml.swp`): hidden entries are skipped,
/// in directories and in git trees alike.
pub(crate) fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Whether a file name is a manifest (or defaults) file.
pub(crate) fn is_manifest_name(name: &str) -> bool {
    !is_hidden(name) && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

/// Reads every manifest under `root` (a directory, walked recursively, skipping hidden entries
/// such as `.git`), or `root` itself when it is a file. Paths in the result are relative to
/// `root` (or the file name), `/`-separated and sorted, so output is stable across machines.
///
/// `root` itself may be a symbolic link (it is the operator's choice); links below it are
/// skipped. Each file is read up to the default `Limits::max_file_bytes`.
pub fn read_path(root: &Path) -> Result<Vec<SourceFile>, SourceError> {
    let max_file_bytes = Limits::default().max_file_bytes;
    let metadata = fs::metadata(root).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => SourceError::NotFound {
            path: root.to_path_buf(),
        },
        _ => SourceError::Read {
            path: root.to_path_buf(),
            source,
        },
    })?;
    if !metadata.is_dir() {
        let name = root.file_name().map_or_else(
            || root.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let file = if metadata.is_file() {
            read_file(root, name, max_file_bytes)
        } else {
            not_regular(name, &metadata.file_type())
        };
        return Ok(vec![file]);
    }
    let mut files = walk(root, max_file_bytes)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Walks the tree under `root` with an explicit stack (a deep tree cannot overflow ours).
fn walk(root: &Path, max_file_bytes: usize) -> Result<Vec<SourceFile>, SourceError> {
    let mut files = Vec::new();
    let mut pending: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let read_error = |source| SourceError::Read {
            path: dir.clone(),
            source,
        };
        for entry in fs::read_dir(&dir).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_hidden(&name) {
                continue;
            }
            let path = entry.path();
            let relative = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            // The entry's own type: a symbolic link is not followed. It is reported as one invalid
            // file rather than skipped, so that a manifest turned into a link never reads as a
            // deleted manifest (and its service as one to prune).
            let file_type = entry.file_type().map_err(|source| SourceError::Read {
                path: path.clone(),
                source,
            })?;
            if file_type.is_dir() {
                pending.push((path, relative));
            } else if !is_manifest_name(&name) {
                continue;
            } else if file_type.is_file() {
                files.push(read_file(&path, relative, max_file_bytes));
            } else {
                files.push(not_regular(relative, &file_type));
            }
        }
    }
    Ok(files)
}

fn not_regular(relative: String, file_type: &fs::FileType) -> SourceFile {
    let kind = kind_of(file_type).to_string();
    SourceFile::unreadable(relative, Unreadable::NotRegularFile { kind })
}

/// What a file that is not a regular file is, for the message.
fn kind_of(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "device";
        }
    }
    if file_type.is_dir() {
        "directory"
    } else if file_type.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

/// Reads one regular file, at most `max_file_bytes` + 1 bytes of it; never fails the set.
fn read_file(path: &Path, relative: String, max_file_bytes: usize) -> SourceFile {
    match read_bounded(path, max_file_bytes) {
        Ok(bytes) => SourceFile::from_bytes(relative, bytes, max_file_bytes),
        Err(why) => SourceFile::unreadable(relative, why),
    }
}

fn read_bounded(path: &Path, max_file_bytes: usize) -> Result<Vec<u8>, Unreadable> {
    let io_error = |err: io::Error| Unreadable::Io {
        message: err.to_string(),
    };
    let file = fs::File::open(path).map_err(io_error)?;
    // What was opened, not what was listed: it may have been replaced in between.
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        let kind = kind_of(&metadata.file_type()).to_string();
        return Err(Unreadable::NotRegularFile { kind });
    }
    let cap = u64::try_from(max_file_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let expected = usize::try_from(metadata.len().min(cap)).unwrap_or(max_file_bytes);
    let mut bytes = Vec::with_capacity(expected);
    file.take(cap).read_to_end(&mut bytes).map_err(io_error)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_recursively_sorted_and_skips_hidden_and_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("prod/db")).expect("mkdir");
        fs::create_dir_all(root.join(".git")).expect("mkdir");
        for (path, text) in [
            ("prod/web.yaml", "a: 1"),
            ("prod/db/pg.yml", "b: 2"),
            ("_defaults.yaml", "c: 3"),
            ("README.md", "no"),
            (".git/config.yaml", "no"),
            ("prod/.hidden.yaml", "no"),
        ] {
            fs::write(root.join(path), text).expect("write");
        }
        let files = read_path(root).expect("reads");
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["_defaults.yaml", "prod/db/pg.yml", "prod/web.yaml"]);
        assert_eq!(files[2].text(), Some("a: 1"));
    }

    #[test]
    fn a_single_file_is_read_by_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("web.yaml");
        fs::write(&file, "x: 1").expect("write");
        let files = read_path(&file).expect("reads");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, "web.yaml");
    }

    #[test]
    fn missing_path_says_so() {
        let err = read_path(Path::new("/nonexistent/berth/manifests")).unwrap_err();
        assert!(matches!(err, SourceError::NotFound { .. }));
        assert!(err.to_string().contains("no such file or directory"));
    }
}
