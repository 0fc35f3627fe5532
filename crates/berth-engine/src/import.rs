//! `berth import --cluster`: manifests for services that already run, minimal and readable, so
//! that `plan` right after shows no changes.

use berth_core::live::ServiceLookup;
use berth_core::manifest::import::{minimal_service, minimal_task_definition};
use berth_core::manifest::{API_VERSION, KIND_SERVICE, ManifestDocument, Metadata, ServiceId};
use berth_core::model::ecs::Tag;

use crate::ports::EcsRead;
use crate::read::{EngineError, ecs_error};

/// One service to import, or why it cannot be.
#[derive(Debug, Clone)]
pub enum Imported {
    /// The manifest for a live service.
    Manifest(Box<ManifestDocument>),
    /// A service that was asked for but does not exist (or is no longer ACTIVE).
    NotFound(ServiceId),
}

/// Builds manifests for `names` in `cluster` (every service in it when `names` is empty).
pub async fn import_services<E: EcsRead>(
    ecs: &E,
    cluster: &str,
    names: &[String],
) -> Result<Vec<Imported>, EngineError> {
    let names: Vec<String> = if names.is_empty() {
        let arns = ecs
            .list_services(cluster)
            .await
            .map_err(ecs_error("ListServices", cluster))?;
        let mut names: Vec<String> = arns
            .iter()
            .map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_string())
            .collect();
        names.sort();
        names
    } else {
        names.to_vec()
    };
    let lookups = ecs
        .describe_services(cluster, &names)
        .await
        .map_err(ecs_error("DescribeServices", cluster))?;
    let mut imported = Vec::new();
    for lookup in lookups {
        let service = match lookup {
            ServiceLookup::Found(service) if service.status == "ACTIVE" => service,
            ServiceLookup::Found(service) => {
                imported.push(Imported::NotFound(service.id.clone()));
                continue;
            }
            ServiceLookup::Missing(id) => {
                imported.push(Imported::NotFound(id));
                continue;
            }
        };
        let task_definition = ecs
            .describe_task_definition(&service.task_definition_arn)
            .await
            .map_err(ecs_error("DescribeTaskDefinition", cluster))?;
        let mut td = minimal_task_definition(&without_berth_tags(task_definition.spec.clone()));
        if td.family.as_deref() == Some(service.id.name.as_str()) {
            td.family = None; // the default
        }
        let mut spec = service.spec.clone();
        spec.tags = strip_berth_tags(spec.tags.take());
        let mut spec = minimal_service(&spec, Some(&task_definition.spec));
        spec.task_definition = Some(td);
        imported.push(Imported::Manifest(Box::new(ManifestDocument {
            api_version: API_VERSION.into(),
            kind: KIND_SERVICE.into(),
            metadata: Metadata {
                name: service.id.name.clone(),
                cluster: service.id.cluster.clone(),
                target: None,
                suspend: false,
                depends_on: Vec::new(),
                ignore_differences: Vec::new(),
            },
            spec,
        })));
    }
    Ok(imported)
}

/// berth's `berth:*` tags record provenance; they are not part of a manifest.
fn strip_berth_tags(tags: Option<Vec<Tag>>) -> Option<Vec<Tag>> {
    let kept: Vec<Tag> = tags
        .into_iter()
        .flatten()
        .filter(|tag| {
            !tag.key
                .as_deref()
                .is_some_and(|key| key.starts_with("berth:"))
        })
        .collect();
    (!kept.is_empty()).then_some(kept)
}

fn without_berth_tags(
    mut td: berth_core::model::ecs::TaskDefinitionSpec,
) -> berth_core::model::ecs::TaskDefinitionSpec {
    td.tags = strip_berth_tags(td.tags.take());
    td
}
