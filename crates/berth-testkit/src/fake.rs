//! In-process fakes of ECS and ECR behind the engine's traits, for unit tests that must not
//! need the emulator (and for time-dependent tests under tokio's paused clock).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use berth_core::image::EcrImage;
use berth_core::live::{
    Deployment, ImageResolution, LiveService, LiveTaskDefinition, ServiceEvent, ServiceLookup,
};
use berth_core::manifest::{ServiceId, ServiceManifest};
use berth_core::model::ecs::{ServiceSpec, TaskDefinitionSpec};
use berth_core::plan::desired_task_definition;
use berth_core::render::tags;
use berth_engine::ports::{EcsRead, EcsWrite, ImageRegistry, ServiceUpdate};
use tokio::time::Instant;

/// Errors the fakes return: only what a test asks for.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    /// The service does not exist in the fake.
    #[error("service {0} does not exist")]
    NoSuchService(ServiceId),
    /// The task definition ARN is not registered in the fake.
    #[error("task definition {0} does not exist")]
    NoSuchTaskDefinition(String),
    /// A failure the test injected for this operation.
    #[error("injected failure in {0}")]
    Injected(&'static str),
}

#[derive(Debug, Default)]
struct State {
    services: BTreeMap<ServiceId, LiveService>,
    task_definitions: BTreeMap<String, LiveTaskDefinition>,
    calls: Vec<&'static str>,
    failing: Vec<&'static str>,
    /// Task definition ARNs whose deregistration fails.
    failing_deregistrations: Vec<String>,
    /// Rollouts in flight: service -> (started, previous task definition).
    rollouts: BTreeMap<ServiceId, Rollout>,
    /// Substrings of images whose deployments fail (circuit breaker).
    failing_images: Vec<String>,
    /// How long a rollout takes (tokio time, so tests pause and advance it).
    rollout_time: Option<Duration>,
    next_event: u64,
}

#[derive(Debug, Clone)]
struct Rollout {
    started: Instant,
    previous: Option<String>,
    rolling_back: bool,
}

/// A fake ECS: services and task definitions in memory, every call recorded.
#[derive(Debug, Clone, Default)]
pub struct FakeEcs {
    state: Arc<Mutex<State>>,
}

impl FakeEcs {
    /// An empty account.
    pub fn new() -> Self {
        FakeEcs::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread poisons the lock; the data is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a service and the task definition it runs.
    pub fn insert(&self, service: LiveService, task_definition: LiveTaskDefinition) {
        let mut state = self.state();
        state
            .task_definitions
            .insert(task_definition.arn.clone(), task_definition);
        state.services.insert(service.id.clone(), service);
    }

    /// Adds a service exactly as berth would have applied `manifest` from `repository`.
    pub fn insert_applied(
        &self,
        manifest: &ServiceManifest,
        digests: &BTreeMap<String, String>,
        repository: &str,
    ) {
        let (service, task_definition) = applied(manifest, digests, repository, 1);
        self.insert(service, task_definition);
    }

    /// Changes a live service in place (drift, as someone in the console would).
    pub fn edit_service(&self, id: &ServiceId, edit: impl FnOnce(&mut LiveService)) {
        if let Some(service) = self.state().services.get_mut(id) {
            edit(service);
        }
    }

    /// Makes deployments of images containing `pattern` fail (the circuit breaker trips, and
    /// rolls back when the service's breaker has `rollback: true`).
    pub fn fail_images(&self, pattern: &str) {
        self.state().failing_images.push(pattern.to_string());
    }

    /// Sets how long rollouts take (default 2 s of tokio time).
    pub fn set_rollout_time(&self, time: Duration) {
        self.state().rollout_time = Some(time);
    }

    /// The mutating calls so far, in order.
    pub fn mutations(&self) -> Vec<&'static str> {
        self.calls()
            .into_iter()
            .filter(|c| MUTATIONS.contains(c))
            .collect()
    }

    /// The live service, as the fake holds it now.
    pub fn service(&self, id: &ServiceId) -> Option<LiveService> {
        self.state().services.get(id).cloned()
    }

    /// Every registered revision of `family`, oldest first.
    pub fn revisions(&self, family: &str) -> Vec<LiveTaskDefinition> {
        let mut revisions: Vec<LiveTaskDefinition> = (self.state().task_definitions.values())
            .filter(|td| td.family == family)
            .cloned()
            .collect();
        // By number: the map's ARN order puts `web:10` before `web:9`.
        revisions.sort_by_key(|td| td.revision);
        revisions
    }

