//! berth-server: the daemon's HTTP interface (docs/cli.md, `berth run`; docs/operations.md).
//!
//! One listener serves `GET /healthz`, `GET /readyz`, `GET /metrics`, `GET /status`, the status
//! page (`GET /`, `GET /services/{cluster}/{name}`), `POST /webhook/github` and
//! `POST /reconcile`. The daemon owns all state: it implements [`DaemonView`] for the read
//! endpoints, records into a shared [`Metrics`], and receives [`Trigger`]s from the two
//! authenticated endpoints over a channel. Nothing here changes anything without
//! authentication: an unauthenticated request can at most read.
//!
//! Statuses, results, actions and triggers are `berth_core::vocabulary`'s enums (re-exported
//! here), so the labels this crate writes are the strings the daemon reports.
//!
//! - [`daemon`]: the daemon's state as a [`DaemonView`] and a target's telemetry as [`Metrics`]
//!   under its `target` label ([`MetricsTelemetry`]), the adapter between `berth-engine` and
//!   this crate.
//! - [`targets`]: the [`DaemonView`] over several targets' states ([`TargetsView`]), for
//!   berth.yaml `targets:`.
//! - [`metrics`]: the Prometheus registry with the metric names and labels of docs/operations.md.
//! - [`page`]: the status page, HTML rendered on the server from each target's `DaemonState`
//!   (read through [`DaemonView::read_targets`]), no JavaScript, nothing that changes state.
//! - [`server`]: the axum router, request authentication, and serving with graceful shutdown.

pub mod daemon;
pub mod metrics;
pub mod page;
pub mod server;
pub mod targets;

use std::net::SocketAddr;

/// The values this crate's API takes, from the one vocabulary the daemon reports in.
pub use berth_core::vocabulary::{ApplyAction, ReconcileResult, Status, Trigger};
pub use daemon::{AwsRequestCounts, MetricsTelemetry};
pub use metrics::Metrics;
pub use page::TargetRead;
pub use server::{
    DEFAULT_BODY_LIMIT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT, DaemonView, HttpLimits, Readiness, ServerConfig, bind, router, serve,
    serve_on,
};
pub use targets::{TargetEntry, TargetsView};

/// Secrets (the webhook secret, the API token) are berth-core's one `Secret` type.
pub use berth_core::secret::Secret;

/// Everything that can go wrong in this crate. Request-level failures (bad signature, oversized
/// body, ...) are HTTP responses, not errors: the server keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound (in use, not permitted, not local).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from the configuration (`server.listen`).
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A metric could not be created or registered: a bug in this crate's metric definitions.
    #[error("registering metrics: {source}")]
    MetricRegistration {
        /// The metrics library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "***");
        let config = ServerConfig {
            webhook_secret: Some(Secret::new("hunter2")),
            api_token: Some(Secret::new("tok-123")),
            ..ServerConfig::default()
        };
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("tok-123"),
            "{debug}"
        );
        assert_eq!(secret.expose(), "hunter2");
    }
}
