//! `berth run`: the daemon. Wires the source (git or a watched directory), the AWS adapter,
//! the reconciler and the HTTP server, and runs until SIGTERM/SIGINT. What each setting is comes
//! from [`Settings`]; what each part does lives in its library.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use berth_core::vocabulary::Trigger;
use berth_engine::daemon::{self, Reconciler};
use berth_engine::defaults::SHUTDOWN_GRACE;
use berth_engine::lease::{LeaseKeeper, LeasedEcs, TargetState, Validity};
use berth_server::{DaemonView, Metrics, MetricsTelemetry, TargetEntry, TargetsView};
use berth_source::{DirManifests, GitManifests, GitSource};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::cli::RunArgs;
use crate::settings::{Settings, Source};

/// How long the HTTP server may take to close its connections after the daemon stopped.
const SERVER_STOP_GRACE: Duration = Duration::from_secs(10);

/// How long giving the leases up may take at exit (after the daemon's own grace, within ECS's
/// `stopTimeout`).
const LEASE_RELEASE_GRACE: Duration = Duration::from_secs(5);

/// How long the runtime waits at exit for blocking work: a fetch abandoned at shutdown may block
/// a thread until libgit2's I/O timeout, and nothing depends on it.
const RUNTIME_STOP_GRACE: Duration = Duration::from_millis(100);

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(args)?;
    let runtime = super::runtime()?;
    let code = runtime.block_on(serve(settings));
    runtime.shutdown_timeout(RUNTIME_STOP_GRACE);
    code
}

/// The reconcilers of a daemon, one per target; each writes through its target's lease.
type Reconcilers = Vec<Reconciler<LeasedEcs<Arc<berth_aws::Aws>>, Arc<berth_aws::Aws>>>;

/// The lease keeper of a daemon with `lease.table`.
type Keeper = LeaseKeeper<berth_aws::DynamoLeases>;

/// What [`reconcilers`] builds.
struct Daemon {
    reconcilers: Reconcilers,
    view: Arc<dyn DaemonView>,
    /// With `lease.table`: the keeper and the targets' states it reports to.
    leases: Option<(Keeper, Vec<TargetState>)>,
}

/// One reconciler per target, each with its own AWS clients (its region and role), its
/// metrics under its `target` label and, with `lease.table`, writing only while this replica
/// holds the target's lease; and the `/status` view over them. Without `targets:`, `/status`
/// keeps its one-target shape.
async fn reconcilers(settings: &Settings, metrics: &Arc<Metrics>) -> Daemon {
    let targets = settings.per_target();
    let keeper = match &settings.lease {
        Some(lease) => {
            let base = berth_aws::connect(&settings.aws).await;
            let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
            let store = berth_aws::DynamoLeases::new(&base, lease.table.clone());
            info!(replica = %lease.options.replica, table = %lease.table, "sharing targets through leases");
            Some(LeaseKeeper::new(store, lease.options.clone(), &names))
        }
        None => None,
    };
    let mut reconcilers = Vec::new();
    let mut entries = Vec::new();
    for target in targets {
        let aws = Arc::new(berth_aws::connect(&target.aws).await);
        let counters = aws.counters().clone();
        let telemetry =
            MetricsTelemetry::new(Arc::clone(metrics), target.name.clone(), move || {
                counters.snapshot()
            });
        let validity = keeper
            .as_ref()
            .map_or_else(Validity::always, |keeper| keeper.validity(&target.name));
        let ecs = LeasedEcs::new(Arc::clone(&aws), target.name.clone(), validity.clone());
        let mut reconciler = Reconciler::new(ecs, aws, target.daemon, Arc::new(telemetry));
        reconciler.lease_on(validity);
        entries.push(TargetEntry {
            name: target.name,
            region: target.region.unwrap_or_default(),
            state: reconciler.state(),
        });
        reconcilers.push(reconciler);
    }
    let states = entries
        .iter()
        .map(|entry| (entry.name.clone(), Arc::clone(&entry.state)))
        .collect();
    let view: Arc<dyn DaemonView> = match (&settings.targets, entries.as_slice()) {
        (None, [only]) => only.state.clone(),
        _ => Arc::new(TargetsView::new(entries)),
    };
    Daemon {
        reconcilers,
        view,
        leases: keeper.map(|keeper| (keeper, states)),
    }
}

