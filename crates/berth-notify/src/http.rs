//! One HTTP client for every notification: hyper-util's pooled client over hyper-rustls (the
//! stack the AWS SDK already uses; native roots, aws-lc-rs), each request bounded by
//! [`Delivery::timeout`] and retried with exponential backoff (`backon`) on 5xx, 429 and
//! transport errors. Logs name the sink and the status, never a URL or a header.

use std::error::Error as _;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::NotifyError;
use crate::config::Delivery;

/// The most of an answer's body that is read (and then thrown away, so the connection can be
/// used again).
const ANSWER_LIMIT: usize = 64 * 1024;
/// How long an idle connection is kept for the next notice.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// Where a request goes, for logs and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// GitHub's commit statuses.
    Github,
    /// The chat webhook.
    Chat,
}

impl Sink {
    /// The name logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Sink::Github => "github",
            Sink::Chat => "chat",
        }
    }
}

/// One POST to make.
#[derive(Clone)]
pub struct Outgoing {
    /// Where it goes (logs say only this).
    pub sink: Sink,
    /// The URL (may be a secret: never logged).
    pub uri: Uri,
    /// Headers besides `Content-Type: application/json` and `User-Agent: berth`.
    pub headers: HeaderMap,
    /// The JSON body.
    pub body: Bytes,
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// A 4xx other than 429 (or another answer that retrying cannot change): not retried.
    Rejected(StatusCode),
    /// Every attempt failed with a 5xx, a 429 or a transport error; the last one's.
    GaveUp(String),
}

/// What one attempt gave.
enum Attempt {
    Answered(StatusCode),
    Failed(String),
}

/// The client and its delivery settings.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    delivery: Delivery,
}

impl HttpClient {
    /// A client for `https` (the system's CA certificates) and plain `http` URLs.
    pub fn new(delivery: Delivery) -> Result<Self, NotifyError> {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let connector = HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|source| NotifyError::TlsRoots { source })?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(connector);
        Ok(HttpClient { client, delivery })
    }

    /// Sends `request`, retrying as [`Delivery`] says.
    pub async fn deliver(&self, request: &Outgoing) -> Outcome {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.delivery.min_delay)
            .with_max_delay(self.delivery.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.delivery.retries)
            .build();
        let sink = request.sink.as_str();
        loop {
            let failure = match self.attempt(request).await {
                Attempt::Answered(status) if status.is_success() => return Outcome::Delivered,
                Attempt::Answered(status) if retryable(status) => format!("HTTP {status}"),
                Attempt::Answered(status) => {
                    tracing::warn!(
                        sink,
                        status = status.as_u16(),
                        "notification rejected; not retried (check the token and the URL)"
                    );
                    return Outcome::Rejected(status);
                }
                Attempt::Failed(error) => error,
            };
            let Some(delay) = delays.next() else {
                tracing::warn!(sink, error = %failure, "notification not delivered; giving up");
                return Outcome::GaveUp(failure);
            };
            tracing::debug!(sink, error = %failure, ?delay, "notification failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// One request, answer body included, within the timeout.
    async fn attempt(&self, outgoing: &Outgoing) -> Attempt {
        let mut request = Request::new(Full::new(outgoing.body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = outgoing.uri.clone();
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static("berth"));
        for (name, value) in &outgoing.headers {
            headers.insert(name.clone(), value.clone());
        }
        let exchange = async {
            let answer = self.client.request(request).await?;
            let status = answer.status();
            // Read (a bounded part of) the answer so the connection can serve the next one.
            let _ = Limited::new(answer.into_body(), ANSWER_LIMIT)
                .collect()
                .await;
            Ok::<_, hyper_util::client::legacy::Error>(status)
        };
        match tokio::time::timeout(self.delivery.timeout, exchange).await {
            Ok(Ok(status)) => Attempt::Answered(status),
            Ok(Err(error)) => Attempt::Failed(chain(&error)),
            Err(_) => Attempt::Failed(format!(
                "no answer within {}s",
                self.delivery.timeout.as_secs_f64()
            )),
        }
    }
}

/// Whether an answer is worth another attempt: 5xx and 429.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// An error and its sources, `a: b: c`. hyper's errors name the failure (connect, TLS,
/// closed), not the request's URL.
fn chain(error: &hyper_util::client::legacy::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_5xx_and_429() {
        assert!(retryable(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(retryable(StatusCode::BAD_GATEWAY));
        assert!(retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(!retryable(StatusCode::UNAUTHORIZED));
        assert!(!retryable(StatusCode::NOT_FOUND));
        assert!(!retryable(StatusCode::UNPROCESSABLE_ENTITY));
    }
}
