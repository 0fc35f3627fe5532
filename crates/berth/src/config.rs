//! `berth.yaml`: the daemon's configuration file, read with the same positioned YAML as
//! manifests so that a mistake is reported as `berth.yaml:line:column: key: message`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use berth_core::target::{Target, Targets};
use berth_engine::daemon::{WindowKind, WindowSpec, Windows};
use serde::{Deserialize, Deserializer};

/// The whole file (docs/cli.md, `berth run`); every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigFile {
    /// Where manifests come from.
    #[serde(default)]
    pub source: SourceSection,
    /// How to reach AWS.
    #[serde(default)]
    pub aws: AwsSection,
    /// How to reconcile.
    #[serde(default)]
    pub reconcile: ReconcileSection,
    /// Variables for `${NAME}` in manifests.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The HTTP listener.
    #[serde(default)]
    pub server: ServerSection,
    /// The AWS accounts and regions manifests deploy to (docs/cli.md, "Targets"); without it,
    /// one account and region from `aws:` and the standard chain.
    #[serde(default, deserialize_with = "targets")]
    pub targets: Option<Targets>,
    /// Leases, for several replicas (docs/operations.md, "Running several replicas").
    #[serde(default)]
    pub lease: LeaseSection,
    /// GitHub commit statuses and chat messages (docs/operations.md, "Notifications").
    #[serde(default)]
    pub notifications: berth_notify::NotifyConfig,
}

/// `lease:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LeaseSection {
    /// The DynamoDB table of leases (in `aws.region`); without it, one replica owns all.
    pub table: Option<String>,
    /// How long a lease lasts after each renewal.
    #[serde(default, deserialize_with = "duration")]
    pub ttl: Option<Duration>,
    /// How often leases are renewed.
    #[serde(default, deserialize_with = "duration")]
    pub renew_every: Option<Duration>,
    /// How long before its lease ends a replica stops writing.
    #[serde(default, deserialize_with = "duration")]
    pub margin: Option<Duration>,
}

/// `source:`. `Debug` masks any credentials in the URL.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceSection {
    /// A git URL, or a local directory (watched for changes when it is not a git repository).
    pub url: Option<String>,
    /// Branch to track.
    pub branch: Option<String>,
    /// Directory inside the repository.
    pub path: Option<String>,
    /// How often to fetch.
    #[serde(default, deserialize_with = "duration")]
    pub poll_interval: Option<Duration>,
    /// Credentials.
    #[serde(default)]
    pub auth: AuthSection,
    /// Where clones are cached.
    pub cache_dir: Option<String>,
    /// `/readyz` turns not-ready after the source was unreadable this long.
    #[serde(default, deserialize_with = "duration")]
    pub staleness: Option<Duration>,
}

impl std::fmt::Debug for SourceSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSection")
            .field(
                "url",
                &self.url.as_deref().map(berth_source::git::redact_url),
            )
            .field("branch", &self.branch)
            .field("path", &self.path)
            .field("poll_interval", &self.poll_interval)
            .field("auth", &self.auth)
            .field("cache_dir", &self.cache_dir)
            .field("staleness", &self.staleness)
            .finish()
    }
}

/// `source.auth:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthSection {
    /// Environment variable holding an HTTPS token.
    pub token_env: Option<String>,
    /// File holding an HTTPS token.
    pub token_file: Option<String>,
    /// SSH deploy key file.
    pub ssh_key_file: Option<String>,
}

/// `aws:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsSection {
    /// Region.
    pub region: Option<String>,
    /// Endpoint override (an emulator).
    pub endpoint_url: Option<String>,
}

