//! Command-line flags. Every flag can also be set with a `BERTH_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use berth_engine::apply::ApplyOptions;
use berth_engine::rollout::RolloutTiming;
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
    /// Defaults to `info` for `berth run` (its log is the reconcile record) and `warn` for the
    /// one-shot commands, whose output is their report.
    #[arg(long, global = true, env = "BERTH_LOG_LEVEL")]
    pub log_level: Option<String>,
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
    /// The daemon: watch the source, reconcile continuously, serve health, metrics and status.
    Run(Box<RunArgs>),
    /// Load and validate manifests offline; exit 1 listing every error as file:line:col.
    Validate(ValidateArgs),
    /// Print the RegisterTaskDefinition and CreateService input berth would send.
    Render(RenderArgs),
    /// Diff the manifests against live ECS; exit 0 no changes, 2 changes, 1 error.
    Plan(PlanArgs),
    /// Plan, confirm, apply, and follow rollouts; exit 0 when all converged, 1 otherwise.
    Apply(ApplyArgs),
    /// Write berth manifests for existing services (`--cluster`), or from ECS JSON (`--from-file`).
    Import(ImportArgs),
    /// GET the daemon's `/healthz` (for a container health check); exit 0 on 2xx, 1 otherwise.
    Healthcheck(HealthcheckArgs),
}

/// How to reach AWS (credentials and region come from the standard chain).
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// AWS region (default: from the environment/profile, as the AWS CLI does).
    #[arg(long, env = "BERTH_AWS_REGION")]
    pub region: Option<String>,
    /// Send ECS and ECR calls here instead of AWS (a local emulator); `AWS_ENDPOINT_URL` also works.
    #[arg(long, value_name = "URL", env = "BERTH_AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// A readable diff, only what changes.
    Text,
    /// JSON (schema in docs/cli.md).
    Json,
    /// Markdown for a pull request comment.
    Markdown,
}

/// `berth plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Manifests and variables.
    #[command(flatten)]
    pub manifests: ManifestArgs,
    /// AWS connection.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// Colour in text output.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// This manifest source's identity in `berth:source` tags (the daemon uses the git URL);
    /// decides which services berth owns. Default: PATH as given.
    #[arg(long, env = "BERTH_SOURCE_ID")]
    pub source_id: Option<String>,
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
    /// The daemon's `berth.yaml`: its `targets:` decide each manifest's account and region,
    /// and its `vars:` apply under `--vars-file` and `--var`, as `berth run` would.
    #[arg(long, value_name = "FILE", env = "BERTH_CONFIG")]
    pub config: Option<PathBuf>,
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
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "services",
        required_unless_present = "cluster"
    )]
    pub from_file: Option<PathBuf>,
    /// Import the services of this cluster from live ECS (with --service: only those).
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// AWS connection (for --cluster).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// A service definition as JSON (describe-services entry, ecspresso dump, CreateService input).
    #[arg(long, value_name = "FILE")]
    pub service_file: Option<PathBuf>,
    /// Service name (default: the service file's `serviceName`, else the task definition family).
    #[arg(long)]
    pub name: Option<String>,
    /// Cluster name: with --from-file, the manifest's cluster (default: the service file's
    /// `cluster`); alone, the live cluster to import every service from.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Write the manifest into this directory as `<name>.yaml` instead of printing it.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The daemon's `berth.yaml`: with --cluster, its `targets:` say which account and region
    /// (and role) the cluster is read from.
    #[arg(long, value_name = "FILE", env = "BERTH_CONFIG")]
    pub config: Option<PathBuf>,
    /// With --config: the target to read --cluster from, when the cluster alone does not say
    /// (the manifests then name it in `metadata.target`).
    #[arg(long, value_name = "NAME", requires = "config")]
    pub target: Option<String>,
}

/// `berth apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Manifests and variables.
    #[command(flatten)]
    pub manifests: ManifestArgs,
    /// AWS connection.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long, short = 'y', env = "BERTH_YES")]
    pub yes: bool,
    /// Services applied at once.
    #[arg(long, default_value_t = ApplyOptions::default().concurrency, env = "BERTH_CONCURRENCY")]
    pub concurrency: usize,
    /// Give up following a rollout after this long (`30s`, `10m`).
    #[arg(
        long,
        default_value_t = RolloutTiming::default().deadline.into(),
        env = "BERTH_PROGRESS_DEADLINE"
    )]
    pub progress_deadline: humantime::Duration,
    /// How often to check a rollout.
    #[arg(
        long,
        default_value_t = RolloutTiming::default().poll_interval.into(),
        env = "BERTH_POLL_INTERVAL"
    )]
    pub poll_interval: humantime::Duration,
    /// This manifest source's identity in `berth:source` tags (default: PATH as given).
    #[arg(long, env = "BERTH_SOURCE_ID")]
    pub source_id: Option<String>,
    /// Commit being applied, for the `berth:revision` tag.
    #[arg(long, env = "BERTH_REVISION")]
    pub revision: Option<String>,
}

