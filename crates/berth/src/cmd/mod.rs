//! The commands, one module each, plus what they share (reading manifests and variables).

mod apply;
mod healthcheck;
mod import;
mod plan;
mod render;
mod run;
mod validate;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use berth_core::manifest::{self, LoadOptions, LoadOutcome, Vars};
use berth_core::yaml;

use crate::cli::{AwsArgs, Cli, Command, ManifestArgs};

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Render(args) => render::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Healthcheck(args) => healthcheck::run(&args),
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

/// The async runtime for commands that talk to AWS.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Connects to ECS and ECR (standard credential chain; `--endpoint-url` for an emulator).
async fn connect_aws(args: &AwsArgs) -> berth_aws::Aws {
    let config = berth_aws::AwsConfig {
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        ..berth_aws::AwsConfig::default()
    };
    berth_aws::connect(&config).await
}

/// The manifest source's identity for ownership tags: given, or the path as given.
fn source_id(given: Option<&str>, path: &std::path::Path) -> String {
    given.map_or_else(|| path.display().to_string(), str::to_string)
}