/// `reconcile:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReconcileSection {
    /// Full reconcile at least this often.
    #[serde(default, deserialize_with = "duration")]
    pub interval: Option<Duration>,
    /// Services applied at once.
    pub concurrency: Option<usize>,
    /// Delete services git no longer has.
    pub prune: Option<bool>,
    /// At most this many prunes per reconcile.
    pub max_prune: Option<usize>,
    /// Revert drift.
    pub self_heal: Option<bool>,
    /// berth's own service, `cluster/name`: never pruned, changed last.
    pub self_service: Option<String>,
    /// Rollout deadline.
    #[serde(default, deserialize_with = "duration")]
    pub progress_deadline: Option<Duration>,
    /// Read and report, change nothing (docs/operations.md, "Suspend and freeze windows").
    pub suspend: Option<bool>,
    /// The same for these clusters only.
    #[serde(default)]
    pub suspend_clusters: Vec<String>,
    /// Freeze windows: when changes may (allow) or may not (deny) go out.
    #[serde(default, deserialize_with = "windows")]
    pub windows: Windows,
    /// Keep this many unused task definition revisions per family berth manages; deregister
    /// older ones (off when absent).
    pub keep_revisions: Option<usize>,
}

/// One `reconcile.windows` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WindowEntry {
    name: String,
    kind: WindowKindEntry,
    schedule: String,
    #[serde(deserialize_with = "required_duration")]
    duration: Duration,
    time_zone: Option<String>,
    #[serde(default)]
    clusters: Vec<String>,
}

/// `allow` or `deny`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
enum WindowKindEntry {
    Allow,
    Deny,
}

/// `reconcile.windows`, parsed (cron schedules, time zones) where it is written, so a mistake
/// is reported at `berth.yaml:line:column: reconcile.windows`.
fn windows<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Windows, D::Error> {
    let entries: Vec<WindowEntry> = Vec::deserialize(deserializer)?;
    let specs = entries.into_iter().map(|entry| WindowSpec {
        name: entry.name,
        kind: match entry.kind {
            WindowKindEntry::Allow => WindowKind::Allow,
            WindowKindEntry::Deny => WindowKind::Deny,
        },
        schedule: entry.schedule,
        duration: entry.duration,
        time_zone: entry.time_zone.unwrap_or_else(|| "UTC".into()),
        clusters: entry.clusters,
    });
    Windows::new(specs.collect()).map_err(serde::de::Error::custom)
}

/// A duration that must be given.
fn required_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    duration(deserializer)?.ok_or_else(|| serde::de::Error::custom("give a duration, e.g. `8h`"))
}

/// `server:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerSection {
    /// Listen address.
    #[serde(default, deserialize_with = "socket_addr")]
    pub listen: Option<SocketAddr>,
    /// Environment variable holding the GitHub webhook secret.
    pub webhook_secret_env: Option<String>,
    /// Environment variable holding the `/reconcile` bearer token.
    pub token_env: Option<String>,
}

