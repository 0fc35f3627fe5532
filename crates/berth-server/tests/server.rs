//! End-to-end tests of the HTTP server: a real listener on `127.0.0.1:0`, a fake daemon view, and
//! a tiny HTTP/1.1 client over `TcpStream`, so that what is checked is what goes over the wire.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_engine::daemon::{DaemonState, ServiceState};
use berth_server::{
    ApplyAction, DaemonView, HttpLimits, Metrics, Readiness, ReconcileResult, Secret, ServerConfig,
    ServerError, Status, TargetRead, Trigger,
};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const SECRET: &str = "berth-test-secret";
const TOKEN: &str = "api-token-0123456789";
const AFTER: &str = "0123456789abcdef0123456789abcdef01234567";
/// A push to `main`, and its signature computed independently with Python:
/// `hmac.new(b"berth-test-secret", PUSH_MAIN, hashlib.sha256).hexdigest()`.
const PUSH_MAIN: &str =
    r#"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}"#;
const PUSH_MAIN_SIGNATURE: &str =
    "sha256=6127db921925f1c45f1353708d368540187e13a3eebc3ca33868a9b7e9e8896f";

/// A daemon view the tests flip.
struct FakeView {
    ready: AtomicBool,
    /// Set when `status` is entered; `status` then blocks for `status_delay`.
    status_entered: AtomicBool,
    status_delay: Mutex<Duration>,
    /// What the status page reads (one target, as a daemon without `targets:`).
    state: tokio::sync::RwLock<DaemonState>,
}

impl DaemonView for FakeView {
    fn status(&self) -> serde_json::Value {
        self.status_entered.store(true, Ordering::SeqCst);
        let delay = *self.status_delay.lock().expect("delay lock");
        if !delay.is_zero() {
            // Simulates a slow request in flight (blocks one runtime worker; fine in a test).
            std::thread::sleep(delay);
        }
        serde_json::json!({"revision": AFTER, "services": [{"name": "web", "status": "Synced"}]})
    }

    fn readiness(&self) -> Readiness {
        if self.ready.load(Ordering::SeqCst) {
            Readiness::Ready
        } else {
            Readiness::NotReady {
                reason: "no reconcile yet".to_owned(),
            }
        }
    }

    fn read_targets(&self, read: &mut dyn FnMut(TargetRead<'_>)) {
        self.state.read_targets(read);
    }
}

struct Harness {
    addr: SocketAddr,
    triggers: mpsc::Receiver<Trigger>,
    view: Arc<FakeView>,
    metrics: Arc<Metrics>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<Result<(), ServerError>>,
}

fn config() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().expect("an address"),
        webhook_secret: Some(Secret::new(SECRET)),
        api_token: Some(Secret::new(TOKEN)),
        branch: "main".to_owned(),
        ..ServerConfig::default()
    }
}

async fn start(config: ServerConfig, channel_capacity: usize) -> Harness {
    let listener = berth_server::bind(config.listen)
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("bound address");
    let view = Arc::new(FakeView {
        ready: AtomicBool::new(false),
        status_entered: AtomicBool::new(false),
        status_delay: Mutex::new(Duration::ZERO),
        state: tokio::sync::RwLock::new(DaemonState::new(Duration::from_secs(600))),
    });
    let metrics = Arc::new(Metrics::new().expect("metrics"));
    let (sender, triggers) = mpsc::channel(channel_capacity);
    let router = berth_server::router(view.clone(), metrics.clone(), sender, &config);
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = tokio::spawn(berth_server::serve_on(
        listener,
        router,
        config.limits,
        async move {
            let _ = stop.await;
        },
    ));
    Harness {
        addr,
        triggers,
        view,
        metrics,
        shutdown: Some(shutdown),
        server,
    }
}

impl Harness {
    /// Asserts that no trigger reached the daemon. Handlers send before they answer, so by the
    /// time a response is read, any trigger it caused is in the channel.
    fn assert_no_trigger(&mut self) {
        let next = self.triggers.try_recv();
        assert!(next.is_err(), "unexpected trigger {next:?}");
    }

    fn expect_trigger(&mut self) -> Trigger {
        self.triggers.try_recv().expect("a trigger")
    }

    async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), self.server)
            .await
            .expect("server stops within 5s")
            .expect("server task")
            .expect("server result");
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), head and body in one write.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    stream.write_all(&raw).await.expect("write request");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read response");
    parse_response(&response)
}

