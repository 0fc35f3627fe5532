//! `berth run`'s settings, resolved once: a flag (or its `BERTH_*` variable) wins over
//! `berth.yaml`, which wins over the default of the library that owns the setting
//! (`DaemonOptions::default()`, `ServerConfig::default()`, `berth_source`'s constants). No
//! default is written here, except the names of the two variables that hold the server's secrets.

use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_aws::AwsConfig;
use berth_core::manifest::ServiceId;
use berth_core::target::Targets;
use berth_engine::daemon::{DaemonOptions, Holds};
use berth_engine::defaults::{DEFAULT_TARGET, LEASE_MARGIN, LEASE_RENEW_EVERY, LEASE_TTL};
use berth_engine::lease::LeaseOptions;
use berth_server::ServerConfig;
use berth_source::{GitAuth, GitConfig, Secret};

use crate::cli::RunArgs;
use crate::config::ConfigFile;

/// The variable holding the GitHub webhook secret unless `server.webhookSecretEnv` names another.
pub const DEFAULT_WEBHOOK_SECRET_ENV: &str = "BERTH_WEBHOOK_SECRET";
/// The variable holding the `POST /reconcile` token unless `server.tokenEnv` names another.
pub const DEFAULT_API_TOKEN_ENV: &str = "BERTH_API_TOKEN";

/// Reads an environment variable; `std::env::var(..).ok()` in the binary, a map in tests.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Everything `berth run` needs, in the types the libraries take.
#[derive(Debug)]
pub struct Settings {
    /// Where manifests come from.
    pub source: Source,
    /// `source.url` as configured (may hold credentials: redact before showing it).
    pub url: String,
    /// The reconciler's options.
    pub daemon: DaemonOptions,
    /// The HTTP server's configuration.
    pub server: ServerConfig,
    /// How to reach AWS (without `targets:`; with them, the base every target's settings
    /// start from).
    pub aws: AwsConfig,
    /// `targets:` of berth.yaml, if any.
    pub targets: Option<Targets>,
    /// `lease:`, when replicas share the targets.
    pub lease: Option<LeaseSettings>,
    /// `notifications:`, with their secrets read, when any is configured.
    pub notifications: Option<berth_notify::NotifierConfig>,
}

/// Where and how replicas lease targets.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// The DynamoDB table (in the base `aws` region and account).
    pub table: String,
    /// This replica's id and timings.
    pub options: LeaseOptions,
}

/// One target's share of the settings: what `berth run` makes a reconciler of.
#[derive(Debug)]
pub struct TargetSettings {
    /// The target's name (`default` without `targets:`).
    pub name: String,
    /// Its region, as configured (`None`: the standard chain's).
    pub region: Option<String>,
    /// How to reach its account and region.
    pub aws: AwsConfig,
    /// The reconciler's options, scoped to the target.
    pub daemon: DaemonOptions,
}

/// The kind of manifest source `source.url` names.
#[derive(Debug)]
pub enum Source {
    /// A plain directory (not a git repository), watched for changes.
    Directory(PathBuf),
    /// A git branch (a URL, or a local repository).
    Git(GitConfig),
}

impl Settings {
    /// Reads `--config` (if given) and the process environment, then [`Settings::resolve`]s.
    pub fn load(flags: &RunArgs) -> anyhow::Result<Settings> {
        let file = match &flags.config {
            Some(path) => ConfigFile::read(path)?,
            None => ConfigFile::default(),
        };
        Self::resolve(flags, &|name| std::env::var(name).ok(), &file)
    }

