//! Applying a plan: register (or reuse) task definitions, create and update services, follow
//! their rollouts. Services run concurrently (bounded); `dependsOn` orders services within a
//! cluster; one failing service never fails or delays the others.

use std::collections::{BTreeMap, BTreeSet};

use berth_core::diag::Severity;
use berth_core::live::{LiveTaskDefinition, ServiceEvent};
use berth_core::manifest::{ServiceId, ServiceManifest};
use berth_core::model::ecs::{ServiceSpec, Tag, TaskDefinitionSpec};
use berth_core::normalize::{self, ImageDigests};
use berth_core::plan::{Action, LiveState, Plan, ServicePlan, desired_task_definition};
use berth_core::render::{Provenance, tags};
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use tokio::sync::{Semaphore, watch};
use tracing::{Instrument, info, info_span, warn};

use crate::ports::{EcsWrite, ServiceUpdate};
use crate::rollout::{
    self, RolloutObserver, RolloutOutcome, RolloutPolls, RolloutTiming, SeenEvents,
};

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Services applied at once.
    pub concurrency: usize,
    /// Rollout following.
    pub rollout: RolloutTiming,
    /// Whether to follow rollouts at all (off: report `Progressing` right after the change).
    pub follow: bool,
    /// Repository and commit for ownership tags.
    pub provenance: Provenance,
    /// A service that starts only after every other service of this apply has finished: berth's
    /// own (docs/operations.md, "Upgrading berth"), whose update replaces the task running it.
    pub last: Option<ServiceId>,
    /// Once this turns true, no further service starts; the services already started finish
    /// their calls (docs/operations.md, "The container contract": SIGTERM).
    pub stop: Option<watch::Receiver<bool>>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: crate::defaults::CONCURRENCY,
            rollout: RolloutTiming::default(),
            follow: true,
            provenance: Provenance::default(),
            last: None,
            stop: None,
        }
    }
}

/// One mutating call berth made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum AppliedAction {
    /// RegisterTaskDefinition.
    RegisteredTaskDefinition {
        /// The new revision.
        arn: String,
    },
    /// An existing ACTIVE revision equal to the desired one was used instead of registering.
    ReusedTaskDefinition {
        /// The reused revision.
        arn: String,
    },
    /// CreateService.
    CreatedService,
    /// UpdateService with these fields (and `taskDefinition` when the revision changed).
    UpdatedService {
        /// The fields sent.
        fields: Vec<String>,
    },
    /// TagResource on the service.
    TaggedService,
    /// UntagResource on the service: tags the manifest no longer has.
    UntaggedService {
        /// The tag keys removed.
        keys: Vec<String>,
    },
}

/// How a service ended up.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status")]
pub enum ServiceOutcome {
    /// In sync: nothing to do, or the rollout completed.
    Synced,
    /// Changed, and the rollout had not finished when berth stopped following it.
    Progressing {
        /// Where it was.
        reason: String,
    },
    /// Could not be applied, or the rollout failed.
    Failed {
        /// What went wrong and what to do.
        reason: String,
        /// ECS's last service events, newest first.
        events: Vec<ServiceEvent>,
    },
    /// Not touched on purpose (suspended, or a dependency failed).
    Skipped {
        /// Why.
        reason: String,
    },
}

impl ServiceOutcome {
    /// Whether this counts as converged for `apply`'s exit code.
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            ServiceOutcome::Synced | ServiceOutcome::Skipped { .. }
        )
    }
}

/// What happened to one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceReport {
    /// The service (absent for a manifest file that did not parse).
    pub id: Option<ServiceId>,
    /// The mutating calls made, in order.
    pub actions: Vec<AppliedAction>,
    /// The result.
    #[serde(flatten)]
    pub outcome: ServiceOutcome,
}

/// What `apply` reports as it goes.
pub trait ApplyObserver: RolloutObserver {
    /// A mutating call succeeded.
    fn action(&self, id: &ServiceId, action: &AppliedAction);
    /// A service is done.
    fn finished(&self, report: &ServiceReport);
}

