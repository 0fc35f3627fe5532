//! Turning a service's new status into what people see of its change: a line of its history
//! and its newest ECS events for the status page ([`ServiceDetail`]), and a
//! [`Notice::Transition`] when the status is not the one reported before.

use std::collections::{BTreeMap, BTreeSet};

use berth_core::live::LiveService;
use berth_core::manifest::ServiceId;
use berth_core::plan::LiveState;
use berth_core::vocabulary::Status;

use super::notice::{Notice, Notify};
use super::state::{HistoryEntry, ServiceDetail, ServiceState, unix_now};
use crate::defaults::{EVENTS_KEPT, HISTORY_LEN};

/// ECS events quoted in a transition notice.
const EVENTS_IN_NOTICE: usize = 3;

/// Who reports, and at which revision.
pub(crate) struct Reporter<'a> {
    /// The target's name.
    pub target: &'a str,
    /// The revision served.
    pub revision: &'a str,
    /// Where notices go.
    pub notify: &'a dyn Notify,
}

impl Reporter<'_> {
    /// Records `id`'s status `now` (it was `before`): its detail's events from `live`, and on a
    /// change a history line and a notice.
    pub(crate) fn service(
        &self,
        details: &mut BTreeMap<String, ServiceDetail>,
        id: &ServiceId,
        before: Option<Status>,
        now: &ServiceState,
        live: Option<&LiveService>,
    ) {
        let detail = details.entry(id.to_string()).or_default();
        if let Some(live) = live {
            detail.events = live.events.iter().take(EVENTS_KEPT).cloned().collect();
        }
        if before == Some(now.status) {
            return;
        }
        detail.history.push_back(HistoryEntry {
            at_unix: unix_now(),
            revision: self.revision.to_string(),
            status: now.status,
            message: now.last_error.clone(),
        });
        while detail.history.len() > HISTORY_LEN {
            detail.history.pop_front();
        }
        self.notify.notify(Notice::Transition {
            target: self.target.to_string(),
            revision: self.revision.to_string(),
            id: id.clone(),
            from: before,
            to: now.status,
            reason: now.last_error.clone(),
            events: (detail.events.iter().take(EVENTS_IN_NOTICE))
                .map(|e| e.message.clone())
                .collect(),
        });
    }

    /// Records every service of `now` against the statuses `before`, and forgets the details
    /// of services no longer reported.
    pub(crate) fn services(
        &self,
        details: &mut BTreeMap<String, ServiceDetail>,
        before: &BTreeMap<String, ServiceState>,
        now: &BTreeMap<ServiceId, ServiceState>,
        live: &LiveState,
    ) {
        for (id, state) in now {
            let previous = before.get(&id.to_string()).map(|s| s.status);
            let seen =
                (live.services.get(id)).or_else(|| live.unlisted.iter().find(|s| &s.id == id));
            self.service(details, id, previous, state, seen);
        }
        let reported: BTreeSet<String> = now.keys().map(ToString::to_string).collect();
        details.retain(|key, _| reported.contains(key));
    }
}
