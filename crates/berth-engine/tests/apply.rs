//! Applying plans against the in-process fake ECS under tokio's paused clock: which mutating
//! calls are made, in what order, and how rollouts end. No sleeps: time is virtual.
//!
//! The scenarios shared with the emulator (berth-aws's `tests/aws/apply.rs`) are
//! `berth_testkit::scenarios`, run here on [`FakeHarness`]; the tests after them are the fake's
//! own (virtual time, and a port that loses answers).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use berth_core::live::ServiceLookup;
use berth_core::manifest::{ServiceId, Vars};
use berth_engine::apply::{AppliedAction, ApplyOptions, ServiceOutcome, apply};
use berth_engine::rollout::RolloutTiming;
use berth_testkit::fake::{FakeEcs, FakeError, FakeRegistry};
use berth_testkit::scenarios::{
    self, Log, Mutations, ScenarioHarness, estate, plan_and_apply, plan_only, report_of, services,
};

/// The scenarios' backend in memory: one fake ECS and ECR, digests numbered as images are
/// pushed.
#[derive(Default)]
struct FakeHarness {
    ecs: FakePorts,
    registry: FakeRegistry,
    /// `(repository, tag)` → digest, as pushed.
    digests: Mutex<BTreeMap<(String, String), String>>,
}

impl FakeHarness {
    /// A harness with `app:<tag>` pushed for every tag.
    fn with_images(tags: &[&str]) -> Self {
        let harness = FakeHarness::default();
        for tag in tags {
            harness.push_image("app", tag);
        }
        harness
    }

    /// The fake ECS itself (to count calls, inject failures, set the rollout time).
    fn fake(&self) -> &FakeEcs {
        &self.ecs.fake
    }
}

impl ScenarioHarness for FakeHarness {
    type Ecs = FakePorts;
    type Registry = FakeRegistry;

    fn ecs(&self) -> &FakePorts {
        &self.ecs
    }

    fn registry(&self) -> &FakeRegistry {
        &self.registry
    }

