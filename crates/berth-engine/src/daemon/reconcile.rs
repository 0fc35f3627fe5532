//! One reconcile: load the snapshot, read ECS, plan, decide per service what to do now (apply,
//! wait for a rollout, back off, report drift), apply without blocking on rollouts, prune under
//! its rules, and say when to look again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use berth_core::live::LiveService;
use berth_core::manifest::{LoadOptions, ServiceId, load};
use berth_core::plan::{LiveState, Ownership, Plan, ServicePlan, plan};
use berth_core::render::{self, Provenance};
use tokio::sync::{RwLock, watch};
use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

use super::decide::{
    self, Decision, Decisions, Event, Memory, PruneRefusal, PruneRules, Rules, error_text,
    observed, prune_notes,
};
use super::state::{InvalidFile, ReconcileSummary, ServiceState};
use super::{
    ApplyAction, DaemonOptions, DaemonState, ReconcileResult, Snapshot, Status, Telemetry,
};
use crate::apply::{
    AppliedAction, ApplyObserver, ApplyOptions, ServiceOutcome, ServiceReport, apply,
};
use crate::lease::Validity;
use crate::ports::{EcsWrite, ImageRegistry};
use crate::read_live_to_apply;
use crate::rollout::{Quiet, RolloutObserver, RolloutTiming};

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
    /// Turns true when berth is shutting down ([`Reconciler::stop_on`]).
    stop: Option<watch::Receiver<bool>>,
    /// The target's lease, when replicas share the targets ([`Reconciler::lease_on`]).
    lease: Option<Validity>,
}

