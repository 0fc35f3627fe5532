//! `berth run` end to end (issue 5's acceptance): the real binary against a private emulator
//! (moto + berth's extension) and a local bare git repository that the test commits to.
//!
//! The daemon cannot send the per-test account header, so every test starts its own emulator
//! and works in moto's default account. The tests take a lock so that only one daemon runs at a
//! time: a daemon starved of CPU by another could miss a test's generous waits. No test bounds
//! latency; the latency bench measures it (docs/performance.md).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use berth_core::vocabulary::{AwsOutcome, ReconcileResult};
use berth_testkit::http::{self, Response};
use berth_testkit::{Emulator, Network, TestAccount};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const WEBHOOK_SECRET: &str = "e2e-webhook-secret";
const API_TOKEN: &str = "e2e-api-token";
const CLUSTER: &str = "prod";
/// The `target` label of every per-target metric without `targets:` in berth.yaml.
const TARGET: (&str, &str) = ("target", berth_engine::defaults::DEFAULT_TARGET);
/// Images every estate can use: `(repository, tag)`.
const IMAGES: [(&str, &str); 6] = [
    ("web", "1.0"),
    ("web", "1.1"),
    ("web", "1.2"),
    ("api", "1.0"),
    ("api", "1.1"),
    ("worker", "1.0"),
];

static ONE_DAEMON_AT_A_TIME: Mutex<()> = Mutex::new(());

pub(super) fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_DAEMON_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// A service manifest: `name` runs `repository:tag` with `MODE=normal`, one task.
#[derive(Clone)]
pub(super) struct ServiceFixture {
    name: String,
    repository: String,
    tag: String,
}

impl ServiceFixture {
    pub(super) fn new(name: &str, repository: &str, tag: &str) -> Self {
        ServiceFixture {
            name: name.into(),
            repository: repository.into(),
            tag: tag.into(),
        }
    }

