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
        .map(|name| {
            SourceFile::new(
                format!("prod/{name}.yaml"),
                edit(name, ManifestText::web().named(name)).text(),
            )
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
        &Ownership::new(REPOSITORY),
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
        &Ownership::new(REPOSITORY),
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

/// The fake ECS, except that the first `lose` RegisterTaskDefinition calls take effect and then
/// fail, as when ECS registered the revision and the answer was lost (a timeout, a dropped
/// connection).
struct LosesRegisterAnswers {
    ecs: FakeEcs,
    lose: std::sync::atomic::AtomicUsize,
}

impl berth_engine::ports::EcsRead for LosesRegisterAnswers {
    type Error = berth_testkit::fake::FakeError;

    async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<berth_core::live::ServiceLookup>, Self::Error> {
        self.ecs.describe_services(cluster, names).await
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<std::sync::Arc<berth_core::live::LiveTaskDefinition>, Self::Error> {
        self.ecs.describe_task_definition(arn).await
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, Self::Error> {
        self.ecs.list_services(cluster).await
    }
}

impl berth_engine::ports::EcsWrite for LosesRegisterAnswers {
    async fn register_task_definition(
        &self,
        spec: &berth_core::model::ecs::TaskDefinitionSpec,
    ) -> Result<std::sync::Arc<berth_core::live::LiveTaskDefinition>, Self::Error> {
        let registered = self.ecs.register_task_definition(spec).await?;
        let lost = self
            .lose
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok();
        if lost {
            return Err(berth_testkit::fake::FakeError::Injected(
                "RegisterTaskDefinition",
            ));
        }
        Ok(registered)
    }

    async fn latest_active_task_definition(
        &self,
        family: &str,
    ) -> Result<Option<std::sync::Arc<berth_core::live::LiveTaskDefinition>>, Self::Error> {
        self.ecs.latest_active_task_definition(family).await
    }

    async fn create_service(
        &self,
        id: &ServiceId,
        spec: &berth_core::model::ecs::ServiceSpec,
        task_definition_arn: &str,
    ) -> Result<berth_core::live::LiveService, Self::Error> {
        self.ecs.create_service(id, spec, task_definition_arn).await
    }

    async fn update_service(
        &self,
        id: &ServiceId,
        update: &berth_engine::ports::ServiceUpdate,
    ) -> Result<berth_core::live::LiveService, Self::Error> {
        self.ecs.update_service(id, update).await
    }

    async fn delete_service(&self, id: &ServiceId) -> Result<(), Self::Error> {
        self.ecs.delete_service(id).await
    }

    async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), Self::Error> {
        self.ecs.tag_resource(arn, tags).await
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), Self::Error> {
        self.ecs.untag_resource(arn, keys).await
    }
}

/// [`plan_and_apply`] through any adapter.
async fn plan_and_apply_with<E: berth_engine::ports::EcsWrite>(
    ecs: &E,
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
        &Ownership::new(REPOSITORY),
    );
    apply(ecs, &plan, &outcome.services, &live, &options(), recorder).await
}

#[tokio::test(start_paused = true)]
async fn a_lost_register_answer_reuses_the_revision_ecs_made_instead_of_a_second_one() {
    let fake = FakeEcs::new();
    let ecs = LosesRegisterAnswers {
        ecs: fake.clone(),
        lose: std::sync::atomic::AtomicUsize::new(2),
    };
    let registry = registry();
    let recorder = Recorder::default();

    // Create: the one registration's answer is lost; the revision it made runs.
    let outcome = estate(&["web"], |_, m| m);
    let reports = plan_and_apply_with(&ecs, &registry, &outcome, &recorder).await;
    assert_eq!(reports[0].outcome, ServiceOutcome::Synced, "{reports:#?}");
    let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1".to_string();
    assert_eq!(
        reports[0].actions,
        [
            AppliedAction::ReusedTaskDefinition { arn: arn.clone() },
            AppliedAction::CreatedService,
        ]
    );
    assert_eq!(fake.count("RegisterTaskDefinition"), 1);
    assert_eq!(fake.revisions("web").len(), 1);

    // Update: the same.
    let outcome = estate(&["web"], |_, m| m.replace("web:1.4.2", "web:1.5.0"));
    let reports = plan_and_apply_with(&ecs, &registry, &outcome, &recorder).await;
    assert_eq!(reports[0].outcome, ServiceOutcome::Synced, "{reports:#?}");
    assert_eq!(fake.count("RegisterTaskDefinition"), 2);
    assert_eq!(fake.revisions("web").len(), 2, "one revision per change");
    assert_eq!(
        fake.service(&ServiceId::new("prod", "web"))
            .map(|s| s.task_definition_arn),
        Some(arn.replace("web:1", "web:2"))
    );

    // A registration that failed without taking effect is still reported as failed.
    fake.fail("RegisterTaskDefinition");
    let outcome = estate(&["web"], |_, m| m.replace("web:1.4.2", "web:broken"));
    let reports = plan_and_apply_with(&ecs, &registry, &outcome, &recorder).await;
    assert!(
        matches!(&reports[0].outcome, ServiceOutcome::Failed { reason, .. }
            if reason.starts_with("RegisterTaskDefinition failed")),
        "{reports:#?}"
    );
    assert_eq!(fake.revisions("web").len(), 2);
}
