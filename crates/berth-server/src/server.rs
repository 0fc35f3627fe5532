//! The HTTP server: one axum router over the daemon's view, its metrics, and a trigger channel.
//!
//! | endpoint | auth | answers |
//! |---|---|---|
//! | `GET /healthz` | none | 200 `ok` while the process serves |
//! | `GET /readyz` | none | 200 when [`Readiness::Ready`], 503 with the reason otherwise |
//! | `GET /metrics` | none | Prometheus text exposition 0.0.4 |
//! | `GET /status` | none | the daemon's status document (JSON) |
//! | `GET /` | none | the status page (HTML, [`crate::page`]) |
//! | `GET /services/{cluster}/{name}` | none | one service's page; `?target=NAME` with several targets |
//! | `POST /webhook/github` | `X-Hub-Signature-256` | 202 and a [`Trigger::Webhook`] for a push to the tracked branch; 200 `pong` for `ping`; 204 for anything else |
//! | `POST /reconcile` | `Authorization: Bearer` | 202 and a [`Trigger::Manual`] |
//!
//! Authentication comes first and failing it has no effect beyond a 401 and a log line: no
//! trigger, no parsing of the payload. The webhook signature is HMAC-SHA256 of the raw body with
//! the configured secret, compared in constant time (`hmac`'s `verify_slice`); the bearer token is
//! compared in constant time over SHA-256 digests, so neither its bytes nor its length leak. An
//! endpoint whose secret is not configured (or empty) is disabled: it answers 401 to everyone.
//!
//! Triggers are sent with `try_send`: a full channel means a reconcile is already pending, which
//! is what the caller asked for, so the answer is still 202.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_core::vocabulary::Trigger;
use hmac::{Hmac, KeyInit, Mac};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tower_http::timeout::TimeoutLayer;
use tracing::{debug, info, warn};

use crate::metrics::{self, Metrics};
use crate::page::{self, TargetRead};
use crate::{Secret, ServerError};

/// The default request body limit (1 MiB); GitHub caps webhook payloads at 25 MB, but a push
/// event of a deploy repository is a few kilobytes.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How long a client may take to send a request's headers (and how long an idle keep-alive
/// connection is kept) before the connection is closed: a slow or silent client cannot hold a
/// connection for longer.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one request may take, body included, before it is answered 408.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many connections are served at once; further clients wait in the listen backlog until
/// one closes. Below the usual 1024 open-file limit, so the process never runs out of
/// descriptors for its own work (git, AWS).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// The default listen address, `0.0.0.0:8080`.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);

const SIGNATURE_HEADER: &str = "x-hub-signature-256";
const EVENT_HEADER: &str = "x-github-event";
const DELIVERY_HEADER: &str = "x-github-delivery";

/// The server's configuration (the `server:` section of `berth.yaml`, plus the tracked branch).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The one listen address of all endpoints (`server.listen`, default `0.0.0.0:8080`).
    pub listen: SocketAddr,
    /// The GitHub webhook secret; `None` or empty disables `POST /webhook/github` (401).
    pub webhook_secret: Option<Secret>,
    /// The bearer token of `POST /reconcile`; `None` or empty disables it (401).
    pub api_token: Option<Secret>,
    /// The tracked branch (`source.branch`): only pushes to `refs/heads/<branch>` trigger.
    pub branch: String,
    /// The largest accepted request body, in bytes; larger ones get 413.
    pub body_limit: usize,
    /// Timeouts and the connection cap that keep a slow or flooding client from exhausting the
    /// server.
    pub limits: HttpLimits,
}

/// What one client may cost the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time to receive a request's headers; also the idle time of a keep-alive connection.
    pub header_read_timeout: Duration,
    /// Time to handle one request, reading its body included.
    pub request_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN,
            webhook_secret: None,
            api_token: None,
            branch: "main".to_owned(),
            body_limit: DEFAULT_BODY_LIMIT,
            limits: HttpLimits::default(),
        }
    }
}

