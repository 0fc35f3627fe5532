//! Finding moto: the `moto_server` executable (the project's venv, then `BERTH_MOTO_SERVER`, then
//! `PATH`), the Python interpreter it runs with, and berth's emulator extension
//! (`deploy/local/berth_moto`), which that interpreter runs instead of plain `moto_server`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::EmulatorError;

/// The moto version `deploy/local/requirements.txt` pins (a test keeps the two in step).
pub const MOTO_VERSION: &str = "5.2.5";

/// The command, run from the workspace root, that installs moto into the project's venv.
pub const INSTALL_COMMAND: &str = "bash deploy/local/emulator.sh install";

/// The environment variable that may name a `moto_server` executable.
pub const MOTO_ENV: &str = "BERTH_MOTO_SERVER";

/// The workspace root, found from this crate's manifest directory (`crates/berth-testkit`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// The directory that holds berth's emulator extension, the `berth_moto` Python package
/// (`deploy/local`): it goes on `PYTHONPATH` for `python -m berth_moto`.
pub fn extension_dir() -> PathBuf {
    workspace_root().join("deploy/local")
}

/// The Python interpreter a `moto_server` script runs with, which therefore has moto installed:
/// the absolute interpreter of its `#!` line (`#!/usr/bin/env NAME` is looked up on `PATH`),
/// else a `python3` or `python` next to the script (after following symlinks, then before).
pub fn moto_python(moto_server: &Path) -> Result<PathBuf, EmulatorError> {
    if let Some(python) = shebang_interpreter(moto_server) {
        return Ok(python);
    }
    let script = std::fs::canonicalize(moto_server).unwrap_or_else(|_| moto_server.to_path_buf());
    for dir in [script.parent(), moto_server.parent()]
        .into_iter()
        .flatten()
    {
        for name in ["python3", "python"] {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(EmulatorError::NotInstalled {
        searched: vec![format!(
            "{} (found, but not the Python it runs with: no usable #! line, no python3 beside it)",
            moto_server.display()
        )],
    })
}

/// The interpreter named by a script's `#!` line, if it is an executable Python.
fn shebang_interpreter(script: &Path) -> Option<PathBuf> {
    let text = std::fs::read(script).ok()?;
    let first = text.split(|&byte| byte == b'\n').next()?;
    let line = std::str::from_utf8(first).ok()?.strip_prefix("#!")?;
    let mut words = line.split_whitespace();
    let interpreter = PathBuf::from(words.next()?);
    let candidate = if interpreter.file_name().is_some_and(|name| name == "env") {
        let name = words.next()?;
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))?
    } else {
        interpreter
    };
    let is_python = candidate
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with("python"));
    (is_python && candidate.is_absolute() && is_executable(&candidate)).then_some(candidate)
}

/// Where to look for `moto_server`, in order. [`MotoSearch::from_env`] gives the real places;
/// tests can build one by hand to check the not-found path without touching the environment.
#[derive(Debug, Clone, Default)]
pub struct MotoSearch {
    /// The project venv's executable (`deploy/local/.venv/bin/moto_server`).
    pub venv: Option<PathBuf>,
    /// The value of `BERTH_MOTO_SERVER` (ignored when empty).
    pub env_override: Option<OsString>,
    /// The value of `PATH`.
    pub path: Option<OsString>,
}

impl MotoSearch {
    /// The places this process would search: the venv under [`workspace_root`], then
    /// `$BERTH_MOTO_SERVER`, then `$PATH`.
    pub fn from_env() -> Self {
        MotoSearch {
            venv: Some(workspace_root().join("deploy/local/.venv/bin/moto_server")),
            env_override: std::env::var_os(MOTO_ENV),
            path: std::env::var_os("PATH"),
        }
    }

    /// The first executable `moto_server` found, or [`EmulatorError::NotInstalled`] listing what
    /// was looked at.
    pub fn locate(&self) -> Result<PathBuf, EmulatorError> {
        let mut searched = Vec::new();
        if let Some(venv) = &self.venv {
            if is_executable(venv) {
                return Ok(venv.clone());
            }
            searched.push(format!("{} (missing)", venv.display()));
        }
        match self.env_override.as_ref().filter(|value| !value.is_empty()) {
            Some(value) => {
                let candidate = PathBuf::from(value);
                if is_executable(&candidate) {
                    return Ok(candidate);
                }
                searched.push(format!(
                    "{MOTO_ENV}={} (not an executable file)",
                    candidate.display()
                ));
            }
            None => searched.push(format!("{MOTO_ENV} (not set)")),
        }
        match &self.path {
            Some(path) => {
                for dir in std::env::split_paths(path) {
                    let candidate = dir.join("moto_server");
                    if is_executable(&candidate) {
                        return Ok(candidate);
                    }
                }
                searched.push("moto_server on PATH (none)".to_string());
            }
            None => searched.push("PATH (not set)".to_string()),
        }
        Err(EmulatorError::NotInstalled { searched })
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_version_matches_requirements_txt() {
        let requirements =
            std::fs::read_to_string(workspace_root().join("deploy/local/requirements.txt"))
                .unwrap();
        let pin = format!("moto[server]=={MOTO_VERSION}");
        assert!(
            requirements.lines().any(|line| line.trim() == pin),
            "deploy/local/requirements.txt does not pin {pin}"
        );
    }

    #[test]
    fn workspace_root_holds_the_emulator_script() {
        assert!(workspace_root().join("deploy/local/emulator.sh").is_file());
    }

    #[test]
    fn the_extension_package_is_in_the_extension_dir() {
        assert!(extension_dir().join("berth_moto/__main__.py").is_file());
    }

    #[cfg(unix)]
    #[test]
    fn moto_python_reads_the_shebang_then_looks_beside_the_script() {
        use std::os::unix::fs::PermissionsExt;

        let dir = std::env::temp_dir().join(format!("berth-testkit-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let python = dir.join("python3");
        std::fs::write(&python, "").unwrap();
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();

        let script = dir.join("moto_server");
        std::fs::write(&script, format!("#!{}\nimport moto\n", python.display())).unwrap();
        assert_eq!(moto_python(&script).unwrap(), python);

        // pip's `/bin/sh` trampoline (for long paths) names no Python: the sibling is used.
        std::fs::write(&script, "#!/bin/sh\n'''exec' /x/python \"$0\" \"$@\"\n").unwrap();
        assert_eq!(moto_python(&script).unwrap(), python);

        std::fs::remove_file(&python).unwrap();
        let message = moto_python(&script).unwrap_err().to_string();
        assert!(message.contains("not the Python it runs with"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_empty_override_counts_as_unset() {
        let search = MotoSearch {
            env_override: Some(OsString::new()),
            ..MotoSearch::default()
        };
        let message = search.locate().unwrap_err().to_string();
        assert!(message.contains("BERTH_MOTO_SERVER (not set)"), "{message}");
        assert!(message.contains("PATH (not set)"), "{message}");
    }
}
