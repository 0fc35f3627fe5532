//! Benchmark (issue #11): merge to UpdateService under API latency. A 20-service image bump
//! done by `berth apply` (the built binary, as a process) and by ecs-deploy (`ecs deploy`, once
//! per service, one after the other, as CI pipelines run it) against the same local ECS
//! emulator, every AWS call of both delayed by the same fixed latency (50 ms) by
//! berth-testkit's proxy. Prints, per tool, the wall time from process start to the last
//! UpdateService the proxy forwarded, the calls by operation, and the ratio. Not a timed test.
//!
//! Run with `scripts/bench-latency.sh` (installs ecs-deploy, builds berth, runs this), or
//! `cargo bench -p berth --bench latency` with these variables:
//!
//! * `BERTH_BENCH_ECS`: the `ecs` executable of ecs-deploy; unset, only berth is measured (and
//!   the output says so).
//! * `BERTH_BENCH_BERTH`: the `berth` binary (default: the one cargo built for this bench).
//! * `BERTH_BENCH_LATENCY_MS` (default 50) and `BERTH_BENCH_ROLLOUT_SECONDS` (the emulator's
//!   rollout time, default 2).
//! * `BERTH_BENCH_CALLS=1`: also print every call (time, operation, what it is about).
//!
//! Each contender gets its own cluster of 20 services (each its own task definition family,
//! images from 5 ECR repositories), created beforehand by `berth apply` straight to the emulator;
//! the bump (`1.0` to `1.1`, both tags pushed) then goes through a fresh proxy per contender, so
//! the proxy's log holds exactly that contender's calls. berth runs twice: with its defaults (as
//! users run it: 8 services at a time, each slot held until its rollout completes, rollouts
//! polled every 5 s) and with `--concurrency 20` (every UpdateService without waiting for a
//! rollout: the calls' own critical path).

#[path = "support/manifest.rs"]
mod manifest_support;

#[path = "support/trace.rs"]
mod trace_support;

use manifest_support::BenchManifest;
use trace_support::Trace;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use berth_testkit::faults::{FaultPlan, FaultProxy};
use berth_testkit::{Emulator, Network, REGION, TestAccount};

const SERVICES: usize = 20;
const REPOSITORIES: usize = 5;
const OLD_TAG: &str = "1.0";
const NEW_TAG: &str = "1.1";
/// The container every [`BenchManifest`] runs.
const CONTAINER: &str = "app";

/// Who does the bump, in a cluster of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contender {
    /// `berth apply`, with `--concurrency` when given.
    Berth { concurrency: Option<usize> },
    /// `ecs deploy` once per service.
    EcsDeploy,
}

impl Contender {
    fn cluster(self) -> &'static str {
        match self {
            Contender::Berth { concurrency: None } => "berth",
            Contender::Berth {
                concurrency: Some(_),
            } => "berth-wide",
            Contender::EcsDeploy => "ecs-deploy",
        }
    }

    fn label(self) -> String {
        match self {
            Contender::Berth { concurrency: None } => "berth apply (defaults)".into(),
            Contender::Berth {
                concurrency: Some(n),
            } => format!("berth apply --concurrency {n}"),
            Contender::EcsDeploy => format!("ecs-deploy 1.17.0 ({SERVICES} × ecs deploy)"),
        }
    }

    fn service(self, index: usize) -> String {
        format!("{}-{index:02}", self.cluster())
    }
}

/// The programs under test and the conditions, from the environment.
struct Setup {
    berth: PathBuf,
    ecs: Option<PathBuf>,
    latency: Duration,
    rollout_seconds: f64,
    dump_calls: bool,
}

