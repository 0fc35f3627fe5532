//! Deciding what one reconcile does to each service, and what prune may delete: pure functions
//! of the plan, what ECS shows, what berth remembers and the rules, with no IO, no clock and no
//! telemetry. The reconciler (`reconcile.rs`) acts on the decisions; every branch has a unit
//! test below.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use berth_core::diag::{Diagnostic, Severity};
use berth_core::live::LiveService;
use berth_core::manifest::ServiceId;
use berth_core::plan::{self, Action, LiveState, Plan, ServicePlan};
use berth_core::render::{self, tags};
use tokio::time::Instant;

use super::hold::Held;
use super::state::{ServiceState, SuspendScope, Waiting};
use super::{Backoff, Status};
use crate::rollout::{RolloutOutcome, judge};

/// A rollout berth follows: the revision it expects ECS to run, for which manifest content, and
/// since when (its `progressDeadline` counts from then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Followed {
    /// The task definition ARN the service should end up running.
    pub task_definition: String,
    /// The [`render::spec_hash`] of the manifest content being rolled out.
    pub hash: u64,
    /// When berth started following it.
    pub since: Instant,
}

/// What the reconciler remembers about a service between reconciles (only in memory: after a
/// restart, everything is read again from git and ECS, and the `berth:spec-hash` tag tells
/// drift from a new commit).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Memory {
    /// [`render::spec_hash`] of the manifest content last decided.
    pub hash: u64,
    /// The content hash when the service was last Synced (drift = a change since then).
    pub synced: Option<u64>,
    /// The rollout berth follows, if any.
    pub following: Option<Followed>,
    /// Consecutive failures of this manifest content.
    pub failures: u32,
    /// Not before this instant will berth retry this manifest content.
    pub retry_at: Option<Instant>,
    /// The last error.
    pub error: Option<String>,
    /// The drift last reported (the fields that differ): the same drift seen again on the next
    /// pass is not reported again.
    pub drift: Option<Vec<String>>,
}

impl Memory {
    /// This memory for manifest content `hash`: unchanged for the same content; for new content
    /// a fresh start (a new commit is never held back by the old one's failures), keeping only
    /// when the service was last in sync.
    pub(crate) fn for_content(&self, hash: u64) -> Memory {
        if self.hash == hash {
            return self.clone();
        }
        Memory {
            hash,
            synced: self.synced,
            ..Memory::default()
        }
    }

    /// Its content runs and its rollout is done: forget failures and drift.
    pub(crate) fn synced(&mut self) {
        self.synced = Some(self.hash);
        self.following = None;
        self.failures = 0;
        self.retry_at = None;
        self.error = None;
        self.drift = None;
    }

    /// Applying or rolling out its content failed for `reason`: back off. Returns when to retry.
    pub(crate) fn failed(&mut self, reason: String, now: Instant, backoff: &Backoff) -> Instant {
        self.following = None;
        self.failures += 1;
        let retry_at = now + backoff.delay(self.failures);
        self.retry_at = Some(retry_at);
        self.error = Some(reason);
        retry_at
    }

    /// Follow the rollout to `task_definition` of its content, from `now`.
    pub(crate) fn follow(&mut self, task_definition: String, now: Instant) {
        self.following = Some(Followed {
            task_definition,
            hash: self.hash,
            since: now,
        });
    }
}

/// The options deciding depends on.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// Revert drift (on) or only report it (off).
    pub self_heal: bool,
    /// berth's own service: its drift is never reverted ([`own_service_drift`]).
    pub own_service: Option<ServiceId>,
    /// A rollout still going after this long is Failed.
    pub progress_deadline: Duration,
    /// Retry delays of a failing service.
    pub backoff: Backoff,
    /// Clusters whose changes are held now (suspended, or a freeze window), and why.
    pub held: BTreeMap<String, Held>,
    /// Each service's `dependsOn`, as service ids: a change waits while one of them is not
    /// Synced and not being changed in the same pass.
    pub depends_on: BTreeMap<ServiceId, Vec<ServiceId>>,
}