    /// Stops failing calls (as after a restart).
    pub fn clear_failures(&self) {
        self.state().failing.clear();
    }

    /// Makes every later DeregisterTaskDefinition of `arn` fail (the call is still recorded).
    pub fn fail_deregistering(&self, arn: &str) {
        self.state().failing_deregistrations.push(arn.to_string());
    }

    /// Makes every later call of `operation` fail.
    pub fn fail(&self, operation: &'static str) {
        self.state().failing.push(operation);
    }

    /// The operations called so far, in order.
    pub fn calls(&self) -> Vec<&'static str> {
        self.state().calls.clone()
    }

    /// How many times `operation` was called.
    pub fn count(&self, operation: &str) -> usize {
        self.state()
            .calls
            .iter()
            .filter(|c| **c == operation)
            .count()
    }

    fn record(&self, operation: &'static str) -> Result<(), FakeError> {
        let mut state = self.state();
        state.calls.push(operation);
        if state.failing.contains(&operation) {
            return Err(FakeError::Injected(operation));
        }
        Ok(())
    }
}

/// The service and task definition ECS would hold after berth applied `manifest`.
pub fn applied(
    manifest: &ServiceManifest,
    digests: &BTreeMap<String, String>,
    repository: &str,
    revision: i32,
) -> (LiveService, LiveTaskDefinition) {
    let td_spec = desired_task_definition(manifest, digests);
    let family = manifest.family().to_string();
    let arn = format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}");
    let mut spec = manifest.spec.clone();
    spec.task_definition = None;
    let mut service_tags: BTreeMap<String, String> = spec
        .tags
        .iter()
        .flatten()
        .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
        .collect();
    service_tags.insert(tags::MANAGED_BY.into(), tags::MANAGED_BY_VALUE.into());
    service_tags.insert(
        tags::SOURCE.into(),
        format!("{repository}#{}", manifest.origin.file),
    );
    let desired = spec.desired_count.unwrap_or(1);
    let service = LiveService {
        id: manifest.id.clone(),
        arn: format!(
            "arn:aws:ecs:us-east-1:123456789012:service/{}/{}",
            manifest.id.cluster, manifest.id.name
        ),
        status: "ACTIVE".into(),
        spec,
        task_definition_arn: arn.clone(),
        tags: service_tags,
        role_arn: None,
        deployments: vec![Deployment {
            id: "ecs-svc/1".into(),
            status: "PRIMARY".into(),
            task_definition_arn: arn.clone(),
            rollout_state: Some("COMPLETED".into()),
            rollout_state_reason: None,
            desired_count: desired,
            running_count: desired,
            pending_count: 0,
            failed_tasks: 0,
        }],
        events: Vec::new(),
        running_count: desired,
        pending_count: 0,
    };
    let task_definition = LiveTaskDefinition {
        arn,
        family,
        revision,
        status: "ACTIVE".into(),
        spec: td_spec,
    };
    (service, task_definition)
}

/// The fake's mutating operations.
pub const MUTATIONS: &[&str] = &[
    "RegisterTaskDefinition",
    "CreateService",
    "UpdateService",
    "TagResource",
    "UntagResource",
    "DeregisterTaskDefinition",
];

const DEFAULT_ROLLOUT: Duration = Duration::from_secs(2);

impl State {
    fn event(&mut self, id: &ServiceId, message: String) {
        self.next_event += 1;
        let event = ServiceEvent {
            id: format!("event-{}", self.next_event),
            created_at: format!("t+{}", self.next_event),
            message: format!("(service {}) {message}", id.name),
        };
        if let Some(service) = self.services.get_mut(id) {
            service.events.insert(0, event);
        }
    }

    /// Starts a deployment of `task_definition` as ECS does on create/update.
    fn deploy(
        &mut self,
        id: &ServiceId,
        task_definition: &str,
        previous: Option<String>,
        rolling_back: bool,
    ) {
        let Some(service) = self.services.get_mut(id) else {
            return;
        };
        let desired = service.spec.desired_count.unwrap_or(1);
        for deployment in &mut service.deployments {
            if deployment.status == "PRIMARY" {
                deployment.status = "ACTIVE".into();
            }
        }
        let number = service.deployments.len() + 1;
        service.deployments.insert(
            0,
            Deployment {
                id: format!("ecs-svc/{number}"),
                status: "PRIMARY".into(),
                task_definition_arn: task_definition.to_string(),
                rollout_state: Some("IN_PROGRESS".into()),
                rollout_state_reason: None,
                desired_count: desired,
                running_count: 0,
                pending_count: desired,
                failed_tasks: 0,
            },
        );
        service.task_definition_arn = task_definition.to_string();
        self.rollouts.insert(
            id.clone(),
            Rollout {
                started: Instant::now(),
                previous,
                rolling_back,
            },
        );
        self.event(id, format!("has started {desired} tasks."));
    }

