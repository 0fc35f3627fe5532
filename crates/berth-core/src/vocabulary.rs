//! The string forms of everything berth reports: service statuses, reconcile results, apply
//! actions, AWS request outcomes and reconcile triggers, each spelled exactly once, here.
//!
//! These strings are a contract with the people who run berth (docs/operations.md, "Service
//! statuses", "The /status document", "Metrics", "Logs"): they appear in `/status`, in metric
//! labels and in alerts users have written. The engine records these enums, the server turns
//! them into labels with `as_str()`, and serde writes the same strings into `/status`, so no
//! crate holds a copy that could disagree. The tests below fail when a value and
//! docs/operations.md stop listing the same set.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A string that is not one of a closed vocabulary's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} {value:?}: expected one of {expected}")]
pub struct UnknownValue {
    /// Which vocabulary was expected (`service status`, `reconcile result`, ...).
    pub vocabulary: &'static str,
    /// The rejected string.
    pub value: String,
    /// The accepted strings, comma-separated.
    pub expected: String,
}

/// Defines a closed vocabulary: a fieldless enum with `ALL`, `as_str`, `Display`, `Serialize`
/// and `FromStr`, each variant's string written once.
macro_rules! closed_vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order docs/operations.md lists them.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The value's string form, exactly as docs/operations.md spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .into_iter()
                    .find(|known| known.as_str() == value)
                    .ok_or_else(|| UnknownValue {
                        vocabulary: $what,
                        value: value.to_owned(),
                        expected: $name::ALL.map($name::as_str).join(", "),
                    })
            }
        }
    };
}

closed_vocabulary! {
    /// A service's status (docs/operations.md, "Service statuses"): the `status` field of
    /// `/status`, the `status` label of `berth_service_status`, the keys of
    /// `lastReconcile.counts`.
    pub enum Status ("service status") {
        /// Live matches git and no rollout is in flight.
        Synced => "Synced",
        /// berth changed it and the rollout is in flight (or passed its deadline).
        Progressing => "Progressing",
        /// Live differs from git and berth is not changing it (self-heal off, or backing off).
        OutOfSync => "OutOfSync",
        /// The last attempt for this revision failed (rollout failed, API error, missing image).
        Failed => "Failed",
        /// Its manifest does not load or validate.
        Invalid => "Invalid",
        /// `metadata.suspend: true`.
        Suspended => "Suspended",
    }
}

closed_vocabulary! {
    /// How a reconcile ended: `lastReconcile.result` in `/status` and the `result` label of
    /// `berth_reconcile_total`.
    pub enum ReconcileResult ("reconcile result") {
        /// No service is `Failed` or `Invalid`, and ECS could be read.
        Ok => "ok",
        /// Some service is `Failed` or `Invalid`, or ECS could not be read at all.
        Error => "error",
    }
}

closed_vocabulary! {
    /// A change berth made to ECS: the `action` label of `berth_apply_actions_total`.
    pub enum ApplyAction ("apply action") {
        /// A new task definition revision was registered.
        RegisterTaskDefinition => "registerTaskDefinition",
        /// An equal task definition revision already existed and was used instead.
        ReuseTaskDefinition => "reuseTaskDefinition",
        /// A service was created.
        CreateService => "createService",
        /// A service was updated.
        UpdateService => "updateService",
        /// Tags were added to (or changed on) a service.
        TagResource => "tagResource",
        /// Tags were removed from a service.
        UntagResource => "untagResource",
        /// Prune deleted a service.
        DeleteService => "deleteService",
        /// Revision retention deregistered a task definition revision nothing uses.
        DeregisterTaskDefinition => "deregisterTaskDefinition",
    }
}

closed_vocabulary! {
    /// What became of a notification (`notifications:`): the `outcome` label of
    /// `berth_notifications_total`.
    pub enum NotificationOutcome ("notification outcome") {
        /// The receiver (GitHub, the chat webhook) accepted it.
        Sent => "sent",
        /// The receiver refused it, or every retry failed.
        Failed => "failed",
        /// The queue was full (or stopping): never sent.
        Dropped => "dropped",
    }
}

/// How one HTTP request to AWS ended: the `outcome` label of `berth_aws_requests_total`.
///
/// An open set: AWS names its own error codes, so [`AwsOutcome::ErrorCode`] carries any of them.
/// The other forms are fixed: `success`, `http_<status>`, `transport_error`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AwsOutcome {
    /// A 2xx answer: `success`.
    Success,
    /// An error answer naming AWS's error code: the code itself (`ThrottlingException`).
    ErrorCode(String),
    /// An error answer naming no code: `http_<status>` (`http_503`).
    HttpStatus(u16),
    /// No answer came (connection failure, timeout): `transport_error`.
    TransportError,
}

