//! The `berth` binary as a user runs it: exit codes, `file:line:column` output, JSON reports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    let corpus = workspace_root().join("../shared/corpus");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_string_lossy().into_owned();
    let output = berth(&[
        "import",
        "--from-file",
        &corpus
            .join("task-definitions/29-gha-fargate-secrets-healthcheck.json")
            .to_string_lossy(),
        "--service-file",
        &corpus
            .join("services/01-ecspresso-capacity-provider-spot.json")
            .to_string_lossy(),
        "--name",
        "watchman",
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
    let written = dir.path().join("watchman.yaml");
    assert!(written.is_file());
    let output = berth(&["validate", &out]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    // Never overwrites.
    let again = berth(&[
        "import",
        "--from-file",
        &corpus
            .join("task-definitions/29-gha-fargate-secrets-healthcheck.json")
            .to_string_lossy(),
        "--name",
        "watchman",
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
