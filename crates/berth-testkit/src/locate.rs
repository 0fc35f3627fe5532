//! Finding the `moto_server` executable: the project's venv, then `BERTH_MOTO_SERVER`, then `PATH`.

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