impl AwsOutcome {
    /// The label of [`AwsOutcome::Success`].
    pub const SUCCESS: &'static str = "success";
    /// The label of [`AwsOutcome::TransportError`].
    pub const TRANSPORT_ERROR: &'static str = "transport_error";
    /// The prefix of [`AwsOutcome::HttpStatus`]'s label, followed by the status code.
    const HTTP_PREFIX: &'static str = "http_";

    /// The label value.
    pub fn label(&self) -> Cow<'static, str> {
        match self {
            AwsOutcome::Success => Cow::Borrowed(Self::SUCCESS),
            AwsOutcome::ErrorCode(code) => Cow::Owned(code.clone()),
            AwsOutcome::HttpStatus(status) => Cow::Owned(format!("{}{status}", Self::HTTP_PREFIX)),
            AwsOutcome::TransportError => Cow::Borrowed(Self::TRANSPORT_ERROR),
        }
    }
}

impl fmt::Display for AwsOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl Serialize for AwsOutcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.label())
    }
}

impl FromStr for AwsOutcome {
    type Err = std::convert::Infallible;

    /// Reads a label back; anything that is not one of the fixed forms is an error code.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let http = value
            .strip_prefix(Self::HTTP_PREFIX)
            .and_then(|status| status.parse().ok());
        Ok(match (value, http) {
            (Self::SUCCESS, _) => AwsOutcome::Success,
            (Self::TRANSPORT_ERROR, _) => AwsOutcome::TransportError,
            (_, Some(status)) => AwsOutcome::HttpStatus(status),
            (code, None) => AwsOutcome::ErrorCode(code.to_owned()),
        })
    }
}

/// What asks the daemon for a reconcile besides its clock (docs/operations.md, the `trigger`
/// field of `reconcile requested`). The server sends the first two; the directory watcher of a
/// local manifest source sends [`Trigger::Watch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A verified GitHub push to the tracked branch: fetch now, then reconcile.
    Webhook {
        /// The pushed commit (the event's `after`); `None` when the push deleted the branch or
        /// the payload did not say.
        after: Option<String>,
    },
    /// An authenticated `POST /reconcile`.
    Manual,
    /// A file changed in the watched manifest directory.
    Watch,
    /// This replica took a target's lease (`lease.table`): reconcile that target now. Wakes
    /// the daemon only; it fetches nothing and reconciles no other target.
    Lease,
    /// An authenticated `POST /reconcile?override=window`: like [`Trigger::Manual`], and the
    /// next full reconcile applies through freeze windows, once (never through a suspension).
    Override,
}