/// `berth run`: every config key can also be given as a flag or `BERTH_*` variable (they win).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The config file (`berth.yaml`).
    #[arg(long, env = "BERTH_CONFIG")]
    pub config: Option<PathBuf>,
    /// `source.url`: a git URL, or a local directory (watched when it is not a git repo).
    #[arg(long, env = "BERTH_SOURCE_URL")]
    pub source_url: Option<String>,
    /// `source.branch`.
    #[arg(long, env = "BERTH_SOURCE_BRANCH")]
    pub branch: Option<String>,
    /// `source.path`: the manifests' directory inside the repository.
    #[arg(long, env = "BERTH_SOURCE_PATH")]
    pub source_path: Option<String>,
    /// `source.pollInterval`.
    #[arg(long, env = "BERTH_POLL_INTERVAL")]
    pub poll_interval: Option<humantime::Duration>,
    /// `source.staleness`: `/readyz` turns not-ready after the source was unreadable this long.
    #[arg(long, env = "BERTH_STALENESS")]
    pub staleness: Option<humantime::Duration>,
    /// `source.cacheDir`: where the git clone is kept.
    #[arg(long, env = "BERTH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// `source.auth.tokenEnv`: the environment variable holding an HTTPS token.
    #[arg(long, env = "BERTH_SOURCE_TOKEN_ENV")]
    pub token_env: Option<String>,
    /// `source.auth.tokenFile`: a file holding an HTTPS token.
    #[arg(long, env = "BERTH_SOURCE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// `source.auth.sshKeyFile`: an SSH deploy key.
    #[arg(long, env = "BERTH_SSH_KEY_FILE")]
    pub ssh_key_file: Option<PathBuf>,
    /// AWS connection (`aws.region`, `aws.endpointUrl`).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// `reconcile.interval`.
    #[arg(long, env = "BERTH_INTERVAL")]
    pub interval: Option<humantime::Duration>,
    /// `reconcile.concurrency`.
    #[arg(long, env = "BERTH_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// `reconcile.prune`.
    #[arg(long, env = "BERTH_PRUNE")]
    pub prune: Option<bool>,
    /// `reconcile.maxPrune`.
    #[arg(long, env = "BERTH_MAX_PRUNE")]
    pub max_prune: Option<usize>,
    /// `reconcile.selfHeal`.
    #[arg(long, env = "BERTH_SELF_HEAL")]
    pub self_heal: Option<bool>,
    /// `reconcile.suspend`: read and report, change nothing.
    #[arg(long, env = "BERTH_SUSPEND")]
    pub suspend: Option<bool>,
    /// `reconcile.selfService`: berth's own service as `cluster/name` (never pruned, changed
    /// after every other service).
    #[arg(long, value_name = "CLUSTER/NAME", env = "BERTH_SELF_SERVICE")]
    pub self_service: Option<String>,
    /// `targets:` as YAML or JSON (a list of targets), for a container configured by its
    /// environment alone; wins over the file's.
    #[arg(long, value_name = "YAML", env = "BERTH_TARGETS")]
    pub targets: Option<String>,
    /// `lease.table`: the DynamoDB table replicas share targets through.
    #[arg(long, env = "BERTH_LEASE_TABLE")]
    pub lease_table: Option<String>,
    /// `lease.ttl`.
    #[arg(long, env = "BERTH_LEASE_TTL")]
    pub lease_ttl: Option<humantime::Duration>,
    /// `lease.renewEvery`.
    #[arg(long, env = "BERTH_LEASE_RENEW_EVERY")]
    pub lease_renew_every: Option<humantime::Duration>,
    /// `reconcile.progressDeadline`.
    #[arg(long, env = "BERTH_PROGRESS_DEADLINE")]
    pub progress_deadline: Option<humantime::Duration>,
    /// `server.listen`: an address like `0.0.0.0:8080`.
    #[arg(long, env = "BERTH_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// `server.webhookSecretEnv`: the environment variable holding the GitHub webhook secret
    /// (default `BERTH_WEBHOOK_SECRET`).
    #[arg(long, env = "BERTH_WEBHOOK_SECRET_ENV")]
    pub webhook_secret_env: Option<String>,
    /// `server.tokenEnv`: the environment variable holding the `POST /reconcile` bearer token
    /// (default `BERTH_API_TOKEN`).
    #[arg(long, env = "BERTH_API_TOKEN_ENV")]
    pub api_token_env: Option<String>,
    /// A variable for `${NAME}` (repeatable; wins over `vars:`).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

/// `berth healthcheck`: what a container `healthCheck` runs, since the image has no curl.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The URL to GET (`http://` only). Default: `/healthz` on 127.0.0.1 at the port of
    /// `--listen`.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The daemon's `server.listen` (default `0.0.0.0:8080`): the check goes to its port, on
    /// the loopback address when it listens on every interface.
    #[arg(long, env = "BERTH_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Give up after this long, connecting and answering included.
    #[arg(long, default_value = "3s")]
    pub timeout: humantime::Duration,
}
