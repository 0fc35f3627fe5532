//! The `berth` binary: parses flags, sets up logging, and hands off to a command.

mod allocator;
mod cli;
mod cmd;
mod config;
#[cfg(test)]
mod doc_examples;
mod settings;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    allocator::tune();
    let cli = cli::Cli::parse();
    if matches!(cli.command, cli::Command::Run(_)) {
        set_git_timeouts();
    }
    let default_level = match cli.command {
        cli::Command::Run(_) => "info",
        _ => "warn",
    };
    init_tracing(&cli.global, default_level);
    match cmd::run(cli) {
        Ok(code) => code,
        // `berth validate | head` closes stdout early; that is not an error.
        Err(err)
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Bounds git connects and reads (the daemon's remote may hang); see `berth_source::timeouts`.
#[allow(unsafe_code)]
fn set_git_timeouts() {
    // SAFETY: called first in `main`, before the runtime or any other thread starts and before
    // any git operation.
    let set = unsafe {
        berth_source::set_git_timeouts(
            berth_source::GIT_CONNECT_TIMEOUT,
            berth_source::GIT_IO_TIMEOUT,
        )
    };
    if let Err(error) = set {
        eprintln!("warning: cannot set git network timeouts: {error}");
    }
}

fn init_tracing(global: &cli::GlobalArgs, default_level: &str) {
    let level = global.log_level.as_deref().unwrap_or(default_level);
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colour only for a person at a terminal; a file or CloudWatch gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match global.log_format {
        cli::LogFormat::Json => builder.json().init(),
        cli::LogFormat::Text => builder.init(),
    }
}
