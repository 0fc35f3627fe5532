//! One test per branch of [`super::decide`], [`super::decide_polled`] and
//! [`super::decide_prune`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use berth_core::diag::{Diagnostic, FieldPath, Span};
use berth_core::live::{Deployment, LiveService};
use berth_core::manifest::{Origin, ServiceId};
use berth_core::normalize::Change;
use berth_core::plan::{Action, LiveState, MissingImage, Plan, ServicePlan};
use berth_core::render::{spec_hash_text, tags};
use tokio::time::Instant;

use super::*;

const HASH: u64 = 0xfeed;
const OLD_TD: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:1";
const NEW_TD: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:2";

fn id() -> ServiceId {
    ServiceId::new("prod", "web")
}

fn rules(self_heal: bool) -> Rules {
    Rules {
        self_heal,
        own_service: None,
        progress_deadline: Duration::from_secs(600),
        backoff: Backoff {
            min: Duration::from_secs(30),
            max: Duration::from_secs(300),
        },
        held: BTreeMap::new(),
        depends_on: BTreeMap::new(),
    }
}

/// A service running `task_definition` whose PRIMARY deployment is in `state`.
fn live(task_definition: &str, state: &str) -> LiveService {
    LiveService {
        id: id(),
        arn: "arn:aws:ecs:us-east-1:1:service/prod/web".into(),
        status: "ACTIVE".into(),
        spec: Default::default(),
        task_definition_arn: task_definition.into(),
        tags: BTreeMap::new(),
        role_arn: None,
        deployments: vec![Deployment {
            id: "ecs-svc/1".into(),
            status: "PRIMARY".into(),
            task_definition_arn: task_definition.into(),
            rollout_state: Some(state.into()),
            rollout_state_reason: None,
            desired_count: 2,
            running_count: if state == "COMPLETED" { 2 } else { 0 },
            pending_count: 0,
            failed_tasks: 0,
        }],
        events: Vec::new(),
        running_count: 2,
        pending_count: 0,
    }
}

fn planned(action: Action) -> ServicePlan {
    ServicePlan {
        id: Some(id()),
        origin: Some(Origin {
            file: Arc::from("prod/web.yaml"),
            document: 0,
            line: 1,
        }),
        action,
        images: Vec::new(),
    }
}

fn update() -> Action {
    Action::Update {
        changes: vec![Change {
            path: "desiredCount".into(),
            old: Some(1.into()),
            new: Some(2.into()),
        }],
        new_task_definition: false,
    }
}

/// Decides one service planned as `action` against `live`, with `memory` remembered.
fn decide_one(
    action: Action,
    live_service: Option<LiveService>,
    memory: Option<Memory>,
    rules: &Rules,
    now: Instant,
) -> Decision {
    let mut state = LiveState::default();
    if let Some(service) = live_service {
        state.services.insert(id(), service);
    }
    let memory: BTreeMap<ServiceId, Memory> = memory.into_iter().map(|m| (id(), m)).collect();
    let plan = Plan {
        services: vec![planned(action)],
    };
    let hashes = BTreeMap::from([(id(), HASH)]);
    let mut decisions = decide(
        &plan,
        &hashes,
        &state,
        &memory,
        &BTreeSet::new(),
        rules,
        now,
    );
    assert!(decisions.prune_candidates.is_empty());
    decisions.services.remove(0)
}

fn synced_memory() -> Memory {
    let mut memory = Memory::default().for_content(HASH);
    memory.synced();
    memory
}

#[test]
fn a_new_commit_is_applied_and_forgets_the_old_contents_failures() {
    let now = Instant::now();
    let old = Memory {
        hash: 1,
        synced: Some(1),
        failures: 3,
        retry_at: Some(now + Duration::from_secs(60)),
        error: Some("boom".into()),
        ..Memory::default()
    };
    let decision = decide_one(
        update(),
        Some(live(OLD_TD, "COMPLETED")),
        Some(old),
        &rules(true),
        now,
    );
    assert!(decision.apply.is_some(), "new content is applied at once");
    assert_eq!(decision.memory.hash, HASH);
    assert_eq!(decision.memory.failures, 0);
    assert_eq!(decision.memory.retry_at, None);
    assert_eq!(
        decision.memory.synced,
        Some(1),
        "when it was last in sync is kept"
    );
    assert!(decision.events.is_empty(), "a git change is not drift");
}

