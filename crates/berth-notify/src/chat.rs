//! Chat messages (a Slack-compatible incoming webhook, `{"text": "..."}`): which notices make
//! one and their text ([`ChatState`], pure), and the body's signature.
//!
//! One message is sent for a service turning Failed; for a service back to Synced (from Failed,
//! OutOfSync or Invalid, or after a Failed message, so that Failed, Progressing, Synced says
//! that it recovered); for a service pruned, prune refused and drift reverted. `Applying` and
//! `Progressing` send nothing.

use std::collections::BTreeSet;

use berth_core::manifest::ServiceId;
use berth_core::vocabulary::Status;
use berth_engine::daemon::Notice;
use berth_engine::defaults::DEFAULT_TARGET;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::github::{is_git_sha, one_line, truncate};

/// The header carrying the body's signature, `sha256=<hex HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "x-berth-signature-256";
/// The longest message, in characters (Slack accepts far more; a reason quoting a whole
/// document does not help anyone).
pub const TEXT_LIMIT: usize = 3000;
/// At most this many drifted fields are listed; the rest are counted.
const FIELDS_LISTED: usize = 10;

/// The JSON body of an incoming webhook.
#[derive(Debug, Serialize)]
pub struct ChatBody<'a> {
    /// The message, with `&`, `<` and `>` escaped as Slack requires.
    pub text: &'a str,
}

/// Which services had a Failed message not yet followed by a recovery: the one memory chat
/// messages need.
#[derive(Debug, Default)]
pub struct ChatState {
    troubled: BTreeSet<(String, ServiceId)>,
}

impl ChatState {
    /// A state that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The message `notice` makes, if any (unescaped; see [`escape`]).
    pub fn observe(&mut self, notice: &Notice) -> Option<String> {
        let text = match notice {
            Notice::Applying { .. } => return None,
            Notice::Transition {
                target,
                revision,
                id,
                from,
                to,
                reason,
                events,
            } => {
                let key = (target.clone(), id.clone());
                match to {
                    Status::Failed => {
                        self.troubled.insert(key);
                        failed_text(target, revision, id, reason.as_deref(), events)
                    }
                    Status::Synced => {
                        let was_troubled = self.troubled.remove(&key);
                        let from_trouble = matches!(
                            from,
                            Some(Status::Failed | Status::OutOfSync | Status::Invalid)
                        );
                        if !was_troubled && !from_trouble {
                            return None;
                        }
                        synced_text(target, revision, id, *from)
                    }
                    Status::Progressing
                    | Status::OutOfSync
                    | Status::Invalid
                    | Status::Suspended => return None,
                }
            }
            Notice::Pruned { target, id } => {
                self.troubled.remove(&(target.clone(), id.clone()));
                format!(
                    "{}{id} pruned: deleted, as git no longer has it",
                    prefix(target)
                )
            }
            Notice::PruneRefused { target, reasons } => {
                let reasons: Vec<String> = reasons.iter().map(|r| one_line(r)).collect();
                format!("{}prune refused: {}", prefix(target), reasons.join("; "))
            }
            Notice::DriftReverted {
                target,
                id,
                changes,
            } => format!(
                "{}{id} drift reverted to git: {}",
                prefix(target),
                fields(changes)
            ),
        };
        Some(truncate(&text, TEXT_LIMIT))
    }
}

fn failed_text(
    target: &str,
    revision: &str,
    id: &ServiceId,
    reason: Option<&str>,
    events: &[String],
) -> String {
    let mut text = format!("{}{id} Failed at {}", prefix(target), short(revision));
    let event = events.first().map(|e| one_line(e));
    match (reason.map(one_line), event) {
        (Some(reason), Some(event)) if reason != event => {
            text.push_str(&format!(": {reason} (ECS: {event})"));
        }
        (Some(detail), _) | (None, Some(detail)) => text.push_str(&format!(": {detail}")),
        (None, None) => {}
    }
    text
}

fn synced_text(target: &str, revision: &str, id: &ServiceId, from: Option<Status>) -> String {
    let was = from.map(|s| format!(" (was {s})")).unwrap_or_default();
    format!(
        "{}{id} back to Synced at {}{was}",
        prefix(target),
        short(revision)
    )
}

/// `[target] ` for a target other than `default`.
fn prefix(target: &str) -> String {
    if target == DEFAULT_TARGET {
        String::new()
    } else {
        format!("[{target}] ")
    }
}

/// A git revision's first 7 digits; other revisions (a directory's `dir-…`) as they are.
pub fn short(revision: &str) -> &str {
    if is_git_sha(revision) {
        &revision[..7]
    } else {
        revision
    }
}

fn fields(changes: &[String]) -> String {
    if changes.is_empty() {
        return "no field named".to_owned();
    }
    let mut listed = changes
        .iter()
        .take(FIELDS_LISTED)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if changes.len() > FIELDS_LISTED {
        listed.push_str(&format!(" and {} more", changes.len() - FIELDS_LISTED));
    }
    listed
}