/// Something a decision wants logged (and drift counted); the reconciler does both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// Drift not reported before: these fields differ from git, and git did not change.
    Drift {
        /// The fields that differ.
        changes: Vec<String>,
    },
    /// ECS rolled back (or failed) a rollout berth started.
    RolloutFailed {
        /// ECS's reason.
        reason: String,
    },
}

/// What to do with one service now.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    /// The service.
    pub id: ServiceId,
    /// Its status for `/status` (before any apply).
    pub state: ServiceState,
    /// What to remember of it after this pass.
    pub memory: Memory,
    /// The plan to apply, if it is to be applied now.
    pub apply: Option<ServicePlan>,
    /// What to log.
    pub events: Vec<Event>,
}

/// Every decision of one pass.
#[derive(Debug, Default)]
pub(crate) struct Decisions {
    /// One per planned service (services of files that no longer parse aside), in plan order.
    pub services: Vec<Decision>,
    /// Services owned by this source and in no manifest: prune's to decide
    /// ([`decide_prune`]).
    pub prune_candidates: Vec<ServiceId>,
}

/// Decides every planned service. `hashes` are the manifests' [`render::spec_hash`]es;
/// services in `unparsed` (their file no longer parses) are left out, to be reported Invalid.
pub(crate) fn decide(
    plan: &Plan,
    hashes: &BTreeMap<ServiceId, u64>,
    live: &LiveState,
    memory: &BTreeMap<ServiceId, Memory>,
    unparsed: &BTreeSet<ServiceId>,
    rules: &Rules,
    now: Instant,
) -> Decisions {
    let mut decisions = Decisions::default();
    for service in &plan.services {
        let Some(id) = service.id.as_ref().filter(|id| !unparsed.contains(*id)) else {
            continue;
        };
        if matches!(service.action, Action::WouldPrune { .. }) {
            decisions.prune_candidates.push(id.clone());
            continue;
        }
        let hash = hashes.get(id).copied().unwrap_or(0);
        let remembered = memory
            .get(id)
            .unwrap_or(&Memory::default())
            .for_content(hash);
        let judge = Judge { rules, now };
        decisions
            .services
            .push(judge.decide(service, id, live.services.get(id), remembered));
    }
    wait_for_dependencies(&mut decisions.services, &rules.depends_on);
    decisions
}

