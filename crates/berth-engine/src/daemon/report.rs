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
        // Copied only when ECS has a newer event: most passes see the same ones.
        if let Some(live) = live
            && detail.events.first().map(|e| &e.id) != live.events.first().map(|e| &e.id)
        {
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use berth_core::live::ServiceEvent;

    use super::*;
    use crate::daemon::decide::observed;

    #[derive(Default)]
    struct Told(Mutex<Vec<Notice>>);

    impl Notify for Told {
        fn notify(&self, notice: Notice) {
            self.0.lock().expect("lock").push(notice);
        }
    }

    fn live_with(events: &[&str]) -> LiveService {
        let events = (events.iter())
            .map(|id| ServiceEvent {
                id: (*id).into(),
                created_at: "2026-12-02T12:00:00Z".into(),
                message: format!("event {id}"),
            })
            .collect();
        LiveService {
            id: ServiceId::new("prod", "web"),
            arn: "arn:aws:ecs:us-east-1:1:service/prod/web".into(),
            status: "ACTIVE".into(),
            spec: Default::default(),
            task_definition_arn: "arn:aws:ecs:us-east-1:1:task-definition/web:1".into(),
            tags: BTreeMap::new(),
            role_arn: None,
            deployments: Vec::new(),
            events,
            running_count: 1,
            pending_count: 0,
        }
    }

    #[test]
    fn a_change_of_status_is_one_history_line_and_one_notice_and_events_follow_ecs() {
        let told = Told::default();
        let reporter = Reporter {
            target: "default",
            revision: "c1",
            notify: &told,
        };
        let id = ServiceId::new("prod", "web");
        let mut details = BTreeMap::new();
        let synced = observed(Status::Synced, None);
        reporter.service(&mut details, &id, None, &synced, Some(&live_with(&["e1"])));
        reporter.service(
            &mut details,
            &id,
            Some(Status::Synced),
            &synced,
            Some(&live_with(&["e1"])),
        );
        let newer = live_with(&["e2", "e1"]);
        let failed = observed(Status::Failed, None);
        reporter.service(
            &mut details,
            &id,
            Some(Status::Synced),
            &failed,
            Some(&newer),
        );
        let detail = &details["prod/web"];
        let history: Vec<Status> = detail.history.iter().map(|h| h.status).collect();
        assert_eq!(history, [Status::Synced, Status::Failed]);
        let events: Vec<&str> = detail.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(events, ["e2", "e1"]);
        let notices = told.0.lock().expect("lock");
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(matches!(
            &notices[1],
            Notice::Transition { from: Some(Status::Synced), to: Status::Failed, events, .. }
                if events == &["event e2", "event e1"]
        ));
    }

    #[test]
    fn history_keeps_the_newest_lines() {
        let reporter = Reporter {
            target: "default",
            revision: "c1",
            notify: &crate::daemon::NoNotify,
        };
        let id = ServiceId::new("prod", "web");
        let mut details = BTreeMap::new();
        let statuses = [Status::Progressing, Status::Synced];
        for n in 0..HISTORY_LEN + 5 {
            let before = statuses[(n + 1) % 2];
            let now = observed(statuses[n % 2], None);
            reporter.service(&mut details, &id, Some(before), &now, None);
        }
        assert_eq!(details["prod/web"].history.len(), HISTORY_LEN);
    }
}
