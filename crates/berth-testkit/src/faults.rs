//! A fault-injecting HTTP/1.1 reverse proxy in front of the emulator (feature `faults`).
//!
//! [`FaultProxy::start`] listens on `127.0.0.1:0` and forwards every request to the emulator,
//! headers (`x-moto-account-id`, `X-Amz-Target`, `Authorization`, ...) and body unchanged, except
//! that, per AWS operation (the part of `X-Amz-Target` after the dot, e.g.
//! `RegisterTaskDefinition`) and at the rates of its [`FaultPlan`], it:
//!
//! * [`Fault::Throttle`]: answers `400 ThrottlingException` without forwarding;
//! * [`Fault::ServerError`]: answers `500 InternalFailure` or `503 ServiceUnavailable` without
//!   forwarding;
//! * [`Fault::LostAnswer`]: forwards the request (the emulator applies it), then drops the
//!   connection or answers `500 InternalFailure` instead of the real answer: the client cannot
//!   tell whether its call took effect;
//! * [`Fault::Reset`]: closes the connection before forwarding;
//! * [`Fault::Latency`]: waits [`FaultRates::delay`] before forwarding (on top of any of the
//!   others' absence: a delayed request is then answered normally).
//!
//! Fates are deterministic: the `n`-th time the proxy sees a given request (operation and body,
//! with the emulated account's id masked and any `clientToken` left out), its fate depends only on the plan's seed, the
//! operation, the body and `n`, whatever order concurrent requests arrive in and whichever
//! account a test got. The proxy counts what it injected per operation and kind
//! ([`FaultProxy::injected`]) and records every request that reached the emulator
//! ([`FaultProxy::forwarded`]), with the instant each was sent on, when its answer came back and
//! the access key id that signed it, so a test can assert the faults really happened, a bench
//! can time a client by the calls it made ([`FaultPlan::fixed_latency`]: every call slower by the
//! same delay, nothing else) and a test can tell which credentials a client used.
//!
//! Requests must carry a `Content-Length` body (the AWS SDKs' JSON protocols do); responses
//! are read whole from the emulator through [`http::request`] and sent back with a
//! `Content-Length`. Client connections are kept alive between requests.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::EmulatorError;
use crate::http::{self, Response};

/// What the proxy can do to a request instead of (or besides) forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// `400 ThrottlingException: Rate exceeded`, not forwarded.
    Throttle,
    /// `500 InternalFailure` or `503 ServiceUnavailable`, not forwarded.
    ServerError,
    /// Forwarded and applied, then the answer is lost (connection dropped, or a 500 instead).
    LostAnswer,
    /// The connection is closed before the request is forwarded.
    Reset,
    /// Forwarded after [`FaultRates::delay`].
    Latency,
}

impl Fault {
    /// Every kind, in a fixed order.
    pub const ALL: [Fault; 5] = [
        Fault::Throttle,
        Fault::ServerError,
        Fault::LostAnswer,
        Fault::Reset,
        Fault::Latency,
    ];
}

/// How often each fault hits one operation: probabilities in `[0, 1]`. `throttle`,
/// `server_error`, `lost_answer` and `reset` exclude each other (their sum should stay at most
/// 1); `latency` is drawn separately and applies to requests that are forwarded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultRates {
    /// Share of requests answered `400 ThrottlingException`.
    pub throttle: f64,
    /// Share answered `500 InternalFailure` / `503 ServiceUnavailable`.
    pub server_error: f64,
    /// Share forwarded whose answer is then lost.
    pub lost_answer: f64,
    /// Share whose connection is closed before forwarding.
    pub reset: f64,
    /// Share of forwarded requests delayed by `delay`.
    pub latency: f64,
    /// The added latency.
    pub delay: Duration,
}

/// The rates per operation, with a default for the others, and the seed of every draw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    seed: u64,
    default: FaultRates,
    operations: BTreeMap<String, FaultRates>,
}

impl FaultPlan {
    /// No faults yet, with this seed.
    pub fn new(seed: u64) -> Self {
        FaultPlan {
            seed,
            ..FaultPlan::default()
        }
    }

