//! What keeps berth's hands off a cluster for now (docs/operations.md, "Suspend and freeze
//! windows"): `reconcile.suspend`, `reconcile.suspendClusters`, and `reconcile.windows`, cron
//! schedules in a time zone that allow or deny changes. Pure: the reconciler asks
//! [`Holds::held`] with the wall-clock time of [`WallClock`], and berth keeps reading and
//! reporting whatever the answer.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use croner::Cron;
use tokio::time::Instant;

use super::state::{SuspendScope, Waiting};

/// Whether a window lets changes out or keeps them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Changes go out only while some `allow` window is open (when any is configured).
    Allow,
    /// No change goes out while a `deny` window is open.
    Deny,
}

/// One `reconcile.windows` entry as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    /// A name for logs, `/status` and the status page.
    pub name: String,
    /// Allow or deny.
    pub kind: WindowKind,
    /// When the window opens: a cron expression (5 fields, or 6 with seconds first).
    pub schedule: String,
    /// How long it stays open after each opening.
    pub duration: Duration,
    /// The IANA time zone the schedule is read in (`UTC` when not given).
    pub time_zone: String,
    /// The clusters it applies to; empty: every cluster.
    pub clusters: Vec<String>,
}

/// A window whose schedule and time zone parsed.
#[derive(Debug, Clone)]
struct Window {
    spec: WindowSpec,
    cron: Cron,
    zone: Tz,
    duration: chrono::Duration,
}

/// A window that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The schedule is not a cron expression.
    #[error(
        "window {name}: schedule `{schedule}` is not a cron expression ({reason}); write e.g. `0 22 * * MON-FRI`"
    )]
    Schedule {
        /// The window.
        name: String,
        /// As written.
        schedule: String,
        /// The parser's reason.
        reason: String,
    },
    /// The schedule never fires (e.g. the 30th of February).
    #[error("window {name}: schedule `{schedule}` never opens")]
    Never {
        /// The window.
        name: String,
        /// As written.
        schedule: String,
    },
    /// The time zone is not an IANA name.
    #[error(
        "window {name}: `{zone}` is not a time zone; write an IANA name such as `Europe/Berlin` or `UTC`"
    )]
    Zone {
        /// The window.
        name: String,
        /// As written.
        zone: String,
    },
    /// A window of no length (or longer than a year) holds nothing sensible.
    #[error("window {name}: duration must be between 1 minute and 366 days")]
    Duration {
        /// The window.
        name: String,
    },
}

/// How many consecutive openings of one window are followed when they overlap.
const OVERLAPS_FOLLOWED: usize = 64;

impl Window {
    fn new(spec: WindowSpec) -> Result<Window, WindowError> {
        let cron = Cron::from_str(&spec.schedule).map_err(|e| WindowError::Schedule {
            name: spec.name.clone(),
            schedule: spec.schedule.clone(),
            reason: e.to_string(),
        })?;
        let zone = Tz::from_str(&spec.time_zone).map_err(|_| WindowError::Zone {
            name: spec.name.clone(),
            zone: spec.time_zone.clone(),
        })?;
        let duration = chrono::Duration::from_std(spec.duration)
            .ok()
            .filter(|d| *d >= chrono::Duration::minutes(1) && *d <= chrono::Duration::days(366))
            .ok_or_else(|| WindowError::Duration {
                name: spec.name.clone(),
            })?;
        let window = Window {
            spec,
            cron,
            zone,
            duration,
        };
        if window.next_opening(Utc::now()).is_none() {
            return Err(WindowError::Never {
                name: window.spec.name.clone(),
                schedule: window.spec.schedule.clone(),
            });
        }
        Ok(window)
    }

    fn applies_to(&self, cluster: &str) -> bool {
        self.spec.clusters.is_empty() || self.spec.clusters.iter().any(|c| c == cluster)
    }

    /// The first opening after `at`.
    fn next_opening(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.zone);
        let next = self.cron.find_next_occurrence(&local, false).ok()?;
        Some(next.with_timezone(&Utc))
    }

    /// If the window is open at `at`, when it closes (overlapping openings extend it).
    fn open_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.zone);
        let opened = self.cron.find_previous_occurrence(&local, true).ok()?;
        let mut until = opened.with_timezone(&Utc) + self.duration;
        if until <= at {
            return None;
        }
        for _ in 0..OVERLAPS_FOLLOWED {
            match self.next_opening(at.max(until - self.duration)) {
                Some(next) if next < until => until = until.max(next + self.duration),
                _ => break,
            }
        }
        Some(until)
    }
}

/// The configured windows, parsed.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    windows: Vec<Window>,
}

impl Windows {
    /// Parses every window; the first that cannot be used is the error.
    pub fn new(specs: Vec<WindowSpec>) -> Result<Windows, WindowError> {
        let windows = specs
            .into_iter()
            .map(Window::new)
            .collect::<Result<_, _>>()?;
        Ok(Windows { windows })
    }

