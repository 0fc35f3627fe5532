//! Keeping secret material out of what berth prints: diagnostics, logs and `/status` echo values
//! from manifests, and a manifest may hold a pasted password where a reference belongs.
//!
//! Two rules, applied to every [`crate::diag::Diagnostic`] message when it is made:
//! - the user information of a URL (`postgres://app:hunter2@db/...`) is masked everywhere;
//! - about a field under `secrets`, `secretOptions` or `repositoryCredentials`, no value is
//!   echoed at all (only its kind: "a string", "an integer").

use crate::diag::{FieldPath, Segment};

/// The fields whose values are secrets or references to them.
pub const SECRET_FIELDS: [&str; 3] = ["secrets", "secretOptions", "repositoryCredentials"];

/// What replaces a masked value.
pub const MASK: &str = "***";

/// `message` fit to print about the field at `path`.
pub fn message(path: &FieldPath, message: &str) -> String {
    let masked = userinfo(message);
    if is_secret_path(path) {
        echoed_values(&masked)
    } else {
        masked
    }
}

/// Whether `path` is inside one of [`SECRET_FIELDS`].
pub fn is_secret_path(path: &FieldPath) -> bool {
    path.0.iter().any(
        |segment| matches!(segment, Segment::Key(key) if SECRET_FIELDS.contains(&key.as_str())),
    )
}

/// `text` with the password (or, with no `user:` part, the whole user information) of every
/// `scheme://userinfo@host` masked.
pub fn userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '`' | '"' | '\'' | ')' | ','))
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(sign) => {
                let info = &tail[..sign];
                match info.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:{MASK}")),
                    None => out.push_str(MASK),
                }
                rest = &tail[sign..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// `text` without the values serde's messages echo (`string "…"`, `integer `…``, `` `…` ``
/// quoting a value): each becomes its kind or [`MASK`].
fn echoed_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = [("string \"", '"'), ("`", '`'), ("\"", '"')]
            .iter()
            .filter_map(|(open, close)| rest.find(open).map(|at| (at, *open, *close)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, open, close)) = next else {
            break;
        };
        out.push_str(&rest[..at]);
        let inner = &rest[at + open.len()..];
        let Some(end) = inner.find(close) else {
            out.push_str(MASK);
            return out;
        };
        if open == "string \"" {
            out.push_str("a string");
        } else {
            out.push(close);
            out.push_str(MASK);
            out.push(close);
        }
        rest = &inner[end + close.len_utf8()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_path;

    #[test]
    fn url_passwords_are_masked_everywhere() {
        let path = field_path![
            "spec",
            "taskDefinition",
            "containerDefinitions",
            0,
            "environment",
            0,
            "value"
        ];
        let shown = message(
            &path,
            "`postgres://app:hunter2@db.internal:5432/orders` looks odd; see https://example.com/x",
        );
        assert_eq!(
            shown,
            "`postgres://app:***@db.internal:5432/orders` looks odd; see https://example.com/x"
        );
        assert_eq!(
            userinfo("https://ghp_token@github.com/a.git"),
            "https://***@github.com/a.git"
        );
    }

    #[test]
    fn values_under_secrets_are_never_echoed() {
        let path = field_path![
            "spec",
            "taskDefinition",
            "containerDefinitions",
            0,
            "secrets",
            0,
            "valueFrom"
        ];
        let shown = message(&path, "invalid type: string \"hunter2\", expected a map");
        assert_eq!(shown, "invalid type: a string, expected a map");
        let shown = message(&path, "`Sup3rS3cret!` is not an ARN");
        assert!(!shown.contains("Sup3rS3cret"), "{shown}");
        let plain = field_path!["spec", "desiredCount"];
        assert_eq!(message(&plain, "`x` is wrong"), "`x` is wrong");
    }
}
