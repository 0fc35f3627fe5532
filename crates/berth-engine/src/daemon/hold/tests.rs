//! Windows, suspension and the wall clock.

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a test time")
        .with_timezone(&Utc)
}

fn window(name: &str, kind: WindowKind, schedule: &str, hours: u64, zone: &str) -> WindowSpec {
    WindowSpec {
        name: name.into(),
        kind,
        schedule: schedule.into(),
        duration: Duration::from_secs(hours * 3600),
        time_zone: zone.into(),
        clusters: Vec::new(),
    }
}

fn holds(windows: Vec<WindowSpec>) -> Holds {
    Holds {
        windows: Windows::new(windows).expect("valid windows"),
        ..Holds::default()
    }
}

fn window_of(held: Option<Held>) -> Option<(String, Option<String>)> {
    match held?.waiting {
        Waiting::Window { window, until } => Some((window, until)),
        other => panic!("not a window: {other:?}"),
    }
}

#[test]
fn a_deny_window_holds_while_open_and_says_until_when() {
    // Fridays 18:00 in Berlin (UTC+1 in winter) for 62 hours: the weekend.
    let holds = holds(vec![window(
        "weekend",
        WindowKind::Deny,
        "0 18 * * FRI",
        62,
        "Europe/Berlin",
    )]);
    let friday_noon = at("2026-12-04T12:00:00Z");
    assert_eq!(holds.held("prod", friday_noon, false), None);
    let saturday = at("2026-12-05T10:00:00Z");
    assert_eq!(
        window_of(holds.held("prod", saturday, false)),
        Some(("weekend".into(), Some("2026-12-07T07:00:00Z".into())))
    );
    let monday = at("2026-12-07T07:00:01Z");
    assert_eq!(holds.held("prod", monday, false), None);
}

#[test]
fn allow_windows_hold_outside_until_the_next_opens() {
    let holds = holds(vec![window(
        "office-hours",
        WindowKind::Allow,
        "0 9 * * MON-FRI",
        8,
        "UTC",
    )]);
    assert_eq!(holds.held("prod", at("2026-12-02T10:00:00Z"), false), None);
    assert_eq!(
        window_of(holds.held("prod", at("2026-12-02T18:00:00Z"), false)),
        Some(("office-hours".into(), Some("2026-12-03T09:00:00Z".into())))
    );
    // Friday evening: the next opening is Monday.
    assert_eq!(
        window_of(holds.held("prod", at("2026-12-04T20:00:00Z"), false)),
        Some(("office-hours".into(), Some("2026-12-07T09:00:00Z".into())))
    );
}

#[test]
fn a_deny_window_wins_over_an_open_allow_window() {
    let holds = holds(vec![
        window("always", WindowKind::Allow, "0 0 * * *", 24, "UTC"),
        window("release-freeze", WindowKind::Deny, "0 12 2 12 *", 2, "UTC"),
    ]);
    let held = window_of(holds.held("prod", at("2026-12-02T13:00:00Z"), false));
    assert_eq!(
        held,
        Some(("release-freeze".into(), Some("2026-12-02T14:00:00Z".into())))
    );
}

#[test]
fn overlapping_openings_extend_the_window() {
    // Opens every hour for two hours: always open once it started.
    let holds = holds(vec![window(
        "busy",
        WindowKind::Deny,
        "0 * * * *",
        2,
        "UTC",
    )]);
    let (_, until) =
        window_of(holds.held("prod", at("2026-12-02T10:30:00Z"), false)).expect("held");
    let until = at(&until.expect("an end"));
    assert!(until > at("2026-12-02T12:30:00Z"), "{until}");
}

#[test]
fn windows_apply_only_to_their_clusters() {
    let mut spec = window("prod-freeze", WindowKind::Deny, "0 0 * * *", 24, "UTC");
    spec.clusters = vec!["prod".into()];
    let holds = holds(vec![spec]);
    let noon = at("2026-12-02T12:00:00Z");
    assert!(holds.held("prod", noon, false).is_some());
    assert_eq!(holds.held("staging", noon, false), None);
}

#[test]
fn an_override_passes_windows_but_never_a_suspension() {
    let mut holds = holds(vec![window(
        "all-day",
        WindowKind::Deny,
        "0 0 * * *",
        24,
        "UTC",
    )]);
    let noon = at("2026-12-02T12:00:00Z");
    assert_eq!(holds.held("prod", noon, true), None);
    holds.suspend_clusters.insert("prod".into());
    assert_eq!(
        holds.held("prod", noon, true).map(|h| h.waiting),
        Some(Waiting::Suspended {
            scope: SuspendScope::Cluster
        })
    );
    holds.suspend = true;
    assert_eq!(
        holds.held("staging", noon, false).map(|h| h.waiting),
        Some(Waiting::Suspended {
            scope: SuspendScope::Global
        })
    );
}

#[test]
fn bad_windows_are_refused_with_their_name() {
    let bad = |spec| Windows::new(vec![spec]).expect_err("refused").to_string();
    let schedule = bad(window("a", WindowKind::Deny, "every friday", 1, "UTC"));
    assert!(
        schedule.starts_with("window a: schedule `every friday`"),
        "{schedule}"
    );
    let zone = bad(window(
        "b",
        WindowKind::Deny,
        "0 0 * * *",
        1,
        "Mars/Olympus",
    ));
    assert!(zone.contains("`Mars/Olympus` is not a time zone"), "{zone}");
    let never = bad(window("c", WindowKind::Deny, "0 0 30 2 *", 1, "UTC"));
    assert!(never.contains("never opens"), "{never}");
    let empty = bad(window("d", WindowKind::Deny, "0 0 * * *", 0, "UTC"));
    assert!(empty.contains("duration"), "{empty}");
}

#[tokio::test(start_paused = true)]
async fn a_wall_clock_from_a_moment_follows_the_paused_clock() {
    let clock = WallClock::starting_at(SystemTime::from(at("2026-12-02T12:00:00Z")));
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(clock.at(Instant::now()), at("2026-12-02T13:00:00Z"));
    assert_eq!(clock.at(start), at("2026-12-02T12:00:00Z"));
    assert_eq!(
        clock.until(Instant::now(), at("2026-12-02T13:30:00Z")),
        Duration::from_secs(1800)
    );
}