    pub(super) fn yaml(&self) -> String {
        format!(
            "\
apiVersion: berth/v1
kind: Service
metadata: {{name: {name}, cluster: {CLUSTER}}}
spec:
  desiredCount: 1
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration: {{subnets: [\"${{SUBNET}}\"], securityGroups: [\"${{SECURITY_GROUP}}\"]}}
  taskDefinition:
    cpu: 256
    memory: 512
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    containerDefinitions:
      - name: app
        image: ${{ACCOUNT}}.dkr.ecr.us-east-1.amazonaws.com/{repository}:{tag}
        environment: [{{name: MODE, value: normal}}]
",
            name = self.name,
            repository = self.repository,
            tag = self.tag,
        )
    }
}

/// A private emulator (its server-wide settings are this test's alone) whose rollouts take
/// 0.2 s.
pub(super) fn quick_emulator() -> Emulator {
    let emulator = Emulator::start().expect("emulator");
    let response = http::post_json(
        emulator.addr(),
        "/berth-moto/rollout-seconds",
        &[],
        &json!(0.2),
    )
    .expect("berth-moto");
    assert!(response.is_success(), "{}", response.text());
    emulator
}

/// A private emulator seeded with a cluster, images and a VPC, and a git repository: a bare
/// `remote.git` the daemon follows and a `work` clone the test commits to (manifests under
/// `services/`, followed as the source's sub-path).
pub(super) struct Estate {
    pub(super) emulator: Emulator,
    account: TestAccount,
    network: Network,
    dir: tempfile::TempDir,
}

impl Estate {
    pub(super) fn new(services: &[ServiceFixture]) -> Estate {
        let emulator = quick_emulator();
        let account = emulator.default_account();
        account
            .ecs("CreateCluster", json!({ "clusterName": CLUSTER }))
            .expect("CreateCluster");
        for (repository, tag) in IMAGES {
            account.push_image(repository, tag).expect("push image");
        }
        let network = account.default_network().expect("default VPC");
        let dir = tempfile::tempdir().expect("tempdir");
        let estate = Estate {
            emulator,
            account,
            network,
            dir,
        };
        git(
            estate.dir.path(),
            &["init", "--quiet", "--bare", "-b", "main", "remote.git"],
        );
        git(
            estate.dir.path(),
            &["init", "--quiet", "-b", "main", "work"],
        );
        let work = estate.work();
        git(&work, &["config", "user.email", "e2e@berth.test"]);
        git(&work, &["config", "user.name", "berth e2e"]);
        git(
            &work,
            &[
                "remote",
                "add",
                "origin",
                &estate.remote().to_string_lossy(),
            ],
        );
        for service in services {
            estate.write(service);
        }
        estate.commit("the estate");
        estate
    }

    fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn manifest_path(&self, file: &str) -> PathBuf {
        self.work().join("services").join(file)
    }

    /// Writes `service`'s manifest to `services/<name>.yaml` (not yet committed).
    pub(super) fn write(&self, service: &ServiceFixture) {
        self.write_file(&format!("{}.yaml", service.name), &service.yaml());
    }

    pub(super) fn write_file(&self, file: &str, text: &str) {
        let path = self.manifest_path(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write manifest");
    }

    fn remove(&self, name: &str) {
        std::fs::remove_file(self.manifest_path(&format!("{name}.yaml"))).expect("rm manifest");
    }

    /// Commits everything in the work tree (possibly nothing) and pushes it; returns the new
    /// commit's sha.
    pub(super) fn commit(&self, message: &str) -> String {
        let work = self.work();
        git(&work, &["add", "--all"]);
        // Empty when nothing changed: still a new sha for the branch to move to.
        git(
            &work,
            &["commit", "--quiet", "--allow-empty", "-m", message],
        );
        git(&work, &["push", "--quiet", "origin", "main"]);
        git(&work, &["rev-parse", "HEAD"]).trim().to_string()
    }

    /// The live service, as `DescribeServices` shows it (with tags).
    pub(super) fn describe(&self, name: &str) -> Value {
        let response = self
            .account
            .ecs(
                "DescribeServices",
                json!({ "cluster": CLUSTER, "services": [name], "include": ["TAGS"] }),
            )
            .expect("DescribeServices");
        response["services"]
            .as_array()
            .and_then(|services| services.first())
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// The task definition `name` runs, or `""` when it does not exist.
    pub(super) fn live_task_definition(&self, name: &str) -> String {
        self.describe(name)["taskDefinition"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn is_active(&self, name: &str) -> bool {
        self.describe(name)["status"] == "ACTIVE"
    }

    fn task_definition(&self, arn: &str) -> Value {
        self.account
            .ecs("DescribeTaskDefinition", json!({ "taskDefinition": arn }))
            .expect("DescribeTaskDefinition")["taskDefinition"]
            .clone()
    }

    /// Every revision of `family`, ACTIVE or not.
    fn revisions(&self, family: &str) -> Vec<String> {
        let listed = self
            .account
            .ecs("ListTaskDefinitions", json!({ "familyPrefix": family }))
            .expect("ListTaskDefinitions");
        listed["taskDefinitionArns"]
            .as_array()
            .expect("taskDefinitionArns")
            .iter()
            .filter_map(Value::as_str)
            .filter(|arn| arn.contains(&format!("task-definition/{family}:")))
            .map(str::to_string)
            .collect()
    }

    pub(super) fn config(&self) -> DaemonConfig {
        DaemonConfig {
            poll_interval: "1h",
            interval: "1h",
            self_heal: true,
            prune: false,
            max_prune: 1,
            staleness: "10m",
            concurrency: 8,
            extra: String::new(),
        }
    }

    /// Starts `berth run` on this estate; returns once `/healthz` answers.
    fn daemon(&self, config: &DaemonConfig) -> Daemon {
        self.daemon_with(config, |_| {})
    }

    /// [`Estate::daemon`], with `customize` applied to the command last (its environment, say).
    pub(super) fn daemon_with(
        &self,
        config: &DaemonConfig,
        customize: impl FnOnce(&mut Command),
    ) -> Daemon {
        let config_path = self.dir.path().join("berth.yaml");
        let text = format!(
            "\
source:
  url: {remote}
  branch: main
  path: services
  pollInterval: {poll}
  staleness: {staleness}
  cacheDir: {cache}
aws:
  region: us-east-1
  endpointUrl: {endpoint}
reconcile:
  interval: {interval}
  concurrency: {concurrency}
  prune: {prune}
  maxPrune: {max_prune}
  selfHeal: {self_heal}
  progressDeadline: 1m
vars:
  ACCOUNT: \"{account}\"
  SUBNET: {subnet}
  SECURITY_GROUP: {security_group}
server:
  listen: {listen}
{extra}",
            extra = config.extra,
            remote = self.remote().display(),
            poll = config.poll_interval,
            staleness = config.staleness,
            cache = self.dir.path().join("cache").display(),
            endpoint = self.emulator.endpoint(),
            interval = config.interval,
            concurrency = config.concurrency,
            prune = config.prune,
            max_prune = config.max_prune,
            self_heal = config.self_heal,
            account = self.account.id(),
            subnet = self.network.subnets[0],
            security_group = self.network.security_group,
            listen = free_addr(),
        );
        std::fs::write(&config_path, &text).expect("write berth.yaml");
        let addr: SocketAddr = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("listen: "))
            .and_then(|addr| addr.parse().ok())
            .expect("listen address");
        Daemon::start_with(
            &config_path,
            addr,
            &self.dir.path().join("berth.log"),
            customize,
        )
    }

    /// Drift made outside berth: `name` scaled to 5 and its `MODE` set to `hacked` through a
    /// new revision registered by hand.
    fn drift(&self, name: &str) {
        let live = self.task_definition(&self.live_task_definition(name));
        let mut input = json!({
            "family": live["family"],
            "containerDefinitions": live["containerDefinitions"],
            "cpu": live["cpu"],
            "memory": live["memory"],
            "networkMode": live["networkMode"],
            "requiresCompatibilities": live["requiresCompatibilities"],
        });
        input["containerDefinitions"][0]["environment"] =
            json!([{ "name": "MODE", "value": "hacked" }]);
        let registered = self
            .account
            .ecs("RegisterTaskDefinition", input)
            .expect("RegisterTaskDefinition");
        let arn = registered["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .expect("arn")
            .to_string();
        self.account
            .ecs(
                "UpdateService",
                json!({ "cluster": CLUSTER, "service": name, "desiredCount": 5, "taskDefinition": arn }),
            )
            .expect("UpdateService");
    }

    /// `(desiredCount, MODE)` of the live service.
    fn count_and_mode(&self, name: &str) -> (u64, String) {
        let service = self.describe(name);
        let task_definition =
            self.task_definition(service["taskDefinition"].as_str().unwrap_or_default());
        let mode = task_definition["containerDefinitions"][0]["environment"]
            .as_array()
            .and_then(|env| env.iter().find(|e| e["name"] == "MODE"))
            .and_then(|e| e["value"].as_str())
            .unwrap_or_default()
            .to_string();
        (service["desiredCount"].as_u64().unwrap_or_default(), mode)
    }
}

/// What differs between the tests' daemons.
pub(super) struct DaemonConfig {
    poll_interval: &'static str,
    interval: &'static str,
    self_heal: bool,
    prune: bool,
    max_prune: usize,
    staleness: &'static str,
    concurrency: usize,
    /// More of `berth.yaml`, appended as it is.
    pub(super) extra: String,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(super) fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// A running `berth run` process.
pub(super) struct Daemon {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, addr: SocketAddr, log: &Path) -> Daemon {
        Daemon::start_with(config, addr, log, |_| {})
    }

    /// [`Daemon::start`], with `customize` applied to the command last (its environment, say).
    pub(super) fn start_with(
        config: &Path,
        addr: SocketAddr,
        log: &Path,
        customize: impl FnOnce(&mut Command),
    ) -> Daemon {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
        berth_testkit::isolate_aws_environment(&mut command)
            .args(["run", "--config"])
            .arg(config)
            .args(["--log-format", "json"])
            .env("BERTH_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("BERTH_API_TOKEN", API_TOKEN)
            .stdout(Stdio::null())
            .stderr(log_file);
        customize(&mut command);
        let child = command.spawn().expect("start berth run");
        let mut daemon = Daemon {
            child,
            addr,
            log: log.to_path_buf(),
        };
        daemon.wait_until("/healthz answers", Duration::from_secs(30), |d| {
            http::get(d.addr, "/healthz")
                .ok()
                .filter(Response::is_success)
        });
        daemon
    }

    pub(super) fn get(&self, path: &str) -> Response {
        http::get(self.addr, path).unwrap_or_else(|err| panic!("GET {path}: {err}"))
    }

    pub(super) fn status(&self) -> Value {
        self.get("/status").json().expect("/status is JSON")
    }

    fn service_status(&self, name: &str) -> Value {
        self.status()["services"][format!("{CLUSTER}/{name}")].clone()
    }

    /// Waits until every service in `names` is Synced (and a reconcile has finished).
    pub(super) fn wait_synced(&mut self, names: &[&str]) {
        self.wait_until(&format!("{names:?} Synced"), Duration::from_secs(60), |d| {
            let status = d.status();
            names
                .iter()
                .all(|name| status["services"][format!("{CLUSTER}/{name}")]["status"] == "Synced")
                .then_some(())
        });
    }

    /// Polls `probe` every 25 ms until it returns `Some`; panics with the daemon's log after
    /// `timeout`. Also fails at once if the daemon exited.
    pub(super) fn wait_until<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut(&mut Daemon) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = probe(self) {
                return value;
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("berth run exited ({exit}) while waiting for {what}");
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; /status: {}",
                http::get(self.addr, "/status")
                    .map(|r| r.text())
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub(super) fn metrics(&self) -> String {
        self.get("/metrics").text()
    }

    /// `POST /reconcile` with the daemon's API token.
    pub(super) fn reconcile_now(&self) {
        let header = format!("Bearer {API_TOKEN}");
        let response = http::request(
            self.addr,
            "POST",
            "/reconcile",
            &[("Authorization", header.as_str())],
            b"",
        )
        .expect("reconcile");
        assert!(response.is_success(), "{}", response.text());
    }

    /// The sum of `name`'s samples that carry `label`, over every other label.
    pub(super) fn metric_sum(&self, name: &str, label: (&str, &str)) -> f64 {
        let text = self.metrics();
        (metric_series(&text, name).into_iter())
            .filter(|(labels, _)| labels.contains(&label))
            .map(|(_, value)| value)
            .sum()
    }

    /// The value of the sample `name{labels}` (labels in any order, all of them given); panics
    /// when the series is absent.
    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric_value(&self.metrics(), name, labels)
    }

    /// `berth_aws_requests_total` for `operation`, summed over all its outcomes: 0 when berth
    /// never called it. The family must be there with its documented labels and successful reads,
    /// so that a renamed metric or label fails here instead of reading as "no calls".
    fn aws_calls(&self, operation: &str) -> f64 {
        let text = self.metrics();
        let series = metric_series(&text, "berth_aws_requests_total");
        assert!(
            series
                .iter()
                .any(|(labels, _)| labels.contains(&("outcome", AwsOutcome::SUCCESS))),
            "no successful AWS request in /metrics:\n{text}"
        );
        for (labels, _) in &series {
            let names: Vec<&str> = labels.iter().map(|(name, _)| *name).collect();
            assert_eq!(
                names,
                ["operation", "outcome", "target"],
                "labels of {labels:?}:\n{text}"
            );
        }
        series
            .iter()
            .filter(|(labels, _)| labels.contains(&("operation", operation)))
            .map(|(_, value)| value)
            .sum()
    }

    /// Reconciles finished, over every result; at least one must have (its series exists).
    fn reconciles(&self) -> f64 {
        let text = self.metrics();
        let series = metric_series(&text, "berth_reconcile_total");
        assert!(!series.is_empty(), "no berth_reconcile_total:\n{text}");
        let results = ReconcileResult::ALL.map(ReconcileResult::as_str);
        for (labels, _) in &series {
            assert!(
                matches!(labels.as_slice(), [("result", result), TARGET] if results.contains(result)),
                "unexpected series berth_reconcile_total{labels:?}:\n{text}"
            );
        }
        series.iter().map(|(_, value)| value).sum()
    }

    fn fetches(&self) -> f64 {
        self.metric("berth_git_fetch_duration_seconds_count", &[])
    }

    /// Sends a GitHub push webhook for `main`, signed with `signature` (or unsigned).
    pub(super) fn webhook(&self, body: &[u8], signature: Option<&str>) -> Response {
        let mut headers = vec![
            ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", "e2e-delivery"),
            ("Content-Type", "application/json"),
        ];
        if let Some(signature) = signature {
            headers.push(("X-Hub-Signature-256", signature));
        }
        http::request(self.addr, "POST", "/webhook/github", &headers, body).expect("webhook")
    }

    /// SIGTERM, then waits for the exit status.
    /// The process id (to signal it).
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn terminate(mut self) -> std::process::ExitStatus {
        sigterm_and_wait(&mut self.child)
    }

    /// SIGKILL: no chance to finish anything.
    fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }

    /// The daemon's log lines (JSON) so far.
    pub(super) fn log_lines(&self) -> Vec<Value> {
        let Ok(file) = std::fs::File::open(&self.log) else {
            return Vec::new();
        };
        BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str(&line).ok())
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!("--- berth run log (last 80 lines, newest first)");
            for line in tail {
                eprintln!("{line}");
            }
        }
    }
}

/// The value of one sample in Prometheus text (labels in any order, all of them given). Panics
/// with the text when the series is absent: a renamed metric or label value must not read as 0.
fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metric_series(text, name)
        .into_iter()
        .find(|(found, _)| {
            found.len() == labels.len() && labels.iter().all(|label| found.contains(label))
        })
        .map(|(_, value)| value)
        .unwrap_or_else(|| panic!("no series {name}{labels:?} in /metrics:\n{text}"))
}

/// Every sample of `name` in Prometheus text: its labels (in the text's order) and value.
fn metric_series<'a>(text: &'a str, name: &str) -> Vec<(Vec<(&'a str, &'a str)>, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if series_name != name {
                return None;
            }
            let labels = series_labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    Some((k, v.trim_matches('"')))
                })
                .collect();
            Some((labels, value.parse::<f64>().ok()?))
        })
        .collect()
}

