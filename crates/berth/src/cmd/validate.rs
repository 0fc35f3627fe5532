//! `berth validate`: load and validate manifests offline, list every problem.

use std::process::ExitCode;

use berth_core::manifest::LoadOutcome;
use serde_json::json;

use crate::cli::{ReportFormat, ValidateArgs};

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let outcome = super::load_manifests(&args.manifests)?;
    match args.format {
        ReportFormat::Text => print_text(&outcome),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report_json(&outcome))?),
    }
    Ok(if outcome.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(outcome: &LoadOutcome) {
    // An error in a `_defaults.yaml` is an error of every manifest it applies to; say it once.
    let mut printed = std::collections::HashSet::new();
    for invalid in &outcome.invalid {
        for diagnostic in &invalid.diagnostics {
            let line = diagnostic.to_string();
            if printed.insert(line.clone()) {
                println!("{line}");
            }
        }
    }
    for warning in &outcome.warnings {
        println!("{warning}");
    }
    let valid = outcome.services.len();
    let invalid = outcome.invalid.len();
    if invalid == 0 {
        println!("{valid} services valid");
    } else {
        let names: Vec<String> = outcome
            .invalid
            .iter()
            .map(|i| {
                i.id.as_ref()
                    .map_or_else(|| i.origin.to_string(), ToString::to_string)
            })
            .collect();
        println!(
            "{valid} services valid, {invalid} invalid: {}",
            names.join(", ")
        );
    }
}

/// The `--format json` report: stable field names, documented in docs/cli.md.
fn report_json(outcome: &LoadOutcome) -> serde_json::Value {
    json!({
        "valid": outcome.services.iter().map(|s| json!({
            "cluster": s.id.cluster,
            "name": s.id.name,
            "file": s.origin.file,
            "line": s.origin.line,
        })).collect::<Vec<_>>(),
        "invalid": outcome.invalid.iter().map(|i| json!({
            "cluster": i.id.as_ref().map(|id| &id.cluster),
            "name": i.id.as_ref().map(|id| &id.name),
            "file": i.origin.file,
            "line": i.origin.line,
            "diagnostics": i.diagnostics,
        })).collect::<Vec<_>>(),
        "warnings": outcome.warnings,
    })
}
