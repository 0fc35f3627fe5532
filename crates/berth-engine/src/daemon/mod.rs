//! The daemon: reconcile git to ECS in a loop — on every new revision, on webhook or manual
//! triggers, and every `interval` regardless (drift). One failing, slow or invalid service never
//! holds the others back; a service that keeps failing backs off; nothing is pruned unless every
//! rule allows it.
//!
//! The loop only decides *when*; [`Reconciler::reconcile`] decides *what*, and returns when it
//! wants to run again (a rollout in flight wants a quick look; otherwise the interval).

mod backoff;
mod decide;
mod hold;
mod notice;
mod reconcile;
mod report;
mod state;

use std::future::Future;
use std::time::Duration;

use berth_core::manifest::{ServiceId, SourceFile, Vars};
use berth_core::target::Targets;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

pub use backoff::Backoff;
/// The daemon reports in berth-core's vocabulary; re-exported so call sites name one module.
pub use berth_core::vocabulary::{ApplyAction, ReconcileResult, Status, Trigger};
pub use hold::{Held, Holds, WallClock, WindowError, WindowKind, WindowSpec, Windows};
pub use notice::{NoNotify, Notice, Notify};
pub use reconcile::{Reconciler, Requeue};
pub use state::{
    DaemonState, HistoryEntry, InvalidFile, LeaseState, NoTelemetry, ServiceDetail, ServiceState,
    SuspendScope, Telemetry, Waiting,
};

/// The manifests at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Git commit sha, or a content hash for a local directory.
    pub revision: String,
    /// The manifest files at that revision.
    pub files: Vec<SourceFile>,
}

/// Where the daemon gets manifests: git, or a watched directory (`berth_source::GitManifests`,
/// `berth_source::DirManifests`).
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
    /// berth's own service (`reconcile.selfService`): never pruned, and changed only after
    /// every other service of a reconcile (docs/operations.md, "Upgrading berth").
    pub own_service: Option<ServiceId>,
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
    /// `targets:` of berth.yaml, to resolve each manifest's target; `None` without targets
    /// (one implicit target, [`crate::defaults::DEFAULT_TARGET`]).
    pub targets: Option<Targets>,
    /// The target this reconciler converges: it reads, applies and prunes only its services.
    /// `None` without targets.
    pub target: Option<String>,
    /// `/readyz` turns not-ready when the source could not be read for longer than this.
    pub staleness: Duration,
    /// Retry delays after a failed fetch (capped by `poll_interval`): a blip is retried soon,
    /// an outage is not hammered.
    pub fetch_backoff: Backoff,
    /// A fetch that has not finished after this long is abandoned and counts as failed, so a
    /// remote that accepts and never answers cannot stall the loop.
    pub fetch_timeout: Duration,
    /// `reconcile.suspend`, `reconcile.suspendClusters` and `reconcile.windows`.
    pub holds: Holds,
    /// The clock windows are read with (the system's, or a fixed start for tests).
    pub wall_clock: WallClock,
    /// `reconcile.keepRevisions`: deregister unused task definition revisions of berth's
    /// families beyond the newest N (`None`: never).
    pub keep_revisions: Option<usize>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            interval: Duration::from_secs(300),
            poll_interval: Duration::from_secs(60),
            concurrency: crate::defaults::CONCURRENCY,
            prune: false,
            own_service: None,
            max_prune: 1,
            self_heal: true,
            progress_deadline: crate::defaults::PROGRESS_DEADLINE,
            rollout_poll: crate::defaults::ROLLOUT_POLL,
            vars: Vars::new(),
            repository: String::new(),
            legacy_repository: None,
            backoff: Backoff::default(),
            targets: None,
            target: None,
            staleness: Duration::from_secs(600),
            fetch_backoff: Backoff {
                min: Duration::from_secs(1),
                max: Duration::from_secs(60),
            },
            fetch_timeout: Duration::from_secs(120),
            holds: Holds::default(),
            wall_clock: WallClock::System,
            keep_revisions: None,
        }
    }
}

