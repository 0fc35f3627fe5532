//! Applying to live (emulated) ECS: the calls berth makes and how rollouts end.
//!
//! Issue 4's acceptance against the emulator (moto + berth's extension, which gives
//! deployments a life: a new PRIMARY on every task definition change, COMPLETED after the
//! account's rollout time, a circuit-breaker rollback with ECS-worded events for failing images).
//! The scenarios shared with the in-process fake are `berth_testkit::scenarios`, run here on
//! [`EmulatorHarness`]; the tests after them are the emulator's own. Each test works in its own
//! account with a short rollout time (0.2 s) and follows rollouts every 100 ms. Mutating calls
//! are counted with the adapter's own counters.

use std::sync::Mutex;
use std::time::Instant;

use berth_aws::Aws;
use berth_core::manifest::{SourceFile, Vars};
use berth_core::plan::Action;
use berth_engine::apply::{AppliedAction, ServiceOutcome};
use berth_testkit::scenarios::{
    self, Log, Mutations, Recorded, ScenarioHarness, ScenarioService, apply_commit, describe,
    estate, load_valid, mutations_since, plan_and_apply, plan_only, report_of,
};
use berth_testkit::{Network, TestAccount};
use serde_json::json;

use super::support::{berth_moto, emulator_account, revisions};
use super::{adapter, counts};

/// Rollout time of every test account, in seconds.
const ROLLOUT_SECONDS: f64 = 0.2;

/// The scenarios' backend on the emulator: a fresh account with clusters `prod` and `staging`
/// and the short rollout time, reached through one [`Aws`] adapter per berth "process".
struct EmulatorHarness {
    account: TestAccount,
    network: Network,
    /// Every adapter made so far, oldest first; the last is the current process's.
    processes: Vec<Aws>,
    /// `repository:tag` of the images made to fail (berth-moto takes the whole list at once).
    failing: Mutex<Vec<String>>,
}

impl EmulatorHarness {
    async fn new() -> Self {
        let account = emulator_account();
        berth_moto(&account, "rollout-seconds", json!(ROLLOUT_SECONDS));
        for cluster in ["prod", "staging"] {
            account
                .ecs("CreateCluster", json!({ "clusterName": cluster }))
                .expect("CreateCluster");
        }
        let network = account.default_network().expect("default VPC");
        let aws = adapter(&account).await;
        EmulatorHarness {
            account,
            network,
            processes: vec![aws],
            failing: Mutex::new(Vec::new()),
        }
    }

    /// The current process's adapter.
    fn aws(&self) -> &Aws {
        self.processes.last().expect("an adapter from the start")
    }
}

impl ScenarioHarness for EmulatorHarness {
    type Ecs = Aws;
    type Registry = Aws;

    fn ecs(&self) -> &Aws {
        self.aws()
    }

    fn registry(&self) -> &Aws {
        self.aws()
    }