/// `text` with `&`, `<` and `>` escaped, as Slack's incoming webhooks require (`<` and `>`
/// would otherwise start links and mentions).
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The JSON body of a message.
pub fn body(text: &str) -> Vec<u8> {
    let escaped = escape(text);
    // Serializing a struct of one string cannot fail.
    serde_json::to_vec(&ChatBody { text: &escaped }).unwrap_or_default()
}

/// The value of [`SIGNATURE_HEADER`] for `body`: `sha256=` and the HMAC-SHA256 in lowercase
/// hex.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this branch is never taken.
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + digest.len() * 2);
    hex.push_str("sha256=");
    for byte in digest.iter() {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn transition(target: &str, from: Option<Status>, to: Status, reason: Option<&str>) -> Notice {
        Notice::Transition {
            target: target.into(),
            revision: SHA.into(),
            id: ServiceId::new("prod", "api"),
            from,
            to,
            reason: reason.map(Into::into),
            events: vec![],
        }
    }

    #[test]
    fn failed_names_service_revision_and_reason() {
        let mut chat = ChatState::new();
        let text = chat.observe(&transition(
            "default",
            Some(Status::Progressing),
            Status::Failed,
            Some("image web:9\nnot found"),
        ));
        assert_eq!(
            text.as_deref(),
            Some("prod/api Failed at 0123456: image web:9 not found")
        );
        let mut with_event = transition("eu", None, Status::Failed, Some("rollout failed"));
        if let Notice::Transition { events, .. } = &mut with_event {
            *events = vec!["(service api) tasks failed to start".into()];
        }
        assert_eq!(
            chat.observe(&with_event).as_deref(),
            Some(
                "[eu] prod/api Failed at 0123456: rollout failed \
                 (ECS: (service api) tasks failed to start)"
            )
        );
    }

    #[test]
    fn back_to_synced_after_failed_even_through_progressing() {
        let mut chat = ChatState::new();
        let failed = transition("default", Some(Status::Synced), Status::Failed, None);
        assert_eq!(
            chat.observe(&failed).as_deref(),
            Some("prod/api Failed at 0123456")
        );
        let retry = transition("default", Some(Status::Failed), Status::Progressing, None);
        assert_eq!(chat.observe(&retry), None);
        let synced = transition("default", Some(Status::Progressing), Status::Synced, None);
        assert_eq!(
            chat.observe(&synced).as_deref(),
            Some("prod/api back to Synced at 0123456 (was Progressing)")
        );
        // A plain rollout (Progressing to Synced) says nothing.
        assert_eq!(chat.observe(&synced), None);
        let from_drift = transition("default", Some(Status::OutOfSync), Status::Synced, None);
        assert_eq!(
            chat.observe(&from_drift).as_deref(),
            Some("prod/api back to Synced at 0123456 (was OutOfSync)")
        );
        let first_sight = transition("default", None, Status::Synced, None);
        assert_eq!(chat.observe(&first_sight), None);
    }

    #[test]
    fn applying_progressing_and_others_send_nothing() {
        let mut chat = ChatState::new();
        let applying = Notice::Applying {
            target: "default".into(),
            revision: SHA.into(),
            services: vec![ServiceId::new("prod", "api")],
        };
        assert_eq!(chat.observe(&applying), None);
        for to in [
            Status::Progressing,
            Status::OutOfSync,
            Status::Invalid,
            Status::Suspended,
        ] {
            assert_eq!(chat.observe(&transition("default", None, to, None)), None);
        }
    }

    #[test]
    fn prune_and_drift_texts() {
        let mut chat = ChatState::new();
        let pruned = Notice::Pruned {
            target: "default".into(),
            id: ServiceId::new("prod", "old"),
        };
        assert_eq!(
            chat.observe(&pruned).as_deref(),
            Some("prod/old pruned: deleted, as git no longer has it")
        );
        let refused = Notice::PruneRefused {
            target: "eu".into(),
            reasons: vec![
                "prod/a: over maxPrune (1)".into(),
                "prod/b: first seen".into(),
            ],
        };
        assert_eq!(
            chat.observe(&refused).as_deref(),
            Some("[eu] prune refused: prod/a: over maxPrune (1); prod/b: first seen")
        );
        let drift = Notice::DriftReverted {
            target: "default".into(),
            id: ServiceId::new("prod", "api"),
            changes: (0..12).map(|i| format!("field{i}")).collect(),
        };
        let text = chat.observe(&drift).unwrap_or_default();
        assert!(
            text.starts_with("prod/api drift reverted to git: field0, field1,"),
            "{text}"
        );
        assert!(text.ends_with("field9 and 2 more"), "{text}");
    }

    #[test]
    fn revisions_are_shortened_only_when_git() {
        assert_eq!(short(SHA), "0123456");
        assert_eq!(short("dir-0123456789ab"), "dir-0123456789ab");
    }

    #[test]
    fn bodies_are_escaped_json() {
        let body = body("a <b> & \"c\"");
        assert_eq!(
            String::from_utf8(body).ok().as_deref(),
            Some(r#"{"text":"a &lt;b&gt; &amp; \"c\""}"#)
        );
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
