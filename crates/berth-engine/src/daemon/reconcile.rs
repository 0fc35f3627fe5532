//! One reconcile: load the snapshot, read ECS, plan, decide per service what to do now (apply,
//! wait for a rollout, back off, report drift), apply without blocking on rollouts, prune under
//! its rules, and say when to look again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use berth_core::diag::Severity;
use berth_core::live::LiveService;
use berth_core::manifest::{LoadOptions, ServiceId, ServiceManifest, load};
use berth_core::plan::{Action, LiveState, Ownership, Plan, ServicePlan, plan};
use berth_core::render::{self, Provenance, tags};
use tokio::sync::RwLock;
use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

use super::state::{InvalidFile, ReconcileSummary, ServiceState};
use super::{
    ApplyAction, DaemonOptions, DaemonState, ReconcileResult, Snapshot, Status, Telemetry,
};
use crate::apply::{
    AppliedAction, ApplyObserver, ApplyOptions, ServiceOutcome, ServiceReport, apply,
};
use crate::ports::{EcsWrite, ImageRegistry};
use crate::read_live;
use crate::rollout::{Quiet, RolloutObserver, RolloutOutcome, RolloutTiming, judge};

/// When the reconciler wants to run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// A full reconcile soon: a service's backoff ends, or a prune waits for its second look.
    After(Duration),
    /// Only the rollouts in flight, after this long ([`Reconciler::poll_rollouts`]): the other
    /// services, and git, are not read again for them.
    Poll(Duration),
    /// Nothing pending: at the next interval (or on change).
    Interval,
}

/// What the reconciler remembers about a service between reconciles (only in memory: after a
/// restart, everything is read again from git and ECS).
#[derive(Debug, Clone, Default)]
struct Memory {
    /// Hash of the manifest content last reconciled.
    hash: u64,
    /// Hash of the manifest when the service was last Synced (drift = change since then).
    synced: Option<u64>,
    /// The rollout berth started: expected task definition, manifest hash, when.
    following: Option<(String, u64, Instant)>,
    /// Consecutive failures of this manifest content.
    failures: u32,
    /// Not before this instant will berth retry this manifest content.
    retry_at: Option<Instant>,
    /// The last error.
    error: Option<String>,
    /// The drift last counted (the fields that differ): the same drift seen again on the next
    /// pass is not counted again.
    drift: Option<Vec<String>>,
}

impl Memory {
    /// The manifest content `hash` runs and its rollout is done: forget failures and drift.
    fn synced(&mut self, hash: u64) {
        self.synced = Some(hash);
        self.following = None;
        self.failures = 0;
        self.retry_at = None;
        self.drift = None;
    }

    /// The rollout of this content failed for `reason`: back off. Returns when to retry.
    fn failed(&mut self, reason: String, now: Instant, backoff: &super::Backoff) -> Instant {
        self.following = None;
        self.failures += 1;
        let retry_at = now + backoff.delay(self.failures);
        self.retry_at = Some(retry_at);
        self.error = Some(reason);
        retry_at
    }
}

/// Why a rollout still going after `progressDeadline` is Failed: the one wording.
fn past_deadline(deadline: Duration) -> String {
    format!(
        "the rollout has not finished within progressDeadline ({}s); ECS is still deploying it: \
         read the service's events, fix the cause in git or revert",
        deadline.as_secs()
    )
}

/// The reconciler: the engine's state between reconciles plus the ports it works through.
pub struct Reconciler<E, R> {
    ecs: E,
    registry: R,
    options: DaemonOptions,
    state: Arc<RwLock<DaemonState>>,
    telemetry: Arc<dyn Telemetry>,
    memory: BTreeMap<ServiceId, Memory>,
    /// The services each manifest file declared when it last loaded: when a file stops parsing,
    /// its services are still known (reported Invalid, never touched) instead of vanishing.
    file_services: FileServices,
    /// Services the last reconcile found owned by this source but absent from git. Prune
    /// deletes only a service absent in two consecutive reconciles, so a file missing for a
    /// moment (a directory being copied, a half-written checkout) never deletes anything.
    prune_pending: BTreeSet<ServiceId>,
}

/// What a reconcile's prune did.
#[derive(Default)]
struct Pruned {
    /// What it refused, and why (also logged), for `lastReconcile.prune`.
    notes: Vec<String>,
    /// Why each candidate it did not delete is still there, by service.
    kept: BTreeMap<ServiceId, String>,
}