    /// `rates` for every operation not named with [`FaultPlan::operation`].
    pub fn all(mut self, rates: FaultRates) -> Self {
        self.default = rates;
        self
    }

    /// `rates` for `operation` (e.g. `RegisterTaskDefinition`).
    pub fn operation(mut self, operation: &str, rates: FaultRates) -> Self {
        self.operations.insert(operation.to_string(), rates);
        self
    }

    /// Every request forwarded after `delay`, no other fault: a network `delay` away from AWS
    /// (applied once per call, before forwarding, so a client's time per call grows by it).
    pub fn fixed_latency(delay: Duration) -> Self {
        FaultPlan::new(0).all(FaultRates {
            latency: 1.0,
            delay,
            ..FaultRates::default()
        })
    }

    fn rates(&self, operation: &str) -> FaultRates {
        self.operations
            .get(operation)
            .copied()
            .unwrap_or(self.default)
    }
}

/// A request that reached the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The operation (`-` when the request named none).
    pub operation: String,
    /// The request body as sent.
    pub body: Vec<u8>,
    /// Whether its answer was lost on the way back ([`Fault::LostAnswer`]).
    pub answer_lost: bool,
    /// When the proxy sent it to the emulator (after any injected latency).
    pub at: Instant,
    /// When the emulator's answer came back to the proxy (whatever the proxy did with it next,
    /// [`Fault::LostAnswer`] included); `None` when it never did (the emulator closed the
    /// connection or failed).
    pub answered: Option<Instant>,
    /// The access key id of the SigV4 `Authorization` header that signed the request
    /// (`Credential=<key id>/<date>/<region>/<service>/aws4_request`); `None` when the request
    /// was not signed that way.
    pub access_key_id: Option<String>,
}

impl Forwarded {
    /// The body parsed as JSON (`null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Default)]
struct Counts {
    plan: FaultPlan,
    /// How often each (operation, body hash) was seen: the `n` of a request's fate.
    seen: BTreeMap<(String, u64), u64>,
    injected: BTreeMap<(String, Fault), u64>,
    forwarded: Vec<Forwarded>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    counts: Mutex<Counts>,
}

impl Shared {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The proxy; stops listening when dropped (connections in flight finish their request).
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (the emulator's address) on a free local port. Must be
    /// called within a tokio runtime (multi-threaded: forwarding blocks a worker of
    /// `spawn_blocking`).
    pub async fn start(upstream: SocketAddr, plan: FaultPlan) -> Result<FaultProxy, EmulatorError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| EmulatorError::FreePort {
                source: Arc::new(e),
            })?;
        let addr = listener.local_addr().map_err(|e| EmulatorError::FreePort {
            source: Arc::new(e),
        })?;
        let shared = Arc::new(Shared {
            upstream,
            counts: Mutex::new(Counts {
                plan,
                ..Counts::default()
            }),
        });
        let accepting = Arc::clone(&shared);
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&accepting)));
            }
        });
        Ok(FaultProxy {
            addr,
            shared,
            accept,
        })
    }

    /// `http://127.0.0.1:<port>`: the endpoint override for SDK clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the plan (e.g. no faults for a test's final checks). What was seen so far keeps
    /// counting.
    pub fn set_plan(&self, plan: FaultPlan) {
        self.shared.counts().plan = plan;
    }

    /// How many `fault`s were injected into `operation`.
    pub fn injected(&self, operation: &str, fault: Fault) -> u64 {
        self.shared
            .counts()
            .injected
            .get(&(operation.to_string(), fault))
            .copied()
            .unwrap_or(0)
    }

    /// How many `fault`s were injected, all operations together.
    pub fn injected_total(&self, fault: Fault) -> u64 {
        self.shared
            .counts()
            .injected
            .iter()
            .filter(|((_, f), _)| *f == fault)
            .map(|(_, n)| n)
            .sum()
    }

    /// Everything injected, by operation and kind.
    pub fn injected_all(&self) -> BTreeMap<(String, Fault), u64> {
        self.shared.counts().injected.clone()
    }

    /// Every request that reached the emulator, in the order the emulator answered them (sort
    /// by [`Forwarded::at`] for the order they were sent in).
    pub fn forwarded(&self) -> Vec<Forwarded> {
        self.shared.counts().forwarded.clone()
    }

    /// The requests of `operation` that reached the emulator.
    pub fn forwarded_of(&self, operation: &str) -> Vec<Forwarded> {
        self.shared
            .counts()
            .forwarded
            .iter()
            .filter(|f| f.operation == operation)
            .cloned()
            .collect()
    }
}

