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

use berth_core::target::Targets;
use berth_engine::defaults::DEFAULT_TARGET;

use crate::cli::{AwsArgs, Cli, Command, ManifestArgs};
use crate::config::ConfigFile;

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

/// `--config`'s file, or an empty one.
fn read_config(args: &ManifestArgs) -> anyhow::Result<ConfigFile> {
    match &args.config {
        Some(path) => ConfigFile::read(path),
        None => Ok(ConfigFile::default()),
    }
}

/// `vars:` of `--config`, then `--vars-file`, then `--var` (each wins over the one before).
fn read_vars(args: &ManifestArgs, config: &ConfigFile) -> anyhow::Result<Vars> {
    let mut vars = config.vars.clone();
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

/// The manifest set `args` names, loaded as the daemon would with `--config`.
struct Loaded {
    outcome: LoadOutcome,
    /// `targets:` of `--config`, if any.
    targets: Option<Targets>,
}

/// Reads and loads the manifest set `args` names.
fn load_manifests(args: &ManifestArgs) -> anyhow::Result<Loaded> {
    let config = read_config(args)?;
    let vars = read_vars(args, &config)?;
    let files = berth_source::read_path(&args.path)?;
    if files.is_empty() {
        bail!(
            "{}: no *.yaml or *.yml manifests found; pass the directory that holds them",
            args.path.display()
        );
    }
    let outcome = manifest::load(
        &files,
        &LoadOptions {
            vars,
            targets: config.targets.clone(),
            ..LoadOptions::default()
        },
    );
    Ok(Loaded {
        outcome,
        targets: config.targets,
    })
}

/// One target's share of a loaded manifest set, with how to reach it.
struct TargetPart {
    /// Its name ([`DEFAULT_TARGET`] without targets).
    name: String,
    /// Its connection: `--region` / `--endpoint-url` without targets; with them, the
    /// target's region and role over `--endpoint-url`.
    aws: berth_aws::AwsConfig,
    /// Its valid services, and the invalid manifests that are (or may be: their target cannot
    /// be told) its own.
    outcome: LoadOutcome,
}

/// Splits `loaded` by target, in the order of `targets:`; a target without manifests is left
/// out. Without targets, one part with everything.
fn by_target(loaded: Loaded, args: &AwsArgs) -> Vec<TargetPart> {
    let base = aws_config(args);
    let Some(targets) = loaded.targets else {
        return vec![TargetPart {
            name: DEFAULT_TARGET.to_owned(),
            aws: base,
            outcome: loaded.outcome,
        }];
    };
    targets
        .iter()
        .filter_map(|target| {
            let services: Vec<_> = (loaded.outcome.services.iter())
                .filter(|service| service.target.as_deref() == Some(target.name.as_str()))
                .cloned()
                .collect();
            (!services.is_empty()).then(|| TargetPart {
                name: target.name.clone(),
                aws: base.for_target(target),
                outcome: LoadOutcome {
                    services,
                    invalid: (loaded.outcome.invalid.iter())
                        .filter(|invalid| {
                            invalid.target.is_none()
                                || invalid.target.as_deref() == Some(target.name.as_str())
                        })
                        .cloned()
                        .collect(),
                    warnings: Vec::new(),
                },
            })
        })
        .collect()
}

/// The async runtime for commands that talk to AWS.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `--region` and `--endpoint-url` over the defaults (standard credential chain).
fn aws_config(args: &AwsArgs) -> berth_aws::AwsConfig {
    berth_aws::AwsConfig {
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        ..berth_aws::AwsConfig::default()
    }
}

/// The manifest source's identity for ownership tags: given, or the path as given.
fn source_id(given: Option<&str>, path: &std::path::Path) -> String {
    given.map_or_else(|| path.display().to_string(), str::to_string)
}