/// Runs the daemon until `shutdown` turns true: fetch, reconcile, wait for the next reason.
///
/// `reconcilers` holds one reconciler per target (`targets:` in berth.yaml; one without
/// targets). They share the source: one fetch feeds them all; each keeps its own schedule of
/// full reconciles and rollout polls, and the due ones run at the same time, so a slow or
/// failing target never holds another back. The source-level settings (`poll_interval`,
/// `fetch_timeout`, `fetch_backoff`) are the first reconciler's.
///
/// On shutdown it stops starting new work: a reconcile in progress starts no further service
/// and prunes nothing; the services it already started finish their calls first.
pub async fn run<S, E, R>(
    mut source: S,
    reconcilers: &mut [Reconciler<E, R>],
    mut triggers: mpsc::Receiver<Trigger>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: ManifestSource,
    E: crate::ports::EcsWrite,
    R: crate::ports::ImageRegistry,
{
    let Some(first) = reconcilers.first() else {
        warn!("no target to reconcile; the daemon has nothing to do");
        return;
    };
    let options = first.options().clone();
    let started = Instant::now();
    let mut fetches = FetchSchedule::new(started);
    let mut work: Vec<WorkSchedule> = reconcilers
        .iter()
        .map(|_| WorkSchedule::new(started))
        .collect();
    let mut last_good: Option<Snapshot> = None;
    let mut forced = false;
    let mut triggers_open = true;
    for reconciler in reconcilers.iter_mut() {
        // A reconcile in progress starts no further service once shutdown is asked for.
        reconciler.stop_on(shutdown.clone());
    }
    loop {
        if *shutdown.borrow() {
            break;
        }
        let mut changed = false;
        if forced || fetches.due(Instant::now()) {
            let Some(fetched) = fetch(&mut source, reconcilers, &options, &mut shutdown).await
            else {
                break;
            };
            fetches.fetched(fetched.is_ok(), &options, Instant::now());
            changed = record_fetch(fetched, reconcilers, &mut last_good, fetches.failures).await;
        }
        if let Some(snapshot) = &last_good {
            let due = Due { changed, forced };
            let runs = reconcilers
                .iter_mut()
                .zip(work.iter_mut())
                .map(|(reconciler, work)| work.run_due(reconciler, snapshot, due, &options));
            futures::future::join_all(runs).await;
        }
        forced = false;
        if *shutdown.borrow() {
            break;
        }
        let wake = work.iter().fold(fetches.fetch_at, |wake, work| {
            if last_good.is_some() {
                wake.min(work.wake())
            } else {
                wake
            }
        });
        // Wait for the next reason to look again.
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            trigger = triggers.recv(), if triggers_open => match trigger {
                Some(trigger) => forced = take_triggers(trigger, &mut triggers, reconcilers),
                None => triggers_open = false,
            },
            _ = shutdown.changed() => {}
        }
    }
    info!("shutting down: no reconcile in progress");
}

/// A trigger and any that queued behind it are one reconcile; a request or a manifest edit
/// retries failed services now (docs/operations.md, "When a rollout fails"). Whether they ask
/// for a fetch and a full reconcile ([`Trigger::forces_reconcile`]); a lease taken only wakes
/// the loop, which then starts on the target whose lease is new.
fn take_triggers<E, R>(
    trigger: Trigger,
    triggers: &mut mpsc::Receiver<Trigger>,
    reconcilers: &mut [Reconciler<E, R>],
) -> bool
where
    E: crate::ports::EcsWrite,
    R: crate::ports::ImageRegistry,
{
    info!(?trigger, "reconcile requested");
    let mut retry = trigger.retries_failed();
    let mut forced = trigger.forces_reconcile();
    let mut through_windows = trigger == Trigger::Override;
    while let Ok(more) = triggers.try_recv() {
        retry |= more.retries_failed();
        forced |= more.forces_reconcile();
        through_windows |= more == Trigger::Override;
    }
    for reconciler in reconcilers {
        if retry {
            reconciler.clear_backoff();
        }
        // Only a target this replica reconciles now: an override must not linger until a
        // lease taken hours later.
        if through_windows && reconciler.holds_lease(Instant::now()) {
            reconciler.override_windows_once();
        }
    }
    forced
}

/// Shows a fetch's result in every target's `/status` and keeps a good snapshot; whether it
/// is a new revision.
async fn record_fetch<E, R>(
    fetched: Result<Snapshot, String>,
    reconcilers: &[Reconciler<E, R>],
    last_good: &mut Option<Snapshot>,
    failures: u32,
) -> bool
where
    E: crate::ports::EcsWrite,
    R: crate::ports::ImageRegistry,
{
    match fetched {
        Ok(snapshot) => {
            let changed = last_good
                .as_ref()
                .is_none_or(|last| last.revision != snapshot.revision);
            for reconciler in reconcilers {
                reconciler
                    .state()
                    .write()
                    .await
                    .fetched_ok(&snapshot.revision);
            }
            *last_good = Some(snapshot);
            changed
        }
        Err(error) => {
            warn!(%error, failures, "source fetch failed; keeping the last good revision");
            for reconciler in reconcilers {
                reconciler.state().write().await.fetch_failed(error.clone());
            }
            false
        }
    }
}