    /// Merges `flags` over `file` over the libraries' defaults. `env` gives the secrets the
    /// settings name (webhook secret, API token, git token). Reads the filesystem to tell a
    /// directory from a git repository, and for `source.auth.tokenFile`.
    pub fn resolve(flags: &RunArgs, env: Env<'_>, file: &ConfigFile) -> anyhow::Result<Settings> {
        if file.reconcile.keep_revisions == Some(0) {
            anyhow::bail!(
                "reconcile.keepRevisions: 0 would leave a family no revision to roll back to; give at least 1, or leave it out to keep every revision"
            );
        }
        let url = flags
            .source_url
            .clone()
            .or_else(|| file.source.url.clone())
            .context("no source: set source.url in the config, --source-url or BERTH_SOURCE_URL")?;
        let branch = flags
            .branch
            .clone()
            .or_else(|| file.source.branch.clone())
            .unwrap_or_else(|| berth_source::DEFAULT_BRANCH.to_owned());
        let sub_path = flags
            .source_path
            .clone()
            .or_else(|| file.source.path.clone());
        let local = Path::new(&url);
        let (source, source_id) = if local.is_dir() && !berth_source::git::is_repository(local) {
            let id = berth_source::dir_source_id(local);
            (Source::Directory(local.to_path_buf()), id)
        } else {
            let id = berth_source::git_source_id(&url, &branch, sub_path.as_deref());
            let cache_dir = (flags.cache_dir.clone())
                .or_else(|| file.source.cache_dir.clone().map(PathBuf::from))
                .unwrap_or_else(berth_source::default_cache_dir);
            let mut config = GitConfig::new(url.as_str(), cache_dir);
            config.branch = branch.clone();
            config.path = sub_path;
            config.auth = git_auth(flags, env, file)?;
            (Source::Git(config), id)
        };
        let daemon = DaemonOptions {
            repository: source_id,
            // berth 0.1 tagged services with the URL as configured; they are still this source's.
            legacy_repository: Some(url.clone()),
            own_service: own_service(flags, file)?,
            ..daemon_options(flags, file)
        };
        let server = ServerConfig {
            branch,
            ..server_config(flags, env, file)
        };
        let aws = AwsConfig {
            region: flags.aws.region.clone().or_else(|| file.aws.region.clone()),
            endpoint_url: (flags.aws.endpoint_url.clone())
                .or_else(|| file.aws.endpoint_url.clone()),
            ..AwsConfig::default()
        };
        Ok(Settings {
            source,
            url,
            daemon,
            server,
            aws,
            targets: match &flags.targets {
                Some(text) => Some(crate::config::parse_targets("BERTH_TARGETS", text)?),
                None => file.targets.clone(),
            },
            lease: lease_settings(flags, file)?,
            notifications: file.notifications.resolve(env)?,
        })
    }

    /// One entry per target, in the order of `targets:`; without targets, one entry named
    /// [`DEFAULT_TARGET`] with the settings as they are.
    pub fn per_target(&self) -> Vec<TargetSettings> {
        let Some(targets) = &self.targets else {
            return vec![TargetSettings {
                name: DEFAULT_TARGET.to_owned(),
                region: self.aws.region.clone(),
                aws: self.aws.clone(),
                daemon: self.daemon.clone(),
            }];
        };
        targets
            .iter()
            .map(|target| TargetSettings {
                name: target.name.clone(),
                region: Some(target.region.clone()),
                aws: self.aws.for_target(target),
                daemon: DaemonOptions {
                    targets: Some(targets.clone()),
                    target: Some(target.name.clone()),
                    ..self.daemon.clone()
                },
            })
            .collect()
    }
}

