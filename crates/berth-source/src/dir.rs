//! A manifest set from a local directory (or one file): every `*.yaml`/`*.yml`, recursively.

use std::fs;
use std::io;
use std::path::Path;

use berth_core::manifest::SourceFile;

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
pub fn read_path(root: &Path) -> Result<Vec<SourceFile>, SourceError> {
    let metadata = fs::metadata(root).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => SourceError::NotFound {
            path: root.to_path_buf(),
        },
        _ => SourceError::Read {
            path: root.to_path_buf(),
            source,
        },
    })?;
    if metadata.is_file() {
        let name = root.file_name().map_or_else(
            || root.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        return Ok(vec![read_file(root, name)?]);
    }
    let mut files = Vec::new();
    walk(root, "", &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn walk(dir: &Path, prefix: &str, files: &mut Vec<SourceFile>) -> Result<(), SourceError> {
    let read_error = |source| SourceError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(read_error)? {
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
        let file_type = entry.file_type().map_err(|source| SourceError::Read {
            path: path.clone(),
            source,
        })?;
        if file_type.is_dir() {
            walk(&path, &relative, files)?;
        } else if is_manifest_name(&name) {
            files.push(read_file(&path, relative)?);
        }
    }
    Ok(())
}

fn read_file(path: &Path, relative: String) -> Result<SourceFile, SourceError> {
    let bytes = fs::read(path).map_err(|source| SourceError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| SourceError::NotText {
        path: path.to_path_buf(),
    })?;
    Ok(SourceFile {
        path: relative,
        text,
    })
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
        assert_eq!(files[2].text, "a: 1");
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