/// What the server reads from the daemon. Every method is called on every request of its
/// endpoint from the async runtime, so they must be cheap and must not block (read a snapshot
/// behind a lock, or a `watch` channel).
pub trait DaemonView: Send + Sync + 'static {
    /// The `GET /status` document.
    fn status(&self) -> serde_json::Value;
    /// Whether the daemon is ready (`GET /readyz`).
    fn readiness(&self) -> Readiness;
    /// The status page's typed access to the daemon's state: calls `read` once per target, in
    /// order, with the target's state borrowed for the call (`None` while a reconcile is
    /// writing it: never wait for that lock). `read` renders and returns at once, so a read
    /// lock is held for the time of one render at most.
    fn read_targets(&self, read: &mut dyn FnMut(TargetRead<'_>));
}

/// The answer of `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// 200: the daemon has reconciled and its source is fresh.
    Ready,
    /// 503 with the reason as the body.
    NotReady {
        /// Why, for the operator (e.g. "no reconcile yet", "git unreachable for 12m").
        reason: String,
    },
}

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    view: Arc<dyn DaemonView>,
    metrics: Arc<Metrics>,
    triggers: mpsc::Sender<Trigger>,
    webhook_secret: Option<Arc<Secret>>,
    api_token: Option<Arc<Secret>>,
    branch_ref: Arc<str>,
}

/// The router of every endpoint. Serve it with [`serve`] or [`serve_on`].
pub fn router(
    view: Arc<dyn DaemonView>,
    metrics: Arc<Metrics>,
    triggers: mpsc::Sender<Trigger>,
    config: &ServerConfig,
) -> Router {
    let configured = |secret: &Option<Secret>| {
        secret
            .as_ref()
            .filter(|secret| !secret.is_empty())
            .map(|secret| Arc::new(secret.clone()))
    };
    let webhook_secret = configured(&config.webhook_secret);
    let api_token = configured(&config.api_token);
    if webhook_secret.is_none() {
        info!("POST /webhook/github is disabled: no webhook secret configured");
    }
    if api_token.is_none() {
        info!("POST /reconcile is disabled: no API token configured");
    }
    let state = AppState {
        view,
        metrics,
        triggers,
        webhook_secret,
        api_token,
        branch_ref: format!("refs/heads/{}", config.branch).into(),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/status", get(status))
        .route("/", get(page_overview))
        .route("/services/{cluster}/{name}", get(page_service))
        .route("/webhook/github", post(webhook))
        .route("/reconcile", post(reconcile))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.limits.request_timeout,
        ))
        .with_state(state)
}

/// Binds `addr`, for [`serve_on`]; binding before starting the daemon's loop fails fast on a port
/// already in use, and binding port 0 tells the caller the chosen port (`local_addr`).
///
/// # Errors
///
/// [`ServerError::Bind`] if the address cannot be bound.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Binds `config.listen` and serves `router` until `shutdown` completes, then stops accepting,
/// lets in-flight requests finish and returns. The returned future does not borrow `config`, so
/// it can be spawned.
///
/// Graceful shutdown waits for every open request; the header and request timeouts of
/// `config.limits` bound how long that can take.
///
/// # Errors
///
/// [`ServerError::Bind`] if the address cannot be bound.
pub fn serve(
    config: &ServerConfig,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ServerError>> + Send + 'static {
    let addr = config.listen;
    let limits = config.limits;
    async move {
        let listener = bind(addr).await?;
        serve_on(listener, router, limits, shutdown).await
    }
}