/// `reconcile:`, `source.pollInterval`, `source.staleness` and `vars:` over
/// `DaemonOptions::default()`.
fn daemon_options(flags: &RunArgs, file: &ConfigFile) -> DaemonOptions {
    let default = DaemonOptions::default();
    let (reconcile, source) = (&file.reconcile, &file.source);
    let duration = |flag: Option<humantime::Duration>, file: Option<std::time::Duration>| {
        flag.map(Into::into).or(file)
    };
    let mut vars = file.vars.clone();
    vars.extend(flags.vars.iter().cloned());
    DaemonOptions {
        interval: duration(flags.interval, reconcile.interval).unwrap_or(default.interval),
        poll_interval: duration(flags.poll_interval, source.poll_interval)
            .unwrap_or(default.poll_interval),
        concurrency: (flags.concurrency.or(reconcile.concurrency)).unwrap_or(default.concurrency),
        prune: flags.prune.or(reconcile.prune).unwrap_or(default.prune),
        max_prune: (flags.max_prune.or(reconcile.max_prune)).unwrap_or(default.max_prune),
        self_heal: (flags.self_heal.or(reconcile.self_heal)).unwrap_or(default.self_heal),
        progress_deadline: duration(flags.progress_deadline, reconcile.progress_deadline)
            .unwrap_or(default.progress_deadline),
        staleness: duration(flags.staleness, source.staleness).unwrap_or(default.staleness),
        vars,
        holds: Holds {
            suspend: (flags.suspend.or(reconcile.suspend)).unwrap_or(default.holds.suspend),
            suspend_clusters: reconcile.suspend_clusters.iter().cloned().collect(),
            windows: reconcile.windows.clone(),
        },
        keep_revisions: reconcile.keep_revisions,
        ..default
    }
}

/// `lease:` (`--lease-*`, `BERTH_LEASE_*`) over the engine's defaults; `None` without a table.
fn lease_settings(flags: &RunArgs, file: &ConfigFile) -> anyhow::Result<Option<LeaseSettings>> {
    let section = &file.lease;
    let Some(table) = flags.lease_table.clone().or_else(|| section.table.clone()) else {
        return Ok(None);
    };
    let ttl = (flags.lease_ttl.map(Into::into).or(section.ttl)).unwrap_or(LEASE_TTL);
    let renew_every = (flags.lease_renew_every.map(Into::into))
        .or(section.renew_every)
        .unwrap_or(LEASE_RENEW_EVERY);
    let margin = section.margin.unwrap_or(LEASE_MARGIN.min(ttl / 6));
    if renew_every + margin >= ttl {
        anyhow::bail!(
            "lease: renewEvery ({}) plus margin ({}) must be shorter than ttl ({}), or a replica stops writing before it renews; e.g. ttl 30s, renewEvery 10s",
            humantime::format_duration(renew_every),
            humantime::format_duration(margin),
            humantime::format_duration(ttl)
        );
    }
    Ok(Some(LeaseSettings {
        table,
        options: LeaseOptions {
            replica: replica_id(),
            ttl,
            renew_every,
            margin,
        },
    }))
}

/// This process's replica id: the host name (a Fargate task's is its own), the process id and
/// the start time, so two processes never share one.
fn replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "berth".to_owned());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    format!("{host}-{}-{started:08x}", std::process::id())
}

/// `reconcile.selfService` (`--self-service`, `BERTH_SELF_SERVICE`): `cluster/name`.
fn own_service(flags: &RunArgs, file: &ConfigFile) -> anyhow::Result<Option<ServiceId>> {
    let Some(text) = (flags.self_service.as_deref()).or(file.reconcile.self_service.as_deref())
    else {
        return Ok(None);
    };
    match text.split_once('/') {
        Some((cluster, name)) if !cluster.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(Some(ServiceId::new(cluster, name)))
        }
        _ => anyhow::bail!(
            "selfService `{text}` is not `cluster/name`: set it to berth's own ECS service, e.g. `platform/berth`"
        ),
    }
}

