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
    self, Decision, Event, Memory, PruneRefusal, PruneRules, Rules, error_text, observed,
    prune_notes,
};
use super::hold::Held;
use super::notice::{NoNotify, Notice, Notify};
use super::report::Reporter;
use super::state::{InvalidFile, ReconcileSummary, ServiceState, Waiting};
use super::{
    ApplyAction, DaemonOptions, DaemonState, ReconcileResult, Snapshot, Status, Telemetry,
};
use crate::apply::{
    AppliedAction, ApplyObserver, ApplyOptions, ServiceOutcome, ServiceReport, apply,
};
use crate::defaults::RETENTION_EVERY;
use crate::lease::Validity;
use crate::ports::{EcsWrite, ImageRegistry};
use crate::read_live_to_apply;
use crate::retention::{self, DEFAULT_LIMIT, task_definitions_in_use};
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
    /// Where notices go ([`Reconciler::notify_on`]).
    notify: Arc<dyn Notify>,
    /// The next full reconcile goes through freeze windows (`POST /reconcile?override=window`).
    override_windows: bool,
    /// When the earliest window holding a change lets it out: a full reconcile then.
    hold_ends: Option<Instant>,
    /// The prune refusals last notified, so that the same refusal is told once.
    prune_refused: Vec<String>,
    /// When revision retention last ran.
    retained_at: Option<Instant>,
}

/// A full reconcile's results, for [`Reconciler::publish`].
struct Published<'a> {
    statuses: BTreeMap<ServiceId, ServiceState>,
    invalid_files: Vec<InvalidFile>,
    manifests_valid: bool,
    live: &'a LiveState,
}

/// A window's end is acted on this long after it, so that the reconcile lands inside the
/// window that opened (or after the one that closed).
const WINDOW_SLACK: Duration = Duration::from_secs(1);