    /// Whether no window is configured.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Why changes to `cluster` are held at `at`, if they are: an open deny window (until it
    /// closes), or allow windows that apply and none open (until the next opens).
    fn held(&self, cluster: &str, at: DateTime<Utc>) -> Option<(String, Option<DateTime<Utc>>)> {
        let applying = || self.windows.iter().filter(|w| w.applies_to(cluster));
        let deny = applying()
            .filter(|w| w.spec.kind == WindowKind::Deny)
            .filter_map(|w| Some((w, w.open_until(at)?)))
            .max_by_key(|(_, until)| *until);
        if let Some((window, until)) = deny {
            return Some((window.spec.name.clone(), Some(until)));
        }
        let mut allow = applying()
            .filter(|w| w.spec.kind == WindowKind::Allow)
            .peekable();
        allow.peek()?;
        let allows: Vec<&Window> = allow.collect();
        if allows.iter().any(|w| w.open_until(at).is_some()) {
            return None;
        }
        let next = allows
            .iter()
            .filter_map(|w| Some((w, w.next_opening(at)?)))
            .min_by_key(|(_, opens)| *opens);
        match next {
            Some((window, opens)) => Some((window.spec.name.clone(), Some(opens))),
            None => allows.first().map(|w| (w.spec.name.clone(), None)),
        }
    }
}

/// Everything that can hold a cluster's changes back, as configured.
#[derive(Debug, Clone, Default)]
pub struct Holds {
    /// `reconcile.suspend`: read and report, change nothing anywhere.
    pub suspend: bool,
    /// `reconcile.suspendClusters`: the same, for these clusters.
    pub suspend_clusters: BTreeSet<String>,
    /// `reconcile.windows`.
    pub windows: Windows,
}

/// Why a cluster's changes are held, and until when (for a window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// What `/status` says the services wait for.
    pub waiting: Waiting,
    /// When a window lets changes out again, if it will.
    pub until: Option<DateTime<Utc>>,
}

impl Holds {
    /// Why changes to `cluster` are held at `at`, if they are. A suspension always holds;
    /// `override_windows` (`POST /reconcile?override=window`) lets one reconcile through the
    /// windows.
    pub fn held(&self, cluster: &str, at: DateTime<Utc>, override_windows: bool) -> Option<Held> {
        let suspended = |scope| Held {
            waiting: Waiting::Suspended { scope },
            until: None,
        };
        if self.suspend {
            return Some(suspended(SuspendScope::Global));
        }
        if self.suspend_clusters.contains(cluster) {
            return Some(suspended(SuspendScope::Cluster));
        }
        if override_windows {
            return None;
        }
        let (window, until) = self.windows.held(cluster, at)?;
        Some(Held {
            waiting: Waiting::Window {
                window,
                until: until.map(|u| u.to_rfc3339_opts(SecondsFormat::Secs, true)),
            },
            until,
        })
    }
}

/// The wall clock berth reads windows with. [`WallClock::System`] is the machine's clock;
/// [`WallClock::From`] counts tokio's clock from a fixed moment, so tests with a paused clock
/// move through windows without waiting.
#[derive(Debug, Clone, Copy, Default)]
pub enum WallClock {
    /// `SystemTime::now()`.
    #[default]
    System,
    /// `wall` at tokio instant `at`, advancing with tokio's clock.
    From {
        /// The wall-clock time at `at`.
        wall: SystemTime,
        /// The tokio instant it corresponds to.
        at: Instant,
    },
}

impl WallClock {
    /// A clock reading `wall` now, advancing with tokio's clock (paused or not).
    pub fn starting_at(wall: SystemTime) -> WallClock {
        WallClock::From {
            wall,
            at: Instant::now(),
        }
    }

    /// The wall-clock time at tokio instant `instant`.
    pub fn at(&self, instant: Instant) -> DateTime<Utc> {
        match self {
            WallClock::System => {
                let now = Instant::now();
                let wall = DateTime::<Utc>::from(SystemTime::now());
                shift(wall, instant, now)
            }
            WallClock::From { wall, at } => shift(DateTime::<Utc>::from(*wall), instant, *at),
        }
    }

    /// How long from tokio instant `now` until wall-clock time `wall` (zero if past).
    pub fn until(&self, now: Instant, wall: DateTime<Utc>) -> Duration {
        (wall - self.at(now)).to_std().unwrap_or(Duration::ZERO)
    }
}

/// `wall` (read at `origin`) moved by the time between `origin` and `instant`.
fn shift(wall: DateTime<Utc>, instant: Instant, origin: Instant) -> DateTime<Utc> {
    let delta = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let moved = if instant >= origin {
        wall.checked_add_signed(delta(instant - origin))
    } else {
        wall.checked_sub_signed(delta(origin - instant))
    };
    moved.unwrap_or(wall)
}

#[cfg(test)]
mod tests;
