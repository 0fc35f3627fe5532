//! The status page in a real browser (issue 14): `berth run` on the example estate plus the
//! fixtures of `testdata/page/` against a private emulator, every service status at once, then
//! Debian's headless Chromium loads `/` and a service's page: the DOM must carry each service's
//! row with its `data-status`, and screenshots are written to
//! `target/test-artefacts/status-page.png` (the overview) and `status-page-service.png` (the
//! failing service's page) for a person to look at.
//!
//! Chromium is `/usr/bin/chromium` (Debian's `chromium` package; `scripts/test.sh` installs
//! it) or the binary `BERTH_CHROMIUM` names. Without it the test fails, saying how to install
//! it: a skipped browser test is not a pass.

use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use berth_core::vocabulary::Status;
use berth_engine::daemon::{SuspendScope, Waiting};
use berth_testkit::TestAccount;
use serde_json::{Value, json};

use super::daemon::{Daemon, free_addr, one_at_a_time, quick_emulator};
use super::{DEMO_IMAGES, workspace_root};

/// How long Chromium may take for one page before it is killed and the test fails.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// The status each service ends in (see `testdata/page/README.md`).
const EXPECTED: [(&str, Status); 10] = [
    ("prod/api", Status::Synced),
    ("prod/billing", Status::Synced),
    ("prod/checkout", Status::Failed),
    ("prod/ledger", Status::Suspended),
    ("prod/reports", Status::Synced),
    ("prod/web", Status::Progressing),
    ("prod/worker", Status::Synced),
    ("staging/api", Status::Synced),
    ("staging/search", Status::Invalid),
    ("staging/web", Status::OutOfSync),
];

/// The example manifests and `testdata/page/`, copied into `dir/manifests`, the daemon's
/// watched directory; returns its path.
fn copy_estate(dir: &Path) -> PathBuf {
    let estate = dir.join("manifests");
    let root = workspace_root();
    for source in [root.join("manifests"), root.join("testdata/page")] {
        for sub in ["prod", "staging"] {
            std::fs::create_dir_all(estate.join(sub)).expect("mkdir");
            for entry in std::fs::read_dir(source.join(sub)).expect("ls") {
                let path = entry.expect("entry").path();
                let name = path.file_name().expect("a file name");
                std::fs::copy(&path, estate.join(sub).join(name)).expect("copy manifest");
            }
        }
    }
    estate
}

/// `berth.yaml` for the estate in `dir`, listening on `listen`, with self-heal off so that
/// drift stays OutOfSync.
fn write_config(
    dir: &Path,
    estate: &Path,
    account: &TestAccount,
    endpoint: &str,
    listen: SocketAddr,
) -> PathBuf {
    let network = account.default_network().expect("default VPC");
    let text = format!(
        "\
source:
  url: {estate}
aws:
  region: us-east-1
  endpointUrl: {endpoint}
reconcile:
  interval: 1h
  selfHeal: false
vars:
  ACCOUNT: \"{account}\"
  REGION: us-east-1
  SUBNET_A: {subnet_a}
  SUBNET_B: {subnet_b}
  SECURITY_GROUP: {group}
server:
  listen: {listen}
",
        estate = estate.display(),
        account = account.id(),
        subnet_a = network.subnets[0],
        subnet_b = network.subnets[1],
        group = network.security_group,
    );
    let path = dir.join("berth.yaml");
    std::fs::write(&path, text).expect("write berth.yaml");
    path
}

