//! libgit2's network timeouts: process-wide settings that bound how long a git connect, and
//! each read or write on the connection, may take.
//!
//! Without them a remote that accepts a connection and never answers holds a fetch forever
//! (libgit2's default is no timeout). The daemon also abandons a fetch after its own overall
//! limit, but the blocked thread would stay; these settings make it return.

use std::time::Duration;

/// Connect timeout for git remotes.
pub const GIT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Timeout of each read or write on a git connection.
pub const GIT_IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Sets libgit2's connect and I/O timeouts for every later git operation of the process.
///
/// # Safety
///
/// libgit2 keeps these in globals without synchronization: call this before any other thread
/// exists (first thing in `main`, before the async runtime starts) and before any git
/// operation.
///
/// # Errors
///
/// libgit2's error if it rejects a value.
#[allow(unsafe_code)]
pub unsafe fn set_git_timeouts(connect: Duration, io: Duration) -> Result<(), git2::Error> {
    let millis = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: the caller guarantees no other thread runs and no git operation is under way.
    unsafe {
        git2::opts::set_server_connect_timeout_in_milliseconds(millis(connect))?;
        git2::opts::set_server_timeout_in_milliseconds(millis(io))?;
    }
    Ok(())
}