/// Serves `router` on an already bound listener until `shutdown` completes (see [`serve`]).
///
/// Each connection is served by hyper's HTTP/1 connection with a header read timeout (so a
/// client that connects and sends nothing, or sends its headers a byte at a time, is closed),
/// and at most `limits.max_connections` are served at once: the next is accepted only when a
/// permit is free.
///
/// # Errors
///
/// None today: a failed `accept` (out of descriptors, a connection reset before it was
/// accepted) is logged and retried, since one client must not stop the server.
pub async fn serve_on(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    match listener.local_addr() {
        Ok(addr) => info!(%addr, "HTTP server listening"),
        Err(error) => warn!(%error, "HTTP server listening on an unknown address"),
    }
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &permits) => accepted,
        };
        let Some((stream, permit)) = accepted else {
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(%error, "HTTP connection ended with an error");
            }
            drop(permit);
        });
    }
    graceful.shutdown().await;
    info!("HTTP server stopped");
    Ok(())
}

/// Waits for a connection permit, then accepts one connection. `None` when `accept` failed; the
/// failure is logged and followed by a short pause, so that running out of descriptors does not
/// become a busy loop.
async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> Option<(TcpStream, OwnedSemaphorePermit)> {
    let permit = Arc::clone(permits).acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, _)) => Some((stream, permit)),
        Err(error) => {
            warn!(%error, "cannot accept an HTTP connection");
            tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            None
        }
    }
}

/// The pause after a failed `accept`.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.view.readiness() {
        Readiness::Ready => (StatusCode::OK, "ready\n").into_response(),
        Readiness::NotReady { reason } => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(metrics::CONTENT_TYPE),
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn status(State(state): State<AppState>) -> Response {
    match serde_json::to_vec(&state.view.status()) {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(error) => {
            warn!(%error, "serializing /status");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot serialize status\n",
            )
                .into_response()
        }
    }
}

/// `GET /`: the status page's overview.
async fn page_overview(State(state): State<AppState>) -> Response {
    page::overview(state.view.as_ref(), page::now_unix())
}