#[test]
fn drift_with_self_heal_on_is_reverted_and_reported_once() {
    let now = Instant::now();
    let first = decide_one(
        update(),
        Some(live(OLD_TD, "COMPLETED")),
        Some(synced_memory()),
        &rules(true),
        now,
    );
    assert!(first.apply.is_some());
    assert_eq!(
        first.events,
        vec![Event::Drift {
            changes: vec!["desiredCount".into()]
        }]
    );
    // The same drift seen again (the revert did not stick yet) is not reported again.
    let again = decide_one(
        update(),
        Some(live(OLD_TD, "COMPLETED")),
        Some(first.memory),
        &rules(true),
        now,
    );
    assert!(again.apply.is_some());
    assert!(again.events.is_empty());
}

#[test]
fn drift_with_self_heal_off_is_only_reported_as_out_of_sync() {
    let decision = decide_one(
        update(),
        Some(live(OLD_TD, "COMPLETED")),
        Some(synced_memory()),
        &rules(false),
        Instant::now(),
    );
    assert!(decision.apply.is_none());
    assert_eq!(decision.state.status, Status::OutOfSync);
    assert_eq!(
        decision.state.pending_changes,
        vec!["desiredCount".to_string()]
    );
    assert_eq!(decision.events.len(), 1);
}

#[test]
fn after_a_restart_the_spec_hash_tag_tells_drift_from_a_new_commit() {
    let mut tagged = live(OLD_TD, "COMPLETED");
    tagged
        .tags
        .insert(tags::SPEC_HASH.into(), spec_hash_text(HASH));
    let drift = decide_one(
        update(),
        Some(tagged.clone()),
        None,
        &rules(false),
        Instant::now(),
    );
    assert_eq!(
        drift.state.status,
        Status::OutOfSync,
        "tag equals the manifest: drift"
    );
    tagged
        .tags
        .insert(tags::SPEC_HASH.into(), spec_hash_text(HASH + 1));
    let change = decide_one(update(), Some(tagged), None, &rules(false), Instant::now());
    assert!(
        change.apply.is_some(),
        "tag of other content: a git change, applied"
    );
}

#[test]
fn berths_own_service_rolled_back_from_this_commit_is_reported_not_applied_again() {
    // After a restart (no memory): the tag says berth applied this manifest to its own service,
    // and the service runs something else, as after ECS rolled a failing new berth back.
    let mut rolled_back = live(OLD_TD, "COMPLETED");
    rolled_back
        .tags
        .insert(tags::SPEC_HASH.into(), spec_hash_text(HASH));
    let own = Rules {
        own_service: Some(id()),
        ..rules(true)
    };
    let decision = decide_one(
        update(),
        Some(rolled_back.clone()),
        None,
        &own,
        Instant::now(),
    );
    assert!(decision.apply.is_none(), "not applied again");
    assert_eq!(decision.state.status, Status::Failed);
    assert_eq!(decision.state.last_error, Some(own_service_drift()));
    assert!(!decision.state.pending_changes.is_empty());
    // Any other service with the same drift is reverted (self-heal on).
    let other = decide_one(
        update(),
        Some(rolled_back.clone()),
        None,
        &rules(true),
        Instant::now(),
    );
    assert!(other.apply.is_some());
    // A new commit for berth's own service is applied.
    rolled_back
        .tags
        .insert(tags::SPEC_HASH.into(), spec_hash_text(HASH + 1));
    let change = decide_one(update(), Some(rolled_back), None, &own, Instant::now());
    assert!(change.apply.is_some(), "a new commit upgrades berth");
}