fn parse_response(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("end of response head");
    let head = std::str::from_utf8(&raw[..split]).expect("UTF-8 head");
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header line");
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&raw[..line_end]).expect("UTF-8 chunk size");
        let size =
            usize::from_str_radix(size_text.split(';').next().expect("chunk size").trim(), 16)
                .expect("hex chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

async fn webhook(addr: SocketAddr, event: &str, signature: Option<&str>, body: &[u8]) -> Reply {
    let mut headers = vec![
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("Content-Type", "application/json"),
    ];
    if let Some(signature) = signature {
        headers.push(("X-Hub-Signature-256", signature));
    }
    request(addr, "POST", "/webhook/github", &headers, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_push_to_the_tracked_branch_triggers() {
    let mut harness = start(config(), 8).await;
    // The Python-computed signature agrees with ours.
    assert_eq!(sign(SECRET, PUSH_MAIN.as_bytes()), PUSH_MAIN_SIGNATURE);

    let reply = webhook(
        harness.addr,
        "push",
        Some(PUSH_MAIN_SIGNATURE),
        PUSH_MAIN.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(
        harness.expect_trigger(),
        Trigger::Webhook {
            after: Some(AFTER.to_owned())
        }
    );
    harness.assert_no_trigger();
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_get_401_and_trigger_nothing() {
    let mut harness = start(config(), 8).await;
    let addr = harness.addr;

    // Signed with another secret.
    let wrong = sign("not-the-secret", PUSH_MAIN.as_bytes());
    let reply = webhook(addr, "push", Some(&wrong), PUSH_MAIN.as_bytes()).await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    harness.assert_no_trigger();

    // No signature at all.
    let reply = webhook(addr, "push", None, PUSH_MAIN.as_bytes()).await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    harness.assert_no_trigger();

    // Malformed signature headers.
    for malformed in ["sha256=", "sha1=abc", "garbage", &PUSH_MAIN_SIGNATURE[7..]] {
        let reply = webhook(addr, "push", Some(malformed), PUSH_MAIN.as_bytes()).await;
        assert_eq!(reply.status, 401, "{malformed}: {}", reply.text());
        harness.assert_no_trigger();
    }

    // A replay of a valid signature with an altered body (another commit, same length).
    let altered = PUSH_MAIN.replace("0123456789abcdef", "fedcba9876543210");
    assert_eq!(altered.len(), PUSH_MAIN.len());
    let reply = webhook(addr, "push", Some(PUSH_MAIN_SIGNATURE), altered.as_bytes()).await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    harness.assert_no_trigger();

    // The same payload with one extra byte (whitespace GitHub never sent).
    let padded = format!("{PUSH_MAIN} ");
    let reply = webhook(addr, "push", Some(PUSH_MAIN_SIGNATURE), padded.as_bytes()).await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    harness.assert_no_trigger();

    // A valid signature of a body that is not JSON still never triggers.
    let reply = webhook(addr, "push", Some(&sign(SECRET, b"nope")), b"nope").await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    harness.assert_no_trigger();

    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_the_webhook_is_disabled() {
    let mut harness = start(
        ServerConfig {
            webhook_secret: None,
            ..config()
        },
        8,
    )
    .await;
    // Even a signature made with an empty key is refused.
    let reply = webhook(
        harness.addr,
        "push",
        Some(&sign("", PUSH_MAIN.as_bytes())),
        PUSH_MAIN.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    harness.assert_no_trigger();
    harness.stop().await;

    // An empty configured secret counts as none.
    let mut harness = start(
        ServerConfig {
            webhook_secret: Some(Secret::new("")),
            ..config()
        },
        8,
    )
    .await;
    let reply = webhook(
        harness.addr,
        "push",
        Some(&sign("", PUSH_MAIN.as_bytes())),
        PUSH_MAIN.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    harness.assert_no_trigger();
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_branches_and_events_are_ignored() {
    let mut harness = start(config(), 8).await;
    let addr = harness.addr;

    for git_ref in ["refs/heads/develop", "refs/heads/main-2", "refs/tags/main"] {
        let body = format!(r#"{{"ref":"{git_ref}","after":"{AFTER}"}}"#);
        let reply = webhook(
            addr,
            "push",
            Some(&sign(SECRET, body.as_bytes())),
            body.as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 204, "{git_ref}: {}", reply.text());
        assert!(reply.body.is_empty());
        harness.assert_no_trigger();
    }

    let body = br#"{"action":"opened"}"#;
    let reply = webhook(addr, "pull_request", Some(&sign(SECRET, body)), body).await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    harness.assert_no_trigger();

    let body = br#"{"zen":"Design for failure.","hook_id":1}"#;
    let reply = webhook(addr, "ping", Some(&sign(SECRET, body)), body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "pong\n");
    harness.assert_no_trigger();

    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_branch_and_a_form_encoded_push_trigger() {
    let mut harness = start(config(), 8).await;
    let addr = harness.addr;

    let body = r#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000","deleted":true}"#;
    let reply = webhook(
        addr,
        "push",
        Some(&sign(SECRET, body.as_bytes())),
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(harness.expect_trigger(), Trigger::Webhook { after: None });

    // GitHub's other content type: `payload=<urlencoded JSON>`, signed as sent.
    let form = format!(
        "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%2C%22after%22%3A%22{AFTER}%22%7D"
    );
    let signature = sign(SECRET, form.as_bytes());
    let reply = request(
        addr,
        "POST",
        "/webhook/github",
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &signature),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(
        harness.expect_trigger(),
        Trigger::Webhook {
            after: Some(AFTER.to_owned())
        }
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_and_trigger_nothing() {
    let mut harness = start(
        ServerConfig {
            body_limit: 1024,
            ..config()
        },
        8,
    )
    .await;
    // A push with a large (but, for the limit, too large) payload, correctly signed.
    let body = format!(
        r#"{{"ref":"refs/heads/main","after":"{AFTER}","padding":"{}"}}"#,
        "x".repeat(2048)
    );
    let reply = webhook(
        harness.addr,
        "push",
        Some(&sign(SECRET, body.as_bytes())),
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    harness.assert_no_trigger();

    // Just under the limit is fine.
    let body = format!(
        r#"{{"ref":"refs/heads/main","after":"{AFTER}","padding":"{}"}}"#,
        "x".repeat(900)
    );
    assert!(body.len() <= 1024);
    let reply = webhook(
        harness.addr,
        "push",
        Some(&sign(SECRET, body.as_bytes())),
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert!(matches!(harness.expect_trigger(), Trigger::Webhook { .. }));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_needs_the_bearer_token() {
    let mut harness = start(config(), 8).await;
    let addr = harness.addr;

    let reply = request(addr, "POST", "/reconcile", &[], b"").await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    harness.assert_no_trigger();

    for wrong in [
        "Bearer api-token-012345678",
        "Bearer api-token-0123456789x",
        "Bearer API-TOKEN-0123456789",
        "Basic YWRtaW46YWRtaW4=",
        "api-token-0123456789",
    ] {
        let reply = request(addr, "POST", "/reconcile", &[("Authorization", wrong)], b"").await;
        assert_eq!(reply.status, 401, "{wrong}: {}", reply.text());
        harness.assert_no_trigger();
    }

    let bearer = format!("Bearer {TOKEN}");
    let reply = request(
        addr,
        "POST",
        "/reconcile",
        &[("Authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(harness.expect_trigger(), Trigger::Manual);

    // GET is not a way in.
    let reply = request(
        addr,
        "GET",
        "/reconcile",
        &[("Authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(reply.status, 405);
    harness.assert_no_trigger();
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_reconcile_is_disabled() {
    let mut harness = start(
        ServerConfig {
            api_token: None,
            ..config()
        },
        8,
    )
    .await;
    for authorization in ["Bearer ", "Bearer x", &format!("Bearer {TOKEN}")] {
        let reply = request(
            harness.addr,
            "POST",
            "/reconcile",
            &[("Authorization", authorization)],
            b"",
        )
        .await;
        assert_eq!(reply.status, 401, "{}", reply.text());
        harness.assert_no_trigger();
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_channel_still_accepts() {
    let mut harness = start(config(), 1).await;
    let bearer = format!("Bearer {TOKEN}");
    for _ in 0..2 {
        let reply = request(
            harness.addr,
            "POST",
            "/reconcile",
            &[("Authorization", &bearer)],
            b"",
        )
        .await;
        assert_eq!(reply.status, 202, "{}", reply.text());
    }
    // One pending reconcile, not two.
    assert_eq!(harness.expect_trigger(), Trigger::Manual);
    harness.assert_no_trigger();
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_goes_through_windows_and_is_never_lost_behind_a_pending_reconcile() {
    let mut harness = start(config(), 1).await;
    let bearer = format!("Bearer {TOKEN}");
    let addr = harness.addr;
    let post = |path: &'static str| {
        let bearer = bearer.clone();
        async move { request(addr, "POST", path, &[("Authorization", &bearer)], b"").await }
    };
    let reply = post("/reconcile?override=window").await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(harness.expect_trigger(), Trigger::Override);

    // A plain reconcile is pending: the override says so rather than vanish.
    assert_eq!(post("/reconcile").await.status, 202);
    let reply = post("/reconcile?override=window").await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(harness.expect_trigger(), Trigger::Manual);

    // Anything else in the query is refused, not taken for a plain reconcile.
    let reply = post("/reconcile?override=everything").await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    harness.assert_no_trigger();
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_status() {
    let harness = start(config(), 8).await;
    let addr = harness.addr;

    let reply = request(addr, "GET", "/healthz", &[], b"").await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "ok\n"));

    let reply = request(addr, "GET", "/readyz", &[], b"").await;
    assert_eq!(reply.status, 503);
    assert!(
        reply.text().contains("no reconcile yet"),
        "{}",
        reply.text()
    );

    harness.view.ready.store(true, Ordering::SeqCst);
    let reply = request(addr, "GET", "/readyz", &[], b"").await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    harness.view.ready.store(false, Ordering::SeqCst);
    let reply = request(addr, "GET", "/readyz", &[], b"").await;
    assert_eq!(reply.status, 503);

    let reply = request(addr, "GET", "/status", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let status: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(status["revision"], AFTER);
    assert_eq!(status["services"][0]["status"], "Synced");

    let reply = request(addr, "GET", "/nope", &[], b"").await;
    assert_eq!(reply.status, 404);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_is_html_served_read_only() {
    let mut harness = start(config(), 8).await;
    let addr = harness.addr;
    harness.view.state.write().await.services.insert(
        "prod/web".to_owned(),
        ServiceState {
            status: Status::Failed,
            manifest: Some("prod/web.yaml:3".to_owned()),
            desired_task_definition: None,
            live_task_definition: None,
            rollout: None,
            last_error: Some("<script>alert(1)</script>".to_owned()),
            next_retry_seconds: None,
            pending_changes: Vec::new(),
            waiting: None,
        },
    );

    let reply = request(addr, "GET", "/", &[], b"").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = reply.header("content-security-policy").unwrap_or_default();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(!policy.contains("script-src"), "{policy}");
    let page = reply.text();
    assert!(
        page.contains(r#"<tr data-service="prod/web" data-status="Failed">"#),
        "{page}"
    );
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script"), "{page}");

    let reply = request(addr, "GET", "/services/prod/web", &[], b"").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("no events recorded"));
    let reply = request(addr, "GET", "/services/prod/w%65b", &[], b"").await;
    assert_eq!(reply.status, 200, "a percent-encoded name is decoded");

    let reply = request(addr, "GET", "/services/prod/api", &[], b"").await;
    assert_eq!(reply.status, 404);
    assert!(
        reply.text().contains("<code>prod/api</code>"),
        "{}",
        reply.text()
    );
    let reply = request(addr, "GET", "/services/prod/web?target=other", &[], b"").await;
    assert_eq!(reply.status, 404, "no such target");

    // A reconcile writing the state: the page says so instead of waiting.
    let writing = harness.view.state.write().await;
    let reply = request(addr, "GET", "/", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("busy"), "{}", reply.text());
    let reply = request(addr, "GET", "/services/prod/web", &[], b"").await;
    assert_eq!(reply.status, 503);
    drop(writing);

    // Nothing on the page takes anything but GET.
    for (method, path) in [("POST", "/"), ("PUT", "/"), ("POST", "/services/prod/web")] {
        let reply = request(addr, method, path, &[], b"").await;
        assert_eq!(reply.status, 405, "{method} {path}");
    }
    harness.assert_no_trigger();
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text() {
    let harness = start(config(), 8).await;
    let metrics = &harness.metrics;
    metrics.observe_reconcile("default", Duration::from_millis(250), ReconcileResult::Ok);
    metrics.set_service_status("default", "prod", "web", Status::Synced);
    metrics.inc_drift("default", "prod", "web");
    metrics.observe_git_fetch(Duration::from_millis(40));
    metrics.set_revision(AFTER);
    metrics.set_aws_requests(
        "default",
        &BTreeMap::from([(("DescribeServices".to_owned(), "success".to_owned()), 2)]),
    );
    metrics.inc_apply_action("default", ApplyAction::UpdateService);

    let reply = request(harness.addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(reply.status, 200);
    let content_type = reply.header("content-type").unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = reply.text();
    for needle in [
        "# TYPE berth_reconcile_duration_seconds histogram",
        "berth_reconcile_duration_seconds_bucket{target=\"default\",le=\"0.25\"} 1",
        "berth_reconcile_duration_seconds_count{target=\"default\"} 1",
        "# TYPE berth_reconcile_total counter",
        "berth_reconcile_total{result=\"ok\",target=\"default\"} 1",
        "# TYPE berth_service_status gauge",
        "berth_service_status{cluster=\"prod\",service=\"web\",status=\"Synced\",target=\"default\"} 1",
        "berth_service_status{cluster=\"prod\",service=\"web\",status=\"Failed\",target=\"default\"} 0",
        "# TYPE berth_drift_total counter",
        "berth_drift_total{cluster=\"prod\",service=\"web\",target=\"default\"} 1",
        "# TYPE berth_git_fetch_duration_seconds histogram",
        "berth_git_fetch_duration_seconds_count 1",
        "# TYPE berth_source_revision_info gauge",
        "berth_source_revision_info{revision=\"0123456789abcdef0123456789abcdef01234567\"} 1",
        "# TYPE berth_aws_requests_total counter",
        "berth_aws_requests_total{operation=\"DescribeServices\",outcome=\"success\",target=\"default\"} 2",
        "# TYPE berth_apply_actions_total counter",
        "berth_apply_actions_total{action=\"updateService\",target=\"default\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_request_in_flight_and_returns() {
    let mut harness = start(config(), 8).await;
    let addr = harness.addr;
    *harness.view.status_delay.lock().unwrap() = Duration::from_millis(500);
    let in_flight = tokio::spawn(async move { request(addr, "GET", "/status", &[], b"").await });
    while !harness.view.status_entered.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = harness.shutdown.take().unwrap().send(());
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    tokio::time::timeout(Duration::from_secs(5), &mut harness.server)
        .await
        .expect("server stops within 5s")
        .unwrap()
        .unwrap();
    // Nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reports_an_address_in_use() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = ServerConfig {
        listen: taken.local_addr().unwrap(),
        ..config()
    };
    let metrics = Arc::new(Metrics::new().unwrap());
    let view = Arc::new(FakeView {
        ready: AtomicBool::new(true),
        status_entered: AtomicBool::new(false),
        status_delay: Mutex::new(Duration::ZERO),
        state: tokio::sync::RwLock::new(DaemonState::new(Duration::from_secs(600))),
    });
    let (sender, _receiver) = mpsc::channel(1);
    let router = berth_server::router(view, metrics, sender, &config);
    let error = berth_server::serve(&config, router, std::future::pending())
        .await
        .unwrap_err();
    assert!(matches!(error, ServerError::Bind { addr, .. } if addr == config.listen));
    assert!(error.to_string().contains("cannot listen on"), "{error}");
}

/// Limits small enough to observe in a test.
fn tight_limits() -> ServerConfig {
    ServerConfig {
        limits: HttpLimits {
            header_read_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            max_connections: 64,
        },
        ..config()
    }
}

/// Reads until the server closes `stream`; `true` once it has (EOF, reset, or a 408 answer),
/// `false` if it answered something else or kept the connection open for a minute.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut buffer));
    match read.await {
        Err(_) => false,
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) => String::from_utf8_lossy(&buffer).starts_with("HTTP/1.1 408"),
    }
}

/// A slowloris: 1,100 connections that send nothing and 50 that send half a request head.
/// Before the limits, 1,100 idle connections made `/healthz` time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_under_a_slowloris_and_idle_connections_are_closed() {
    let harness = start(tight_limits(), 8).await;
    let addr = harness.addr;
    let mut idle = Vec::new();
    for _ in 0..1_100 {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("half a head");
        slow.push(stream);
    }
    // Liveness, not latency: the bound only keeps a regression from hanging the suite.
    let reply = tokio::time::timeout(
        Duration::from_secs(120),
        request(addr, "GET", "/healthz", &[], b""),
    )
    .await
    .expect("/healthz answers while 1,150 clients hold connections");
    assert_eq!(reply.status, 200);
    // The first idle and the first slow connection were served, and closed for being too slow.
    assert!(
        closed_by_server(&mut idle[0]).await,
        "an idle connection is closed"
    );
    assert!(
        closed_by_server(&mut slow[0]).await,
        "a slow head is cut off"
    );
    drop((idle, slow));
    harness.stop().await;
}

/// A body that never finishes is answered 408 after the request timeout, and triggers nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_finishes_gets_408() {
    let mut harness = start(tight_limits(), 8).await;
    let mut stream = TcpStream::connect(harness.addr).await.expect("connect");
    let head = format!(
        "POST /webhook/github HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\
         X-GitHub-Event: push\r\nX-Hub-Signature-256: {PUSH_MAIN_SIGNATURE}\r\n\r\n{{\"ref\""
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut response));
    read.await.expect("the server answers").expect("read");
    assert_eq!(parse_response(&response).status, 408);
    harness.assert_no_trigger();
    harness.stop().await;
}