    /// Moves rollouts along to "now".
    fn advance(&mut self) {
        let rollout_time = self.rollout_time.unwrap_or(DEFAULT_ROLLOUT);
        let due: Vec<(ServiceId, Rollout)> = self
            .rollouts
            .iter()
            .filter(|(_, r)| r.started.elapsed() >= rollout_time)
            .map(|(id, r)| (id.clone(), r.clone()))
            .collect();
        for (id, rollout) in due {
            self.rollouts.remove(&id);
            if !self.services.contains_key(&id) {
                continue;
            }
            if !rollout.rolling_back && self.runs_failing_image(&id) {
                self.fail_rollout(id, rollout);
            } else {
                self.complete_rollout(&id);
            }
        }
    }

    /// Whether the task definition `id` runs has an image marked failing.
    fn runs_failing_image(&self, id: &ServiceId) -> bool {
        let Some(service) = self.services.get(id) else {
            return false;
        };
        self.task_definitions
            .get(&service.task_definition_arn)
            .into_iter()
            .flat_map(|td| td.spec.container_definitions.iter().flatten())
            .filter_map(|c| c.image.as_deref())
            .any(|image| {
                self.failing_images
                    .iter()
                    .any(|p| image.contains(p.as_str()))
            })
    }

    /// A rollout whose tasks fail to start: with the circuit breaker, FAILED (and rolled back
    /// when it says so); without, ECS keeps trying.
    fn fail_rollout(&mut self, id: ServiceId, rollout: Rollout) {
        let Some(service) = self.services.get_mut(&id) else {
            return;
        };
        let breaker = service
            .spec
            .deployment_configuration
            .as_ref()
            .and_then(|c| c.deployment_circuit_breaker.as_ref())
            .map(|b| (b.enable, b.rollback));
        match breaker {
            Some((true, rollback)) => {
                if let Some(primary) = service.deployments.first_mut() {
                    primary.rollout_state = Some("FAILED".into());
                    primary.rollout_state_reason =
                        Some("ECS deployment circuit breaker: tasks failed to start.".into());
                    primary.failed_tasks = 3;
                    primary.running_count = 0;
                    primary.pending_count = 0;
                }
                self.event(&id, "deployment failed: tasks failed to start.".into());
                if rollback && let Some(previous) = rollout.previous.clone() {
                    self.event(&id, "rolling back to the previous deployment.".into());
                    self.deploy(&id, &previous, None, true);
                }
            }
            _ => {
                if let Some(primary) = service.deployments.first_mut() {
                    primary.failed_tasks += 3;
                }
                // Without a circuit breaker ECS keeps trying.
                let retry = Rollout {
                    started: Instant::now(),
                    ..rollout
                };
                self.rollouts.insert(id, retry);
            }
        }
    }

    /// A rollout whose tasks all run: COMPLETED, the older deployments gone.
    fn complete_rollout(&mut self, id: &ServiceId) {
        let Some(service) = self.services.get_mut(id) else {
            return;
        };
        let desired = service.spec.desired_count.unwrap_or(1);
        service.deployments.truncate(1);
        if let Some(primary) = service.deployments.first_mut() {
            primary.rollout_state = Some("COMPLETED".into());
            primary.running_count = desired;
            primary.pending_count = 0;
        }
        service.running_count = desired;
        service.pending_count = 0;
        self.event(id, "has reached a steady state.".into());
    }
}

