//! The explicit path for JSON written for or by ECS itself: `describe-task-definition` and
//! `describe-services` output, ecspresso dumps, `--cli-input-json` files.
//!
//! Manifests reject unknown fields, so read-only fields that ECS returns (`revision`,
//! `status`, `registeredAt`, ...) are errors there. Converting such a file goes through here:
//! the wrapper is unwrapped and the read-only fields are dropped *by name*, and every dropped
//! field is reported, so nothing is ignored silently.

use crate::diag::Span;
use crate::model::ecs::{SERVICE_DESCRIBE_ONLY_FIELDS, TASK_DEFINITION_DESCRIBE_ONLY_FIELDS};
use crate::yaml::{Node, Value};

/// A converted tree and what was done to it.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The tree, ready to deserialize as a task definition or service spec.
    pub tree: Node,
    /// Read-only fields that were dropped, with where they were.
    pub dropped: Vec<(String, Span)>,
    /// Fields that were moved out (e.g. `serviceName` → `metadata.name`), by name, with value.
    pub lifted: Vec<(String, Node)>,
}

/// Converts a task definition as ECS or a tool wrote it (`{"taskDefinition": {...}}` or bare).
pub fn task_definition(mut tree: Node) -> Converted {
    if let Some(inner) = tree.remove("taskDefinition") {
        // `describe-task-definition` output: `{"taskDefinition": {...}, "tags": [...]}`; the
        // outer tags are the task definition's tags.
        let outer_tags = tree.remove("tags");
        tree = inner;
        if let Some(tags) = outer_tags
            && tree.get("tags").is_none()
            && let Value::Map(entries) = &mut tree.value
        {
            let key = crate::yaml::Key {
                name: "tags".into(),
                span: tags.span.clone(),
            };
            entries.push((key, tags));
        }
    }
    let dropped = drop_fields(&mut tree, TASK_DEFINITION_DESCRIBE_ONLY_FIELDS);
    Converted {
        tree,
        dropped,
        lifted: Vec::new(),
    }
}

/// Fields of a service definition that are not part of `spec` but say who the service is.
const SERVICE_IDENTITY_FIELDS: &[&str] =
    &["cluster", "serviceName", "taskDefinition", "clientToken"];

/// Converts a service definition (`describe-services` entry, ecspresso dump, CreateService
/// input). `cluster`, `serviceName` and a string `taskDefinition` are lifted out.
pub fn service(mut tree: Node) -> Converted {
    let mut lifted = Vec::new();
    for field in SERVICE_IDENTITY_FIELDS {
        let inline = *field == "taskDefinition"
            && tree
                .get(field)
                .is_some_and(|n| matches!(n.value, Value::Map(_)));
        if inline {
            continue;
        }
        if let Some(value) = tree.remove(field) {
            lifted.push(((*field).to_string(), value));
        }
    }
    let dropped = drop_fields(&mut tree, SERVICE_DESCRIBE_ONLY_FIELDS);
    Converted {
        tree,
        dropped,
        lifted,
    }
}

fn drop_fields(tree: &mut Node, fields: &[&str]) -> Vec<(String, Span)> {
    let mut dropped = Vec::new();
    if let Value::Map(entries) = &mut tree.value {
        entries.retain(|(key, _)| {
            let read_only = fields.contains(&key.name.as_str());
            if read_only {
                dropped.push((key.name.clone(), key.span.clone()));
            }
            !read_only
        });
    }
    dropped
}

/// A manifest built from ECS JSON, with what was dropped on the way.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The manifest.
    pub document: super::ManifestDocument,
    /// Read-only fields that were dropped, and where they were.
    pub dropped: Vec<(String, Span)>,
    /// Things the user should know (e.g. a task definition reference that was not inlined).
    pub notes: Vec<String>,
}

