//! The daemon: reconcile git to ECS in a loop — on every new revision, on webhook or manual
//! triggers, and every `interval` regardless (drift). One failing, slow or invalid service never
//! holds the others back; a service that keeps failing backs off; nothing is pruned unless every
//! rule allows it.
//!
//! The loop only decides *when*; [`Reconciler::reconcile`] decides *what*, and returns when it
//! wants to run again (a rollout in flight wants a quick look; otherwise the interval).

mod backoff;
mod reconcile;
mod state;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use berth_core::manifest::{SourceFile, Vars};
use tokio::sync::{RwLock, mpsc, watch};
use tracing::{info, warn};

pub use backoff::Backoff;
/// The daemon reports in berth-core's vocabulary; re-exported so call sites name one module.
pub use berth_core::vocabulary::{ApplyAction, ReconcileResult, Status, Trigger};
pub use reconcile::{Reconciler, Requeue};
pub use state::{DaemonState, InvalidFile, NoTelemetry, ServiceState, Telemetry};

/// The manifests at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Git commit sha, or a content hash for a local directory.
    pub revision: String,
    /// The manifest files at that revision.
    pub files: Vec<SourceFile>,
}

/// Where the daemon gets manifests: git, or a watched directory.
pub trait ManifestSource: Send {
    /// Reads the current revision. An error keeps the daemon on its last good snapshot.
    fn fetch(&mut self) -> impl Future<Output = Result<Snapshot, String>> + Send;
}

/// How the daemon behaves (docs/cli.md, `berth run`, `reconcile:`).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Full reconcile at least this often, even without a new revision (drift detection).
    pub interval: Duration,
    /// Fetch the source this often.
    pub poll_interval: Duration,
    /// Services applied at once.
    pub concurrency: usize,
    /// Delete services this source owns that git no longer has.
    pub prune: bool,
    /// At most this many prunes in one reconcile.
    pub max_prune: usize,
    /// Revert drift (on) or only report it (off).
    pub self_heal: bool,
    /// A rollout still going after this long is reported Progressing and left alone.
    pub progress_deadline: Duration,
    /// How soon to look again while a rollout is in flight.
    pub rollout_poll: Duration,
    /// Variables for `${NAME}`.
    pub vars: Vars,
    /// This source's id in `berth:source` tags (`git:host/path@branch[:sub-path]` or
    /// `dir:/path`, credential-free; docs/operations.md, "Ownership tags").
    pub repository: String,
    /// What berth 0.1 wrote in `berth:source` for this same source (the URL as configured):
    /// services tagged so are still this source's.
    pub legacy_repository: Option<String>,
    /// Per-service retry backoff for services that keep failing.
    pub backoff: Backoff,
    /// `/readyz` turns not-ready when the source could not be read for longer than this.
    pub staleness: Duration,
    /// Retry delays after a failed fetch (capped by `poll_interval`): a blip is retried soon,
    /// an outage is not hammered.
    pub fetch_backoff: Backoff,
    /// A fetch that has not finished after this long is abandoned and counts as failed, so a
    /// remote that accepts and never answers cannot stall the loop.
    pub fetch_timeout: Duration,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            interval: Duration::from_secs(300),
            poll_interval: Duration::from_secs(60),
            concurrency: 8,
            prune: false,
            max_prune: 1,
            self_heal: true,
            progress_deadline: Duration::from_secs(600),
            rollout_poll: Duration::from_secs(5),
            vars: Vars::new(),
            repository: String::new(),
            legacy_repository: None,
            backoff: Backoff::default(),
            staleness: Duration::from_secs(600),
            fetch_backoff: Backoff {
                min: Duration::from_secs(1),
                max: Duration::from_secs(60),
            },
            fetch_timeout: Duration::from_secs(120),
        }
    }
}

/// Runs the daemon until `shutdown` turns true: fetch, reconcile, wait for the next reason.
///
/// On shutdown it stops starting new work; the reconcile in progress (and its in-flight API
/// calls) finishes first.
pub async fn run<S, E, R>(
    mut source: S,
    reconciler: &mut Reconciler<E, R>,
    mut triggers: mpsc::Receiver<Trigger>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: ManifestSource,
    E: crate::ports::EcsWrite,
    R: crate::ports::ImageRegistry,
{
    let state: Arc<RwLock<DaemonState>> = reconciler.state();
    let options = reconciler.options().clone();
    let mut last_good: Option<Snapshot> = None;
    let mut next_full = tokio::time::Instant::now();
    let mut requeue: Option<tokio::time::Instant> = None;
    let mut forced = false;
    let mut triggers_open = true;
    let mut fetch_failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let fetched = {
            let started = tokio::time::Instant::now();
            state.write().await.fetch_started();
            let result = tokio::select! {
                result = tokio::time::timeout(options.fetch_timeout, source.fetch()) => result
                    .unwrap_or_else(|_| Err(format!(
                        "fetch did not finish within {}s; abandoned",
                        options.fetch_timeout.as_secs()
                    ))),
                // Shutdown does not wait for a fetch: nothing has changed yet.
                _ = shutdown.changed() => break,
            };
            reconciler.telemetry().git_fetch(started.elapsed());
            result
        };
        let mut changed = false;
        match fetched {
            Ok(snapshot) => {
                changed = last_good
                    .as_ref()
                    .is_none_or(|last| last.revision != snapshot.revision);
                state.write().await.fetched_ok(&snapshot.revision);
                last_good = Some(snapshot);
                fetch_failures = 0;
            }
            Err(error) => {
                fetch_failures = fetch_failures.saturating_add(1);
                warn!(%error, failures = fetch_failures, "source fetch failed; keeping the last good revision");
                state.write().await.fetch_failed(error);
            }
        }
        let now = tokio::time::Instant::now();
        let due = forced || changed || now >= next_full || requeue.is_some_and(|at| now >= at);
        forced = false;
        if due && let Some(snapshot) = &last_good {
            // `interval` is the period between starts, whatever a reconcile takes.
            let started = tokio::time::Instant::now();
            let outcome = reconciler.reconcile(snapshot).await;
            next_full = started + options.interval;
            requeue = match outcome {
                Requeue::After(delay) => Some(tokio::time::Instant::now() + delay),
                Requeue::Interval => None,
            };
        }
        if *shutdown.borrow() {
            break;
        }

        // Wait for the next reason to look again.
        let next_fetch = if fetch_failures > 0 {
            options
                .fetch_backoff
                .delay(fetch_failures)
                .min(options.poll_interval)
        } else {
            options.poll_interval
        };
        let mut wake = tokio::time::Instant::now() + next_fetch;
        // A full reconcile or a requeue is a reason to wake only once there is a revision to
        // reconcile; before the first good fetch, only the fetch backoff sets the pace.
        if last_good.is_some() {
            wake = wake.min(next_full);
            if let Some(at) = requeue {
                wake = wake.min(at);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            trigger = triggers.recv(), if triggers_open => match trigger {
                Some(trigger) => {
                    info!(?trigger, "reconcile requested");
                    forced = true;
                    let mut retry = trigger.retries_failed();
                    // A burst of triggers is one reconcile.
                    while let Ok(more) = triggers.try_recv() {
                        retry |= more.retries_failed();
                    }
                    if retry {
                        // A request or a manifest edit retries failed services now (docs/operations.md, "When a rollout fails").
                        reconciler.clear_backoff();
                    }
                }
                None => triggers_open = false,
            },
            _ = shutdown.changed() => {}
        }
    }
    info!("shutting down: no reconcile in progress");
}