/// Applies `plan` (made from `manifests` against `live`) and reports per service.
pub async fn apply<E: EcsWrite>(
    ecs: &E,
    plan: &Plan,
    manifests: &[ServiceManifest],
    live: &LiveState,
    options: &ApplyOptions,
    observer: &dyn ApplyObserver,
) -> Vec<ServiceReport> {
    let by_id: BTreeMap<&ServiceId, &ServiceManifest> =
        manifests.iter().map(|m| (&m.id, m)).collect();
    let digests: ImageDigests = berth_core::plan::digests(&live.images);
    let mut finished = Finished::new(observer);
    let mut waiting: Vec<(&ServicePlan, &ServiceId)> = Vec::new();
    for service in &plan.services {
        match (&service.id, &service.action) {
            (Some(_), Action::WouldPrune { .. }) => {} // pruning is the daemon's, under its own rules
            (Some(id), _) if by_id.contains_key(id) => waiting.push((service, id)),
            (id, action) => finished.report(id.clone(), not_applicable(action)),
        }
    }

    // A dependency outside this plan (in sync, or not being changed) holds nobody back.
    let in_plan: BTreeSet<ServiceId> = plan.services.iter().filter_map(|s| s.id.clone()).collect();
    let polls = RolloutPolls::new(ecs, options.rollout.poll_interval / 2);
    let changing = Semaphore::new(options.concurrency.max(1));
    let context = Context {
        ecs,
        polls: &polls,
        changing: &changing,
        live,
        digests: &digests,
        options,
        observer,
    };
    let mut running = FuturesUnordered::new();
    loop {
        if context.stopping() {
            for (_, id) in waiting.drain(..) {
                finished.report(Some(id.clone()), context.stopped());
            }
        }
        // Start every waiting service whose dependencies are done: at most `concurrency` of
        // them make their calls at once (`changing`); following a rollout holds no slot. The
        // `last` service (berth's own) is looked at only once nothing else runs or can start.
        for last_pass in [false, true] {
            if last_pass && !running.is_empty() {
                break;
            }
            let mut index = 0;
            while index < waiting.len() {
                let (service, id) = waiting[index];
                let manifest = by_id[id];
                if (options.last.as_ref() == Some(id)) != last_pass {
                    index += 1;
                    continue;
                }
                match readiness(manifest, &finished.done, &in_plan) {
                    Readiness::Waiting => {
                        index += 1;
                        continue;
                    }
                    Readiness::DependencyFailed(reason) => {
                        finished.report(Some(id.clone()), ServiceOutcome::Skipped { reason });
                        // Not converged either: its own dependents are skipped in turn.
                        finished.done.insert(id.clone(), false);
                    }
                    Readiness::Ready => {
                        // `service` repeats the identity because JSON logs put the span's own
                        // name under "name" too, which hides the `name` field from log queries.
                        let span = info_span!("service", cluster = %id.cluster, name = %id.name, service = %id);
                        running.push(apply_service(&context, service, manifest).instrument(span));
                    }
                }
                waiting.remove(index);
            }
        }
        match running.next().await {
            Some(report) => finished.push(report),
            None => {
                // Only services waiting on dependencies that will never finish (cannot happen
                // with validated manifests: cycles are rejected at load). Report, never hang.
                for (_, id) in waiting.drain(..) {
                    let reason = "dependencies never finished".to_string();
                    finished.report(Some(id.clone()), ServiceOutcome::Skipped { reason });
                }
                break;
            }
        }
    }
    finished.reports
}

/// What every service's apply shares.
struct Context<'a, E> {
    ecs: &'a E,
    polls: &'a RolloutPolls<'a, E>,
    changing: &'a Semaphore,
    live: &'a LiveState,
    digests: &'a ImageDigests,
    options: &'a ApplyOptions,
    observer: &'a dyn ApplyObserver,
}

impl<E: EcsWrite> Context<'_, E> {
    /// Whether berth is shutting down ([`ApplyOptions::stop`]).
    fn stopping(&self) -> bool {
        self.options
            .stop
            .as_ref()
            .is_some_and(|stop| *stop.borrow())
    }

    /// The outcome of a service that never started because berth is shutting down.
    fn stopped(&self) -> ServiceOutcome {
        ServiceOutcome::Skipped {
            reason: "berth is shutting down; the next run applies it".into(),
        }
    }

    fn never_started(&self, id: &ServiceId) -> ServiceReport {
        ServiceReport {
            id: Some(id.clone()),
            actions: Vec::new(),
            outcome: self.stopped(),
        }
    }

    /// A slot to make calls in, or `None` when berth began shutting down while this service
    /// waited for one: it then makes no call at all.
    async fn slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let slot = self.changing.acquire().await.ok()?;
        (!self.stopping()).then_some(slot)
    }
}