/// One request read from a client.
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The client sent `Connection: close`.
    pub(crate) close: bool,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// What a request's fate is drawn from: its body, with the emulated account's id (which
    /// depends on the order tests start in) replaced by a placeholder, without a JSON
    /// `clientToken` (an idempotency token: SDKs make one up at random, and one derived from
    /// the request depends on the account id in it), and with every JSON object's keys sorted
    /// (the SDKs write maps such as DynamoDB's `ExpressionAttributeValues` in a random order
    /// per process, which would draw other fates in every run).
    fn fate_key(&self) -> Vec<u8> {
        let body = match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(serde_json::Value::Object(mut members)) => {
                members.shift_remove("clientToken");
                let mut body = serde_json::Value::Object(members);
                body.sort_all_objects();
                body.to_string()
            }
            _ => String::from_utf8_lossy(&self.body).into_owned(),
        };
        match self.header(crate::ACCOUNT_HEADER) {
            Some(account) if !account.is_empty() => body.replace(account, "ACCOUNT").into_bytes(),
            _ => body.into_bytes(),
        }
    }

    /// The AWS operation: `X-Amz-Target`'s part after the dot, or a query API's `Action`.
    fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_string();
        }
        String::from_utf8_lossy(&self.body)
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .unwrap_or("-")
            .to_string()
    }
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fate {
    fault: Option<Fault>,
    delayed: bool,
    /// For `ServerError`: 503 instead of 500. For `LostAnswer`: a 500 instead of a dropped
    /// connection.
    variant: bool,
}

/// Serves one client connection: requests one after the other until it closes or a fault
/// closes it.
async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        let operation = request.operation();
        let (fate, delay) = decide(&shared, &operation, &request.fate_key());
        if fate.delayed {
            tokio::time::sleep(delay).await;
        }
        let answer = match fate.fault {
            Some(Fault::Throttle) => error_response(
                400,
                "ThrottlingException",
                "Rate exceeded",
                &operation,
                &shared,
            ),
            Some(Fault::ServerError) if fate.variant => error_response(
                503,
                "ServiceUnavailable",
                "Service is unavailable",
                &operation,
                &shared,
            ),
            Some(Fault::ServerError) => error_response(
                500,
                "InternalFailure",
                "Internal failure",
                &operation,
                &shared,
            ),
            Some(Fault::Reset) => {
                count(&shared, &operation, Fault::Reset);
                return;
            }
            Some(Fault::LostAnswer) => {
                forward(&shared, &request, &operation, true).await;
                count(&shared, &operation, Fault::LostAnswer);
                if !fate.variant {
                    return;
                }
                internal_failure()
            }
            Some(Fault::Latency) | None => {
                match forward(&shared, &request, &operation, false).await {
                    Some(response) => response,
                    None => return,
                }
            }
        };
        if write_response(&mut stream, &answer, request.close)
            .await
            .is_err()
            || request.close
        {
            return;
        }
    }
}

