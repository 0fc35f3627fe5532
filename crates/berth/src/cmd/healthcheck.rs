//! `berth healthcheck`: one GET of the daemon's `/healthz`, for a container `healthCheck` in an
//! image that has no curl. Exit 0 on a 2xx answer; any other answer, a refused connection or the
//! timeout is an error (exit 1, one line on stderr).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use hyper::header::{HOST, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::cli::HealthcheckArgs;

/// The path the daemon answers liveness on.
const HEALTHZ: &str = "/healthz";

pub fn run(args: &HealthcheckArgs) -> anyhow::Result<ExitCode> {
    let url = match &args.url {
        Some(url) => url.clone(),
        None => default_url(args.listen.unwrap_or(berth_server::DEFAULT_LISTEN)),
    };
    let uri: Uri = url
        .parse()
        .with_context(|| format!("`{url}` is not a URL"))?;
    let timeout: Duration = args.timeout.into();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let status = runtime
        .block_on(async { tokio::time::timeout(timeout, get(&uri)).await })
        .map_err(|_| anyhow::anyhow!("GET {url}: no answer within {}", args.timeout))?
        .with_context(|| format!("GET {url}"))?;
    if !status.is_success() {
        bail!("GET {url}: answered {status}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `/healthz` at the daemon's listen address; an unspecified address (every interface) is
/// reached on the loopback address of its family.
fn default_url(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}{HEALTHZ}", SocketAddr::new(ip, listen.port()))
}

/// One HTTP/1.1 GET of `uri` on a fresh connection; its status.
async fn get(uri: &Uri) -> anyhow::Result<StatusCode> {
    if uri.scheme_str() != Some("http") {
        bail!("only http:// URLs are supported");
    }
    let authority = uri.authority().context("the URL names no host")?;
    let port = authority.port_u16().unwrap_or(80);
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let stream = TcpStream::connect((host, port)).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let connection = tokio::spawn(connection);
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let request = Request::get(path)
        .header(HOST, authority.as_str())
        .header(
            USER_AGENT,
            concat!("berth-healthcheck/", env!("CARGO_PKG_VERSION")),
        )
        .body(String::new())?;
    let response = sender.send_request(request).await;
    connection.abort();
    Ok(response?.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_interface_is_checked_on_the_loopback_address() {
        let url = |listen: &str| default_url(listen.parse().expect("address"));
        assert_eq!(url("0.0.0.0:8080"), "http://127.0.0.1:8080/healthz");
        assert_eq!(url("0.0.0.0:9090"), "http://127.0.0.1:9090/healthz");
        assert_eq!(url("[::]:9090"), "http://[::1]:9090/healthz");
        assert_eq!(url("10.0.0.5:8080"), "http://10.0.0.5:8080/healthz");
    }
}