/// The services done so far: their reports, in the order they finished, and whether each
/// converged (what its dependents wait for).
struct Finished<'o> {
    observer: &'o dyn ApplyObserver,
    reports: Vec<ServiceReport>,
    done: BTreeMap<ServiceId, bool>,
}

impl<'o> Finished<'o> {
    fn new(observer: &'o dyn ApplyObserver) -> Self {
        Finished {
            observer,
            reports: Vec::new(),
            done: BTreeMap::new(),
        }
    }

    /// A service that made no call ends as `outcome`.
    fn report(&mut self, id: Option<ServiceId>, outcome: ServiceOutcome) {
        self.push(ServiceReport {
            id,
            actions: Vec::new(),
            outcome,
        });
    }

    fn push(&mut self, report: ServiceReport) {
        if let Some(id) = &report.id {
            // Skipped services (suspended) do not block their dependents.
            self.done.insert(id.clone(), report.outcome.is_ok());
        }
        self.observer.finished(&report);
        self.reports.push(report);
    }
}

/// Whether a service can start, given which services are done.
enum Readiness {
    /// A dependency in this plan has not finished.
    Waiting,
    /// A dependency did not converge: skipped, with this reason.
    DependencyFailed(String),
    /// Every dependency converged, or is not being changed.
    Ready,
}

fn readiness(
    manifest: &ServiceManifest,
    done: &BTreeMap<ServiceId, bool>,
    in_plan: &BTreeSet<ServiceId>,
) -> Readiness {
    let id = &manifest.id;
    let dependencies: Vec<ServiceId> = manifest
        .metadata
        .depends_on
        .iter()
        .map(|name| ServiceId::new(&id.cluster, name))
        .collect();
    if dependencies
        .iter()
        .any(|d| !done.contains_key(d) && in_plan.contains(d))
    {
        return Readiness::Waiting;
    }
    let failed: Vec<String> = dependencies
        .iter()
        .filter(|d| done.get(*d) == Some(&false))
        .map(|d| d.name.clone())
        .collect();
    if failed.is_empty() {
        Readiness::Ready
    } else {
        Readiness::DependencyFailed(format!(
            "dependency {} did not converge; fix it first",
            failed.join(", ")
        ))
    }
}

fn not_applicable(action: &Action) -> ServiceOutcome {
    match action {
        Action::Invalid { diagnostics } => ServiceOutcome::Failed {
            reason: diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            events: Vec::new(),
        },
        _ => ServiceOutcome::Skipped {
            reason: format!("{} without a manifest", action.name()),
        },
    }
}

/// The ownership tags for this apply, as ECS tags.
fn ownership_tags(provenance: &Provenance, manifest: &ServiceManifest) -> Vec<Tag> {
    provenance
        .ownership_tags(manifest)
        .into_iter()
        .map(|(key, value)| Tag {
            key: Some(key.to_string()),
            value: Some(value),
        })
        .collect()
}

/// `ownership` and the [`tags::TASK_DEFINITION`] proof that a service running `arn` runs the
/// revision its manifest asks for: written only with a change that made it so.
fn with_proof(
    mut ownership: Vec<Tag>,
    manifest: &ServiceManifest,
    digests: &ImageDigests,
    arn: &str,
) -> Vec<Tag> {
    ownership.push(Tag {
        key: Some(tags::TASK_DEFINITION.to_string()),
        value: Some(berth_core::plan::task_definition_proof(
            manifest, digests, arn,
        )),
    });
    ownership
}

/// `tags` with berth's ownership tags replacing any user tags of the same key.
fn with_ownership(tags: Option<Vec<Tag>>, ownership: &[Tag]) -> Option<Vec<Tag>> {
    let mut tags: Vec<Tag> = tags
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !ownership.iter().any(|o| o.key == t.key))
        .collect();
    tags.extend(ownership.iter().cloned());
    Some(tags)
}