impl Pruned {
    /// Nothing pruned, for one reason that holds for every candidate.
    fn refused(candidates: &[&LiveService], why: String) -> Self {
        Pruned {
            kept: candidates
                .iter()
                .map(|s| (s.id.clone(), why.clone()))
                .collect(),
            notes: vec![why],
        }
    }

    /// Keeps `id` for `why`, noted.
    fn keep(&mut self, id: &ServiceId, why: String) {
        self.notes.push(why.clone());
        self.kept.insert(id.clone(), why);
    }
}

/// The services each manifest file declares, by file path.
type FileServices = BTreeMap<Arc<str>, BTreeSet<ServiceId>>;

/// Services whose file does not parse: the file and its error.
type UnparsedServices = BTreeMap<ServiceId, (Arc<str>, String)>;

impl<E: EcsWrite, R: ImageRegistry> Reconciler<E, R> {
    /// A reconciler with nothing in memory.
    pub fn new(ecs: E, registry: R, options: DaemonOptions, telemetry: Arc<dyn Telemetry>) -> Self {
        let state = Arc::new(RwLock::new(DaemonState::new(options.staleness)));
        Reconciler {
            ecs,
            registry,
            options,
            state,
            telemetry,
            memory: BTreeMap::new(),
            file_services: BTreeMap::new(),
            prune_pending: BTreeSet::new(),
        }
    }

    /// The shared state `/status` and `/readyz` read.
    pub fn state(&self) -> Arc<RwLock<DaemonState>> {
        Arc::clone(&self.state)
    }

    /// The options.
    pub fn options(&self) -> &DaemonOptions {
        &self.options
    }

    /// The telemetry sink.
    pub fn telemetry(&self) -> &dyn Telemetry {
        self.telemetry.as_ref()
    }

    /// The ECS port (tests inspect fakes through it).
    pub fn ecs(&self) -> &E {
        &self.ecs
    }

    /// Forgets every backoff: an explicit request to retry failed services now.
    pub fn clear_backoff(&mut self) {
        for memory in self.memory.values_mut() {
            memory.retry_at = None;
        }
    }

    /// Reconciles `snapshot` once.
    pub async fn reconcile(&mut self, snapshot: &Snapshot) -> Requeue {
        let span = info_span!("reconcile", commit = %snapshot.revision);
        self.reconcile_inner(snapshot).instrument(span).await
    }

    async fn reconcile_inner(&mut self, snapshot: &Snapshot) -> Requeue {
        let started = Instant::now();
        self.telemetry.revision(&snapshot.revision);
        let outcome = load(
            &snapshot.files,
            &LoadOptions {
                vars: self.options.vars.clone(),
                ..LoadOptions::default()
            },
        );
        let live = match read_live(
            &self.ecs,
            &self.registry,
            &outcome.services,
            &outcome.invalid,
        )
        .await
        {
            Ok(live) => live,
            Err(err) => return self.unreadable(snapshot, started, &err.to_string()).await,
        };
        let mut ownership = Ownership::new(&self.options.repository);
        if let Some(legacy) = &self.options.legacy_repository {
            ownership = ownership.with_previous_key(legacy);
        }
        let plan = plan(&outcome.services, &outcome.invalid, &live, &ownership);
        let manifests: BTreeMap<&ServiceId, &ServiceManifest> =
            outcome.services.iter().map(|m| (&m.id, m)).collect();
        let now = Instant::now();
        let (file_services, unparsed) = self.remember_files(&outcome);

        let Decided {
            mut statuses,
            to_apply,
            prune_candidates,
        } = self.decide_all(&plan, &manifests, &unparsed, &live, now);
        report_unparsed(&unparsed, &live, &mut statuses);
        self.file_services = file_services;
        let invalid_files = invalid_files(&outcome.invalid);

        let mut actions = self
            .apply_decided(
                snapshot,
                to_apply,
                &outcome.services,
                &live,
                &mut statuses,
                now,
            )
            .await;

        let Pruned { notes: prune, kept } = self
            .prune(&prune_candidates, outcome.is_valid(), &mut actions)
            .await;
        // What prune left standing stays visible, with the reason, until git or prune decides.
        for service in &prune_candidates {
            if let Some(reason) = kept.get(&service.id) {
                statuses.insert(service.id.clone(), unpruned(service, reason));
            }
        }
        self.trim_memory(&live, &statuses).await;
        let summary = ReconcileSummary {
            revision: snapshot.revision.clone(),
            result: ReconcileResult::Ok,
            duration_seconds: 0.0,
            counts: BTreeMap::new(),
            actions,
            error: None,
            prune,
        };
        self.publish(
            summary,
            statuses,
            invalid_files,
            outcome.is_valid(),
            started,
            now,
        )
        .await
    }

