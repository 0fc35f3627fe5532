//! The plan: for every service, what berth would do to make ECS match git, and why.
//!
//! Pure: it takes the loaded manifests, what was read from ECS/ECR, and returns [`Plan`]. The
//! engine does the reading; `render` turns a plan into text, JSON or markdown.

mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use render::{Format, render};

use crate::diag::Diagnostic;
use crate::image::ImageRef;
use crate::live::{ImageResolution, LiveService, LiveTaskDefinition};
use crate::manifest::{InvalidManifest, Origin, ServiceId, ServiceManifest};
use crate::model::ecs::{ServiceSpec, TaskDefinitionSpec};
use crate::normalize::{self, Change, ImageDigests};
use crate::render::{owner_key, tags};

/// The plan for a whole manifest set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// One entry per service (manifests first, in file order; then services to prune).
    pub services: Vec<ServicePlan>,
}

impl Plan {
    /// Whether anything would change (including invalid manifests and missing images, which
    /// need attention; suspended services with drift do not count).
    pub fn has_changes(&self) -> bool {
        self.services
            .iter()
            .any(|s| !matches!(s.action, Action::NoChange | Action::Suspended { .. }))
    }

    /// How many services have each action, for summaries.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for service in &self.services {
            *counts.entry(service.action.name()).or_default() += 1;
        }
        counts
    }
}

/// What berth would do for one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServicePlan {
    /// The service; `None` only for a file that did not parse (its services are unknown).
    pub id: Option<ServiceId>,
    /// The manifest it comes from (absent for services to prune).
    pub origin: Option<Origin>,
    /// What to do.
    pub action: Action,
    /// ECR images of the manifest with the digests they resolve to (for display: tag and digest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ResolvedImage>,
}

/// An image reference as written and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedImage {
    /// As written in the manifest.
    pub reference: String,
    /// `sha256:…`.
    pub digest: String,
}

/// The action for one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    /// Live matches git.
    NoChange,
    /// The service does not exist: register its task definition and create it.
    Create {
        /// Everything that would be set (old values absent).
        changes: Vec<Change>,
    },
    /// The service exists and differs.
    Update {
        /// What differs, field by field (old = live, new = git).
        changes: Vec<Change>,
        /// Whether a new task definition revision is needed (or an equal one reused).
        new_task_definition: bool,
    },
    /// Some differences cannot be applied in place; berth does not apply them unless told to.
    RequiresReplacement {
        /// What differs.
        changes: Vec<Change>,
        /// The fields that force replacement.
        fields: Vec<String>,
    },
    /// `metadata.suspend: true`: reported, never changed.
    Suspended {
        /// What differs (drift berth leaves alone).
        changes: Vec<Change>,
    },
    /// The manifest could not be loaded or validated.
    Invalid {
        /// Why.
        diagnostics: Vec<Diagnostic>,
    },
    /// An ECR image tag the manifest names does not exist: nothing is done for this service.
    ImageMissing {
        /// The images and why.
        images: Vec<MissingImage>,
    },
    /// The service exists and another berth daemon's source owns it (its `berth:source` names
    /// that source): berth neither changes nor prunes it from here.
    Conflict {
        /// The other source's owner key, as its `berth:source` tag names it.
        owner: String,
    },
    /// Owned by this source but absent from git: pruning would delete it (shown only; prune is
    /// applied by the daemon under its own rules).
    WouldPrune {
        /// The service ARN.
        arn: String,
    },
}

/// An image that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingImage {
    /// As written in the manifest.
    pub reference: String,
    /// ECR's reason.
    pub reason: String,
}

impl Action {
    /// The action's name as shown in summaries and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Action::NoChange => "noChange",
            Action::Create { .. } => "create",
            Action::Update { .. } => "update",
            Action::RequiresReplacement { .. } => "requiresReplacement",
            Action::Suspended { .. } => "suspended",
            Action::Invalid { .. } => "invalid",
            Action::ImageMissing { .. } => "imageMissing",
            Action::Conflict { .. } => "conflict",
            Action::WouldPrune { .. } => "wouldPrune",
        }
    }
}

