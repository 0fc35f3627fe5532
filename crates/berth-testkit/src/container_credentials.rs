//! A local stand-in for the ECS agent's container credentials endpoint (feature `faults`).
//!
//! On Fargate a task gets no static keys: the ECS agent serves short-lived credentials over
//! HTTP, at the URL in `AWS_CONTAINER_CREDENTIALS_FULL_URI` (or the relative one) and only to
//! requests whose `Authorization` header is `AWS_CONTAINER_AUTHORIZATION_TOKEN`. The AWS SDKs
//! fetch them there and fetch new ones shortly before they expire.
//!
//! [`CredentialsServer::start`] listens on `127.0.0.1:0` (the SDKs only accept a loopback
//! address over plain HTTP) and answers `GET` [`CREDENTIALS_PATH`] carrying the right token with
//!
//! ```json
//! {"AccessKeyId": "ASIABERTHTEST0001", "SecretAccessKey": "...", "Token": "...",
//!  "Expiration": "2026-12-01T12:00:30Z", "RoleArn": "arn:aws:iam::123456789012:role/berth-test"}
//! ```
//!
//! each time with a new key id (`ASIABERTHTEST0001`, `ASIABERTHTEST0002`, ...) expiring the
//! configured lifetime ahead. Without an `Authorization` header it answers `401`, with another
//! token `403`, on another path or method `404`. Every request is recorded as a [`Fetch`]
//! ([`CredentialsServer::fetches`]): when, whether it was authorized, and the key handed out with
//! the instant it expires, so a test can match the access key id that signed a call (see
//! [`crate::faults::Forwarded::access_key_id`]) to the credentials it came from.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::EmulatorError;
use crate::faults::{Request, read_request, write_response};
use crate::http::Response;

/// The path credentials are served on (the ECS agent's are `/v2/credentials/<id>`).
pub const CREDENTIALS_PATH: &str = "/v2/credentials/berth-test";

/// The role the credentials claim to be for.
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/berth-test";

/// The `n`-th access key id handed out (from 1): `ASIABERTHTEST0001`, ...
pub fn access_key_id(n: usize) -> String {
    format!("ASIABERTHTEST{n:04}")
}

/// One request the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// When it was answered.
    pub at: Instant,
    /// Whether its `Authorization` header was the server's token.
    pub authorized: bool,
    /// The status answered: 200 with credentials, 401 without a token, 403 with a wrong one,
    /// 404 for another path or method.
    pub status: u16,
    /// The access key id handed out (200 only).
    pub access_key_id: Option<String>,
    /// The instant the handed-out credentials' `Expiration` stands for (200 only). The
    /// `Expiration` is in whole seconds: this is at most the lifetime after [`Fetch::at`].
    pub expires_at: Option<Instant>,
}

#[derive(Debug)]
struct Shared {
    token: String,
    lifetime: Duration,
    fetches: Mutex<Vec<Fetch>>,
}

impl Shared {
    fn fetches(&self) -> MutexGuard<'_, Vec<Fetch>> {
        self.fetches.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The credentials endpoint; stops listening when dropped.
#[derive(Debug)]
pub struct CredentialsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Drop for CredentialsServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl CredentialsServer {
    /// Starts serving credentials that expire `lifetime` after each fetch to requests
    /// authorized with `token`, on a free local port. Must be called within a tokio runtime.
    pub async fn start(
        token: &str,
        lifetime: Duration,
    ) -> Result<CredentialsServer, EmulatorError> {
        let free_port = |e| EmulatorError::FreePort {
            source: Arc::new(e),
        };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(free_port)?;
        let addr = listener.local_addr().map_err(free_port)?;
        let shared = Arc::new(Shared {
            token: token.to_string(),
            lifetime,
            fetches: Mutex::new(Vec::new()),
        });
        let serving = Arc::clone(&shared);
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&serving)));
            }
        });
        Ok(CredentialsServer {
            addr,
            shared,
            accept,
        })
    }

    /// `http://127.0.0.1:<port>/v2/credentials/berth-test`: the value for
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn full_uri(&self) -> String {
        format!("http://{}{CREDENTIALS_PATH}", self.addr)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request answered so far, in order.
    pub fn fetches(&self) -> Vec<Fetch> {
        self.shared.fetches().clone()
    }

    /// The fetches that handed out credentials, in order (the `n`-th handed out
    /// [`access_key_id`]`(n)`).
    pub fn handed_out(&self) -> Vec<Fetch> {
        self.shared
            .fetches()
            .iter()
            .filter(|f| f.access_key_id.is_some())
            .cloned()
            .collect()
    }
}

/// Serves one client connection until it closes.
async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        let response = answer(&shared, &request);
        if write_response(&mut stream, &response, request.close)
            .await
            .is_err()
            || request.close
        {
            return;
        }
    }
}