/// What one pass decided, ready to act on.
#[derive(Default)]
struct Decided {
    statuses: BTreeMap<ServiceId, ServiceState>,
    to_apply: Vec<ServicePlan>,
    /// Services applied because they drifted (self-heal), with the drifted fields.
    reverting: BTreeMap<ServiceId, Vec<String>>,
    prune_candidates: Vec<ServiceId>,
    held: BTreeMap<String, Held>,
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
            notify: Arc::new(NoNotify),
            override_windows: false,
            hold_ends: None,
            prune_refused: Vec::new(),
            retained_at: None,
        }
    }

    /// Sends this reconciler's notices (transitions, deployments, prune, drift reverted) to
    /// `notify`.
    pub fn notify_on(&mut self, notify: Arc<dyn Notify>) {
        self.notify = notify;
    }

    /// Lets the next full reconcile apply through freeze windows (never through a suspension).
    pub fn override_windows_once(&mut self) {
        self.override_windows = true;
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
        let now = Instant::now();
        let Decided {
            mut statuses,
            to_apply,
            reverting,
            prune_candidates,
            held,
        } = self.decide_pass(&outcome, &live, now);
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
        self.drift_reverted(&reverting, &statuses);
        let valid = outcome.is_valid();
        let prune =
            (self.prune_candidates(&prune_candidates, &live, valid, &held, &mut statuses)).await;
        actions += prune.deleted;
        actions += (self.retain_revisions(&outcome.services, &live, &statuses, actions, now)).await;
        self.trim_memory(&live, &statuses).await;
        let summary = ReconcileSummary {
            revision: snapshot.revision.clone(),
            result: ReconcileResult::Ok,
            duration_seconds: 0.0,
            finished_unix: 0,
            counts: BTreeMap::new(),
            actions,
            error: None,
            prune: prune.notes,
        };
        let published = Published {
            statuses,
            invalid_files,
            manifests_valid: valid,
            live: &live,
        };
        self.publish(summary, published, started, now).await
    }

    /// Plans and decides every service of this pass: the rules with this moment's holds and
    /// the manifests' dependencies; the decisions' events logged and their memory kept.
    fn decide_pass(
        &mut self,
        outcome: &berth_core::manifest::LoadOutcome,
        live: &LiveState,
        now: Instant,
    ) -> Decided {
        let plan = plan(&outcome.services, &outcome.invalid, live, &self.ownership());
        let hashes: BTreeMap<ServiceId, u64> = outcome
            .services
            .iter()
            .map(|m| (m.id.clone(), render::spec_hash(m)))
            .collect();
        let mut rules = self.rules();
        rules.depends_on = dependencies(&outcome.services);
        rules.held = self.held_clusters(&outcome.services, now);
        let (file_services, unparsed) = self.remember_files(outcome);
        let unparsed_ids = unparsed.keys().cloned().collect();
        let decisions = decide::decide(
            &plan,
            &hashes,
            live,
            &self.memory,
            &unparsed_ids,
            &rules,
            now,
        );
        let mut decided = self.take(decisions.services);
        report_unparsed(&unparsed, live, &mut decided.statuses);
        self.file_services = file_services;
        decided.prune_candidates = decisions.prune_candidates;
        decided.held = rules.held;
        decided
    }

    /// The clusters of `manifests` whose changes are held now, and why; remembers when the
    /// first window holding one ends (a full reconcile is due then). An override of the
    /// windows is used up here.
    fn held_clusters(
        &mut self,
        manifests: &[berth_core::manifest::ServiceManifest],
        now: Instant,
    ) -> BTreeMap<String, Held> {
        let wall = self.options.wall_clock.at(now);
        let through_windows = std::mem::take(&mut self.override_windows);
        let clusters: BTreeSet<&str> = manifests.iter().map(|m| m.id.cluster.as_str()).collect();
        let held: BTreeMap<String, Held> = clusters
            .into_iter()
            .filter_map(|cluster| {
                let held = self.options.holds.held(cluster, wall, through_windows)?;
                Some((cluster.to_string(), held))
            })
            .collect();
        let clock = self.options.wall_clock;
        self.hold_ends = (held.values().filter_map(|h| h.until).min())
            .map(|until| now + clock.until(now, until) + WINDOW_SLACK);
        held
    }

    /// With `reconcile.keepRevisions`: deregisters the revisions of berth's families that
    /// nothing uses, beyond the newest N ([`crate::retention`]), after a pass that changed
    /// something or when the last look is [`RETENTION_EVERY`] old. Returns the revisions
    /// deregistered.
    async fn retain_revisions(
        &mut self,
        manifests: &[berth_core::manifest::ServiceManifest],
        live: &LiveState,
        statuses: &BTreeMap<ServiceId, ServiceState>,
        actions: usize,
        now: Instant,
    ) -> usize {
        let Some(keep) = self.options.keep_revisions else {
            return 0;
        };
        let recent = (self.retained_at).is_some_and(|at| now.duration_since(at) < RETENTION_EVERY);
        if (recent && actions == 0) || self.stopping() {
            return 0;
        }
        self.retained_at = Some(now);
        let families = manifests.iter().map(|m| m.family().to_string()).collect();
        let mut in_use = task_definitions_in_use(live.services.values().chain(&live.unlisted));
        in_use.extend(statuses.values().flat_map(|s| {
            [&s.desired_task_definition, &s.live_task_definition]
                .into_iter()
                .flatten()
                .cloned()
        }));
        let report =
            retention::retain_revisions(&self.ecs, &families, &in_use, keep, DEFAULT_LIMIT);
        let report = report.await;
        // `retain_revisions` logs each revision and the round; counted here.
        for _ in &report.deregistered {
            self.telemetry
                .apply_action(ApplyAction::DeregisterTaskDefinition);
        }
        report.deregistered.len()
    }

    /// Tells of the drift that apply reverted: the services of `reverting` it changed.
    fn drift_reverted(
        &self,
        reverting: &BTreeMap<ServiceId, Vec<String>>,
        statuses: &BTreeMap<ServiceId, ServiceState>,
    ) {
        for (id, changes) in reverting {
            if statuses
                .get(id)
                .is_some_and(|s| s.status == Status::Progressing)
            {
                self.notify.notify(Notice::DriftReverted {
                    target: self.target_name().to_string(),
                    id: id.clone(),
                    changes: changes.clone(),
                });
            }
        }
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
        held: &BTreeMap<String, Held>,
        statuses: &mut BTreeMap<ServiceId, ServiceState>,
    ) -> PruneOutcome {
        let candidates: Vec<&LiveService> = ids
            .iter()
            .filter_map(|id| live.unlisted.iter().find(|s| &s.id == id))
            .collect();
        let mut deleted = 0;
        let kept = (self.prune(&candidates, manifests_valid, held, &mut deleted)).await;
        for service in &candidates {
            if let Some(refusal) = kept.get(&service.id) {
                statuses.insert(service.id.clone(), unpruned(service, refusal));
            }
        }
        self.tell_prune_refusals(&kept);
        PruneOutcome {
            deleted,
            notes: prune_notes(&kept),
        }
    }

    /// Tells of prune's refusals when they differ from the last told (prune being off, and
    /// the wait for a second look, are not refusals worth telling).
    fn tell_prune_refusals(&mut self, kept: &BTreeMap<ServiceId, PruneRefusal>) {
        let refused: BTreeMap<ServiceId, PruneRefusal> = kept
            .iter()
            .filter(|(_, r)| !matches!(r, PruneRefusal::Off | PruneRefusal::FirstSeen))
            .map(|(id, r)| (id.clone(), r.clone()))
            .collect();
        let reasons = prune_notes(&refused);
        if reasons != self.prune_refused && !reasons.is_empty() {
            self.notify.notify(Notice::PruneRefused {
                target: self.target_name().to_string(),
                reasons: reasons.clone(),
            });
        }
        self.prune_refused = reasons;
    }

    /// The rules [`decide::decide`] works by.
    fn rules(&self) -> Rules {
        Rules {
            self_heal: self.options.self_heal,
            own_service: self.options.own_service.clone(),
            progress_deadline: self.options.progress_deadline,
            backoff: self.options.backoff,
            held: BTreeMap::new(),
            depends_on: BTreeMap::new(),
        }
    }

    /// Acts on what was decided short of applying: logs each decision's events (drift is also
    /// counted), remembers each service, and returns the statuses so far and the plans to
    /// apply.
    fn take(&mut self, decisions: Vec<Decision>) -> Decided {
        let mut taken = Decided::default();
        let Decided {
            statuses,
            to_apply,
            reverting,
            ..
        } = &mut taken;
        for decision in decisions {
            self.log_events(&decision.id, &decision.events);
            if decision.apply.is_some()
                && let Some(changes) = decision.events.iter().find_map(|e| match e {
                    Event::Drift { changes } => Some(changes.clone()),
                    Event::RolloutFailed { .. } => None,
                })
            {
                reverting.insert(decision.id.clone(), changes);
            }
            to_apply.extend(decision.apply);
            self.memory.insert(decision.id.clone(), decision.memory);
            statuses.insert(decision.id, decision.state);
        }
        taken
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
        self.notify.notify(Notice::Applying {
            target: self.target_name().to_string(),
            revision: snapshot.revision.clone(),
            services: to_apply.iter().filter_map(|p| p.id.clone()).collect(),
        });
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
            finished_unix: 0,
            counts: BTreeMap::new(),
            actions: 0,
            error: Some(err.to_string()),
            prune: Vec::new(),
        };
        self.telemetry
            .reconcile(started.elapsed(), ReconcileResult::Error);
        let reason = format!("cannot read ECS: {err}");
        let shared = Arc::clone(&self.state);
        let mut state = shared.write().await;
        let state = &mut *state;
        let reporter = self.reporter(&snapshot.revision);
        for manifest in &outcome.services {
            let service = (state.services)
                .entry(manifest.id.to_string())
                .or_insert_with(|| observed(Status::Failed, None));
            let before = service.status;
            service.status = Status::Failed;
            service.manifest = Some(manifest.origin.to_string());
            service.last_error = Some(reason.clone());
            reporter.service(
                &mut state.details,
                &manifest.id,
                Some(before),
                service,
                None,
            );
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
    /// telemetry, notices of changed statuses, and `/status` (services, their details, invalid
    /// files, the summary). Returns what next.
    async fn publish(
        &mut self,
        mut summary: ReconcileSummary,
        published: Published<'_>,
        started: Instant,
        now: Instant,
    ) -> Requeue {
        let Published {
            statuses,
            invalid_files,
            manifests_valid,
            live,
        } = published;
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
        log_finished(&summary, duration);
        self.telemetry.reconcile(duration, summary.result);

        let requeue = self.requeue(&statuses, now);
        let shared = Arc::clone(&self.state);
        let mut state = shared.write().await;
        let state = &mut *state;
        let reporter = self.reporter(&summary.revision);
        reporter.services(&mut state.details, &state.services, &statuses, live);
        state.services = statuses
            .into_iter()
            .map(|(id, service)| (id.to_string(), service))
            .collect();
        state.invalid_files = invalid_files;
        state.reconciled(summary);
        requeue
    }

    /// The reporter of this target's notices and history at `revision`.
    fn reporter<'a>(&'a self, revision: &'a str) -> Reporter<'a> {
        Reporter {
            target: self.target_name(),
            revision,
            notify: self.notify.as_ref(),
        }
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
        held: &BTreeMap<String, Held>,
        actions: &mut usize,
    ) -> BTreeMap<ServiceId, PruneRefusal> {
        let seen_before = std::mem::take(&mut self.prune_pending);
        let rules = PruneRules {
            enabled: self.options.prune,
            max: self.options.max_prune,
            own_service: self.options.own_service.as_ref(),
            stopping: self.stopping(),
            held,
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
                    self.notify.notify(Notice::Pruned {
                        target: self.target_name().to_string(),
                        id: id.clone(),
                    });
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
        let retry = (self.memory.values().filter_map(|m| m.retry_at))
            .chain(self.hold_ends)
            .filter(|at| *at > now)
            .min();
        let poll = self.options.rollout_poll;
        if !self.prune_pending.is_empty() || retry.is_some_and(|at| progressing && at < now + poll)
        {
            // A full reconcile also looks at the rollouts in flight.
            Requeue::After(retry.map_or(poll, |at| (at - now).min(poll)))
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
        let revision =
            (state.last_reconcile.as_ref()).map_or_else(String::new, |r| r.revision.clone());
        let mut details = std::mem::take(&mut state.details);
        let mut synced = BTreeSet::new();
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
            let before = service.status;
            *service = decision.state;
            let reporter = self.reporter(&revision);
            reporter.service(&mut details, id, Some(before), service, Some(live));
            self.memory.insert(decision.id, decision.memory);
            progressing |= service.status == Status::Progressing;
            if service.status == Status::Synced {
                synced.insert(id.to_string());
            }
            self.telemetry.service_status(id, service.status);
        }
        state.details = details;
        let unblocked = (state.services.values()).any(|s| {
            matches!(&s.waiting, Some(Waiting::DependsOn { service }) if synced.contains(service))
        });
        drop(state);
        if unblocked {
            // A change waited for this rollout (`dependsOn`): it goes out now.
            return Requeue::After(Duration::ZERO);
        }
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

/// The `reconcile finished` line.
fn log_finished(summary: &ReconcileSummary, duration: Duration) {
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
}

/// Each manifest's `dependsOn`, as the ids of the services it names (in its cluster).
fn dependencies(
    manifests: &[berth_core::manifest::ServiceManifest],
) -> BTreeMap<ServiceId, Vec<ServiceId>> {
    manifests
        .iter()
        .filter(|m| !m.metadata.depends_on.is_empty())
        .map(|m| {
            let names = m.metadata.depends_on.iter();
            let ids = names
                .map(|name| ServiceId::new(&m.id.cluster, name))
                .collect();
            (m.id.clone(), ids)
        })
        .collect()
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
