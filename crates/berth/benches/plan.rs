//! Benchmark: `read_live` + `plan` of 500 in-sync services against the local ECS emulator
//! (moto + berth's extension, started by berth-testkit). Prints wall times, request counts by
//! operation and peak memory; not a timed test. Run with `cargo bench -p berth --bench plan`.
//!
//! The estate is created by berth's own `apply` (without following rollouts): 500 services in
//! 2 clusters, each with its own task definition family, images from 5 ECR repositories.
//! Then three "cold" plans, each with a new adapter (what a fresh `berth plan` process does:
//! nothing cached; a revision is read only when the service's `berth:task-definition` tag does
//! not prove it, which for services berth applied is never), and three "warm" plans with one
//! adapter (what the daemon does on every reconcile).

#[path = "support/manifest.rs"]
mod manifest_support;

#[path = "support/proc.rs"]
mod proc_support;

use manifest_support::BenchManifest;
use proc_support::status_kib;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use berth_aws::{Aws, AwsConfig};
use berth_core::live::{Deployment, ServiceEvent};
use berth_core::manifest::{LoadOptions, LoadOutcome, ServiceId, SourceFile, load};
use berth_core::plan::{Ownership, Plan, plan};
use berth_core::render::Provenance;
use berth_engine::apply::{AppliedAction, ApplyObserver, ApplyOptions, ServiceReport, apply};
use berth_engine::read_live;
use berth_engine::rollout::RolloutObserver;
use berth_testkit::{ACCOUNT_HEADER, Emulator, Network, TestAccount};

const SERVICES: usize = 500;
const CLUSTERS: [&str; 2] = ["bench-a", "bench-b"];
const REPOSITORIES: usize = 5;
const RUNS: usize = 3;
const SOURCE: &str = "git@example.com:acme/deploy.git";

