//! `berth validate`: load and validate manifests offline, list every problem.

use std::io::Write;
use std::process::ExitCode;

use berth_core::manifest::LoadOutcome;
use serde_json::json;

use crate::cli::{ReportFormat, ValidateArgs};

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let outcome = super::load_manifests(&args.manifests)?.outcome;
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Text => print_text(&mut out, &outcome)?,
        ReportFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report_json(&outcome))?
        )?,
    }
    Ok(if outcome.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(out: &mut impl Write, outcome: &LoadOutcome) -> std::io::Result<()> {
    // An error in a `_defaults.yaml` is an error of every manifest it applies to; say it once.
    let mut printed = std::collections::HashSet::new();
    for invalid in &outcome.invalid {
        for diagnostic in &invalid.diagnostics {
            let line = diagnostic.to_string();
            if printed.insert(line.clone()) {
                writeln!(out, "{line}")?;
            }
        }
    }
    for warning in &outcome.warnings {
        writeln!(out, "{warning}")?;
    }
    let valid = outcome.services.len();
    let invalid = outcome.invalid.len();
    if invalid == 0 {
        writeln!(out, "{valid} {} valid", plural(valid))?;
    } else {
        let names: Vec<String> = outcome
            .invalid
            .iter()
            .map(|i| {
                i.id.as_ref()
                    .map_or_else(|| i.origin.to_string(), ToString::to_string)
            })
            .collect();
        writeln!(
            out,
            "{valid} {} valid, {invalid} invalid: {}",
            plural(valid),
            names.join(", ")
        )?;
    }
    Ok(())
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

fn plural(count: usize) -> &'static str {
    if count == 1 { "service" } else { "services" }
}
