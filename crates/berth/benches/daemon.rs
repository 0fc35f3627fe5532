//! Benchmark: the `berth run` daemon with 500 services in sync, against the local ECS emulator
//! (moto + berth's extension, started by berth-testkit). Prints RSS after 10 reconciles, AWS
//! calls per steady-state reconcile, and CPU per reconcile and between reconciles; not a timed
//! test. Run with `cargo bench -p berth --bench daemon`.
//!
//! The 500 services (two clusters, each service its own task definition family, images from 5
//! ECR repositories) are written to a plain directory and created by the real binary's
//! `berth apply --concurrency 50`. Then the real binary runs as a daemon three times over that
//! directory, each time a fresh process (so its task definition cache starts empty):
//!
//! 1. `--interval 2s --poll-interval 1s`: the first reconcile, then 10 steady reconciles. Calls,
//!    duration and CPU come from `/metrics`, the daemon's JSON log and `/proc/<pid>`, sampled
//!    only at reconcile boundaries: scraping `/metrics` or `/status` (500 services each) costs
//!    the daemon CPU, so the bench does not poll them during a measurement window.
//! 2. `--interval 1h --poll-interval 1h`: CPU over 10 s with nothing to do, then 10 reconciles
//!    forced through `POST /reconcile` (a reconcile's own CPU, without the polls in between).
//! 3. `--interval 1h --poll-interval 1s`: CPU over 10 s of source polls (each one re-reads and
//!    hashes the 500 files) without a reconcile.
//!
//! The emulator answers from one Python process on the same machine, so durations are moto's
//! more than berth's; calls, CPU and memory are berth's own.

#[path = "support/manifest.rs"]
mod manifest_support;

#[path = "support/proc.rs"]
mod proc_support;

use manifest_support::BenchManifest;
use proc_support::status_kib;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::http;
use berth_testkit::{Emulator, Network, TestAccount};
use serde_json::{Value, json};

const CLUSTERS: [&str; 2] = ["bench-a", "bench-b"];
const SERVICES: usize = 500;
const REPOSITORIES: usize = 5;
const ROLLOUT_SECONDS: f64 = 0.2;
const STEADY_RECONCILES: usize = 10;
const IDLE: Duration = Duration::from_secs(10);
const API_TOKEN: &str = "bench-token";
/// Generous: the machine may be busy, and moto serves one request at a time.
const PATIENCE: Duration = Duration::from_secs(900);

fn manifest(account: &TestAccount, network: &Network, index: usize) -> String {
    let name = format!("svc-{index:03}");
    let cluster = CLUSTERS[index % CLUSTERS.len()];
    BenchManifest::new(account, network, name, cluster, index, index % REPOSITORIES).text()
}

/// The `berth` binary with static credentials for the emulator and no AWS configuration, log
/// settings or endpoint from this machine.
fn berth(endpoint: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    berth_testkit::isolate_aws_environment(&mut command)
        .args(args)
        .args(["--endpoint-url", endpoint, "--region", "us-east-1"]);
    // Any BERTH_* setting of this shell would change what is measured.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BERTH_") {
            command.env_remove(name);
        }
    }
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Figures read from `/metrics`.
#[derive(Debug, Clone, Default)]
struct Scrape {
    reconciles: f64,
    /// `berth_aws_requests_total` by operation (all outcomes).
    aws: BTreeMap<String, f64>,
    aws_failed: f64,
    apply_actions: f64,
    duration_sum: f64,
    duration_count: f64,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut scrape = Scrape::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, labels(rest.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            match name {
                "berth_reconcile_total" => scrape.reconciles += value,
                "berth_reconcile_duration_seconds_sum" => scrape.duration_sum = value,
                "berth_reconcile_duration_seconds_count" => scrape.duration_count = value,
                "berth_apply_actions_total" => scrape.apply_actions += value,
                "berth_aws_requests_total" => {
                    let operation = labels.get("operation").cloned().unwrap_or_default();
                    *scrape.aws.entry(operation).or_default() += value;
                    if labels.get("outcome").map(String::as_str)
                        != Some(berth_core::vocabulary::AwsOutcome::SUCCESS)
                    {
                        scrape.aws_failed += value;
                    }
                }
                _ => {}
            }
        }
        scrape
    }

    /// What happened between `earlier` and this scrape.
    fn since(&self, earlier: &Scrape) -> Scrape {
        let mut aws = self.aws.clone();
        for (operation, n) in &mut aws {
            *n -= earlier.aws.get(operation).copied().unwrap_or(0.0);
        }
        aws.retain(|_, n| *n > 0.0);
        Scrape {
            reconciles: self.reconciles - earlier.reconciles,
            aws,
            aws_failed: self.aws_failed - earlier.aws_failed,
            apply_actions: self.apply_actions - earlier.apply_actions,
            duration_sum: self.duration_sum - earlier.duration_sum,
            duration_count: self.duration_count - earlier.duration_count,
        }
    }

    fn aws_total(&self) -> f64 {
        self.aws.values().sum()
    }
}

