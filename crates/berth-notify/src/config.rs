//! `notifications:` of berth.yaml ([`NotifyConfig`], names of variables and files only) and
//! what it resolves to at start ([`NotifierConfig`], with the secrets read and wrapped in
//! [`Secret`], whose `Debug` prints `***`).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use hyper::Uri;
use serde::Deserialize;

use crate::NotifyError;

/// The queue's length unless `notifications.queue` says otherwise.
pub const DEFAULT_QUEUE: usize = 256;
/// The GitHub API unless `notifications.github.apiUrl` says otherwise.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";
/// The commit status context of the target `default` (and the prefix of the others').
pub const DEFAULT_CONTEXT: &str = "berth";

/// `notifications:` as written in berth.yaml (docs/operations.md, "Notifications"). Every key
/// is optional; without `github:` and `chat:` nothing is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotifyConfig {
    /// How many notices wait to be sent before new ones are dropped (default 256).
    pub queue: Option<usize>,
    /// GitHub commit statuses.
    pub github: Option<GithubSection>,
    /// A Slack-compatible incoming webhook.
    pub chat: Option<ChatSection>,
}

/// `notifications.github:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GithubSection {
    /// `owner/name` of the repository whose commits get statuses.
    pub repository: Option<String>,
    /// The environment variable holding the token.
    pub token_env: Option<String>,
    /// The file holding the token.
    pub token_file: Option<String>,
    /// The API's base URL (GitHub Enterprise: `https://HOST/api/v3`).
    pub api_url: Option<String>,
    /// The status context of the target `default`; other targets get `<context>/<target>`.
    pub context: Option<String>,
}

/// `notifications.chat:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChatSection {
    /// The environment variable holding the webhook URL (a secret: whoever has it can post).
    pub url_env: Option<String>,
    /// The file holding the webhook URL.
    pub url_file: Option<String>,
    /// The environment variable holding the signing secret (optional).
    pub secret_env: Option<String>,
    /// The file holding the signing secret (optional).
    pub secret_file: Option<String>,
}

/// Secrets (a token, a webhook URL, a signing key) are berth-core's one `Secret` type.
pub use berth_core::secret::Secret;

/// What [`Notifier::start`](crate::Notifier::start) takes: `notifications:` with its secrets
/// read. Build it with [`NotifyConfig::resolve`] (or by hand in tests).
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// The queue's length (at least 1).
    pub queue: usize,
    /// Commit statuses, when configured.
    pub github: Option<GithubStatuses>,
    /// Chat messages, when configured.
    pub chat: Option<ChatWebhook>,
    /// Timeouts and retries of every request.
    pub delivery: Delivery,
}

/// Where and as whom commit statuses are posted.
#[derive(Debug, Clone)]
pub struct GithubStatuses {
    /// The API's base URL, without a trailing `/`.
    pub api_url: String,
    /// The repository's owner.
    pub owner: String,
    /// The repository's name.
    pub repo: String,
    /// The token (`Authorization: Bearer`).
    pub token: Secret,
    /// The context of the target `default`.
    pub context: String,
}

/// The chat webhook.
#[derive(Clone)]
pub struct ChatWebhook {
    /// The webhook's URL (a secret: `Debug` does not print it).
    pub url: Uri,
    /// The signing secret, when set: `X-Berth-Signature-256: sha256=<hex HMAC-SHA256>`.
    pub secret: Option<Secret>,
}

impl fmt::Debug for ChatWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatWebhook")
            .field("url", &"***")
            .field("secret", &self.secret)
            .finish()
    }
}

/// How each request is made: its timeout and its retries (on 5xx, 429 and transport errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The longest one request may take, answer included.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: usize,
    /// The first retry's delay (exponential with jitter after it).
    pub min_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            timeout: Duration::from_secs(10),
            retries: 4,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Reads an environment variable: `std::env::var(..).ok()` in the binary, a map in tests.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl NotifyConfig {
    /// Reads the secrets the config names and checks every key; `None` when neither `github:`
    /// nor `chat:` is set (nothing to send). Errors name the key and never a secret's value.
    pub fn resolve(&self, env: Env<'_>) -> Result<Option<NotifierConfig>, NotifyError> {
        let queue = self.queue.unwrap_or(DEFAULT_QUEUE);
        if queue == 0 {
            return Err(NotifyError::config(
                "notifications.queue",
                "must be at least 1",
            ));
        }
        let github = self
            .github
            .as_ref()
            .map(|github| github.resolve(env))
            .transpose()?;
        let chat = self
            .chat
            .as_ref()
            .map(|chat| chat.resolve(env))
            .transpose()?;
        if github.is_none() && chat.is_none() {
            return Ok(None);
        }
        Ok(Some(NotifierConfig {
            queue,
            github,
            chat,
            delivery: Delivery::default(),
        }))
    }
}

