//! glibc malloc's settings for a long-running process: one arena, and freed memory handed back
//! to the system soon (docs/performance.md, "The daemon at 500 services").
//!
//! Left to its defaults, glibc keeps what a reconcile frees for the next one: an arena for each
//! thread that ever allocated under contention (up to 8 per core), and a trim threshold that
//! grows with the largest block freed, so a daemon's resident memory settles near its peak.
//! Fixed thresholds (which also stop glibc from growing them) and one arena keep it near what
//! is in use: berth's few threads seldom allocate at the same moment, so they seldom wait for
//! the arena's lock. A `MALLOC_*` variable set by an operator wins: glibc has read it already,
//! and its parameter is not set again here. Other C libraries keep their own defaults.

/// Applies the settings of `gnu::SETTINGS`; called first in `main`, before any other thread
/// starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub use gnu::tune;

/// Other C libraries keep their own defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod gnu {
    /// A malloc parameter berth sets.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Setting {
        /// The `mallopt` parameter (`libc::M_ARENA_MAX`, ...).
        parameter: libc::c_int,
        /// The environment variable glibc reads for the same parameter.
        variable: &'static str,
        value: libc::c_int,
    }

    pub(super) const SETTINGS: [Setting; 3] = [
        Setting {
            parameter: libc::M_ARENA_MAX,
            variable: "MALLOC_ARENA_MAX",
            value: 1,
        },
        // Blocks from 64 KiB up get a mapping of their own, returned to the system when freed.
        Setting {
            parameter: libc::M_MMAP_THRESHOLD,
            variable: "MALLOC_MMAP_THRESHOLD_",
            value: 64 * 1024,
        },
        // More than 64 KiB free at the top of the heap goes back to the system.
        Setting {
            parameter: libc::M_TRIM_THRESHOLD,
            variable: "MALLOC_TRIM_THRESHOLD_",
            value: 64 * 1024,
        },
    ];

    /// The settings whose variable the environment does not set.
    fn to_apply(is_set: impl Fn(&str) -> bool) -> impl Iterator<Item = Setting> {
        SETTINGS
            .into_iter()
            .filter(move |setting| !is_set(setting.variable))
    }

    #[allow(unsafe_code)]
    pub fn tune() {
        for setting in to_apply(|variable| std::env::var_os(variable).is_some()) {
            // SAFETY: `mallopt` only changes malloc's tuning parameters, under malloc's own
            // lock; it takes no pointer and has no precondition a caller could break.
            let accepted = unsafe { libc::mallopt(setting.parameter, setting.value) };
            if accepted != 1 {
                eprintln!(
                    "warning: glibc refused the malloc setting {}={}",
                    setting.variable, setting.value
                );
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn an_operators_variable_wins_over_berths_setting() {
            let all: Vec<Setting> = to_apply(|_| false).collect();
            assert_eq!(all, SETTINGS);
            let without_arenas: Vec<Setting> =
                to_apply(|variable| variable == "MALLOC_ARENA_MAX").collect();
            assert_eq!(without_arenas.len(), 2);
            assert!(
                without_arenas
                    .iter()
                    .all(|s| s.parameter != libc::M_ARENA_MAX)
            );
        }
    }
}