#[test]
fn a_failed_content_backing_off_is_not_applied_until_its_retry() {
    let now = Instant::now();
    let memory = Memory {
        hash: HASH,
        failures: 1,
        retry_at: Some(now + Duration::from_secs(30)),
        error: Some("UpdateService failed: boom".into()),
        ..Memory::default()
    };
    let waiting = decide_one(
        update(),
        Some(live(OLD_TD, "COMPLETED")),
        Some(memory.clone()),
        &rules(true),
        now,
    );
    assert!(waiting.apply.is_none());
    assert_eq!(waiting.state.status, Status::Failed);
    assert_eq!(
        waiting.state.last_error.as_deref(),
        Some("UpdateService failed: boom")
    );
    assert_eq!(waiting.state.next_retry_seconds, Some(30));
    let later = now + Duration::from_secs(31);
    let retried = decide_one(
        update(),
        Some(live(OLD_TD, "COMPLETED")),
        Some(memory),
        &rules(true),
        later,
    );
    assert!(retried.apply.is_some(), "retried once the backoff ends");
}

#[test]
fn a_rollout_ecs_rolled_back_fails_and_backs_off() {
    let now = Instant::now();
    let mut memory = Memory::default().for_content(HASH);
    memory.follow(NEW_TD.into(), now);
    // ECS went back to the old revision: git and ECS differ again.
    let decision = decide_one(
        update(),
        Some(live(OLD_TD, "COMPLETED")),
        Some(memory),
        &rules(true),
        now,
    );
    assert!(decision.apply.is_none(), "not retried at once");
    assert_eq!(decision.state.status, Status::Failed);
    assert_eq!(decision.memory.failures, 1);
    assert!(decision.memory.retry_at.is_some_and(|at| at > now));
    assert!(
        matches!(&decision.events[..], [Event::RolloutFailed { reason }] if reason.contains("rolled back"))
    );
}

#[test]
fn a_rollout_in_flight_is_progressing_and_timed_from_first_sight() {
    let now = Instant::now();
    let decision = decide_one(
        Action::NoChange,
        Some(live(NEW_TD, "IN_PROGRESS")),
        None,
        &rules(true),
        now,
    );
    assert_eq!(decision.state.status, Status::Progressing);
    assert_eq!(
        decision.memory.following.as_ref().map(|f| f.since),
        Some(now),
        "a rollout berth did not start is timed from when berth saw it"
    );
    assert!(decision.apply.is_none());
}

#[test]
fn a_rollout_past_its_deadline_is_failed() {
    let start = Instant::now();
    let mut memory = Memory::default().for_content(HASH);
    memory.follow(NEW_TD.into(), start);
    let rules = rules(true);
    let later = start + rules.progress_deadline + Duration::from_secs(1);
    let decision = decide_one(
        Action::NoChange,
        Some(live(NEW_TD, "IN_PROGRESS")),
        Some(memory),
        &rules,
        later,
    );
    assert_eq!(decision.state.status, Status::Failed);
    assert_eq!(
        decision.state.last_error,
        Some(past_deadline(rules.progress_deadline))
    );
}

#[test]
fn a_completed_rollout_is_synced_and_forgets_failures() {
    let now = Instant::now();
    let mut memory = Memory::default().for_content(HASH);
    memory.failures = 2;
    memory.follow(NEW_TD.into(), now);
    let decision = decide_one(
        Action::NoChange,
        Some(live(NEW_TD, "COMPLETED")),
        Some(memory),
        &rules(true),
        now,
    );
    assert_eq!(decision.state.status, Status::Synced);
    assert_eq!(decision.memory.synced, Some(HASH));
    assert_eq!(decision.memory.failures, 0);
    assert_eq!(decision.memory.following, None);
}

#[test]
fn an_invalid_service_is_reported_with_its_positioned_error_and_not_applied() {
    let diagnostic = Diagnostic::error(
        Span::new(Arc::from("prod/web.yaml"), 4, 3),
        FieldPath::root().key("spec").key("desiredCont"),
        "unknown field",
    );
    let decision = decide_one(
        Action::Invalid {
            diagnostics: vec![diagnostic],
        },
        Some(live(OLD_TD, "COMPLETED")),
        None,
        &rules(true),
        Instant::now(),
    );
    assert_eq!(decision.state.status, Status::Invalid);
    assert!(
        decision
            .state
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("prod/web.yaml:4:3"))
    );
    assert!(decision.apply.is_none());
}

