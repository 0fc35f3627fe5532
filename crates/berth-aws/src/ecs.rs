//! ECS reads: services (batched, with tags), task definition revisions (cached by ARN) and
//! service listings, converted into `berth_core::live` types.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_ecs::types::{
    Deployment as SdkDeployment, Service, ServiceEvent as SdkServiceEvent, ServiceField,
    TaskDefinitionField,
};
use aws_smithy_types::date_time::Format;
use berth_core::live::{Deployment, LiveService, LiveTaskDefinition, ServiceEvent, ServiceLookup};
use berth_core::manifest::ServiceId;
use berth_core::model::ecs::ServiceSpec;
use futures::stream::{self, StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use crate::convert::{self, ConvertError, FromSdk};
use crate::{Aws, AwsError};

/// Names per `DescribeServices` call: the API's limit.
pub(crate) const DESCRIBE_SERVICES_BATCH: usize = 10;

/// `DescribeServices` calls in flight at once for one `describe_services`: the engine's ceiling
/// on reads in flight; the pace follows throttling (the SDK's adaptive retry).
const DESCRIBE_SERVICES_CONCURRENCY: usize = berth_engine::defaults::READS_IN_FLIGHT;

/// The `failures[].reason` of a service that does not exist.
const MISSING: &str = "MISSING";

/// A task definition as `operation` answered it (with its tags), in berth's model.
pub(crate) fn live_task_definition(
    operation: &'static str,
    task_definition: &aws_sdk_ecs::types::TaskDefinition,
    tags: &[aws_sdk_ecs::types::Tag],
) -> Result<LiveTaskDefinition, AwsError> {
    let full_arn = task_definition
        .task_definition_arn()
        .ok_or_else(|| AwsError::Incomplete {
            service: "ECS",
            operation,
            what: "taskDefinitionArn".to_string(),
        })?;
    let spec = convert::task_definition_from_sdk(task_definition, tags).map_err(|source| {
        AwsError::Convert {
            what: format!("task definition {full_arn}"),
            source,
        }
    })?;
    Ok(LiveTaskDefinition {
        arn: full_arn.to_string(),
        family: task_definition.family().unwrap_or_default().to_string(),
        revision: task_definition.revision(),
        status: task_definition
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        spec,
    })
}

/// Service events kept per service read, newest first. ECS returns up to 100; berth reports the
/// newest few of a failed rollout and the new ones while following, so keeping all 100 of every
/// service of a large estate would only grow each reconcile's memory.
const EVENTS_KEPT: usize = 20;

/// The status of the deployment that is the service's current one.
const PRIMARY: &str = "PRIMARY";

impl Aws {
    /// Describes services of `cluster` by name (or ARN), with tags: one `DescribeServices` per
    /// 10 names. Answers one lookup per name, in the order asked; names ECS reports as
    /// `MISSING` come back as [`ServiceLookup::Missing`], any other failure is an error.
    pub async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<ServiceLookup>, AwsError> {
        // The futures are built in a loop rather than by a closure over the chunks: a closure
        // here makes the returned future's `Send`-ness unprovable for callers that need it.
        let mut requests = Vec::new();
        for batch in names.chunks(DESCRIBE_SERVICES_BATCH) {
            requests.push(self.describe_service_batch(cluster, batch));
        }
        let batches: Vec<Vec<ServiceLookup>> = stream::iter(requests)
            .buffered(DESCRIBE_SERVICES_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(batches.into_iter().flatten().collect())
    }

    /// One `DescribeServices` call for at most 10 names.
    async fn describe_service_batch(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<ServiceLookup>, AwsError> {
        let output = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(names.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "DescribeServices", e))?;
        let services = output.services();
        let failures = output.failures();
        let mut lookups = Vec::with_capacity(names.len());
        for name in names {
            let found = services.iter().find(|service| {
                service.service_name() == Some(name.as_str())
                    || service.service_arn() == Some(name.as_str())
            });
            if let Some(service) = found {
                lookups.push(ServiceLookup::Found(Box::new(live_service(
                    cluster, service,
                )?)));
                continue;
            }
            let failure = failures.iter().find(|failure| {
                failure
                    .arn()
                    .is_some_and(|arn| arn == name || arn.ends_with(&format!("/{name}")))
            });
            match failure {
                Some(failure) if failure.reason() == Some(MISSING) => {
                    lookups.push(ServiceLookup::Missing(ServiceId::new(
                        cluster,
                        name.clone(),
                    )));
                }
                Some(failure) => {
                    return Err(AwsError::ServiceFailure {
                        arn: failure.arn().unwrap_or(name).to_string(),
                        reason: failure.reason().unwrap_or("unknown").to_string(),
                        detail: failure.detail().map(str::to_string),
                    });
                }
                None => {
                    return Err(AwsError::Incomplete {
                        service: "ECS",
                        operation: "DescribeServices",
                        what: format!("service or failure for `{name}`"),
                    });
                }
            }
        }
        Ok(lookups)
    }

    /// Describes one task definition revision, with tags. A full ARN with a revision
    /// (`arn:…:task-definition/family:3`) is read once for the life of this adapter (revisions
    /// are immutable) and concurrent reads of it make one call; other forms (`family`,
    /// `family:3`) are read every time.
    pub async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<Arc<LiveTaskDefinition>, AwsError> {
        if !is_revision_arn(arn) {
            return self.fetch_task_definition(arn).await.map(Arc::new);
        }
        let cell = {
            let mut cache = self.task_definitions.lock().await;
            Arc::clone(
                cache
                    .entry(arn.to_string())
                    .or_insert_with(|| Arc::new(OnceCell::new())),
            )
        };
        cell.get_or_try_init(|| async { self.fetch_task_definition(arn).await.map(Arc::new) })
            .await
            .cloned()
    }

    /// Drops every cached revision whose ARN is not in `keep`; the next read of one makes a
    /// call again.
    pub async fn retain_task_definitions(&self, keep: &std::collections::BTreeSet<String>) {
        self.task_definitions
            .lock()
            .await
            .retain(|arn, _| keep.contains(arn));
    }

    /// Drops one revision from the cache (it was deregistered: the cached copy's status is
    /// stale).
    pub(crate) async fn forget_task_definition(&self, arn: &str) {
        self.task_definitions.lock().await.remove(arn);
    }

    /// How many task definition revisions are cached.
    pub async fn cached_task_definitions(&self) -> usize {
        self.task_definitions.lock().await.len()
    }

    /// One `DescribeTaskDefinition` call.
    async fn fetch_task_definition(&self, arn: &str) -> Result<LiveTaskDefinition, AwsError> {
        let output = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "DescribeTaskDefinition", e))?;
        let task_definition = output
            .task_definition()
            .ok_or_else(|| AwsError::Incomplete {
                service: "ECS",
                operation: "DescribeTaskDefinition",
                what: "taskDefinition".to_string(),
            })?;
        live_task_definition("DescribeTaskDefinition", task_definition, output.tags())
    }

    /// Caches a revision read from another answer than DescribeTaskDefinition (the one
    /// RegisterTaskDefinition returns), so that nothing reads it again.
    pub(crate) async fn remember_task_definition(&self, task_definition: Arc<LiveTaskDefinition>) {
        let cell = Arc::new(OnceCell::new_with(Some(Arc::clone(&task_definition))));
        self.task_definitions
            .lock()
            .await
            .insert(task_definition.arn.clone(), cell);
    }

    /// ARNs of every service in `cluster`, all pages (100 per page).
    pub async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        self.ecs
            .list_services()
            .cluster(cluster)
            .max_results(100)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "ListServices", e))
    }
}

