//! The `berth` binary as a user runs it: exit codes, `file:line:column` output, JSON reports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `berth run` end to end (issue: daemon).
#[path = "cli/daemon.rs"]
mod daemon;

/// The container contract: the Dockerfile, `berth healthcheck`, settings from the environment
/// alone (issue: self-hosting).
#[path = "cli/container.rs"]
mod container;

/// `berth run` with Fargate's container credentials and no static keys (issue: self-hosting).
#[path = "cli/credentials.rs"]
mod credentials;

/// SIGTERM in the middle of a reconcile (issue: self-hosting).
#[path = "cli/shutdown.rs"]
mod shutdown;

/// Several accounts and regions from one repository (issue: accounts and HA).
#[path = "cli/targets.rs"]
mod targets;

/// Replicas sharing the targets through leases (issue: accounts and HA).
#[path = "cli/replicas.rs"]
mod replicas;

/// The status page in headless Chromium (issue 14).
#[path = "cli/page.rs"]
mod page;

/// Commit statuses and chat messages from `berth run` (issue: operator surfaces).
#[path = "cli/notifications.rs"]
mod notifications;

/// Images the example estate runs (as `scripts/demo.sh` seeds them) and `bad:broken`, which
/// the emulator is told to fail.
const DEMO_IMAGES: [(&str, &str); 8] = [
    ("web", "1.4.2"),
    ("web", "1.5.0"),
    ("api", "2.0.1"),
    ("api", "2.1.0"),
    ("worker", "3.1.0"),
    ("worker", "3.2.0"),
    ("billing", "0.9.0"),
    ("bad", "broken"),
];

fn berth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("run berth")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const VALID: &str = "\
apiVersion: berth/v1
kind: Service
metadata: {name: NAME, cluster: prod}
spec:
  desiredCount: 2
  launchType: FARGATE
  networkConfiguration: {awsvpcConfiguration: {subnets: [subnet-0aaa]}}
  taskDefinition:
    cpu: 256
    memory: 512
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    containerDefinitions:
      - {name: app, image: 'nginx:1.27'}
";

fn manifest(name: &str) -> String {
    VALID.replace("NAME", name)
}