/// Each service's status in `/status`.
fn statuses(status: &Value) -> Vec<(String, String)> {
    status["services"]
        .as_object()
        .map(|services| {
            services
                .iter()
                .map(|(key, service)| {
                    let status = service["status"].as_str().unwrap_or_default();
                    (key.clone(), status.to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `/status` shows exactly `expected`.
fn shows(status: &Value, expected: &[(&str, Status)]) -> bool {
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(key, status)| ((*key).to_owned(), status.as_str().to_owned()))
        .collect();
    want.sort();
    statuses(status) == want
}

/// Whether the estate is created: the examples converged (`prod/web` and `staging/web` too,
/// before the test changes them), checkout's image failed, search invalid, ledger created and
/// Synced, or already Suspended.
fn created(status: &Value) -> bool {
    let is = |found: &str, expected: Status| found == expected.as_str();
    statuses(status).len() == EXPECTED.len()
        && EXPECTED.iter().all(|(key, expected)| {
            let found = status["services"][key]["status"]
                .as_str()
                .unwrap_or_default();
            match *key {
                "prod/web" | "staging/web" => is(found, Status::Synced),
                "prod/ledger" => is(found, Status::Synced) || is(found, Status::Suspended),
                _ => is(found, *expected),
            }
        })
}

/// Scales `staging/web` by hand (drift) and waits until ECS has finished scaling it.
fn drift_staging_web(account: &TestAccount) {
    account
        .ecs(
            "UpdateService",
            json!({ "cluster": "staging", "service": "web", "desiredCount": 3 }),
        )
        .expect("UpdateService");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = account
            .ecs(
                "DescribeServices",
                json!({ "cluster": "staging", "services": ["web"] }),
            )
            .expect("DescribeServices");
        let primary = &described["services"][0]["deployments"][0];
        if primary["runningCount"] == 3 && primary["rolloutState"] == "COMPLETED" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "staging/web never scaled: {described}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_status_page_shows_every_service_of_the_estate_in_chromium() {
    let chromium = chromium();
    let _one = one_at_a_time();
    let emulator = quick_emulator();
    let account = emulator.default_account();
    for cluster in ["prod", "staging"] {
        account
            .ecs("CreateCluster", json!({ "clusterName": cluster }))
            .expect("CreateCluster");
    }
    for (repository, tag) in DEMO_IMAGES {
        account.push_image(repository, tag).expect("push image");
    }
    account
        .berth_moto("failing-images", &json!(["bad:broken"]))
        .expect("failing images");
    let dir = tempfile::tempdir().expect("tempdir");
    let estate = copy_estate(dir.path());
    let addr = free_addr();
    let config = write_config(dir.path(), &estate, &account, &emulator.endpoint(), addr);
    let mut daemon = Daemon::start_with(&config, addr, &dir.path().join("berth.log"), |_| {});

    daemon.wait_until("the estate created", Duration::from_secs(180), |d| {
        created(&d.status()).then_some(())
    });

    // Then: drift on staging/web, and prod/web's image bumped while rollouts take 10 minutes.
    drift_staging_web(&account);
    account
        .berth_moto("rollout-seconds", &json!(600))
        .expect("rollout seconds");
    let web = estate.join("prod/web.yaml");
    let text = std::fs::read_to_string(&web).expect("read prod/web.yaml");
    std::fs::write(&web, text.replace("/web:1.4.2", "/web:1.5.0")).expect("bump prod/web");
    daemon.reconcile_now();
    let status = daemon.wait_until("every status at once", Duration::from_secs(120), |d| {
        let status = d.status();
        shows(&status, &EXPECTED).then_some(status)
    });

    let url = format!("http://{addr}");
    check_overview(&chromium, &url, &status);
    check_service_page(&chromium, &url, &status);
    assert_eq!(
        daemon.get("/services/prod/nothing").status,
        404,
        "an unknown service"
    );
    screenshot(&chromium, &format!("{url}/"), "status-page.png");
    screenshot(
        &chromium,
        &format!("{url}/services/prod/checkout"),
        "status-page-service.png",
    );
    assert!(daemon.terminate().success());
}

/// `/` in Chromium: a row per service with its status, the failing one's error, the
/// suspended one's waiting sentence, the file that does not parse; no script anywhere.
fn check_overview(chromium: &Path, url: &str, status: &Value) {
    let dom = headless(chromium, &["--dump-dom"], &format!("{url}/"));
    assert!(
        dom.contains(r#"<meta http-equiv="refresh" content="10">"#),
        "{dom}"
    );
    assert!(!dom.contains("<script"), "{dom}");
    assert!(!dom.contains("<form"), "{dom}");
    assert_eq!(
        dom.matches("<tr data-service=").count(),
        EXPECTED.len(),
        "{dom}"
    );
    for (key, expected) in EXPECTED {
        assert!(!row(&dom, key, expected).is_empty());
    }
    let failed = row(&dom, "prod/checkout", Status::Failed);
    let error = status["services"]["prod/checkout"]["lastError"]
        .as_str()
        .expect("checkout's lastError");
    let shown: String = text_node(error).chars().take(60).collect();
    assert!(failed.contains(&shown), "{shown:?} in {failed}");
    let suspended = row(&dom, "prod/ledger", Status::Suspended);
    let sentence = Waiting::Suspended {
        scope: SuspendScope::Service,
    }
    .describe();
    assert!(suspended.contains(&sentence), "{sentence:?} in {suspended}");
    assert!(row(&dom, "staging/search", Status::Invalid).contains("desiredCont"));
    assert!(row(&dom, "staging/web", Status::OutOfSync).contains("<code>desiredCount</code>"));
    assert!(row(&dom, "prod/web", Status::Progressing).contains("IN_PROGRESS"));
    assert!(
        dom.contains(r#"<tr data-invalid-file="staging/broken.yaml">"#),
        "{dom}"
    );
    assert!(dom.contains(r#"href="/services/prod/checkout""#), "{dom}");
}

/// `/services/prod/checkout` in Chromium: its status, its error, its events and history.
fn check_service_page(chromium: &Path, url: &str, status: &Value) {
    let dom = headless(
        chromium,
        &["--dump-dom"],
        &format!("{url}/services/prod/checkout"),
    );
    assert!(
        dom.contains(r#"data-service="prod/checkout" data-status="Failed""#),
        "{dom}"
    );
    assert!(dom.contains("<h1>prod/checkout</h1>"), "{dom}");
    let error = status["services"]["prod/checkout"]["lastError"]
        .as_str()
        .unwrap_or_default();
    assert!(dom.contains(&text_node(error)), "the whole error: {dom}");
    let live = status["services"]["prod/checkout"]["liveTaskDefinition"]
        .as_str()
        .unwrap_or_default();
    assert!(dom.contains(live), "the full live ARN {live:?}: {dom}");
    for heading in ["Recent ECS events", "Reconcile history"] {
        assert!(dom.contains(heading), "{heading}: {dom}");
    }
    // ECS's event of the failed deployment, and the change to Failed in the history.
    assert!(dom.contains("deployment failed"), "{dom}");
    assert!(dom.contains(r#"<tr data-status="Failed">"#), "{dom}");
    assert!(!dom.contains("<script"), "{dom}");
}

/// A screenshot of `url` as `target/test-artefacts/<file>`: a PNG of the window's size, big
/// enough to hold more than a blank page.
fn screenshot(chromium: &Path, url: &str, file: &str) {
    let exe = Path::new(env!("CARGO_BIN_EXE_berth"));
    let target = exe
        .parent()
        .and_then(Path::parent)
        .expect("the target directory");
    let artefacts = target.join("test-artefacts");
    std::fs::create_dir_all(&artefacts).expect("mkdir test-artefacts");
    let path = artefacts.join(file);
    let _ = std::fs::remove_file(&path);
    let shot = format!("--screenshot={}", path.display());
    headless(
        chromium,
        &[&shot, "--window-size=1400,1200", "--hide-scrollbars"],
        url,
    );
    let png = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {}",
        path.display()
    );
    let dimension =
        |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!((dimension(16), dimension(20)), (1400, 1200), "IHDR size");
    assert!(png.len() > 20_000, "{} bytes: a blank page?", png.len());
    eprintln!("screenshot of {url}: {}", path.display());
}

/// The `<tr>` of `key` with `data-status` `status`, up to its `</tr>`; panics with the DOM
/// when there is none.
fn row<'d>(dom: &'d str, key: &str, status: Status) -> &'d str {
    let start = format!(
        r#"<tr data-service="{key}" data-status="{}">"#,
        status.as_str()
    );
    let Some(at) = dom.find(&start) else {
        panic!("no row {start} in\n{dom}");
    };
    let rest = &dom[at..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// `text` as the DOM serializes a text node.
fn text_node(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

/// Chromium's binary: `BERTH_CHROMIUM`, or Debian's `/usr/bin/chromium`. Fails the test,
/// saying how to install it, when there is none.
fn chromium() -> PathBuf {
    let path = std::env::var_os("BERTH_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.is_file(),
        "the status page's browser test needs Chromium, and {} does not exist: install \
         Debian's package (`sudo apt-get install -y --no-install-recommends chromium`, which \
         scripts/test.sh does) or set BERTH_CHROMIUM to a Chromium binary",
        path.display()
    );
    path
}

/// Runs headless Chromium on `url` with `args` and a fresh profile, and returns what it
/// printed. Kills its process group and fails the test after [`CHROMIUM_TIMEOUT`].
fn headless(chromium: &Path, args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", chromium.display()));
    let pipes = read_pipes(&mut child);
    let group = format!("-{}", child.id());
    let kill_group = || {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
    };
    let deadline = Instant::now() + CHROMIUM_TIMEOUT;
    let exit = loop {
        match child.try_wait().expect("wait for chromium") {
            Some(exit) => break Some(exit),
            None if Instant::now() >= deadline => {
                kill_group();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    // Chromium's helpers (zygote, crash handler) are in its process group; once it has exited,
    // any still holding its output pipes are killed with the group.
    let mut outputs = collect(&pipes, Duration::from_secs(10));
    if outputs.iter().any(Option::is_none) {
        kill_group();
        outputs = collect_more(&pipes, outputs);
    }
    let [stdout, stderr] = outputs.map(Option::unwrap_or_default);
    let Some(exit) = exit else {
        panic!(
            "Chromium did not finish {url} within {CHROMIUM_TIMEOUT:?}; killed. stderr:\n{stderr}"
        );
    };
    assert!(exit.success(), "Chromium on {url}: {exit}\n{stderr}");
    stdout
}

/// Reads the child's stdout (0) and stderr (1) to their ends on two threads.
fn read_pipes(child: &mut Child) -> mpsc::Receiver<(usize, String)> {
    let (sender, received) = mpsc::channel();
    let stdout = child
        .stdout
        .take()
        .map(|p| Box::new(p) as Box<dyn Read + Send>);
    let stderr = child
        .stderr
        .take()
        .map(|p| Box::new(p) as Box<dyn Read + Send>);
    for (index, pipe) in [stdout, stderr].into_iter().enumerate() {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            let _ = sender.send((index, text));
        });
    }
    received
}

/// What the pipe readers sent within `wait`.
fn collect(pipes: &mpsc::Receiver<(usize, String)>, wait: Duration) -> [Option<String>; 2] {
    let deadline = Instant::now() + wait;
    let mut outputs = [None, None];
    while outputs.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match pipes.recv_timeout(left) {
            Ok((index, text)) => outputs[index] = Some(text),
            Err(_) => break,
        }
    }
    outputs
}

/// `outputs` completed with what the pipe readers send within a few more seconds.
fn collect_more(
    pipes: &mpsc::Receiver<(usize, String)>,
    mut outputs: [Option<String>; 2],
) -> [Option<String>; 2] {
    for (index, text) in collect(pipes, Duration::from_secs(5))
        .into_iter()
        .enumerate()
    {
        if text.is_some() {
            outputs[index] = text;
        }
    }
    outputs
}