async fn apply_service<E: EcsWrite>(
    context: &Context<'_, E>,
    service: &ServicePlan,
    manifest: &ServiceManifest,
) -> ServiceReport {
    let id = &manifest.id;
    let mut actions = Vec::new();
    let outcome = match &service.action {
        Action::NoChange => ServiceOutcome::Synced,
        Action::Suspended { changes } => ServiceOutcome::Skipped {
            reason: format!("suspended ({} differences left alone)", changes.len()),
        },
        Action::Invalid { .. } | Action::WouldPrune { .. } => not_applicable(&service.action),
        Action::Conflict { owner } => ServiceOutcome::Failed {
            reason: berth_core::plan::conflict_reason(owner),
            events: Vec::new(),
        },
        Action::ImageMissing { images } => failed(berth_core::plan::image_missing_reason(images)),
        Action::RequiresReplacement { fields, .. } => {
            failed(berth_core::plan::replacement_reason(fields))
        }
        Action::Create { .. } | Action::Update { .. } => {
            // A slot is held for the calls only: following the rollout holds none.
            let Some(slot) = context.slot().await else {
                return context.never_started(id);
            };
            let called = make_calls(context, service, manifest, &mut actions).await;
            drop(slot);
            match called {
                Ok(Some((arn, seen))) => {
                    follow(
                        context.polls,
                        id,
                        &arn,
                        seen,
                        context.options,
                        context.observer,
                    )
                    .await
                }
                Ok(None) => ServiceOutcome::Synced,
                Err(reason) => failed(reason),
            }
        }
    };
    ServiceReport {
        id: Some(id.clone()),
        actions,
        outcome,
    }
}

/// The calls that create or update one service; the revision to follow, if one was deployed.
async fn make_calls<E: EcsWrite>(
    context: &Context<'_, E>,
    service: &ServicePlan,
    manifest: &ServiceManifest,
    actions: &mut Vec<AppliedAction>,
) -> Result<Option<(String, SeenEvents)>, String> {
    let Context {
        ecs,
        live,
        digests,
        options,
        observer,
        ..
    } = *context;
    match &service.action {
        Action::Update {
            changes,
            new_task_definition,
        } => {
            let live_service = live.services.get(&manifest.id);
            let running = live_service.map(|s| s.task_definition_arn.as_str());
            update(
                ecs,
                manifest,
                live_service,
                Known::of(live, manifest, running),
                changes,
                *new_task_definition,
                digests,
                options,
                observer,
                actions,
            )
            .await
        }
        _ => {
            let known = Known::of(live, manifest, None);
            create(ecs, manifest, digests, known, options, observer, actions)
                .await
                .map(Some)
        }
    }
}

fn failed(reason: String) -> ServiceOutcome {
    ServiceOutcome::Failed {
        reason,
        events: Vec::new(),
    }
}

async fn follow<E: EcsWrite>(
    polls: &RolloutPolls<'_, E>,
    id: &ServiceId,
    task_definition_arn: &str,
    seen: SeenEvents,
    options: &ApplyOptions,
    observer: &dyn ApplyObserver,
) -> ServiceOutcome {
    if !options.follow {
        return ServiceOutcome::Progressing {
            reason: "not followed".into(),
        };
    }
    match rollout::follow(
        polls,
        id,
        task_definition_arn,
        seen,
        options.rollout,
        observer,
    )
    .await
    {
        RolloutOutcome::Completed => {
            info!(task_definition = task_definition_arn, "rollout completed");
            ServiceOutcome::Synced
        }
        RolloutOutcome::Failed { reason, events } => {
            warn!(%reason, "rollout failed");
            ServiceOutcome::Failed { reason, events }
        }
        RolloutOutcome::DeadlineExceeded { state } => ServiceOutcome::Progressing {
            reason: format!("progress deadline passed: {state}"),
        },
        RolloutOutcome::Unobservable { reason } => ServiceOutcome::Progressing { reason },
    }
}