    /// Decides every planned service ([`Judge::decide`]); prune candidates are set apart, and
    /// services of files that no longer parse are left to [`report_unparsed`].
    fn decide_all<'l>(
        &mut self,
        plan: &Plan,
        manifests: &BTreeMap<&ServiceId, &ServiceManifest>,
        unparsed: &UnparsedServices,
        live: &'l LiveState,
        now: Instant,
    ) -> Decided<'l> {
        let mut decided = Decided::default();
        for service in &plan.services {
            // A file that did not parse: the services it declared before are reported Invalid;
            // new ones are unknown (and nothing is pruned either way).
            let Some(id) = service.id.as_ref().filter(|id| !unparsed.contains_key(*id)) else {
                continue;
            };
            if matches!(service.action, Action::WouldPrune { .. }) {
                decided
                    .prune_candidates
                    .extend(live.unlisted.iter().find(|s| &s.id == id));
                continue;
            }
            let hash = manifests.get(id).map_or(0, |m| render::spec_hash(m));
            let memory = self.memory.entry(id.clone()).or_default();
            if memory.hash != hash {
                // New manifest content: a fresh start (new commits are never blocked).
                *memory = Memory {
                    hash,
                    synced: memory.synced,
                    ..Memory::default()
                };
            }
            let judge = Judge {
                options: &self.options,
                telemetry: self.telemetry.as_ref(),
                now,
            };
            let (state, apply_it) = judge.decide(service, id, live.services.get(id), memory);
            if apply_it {
                decided.to_apply.push(service.clone());
            }
            decided.statuses.insert(id.clone(), state);
        }
        decided
    }

    /// Applies the services decided for applying, without following rollouts (a rollout is
    /// looked at again by the next poll), and records each outcome. Returns the actions made.
    async fn apply_decided(
        &mut self,
        snapshot: &Snapshot,
        to_apply: Vec<ServicePlan>,
        manifests: &[ServiceManifest],
        live: &LiveState,
        statuses: &mut BTreeMap<ServiceId, ServiceState>,
        now: Instant,
    ) -> usize {
        if to_apply.is_empty() {
            return 0;
        }
        let apply_options = ApplyOptions {
            concurrency: self.options.concurrency,
            rollout: RolloutTiming::default(),
            follow: false,
            provenance: Provenance {
                repository: self.options.repository.clone(),
                revision: Some(snapshot.revision.clone()),
            },
        };
        let sub_plan = Plan { services: to_apply };
        let observer = Actions(self.telemetry.as_ref());
        let reports = apply(
            &self.ecs,
            &sub_plan,
            manifests,
            live,
            &apply_options,
            &observer,
        )
        .await;
        let mut actions = 0;
        for report in reports {
            actions += report.actions.len();
            self.record(report, live, statuses, now);
        }
        actions
    }

    /// ECS could not be read: nothing changed; reported, and tried again after the shortest
    /// backoff.
    async fn unreadable(&mut self, snapshot: &Snapshot, started: Instant, err: &str) -> Requeue {
        error!(error = %err, "cannot read ECS; nothing changed");
        let summary = ReconcileSummary {
            revision: snapshot.revision.clone(),
            result: ReconcileResult::Error,
            duration_seconds: started.elapsed().as_secs_f64(),
            counts: BTreeMap::new(),
            actions: 0,
            error: Some(err.to_string()),
            prune: Vec::new(),
        };
        self.telemetry
            .reconcile(started.elapsed(), ReconcileResult::Error);
        self.state.write().await.reconciled(summary);
        Requeue::After(self.options.backoff.min)
    }

    /// Forgets what no longer matters: revisions no service runs any more are not read again
    /// (the adapter's cache keeps what is live and what berth is rolling out), and services
    /// gone from git leave the per-service memory.
    async fn trim_memory(
        &mut self,
        live: &LiveState,
        statuses: &BTreeMap<ServiceId, ServiceState>,
    ) {
        let keep: BTreeSet<String> = live
            .task_definitions
            .keys()
            .cloned()
            .chain(statuses.values().flat_map(|s| {
                [
                    s.desired_task_definition.clone(),
                    s.live_task_definition.clone(),
                ]
                .into_iter()
                .flatten()
            }))
            .collect();
        self.ecs.retain_task_definitions(&keep).await;
        self.memory.retain(|id, _| statuses.contains_key(id));
    }

    /// Reports a finished reconcile: counts per status, the `reconcile finished` line,
    /// telemetry, and `/status` (services, invalid files, the summary). Returns what next.
    async fn publish(
        &mut self,
        mut summary: ReconcileSummary,
        statuses: BTreeMap<ServiceId, ServiceState>,
        invalid_files: Vec<InvalidFile>,
        manifests_valid: bool,
        started: Instant,
        now: Instant,
    ) -> Requeue {
        for (id, state) in &statuses {
            *summary.counts.entry(state.status.as_str()).or_default() += 1;
            self.telemetry.service_status(id, state.status);
        }
        let failed = statuses
            .values()
            .any(|s| matches!(s.status, Status::Failed | Status::Invalid));
        if failed || !manifests_valid {
            summary.result = ReconcileResult::Error;
        }
        let duration = started.elapsed();
        summary.duration_seconds = duration.as_secs_f64();
        let count = |status: Status| summary.counts.get(status.as_str()).copied().unwrap_or(0);
        info!(
            revision = %summary.revision,
            synced = count(Status::Synced),
            progressing = count(Status::Progressing),
            out_of_sync = count(Status::OutOfSync),
            failed = count(Status::Failed),
            invalid = count(Status::Invalid),
            suspended = count(Status::Suspended),
            actions = summary.actions,
            duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            "reconcile finished"
        );
        self.telemetry.reconcile(duration, summary.result);

        let requeue = self.requeue(&statuses, now);
        let mut state = self.state.write().await;
        state.services = statuses
            .into_iter()
            .map(|(id, service)| (id.to_string(), service))
            .collect();
        state.invalid_files = invalid_files;
        state.reconciled(summary);
        requeue
    }

    /// Works out which services each file declares now, and returns that map (to keep once
    /// this reconcile is done) with the services of files that no longer parse. A file that does
    /// not parse keeps the services it declared when it last did.
    fn remember_files(
        &self,
        outcome: &berth_core::manifest::LoadOutcome,
    ) -> (FileServices, UnparsedServices) {
        let mut files = FileServices::new();
        for manifest in &outcome.services {
            files
                .entry(Arc::clone(&manifest.origin.file))
                .or_default()
                .insert(manifest.id.clone());
        }
        let mut unparsed = BTreeMap::new();
        for invalid in &outcome.invalid {
            match &invalid.id {
                Some(id) => {
                    files
                        .entry(Arc::clone(&invalid.origin.file))
                        .or_default()
                        .insert(id.clone());
                }
                None => {
                    let known = self
                        .file_services
                        .get(&invalid.origin.file)
                        .cloned()
                        .unwrap_or_default();
                    let error = error_text(&invalid.diagnostics);
                    for id in &known {
                        unparsed.insert(
                            id.clone(),
                            (Arc::clone(&invalid.origin.file), error.clone()),
                        );
                    }
                    files.insert(Arc::clone(&invalid.origin.file), known);
                }
            }
        }
        // A service that moved to a file that parses is not lost.
        let declared: BTreeSet<&ServiceId> = outcome
            .services
            .iter()
            .map(|m| &m.id)
            .chain(outcome.invalid.iter().filter_map(|i| i.id.as_ref()))
            .collect();
        unparsed.retain(|id, _| !declared.contains(id));
        (files, unparsed)
    }

    /// Records what apply did to one service.
    fn record(
        &mut self,
        report: ServiceReport,
        live: &LiveState,
        statuses: &mut BTreeMap<ServiceId, ServiceState>,
        now: Instant,
    ) {
        let Some(id) = report.id.clone() else { return };
        let memory = self.memory.entry(id.clone()).or_default();
        let state = statuses
            .entry(id.clone())
            .or_insert_with(|| observed(Status::Synced, None));
        match report.outcome {
            ServiceOutcome::Synced | ServiceOutcome::Progressing { .. } => {
                let expected = report
                    .actions
                    .iter()
                    .find_map(|a| match a {
                        AppliedAction::RegisteredTaskDefinition { arn }
                        | AppliedAction::ReusedTaskDefinition { arn } => Some(arn.clone()),
                        _ => None,
                    })
                    .or_else(|| {
                        live.services
                            .get(&id)
                            .map(|s| s.task_definition_arn.clone())
                    });
                if let Some(expected) = expected {
                    // ECS's service names the new revision as soon as UpdateService returns.
                    state.desired_task_definition = Some(expected.clone());
                    state.live_task_definition = Some(expected.clone());
                    memory.following = Some((expected, memory.hash, now));
                }
                state.status = Status::Progressing;
            }
            ServiceOutcome::Failed { reason, .. } => {
                memory.failures += 1;
                let retry_at = now + self.options.backoff.delay(memory.failures);
                memory.retry_at = Some(retry_at);
                memory.error = Some(reason.clone());
                state.status = Status::Failed;
                state.last_error = Some(reason);
                state.next_retry_seconds = Some((retry_at - now).as_secs());
            }
            ServiceOutcome::Skipped { reason } => {
                state.status = Status::OutOfSync;
                state.last_error = Some(reason);
            }
        }
    }

    /// Deletes services this source owns that git no longer has, if every rule allows it: prune
    /// is on, every manifest loaded, the service was already absent at the previous reconcile,
    /// at most `max_prune` at once, and none tagged `berth:prune=disabled`.
    async fn prune(
        &mut self,
        candidates: &[&LiveService],
        manifests_valid: bool,
        actions: &mut usize,
    ) -> Pruned {
        let seen_before = std::mem::take(&mut self.prune_pending);
        if candidates.is_empty() {
            return Pruned::default();
        }
        let names: Vec<String> = candidates.iter().map(|s| s.id.to_string()).collect();
        let refuse = |why: String| {
            warn!(services = ?names, reason = %why, "prune refused");
            Pruned::refused(candidates, why)
        };
        if !self.options.prune {
            return refuse(format!(
                "prune is off: {} owned by this source but not in git",
                names.join(", ")
            ));
        }
        if !manifests_valid {
            return refuse(
                "not pruning: some manifests failed to load, so git's set of services is not known"
                    .into(),
            );
        }
        self.prune_pending = candidates.iter().map(|s| s.id.clone()).collect();
        let (confirmed, first_seen): (Vec<&LiveService>, Vec<&LiveService>) = candidates
            .iter()
            .copied()
            .partition(|s| seen_before.contains(&s.id));
        let mut pruned = Pruned::default();
        for service in &first_seen {
            pruned.keep(
                &service.id,
                format!(
                    "not pruning {} yet: absent from git at this reconcile only; pruned at the next if still absent",
                    service.id
                ),
            );
        }
        if confirmed.len() > self.options.max_prune {
            let confirmed_names: Vec<String> = confirmed.iter().map(|s| s.id.to_string()).collect();
            let why = format!(
                "not pruning: {} services would be deleted ({}), more than maxPrune {}",
                confirmed.len(),
                confirmed_names.join(", "),
                self.options.max_prune
            );
            warn!(services = ?confirmed_names, "prune refused: more than maxPrune");
            pruned.notes.push(why.clone());
            pruned
                .kept
                .extend(confirmed.iter().map(|s| (s.id.clone(), why.clone())));
            return pruned;
        }
        self.delete_confirmed(&confirmed, &mut pruned, actions)
            .await;
        pruned
    }

    /// Deletes each confirmed prune candidate not tagged `berth:prune=disabled`.
    async fn delete_confirmed(
        &mut self,
        confirmed: &[&LiveService],
        pruned: &mut Pruned,
        actions: &mut usize,
    ) {
        for service in confirmed {
            if service.tags.get(tags::PRUNE).map(String::as_str) == Some("disabled") {
                let why = format!(
                    "not pruning {}: tagged {}=disabled",
                    service.id,
                    tags::PRUNE
                );
                warn!(service = %service.id, "{why}");
                pruned.keep(&service.id, why);
                continue;
            }
            // One forced DeleteService (ECS stops the tasks itself): scaling to 0 first would
            // leave a service at 0 tasks whenever the delete then failed.
            match self.ecs.delete_service(&service.id).await {
                Ok(()) => {
                    info!(service = %service.id, "pruned: deleted");
                    self.prune_pending.remove(&service.id);
                    self.telemetry.apply_action(ApplyAction::DeleteService);
                    self.telemetry.service_removed(&service.id);
                    *actions += 1;
                }
                Err(err) => {
                    pruned.keep(&service.id, format!("pruning {} failed: {err}", service.id))
                }
            }
        }
    }

    fn requeue(&self, statuses: &BTreeMap<ServiceId, ServiceState>, now: Instant) -> Requeue {
        let progressing = statuses.values().any(|s| s.status == Status::Progressing);
        self.next_look(progressing, now)
    }

    /// What to look at next: a prune waiting for its second look needs a full reconcile; a
    /// rollout in flight only a poll; then the earliest end of a backoff.
    fn next_look(&self, progressing: bool, now: Instant) -> Requeue {
        let retry = self
            .memory
            .values()
            .filter_map(|m| m.retry_at)
            .filter(|at| *at > now)
            .min();
        if !self.prune_pending.is_empty() {
            Requeue::After(self.options.rollout_poll)
        } else if progressing {
            Requeue::Poll(self.options.rollout_poll)
        } else if let Some(at) = retry {
            Requeue::After(at - now)
        } else {
            Requeue::Interval
        }
    }

    /// Looks again at the services whose rollout is in flight, and at nothing else: one
    /// `DescribeServices` per cluster per 10 of them, no `ListServices`, no image or task
    /// definition reads. Marks each done rollout Synced, a failed or rolled-back one Failed
    /// (with backoff), and one past `progressDeadline` Failed.
    pub async fn poll_rollouts(&mut self) -> Requeue {
        let now = Instant::now();
        let in_flight = self.in_flight().await;
        let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for id in &in_flight {
            by_cluster
                .entry(&id.cluster)
                .or_default()
                .push(id.name.clone());
        }
        let mut seen: BTreeMap<ServiceId, LiveService> = BTreeMap::new();
        for (cluster, names) in by_cluster {
            match self.ecs.describe_services(cluster, &names).await {
                Ok(lookups) => seen.extend(lookups.into_iter().filter_map(|lookup| match lookup {
                    berth_core::live::ServiceLookup::Found(s) => Some((s.id.clone(), *s)),
                    berth_core::live::ServiceLookup::Missing(_) => None,
                })),
                Err(err) => {
                    warn!(%cluster, error = %err, "cannot read rollouts in flight; will look again")
                }
            }
        }
        let mut progressing = false;
        let shared = Arc::clone(&self.state);
        let mut state = shared.write().await;
        for id in &in_flight {
            let (Some(live), Some(service)) =
                (seen.get(id), state.services.get_mut(&id.to_string()))
            else {
                progressing = true;
                continue;
            };
            self.judge_in_flight(id, live, service, now);
            progressing |= service.status == Status::Progressing;
            self.telemetry.service_status(id, service.status);
        }
        drop(state);
        self.next_look(progressing, now)
    }

    /// The services Progressing in `/status` whose rollout berth follows.
    async fn in_flight(&self) -> Vec<ServiceId> {
        let state = self.state.read().await;
        self.memory
            .iter()
            .filter(|(id, memory)| {
                memory.following.is_some()
                    && state
                        .service(id)
                        .is_some_and(|s| s.status == Status::Progressing)
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Updates `service` (in `/status`) and its memory from what ECS says of its rollout now.
    fn judge_in_flight(
        &mut self,
        id: &ServiceId,
        live: &LiveService,
        service: &mut ServiceState,
        now: Instant,
    ) {
        let memory = self.memory.entry(id.clone()).or_default();
        let Some((expected, _, since)) = memory.following.clone() else {
            return;
        };
        service.live_task_definition = Some(live.task_definition_arn.clone());
        service.rollout = primary_rollout(live);
        match judge(live, &expected) {
            Some(RolloutOutcome::Completed) => {
                service.status = Status::Synced;
                service.last_error = None;
                let hash = memory.hash;
                memory.synced(hash);
            }
            Some(RolloutOutcome::Failed { reason, .. }) => {
                warn!(service = %id, %reason, "rollout failed");
                let retry_at = memory.failed(reason.clone(), now, &self.options.backoff);
                service.status = Status::Failed;
                service.last_error = Some(reason);
                service.next_retry_seconds = Some((retry_at - now).as_secs());
            }
            _ if now.duration_since(since) > self.options.progress_deadline => {
                service.status = Status::Failed;
                service.last_error = Some(past_deadline(self.options.progress_deadline));
            }
            _ => {}
        }
    }
}

/// What one pass decided, before applying.
#[derive(Default)]
struct Decided<'l> {
    /// Each service's status so far.
    statuses: BTreeMap<ServiceId, ServiceState>,
    /// The plans to apply.
    to_apply: Vec<ServicePlan>,
    /// Services owned here and in no manifest.
    prune_candidates: Vec<&'l LiveService>,
}

/// Services whose file no longer parses: Invalid, and left exactly as they run.
fn report_unparsed(
    unparsed: &UnparsedServices,
    live: &LiveState,
    statuses: &mut BTreeMap<ServiceId, ServiceState>,
) {
    for (id, (origin, error)) in unparsed {
        let live_service = live
            .services
            .get(id)
            .or_else(|| live.unlisted.iter().find(|s| &s.id == id));
        warn!(service = %id, file = %origin, %error, "manifest file does not parse; service left as it is");
        statuses.insert(
            id.clone(),
            ServiceState {
                manifest: Some(origin.to_string()),
                last_error: Some(error.clone()),
                ..observed(Status::Invalid, live_service)
            },
        );
    }
}

/// The files that do not parse at all, for `/status`.
fn invalid_files(invalid: &[berth_core::manifest::InvalidManifest]) -> Vec<InvalidFile> {
    invalid
        .iter()
        .filter(|invalid| invalid.id.is_none())
        .map(|invalid| InvalidFile {
            file: invalid.origin.file.to_string(),
            error: error_text(&invalid.diagnostics),
        })
        .collect()
}

/// A service prune left standing: OutOfSync, saying why.
fn unpruned(service: &LiveService, reason: &str) -> ServiceState {
    ServiceState {
        last_error: Some(format!(
            "in ECS and owned by this source, but in no manifest: {reason}"
        )),
        ..observed(Status::OutOfSync, Some(service))
    }
}

/// What one pass decides for one planned service, given what berth remembers of it: its status
/// for `/status`, and whether to apply its plan. Free of the reconciler so that the per-service
/// memory can be borrowed while telemetry is reported.
struct Judge<'a> {
    options: &'a DaemonOptions,
    telemetry: &'a dyn Telemetry,
    now: Instant,
}

