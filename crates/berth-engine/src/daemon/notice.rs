//! What the daemon tells the outside world as it happens (docs/operations.md, "Notifications"):
//! a revision starting to apply, a service changing status, prune acting or refusing, drift
//! reverted. The daemon hands each [`Notice`] to a [`Notify`] port that must return at once
//! (`berth-notify` queues them, bounded, and sends them to GitHub and chat); nothing here waits
//! on a network.

use berth_core::manifest::ServiceId;
use berth_core::vocabulary::Status;

/// One thing worth telling people, once (never once per pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A reconcile of `revision` starts changing these services (the commit's deployment
    /// starts: GitHub's commit status goes `pending`).
    Applying {
        /// The target (`default` without `targets:`).
        target: String,
        /// The commit being applied.
        revision: String,
        /// The services it changes.
        services: Vec<ServiceId>,
    },
    /// A service's status changed.
    Transition {
        /// The target.
        target: String,
        /// The revision the daemon was serving when it changed.
        revision: String,
        /// The service.
        id: ServiceId,
        /// Its status before (`None`: berth had not reported it yet).
        from: Option<Status>,
        /// Its status now.
        to: Status,
        /// Why, when it is not Synced: the last error.
        reason: Option<String>,
        /// ECS's newest events for the service (most recent first), to quote beside the reason.
        events: Vec<String>,
    },
    /// Prune deleted a service git no longer has.
    Pruned {
        /// The target.
        target: String,
        /// The deleted service.
        id: ServiceId,
    },
    /// Prune refused to delete services (more than `maxPrune`, manifests invalid, ...).
    PruneRefused {
        /// The target.
        target: String,
        /// Why, one line each, as `/status` `lastReconcile.prune` says it.
        reasons: Vec<String>,
    },
    /// Drift on a service was reverted to what git says (self-heal on).
    DriftReverted {
        /// The target.
        target: String,
        /// The service.
        id: ServiceId,
        /// The fields that had drifted.
        changes: Vec<String>,
    },
}

impl Notice {
    /// The target the notice is about.
    pub fn target(&self) -> &str {
        match self {
            Notice::Applying { target, .. }
            | Notice::Transition { target, .. }
            | Notice::Pruned { target, .. }
            | Notice::PruneRefused { target, .. }
            | Notice::DriftReverted { target, .. } => target,
        }
    }
}

/// Where notices go. `notify` must not block or wait: an implementation queues the notice (and
/// drops it, counted, when its queue is full) so that a slow chat server never slows a
/// reconcile.
pub trait Notify: Send + Sync {
    /// Takes one notice.
    fn notify(&self, notice: Notice);
}

/// Notices that go nowhere (no `notifications:` configured, tests, CLI).
pub struct NoNotify;

impl Notify for NoNotify {
    fn notify(&self, _: Notice) {}
}