/// A duration written as `30s`, `5m`, `1h30m`.
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    text.map(|t| {
        humantime::parse_duration(&t).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{t}` is not a duration ({e}); write e.g. `30s`, `5m` or `1h`"
            ))
        })
    })
    .transpose()
}

/// `targets:`, checked as a whole (unique names, valid role ARNs) where it is written, so a
/// mistake is reported at `berth.yaml:line:column: targets`.
fn targets<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Targets>, D::Error> {
    let list: Option<Vec<Target>> = Option::deserialize(deserializer)?;
    list.map(|list| Targets::new(list).map_err(serde::de::Error::custom))
        .transpose()
}

/// An address written as `0.0.0.0:8080` or `[::]:8080`.
fn socket_addr<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SocketAddr>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    text.map(|t| {
        t.parse().map_err(|_| {
            serde::de::Error::custom(format!(
                "`{t}` is not an address like 0.0.0.0:8080 (an IP address and a port)"
            ))
        })
    })
    .transpose()
}

/// `targets:` given on its own (`--targets`, `BERTH_TARGETS`): a YAML or JSON list of targets,
/// checked as in the file; errors are positioned in `name`.
pub fn parse_targets(name: &str, text: &str) -> anyhow::Result<Targets> {
    let file: Arc<str> = Arc::from(name);
    let documents =
        berth_core::yaml::parse_documents(&file, text).map_err(|diag| anyhow::anyhow!("{diag}"))?;
    let Some(document) = documents.first() else {
        anyhow::bail!(
            "{name}: empty: give a list of targets, e.g. `[{{name: prod, region: eu-west-1}}]`"
        );
    };
    let list: Vec<Target> = berth_core::de::from_node(document).map_err(|err| {
        let at = err
            .span
            .as_ref()
            .map_or_else(|| name.to_string(), ToString::to_string);
        anyhow::anyhow!("{at}: {err}")
    })?;
    Targets::new(list).map_err(|err| anyhow::anyhow!("{name}: {err}"))
}

impl ConfigFile {
    /// Reads and checks `path`; errors name the file, line, column and key.
    pub fn read(path: &Path) -> anyhow::Result<ConfigFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read config", path.display()))?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses config text named `name` (for messages).
    pub fn parse(name: &str, text: &str) -> anyhow::Result<ConfigFile> {
        let file: Arc<str> = Arc::from(name);
        let documents = berth_core::yaml::parse_documents(&file, text)
            .map_err(|diag| anyhow::anyhow!("{diag}"))?;
        let Some(document) = documents.first() else {
            return Ok(ConfigFile::default());
        };
        berth_core::de::from_node(document).map_err(|err| {
            let at = err
                .span
                .as_ref()
                .map_or_else(|| name.to_string(), ToString::to_string);
            anyhow::anyhow!("{at}: {err}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_credentials_in_the_source_url() {
        let config = ConfigFile::parse(
            "berth.yaml",
            "source:\n  url: https://x-access-token:ghp_s3cr3t@github.com/acme/deploy.git\n",
        )
        .expect("parses");
        let shown = format!("{config:?}");
        assert!(!shown.contains("ghp_s3cr3t"), "{shown}");
        assert!(shown.contains("github.com/acme/deploy.git"), "{shown}");
    }

    #[test]
    fn reads_the_documented_example() {
        let config = ConfigFile::parse(
            "berth.yaml",
            "source:\n  url: https://github.com/acme/deploy.git\n  branch: main\n  path: manifests/prod\n  pollInterval: 60s\n  auth: {tokenEnv: GIT_TOKEN}\naws:\n  region: us-east-1\nreconcile:\n  interval: 5m\n  concurrency: 8\n  prune: false\n  maxPrune: 1\n  selfHeal: true\n  progressDeadline: 10m\nvars: {ACCOUNT: \"123456789012\"}\nserver:\n  listen: 0.0.0.0:8080\n  webhookSecretEnv: BERTH_WEBHOOK_SECRET\n  tokenEnv: BERTH_API_TOKEN\n",
        )
        .expect("valid");
        assert_eq!(config.source.poll_interval, Some(Duration::from_secs(60)));
        assert_eq!(config.reconcile.interval, Some(Duration::from_secs(300)));
        assert_eq!(config.source.auth.token_env.as_deref(), Some("GIT_TOKEN"));
        assert_eq!(
            config.vars.get("ACCOUNT").map(String::as_str),
            Some("123456789012")
        );
    }

    #[test]
    fn a_bad_key_or_duration_names_file_line_and_key() {
        let err = ConfigFile::parse("berth.yaml", "reconcile:\n  intervall: 5m\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("berth.yaml:2:3: reconcile.intervall: unknown field `intervall`"),
            "{err}"
        );
        let err = ConfigFile::parse("berth.yaml", "reconcile:\n  interval: soon\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("berth.yaml:2:13: reconcile.interval: `soon` is not a duration"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_window_names_the_window_and_where_it_is() {
        let text = "reconcile:\n  windows:\n    - {name: freeze, kind: deny, schedule: '0 18 * * FRI', duration: 2h, timeZone: Europe/Berln}\n";
        let err = ConfigFile::parse("berth.yaml", text)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("berth.yaml:3:"), "{err}");
        assert!(
            err.contains("window freeze: `Europe/Berln` is not a time zone"),
            "{err}"
        );
        let good = "reconcile:\n  suspendClusters: [staging]\n  windows:\n    - {name: office, kind: allow, schedule: '0 9 * * MON-FRI', duration: 8h}\n";
        let file = ConfigFile::parse("berth.yaml", good).expect("parses");
        assert!(!file.reconcile.windows.is_empty());
        assert_eq!(file.reconcile.suspend_clusters, ["staging"]);
    }
}