#[test]
fn a_suspended_service_lists_its_differences_and_is_not_applied() {
    let Action::Update { changes, .. } = update() else {
        unreachable!()
    };
    let decision = decide_one(
        Action::Suspended { changes },
        Some(live(OLD_TD, "COMPLETED")),
        None,
        &rules(true),
        Instant::now(),
    );
    assert_eq!(decision.state.status, Status::Suspended);
    assert_eq!(
        decision.state.pending_changes,
        vec!["desiredCount".to_string()]
    );
    assert!(decision.apply.is_none());
}

#[test]
fn a_conflict_missing_image_or_replacement_is_reported_and_not_applied() {
    let cases = [
        (
            Action::Conflict {
                owner: "git:example.com/other@main".into(),
            },
            Status::OutOfSync,
            "owned by another berth source",
        ),
        (
            Action::ImageMissing {
                images: vec![MissingImage {
                    reference: "1.dkr.ecr.us-east-1.amazonaws.com/web:v9".into(),
                    reason: "ImageNotFound".into(),
                }],
            },
            Status::Failed,
            "image 1.dkr.ecr.us-east-1.amazonaws.com/web:v9 not found in ECR",
        ),
        (
            Action::RequiresReplacement {
                changes: Vec::new(),
                fields: vec!["launchType".into()],
            },
            Status::OutOfSync,
            "launchType cannot change in place",
        ),
    ];
    for (action, status, error) in cases {
        let decision = decide_one(
            action,
            Some(live(OLD_TD, "COMPLETED")),
            None,
            &rules(true),
            Instant::now(),
        );
        assert_eq!(decision.state.status, status);
        assert!(
            decision
                .state
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains(error)),
            "{:?}",
            decision.state.last_error
        );
        assert!(decision.apply.is_none());
    }
}

#[test]
fn a_prune_candidate_and_an_unparsed_service_are_set_apart() {
    let other = ServiceId::new("prod", "old");
    let broken = ServiceId::new("prod", "broken");
    let plan = Plan {
        services: vec![
            ServicePlan {
                id: Some(other.clone()),
                origin: None,
                action: Action::WouldPrune {
                    arn: "arn:aws:ecs:us-east-1:1:service/prod/old".into(),
                },
                images: Vec::new(),
            },
            ServicePlan {
                id: Some(broken.clone()),
                ..planned(Action::NoChange)
            },
        ],
    };
    let decisions = decide(
        &plan,
        &BTreeMap::new(),
        &LiveState::default(),
        &BTreeMap::new(),
        &BTreeSet::from([broken]),
        &rules(true),
        Instant::now(),
    );
    assert_eq!(decisions.prune_candidates, vec![other]);
    assert!(decisions.services.is_empty());
}

#[test]
fn a_poll_marks_a_done_rollout_synced_a_rolled_back_one_failed_and_leaves_one_in_flight() {
    let now = Instant::now();
    let mut memory = Memory::default().for_content(HASH);
    memory.follow(NEW_TD.into(), now);
    let state = ServiceState {
        status: Status::Progressing,
        ..observed(Status::Progressing, None)
    };
    let rules = rules(true);
    let done = decide_polled(
        &id(),
        &live(NEW_TD, "COMPLETED"),
        &state,
        &memory,
        &rules,
        now,
    );
    assert_eq!(done.state.status, Status::Synced);
    assert_eq!(done.memory.synced, Some(HASH));
    let back = decide_polled(
        &id(),
        &live(OLD_TD, "COMPLETED"),
        &state,
        &memory,
        &rules,
        now,
    );
    assert_eq!(back.state.status, Status::Failed);
    assert!(back.state.next_retry_seconds.is_some());
    let going = decide_polled(
        &id(),
        &live(NEW_TD, "IN_PROGRESS"),
        &state,
        &memory,
        &rules,
        now,
    );
    assert_eq!(going.state.status, Status::Progressing);
    let late = now + rules.progress_deadline + Duration::from_secs(1);
    let stuck = decide_polled(
        &id(),
        &live(NEW_TD, "IN_PROGRESS"),
        &state,
        &memory,
        &rules,
        late,
    );
    assert_eq!(stuck.state.status, Status::Failed);
}

