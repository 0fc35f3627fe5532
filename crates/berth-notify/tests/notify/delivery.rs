//! Delivery: retries on 5xx, none on 4xx, a bounded queue that drops (and counts) rather than
//! wait, shutdown.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use berth_core::vocabulary::Status;
use berth_engine::daemon::{Notice, Notify};
use berth_notify::{Delivery, Notifier};
use tokio::sync::watch;

use super::support::*;

fn failed(name: &str) -> Notice {
    transition("default", name, None, Status::Failed, Some("boom"))
}

/// Under the paused clock the backoff's delays (1 s and more, the defaults) pass at once.
#[tokio::test(start_paused = true)]
async fn a_500_is_retried_and_delivered_once() {
    let endpoint = Endpoint::start().await;
    endpoint.fail_first(1, 500);
    let mut config = config(None, Some(chat(&endpoint, None)));
    config.delivery = Delivery::default();
    let running = start(config);
    running.notifier.notify(failed("api"));
    let counts = running.finish().await;
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 2, "one 500, then the same message again");
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!((counts.sent, counts.failed), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_429_is_retried_until_the_retries_run_out() {
    let endpoint = Endpoint::start().await;
    endpoint.fail_first(100, 429);
    let mut config = config(Some(github(&endpoint)), None);
    config.delivery = Delivery {
        retries: 3,
        ..Delivery::default()
    };
    let running = start(config);
    running.notifier.notify(applying("default", &["api"]));
    let counts = running.finish().await;
    assert_eq!(
        endpoint.requests().len(),
        4,
        "the first attempt and 3 retries"
    );
    assert_eq!((counts.sent, counts.failed), (0, 1));
}

#[tokio::test]
async fn a_401_is_not_retried() {
    let endpoint = Endpoint::start().await;
    endpoint.fail_first(100, 401);
    let running = start(config(Some(github(&endpoint)), None));
    running.notifier.notify(applying("default", &["api"]));
    let counts = running.finish().await;
    assert_eq!(endpoint.requests().len(), 1);
    assert_eq!((counts.sent, counts.failed), (0, 1));
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_counted_failed() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let mut config = config(None, None);
    config.chat = Some(berth_notify::ChatWebhook {
        url: format!("http://{addr}/hook").parse().unwrap(),
        secret: None,
    });
    let running = start(config);
    running.notifier.notify(failed("api"));
    let counts = running.finish().await;
    assert_eq!((counts.sent, counts.failed), (0, 1));
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_while_the_endpoint_never_answers() {
    let endpoint = Endpoint::start().await;
    endpoint.hang();
    let mut config = config(None, Some(chat(&endpoint, None)));
    config.queue = 2;
    let (shutdown, stop) = watch::channel(false);
    let (notifier, worker) = Notifier::start(config, stop).unwrap();

    // The worker takes the first notice and waits on an endpoint that never answers.
    notifier.notify(failed("first"));
    endpoint.arrived(1).await;

    // Every call returns at once: two fill the queue, the other three are dropped.
    let mut returned = 0;
    for name in ["a", "b", "c", "d", "e"] {
        notifier.notify(failed(name));
        returned += 1;
    }
    assert_eq!(returned, 5);
    assert_eq!(notifier.dropped(), 3);
    // Notices that make no request take no place in the queue and are not counted.
    notifier.notify(transition("default", "a", None, Status::Progressing, None));
    assert_eq!(notifier.dropped(), 3);
    assert_eq!((notifier.sent(), notifier.failed()), (0, 0));

    // Shutdown abandons the request in flight and the queue.
    shutdown.send_replace(true);
    let counts = tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("the worker stops on shutdown")
        .unwrap();
    assert_eq!(counts.dropped, 3);
    assert_eq!(endpoint.requests().len(), 1);
    // A notice after the worker stopped is dropped, not queued forever.
    notifier.notify(failed("late"));
    notifier.notify(failed("later"));
    notifier.notify(failed("latest"));
    assert!(notifier.dropped() >= 4, "{}", notifier.dropped());
}