/// Holds back every change whose `dependsOn` names a service that has not converged (its
/// rollout in flight, failed, invalid, or itself held back) and is not being changed in this
/// pass (apply orders those itself), until no more are held: a chain waits link by link. The
/// service waited for is named in `waiting`. A suspended dependency, or one whose drift is
/// only reported (self-heal off), holds nothing back.
fn wait_for_dependencies(
    decisions: &mut [Decision],
    depends_on: &BTreeMap<ServiceId, Vec<ServiceId>>,
) {
    let converged = |d: &Decision| match d.state.status {
        Status::Synced | Status::Suspended => true,
        Status::OutOfSync => d.state.waiting.is_none(),
        Status::Progressing | Status::Failed | Status::Invalid => false,
    };
    loop {
        let settled: BTreeMap<ServiceId, bool> = decisions
            .iter()
            .map(|d| (d.id.clone(), d.apply.is_some() || converged(d)))
            .collect();
        let mut changed = false;
        for decision in decisions.iter_mut().filter(|d| d.apply.is_some()) {
            let blocking = (depends_on.get(&decision.id).into_iter().flatten())
                .find(|dependency| settled.get(*dependency) == Some(&false));
            if let Some(dependency) = blocking {
                let plan = decision.apply.take();
                decision.state.status = Status::OutOfSync;
                decision.state.pending_changes =
                    plan.as_ref().map(change_paths).unwrap_or_default();
                decision.state.waiting = Some(Waiting::DependsOn {
                    service: dependency.to_string(),
                });
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// The fields a plan would change (`(new service)` for a creation).
fn change_paths(plan: &ServicePlan) -> Vec<String> {
    match &plan.action {
        Action::Update { changes, .. } => changes.iter().map(|c| c.path.clone()).collect(),
        Action::Create { .. } => vec!["(new service)".into()],
        _ => Vec::new(),
    }
}

/// Decides again, from a fresh `DescribeServices`, about a service whose rollout berth follows
/// (the poll between full reconciles): Synced when done, Failed (backing off) when ECS rolled it
/// back, Failed when past `progressDeadline`, else unchanged.
pub(crate) fn decide_polled(
    id: &ServiceId,
    live: &LiveService,
    state: &ServiceState,
    memory: &Memory,
    rules: &Rules,
    now: Instant,
) -> Decision {
    let mut decision = Decision {
        id: id.clone(),
        state: state.clone(),
        memory: memory.clone(),
        apply: None,
        events: Vec::new(),
    };
    let Some(followed) = memory.following.clone() else {
        return decision;
    };
    decision.state.live_task_definition = Some(live.task_definition_arn.clone());
    decision.state.rollout = primary_rollout(live);
    match judge(live, &followed.task_definition) {
        Some(RolloutOutcome::Completed) => {
            decision.state.status = Status::Synced;
            decision.state.last_error = None;
            decision.memory.synced();
        }
        Some(RolloutOutcome::Failed { reason, .. }) => {
            let retry_at = decision.memory.failed(reason.clone(), now, &rules.backoff);
            decision.state.status = Status::Failed;
            decision.state.last_error = Some(reason.clone());
            decision.state.next_retry_seconds = Some((retry_at - now).as_secs());
            decision.events.push(Event::RolloutFailed { reason });
        }
        _ if now.duration_since(followed.since) > rules.progress_deadline => {
            decision.state.status = Status::Failed;
            decision.state.last_error = Some(past_deadline(rules.progress_deadline));
        }
        _ => {}
    }
    decision
}

/// Why a rollout still going after `progressDeadline` is Failed: the one wording.
pub(crate) fn past_deadline(deadline: Duration) -> String {
    format!(
        "the rollout has not finished within progressDeadline ({}s); ECS is still deploying it: \
         read the service's events, fix the cause in git or revert",
        deadline.as_secs()
    )
}

/// One service's decision, given what berth remembers of it.
struct Judge<'a> {
    rules: &'a Rules,
    now: Instant,
}

impl Judge<'_> {
    fn decide(
        &self,
        service: &ServicePlan,
        id: &ServiceId,
        live: Option<&LiveService>,
        memory: Memory,
    ) -> Decision {
        let mut decision = Decision {
            id: id.clone(),
            state: ServiceState {
                manifest: service.origin.as_ref().map(ToString::to_string),
                desired_task_definition: memory
                    .following
                    .as_ref()
                    .map(|f| f.task_definition.clone()),
                ..observed(Status::Synced, live)
            },
            memory,
            apply: None,
            events: Vec::new(),
        };
        let state = &mut decision.state;
        match &service.action {
            Action::Invalid { diagnostics } => {
                state.status = Status::Invalid;
                state.last_error = Some(error_text(diagnostics));
            }
            Action::Conflict { owner } => {
                state.status = Status::OutOfSync;
                state.last_error = Some(plan::conflict_reason(owner));
                state.waiting = Some(Waiting::Conflict {
                    owner: owner.clone(),
                });
            }
            Action::Suspended { changes } => {
                state.status = Status::Suspended;
                state.pending_changes = changes.iter().map(|c| c.path.clone()).collect();
                state.waiting = Some(Waiting::Suspended {
                    scope: SuspendScope::Service,
                });
            }
            Action::ImageMissing { images } => {
                state.status = Status::Failed;
                state.last_error = Some(plan::image_missing_reason(images));
            }
            Action::RequiresReplacement { fields, .. } => {
                state.status = Status::OutOfSync;
                state.last_error = Some(plan::replacement_reason(fields));
            }
            Action::NoChange => self.in_sync(live, &mut decision),
            Action::Create { .. } | Action::Update { .. } => {
                if self.changed(service, live, &mut decision) {
                    match self.rules.held.get(&id.cluster) {
                        Some(held) => hold(&mut decision.state, service, held),
                        None => decision.apply = Some(service.clone()),
                    }
                }
            }
            // Set apart by `decide`: prune has its own rules.
            Action::WouldPrune { .. } => {}
        }
        decision
    }

    /// Git and ECS agree on the content: is its deployment done, failed, or past its deadline?
    fn in_sync(&self, live: Option<&LiveService>, decision: &mut Decision) {
        let (state, memory) = (&mut decision.state, &mut decision.memory);
        let Some(live) = live else {
            state.status = Status::Synced;
            memory.synced();
            return;
        };
        match judge(live, &live.task_definition_arn) {
            Some(RolloutOutcome::Failed { reason, .. }) => {
                state.status = Status::Failed;
                state.last_error = Some(reason);
            }
            None => {
                // A rollout berth did not start (another process, or before a restart) is timed
                // from when berth first saw it.
                if memory.following.is_none() {
                    memory.follow(live.task_definition_arn.clone(), self.now);
                }
                let since = memory.following.as_ref().map_or(self.now, |f| f.since);
                if self.now.duration_since(since) > self.rules.progress_deadline {
                    // Failed, and no longer polled: the next look is the full reconcile at
                    // `interval` (or a new commit, or a trigger).
                    state.status = Status::Failed;
                    state.last_error = Some(past_deadline(self.rules.progress_deadline));
                } else {
                    state.status = Status::Progressing;
                }
            }
            Some(_) => {
                state.status = Status::Synced;
                memory.synced();
            }
        }
    }

    /// Git and ECS differ: apply, unless this content's rollout failed and is backing off, or
    /// the difference is drift that self-heal off only reports. Returns whether to apply.
    fn changed(
        &self,
        service: &ServicePlan,
        live: Option<&LiveService>,
        decision: &mut Decision,
    ) -> bool {
        let (state, memory) = (&mut decision.state, &mut decision.memory);
        let hash = memory.hash;
        // A rollout berth started for this content that ECS rolled back: Failed.
        if let (Some(followed), Some(live)) = (&memory.following, live)
            && followed.hash == hash
            && let Some(RolloutOutcome::Failed { reason, .. }) =
                judge(live, &followed.task_definition)
        {
            memory.failed(reason.clone(), self.now, &self.rules.backoff);
            decision.events.push(Event::RolloutFailed { reason });
        }
        if let Some(retry_at) = memory.retry_at
            && self.now < retry_at
        {
            state.status = Status::Failed;
            state.last_error = memory.error.clone();
            let retry_in_seconds = (retry_at - self.now).as_secs();
            state.next_retry_seconds = Some(retry_in_seconds);
            state.waiting = Some(Waiting::Backoff { retry_in_seconds });
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
            memory.drift = Some(changes.clone());
            decision.events.push(Event::Drift {
                changes: changes.clone(),
            });
        }
        if self.rules.own_service.as_ref() == Some(&decision.id) {
            state.status = Status::Failed;
            state.last_error = Some(own_service_drift());
            state.pending_changes = changes;
            return false;
        }
        if !self.rules.self_heal {
            state.status = Status::OutOfSync;
            state.pending_changes = changes;
        }
        self.rules.self_heal
    }
}

/// A change that would go out now, held by a suspension or a window: Suspended or OutOfSync,
/// with the changes it holds and why.
fn hold(state: &mut ServiceState, service: &ServicePlan, held: &Held) {
    state.status = match held.waiting {
        Waiting::Suspended { .. } => Status::Suspended,
        _ => Status::OutOfSync,
    };
    state.pending_changes = change_paths(service);
    state.waiting = Some(held.waiting.clone());
}

/// Why berth leaves its own service as it is when it runs other than what berth applied from
/// this commit: usually ECS's circuit breaker rolled back a new berth that did not start, and the
/// berth reading this is the old one. Applying the same commit again would replace berth with
/// the failing version at every start, so only a new commit changes berth's own service.
pub(crate) fn own_service_drift() -> String {
    "berth's own service runs other than what berth applied from this commit (ECS rolled the \
     new berth back, or it was changed outside git); berth does not apply itself again from the \
     same commit: fix berth's manifest or revert the commit"
        .to_string()
}

/// Why prune did not delete a candidate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PruneRefusal {
    /// `reconcile.prune` is off.
    Off,
    /// Some manifest failed to load, so git's set of services is not known.
    ManifestsInvalid,
    /// Absent from git at this reconcile only (prune waits for a second look).
    FirstSeen,
    /// More confirmed candidates than `maxPrune` (all or nothing).
    OverMax {
        /// How many would be deleted.
        count: usize,
        /// `reconcile.maxPrune`.
        max: usize,
    },
    /// Tagged `berth:prune=disabled`.
    Disabled,
    /// berth's own service (`reconcile.selfService`): never pruned.
    OwnService,
    /// berth is shutting down: a delete now could be cut short; the next run decides.
    ShuttingDown,
    /// The cluster is suspended or in a freeze window.
    Held {
        /// Why, as [`Waiting::describe`] says it.
        reason: String,
    },
    /// DeleteService failed (tried again at the next reconcile).
    DeleteFailed {
        /// The adapter's error.
        error: String,
    },
}

impl PruneRefusal {
    /// The message for `lastReconcile.prune` and the log: one for all the `services` refused
    /// for this reason (docs/operations.md, "Prune", has every wording).
    pub(crate) fn message(&self, services: &[&ServiceId]) -> String {
        let names = services
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        match self {
            PruneRefusal::Off => {
                format!("prune is off: {names} owned by this source but not in git")
            }
            PruneRefusal::ManifestsInvalid => {
                "not pruning: some manifests failed to load, so git's set of services is not known"
                    .into()
            }
            PruneRefusal::FirstSeen => format!(
                "not pruning {names} yet: absent from git at this reconcile only; pruned at the next if still absent"
            ),
            PruneRefusal::OverMax { count, max } => format!(
                "not pruning: {count} services would be deleted ({names}), more than maxPrune {max}"
            ),
            PruneRefusal::Disabled => {
                format!("not pruning {names}: tagged {}=disabled", tags::PRUNE)
            }
            PruneRefusal::OwnService => {
                format!("not pruning {names}: berth's own service (selfService) is never pruned")
            }
            PruneRefusal::ShuttingDown => {
                format!("not pruning {names}: berth is shutting down; the next run decides")
            }
            PruneRefusal::DeleteFailed { error } => format!("pruning {names} failed: {error}"),
            PruneRefusal::Held { reason } => format!("not pruning {names}: {reason}"),
        }
    }
}

/// What prune decided: what to delete now, what it keeps and why, and which candidates to
/// remember for the next reconcile's second look.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct PruneDecision {
    /// Delete these now (one forced DeleteService each).
    pub delete: Vec<ServiceId>,
    /// Kept, and why.
    pub kept: BTreeMap<ServiceId, PruneRefusal>,
    /// The candidates of this reconcile: deleted at the next if still candidates.
    pub pending: BTreeSet<ServiceId>,
}

