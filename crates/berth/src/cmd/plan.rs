//! `berth plan`: diff the manifests against live ECS and print what would change.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use berth_core::plan::{Action, Format, Ownership, Plan, plan, render};

use crate::cli::{ColorChoice, PlanArgs, PlanFormat};

/// Exit code when the plan has changes (`terraform plan -detailed-exitcode` semantics).
const EXIT_CHANGES: u8 = 2;

/// Exit code when a service cannot be planned or a target cannot be read.
const EXIT_FAILED: u8 = 1;

pub fn run(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_manifests(&args.manifests)?;
    let with_targets = loaded.targets.is_some();
    let ownership = Ownership::new(&super::source_id(
        args.source_id.as_deref(),
        &args.manifests.path,
    ));
    let runtime = super::runtime()?;
    let parts = super::by_target(loaded, &args.aws);
    // Targets are read at the same time; one that cannot be read fails alone.
    let plans = runtime.block_on(futures::future::join_all(parts.iter().map(|part| async {
        let aws = berth_aws::connect(&part.aws).await;
        let services = &part.outcome.services;
        berth_engine::read_live(&aws, &aws, services, &part.outcome.invalid)
            .await
            .map(|live| plan(services, &part.outcome.invalid, &live, &ownership))
    })));
    let format = format(args);
    let mut out = std::io::stdout().lock();
    let mut code = 0u8;
    let mut documents = Vec::new();
    for (part, result) in parts.iter().zip(plans) {
        let plan = match result {
            Ok(plan) => plan,
            Err(err) if with_targets => {
                writeln!(out, "target {}: cannot read ECS: {err}", part.name)?;
                code = EXIT_FAILED;
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let text = render(&plan, format);
        match (with_targets, format) {
            (false, _) => writeln!(out, "{}", text.trim_end())?,
            (true, Format::Json) => documents.push(serde_json::json!({
                "target": part.name,
                "plan": serde_json::from_str::<serde_json::Value>(&text)?,
            })),
            (true, _) => writeln!(out, "target {}:\n{}\n", part.name, text.trim_end())?,
        }
        code = worse(code, exit_code(&plan));
    }
    if with_targets && matches!(format, Format::Json) {
        writeln!(out, "{}", serde_json::to_string_pretty(&documents)?)?;
    }
    Ok(ExitCode::from(code))
}

fn format(args: &PlanArgs) -> Format {
    match args.format {
        PlanFormat::Json => Format::Json,
        PlanFormat::Markdown => Format::Markdown,
        PlanFormat::Text => Format::Text {
            color: match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => std::io::stdout().is_terminal(),
            },
        },
    }
}

/// [`EXIT_FAILED`] when a service cannot be planned, [`EXIT_CHANGES`] when something would
/// change, else 0.
fn exit_code(plan: &Plan) -> u8 {
    let failed = plan.services.iter().any(|s| {
        matches!(
            s.action,
            Action::Invalid { .. } | Action::ImageMissing { .. } | Action::Conflict { .. }
        )
    });
    if failed {
        EXIT_FAILED
    } else if plan.has_changes() {
        EXIT_CHANGES
    } else {
        0
    }
}

/// The exit code of several plans: a failure wins over changes, changes over none.
fn worse(a: u8, b: u8) -> u8 {
    let rank = |code: u8| match code {
        EXIT_FAILED => 2,
        EXIT_CHANGES => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}