fn candidate(name: &str) -> LiveService {
    LiveService {
        id: ServiceId::new("prod", name),
        ..live(OLD_TD, "COMPLETED")
    }
}

const ON: PruneRules = PruneRules {
    enabled: true,
    max: 1,
    own_service: None,
    stopping: false,
    held: &BTreeMap::new(),
};

#[test]
fn prune_refuses_everything_when_off_or_when_a_manifest_failed() {
    let old = candidate("old");
    let off = decide_prune(
        &[&old],
        &BTreeSet::from([old.id.clone()]),
        true,
        PruneRules {
            enabled: false,
            ..ON
        },
    );
    assert_eq!(off.kept.get(&old.id), Some(&PruneRefusal::Off));
    assert!(off.delete.is_empty());
    let invalid = decide_prune(&[&old], &BTreeSet::from([old.id.clone()]), false, ON);
    assert_eq!(
        invalid.kept.get(&old.id),
        Some(&PruneRefusal::ManifestsInvalid)
    );
    assert!(invalid.delete.is_empty());
}

#[test]
fn prune_waits_for_a_second_look_then_deletes() {
    let old = candidate("old");
    let first = decide_prune(&[&old], &BTreeSet::new(), true, ON);
    assert_eq!(first.kept.get(&old.id), Some(&PruneRefusal::FirstSeen));
    assert_eq!(first.pending, BTreeSet::from([old.id.clone()]));
    let second = decide_prune(&[&old], &first.pending, true, ON);
    assert_eq!(second.delete, vec![old.id.clone()]);
    assert!(second.kept.is_empty());
}

#[test]
fn prune_refuses_more_than_max_all_or_nothing_and_keeps_a_disabled_service() {
    let (a, b) = (candidate("a"), candidate("b"));
    let seen = BTreeSet::from([a.id.clone(), b.id.clone()]);
    let over = decide_prune(&[&a, &b], &seen, true, ON);
    assert!(over.delete.is_empty());
    assert_eq!(
        over.kept.get(&a.id),
        Some(&PruneRefusal::OverMax { count: 2, max: 1 })
    );
    let notes = prune_notes(&over.kept);
    assert_eq!(
        notes,
        vec![
            "not pruning: 2 services would be deleted (prod/a, prod/b), more than maxPrune 1"
                .to_string()
        ]
    );
    let mut pinned = candidate("pinned");
    pinned.tags.insert(tags::PRUNE.into(), "disabled".into());
    let kept = decide_prune(&[&pinned], &BTreeSet::from([pinned.id.clone()]), true, ON);
    assert_eq!(kept.kept.get(&pinned.id), Some(&PruneRefusal::Disabled));
    assert!(kept.delete.is_empty());
}

#[test]
fn prune_refusals_are_matched_by_id_not_by_substring() {
    let (web, web2) = (candidate("web"), candidate("web-2"));
    let decision = decide_prune(
        &[&web, &web2],
        &BTreeSet::from([web2.id.clone()]),
        true,
        PruneRules { max: 5, ..ON },
    );
    assert_eq!(decision.kept.get(&web.id), Some(&PruneRefusal::FirstSeen));
    assert_eq!(
        decision.delete,
        vec![web2.id.clone()],
        "prod/web's refusal is not prod/web-2's"
    );
}

