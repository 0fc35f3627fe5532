//! The engine's view of AWS: the few operations it needs, as traits.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use berth_core::image::EcrImage;
use berth_core::live::{ImageResolution, LiveService, LiveTaskDefinition, ServiceLookup};
use berth_core::manifest::ServiceId;
use berth_core::model::ecs::{ServiceSpec, TaskDefinitionSpec};

/// Reading ECS.
pub trait EcsRead: Send + Sync {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Describes services by name in one cluster (with tags). The implementation batches the
    /// API's limit of 10 names per call; names ECS does not know come back as `Missing`.
    fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<ServiceLookup>, Self::Error>> + Send;

    /// Describes one task definition revision by full ARN (with tags). Revisions are immutable,
    /// so implementations cache them.
    fn describe_task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Arc<LiveTaskDefinition>, Self::Error>> + Send;

    /// The ARN of the family's latest ACTIVE revision, if any (one ListTaskDefinitions, newest
    /// first): what the reuse check compares with before registering.
    fn latest_active_task_definition_arn(
        &self,
        family: &str,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;

    /// ARNs of every service in a cluster.
    fn list_services(
        &self,
        cluster: &str,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// ARNs of every ACTIVE revision of exactly `family` (ListTaskDefinitions, all pages), in
    /// any order. `familyPrefix` matches prefixes, so implementations keep only the ARNs whose
    /// family is `family` ([`crate::retention::family_and_revision`]).
    fn list_active_task_definitions(
        &self,
        family: &str,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// Forgets cached task definitions other than `keep` (ARNs). A long-running daemon sees a
    /// new revision with every deploy; only those that services still run are worth keeping.
    fn retain_task_definitions(&self, keep: &BTreeSet<String>) -> impl Future<Output = ()> + Send {
        let _ = keep;
        std::future::ready(())
    }
}

/// Reading the image registry (ECR).
pub trait ImageRegistry: Send + Sync {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Resolves image tags (or digests) to digests, batched per repository. Answers one
    /// resolution per image, in the order asked.
    fn describe_images(
        &self,
        images: &[EcrImage],
    ) -> impl Future<Output = Result<Vec<ImageResolution>, Self::Error>> + Send;
}

/// Changing ECS. Every method is one mutating API call (berth counts and logs them).
pub trait EcsWrite: EcsRead {
    /// Registers a task definition revision (`spec.family` set, `spec.tags` including berth's
    /// ownership tags) and returns it as ECS stored it.
    fn register_task_definition(
        &self,
        spec: &TaskDefinitionSpec,
    ) -> impl Future<Output = Result<Arc<LiveTaskDefinition>, Self::Error>> + Send;

    /// Creates a service running `task_definition_arn` (`spec.tags` include ownership tags).
    fn create_service(
        &self,
        id: &ServiceId,
        spec: &ServiceSpec,
        task_definition_arn: &str,
    ) -> impl Future<Output = Result<LiveService, Self::Error>> + Send;

    /// Updates a service: the fields set in `update.spec` and, if given, the task definition.
    fn update_service(
        &self,
        id: &ServiceId,
        update: &ServiceUpdate,
    ) -> impl Future<Output = Result<LiveService, Self::Error>> + Send;

    /// Deletes a service, its running tasks included (`force`): one call, so a failure leaves
    /// the service as it was.
    fn delete_service(
        &self,
        id: &ServiceId,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Adds or overwrites tags on a resource (service or task definition) by ARN.
    fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Removes tags by key from a resource (service or task definition) by ARN.
    fn untag_resource(
        &self,
        arn: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Deregisters one task definition revision by full ARN (DeregisterTaskDefinition): it
    /// becomes INACTIVE, stays readable, and what already runs it is unaffected.
    fn deregister_task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// An `UpdateService` call: only what changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceUpdate {
    /// The full ARN of the revision to run, when it changes.
    pub task_definition_arn: Option<String>,
    /// The fields to change; every `None` field is left as it is.
    pub spec: ServiceSpec,
}

// A shared adapter is an adapter: the daemon holds one `Arc` for ECS and ECR reads and writes.
impl<T: EcsRead> EcsRead for Arc<T> {
    type Error = T::Error;

    fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<ServiceLookup>, Self::Error>> + Send {
        T::describe_services(self, cluster, names)
    }

    fn describe_task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Arc<LiveTaskDefinition>, Self::Error>> + Send {
        T::describe_task_definition(self, arn)
    }

    fn latest_active_task_definition_arn(
        &self,
        family: &str,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send {
        T::latest_active_task_definition_arn(self, family)
    }

    fn list_services(
        &self,
        cluster: &str,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send {
        T::list_services(self, cluster)
    }

    fn list_active_task_definitions(
        &self,
        family: &str,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send {
        T::list_active_task_definitions(self, family)
    }

    fn retain_task_definitions(&self, keep: &BTreeSet<String>) -> impl Future<Output = ()> + Send {
        T::retain_task_definitions(self, keep)
    }
}

impl<T: ImageRegistry> ImageRegistry for Arc<T> {
    type Error = T::Error;

    fn describe_images(
        &self,
        images: &[EcrImage],
    ) -> impl Future<Output = Result<Vec<ImageResolution>, Self::Error>> + Send {
        T::describe_images(self, images)
    }
}

impl<T: EcsWrite> EcsWrite for Arc<T> {
    fn register_task_definition(
        &self,
        spec: &TaskDefinitionSpec,
    ) -> impl Future<Output = Result<Arc<LiveTaskDefinition>, Self::Error>> + Send {
        T::register_task_definition(self, spec)
    }

    fn create_service(
        &self,
        id: &ServiceId,
        spec: &ServiceSpec,
        task_definition_arn: &str,
    ) -> impl Future<Output = Result<LiveService, Self::Error>> + Send {
        T::create_service(self, id, spec, task_definition_arn)
    }

    fn update_service(
        &self,
        id: &ServiceId,
        update: &ServiceUpdate,
    ) -> impl Future<Output = Result<LiveService, Self::Error>> + Send {
        T::update_service(self, id, update)
    }

    fn delete_service(
        &self,
        id: &ServiceId,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        T::delete_service(self, id)
    }

    fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        T::tag_resource(self, arn, tags)
    }

    fn untag_resource(
        &self,
        arn: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        T::untag_resource(self, arn, keys)
    }

    fn deregister_task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        T::deregister_task_definition(self, arn)
    }
}

/// One record of the lease table (`lease.table`): a target's lease, or a replica's heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    /// `target#<name>` or `replica#<id>` ([`lease_key`]).
    pub key: String,
    /// The replica that holds it.
    pub holder: String,
    /// When it ends, in milliseconds since the Unix epoch, by the holder's clock.
    pub expires_ms: u64,
    /// Bumped by every claim that changes the holder: a new holder always sees a new version.
    pub version: u64,
}

/// The key of a target's lease, or of a replica's heartbeat, in the lease table.
pub fn lease_key(kind: LeaseKind, name: &str) -> String {
    match kind {
        LeaseKind::Target => format!("target#{name}"),
        LeaseKind::Replica => format!("replica#{name}"),
    }
}

/// What a [`LeaseRecord`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseKind {
    /// Who reconciles a target.
    Target,
    /// A replica that is alive (counted for the fair share).
    Replica,
}

/// The lease table (DynamoDB in `berth-aws`, a map in `berth-testkit::fake`). Every write is
/// conditional, so two replicas never both hold one key.
pub trait LeaseStore: Send + Sync {
    /// The adapter's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every record, read consistently.
    fn scan(&self) -> impl Future<Output = Result<Vec<LeaseRecord>, Self::Error>> + Send;

    /// Takes or renews `key` for `holder` until `expires_ms`, if it is free, expired at
    /// `now_ms`, or already `holder`'s; `None` when another holder has it.
    fn claim(
        &self,
        key: &str,
        holder: &str,
        now_ms: u64,
        expires_ms: u64,
    ) -> impl Future<Output = Result<Option<LeaseRecord>, Self::Error>> + Send;

    /// Gives `key` up (it expires at once) if `holder` still has it; nothing otherwise.
    fn release(
        &self,
        key: &str,
        holder: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

impl<T: LeaseStore> LeaseStore for Arc<T> {
    type Error = T::Error;

    fn scan(&self) -> impl Future<Output = Result<Vec<LeaseRecord>, Self::Error>> + Send {
        T::scan(self)
    }

    fn claim(
        &self,
        key: &str,
        holder: &str,
        now_ms: u64,
        expires_ms: u64,
    ) -> impl Future<Output = Result<Option<LeaseRecord>, Self::Error>> + Send {
        T::claim(self, key, holder, now_ms, expires_ms)
    }

    fn release(
        &self,
        key: &str,
        holder: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        T::release(self, key, holder)
    }
}