/// Draws the fate of a request and counts its latency; returns it with the plan's delay.
fn decide(shared: &Shared, operation: &str, body: &[u8]) -> (Fate, Duration) {
    let mut counts = shared.counts();
    let rates = counts.plan.rates(operation);
    let body_hash = fnv1a(FNV_OFFSET, body);
    let seen = {
        let seen = counts
            .seen
            .entry((operation.to_string(), body_hash))
            .or_insert(0);
        *seen += 1;
        *seen
    };
    let mut state = fnv1a(counts.plan.seed ^ FNV_OFFSET, operation.as_bytes());
    state = fnv1a(state, &body_hash.to_le_bytes());
    state = fnv1a(state, &seen.to_le_bytes());
    let mut rng = XorShift::new(state);
    let draw = rng.unit();
    let mut threshold = 0.0;
    let mut fault = None;
    for (kind, rate) in [
        (Fault::Throttle, rates.throttle),
        (Fault::ServerError, rates.server_error),
        (Fault::LostAnswer, rates.lost_answer),
        (Fault::Reset, rates.reset),
    ] {
        threshold += rate;
        if draw < threshold {
            fault = Some(kind);
            break;
        }
    }
    let delayed = rng.unit() < rates.latency
        && !matches!(
            fault,
            Some(Fault::Throttle | Fault::ServerError | Fault::Reset)
        );
    if delayed {
        *counts
            .injected
            .entry((operation.to_string(), Fault::Latency))
            .or_insert(0) += 1;
    }
    let variant = rng.unit() < 0.5;
    let fate = Fate {
        fault,
        delayed,
        variant,
    };
    (fate, rates.delay)
}

fn count(shared: &Shared, operation: &str, fault: Fault) {
    *shared
        .counts()
        .injected
        .entry((operation.to_string(), fault))
        .or_insert(0) += 1;
}

/// An AWS JSON error answer (counted as `Throttle` or `ServerError`).
fn error_response(
    status: u16,
    code: &str,
    message: &str,
    operation: &str,
    shared: &Shared,
) -> Response {
    let fault = if status == 400 {
        Fault::Throttle
    } else {
        Fault::ServerError
    };
    count(shared, operation, fault);
    json_error(status, code, message)
}

fn internal_failure() -> Response {
    json_error(500, "InternalFailure", "Internal failure")
}

fn json_error(status: u16, code: &str, message: &str) -> Response {
    Response {
        status,
        headers: vec![
            (
                "Content-Type".to_string(),
                "application/x-amz-json-1.1".to_string(),
            ),
            ("x-amzn-ErrorType".to_string(), code.to_string()),
        ],
        body: serde_json::json!({ "__type": code, "message": message })
            .to_string()
            .into_bytes(),
    }
}

/// Headers [`http::request`] sets itself, and hop-by-hop ones.
const NOT_FORWARDED: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
];

/// Sends `request` to the emulator and records it; `None` when the emulator did not answer.
async fn forward(
    shared: &Arc<Shared>,
    request: &Request,
    operation: &str,
    answer_lost: bool,
) -> Option<Response> {
    let upstream = shared.upstream;
    let method = request.method.clone();
    let path = request.path.clone();
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(name, _)| !NOT_FORWARDED.iter().any(|n| name.eq_ignore_ascii_case(n)))
        .cloned()
        .collect();
    let body = request.body.clone();
    // Taken before the emulator answers: a client's call counts as made when it reaches AWS.
    let at = Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        http::request(upstream, &method, &path, &headers, &body)
    })
    .await;
    let answered = matches!(result, Ok(Ok(_))).then(Instant::now);
    shared.counts().forwarded.push(Forwarded {
        operation: operation.to_string(),
        body: request.body.clone(),
        answer_lost,
        at,
        answered,
        access_key_id: request.header("authorization").and_then(signing_key_id),
    });
    match result {
        Ok(Ok(response)) => Some(response),
        _ => None,
    }
}

/// The access key id in a SigV4 `Authorization` header value:
/// `AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/ecs/aws4_request, SignedHeaders=...`.
fn signing_key_id(authorization: &str) -> Option<String> {
    let (_, credential) = authorization.split_once("Credential=")?;
    let (key_id, _) = credential.split_once('/')?;
    (!key_id.is_empty()).then(|| key_id.to_string())
}

/// Reads one request; `None` at end of stream or on anything malformed (the connection is
/// then closed).
pub(crate) async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            break end;
        }
        if !fill(stream, buffer).await {
            return None;
        }
    };
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?.to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(Some(0), |(_, value)| value.parse().ok())?;
    let close = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
    });
    buffer.drain(..head_end + 4);
    while buffer.len() < length {
        if !fill(stream, buffer).await {
            return None;
        }
    }
    let body: Vec<u8> = buffer.drain(..length).collect();
    Some(Request {
        method,
        path,
        headers,
        body,
        close,
    })
}

