//! `targets:`: one repository deploying into several accounts and regions, each reached by
//! assuming its role through the emulator's STS; a target whose role is refused fails alone.
//!
//! The emulator files an assumed role's credentials under the role's account, so every call
//! berth signs with them lands in that account's state; what landed where is then read back
//! account by account and region by region.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use berth_testkit::{Emulator, TestAccount, http};
use serde_json::{Value, json};

use super::daemon::{Daemon, free_addr, one_at_a_time, quick_emulator};

const IMAGE: &str = "public.ecr.aws/nginx/nginx:1.27";

/// A one-task Fargate service in `cluster`, on `account`'s default VPC.
fn manifest(account: &TestAccount, name: &str, cluster: &str, target: Option<&str>) -> String {
    let network = account.default_network().expect("default VPC");
    let target = target.map_or_else(String::new, |t| format!(", target: {t}"));
    format!(
        "\
apiVersion: berth/v1
kind: Service
metadata: {{name: {name}, cluster: {cluster}{target}}}
spec:
  desiredCount: 1
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration: {{subnets: [{subnet}], securityGroups: [{group}]}}
  taskDefinition:
    cpu: 256
    memory: 512
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    containerDefinitions:
      - {{name: app, image: \"{IMAGE}\"}}
",
        subnet = network.subnets[0],
        group = network.security_group,
    )
}

fn role(account: &TestAccount) -> String {
    format!("arn:aws:iam::{}:role/berth-deployer", account.id())
}

/// The image `cluster/name` runs in `account` (in its region), or why it cannot be read.
fn live_image(account: &TestAccount, cluster: &str, name: &str) -> Result<String, String> {
    let described = account
        .ecs(
            "DescribeServices",
            json!({ "cluster": cluster, "services": [name] }),
        )
        .map_err(|err| err.to_string())?;
    let arn = described["services"][0]["taskDefinition"]
        .as_str()
        .ok_or_else(|| format!("no service {cluster}/{name}: {described}"))?
        .to_string();
    let definition = account
        .ecs("DescribeTaskDefinition", json!({ "taskDefinition": arn }))
        .map_err(|err| err.to_string())?;
    Ok(
        definition["taskDefinition"]["containerDefinitions"][0]["image"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Three targets: `us` (its own account, us-east-1, owns cluster `apps`), `eu` (another
/// account, eu-west-1, no `clusters`: named by `metadata.target`) and `broken` (a third
/// account whose role the emulator refuses).
struct Estate {
    emulator: Emulator,
    us: TestAccount,
    eu: TestAccount,
    refused: TestAccount,
    dir: tempfile::TempDir,
}

impl Estate {
    fn new() -> Estate {
        // Private: the refused roles are a server-wide setting.
        let emulator = quick_emulator();
        let us = emulator.account();
        let eu = emulator.account().in_region("eu-west-1");
        let refused = emulator.account();
        for (account, cluster) in [(&us, "apps"), (&eu, "apps"), (&refused, "legacy")] {
            account
                .ecs("CreateCluster", json!({ "clusterName": cluster }))
                .expect("CreateCluster");
        }
        let denied = http::post_json(
            emulator.addr(),
            "/berth-moto/denied-roles",
            &[],
            &json!([role(&refused)]),
        )
        .expect("berth-moto");
        assert!(denied.is_success(), "{}", denied.text());
        let dir = tempfile::tempdir().expect("tempdir");
        let manifests = dir.path().join("services");
        std::fs::create_dir(&manifests).expect("mkdir");
        let files = [
            ("us-web.yaml", manifest(&us, "web", "apps", None)),
            ("eu-web.yaml", manifest(&eu, "web", "apps", Some("eu"))),
            ("old.yaml", manifest(&refused, "old", "legacy", None)),
        ];
        for (file, text) in files {
            std::fs::write(manifests.join(file), text).expect("write manifest");
        }
        Estate {
            emulator,
            us,
            eu,
            refused,
            dir,
        }
    }

    /// `berth.yaml` with the three targets; returns its path and the listen address.
    fn config(&self) -> (std::path::PathBuf, SocketAddr) {
        let listen = free_addr();
        let text = format!(
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
targets:
  - {{name: us, region: us-east-1, roleArn: \"{us}\", clusters: [apps]}}
  - {{name: eu, region: eu-west-1, roleArn: \"{eu}\"}}
  - {{name: broken, region: us-east-1, roleArn: \"{refused}\", clusters: [legacy]}}
",
            manifests = self.dir.path().join("services").display(),
            endpoint = self.emulator.endpoint(),
            us = role(&self.us),
            eu = role(&self.eu),
            refused = role(&self.refused),
        );
        let path = self.dir.path().join("berth.yaml");
        std::fs::write(&path, text).expect("write berth.yaml");
        (path, listen)
    }
}

fn service<'a>(status: &'a Value, target: &str, id: &str) -> &'a Value {
    &status["targets"][target]["services"][id]
}

#[test]
fn each_service_lands_in_its_targets_account_and_region_and_a_refused_role_fails_alone() {
    let _one = one_at_a_time();
    let estate = Estate::new();
    let (config, addr) = estate.config();
    let mut daemon =
        Daemon::start_with(&config, addr, &estate.dir.path().join("berth.log"), |_| {});
    let status = daemon.wait_until(
        "us and eu Synced, broken Failed",
        Duration::from_secs(90),
        |d| {
            let status = d.status();
            let synced = |target| service(&status, target, "apps/web")["status"] == "Synced";
            let refused = service(&status, "broken", "legacy/old")["status"] == "Failed";
            (synced("us") && synced("eu") && refused).then_some(status)
        },
    );

    // The refused target says why, and nothing of it was created.
    let old = service(&status, "broken", "legacy/old");
    let reason = old["lastError"].as_str().unwrap_or_default();
    assert!(reason.contains("no credentials"), "{old}");
    assert!(reason.contains("AccessDenied"), "{old}");
    assert!(!reason.contains("SdkBody"), "no raw response dump: {old}");
    assert_eq!(
        status["targets"]["broken"]["lastReconcile"]["result"],
        "error"
    );
    assert_eq!(status["targets"]["us"]["lastReconcile"]["result"], "ok");
    assert!(live_image(&estate.refused, "legacy", "old").is_err());

    // Each `apps/web` is in its own account and region, and only there.
    assert_eq!(live_image(&estate.us, "apps", "web").as_deref(), Ok(IMAGE));
    assert_eq!(live_image(&estate.eu, "apps", "web").as_deref(), Ok(IMAGE));
    assert!(live_image(&estate.eu.in_region("us-east-1"), "apps", "web").is_err());
    assert!(live_image(&estate.us.in_region("eu-west-1"), "apps", "web").is_err());
    assert!(live_image(&estate.emulator.default_account(), "apps", "web").is_err());

    // Metrics carry the target.
    let metrics = daemon.get("/metrics").text();
    assert!(
        metrics.contains(
            "berth_service_status{cluster=\"apps\",service=\"web\",status=\"Synced\",target=\"eu\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("berth_aws_requests_total{") && l.contains("target=\"us\"")),
        "{metrics}"
    );
    // A steady reconcile of a healthy target reads its cluster and nothing more: the task
    // definitions are proven by the services' tags, and the images are not in ECR. (The
    // counters are published at the end of each reconcile: the first forced one publishes the
    // rollout polls before it, the second is measured alone.)
    let requests =
        |d: &Daemon| ["us", "eu"].map(|t| d.metric_sum("berth_aws_requests_total", ("target", t)));
    let reconcile = |d: &mut Daemon| {
        let done = ["us", "eu"].map(|t| d.metric_sum("berth_reconcile_total", ("target", t)));
        d.reconcile_now();
        d.wait_until("us and eu reconciled again", Duration::from_secs(30), |d| {
            let now = ["us", "eu"].map(|t| d.metric_sum("berth_reconcile_total", ("target", t)));
            (now[0] > done[0] && now[1] > done[1]).then_some(())
        });
    };
    reconcile(&mut daemon);
    let before = requests(&daemon);
    reconcile(&mut daemon);
    let after = requests(&daemon);
    let steady = after[0] - before[0] + after[1] - before[1];
    eprintln!("AWS requests of one steady reconcile of two targets: {steady}");
    assert_eq!(steady, 4.0, "ListServices and DescribeServices per target");
    assert!(daemon.terminate().success());

    // `berth plan --config` sees the same three targets: two in sync, one unreadable.
    let mut plan = Command::new(env!("CARGO_BIN_EXE_berth"));
    berth_testkit::isolate_aws_environment(&mut plan)
        .args(["plan", "--config"])
        .arg(&config)
        .arg(estate.dir.path().join("services"))
        .args(["--endpoint-url", &estate.emulator.endpoint()]);
    let plan = plan.output().expect("berth plan");
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("target us:"), "{stdout}");
    assert!(stdout.contains("target eu:"), "{stdout}");
    assert!(
        stdout.contains("target broken: cannot read ECS"),
        "{stdout}"
    );

    // `berth import --config --target eu` reads `apps` in eu's account and region, and the
    // manifest it writes names its target.
    let mut import = Command::new(env!("CARGO_BIN_EXE_berth"));
    berth_testkit::isolate_aws_environment(&mut import)
        .args(["import", "--cluster", "apps", "--target", "eu", "--config"])
        .arg(&config)
        .args(["--endpoint-url", &estate.emulator.endpoint()]);
    let import = import.output().expect("berth import");
    let manifest = String::from_utf8_lossy(&import.stdout);
    assert!(
        import.status.success(),
        "{manifest}{}",
        String::from_utf8_lossy(&import.stderr)
    );
    assert!(manifest.contains("target: eu"), "{manifest}");
    assert!(manifest.contains(IMAGE), "{manifest}");
    let subnet = &estate.eu.default_network().expect("VPC").subnets[0];
    assert!(
        manifest.contains(subnet.as_str()),
        "eu's own subnet: {manifest}"
    );
}
