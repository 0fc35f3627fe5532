//! Applying plans against the in-process fake ECS under tokio's paused clock: which mutating
//! calls are made, in what order, and how rollouts end. No sleeps: time is virtual.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use berth_core::live::{Deployment, ServiceEvent};
use berth_core::manifest::{LoadOptions, LoadOutcome, ServiceId, SourceFile, load};
use berth_core::plan::{Ownership, plan};
use berth_core::render::Provenance;
use berth_engine::apply::{
    AppliedAction, ApplyObserver, ApplyOptions, ServiceOutcome, ServiceReport, apply,
};
use berth_engine::read_live;
use berth_engine::rollout::{RolloutObserver, RolloutTiming};
use berth_testkit::fake::{FakeEcs, FakeRegistry};
use berth_testkit::fixtures::ManifestText;

const REPOSITORY: &str = "https://example.com/acme/deploy.git";

fn digest(n: u8) -> String {
    format!(
        "sha256:{}",
        format!("{n:x}")
            .repeat(64)
            .chars()
            .take(64)
            .collect::<String>()
    )
}

fn registry() -> FakeRegistry {
    let registry = FakeRegistry::new();
    registry.push("web", "1.4.2", &digest(1));
    registry.push("web", "1.5.0", &digest(2));
    registry.push("web", "broken", &digest(3));
    registry
}

fn estate(names: &[&str], edit: impl Fn(&str, ManifestText) -> ManifestText) -> LoadOutcome {
    let files: Vec<SourceFile> = names
        .iter()
        .map(|name| SourceFile {
            path: format!("prod/{name}.yaml"),
            text: edit(name, ManifestText::web().named(name)).text(),
        })
        .collect();
    let outcome = load(&files, &LoadOptions::default());
    assert!(outcome.is_valid(), "{:?}", outcome.invalid);
    outcome
}

#[derive(Default)]
struct Recorder {
    lines: Mutex<Vec<String>>,
}

impl Recorder {
    fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("recorder lock").clone()
    }
    fn push(&self, line: String) {
        self.lines.lock().expect("recorder lock").push(line);
    }
}

impl RolloutObserver for Recorder {
    fn event(&self, id: &ServiceId, event: &ServiceEvent) {
        self.push(format!("event {id} {} {}", event.id, event.message));
    }
    fn progress(&self, _: &ServiceId, _: &Deployment) {}
}

impl ApplyObserver for Recorder {
    fn action(&self, id: &ServiceId, action: &AppliedAction) {
        self.push(format!(
            "action {id} {action:?} at {:?}",
            tokio::time::Instant::now()
        ));
    }
    fn finished(&self, report: &ServiceReport) {
        self.push(format!("finished {:?}", report.id));
    }
}

fn options() -> ApplyOptions {
    ApplyOptions {
        concurrency: 8,
        rollout: RolloutTiming {
            deadline: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        },
        follow: true,
        provenance: Provenance {
            repository: REPOSITORY.into(),
            revision: Some("c0ffee".into()),
        },
    }
}

async fn plan_and_apply(
    ecs: &FakeEcs,
    registry: &FakeRegistry,
    outcome: &LoadOutcome,
    recorder: &Recorder,
) -> Vec<ServiceReport> {
    let live = read_live(ecs, registry, &outcome.services, &outcome.invalid)
        .await
        .expect("read");
    let plan = plan(
        &outcome.services,
        &outcome.invalid,
        &live,
        &Ownership {
            repository: REPOSITORY.into(),
        },
    );
    apply(ecs, &plan, &outcome.services, &live, &options(), recorder).await
}

fn outcome_of<'a>(reports: &'a [ServiceReport], name: &str) -> &'a ServiceOutcome {
    &reports
        .iter()
        .find(|r| r.id.as_ref().is_some_and(|id| id.name == name))
        .expect("report")
        .outcome
}

const FIVE: &[&str] = &["api", "billing", "web", "worker", "reports"];

