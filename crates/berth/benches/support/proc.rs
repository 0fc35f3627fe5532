//! Reading a process's memory from Linux's `/proc`, for the benches' RSS figures.

/// A `/proc/<pid>/status` field in KiB (`VmHWM`: peak resident set size; `VmRSS`: current);
/// `pid` may be `self`. `None` where `/proc` is missing or the field absent.
pub fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}
