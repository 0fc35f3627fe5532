//! berth-aws and the engine's apply against the emulator through berth-testkit's
//! fault-injecting proxy (`faults`): throttling, 5xx answers, answers lost after ECS applied the
//! call, connection resets and latency, on every operation, seeded so a run is reproducible.
//!
//! What must hold under those faults: an estate converges, no task definition revision is
//! registered twice for one change (a lost RegisterTaskDefinition answer is looked up, not
//! retried blindly), no service gets two deployments for one change, and prune deletes with one
//! forced DeleteService. Every test asserts the faults it relies on were injected, so none
//! passes vacuously. The emulator itself is checked directly (not through the proxy).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use berth_aws::Aws;
use berth_core::live::Deployment;
use berth_core::live::ServiceEvent;
use berth_core::manifest::{LoadOptions, LoadOutcome, ServiceId, SourceFile, load};
use berth_core::plan::{Action, Ownership, plan};
use berth_core::render::Provenance;
use berth_engine::apply::{
    AppliedAction, ApplyObserver, ApplyOptions, ServiceOutcome, ServiceReport, apply,
};
use berth_engine::read_live;
use berth_engine::rollout::{RolloutObserver, RolloutTiming};
use berth_testkit::faults::{Fault, FaultPlan, FaultProxy, FaultRates};
use berth_testkit::{Emulator, TestAccount};
use serde_json::{Value, json};
use support::{adapter_through, berth_moto, emulator_account, revisions};

/// What this binary shares with `tests/aws.rs`.
mod support;

const REPOSITORY: &str = "https://github.com/acme/deploy.git";

/// The faults of the acceptance test, on every operation: 15 % throttling, 5 % 5xx, 5 % lost
/// answers, plus 2 % connection resets and 5 % of 20 ms latency.
const EVERY_OPERATION: FaultRates = FaultRates {
    throttle: 0.15,
    server_error: 0.05,
    lost_answer: 0.05,
    reset: 0.02,
    latency: 0.05,
    delay: Duration::from_millis(20),
};

/// Plan-and-apply rounds allowed to converge (a call can still fail after all its attempts;
/// the daemon would simply reconcile again).
const MAX_ROUNDS: usize = 6;

/// The faults' seed: `BERTH_FAULT_SEED` when set (to explore), else the one the assertions
/// were checked with.
fn seed() -> u64 {
    std::env::var("BERTH_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED)
}

/// A seed under which every kind of fault, and a lost answer of each mutating call that matters
/// (RegisterTaskDefinition, CreateService, UpdateService), happens.
const SEED: u64 = 5;

// --- emulator and adapter ----------------------------------------------------------------------

fn emulator_addr() -> SocketAddr {
    match Emulator::shared() {
        Ok(emulator) => emulator.addr(),
        Err(error) => panic!("{error}"),
    }
}

/// A fresh account with cluster `prod` and a 0.2 s rollout.
fn prepared_account() -> TestAccount {
    let account = emulator_account();
    berth_moto(&account, "rollout-seconds", json!(0.2));
    account
        .ecs("CreateCluster", json!({ "clusterName": "prod" }))
        .expect("CreateCluster");
    account
}

// --- manifests ---------------------------------------------------------------------------------

/// A service on EC2 with bridge networking running `nginx:<tag>`: no subnet ids (which moto makes
/// up at random) in any request, and nothing of the account in the spec (whose hash berth tags
/// services with), so every request body, hence every fault, is the same from run to run,
/// whichever account the test got.
fn manifest(name: &str, tag: &str) -> String {
    format!(
        "\
apiVersion: berth/v1
kind: Service
metadata:
  name: {name}
  cluster: prod
spec:
  desiredCount: 2
  launchType: EC2
  tags: [{{key: team, value: payments}}]
  taskDefinition:
    cpu: '256'
    memory: '512'
    networkMode: bridge
    requiresCompatibilities: [EC2]
    containerDefinitions:
      - name: app
        image: nginx:{tag}
        portMappings: [{{containerPort: 8080}}]
        environment: [{{name: SERVICE, value: {name}}}]
"
    )
}

fn estate(names: &[String], tag: &str) -> LoadOutcome {
    let files: Vec<SourceFile> = names
        .iter()
        .map(|name| SourceFile::new(format!("prod/{name}.yaml"), manifest(name, tag)))
        .collect();
    let outcome = load(&files, &LoadOptions::default());
    assert!(outcome.is_valid(), "{:#?}", outcome.invalid);
    outcome
}

fn names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("svc-{i:02}")).collect()
}

