//! What runs on ECS, as berth sees it: services, task definitions and image digests read from
//! AWS, converted into the same model types manifests use so the two can be compared.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::manifest::ServiceId;
use crate::model::ecs::{ServiceSpec, TaskDefinitionSpec};

/// A service as `DescribeServices` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveService {
    /// `(cluster, name)`; the cluster is the name berth asked with.
    pub id: ServiceId,
    /// The service ARN.
    pub arn: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// The service's settings in manifest form. `task_definition` is always `None` here: the
    /// task definition is read separately by ARN (see [`LiveService::task_definition_arn`]).
    /// Fields ECS reports only on deployments (`serviceConnectConfiguration`,
    /// `volumeConfigurations`, `vpcLatticeConfigurations`) come from the PRIMARY deployment.
    pub spec: ServiceSpec,
    /// ARN of the task definition revision the service runs (its `taskDefinition`).
    pub task_definition_arn: String,
    /// The service's tags as a map (berth's ownership tags live here).
    pub tags: BTreeMap<String, String>,
    /// `role` as ECS reports it (`roleArn`), if any.
    pub role_arn: Option<String>,
    /// Deployments, PRIMARY first.
    pub deployments: Vec<Deployment>,
    /// Service events, newest first, as ECS returns them.
    pub events: Vec<ServiceEvent>,
    /// Tasks running.
    pub running_count: i32,
    /// Tasks pending.
    pub pending_count: i32,
}

/// One deployment of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// Deployment id.
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// Task definition ARN of this deployment.
    pub task_definition_arn: String,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED` (absent on old deployments).
    pub rollout_state: Option<String>,
    /// Why the rollout is in that state.
    pub rollout_state_reason: Option<String>,
    /// Desired task count.
    pub desired_count: i32,
    /// Running task count.
    pub running_count: i32,
    /// Pending task count.
    pub pending_count: i32,
    /// Failed task count.
    pub failed_tasks: i32,
}

/// One service event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceEvent {
    /// Event id (unique per service).
    pub id: String,
    /// When, as RFC 3339.
    pub created_at: String,
    /// ECS's message.
    pub message: String,
}

/// A task definition revision as `DescribeTaskDefinition` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveTaskDefinition {
    /// Full ARN, including the revision.
    pub arn: String,
    /// Family.
    pub family: String,
    /// Revision number.
    pub revision: i32,
    /// `ACTIVE`, `INACTIVE` or `DELETE_IN_PROGRESS`.
    pub status: String,
    /// The revision in manifest form (read-only fields dropped; `tags` from the `tags`
    /// returned next to it).
    pub spec: TaskDefinitionSpec,
}

/// A `DescribeServices` answer for one name: the service, or that it does not exist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ServiceLookup {
    /// The service exists (it may be `INACTIVE`: deleted but still reported for a while).
    Found(Box<LiveService>),
    /// ECS reported it under `failures` with reason `MISSING`.
    Missing(ServiceId),
}

/// The digest an ECR image tag points at, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ImageResolution {
    /// The tag (or digest) exists; `digest` is `sha256:...`.
    Found {
        /// The image reference as written in the manifest.
        reference: String,
        /// Its digest.
        digest: String,
    },
    /// The repository or tag does not exist.
    Missing {
        /// The image reference as written in the manifest.
        reference: String,
        /// ECR's reason (e.g. `ImageNotFound`, `RepositoryNotFoundException`).
        reason: String,
    },
}
