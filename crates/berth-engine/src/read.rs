//! Reading the live state a plan needs: services (batched), image digests (batched per
//! repository), and the task definitions no tag proves (cached by the adapter).

use std::collections::{BTreeMap, BTreeSet};

use berth_core::image::EcrImage;
use berth_core::live::{ImageResolution, LiveService, LiveTaskDefinition, ServiceLookup};
use berth_core::manifest::{InvalidManifest, ServiceId, ServiceManifest};
use berth_core::plan::{self, LiveState, ecr_images};
use berth_core::render::{self, tags};
use futures::future;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::ports::{EcsRead, ImageRegistry};

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

/// Reads what runs for the clusters the manifests name, every read that does not wait for
/// another at once.
///
/// At the start, per cluster: `DescribeServices` for the declared names (10 per call) and one
/// `ListServices` (to find services no manifest declares, described next); and one
/// `DescribeImages` per ECR repository. Then the task definitions the declared services run,
/// except those the service's `berth:task-definition` tag proves are the desired revision
/// (`berth_core::plan::task_definition_proof`): a service berth applied and nobody changed since
/// costs no task definition read. The adapter caches what it describes by ARN.
///
/// This is the read of `berth plan`, which needs only the read permissions docs/ci.md lists;
/// [`read_live_to_apply`] also lists the families a change will register into.
pub async fn read_live<E: EcsRead, R: ImageRegistry>(
    ecs: &E,
    registry: &R,
    valid: &[ServiceManifest],
    invalid: &[InvalidManifest],
) -> Result<LiveState, EngineError> {
    read(ecs, registry, valid, invalid, false).await
}

/// [`read_live`], and beside the task definitions, one ListTaskDefinitions per family likely to
/// get a new revision (`LiveState::latest_revisions`), so that applying starts with its reuse
/// check done. What `berth apply` and the daemon read.
pub async fn read_live_to_apply<E: EcsRead, R: ImageRegistry>(
    ecs: &E,
    registry: &R,
    valid: &[ServiceManifest],
    invalid: &[InvalidManifest],
) -> Result<LiveState, EngineError> {
    read(ecs, registry, valid, invalid, true).await
}

async fn read<E: EcsRead, R: ImageRegistry>(
    ecs: &E,
    registry: &R,
    valid: &[ServiceManifest],
    invalid: &[InvalidManifest],
    to_apply: bool,
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
    let clusters = declared
        .iter()
        .map(|(cluster, names)| read_cluster(ecs, cluster, names));
    let (clusters, images) =
        futures::try_join!(future::try_join_all(clusters), read_images(registry, valid))?;
    let mut live = LiveState {
        images,
        ..LiveState::default()
    };
    for (services, unlisted) in clusters {
        live.services
            .extend(services.into_iter().map(|s| (s.id.clone(), s)));
        live.unlisted.extend(unlisted);
    }
    live.proven = proven(valid, &live);
    let (task_definitions, latest_revisions) =
        futures::try_join!(read_task_definitions(ecs, &live), async {
            if to_apply {
                read_latest_revisions(ecs, valid, &live).await
            } else {
                Ok(BTreeMap::new())
            }
        })?;
    live.task_definitions = task_definitions;
    live.latest_revisions = latest_revisions;
    Ok(live)
}

/// One cluster's declared services and the services in it no manifest declares.
async fn read_cluster<E: EcsRead>(
    ecs: &E,
    cluster: &str,
    names: &BTreeSet<String>,
) -> Result<(Vec<LiveService>, Vec<LiveService>), EngineError> {
    let names_asked: Vec<String> = names.iter().cloned().collect();
    let (arns, lookups) = futures::try_join!(
        async {
            ecs.list_services(cluster)
                .await
                .map_err(ecs_error("ListServices", cluster))
        },
        async {
            ecs.describe_services(cluster, &names_asked)
                .await
                .map_err(ecs_error("DescribeServices", cluster))
        }
    )?;
    let others: Vec<String> = arns
        .iter()
        .map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_string())
        .filter(|name| !names.contains(name))
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    let unlisted = if others.is_empty() {
        Vec::new()
    } else {
        ecs.describe_services(cluster, &others)
            .await
            .map_err(ecs_error("DescribeServices", cluster))?
    };
    Ok((found(lookups), found(unlisted)))
}

