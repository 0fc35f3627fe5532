//! `berth plan`: diff the manifests against live ECS and print what would change.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use berth_core::plan::{Action, Format, Ownership, plan, render};

use crate::cli::{ColorChoice, PlanArgs, PlanFormat};

/// Exit code when the plan has changes (`terraform plan -detailed-exitcode` semantics).
const EXIT_CHANGES: u8 = 2;

pub fn run(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let outcome = super::load_manifests(&args.manifests)?;
    let runtime = super::runtime()?;
    let live = runtime.block_on(async {
        let aws = super::connect_aws(&args.aws).await;
        berth_engine::read_live(&aws, &aws, &outcome.services, &outcome.invalid).await
    })?;
    let ownership = Ownership::new(&super::source_id(
        args.source_id.as_deref(),
        &args.manifests.path,
    ));
    let plan = plan(&outcome.services, &outcome.invalid, &live, &ownership);
    let format = match args.format {
        PlanFormat::Json => Format::Json,
        PlanFormat::Markdown => Format::Markdown,
        PlanFormat::Text => Format::Text {
            color: match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => std::io::stdout().is_terminal(),
            },
        },
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", render(&plan, format).trim_end())?;
    let failed = plan.services.iter().any(|s| {
        matches!(
            s.action,
            Action::Invalid { .. } | Action::ImageMissing { .. } | Action::Conflict { .. }
        )
    });
    Ok(if failed {
        ExitCode::from(1)
    } else if plan.has_changes() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}
