//! In-process fakes of ECS and ECR behind the engine's traits, for unit tests that must not
//! need the emulator (and for time-dependent tests under tokio's paused clock).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use berth_core::image::EcrImage;
use berth_core::live::{
    Deployment, ImageResolution, LiveService, LiveTaskDefinition, ServiceLookup,
};
use berth_core::manifest::{ServiceId, ServiceManifest};
use berth_core::plan::desired_task_definition;
use berth_core::render::tags;
use berth_engine::ports::{EcsRead, ImageRegistry};

/// Errors the fakes return: only what a test asks for.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
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

impl EcsRead for FakeEcs {
    type Error = FakeError;

    async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<ServiceLookup>, FakeError> {
        for _batch in names.chunks(10) {
            self.record("DescribeServices")?;
        }
        let state = self.state();
        Ok(names
            .iter()
            .map(|name| {
                let id = ServiceId::new(cluster, name);
                match state.services.get(&id) {
                    Some(service) => ServiceLookup::Found(Box::new(service.clone())),
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
