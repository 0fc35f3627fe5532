//! Validation of a loaded service before anything touches AWS.
//!
//! Each rule is a small function over the typed manifest that returns [`Finding`]s with the
//! field path they are about; the loader turns paths into `file:line:column` via the manifest's
//! tree. Rules that span manifests (duplicates, `dependsOn`) live in the loader.

mod rules;

use crate::diag::{Diagnostic, FieldPath, Severity};
use crate::manifest::ServiceManifest;
use crate::yaml::Node;

/// One problem found in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error (the service is Invalid) or warning.
    pub severity: Severity,
    /// The field it is about.
    pub path: FieldPath,
    /// What is wrong and what to do.
    pub message: String,
}

impl Finding {
    /// An error about `path`.
    pub fn error(path: FieldPath, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            path,
            message: message.into(),
        }
    }

    /// A warning about `path`.
    pub fn warning(path: FieldPath, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Warning,
            path,
            message: message.into(),
        }
    }

    /// Positions the finding in `tree` (the manifest it is about).
    pub fn into_diagnostic(self, tree: &Node) -> Diagnostic {
        Diagnostic::new(
            self.severity,
            tree.span_of(&self.path),
            self.path,
            &self.message,
        )
    }
}

/// Runs every per-service rule.
pub fn service(manifest: &ServiceManifest) -> Vec<Finding> {
    rules::ALL.iter().flat_map(|rule| rule(manifest)).collect()
}

#[cfg(test)]
mod tests;