impl GithubSection {
    fn resolve(&self, env: Env<'_>) -> Result<GithubStatuses, NotifyError> {
        const REPOSITORY: &str = "notifications.github.repository";
        let repository = self.repository.as_deref().ok_or_else(|| {
            NotifyError::config(REPOSITORY, "is required (owner/name, e.g. acme/deploy)")
        })?;
        let (owner, repo) = repository
            .split_once('/')
            .filter(|(owner, repo)| is_github_name(owner) && is_github_name(repo))
            .ok_or_else(|| {
                NotifyError::config(
                    REPOSITORY,
                    format!("{repository:?} is not owner/name (e.g. acme/deploy)"),
                )
            })?;
        let token = one_secret(
            env,
            ("notifications.github.tokenEnv", self.token_env.as_deref()),
            ("notifications.github.tokenFile", self.token_file.as_deref()),
        )?
        .ok_or_else(|| {
            NotifyError::config(
                "notifications.github",
                "set tokenEnv or tokenFile: a token that may write commit statuses",
            )
        })?;
        let api_url = self
            .api_url
            .as_deref()
            .unwrap_or(DEFAULT_GITHUB_API_URL)
            .trim_end_matches('/')
            .to_owned();
        if !is_http_url(&api_url) {
            return Err(NotifyError::config(
                "notifications.github.apiUrl",
                format!("{api_url:?} is not an http(s) URL"),
            ));
        }
        let context = self.context.as_deref().unwrap_or(DEFAULT_CONTEXT);
        if context.trim().is_empty() {
            return Err(NotifyError::config(
                "notifications.github.context",
                "must not be empty",
            ));
        }
        Ok(GithubStatuses {
            api_url,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            token,
            context: context.to_owned(),
        })
    }
}

impl ChatSection {
    fn resolve(&self, env: Env<'_>) -> Result<ChatWebhook, NotifyError> {
        let url = one_secret(
            env,
            ("notifications.chat.urlEnv", self.url_env.as_deref()),
            ("notifications.chat.urlFile", self.url_file.as_deref()),
        )?
        .ok_or_else(|| {
            NotifyError::config(
                "notifications.chat",
                "set urlEnv or urlFile: the incoming webhook's URL",
            )
        })?;
        let key = if self.url_env.is_some() {
            "notifications.chat.urlEnv"
        } else {
            "notifications.chat.urlFile"
        };
        // The URL is the secret: neither it nor the parser's message is echoed.
        let url = url
            .expose()
            .parse::<Uri>()
            .ok()
            .filter(is_http_uri)
            .ok_or_else(|| NotifyError::config(key, "does not hold an http(s) URL"))?;
        let secret = one_secret(
            env,
            ("notifications.chat.secretEnv", self.secret_env.as_deref()),
            ("notifications.chat.secretFile", self.secret_file.as_deref()),
        )?;
        Ok(ChatWebhook { url, secret })
    }
}

