//! What the daemon knows and reports: per-service status for `/status`, readiness for
//! `/readyz`, and the [`Telemetry`] hooks metrics are fed through.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_core::manifest::ServiceId;
use berth_core::vocabulary::{ApplyAction, ReconcileResult, Status};
use serde::Serialize;

/// What `/status` shows for one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceState {
    /// Current status.
    pub status: Status,
    /// Manifest file and line.
    pub manifest: Option<String>,
    /// The task definition ARN berth wants running (when known).
    pub desired_task_definition: Option<String>,
    /// The task definition ARN ECS runs.
    pub live_task_definition: Option<String>,
    /// The PRIMARY deployment's state, when a rollout is being followed.
    pub rollout: Option<String>,
    /// The last error, and what to do.
    pub last_error: Option<String>,
    /// When berth will try again after a failure (seconds from the last reconcile).
    pub next_retry_seconds: Option<u64>,
    /// Differences berth found and left alone (drift with self-heal off, suspended services).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_changes: Vec<String>,
    /// What the service waits for, when it is not Synced and berth is holding back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
}

/// Why berth is not changing a service now (`/status` `services.<id>.waiting`, the status
/// page): the first reason that applies, in this order of precedence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Waiting {
    /// `reconcile.suspend`, the cluster's entry in `reconcile.suspendClusters`, or the
    /// manifest's `metadata.suspend`.
    Suspended {
        /// `global`, `cluster`, or `service`.
        scope: SuspendScope,
    },
    /// A freeze window (`reconcile.windows`) holds changes.
    Window {
        /// The window's name.
        window: String,
        /// When changes may go out (RFC 3339, UTC), if a window will allow them.
        until: Option<String>,
    },
    /// A service it `dependsOn` has not converged yet.
    DependsOn {
        /// `cluster/name` of that service.
        service: String,
    },
    /// Its last attempt failed; berth retries after a backoff.
    Backoff {
        /// Seconds from the last reconcile until the retry.
        retry_in_seconds: u64,
    },
    /// Another source owns the live service (`berth:source` tag).
    Conflict {
        /// The owning source, as its tag says.
        owner: String,
    },
}

impl Waiting {
    /// The one sentence for what the service waits for (the status page, prune's notes).
    pub fn describe(&self) -> String {
        match self {
            Waiting::Suspended { scope } => format!("suspended ({})", scope.setting()),
            Waiting::Window {
                window,
                until: Some(until),
            } => format!("held by window {window} until {until}"),
            Waiting::Window {
                window,
                until: None,
            } => format!("held by window {window}"),
            Waiting::DependsOn { service } => {
                format!("waits for {service} (dependsOn) to converge")
            }
            Waiting::Backoff { retry_in_seconds } => {
                format!("backing off after a failure; retries in {retry_in_seconds}s")
            }
            Waiting::Conflict { owner } => {
                format!("owned by another source ({owner}); berth leaves it alone")
            }
        }
    }
}

/// Where a suspension comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SuspendScope {
    /// `reconcile.suspend: true`: every service.
    Global,
    /// The service's cluster is in `reconcile.suspendClusters`.
    Cluster,
    /// The manifest's `metadata.suspend: true`.
    Service,
}

impl SuspendScope {
    /// The setting that suspends.
    pub const fn setting(self) -> &'static str {
        match self {
            SuspendScope::Global => "reconcile.suspend",
            SuspendScope::Cluster => "reconcile.suspendClusters",
            SuspendScope::Service => "metadata.suspend",
        }
    }
}

/// One line of a service's reconcile history, kept in memory (the last
/// [`HISTORY_LEN`](crate::defaults::HISTORY_LEN)) for the status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// When (Unix seconds, wall clock).
    pub at_unix: u64,
    /// The revision berth was serving.
    pub revision: String,
    /// The status the service changed to.
    pub status: Status,
    /// Why, when not Synced.
    pub message: Option<String>,
}

