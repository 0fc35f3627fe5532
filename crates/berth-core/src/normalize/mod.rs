//! Normalization: the one form in which a desired and a live task definition (or service) are
//! compared, so that ECS's defaults, its reordering of lists, its server-set fields and unit
//! spellings never show as a change, and the field-level [`diff`] between two such forms.
//!
//! A normalized value is JSON: `serde_json::to_value` of the typed model (ECS wire names),
//! then transformed by small named rules, in this order:
//!
//! 1. read-only and server-set fields dropped ([`drop_read_only`]);
//! 2. `null`, `""`, `[]` and `{}` dropped as absent (`generic::drop_empty`);
//! 3. ECS defaults filled in or, for defaults that mean "off", dropped (`task::apply`,
//!    `service::apply`: `essential: true`, `protocol: tcp`, `hostPort`, health check
//!    timings, deployment configuration, …), roles compared by name, images by digest;
//! 4. order-insensitive lists keyed (`containerDefinitions.web`, `environment.LOG_LEVEL`,
//!    `secrets.DB_PASSWORD`, `tags.team`, `volumes.data`, …) or sorted (subnets, security
//!    groups, port mappings, …); lists whose order matters (`command`, `entryPoint`,
//!    `dnsServers`, `placementStrategy`, …) are kept as written;
//! 5. object keys sorted.
//!
//! Every field name the rules use is a constant in [`fields`], which a test checks against the
//! generated model.
//!
//! Every rule is idempotent and works on lists already keyed, so normalizing a normalized
//! value is a no-op. Defaults are applied the same way to both sides, so a minimal manifest
//! and ECS's filled-in describe output of the same thing normalize equal.
//!
//! # Paths
//!
//! [`diff`] reports, and [`ignore`] takes, dotted paths into the normalized form: object keys
//! joined with `.`, where the keys of keyed lists are names (`containerDefinitions.web.image`,
//! `containerDefinitions.web.environment.LOG_LEVEL`, `tags.team`,
//! `capacityProviderStrategy.FARGATE_SPOT.weight`). Lists that are not keyed (`command`,
//! `portMappings`, `subnets`, …) are one value each: a path ends at them.

pub mod fields;
mod generic;
mod paths;
mod service;
mod task;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::ecs::{
    SERVICE_DESCRIBE_ONLY_FIELDS, ServiceSpec, TASK_DEFINITION_DESCRIBE_ONLY_FIELDS,
    TaskDefinitionSpec,
};

/// Digests of resolved images: image reference as written (e.g.
/// `"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2"`) -> `"sha256:…"`.
pub type ImageDigests = std::collections::BTreeMap<String, String>;

/// One field-level difference between two normalized values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Dotted path of the field in the normalized form (see the module docs).
    pub path: String,
    /// The old (live) value; `None` when the field is added.
    pub old: Option<Value>,
    /// The new (desired) value; `None` when the field is removed.
    pub new: Option<Value>,
}

/// The normalized form of a task definition. `images` maps image references as written to
/// their digests: an image compares as `registry/repository@digest` when its reference carries
/// a digest or `images` knows one for it, otherwise as written.
pub fn task_definition(td: &TaskDefinitionSpec, images: &ImageDigests) -> Value {
    // Serializing the model cannot fail: every map it has is keyed by strings.
    let value = serde_json::to_value(td).unwrap_or_default();
    normalize_task_definition(value, images)
}

/// The normalized form of a service's settings. `task_definition` gives context (whether the
/// service runs on Fargate when neither launch type nor capacity providers say so).
/// `spec.task_definition` is ignored: task definitions are normalized by [`task_definition`].
pub fn service(spec: &ServiceSpec, task_definition: Option<&TaskDefinitionSpec>) -> Value {
    // Serializing the model cannot fail: every map it has is keyed by strings.
    let mut value = serde_json::to_value(spec).unwrap_or_default();
    if let Value::Object(object) = &mut value {
        object.remove(fields::service::TASK_DEFINITION);
    }
    let task_fargate_only = task_definition
        .and_then(|td| serde_json::to_value(td).ok())
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|td| task::TaskContext::of(td).fargate_only);
    normalize_service(value, task_fargate_only)
}

/// Removes the fields named by `metadata.ignoreDifferences` from a normalized value, so they
/// never show in a [`diff`].
///
/// Path syntax (against the normalized form, see the module docs): segments joined by `.`;
/// a segment is a field name or a key of a keyed list (`containerDefinitions.web.image`,
/// `containerDefinitions.web.environment.LOG_LEVEL`, `tags.team`); `*` matches every key
/// (`containerDefinitions.*.image`); a key containing dots may be written as is
/// (`dockerLabels.com.example.team`) or quoted (`dockerLabels."com.example.team"`). A path
/// that ends at a list removes the whole list; paths cannot go into lists that are not keyed.
/// Paths that name nothing are ignored. Objects left empty are removed.
pub fn ignore(value: &mut Value, paths: &[String]) {
    paths::ignore(value, paths);
}

/// Field-level differences between two normalized values (`old` = live, `new` = desired).
///
/// Objects are compared key by key (recursively; a `null` value is the same as absent, and an
/// object against an absent one gives one change per leaf); anything else, lists included,
/// is compared whole: one [`Change`] with the whole old and new value. Changes are sorted by
/// path, segment by segment.
pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    paths::diff(old, new)
}

/// Rule: read-only and server-set fields (`taskDefinitionArn`, `revision`, `status`,
/// `registeredAt`, `requiresAttributes`, `compatibilities`, …; for services `serviceArn`,
/// `deployments`, `events`, counts, …) are dropped if present.
fn drop_read_only(object: &mut Map<String, Value>, fields: &[&str]) {
    object.retain(|field, _| !fields.contains(&field.as_str()));
}

/// The steps of normalization shared by task definitions and services.
fn finish(value: &mut Value) {
    generic::drop_empty(value);
    generic::key_named_lists(value);
    generic::key_pair_lists(value);
    generic::sort_keys(value);
    generic::sort_sets(value);
}

fn normalize_task_definition(mut value: Value, images: &ImageDigests) -> Value {
    if let Value::Object(object) = &mut value {
        drop_read_only(object, TASK_DEFINITION_DESCRIBE_ONLY_FIELDS);
    }
    generic::drop_empty(&mut value);
    if let Value::Object(object) = &mut value {
        task::apply(object, images);
    }
    finish(&mut value);
    value
}

fn normalize_service(mut value: Value, task_fargate_only: bool) -> Value {
    if let Value::Object(object) = &mut value {
        drop_read_only(object, SERVICE_DESCRIBE_ONLY_FIELDS);
    }
    generic::drop_empty(&mut value);
    if let Value::Object(object) = &mut value {
        service::apply(object, task_fargate_only);
    }
    finish(&mut value);
    value
}

#[cfg(test)]
mod tests;