    fn vars(&self) -> Vars {
        [
            ("ACCOUNT", "123456789012"),
            ("REGION", "us-east-1"),
            ("SUBNET_A", "subnet-0aaa"),
            ("SUBNET_B", "subnet-0bbb"),
            ("SECURITY_GROUP", "sg-0123"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn push_image(&self, repository: &str, tag: &str) -> String {
        let mut digests = self.digests.lock().expect("digests lock");
        let digest = format!("sha256:{:064x}", digests.len() + 1);
        self.registry.push(repository, tag, &digest);
        digests.insert((repository.into(), tag.into()), digest.clone());
        digest
    }

    fn fail_image(&self, repository: &str, tag: &str) {
        let digests = self.digests.lock().expect("digests lock");
        let digest = digests
            .get(&(repository.into(), tag.into()))
            .expect("an image pushed before it is made to fail");
        // The fake matches images by substring; task definitions name pushed images by digest.
        self.fake().fail_images(digest);
    }

    fn mutations(&self) -> Mutations {
        // No scenario makes the fake fail a call, so every call counted was accepted.
        scenarios::count_mutations(|op| self.fake().count(op) as u64)
    }

    fn revisions(&self, family: &str) -> Vec<String> {
        let mut revisions = self.fake().revisions(family);
        revisions.sort_by_key(|td| td.revision);
        revisions.into_iter().map(|td| td.arn).collect()
    }

    async fn restart(&mut self) {
        // The fake caches nothing: a new process sees the same ECS through the same ports.
    }
}

// --- the scenarios shared with the emulator ------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_fresh_estate_is_created_then_a_second_apply_changes_nothing() {
    scenarios::a_fresh_estate_is_created_then_a_second_apply_changes_nothing(
        &mut FakeHarness::default(),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn an_image_bump_in_one_of_five_services_registers_once_and_updates_once() {
    scenarios::an_image_bump_in_one_of_five_services_registers_once_and_updates_once(
        &mut FakeHarness::default(),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_process_killed_right_after_register_leaves_no_duplicate_revision() {
    scenarios::a_process_killed_right_after_register_leaves_no_duplicate_revision(
        &mut FakeHarness::default(),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_image_is_rolled_back_and_reported_with_ecs_events_while_others_converge() {
    scenarios::a_failing_image_is_rolled_back_and_reported_with_ecs_events_while_others_converge(
        &mut FakeHarness::default(),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_missing_image_fails_before_registering_and_others_apply() {
    scenarios::a_missing_image_fails_before_registering_and_others_apply(
        &mut FakeHarness::default(),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_dependent_is_updated_after_its_dependency_completes_and_skipped_when_it_fails() {
    scenarios::a_dependent_is_updated_after_its_dependency_completes_and_skipped_when_it_fails(
        &mut FakeHarness::default(),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn berths_own_service_is_changed_after_every_other_service() {
    scenarios::berths_own_service_is_changed_after_every_other_service(&mut FakeHarness::default())
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_stop_mid_apply_finishes_the_service_in_flight_and_starts_no_other() {
    scenarios::a_stop_mid_apply_finishes_the_service_in_flight_and_starts_no_other(
        &mut FakeHarness::default(),
    )
    .await;
}

// --- the fake's own ------------------------------------------------------------------------------

/// Rollouts followed every second (virtual time) for up to 60 s.
fn polling_every_second(concurrency: usize) -> ApplyOptions {
    ApplyOptions {
        concurrency,
        rollout: RolloutTiming {
            deadline: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        },
        ..scenarios::options("c0ffee")
    }
}

#[tokio::test(start_paused = true)]
async fn a_rollout_past_its_deadline_is_progressing() {
    let harness = FakeHarness::with_images(&["1.0"]);
    harness.fake().set_rollout_time(Duration::from_secs(3600));
    let outcome = estate(&services(&["web"], |_| "app:1.0".into()), &harness.vars());
    let reports = plan_and_apply(
        &harness.ecs,
        &harness.registry,
        &outcome,
        &polling_every_second(8),
        &Log::default(),
    )
    .await;
    let ServiceOutcome::Progressing { reason } = &report_of(&reports, "prod", "web").outcome else {
        panic!("{reports:#?}")
    };
    assert!(reason.contains("deadline"), "{reason}");
    assert_eq!(
        harness.fake().count("DescribeServices"),
        1 + 61,
        "one plan read, then one poll per second for the 60 s deadline (virtual time)"
    );
}

#[tokio::test(start_paused = true)]
async fn rollouts_followed_together_share_describe_services_calls() {
    let harness = FakeHarness::with_images(&["1.0", "1.1"]);
    let (ecs, registry) = (harness.fake(), &harness.registry);
    let names: Vec<String> = (0..20).map(|i| format!("svc-{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let initial = estate(&services(&names, |_| "app:1.0".into()), &harness.vars());
    let options = polling_every_second(20);
    plan_and_apply(ecs, registry, &initial, &options, &Log::default()).await;

    // Bump all 20 at once: rollouts take 10 s of virtual time, polled every second.
    ecs.set_rollout_time(Duration::from_secs(10));
    let bumped = estate(&services(&names, |_| "app:1.1".into()), &harness.vars());
    let before = ecs.count("DescribeServices");
    let (plan, live) = plan_only(ecs, registry, &bumped).await;
    let reads = ecs.count("DescribeServices") - before;
    let reports = apply(
        ecs,
        &plan,
        &bumped.services,
        &live,
        &options,
        &Log::default(),
    )
    .await;
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

/// The fake ECS as the tests reach it: the first `lose` RegisterTaskDefinition calls take
/// effect and then fail, as when ECS registered the revision and the answer was lost (a timeout,
/// a dropped connection).
#[derive(Default)]
struct FakePorts {
    fake: FakeEcs,
    lose: AtomicUsize,
}

impl berth_engine::ports::EcsRead for FakePorts {
    type Error = FakeError;

    async fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<ServiceLookup>, Self::Error> {
        self.fake.describe_services(cluster, names).await
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<std::sync::Arc<berth_core::live::LiveTaskDefinition>, Self::Error> {
        self.fake.describe_task_definition(arn).await
    }

    async fn latest_active_task_definition_arn(
        &self,
        family: &str,
    ) -> Result<Option<String>, Self::Error> {
        self.fake.latest_active_task_definition_arn(family).await
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, Self::Error> {
        self.fake.list_services(cluster).await
    }

    async fn list_active_task_definitions(&self, family: &str) -> Result<Vec<String>, Self::Error> {
        self.fake.list_active_task_definitions(family).await
    }
}

impl berth_engine::ports::EcsWrite for FakePorts {
    async fn register_task_definition(
        &self,
        spec: &berth_core::model::ecs::TaskDefinitionSpec,
    ) -> Result<std::sync::Arc<berth_core::live::LiveTaskDefinition>, Self::Error> {
        let registered = self.fake.register_task_definition(spec).await?;
        let lost = self
            .lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if lost {
            return Err(FakeError::Injected("RegisterTaskDefinition"));
        }
        Ok(registered)
    }

    async fn create_service(
        &self,
        id: &ServiceId,
        spec: &berth_core::model::ecs::ServiceSpec,
        task_definition_arn: &str,
    ) -> Result<berth_core::live::LiveService, Self::Error> {
        self.fake
            .create_service(id, spec, task_definition_arn)
            .await
    }

    async fn update_service(
        &self,
        id: &ServiceId,
        update: &berth_engine::ports::ServiceUpdate,
    ) -> Result<berth_core::live::LiveService, Self::Error> {
        self.fake.update_service(id, update).await
    }

    async fn delete_service(&self, id: &ServiceId) -> Result<(), Self::Error> {
        self.fake.delete_service(id).await
    }

    async fn tag_resource(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), Self::Error> {
        self.fake.tag_resource(arn, tags).await
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), Self::Error> {
        self.fake.untag_resource(arn, keys).await
    }

    async fn deregister_task_definition(&self, arn: &str) -> Result<(), Self::Error> {
        self.fake.deregister_task_definition(arn).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_lost_register_answer_reuses_the_revision_ecs_made_instead_of_a_second_one() {
    let harness = FakeHarness::with_images(&["1.0", "1.1", "broken"]);
    harness.ecs.lose.store(2, Ordering::SeqCst);
    let (ecs, fake) = (&harness.ecs, harness.fake());
    let web = |image: &str| estate(&services(&["web"], |_| image.into()), &harness.vars());
    let apply_web = |image: &str| {
        let outcome = web(image);
        let registry = &harness.registry;
        async move {
            let options = scenarios::options("c0ffee");
            plan_and_apply(ecs, registry, &outcome, &options, &Log::default()).await
        }
    };

    // Create: the one registration's answer is lost; the revision it made runs.
    let reports = apply_web("app:1.0").await;
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
    let reports = apply_web("app:1.1").await;
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
    let reports = apply_web("app:broken").await;
    assert!(
        matches!(&reports[0].outcome, ServiceOutcome::Failed { reason, .. }
            if reason.starts_with("RegisterTaskDefinition failed")),
        "{reports:#?}"
    );
    assert_eq!(fake.revisions("web").len(), 2);
}

#[test]
fn the_fake_harness_gives_every_pushed_image_its_own_digest() {
    let harness = FakeHarness::with_images(&["1.0", "1.1"]);
    let digests: Vec<String> = (0..20)
        .map(|i| harness.push_image("other", &i.to_string()))
        .collect();
    let distinct: std::collections::BTreeSet<&String> = digests.iter().collect();
    assert_eq!(distinct.len(), 20);
    assert!(digests.iter().all(|d| d.len() == "sha256:".len() + 64));
}
