//! Commit statuses: pending when a commit starts deploying, then failure or success.

#![allow(clippy::unwrap_used)]

use berth_core::vocabulary::Status;
use berth_engine::daemon::Notify;

use super::support::*;

#[tokio::test]
async fn one_failing_service_makes_pending_then_failure() {
    let endpoint = Endpoint::start().await;
    let running = start(config(Some(github(&endpoint)), None));
    let notifier = &running.notifier;
    notifier.notify(applying("default", &["api", "web"]));
    let progressing = Some(Status::Progressing);
    notifier.notify(transition(
        "default",
        "web",
        progressing,
        Status::Synced,
        None,
    ));
    let reason = "image 111122223333.dkr.ecr.eu-west-1.amazonaws.com/api:9 not found";
    notifier.notify(transition(
        "default",
        "api",
        progressing,
        Status::Failed,
        Some(reason),
    ));
    // After the final state, nothing more for this commit.
    notifier.notify(transition(
        "default",
        "api",
        Some(Status::Failed),
        Status::Synced,
        None,
    ));
    let counts = running.finish().await;

    let requests = endpoint.requests();
    let states: Vec<_> = requests.iter().map(|r| r.json()["state"].clone()).collect();
    assert_eq!(states, ["pending", "failure"], "{requests:#?}");
    for request in &requests {
        assert_eq!(request.path, format!("/repos/acme/deploy/statuses/{SHA}"));
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(
            request.header("accept"),
            Some("application/vnd.github+json")
        );
        assert_eq!(request.header("user-agent"), Some("berth"));
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.json()["context"], "berth");
    }
    assert_eq!(requests[0].json()["description"], "deploying 2 services");
    let failure = requests[1].json()["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(failure.starts_with("failed: prod/api: image "), "{failure}");
    assert!(!failure.contains("prod/web"), "{failure}");
    assert!(failure.chars().count() <= 140, "{failure}");
    assert_eq!((counts.sent, counts.failed, counts.dropped), (2, 0, 0));
}

#[tokio::test]
async fn all_synced_makes_pending_then_success_in_the_targets_context() {
    let endpoint = Endpoint::start().await;
    let running = start(config(Some(github(&endpoint)), None));
    let notifier = &running.notifier;
    notifier.notify(applying("prod-eu", &["api", "web"]));
    for name in ["api", "web"] {
        let progressing = transition("prod-eu", name, None, Status::Progressing, None);
        notifier.notify(progressing);
        let synced = Some(Status::Progressing);
        notifier.notify(transition("prod-eu", name, synced, Status::Synced, None));
    }
    let counts = running.finish().await;

    let requests = endpoint.requests();
    let bodies: Vec<_> = requests.iter().map(|r| r.json()).collect();
    assert_eq!(bodies.len(), 2, "{bodies:#?}");
    assert_eq!(bodies[0]["state"], "pending");
    assert_eq!(bodies[1]["state"], "success");
    assert_eq!(bodies[1]["description"], "deployed 2 services");
    assert!(bodies.iter().all(|b| b["context"] == "berth/prod-eu"));
    assert_eq!(counts.sent, 2);
}

#[tokio::test]
async fn a_directory_revision_gets_no_status() {
    let endpoint = Endpoint::start().await;
    let running = start(config(Some(github(&endpoint)), None));
    running
        .notifier
        .notify(berth_engine::daemon::Notice::Applying {
            target: "default".into(),
            revision: "dir-0123456789ab".into(),
            services: vec![id("api")],
        });
    let counts = running.finish().await;
    assert!(endpoint.requests().is_empty());
    assert_eq!(counts, berth_notify::Counts::default());
}