/// `GET /services/{cluster}/{name}[?target=NAME]`: one service's page.
async fn page_service(
    State(state): State<AppState>,
    Path((cluster, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    page::service(
        state.view.as_ref(),
        &cluster,
        &name,
        query.as_deref(),
        page::now_unix(),
    )
}

/// The fields of a GitHub `push` event berth uses.
#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    deleted: bool,
}

async fn webhook(State(state): State<AppState>, request: Request) -> Response {
    let headers = request.headers();
    let delivery = header_str(headers, DELIVERY_HEADER)
        .unwrap_or("-")
        .to_owned();
    let Some(secret) = state.webhook_secret.clone() else {
        warn!(%delivery, "webhook rejected: no webhook secret configured");
        return unauthorized_webhook("webhook disabled: no secret configured\n");
    };
    let Some(signature) = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| parse_signature(value.as_bytes()))
    else {
        warn!(%delivery, "webhook rejected: missing or malformed X-Hub-Signature-256");
        return unauthorized_webhook("missing or malformed X-Hub-Signature-256\n");
    };
    let event = header_str(headers, EVENT_HEADER).map(str::to_owned);
    let form = header_str(headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));

    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            warn!(%delivery, %status, "webhook rejected: {}", rejection.body_text());
            return (status, format!("{}\n", rejection.body_text())).into_response();
        }
    };
    if !verify_signature(secret.expose().as_bytes(), &body, &signature) {
        warn!(%delivery, "webhook rejected: signature does not match the body and the configured secret");
        return unauthorized_webhook("invalid signature\n");
    }

    let Some(event) = event else {
        warn!(%delivery, "webhook rejected: no X-GitHub-Event header");
        return (StatusCode::BAD_REQUEST, "missing X-GitHub-Event\n").into_response();
    };
    match event.as_str() {
        "ping" => {
            info!(%delivery, "webhook ping");
            (StatusCode::OK, "pong\n").into_response()
        }
        "push" => {
            let payload = if form {
                match form_payload(&body) {
                    Some(payload) => payload,
                    None => {
                        warn!(%delivery, "webhook rejected: form body without a valid payload field");
                        return (
                            StatusCode::BAD_REQUEST,
                            "no payload field in the form body\n",
                        )
                            .into_response();
                    }
                }
            } else {
                body.to_vec()
            };
            let push: PushEvent = match serde_json::from_slice(&payload) {
                Ok(push) => push,
                Err(error) => {
                    warn!(%delivery, %error, "webhook rejected: not a push event payload");
                    return (
                        StatusCode::BAD_REQUEST,
                        format!("not a push event payload: {error}\n"),
                    )
                        .into_response();
                }
            };
            if push.git_ref != *state.branch_ref {
                debug!(%delivery, git_ref = %push.git_ref, "webhook push to another ref ignored");
                return StatusCode::NO_CONTENT.into_response();
            }
            let after = push.after.filter(|_| !push.deleted);
            info!(%delivery, git_ref = %push.git_ref, after = after.as_deref().unwrap_or("-"), "webhook push: reconcile triggered");
            enqueue(&state.triggers, Trigger::Webhook { after })
        }
        other => {
            debug!(%delivery, event = other, "webhook event ignored");
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

async fn reconcile(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(token) = state.api_token.as_deref() else {
        warn!("POST /reconcile rejected: no API token configured");
        return unauthorized_bearer("reconcile endpoint disabled: no API token configured\n");
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| bearer_token(value.as_bytes()));
    let Some(presented) = presented else {
        warn!("POST /reconcile rejected: no bearer token");
        return unauthorized_bearer("missing bearer token\n");
    };
    if !tokens_match(presented, token.expose().as_bytes()) {
        warn!("POST /reconcile rejected: wrong bearer token");
        return unauthorized_bearer("invalid bearer token\n");
    }
    let trigger = match reconcile_override(query.as_deref()) {
        Ok(trigger) => trigger,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    info!(%trigger, "POST /reconcile: reconcile triggered");
    if trigger == Trigger::Override {
        // An override must not vanish behind a pending plain reconcile: say so instead.
        return match state.triggers.try_send(trigger) {
            Ok(()) => (
                StatusCode::ACCEPTED,
                "reconcile triggered through windows\n",
            )
                .into_response(),
            Err(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "another reconcile is pending; ask again in a moment\n",
            )
                .into_response(),
        };
    }
    enqueue(&state.triggers, trigger)
}

/// The trigger `POST /reconcile` asks for: `?override=window` goes through freeze windows
/// once; any other query is refused, so a typo never passes for a plain reconcile.
fn reconcile_override(query: Option<&str>) -> Result<Trigger, &'static str> {
    match query.filter(|q| !q.is_empty()) {
        None => Ok(Trigger::Manual),
        Some("override=window") => Ok(Trigger::Override),
        Some(_) => Err("unknown query: the only one is ?override=window\n"),
    }
}

/// Hands `trigger` to the daemon without waiting.
fn enqueue(triggers: &mpsc::Sender<Trigger>, trigger: Trigger) -> Response {
    match triggers.try_send(trigger) {
        Ok(()) => (StatusCode::ACCEPTED, "reconcile triggered\n").into_response(),
        Err(mpsc::error::TrySendError::Full(_)) => {
            (StatusCode::ACCEPTED, "reconcile already pending\n").into_response()
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
        }
    }
}

fn unauthorized_webhook(message: &'static str) -> Response {
    (StatusCode::UNAUTHORIZED, message).into_response()
}

fn unauthorized_bearer(message: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        message,
    )
        .into_response()
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The 32 signature bytes of an `X-Hub-Signature-256: sha256=<64 hex digits>` value.
fn parse_signature(value: &[u8]) -> Option<[u8; 32]> {
    let hex = value.strip_prefix(b"sha256=")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0_u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Whether `signature` is HMAC-SHA256(`secret`, `body`), compared in constant time.
fn verify_signature(secret: &[u8], body: &[u8], signature: &[u8; 32]) -> bool {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        // HMAC takes keys of any length; unreachable, but never accept on doubt.
        return false;
    };
    mac.update(body);
    mac.verify_slice(signature).is_ok()
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Constant-time token comparison over SHA-256 digests: neither the bytes nor the length of the
/// configured token leak through timing.
fn tokens_match(presented: &[u8], expected: &[u8]) -> bool {
    let presented = Sha256::digest(presented);
    let expected = Sha256::digest(expected);
    presented.as_slice().ct_eq(expected.as_slice()).into()
}

/// The `payload` field of an `application/x-www-form-urlencoded` body (GitHub's other webhook
/// content type), decoded; `None` when absent or badly escaped.
fn form_payload(body: &[u8]) -> Option<Vec<u8>> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &[][..]),
        };
        (key == b"payload").then(|| form_decode(value))?
    })
}

