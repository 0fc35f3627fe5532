//! The notifier against a local HTTP endpoint that records every request: GitHub commit
//! statuses, chat messages and their signature, retries, the bounded queue.

mod notify {
    pub mod support;

    mod chat;
    mod config;
    mod delivery;
    mod github;
}
