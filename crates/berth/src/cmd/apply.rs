//! `berth apply`: plan, confirm, apply, follow rollouts, summarize.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::bail;
use berth_core::live::{Deployment, ServiceEvent};
use berth_core::manifest::ServiceId;
use berth_core::plan::{Format, LiveState, Ownership, Plan, plan, render};
use berth_core::render::Provenance;
use berth_engine::apply::{
    AppliedAction, ApplyObserver, ApplyOptions, ServiceOutcome, ServiceReport, apply,
};
use berth_engine::rollout::{RolloutObserver, RolloutTiming};

use crate::cli::ApplyArgs;

/// One target ready to apply: its clients, what it reads, and its plan.
struct Prepared {
    part: super::TargetPart,
    aws: berth_aws::Aws,
    live: LiveState,
    plan: Plan,
}

pub fn run(args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_manifests(&args.manifests)?;
    let with_targets = loaded.targets.is_some();
    let terminal = std::io::stdout().is_terminal();
    let repository = super::source_id(args.source_id.as_deref(), &args.manifests.path);
    let ownership = Ownership::new(&repository);
    let parts = super::by_target(loaded, &args.aws);
    let runtime = super::runtime()?;
    runtime.block_on(async {
        // Targets are read at the same time; one that cannot be read fails alone.
        let read =
            futures::future::join_all(parts.into_iter().map(|part| prepare(part, &ownership)));
        let mut unreadable = false;
        let mut prepared = Vec::new();
        for result in read.await {
            match result {
                Ok(target) => prepared.push(target),
                Err((name, err)) if with_targets => {
                    println!("target {name}: cannot read ECS: {err}");
                    unreadable = true;
                }
                Err((_, err)) => return Err(err.into()),
            }
        }
        for target in &prepared {
            let text = render(&target.plan, Format::Text { color: terminal });
            if with_targets {
                println!("target {}:", target.part.name);
            }
            println!("{}", text.trim_end());
        }
        let failed = u8::from(unreadable);
        if !prepared.iter().any(|target| target.plan.has_changes()) {
            println!("Nothing to apply.");
            return Ok(ExitCode::from(failed));
        }
        if !args.yes && !confirmed()? {
            println!("Apply cancelled.");
            return Ok(ExitCode::from(1));
        }
        let options = apply_options(args, repository);
        let progress = Progress::new(terminal);
        let reports = futures::future::join_all(prepared.iter().map(|target| {
            let services = &target.part.outcome.services;
            apply(
                &target.aws,
                &target.plan,
                services,
                &target.live,
                &options,
                &progress,
            )
        }))
        .await;
        progress.clear();
        let reports: Vec<ServiceReport> = reports.into_iter().flatten().collect();
        print_summary(&reports);
        let ok = reports.iter().all(|r| r.outcome.is_ok()) && !unreadable;
        Ok(ExitCode::from(u8::from(!ok)))
    })
}

/// Connects to `part`'s account and region, reads what its services need and plans them.
async fn prepare(
    part: super::TargetPart,
    ownership: &Ownership,
) -> Result<Prepared, (String, berth_engine::EngineError)> {
    let aws = berth_aws::connect(&part.aws).await;
    let services = &part.outcome.services;
    let live = berth_engine::read_live_to_apply(&aws, &aws, services, &part.outcome.invalid)
        .await
        .map_err(|err| (part.name.clone(), err))?;
    let plan = plan(services, &part.outcome.invalid, &live, ownership);
    Ok(Prepared {
        part,
        aws,
        live,
        plan,
    })
}