// --- applying ----------------------------------------------------------------------------------

/// Reports nothing; counts the task definitions each apply registered or reused.
#[derive(Default)]
struct Tally {
    registered: std::sync::Mutex<Vec<String>>,
}

impl RolloutObserver for Tally {
    fn event(&self, _: &ServiceId, _: &ServiceEvent) {}
    fn progress(&self, _: &ServiceId, _: &Deployment) {}
}

impl ApplyObserver for Tally {
    fn action(&self, _: &ServiceId, action: &AppliedAction) {
        if let AppliedAction::RegisteredTaskDefinition { arn } = action {
            self.registered.lock().expect("tally").push(arn.clone());
        }
    }
    fn finished(&self, _: &ServiceReport) {}
}

fn options(revision: &str) -> ApplyOptions {
    ApplyOptions {
        concurrency: 8,
        rollout: RolloutTiming {
            deadline: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
        },
        follow: false,
        provenance: Provenance {
            repository: REPOSITORY.into(),
            revision: Some(revision.into()),
        },
        ..ApplyOptions::default()
    }
}

/// What [`converge`] took.
#[derive(Debug, Default)]
struct Converged {
    /// Rounds that applied something.
    rounds: usize,
    /// Why services failed on the way, every round.
    failures: Vec<String>,
}

/// Plans and applies until the plan is empty, as the daemon would. Panics after
/// [`MAX_ROUNDS`].
async fn converge(aws: &Aws, outcome: &LoadOutcome, revision: &str) -> Converged {
    let mut converged = Converged::default();
    let ownership = Ownership::new(REPOSITORY);
    for round in 0..MAX_ROUNDS {
        let live = match read_live(aws, aws, &outcome.services, &outcome.invalid).await {
            Ok(live) => live,
            Err(error) => {
                eprintln!("round {round}: reading failed: {error}");
                continue;
            }
        };
        let plan = plan(&outcome.services, &outcome.invalid, &live, &ownership);
        if plan
            .services
            .iter()
            .all(|s| matches!(s.action, Action::NoChange))
        {
            converged.rounds = round;
            return converged;
        }
        let reports = apply(
            aws,
            &plan,
            &outcome.services,
            &live,
            &options(revision),
            &Tally::default(),
        )
        .await;
        let failed: Vec<String> = reports
            .iter()
            .filter_map(|r| match &r.outcome {
                ServiceOutcome::Failed { reason, .. } => Some(format!("{:?}: {reason}", r.id)),
                _ => None,
            })
            .collect();
        eprintln!("round {round}: {} failed {failed:#?}", failed.len());
        converged.failures.extend(failed);
    }
    panic!("not converged after {MAX_ROUNDS} rounds");
}

// --- what the emulator holds (read directly, without faults) -------------------------------------

/// Deployments each service has had: its "has started N tasks" events (one per deployment).
fn deployments(account: &TestAccount, names: &[String]) -> BTreeMap<String, usize> {
    let mut started = BTreeMap::new();
    for batch in names.chunks(10) {
        let described = account
            .ecs(
                "DescribeServices",
                json!({ "cluster": "prod", "services": batch }),
            )
            .expect("DescribeServices");
        for service in described["services"].as_array().into_iter().flatten() {
            let name = service["serviceName"].as_str().unwrap_or_default();
            let count = service["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| {
                    e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("has started"))
                })
                .count();
            started.insert(name.to_string(), count);
        }
    }
    started
}

fn injected_report(proxy: &FaultProxy) -> BTreeMap<String, u64> {
    proxy
        .injected_all()
        .into_iter()
        .map(|((operation, fault), n)| (format!("{operation} {fault:?}"), n))
        .collect()
}