fn manifest(account: &TestAccount, network: &Network, index: usize) -> String {
    let name = format!("svc-{index:03}");
    let cluster = CLUSTERS[index % CLUSTERS.len()];
    BenchManifest::new(account, network, name, cluster, index, index % REPOSITORIES)
        .with_load_balancer_and_secrets()
        .text()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_string(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

/// Resets this process's `VmHWM` to its current RSS (Linux: `5` to `clear_refs`), so the next
/// reading is the peak of what runs in between. Whether it worked.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Processes started by `pid`, and theirs (the emulator: a `sh` wrapper and its Python), from
/// `/proc/PID/task/*/children`.
fn descendants(pid: &str) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let children: Vec<String> = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut all = Vec::new();
    for child in children {
        let grandchildren = descendants(&child);
        all.push(child);
        all.extend(grandchildren);
    }
    all
}

async fn adapter(account: &TestAccount) -> Aws {
    let config = AwsConfig {
        region: Some(account.region().to_string()),
        endpoint_url: Some(account.endpoint()),
        max_attempts: 1,
        headers: vec![(ACCOUNT_HEADER.to_string(), account.id().to_string())],
        ..AwsConfig::default()
    };
    let loader = aws_config::defaults(BehaviorVersion::latest()).test_credentials();
    berth_aws::connect_with(&config, loader).await
}

struct Quiet;

impl RolloutObserver for Quiet {
    fn event(&self, _: &ServiceId, _: &ServiceEvent) {}
    fn progress(&self, _: &ServiceId, _: &Deployment) {}
}

impl ApplyObserver for Quiet {
    fn action(&self, _: &ServiceId, _: &AppliedAction) {}
    fn finished(&self, _: &ServiceReport) {}
}

fn ownership() -> Ownership {
    Ownership::new(SOURCE)
}

/// One `read_live` + `plan`; its wall time.
async fn timed_plan(aws: &Aws, outcome: &LoadOutcome) -> (Duration, Plan) {
    let start = Instant::now();
    let live = read_live(aws, aws, &outcome.services, &outcome.invalid)
        .await
        .expect("read live");
    let plan = plan(&outcome.services, &outcome.invalid, &live, &ownership());
    (start.elapsed(), plan)
}

fn assert_in_sync(plan: &Plan) {
    let counts = plan.counts();
    assert_eq!(
        counts.get("noChange"),
        Some(&SERVICES),
        "not all in sync: {counts:?}"
    );
}

fn requests(aws: &Aws) -> String {
    aws.counters()
        .snapshot()
        .into_iter()
        .map(|((operation, outcome), n)| format!("{operation}[{outcome}]={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn summary(label: &str, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: best {:.0} ms, median {:.0} ms (runs: {})",
        ms(times[0]),
        ms(times[times.len() / 2]),
        times
            .iter()
            .map(|t| format!("{:.0}", ms(*t)))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

async fn run() {
    println!("peak RSS at start: {}", mib(status_kib("self", "VmHWM")));
    let setup_start = Instant::now();
    let emulator = match Emulator::shared() {
        Ok(emulator) => emulator,
        Err(error) => panic!("{error}"),
    };
    let account = emulator.account();
    let network = account.default_network().expect("default VPC");
    for repository in 0..REPOSITORIES {
        account
            .push_image(&format!("app-{repository}"), "1.0")
            .expect("push");
    }
    let files: Vec<SourceFile> = (0..SERVICES)
        .map(|index| {
            SourceFile::new(
                format!("{}/svc-{index:03}.yaml", CLUSTERS[index % CLUSTERS.len()]),
                manifest(&account, &network, index),
            )
        })
        .collect();
    let outcome = load(&files, &LoadOptions::default());
    assert!(outcome.is_valid(), "{:#?}", outcome.invalid);
    assert_eq!(outcome.services.len(), SERVICES);

    // The estate, as berth would create it (tagged, digests pinned), without following
    // rollouts.
    let setup = adapter(&account).await;
    for cluster in CLUSTERS {
        setup
            .ecs_client()
            .create_cluster()
            .cluster_name(cluster)
            .send()
            .await
            .expect("CreateCluster");
    }
    let live = read_live(&setup, &setup, &outcome.services, &outcome.invalid)
        .await
        .expect("read live");
    let to_create = plan(&outcome.services, &outcome.invalid, &live, &ownership());
    assert_eq!(to_create.counts().get("create"), Some(&SERVICES));
    let options = ApplyOptions {
        concurrency: 16,
        follow: false,
        provenance: Provenance {
            repository: SOURCE.into(),
            revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
        },
        ..ApplyOptions::default()
    };
    let reports = apply(
        &setup,
        &to_create,
        &outcome.services,
        &live,
        &options,
        &Quiet,
    )
    .await;
    let created = reports
        .iter()
        .filter(|r| r.actions.contains(&AppliedAction::CreatedService))
        .count();
    assert_eq!(created, SERVICES, "{reports:#?}");
    println!(
        "setup: emulator + {SERVICES} services in {} clusters created by berth apply in {:.1} s ({})",
        CLUSTERS.len(),
        setup_start.elapsed().as_secs_f64(),
        requests(&setup)
    );
    drop(setup);
    println!(
        "peak RSS after setup: {} (current {})",
        mib(status_kib("self", "VmHWM")),
        mib(status_kib("self", "VmRSS"))
    );
    let reset = reset_peak_rss();

    // Cold: a new adapter each time, as a fresh `berth plan` process.
    let mut cold = Vec::new();
    for run in 0..RUNS {
        let aws = adapter(&account).await;
        let (elapsed, plan) = timed_plan(&aws, &outcome).await;
        assert_in_sync(&plan);
        println!(
            "cold run {run}: {:.0} ms; requests: {}",
            elapsed.as_secs_f64() * 1000.0,
            requests(&aws)
        );
        cold.push(elapsed);
    }

    // Warm: one adapter, as the daemon's reconciles (task definitions cached by ARN).
    let aws = adapter(&account).await;
    let (_, plan) = timed_plan(&aws, &outcome).await;
    assert_in_sync(&plan);
    let before: BTreeMap<_, _> = aws.counters().snapshot();
    let mut warm = Vec::new();
    for run in 0..RUNS {
        let (elapsed, plan) = timed_plan(&aws, &outcome).await;
        assert_in_sync(&plan);
        warm.push(elapsed);
        println!("warm run {run}: {:.0} ms", elapsed.as_secs_f64() * 1000.0);
    }
    let after = aws.counters().snapshot();
    let per_warm_run: Vec<String> = after
        .iter()
        .map(|(key, n)| {
            let delta = n - before.get(key).copied().unwrap_or(0);
            format!("{}[{}]={}", key.0, key.1, delta / RUNS as u64)
        })
        .collect();
    println!("requests per warm run: {}", per_warm_run.join(" "));

    let peak = status_kib("self", "VmHWM");
    println!(
        "peak RSS {} planning: {} (current {})",
        if reset {
            "while"
        } else {
            "up to and including"
        },
        mib(peak),
        mib(status_kib("self", "VmRSS"))
    );
    for process in descendants("self") {
        let name = std::fs::read_to_string(format!("/proc/{process}/comm")).unwrap_or_default();
        println!(
            "emulator process {process} ({}): peak RSS {}, current {}",
            name.trim(),
            mib(status_kib(&process, "VmHWM")),
            mib(status_kib(&process, "VmRSS"))
        );
    }
    summary(
        &format!("RESULT read_live+plan of {SERVICES} in-sync services, cold (new adapter)"),
        &mut cold,
    );
    summary(
        &format!("RESULT read_live+plan of {SERVICES} in-sync services, warm (cached revisions)"),
        &mut warm,
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}