pub(super) fn sign(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes())
        .expect("HMAC takes any key");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

pub(super) fn push_body(git_ref: &str, after: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": git_ref,
        "after": after,
        "deleted": false,
        "repository": { "full_name": "acme/deploy" },
    }))
    .expect("json")
}

pub(super) fn three_services() -> Vec<ServiceFixture> {
    vec![
        ServiceFixture::new("web", "web", "1.0"),
        ServiceFixture::new("api", "api", "1.0"),
        ServiceFixture::new("worker", "worker", "1.0"),
    ]
}

/// Waits until `name` runs a task definition other than `before`; returns how long that took.
pub(super) fn wait_for_new_task_definition(
    estate: &Estate,
    daemon: &mut Daemon,
    name: &str,
    before: &str,
    timeout: Duration,
) -> Duration {
    let started = Instant::now();
    daemon.wait_until(&format!("{name} to leave {before}"), timeout, |_| {
        (estate.live_task_definition(name) != before).then_some(())
    });
    started.elapsed()
}

#[test]
fn an_image_bump_reaches_ecs_through_the_webhook_and_through_the_poll_without_one() {
    let _one = one_at_a_time();
    let services = three_services();
    let estate = Estate::new(&services);
    let mut daemon = estate.daemon(&estate.config());
    daemon.wait_synced(&["web", "api", "worker"]);
    let ready = daemon.get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.text());
    let status = daemon.status();
    assert_eq!(
        status["revision"].as_str().map(str::len),
        Some(40),
        "/status names the commit: {status}"
    );

    // With the webhook: one register and one update, nothing else mutated.
    let web_before = estate.live_task_definition("web");
    let api_before = estate.describe("api");
    let worker_before = estate.describe("worker");
    let updates = daemon.aws_calls("UpdateService");
    let registers = daemon.aws_calls("RegisterTaskDefinition");
    let creates = daemon.aws_calls("CreateService");
    estate.write(&ServiceFixture::new("web", "web", "1.1"));
    let sha = estate.commit("web 1.1");
    let body = push_body("refs/heads/main", &sha);
    let response = daemon.webhook(&body, Some(&sign(&body)));
    assert!(
        response.is_success(),
        "{} {}",
        response.status,
        response.text()
    );
    let took = wait_for_new_task_definition(
        &estate,
        &mut daemon,
        "web",
        &web_before,
        Duration::from_secs(10),
    );
    // The config polls hourly, so the change arriving at all within the wait proves the
    // webhook path; how fast is the latency bench's to measure (docs/performance.md).
    println!("webhook to UpdateService: {took:?}");
    let task_definition = estate.task_definition(&estate.live_task_definition("web"));
    let image = task_definition["containerDefinitions"][0]["image"]
        .as_str()
        .unwrap_or_default();
    assert!(
        image.contains("/web@sha256:"),
        "the registered revision pins the digest: {image}"
    );
    daemon.wait_synced(&["web"]);
    assert_eq!(daemon.aws_calls("UpdateService") - updates, 1.0);
    assert_eq!(daemon.aws_calls("RegisterTaskDefinition") - registers, 1.0);
    assert_eq!(daemon.aws_calls("CreateService") - creates, 0.0);
    let web_tags = estate.describe("web")["tags"].clone();
    assert!(
        web_tags
            .as_array()
            .expect("tags")
            .iter()
            .any(|t| t["key"] == "berth:revision" && t["value"] == sha.as_str()),
        "the updated service carries the new commit: {web_tags}"
    );
    assert_eq!(estate.describe("api"), api_before, "api was not touched");
    assert_eq!(
        estate.describe("worker"),
        worker_before,
        "worker was not touched"
    );

    // Graceful shutdown: SIGTERM exits 0.
    let exit = daemon.terminate();
    assert!(exit.success(), "berth run exited {exit} on SIGTERM");

    // Without a webhook, by the poll. A restart makes no mutating call.
    let mut config = estate.config();
    config.poll_interval = "2s";
    let mut daemon = estate.daemon(&config);
    daemon.wait_synced(&["web", "api", "worker"]);
    assert_eq!(daemon.aws_calls("UpdateService"), 0.0);
    assert_eq!(daemon.aws_calls("RegisterTaskDefinition"), 0.0);
    assert_eq!(daemon.aws_calls("TagResource"), 0.0);
    let api_before = estate.live_task_definition("api");
    estate.write(&ServiceFixture::new("api", "api", "1.1"));
    estate.commit("api 1.1");
    let took = wait_for_new_task_definition(
        &estate,
        &mut daemon,
        "api",
        &api_before,
        Duration::from_secs(10),
    );
    // No webhook was sent: the change arriving proves the poll.
    println!("push to UpdateService without a webhook (pollInterval 2s): {took:?}");

    // The log: one summary line per reconcile, naming the commit; the mutation logged at info.
    daemon.wait_synced(&["api"]);
    let lines = daemon.log_lines();
    assert!(
        lines
            .iter()
            .any(|line| line["fields"]["message"] == "reconcile finished"
                && line["fields"]["synced"].is_number()
                && line["span"]["commit"].is_string()),
        "a summary line per reconcile"
    );
    // Both daemons wrote to this log; the second one updated api, once.
    let updates: Vec<&Value> = lines
        .iter()
        .filter(|line| {
            line["fields"]["message"] == "updated service" && line["span"]["service"] == "prod/api"
        })
        .collect();
    assert_eq!(
        updates.len(),
        1,
        "each mutation is logged once: {updates:?}"
    );
    assert_eq!(updates[0]["level"], "INFO");
    assert_eq!(updates[0]["span"]["cluster"], CLUSTER);
    assert!(
        updates[0]["spans"][0]["commit"].is_string(),
        "{}",
        updates[0]
    );
    let log = std::fs::read_to_string(&daemon.log).expect("log");
    assert!(
        !log.contains(WEBHOOK_SECRET) && !log.contains(API_TOKEN),
        "secrets never appear in the log"
    );
}

