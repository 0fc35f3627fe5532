//! [`Notifier`]: the engine's `Notify` port. `notify` only `try_send`s onto a bounded queue
//! (a full queue drops the notice and counts it); one worker task takes notices off the queue
//! in order, decides the commit status and the chat message each makes, and sends them.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use berth_core::vocabulary::{NotificationOutcome, Status};
use berth_engine::daemon::{Notice, Notify};
use hyper::Uri;
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::NotifyError;
use crate::chat::{self, ChatState};
use crate::config::{ChatWebhook, GithubStatuses, NotifierConfig};
use crate::github::{self, CommitStatus, StatusBody, StatusTracker};
use crate::http::{HttpClient, Outcome, Outgoing, Sink};

/// How many drops pass between two warnings about them (the first always warns).
const DROP_WARNING_EVERY: u64 = 100;

/// The counters, shared by [`Notifier`] and its worker.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Counts {
        Counts {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// A snapshot of the counters ([`Notifier::counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests delivered (2xx).
    pub sent: u64,
    /// Requests that failed for good (rejected, or every retry failed).
    pub failed: u64,
    /// Notices dropped because the queue was full (or the worker had stopped).
    pub dropped: u64,
}

impl Counts {
    /// The counts keyed by outcome, as `berth_notifications_total` labels them.
    pub fn by_outcome(&self) -> std::collections::BTreeMap<NotificationOutcome, u64> {
        std::collections::BTreeMap::from([
            (NotificationOutcome::Sent, self.sent),
            (NotificationOutcome::Failed, self.failed),
            (NotificationOutcome::Dropped, self.dropped),
        ])
    }
}

/// The engine's `Notify` port: queues notices for the worker [`Notifier::start`] spawned.
pub struct Notifier {
    queue: mpsc::Sender<Notice>,
    wants_github: bool,
    wants_chat: bool,
    counters: Arc<Counters>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("github", &self.wants_github)
            .field("chat", &self.wants_chat)
            .field("counts", &self.counts())
            .finish()
    }
}

impl Notifier {
    /// Spawns the worker (on the current tokio runtime) and returns the port to hand to the
    /// daemon. The worker stops when `shutdown` turns true (abandoning the request in flight
    /// and the notices still queued) or when the last `Arc<Notifier>` is dropped (after the
    /// queued notices are sent); its task returns the final counts.
    pub fn start(
        config: NotifierConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(Arc<Notifier>, JoinHandle<Counts>), NotifyError> {
        let client = HttpClient::new(config.delivery)?;
        let github = config.github.map(GithubSink::new).transpose()?;
        let chat = config.chat.map(|config| ChatSink { config });
        let (queue, receiver) = mpsc::channel(config.queue.max(1));
        let counters = Arc::new(Counters::default());
        let notifier = Arc::new(Notifier {
            queue,
            wants_github: github.is_some(),
            wants_chat: chat.is_some(),
            counters: Arc::clone(&counters),
        });
        let worker = Worker {
            client,
            github,
            chat,
            counters,
        };
        let handle = tokio::spawn(worker.run(receiver, shutdown));
        Ok((notifier, handle))
    }

    /// Requests delivered.
    pub fn sent(&self) -> u64 {
        self.counters.sent.load(Ordering::Relaxed)
    }

    /// Requests that failed for good.
    pub fn failed(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
    }

    /// Notices dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// All three counters.
    pub fn counts(&self) -> Counts {
        self.counters.snapshot()
    }

    /// Whether `notice` can make a request with what is configured; the others are not queued
    /// (a Progressing transition never takes the place of a failure in the queue).
    fn wants(&self, notice: &Notice) -> bool {
        match notice {
            Notice::Applying { revision, .. } => self.wants_github && github::is_git_sha(revision),
            Notice::Transition { to, .. } => matches!(to, Status::Synced | Status::Failed),
            Notice::Pruned { .. } | Notice::PruneRefused { .. } | Notice::DriftReverted { .. } => {
                self.wants_chat
            }
        }
    }
}

impl Notify for Notifier {
    fn notify(&self, notice: Notice) {
        if !self.wants(&notice) {
            return;
        }
        let Err(error) = self.queue.try_send(notice) else {
            return;
        };
        let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if dropped == 1 || dropped.is_multiple_of(DROP_WARNING_EVERY) {
            let why = match error {
                mpsc::error::TrySendError::Full(_) => "the queue is full",
                mpsc::error::TrySendError::Closed(_) => "the notifier has stopped",
            };
            tracing::warn!(dropped, "notification dropped: {why} (notifications.queue)");
        }
    }
}

/// GitHub's settings with the `Authorization` header made once.
struct GithubSink {
    config: GithubStatuses,
    headers: HeaderMap,
}

impl GithubSink {
    fn new(config: GithubStatuses) -> Result<Self, NotifyError> {
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", config.token.expose()))
            .map_err(|_| {
                NotifyError::config(
                    "notifications.github",
                    "the token holds characters an HTTP header cannot carry",
                )
            })?;
        authorization.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, authorization);
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            HeaderName::from_static("x-github-api-version"),
            HeaderValue::from_static("2022-11-28"),
        );
        Ok(GithubSink { config, headers })
    }

    fn request(&self, status: &CommitStatus) -> Option<Outgoing> {
        let context = github::context(&self.config.context, &status.target);
        let body = StatusBody {
            state: status.state,
            context: &context,
            description: &status.description,
        };
        let body = serde_json::to_vec(&body).ok()?;
        let uri: Uri = github::status_url(&self.config, &status.sha).parse().ok()?;
        Some(Outgoing {
            sink: Sink::Github,
            uri,
            headers: self.headers.clone(),
            body: Bytes::from(body),
        })
    }
}