/// `a="x",b="y"` (label values here never hold commas or quotes).
fn labels(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// CPU time and memory of a process, from `/proc`.
#[derive(Debug, Clone, Copy)]
struct Usage {
    /// user + system, in clock ticks.
    cpu_ticks: u64,
    rss_kib: u64,
    hwm_kib: u64,
    /// The part of the RSS that is heap, stacks and other anonymous memory (the rest is mostly
    /// the binary's code pages).
    anon_kib: u64,
}

fn usage(pid: u32) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/pid/stat");
    // The command name (field 2) may hold spaces; fields after it are space-separated, utime
    // and stime being fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let pid = pid.to_string();
    let kib = |field: &str| status_kib(&pid, field).unwrap_or(0);
    Usage {
        cpu_ticks: tick(11) + tick(12),
        rss_kib: kib("VmRSS"),
        hwm_kib: kib("VmHWM"),
        anon_kib: kib("RssAnon"),
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One `berth run` process.
struct Daemon {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Daemon {
    fn start(endpoint: &str, source: &str, log: PathBuf, interval: &str, poll: &str) -> Daemon {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let stderr = std::fs::File::create(&log).expect("create daemon log");
        let listen = addr.to_string();
        let args = [
            "--log-format",
            "json",
            // The bench counts reconciles by their `reconcile finished` line, at info.
            "--log-level",
            "info",
            "run",
            "--source-url",
            source,
            "--listen",
            &listen,
            "--interval",
            interval,
            "--poll-interval",
            poll,
        ];
        let child = berth(endpoint, &args)
            .env("BERTH_API_TOKEN", API_TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start berth run");
        Daemon { child, addr, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn usage(&self) -> Usage {
        usage(self.pid())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn fail(&mut self, why: &str) -> ! {
        let text = self.log_text();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let _ = self.child.kill();
        panic!(
            "{why}\n--- last lines of {}:\n{}",
            self.log.display(),
            tail.join("\n")
        );
    }

    /// The `reconcile finished` log records so far (their `fields`).
    fn reconciles(&self) -> Vec<Value> {
        self.log_text()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|record| record["fields"]["message"] == "reconcile finished")
            .map(|record| record["fields"].clone())
            .collect()
    }

    /// Waits (reading the log, not the daemon's endpoints) until `n` reconciles have finished
    /// and their telemetry is published; returns the records.
    fn wait_reconciles(&mut self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let records = self.reconciles();
            if records.len() >= n {
                // The log line comes just before the metrics are updated.
                std::thread::sleep(Duration::from_millis(50));
                return records;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.fail(&format!("berth run exited with {status}"));
            }
            if Instant::now() > deadline {
                self.fail(&format!("no {n} reconciles within {PATIENCE:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn metrics(&mut self) -> Scrape {
        match http::get(self.addr, "/metrics") {
            Ok(response) if response.is_success() => Scrape::parse(&response.text()),
            Ok(response) => self.fail(&format!("GET /metrics: {}", response.status)),
            Err(err) => self.fail(&format!("GET /metrics: {err}")),
        }
    }

    /// `/status`, retried while a reconcile holds the state.
    fn status(&mut self) -> Value {
        for _ in 0..100 {
            match http::get(self.addr, "/status").and_then(|r| r.json()) {
                Ok(status) if status.get("busy").is_none() => return status,
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        self.fail("GET /status stayed busy or failed")
    }

    fn synced(&mut self) -> usize {
        let status = self.status();
        status["services"].as_object().map_or(0, |services| {
            services
                .values()
                .filter(|s| s["status"] == "Synced")
                .count()
        })
    }

    /// Waits until the HTTP server answers (it starts before the first reconcile).
    fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while http::get(self.addr, "/healthz").is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.fail(&format!("berth run exited with {status}"));
            }
            if Instant::now() > deadline {
                self.fail("the daemon's HTTP server did not come up within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn trigger(&mut self) {
        let authorization = format!("Bearer {API_TOKEN}");
        match http::request(
            self.addr,
            "POST",
            "/reconcile",
            &[("Authorization", &authorization)],
            &[],
        ) {
            Ok(response) if response.status == 202 => {}
            Ok(response) => self.fail(&format!(
                "POST /reconcile: {} {}",
                response.status,
                response.text()
            )),
            Err(err) => self.fail(&format!("POST /reconcile: {err}")),
        }
    }

    /// SIGTERM, then waits for the daemon to finish; returns how long it took.
    fn stop(mut self) -> Duration {
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        if !sent.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("  ! berth run did not stop within 30 s of SIGTERM; killed");
        let _ = self.child.kill();
        let _ = self.child.wait();
        started.elapsed()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Only on a panic path: `stop` has already reaped the child otherwise.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn print_calls(calls: &Scrape, per: f64) {
    for (operation, n) in &calls.aws {
        println!("    {operation:<24} {:>8.1}", n / per);
    }
    println!(
        "    {:<24} {:>8.1}   ({} failed)",
        "total",
        calls.aws_total() / per,
        calls.aws_failed
    );
}

fn record_seconds(record: &Value) -> f64 {
    record["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0
}

/// Starts a daemon and waits for its first reconcile, which must find every service Synced.
fn start_converged(
    endpoint: &str,
    source: &str,
    log: PathBuf,
    interval: &str,
    poll: &str,
) -> (Daemon, Duration) {
    let started = Instant::now();
    let mut daemon = Daemon::start(endpoint, source, log, interval, poll);
    daemon.wait_listening();
    let first = daemon.wait_reconciles(1);
    let elapsed = started.elapsed();
    let synced = daemon.synced();
    if synced != SERVICES {
        daemon.fail(&format!(
            "first reconcile: {synced}/{SERVICES} Synced: {}",
            first[0]
        ));
    }
    (daemon, elapsed)
}

fn main() {
    let ticks = clock_ticks_per_second();
    let cpu_seconds = |ticks_used: u64| ticks_used as f64 / ticks;
    let bench_started = Instant::now();

    let emulator = Emulator::start().expect("emulator");
    let endpoint = emulator.endpoint();
    // The binary cannot send the per-account header: it works in moto's default account.
    let account = emulator.default_account();
    let response = http::post_json(
        emulator.addr(),
        "/berth-moto/rollout-seconds",
        &[],
        &json!(ROLLOUT_SECONDS),
    )
    .expect("berth-moto");
    assert!(response.is_success(), "{}", response.text());
    for cluster in CLUSTERS {
        account
            .ecs("CreateCluster", json!({ "clusterName": cluster }))
            .expect("CreateCluster");
    }
    for repository in 0..REPOSITORIES {
        account
            .push_image(&format!("app-{repository}"), "1.0")
            .expect("push");
    }
    let network = account.default_network().expect("default VPC");

    let dir = tempfile::tempdir().expect("tempdir");
    let manifests = dir.path().join("manifests");
    for cluster in CLUSTERS {
        std::fs::create_dir_all(manifests.join(cluster)).expect("mkdir");
    }
    for index in 0..SERVICES {
        let cluster = CLUSTERS[index % CLUSTERS.len()];
        std::fs::write(
            manifests.join(cluster).join(format!("svc-{index:03}.yaml")),
            manifest(&account, &network, index),
        )
        .expect("write manifest");
    }
    // The daemon's `berth:source` is the URL as given; apply must tag with the same string.
    let source = manifests.to_string_lossy().into_owned();
    println!(
        "emulator ready in {:.1} s: {SERVICES} services in {} clusters, {REPOSITORIES} ECR repositories, rollouts {ROLLOUT_SECONDS} s; CLK_TCK {ticks}",
        bench_started.elapsed().as_secs_f64(),
        CLUSTERS.len(),
    );

    // Create everything with one apply, so the daemons start from an estate in sync.
    let created = Instant::now();
    let args = [
        "apply",
        &source,
        "--yes",
        "--source-id",
        &source,
        "--concurrency",
        "50",
        "--poll-interval",
        "200ms",
        "--progress-deadline",
        "10m",
    ];
    let applied = berth(&endpoint, &args).output().expect("run berth apply");
    let create_wall = created.elapsed();
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert!(
        applied.status.success(),
        "berth apply: {:?}\n{}\n{}",
        applied.status.code(),
        stdout.lines().rev().take(20).collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&applied.stderr)
    );
    let synced_rows = stdout
        .lines()
        .filter(|line| line.split_whitespace().nth(1) == Some("Synced"))
        .count();
    println!(
        "\ncreate: `berth apply --concurrency 50` of {SERVICES} services: {:.1} s, {synced_rows} rows Synced",
        create_wall.as_secs_f64()
    );

    // 1. Steady state at a short interval.
    println!("\ndaemon 1: --interval 2s --poll-interval 1s");
    let (mut daemon, first_wall) = start_converged(
        &endpoint,
        &source,
        dir.path().join("daemon-1.log"),
        "2s",
        "1s",
    );
    let first = daemon.metrics();
    let first_usage = daemon.usage();
    let first_record = daemon.reconciles()[0].clone();
    println!(
        "  first reconcile: {:.2} s ({:.1} s from process start), all {SERVICES} Synced, {} actions; CPU {:.2} s; RSS {:.1} MiB",
        record_seconds(&first_record),
        first_wall.as_secs_f64(),
        first_record["actions"],
        cpu_seconds(first_usage.cpu_ticks),
        mib(first_usage.rss_kib),
    );
    println!("  AWS calls in the first reconcile (empty task definition cache):");
    print_calls(&first, 1.0);

    // One more reconcile before measuring, so the window starts at a reconcile's end.
    let skip = daemon.wait_reconciles(2).len();
    let start = daemon.metrics();
    let start_usage = daemon.usage();
    let window = Instant::now();
    // RSS after each reconcile: /proc costs the daemon nothing, and a rising series is a leak.
    let mut rss_series = Vec::new();
    for k in 1..=STEADY_RECONCILES {
        daemon.wait_reconciles(skip + k);
        rss_series.push(daemon.usage().rss_kib);
    }
    let records = daemon.reconciles();
    let end_usage = daemon.usage();
    let window_wall = window.elapsed();
    let end = daemon.metrics();
    let steady = end.since(&start);
    let synced = daemon.synced();
    let measured = &records[skip..skip + STEADY_RECONCILES];
    let durations: Vec<f64> = measured.iter().map(record_seconds).collect();
    let actions: u64 = measured
        .iter()
        .map(|r| r["actions"].as_u64().unwrap_or(0))
        .sum();
    let n = steady.reconciles;
    let steady_cpu = cpu_seconds(end_usage.cpu_ticks - start_usage.cpu_ticks);
    println!(
        "  {n} steady reconciles in {:.1} s (one every {:.2} s); {synced}/{SERVICES} Synced after; {actions} actions, {} apply actions in metrics",
        window_wall.as_secs_f64(),
        window_wall.as_secs_f64() / n,
        steady.apply_actions
    );
    println!(
        "  reconcile duration: mean {:.3} s (histogram {:.3} s), min {:.3} s, max {:.3} s",
        durations.iter().sum::<f64>() / durations.len() as f64,
        steady.duration_sum / steady.duration_count.max(1.0),
        durations.iter().copied().fold(f64::INFINITY, f64::min),
        durations.iter().copied().fold(0.0, f64::max),
    );
    println!("  AWS calls per steady-state reconcile:");
    print_calls(&steady, n);
    println!(
        "  CPU: {:.3} s per reconcile cycle (the reconcile plus 2 source polls), {:.1}% of one core over the window",
        steady_cpu / n,
        100.0 * steady_cpu / window_wall.as_secs_f64()
    );
    println!(
        "  memory after {} reconciles: RSS {:.1} MiB ({:.1} MiB anonymous, {:.1} MiB file-backed), peak (VmHWM) {:.1} MiB",
        records.len(),
        mib(end_usage.rss_kib),
        mib(end_usage.anon_kib),
        mib(end_usage.rss_kib.saturating_sub(end_usage.anon_kib)),
        mib(end_usage.hwm_kib)
    );
    println!(
        "  RSS after each of the {STEADY_RECONCILES} (MiB): {}",
        rss_series
            .iter()
            .map(|kib| format!("{:.1}", mib(*kib)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mutating: Vec<&String> = steady
        .aws
        .keys()
        .filter(|op| !(op.starts_with("Describe") || op.starts_with("List")))
        .collect();
    if !mutating.is_empty() {
        println!("  ! mutating calls in steady state: {mutating:?}");
    }
    let stopped = daemon.stop();
    println!("  stopped {:.2} s after SIGTERM", stopped.as_secs_f64());

    // 2. Idle, then forced reconciles without polls in between.
    println!("\ndaemon 2: --interval 1h --poll-interval 1h");
    let (mut daemon, first_wall) = start_converged(
        &endpoint,
        &source,
        dir.path().join("daemon-2.log"),
        "1h",
        "1h",
    );
    println!(
        "  first reconcile done {:.1} s after start",
        first_wall.as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(1));
    let before = daemon.usage();
    std::thread::sleep(IDLE);
    let after = daemon.usage();
    let idle_cpu = cpu_seconds(after.cpu_ticks - before.cpu_ticks);
    let idle_reconciles = daemon.reconciles().len() - 1;
    println!(
        "  idle {:.0} s: CPU {:.3} s ({:.2}% of one core), {idle_reconciles} reconciles; RSS {:.1} MiB",
        IDLE.as_secs_f64(),
        idle_cpu,
        100.0 * idle_cpu / IDLE.as_secs_f64(),
        mib(after.rss_kib)
    );
    let start = daemon.metrics();
    let before = daemon.usage();
    let forced_started = Instant::now();
    let mut done = daemon.reconciles().len();
    for _ in 0..STEADY_RECONCILES {
        daemon.trigger();
        done = daemon.wait_reconciles(done + 1).len();
    }
    let forced_wall = forced_started.elapsed();
    let after = daemon.usage();
    let forced = daemon.metrics().since(&start);
    let forced_cpu = cpu_seconds(after.cpu_ticks - before.cpu_ticks);
    println!(
        "  {} forced reconciles (POST /reconcile, one after another) in {:.1} s: CPU {:.3} s per reconcile, {:.1} AWS calls per reconcile; RSS {:.1} MiB, peak {:.1} MiB",
        forced.reconciles,
        forced_wall.as_secs_f64(),
        forced_cpu / forced.reconciles.max(1.0),
        forced.aws_total() / forced.reconciles.max(1.0),
        mib(after.rss_kib),
        mib(after.hwm_kib)
    );
    let stopped = daemon.stop();
    println!("  stopped {:.2} s after SIGTERM", stopped.as_secs_f64());

    // 3. Source polls alone.
    println!("\ndaemon 3: --interval 1h --poll-interval 1s");
    let (daemon, _) = start_converged(
        &endpoint,
        &source,
        dir.path().join("daemon-3.log"),
        "1h",
        "1s",
    );
    std::thread::sleep(Duration::from_secs(1));
    let before = daemon.usage();
    std::thread::sleep(IDLE);
    let after = daemon.usage();
    let polling_cpu = cpu_seconds(after.cpu_ticks - before.cpu_ticks);
    let polling_reconciles = daemon.reconciles().len() - 1;
    let polls = IDLE.as_secs_f64();
    println!(
        "  {polls:.0} s of polls: CPU {polling_cpu:.3} s ({:.1} ms per poll of {SERVICES} files), {polling_reconciles} reconciles",
        1000.0 * polling_cpu / polls
    );
    let stopped = daemon.stop();
    println!("  stopped {:.2} s after SIGTERM", stopped.as_secs_f64());

    println!(
        "\nRESULT daemon with {SERVICES} services in sync: RSS {:.1} MiB after {} reconciles (peak {:.1} MiB); \
         {:.1} AWS calls per steady-state reconcile ({}); reconcile {:.2} s mean; \
         CPU {:.3} s per reconcile ({:.3} s per 2 s cycle with 1 s polls); \
         CPU between reconciles {:.2}% of a core idle, {:.1} ms per source poll; \
         first convergence (create) {:.1} s; total bench {:.1} s",
        mib(end_usage.rss_kib),
        records.len(),
        mib(end_usage.hwm_kib),
        steady.aws_total() / n,
        steady
            .aws
            .iter()
            .map(|(op, c)| format!("{op} {:.1}", c / n))
            .collect::<Vec<_>>()
            .join(", "),
        durations.iter().sum::<f64>() / durations.len() as f64,
        forced_cpu / forced.reconciles.max(1.0),
        steady_cpu / n,
        100.0 * idle_cpu / IDLE.as_secs_f64(),
        1000.0 * polling_cpu / polls,
        create_wall.as_secs_f64(),
        bench_started.elapsed().as_secs_f64()
    );
}