/// Why a [`Action::Conflict`] service is left alone, and what to do: the one wording of plans,
/// `berth apply` and `/status`.
pub fn conflict_reason(owner: &str) -> String {
    format!(
        "owned by another berth source ({owner}), so this one neither changes nor prunes it; \
         declare it in only one source, or remove its `{}` tag to hand it over",
        tags::SOURCE
    )
}

/// Why an [`Action::ImageMissing`] service is not applied, and what to do: the one wording of
/// `berth apply` and `/status`.
pub fn image_missing_reason(images: &[MissingImage]) -> String {
    images
        .iter()
        .map(|i| {
            format!(
                "image {} not found in ECR ({}); push it or fix the tag",
                i.reference, i.reason
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why an [`Action::RequiresReplacement`] service is not applied, and what to do: the one
/// wording of `berth apply` and `/status`.
pub fn replacement_reason(fields: &[String]) -> String {
    format!(
        "{} cannot change in place; delete and recreate the service, or revert the change",
        fields.join(", ")
    )
}

/// What was read from ECS and ECR for planning.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// Services that exist, by id (INACTIVE services count as absent).
    pub services: BTreeMap<ServiceId, LiveService>,
    /// Task definitions the live services run, by ARN.
    pub task_definitions: BTreeMap<String, LiveTaskDefinition>,
    /// Image resolutions for the manifests' ECR images.
    pub images: Vec<ImageResolution>,
    /// Services that exist in the manifests' clusters but are in no manifest.
    pub unlisted: Vec<LiveService>,
    /// The latest ACTIVE revision of each family whose service was read expecting a change (no
    /// such service yet, or its `berth:spec-hash` is another manifest's), `None` when the family
    /// has none: listed beside the other reads, so the reuse check before registering makes no
    /// call of its own. Families not here are listed when needed.
    pub latest_revisions: BTreeMap<String, Option<String>>,
    /// Services whose `berth:task-definition` tag proved, when read, that they run the desired
    /// revision ([`task_definition_proven`]): that revision was not described, and planning
    /// takes the desired one as what runs.
    pub proven: BTreeSet<ServiceId>,
}

/// Who berth is for ownership: the value of `berth:source` up to `#` (docs/operations.md,
/// "Ownership tags").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// This source's owner key ([`crate::render::owner_key`] of its id).
    key: String,
    /// Earlier keys of this same source (berth 0.1 wrote the repository URL as given), still
    /// taken as ours.
    previous: Vec<String>,
}

impl Ownership {
    /// The ownership of the source with this id (a daemon's `git:`/`dir:` id, or the id a
    /// `berth plan`/`apply` run was given).
    pub fn new(source_id: &str) -> Self {
        Ownership {
            key: owner_key(source_id),
            previous: Vec::new(),
        }
    }

    /// Also takes `key` as this source's own (an earlier spelling of the same source).
    #[must_use]
    pub fn with_previous_key(mut self, key: &str) -> Self {
        self.previous.push(owner_key(key));
        self
    }

    /// The owner key of a service with these tags, when berth manages it.
    fn owner(service_tags: &BTreeMap<String, String>) -> Option<&str> {
        if service_tags.get(tags::MANAGED_BY).map(String::as_str) != Some(tags::MANAGED_BY_VALUE) {
            return None;
        }
        let source = service_tags.get(tags::SOURCE)?;
        Some(
            source
                .split_once('#')
                .map_or(source.as_str(), |(key, _)| key),
        )
    }

    /// Whether berth, from this source, owns a service with these tags.
    pub fn owns(&self, service_tags: &BTreeMap<String, String>) -> bool {
        Self::owner(service_tags)
            .is_some_and(|key| key == self.key || self.previous.iter().any(|p| p == key))
    }

    /// The owner key of the other berth daemon that owns a service with these tags, if one
    /// does: such a service is never changed or pruned from here. A key written by a one-off
    /// `berth apply` (no `git:`/`dir:` prefix) is no claim: a daemon adopts that service.
    pub fn conflict<'t>(&self, service_tags: &'t BTreeMap<String, String>) -> Option<&'t str> {
        let key = Self::owner(service_tags)?;
        let daemon = [tags::GIT_SOURCE_PREFIX, tags::DIR_SOURCE_PREFIX]
            .iter()
            .any(|prefix| key.starts_with(prefix));
        (daemon && !self.owns(service_tags)).then_some(key)
    }
}

