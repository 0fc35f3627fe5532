//! `berth render`: print the exact API inputs berth would send for each manifest.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use berth_core::render::{self, Provenance};
use serde_json::{Value, json};

use crate::cli::{RenderArgs, RenderPart};

pub fn run(args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let outcome = super::load_manifests(&args.manifests)?.outcome;
    let provenance = Provenance {
        repository: args.manifests.path.display().to_string(),
        revision: None,
    };
    let selected: Vec<_> = outcome
        .services
        .iter()
        .filter(|s| args.service.as_ref().is_none_or(|name| &s.id.name == name))
        .filter(|s| {
            args.cluster
                .as_ref()
                .is_none_or(|cluster| &s.id.cluster == cluster)
        })
        .collect();
    for invalid in &outcome.invalid {
        for diagnostic in invalid.diagnostics.iter().filter(|d| d.is_error()) {
            eprintln!("{diagnostic}");
        }
    }
    if selected.is_empty() {
        bail!("no valid service matches; `berth validate` lists what is there and what is wrong");
    }
    let rendered: Vec<Value> = selected
        .iter()
        .map(|service| match args.only {
            RenderPart::TaskDefinition => render::register_task_definition(service, &provenance),
            RenderPart::Service => render::create_service(service, &provenance),
            RenderPart::Both => json!({
                "cluster": service.id.cluster,
                "service": service.id.name,
                "registerTaskDefinition": render::register_task_definition(service, &provenance),
                "createService": render::create_service(service, &provenance),
            }),
        })
        .collect();
    let output = match rendered.as_slice() {
        [single] => single.clone(),
        _ => Value::Array(rendered),
    };
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&output)?
    )?;
    Ok(if outcome.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
