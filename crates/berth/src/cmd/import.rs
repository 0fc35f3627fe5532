//! `berth import`: write a manifest from ECS JSON files.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use berth_core::manifest::import::manifest_from_ecs_json;
use berth_core::yaml::{self, Node};
use serde_json::Value;

use crate::cli::ImportArgs;

pub fn run(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let task_definition = read_json_tree(&args.from_file)?;
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
    let mut value = serde_json::to_value(&imported.document)?;
    prune_empty(&mut value);
    let text = serde_yaml::to_string(&value)?;
    match &args.out {
        None => write!(std::io::stdout().lock(), "{text}")?,
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create", dir.display()))?;
            let path = dir.join(format!("{}.yaml", imported.document.metadata.name));
            if path.exists() {
                bail!(
                    "{}: already exists; berth import never overwrites a manifest",
                    path.display()
                );
            }
            std::fs::write(&path, text)
                .with_context(|| format!("{}: cannot write", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
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