#[tokio::test(start_paused = true)]
async fn a_fresh_estate_is_created_then_a_second_apply_changes_nothing() {
    let ecs = FakeEcs::new();
    let registry = registry();
    let outcome = estate(FIVE, |_, m| m);
    let reports = plan_and_apply(&ecs, &registry, &outcome, &Recorder::default()).await;
    assert!(
        reports.iter().all(|r| r.outcome == ServiceOutcome::Synced),
        "{reports:#?}"
    );
    let mutations = ecs.mutations();
    assert_eq!(
        mutations
            .iter()
            .filter(|m| **m == "RegisterTaskDefinition")
            .count(),
        5
    );
    assert_eq!(
        mutations.iter().filter(|m| **m == "CreateService").count(),
        5
    );

    let service = ecs
        .service(&ServiceId::new("prod", "web"))
        .expect("created");
    assert_eq!(
        service.tags.get("berth:managed-by").map(String::as_str),
        Some("berth")
    );
    assert_eq!(
        service.tags.get("berth:source").map(String::as_str),
        Some("https://example.com/acme/deploy.git#prod/web.yaml")
    );
    let td = &ecs.revisions("web")[0];
    let image = td.spec.container_definitions.as_ref().unwrap()[0]
        .image
        .clone()
        .unwrap();
    assert!(
        image.ends_with(&format!("web@{}", digest(1))),
        "pinned: {image}"
    );

    let before = ecs.mutations().len();
    let reports = plan_and_apply(&ecs, &registry, &outcome, &Recorder::default()).await;
    assert!(
        reports
            .iter()
            .all(|r| r.outcome == ServiceOutcome::Synced && r.actions.is_empty()),
        "{reports:#?}"
    );
    assert_eq!(
        ecs.mutations().len(),
        before,
        "second apply makes no mutating call"
    );
}