/// Asks on the terminal; only `yes` applies.
fn confirmed() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not a terminal: pass --yes to apply without confirmation");
    }
    print!("\nApply these changes? Only 'yes' is accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

fn apply_options(args: &ApplyArgs, repository: String) -> ApplyOptions {
    ApplyOptions {
        concurrency: args.concurrency,
        rollout: RolloutTiming {
            deadline: args.progress_deadline.into(),
            poll_interval: args.poll_interval.into(),
        },
        follow: true,
        provenance: Provenance {
            repository,
            revision: args.revision.clone(),
        },
        ..ApplyOptions::default()
    }
}

/// Live progress: on a terminal a block of one line per service redrawn in place, with ECS's
/// events printed above it; otherwise plain lines.
struct Progress {
    terminal: bool,
    state: Mutex<ProgressState>,
}

#[derive(Default)]
struct ProgressState {
    lines: BTreeMap<ServiceId, String>,
    drawn: usize,
}

impl Progress {
    fn new(terminal: bool) -> Self {
        Progress {
            terminal,
            state: Mutex::new(ProgressState::default()),
        }
    }

    /// Prints `line` (an event or an action) and, on a terminal, redraws the status block.
    fn say(&self, id: &ServiceId, line: Option<String>, status: Option<String>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = std::io::stdout().lock();
        if self.terminal {
            // Move up over the block and clear it, print the line, redraw.
            if state.drawn > 0 {
                let _ = write!(out, "\x1b[{}A\x1b[J", state.drawn);
            }
            if let Some(line) = line {
                let _ = writeln!(out, "{id}: {line}");
            }
            if let Some(status) = status {
                state.lines.insert(id.clone(), status);
            }
            for (service, status) in &state.lines {
                let _ = writeln!(out, "  {service:<32} {status}");
            }
            state.drawn = state.lines.len();
        } else if let Some(line) = line.or(status) {
            let _ = writeln!(out, "{id}: {line}");
        }
    }

    fn clear(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if self.terminal && state.drawn > 0 {
            print!("\x1b[{}A\x1b[J", state.drawn);
        }
        state.drawn = 0;
    }
}

impl RolloutObserver for Progress {
    fn event(&self, id: &ServiceId, event: &ServiceEvent) {
        self.say(id, Some(format!("ECS: {}", event.message)), None);
    }

    fn progress(&self, id: &ServiceId, primary: &Deployment) {
        let status = format!(
            "{} running {}/{}{}",
            primary.rollout_state.as_deref().unwrap_or("-"),
            primary.running_count,
            primary.desired_count,
            if primary.pending_count > 0 {
                format!(" (pending {})", primary.pending_count)
            } else {
                String::new()
            }
        );
        // Plain output: only when something moved, not every poll.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let changed = state.lines.get(id) != Some(&status);
        drop(state.lines.insert(id.clone(), status.clone()));
        drop(state);
        if self.terminal || changed {
            self.say(id, None, Some(status));
        }
    }
}

impl ApplyObserver for Progress {
    fn action(&self, id: &ServiceId, action: &AppliedAction) {
        let line = match action {
            AppliedAction::RegisteredTaskDefinition { arn } => format!("registered {arn}"),
            AppliedAction::ReusedTaskDefinition { arn } => format!("reusing {arn}"),
            AppliedAction::CreatedService => "created service".to_string(),
            AppliedAction::UpdatedService { fields } => format!("updated {}", fields.join(", ")),
            AppliedAction::TaggedService => "tagged service".to_string(),
            AppliedAction::UntaggedService { keys } => format!("untagged {}", keys.join(", ")),
        };
        self.say(id, Some(line), None);
    }

    fn finished(&self, report: &ServiceReport) {
        if let Some(id) = &report.id {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.lines.remove(id);
        }
    }
}

fn print_summary(reports: &[ServiceReport]) {
    println!("\n{:<36} {:<12} {:<8} detail", "SERVICE", "RESULT", "CALLS");
    for report in reports {
        let name = report
            .id
            .as_ref()
            .map_or_else(|| "(unparsable file)".to_string(), ToString::to_string);
        let (result, detail) = match &report.outcome {
            ServiceOutcome::Synced => ("Synced", String::new()),
            ServiceOutcome::Progressing { reason } => ("Progressing", reason.clone()),
            ServiceOutcome::Failed { reason, events } => (
                "Failed",
                match events.first() {
                    Some(event) => format!("{reason} (last ECS event: {})", event.message),
                    None => reason.clone(),
                },
            ),
            ServiceOutcome::Skipped { reason } => ("Skipped", reason.clone()),
        };
        println!(
            "{name:<36} {result:<12} {:<8} {detail}",
            report.actions.len()
        );
    }
}