/// Runs the daemon and its HTTP server until a shutdown signal.
async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let (trigger_tx, trigger_rx) = mpsc::channel::<Trigger>(1);
    let metrics = Arc::new(Metrics::new()?);
    let Daemon {
        mut reconcilers,
        view,
        leases,
    } = reconcilers(&settings, &metrics).await;
    let Settings {
        source,
        url,
        daemon: options,
        server: server_config,
        notifications,
        ..
    } = settings;

    // HTTP: the server reads the daemon's state and sends its triggers straight to the daemon.
    let router = berth_server::router(view, metrics.clone(), trigger_tx.clone(), &server_config);
    let listener = berth_server::bind(server_config.listen).await?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut server_shutdown = shutdown_rx.clone();
    let stopped = async move {
        let _ = server_shutdown.changed().await;
    };
    let server = tokio::spawn(berth_server::serve_on(
        listener,
        router,
        server_config.limits,
        stopped,
    ));
    tokio::spawn(shutdown_on_signal(shutdown_tx));
    if let Some(config) = notifications {
        notify(config, &mut reconcilers, &metrics, shutdown_rx.clone())?;
    }
    let keeper = leases.map(|(keeper, states)| {
        let (triggers, shutdown) = (trigger_tx.clone(), shutdown_rx.clone());
        tokio::spawn(async move {
            berth_engine::lease::keep(&keeper, &states, triggers, shutdown).await;
            keeper
        })
    });
    info!(
        listen = %server_config.listen,
        source = %berth_source::git::redact_url(&url),
        source_id = %options.repository,
        "berth running"
    );

    match source {
        Source::Directory(path) => {
            let source = DirManifests::new(path);
            let watcher = source.watch(trigger_tx)?;
            let daemon = daemon::run(source, &mut reconcilers, trigger_rx, shutdown_rx.clone());
            within_grace(daemon, shutdown_rx).await;
            watcher.abort();
        }
        Source::Git(config) => {
            let source = tokio::task::spawn_blocking(move || GitSource::open(config)).await??;
            let source = GitManifests::new(source);
            let daemon = daemon::run(source, &mut reconcilers, trigger_rx, shutdown_rx.clone());
            within_grace(daemon, shutdown_rx).await;
        }
    }
    // Only now that nothing more is written: the other replicas take the targets at once.
    if let Some(task) = keeper {
        release_leases(task).await;
    }
    match tokio::time::timeout(SERVER_STOP_GRACE, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(err))) => warn!(error = %err, "HTTP server stopped with an error"),
        Ok(Err(err)) => warn!(error = %err, "HTTP server task failed"),
        Err(_) => warn!("HTTP server did not stop within {SERVER_STOP_GRACE:?}"),
    }
    info!("berth stopped");
    Ok(ExitCode::SUCCESS)
}

/// Starts the notifier of `notifications:` and hands it to every reconciler; its counts are
/// `berth_notifications_total`. It stops at shutdown, dropping what is still queued.
fn notify(
    config: berth_notify::NotifierConfig,
    reconcilers: &mut Reconcilers,
    metrics: &Metrics,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (notifier, _worker) = berth_notify::Notifier::start(config, shutdown)?;
    for reconciler in reconcilers {
        reconciler.notify_on(notifier.clone());
    }
    metrics.count_notifications(move || notifier.counts().by_outcome());
    Ok(())
}

/// Gives up the leases once the keeper has stopped, within [`LEASE_RELEASE_GRACE`].
async fn release_leases(keeper: tokio::task::JoinHandle<Keeper>) {
    let release = async move {
        if let Ok(keeper) = keeper.await {
            keeper.release_all().await;
        }
    };
    if tokio::time::timeout(LEASE_RELEASE_GRACE, release)
        .await
        .is_err()
    {
        warn!("leases not released in time; the other replicas take them when they run out");
    }
}

/// Runs `daemon` until it returns, or until [`SHUTDOWN_GRACE`] after shutdown was asked for:
/// ECS kills the task at its `stopTimeout`, so a call that hangs must not keep berth from
/// exiting cleanly. A service cut short then is converged by the next run (its tags tell it).
async fn within_grace(daemon: impl Future<Output = ()>, mut shutdown: watch::Receiver<bool>) {
    let deadline = async move {
        if shutdown.wait_for(|stop| *stop).await.is_err() {
            // No one can ask for shutdown any more: no deadline.
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        () = daemon => {}
        () = deadline => warn!(
            grace_seconds = SHUTDOWN_GRACE.as_secs(),
            "calls still in flight after the shutdown grace; exiting anyway (the next run converges)"
        ),
    }
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
    info!("shutdown requested: finishing the calls in flight, starting nothing new");
    let _ = shutdown.send(true);
}