/// Whether `arn` is a full task definition ARN with a revision (`…:task-definition/name:3`).
fn is_revision_arn(arn: &str) -> bool {
    arn.starts_with("arn:")
        && arn
            .split_once(":task-definition/")
            .is_some_and(|(_, rest)| {
                rest.rsplit_once(':').is_some_and(|(family, revision)| {
                    !family.is_empty()
                        && !revision.is_empty()
                        && revision.bytes().all(|b| b.is_ascii_digit())
                })
            })
}

/// A `DescribeServices` entry as berth sees it.
pub(crate) fn live_service(cluster: &str, service: &Service) -> Result<LiveService, AwsError> {
    let incomplete = |what: &str| AwsError::Incomplete {
        service: "ECS",
        operation: "DescribeServices",
        what: what.to_string(),
    };
    let name = service
        .service_name()
        .ok_or_else(|| incomplete("serviceName"))?;
    let arn = service
        .service_arn()
        .ok_or_else(|| incomplete("serviceArn"))?;
    let convert_error = |source: ConvertError| AwsError::Convert {
        what: format!("service {arn}"),
        source,
    };
    let mut spec = convert::service_spec_from_sdk(service).map_err(convert_error)?;
    let mut deployments: Vec<&SdkDeployment> = service.deployments().iter().collect();
    // PRIMARY first; the others keep ECS's order (newest first).
    deployments.sort_by_key(|deployment| deployment.status() != Some(PRIMARY));
    if let Some(primary) = deployments.first().filter(|d| d.status() == Some(PRIMARY)) {
        from_primary_deployment(&mut spec, primary).map_err(convert_error)?;
    }
    let tags = service
        .tags()
        .iter()
        .filter_map(|tag| {
            let key = tag.key()?;
            Some((key.to_string(), tag.value().unwrap_or_default().to_string()))
        })
        .collect::<BTreeMap<_, _>>();
    Ok(LiveService {
        id: ServiceId::new(cluster, name),
        arn: arn.to_string(),
        status: service.status().unwrap_or_default().to_string(),
        spec,
        task_definition_arn: service.task_definition().unwrap_or_default().to_string(),
        tags,
        role_arn: service.role_arn().map(str::to_string),
        deployments: deployments.into_iter().map(deployment).collect(),
        events: service
            .events()
            .iter()
            .take(EVENTS_KEPT)
            .map(event)
            .collect(),
        running_count: service.running_count(),
        pending_count: service.pending_count(),
    })
}