    fn vars(&self) -> Vars {
        [
            ("ACCOUNT", self.account.id().to_string()),
            ("REGION", self.account.region().to_string()),
            ("SUBNET_A", self.network.subnets[0].clone()),
            ("SUBNET_B", self.network.subnets[1].clone()),
            ("SECURITY_GROUP", self.network.security_group.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn push_image(&self, repository: &str, tag: &str) -> String {
        self.account
            .push_image(repository, tag)
            .expect("push image")
    }

    fn fail_image(&self, repository: &str, tag: &str) {
        let mut failing = self.failing.lock().expect("failing images lock");
        failing.push(format!("{repository}:{tag}"));
        berth_moto(&self.account, "failing-images", json!(*failing));
    }

    fn mutations(&self) -> Mutations {
        let accepted = |aws: &Aws, op: &str| counts(aws, op).get("success").copied().unwrap_or(0);
        scenarios::count_mutations(|op| self.processes.iter().map(|aws| accepted(aws, op)).sum())
    }

    fn revisions(&self, family: &str) -> Vec<String> {
        revisions(&self.account, family)
    }

    async fn restart(&mut self) {
        let aws = adapter(&self.account).await;
        self.processes.push(aws);
    }
}

// --- the scenarios shared with the fake ----------------------------------------------------------

#[tokio::test]
async fn a_fresh_estate_is_created_then_a_second_apply_changes_nothing() {
    let mut harness = EmulatorHarness::new().await;
    let started = Instant::now();
    scenarios::a_fresh_estate_is_created_then_a_second_apply_changes_nothing(&mut harness).await;
    println!(
        "example estate: created, planned and applied twice more in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_image_bump_in_one_of_five_services_registers_once_and_updates_once() {
    scenarios::an_image_bump_in_one_of_five_services_registers_once_and_updates_once(
        &mut EmulatorHarness::new().await,
    )
    .await;
}

#[tokio::test]
async fn a_process_killed_right_after_register_leaves_no_duplicate_revision() {
    scenarios::a_process_killed_right_after_register_leaves_no_duplicate_revision(
        &mut EmulatorHarness::new().await,
    )
    .await;
}

#[tokio::test]
async fn a_failing_image_is_rolled_back_and_reported_with_ecs_events_while_others_converge() {
    scenarios::a_failing_image_is_rolled_back_and_reported_with_ecs_events_while_others_converge(
        &mut EmulatorHarness::new().await,
    )
    .await;
}

#[tokio::test]
async fn a_missing_image_fails_before_registering_and_others_apply() {
    scenarios::a_missing_image_fails_before_registering_and_others_apply(
        &mut EmulatorHarness::new().await,
    )
    .await;
}

#[tokio::test]
async fn a_dependent_is_updated_after_its_dependency_completes_and_skipped_when_it_fails() {
    scenarios::a_dependent_is_updated_after_its_dependency_completes_and_skipped_when_it_fails(
        &mut EmulatorHarness::new().await,
    )
    .await;
}

#[tokio::test]
async fn berths_own_service_is_changed_after_every_other_service() {
    scenarios::berths_own_service_is_changed_after_every_other_service(
        &mut EmulatorHarness::new().await,
    )
    .await;
}

#[tokio::test]
async fn a_stop_mid_apply_finishes_the_service_in_flight_and_starts_no_other() {
    scenarios::a_stop_mid_apply_finishes_the_service_in_flight_and_starts_no_other(
        &mut EmulatorHarness::new().await,
    )
    .await;
}

// --- the emulator's own --------------------------------------------------------------------------

#[tokio::test]
async fn a_scaling_is_followed_until_the_new_tasks_run() {
    let harness = EmulatorHarness::new().await;
    harness.push_image("app", "1.0");
    let vars = harness.vars();
    let services = [ScenarioService::new("worker", "app:1.0")];
    apply_commit(&harness, &estate(&services, &vars), "one", &Log::default()).await;

    // Scaling out takes a whole second here: the apply must wait for the tasks.
    berth_moto(&harness.account, "rollout-seconds", json!(1.0));
    let mut next = services.to_vec();
    next[0].desired = 4;
    let log = Log::default();
    let started = Instant::now();
    let reports = apply_commit(&harness, &estate(&next, &vars), "two", &log).await;
    let took = started.elapsed();
    let worker = describe(harness.aws(), "prod", "worker").await;
    println!("scaling 2 -> 4 followed for {took:?}: {:#?}", log.lines());
    assert_eq!(
        report_of(&reports, "prod", "worker").outcome,
        ServiceOutcome::Synced
    );
    assert_eq!(
        (worker.running_count, worker.pending_count),
        (4, 0),
        "Synced while tasks were still starting (after {took:?})"
    );
}

#[tokio::test]
async fn settings_and_tags_dropped_from_a_manifest_are_reset_and_the_next_plan_is_clean() {
    let harness = EmulatorHarness::new().await;
    harness.push_image("app", "1.0");
    let vars = harness.vars();
    let aws = harness.aws();
    let base = ScenarioService::new("web", "app:1.0").yaml();
    let full = base.replace(
        "  tags: [{key: team, value: payments}]\n",
        "  tags: [{key: team, value: payments}, {key: tier, value: gold}]\n  \
         healthCheckGracePeriodSeconds: 60\n  propagateTags: SERVICE\n  enableExecuteCommand: true\n",
    );
    let file = |text: String| load_valid(&[SourceFile::new("prod/web.yaml", text)], &vars);
    let reports = apply_commit(&harness, &file(full.clone()), "one", &Log::default()).await;
    assert_eq!(reports[0].outcome, ServiceOutcome::Synced, "{reports:#?}");
    let created = describe(aws, "prod", "web").await;
    assert_eq!(created.spec.health_check_grace_period_seconds, Some(60));
    assert_eq!(created.spec.enable_execute_command, Some(true));

    // Everything optional dropped again, the circuit breaker too, and one tag value changed.
    let trimmed = base
        .replace(
            "  tags: [{key: team, value: payments}]\n",
            "  tags: [{key: team, value: platform}]\n",
        )
        .replace(
            "    deploymentCircuitBreaker: {enable: true, rollback: true}\n",
            "",
        );
    let trimmed = file(trimmed);
    let before = harness.mutations();
    let reports = apply_commit(&harness, &trimmed, "two", &Log::default()).await;
    let report = &reports[0];
    println!("{report:#?}");
    assert_eq!(report.outcome, ServiceOutcome::Synced, "{report:#?}");
    assert_eq!(
        report.actions,
        [
            AppliedAction::UpdatedService {
                fields: [
                    "deploymentConfiguration",
                    "enableExecuteCommand",
                    "healthCheckGracePeriodSeconds",
                    "propagateTags"
                ]
                .map(String::from)
                .to_vec()
            },
            AppliedAction::TaggedService,
            AppliedAction::UntaggedService {
                keys: vec!["tier".into()]
            },
        ]
    );
    let one_each = [
        ("TagResource", 1),
        ("UntagResource", 1),
        ("UpdateService", 1),
    ];
    assert_eq!(
        mutations_since(&before, &harness.mutations()),
        Mutations::from(one_each)
    );

    let live = describe(aws, "prod", "web").await;
    assert_eq!(live.spec.health_check_grace_period_seconds.unwrap_or(0), 0);
    assert_eq!(live.spec.enable_execute_command, Some(false));
    assert_eq!(
        live.spec
            .propagate_tags
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("NONE")
    );
    let breaker = live
        .spec
        .deployment_configuration
        .as_ref()
        .and_then(|c| c.deployment_circuit_breaker.as_ref())
        .expect("ECS reports the circuit breaker");
    assert!(!breaker.enable && !breaker.rollback, "{breaker:?}");
    assert_eq!(live.tags.get("tier"), None, "{:?}", live.tags);
    assert_eq!(live.tags.get("team").map(String::as_str), Some("platform"));
    assert_eq!(
        live.tags.get("berth:revision").map(String::as_str),
        Some("two")
    );

    let (plan, _) = plan_only(aws, aws, &trimmed).await;
    assert_eq!(plan.services[0].action, Action::NoChange, "{plan:#?}");
    let before = harness.mutations();
    apply_commit(&harness, &trimmed, "two", &Log::default()).await;
    assert_eq!(harness.mutations(), before, "converged: nothing more to do");
}

#[tokio::test]
async fn a_suspended_service_is_reported_and_never_changed() {
    let harness = EmulatorHarness::new().await;
    harness.push_image("app", "1.0");
    harness.push_image("app", "1.1");
    let vars = harness.vars();
    let services = scenarios::services(&["web", "api"], |_| "app:1.0".into());
    apply_commit(&harness, &estate(&services, &vars), "one", &Log::default()).await;

    let mut next = services.clone();
    for service in &mut next {
        service.image = "app:1.1".into();
        service.desired = 3;
    }
    next[0].suspend = true;
    let recorded = Recorded::new(harness.aws());
    let reports = plan_and_apply(
        &recorded,
        harness.aws(),
        &estate(&next, &vars),
        &scenarios::options("two"),
        &Log::default(),
    )
    .await;
    let web = report_of(&reports, "prod", "web");
    let ServiceOutcome::Skipped { reason } = &web.outcome else {
        panic!("{web:#?}")
    };
    assert!(reason.contains("suspended"), "{reason}");
    assert!(web.actions.is_empty());
    assert_eq!(recorded.mutating_on("web"), [], "{:?}", recorded.calls());
    assert_eq!(harness.revisions("web").len(), 1);
    let live = describe(harness.aws(), "prod", "web").await;
    assert_eq!(live.spec.desired_count, Some(2));
    assert_eq!(
        report_of(&reports, "prod", "api").outcome,
        ServiceOutcome::Synced
    );
    assert_eq!(harness.revisions("api").len(), 2);
}