/// Answers and records one request.
fn answer(shared: &Shared, request: &Request) -> Response {
    let token = request.header("authorization");
    let authorized = token == Some(shared.token.as_str());
    let status = match token {
        None => 401,
        Some(_) if !authorized => 403,
        Some(_) if request.method != "GET" || request.path != CREDENTIALS_PATH => 404,
        Some(_) => 200,
    };
    let mut fetches = shared.fetches();
    let at = Instant::now();
    if status != 200 {
        fetches.push(Fetch {
            at,
            authorized,
            status,
            access_key_id: None,
            expires_at: None,
        });
        return json(
            status,
            &serde_json::json!({ "code": status, "message": "refused" }),
        );
    }
    let n = fetches.iter().filter(|f| f.access_key_id.is_some()).count() + 1;
    let key_id = access_key_id(n);
    let now = SystemTime::now();
    // Whole seconds, as `Expiration` says it.
    let expires = (now + shared.lifetime)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let expires_at = (UNIX_EPOCH + Duration::from_secs(expires))
        .duration_since(now)
        .map_or(at, |ahead| at + ahead);
    fetches.push(Fetch {
        at,
        authorized,
        status,
        access_key_id: Some(key_id.clone()),
        expires_at: Some(expires_at),
    });
    json(
        200,
        &serde_json::json!({
            "AccessKeyId": key_id,
            "SecretAccessKey": format!("berth-test-secret-{n:04}"),
            "Token": format!("berth-test-session-token-{n:04}"),
            "Expiration": rfc3339(expires),
            "RoleArn": ROLE_ARN,
        }),
    )
}

fn json(status: u16, body: &serde_json::Value) -> Response {
    Response {
        status,
        headers: vec![("Content-Type".to_string(), "application/json".to_string())],
        body: body.to_string().into_bytes(),
    }
}

/// `seconds` after the Unix epoch as RFC 3339 UTC: `2026-12-01T12:00:30Z`.
fn rfc3339(seconds: u64) -> String {
    let mut days = seconds / 86_400;
    let of_day = seconds % 86_400;
    let leap = |year: u64| {
        (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
    };
    let mut year = 1970;
    loop {
        let length = if leap(year) { 366 } else { 365 };
        if days < length {
            break;
        }
        days -= length;
        year += 1;
    }
    let february = if leap(year) { 29 } else { 28 };
    let lengths = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 1;
    for length in lengths {
        if days < length {
            break;
        }
        days -= length;
        month += 1;
    }
    format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z",
        day = days + 1,
        hour = of_day / 3_600,
        minute = of_day % 3_600 / 60,
        second = of_day % 60,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http;

    const TOKEN: &str = "Basic berth-test-token";

    /// `GET` [`CREDENTIALS_PATH`] on `server`, with `token` as the `Authorization` header.
    async fn get(server: &CredentialsServer, token: Option<&'static str>) -> Response {
        let addr = server.addr();
        tokio::task::spawn_blocking(move || {
            let headers: Vec<(&str, &str)> =
                token.map(|t| ("Authorization", t)).into_iter().collect();
            http::request(addr, "GET", CREDENTIALS_PATH, &headers, b"")
        })
        .await
        .expect("join")
        .expect("GET credentials")
    }

    #[test]
    fn dates_are_rfc_3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_234_567_890), "2009-02-13T23:31:30Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    #[tokio::test]
    async fn without_the_token_nothing_is_handed_out() {
        let server = CredentialsServer::start(TOKEN, Duration::from_secs(60))
            .await
            .expect("start");
        assert_eq!(get(&server, None).await.status, 401);
        assert_eq!(get(&server, Some("Basic wrong")).await.status, 403);
        let fetches = server.fetches();
        assert_eq!(
            fetches
                .iter()
                .map(|f| (f.status, f.authorized, f.access_key_id.clone()))
                .collect::<Vec<_>>(),
            [(401, false, None), (403, false, None)]
        );
        assert!(server.handed_out().is_empty());
    }

    #[tokio::test]
    async fn each_fetch_hands_out_a_new_key_expiring_the_lifetime_ahead() {
        let lifetime = Duration::from_secs(30);
        let server = CredentialsServer::start(TOKEN, lifetime)
            .await
            .expect("start");
        let first = get(&server, Some(TOKEN)).await;
        let second = get(&server, Some(TOKEN)).await;
        assert_eq!((first.status, second.status), (200, 200));
        let (first, second) = (first.json().expect("json"), second.json().expect("json"));
        assert_eq!(first["AccessKeyId"], "ASIABERTHTEST0001");
        assert_eq!(second["AccessKeyId"], "ASIABERTHTEST0002");
        assert_ne!(first["SecretAccessKey"], second["SecretAccessKey"]);
        assert_ne!(first["Token"], second["Token"]);
        assert_eq!(first["RoleArn"], ROLE_ARN);
        let expiration = first["Expiration"].as_str().expect("Expiration");
        assert!(
            expiration.ends_with('Z') && expiration.len() == 20,
            "{expiration}"
        );
        let handed_out = server.handed_out();
        assert_eq!(handed_out.len(), 2);
        for fetch in &handed_out {
            assert!(fetch.authorized);
            let ahead = fetch.expires_at.expect("expires_at") - fetch.at;
            assert!(
                ahead <= lifetime && ahead > lifetime - Duration::from_secs(1),
                "{ahead:?}"
            );
        }
    }
}
