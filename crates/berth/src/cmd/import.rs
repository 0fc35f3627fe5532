//! `berth import`: write a manifest from ECS JSON files.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use berth_core::manifest::ManifestDocument;
use berth_core::manifest::import::manifest_from_ecs_json;
use berth_core::yaml::{self, Node};
use berth_engine::import::Imported;
use serde_json::Value;

use crate::cli::ImportArgs;
use crate::config::ConfigFile;

pub fn run(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    match (&args.from_file, &args.cluster) {
        (Some(file), _) => from_file(args, file),
        (None, Some(cluster)) => from_cluster(args, cluster),
        (None, None) => bail!("pass --cluster NAME (import live services) or --from-file FILE"),
    }
}

/// Imports live services of `cluster`.
fn from_cluster(args: &ImportArgs, cluster: &str) -> anyhow::Result<ExitCode> {
    let aws_config = target_aws(args, cluster)?;
    let runtime = super::runtime()?;
    let imported = runtime.block_on(async {
        let aws = berth_aws::connect(&aws_config).await;
        berth_engine::import::import_services(&aws, cluster, &args.services).await
    })?;
    let mut missing = false;
    let mut out = std::io::stdout().lock();
    for item in imported {
        match item {
            Imported::NotFound(id) => {
                eprintln!("{id}: no such active service");
                missing = true;
            }
            Imported::Manifest(mut document) => {
                document.metadata.target.clone_from(&args.target);
                let text = to_yaml(&document)?;
                match &args.out {
                    None => write!(out, "---\n{text}")?,
                    Some(dir) => write_new(&dir.join(cluster), &document.metadata.name, &text)?,
                }
            }
        }
    }
    Ok(if missing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Where `cluster` is read from: `--region` / `--endpoint-url`, or with `--config` the account,
/// region and role of the target the cluster (or `--target`) resolves to, as the daemon would.
fn target_aws(args: &ImportArgs, cluster: &str) -> anyhow::Result<berth_aws::AwsConfig> {
    let base = super::aws_config(&args.aws);
    let Some(path) = &args.config else {
        return Ok(base);
    };
    let Some(targets) = ConfigFile::read(path)?.targets else {
        if args.target.is_some() {
            bail!("{}: --target needs `targets:` in this file", path.display());
        }
        return Ok(base);
    };
    let target = targets
        .resolve(cluster, args.target.as_deref())
        .map_err(|unresolved| anyhow::anyhow!("{}: {unresolved}", path.display()))?;
    Ok(base.for_target(target))
}

/// Imports a task definition (and service definition) from JSON files.
fn from_file(args: &ImportArgs, file: &Path) -> anyhow::Result<ExitCode> {
    let task_definition = read_json_tree(file)?;
    let service = args
        .service_file
        .as_deref()
        .map(read_json_tree)
        .transpose()?;
    let imported = match manifest_from_ecs_json(
        task_definition,
        service,
        args.name.clone(),
        args.cluster.clone(),
    ) {
        Ok(imported) => imported,
        Err(diagnostics) => {
            for diagnostic in diagnostics {
                eprintln!("{diagnostic}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    for (field, span) in &imported.dropped {
        eprintln!("{span}: dropped `{field}`: ECS sets it, it is not part of a manifest");
    }
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let text = to_yaml(&imported.document)?;
    match &args.out {
        None => write!(std::io::stdout().lock(), "{text}")?,
        Some(dir) => write_new(dir, &imported.document.metadata.name, &text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A manifest as YAML, without empty lists and nulls.
fn to_yaml(document: &ManifestDocument) -> anyhow::Result<String> {
    let mut value = serde_json::to_value(document)?;
    prune_empty(&mut value);
    Ok(serde_yaml::to_string(&value)?)
}

/// Writes `dir/<name>.yaml`, refusing to overwrite.
fn write_new(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let path = dir.join(format!("{name}.yaml"));
    if path.exists() {
        bail!(
            "{}: already exists; berth import never overwrites a manifest",
            path.display()
        );
    }
    std::fs::write(&path, text).with_context(|| format!("{}: cannot write", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn read_json_tree(path: &Path) -> anyhow::Result<Node> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let name: Arc<str> = Arc::from(path.display().to_string());
    let mut documents =
        yaml::parse_documents(&name, &text).map_err(|diag| anyhow::anyhow!("{diag}"))?;
    if documents.is_empty() {
        bail!("{}: empty file", path.display());
    }
    Ok(documents.remove(0))
}

/// Drops empty lists and maps: ECS treats them as absent, and a manifest reads better without.
fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                prune_empty(child);
            }
            map.retain(|_, child| !is_empty(child));
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}