/// `server:` over `ServerConfig::default()`; the secrets are read from the variables named.
fn server_config(flags: &RunArgs, env: Env<'_>, file: &ConfigFile) -> ServerConfig {
    let secret = |flag: &Option<String>, file: &Option<String>, default: &str| {
        let name = flag.as_deref().or(file.as_deref()).unwrap_or(default);
        env(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .map(berth_server::Secret::new)
    };
    let server = &file.server;
    let default = ServerConfig::default();
    ServerConfig {
        listen: flags.listen.or(server.listen).unwrap_or(default.listen),
        webhook_secret: secret(
            &flags.webhook_secret_env,
            &server.webhook_secret_env,
            DEFAULT_WEBHOOK_SECRET_ENV,
        ),
        api_token: secret(
            &flags.api_token_env,
            &server.token_env,
            DEFAULT_API_TOKEN_ENV,
        ),
        ..default
    }
}

/// Git credentials: flags win over the file, an SSH key over a token, a token variable over a
/// token file.
fn git_auth(flags: &RunArgs, env: Env<'_>, file: &ConfigFile) -> anyhow::Result<GitAuth> {
    let auth = &file.source.auth;
    let file_path = |path: &Option<String>| path.clone().map(PathBuf::from);
    if let Some(key) = (flags.ssh_key_file.clone()).or_else(|| file_path(&auth.ssh_key_file)) {
        return Ok(GitAuth::SshKey {
            private_key: key,
            passphrase: None,
        });
    }
    let token_env = flags.token_env.clone().or_else(|| auth.token_env.clone());
    let token_file = (flags.token_file.clone()).or_else(|| file_path(&auth.token_file));
    let token =
        match (&token_env, &token_file) {
            (Some(name), _) => Some(env(name).with_context(|| {
                format!("source.auth.tokenEnv: environment variable {name} is not set")
            })?),
            (None, Some(path)) => Some(std::fs::read_to_string(path).with_context(|| {
                format!("source.auth.tokenFile: cannot read {}", path.display())
            })?),
            (None, None) => None,
        };
    Ok(match token {
        Some(token) => GitAuth::Token {
            token: Secret::new(token.trim().to_owned()),
        },
        None => GitAuth::None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        run: RunArgs,
    }

    fn flags(args: &[&str]) -> RunArgs {
        let argv = std::iter::once("berth").chain(args.iter().copied());
        Flags::try_parse_from(argv).expect("flags parse").run
    }

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse("berth.yaml", text).expect("config parses")
    }

    fn resolve_with(flags: &RunArgs, env: &[(&str, &str)], file: &ConfigFile) -> Settings {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::resolve(flags, &|name| env.get(name).cloned(), file).expect("resolves")
    }

    const URL: &str = "https://github.com/acme/deploy.git";

    #[test]
    fn each_target_gets_its_region_role_and_scope_and_berth_targets_wins_over_the_file() {
        let config = file(
            "source:\n  url: https://github.com/acme/deploy.git\naws:\n  endpointUrl: http://127.0.0.1:5000\ntargets:\n  - {name: prod, region: eu-west-1, roleArn: \"arn:aws:iam::111111111111:role/d\", externalId: x, clusters: [prod]}\n  - {name: staging, region: us-east-1}\n",
        );
        let targets = resolve_with(&flags(&[]), &[], &config).per_target();
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["prod", "staging"]);
        let prod = &targets[0];
        assert_eq!(prod.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            prod.aws.role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/d")
        );
        assert_eq!(prod.aws.external_id.as_deref(), Some("x"));
        assert_eq!(
            prod.aws.endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(prod.daemon.target.as_deref(), Some("prod"));
        assert!(prod.daemon.targets.is_some());
        assert_eq!(targets[1].aws.role_arn, None);

        let from_env = resolve_with(
            &flags(&["--targets", "[{name: only, region: ap-south-1}]"]),
            &[],
            &config,
        )
        .per_target();
        assert_eq!(from_env.len(), 1);
        assert_eq!(from_env[0].name, "only");

        let bad = Settings::resolve(&flags(&["--targets", "[{name: x}]"]), &|_| None, &config)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(bad.starts_with("BERTH_TARGETS:1:2:"), "{bad}");
        assert!(bad.contains("region"), "{bad}");
    }

    #[test]
    fn without_targets_there_is_one_default_target_with_the_settings_as_they_are() {
        let settings = resolve_with(
            &flags(&["--source-url", URL, "--region", "eu-north-1"]),
            &[],
            &ConfigFile::default(),
        );
        let targets = settings.per_target();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].name, berth_engine::defaults::DEFAULT_TARGET);
        assert_eq!(targets[0].aws, settings.aws);
        assert_eq!(targets[0].daemon.target, None);
    }

    #[test]
    fn self_service_is_cluster_slash_name_from_the_flag_or_the_file() {
        let config = file(
            "source:\n  url: https://github.com/acme/deploy.git\nreconcile:\n  selfService: platform/berth\n",
        );
        let from_file = resolve_with(&flags(&[]), &[], &config);
        assert_eq!(
            from_file.daemon.own_service,
            Some(ServiceId::new("platform", "berth"))
        );
        let from_flag = resolve_with(&flags(&["--self-service", "ops/berth-2"]), &[], &config);
        assert_eq!(
            from_flag.daemon.own_service,
            Some(ServiceId::new("ops", "berth-2"))
        );
        let none = resolve_with(&flags(&["--source-url", URL]), &[], &ConfigFile::default());
        assert_eq!(none.daemon.own_service, None);
        for bad in ["berth", "/berth", "platform/", "a/b/c"] {
            let error = Settings::resolve(&flags(&["--self-service", bad]), &|_| None, &config)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains("is not `cluster/name`"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_flag_beats_the_file_which_beats_the_default() {
        let config = file(
            "source:\n  url: https://github.com/acme/deploy.git\n  branch: prod\n  pollInterval: 30s\nreconcile:\n  interval: 2m\n  concurrency: 3\n  prune: true\nserver:\n  listen: 127.0.0.1:9000\n",
        );
        let settings = resolve_with(
            &flags(&[
                "--interval",
                "1m",
                "--branch",
                "release",
                "--max-prune",
                "4",
            ]),
            &[],
            &config,
        );
        let default = DaemonOptions::default();
        // Flags.
        assert_eq!(settings.daemon.interval, Duration::from_secs(60));
        assert_eq!(settings.server.branch, "release");
        assert_eq!(settings.daemon.max_prune, 4);
        // The file where no flag is given.
        assert_eq!(settings.daemon.poll_interval, Duration::from_secs(30));
        assert_eq!(settings.daemon.concurrency, 3);
        assert!(settings.daemon.prune);
        assert_eq!(settings.server.listen.to_string(), "127.0.0.1:9000");
        // The libraries' defaults where neither is.
        assert_eq!(settings.daemon.self_heal, default.self_heal);
        assert_eq!(settings.daemon.staleness, default.staleness);
        assert_eq!(settings.daemon.progress_deadline, default.progress_deadline);
        assert_eq!(settings.daemon.rollout_poll, default.rollout_poll);
        assert_eq!(settings.daemon.fetch_timeout, default.fetch_timeout);
        assert_eq!(
            settings.daemon.repository,
            "git:github.com/acme/deploy@release"
        );
        assert_eq!(settings.daemon.legacy_repository.as_deref(), Some(URL));
        let Source::Git(git) = &settings.source else {
            panic!("a URL is a git source")
        };
        assert_eq!(git.branch, "release");
        assert_eq!(git.cache_dir, berth_source::default_cache_dir());
    }

    #[test]
    fn with_no_flag_and_no_file_every_default_is_the_librarys() {
        let settings = resolve_with(&flags(&["--source-url", URL]), &[], &file(""));
        let daemon = DaemonOptions::default();
        assert_eq!(settings.daemon.interval, daemon.interval);
        assert_eq!(settings.daemon.poll_interval, daemon.poll_interval);
        assert_eq!(settings.daemon.concurrency, daemon.concurrency);
        assert_eq!(settings.daemon.max_prune, daemon.max_prune);
        assert_eq!(settings.daemon.prune, daemon.prune);
        let server = ServerConfig::default();
        assert_eq!(settings.server.listen, server.listen);
        assert_eq!(settings.server.branch, berth_source::DEFAULT_BRANCH);
        assert_eq!(settings.server.body_limit, server.body_limit);
        assert!(settings.server.webhook_secret.is_none() && settings.server.api_token.is_none());
        let Source::Git(git) = &settings.source else {
            panic!("a URL is a git source")
        };
        assert_eq!(git.auth, GitAuth::None);
        assert_eq!(git.path, None);
    }

    #[test]
    fn vars_from_flags_win_over_the_file() {
        let config = file("vars:\n  A: file\n  B: file\n");
        let settings = resolve_with(
            &flags(&["--source-url", URL, "--var", "A=flag"]),
            &[],
            &config,
        );
        assert_eq!(
            settings.daemon.vars.get("A").map(String::as_str),
            Some("flag")
        );
        assert_eq!(
            settings.daemon.vars.get("B").map(String::as_str),
            Some("file")
        );
    }

    #[test]
    fn secrets_come_from_the_variables_named_or_the_default_ones() {
        let env = [
            ("BERTH_WEBHOOK_SECRET", " hook \n"),
            ("MY_TOKEN", "tok"),
            ("BERTH_API_TOKEN", "unused"),
            ("GIT_TOKEN", "ghp_x\n"),
        ];
        let config =
            file("server:\n  tokenEnv: MY_TOKEN\nsource:\n  auth: {tokenEnv: GIT_TOKEN}\n");
        let settings = resolve_with(&flags(&["--source-url", URL]), &env, &config);
        let expose = |s: &Option<berth_server::Secret>| s.as_ref().map(|s| s.expose().to_owned());
        assert_eq!(
            expose(&settings.server.webhook_secret).as_deref(),
            Some("hook")
        );
        assert_eq!(expose(&settings.server.api_token).as_deref(), Some("tok"));
        let Source::Git(git) = &settings.source else {
            panic!("a URL is a git source")
        };
        assert_eq!(
            git.auth,
            GitAuth::Token {
                token: Secret::new("ghp_x")
            }
        );
        // An SSH key flag wins over the file's token.
        let settings = resolve_with(
            &flags(&["--source-url", URL, "--ssh-key-file", "/keys/deploy"]),
            &env,
            &config,
        );
        let Source::Git(git) = &settings.source else {
            panic!("a URL is a git source")
        };
        assert!(matches!(git.auth, GitAuth::SshKey { .. }), "{:?}", git.auth);
    }

    #[test]
    fn a_missing_source_or_token_variable_says_what_to_set() {
        let err = Settings::resolve(&flags(&[]), &|_| None, &file(""))
            .expect_err("no source")
            .to_string();
        assert!(err.contains("--source-url"), "{err}");
        let config = file("source:\n  auth: {tokenEnv: GIT_TOKEN}\n");
        let err = Settings::resolve(&flags(&["--source-url", URL]), &|_| None, &config)
            .expect_err("no token")
            .to_string();
        assert!(err.contains("GIT_TOKEN is not set"), "{err}");
    }

    #[test]
    fn a_plain_directory_is_a_directory_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_str().expect("utf-8 path");
        let settings = resolve_with(&flags(&["--source-url", path]), &[], &file(""));
        assert!(
            matches!(&settings.source, Source::Directory(p) if p == dir.path()),
            "{:?}",
            settings.source
        );
        assert!(
            settings.daemon.repository.starts_with("dir:"),
            "{}",
            settings.daemon.repository
        );
    }

    #[test]
    fn a_config_file_error_names_the_file_line_and_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("berth.yaml");
        std::fs::write(&path, "source:\n  url: x\nserver:\n  listen: everywhere\n").expect("write");
        let err = Settings::load(&flags(&["--config", path.to_str().expect("utf-8")]))
            .expect_err("bad listen")
            .to_string();
        assert!(
            err.contains("berth.yaml:4:11: server.listen: `everywhere` is not an address"),
            "{err}"
        );
        std::fs::write(&path, "reconcile:\n  concurency: 2\n").expect("write");
        let err = Settings::load(&flags(&["--config", path.to_str().expect("utf-8")]))
            .expect_err("unknown key")
            .to_string();
        assert!(
            err.contains("berth.yaml:2:3: reconcile.concurency"),
            "{err}"
        );
    }
}
