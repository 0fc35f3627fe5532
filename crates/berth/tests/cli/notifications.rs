//! Notifications from `berth run` end to end: a commit with one good and one failing service,
//! applied from a local git repository to the emulator, must produce exactly `pending` then
//! `failure` on that commit (naming the failing service) and one chat message per transition,
//! signed, at a local endpoint that records what it receives.

use std::time::Duration;

use berth_testkit::recorder::{RecordedRequest, Recorder};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::daemon::{Estate, ServiceFixture, one_at_a_time};

const GITHUB_TOKEN: &str = "ghp_e2e_token";
const CHAT_SECRET: &str = "e2e-chat-secret";

/// `api` with the circuit breaker on, so a failing image rolls back at once.
fn with_breaker(service: &ServiceFixture) -> String {
    service.yaml().replace(
        "  launchType: FARGATE",
        "  launchType: FARGATE\n  deploymentConfiguration: {deploymentCircuitBreaker: {enable: true, rollback: true}}",
    )
}

/// The commit statuses posted for `sha`: `(state, description)`.
fn statuses(requests: &[RecordedRequest], sha: &str) -> Vec<(String, String)> {
    let path = format!("/repos/acme/deploy/statuses/{sha}");
    (requests.iter())
        .filter(|r| r.path == path)
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).expect("JSON status");
            let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
            (text("state"), text("description"))
        })
        .collect()
}

fn chat_messages(requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    requests.iter().filter(|r| r.path == "/chat").collect()
}

fn signature(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(CHAT_SECRET.as_bytes())
        .expect("HMAC takes any key");
    mac.update(body);
    let hex: String = (mac.finalize().into_bytes().iter())
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

#[test]
fn a_good_and_a_failing_service_make_pending_then_failure_and_one_message_per_transition() {
    let _one = one_at_a_time();
    let recorder = Recorder::start().expect("recorder");
    let web = ServiceFixture::new("web", "web", "1.0");
    let api = ServiceFixture::new("api", "api", "1.0");
    let estate = Estate::new(&[web]);
    estate.write_file("api.yaml", &with_breaker(&api));
    estate.commit("api with its breaker");
    estate
        .emulator
        .default_account()
        .berth_moto("failing-images", &json!(["api:1.1"]))
        .expect("failing images");
    let mut config = estate.config();
    config.extra = format!(
        "notifications:\n  github:\n    repository: acme/deploy\n    tokenEnv: E2E_GITHUB_TOKEN\n    apiUrl: {url}\n  chat:\n    urlEnv: E2E_CHAT_URL\n    secretEnv: E2E_CHAT_SECRET\n",
        url = recorder.url()
    );
    let chat_url = format!("{}/chat", recorder.url());
    let mut daemon = estate.daemon_with(&config, |command| {
        command
            .env("E2E_GITHUB_TOKEN", GITHUB_TOKEN)
            .env("E2E_CHAT_URL", &chat_url)
            .env("E2E_CHAT_SECRET", CHAT_SECRET);
    });
    daemon.wait_synced(&["web", "api"]);

    // One commit: web's image bumped (good), api's to an image whose tasks fail.
    estate.write(&ServiceFixture::new("web", "web", "1.1"));
    estate.write_file(
        "api.yaml",
        &with_breaker(&ServiceFixture::new("api", "api", "1.1")),
    );
    let sha = estate.commit("web 1.1, api 1.1");
    daemon.reconcile_now();
    let final_states = ["failure", "success"];
    daemon.wait_until(
        "the commit's final status",
        Duration::from_secs(120),
        |_| {
            let requests = recorder.requests();
            (statuses(&requests, &sha).iter())
                .any(|(state, _)| final_states.contains(&state.as_str()))
                .then_some(())
        },
    );
    daemon.wait_until("web Synced", Duration::from_secs(60), |d| {
        (d.status()["services"]["prod/web"]["status"] == "Synced").then_some(())
    });

    let requests = recorder.requests();
    let told = statuses(&requests, &sha);
    let states: Vec<&str> = told.iter().map(|(state, _)| state.as_str()).collect();
    assert_eq!(states, ["pending", "failure"], "{told:?}");
    assert!(told[1].1.contains("prod/api"), "{told:?}");
    let status_request = requests
        .iter()
        .find(|r| r.path.contains(&sha))
        .expect("a status");
    let bearer = format!("Bearer {GITHUB_TOKEN}");
    assert_eq!(
        status_request.header("authorization"),
        Some(bearer.as_str())
    );

    // Chat: api's failure, once; web's rollout is no transition worth a message.
    let messages = chat_messages(&requests);
    let texts: Vec<String> = (messages.iter())
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(messages.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("prod/api") && texts[0].contains("Failed"),
        "{texts:?}"
    );
    let signed = messages[0].header("x-berth-signature-256");
    assert_eq!(signed, Some(signature(&messages[0].body).as_str()));
    let sent = daemon.metric_sum("berth_notifications_total", ("outcome", "sent"));
    assert!(
        sent >= 3.0,
        "pending, failure and the message at least: {sent}"
    );
    daemon.terminate();
}
