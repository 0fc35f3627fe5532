//! Several `berth run` replicas sharing targets through leases in DynamoDB (`lease.table`):
//! every target has one holder, a killed holder's targets are taken over, and one change is
//! applied once, by one replica.
//!
//! Each replica reaches the emulator through a proxy of its own, so every AWS call (DynamoDB's
//! included) is attributed to the replica that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_testkit::TestAccount;
use berth_testkit::faults::{FaultPlan, FaultProxy};
use serde_json::{Value, json};

use super::daemon::{Daemon, free_addr, one_at_a_time, quick_emulator};

const TABLE: &str = "berth-leases";
const TARGETS: [&str; 4] = ["t1", "t2", "t3", "t4"];
const TTL: Duration = Duration::from_secs(6);
const RENEW_EVERY: Duration = Duration::from_secs(2);
const OLD_IMAGE: &str = "public.ecr.aws/nginx/nginx:1.27";
const NEW_IMAGE: &str = "public.ecr.aws/nginx/nginx:1.28";

/// Target `tN` owns cluster `cN`, which runs one service `svc`.
fn write_manifests(dir: &Path, account: &TestAccount, image: &str) {
    let network = account.default_network().expect("default VPC");
    for target in TARGETS {
        let text = format!(
            "\
apiVersion: berth/v1
kind: Service
metadata: {{name: svc, cluster: c-{target}}}
spec:
  desiredCount: 1
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration: {{subnets: [{subnet}], securityGroups: [{group}]}}
  taskDefinition:
    family: svc-{target}
    cpu: 256
    memory: 512
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    containerDefinitions:
      - {{name: app, image: \"{image}\"}}
",
            subnet = network.subnets[0],
            group = network.security_group,
        );
        std::fs::write(dir.join(format!("{target}.yaml")), text).expect("write manifest");
    }
}

/// A private emulator with the lease table and one cluster per target, a directory for the
/// manifests and configs, and a runtime for the replicas' proxies.
struct Estate {
    runtime: tokio::runtime::Runtime,
    emulator: berth_testkit::Emulator,
    account: TestAccount,
    dir: tempfile::TempDir,
}

impl Estate {
    fn new() -> Estate {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let emulator = quick_emulator();
        let account = emulator.default_account();
        account.create_lease_table(TABLE).expect("lease table");
        for target in TARGETS {
            account
                .ecs(
                    "CreateCluster",
                    json!({ "clusterName": format!("c-{target}") }),
                )
                .expect("CreateCluster");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        Estate {
            runtime,
            emulator,
            account,
            dir,
        }
    }
}

/// One replica: its config (endpoint: its own proxy) and the running process.
struct Replica {
    daemon: Daemon,
    proxy: FaultProxy,
}

fn start_replica(
    dir: &Path,
    n: usize,
    upstream: SocketAddr,
    runtime: &tokio::runtime::Runtime,
) -> Replica {
    let proxy = runtime
        .block_on(FaultProxy::start(upstream, FaultPlan::new(0)))
        .expect("proxy");
    let listen = free_addr();
    let targets: Vec<String> = TARGETS
        .iter()
        .map(|t| format!("  - {{name: {t}, region: us-east-1, clusters: [c-{t}]}}"))
        .collect();
    let config = format!(
        "\
source:
  url: {manifests}
aws:
  region: us-east-1
  endpointUrl: {endpoint}
reconcile:
  interval: 1h
server:
  listen: {listen}
lease:
  table: {TABLE}
  ttl: {ttl}s
  renewEvery: {renew}s
targets:
{targets}
",
        manifests = dir.join("services").display(),
        endpoint = proxy.endpoint(),
        ttl = TTL.as_secs(),
        renew = RENEW_EVERY.as_secs(),
        targets = targets.join("\n"),
    );
    let path: PathBuf = dir.join(format!("berth-{n}.yaml"));
    std::fs::write(&path, config).expect("write config");
    let log = dir.join(format!("berth-{n}.log"));
    let daemon = Daemon::start_with(&path, listen, &log, |_| {});
    Replica { daemon, proxy }
}

/// Each target's holder as `replica`'s `/status` tells it, for the targets it holds itself.
fn held_by(replica: &Replica) -> BTreeSet<String> {
    let status = replica.daemon.status();
    TARGETS
        .iter()
        .filter(|t| status["targets"][**t]["lease"]["mine"] == true)
        .map(|t| (*t).to_owned())
        .collect()
}

/// Whether `replica` has a revision other than `before` and has reconciled every target it
/// holds at it.
fn reconciled_new_revision(replica: &Replica, before: &Value) -> bool {
    let status = replica.daemon.status();
    let revision = &status["revision"];
    revision != before
        && held_by(replica)
            .iter()
            .all(|t| status["targets"][t.as_str()]["lastReconcile"]["revision"] == *revision)
}

/// The image `c-<target>/svc` runs.
fn live_image(account: &TestAccount, target: &str) -> Option<String> {
    let described = account
        .ecs(
            "DescribeServices",
            json!({ "cluster": format!("c-{target}"), "services": ["svc"] }),
        )
        .ok()?;
    let arn = described["services"][0]["taskDefinition"]
        .as_str()?
        .to_owned();
    let definition = account
        .ecs("DescribeTaskDefinition", json!({ "taskDefinition": arn }))
        .ok()?;
    definition["taskDefinition"]["containerDefinitions"][0]["image"]
        .as_str()
        .map(str::to_owned)
}

/// The live target leases in the table: target → holder.
fn table_holders(account: &TestAccount) -> BTreeMap<String, String> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let scan = account
        .dynamodb(
            "Scan",
            json!({ "TableName": TABLE, "ConsistentRead": true }),
        )
        .expect("Scan");
    let items = scan["Items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|item| {
            let key = item["key"]["S"].as_str()?;
            let target = key.strip_prefix("target#")?;
            let expires: u128 = item["expires"]["N"].as_str()?.parse().ok()?;
            let holder = item["holder"]["S"].as_str()?.to_owned();
            (expires >= now_ms).then(|| (target.to_owned(), holder))
        })
        .collect()
}

/// UpdateService calls a proxy forwarded after `since`, by cluster.
fn updates_since(proxy: &FaultProxy, since: Instant) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for call in proxy.forwarded_of("UpdateService") {
        if call.at >= since {
            let cluster = call.json()["cluster"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            *counts.entry(cluster).or_default() += 1;
        }
    }
    counts
}

#[test]
fn replicas_share_the_targets_take_over_a_killed_one_and_apply_a_change_once() {
    let _one = one_at_a_time();
    let Estate {
        runtime,
        emulator,
        account,
        dir,
    } = Estate::new();
    std::fs::create_dir(dir.path().join("services")).expect("mkdir");
    write_manifests(&dir.path().join("services"), &account, OLD_IMAGE);
    let mut replicas: Vec<Replica> = (0..3)
        .map(|n| start_replica(dir.path(), n, emulator.addr(), &runtime))
        .collect();

    // Every target has exactly one holder, each replica at most its fair share (2), and every
    // service is created.
    wait_for("leases settled", Duration::from_secs(90), || {
        settled(&replicas, &account, OLD_IMAGE)
    });
    assert_eq!(table_holders(&account).len(), TARGETS.len());
    let settled_at = Instant::now();

    // kill -9 the holder of t1: another replica takes it within the TTL and one renewal.
    let taken_after = kill_holder_of_t1(&mut replicas);
    eprintln!(
        "takeover after kill -9: {:.2} s (ttl {} s, renewal every {} s)",
        taken_after.as_secs_f64(),
        TTL.as_secs(),
        RENEW_EVERY.as_secs()
    );
    wait_for(
        "the killed replica's targets taken",
        Duration::from_secs(30),
        || replicas.iter().map(|r| held_by(r).len()).sum::<usize>() == TARGETS.len(),
    );

    // One change to every service: applied once each, across the replicas.
    let before = replicas[0].daemon.status()["revision"].clone();
    let changed_at = Instant::now();
    write_manifests(&dir.path().join("services"), &account, NEW_IMAGE);
    wait_for(
        "the change reached every service",
        Duration::from_secs(60),
        || all_run(&account, NEW_IMAGE),
    );
    // Every replica has read the new revision and reconciled the targets it holds with it, so
    // a second UpdateService would have been made by now.
    wait_for(
        "every replica reconciled the new revision",
        Duration::from_secs(30),
        || replicas.iter().all(|r| reconciled_new_revision(r, &before)),
    );
    let mut updates: BTreeMap<String, usize> = BTreeMap::new();
    for replica in &replicas {
        for (cluster, n) in updates_since(&replica.proxy, changed_at) {
            *updates.entry(cluster).or_default() += n;
        }
    }
    for replica in &replicas {
        let calls = (replica.proxy.forwarded().into_iter())
            .filter(|c| {
                c.at >= settled_at && ["UpdateItem", "Scan"].contains(&c.operation.as_str())
            })
            .count();
        let per_minute = calls as f64 * 60.0 / settled_at.elapsed().as_secs_f64();
        eprintln!(
            "DynamoDB requests per minute of a replica holding {} of {} targets: {per_minute:.0} (renewal every {} s)",
            held_by(replica).len(),
            TARGETS.len(),
            RENEW_EVERY.as_secs()
        );
    }
    let expected: BTreeMap<String, usize> = TARGETS.iter().map(|t| (format!("c-{t}"), 1)).collect();
    assert_eq!(updates, expected);
    // Each replica's /status names the holder it saw at its last round: they agree within a
    // round.
    wait_for(
        "every replica names the same holders",
        RENEW_EVERY * 3,
        || {
            let status: Vec<Value> = replicas.iter().map(|r| r.daemon.status()).collect();
            TARGETS.iter().all(|target| {
                let holders: BTreeSet<&str> = (status.iter())
                    .filter_map(|s| s["targets"][*target]["lease"]["holder"].as_str())
                    .collect();
                holders.len() == 1
            })
        },
    );
}

/// Polls `done` every 200 ms; panics with `what` after `timeout`.
fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every service runs `image`.
fn all_run(account: &TestAccount, image: &str) -> bool {
    (TARGETS.iter()).all(|t| live_image(account, t).as_deref() == Some(image))
}

/// Every target has exactly one holder among `replicas`, none holds over its fair share (2),
/// and every service runs `image`.
fn settled(replicas: &[Replica], account: &TestAccount, image: &str) -> bool {
    let held: Vec<BTreeSet<String>> = replicas.iter().map(held_by).collect();
    let all: Vec<&String> = held.iter().flatten().collect();
    let unique: BTreeSet<&String> = all.iter().copied().collect();
    // A replica that started first holds more than its share until its next round.
    let fair = held.iter().all(|h| h.len() <= 2);
    all.len() == TARGETS.len() && unique.len() == TARGETS.len() && fair && all_run(account, image)
}

/// kill -9 the holder of t1; how long until another replica holds it.
fn kill_holder_of_t1(replicas: &mut Vec<Replica>) -> Duration {
    let holder = (0..replicas.len())
        .find(|&n| held_by(&replicas[n]).contains("t1"))
        .expect("t1 has a holder");
    let killed_at = Instant::now();
    drop(replicas.remove(holder));
    wait_for(
        "t1 taken over",
        TTL + RENEW_EVERY + Duration::from_secs(5),
        || replicas.iter().any(|r| held_by(r).contains("t1")),
    );
    killed_at.elapsed()
}

/// The mutating ECS calls a proxy forwarded after `since`.
fn writes_since(proxy: &FaultProxy, since: Instant) -> Vec<String> {
    const WRITES: [&str; 6] = [
        "RegisterTaskDefinition",
        "CreateService",
        "UpdateService",
        "DeleteService",
        "TagResource",
        "UntagResource",
    ];
    (proxy.forwarded().into_iter())
        .filter(|call| call.at >= since && WRITES.contains(&call.operation.as_str()))
        .map(|call| call.operation)
        .collect()
}

fn signal(daemon: &Daemon, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &daemon.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {signal}");
}

#[test]
fn a_replica_frozen_past_its_lease_writes_nothing_once_resumed() {
    let _one = one_at_a_time();
    let Estate {
        runtime,
        emulator,
        account,
        dir,
    } = Estate::new();
    let services = dir.path().join("services");
    std::fs::create_dir(&services).expect("mkdir");
    write_manifests(&services, &account, OLD_IMAGE);
    let frozen = start_replica(dir.path(), 0, emulator.addr(), &runtime);
    // The first replica holds every target before the second starts.
    wait_for(
        "the first replica converged",
        Duration::from_secs(60),
        || held_by(&frozen).len() == TARGETS.len() && all_run(&account, OLD_IMAGE),
    );
    let other = start_replica(dir.path(), 1, emulator.addr(), &runtime);
    signal(&frozen.daemon, "-STOP");
    let stopped_at = Instant::now();

    // The other replica takes every target once the frozen one's leases ran out, and applies a
    // change made meanwhile.
    let before = other.daemon.status()["revision"].clone();
    write_manifests(&services, &account, NEW_IMAGE);
    wait_for(
        "the other replica took over",
        Duration::from_secs(60),
        || {
            held_by(&other).len() == TARGETS.len()
                && all_run(&account, NEW_IMAGE)
                && reconciled_new_revision(&other, &before)
        },
    );
    // Drift the frozen replica would revert if it still thought it held t1.
    account
        .ecs(
            "UpdateService",
            json!({ "cluster": "c-t1", "service": "svc", "desiredCount": 3 }),
        )
        .expect("UpdateService");

    signal(&frozen.daemon, "-CONT");
    // Proof it ran again: it read the new revision, and its keeper saw who holds t1 now.
    wait_for(
        "the resumed replica caught up",
        Duration::from_secs(30),
        || {
            let status = frozen.daemon.status();
            let lease = &status["targets"]["t1"]["lease"];
            status["revision"] != before && lease["mine"] == false && lease["holder"].is_string()
        },
    );
    assert_eq!(
        writes_since(&frozen.proxy, stopped_at),
        Vec::<String>::new()
    );
    let described = account
        .ecs(
            "DescribeServices",
            json!({ "cluster": "c-t1", "services": ["svc"] }),
        )
        .expect("DescribeServices");
    assert_eq!(
        described["services"][0]["desiredCount"], 3,
        "left to its holder"
    );
    drop(other);
}