/// Whether two task definitions are the same revision for berth: equal once normalized (ECS
/// defaults filled, keyed sets, images as digests), berth's own `berth:*` tags aside. This is
/// what decides reusing a family's latest revision instead of registering another, here and in
/// adapters that look for a revision whose RegisterTaskDefinition answer was lost.
pub fn same_task_definition(
    a: &TaskDefinitionSpec,
    b: &TaskDefinitionSpec,
    digests: &ImageDigests,
) -> bool {
    let comparable = |td: &TaskDefinitionSpec| {
        let mut td = td.clone();
        td.tags = td.tags.map(|t| {
            t.into_iter()
                .filter(|t| !t.key.as_deref().is_some_and(|k| k.starts_with("berth:")))
                .collect()
        });
        normalize::task_definition(&td, digests)
    };
    comparable(a) == comparable(b)
}

/// What is known of a family before registering into it.
#[derive(Debug, Clone, Copy)]
struct Known<'a> {
    /// The revision the service runs (none for a service to create).
    running: Option<&'a str>,
    /// The family's latest ACTIVE revision, when the live reads already listed it
    /// (`LiveState::latest_revisions`).
    latest: Option<&'a Option<String>>,
}

impl<'a> Known<'a> {
    fn of(live: &'a LiveState, manifest: &ServiceManifest, running: Option<&'a str>) -> Self {
        Known {
            running,
            latest: live.latest_revisions.get(manifest.family()),
        }
    }

    /// The same, once the latest revision must be listed again (after a register failed).
    fn relist(self) -> Self {
        Known {
            latest: None,
            ..self
        }
    }
}

/// The family's latest ACTIVE revision when it is the same as `desired`. When that revision is
/// the one the service runs, the plan already found it differs: nothing to describe, nothing to
/// reuse.
async fn reusable<E: EcsWrite>(
    ecs: &E,
    desired: &TaskDefinitionSpec,
    digests: &ImageDigests,
    family: &str,
    known: Known<'_>,
) -> Result<Option<String>, String> {
    let latest = match known.latest {
        Some(latest) => latest.clone(),
        None => ecs
            .latest_active_task_definition_arn(family)
            .await
            .map_err(|e| format!("cannot list task definitions of family {family}: {e}"))?,
    };
    let Some(latest) = latest.filter(|arn| Some(arn.as_str()) != known.running) else {
        return Ok(None);
    };
    let latest: std::sync::Arc<LiveTaskDefinition> = ecs
        .describe_task_definition(&latest)
        .await
        .map_err(|e| format!("cannot describe task definition {latest}: {e}"))?;
    Ok(same_task_definition(&latest.spec, desired, digests).then(|| latest.arn.clone()))
}

/// The revision to run: the family's latest ACTIVE one when it already equals `desired`
/// (so a crash between register and update leaves no duplicate), else a new one. A failed
/// RegisterTaskDefinition may have taken effect with only its answer lost (a timeout, a
/// dropped connection): the family is looked at again before the failure is reported, and an
/// equal revision found then is used.
async fn reuse_or_register<E: EcsWrite>(
    ecs: &E,
    desired: &TaskDefinitionSpec,
    digests: &ImageDigests,
    known: Known<'_>,
    id: &ServiceId,
    observer: &dyn ApplyObserver,
    actions: &mut Vec<AppliedAction>,
) -> Result<String, String> {
    let family = desired.family.clone().unwrap_or_default();
    let reused = match reusable(ecs, desired, digests, &family, known).await? {
        Some(arn) => {
            info!(task_definition = %arn, "reusing equal task definition revision");
            arn
        }
        None => match ecs.register_task_definition(desired).await {
            Ok(registered) => {
                info!(task_definition = %registered.arn, "registered task definition");
                let action = AppliedAction::RegisteredTaskDefinition {
                    arn: registered.arn.clone(),
                };
                observer.action(id, &action);
                actions.push(action);
                return Ok(registered.arn.clone());
            }
            Err(error) => match reusable(ecs, desired, digests, &family, known.relist()).await {
                Ok(Some(arn)) => {
                    warn!(task_definition = %arn, %error,
                        "RegisterTaskDefinition failed, but ECS holds an equal revision: using it");
                    arn
                }
                _ => return Err(format!("RegisterTaskDefinition failed: {error}")),
            },
        },
    };
    let action = AppliedAction::ReusedTaskDefinition {
        arn: reused.clone(),
    };
    observer.action(id, &action);
    actions.push(action);
    Ok(reused)
}