/// What one reconcile's prune did: services deleted, and one note per refusal.
struct PruneOutcome {
    deleted: usize,
    notes: Vec<String>,
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
            stop: None,
            lease: None,
        }
    }

    /// Once `stop` turns true, a reconcile in progress starts no further service and prunes
    /// nothing; the services it already started finish their calls.
    pub fn stop_on(&mut self, stop: watch::Receiver<bool>) {
        self.stop = Some(stop);
    }

    /// Reconciles only while `lease` is valid (the daemon skips it otherwise). The writes
    /// themselves are gated by the ECS port ([`crate::lease::LeasedEcs`]).
    pub fn lease_on(&mut self, lease: Validity) {
        self.lease = Some(lease);
    }

    /// Whether this reconciler may work now: it holds its target's lease, or there are none.
    pub fn holds_lease(&self, now: Instant) -> bool {
        self.lease.as_ref().is_none_or(|lease| lease.valid_at(now))
    }

    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|stop| *stop.borrow())
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

    /// The target this reconciler converges, as logs and metrics name it.
    pub fn target_name(&self) -> &str {
        (self.options.target.as_deref()).unwrap_or(crate::defaults::DEFAULT_TARGET)
    }

    /// Forgets every backoff: an explicit request to retry failed services now.
    pub fn clear_backoff(&mut self) {
        for memory in self.memory.values_mut() {
            memory.retry_at = None;
        }
    }

    /// Reconciles `snapshot` once.
    pub async fn reconcile(&mut self, snapshot: &Snapshot) -> Requeue {
        let span =
            info_span!("reconcile", commit = %snapshot.revision, target = self.target_name());
        self.reconcile_inner(snapshot).instrument(span).await
    }

    async fn reconcile_inner(&mut self, snapshot: &Snapshot) -> Requeue {
        let started = Instant::now();
        self.telemetry.revision(&snapshot.revision);
        let outcome = self.load(snapshot);
        let read = read_live_to_apply(
            &self.ecs,
            &self.registry,
            &outcome.services,
            &outcome.invalid,
        );
        let live = match read.await {
            Ok(live) => live,
            Err(err) => return self.unreadable(snapshot, &outcome, started, &err).await,
        };
        let plan = plan(
            &outcome.services,
            &outcome.invalid,
            &live,
            &self.ownership(),
        );
        let hashes: BTreeMap<ServiceId, u64> = outcome
            .services
            .iter()
            .map(|m| (m.id.clone(), render::spec_hash(m)))
            .collect();
        let now = Instant::now();
        let (file_services, unparsed) = self.remember_files(&outcome);
        let Decisions {
            services,
            prune_candidates,
        } = decide::decide(
            &plan,
            &hashes,
            &live,
            &self.memory,
            &unparsed.keys().cloned().collect(),
            &self.rules(),
            now,
        );
        let (mut statuses, to_apply) = self.take(services);
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
        let prune = self
            .prune_candidates(&prune_candidates, &live, outcome.is_valid(), &mut statuses)
            .await;
        actions += prune.deleted;
        self.trim_memory(&live, &statuses).await;
        let summary = ReconcileSummary {
            revision: snapshot.revision.clone(),
            result: ReconcileResult::Ok,
            duration_seconds: 0.0,
            counts: BTreeMap::new(),
            actions,
            error: None,
            prune: prune.notes,
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

    /// The snapshot's manifests, with this daemon's variables: the services of this
    /// reconciler's target, and the invalid manifests that are (or may be) this target's: one
    /// whose target cannot be told may be this one's, so it holds prune back here too.
    fn load(&self, snapshot: &Snapshot) -> berth_core::manifest::LoadOutcome {
        let mut outcome = load(
            &snapshot.files,
            &LoadOptions {
                vars: self.options.vars.clone(),
                targets: self.options.targets.clone(),
                ..LoadOptions::default()
            },
        );
        let target = &self.options.target;
        outcome.services.retain(|service| service.target == *target);
        (outcome.invalid).retain(|invalid| invalid.target.is_none() || invalid.target == *target);
        outcome
    }

    /// Who this reconciler is in `berth:source` tags (and who it was, for berth 0.1's tags).
    fn ownership(&self) -> Ownership {
        let ownership = Ownership::new(&self.options.repository);
        match &self.options.legacy_repository {
            Some(legacy) => ownership.with_previous_key(legacy),
            None => ownership,
        }
    }

    /// Prunes what the rules allow among `ids` (read in `live.unlisted`); what prune leaves
    /// standing stays in `statuses`, OutOfSync with the reason, until git or prune decides.
    async fn prune_candidates(
        &mut self,
        ids: &[ServiceId],
        live: &LiveState,
        manifests_valid: bool,
        statuses: &mut BTreeMap<ServiceId, ServiceState>,
    ) -> PruneOutcome {
        let candidates: Vec<&LiveService> = ids
            .iter()
            .filter_map(|id| live.unlisted.iter().find(|s| &s.id == id))
            .collect();
        let mut deleted = 0;
        let kept = self.prune(&candidates, manifests_valid, &mut deleted).await;
        for service in &candidates {
            if let Some(refusal) = kept.get(&service.id) {
                statuses.insert(service.id.clone(), unpruned(service, refusal));
            }
        }
        PruneOutcome {
            deleted,
            notes: prune_notes(&kept),
        }
    }

    /// The rules [`decide::decide`] works by.
    fn rules(&self) -> Rules {
        Rules {
            self_heal: self.options.self_heal,
            own_service: self.options.own_service.clone(),
            progress_deadline: self.options.progress_deadline,
            backoff: self.options.backoff,
        }
    }

    /// Acts on what was decided short of applying: logs each decision's events (drift is also
    /// counted), remembers each service, and returns the statuses so far and the plans to
    /// apply.
    fn take(
        &mut self,
        decisions: Vec<Decision>,
    ) -> (BTreeMap<ServiceId, ServiceState>, Vec<ServicePlan>) {
        let mut statuses = BTreeMap::new();
        let mut to_apply = Vec::new();
        for decision in decisions {
            self.log_events(&decision.id, &decision.events);
            to_apply.extend(decision.apply);
            self.memory.insert(decision.id.clone(), decision.memory);
            statuses.insert(decision.id, decision.state);
        }
        (statuses, to_apply)
    }

    /// Logs what a decision saw; drift is also counted.
    fn log_events(&self, id: &ServiceId, events: &[Event]) {
        for event in events {
            match event {
                Event::Drift { changes } => {
                    warn!(service = %id, drift = ?changes, self_heal = self.options.self_heal, "drift");
                    self.telemetry.drift(id);
                }
                Event::RolloutFailed { reason } => {
                    warn!(service = %id, %reason, "rollout failed");
                }
            }
        }
    }

    /// Applies the services decided for applying, without following rollouts (a rollout is
    /// looked at again by the next poll), and records each outcome. Returns the actions made.
    async fn apply_decided(
        &mut self,
        snapshot: &Snapshot,
        to_apply: Vec<ServicePlan>,
        manifests: &[berth_core::manifest::ServiceManifest],
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
            last: self.options.own_service.clone(),
            stop: self.stop.clone(),
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
    /// ECS (or the target's role) could not be read: nothing is changed or pruned, and every
    /// service of this target is Failed with the reason until a reconcile reads it again.
    async fn unreadable(
        &mut self,
        snapshot: &Snapshot,
        outcome: &berth_core::manifest::LoadOutcome,
        started: Instant,
        err: &crate::EngineError,
    ) -> Requeue {
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
        let reason = format!("cannot read ECS: {err}");
        let mut state = self.state.write().await;
        for manifest in &outcome.services {
            let service = (state.services)
                .entry(manifest.id.to_string())
                .or_insert_with(|| observed(Status::Failed, None));
            service.status = Status::Failed;
            service.manifest = Some(manifest.origin.to_string());
            service.last_error = Some(reason.clone());
            self.telemetry.service_status(&manifest.id, Status::Failed);
        }
        state.reconciled(summary);
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

    /// Records what apply did to one service: a change made is followed (its rollout is looked
    /// at by the next poll); a failure backs off.
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
                    memory.follow(expected, now);
                }
                state.status = Status::Progressing;
            }
            ServiceOutcome::Failed { reason, .. } => {
                let retry_at = memory.failed(reason.clone(), now, &self.options.backoff);
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

    /// Deletes the prune candidates [`decide::decide_prune`] allows (one forced DeleteService
    /// each) and returns what it kept, and why.
    async fn prune(
        &mut self,
        candidates: &[&LiveService],
        manifests_valid: bool,
        actions: &mut usize,
    ) -> BTreeMap<ServiceId, PruneRefusal> {
        let seen_before = std::mem::take(&mut self.prune_pending);
        let rules = PruneRules {
            enabled: self.options.prune,
            max: self.options.max_prune,
            own_service: self.options.own_service.as_ref(),
            stopping: self.stopping(),
        };
        let decision = decide::decide_prune(candidates, &seen_before, manifests_valid, rules);
        self.prune_pending = decision.pending;
        let mut kept = decision.kept;
        for id in decision.delete {
            // One forced DeleteService (ECS stops the tasks itself): scaling to 0 first would
            // leave a service at 0 tasks whenever the delete then failed.
            match self.ecs.delete_service(&id).await {
                Ok(()) => {
                    info!(service = %id, "pruned: deleted");
                    self.prune_pending.remove(&id);
                    self.telemetry.apply_action(ApplyAction::DeleteService);
                    self.telemetry.service_removed(&id);
                    *actions += 1;
                }
                Err(err) => {
                    let error = err.to_string();
                    kept.insert(id, PruneRefusal::DeleteFailed { error });
                }
            }
        }
        for note in prune_notes(&kept) {
            warn!(reason = %note, "prune refused");
        }
        kept
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
    /// definition reads. Each is decided again ([`decide::decide_polled`]).
    pub async fn poll_rollouts(&mut self) -> Requeue {
        let now = Instant::now();
        let in_flight = self.in_flight().await;
        let seen = self.describe_in_flight(&in_flight).await;
        let mut progressing = false;
        let shared = Arc::clone(&self.state);
        let mut state = shared.write().await;
        let rules = self.rules();
        for id in &in_flight {
            let (Some(live), Some(service), Some(memory)) = (
                seen.get(id),
                state.services.get_mut(&id.to_string()),
                self.memory.get(id),
            ) else {
                progressing = true;
                continue;
            };
            let decision = decide::decide_polled(id, live, service, memory, &rules, now);
            self.log_events(id, &decision.events);
            *service = decision.state;
            self.memory.insert(decision.id, decision.memory);
            progressing |= service.status == Status::Progressing;
            self.telemetry.service_status(id, service.status);
        }
        drop(state);
        self.next_look(progressing, now)
    }

    /// The services in `ids`, read in one `DescribeServices` per cluster (per 10); a cluster
    /// that cannot be read is left out (looked at again at the next poll).
    async fn describe_in_flight(&self, ids: &[ServiceId]) -> BTreeMap<ServiceId, LiveService> {
        let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for id in ids {
            by_cluster
                .entry(&id.cluster)
                .or_default()
                .push(id.name.clone());
        }
        let mut seen = BTreeMap::new();
        for (cluster, names) in by_cluster {
            match self.ecs.describe_services(cluster, &names).await {
                Ok(lookups) => seen.extend(
                    crate::read::found(lookups)
                        .into_iter()
                        .map(|s| (s.id.clone(), s)),
                ),
                Err(err) => {
                    warn!(%cluster, error = %err, "cannot read rollouts in flight; will look again")
                }
            }
        }
        seen
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
fn unpruned(service: &LiveService, refusal: &PruneRefusal) -> ServiceState {
    ServiceState {
        last_error: Some(format!(
            "in ECS and owned by this source, but in no manifest: {}",
            refusal.message(&[&service.id])
        )),
        ..observed(Status::OutOfSync, Some(service))
    }
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