#[test]
fn berths_own_service_is_never_pruned_and_counts_towards_nothing() {
    let (own, old) = (candidate("berth"), candidate("old"));
    let seen = BTreeSet::from([own.id.clone(), old.id.clone()]);
    let rules = PruneRules {
        own_service: Some(&own.id),
        ..ON
    };
    // Two confirmed candidates with maxPrune 1 would refuse both; berth's own is not one.
    let decision = decide_prune(&[&own, &old], &seen, true, rules);
    assert_eq!(decision.delete, vec![old.id.clone()]);
    assert_eq!(decision.kept.get(&own.id), Some(&PruneRefusal::OwnService));
    assert!(!decision.pending.contains(&own.id));
    // Alone, and with prune off, it is still kept as berth's own.
    let alone = decide_prune(&[&own], &seen, true, rules);
    assert!(alone.delete.is_empty());
    assert_eq!(alone.kept.get(&own.id), Some(&PruneRefusal::OwnService));
    let off = decide_prune(
        &[&own],
        &seen,
        true,
        PruneRules {
            enabled: false,
            ..rules
        },
    );
    assert_eq!(off.kept.get(&own.id), Some(&PruneRefusal::OwnService));
    assert!(
        PruneRefusal::OwnService
            .message(&[&own.id])
            .contains("prod/berth")
    );
}

#[test]
fn nothing_is_pruned_while_shutting_down() {
    let old = candidate("old");
    let seen = BTreeSet::from([old.id.clone()]);
    let stopping = PruneRules {
        stopping: true,
        ..ON
    };
    let decision = decide_prune(&[&old], &seen, true, stopping);
    assert!(decision.delete.is_empty());
    assert_eq!(
        decision.kept.get(&old.id),
        Some(&PruneRefusal::ShuttingDown)
    );
    // The same candidate, not shutting down, is deleted: the refusal is the stop's.
    assert_eq!(decide_prune(&[&old], &seen, true, ON).delete, vec![old.id]);
}

/// [`rules`] with `prod` held for `waiting`.
fn held_prod(waiting: Waiting) -> Rules {
    Rules {
        held: BTreeMap::from([(
            "prod".to_string(),
            Held {
                waiting,
                until: None,
            },
        )]),
        ..rules(true)
    }
}

#[test]
fn a_change_in_a_held_cluster_is_shown_with_its_hold_and_not_applied() {
    let window = Waiting::Window {
        window: "weekend".into(),
        until: Some("2026-12-07T07:00:00Z".into()),
    };
    let live = live(OLD_TD, "COMPLETED");
    let decision = decide_one(
        update(),
        Some(live.clone()),
        None,
        &held_prod(window.clone()),
        Instant::now(),
    );
    assert!(decision.apply.is_none(), "held");
    assert_eq!(decision.state.status, Status::OutOfSync);
    assert_eq!(decision.state.waiting, Some(window));
    assert_eq!(decision.state.pending_changes, vec!["desiredCount"]);
    let global = Waiting::Suspended {
        scope: SuspendScope::Global,
    };
    let suspended = decide_one(
        update(),
        Some(live),
        None,
        &held_prod(global.clone()),
        Instant::now(),
    );
    assert!(suspended.apply.is_none());
    assert_eq!(suspended.state.status, Status::Suspended);
    assert_eq!(suspended.state.waiting, Some(global));
}

#[test]
fn a_held_cluster_still_reports_drift_and_services_in_sync() {
    let mut drifted = live(OLD_TD, "COMPLETED");
    drifted
        .tags
        .insert(tags::SPEC_HASH.into(), spec_hash_text(HASH));
    let hold = held_prod(Waiting::Suspended {
        scope: SuspendScope::Cluster,
    });
    let decision = decide_one(update(), Some(drifted), None, &hold, Instant::now());
    assert!(decision.apply.is_none());
    assert!(
        matches!(&decision.events[..], [Event::Drift { changes }] if changes == &["desiredCount"]),
        "{:?}",
        decision.events
    );
    let in_sync = decide_one(
        Action::NoChange,
        Some(live(OLD_TD, "COMPLETED")),
        None,
        &hold,
        Instant::now(),
    );
    assert_eq!(in_sync.state.status, Status::Synced);
    assert_eq!(in_sync.state.waiting, None);
}