/// Plans every manifest against the live state.
pub fn plan(
    valid: &[ServiceManifest],
    invalid: &[InvalidManifest],
    live: &LiveState,
    ownership: &Ownership,
) -> Plan {
    let resolved = digests(&live.images);
    let missing: BTreeMap<&str, &str> = live
        .images
        .iter()
        .filter_map(|resolution| match resolution {
            ImageResolution::Missing { reference, reason } => {
                Some((reference.as_str(), reason.as_str()))
            }
            ImageResolution::Found { .. } => None,
        })
        .collect();

    let mut services = Vec::new();
    for invalid in invalid {
        services.push(ServicePlan {
            id: invalid.id.clone(),
            origin: Some(invalid.origin.clone()),
            action: Action::Invalid {
                diagnostics: invalid
                    .diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .cloned()
                    .collect(),
            },
            images: Vec::new(),
        });
    }
    for manifest in valid {
        services.push(plan_service(manifest, live, &resolved, &missing, ownership));
    }

    let declared: BTreeSet<&ServiceId> = valid
        .iter()
        .map(|m| &m.id)
        .chain(invalid.iter().filter_map(|i| i.id.as_ref()))
        .collect();
    for service in &live.unlisted {
        if !declared.contains(&service.id)
            && service.status == "ACTIVE"
            && ownership.owns(&service.tags)
        {
            services.push(ServicePlan {
                id: Some(service.id.clone()),
                origin: None,
                action: Action::WouldPrune {
                    arn: service.arn.clone(),
                },
                images: Vec::new(),
            });
        }
    }
    services.sort_by(|a, b| (&a.origin, &a.id).cmp(&(&b.origin, &b.id)));
    Plan { services }
}

/// The ECR images a manifest names, as written.
pub fn ecr_images(manifest: &ServiceManifest) -> Vec<(String, crate::image::EcrImage)> {
    manifest
        .spec
        .task_definition
        .iter()
        .flat_map(|td| td.container_definitions.iter().flatten())
        .filter_map(|container| container.image.as_deref())
        .filter_map(|image| {
            ImageRef::parse(image)
                .ok()
                .and_then(|r| r.ecr())
                .map(|ecr| (image.to_string(), ecr))
        })
        .collect()
}

/// The task definition berth registers for a manifest: family defaulted to the service name,
/// ECR images pinned to the digests they resolve to (`REPO@sha256:…`).
pub fn desired_task_definition(
    manifest: &ServiceManifest,
    images: &ImageDigests,
) -> TaskDefinitionSpec {
    let mut td = manifest.spec.task_definition.clone().unwrap_or_default();
    td.family = Some(manifest.family().to_string());
    for container in td.container_definitions.iter_mut().flatten() {
        if let Some(image) = &container.image
            && let Some(digest) = images.get(image)
            && let Ok(reference) = ImageRef::parse(image)
        {
            let pinned = ImageRef {
                tag: None,
                digest: Some(digest.clone()),
                ..reference
            };
            container.image = Some(pinned.to_string());
        }
    }
    td
}

/// The image digests among `images` (the resolutions read from ECR), by reference as written.
pub fn digests(images: &[ImageResolution]) -> ImageDigests {
    images
        .iter()
        .filter_map(|resolution| match resolution {
            ImageResolution::Found { reference, digest } => {
                Some((reference.clone(), digest.clone()))
            }
            ImageResolution::Missing { .. } => None,
        })
        .collect()
}