#[tokio::test(start_paused = true)]
async fn an_image_bump_in_one_service_registers_once_and_updates_once() {
    let ecs = FakeEcs::new();
    let registry = registry();
    plan_and_apply(
        &ecs,
        &registry,
        &estate(FIVE, |_, m| m),
        &Recorder::default(),
    )
    .await;
    let before = ecs.mutations().len();
    let bumped = estate(FIVE, |name, m| {
        if name == "web" {
            m.replace("web:1.4.2", "web:1.5.0")
        } else {
            m
        }
    });
    let reports = plan_and_apply(&ecs, &registry, &bumped, &Recorder::default()).await;
    let mutations: Vec<&str> = ecs.mutations()[before..].to_vec();
    assert_eq!(
        mutations,
        ["RegisterTaskDefinition", "UpdateService", "TagResource"],
        "{reports:#?}"
    );
    assert_eq!(outcome_of(&reports, "web"), &ServiceOutcome::Synced);
    for other in ["api", "billing", "worker", "reports"] {
        let report = reports
            .iter()
            .find(|r| r.id.as_ref().is_some_and(|id| id.name == other))
            .unwrap();
        assert!(report.actions.is_empty(), "{other} untouched");
    }
    let web = ecs.service(&ServiceId::new("prod", "web")).unwrap();
    assert!(web.task_definition_arn.ends_with("web:2"));
    assert_eq!(
        web.tags.get("berth:revision").map(String::as_str),
        Some("c0ffee")
    );
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_register_and_update_leaves_no_duplicate_revision() {
    let ecs = FakeEcs::new();
    let registry = registry();
    plan_and_apply(
        &ecs,
        &registry,
        &estate(&["web"], |_, m| m),
        &Recorder::default(),
    )
    .await;
    let bumped = estate(&["web"], |_, m| m.replace("web:1.4.2", "web:1.5.0"));
    // The first attempt dies right after RegisterTaskDefinition (UpdateService fails).
    ecs.fail("UpdateService");
    let reports = plan_and_apply(&ecs, &registry, &bumped, &Recorder::default()).await;
    assert!(matches!(
        outcome_of(&reports, "web"),
        ServiceOutcome::Failed { .. }
    ));
    assert_eq!(ecs.revisions("web").len(), 2);

    let ecs_after_restart = ecs.clone();
    ecs_after_restart.clear_failures();
    let reports =
        plan_and_apply(&ecs_after_restart, &registry, &bumped, &Recorder::default()).await;
    assert_eq!(outcome_of(&reports, "web"), &ServiceOutcome::Synced);
    assert_eq!(
        ecs.revisions("web").len(),
        2,
        "the equal revision was reused, not registered again"
    );
    let report = reports.iter().find(|r| r.id.is_some()).unwrap();
    assert!(
        matches!(
            report.actions[0],
            AppliedAction::ReusedTaskDefinition { .. }
        ),
        "{report:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_image_is_rolled_back_and_reported_with_ecs_events_while_others_converge() {
    let ecs = FakeEcs::new();
    let registry = registry();
    plan_and_apply(
        &ecs,
        &registry,
        &estate(&["web", "api"], |_, m| m),
        &Recorder::default(),
    )
    .await;
    ecs.fail_images(&digest(3));
    let with_circuit_breaker = |m: ManifestText| {
        m.replace("  desiredCount: 2", "  desiredCount: 2\n  deploymentConfiguration: {deploymentCircuitBreaker: {enable: true, rollback: true}}")
    };
    let next = estate(&["web", "api"], |name, m| {
        let m = with_circuit_breaker(m);
        if name == "web" {
            m.replace("web:1.4.2", "web:broken")
        } else {
            m.replace("desiredCount: 2", "desiredCount: 3")
        }
    });
    let recorder = Recorder::default();
    let reports = plan_and_apply(&ecs, &registry, &next, &recorder).await;
    let ServiceOutcome::Failed { reason, events } = outcome_of(&reports, "web") else {
        panic!("{reports:#?}")
    };
    assert!(reason.contains("rolled back"), "{reason}");
    assert!(
        events
            .iter()
            .any(|e| e.message.contains("deployment failed")),
        "{events:#?}"
    );
    assert_eq!(outcome_of(&reports, "api"), &ServiceOutcome::Synced);
    // Every event is reported exactly once.
    let event_lines: Vec<String> = recorder
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("event prod/web"))
        .collect();
    let mut unique = event_lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), event_lines.len(), "{event_lines:#?}");
    assert!(
        event_lines.iter().any(|l| l.contains("rolling back")),
        "{event_lines:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_image_fails_before_registering_and_others_apply() {
    let ecs = FakeEcs::new();
    let registry = registry();
    let outcome = estate(&["web", "api"], |name, m| {
        if name == "web" {
            m.replace("web:1.4.2", "web:0.0.0")
        } else {
            m
        }
    });
    let reports = plan_and_apply(&ecs, &registry, &outcome, &Recorder::default()).await;
    let ServiceOutcome::Failed { reason, .. } = outcome_of(&reports, "web") else {
        panic!("{reports:#?}")
    };
    assert!(
        reason.contains("web:0.0.0") && reason.contains("not found"),
        "{reason}"
    );
    assert!(
        ecs.revisions("web").is_empty(),
        "nothing registered for web"
    );
    assert_eq!(outcome_of(&reports, "api"), &ServiceOutcome::Synced);
}