impl Judge<'_> {
    /// The status of `service` and whether to apply it (prune candidates are handled apart).
    fn decide(
        &self,
        service: &ServicePlan,
        id: &ServiceId,
        live: Option<&LiveService>,
        memory: &mut Memory,
    ) -> (ServiceState, bool) {
        let mut state = ServiceState {
            manifest: service.origin.as_ref().map(ToString::to_string),
            desired_task_definition: memory.following.as_ref().map(|(arn, _, _)| arn.clone()),
            ..observed(Status::Synced, live)
        };
        let mut apply_it = false;
        match &service.action {
            Action::Invalid { diagnostics } => {
                state.status = Status::Invalid;
                state.last_error = Some(error_text(diagnostics));
            }
            Action::Conflict { owner } => {
                state.status = Status::OutOfSync;
                state.last_error = Some(berth_core::plan::conflict_reason(owner));
            }
            Action::Suspended { changes } => {
                state.status = Status::Suspended;
                state.pending_changes = changes.iter().map(|c| c.path.clone()).collect();
            }
            Action::NoChange => self.in_sync(live, memory, &mut state),
            Action::ImageMissing { images } => {
                state.status = Status::Failed;
                state.last_error = Some(
                    images
                        .iter()
                        .map(|i| {
                            format!(
                                "image {} not found ({}); push it or fix the tag",
                                i.reference, i.reason
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
            Action::RequiresReplacement { fields, .. } => {
                state.status = Status::OutOfSync;
                state.last_error = Some(format!(
                    "{} cannot change in place; recreate the service or revert",
                    fields.join(", ")
                ));
            }
            Action::Create { .. } | Action::Update { .. } => {
                apply_it = self.changed(service, id, live, memory, &mut state);
            }
            // Handled before deciding: prune has its own rules.
            Action::WouldPrune { .. } => {}
        }
        (state, apply_it)
    }

    /// Git and ECS agree on the content: is its deployment done, failed, or past its deadline?
    fn in_sync(&self, live: Option<&LiveService>, memory: &mut Memory, state: &mut ServiceState) {
        let Some(live) = live else {
            state.status = Status::Synced;
            memory.synced(memory.hash);
            return;
        };
        match judge(live, &live.task_definition_arn) {
            Some(RolloutOutcome::Failed { reason, .. }) => {
                state.status = Status::Failed;
                state.last_error = Some(reason);
            }
            None => {
                // A rollout berth did not start (another process, before a restart) is timed
                // from when berth first saw it.
                let hash = memory.hash;
                let (_, _, since) = memory
                    .following
                    .get_or_insert_with(|| (live.task_definition_arn.clone(), hash, self.now));
                if self.now.duration_since(*since) > self.options.progress_deadline {
                    // Failed, and no longer polled: the next look is the full reconcile at
                    // `interval` (or a new commit, or a trigger).
                    state.status = Status::Failed;
                    state.last_error = Some(past_deadline(self.options.progress_deadline));
                } else {
                    state.status = Status::Progressing;
                }
            }
            Some(_) => {
                state.status = Status::Synced;
                memory.synced(memory.hash);
            }
        }
    }

    /// Git and ECS differ: apply, unless this content's rollout failed and is backing off, or
    /// the difference is drift that self-heal off only reports. Returns whether to apply.
    fn changed(
        &self,
        service: &ServicePlan,
        id: &ServiceId,
        live: Option<&LiveService>,
        memory: &mut Memory,
        state: &mut ServiceState,
    ) -> bool {
        let hash = memory.hash;
        // A rollout berth started for this content that ECS rolled back: Failed.
        if let (Some((expected, followed_hash, _)), Some(live)) = (&memory.following, live)
            && *followed_hash == hash
            && let Some(RolloutOutcome::Failed { reason, .. }) = judge(live, expected)
        {
            warn!(service = %id, %reason, "rollout failed");
            memory.failed(reason, self.now, &self.options.backoff);
        }
        if let Some(retry_at) = memory.retry_at
            && self.now < retry_at
        {
            state.status = Status::Failed;
            state.last_error = memory.error.clone();
            state.next_retry_seconds = Some((retry_at - self.now).as_secs());
            return false;
        }
        let Action::Update { changes, .. } = &service.action else {
            return true;
        };
        // Git did not change since this service was in sync (remembered, or told by the hash
        // berth tagged it with when it last applied it, which survives a restart): someone
        // else changed it.
        let drifted = memory.synced == Some(hash)
            || live
                .and_then(|s| s.tags.get(tags::SPEC_HASH))
                .is_some_and(|tag| render::spec_hash_matches(tag, hash));
        if !drifted {
            return true;
        }
        let changes: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
        if memory.drift.as_ref() != Some(&changes) {
            warn!(service = %id, drift = ?changes, self_heal = self.options.self_heal, "drift");
            self.telemetry.drift(id);
            memory.drift = Some(changes.clone());
        }
        if !self.options.self_heal {
            state.status = Status::OutOfSync;
            state.pending_changes = changes;
        }
        self.options.self_heal
    }
}

/// The errors among `diagnostics`, each as `file:line:col: path: message`.
fn error_text(diagnostics: &[berth_core::diag::Diagnostic]) -> String {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A service's state with what ECS shows of it (its task definition and rollout), and nothing
/// else known yet.
fn observed(status: Status, live: Option<&LiveService>) -> ServiceState {
    ServiceState {
        status,
        manifest: None,
        desired_task_definition: None,
        live_task_definition: live.map(|s| s.task_definition_arn.clone()),
        rollout: live.and_then(primary_rollout),
        last_error: None,
        next_retry_seconds: None,
        pending_changes: Vec::new(),
    }
}

fn primary_rollout(service: &LiveService) -> Option<String> {
    let primary = service.deployments.iter().find(|d| d.status == "PRIMARY")?;
    Some(format!(
        "{} {}/{}",
        primary.rollout_state.as_deref().unwrap_or("-"),
        primary.running_count,
        primary.desired_count
    ))
}

/// Counts apply actions into telemetry.
struct Actions<'a>(&'a dyn Telemetry);

impl RolloutObserver for Actions<'_> {
    fn event(&self, id: &ServiceId, event: &berth_core::live::ServiceEvent) {
        Quiet.event(id, event);
    }
    fn progress(&self, id: &ServiceId, primary: &berth_core::live::Deployment) {
        Quiet.progress(id, primary);
    }
}

impl ApplyObserver for Actions<'_> {
    fn action(&self, _: &ServiceId, action: &AppliedAction) {
        self.0.apply_action(match action {
            AppliedAction::RegisteredTaskDefinition { .. } => ApplyAction::RegisterTaskDefinition,
            AppliedAction::ReusedTaskDefinition { .. } => ApplyAction::ReuseTaskDefinition,
            AppliedAction::CreatedService => ApplyAction::CreateService,
            AppliedAction::UpdatedService { .. } => ApplyAction::UpdateService,
            AppliedAction::TaggedService => ApplyAction::TagResource,
            AppliedAction::UntaggedService { .. } => ApplyAction::UntagResource,
        });
    }
    fn finished(&self, _: &ServiceReport) {}
}