/// What the status page shows of one service beyond `/status`: its ECS events and its history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDetail {
    /// ECS's newest events (most recent first, at most
    /// [`EVENTS_KEPT`](crate::defaults::EVENTS_KEPT)).
    pub events: Vec<berth_core::live::ServiceEvent>,
    /// Status changes, oldest first (at most [`HISTORY_LEN`](crate::defaults::HISTORY_LEN)).
    pub history: std::collections::VecDeque<HistoryEntry>,
}

/// The result of the last reconcile.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileSummary {
    /// The revision reconciled.
    pub revision: String,
    /// `error` when some service failed or was invalid, or ECS could not be read.
    pub result: ReconcileResult,
    /// How long it took.
    pub duration_seconds: f64,
    /// When it finished (Unix seconds, wall clock).
    pub finished_unix: u64,
    /// Services per status, keyed by [`Status::as_str`] (so the JSON lists them by name).
    pub counts: BTreeMap<&'static str, usize>,
    /// Mutating calls made.
    pub actions: usize,
    /// Why the live state could not be read, if it could not.
    pub error: Option<String>,
    /// Why prune did nothing (or what it refused), if anything.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prune: Vec<String>,
}

/// A manifest file that does not parse at the current revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidFile {
    /// Its path relative to the manifest root.
    pub file: String,
    /// Why, as `file:line:col: message`.
    pub error: String,
}

/// A target's lease as this replica last saw it (`/status`, `targets.<name>.lease`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseState {
    /// The replica that holds it (`None`: nobody, or the table could not be read).
    pub holder: Option<String>,
    /// Whether that is this replica (which then reconciles the target).
    pub mine: bool,
}

/// Everything the daemon reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonState {
    /// The revision of the last good fetch.
    pub revision: Option<String>,
    /// When this daemon first fetched that revision (Unix seconds, wall clock): the status
    /// page shows its age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_seen_unix: Option<u64>,
    /// The last fetch error, if the last fetch failed.
    pub source_error: Option<String>,
    /// How long since the source was last read successfully (seconds), set at each fetch.
    pub source_stale_seconds: Option<u64>,
    /// How long the fetch under way has been running (seconds), while one is.
    #[serde(
        rename = "fetchInProgressSeconds",
        serialize_with = "seconds_since",
        skip_serializing_if = "Option::is_none"
    )]
    pub fetching_since: Option<tokio::time::Instant>,
    /// The last reconcile.
    pub last_reconcile: Option<ReconcileSummary>,
    /// Per service.
    pub services: BTreeMap<String, ServiceState>,
    /// Files that do not parse (their services, when known from an earlier revision, are
    /// listed under `services` as Invalid).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid_files: Vec<InvalidFile>,
    /// With `lease.table`: who holds this target's lease, and whether it is this replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseState>,
    /// Per service (keyed as `services`): ECS events and history, for the status page; not in
    /// `/status`, which stays one line per service.
    #[serde(skip)]
    pub details: BTreeMap<String, ServiceDetail>,
    #[serde(skip)]
    last_fetch_ok: Option<tokio::time::Instant>,
    /// When a reconcile last read ECS successfully.
    #[serde(skip)]
    last_read_ok: Option<tokio::time::Instant>,
    #[serde(skip)]
    staleness: Option<Duration>,
}

impl DaemonState {
    /// A state whose readiness turns false after `staleness` without a good fetch.
    pub fn new(staleness: Duration) -> Self {
        DaemonState {
            staleness: Some(staleness),
            ..DaemonState::default()
        }
    }

    pub(crate) fn fetch_started(&mut self) {
        self.fetching_since = Some(tokio::time::Instant::now());
    }

    pub(crate) fn fetched_ok(&mut self, revision: &str) {
        self.fetching_since = None;
        if self.revision.as_deref() != Some(revision) {
            self.revision_seen_unix = Some(unix_now());
        }
        self.revision = Some(revision.to_string());
        self.source_error = None;
        self.last_fetch_ok = Some(tokio::time::Instant::now());
        self.source_stale_seconds = Some(0);
    }