/// Builds a manifest from a task definition (and optionally a service definition) as ECS JSON.
///
/// `name` and `cluster` win over the service file's `serviceName`/`cluster`; the name falls
/// back to the task definition's family. Errors are positioned in the JSON files.
pub fn manifest_from_ecs_json(
    task_definition_json: Node,
    service_json: Option<Node>,
    name: Option<String>,
    cluster: Option<String>,
) -> Result<Imported, Vec<crate::diag::Diagnostic>> {
    use crate::de::from_node;
    use crate::diag::Diagnostic;
    use crate::model::ecs::{ServiceSpec, TaskDefinitionSpec};

    let positioned = |err: crate::de::DeError, root: &Node| {
        let span = err.span.clone().unwrap_or_else(|| root.span.clone());
        Diagnostic::error(span, err.path.clone(), super::hints::message(&err))
    };
    let mut errors = Vec::new();
    let mut notes = Vec::new();

    let task = task_definition(task_definition_json);
    let mut dropped = task.dropped;
    let task_spec: Option<TaskDefinitionSpec> = match from_node(&task.tree) {
        Ok(spec) => Some(spec),
        Err(err) => {
            errors.push(positioned(err, &task.tree));
            None
        }
    };

    let mut lifted_name = None;
    let mut lifted_cluster = None;
    let service_spec: Option<ServiceSpec> = match service_json {
        None => Some(ServiceSpec::default()),
        Some(json) => {
            let converted = service(json);
            dropped.extend(converted.dropped);
            for (field, value) in &converted.lifted {
                let text = value.as_str().map(str::to_string);
                match field.as_str() {
                    "serviceName" => lifted_name = text,
                    // `cluster` may be a name or an ARN (`arn:aws:ecs:…:cluster/prod`).
                    "cluster" => lifted_cluster = text.map(|c| c.rsplit('/').next().unwrap_or(&c).to_string()),
                    "taskDefinition" => notes.push(format!(
                        "the service file names task definition `{}`; berth embeds the task definition inline, taken from the task definition file",
                        text.unwrap_or_default()
                    )),
                    _ => {}
                }
            }
            match from_node(&converted.tree) {
                Ok(spec) => Some(spec),
                Err(err) => {
                    errors.push(positioned(err, &converted.tree));
                    None
                }
            }
        }
    };
    let (Some(task_spec), Some(mut service_spec)) = (task_spec, service_spec) else {
        return Err(errors);
    };

    let name = name
        .or(lifted_name)
        .or_else(|| task_spec.family.clone())
        .ok_or_else(|| {
            vec![Diagnostic::error(
                task.tree.span.clone(),
                crate::diag::FieldPath::root(),
                "no service name: the files have neither `serviceName` nor `family`; pass --name",
            )]
        })?;
    let cluster = cluster.or(lifted_cluster).ok_or_else(|| {
        vec![Diagnostic::error(
            task.tree.span.clone(),
            crate::diag::FieldPath::root(),
            "no cluster: the service file has no `cluster`; pass --cluster",
        )]
    })?;
    let mut task_spec = task_spec;
    if task_spec.family.as_deref() == Some(name.as_str()) {
        task_spec.family = None; // the default; keeps the manifest minimal
    }
    service_spec.task_definition = Some(task_spec);
    Ok(Imported {
        document: super::ManifestDocument {
            api_version: super::API_VERSION.to_string(),
            kind: super::KIND_SERVICE.to_string(),
            metadata: super::Metadata {
                name,
                cluster,
                target: None,
                suspend: false,
                depends_on: Vec::new(),
                ignore_differences: Vec::new(),
            },
            spec: service_spec,
        },
        dropped,
        notes,
    })
}

/// The smallest task definition that means the same as `td`: every field whose removal leaves
/// the normalized form unchanged (an ECS default, an empty list, a server-filled value) is
/// removed, so imported manifests are short and `plan` after `import` shows no changes by
/// construction.
pub fn minimal_task_definition(
    td: &crate::model::ecs::TaskDefinitionSpec,
) -> crate::model::ecs::TaskDefinitionSpec {
    use crate::model::ecs::TaskDefinitionSpec;
    use crate::normalize::{ImageDigests, task_definition};
    let images = ImageDigests::new();
    let target = task_definition(td, &images);
    let same = |candidate: &serde_json::Value| {
        serde_json::from_value::<TaskDefinitionSpec>(candidate.clone())
            .is_ok_and(|candidate| task_definition(&candidate, &images) == target)
    };
    minimize(td, same).unwrap_or_else(|| td.clone())
}

/// The smallest service spec that means the same as `spec` (see [`minimal_task_definition`]);
/// `task_definition` gives the context the service's defaults depend on (e.g. Fargate).
pub fn minimal_service(
    spec: &crate::model::ecs::ServiceSpec,
    task_definition: Option<&crate::model::ecs::TaskDefinitionSpec>,
) -> crate::model::ecs::ServiceSpec {
    use crate::model::ecs::ServiceSpec;
    use crate::normalize::service;
    let target = service(spec, task_definition);
    let same = |candidate: &serde_json::Value| {
        serde_json::from_value::<ServiceSpec>(candidate.clone())
            .is_ok_and(|candidate| service(&candidate, task_definition) == target)
    };
    minimize(spec, same).unwrap_or_else(|| spec.clone())
}

/// Removes every object key (deepest first) whose removal keeps `same` true.
fn minimize<T: serde::Serialize + serde::de::DeserializeOwned>(
    value: &T,
    same: impl Fn(&serde_json::Value) -> bool,
) -> Option<T> {
    let mut json = serde_json::to_value(value).ok()?;
    let mut path = Vec::new();
    prune(&mut json.clone(), &mut json, &mut path, &same);
    serde_json::from_value(json).ok()
}

/// Walks `node` (a copy of the part of `root` at `path`) and drops keys from `root`.
fn prune(
    node: &mut serde_json::Value,
    root: &mut serde_json::Value,
    path: &mut Vec<PathStep>,
    same: &impl Fn(&serde_json::Value) -> bool,
) {
    match node {
        serde_json::Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                path.push(PathStep::Key(key.clone()));
                if let Some(child) = map.get_mut(&key) {
                    prune(child, root, path, same);
                }
                let mut candidate = root.clone();
                if remove_at(&mut candidate, path) && same(&candidate) {
                    *root = candidate;
                }
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(PathStep::Index(index));
                prune(item, root, path, same);
                path.pop();
            }
        }
        _ => {}
    }
}

enum PathStep {
    Key(String),
    Index(usize),
}

/// Removes the object key at `path` from `root`; false if the path no longer exists.
fn remove_at(root: &mut serde_json::Value, path: &[PathStep]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = root;
    for step in parents {
        node = match (step, node) {
            (PathStep::Key(key), serde_json::Value::Object(map)) => match map.get_mut(key) {
                Some(next) => next,
                None => return false,
            },
            (PathStep::Index(i), serde_json::Value::Array(items)) => match items.get_mut(*i) {
                Some(next) => next,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, node) {
        (PathStep::Key(key), serde_json::Value::Object(map)) => map.remove(key).is_some(),
        _ => false,
    }
}
