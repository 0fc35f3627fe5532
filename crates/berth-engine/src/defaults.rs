//! The engine's defaults that more than one of its option types share: `berth apply` and the
//! daemon apply and follow rollouts the same way unless told otherwise.

use std::time::Duration;

/// Services applied at once.
pub const CONCURRENCY: usize = 8;

/// A rollout still going after this long is reported (and, in the daemon, Failed).
pub const PROGRESS_DEADLINE: Duration = Duration::from_secs(600);

/// How often a rollout in flight is looked at.
pub const ROLLOUT_POLL: Duration = Duration::from_secs(5);
