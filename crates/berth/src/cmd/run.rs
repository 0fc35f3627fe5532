//! `berth run`: the daemon. Wires the source (git or a watched directory), the AWS adapter,
//! the reconciler and the HTTP server, and runs until SIGTERM/SIGINT.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use berth_core::manifest::ServiceId;
use berth_core::vocabulary::{ApplyAction, ReconcileResult, Status, Trigger};
use berth_engine::daemon::{
    self, DaemonOptions, DaemonState, ManifestSource, Reconciler, Snapshot, Telemetry,
};
use berth_server::{DaemonView, Metrics, Readiness, ServerConfig};
use berth_source::{GitAuth, GitConfig, GitSource, Secret};
use tokio::sync::{RwLock, mpsc, watch};
use tracing::{info, warn};

use crate::cli::RunArgs;
use crate::config::ConfigFile;

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.config {
        Some(path) => ConfigFile::read(path)?,
        None => ConfigFile::default(),
    };
    let url = args
        .source_url
        .clone()
        .or(file.source.url.clone())
        .context("no source: set source.url in the config, --source-url or BERTH_SOURCE_URL")?;
    let secret_from_env = |name: &Option<String>| {
        name.as_ref()
            .and_then(|n| std::env::var(n).ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let branch = args
        .branch
        .clone()
        .or(file.source.branch.clone())
        .unwrap_or_else(|| "main".into());
    let source_path = args.source_path.clone().or(file.source.path.clone());
    let local = PathBuf::from(&url);
    let is_directory = local.is_dir() && !berth_source::git::is_repository(&local);
    let source_id = if is_directory {
        berth_source::dir_source_id(&local)
    } else {
        berth_source::git_source_id(&url, &branch, source_path.as_deref())
    };
    let options = DaemonOptions {
        interval: args
            .interval
            .map(Into::into)
            .or(file.reconcile.interval)
            .unwrap_or(Duration::from_secs(300)),
        poll_interval: args
            .poll_interval
            .map(Into::into)
            .or(file.source.poll_interval)
            .unwrap_or(Duration::from_secs(60)),
        concurrency: args.concurrency.or(file.reconcile.concurrency).unwrap_or(8),
        prune: args.prune.or(file.reconcile.prune).unwrap_or(false),
        max_prune: args.max_prune.or(file.reconcile.max_prune).unwrap_or(1),
        self_heal: args.self_heal.or(file.reconcile.self_heal).unwrap_or(true),
        progress_deadline: args
            .progress_deadline
            .map(Into::into)
            .or(file.reconcile.progress_deadline)
            .unwrap_or(Duration::from_secs(600)),
        vars: {
            let mut vars = file.vars.clone();
            vars.extend(args.vars.iter().cloned());
            vars
        },
        repository: source_id,
        // berth 0.1 tagged services with the URL as configured; they are still this source's.
        legacy_repository: Some(url.clone()),
        staleness: args
            .staleness
            .map(Into::into)
            .or(file.source.staleness)
            .unwrap_or(Duration::from_secs(600)),
        ..DaemonOptions::default()
    };
    let listen = args
        .listen
        .clone()
        .or(file.server.listen.clone())
        .unwrap_or_else(|| "0.0.0.0:8080".into())
        .parse()
        .context("server.listen / --listen is not an address like 0.0.0.0:8080")?;
    let server_config = ServerConfig {
        listen,
        webhook_secret: secret_from_env(
            &args
                .webhook_secret_env
                .clone()
                .or(file.server.webhook_secret_env.clone())
                .or(Some("BERTH_WEBHOOK_SECRET".into())),
        )
        .map(berth_server::Secret::new),
        api_token: secret_from_env(
            &args
                .api_token_env
                .clone()
                .or(file.server.token_env.clone())
                .or(Some("BERTH_API_TOKEN".into())),
        )
        .map(berth_server::Secret::new),
        branch: branch.clone(),
        ..ServerConfig::default()
    };
    let aws_args = crate::cli::AwsArgs {
        region: args.aws.region.clone().or(file.aws.region.clone()),
        endpoint_url: args
            .aws
            .endpoint_url
            .clone()
            .or(file.aws.endpoint_url.clone()),
    };

    let runtime = super::runtime()?;
    let code = runtime.block_on(async move {
        let (trigger_tx, trigger_rx) = mpsc::channel::<Trigger>(1);
        let aws = Arc::new(super::connect_aws(&aws_args).await);
        let metrics = Arc::new(Metrics::new()?);
        let telemetry = Arc::new(MetricsTelemetry {
            metrics: Arc::clone(&metrics),
            counters: aws.counters().clone(),
        });
        let mut reconciler = Reconciler::new(Arc::clone(&aws), Arc::clone(&aws), options, telemetry);
        let state = reconciler.state();

        // HTTP: the server sends its triggers straight to the daemon.
        let view: Arc<dyn DaemonView> = Arc::new(View(Arc::clone(&state)));
        let router = berth_server::router(view, Arc::clone(&metrics), trigger_tx.clone(), &server_config);
        let listener = berth_server::bind(server_config.listen).await?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut server_shutdown = shutdown_rx.clone();
        let server = tokio::spawn(berth_server::serve_on(listener, router, server_config.limits, async move {
            let _ = server_shutdown.changed().await;
        }));
        tokio::spawn(shutdown_on_signal(shutdown_tx));
        info!(listen = %server_config.listen, source = %berth_source::git::redact_url(&url), source_id = %reconciler.options().repository, "berth running");

        if is_directory {
            let watch_tx = trigger_tx.clone();
            let mut watcher = berth_source::DirWatcher::new(&local, Duration::from_millis(300))?;
            tokio::spawn(async move {
                loop {
                    watcher.changed().await;
                    let _ = watch_tx.try_send(Trigger::Watch);
                }
            });
            daemon::run(DirManifests { path: local }, &mut reconciler, trigger_rx, shutdown_rx).await;
        } else {
            let mut config = GitConfig::new(url.clone(), cache_dir(args, &file));
            config.branch = server_config.branch.clone();
            config.path = source_path;
            config.auth = git_auth(args, &file)?;
            let source = tokio::task::spawn_blocking(move || GitSource::open(config)).await??;
            daemon::run(GitManifests { source, in_flight: Arc::default() }, &mut reconciler, trigger_rx, shutdown_rx).await;
        }
        match tokio::time::timeout(Duration::from_secs(10), server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => warn!(error = %err, "HTTP server stopped with an error"),
            Ok(Err(err)) => warn!(error = %err, "HTTP server task failed"),
            Err(_) => warn!("HTTP server did not stop within 10s"),
        }
        info!("berth stopped");
        Ok(ExitCode::SUCCESS)
    });
    // A fetch abandoned at shutdown may still block a thread until libgit2's I/O timeout;
    // nothing depends on it, so exit without waiting for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

fn cache_dir(args: &RunArgs, file: &ConfigFile) -> PathBuf {
    args.cache_dir
        .clone()
        .or_else(|| file.source.cache_dir.clone().map(PathBuf::from))
        .unwrap_or_else(|| std::env::temp_dir().join("berth-git-cache"))
}

/// Git credentials: flags win over the file, an SSH key over a token.
fn git_auth(args: &RunArgs, file: &ConfigFile) -> anyhow::Result<GitAuth> {
    let auth = &file.source.auth;
    if let Some(key) = args
        .ssh_key_file
        .clone()
        .or_else(|| auth.ssh_key_file.clone().map(PathBuf::from))
    {
        return Ok(GitAuth::SshKey {
            private_key: key,
            passphrase: None,
        });
    }
    let token_env = args.token_env.clone().or(auth.token_env.clone());
    let token_file = args
        .token_file
        .clone()
        .or_else(|| auth.token_file.clone().map(PathBuf::from));
    let token =
        match (&token_env, &token_file) {
            (Some(name), _) => Some(std::env::var(name).with_context(|| {
                format!("source.auth.tokenEnv: environment variable {name} is not set")
            })?),
            (None, Some(path)) => Some(std::fs::read_to_string(path).with_context(|| {
                format!("source.auth.tokenFile: cannot read {}", path.display())
            })?),
            (None, None) => None,
        };
    Ok(match token {
        Some(token) => GitAuth::Token {
            token: Secret::new(token.trim().to_string()),
        },
        None => GitAuth::None,
    })
}

async fn shutdown_on_signal(shutdown: watch::Sender<bool>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(err) => {
                    warn!(error = %err, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    let _ = shutdown.send(true);
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    info!("shutdown requested: finishing the reconcile in progress");
    let _ = shutdown.send(true);
}

/// A local directory (not a git repository): its content hash is the revision.
struct DirManifests {
    path: PathBuf,
}

impl ManifestSource for DirManifests {
    async fn fetch(&mut self) -> Result<Snapshot, String> {
        let files = berth_source::read_path(&self.path).map_err(|e| e.to_string())?;
        Ok(Snapshot {
            revision: berth_source::content_revision(&files),
            files,
        })
    }
}

/// A git branch, read from commit trees (git2 blocks, so it runs on the blocking pool).
struct GitManifests {
    source: GitSource,
    /// Set while a fetch runs on the blocking pool. The daemon abandons a fetch that takes too
    /// long, but its thread goes on until libgit2's I/O timeout; no second fetch starts into the
    /// same cache meanwhile.
    in_flight: Arc<AtomicBool>,
}

/// Clears the in-flight flag when the blocking fetch ends, however it ends.
struct InFlight(Arc<AtomicBool>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl ManifestSource for GitManifests {
    async fn fetch(&mut self) -> Result<Snapshot, String> {
        if self.in_flight.swap(true, Ordering::SeqCst) {
            return Err("the previous fetch is still running: the remote is not answering".into());
        }
        let in_flight = InFlight(Arc::clone(&self.in_flight));
        let source = self.source.clone();
        tokio::task::spawn_blocking(move || {
            let _in_flight = in_flight;
            let commit = source.fetch().map_err(|e| e.to_string())?;
            let files = source.files_at(&commit.sha).map_err(|e| e.to_string())?;
            Ok(Snapshot {
                revision: commit.sha,
                files,
            })
        })
        .await
        .map_err(|e| format!("git task failed: {e}"))?
    }
}

/// `/status` and `/readyz` from the daemon's state.
struct View(Arc<RwLock<DaemonState>>);

impl DaemonView for View {
    fn status(&self) -> serde_json::Value {
        match self.0.try_read() {
            Ok(state) => serde_json::to_value(&*state).unwrap_or_default(),
            Err(_) => serde_json::json!({"busy": "a reconcile is updating the status; try again"}),
        }
    }

    fn readiness(&self) -> Readiness {
        match self.0.try_read() {
            Ok(state) => match state.readiness() {
                Ok(()) => Readiness::Ready,
                Err(reason) => Readiness::NotReady { reason },
            },
            Err(_) => Readiness::Ready,
        }
    }
}

/// Forwards the daemon's measurements to the Prometheus metrics.
struct MetricsTelemetry {
    metrics: Arc<Metrics>,
    counters: berth_aws::ApiCounters,
}

impl Telemetry for MetricsTelemetry {
    fn reconcile(&self, duration: Duration, result: ReconcileResult) {
        self.metrics.observe_reconcile(duration, result);
        self.metrics.set_aws_requests(&self.counters.snapshot());
    }
    fn service_status(&self, id: &ServiceId, status: Status) {
        self.metrics
            .set_service_status(&id.cluster, &id.name, status);
    }
    fn service_removed(&self, id: &ServiceId) {
        self.metrics.remove_service(&id.cluster, &id.name);
    }
    fn drift(&self, id: &ServiceId) {
        self.metrics.inc_drift(&id.cluster, &id.name);
    }
    fn git_fetch(&self, duration: Duration) {
        self.metrics.observe_git_fetch(duration);
    }
    fn revision(&self, revision: &str) {
        self.metrics.set_revision(revision);
    }
    fn apply_action(&self, action: ApplyAction) {
        self.metrics.inc_apply_action(action);
    }
    fn aws_requests(&self, counts: &BTreeMap<(String, String), u64>) {
        self.metrics.set_aws_requests(counts);
    }
}