/// The services among `lookups` that exist.
pub(crate) fn found(lookups: Vec<ServiceLookup>) -> Vec<LiveService> {
    lookups
        .into_iter()
        .filter_map(|lookup| match lookup {
            ServiceLookup::Found(service) => Some(*service),
            ServiceLookup::Missing(_) => None,
        })
        .collect()
}

/// The manifests' distinct ECR images resolved to digests, with the reference as written (so
/// plans can name it).
async fn read_images<R: ImageRegistry>(
    registry: &R,
    valid: &[ServiceManifest],
) -> Result<Vec<ImageResolution>, EngineError> {
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
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let resolutions =
        registry
            .describe_images(&images)
            .await
            .map_err(|source| EngineError::Registry {
                source: Box::new(source),
            })?;
    // The registry answers in the order it was asked.
    Ok(resolutions
        .into_iter()
        .zip(references)
        .map(|(resolution, reference)| match resolution {
            ImageResolution::Found { digest, .. } => ImageResolution::Found { reference, digest },
            ImageResolution::Missing { reason, .. } => {
                ImageResolution::Missing { reference, reason }
            }
        })
        .collect())
}

/// The declared ACTIVE services whose tags prove they run their desired revision (see
/// [`read_live`]), checked once here for the plan too (`LiveState::proven`).
fn proven(valid: &[ServiceManifest], live: &LiveState) -> BTreeSet<ServiceId> {
    let digests = plan::digests(&live.images);
    valid
        .iter()
        .filter(|m| {
            live.services
                .get(&m.id)
                .filter(|s| s.status == "ACTIVE")
                .is_some_and(|s| plan::task_definition_proven(m, &digests, s))
        })
        .map(|m| m.id.clone())
        .collect()
}

/// Describes the task definitions the declared ACTIVE services run, but for those their tags
/// prove (`live.proven`).
async fn read_task_definitions<E: EcsRead>(
    ecs: &E,
    live: &LiveState,
) -> Result<BTreeMap<String, LiveTaskDefinition>, EngineError> {
    let arns: BTreeSet<(String, String)> = live
        .services
        .values()
        .filter(|s| s.status == "ACTIVE" && !live.proven.contains(&s.id))
        .map(|s| (s.task_definition_arn.clone(), s.id.cluster.clone()))
        .collect();
    stream::iter(arns)
        .map(|(arn, cluster)| async move {
            let task_definition = ecs
                .describe_task_definition(&arn)
                .await
                .map_err(ecs_error("DescribeTaskDefinition", &cluster))?;
            Ok((task_definition.arn.clone(), (*task_definition).clone()))
        })
        .buffer_unordered(crate::defaults::READS_IN_FLIGHT)
        .try_collect()
        .await
}

/// Lists the latest ACTIVE revision of the families likely to get a new one: a service not
/// there yet, or one whose `berth:spec-hash` is not its manifest's. Steady state lists nothing.
async fn read_latest_revisions<E: EcsRead>(
    ecs: &E,
    valid: &[ServiceManifest],
    live: &LiveState,
) -> Result<BTreeMap<String, Option<String>>, EngineError> {
    let families: BTreeSet<(String, String)> = valid
        .iter()
        .filter(|m| {
            let tag = live
                .services
                .get(&m.id)
                .filter(|s| s.status == "ACTIVE")
                .and_then(|s| s.tags.get(tags::SPEC_HASH));
            !tag.is_some_and(|tag| render::spec_hash_matches(tag, render::spec_hash(m)))
        })
        .map(|m| (m.family().to_string(), m.id.cluster.clone()))
        .collect();
    stream::iter(families)
        .map(|(family, cluster)| async move {
            let latest = ecs
                .latest_active_task_definition_arn(&family)
                .await
                .map_err(ecs_error("ListTaskDefinitions", &cluster))?;
            Ok((family, latest))
        })
        .buffer_unordered(crate::defaults::READS_IN_FLIGHT)
        .try_collect()
        .await
}