#[test]
fn a_webhook_with_a_bad_missing_or_replayed_signature_gets_401_and_no_fetch() {
    let _one = one_at_a_time();
    let estate = Estate::new(&three_services());
    let mut daemon = estate.daemon(&estate.config());
    daemon.wait_synced(&["web", "api", "worker"]);
    let fetches = daemon.fetches();
    let sha = estate.commit("empty");
    let body = push_body("refs/heads/main", &sha);
    let signature = sign(&body);

    let missing = daemon.webhook(&body, None);
    assert_eq!(missing.status, 401, "{}", missing.text());
    let wrong = daemon.webhook(&body, Some(&sign(b"another body")));
    assert_eq!(wrong.status, 401, "{}", wrong.text());
    let mut altered = body.clone();
    let at = altered.len() - 2;
    altered[at] = b' ';
    let replayed = daemon.webhook(&altered, Some(&signature));
    assert_eq!(replayed.status, 401, "{}", replayed.text());
    let garbage = daemon.webhook(&body, Some("sha256=zz"));
    assert_eq!(garbage.status, 401, "{}", garbage.text());
    // A push to another branch is accepted (GitHub must not retry it) and ignored.
    let other = push_body("refs/heads/feature", &sha);
    let ignored = daemon.webhook(&other, Some(&sign(&other)));
    assert!(ignored.is_success(), "{}", ignored.status);
    // The handler decides before it answers, so a rejected webhook would have sent its trigger
    // by now; berth-server's tests prove with the trigger channel itself that none is sent.
    // Here: the accepted webhook below makes exactly one fetch.

    // The same body with its signature triggers one.
    let accepted = daemon.webhook(&body, Some(&signature));
    assert!(accepted.is_success(), "{}", accepted.status);
    daemon.wait_until("a fetch", Duration::from_secs(5), |d| {
        (d.fetches() > fetches).then_some(())
    });
    assert_eq!(
        daemon.fetches(),
        fetches + 1.0,
        "one fetch, for the accepted webhook only"
    );
    daemon.wait_until("the pushed commit", Duration::from_secs(5), |d| {
        (d.status()["revision"] == sha.as_str()).then_some(())
    });

    // POST /reconcile needs the bearer token.
    let reconcile = |token: Option<&str>| {
        let header = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = header
            .as_deref()
            .map(|h| vec![("Authorization", h)])
            .unwrap_or_default();
        http::request(daemon.addr, "POST", "/reconcile", &headers, b"").expect("reconcile")
    };
    assert_eq!(reconcile(None).status, 401);
    assert_eq!(reconcile(Some("wrong")).status, 401);
    let reconciles = daemon.reconciles();
    assert!(reconcile(Some(API_TOKEN)).is_success());
    daemon.wait_until("a reconcile", Duration::from_secs(5), |d| {
        (d.reconciles() > reconciles).then_some(())
    });
}

