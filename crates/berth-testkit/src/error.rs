//! The error type of the emulator launcher, its HTTP client and its API helpers.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::locate::{INSTALL_COMMAND, MOTO_VERSION};

/// Everything that can go wrong starting the emulator or talking to it.
///
/// Cloneable (sources are shared through [`Arc`]) so that the one start attempt of
/// [`Emulator::shared`](crate::Emulator::shared) can report its failure to every test.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmulatorError {
    /// No `moto_server` executable was found in any of the places searched.
    #[error(
        "moto_server (moto {version}, the local ECS/ECR emulator) is not installed; looked for: \
         {}. Install it with `{install}` from the workspace root, or with \
         `pip install 'moto[server]=={version}'` and put moto_server on PATH or name it in \
         BERTH_MOTO_SERVER",
        searched.join("; "),
        version = MOTO_VERSION,
        install = INSTALL_COMMAND
    )]
    NotInstalled {
        /// Each candidate looked at, with why it was not used.
        searched: Vec<String>,
    },

    /// No free local TCP port could be reserved for the emulator.
    #[error("could not pick a free port on 127.0.0.1: {source}")]
    FreePort {
        /// The bind error.
        #[source]
        source: Arc<io::Error>,
    },

    /// The emulator's log file could not be created.
    #[error("could not create the emulator log {}: {source}", path.display())]
    Log {
        /// The log file's path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },

    /// The emulator process could not be started.
    #[error("could not start {}: {source}", program.display())]
    Spawn {
        /// The `moto_server` executable.
        program: PathBuf,
        /// The spawn error.
        #[source]
        source: Arc<io::Error>,
    },

    /// The emulator process exited before it answered.
    #[error(
        "moto_server ({}) exited while starting ({status}); log {}:\n{log_tail}",
        program.display(),
        log.display()
    )]
    Exited {
        /// The `moto_server` executable.
        program: PathBuf,
        /// How it exited.
        status: String,
        /// The log file holding its output.
        log: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },

    /// The emulator did not answer `GET /moto-api/` in time.
    #[error(
        "moto_server did not answer on {endpoint}/moto-api/ within {waited:?}; log {}:\n{log_tail}",
        log.display()
    )]
    NotReady {
        /// The endpoint that was polled.
        endpoint: String,
        /// How long it was polled.
        waited: Duration,
        /// The log file holding its output.
        log: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },

    /// Connecting to the emulator, or sending or receiving a request, failed.
    #[error("{method} {url}: {source}")]
    Io {
        /// The HTTP method of the request.
        method: String,
        /// The URL requested.
        url: String,
        /// The IO error.
        #[source]
        source: Arc<io::Error>,
    },

    /// The emulator's answer was not a well-formed HTTP/1.1 response.
    #[error("{method} {url}: malformed HTTP response: {detail}")]
    Protocol {
        /// The HTTP method of the request.
        method: String,
        /// The URL requested.
        url: String,
        /// What was wrong with it.
        detail: String,
    },

    /// A plain HTTP request (not an AWS API call) got an unexpected status.
    #[error("{method} {url}: HTTP {status}: {body}")]
    Status {
        /// The HTTP method of the request.
        method: String,
        /// The URL requested.
        url: String,
        /// The status code received.
        status: u16,
        /// The response body, lossily decoded.
        body: String,
    },

    /// An AWS API call was answered with an error.
    #[error("{service} {operation}: HTTP {status} {code}: {message}")]
    Api {
        /// The service called (`ecs`, `ecr`, `ec2`).
        service: String,
        /// The operation called, e.g. `CreateCluster`.
        operation: String,
        /// The HTTP status code.
        status: u16,
        /// The AWS error code, e.g. `ClusterNotFoundException` (empty when moto gave none).
        code: String,
        /// The error message.
        message: String,
    },

    /// A JSON request or response body could not be (de)serialized.
    #[error("{context}: {source}")]
    Json {
        /// What was being (de)serialized.
        context: String,
        /// The serde_json error.
        #[source]
        source: Arc<serde_json::Error>,
    },

    /// A response lacked data it should have had (e.g. no default VPC).
    #[error("unexpected emulator response: {0}")]
    Unexpected(String),
}

impl EmulatorError {
    /// The AWS error code when this is an [`EmulatorError::Api`] error.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            EmulatorError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}
