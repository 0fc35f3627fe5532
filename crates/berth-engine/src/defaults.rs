//! The engine's defaults that more than one of its option types share: `berth apply` and the
//! daemon apply and follow rollouts the same way unless told otherwise.

use std::time::Duration;

/// Services changed at once (their calls up to UpdateService; following a rollout takes no
/// slot). Enough that a typical change of many services goes out in one wave; the SDK's
/// adaptive retry slows down if AWS throttles.
pub const CONCURRENCY: usize = 32;

/// Read calls in flight at once in one phase of a reconcile (task definitions, `DescribeServices`
/// batches, `DescribeImages` per repository): a ceiling, not a pace; the pace follows AWS's
/// throttling through the SDK's adaptive retry.
pub const READS_IN_FLIGHT: usize = 64;

/// A rollout still going after this long is reported (and, in the daemon, Failed).
pub const PROGRESS_DEADLINE: Duration = Duration::from_secs(600);

/// How often a rollout in flight is looked at.
pub const ROLLOUT_POLL: Duration = Duration::from_secs(5);

/// After SIGTERM, how long the services a reconcile already started may take to finish their
/// calls before `berth run` exits anyway: inside ECS's default `stopTimeout` of 30 s, with room
/// for the HTTP server to close.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// The target's name when berth.yaml has no `targets:` (one account and region, from the
/// standard chain): the `target` label of every metric then reads `default`.
pub const DEFAULT_TARGET: &str = "default";

/// How long a target's lease (`lease.table`) lasts after each claim: a replica that dies stops
/// holding its targets this long after its last renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// How often a replica renews its leases and looks for free ones: a third of the TTL, so two
/// renewals can fail before a lease runs out.
pub const LEASE_RENEW_EVERY: Duration = Duration::from_secs(10);

/// How long before its lease ends a replica stops writing to the target (clock differences
/// between replicas, a slow claim, a paused process).
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// With `reconcile.keepRevisions`, how often retention looks at every family when no reconcile
/// registered anything in between (each look lists every family berth manages).
pub const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Status changes kept per service for the status page's history (in memory only).
pub const HISTORY_LEN: usize = 20;

/// ECS events kept per service for the status page (the newest).
pub const EVENTS_KEPT: usize = 5;