#[test]
fn drift_is_reverted_with_self_heal_reported_without_even_across_a_restart_and_counted() {
    let _one = one_at_a_time();
    let estate = Estate::new(&three_services());
    let mut config = estate.config();
    config.interval = "2s";
    let mut daemon = estate.daemon(&config);
    daemon.wait_synced(&["web", "api", "worker"]);

    estate.drift("web");
    assert_eq!(estate.count_and_mode("web"), (5, "hacked".to_string()));
    daemon.wait_until("web reverted", Duration::from_secs(15), |_| {
        (estate.count_and_mode("web") == (1, "normal".to_string())).then_some(())
    });
    let drift = daemon.metric(
        "berth_drift_total",
        &[("cluster", CLUSTER), ("service", "web"), TARGET],
    );
    assert!(drift >= 1.0, "berth_drift_total counts the drift: {drift}");
    assert_eq!(
        daemon.metric(
            "berth_drift_total",
            &[("cluster", CLUSTER), ("service", "api"), TARGET]
        ),
        0.0
    );
    every_documented_metric_parses(&daemon.metrics());
    let exit = daemon.terminate();
    assert!(exit.success());

    // Self-heal off: drift is only reported. This drift happens while no daemon runs, so the
    // new one can only tell it from a git change by the spec hash berth tagged the service with.
    estate.drift("api");
    config.self_heal = false;
    let mut daemon = estate.daemon(&config);
    daemon.wait_synced(&["web", "worker"]);
    let reported = daemon.wait_until("api OutOfSync", Duration::from_secs(15), |d| {
        let service = d.service_status("api");
        (service["status"] == "OutOfSync").then_some(service)
    });
    let pending: Vec<&str> = reported["pendingChanges"]
        .as_array()
        .expect("pendingChanges")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        pending.contains(&"desiredCount")
            && pending.contains(&"taskDefinition.containerDefinitions.app.environment.MODE"),
        "{reported}"
    );
    let drift = daemon.metric(
        "berth_drift_total",
        &[("cluster", CLUSTER), ("service", "api"), TARGET],
    );
    assert!(drift >= 1.0, "{drift}");
    // Another interval later it is still drifted: nothing reverted it.
    let reconciles = daemon.reconciles();
    daemon.wait_until("two more reconciles", Duration::from_secs(15), |d| {
        (d.reconciles() >= reconciles + 2.0).then_some(())
    });
    assert_eq!(estate.count_and_mode("api"), (5, "hacked".to_string()));
}