fn desired_with_tags(
    manifest: &ServiceManifest,
    digests: &ImageDigests,
    ownership: &[Tag],
) -> TaskDefinitionSpec {
    let mut td = desired_task_definition(manifest, digests);
    td.tags = with_ownership(td.tags.take(), ownership);
    td
}

async fn create<E: EcsWrite>(
    ecs: &E,
    manifest: &ServiceManifest,
    digests: &ImageDigests,
    known: Known<'_>,
    options: &ApplyOptions,
    observer: &dyn ApplyObserver,
    actions: &mut Vec<AppliedAction>,
) -> Result<(String, SeenEvents), String> {
    let ownership = ownership_tags(&options.provenance, manifest);
    let desired = desired_with_tags(manifest, digests, &ownership);
    let arn = reuse_or_register(
        ecs,
        &desired,
        digests,
        known,
        &manifest.id,
        observer,
        actions,
    )
    .await?;
    let mut spec = manifest.spec.clone();
    spec.task_definition = None;
    spec.tags = with_ownership(
        spec.tags.take(),
        &with_proof(ownership, manifest, digests, &arn),
    );
    let created = ecs
        .create_service(&manifest.id, &spec, &arn)
        .await
        .map_err(|e| format!("CreateService failed: {e}"))?;
    info!(task_definition = %arn, "created service");
    observer.action(&manifest.id, &AppliedAction::CreatedService);
    actions.push(AppliedAction::CreatedService);
    Ok((arn, SeenEvents::baseline(&created)))
}

/// The top-level spec fields a plan's changes touch (`desiredCount`, `networkConfiguration`).
fn changed_fields(changes: &[berth_core::normalize::Change]) -> BTreeSet<String> {
    changes
        .iter()
        .filter(|c| !c.path.starts_with("taskDefinition."))
        .filter_map(|c| c.path.split('.').next().map(str::to_string))
        .collect()
}

/// A spec with only `fields` set, from `desired`. What the manifest no longer sets is put back
/// to ECS's default, since UpdateService leaves a field it is not sent as it is: a removed list
/// is sent empty (load balancers, registries, ...), a removed `healthCheckGracePeriodSeconds`
/// as 0, and a removed scalar (also inside an object, e.g.
/// `deploymentConfiguration.deploymentCircuitBreaker.enable`) as the default the plan compared
/// against (`propagateTags: NONE`, `enableExecuteCommand: false`).
fn partial_spec(
    desired: &ServiceSpec,
    fields: &BTreeSet<String>,
    changes: &[berth_core::normalize::Change],
) -> Result<ServiceSpec, String> {
    use serde_json::Value;
    let Ok(Value::Object(all)) = serde_json::to_value(desired) else {
        return Err("the service spec does not serialize".into());
    };
    let mut partial = serde_json::Map::new();
    for field in fields {
        match all.get(field) {
            Some(value) => {
                partial.insert(field.clone(), value.clone());
            }
            None if LIST_FIELDS.contains(&field.as_str()) => {
                partial.insert(field.clone(), Value::Array(Vec::new()));
            }
            None if field == "healthCheckGracePeriodSeconds" => {
                partial.insert(field.clone(), Value::from(0));
            }
            None => {}
        }
    }
    // Defaults for scalars the manifest leaves out: top-level ones, and inside the objects
    // whose members are all plain fields.
    for change in changes {
        let Some(new) = change
            .new
            .as_ref()
            .filter(|v| !v.is_object() && !v.is_array())
        else {
            continue;
        };
        let path: Vec<&str> = change.path.split('.').collect();
        if fields.contains(path[0]) && (path.len() == 1 || PLAIN_OBJECT_FIELDS.contains(&path[0])) {
            set_if_absent(&mut partial, &path, new);
        }
    }
    serde_json::from_value(Value::Object(partial))
        .map_err(|e| format!("cannot build the UpdateService input: {e}"))
}

/// Service fields that are objects of plain fields all the way down (no maps, no lists keyed by
/// name), so a change path into one names fields only: generated from the ECS model.
const PLAIN_OBJECT_FIELDS: &[&str] = berth_core::model::ecs::SERVICE_PLAIN_OBJECT_FIELDS;