#[test]
fn example_manifests_are_valid() {
    let output = berth(&[
        "validate",
        "manifests",
        "--vars-file",
        "deploy/local/vars.example.yaml",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).ends_with("7 services valid\n"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_typo_and_a_syntax_error_exit_1_and_the_other_files_stay_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("web.yaml"),
        manifest("web").replace("desiredCount", "desiredCont"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("api.yaml"),
        manifest("api").replace("{subnets: [subnet-0aaa]}}", "{subnets: [subnet-0aaa}}"),
    )
    .expect("write");
    std::fs::write(dir.path().join("worker.yaml"), manifest("worker")).expect("write");
    let path = dir.path().to_string_lossy().into_owned();

    let output = berth(&["validate", &path]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("api.yaml:7:69: YAML syntax error"),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "web.yaml:5:3: spec.desiredCont: unknown field `desiredCont`; did you mean `desiredCount`?"
    );
    assert_eq!(lines[2], "1 service valid, 2 invalid: api.yaml:7, prod/web");

    let output = berth(&["validate", &path, "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["valid"][0]["name"], "worker");
    assert_eq!(report["invalid"][1]["name"], "web");
    let diagnostic = &report["invalid"][1]["diagnostics"][0];
    assert_eq!(diagnostic["file"], "web.yaml");
    assert_eq!(diagnostic["line"], 5);
    assert_eq!(diagnostic["column"], 3);
    assert_eq!(diagnostic["path"], "spec.desiredCont");
    assert_eq!(diagnostic["severity"], "error");
}

#[test]
fn render_prints_the_register_task_definition_input() {
    let output = berth(&[
        "render",
        "manifests",
        "--vars-file",
        "deploy/local/vars.example.yaml",
        "--service",
        "web",
        "--cluster",
        "prod",
        "--only",
        "task-definition",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let input: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(input["family"], "web");
    assert_eq!(
        input["cpu"], "512",
        "task size is sent as ECS's numeric string"
    );
    assert_eq!(
        input["containerDefinitions"][0]["image"],
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2"
    );
    let tags = input["tags"].as_array().expect("tags");
    assert!(
        tags.iter()
            .any(|t| t["key"] == "berth:managed-by" && t["value"] == "berth"),
        "{tags:?}"
    );
    assert!(
        tags.iter()
            .any(|t| t["key"] == "berth:source" && t["value"] == "manifests#prod/web.yaml"),
        "{tags:?}"
    );
}

#[test]
fn import_turns_describe_output_into_a_manifest_that_validates() {
    use berth_testkit::corpus;

    let task_definition = corpus::fixture(
        corpus::TASK_DEFINITIONS,
        "fargate-web-secrets-healthcheck.json",
    );
    let service = corpus::fixture(corpus::SERVICES, "ecspresso-capacity-provider-spot.json");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_string_lossy().into_owned();
    let output = berth(&[
        "import",
        "--from-file",
        &task_definition.to_string_lossy(),
        "--service-file",
        &service.to_string_lossy(),
        "--name",
        "harbor-web",
        "--cluster",
        "prod",
        "--out",
        &out,
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written = dir.path().join("harbor-web.yaml");
    assert!(written.is_file());
    let output = berth(&["validate", &out]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    // Never overwrites.
    let again = berth(&[
        "import",
        "--from-file",
        &task_definition.to_string_lossy(),
        "--name",
        "harbor-web",
        "--cluster",
        "prod",
        "--out",
        &out,
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
}

#[test]
fn help_lists_the_commands() {
    let output = berth(&["--help"]);
    let text = stdout(&output);
    for command in ["validate", "render", "import"] {
        assert!(text.contains(command), "{text}");
    }
}

/// `berth` with static credentials for the emulator and no AWS configuration from this machine.
fn berth_against(endpoint: &str, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--endpoint-url", endpoint, "--region", "us-east-1"]);
    berth_testkit::isolate_aws_environment(&mut Command::new(env!("CARGO_BIN_EXE_berth")))
        .args(&all)
        .current_dir(workspace_root())
        .output()
        .expect("run berth")
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The summary table's rows: `(service, result)`.
fn summary(output: &Output) -> Vec<(String, String)> {
    let text = stdout(output);
    text.lines()
        .skip_while(|line| !line.starts_with("SERVICE "))
        .skip(1)
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?.to_string(), words.next()?.to_string()))
        })
        .collect()
}

/// Issue 4, end to end: the example estate applied by the binary against a private emulator
/// (the CLI cannot send the per-test account header, so it gets moto's default account).
#[test]
fn apply_creates_the_example_estate_then_plan_is_clean_and_a_failing_image_exits_1() {
    use berth_testkit::http::post_json;
    use serde_json::json;

    let emulator = berth_testkit::Emulator::start().expect("emulator");
    let endpoint = emulator.endpoint();
    let set = |setting: &str, body: serde_json::Value| {
        let response = post_json(
            emulator.addr(),
            &format!("/berth-moto/{setting}"),
            &[],
            &body,
        )
        .expect("berth-moto");
        assert!(response.is_success(), "{}", response.text());
    };
    set("rollout-seconds", json!(0.2));
    set("failing-images", json!(["bad:broken"]));
    let account = emulator.default_account();
    for cluster in ["prod", "staging"] {
        account
            .ecs("CreateCluster", json!({ "clusterName": cluster }))
            .expect("CreateCluster");
    }
    for (repository, tag) in DEMO_IMAGES {
        account.push_image(repository, tag).expect("push");
    }
    let network = account.default_network().expect("default VPC");
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = dir.path().join("vars.yaml");
    std::fs::write(
        &vars,
        format!(
            "ACCOUNT: \"{}\"\nREGION: us-east-1\nSUBNET_A: {}\nSUBNET_B: {}\nSECURITY_GROUP: {}\n",
            account.id(),
            network.subnets[0],
            network.subnets[1],
            network.security_group
        ),
    )
    .expect("write vars");
    let vars = vars.to_string_lossy().into_owned();
    let apply_flags = [
        "--progress-deadline",
        "30s",
        "--poll-interval",
        "200ms",
        "--revision",
        "c0ffee1",
    ];

    // Not on a terminal and no --yes: refused before anything changes.
    let mut args = vec!["apply", "manifests", "--vars-file", &vars];
    args.extend(apply_flags);
    let refused = berth_against(&endpoint, &args);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--yes"),
        "{}",
        describe(&refused)
    );
    let listed = account
        .ecs("ListServices", json!({ "cluster": "prod" }))
        .expect("ListServices");
    assert_eq!(listed["serviceArns"], json!([]), "nothing was created");

    args.push("--yes");
    let applied = berth_against(&endpoint, &args);
    println!("{}", describe(&applied));
    assert_eq!(applied.status.code(), Some(0), "{}", describe(&applied));
    let rows = summary(&applied);
    assert_eq!(rows.len(), 7, "{}", describe(&applied));
    assert!(
        rows.iter().all(|(_, result)| result == "Synced"),
        "{rows:?}"
    );

    let planned = berth_against(&endpoint, &["plan", "manifests", "--vars-file", &vars]);
    assert_eq!(planned.status.code(), Some(0), "{}", describe(&planned));

    // A copy of the estate where reports gets an image whose tasks never start, and worker a
    // new tag: reports is rolled back and Failed (exit 1), worker still converges.
    let estate = dir.path().join("manifests");
    for sub in ["prod", "staging"] {
        std::fs::create_dir_all(estate.join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(workspace_root().join("manifests").join(sub)).expect("ls") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            let text = match path.file_name().and_then(|n| n.to_str()) {
                Some("reports.yaml") => text.replace("/worker:3.1.0", "/bad:broken"),
                Some("backend.yaml") => text.replace("/worker:3.1.0", "/worker:3.2.0"),
                _ => text,
            };
            std::fs::write(estate.join(sub).join(path.file_name().expect("name")), text)
                .expect("write");
        }
    }
    let estate = estate.to_string_lossy().into_owned();
    let mut args = vec![
        "apply",
        &estate,
        "--vars-file",
        &vars,
        "--source-id",
        "manifests",
        "--yes",
    ];
    args.extend(apply_flags);
    let failed = berth_against(&endpoint, &args);
    println!("{}", describe(&failed));
    assert_eq!(failed.status.code(), Some(1), "{}", describe(&failed));
    let rows = summary(&failed);
    assert!(
        rows.contains(&("prod/reports".to_string(), "Failed".to_string())),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("prod/worker".to_string(), "Synced".to_string())),
        "{rows:?}"
    );
    let text = stdout(&failed);
    assert!(
        text.lines().any(|l| l.starts_with("prod/reports")
            && l.contains("Failed")
            && l.contains("last ECS event")),
        "{text}"
    );
    assert!(
        text.contains("deployment failed"),
        "ECS's events are shown: {text}"
    );
}