/// The chat webhook's settings.
struct ChatSink {
    config: ChatWebhook,
}

impl ChatSink {
    fn request(&self, text: &str) -> Option<Outgoing> {
        let body = chat::body(text);
        let mut headers = HeaderMap::new();
        if let Some(secret) = &self.config.secret {
            let signature = chat::signature(secret.expose().as_bytes(), &body);
            let value = HeaderValue::from_str(&signature).ok()?;
            headers.insert(HeaderName::from_static(chat::SIGNATURE_HEADER), value);
        }
        Some(Outgoing {
            sink: Sink::Chat,
            uri: self.config.url.clone(),
            headers,
            body: Bytes::from(body),
        })
    }
}

/// The task that sends.
struct Worker {
    client: HttpClient,
    github: Option<GithubSink>,
    chat: Option<ChatSink>,
    counters: Arc<Counters>,
}

impl Worker {
    async fn run(
        self,
        mut queue: mpsc::Receiver<Notice>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Counts {
        let mut tracker = StatusTracker::new();
        let mut chat_state = ChatState::new();
        loop {
            let notice = tokio::select! {
                biased;
                () = stopped(&mut shutdown) => break,
                notice = queue.recv() => match notice {
                    Some(notice) => notice,
                    None => break,
                },
            };
            let requests = self.requests(&notice, &mut tracker, &mut chat_state);
            tokio::select! {
                biased;
                () = stopped(&mut shutdown) => break,
                () = self.send_all(requests) => {}
            }
        }
        tracing::debug!(unsent = queue.len(), "notifier stopped");
        self.counters.snapshot()
    }

    /// The requests `notice` makes: the commit status first, then the chat message.
    fn requests(
        &self,
        notice: &Notice,
        tracker: &mut StatusTracker,
        chat_state: &mut ChatState,
    ) -> Vec<Outgoing> {
        let mut requests = Vec::new();
        if let Some(github) = &self.github
            && let Some(status) = tracker.observe(notice)
        {
            requests.extend(
                github
                    .request(&status)
                    .or_else(|| self.unbuildable(Sink::Github)),
            );
        }
        if let Some(chat) = &self.chat
            && let Some(text) = chat_state.observe(notice)
        {
            requests.extend(chat.request(&text).or_else(|| self.unbuildable(Sink::Chat)));
        }
        requests
    }

    /// Counts a request that could not be made (never expected: the config was checked).
    fn unbuildable(&self, sink: Sink) -> Option<Outgoing> {
        tracing::warn!(sink = sink.as_str(), "notification could not be built");
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        None
    }

    async fn send_all(&self, requests: Vec<Outgoing>) {
        for request in requests {
            let counter = match self.client.deliver(&request).await {
                Outcome::Delivered => &self.counters.sent,
                Outcome::Rejected(_) | Outcome::GaveUp(_) => &self.counters.failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Resolves once the shutdown flag is true; never when its sender is gone without setting it
/// (the queue's closing then stops the worker).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}
