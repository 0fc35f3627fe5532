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
    /// [`super::spec_hash`] of the manifest the resource was last applied from: after a restart,
    /// a service whose tag equals its manifest's hash differs from git only by drift.
    pub const SPEC_HASH: &str = "berth:spec-hash";
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
    /// berth's ownership tags for `manifest`, as `(key, value)`: the one list that rendered
    /// inputs and apply both put on what berth creates or updates.
    pub fn ownership_tags(&self, manifest: &ServiceManifest) -> Vec<(&'static str, String)> {
        let mut owned = vec![
            (tags::MANAGED_BY, tags::MANAGED_BY_VALUE.to_string()),
            (
                tags::SOURCE,
                format!("{}#{}", self.repository, manifest.origin.file),
            ),
        ];
        if let Some(revision) = &self.revision {
            owned.push((tags::REVISION, revision.clone()));
        }
        owned.push((tags::SPEC_HASH, spec_hash_text(spec_hash(manifest))));
        owned
    }

    fn tags(&self, manifest: &ServiceManifest) -> Vec<Value> {
        self.ownership_tags(manifest)
            .into_iter()
            .map(|(key, value)| json!({"key": key, "value": value}))
            .collect()
    }
}

/// A hash of everything a manifest asks of ECS (its spec with variables and defaults applied,
/// its family and `ignoreDifferences`), stable across runs and machines (FNV-1a, 64 bits), so
/// that it can be stored in a tag and compared after a restart.
pub fn spec_hash(manifest: &ServiceManifest) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let content = json!({
        "family": manifest.family(),
        "spec": &manifest.spec,
        "ignoreDifferences": &manifest.metadata.ignore_differences,
    });
    content.to_string().bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// [`spec_hash`] as the value of the [`tags::SPEC_HASH`] tag: 16 hex digits.
pub fn spec_hash_text(hash: u64) -> String {
    format!("{hash:016x}")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{LoadAs, ManifestText};

    fn hash_of(text: ManifestText, path: &str) -> u64 {
        let outcome = text.load_as(path);
        spec_hash(&outcome.services[0])
    }

    #[test]
    fn the_spec_hash_follows_what_ecs_is_asked_for_and_nothing_else() {
        let base = hash_of(ManifestText::web(), "prod/web.yaml");
        assert_eq!(
            base,
            hash_of(ManifestText::web(), "elsewhere/web.yaml"),
            "moving a file asks nothing new of ECS"
        );
        assert_ne!(
            base,
            hash_of(
                ManifestText::web().replace("web:1.4.2", "web:1.5.0"),
                "prod/web.yaml"
            )
        );
        assert_ne!(
            base,
            hash_of(
                ManifestText::web().replace("desiredCount: 2", "desiredCount: 3"),
                "prod/web.yaml"
            )
        );
        assert_eq!(spec_hash_text(base).len(), 16);
    }

    #[test]
    fn rendered_inputs_carry_the_spec_hash_tag() {
        let outcome = ManifestText::web().load_as("prod/web.yaml");
        let manifest = &outcome.services[0];
        let input = create_service(manifest, &Provenance::default());
        let expected = spec_hash_text(spec_hash(manifest));
        assert!(
            input["tags"]
                .as_array()
                .expect("tags")
                .iter()
                .any(|t| t["key"] == tags::SPEC_HASH && t["value"] == expected.as_str()),
            "{input}"
        );
    }
}
