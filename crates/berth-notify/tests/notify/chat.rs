//! Chat messages: one per transition worth telling, signed when a secret is set.

#![allow(clippy::unwrap_used)]

use berth_core::vocabulary::Status;
use berth_engine::daemon::{Notice, Notify};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::support::*;

fn verifies(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(bytes) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

#[tokio::test]
async fn failed_back_to_synced_and_drift_make_three_signed_messages() {
    let endpoint = Endpoint::start().await;
    let running = start(config(None, Some(chat(&endpoint, Some(SIGNING)))));
    let notifier = &running.notifier;
    notifier.notify(applying("default", &["api"]));
    notifier.notify(transition(
        "default",
        "api",
        None,
        Status::Progressing,
        None,
    ));
    let reason = "rollout failed: tasks failed to start <see ECS>";
    let progressing = Some(Status::Progressing);
    notifier.notify(transition(
        "default",
        "api",
        progressing,
        Status::Failed,
        Some(reason),
    ));
    let retry = transition(
        "default",
        "api",
        Some(Status::Failed),
        Status::Progressing,
        None,
    );
    notifier.notify(retry);
    notifier.notify(transition(
        "default",
        "api",
        progressing,
        Status::Synced,
        None,
    ));
    notifier.notify(Notice::DriftReverted {
        target: "default".into(),
        id: id("api"),
        changes: vec!["desiredCount".into()],
    });
    let counts = running.finish().await;

    let requests = endpoint.requests();
    let texts: Vec<_> = requests
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts,
        [
            "prod/api Failed at 0123456: rollout failed: tasks failed to start &lt;see ECS&gt;",
            "prod/api back to Synced at 0123456 (was Progressing)",
            "prod/api drift reverted to git: desiredCount",
        ]
    );
    for request in &requests {
        assert_eq!(request.path, "/hooks/T000/B000/xyz");
        let signature = request.header("x-berth-signature-256").unwrap();
        assert!(verifies(SIGNING, &request.body, signature), "{signature}");
        assert!(!verifies("another secret", &request.body, signature));
        assert!(request.header("authorization").is_none());
    }
    assert_eq!(counts.sent, 3);
}

#[tokio::test]
async fn prune_messages_name_the_target_and_go_unsigned_without_a_secret() {
    let endpoint = Endpoint::start().await;
    let running = start(config(None, Some(chat(&endpoint, None))));
    running.notifier.notify(Notice::Pruned {
        target: "prod-eu".into(),
        id: id("old"),
    });
    running.notifier.notify(Notice::PruneRefused {
        target: "default".into(),
        reasons: vec!["prod/a: more than maxPrune (1)".into()],
    });
    running.finish().await;

    let requests = endpoint.requests();
    let texts: Vec<_> = requests.iter().map(|r| r.json()["text"].clone()).collect();
    assert_eq!(
        texts,
        [
            "[prod-eu] prod/old pruned: deleted, as git no longer has it",
            "prune refused: prod/a: more than maxPrune (1)",
        ]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.header("x-berth-signature-256").is_none())
    );
}

#[tokio::test]
async fn both_sinks_get_their_own_requests() {
    let github_endpoint = Endpoint::start().await;
    let chat_endpoint = Endpoint::start().await;
    let running = start(config(
        Some(github(&github_endpoint)),
        Some(chat(&chat_endpoint, None)),
    ));
    running.notifier.notify(applying("default", &["api"]));
    let failed = transition("default", "api", None, Status::Failed, Some("boom"));
    running.notifier.notify(failed);
    let counts = running.finish().await;
    assert_eq!(github_endpoint.requests().len(), 2);
    assert_eq!(chat_endpoint.requests().len(), 1);
    assert_eq!(counts.sent, 3);
}
