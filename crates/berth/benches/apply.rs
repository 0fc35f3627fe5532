//! Benchmark: an image bump applied to 50 services against the local ECS emulator (moto +
//! berth's extension, started by berth-testkit), rollouts followed to COMPLETED. Prints wall
//! times, API calls by operation and peak memory; not a timed test. Run with
//! `cargo bench -p berth --bench apply`.
//!
//! The 50 services (one cluster, each its own task definition family, images from 5 ECR
//! repositories) are created by berth's own apply. Then every image tag is bumped and applied
//! as `berth apply` does it: a new adapter (nothing cached), read the live state, plan, apply
//! with the default concurrency (8) and follow every rollout. The emulator's rollouts take
//! 0.5 s and berth polls every 250 ms (production: rollouts take minutes and berth polls every
//! 5 s, so there wall time is the rollouts', and the calls per rollout scale with its length).
//! A second bump runs with concurrency 50 for comparison.

#[path = "support/manifest.rs"]
mod manifest_support;

#[path = "support/proc.rs"]
mod proc_support;

use manifest_support::BenchManifest;
use proc_support::status_kib;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use berth_aws::{Aws, AwsConfig};
use berth_core::live::{Deployment, ServiceEvent};
use berth_core::manifest::{LoadOptions, LoadOutcome, ServiceId, SourceFile, load};
use berth_core::plan::{Action, Ownership, plan};
use berth_core::render::Provenance;
use berth_engine::apply::{
    AppliedAction, ApplyObserver, ApplyOptions, ServiceOutcome, ServiceReport, apply,
};
use berth_engine::read_live_to_apply as read_live;
use berth_engine::rollout::{RolloutObserver, RolloutTiming};
use berth_testkit::{ACCOUNT_HEADER, Emulator, Network, TestAccount};

const SERVICES: usize = 50;
const REPOSITORIES: usize = 5;
const CLUSTER: &str = "bench";
const SOURCE: &str = "git@example.com:acme/deploy.git";
const ROLLOUT_SECONDS: f64 = 0.5;
const POLL: Duration = Duration::from_millis(250);

fn manifest(account: &TestAccount, network: &Network, index: usize, tag: &str) -> String {
    let name = format!("svc-{index:02}");
    BenchManifest::new(account, network, name, CLUSTER, index, index % REPOSITORIES)
        .tag(tag)
        .text()
}

fn estate(account: &TestAccount, network: &Network, tag: &str) -> LoadOutcome {
    let files: Vec<SourceFile> = (0..SERVICES)
        .map(|index| {
            SourceFile::new(
                format!("{CLUSTER}/svc-{index:02}.yaml"),
                manifest(account, network, index, tag),
            )
        })
        .collect();
    let outcome = load(&files, &LoadOptions::default());
    assert!(outcome.is_valid(), "{:#?}", outcome.invalid);
    outcome
}

/// Peak resident set size of this process so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    status_kib("self", "VmHWM")
}

async fn adapter(account: &TestAccount) -> Aws {
    let config = AwsConfig {
        region: Some(account.region().to_string()),
        endpoint_url: Some(account.endpoint()),
        headers: vec![(ACCOUNT_HEADER.to_string(), account.id().to_string())],
        ..AwsConfig::default()
    };
    let loader = aws_config::defaults(BehaviorVersion::latest()).test_credentials();
    berth_aws::connect_with(&config, loader).await
}

fn set(account: &TestAccount, setting: &str, body: serde_json::Value) {
    account
        .berth_moto(setting, &body)
        .unwrap_or_else(|e| panic!("berth-moto {setting}: {e}"));
}

/// Counts what apply reports.
#[derive(Default)]
struct Tally {
    events: AtomicUsize,
    polls: AtomicUsize,
    actions: AtomicUsize,
}

impl RolloutObserver for Tally {
    fn event(&self, _: &ServiceId, _: &ServiceEvent) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }
    fn progress(&self, _: &ServiceId, _: &Deployment) {
        self.polls.fetch_add(1, Ordering::Relaxed);
    }
}

impl ApplyObserver for Tally {
    fn action(&self, _: &ServiceId, _: &AppliedAction) {
        self.actions.fetch_add(1, Ordering::Relaxed);
    }
    fn finished(&self, _: &ServiceReport) {}
}

fn options(concurrency: usize, revision: &str) -> ApplyOptions {
    ApplyOptions {
        concurrency,
        rollout: RolloutTiming {
            deadline: Duration::from_secs(120),
            poll_interval: POLL,
        },
        follow: true,
        provenance: Provenance {
            repository: SOURCE.into(),
            revision: Some(revision.into()),
        },
        ..ApplyOptions::default()
    }
}

