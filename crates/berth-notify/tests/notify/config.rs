//! The configuration as berth.yaml holds it, resolved, and never printed with its secrets.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use berth_notify::{Notifier, NotifyConfig};
use tokio::sync::watch;

const HOOK: &str = "https://hooks.example.com/services/T000/B000/very-secret-path";

fn env(name: &str) -> Option<String> {
    let vars = BTreeMap::from([
        ("GITHUB_TOKEN", "ghp_very_secret_token"),
        ("SLACK_WEBHOOK_URL", HOOK),
        ("BERTH_CHAT_SECRET", "signing-secret-value"),
    ]);
    vars.get(name).map(|v| (*v).to_owned())
}

const SECRETS: [&str; 4] = [
    "ghp_very_secret_token",
    "hooks.example.com",
    "very-secret-path",
    "signing-secret-value",
];

#[tokio::test]
async fn debug_never_shows_the_token_or_the_url() {
    let config: NotifyConfig = serde_json::from_value(serde_json::json!({
        "queue": 16,
        "github": {"repository": "acme/deploy", "tokenEnv": "GITHUB_TOKEN"},
        "chat": {"urlEnv": "SLACK_WEBHOOK_URL", "secretEnv": "BERTH_CHAT_SECRET"},
    }))
    .unwrap();
    let resolved = config.resolve(&env).unwrap().unwrap();
    assert_eq!(resolved.queue, 16);
    assert_eq!(resolved.chat.as_ref().unwrap().url.to_string(), HOOK);

    let (_shutdown, stop) = watch::channel(false);
    let (notifier, _worker) = Notifier::start(resolved.clone(), stop).unwrap();
    let printed = [
        format!("{config:?}"),
        format!("{resolved:?}"),
        format!("{resolved:#?}"),
        format!("{notifier:?}"),
    ];
    for text in &printed {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert!(printed[1].contains("***"), "{}", printed[1]);
}

#[test]
fn a_missing_variable_is_named_without_values() {
    let config: NotifyConfig = serde_json::from_value(serde_json::json!({
        "github": {"repository": "acme/deploy", "tokenEnv": "UNSET_TOKEN"},
    }))
    .unwrap();
    let error = config.resolve(&env).unwrap_err().to_string();
    assert_eq!(
        error,
        "notifications.github.tokenEnv: UNSET_TOKEN is not set"
    );
}