/// The secret an `...Env`/`...File` pair names: at most one may be set; the value is trimmed
/// and must not be empty.
fn one_secret(
    env: Env<'_>,
    (env_key, env_name): (&'static str, Option<&str>),
    (file_key, file_path): (&'static str, Option<&str>),
) -> Result<Option<Secret>, NotifyError> {
    let (key, value) = match (env_name, file_path) {
        (Some(_), Some(_)) => {
            return Err(NotifyError::config(
                env_key,
                format!(
                    "set {} or {}, not both",
                    last_key(env_key),
                    last_key(file_key)
                ),
            ));
        }
        (Some(name), None) => {
            let value = env(name)
                .ok_or_else(|| NotifyError::config(env_key, format!("{name} is not set")))?;
            (env_key, value)
        }
        (None, Some(path)) => {
            let value = std::fs::read_to_string(Path::new(path))
                .map_err(|e| NotifyError::config(file_key, format!("cannot read {path}: {e}")))?;
            (file_key, value)
        }
        (None, None) => return Ok(None),
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(NotifyError::config(key, "names an empty value"));
    }
    Ok(Some(Secret::new(value)))
}

/// A GitHub owner or repository name: letters, digits, `-`, `_`, `.`.
fn is_github_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn is_http_url(url: &str) -> bool {
    url.parse::<Uri>().is_ok_and(|uri| is_http_uri(&uri))
}

fn is_http_uri(uri: &Uri) -> bool {
    matches!(uri.scheme_str(), Some("http" | "https")) && uri.authority().is_some()
}

/// `tokenEnv` of `notifications.github.tokenEnv`.
fn last_key(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn parse(json: &str) -> NotifyConfig {
        serde_json::from_str(json).expect("config parses")
    }

    #[test]
    fn nothing_configured_resolves_to_none() {
        let resolved = NotifyConfig::default()
            .resolve(&env(&[]))
            .expect("resolves");
        assert!(resolved.is_none());
        let queue_only = parse(r#"{"queue": 10}"#);
        assert!(queue_only.resolve(&env(&[])).expect("resolves").is_none());
    }

    #[test]
    fn camel_case_keys_and_unknown_keys() {
        let config = parse(
            r#"{"queue": 8, "github": {"repository": "acme/deploy", "tokenEnv": "GH",
                "apiUrl": "https://ghe.example.com/api/v3/", "context": "deploy"},
                "chat": {"urlFile": "/run/secrets/hook", "secretEnv": "SIG"}}"#,
        );
        let github = config.github.as_ref().expect("github");
        assert_eq!(github.token_env.as_deref(), Some("GH"));
        assert_eq!(
            config.chat.as_ref().and_then(|c| c.url_file.as_deref()),
            Some("/run/secrets/hook")
        );
        let unknown = serde_json::from_str::<NotifyConfig>(r#"{"github": {"token": "x"}}"#);
        assert!(unknown.is_err());
    }

    #[test]
    fn resolves_secrets_from_the_environment() {
        let config = parse(
            r#"{"github": {"repository": "acme/deploy", "tokenEnv": "GH",
                "apiUrl": "https://ghe.example.com/api/v3/"},
                "chat": {"urlEnv": "HOOK", "secretEnv": "SIG"}}"#,
        );
        let resolved = config
            .resolve(&env(&[
                ("GH", " ghp_secret\n"),
                ("HOOK", "https://hooks.example.com/T0/B0/xyz"),
                ("SIG", "signing"),
            ]))
            .expect("resolves")
            .expect("something to send");
        assert_eq!(resolved.queue, DEFAULT_QUEUE);
        let github = resolved.github.as_ref().expect("github");
        assert_eq!(github.token.expose(), "ghp_secret");
        assert_eq!(github.api_url, "https://ghe.example.com/api/v3");
        assert_eq!(
            (github.owner.as_str(), github.repo.as_str()),
            ("acme", "deploy")
        );
        assert_eq!(github.context, "berth");
        let chat = resolved.chat.as_ref().expect("chat");
        assert_eq!(chat.url.to_string(), "https://hooks.example.com/T0/B0/xyz");
        assert_eq!(chat.secret.as_ref().map(Secret::expose), Some("signing"));
        let debug = format!("{resolved:?}");
        for secret in ["ghp_secret", "hooks.example.com", "xyz", "signing"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn reads_secrets_from_files() {
        let dir = std::env::temp_dir().join(format!("berth-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let token = dir.join("token");
        std::fs::write(&token, "ghp_file\n").expect("write token");
        let config = NotifyConfig {
            github: Some(GithubSection {
                repository: Some("acme/deploy".into()),
                token_file: Some(token.display().to_string()),
                ..GithubSection::default()
            }),
            ..NotifyConfig::default()
        };
        let resolved = config.resolve(&env(&[])).expect("resolves").expect("some");
        let github = resolved.github.expect("github");
        assert_eq!(github.token.expose(), "ghp_file");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    fn error(json: &str, vars: &[(&str, &str)]) -> String {
        match parse(json).resolve(&env(vars)) {
            Ok(_) => panic!("{json} resolved"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_name_the_key_and_never_the_value() {
        assert_eq!(
            error(
                r#"{"github": {"repository": "acme/deploy", "tokenEnv": "GITHUB_TOKEN"}}"#,
                &[]
            ),
            "notifications.github.tokenEnv: GITHUB_TOKEN is not set"
        );
        assert_eq!(
            error(r#"{"github": {"tokenEnv": "GH"}}"#, &[("GH", "t")]),
            "notifications.github.repository: is required (owner/name, e.g. acme/deploy)"
        );
        assert!(
            error(
                r#"{"github": {"repository": "acme", "tokenEnv": "GH"}}"#,
                &[("GH", "t")]
            )
            .starts_with("notifications.github.repository: \"acme\" is not owner/name")
        );
        assert!(
            error(r#"{"github": {"repository": "a/b"}}"#, &[])
                .starts_with("notifications.github: set tokenEnv or tokenFile")
        );
        assert!(
            error(
                r#"{"github": {"repository": "a/b", "tokenEnv": "GH", "tokenFile": "/x"}}"#,
                &[("GH", "t")]
            )
            .contains("not both")
        );
        let bad_url = error(
            r#"{"chat": {"urlEnv": "HOOK"}}"#,
            &[("HOOK", "hooks.example.com/secret-path")],
        );
        assert_eq!(
            bad_url,
            "notifications.chat.urlEnv: does not hold an http(s) URL"
        );
        assert_eq!(
            error(r#"{"chat": {"urlEnv": "HOOK"}}"#, &[("HOOK", "  ")]),
            "notifications.chat.urlEnv: names an empty value"
        );
        assert!(
            error(r#"{"chat": {"urlFile": "/nonexistent/berth/hook"}}"#, &[])
                .starts_with("notifications.chat.urlFile: cannot read /nonexistent/berth/hook")
        );
        assert_eq!(
            error(
                r#"{"queue": 0, "chat": {"urlEnv": "H"}}"#,
                &[("H", "http://x")]
            ),
            "notifications.queue: must be at least 1"
        );
    }

    #[test]
    fn secret_never_prints() {
        let secret = Secret::new("ghp_abc");
        assert_eq!(format!("{secret:?} {secret}"), "*** ***");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(***)");
        assert_eq!(secret.expose(), "ghp_abc");
    }
}
