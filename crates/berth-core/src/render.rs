//! The exact `RegisterTaskDefinition` and `CreateService` inputs berth sends for a manifest.

use serde_json::{Map, Value, json};

use crate::manifest::ServiceManifest;

/// Tag keys berth puts on everything it creates or updates.
pub mod tags {
    /// Marks a resource as managed by berth.
    pub const MANAGED_BY: &str = "berth:managed-by";
    /// `<repo>#<path>` of the manifest that declares it.
    pub const SOURCE: &str = "berth:source";
    /// Git commit the resource was last applied from.
    pub const REVISION: &str = "berth:revision";
    /// `disabled` protects a service from pruning.
    pub const PRUNE: &str = "berth:prune";
    /// Value of [`MANAGED_BY`].
    pub const MANAGED_BY_VALUE: &str = "berth";
}

/// Where a manifest set comes from, for ownership tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// Repository URL or local path of the manifest set.
    pub repository: String,
    /// Commit being applied, when there is one.
    pub revision: Option<String>,
}

impl Provenance {
    fn tags(&self, manifest: &ServiceManifest) -> Vec<Value> {
        let mut tags = vec![
            json!({"key": tags::MANAGED_BY, "value": tags::MANAGED_BY_VALUE}),
            json!({"key": tags::SOURCE, "value": format!("{}#{}", self.repository, manifest.origin.file)}),
        ];
        if let Some(revision) = &self.revision {
            tags.push(json!({"key": tags::REVISION, "value": revision}));
        }
        tags
    }
}

/// Appends berth's ownership tags to `object["tags"]`, replacing any user tag with the same key.
fn add_tags(object: &mut Map<String, Value>, ownership: Vec<Value>) {
    let owned_keys: Vec<Value> = ownership.iter().map(|tag| tag["key"].clone()).collect();
    let mut tags: Vec<Value> = match object.remove("tags") {
        Some(Value::Array(tags)) => tags
            .into_iter()
            .filter(|tag| !owned_keys.contains(&tag["key"]))
            .collect(),
        _ => Vec::new(),
    };
    tags.extend(ownership);
    object.insert("tags".into(), Value::Array(tags));
}

/// The `RegisterTaskDefinition` input: the manifest's task definition with its family defaulted
/// to the service name and berth's ownership tags added.
pub fn register_task_definition(manifest: &ServiceManifest, provenance: &Provenance) -> Value {
    let mut task_definition = manifest.spec.task_definition.clone().unwrap_or_default();
    task_definition.family = Some(manifest.family().to_string());
    let mut value = serde_json::to_value(&task_definition).unwrap_or(Value::Null);
    if let Value::Object(object) = &mut value {
        add_tags(object, provenance.tags(manifest));
    }
    value
}

/// The `CreateService` input. `taskDefinition` is the family here; berth sends the full ARN of
/// the revision it registered or reused.
pub fn create_service(manifest: &ServiceManifest, provenance: &Provenance) -> Value {
    let mut spec = manifest.spec.clone();
    spec.task_definition = None;
    let mut object = Map::new();
    object.insert("cluster".into(), Value::String(manifest.id.cluster.clone()));
    object.insert(
        "serviceName".into(),
        Value::String(manifest.id.name.clone()),
    );
    object.insert(
        "taskDefinition".into(),
        Value::String(manifest.family().to_string()),
    );
    if let Ok(Value::Object(fields)) = serde_json::to_value(&spec) {
        object.extend(fields);
    }
    add_tags(&mut object, provenance.tags(manifest));
    Value::Object(object)
}