impl EcsWrite for FakeEcs {
    async fn register_task_definition(
        &self,
        spec: &TaskDefinitionSpec,
    ) -> Result<Arc<LiveTaskDefinition>, FakeError> {
        self.record("RegisterTaskDefinition")?;
        let mut state = self.state();
        let family = spec.family.clone().unwrap_or_default();
        let revision = i32::try_from(
            state
                .task_definitions
                .values()
                .filter(|td| td.family == family)
                .count()
                + 1,
        )
        .unwrap_or(i32::MAX);
        let td = LiveTaskDefinition {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}"),
            family,
            revision,
            status: "ACTIVE".into(),
            spec: spec.clone(),
        };
        state.task_definitions.insert(td.arn.clone(), td.clone());
        Ok(Arc::new(td))
    }

    async fn create_service(
        &self,
        id: &ServiceId,
        spec: &ServiceSpec,
        task_definition_arn: &str,
    ) -> Result<LiveService, FakeError> {
        self.record("CreateService")?;
        let mut state = self.state();
        let tags = spec
            .tags
            .iter()
            .flatten()
            .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
            .collect();
        let mut spec = spec.clone();
        spec.tags = None;
        state.services.insert(
            id.clone(),
            LiveService {
                id: id.clone(),
                arn: format!(
                    "arn:aws:ecs:us-east-1:123456789012:service/{}/{}",
                    id.cluster, id.name
                ),
                status: "ACTIVE".into(),
                spec,
                task_definition_arn: task_definition_arn.to_string(),
                tags,
                role_arn: None,
                deployments: Vec::new(),
                events: Vec::new(),
                running_count: 0,
                pending_count: 0,
            },
        );
        state.deploy(id, task_definition_arn, None, false);
        Ok(state.services[id].clone())
    }

    async fn update_service(
        &self,
        id: &ServiceId,
        update: &ServiceUpdate,
    ) -> Result<LiveService, FakeError> {
        self.record("UpdateService")?;
        let mut state = self.state();
        state.advance();
        let Some(service) = state.services.get_mut(id) else {
            return Err(FakeError::NoSuchService(id.clone()));
        };
        // Merge the fields sent over the live spec, as UpdateService does.
        if let (Ok(serde_json::Value::Object(mut live)), Ok(serde_json::Value::Object(sent))) = (
            serde_json::to_value(&service.spec),
            serde_json::to_value(&update.spec),
        ) {
            live.extend(sent);
            if let Ok(spec) = serde_json::from_value(serde_json::Value::Object(live)) {
                service.spec = spec;
            }
        }
        let previous = service.task_definition_arn.clone();
        match &update.task_definition_arn {
            Some(arn) if *arn != previous => state.deploy(id, arn, Some(previous), false),
            _ => {
                // A scaling: the PRIMARY keeps its rolloutState; its tasks follow over time.
                let mut scaling_out = false;
                if let Some(primary) = service.deployments.first_mut() {
                    primary.desired_count =
                        service.spec.desired_count.unwrap_or(primary.desired_count);
                    primary.running_count = primary.running_count.min(primary.desired_count);
                    primary.pending_count = primary.desired_count - primary.running_count;
                    scaling_out = primary.pending_count > 0;
                }
                if scaling_out && !state.rollouts.contains_key(id) {
                    let scaling = Rollout {
                        started: Instant::now(),
                        previous: None,
                        rolling_back: true, // nothing new is deployed, so nothing can fail
                    };
                    state.rollouts.insert(id.clone(), scaling);
                }
            }
        }
        Ok(state.services[id].clone())
    }

    async fn delete_service(&self, id: &ServiceId) -> Result<(), FakeError> {
        self.record("DeleteService")?;
        let mut state = self.state();
        match state.services.get_mut(id) {
            Some(service) => {
                // ECS keeps a deleted service as INACTIVE for a while.
                service.status = "INACTIVE".into();
                Ok(())
            }
            None => Err(FakeError::NoSuchService(id.clone())),
        }
    }

    async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), FakeError> {
        self.record("TagResource")?;
        let mut state = self.state();
        if let Some(service) = state.services.values_mut().find(|s| s.arn == arn) {
            service.tags.extend(tags.clone());
        }
        Ok(())
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), FakeError> {
        self.record("UntagResource")?;
        let mut state = self.state();
        if let Some(service) = state.services.values_mut().find(|s| s.arn == arn) {
            service.tags.retain(|key, _| !keys.contains(key));
        }
        Ok(())
    }

    async fn deregister_task_definition(&self, arn: &str) -> Result<(), FakeError> {
        self.record("DeregisterTaskDefinition")?;
        let mut state = self.state();
        if state.failing_deregistrations.iter().any(|a| a == arn) {
            return Err(FakeError::Injected("DeregisterTaskDefinition"));
        }
        match state.task_definitions.get_mut(arn) {
            Some(task_definition) => {
                // ECS keeps a deregistered revision, INACTIVE, readable by ARN.
                task_definition.status = "INACTIVE".into();
                Ok(())
            }
            None => Err(FakeError::NoSuchTaskDefinition(arn.to_string())),
        }
    }
}

