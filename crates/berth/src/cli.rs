//! Command-line flags. Every flag can also be set with a `BERTH_*` environment variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// GitOps for Amazon ECS and Fargate: converge ECS services to the manifests in git.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Log format: human-readable text, or JSON lines for CloudWatch.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "BERTH_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// Log level filter (`info`, `debug`, `berth=debug,warn`); `BERTH_LOG` overrides it.
    #[arg(long, global = true, default_value = "warn", env = "BERTH_LOG_LEVEL")]
    pub log_level: String,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and validate manifests offline; exit 1 listing every error as file:line:col.
    Validate(ValidateArgs),
    /// Print the RegisterTaskDefinition and CreateService input berth would send.
    Render(RenderArgs),
    /// Write a berth manifest from ECS JSON (describe output, ecspresso dumps, CLI input).
    Import(ImportArgs),
}

/// Where manifests are and what their variables are.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Manifest directory (read recursively) or a single manifest file.
    #[arg(default_value = "manifests", env = "BERTH_PATH")]
    pub path: PathBuf,
    /// A variable for `${NAME}` in manifests, as NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// A YAML file of variables (a flat map NAME: VALUE); `--var` wins over it.
    #[arg(long, value_name = "FILE", env = "BERTH_VARS_FILE")]
    pub vars_file: Option<PathBuf>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

/// Output formats of `validate`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// `file:line:col: message` lines and a summary.
    Text,
    /// One JSON document (schema in docs/cli.md).
    Json,
}

/// `berth validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Manifests and variables.
    #[command(flatten)]
    pub manifests: ManifestArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

/// Which inputs `render` prints.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RenderPart {
    /// Both, as `{"registerTaskDefinition": …, "createService": …}`.
    Both,
    /// Only the RegisterTaskDefinition input (usable with `aws ecs register-task-definition --cli-input-json`).
    TaskDefinition,
    /// Only the CreateService input.
    Service,
}

/// `berth render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Manifests and variables.
    #[command(flatten)]
    pub manifests: ManifestArgs,
    /// Only this service (by name; add --cluster when the name is in several clusters).
    #[arg(long)]
    pub service: Option<String>,
    /// Only services in this cluster.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Which input to print.
    #[arg(long, value_enum, default_value = "both")]
    pub only: RenderPart,
}

/// `berth import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A task definition as JSON: register-task-definition input, describe-task-definition
    /// output (read-only fields are dropped and listed), or an ecspresso/CodeDeploy dump.
    #[arg(long, value_name = "FILE")]
    pub from_file: PathBuf,
    /// A service definition as JSON (describe-services entry, ecspresso dump, CreateService input).
    #[arg(long, value_name = "FILE")]
    pub service_file: Option<PathBuf>,
    /// Service name (default: the service file's `serviceName`, else the task definition family).
    #[arg(long)]
    pub name: Option<String>,
    /// Cluster name (default: the service file's `cluster`).
    #[arg(long)]
    pub cluster: Option<String>,
    /// Write the manifest into this directory as `<name>.yaml` instead of printing it.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
