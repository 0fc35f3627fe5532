//! Targets: the AWS accounts and regions manifests deploy to (`targets:` in berth.yaml, see
//! docs/cli.md), validated as a whole, and which target a manifest's cluster resolves to.

use std::collections::BTreeSet;

use serde::Deserialize;

/// One target as written in berth.yaml: an account (through `roleArn`) and a region, and the
/// clusters there whose manifests it deploys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Target {
    /// Its name: a metric label value and a `/status` key.
    pub name: String,
    /// The AWS region of its clusters.
    pub region: String,
    /// The IAM role berth assumes for it; `None`: the standard credential chain's identity.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The external id the role's trust policy asks for.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The clusters it owns; empty: every cluster no other target lists (a catch-all).
    #[serde(default)]
    pub clusters: Vec<String>,
}

impl Target {
    /// Whether it lists no clusters, so takes every cluster no other target lists.
    pub fn is_catch_all(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Whether it lists `cluster`.
    pub fn lists(&self, cluster: &str) -> bool {
        self.clusters.iter().any(|listed| listed == cluster)
    }
}

/// Why a list of targets is not valid. Each message says what to change in berth.yaml.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// `targets: []`.
    #[error(
        "`targets` is empty; list at least one target (`name` and `region`), or remove `targets` \
         to deploy to one account and region"
    )]
    Empty,
    /// A name that cannot be a metric label value or a `/status` key.
    #[error(
        "target name `{0}` is not valid; use 1 to 63 lowercase letters, digits and `-`, starting \
         with a letter or digit (it is a metric label and a /status key)"
    )]
    InvalidName(String),
    /// Two targets with one name.
    #[error("target `{0}` is listed more than once; give each target its own name")]
    DuplicateName(String),
    /// `region` is empty.
    #[error(
        "target `{0}` has an empty `region`; set the AWS region of its clusters, e.g. `us-east-1`"
    )]
    EmptyRegion(String),
    /// `roleArn` is not an IAM role ARN.
    #[error(
        "target `{target}`: `roleArn` `{arn}` is not an IAM role ARN; write it as \
         `arn:aws:iam::123456789012:role/NAME`"
    )]
    InvalidRoleArn {
        /// The target's name.
        target: String,
        /// The value as written.
        arn: String,
    },
    /// `externalId` without a role to pass it to.
    #[error(
        "target `{0}` has an `externalId` but no `roleArn`; the external id is sent when berth \
         assumes `roleArn`: set `roleArn` or remove `externalId`"
    )]
    ExternalIdWithoutRole(String),
    /// A cluster listed twice in one target.
    #[error("target `{target}` lists cluster `{cluster}` more than once; remove the repetition")]
    DuplicateCluster {
        /// The target's name.
        target: String,
        /// The cluster listed twice.
        cluster: String,
    },
    /// An empty cluster name.
    #[error("target `{0}` lists an empty cluster name; remove it or write the cluster's name")]
    EmptyCluster(String),
}

/// A validated, non-empty list of targets with unique names, in berth.yaml's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    targets: Vec<Target>,
}

impl Targets {
    /// Validates `targets`: at least one; names unique and `[a-z0-9][a-z0-9-]{0,62}`; a
    /// non-empty region; `roleArn`, if given, an IAM role ARN; `externalId` only with
    /// `roleArn`; no cluster twice in one target (one cluster in two targets is fine: two
    /// accounts may each have a `prod`).
    pub fn new(targets: Vec<Target>) -> Result<Targets, TargetError> {
        if targets.is_empty() {
            return Err(TargetError::Empty);
        }
        let mut names = BTreeSet::new();
        for target in &targets {
            check_target(target)?;
            if !names.insert(target.name.as_str()) {
                return Err(TargetError::DuplicateName(target.name.clone()));
            }
        }
        Ok(Targets { targets })
    }

    /// The targets, in berth.yaml's order.
    pub fn iter(&self) -> std::slice::Iter<'_, Target> {
        self.targets.iter()
    }

    /// The target named `name`.
    pub fn get(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|target| target.name == name)
    }

    /// The targets' names, in berth.yaml's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.targets.iter().map(|target| target.name.as_str())
    }

    /// The target a manifest of `cluster` goes to; `explicit` is its `metadata.target`.
    ///
    /// With `explicit`, that target, which must exist and, if it lists clusters, list
    /// `cluster`. Without: the one target that lists `cluster`; if none does, the one target
    /// that lists no clusters (a catch-all). None or several is [`Unresolved`].
    pub fn resolve(&self, cluster: &str, explicit: Option<&str>) -> Result<&Target, Unresolved> {
        if let Some(name) = explicit {
            return self.resolve_explicit(cluster, name);
        }
        let mut candidates: Vec<&Target> = self.iter().filter(|t| t.lists(cluster)).collect();
        let catch_all = candidates.is_empty();
        if catch_all {
            candidates = self.iter().filter(|t| t.is_catch_all()).collect();
        }
        match candidates.as_slice() {
            [one] => Ok(one),
            [] => Err(Unresolved::UnknownCluster {
                cluster: cluster.to_string(),
                targets: self
                    .iter()
                    .map(|t| (t.name.clone(), t.clusters.clone()))
                    .collect(),
            }),
            several => Err(Unresolved::Ambiguous {
                cluster: cluster.to_string(),
                targets: several.iter().map(|t| t.name.clone()).collect(),
                catch_all,
            }),
        }
    }

    fn resolve_explicit(&self, cluster: &str, name: &str) -> Result<&Target, Unresolved> {
        let Some(target) = self.get(name) else {
            return Err(Unresolved::UnknownTarget {
                target: name.to_string(),
                targets: self.names().map(str::to_string).collect(),
            });
        };
        if target.is_catch_all() || target.lists(cluster) {
            Ok(target)
        } else {
            Err(Unresolved::ClusterNotInTarget {
                cluster: cluster.to_string(),
                target: target.name.clone(),
                clusters: target.clusters.clone(),
            })
        }
    }
}