/// Reads more bytes into `buffer`; false at end of stream or on an error.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    let mut chunk = [0_u8; 16 * 1024];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

/// Writes `response` with a `Content-Length` and `Connection: close` or `keep-alive`.
pub(crate) async fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    close: bool,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        if !NOT_FORWARDED.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: {}\r\n\r\n",
        response.body.len(),
        if close { "close" } else { "keep-alive" }
    ));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(start: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(start, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// xorshift64*: plenty for fault draws.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    /// A uniform draw in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let value = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        // The top 53 bits, as a fraction.
        (value >> 11) as f64 / (1_u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_uniform_enough_and_deterministic() {
        let mut a = XorShift::new(42);
        let mut b = XorShift::new(42);
        let draws: Vec<f64> = (0..10_000).map(|_| a.unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert_eq!(draws[17], {
            for _ in 0..17 {
                b.unit();
            }
            b.unit()
        });
        let low = draws.iter().filter(|d| **d < 0.25).count();
        assert!((2_200..2_800).contains(&low), "{low}");
    }

    #[test]
    fn a_requests_fate_depends_on_its_content_and_occurrence_not_on_order() {
        let plan = FaultPlan::new(7).all(FaultRates {
            throttle: 0.3,
            server_error: 0.3,
            lost_answer: 0.3,
            ..FaultRates::default()
        });
        let shared = |plan: &FaultPlan| Shared {
            upstream: SocketAddr::from((Ipv4Addr::LOCALHOST, 1)),
            counts: Mutex::new(Counts {
                plan: plan.clone(),
                ..Counts::default()
            }),
        };
        let (one, two) = (shared(&plan), shared(&plan));
        let first: Vec<Fate> = (0..5).map(|_| decide(&one, "Op", b"a").0).collect();
        decide(&two, "Op", b"other");
        let second: Vec<Fate> = (0..5).map(|_| decide(&two, "Op", b"a").0).collect();
        assert_eq!(first, second);
        assert!(first.iter().any(|f| f.fault != first[0].fault));
    }

    #[test]
    fn a_fate_key_ignores_the_order_of_json_keys_and_the_client_token() {
        let request = |body: &str| Request {
            method: "POST".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            close: false,
        };
        let one = request(r#"{"Key":{"k":1},"Values":{":a":1,":b":[{"y":2,"x":1}]}}"#);
        let two =
            request(r#"{"Values":{":b":[{"x":1,"y":2}],":a":1},"clientToken":"t","Key":{"k":1}}"#);
        assert_eq!(one.fate_key(), two.fate_key());
        let other = request(r#"{"Key":{"k":2},"Values":{":a":1,":b":[{"y":2,"x":1}]}}"#);
        assert_ne!(one.fate_key(), other.fate_key());
    }

    #[test]
    fn the_signing_key_id_is_read_from_a_sigv4_authorization_header() {
        let header = "AWS4-HMAC-SHA256 Credential=ASIABERTHTEST0002/20261201/us-east-1/ecs/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(signing_key_id(header).as_deref(), Some("ASIABERTHTEST0002"));
        assert_eq!(signing_key_id("Bearer token"), None);
        assert_eq!(signing_key_id("AWS4-HMAC-SHA256 Credential=/x"), None);
        assert_eq!(signing_key_id("AWS4-HMAC-SHA256 Credential=AKID"), None);
    }

    #[test]
    fn a_fixed_latency_plan_delays_every_request_and_injects_nothing_else() {
        let shared = Shared {
            upstream: SocketAddr::from((Ipv4Addr::LOCALHOST, 1)),
            counts: Mutex::new(Counts {
                plan: FaultPlan::fixed_latency(Duration::from_millis(50)),
                ..Counts::default()
            }),
        };
        for n in 0..200 {
            let (fate, delay) = decide(&shared, "UpdateService", format!("{n}").as_bytes());
            assert_eq!((fate.fault, fate.delayed), (None, true));
            assert_eq!(delay, Duration::from_millis(50));
        }
    }
}
