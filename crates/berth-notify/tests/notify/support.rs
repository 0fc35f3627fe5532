//! A local endpoint on 127.0.0.1 that records each request (path, headers, body) and answers
//! 200, or a chosen status for the first N requests, or never.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use berth_core::manifest::ServiceId;
use berth_core::vocabulary::Status;
use berth_engine::daemon::Notice;
use berth_notify::{
    ChatWebhook, Counts, Delivery, GithubStatuses, Notifier, NotifierConfig, Secret,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
pub const TOKEN: &str = "ghp_test_token_42";
pub const SIGNING: &str = "chat-signing-secret";

/// One request the endpoint received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    fail_first: AtomicUsize,
    fail_status: AtomicU16,
    hang: AtomicBool,
    arrived: Option<watch::Sender<usize>>,
}

/// The endpoint; it serves until the test's runtime ends.
pub struct Endpoint {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    arrived: watch::Receiver<usize>,
}

impl Endpoint {
    pub async fn start() -> Endpoint {
        let (sender, arrived) = watch::channel(0);
        let shared = Arc::new(Shared {
            arrived: Some(sender),
            ..Shared::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Endpoint {
            addr,
            shared,
            arrived,
        }
    }

    /// The first `count` requests are answered `status`.
    pub fn fail_first(&self, count: usize, status: u16) {
        self.shared.fail_status.store(status, Ordering::SeqCst);
        self.shared.fail_first.store(count, Ordering::SeqCst);
    }

    /// Requests are recorded but never answered.
    pub fn hang(&self) {
        self.shared.hang.store(true, Ordering::SeqCst);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits until `count` requests have arrived.
    pub async fn arrived(&self, count: usize) {
        let mut arrived = self.arrived.clone();
        arrived.wait_for(|n| *n >= count).await.unwrap();
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let count = {
        let mut requests = shared.requests.lock().unwrap();
        requests.push(Recorded {
            path: uri.path().to_owned(),
            headers,
            body,
        });
        requests.len()
    };
    if let Some(arrived) = &shared.arrived {
        arrived.send_replace(count);
    }
    if shared.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let failing = shared
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::from_u16(shared.fail_status.load(Ordering::SeqCst)).unwrap()
    } else {
        StatusCode::OK
    }
}

/// Short retries, so that tests on the real clock take milliseconds.
pub fn quick() -> Delivery {
    Delivery {
        timeout: Duration::from_secs(10),
        retries: 2,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

pub fn github(endpoint: &Endpoint) -> GithubStatuses {
    GithubStatuses {
        api_url: endpoint.url(""),
        owner: "acme".into(),
        repo: "deploy".into(),
        token: Secret::new(TOKEN),
        context: "berth".into(),
    }
}

pub fn chat(endpoint: &Endpoint, signing: Option<&str>) -> ChatWebhook {
    ChatWebhook {
        url: endpoint.url("/hooks/T000/B000/xyz").parse().unwrap(),
        secret: signing.map(Secret::new),
    }
}

pub fn config(github: Option<GithubStatuses>, chat: Option<ChatWebhook>) -> NotifierConfig {
    NotifierConfig {
        queue: 64,
        github,
        chat,
        delivery: quick(),
    }
}

/// A running notifier and what stops it.
pub struct Running {
    pub notifier: Arc<Notifier>,
    pub worker: JoinHandle<Counts>,
    pub shutdown: watch::Sender<bool>,
}

pub fn start(config: NotifierConfig) -> Running {
    let (shutdown, stop) = watch::channel(false);
    let (notifier, worker) = Notifier::start(config, stop).unwrap();
    Running {
        notifier,
        worker,
        shutdown,
    }
}

impl Running {
    /// Drops the port, so that the worker sends what is queued and ends; its final counts.
    pub async fn finish(self) -> Counts {
        drop(self.notifier);
        let counts = tokio::time::timeout(Duration::from_secs(60), self.worker)
            .await
            .expect("the worker ends once the queue closes")
            .unwrap();
        drop(self.shutdown);
        counts
    }
}

pub fn id(name: &str) -> ServiceId {
    ServiceId::new("prod", name)
}

pub fn applying(target: &str, names: &[&str]) -> Notice {
    Notice::Applying {
        target: target.into(),
        revision: SHA.into(),
        services: names.iter().map(|n| id(n)).collect(),
    }
}

pub fn transition(
    target: &str,
    name: &str,
    from: Option<Status>,
    to: Status,
    reason: Option<&str>,
) -> Notice {
    Notice::Transition {
        target: target.into(),
        revision: SHA.into(),
        id: id(name),
        from,
        to,
        reason: reason.map(Into::into),
        events: vec![],
    }
}