#[tokio::test(start_paused = true)]
async fn a_dependent_is_updated_after_its_dependency_completes_and_skipped_when_it_fails() {
    let ecs = FakeEcs::new();
    let registry = registry();
    let depends = |name: &str, m: ManifestText| {
        if name == "web" {
            m.set(5, "  cluster: prod\n  dependsOn: [api]")
        } else {
            m
        }
    };
    let recorder = Recorder::default();
    plan_and_apply(
        &ecs,
        &registry,
        &estate(&["web", "api"], depends),
        &recorder,
    )
    .await;
    let lines = recorder.lines();
    let api_created = lines
        .iter()
        .position(|l| l.starts_with("action prod/api CreatedService"))
        .unwrap();
    let api_done = lines
        .iter()
        .position(|l| l.contains("finished Some(ServiceId { cluster: \"prod\", name: \"api\" })"))
        .unwrap();
    let web_first = lines
        .iter()
        .position(|l| l.starts_with("action prod/web"))
        .unwrap();
    assert!(api_created < api_done && api_done < web_first, "{lines:#?}");

    ecs.fail_images(&digest(3));
    let next = estate(&["web", "api"], |name, m| {
        let m = depends(name, m).replace("  desiredCount: 2", "  desiredCount: 2\n  deploymentConfiguration: {deploymentCircuitBreaker: {enable: true, rollback: true}}");
        if name == "api" {
            m.replace("web:1.4.2", "web:broken")
        } else {
            m.replace("web:1.4.2", "web:1.5.0")
        }
    });
    let before = ecs.mutations().len();
    let reports = plan_and_apply(&ecs, &registry, &next, &Recorder::default()).await;
    assert!(matches!(
        outcome_of(&reports, "api"),
        ServiceOutcome::Failed { .. }
    ));
    let ServiceOutcome::Skipped { reason } = outcome_of(&reports, "web") else {
        panic!("{reports:#?}")
    };
    assert!(reason.contains("dependency api"), "{reason}");
    assert!(
        ecs.mutations()[before..]
            .iter()
            .all(|m| *m != "CreateService")
    );
    let web = ecs.service(&ServiceId::new("prod", "web")).unwrap();
    assert!(
        web.task_definition_arn.ends_with("web:1"),
        "web untouched: {}",
        web.task_definition_arn
    );
}

#[tokio::test(start_paused = true)]
async fn a_rollout_past_its_deadline_is_progressing() {
    let ecs = FakeEcs::new();
    ecs.set_rollout_time(Duration::from_secs(3600));
    let reports = plan_and_apply(
        &ecs,
        &registry(),
        &estate(&["web"], |_, m| m),
        &Recorder::default(),
    )
    .await;
    let ServiceOutcome::Progressing { reason } = outcome_of(&reports, "web") else {
        panic!("{reports:#?}")
    };
    assert!(reason.contains("deadline"), "{reason}");
    assert_eq!(
        ecs.count("DescribeServices"),
        1 + 61,
        "one plan read, then one poll per second for the 60 s deadline (virtual time)"
    );
}

#[test]
fn digests_are_distinct() {
    let all: BTreeMap<String, ()> = (1..=3).map(|n| (digest(n), ())).collect();
    assert_eq!(all.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn rollouts_followed_together_share_describe_services_calls() {
    let ecs = FakeEcs::new();
    let registry = registry();
    let names: Vec<String> = (0..20).map(|i| format!("svc-{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let recorder = Recorder::default();
    plan_and_apply(&ecs, &registry, &estate(&names, |_, m| m), &recorder).await;

    // Bump all 20 at once: rollouts take 10 s of virtual time, polled every second.
    ecs.set_rollout_time(Duration::from_secs(10));
    let bumped = estate(&names, |_, m| m.replace("web:1.4.2", "web:1.5.0"));
    let before = ecs.count("DescribeServices");
    let live = read_live(&ecs, &registry, &bumped.services, &bumped.invalid)
        .await
        .expect("read");
    let reads = ecs.count("DescribeServices") - before;
    let plan = plan(
        &bumped.services,
        &bumped.invalid,
        &live,
        &Ownership {
            repository: REPOSITORY.into(),
        },
    );
    let options = ApplyOptions {
        concurrency: 20,
        ..options()
    };
    let reports = apply(&ecs, &plan, &bumped.services, &live, &options, &recorder).await;
    assert!(
        reports
            .iter()
            .all(|r| matches!(r.outcome, ServiceOutcome::Synced)),
        "{reports:?}"
    );
    let polls = ecs.count("DescribeServices") - before - reads;
    // About 11 polls each: alone, that is 220 calls. Shared: the first round is mostly one call
    // each (followers start one after another), then 2 per round (10 names a call).
    println!("DescribeServices following 20 rollouts: {polls}");
    assert!(
        polls <= 60,
        "{polls} DescribeServices calls following 20 rollouts"
    );
}
