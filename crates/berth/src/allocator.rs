//! glibc malloc's settings for a long-running process: one arena, and freed memory handed back
//! to the system soon (docs/performance.md, "The daemon at 500 services").
//!
//! Left to its defaults, glibc keeps what a reconcile frees for the next one: an arena for each
//! thread that ever allocated under contention (up to 8 per core), and a trim threshold that
//! grows with the largest block freed, so a daemon's resident memory settles near its peak.
//! Fixed thresholds (which also stop glibc from growing them) and one arena keep it near what
//! is in use: berth's few threads seldom allocate at the same moment, so they seldom wait for
//! the arena's lock. A `MALLOC_*` variable set by an operator wins: glibc has read it already,
//! and its parameter is not set again here.

// Elsewhere `tune` does nothing, and the table is only read by the tests.
#![cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]

/// A malloc parameter berth sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Setting {
    /// The `mallopt` parameter (`M_ARENA_MAX`, ...).
    parameter: i32,
    /// The environment variable glibc reads for the same parameter.
    variable: &'static str,
    value: i32,
}

/// glibc's `M_*` numbers (malloc.h), so the table reads the same on every platform.
const M_TRIM_THRESHOLD: i32 = -1;
const M_MMAP_THRESHOLD: i32 = -3;
const M_ARENA_MAX: i32 = -8;

const SETTINGS: [Setting; 3] = [
    Setting {
        parameter: M_ARENA_MAX,
        variable: "MALLOC_ARENA_MAX",
        value: 1,
    },
    // Blocks from 64 KiB up get a mapping of their own, returned to the system when freed.
    Setting {
        parameter: M_MMAP_THRESHOLD,
        variable: "MALLOC_MMAP_THRESHOLD_",
        value: 64 * 1024,
    },
    // More than 64 KiB free at the top of the heap goes back to the system.
    Setting {
        parameter: M_TRIM_THRESHOLD,
        variable: "MALLOC_TRIM_THRESHOLD_",
        value: 64 * 1024,
    },
];

/// The settings whose variable the environment does not set.
fn to_apply(is_set: impl Fn(&str) -> bool) -> Vec<Setting> {
    SETTINGS
        .into_iter()
        .filter(|setting| !is_set(setting.variable))
        .collect()
}

/// Applies the settings; called first in `main`, before any other thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn tune() {
    for setting in to_apply(|variable| std::env::var_os(variable).is_some()) {
        // SAFETY: `mallopt` only changes malloc's tuning parameters, under malloc's own lock;
        // it takes no pointer and has no precondition a caller could break.
        let accepted = unsafe { libc::mallopt(setting.parameter, setting.value) };
        if accepted != 1 {
            eprintln!(
                "warning: glibc refused the malloc setting {}={}",
                setting.variable, setting.value
            );
        }
    }
}

/// Other C libraries keep their own defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operators_variable_wins_over_berths_setting() {
        let all = to_apply(|_| false);
        assert_eq!(all, SETTINGS);
        let without_arenas = to_apply(|variable| variable == "MALLOC_ARENA_MAX");
        assert_eq!(without_arenas.len(), 2);
        assert!(without_arenas.iter().all(|s| s.parameter != M_ARENA_MAX));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn the_numbers_are_glibcs() {
        assert_eq!(M_TRIM_THRESHOLD, libc::M_TRIM_THRESHOLD);
        assert_eq!(M_MMAP_THRESHOLD, libc::M_MMAP_THRESHOLD);
        assert_eq!(M_ARENA_MAX, libc::M_ARENA_MAX);
    }
}