    pub(crate) fn fetch_failed(&mut self, error: String) {
        self.fetching_since = None;
        self.source_error = Some(error);
        self.source_stale_seconds = self.last_fetch_ok.map(|at| at.elapsed().as_secs());
    }

    /// Records a finished reconcile; one that read ECS renews readiness.
    pub(crate) fn reconciled(&mut self, mut summary: ReconcileSummary) {
        summary.finished_unix = unix_now();
        if summary.error.is_none() {
            self.last_read_ok = Some(tokio::time::Instant::now());
        }
        self.last_reconcile = Some(summary);
    }

    /// Ready after the first reconcile, while the source has been readable and reconciles have
    /// read ECS within the staleness limit; otherwise why not.
    pub fn readiness(&self) -> Result<(), String> {
        if self.lease.as_ref().is_some_and(|lease| !lease.mine) {
            // Another replica reconciles this target; its own /readyz speaks for it.
            return Ok(());
        }
        let Some(last) = &self.last_reconcile else {
            return Err("no reconcile has completed yet".into());
        };
        let limit = self.staleness.unwrap_or(Duration::MAX);
        let since = |at: Option<tokio::time::Instant>| at.map_or(Duration::MAX, |at| at.elapsed());
        if let Some(error) = &self.source_error
            && since(self.last_fetch_ok) > limit
        {
            return Err(format!(
                "source unreadable for {} (limit {}s): {error}",
                seconds_text(since(self.last_fetch_ok)),
                limit.as_secs()
            ));
        }
        if let Some(error) = &last.error
            && since(self.last_read_ok) > limit
        {
            return Err(format!(
                "reconciles cannot read ECS for {} (limit {}s): {error}",
                seconds_text(since(self.last_read_ok)),
                limit.as_secs()
            ));
        }
        Ok(())
    }

    /// The status of `id`, if known.
    pub fn service(&self, id: &ServiceId) -> Option<&ServiceState> {
        self.services.get(&id.to_string())
    }
}

/// The wall clock as Unix seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `12s`, or `ever` for a duration that never started.
fn seconds_text(duration: Duration) -> String {
    if duration == Duration::MAX {
        "ever".into()
    } else {
        format!("{}s", duration.as_secs())
    }
}

/// Serializes a start instant as the whole seconds elapsed since.
fn seconds_since<S: serde::Serializer>(
    since: &Option<tokio::time::Instant>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match since {
        Some(at) => serializer.serialize_u64(at.elapsed().as_secs()),
        None => serializer.serialize_none(),
    }
}

/// Where the daemon reports measurements (`berth_server::MetricsTelemetry` turns them into
/// Prometheus metrics).
pub trait Telemetry: Send + Sync {
    /// A reconcile finished.
    fn reconcile(&self, duration: Duration, result: ReconcileResult);
    /// A service's current status.
    fn service_status(&self, id: &ServiceId, status: Status);
    /// A service is gone from git and ECS; forget its series.
    fn service_removed(&self, id: &ServiceId);
    /// Drift was found on a service.
    fn drift(&self, id: &ServiceId);
    /// A source fetch took this long.
    fn git_fetch(&self, duration: Duration);
    /// The revision being served.
    fn revision(&self, revision: &str);
    /// A change was made to ECS.
    fn apply_action(&self, action: ApplyAction);
    /// Cumulative AWS requests by (operation, outcome).
    fn aws_requests(&self, counts: &BTreeMap<(String, String), u64>);
}

/// Telemetry that goes nowhere (tests, CLI).
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {
    fn reconcile(&self, _: Duration, _: ReconcileResult) {}
    fn service_status(&self, _: &ServiceId, _: Status) {}
    fn service_removed(&self, _: &ServiceId) {}
    fn drift(&self, _: &ServiceId) {}
    fn git_fetch(&self, _: Duration) {}
    fn revision(&self, _: &str) {}
    fn apply_action(&self, _: ApplyAction) {}
    fn aws_requests(&self, _: &BTreeMap<(String, String), u64>) {}
}
