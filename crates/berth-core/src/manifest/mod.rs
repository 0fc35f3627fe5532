//! berth/v1 manifests: the envelope around an ECS service spec, and loading a set of them.

mod defaults;
mod hints;
pub mod import;
mod load;
mod vars;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::diag::{FieldPath, Span};
use crate::model::ecs::ServiceSpec;
use crate::yaml::Node;

pub use load::{
    FileContent, InvalidManifest, LoadOptions, LoadOutcome, SourceFile, Unreadable,
    is_defaults_file, load,
};
pub use vars::{Vars, substitute};

/// The only manifest format version this build reads.
pub const API_VERSION: &str = "berth/v1";
/// The only manifest kind so far.
pub const KIND_SERVICE: &str = "Service";

/// A service's identity: ECS service names are unique per cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ServiceId {
    /// ECS cluster name.
    pub cluster: String,
    /// ECS service name.
    pub name: String,
}

impl ServiceId {
    /// The id of service `name` in `cluster`.
    pub fn new(cluster: impl Into<String>, name: impl Into<String>) -> Self {
        ServiceId {
            cluster: cluster.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.cluster, self.name)
    }
}

/// `metadata`: who the service is and how berth treats it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// ECS service name, unique per cluster.
    pub name: String,
    /// ECS cluster name.
    pub cluster: String,
    /// The target (`targets:` in berth.yaml) the service deploys to, when its cluster alone
    /// does not tell; only with targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `true`: berth observes and reports this service but never changes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
    /// Services in the same cluster whose rollout must finish before this one is applied.
    #[serde(rename = "dependsOn", default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Spec fields owned by someone else (e.g. `desiredCount` under autoscaling): never diffed.
    #[serde(
        rename = "ignoreDifferences",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ignore_differences: Vec<String>,
}

/// One manifest document as written (after defaults and variables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestDocument {
    /// Must be `berth/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Must be `Service`.
    pub kind: String,
    /// Identity and berth's own settings.
    pub metadata: Metadata,
    /// The ECS service (CreateService/UpdateService input) with its task definition inline.
    pub spec: ServiceSpec,
}

/// Where a manifest came from: a file and the document's index in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Origin {
    /// The file's path relative to the manifest root.
    pub file: Arc<str>,
    /// 0-based index of the YAML document in the file.
    pub document: usize,
    /// 1-based line where the document starts.
    pub line: u32,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A loaded, valid service manifest.
#[derive(Debug, Clone)]
pub struct ServiceManifest {
    /// `(cluster, name)`.
    pub id: ServiceId,
    /// `metadata` as loaded.
    pub metadata: Metadata,
    /// `spec` as loaded.
    pub spec: ServiceSpec,
    /// The name of the target (`targets:` in berth.yaml) it resolved to; `None` without targets.
    pub target: Option<String>,
    /// Where it was read from.
    pub origin: Origin,
    /// Where the fields that checks across manifests report on are (the document tree itself is
    /// dropped once the manifest is validated: a daemon holds hundreds of manifests at once).
    pub spans: ManifestSpans,
}

/// Positions in a manifest's file of the fields that the checks across manifests (duplicates,
/// `dependsOn`) report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestSpans {
    /// `metadata.name`.
    pub name: Span,
    /// `metadata.dependsOn`.
    pub depends_on: Span,
    /// Each `metadata.dependsOn[i]`, in order.
    pub dependencies: Vec<Span>,
}

impl ManifestSpans {
    /// The spans of `tree`, a manifest with `dependencies` entries in `metadata.dependsOn`.
    pub fn of(tree: &Node, dependencies: usize) -> Self {
        let depends_on = FieldPath::root().key("metadata").key("dependsOn");
        ManifestSpans {
            name: tree.span_of(&FieldPath::root().key("metadata").key("name")),
            depends_on: tree.span_of(&depends_on),
            dependencies: (0..dependencies)
                .map(|i| tree.span_of(&depends_on.index(i)))
                .collect(),
        }
    }
}

impl ServiceManifest {
    /// The task definition family: `spec.taskDefinition.family`, else the service name.
    pub fn family(&self) -> &str {
        self.spec
            .task_definition
            .as_ref()
            .and_then(|td| td.family.as_deref())
            .unwrap_or(&self.id.name)
    }
}

#[cfg(test)]
mod tests;