/// Sets `path` in `object` to `value` unless something is there, creating objects on the way;
/// stops at anything that is not an object.
fn set_if_absent(
    object: &mut serde_json::Map<String, serde_json::Value>,
    path: &[&str],
    value: &serde_json::Value,
) {
    match path {
        [] => {}
        [last] => {
            object.entry(*last).or_insert_with(|| value.clone());
        }
        [first, rest @ ..] => {
            if let serde_json::Value::Object(inner) = object
                .entry(*first)
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()))
            {
                set_if_absent(inner, rest, value);
            }
        }
    }
}

/// Service fields that are lists (clearing one means sending `[]`): generated from the ECS
/// model. `tags` is one, but never reaches `partial_spec`: tags go through TagResource.
const LIST_FIELDS: &[&str] = berth_core::model::ecs::SERVICE_LIST_FIELDS;

#[allow(clippy::too_many_arguments)]
async fn update<E: EcsWrite>(
    ecs: &E,
    manifest: &ServiceManifest,
    live_service: Option<&berth_core::live::LiveService>,
    known: Known<'_>,
    changes: &[berth_core::normalize::Change],
    new_task_definition: bool,
    digests: &ImageDigests,
    options: &ApplyOptions,
    observer: &dyn ApplyObserver,
    actions: &mut Vec<AppliedAction>,
) -> Result<Option<(String, SeenEvents)>, String> {
    let id = &manifest.id;
    let Some(live_service) = live_service else {
        return Err("the service disappeared between plan and apply; run again".into());
    };
    let ownership = ownership_tags(&options.provenance, manifest);
    let mut fields = changed_fields(changes);
    let tags_changed = fields.remove("tags");
    let mut spec = manifest.spec.clone();
    spec.task_definition = None;
    let partial = partial_spec(&spec, &fields, changes)?;
    let task_definition_arn = if new_task_definition {
        let desired = desired_with_tags(manifest, digests, &ownership);
        Some(reuse_or_register(ecs, &desired, digests, known, id, observer, actions).await?)
    } else {
        None
    };
    let update = ServiceUpdate {
        task_definition_arn: task_definition_arn.clone(),
        spec: partial,
    };
    let mut seen = SeenEvents::baseline(live_service);
    let mut followed = None;
    if task_definition_arn.is_some() || !fields.is_empty() {
        let updated = ecs
            .update_service(id, &update)
            .await
            .map_err(|e| format!("UpdateService failed: {e}"))?;
        let mut sent: Vec<String> = fields.iter().cloned().collect();
        if task_definition_arn.is_some() {
            sent.insert(0, "taskDefinition".into());
        }
        info!(fields = ?sent, "updated service");
        let action = AppliedAction::UpdatedService { fields: sent };
        observer.action(id, &action);
        actions.push(action);
        seen = SeenEvents::baseline(&updated);
        followed =
            Some(task_definition_arn.unwrap_or_else(|| live_service.task_definition_arn.clone()));
    }
    // Tags are not part of UpdateService; the revision tag moves with every change berth makes.
    if tags_changed || followed.is_some() {
        let runs = followed
            .as_deref()
            .unwrap_or(&live_service.task_definition_arn);
        let ownership = with_proof(ownership, manifest, digests, runs);
        let all: BTreeMap<String, String> = with_ownership(spec.tags.clone(), &ownership)
            .into_iter()
            .flatten()
            .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
            .collect();
        ecs.tag_resource(&live_service.arn, &all)
            .await
            .map_err(|e| format!("TagResource failed: {e}"))?;
        info!(tags = ?all, "tagged service");
        observer.action(id, &AppliedAction::TaggedService);
        actions.push(AppliedAction::TaggedService);
        // Tags the manifest dropped (berth's own and AWS's are never removed).
        let dropped: Vec<String> = live_service
            .tags
            .keys()
            .filter(|key| !all.contains_key(*key))
            .filter(|key| !key.starts_with("berth:") && !key.starts_with("aws:"))
            .cloned()
            .collect();
        if tags_changed && !dropped.is_empty() {
            ecs.untag_resource(&live_service.arn, &dropped)
                .await
                .map_err(|e| format!("UntagResource failed: {e}"))?;
            info!(keys = ?dropped, "untagged service");
            let action = AppliedAction::UntaggedService { keys: dropped };
            observer.action(id, &action);
            actions.push(action);
        }
    }
    Ok(followed.map(|arn| (arn, seen)))
}