#[test]
fn backoff_conflict_and_a_suspended_manifest_say_what_they_wait_for() {
    let now = Instant::now();
    let mut failing = Memory::default().for_content(HASH);
    failing.failed("boom".into(), now, &rules(true).backoff);
    let backing_off = decide_one(update(), None, Some(failing), &rules(true), now);
    // The first retry is after `min` (30 s) plus jitter.
    assert!(
        matches!(
            backing_off.state.waiting,
            Some(Waiting::Backoff { retry_in_seconds }) if (30..=60).contains(&retry_in_seconds)
        ),
        "{:?}",
        backing_off.state.waiting
    );
    let conflict = Action::Conflict {
        owner: "git:github.com/other/repo@main".into(),
    };
    let conflicted = decide_one(conflict, None, None, &rules(true), now);
    assert_eq!(
        conflicted.state.waiting,
        Some(Waiting::Conflict {
            owner: "git:github.com/other/repo@main".into()
        })
    );
    let suspended = decide_one(
        Action::Suspended {
            changes: Vec::new(),
        },
        None,
        None,
        &rules(true),
        now,
    );
    assert_eq!(
        suspended.state.waiting,
        Some(Waiting::Suspended {
            scope: SuspendScope::Service
        })
    );
}

/// Decides `web` (changed) and `api` (planned as `api_action`, live `api_live`) where web
/// dependsOn api.
fn decide_web_after_api(api_action: Action, api_live: LiveService, memory: Memory) -> Decisions {
    let api = ServiceId::new("prod", "api");
    let mut state = LiveState::default();
    state.services.insert(id(), live(OLD_TD, "COMPLETED"));
    state.services.insert(api.clone(), api_live);
    let plan = Plan {
        services: vec![
            planned(update()),
            ServicePlan {
                id: Some(api.clone()),
                ..planned(api_action)
            },
        ],
    };
    let hashes = BTreeMap::from([(id(), HASH), (api.clone(), HASH)]);
    let rules = Rules {
        depends_on: BTreeMap::from([(id(), vec![api.clone()])]),
        ..rules(true)
    };
    let memory = BTreeMap::from([(api, memory)]);
    decide(
        &plan,
        &hashes,
        &state,
        &memory,
        &BTreeSet::new(),
        &rules,
        Instant::now(),
    )
}

#[test]
fn a_change_waits_for_a_dependency_that_is_not_synced_and_names_it() {
    let api_live = LiveService {
        id: ServiceId::new("prod", "api"),
        ..live(NEW_TD, "IN_PROGRESS")
    };
    let rolling = decide_web_after_api(Action::NoChange, api_live.clone(), Memory::default());
    let web = &rolling.services[0];
    assert_eq!(rolling.services[1].state.status, Status::Progressing);
    assert!(web.apply.is_none(), "web waits for api's rollout");
    assert_eq!(web.state.status, Status::OutOfSync);
    assert_eq!(
        web.state.waiting,
        Some(Waiting::DependsOn {
            service: "prod/api".into()
        })
    );
    // api changing in the same pass: apply orders the two itself.
    let both = decide_web_after_api(update(), api_live, Memory::default());
    assert!(both.services.iter().all(|d| d.apply.is_some()));
    // api in sync: web goes.
    let synced_api = LiveService {
        id: ServiceId::new("prod", "api"),
        ..live(OLD_TD, "COMPLETED")
    };
    let after = decide_web_after_api(Action::NoChange, synced_api.clone(), Memory::default());
    assert!(after.services[0].apply.is_some());
    // api suspended by its manifest: it holds nothing back.
    let suspended = Action::Suspended {
        changes: Vec::new(),
    };
    let suspended_api = decide_web_after_api(suspended, synced_api, Memory::default());
    assert_eq!(suspended_api.services[1].state.status, Status::Suspended);
    assert!(suspended_api.services[0].apply.is_some());
}

#[test]
fn prune_keeps_candidates_in_held_clusters() {
    let old = candidate("old");
    let held = BTreeMap::from([(
        "prod".to_string(),
        Held {
            waiting: Waiting::Suspended {
                scope: SuspendScope::Global,
            },
            until: None,
        },
    )]);
    let decision = decide_prune(
        &[&old],
        &BTreeSet::from([old.id.clone()]),
        true,
        PruneRules { held: &held, ..ON },
    );
    assert!(decision.delete.is_empty());
    assert_eq!(
        decision.kept.get(&old.id),
        Some(&PruneRefusal::Held {
            reason: "suspended (reconcile.suspend)".into()
        })
    );
}