/// The prune rules, in order (docs/operations.md, "Prune").
#[derive(Debug, Clone, Copy)]
pub(crate) struct PruneRules<'a> {
    /// `reconcile.prune`.
    pub enabled: bool,
    /// `reconcile.maxPrune`.
    pub max: usize,
    /// `reconcile.selfService`: never a candidate.
    pub own_service: Option<&'a ServiceId>,
    /// berth is shutting down.
    pub stopping: bool,
    /// Clusters whose changes are held (suspended, or a freeze window): nothing is deleted
    /// there either.
    pub held: &'a BTreeMap<String, Held>,
}

/// Decides which of `candidates` (owned here, in no manifest) to delete. `seen_before` are the
/// previous reconcile's candidates; `manifests_valid` whether every manifest loaded.
pub(crate) fn decide_prune(
    candidates: &[&LiveService],
    seen_before: &BTreeSet<ServiceId>,
    manifests_valid: bool,
    rules: PruneRules,
) -> PruneDecision {
    // berth's own service is set apart first: it never counts towards anything below.
    let (own, candidates): (Vec<&LiveService>, Vec<&LiveService>) = candidates
        .iter()
        .copied()
        .partition(|s| rules.own_service == Some(&s.id));
    let own_kept: BTreeMap<ServiceId, PruneRefusal> = own
        .iter()
        .map(|s| (s.id.clone(), PruneRefusal::OwnService))
        .collect();
    let refuse_all = |refusal: PruneRefusal| PruneDecision {
        kept: candidates
            .iter()
            .map(|s| (s.id.clone(), refusal.clone()))
            .chain(own_kept.clone())
            .collect(),
        ..PruneDecision::default()
    };
    if candidates.is_empty() {
        return refuse_all(PruneRefusal::OwnService);
    }
    if !rules.enabled {
        return refuse_all(PruneRefusal::Off);
    }
    if !manifests_valid {
        return refuse_all(PruneRefusal::ManifestsInvalid);
    }
    if rules.stopping {
        return refuse_all(PruneRefusal::ShuttingDown);
    }
    let mut decision = PruneDecision {
        kept: own_kept,
        ..PruneDecision::default()
    };
    decision.pending = candidates.iter().map(|s| s.id.clone()).collect();
    let (held, candidates): (Vec<&LiveService>, Vec<&LiveService>) = candidates
        .iter()
        .copied()
        .partition(|s| rules.held.contains_key(&s.id.cluster));
    for service in held {
        if let Some(held) = rules.held.get(&service.id.cluster) {
            let reason = held.waiting.describe();
            (decision.kept).insert(service.id.clone(), PruneRefusal::Held { reason });
        }
    }
    let (confirmed, first_seen): (Vec<&LiveService>, Vec<&LiveService>) = candidates
        .iter()
        .copied()
        .partition(|s| seen_before.contains(&s.id));
    for service in first_seen {
        decision
            .kept
            .insert(service.id.clone(), PruneRefusal::FirstSeen);
    }
    let over_max = PruneRefusal::OverMax {
        count: confirmed.len(),
        max: rules.max,
    };
    for service in confirmed {
        let refusal = if matches!(over_max, PruneRefusal::OverMax { count, max } if count > max) {
            Some(over_max.clone())
        } else if service.tags.get(tags::PRUNE).map(String::as_str) == Some("disabled") {
            Some(PruneRefusal::Disabled)
        } else {
            None
        };
        match refusal {
            Some(refusal) => {
                decision.kept.insert(service.id.clone(), refusal);
            }
            None => decision.delete.push(service.id.clone()),
        }
    }
    decision
}