// --- the tests ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_services_converge_under_faults_without_duplicate_revisions_or_deployments() {
    let account = prepared_account();
    let plan = FaultPlan::new(seed()).all(EVERY_OPERATION);
    let proxy = FaultProxy::start(emulator_addr(), plan)
        .await
        .expect("proxy");
    let aws = adapter_through(&account, &proxy).await;
    let names = names(20);

    let created = converge(&aws, &estate(&names, "1.27"), "c1").await;
    let updated = converge(&aws, &estate(&names, "1.28"), "c2").await;

    // Without faults: nothing left to do.
    proxy.set_plan(FaultPlan::new(0));
    let clean = converge(&aws, &estate(&names, "1.28"), "c2").await;
    assert_eq!(clean.rounds, 0);

    let duplicates: BTreeMap<&String, usize> = names
        .iter()
        .map(|name| (name, revisions(&account, name).len().saturating_sub(2)))
        .filter(|(_, extra)| *extra > 0)
        .collect();
    let deployments = deployments(&account, &names);
    let twice: BTreeMap<&String, &usize> = deployments.iter().filter(|(_, n)| **n != 2).collect();
    let forwarded_registers = proxy.forwarded_of("RegisterTaskDefinition").len();

    eprintln!(
        "rounds: create {}, update {}; injected: {:#?}; RegisterTaskDefinition \
         forwarded {forwarded_registers}; duplicate revisions {}: {duplicates:?}; services \
         without exactly 2 deployments: {twice:?}",
        created.rounds,
        updated.rounds,
        injected_report(&proxy),
        duplicates.values().sum::<usize>(),
    );

    for fault in Fault::ALL {
        assert!(proxy.injected_total(fault) > 0, "no {fault:?} injected");
    }
    for operation in ["RegisterTaskDefinition", "CreateService", "UpdateService"] {
        assert!(
            proxy.injected(operation, Fault::LostAnswer) > 0,
            "no {operation} answer was lost: {:#?}",
            injected_report(&proxy)
        );
    }
    assert!(duplicates.is_empty(), "duplicate revisions: {duplicates:?}");
    // A CreateService retried after its answer was lost is recognised by its clientToken.
    let not_idempotent: Vec<&String> = created
        .failures
        .iter()
        .filter(|f| f.contains("not idempotent"))
        .collect();
    assert!(not_idempotent.is_empty(), "{not_idempotent:#?}");
    assert_eq!(deployments.len(), 20, "{deployments:?}");
    assert!(twice.is_empty(), "deployments per service: {deployments:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_register_answer_is_looked_up_not_registered_again() {
    let account = prepared_account();
    let lost = FaultRates {
        lost_answer: 1.0,
        ..FaultRates::default()
    };
    let plan = FaultPlan::new(seed()).operation("RegisterTaskDefinition", lost);
    let proxy = FaultProxy::start(emulator_addr(), plan)
        .await
        .expect("proxy");
    let aws = adapter_through(&account, &proxy).await;
    let names = names(3);

    let rounds = converge(&aws, &estate(&names, "1.27"), "c1").await.rounds;

    let revisions: BTreeMap<&String, usize> = names
        .iter()
        .map(|name| (name, revisions(&account, name).len()))
        .collect();
    eprintln!(
        "rounds {rounds}; revisions {revisions:?}; {:#?}",
        injected_report(&proxy)
    );
    assert_eq!(
        proxy.injected("RegisterTaskDefinition", Fault::LostAnswer),
        3
    );
    assert_eq!(proxy.forwarded_of("RegisterTaskDefinition").len(), 3);
    assert!(revisions.values().all(|n| *n == 1), "{revisions:?}");
    assert_eq!(rounds, 1, "every service created in the first apply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_service_is_one_forced_call_even_for_a_running_service() {
    let account = prepared_account();
    let proxy = FaultProxy::start(emulator_addr(), FaultPlan::new(seed()))
        .await
        .expect("proxy");
    let aws = adapter_through(&account, &proxy).await;
    let names = names(1);
    converge(&aws, &estate(&names, "1.27"), "c1").await;
    let before = proxy.forwarded().len();

    let id = ServiceId::new("prod", &names[0]);
    aws.delete_service(&id).await.expect("DeleteService");
    // Asked again (as after a lost answer): still done.
    aws.delete_service(&id).await.expect("DeleteService again");

    let sent: Vec<(String, Value)> = proxy.forwarded()[before..]
        .iter()
        .map(|f| (f.operation.clone(), f.json()))
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    for (operation, body) in &sent {
        assert_eq!(operation, "DeleteService");
        assert_eq!(body["force"], json!(true), "{body}");
    }
    let described = account
        .ecs(
            "DescribeServices",
            json!({ "cluster": "prod", "services": [names[0]] }),
        )
        .expect("DescribeServices");
    assert_eq!(described["services"][0]["status"], "INACTIVE");
}