fn setup() -> Setup {
    let berth = std::env::var_os("BERTH_BENCH_BERTH")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_berth")), PathBuf::from);
    assert!(berth.is_file(), "no berth binary at {}", berth.display());
    let ecs = std::env::var_os("BERTH_BENCH_ECS").map(PathBuf::from);
    if let Some(ecs) = &ecs {
        assert!(
            ecs.is_file(),
            "BERTH_BENCH_ECS={}: no such file (scripts/bench-latency.sh installs ecs-deploy)",
            ecs.display()
        );
    }
    let number = |name: &str, default: f64| -> f64 {
        std::env::var(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
    };
    Setup {
        berth,
        ecs,
        latency: Duration::from_secs_f64(number("BERTH_BENCH_LATENCY_MS", 50.0) / 1000.0),
        rollout_seconds: number("BERTH_BENCH_ROLLOUT_SECONDS", 2.0),
        dump_calls: std::env::var_os("BERTH_BENCH_CALLS").is_some_and(|v| v == "1"),
    }
}

fn image(account: &TestAccount, index: usize, tag: &str) -> String {
    format!(
        "{}.dkr.ecr.{REGION}.amazonaws.com/app-{}:{tag}",
        account.id(),
        index % REPOSITORIES
    )
}

/// Writes the contender's 20 manifests at `tag` into `root/<cluster>/` and returns that
/// directory (rewritten in place for the bump, so berth sees the same files change).
fn write_estate(
    root: &Path,
    account: &TestAccount,
    network: &Network,
    contender: Contender,
    tag: &str,
) -> PathBuf {
    let dir = root.join(contender.cluster());
    std::fs::create_dir_all(&dir).expect("manifest directory");
    for index in 0..SERVICES {
        let name = contender.service(index);
        let text = BenchManifest::new(
            account,
            network,
            &name,
            contender.cluster(),
            index,
            index % REPOSITORIES,
        )
        .tag(tag)
        .text();
        std::fs::write(dir.join(format!("{name}.yaml")), text).expect("write manifest");
    }
    dir
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `berth apply <dir> --yes` against `endpoint`, with static credentials and nothing from this
/// machine's AWS configuration; panics unless it exits 0.
fn berth_apply(berth: &Path, endpoint: &str, dir: &Path, source_id: &str, extra: &[&str]) {
    let output = berth_testkit::isolate_aws_environment(&mut Command::new(berth))
        .arg("apply")
        .arg(dir)
        .args(["--yes", "--source-id", source_id])
        .args(["--endpoint-url", endpoint, "--region", REGION])
        .args(extra)
        .output()
        .expect("run berth");
    assert!(
        output.status.success(),
        "berth apply: {}",
        describe(&output)
    );
}

/// `ecs deploy <cluster> <service> --image app <image> --timeout -1` for each service in turn,
/// as a CI job runs it: a Python process per service, boto3 sent to `endpoint` by
/// `AWS_ENDPOINT_URL`. Panics unless each exits 0.
fn ecs_deploy_all(ecs: &Path, endpoint: &str, account: &TestAccount) {
    let cluster = Contender::EcsDeploy.cluster();
    for index in 0..SERVICES {
        let service = Contender::EcsDeploy.service(index);
        let output = berth_testkit::isolate_aws_environment(&mut Command::new(ecs))
            .args(["deploy", cluster, &service, "--image", CONTAINER])
            .arg(image(account, index, NEW_TAG))
            .args(["--timeout", "-1"])
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_REGION", REGION)
            .output()
            .expect("run ecs deploy");
        assert!(
            output.status.success(),
            "ecs deploy {cluster} {service}: {}",
            describe(&output)
        );
    }
}

/// What one contender's bump measured.
struct Measured {
    contender: Contender,
    /// Process start to the last UpdateService sent to the emulator.
    to_last_update: Duration,
    /// Process start to the (last) process's exit.
    exit: Duration,
    trace: Trace,
}

/// Runs `bump` (given the proxy's endpoint) with every call delayed by `latency`, and reads
/// from the proxy's log when each call was sent.
fn measure(
    runtime: &tokio::runtime::Runtime,
    emulator: &Emulator,
    setup: &Setup,
    contender: Contender,
    bump: impl FnOnce(&str),
) -> Measured {
    let proxy = runtime
        .block_on(FaultProxy::start(
            emulator.addr(),
            FaultPlan::fixed_latency(setup.latency),
        ))
        .expect("start the latency proxy");
    let start = Instant::now();
    bump(&proxy.endpoint());
    let exit = start.elapsed();
    let trace = Trace::new(start, &proxy.forwarded());
    let updates = trace.get("UpdateService").expect("no UpdateService sent");
    assert_eq!(
        updates.count,
        SERVICES,
        "{}: {:?}",
        contender.label(),
        trace
    );
    let measured = Measured {
        contender,
        to_last_update: updates.last,
        exit,
        trace,
    };
    println!(
        "\n{}: last UpdateService at {:.2} s, exit at {:.2} s, {} calls",
        contender.label(),
        measured.to_last_update.as_secs_f64(),
        exit.as_secs_f64(),
        measured.trace.calls.len()
    );
    println!("  {}", measured.trace.chain());
    if setup.dump_calls {
        print!("{}", measured.trace.dump());
    }
    measured
}

/// The emulator's settings endpoint for moto's default account (the one both CLIs reach: they
/// send no account header).
fn set(account: &TestAccount, setting: &str, body: serde_json::Value) {
    account
        .berth_moto(setting, &body)
        .unwrap_or_else(|e| panic!("berth-moto {setting}: {e}"));
}

/// Clusters, both tags in every repository, and every contender's services at the old tag
/// (created by berth straight to the emulator, rollouts followed, so all start settled).
fn prepare(emulator: &Emulator, setup: &Setup, root: &Path, contenders: &[Contender]) {
    let account = emulator.default_account();
    set(
        &account,
        "rollout-seconds",
        serde_json::json!(setup.rollout_seconds),
    );
    for repository in 0..REPOSITORIES {
        for tag in [OLD_TAG, NEW_TAG] {
            account
                .push_image(&format!("app-{repository}"), tag)
                .expect("push image");
        }
    }
    let network = account.default_network().expect("default VPC");
    for contender in contenders {
        account
            .ecs(
                "CreateCluster",
                serde_json::json!({ "clusterName": contender.cluster() }),
            )
            .expect("CreateCluster");
        let dir = write_estate(root, &account, &network, *contender, OLD_TAG);
        berth_apply(
            &setup.berth,
            &emulator.endpoint(),
            &dir,
            contender.cluster(),
            &["--concurrency", "20", "--poll-interval", "250ms"],
        );
    }
}

/// The bump by one contender, measured.
fn bump(
    runtime: &tokio::runtime::Runtime,
    emulator: &Emulator,
    setup: &Setup,
    root: &Path,
    contender: Contender,
) -> Measured {
    let account = emulator.default_account();
    let network = account.default_network().expect("default VPC");
    match contender {
        Contender::Berth { concurrency } => {
            let dir = write_estate(root, &account, &network, contender, NEW_TAG);
            let wide = concurrency.map(|n| n.to_string());
            let extra: Vec<&str> = wide
                .as_deref()
                .map_or_else(Vec::new, |n| vec!["--concurrency", n]);
            measure(runtime, emulator, setup, contender, |endpoint| {
                berth_apply(&setup.berth, endpoint, &dir, contender.cluster(), &extra);
            })
        }
        Contender::EcsDeploy => {
            let ecs = setup.ecs.as_deref().expect("ecs-deploy's executable");
            measure(runtime, emulator, setup, contender, |endpoint| {
                ecs_deploy_all(ecs, endpoint, &account);
            })
        }
    }
}

/// The results as Markdown tables (pasted into docs/performance.md).
fn print_tables(results: &[Measured], setup: &Setup) {
    let reference = results
        .iter()
        .find(|m| m.contender == Contender::EcsDeploy)
        .map(|m| m.to_last_update);
    println!(
        "\nRESULT {SERVICES}-service image bump, {} ms per AWS call, emulator rollouts {} s\n",
        setup.latency.as_millis(),
        setup.rollout_seconds
    );
    println!(
        "| tool | process start → last UpdateService | process exit | AWS calls to last UpdateService | all AWS calls | ecs-deploy ÷ tool |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for m in results {
        let ratio = reference.map_or_else(
            || "(ecs-deploy not run)".to_string(),
            |r| format!("{:.1}×", r.as_secs_f64() / m.to_last_update.as_secs_f64()),
        );
        println!(
            "| {} | {:.2} s | {:.2} s | {} | {} | {ratio} |",
            m.contender.label(),
            m.to_last_update.as_secs_f64(),
            m.exit.as_secs_f64(),
            m.trace.calls_until(m.to_last_update),
            m.trace.calls.len()
        );
    }
    let operations: BTreeSet<String> = results
        .iter()
        .flat_map(|m| m.trace.counts().into_keys())
        .collect();
    let header: Vec<String> = results.iter().map(|m| m.contender.label()).collect();
    println!("\n| AWS calls by operation | {} |", header.join(" | "));
    println!("| --- |{}", " ---: |".repeat(results.len()));
    for operation in &operations {
        let counts: Vec<String> = results
            .iter()
            .map(|m| m.trace.get(operation).map_or(0, |o| o.count).to_string())
            .collect();
        println!("| {operation} | {} |", counts.join(" | "));
    }
}

fn main() {
    let setup = setup();
    let mut contenders = vec![
        Contender::Berth { concurrency: None },
        Contender::Berth {
            concurrency: Some(SERVICES),
        },
    ];
    match &setup.ecs {
        Some(ecs) => {
            println!("ecs-deploy: {}", ecs.display());
            contenders.push(Contender::EcsDeploy);
        }
        None => println!(
            "ecs-deploy NOT MEASURED: BERTH_BENCH_ECS is unset (scripts/bench-latency.sh installs \
             ecs-deploy and sets it); measuring berth only"
        ),
    }
    println!("berth: {}", setup.berth.display());
    // The proxy forwards on tokio's blocking pool: a multi-threaded runtime, kept for the run.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let emulator = Emulator::start().expect("emulator");
    let root = tempfile::tempdir().expect("tempdir");
    prepare(&emulator, &setup, root.path(), &contenders);
    println!(
        "estate ready in {:.1} s: {} clusters of {SERVICES} services",
        started.elapsed().as_secs_f64(),
        contenders.len()
    );
    let results: Vec<Measured> = contenders
        .iter()
        .map(|c| bump(&runtime, &emulator, &setup, root.path(), *c))
        .collect();
    print_tables(&results, &setup);
    println!("\ntotal bench {:.1} s", started.elapsed().as_secs_f64());
}
