//! The status page's wording: ages and UTC times, ARN tails, clipped text, links and URL path
//! segments. Plain strings; the templates escape them. (What a service waits for is
//! `Waiting::describe`, the engine's one sentence.)

use std::borrow::Cow;
use std::fmt::Write as _;

/// `42s`, `5m 3s`, `3h 12m`, `2d 4h`: two units at most.
pub(crate) fn duration(seconds: u64) -> String {
    let (days, hours) = (seconds / 86_400, seconds / 3_600 % 24);
    let (minutes, secs) = (seconds / 60 % 60, seconds % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, _) if secs == 0 => format!("{minutes}m"),
        (0, 0, _) => format!("{minutes}m {secs}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

/// How long ago `then` was at `now` (both Unix seconds): `5m 3s ago`, or `just now` for a time
/// not before `now` (a clock that stepped back).
pub(crate) fn ago(then: u64, now: u64) -> String {
    match now.checked_sub(then) {
        Some(0) | None => "just now".into(),
        Some(seconds) => format!("{} ago", duration(seconds)),
    }
}

/// Unix seconds as `2023-11-14 22:13:20 UTC` (the proleptic Gregorian calendar, from Howard
/// Hinnant's `civil_from_days`).
pub(crate) fn utc(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(i64::MAX / 2);
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The part of a task definition ARN after its last `/`: `family:revision`.
pub(crate) fn arn_tail(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, tail)| tail)
}

/// A revision as shown in a table: its first 12 characters (a git sha's short form).
pub(crate) fn short_revision(revision: &str) -> &str {
    revision
        .char_indices()
        .nth(12)
        .map_or(revision, |(end, _)| &revision[..end])
}

/// `text` cut to `max` characters, with `…` when cut.
pub(crate) fn clip(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
    }
}

/// `text` as one URL path segment: every byte but RFC 3986's unreserved characters
/// percent-encoded (a `/` in a name stays inside its segment; axum's `Path` decodes it back).
pub(crate) fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The link to a service's page; `target` only when the daemon has several targets.
pub(crate) fn service_href(key: &str, target: Option<&str>) -> String {
    let (cluster, name) = split_key(key);
    let mut href = format!("/services/{}/{}", path_segment(cluster), path_segment(name));
    if let Some(target) = target {
        href.push_str("?target=");
        href.push_str(&path_segment(target));
    }
    href
}

/// A service key `cluster/name` as `(cluster, name)`; a key without `/` has an empty cluster.
pub(crate) fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

/// The value of `target=` in a query string, as written (target names are `[a-z0-9-]`, which
/// need no decoding, so an encoded value can only name no target).
pub(crate) fn target_param(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("target="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_ages_and_times_read_naturally() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(120), "2m");
        assert_eq!(duration(303), "5m 3s");
        assert_eq!(duration(3 * 3_600 + 12 * 60 + 9), "3h 12m");
        assert_eq!(duration(2 * 86_400 + 4 * 3_600), "2d 4h");
        assert_eq!(ago(100, 100), "just now");
        assert_eq!(ago(200, 100), "just now");
        assert_eq!(ago(100, 145), "45s ago");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert!(utc(u64::MAX).ends_with(" UTC"), "no overflow");
    }

    #[test]
    fn names_arns_and_links() {
        assert_eq!(
            arn_tail("arn:aws:ecs:us-east-1:123456789012:task-definition/web:3"),
            "web:3"
        );
        assert_eq!(arn_tail("web:3"), "web:3");
        assert_eq!(short_revision("c07c54e1795c8cf8a75c"), "c07c54e1795c");
        assert_eq!(short_revision("dir-abc"), "dir-abc");
        assert_eq!(clip("héllo wörld", 5), "héllo…");
        assert_eq!(clip("short", 5), "short");
        assert_eq!(
            service_href("prod/web", None),
            "/services/prod/web",
            "plain names stay readable"
        );
        assert_eq!(
            service_href("a b/x/\"<y>?#", Some("prod-eu")),
            "/services/a%20b/x%2F%22%3Cy%3E%3F%23?target=prod-eu"
        );
        assert_eq!(target_param(Some("a=1&target=prod-eu")), Some("prod-eu"));
        assert_eq!(target_param(Some("targets=x")), None);
        assert_eq!(target_param(None), None);
    }
}
