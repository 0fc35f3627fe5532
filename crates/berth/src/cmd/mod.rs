//! The commands, one module each, plus what they share (reading manifests and variables).

mod import;
mod render;
mod validate;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use berth_core::manifest::{self, LoadOptions, LoadOutcome, Vars};
use berth_core::yaml;

use crate::cli::{Cli, Command, ManifestArgs};

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Render(args) => render::run(&args),
        Command::Import(args) => import::run(&args),
    }
}

/// Reads `--vars-file` and `--var` (the latter wins).
fn read_vars(args: &ManifestArgs) -> anyhow::Result<Vars> {
    let mut vars = Vars::new();
    if let Some(path) = &args.vars_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read vars file", path.display()))?;
        let name: Arc<str> = Arc::from(path.display().to_string());
        let documents =
            yaml::parse_documents(&name, &text).map_err(|diag| anyhow::anyhow!("{diag}"))?;
        if let Some(document) = documents.first() {
            let file_vars: Vars = berth_core::de::from_node(document).map_err(|err| {
                let at = err
                    .span
                    .as_ref()
                    .map_or_else(|| name.to_string(), ToString::to_string);
                anyhow::anyhow!("{at}: {err}: a vars file is a flat map of NAME: value")
            })?;
            vars.extend(file_vars);
        }
    }
    vars.extend(args.vars.iter().cloned());
    Ok(vars)
}

/// Reads and loads the manifest set `args` names.
fn load_manifests(args: &ManifestArgs) -> anyhow::Result<LoadOutcome> {
    let vars = read_vars(args)?;
    let files = berth_source::read_path(&args.path)?;
    if files.is_empty() {
        bail!(
            "{}: no *.yaml or *.yml manifests found; pass the directory that holds them",
            args.path.display()
        );
    }
    Ok(manifest::load(
        &files,
        &LoadOptions {
            vars,
            ..LoadOptions::default()
        },
    ))
}