impl Trigger {
    /// The kind of trigger, as the `reconcile requested` log line names it.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Trigger::Webhook { .. } => "Webhook",
            Trigger::Manual => "Manual",
            Trigger::Watch => "Watch",
            Trigger::Lease => "Lease",
            Trigger::Override => "Override",
        }
    }

    /// Whether this trigger also retries failed services without waiting for their backoff
    /// (docs/operations.md, "When a rollout fails"): an explicit request, or someone editing the
    /// manifests in a watched directory.
    pub const fn retries_failed(&self) -> bool {
        matches!(self, Trigger::Manual | Trigger::Watch | Trigger::Override)
    }

    /// Whether this trigger asks for a fetch and a full reconcile of every target (all but
    /// [`Trigger::Lease`], which only wakes the daemon to start on the target it took).
    pub const fn forces_reconcile(&self) -> bool {
        !matches!(self, Trigger::Lease)
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPERATIONS: &str = include_str!("../../../docs/operations.md");

    /// The row of the first Markdown table in docs/operations.md whose first cell is `first`.
    fn row(first: &str) -> &'static str {
        let prefix = format!("| `{first}` |");
        OPERATIONS
            .lines()
            .find(|line| line.starts_with(&prefix))
            .unwrap_or_else(|| panic!("docs/operations.md has no table row {prefix}"))
    }

    /// The values a sentence ``"`label` is `a`, `b` (aside) or `c`."`` in `text` lists.
    fn listed(text: &str, label: &str) -> Vec<String> {
        let marker = format!("`{label}` is ");
        let start = text
            .find(&marker)
            .unwrap_or_else(|| panic!("no {marker:?} in {text:?}"));
        values(&text[start + marker.len()..])
    }

    /// The backquoted words of `text` up to the end of its first sentence, parenthesized asides
    /// left out.
    fn values(mut rest: &str) -> Vec<String> {
        if let Some(end) = rest.find(". ") {
            rest = &rest[..end];
        }
        let mut outside = String::new();
        let mut depth = 0_usize;
        for c in rest.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => outside.push(c),
                _ => {}
            }
        }
        outside
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    fn strings<T: fmt::Display>(values: impl IntoIterator<Item = T>) -> Vec<String> {
        values.into_iter().map(|v| v.to_string()).collect()
    }

    /// `as_str`, `Display`, `Serialize` and `FromStr` agree for every value of `all`.
    fn round_trips<T>(all: &[T])
    where
        T: Copy + fmt::Debug + PartialEq + fmt::Display + Serialize + FromStr<Err = UnknownValue>,
    {
        for &value in all {
            let text = value.to_string();
            assert_eq!(text.parse::<T>(), Ok(value));
            assert_eq!(
                serde_json::to_value(value).ok(),
                Some(serde_json::Value::String(text))
            );
        }
        assert!("not-a-value".parse::<T>().is_err());
    }

    #[test]
    fn statuses_round_trip_and_are_the_documented_ones() {
        round_trips(&Status::ALL);
        let documented: Vec<String> = OPERATIONS
            .split("## Service statuses")
            .nth(1)
            .and_then(|section| section.split("\n\n").find(|p| p.starts_with("| status |")))
            .expect("the statuses table")
            .lines()
            .skip(2)
            .filter_map(|line| line.split('`').nth(1).map(str::to_owned))
            .collect();
        assert_eq!(documented, strings(Status::ALL));
        assert_eq!(
            listed(row("berth_service_status"), "status"),
            strings(Status::ALL)
        );
        let error = "synced".parse::<Status>().expect_err("case matters");
        assert_eq!(
            error.to_string(),
            "unknown service status \"synced\": expected one of Synced, Progressing, OutOfSync, \
             Failed, Invalid, Suspended"
        );
    }

    #[test]
    fn reconcile_results_round_trip_and_are_the_documented_ones() {
        round_trips(&ReconcileResult::ALL);
        assert_eq!(
            listed(row("berth_reconcile_total"), "result"),
            strings(ReconcileResult::ALL)
        );
        // `/status`'s `lastReconcile.result` row: its second cell.
        let cell = row("result").split('|').nth(2).unwrap_or_default();
        assert_eq!(values(cell), strings(ReconcileResult::ALL));
    }

    #[test]
    fn apply_actions_round_trip_and_are_the_documented_ones() {
        round_trips(&ApplyAction::ALL);
        assert_eq!(
            listed(row("berth_apply_actions_total"), "action"),
            strings(ApplyAction::ALL)
        );
    }

    #[test]
    fn notification_outcomes_round_trip_and_are_the_documented_ones() {
        round_trips(&NotificationOutcome::ALL);
        assert_eq!(
            listed(row("berth_notifications_total"), "outcome"),
            strings(NotificationOutcome::ALL)
        );
    }

    #[test]
    fn aws_outcomes_round_trip_and_their_fixed_forms_are_documented() {
        let examples = [
            AwsOutcome::Success,
            AwsOutcome::ErrorCode("ThrottlingException".into()),
            AwsOutcome::HttpStatus(503),
            AwsOutcome::TransportError,
        ];
        for outcome in &examples {
            let label = outcome.label();
            assert_eq!(label.parse::<AwsOutcome>().ok().as_ref(), Some(outcome));
            assert_eq!(outcome.to_string(), label);
            assert_eq!(
                serde_json::to_value(outcome).ok(),
                Some(serde_json::Value::String(label.into_owned()))
            );
        }
        assert_eq!(AwsOutcome::HttpStatus(503).label(), "http_503");
        assert_eq!(
            "http_teapot".parse::<AwsOutcome>().ok(),
            Some(AwsOutcome::ErrorCode("http_teapot".into()))
        );
        let documented = format!("{}<status>", AwsOutcome::HTTP_PREFIX);
        assert_eq!(
            listed(row("berth_aws_requests_total"), "outcome"),
            [
                AwsOutcome::SUCCESS,
                documented.as_str(),
                AwsOutcome::TRANSPORT_ERROR
            ]
        );
    }

    #[test]
    fn triggers_are_the_documented_ones() {
        let all = [
            Trigger::Webhook { after: None },
            Trigger::Manual,
            Trigger::Watch,
            Trigger::Lease,
            Trigger::Override,
        ];
        let row = OPERATIONS
            .lines()
            .find(|line| line.contains("| `reconcile requested` |"))
            .expect("the reconcile requested row");
        for trigger in &all {
            assert!(row.contains(&format!("`{trigger}")), "{trigger} in {row}");
            assert_eq!(
                serde_json::to_value(trigger).ok(),
                Some(serde_json::Value::String(trigger.to_string()))
            );
        }
        assert!(!Trigger::Webhook { after: None }.retries_failed());
        assert!(Trigger::Manual.retries_failed() && Trigger::Watch.retries_failed());
        assert!(!Trigger::Lease.retries_failed() && !Trigger::Lease.forces_reconcile());
        assert!(Trigger::Manual.forces_reconcile());
    }
}