/// Every metric of docs/operations.md ("Metrics") is in `text`, and Prometheus's reference parser (the Python client's)
/// reads all of it.
fn every_documented_metric_parses(text: &str) {
    let python = berth_testkit::workspace_root().join("deploy/local/.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: install it with `bash deploy/local/emulator.sh install`",
        python.display()
    );
    let script = "\
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        out.setdefault(sample.name, []).append(sorted(sample.labels))
print(json.dumps({'types': {}, 'samples': out}))
";
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write metrics");
    }
    let output = child.wait_with_output().expect("python");
    assert!(
        output.status.success(),
        "the Prometheus parser rejected /metrics: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: Value = serde_json::from_slice(&output.stdout).expect("json");
    let samples = &parsed["samples"];
    for (name, labels) in [
        (
            "berth_reconcile_duration_seconds_bucket",
            vec!["le", "target"],
        ),
        ("berth_reconcile_duration_seconds_count", vec!["target"]),
        ("berth_reconcile_total", vec!["result", "target"]),
        (
            "berth_service_status",
            vec!["cluster", "service", "status", "target"],
        ),
        ("berth_drift_total", vec!["cluster", "service", "target"]),
        ("berth_git_fetch_duration_seconds_count", vec![]),
        ("berth_source_revision_info", vec!["revision"]),
        (
            "berth_aws_requests_total",
            vec!["operation", "outcome", "target"],
        ),
        ("berth_apply_actions_total", vec!["action", "target"]),
    ] {
        let series = samples[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"));
        assert!(
            series.iter().all(|found| *found == json!(labels)),
            "{name} has labels {labels:?}: {series:?}"
        );
    }
}

#[test]
fn a_bad_commit_applies_its_valid_change_reports_the_broken_files_and_deletes_nothing() {
    let _one = one_at_a_time();
    let mut services = three_services();
    services.push(ServiceFixture::new("reports", "worker", "1.0"));
    let estate = Estate::new(&services);
    let mut config = estate.config();
    config.prune = true;
    config.max_prune = 5;
    let mut daemon = estate.daemon(&config);
    daemon.wait_synced(&["web", "api", "worker", "reports"]);

    // api.yaml: a YAML syntax error; worker.yaml: an unknown field; web: a new image;
    // reports.yaml: removed (prune is on, but git's service set is not known this commit).
    let web_before = estate.live_task_definition("web");
    let broken_api = services[1].yaml().replace("cpu: 256", "cpu: [256");
    estate.write_file("api.yaml", &broken_api);
    let typo = services[2].yaml().replace("desiredCount", "desiredCont");
    estate.write_file("worker.yaml", &typo);
    estate.write(&ServiceFixture::new("web", "web", "1.1"));
    estate.remove("reports");
    estate.commit("a bad commit");
    let body = push_body("refs/heads/main", "");
    daemon.webhook(&body, Some(&sign(&body)));
    wait_for_new_task_definition(
        &estate,
        &mut daemon,
        "web",
        &web_before,
        Duration::from_secs(10),
    );
    daemon.wait_synced(&["web"]);

    let status = daemon.status();
    let api = &status["services"]["prod/api"];
    assert_eq!(api["status"], "Invalid", "{status}");
    let api_error = api["lastError"].as_str().unwrap_or_default();
    let position: Vec<&str> = api_error.splitn(4, ':').collect();
    assert!(
        position[0] == "api.yaml"
            && position[1].parse::<u32>().is_ok_and(|line| line >= 10)
            && position[2].parse::<u32>().is_ok()
            && api_error.contains("YAML"),
        "file:line:col of the syntax error: {api_error}"
    );
    let worker = &status["services"]["prod/worker"];
    assert_eq!(worker["status"], "Invalid", "{status}");
    assert_eq!(
        worker["lastError"],
        "worker.yaml:5:3: spec.desiredCont: unknown field `desiredCont`; did you mean `desiredCount`?"
    );
    assert_eq!(status["invalidFiles"][0]["file"], "api.yaml", "{status}");
    let prune = status["lastReconcile"]["prune"].to_string();
    assert!(prune.contains("failed to load"), "{prune}");
    for name in ["api", "worker", "reports"] {
        assert!(estate.is_active(name), "{name} was not deleted");
    }
    assert_eq!(
        daemon.metric(
            "berth_service_status",
            &[
                ("cluster", CLUSTER),
                ("service", "api"),
                ("status", "Invalid"),
                TARGET
            ]
        ),
        1.0
    );
}

#[test]
fn prune_deletes_one_removed_service_refuses_three_and_never_touches_disabled_or_foreign_ones() {
    let _one = one_at_a_time();
    let mut services = three_services();
    for name in ["reports", "batch", "pinned"] {
        services.push(ServiceFixture::new(name, "worker", "1.0"));
    }
    let estate = Estate::new(&services);
    // A service berth does not own: created by hand in the same cluster.
    let legacy_input = json!({
        "cluster": CLUSTER,
        "serviceName": "legacy",
        "taskDefinition": estate.account.ecs("RegisterTaskDefinition", json!({
            "family": "legacy",
            "containerDefinitions": [{ "name": "app", "image": "nginx:1.27", "memory": 128 }],
        })).expect("register")["taskDefinition"]["taskDefinitionArn"].clone(),
        "desiredCount": 1,
    });
    estate
        .account
        .ecs("CreateService", legacy_input)
        .expect("CreateService legacy");
    let foreign = |estate: &Estate| {
        let legacy = estate.describe("legacy");
        json!([
            legacy["status"],
            legacy["taskDefinition"],
            legacy["desiredCount"],
            legacy["tags"]
        ])
    };
    let legacy_before = foreign(&estate);

    let mut config = estate.config();
    config.prune = true;
    config.max_prune = 1;
    let mut daemon = estate.daemon(&config);
    let names = ["web", "api", "worker", "reports", "batch", "pinned"];
    daemon.wait_synced(&names);
    let pinned_arn = estate.describe("pinned")["serviceArn"]
        .as_str()
        .expect("arn")
        .to_string();
    estate
        .account
        .ecs(
            "TagResource",
            json!({ "resourceArn": pinned_arn, "tags": [{ "key": "berth:prune", "value": "disabled" }] }),
        )
        .expect("TagResource");

    let trigger = |daemon: &Daemon| {
        let body = push_body("refs/heads/main", "");
        let response = daemon.webhook(&body, Some(&sign(&body)));
        assert!(response.is_success());
    };
    // A service absent from git is pruned (or refused) only at the second reconcile that finds it
    // absent; the first one notes that it waits. `/status` once `sha`'s prune notes say `why`:
    let prune_decided = |daemon: &mut Daemon, sha: &str, why: &str| {
        daemon.wait_until(why, Duration::from_secs(15), |d| {
            let status = d.status();
            let last = &status["lastReconcile"];
            (last["revision"] == sha && last["prune"].to_string().contains(why)).then_some(status)
        })
    };

    // One removed: deleted.
    estate.remove("batch");
    let sha = estate.commit("remove batch");
    trigger(&daemon);
    daemon.wait_until("batch deleted", Duration::from_secs(15), |_| {
        (!estate.is_active("batch")).then_some(())
    });
    daemon.wait_until("the commit reconciled", Duration::from_secs(10), |d| {
        (d.status()["lastReconcile"]["revision"] == sha.as_str()).then_some(())
    });
    assert!(daemon.status()["services"]["prod/batch"].is_null());

    // Three removed with maxPrune 1: none deleted, and /status says why.
    for name in ["api", "worker", "reports"] {
        estate.remove(name);
    }
    let sha = estate.commit("remove three");
    trigger(&daemon);
    let status = prune_decided(&mut daemon, &sha, "more than maxPrune 1");
    for name in ["api", "worker", "reports"] {
        assert!(estate.is_active(name), "{name} was not deleted");
        let service = &status["services"][format!("{CLUSTER}/{name}")];
        assert_eq!(service["status"], "OutOfSync", "{status}");
        assert!(
            service["lastError"]
                .as_str()
                .is_some_and(|e| e.contains("in no manifest") && e.contains("maxPrune")),
            "{service}"
        );
    }

    // Back in git; pinned removed: tagged berth:prune=disabled, so kept, and /status says why.
    for service in &services[1..4] {
        estate.write(service);
    }
    estate.remove("pinned");
    let sha = estate.commit("remove pinned");
    trigger(&daemon);
    prune_decided(&mut daemon, &sha, "berth:prune=disabled");
    assert!(estate.is_active("pinned"));

    // The foreign service was never touched: same task definition, count and tags.
    assert_eq!(foreign(&estate), legacy_before);
}

#[test]
fn killed_mid_apply_a_restart_converges_without_duplicate_revisions() {
    let _one = one_at_a_time();
    let services: Vec<ServiceFixture> = (0..12)
        .map(|i| ServiceFixture::new(&format!("svc-{i:02}"), "web", "1.0"))
        .collect();
    let estate = Estate::new(&services);
    let mut config = estate.config();
    config.concurrency = 1;
    let mut daemon = estate.daemon(&config);
    daemon.wait_until("the first registration", Duration::from_secs(30), |_| {
        let listed = estate
            .account
            .ecs("ListTaskDefinitions", json!({}))
            .expect("ListTaskDefinitions");
        (!listed["taskDefinitionArns"]
            .as_array()
            .expect("arns")
            .is_empty())
        .then_some(())
    });
    daemon.kill_9();
    let created = estate
        .account
        .ecs("ListServices", json!({ "cluster": CLUSTER }))
        .expect("ListServices")["serviceArns"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        created < services.len(),
        "killed mid-apply: {created} created"
    );

    config.concurrency = 8;
    let mut daemon = estate.daemon(&config);
    let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    daemon.wait_synced(&names);
    for name in &names {
        assert_eq!(
            estate.revisions(name).len(),
            1,
            "{name}: one revision, whatever the kill interrupted"
        );
    }
}

#[test]
fn with_git_down_the_daemon_keeps_serving_and_turns_not_ready_after_the_staleness_limit() {
    let _one = one_at_a_time();
    let estate = Estate::new(&three_services());
    let mut config = estate.config();
    config.poll_interval = "300ms";
    config.staleness = "3s";
    let mut daemon = estate.daemon(&config);
    daemon.wait_synced(&["web", "api", "worker"]);
    let revision = daemon.status()["revision"].clone();
    assert_eq!(daemon.get("/readyz").status, 200);

    let away = estate.dir.path().join("remote-away.git");
    std::fs::rename(estate.remote(), &away).expect("take the remote away");
    // The last good fetch was at most one poll interval before this.
    let became_stale = Instant::now() - Duration::from_millis(300);
    daemon.wait_until("a fetch error", Duration::from_secs(10), |d| {
        d.status()["sourceError"].as_str().map(str::to_string)
    });
    // Within the limit: still ready, still serving the last good commit.
    assert_eq!(daemon.get("/readyz").status, 200);
    assert_eq!(daemon.get("/healthz").status, 200);
    assert_eq!(daemon.status()["revision"], revision);
    daemon.wait_until("/readyz not ready", Duration::from_secs(15), |d| {
        (d.get("/readyz").status == 503).then_some(())
    });
    assert!(
        became_stale.elapsed() >= Duration::from_secs(3),
        "not-ready only after the staleness limit"
    );
    assert_eq!(daemon.get("/healthz").status, 200, "still alive");
    assert_eq!(
        daemon.status()["revision"],
        revision,
        "keeps the last commit"
    );

    std::fs::rename(&away, estate.remote()).expect("bring the remote back");
    daemon.wait_until("/readyz ready again", Duration::from_secs(15), |d| {
        (d.get("/readyz").status == 200).then_some(())
    });
    assert!(daemon.status()["sourceError"].is_null());
}

/// A git server that accepts connections and never answers used to hold a fetch (and with it
/// SIGTERM) for as long as it liked, with nothing in `/status`. No emulator is needed: nothing
/// is ever fetched, so nothing reaches AWS.
#[test]
fn a_git_server_that_never_answers_shows_in_status_and_does_not_hold_sigterm() {
    let _one = one_at_a_time();
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    // Accepts, holds every connection open, sends nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().map_while(Result::ok) {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = free_addr();
    let config_path = dir.path().join("berth.yaml");
    std::fs::write(
        &config_path,
        format!(
            "source:\n  url: http://{silent_addr}/acme/deploy.git\n  cacheDir: {cache}\n\
             aws:\n  region: us-east-1\n  endpointUrl: http://127.0.0.1:9\nserver:\n  listen: {listen}\n",
            cache = dir.path().join("cache").display(),
        ),
    )
    .expect("write berth.yaml");
    let mut daemon = Daemon::start(&config_path, listen, &dir.path().join("berth.log"));
    let seconds = daemon.wait_until(
        "a fetch in progress for 2 s",
        Duration::from_secs(30),
        |d| {
            d.status()["fetchInProgressSeconds"]
                .as_u64()
                .filter(|s| *s >= 2)
        },
    );
    assert!(seconds >= 2);
    let readyz = daemon.get("/readyz");
    assert_eq!(readyz.status, 503);
    assert!(readyz.text().contains("no reconcile"), "{}", readyz.text());
    // The daemon logs its credential-free source id.
    let running = daemon
        .log_lines()
        .into_iter()
        .find(|line| line["fields"]["message"] == "berth running")
        .expect("a `berth running` line");
    assert_eq!(
        running["fields"]["source_id"],
        format!("git:{silent_addr}/acme/deploy@main")
    );
    assert!(daemon.terminate().success(), "SIGTERM mid-fetch exits 0");
}

/// SIGTERM to `child`, then its exit status; fails if it has not exited within 30 s (ECS's
/// default `stopTimeout`).
pub(super) fn sigterm_and_wait(child: &mut std::process::Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "berth run ignored SIGTERM for 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