impl EcsRead for FakeEcs {
    type Error = FakeError;

    async fn latest_active_task_definition_arn(
        &self,
        family: &str,
    ) -> Result<Option<String>, FakeError> {
        self.record("ListTaskDefinitions")?;
        Ok(self
            .state()
            .task_definitions
            .values()
            .filter(|td| td.family == family && td.status == "ACTIVE")
            .max_by_key(|td| td.revision)
            .map(|td| td.arn.clone()))
    }

    async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<ServiceLookup>, FakeError> {
        for _batch in names.chunks(10) {
            self.record("DescribeServices")?;
        }
        let mut state = self.state();
        state.advance();
        Ok(names
            .iter()
            .map(|name| {
                let id = ServiceId::new(cluster, name);
                match state.services.get(&id) {
                    Some(service) => ServiceLookup::Found(Box::new(described(service))),
                    None => ServiceLookup::Missing(id),
                }
            })
            .collect())
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<Arc<LiveTaskDefinition>, FakeError> {
        self.record("DescribeTaskDefinition")?;
        self.state()
            .task_definitions
            .get(arn)
            .cloned()
            .map(Arc::new)
            .ok_or_else(|| FakeError::NoSuchTaskDefinition(arn.to_string()))
    }

    async fn list_active_task_definitions(&self, family: &str) -> Result<Vec<String>, FakeError> {
        self.record("ListTaskDefinitions")?;
        let state = self.state();
        let mut active: Vec<&LiveTaskDefinition> = (state.task_definitions.values())
            .filter(|td| td.family == family && td.status == "ACTIVE")
            .collect();
        // As ListTaskDefinitions lists them: oldest first.
        active.sort_by_key(|td| td.revision);
        Ok(active.into_iter().map(|td| td.arn.clone()).collect())
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, FakeError> {
        self.record("ListServices")?;
        Ok(self
            .state()
            .services
            .values()
            .filter(|s| s.id.cluster == cluster)
            .map(|s| s.arn.clone())
            .collect())
    }
}

/// `service` as DescribeServices reports it: its tags also in `spec.tags`, as the AWS adapter
/// gives them (plans compare a manifest's tags with those).
fn described(service: &LiveService) -> LiveService {
    let mut described = service.clone();
    described.spec.tags = (!service.tags.is_empty()).then(|| {
        service
            .tags
            .iter()
            .map(|(key, value)| berth_core::model::ecs::Tag {
                key: Some(key.clone()),
                value: Some(value.clone()),
            })
            .collect()
    });
    described
}

/// A fake ECR: `repository:tag` → digest.
#[derive(Debug, Clone, Default)]
pub struct FakeRegistry {
    images: Arc<Mutex<BTreeMap<(String, String), String>>>,
    calls: Arc<Mutex<usize>>,
}

impl FakeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        FakeRegistry::default()
    }

    /// Pushes `repository:tag` with `digest`.
    pub fn push(&self, repository: &str, tag: &str, digest: &str) {
        self.images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((repository.into(), tag.into()), digest.into());
    }

    /// DescribeImages calls so far.
    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ImageRegistry for FakeRegistry {
    type Error = FakeError;

    async fn describe_images(
        &self,
        images: &[EcrImage],
    ) -> Result<Vec<ImageResolution>, FakeError> {
        let repositories: std::collections::BTreeSet<&str> =
            images.iter().map(|i| i.repository.as_str()).collect();
        *self.calls.lock().unwrap_or_else(|p| p.into_inner()) += repositories.len();
        let known = self.images.lock().unwrap_or_else(|p| p.into_inner());
        Ok(images
            .iter()
            .map(|image| {
                let reference = format!(
                    "{}.dkr.ecr.{}.amazonaws.com/{}:{}",
                    image.account,
                    image.region,
                    image.repository,
                    image.tag.as_deref().unwrap_or("latest")
                );
                let found = match (&image.digest, &image.tag) {
                    (Some(digest), _) => {
                        known.values().any(|d| d == digest).then(|| digest.clone())
                    }
                    (None, tag) => known
                        .get(&(
                            image.repository.clone(),
                            tag.clone().unwrap_or_else(|| "latest".into()),
                        ))
                        .cloned(),
                };
                match found {
                    Some(digest) => ImageResolution::Found { reference, digest },
                    None => ImageResolution::Missing {
                        reference,
                        reason: "ImageNotFound".into(),
                    },
                }
            })
            .collect())
    }
}
