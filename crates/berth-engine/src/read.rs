//! Reading the live state a plan needs: services (batched), their task definitions (cached by
//! the adapter), and image digests (batched per repository).

use std::collections::{BTreeMap, BTreeSet};

use berth_core::image::EcrImage;
use berth_core::live::{ImageResolution, ServiceLookup};
use berth_core::manifest::{InvalidManifest, ServiceManifest};
use berth_core::plan::{LiveState, ecr_images};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::ports::{EcsRead, ImageRegistry};

/// How many task definitions are described at once.
const TASK_DEFINITION_CONCURRENCY: usize = 8;

/// Why the live state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An ECS call failed (after the SDK's retries).
    #[error("ECS {operation} failed for cluster `{cluster}`: {source}")]
    Ecs {
        /// The operation, e.g. `DescribeServices`.
        operation: &'static str,
        /// The cluster it was about.
        cluster: String,
        /// The adapter's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An ECR call failed (after the SDK's retries); a missing image is not an error.
    #[error("ECR DescribeImages failed: {source}")]
    Registry {
        /// The adapter's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

pub(crate) fn ecs_error<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
    cluster: &str,
) -> impl FnOnce(E) -> EngineError {
    let cluster = cluster.to_string();
    move |source| EngineError::Ecs {
        operation,
        cluster,
        source: Box::new(source),
    }
}

/// Reads what runs for the clusters the manifests name.
///
/// Per cluster: one `ListServices` (to find services no manifest declares) and
/// `DescribeServices` for the union of declared and listed names, 10 per call. Then the task
/// definitions the declared services run (the adapter caches them by ARN) and the manifests'
/// ECR images, one `DescribeImages` per repository.
pub async fn read_live<E: EcsRead, R: ImageRegistry>(
    ecs: &E,
    registry: &R,
    valid: &[ServiceManifest],
    invalid: &[InvalidManifest],
) -> Result<LiveState, EngineError> {
    let mut declared: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for id in valid
        .iter()
        .map(|m| &m.id)
        .chain(invalid.iter().filter_map(|i| i.id.as_ref()))
    {
        declared
            .entry(id.cluster.as_str())
            .or_default()
            .insert(id.name.clone());
    }

    let mut live = LiveState::default();
    for (cluster, names) in &declared {
        let arns = ecs
            .list_services(cluster)
            .await
            .map_err(ecs_error("ListServices", cluster))?;
        let mut all: BTreeSet<String> = names.clone();
        all.extend(
            arns.iter()
                .map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_string()),
        );
        let all: Vec<String> = all.into_iter().collect();
        let lookups = ecs
            .describe_services(cluster, &all)
            .await
            .map_err(ecs_error("DescribeServices", cluster))?;
        for lookup in lookups {
            if let ServiceLookup::Found(service) = lookup {
                if names.contains(&service.id.name) {
                    live.services.insert(service.id.clone(), *service);
                } else {
                    live.unlisted.push(*service);
                }
            }
        }
    }

    let arns: BTreeSet<(String, String)> = live
        .services
        .values()
        .filter(|s| s.status == "ACTIVE")
        .map(|s| (s.task_definition_arn.clone(), s.id.cluster.clone()))
        .collect();
    let task_definitions: Vec<_> = stream::iter(arns)
        .map(|(arn, cluster)| async move {
            ecs.describe_task_definition(&arn)
                .await
                .map_err(ecs_error("DescribeTaskDefinition", &cluster))
        })
        .buffer_unordered(TASK_DEFINITION_CONCURRENCY)
        .try_collect()
        .await?;
    for task_definition in task_definitions {
        live.task_definitions
            .insert(task_definition.arn.clone(), (*task_definition).clone());
    }

    // Distinct images, with the reference as written so plans can name it.
    let mut images: Vec<EcrImage> = Vec::new();
    let mut references: Vec<String> = Vec::new();
    for manifest in valid {
        for (reference, image) in ecr_images(manifest) {
            if !references.contains(&reference) {
                references.push(reference);
                images.push(image);
            }
        }
    }
    if !images.is_empty() {
        let resolutions =
            registry
                .describe_images(&images)
                .await
                .map_err(|source| EngineError::Registry {
                    source: Box::new(source),
                })?;
        // The registry answers in the order it was asked.
        live.images = resolutions
            .into_iter()
            .zip(references)
            .map(|(resolution, reference)| match resolution {
                ImageResolution::Found { digest, .. } => {
                    ImageResolution::Found { reference, digest }
                }
                ImageResolution::Missing { reason, .. } => {
                    ImageResolution::Missing { reference, reason }
                }
            })
            .collect();
    }
    Ok(live)
}