/// Decodes one `application/x-www-form-urlencoded` value: `+` is a space, `%XX` a byte.
fn form_decode(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex_digit(*bytes.next()?)?;
                let low = hex_digit(*bytes.next()?)?;
                out.push((high << 4) | low);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented example ("Validating webhook deliveries"), recomputed with Python:
    /// `hmac.new(b"It's a Secret to Everybody", b"Hello, World!", hashlib.sha256).hexdigest()`.
    const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
        parse_signature(header.as_bytes())
            .is_some_and(|signature| verify_signature(secret, body, &signature))
    }

    #[test]
    fn the_known_vector_verifies() {
        assert!(verify(GITHUB_SECRET, GITHUB_BODY, GITHUB_SIGNATURE));
        // Hex case does not matter.
        assert!(verify(
            GITHUB_SECRET,
            GITHUB_BODY,
            &GITHUB_SIGNATURE
                .to_ascii_uppercase()
                .replace("SHA256=", "sha256=")
        ));
    }

    #[test]
    fn anything_else_fails_verification() {
        // Another body (a replay with an altered payload).
        assert!(!verify(GITHUB_SECRET, b"Hello, World?", GITHUB_SIGNATURE));
        // Another secret.
        assert!(!verify(b"another secret", GITHUB_BODY, GITHUB_SIGNATURE));
        // One flipped digit.
        let flipped = GITHUB_SIGNATURE.replace("757107", "757108");
        assert!(!verify(GITHUB_SECRET, GITHUB_BODY, &flipped));
        // Malformed headers.
        for header in [
            "",
            "sha256=",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e177",
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256= 757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        ] {
            assert!(!verify(GITHUB_SECRET, GITHUB_BODY, header), "{header:?}");
        }
    }

    #[test]
    fn bearer_tokens_are_parsed_and_compared() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"Bearer"), None);
        assert_eq!(bearer_token(b"Bearer "), None);
        assert_eq!(bearer_token(b"Bearerabc"), None);
        assert!(tokens_match(b"s3cr3t-token", b"s3cr3t-token"));
        assert!(!tokens_match(b"s3cr3t-token", b"s3cr3t-tokeN"));
        assert!(!tokens_match(b"s3cr3t", b"s3cr3t-token"));
        assert!(!tokens_match(b"", b"s3cr3t-token"));
    }

    #[test]
    fn form_payloads_are_decoded() {
        assert_eq!(
            form_payload(b"payload=%7B%22ref%22%3A+%22refs%2Fheads%2Fmain%22%7D").as_deref(),
            Some(&br#"{"ref": "refs/heads/main"}"#[..])
        );
        assert_eq!(
            form_payload(b"other=1&payload=%7B%7D").as_deref(),
            Some(&b"{}"[..])
        );
        assert_eq!(form_payload(b"other=1"), None);
        assert_eq!(form_payload(b"payload=%7"), None);
        assert_eq!(form_payload(b"payload=%zz"), None);
    }

    #[test]
    fn push_events_deserialize_from_github_shape() {
        let push: PushEvent = serde_json::from_str(
            r#"{"ref":"refs/heads/main","before":"0000","after":"abc","deleted":false,"repository":{"full_name":"acme/deploy"}}"#,
        )
        .unwrap();
        assert_eq!(push.git_ref, "refs/heads/main");
        assert_eq!(push.after.as_deref(), Some("abc"));
        assert!(!push.deleted);
    }
}
