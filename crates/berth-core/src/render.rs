//! The exact `RegisterTaskDefinition` and `CreateService` inputs berth sends for a manifest.

use serde_json::{Map, Value, json};

use crate::manifest::ServiceManifest;

/// Tag keys berth puts on everything it creates or updates.
pub mod tags {
    /// Marks a resource as managed by berth.
    pub const MANAGED_BY: &str = "berth:managed-by";
    /// `<source id>#<path>` of the manifest that declares it (see [`super::source_tag_value`]).
    pub const SOURCE: &str = "berth:source";
    /// The start of a daemon's git source id (`git:github.com/acme/deploy@main:prod`). A
    /// service whose owner key starts with this or [`DIR_SOURCE_PREFIX`] belongs to that
    /// daemon; any other key was written by a one-off `berth apply`, which a daemon adopts.
    pub const GIT_SOURCE_PREFIX: &str = "git:";
    /// The start of a daemon's watched-directory source id (`dir:/srv/manifests`).
    pub const DIR_SOURCE_PREFIX: &str = "dir:";
    /// ECS's limit on a tag value, in characters.
    pub const VALUE_LIMIT: usize = 256;
    /// Git commit the resource was last applied from.
    pub const REVISION: &str = "berth:revision";
    /// `disabled` protects a service from pruning.
    pub const PRUNE: &str = "berth:prune";
    /// [`super::spec_hash`] of the manifest the resource was last applied from: after a restart,
    /// a service whose tag equals its manifest's hash differs from git only by drift.
    pub const SPEC_HASH: &str = "berth:spec-hash";
    /// On a service: proof that the task definition it runs is the one berth registered (or
    /// reused) for its manifest and resolved image digests, so that planning need not describe
    /// it (`v1:` and 16 hex digits; see [`crate::plan::task_definition_proof`]).
    pub const TASK_DEFINITION: &str = "berth:task-definition";
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
                source_tag_value(&self.repository, &manifest.origin.file),
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

/// The longest owner key (the part of `berth:source` before `#`), in characters; a longer
/// source id is shortened by [`owner_key`].
pub const OWNER_KEY_LIMIT: usize = 128;

/// `source_id` as it stands in `berth:source` before the `#`: unchanged when it fits
/// [`OWNER_KEY_LIMIT`], otherwise a readable prefix, `~` and a hash of the whole id, so that
/// two long ids that share a prefix still differ.
pub fn owner_key(source_id: &str) -> String {
    shorten(source_id, OWNER_KEY_LIMIT)
}

/// The `berth:source` value for a manifest file of a source: `<owner key>#<file>`, within ECS's
/// 256-character tag value limit (a long file path is shortened like a long id).
pub fn source_tag_value(source_id: &str, file: &str) -> String {
    let key = owner_key(source_id);
    let room = tags::VALUE_LIMIT - key.chars().count() - 1;
    format!("{key}#{}", shorten(file, room))
}

/// `text` if it has at most `limit` characters, else its first characters, `~` and 16 hex
/// digits of its hash, `limit` characters in all.
fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let hash = format!("~{:016x}", fnv1a(text.as_bytes()));
    let keep = limit.saturating_sub(hash.len());
    text.chars().take(keep).collect::<String>() + &hash
}

/// 64-bit FNV-1a: small, stable across runs, machines and Rust releases (values end up in tags).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// A hash of everything a manifest asks of ECS (its spec with variables and defaults applied,
/// its family and `ignoreDifferences`), stable across runs and machines (FNV-1a, 64 bits), so
/// that it can be stored in a tag and compared after a restart.
pub fn spec_hash(manifest: &ServiceManifest) -> u64 {
    let content = json!({
        "family": manifest.family(),
        "spec": &manifest.spec,
        "ignoreDifferences": &manifest.metadata.ignore_differences,
    });
    fnv1a(content.to_string().as_bytes())
}

/// The version of what [`spec_hash`] hashes, written before the digits in the tag: a future
/// change of what is hashed gets a new version, so old tags read as "unknown", never as a change
/// to every service.
pub const SPEC_HASH_VERSION: &str = "v1";

/// [`spec_hash`] as the value of the [`tags::SPEC_HASH`] tag: `v1:` and 16 hex digits.
pub fn spec_hash_text(hash: u64) -> String {
    format!("{SPEC_HASH_VERSION}:{hash:016x}")
}

/// Whether a live `berth:spec-hash` tag says the resource was last applied from a manifest with
/// this [`spec_hash`]. A tag of another version says nothing (false); a tag of 16 bare hex
/// digits was written by berth 0.1 with the v1 hash, and still counts.
pub fn spec_hash_matches(tag: &str, hash: u64) -> bool {
    let digits = format!("{hash:016x}");
    match tag.split_once(':') {
        Some((version, rest)) => version == SPEC_HASH_VERSION && rest == digits,
        None => tag == digits,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{LoadAs, ManifestText};

    fn hash_of(text: ManifestText, path: &str) -> u64 {
        let outcome = text.load_as(path);
        spec_hash(&outcome.services[0])
    }

    #[test]
    fn source_tags_fit_ecs_limits_and_keep_long_ids_apart() {
        let short = "git:github.com/acme/deploy@main";
        assert_eq!(
            source_tag_value(short, "prod/web.yaml"),
            "git:github.com/acme/deploy@main#prod/web.yaml"
        );
        let long_a = format!("git:git.example.com/{}@main:a", "x".repeat(300));
        let long_b = format!("git:git.example.com/{}@main:b", "x".repeat(300));
        let (key_a, key_b) = (owner_key(&long_a), owner_key(&long_b));
        assert_eq!(key_a.chars().count(), OWNER_KEY_LIMIT);
        assert!(key_a.starts_with("git:git.example.com/xxx"), "{key_a}");
        assert_ne!(key_a, key_b, "a shared prefix does not merge two sources");
        let value = source_tag_value(&long_a, &"d/".repeat(200));
        assert_eq!(value.chars().count(), tags::VALUE_LIMIT);
        assert!(value.starts_with(&format!("{key_a}#d/d/")), "{value}");
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
        assert_eq!(spec_hash_text(base).len(), 19);
        assert!(spec_hash_text(base).starts_with("v1:"));
        assert!(spec_hash_matches(&spec_hash_text(base), base));
        assert!(
            spec_hash_matches(&format!("{base:016x}"), base),
            "berth 0.1's tags"
        );
        assert!(!spec_hash_matches(&format!("v2:{base:016x}"), base));
        assert!(!spec_hash_matches(&spec_hash_text(base ^ 1), base));
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