/// Fetches the source once, bounded by `fetch_timeout`, and shows it in `/status` meanwhile.
/// `None` when shutdown was asked for during the fetch (which is then abandoned).
async fn fetch<S, E, R>(
    source: &mut S,
    reconcilers: &[Reconciler<E, R>],
    options: &DaemonOptions,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Result<Snapshot, String>>
where
    S: ManifestSource,
    E: crate::ports::EcsWrite,
    R: crate::ports::ImageRegistry,
{
    let started = Instant::now();
    for reconciler in reconcilers {
        reconciler.state().write().await.fetch_started();
    }
    let result = tokio::select! {
        result = tokio::time::timeout(options.fetch_timeout, source.fetch()) => result
            .unwrap_or_else(|_| Err(format!(
                "fetch did not finish within {}s; abandoned",
                options.fetch_timeout.as_secs()
            ))),
        // Shutdown does not wait for a fetch: nothing has changed yet.
        _ = shutdown.changed() => return None,
    };
    if let Some(first) = reconcilers.first() {
        first.telemetry().git_fetch(started.elapsed());
    }
    Some(result)
}

/// When the source is fetched next.
struct FetchSchedule {
    /// The next fetch of the source.
    fetch_at: Instant,
    /// Consecutive failed fetches, for their backoff.
    failures: u32,
}

impl FetchSchedule {
    fn new(now: Instant) -> Self {
        FetchSchedule {
            fetch_at: now,
            failures: 0,
        }
    }

    fn due(&self, now: Instant) -> bool {
        now >= self.fetch_at
    }

    /// After a fetch: the next one in `poll_interval`, or sooner, backing off, after a failure.
    fn fetched(&mut self, ok: bool, options: &DaemonOptions, now: Instant) {
        self.failures = if ok {
            0
        } else {
            self.failures.saturating_add(1)
        };
        let delay = if self.failures > 0 {
            options
                .fetch_backoff
                .delay(self.failures)
                .min(options.poll_interval)
        } else {
            options.poll_interval
        };
        self.fetch_at = now + delay;
    }
}

/// Why work may be due this turn, whatever a target's own schedule says.
#[derive(Debug, Clone, Copy)]
struct Due {
    /// The source has a new revision.
    changed: bool,
    /// A trigger arrived.
    forced: bool,
}

/// When one target is next reconciled in full, or its rollouts in flight looked at.
struct WorkSchedule {
    /// The next full reconcile by `interval`.
    full_at: Instant,
    /// A sooner full reconcile the reconciler asked for (a backoff ends, a prune to confirm).
    requeue_at: Option<Instant>,
    /// The next look at the rollouts in flight only.
    poll_at: Option<Instant>,
    /// Whether the target's lease was held at the last look (always, without leases): a lease
    /// newly taken starts with a full reconcile.
    held: bool,
}

impl WorkSchedule {
    fn new(now: Instant) -> Self {
        WorkSchedule {
            full_at: now,
            requeue_at: None,
            poll_at: None,
            held: true,
        }
    }

    /// Runs a full reconcile or a poll of the rollouts in flight, if one is due.
    async fn run_due<E, R>(
        &mut self,
        reconciler: &mut Reconciler<E, R>,
        snapshot: &Snapshot,
        due: Due,
        options: &DaemonOptions,
    ) where
        E: crate::ports::EcsWrite,
        R: crate::ports::ImageRegistry,
    {
        let now = Instant::now();
        let taken = !self.held;
        self.held = reconciler.holds_lease(now);
        if !self.held {
            // Another replica (or none, for now) reconciles this target; taking its lease
            // wakes the loop (`Trigger::Lease`).
            *self = WorkSchedule {
                full_at: now + options.interval,
                held: false,
                ..WorkSchedule::new(now)
            };
            return;
        }
        if taken || self.full_due(due, now) {
            // `interval` is the period between starts, whatever a reconcile takes.
            let outcome = reconciler.reconcile(snapshot).await;
            self.full_at = now + options.interval;
            self.after(outcome, Instant::now());
        } else if self.poll_due(now) {
            let outcome = reconciler.poll_rollouts().await;
            self.after(outcome, Instant::now());
        }
    }

    fn full_due(&self, due: Due, now: Instant) -> bool {
        due.forced
            || due.changed
            || now >= self.full_at
            || self.requeue_at.is_some_and(|at| now >= at)
    }

    fn poll_due(&self, now: Instant) -> bool {
        self.poll_at.is_some_and(|at| now >= at)
    }

    /// What the reconciler asked for next.
    fn after(&mut self, outcome: Requeue, now: Instant) {
        self.requeue_at = None;
        self.poll_at = None;
        match outcome {
            Requeue::After(delay) => self.requeue_at = Some(now + delay),
            Requeue::Poll(delay) => self.poll_at = Some(now + delay),
            Requeue::Interval => {}
        }
    }

    /// When this target wants to run next (once there is a revision to reconcile).
    fn wake(&self) -> Instant {
        [self.requeue_at, self.poll_at]
            .into_iter()
            .flatten()
            .fold(self.full_at, Instant::min)
    }
}