/// The task definition berth registers for `manifest`, and its normalized form without
/// berth's own tags: what plans compare, and what [`task_definition_proof`] hashes.
fn desired_task_definition_value(
    manifest: &ServiceManifest,
    images: &ImageDigests,
) -> (TaskDefinitionSpec, serde_json::Value) {
    let desired = desired_task_definition(manifest, images);
    let mut value = normalize::task_definition(&desired, images);
    without_ownership_tags(&mut value);
    (desired, value)
}

/// The [`tags::TASK_DEFINITION`] value for a service that runs revision `arn`, registered (or
/// reused as equal) for `manifest` with these image digests: `v1:` and a hash of the ARN and of
/// the normalized desired task definition. Revisions are immutable, so while the service runs
/// `arn` and the manifest and digests hash the same, the revision is the desired one, exactly,
/// and need not be described. Any change (a new commit, a re-pushed tag, another revision, a
/// berth whose normalization differs) changes the hash, and planning describes the revision.
pub fn task_definition_proof(
    manifest: &ServiceManifest,
    images: &ImageDigests,
    arn: &str,
) -> String {
    let (_, value) = desired_task_definition_value(manifest, images);
    proof_text(&value, arn)
}

/// Whether `service`'s tags prove that its task definition is the one berth registered for
/// `manifest` with these image digests ([`task_definition_proof`]), so that it need not be read.
pub fn task_definition_proven(
    manifest: &ServiceManifest,
    images: &ImageDigests,
    service: &LiveService,
) -> bool {
    let (_, value) = desired_task_definition_value(manifest, images);
    service
        .tags
        .get(tags::TASK_DEFINITION)
        .is_some_and(|tag| *tag == proof_text(&value, &service.task_definition_arn))
}

/// The version of what [`task_definition_proof`] hashes, before its digits.
const PROOF_VERSION: &str = "v1";

fn proof_text(desired_value: &serde_json::Value, arn: &str) -> String {
    let content = format!("{arn}\n{desired_value}");
    format!(
        "{PROOF_VERSION}:{:016x}",
        crate::render::fnv1a(content.as_bytes())
    )
}

/// Removes berth's own `berth:*` tags: they record provenance, they are not desired state.
fn without_ownership_tags(value: &mut serde_json::Value) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    if let Some(serde_json::Value::Object(tags)) = object.get_mut("tags") {
        tags.retain(|key, _| !key.starts_with("berth:"));
        if tags.is_empty() {
            object.remove("tags");
        }
    }
}

fn prefixed(changes: Vec<Change>, prefix: &str) -> Vec<Change> {
    changes
        .into_iter()
        .map(|change| Change {
            path: format!("{prefix}{}", change.path),
            ..change
        })
        .collect()
}

/// Fields that `UpdateService` cannot change; a difference in them needs a new service.
fn replacement_fields(
    live: &ServiceSpec,
    desired: &ServiceSpec,
    live_role: Option<&str>,
) -> Vec<String> {
    let mut fields = Vec::new();
    let uses_capacity_providers = |spec: &ServiceSpec| {
        spec.capacity_provider_strategy
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    };
    if uses_capacity_providers(live) != uses_capacity_providers(desired) {
        fields.push("launchType/capacityProviderStrategy".to_string());
    } else if desired.launch_type.is_some() && live.launch_type != desired.launch_type {
        fields.push("launchType".to_string());
    }
    let scheduling = |spec: &ServiceSpec| {
        spec.scheduling_strategy
            .map(|s| s.as_str())
            .unwrap_or("REPLICA")
    };
    if scheduling(live) != scheduling(desired) {
        fields.push("schedulingStrategy".to_string());
    }
    if let Some(role) = &desired.role {
        let name = |r: &str| r.rsplit('/').next().unwrap_or(r).to_string();
        if live_role.map(name) != Some(name(role)) {
            fields.push("role".to_string());
        }
    }
    fields
}