/// Fills the spec members that ECS reports only on deployments, from the PRIMARY one.
fn from_primary_deployment(
    spec: &mut ServiceSpec,
    primary: &SdkDeployment,
) -> Result<(), ConvertError> {
    spec.service_connect_configuration = FromSdk::from_sdk(&primary.service_connect_configuration)
        .map_err(|e: ConvertError| e.at("serviceConnectConfiguration"))?;
    spec.volume_configurations = FromSdk::from_sdk(&primary.volume_configurations)
        .map_err(|e: ConvertError| e.at("volumeConfigurations"))?;
    spec.vpc_lattice_configurations = FromSdk::from_sdk(&primary.vpc_lattice_configurations)
        .map_err(|e: ConvertError| e.at("vpcLatticeConfigurations"))?;
    Ok(())
}

/// One deployment.
fn deployment(deployment: &SdkDeployment) -> Deployment {
    Deployment {
        id: deployment.id().unwrap_or_default().to_string(),
        status: deployment.status().unwrap_or_default().to_string(),
        task_definition_arn: deployment.task_definition().unwrap_or_default().to_string(),
        rollout_state: deployment.rollout_state().map(|s| s.as_str().to_string()),
        rollout_state_reason: deployment.rollout_state_reason().map(str::to_string),
        desired_count: deployment.desired_count(),
        running_count: deployment.running_count(),
        pending_count: deployment.pending_count(),
        failed_tasks: deployment.failed_tasks(),
    }
}

/// One service event.
fn event(event: &SdkServiceEvent) -> ServiceEvent {
    ServiceEvent {
        id: event.id().unwrap_or_default().to_string(),
        created_at: event
            .created_at()
            .and_then(|at| at.fmt(Format::DateTime).ok())
            .unwrap_or_default(),
        message: event.message().unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_revision_arns_are_cacheable() {
        assert!(is_revision_arn(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12"
        ));
        assert!(!is_revision_arn(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web"
        ));
        assert!(!is_revision_arn("web:12"));
        assert!(!is_revision_arn("web"));
        assert!(!is_revision_arn(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:latest"
        ));
    }

    #[test]
    fn services_convert_with_deployment_only_members_from_the_primary() {
        use aws_sdk_ecs::types::{self, DeploymentRolloutState};

        let primary = types::Deployment::builder()
            .id("ecs-svc/2")
            .status("PRIMARY")
            .task_definition("arn:aws:ecs:us-east-1:1:task-definition/web:2")
            .rollout_state(DeploymentRolloutState::InProgress)
            .desired_count(2)
            .running_count(1)
            .service_connect_configuration(
                types::ServiceConnectConfiguration::builder()
                    .enabled(true)
                    .namespace("prod")
                    .build(),
            )
            .build();
        let old = types::Deployment::builder()
            .id("ecs-svc/1")
            .status("ACTIVE")
            .task_definition("arn:aws:ecs:us-east-1:1:task-definition/web:1")
            .build();
        let service = types::Service::builder()
            .service_name("web")
            .service_arn("arn:aws:ecs:us-east-1:1:service/prod/web")
            .status("ACTIVE")
            .desired_count(2)
            .task_definition("arn:aws:ecs:us-east-1:1:task-definition/web:2")
            .deployments(old)
            .deployments(primary)
            .tags(types::Tag::builder().key("team").value("payments").build())
            .events(
                types::ServiceEvent::builder()
                    .id("e1")
                    .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
                    .message("(service web) has reached a steady state.")
                    .build(),
            )
            .build();
        let live = live_service("prod", &service).unwrap();
        assert_eq!(live.id, ServiceId::new("prod", "web"));
        assert_eq!(live.deployments[0].id, "ecs-svc/2");
        assert_eq!(
            live.deployments[0].rollout_state.as_deref(),
            Some("IN_PROGRESS")
        );
        assert_eq!(live.deployments[1].status, "ACTIVE");
        assert_eq!(live.tags.get("team").map(String::as_str), Some("payments"));
        assert_eq!(live.events[0].created_at, "2023-11-14T22:13:20Z");
        assert_eq!(live.spec.desired_count, Some(2));
        let connect = live.spec.service_connect_configuration.unwrap();
        assert!(connect.enabled);
        assert_eq!(connect.namespace.as_deref(), Some("prod"));
    }
}