fn calls(aws: &Aws) -> (BTreeMap<String, u64>, u64, u64) {
    let mut by_operation = BTreeMap::new();
    let (mut total, mut failed) = (0, 0);
    for ((operation, outcome), n) in aws.counters().snapshot() {
        *by_operation.entry(operation).or_default() += n;
        total += n;
        if outcome != berth_aws::SUCCESS {
            failed += n;
        }
    }
    (by_operation, total, failed)
}

/// One `berth apply`: a new adapter, read, plan, apply, follow. Returns the wall time.
async fn apply_once(
    account: &TestAccount,
    outcome: &LoadOutcome,
    concurrency: usize,
    revision: &str,
    label: &str,
) -> Duration {
    let aws = adapter(account).await;
    let tally = Tally::default();
    let started = Instant::now();
    let live = read_live(&aws, &aws, &outcome.services, &outcome.invalid)
        .await
        .expect("read live");
    let plan = plan(
        &outcome.services,
        &outcome.invalid,
        &live,
        &Ownership::new(SOURCE),
    );
    let planned = started.elapsed();
    let counts = plan.counts();
    let reports = apply(
        &aws,
        &plan,
        &outcome.services,
        &live,
        &options(concurrency, revision),
        &tally,
    )
    .await;
    let wall = started.elapsed();
    let synced = reports
        .iter()
        .filter(|r| r.outcome == ServiceOutcome::Synced)
        .count();
    assert_eq!(synced, SERVICES, "{reports:#?}");
    let (by_operation, total, failed) = calls(&aws);
    println!("\n{label} (concurrency {concurrency}):");
    println!("  plan {counts:?}");
    println!(
        "  wall time {:.2} s (read + plan {:.2} s, apply + rollouts {:.2} s); {synced}/{SERVICES} Synced",
        wall.as_secs_f64(),
        planned.as_secs_f64(),
        (wall - planned).as_secs_f64()
    );
    println!(
        "  {total} API calls ({failed} failed), {:.1} per service; {} actions, {} rollout polls, {} ECS events",
        total as f64 / SERVICES as f64,
        tally.actions.load(Ordering::Relaxed),
        tally.polls.load(Ordering::Relaxed),
        tally.events.load(Ordering::Relaxed)
    );
    for (operation, n) in &by_operation {
        println!("    {operation:<24} {n:>5}");
    }
    wall
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let emulator = Emulator::start().expect("emulator");
    let account = emulator.account();
    set(
        &account,
        "rollout-seconds",
        serde_json::json!(ROLLOUT_SECONDS),
    );
    account
        .ecs(
            "CreateCluster",
            serde_json::json!({ "clusterName": CLUSTER }),
        )
        .expect("CreateCluster");
    for repository in 0..REPOSITORIES {
        for tag in ["1.0", "1.1", "1.2"] {
            account
                .push_image(&format!("app-{repository}"), tag)
                .expect("push");
        }
    }
    let network = account.default_network().expect("default VPC");
    println!(
        "emulator ready in {:.1} s: {SERVICES} services, {REPOSITORIES} repositories, rollouts {ROLLOUT_SECONDS} s, polls every {} ms",
        started.elapsed().as_secs_f64(),
        POLL.as_millis()
    );

    runtime.block_on(async {
        let initial = estate(&account, &network, "1.0");
        apply_once(&account, &initial, 8, "c1", "create 50 services").await;

        let peak_before = peak_rss_kib();
        let bumped = estate(&account, &network, "1.1");
        let wall = apply_once(&account, &bumped, 8, "c2", "image bump, 50 services").await;
        let peak = peak_rss_kib();

        let again = estate(&account, &network, "1.2");
        let wide = apply_once(&account, &again, SERVICES, "c3", "image bump, 50 services").await;

        // Settled: a plan after the bump is clean.
        let aws = adapter(&account).await;
        let live = read_live(&aws, &aws, &again.services, &again.invalid)
            .await
            .expect("read");
        let after = plan(
            &again.services,
            &again.invalid,
            &live,
            &Ownership::new(SOURCE),
        );
        assert!(
            after
                .services
                .iter()
                .all(|s| matches!(s.action, Action::NoChange)),
            "{after:#?}"
        );
        println!(
            "\nRESULT image bump of {SERVICES} services: {:.2} s at concurrency 8, {:.2} s at {SERVICES}; \
             peak RSS {:.1} MiB (before the bump: {:.1} MiB); total bench {:.1} s",
            wall.as_secs_f64(),
            wide.as_secs_f64(),
            peak.unwrap_or(0) as f64 / 1024.0,
            peak_before.unwrap_or(0) as f64 / 1024.0,
            started.elapsed().as_secs_f64()
        );
    });
}