fn plan_service(
    manifest: &ServiceManifest,
    live: &LiveState,
    resolved: &ImageDigests,
    missing: &BTreeMap<&str, &str>,
    ownership: &Ownership,
) -> ServicePlan {
    let images = ecr_images(manifest);
    let plan = |action| ServicePlan {
        id: Some(manifest.id.clone()),
        origin: Some(manifest.origin.clone()),
        action,
        images: images
            .iter()
            .filter_map(|(reference, _)| {
                resolved.get(reference).map(|digest| ResolvedImage {
                    reference: reference.clone(),
                    digest: digest.clone(),
                })
            })
            .collect(),
    };
    let owner = live
        .services
        .get(&manifest.id)
        .filter(|s| s.status == "ACTIVE")
        .and_then(|s| ownership.conflict(&s.tags));
    if let Some(owner) = owner {
        return plan(Action::Conflict {
            owner: owner.to_owned(),
        });
    }
    let missing_images: Vec<MissingImage> = images
        .iter()
        .filter_map(|(reference, _)| {
            missing.get(reference.as_str()).map(|reason| MissingImage {
                reference: reference.clone(),
                reason: (*reason).to_string(),
            })
        })
        .collect();
    if !missing_images.is_empty() {
        return plan(Action::ImageMissing {
            images: missing_images,
        });
    }

    let (desired_td, mut desired_td_value) = desired_task_definition_value(manifest, resolved);
    let mut desired_spec = manifest.spec.clone();
    desired_spec.task_definition = None;
    let mut desired_service_value = normalize::service(&desired_spec, Some(&desired_td));
    without_ownership_tags(&mut desired_service_value);

    let live_service = live
        .services
        .get(&manifest.id)
        .filter(|s| s.status == "ACTIVE");
    let Some(live_service) = live_service else {
        let mut changes = prefixed(
            normalize::diff(&serde_json::Value::Null, &desired_service_value),
            "",
        );
        changes.extend(prefixed(
            normalize::diff(&serde_json::Value::Null, &desired_td_value),
            "taskDefinition.",
        ));
        return plan(Action::Create { changes });
    };

    // A revision the service's tags prove is the desired one was not described: it is.
    let live_td = live
        .task_definitions
        .get(&live_service.task_definition_arn)
        .map(|td| &td.spec)
        .or_else(|| live.proven.contains(&manifest.id).then_some(&desired_td));
    let mut live_td_value = live_td
        .map(|td| normalize::task_definition(td, resolved))
        .unwrap_or(serde_json::Value::Null);
    without_ownership_tags(&mut live_td_value);
    // ECS reports the service role as `roleArn`, outside the spec.
    let mut live_spec = live_service.spec.clone();
    live_spec.role = live_service.role_arn.clone();
    let mut live_service_value = normalize::service(&live_spec, live_td);
    without_ownership_tags(&mut live_service_value);

    // `ignoreDifferences` paths name spec fields (`desiredCount`) or task definition fields
    // (`taskDefinition.…`).
    let (td_ignores, service_ignores): (Vec<String>, Vec<String>) = manifest
        .metadata
        .ignore_differences
        .iter()
        .cloned()
        .partition(|path| path.starts_with("taskDefinition."));
    let td_ignores: Vec<String> = td_ignores
        .iter()
        .map(|p| p.trim_start_matches("taskDefinition.").to_string())
        .collect();
    for value in [&mut desired_service_value, &mut live_service_value] {
        normalize::ignore(value, &service_ignores);
    }
    for value in [&mut desired_td_value, &mut live_td_value] {
        normalize::ignore(value, &td_ignores);
    }

    let td_changes = prefixed(
        normalize::diff(&live_td_value, &desired_td_value),
        "taskDefinition.",
    );
    let new_task_definition = !td_changes.is_empty();
    let mut changes = normalize::diff(&live_service_value, &desired_service_value);
    changes.extend(td_changes);

    if manifest.metadata.suspend {
        return plan(Action::Suspended { changes });
    }
    if changes.is_empty() {
        return plan(Action::NoChange);
    }
    let fields = replacement_fields(
        &live_service.spec,
        &desired_spec,
        live_service.role_arn.as_deref(),
    );
    if !fields.is_empty() {
        return plan(Action::RequiresReplacement { changes, fields });
    }
    plan(Action::Update {
        changes,
        new_task_definition,
    })
}