impl<'a> IntoIterator for &'a Targets {
    type Item = &'a Target;
    type IntoIter = std::slice::Iter<'a, Target>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Checks one target on its own.
fn check_target(target: &Target) -> Result<(), TargetError> {
    let name = &target.name;
    if !is_valid_name(name) {
        return Err(TargetError::InvalidName(name.clone()));
    }
    if target.region.trim().is_empty() {
        return Err(TargetError::EmptyRegion(name.clone()));
    }
    match (&target.role_arn, &target.external_id) {
        (Some(arn), _) if !is_role_arn(arn) => {
            return Err(TargetError::InvalidRoleArn {
                target: name.clone(),
                arn: arn.clone(),
            });
        }
        (None, Some(_)) => return Err(TargetError::ExternalIdWithoutRole(name.clone())),
        _ => {}
    }
    let mut clusters = BTreeSet::new();
    for cluster in &target.clusters {
        if cluster.is_empty() {
            return Err(TargetError::EmptyCluster(name.clone()));
        }
        if !clusters.insert(cluster.as_str()) {
            return Err(TargetError::DuplicateCluster {
                target: name.clone(),
                cluster: cluster.clone(),
            });
        }
    }
    Ok(())
}

/// `[a-z0-9][a-z0-9-]{0,62}`.
fn is_valid_name(name: &str) -> bool {
    let lower_or_digit = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut chars = name.chars();
    name.len() <= 63
        && chars.next().is_some_and(lower_or_digit)
        && chars.all(|c| lower_or_digit(c) || c == '-')
}

/// `arn:aws[-a-z]*:iam::<12 digits>:role/<at least one character>`.
fn is_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let partition_ok = partition
        .strip_prefix("aws")
        .is_some_and(|rest| rest.chars().all(|c| c == '-' || c.is_ascii_lowercase()));
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let role_ok = resource
        .strip_prefix("role/")
        .is_some_and(|role| !role.is_empty());
    partition_ok && account_ok && role_ok
}

/// Why a manifest resolves to no target; [`Unresolved::message`] is the one wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    /// `metadata.target` names no target.
    #[error("{}", self.message())]
    UnknownTarget {
        /// `metadata.target` as written.
        target: String,
        /// The targets there are.
        targets: Vec<String>,
    },
    /// `metadata.target` names a target whose `clusters` do not include the manifest's.
    #[error("{}", self.message())]
    ClusterNotInTarget {
        /// `metadata.cluster`.
        cluster: String,
        /// `metadata.target`.
        target: String,
        /// The clusters that target lists.
        clusters: Vec<String>,
    },
    /// No target lists the cluster and none is a catch-all.
    #[error("{}", self.message())]
    UnknownCluster {
        /// `metadata.cluster`.
        cluster: String,
        /// Every target with the clusters it lists.
        targets: Vec<(String, Vec<String>)>,
    },
    /// Several targets list the cluster (or, when none does, several are catch-alls).
    #[error("{}", self.message())]
    Ambiguous {
        /// `metadata.cluster`.
        cluster: String,
        /// The targets it could go to.
        targets: Vec<String>,
        /// Whether they are catch-alls (none lists the cluster).
        catch_all: bool,
    },
}

impl Unresolved {
    /// What is wrong and what to do, for a diagnostic at `metadata.target` or
    /// `metadata.cluster`.
    pub fn message(&self) -> String {
        match self {
            Unresolved::UnknownTarget { target, targets } => format!(
                "no target is named `{target}` (targets: {}); set `metadata.target` to one of \
                 them, or add target `{target}` to `targets` in berth.yaml",
                targets.join(", ")
            ),
            Unresolved::ClusterNotInTarget {
                cluster,
                target,
                clusters,
            } => format!(
                "target `{target}` does not list cluster `{cluster}` (its clusters: {}); add it \
                 to the target's `clusters` in berth.yaml, or fix `metadata.cluster` or \
                 `metadata.target`",
                clusters.join(", ")
            ),
            Unresolved::UnknownCluster { cluster, targets } => format!(
                "unknown cluster: no target lists cluster `{cluster}` (targets: {}); add it to a \
                 target's `clusters` in berth.yaml",
                listing(targets)
            ),
            Unresolved::Ambiguous {
                cluster,
                targets,
                catch_all,
            } => format!(
                "ambiguous: cluster `{cluster}` is in targets {}{}; set `metadata.target`",
                and_list(targets),
                if *catch_all {
                    " (no target lists it, and these list no clusters, so take any)"
                } else {
                    ""
                }
            ),
        }
    }
}

/// `a [c1, c2], b [c3]`.
fn listing(targets: &[(String, Vec<String>)]) -> String {
    targets
        .iter()
        .map(|(name, clusters)| format!("{name} [{}]", clusters.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a and b`, `a, b and c`.
fn and_list(names: &[String]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

#[cfg(test)]
mod tests;
