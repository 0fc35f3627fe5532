//! berth's notifications (docs/operations.md, "Notifications"): the engine's
//! [`Notify`](berth_engine::daemon::Notify) port, implemented by a bounded queue and one worker
//! task that turns [`Notice`](berth_engine::daemon::Notice)s into GitHub commit statuses and
//! chat messages.
//!
//! - [`config`]: `notifications:` of berth.yaml ([`NotifyConfig`]) and its resolution, with the
//!   secrets read from the environment or files, into a [`NotifierConfig`].
//! - [`notifier`]: [`Notifier`], whose `notify` never waits (a full queue drops the notice and
//!   counts it), and the worker [`Notifier::start`] spawns.
//! - [`github`]: the pure [`StatusTracker`] deciding which commit status a notice makes.
//! - [`chat`]: the pure text of a chat message and the webhook's signature.
//! - [`http`]: one HTTPS client (hyper, rustls: the AWS SDK's own stack), with a timeout per
//!   request and retries with backoff.

pub mod chat;
pub mod config;
pub mod github;
pub mod http;
pub mod notifier;

pub use config::{
    ChatSection, ChatWebhook, Delivery, GithubSection, GithubStatuses, NotifierConfig,
    NotifyConfig, Secret,
};
pub use github::{CommitState, CommitStatus, StatusTracker};
pub use notifier::{Counts, Notifier};

/// Everything that can go wrong in this crate before the worker runs: a configuration that does
/// not resolve, or no TLS roots. Failed deliveries are not errors: they are logged and counted
/// ([`Notifier::failed`]).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A key of `notifications:` is missing, malformed, or names a secret that cannot be read.
    /// The message names the key (`notifications.github.tokenEnv: ...`), never a secret's value.
    #[error("{key}: {message}")]
    Config {
        /// The key, from `notifications.` on.
        key: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// The system's CA certificates could not be loaded for HTTPS.
    #[error("notifications: cannot load the system's CA certificates: {source}")]
    TlsRoots {
        /// rustls-native-certs' error.
        #[source]
        source: std::io::Error,
    },
}

impl NotifyError {
    pub(crate) fn config(key: &'static str, message: impl Into<String>) -> Self {
        NotifyError::Config {
            key,
            message: message.into(),
        }
    }
}