/// `kept` as one message per refusal, naming its services.
pub(crate) fn prune_notes(kept: &BTreeMap<ServiceId, PruneRefusal>) -> Vec<String> {
    let mut by_refusal: BTreeMap<&PruneRefusal, Vec<&ServiceId>> = BTreeMap::new();
    for (id, refusal) in kept {
        by_refusal.entry(refusal).or_default().push(id);
    }
    by_refusal
        .into_iter()
        .map(|(refusal, ids)| refusal.message(&ids))
        .collect()
}

/// The errors among `diagnostics`, each as `file:line:col: path: message`.
pub(crate) fn error_text(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A service's state with what ECS shows of it (its task definition and rollout), and nothing
/// else known yet.
pub(crate) fn observed(status: Status, live: Option<&LiveService>) -> ServiceState {
    ServiceState {
        status,
        manifest: None,
        desired_task_definition: None,
        live_task_definition: live.map(|s| s.task_definition_arn.clone()),
        rollout: live.and_then(primary_rollout),
        last_error: None,
        next_retry_seconds: None,
        pending_changes: Vec::new(),
        waiting: None,
    }
}

/// The PRIMARY deployment as `<rolloutState> <running>/<desired>`.
pub(crate) fn primary_rollout(service: &LiveService) -> Option<String> {
    let primary = service.deployments.iter().find(|d| d.status == "PRIMARY")?;
    Some(format!(
        "{} {}/{}",
        primary.rollout_state.as_deref().unwrap_or("-"),
        primary.running_count,
        primary.desired_count
    ))
}

#[cfg(test)]
mod tests;
