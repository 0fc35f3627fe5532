//! Benchmark: `berth validate` over 2,000 generated manifests. Prints wall time and peak memory;
//! not a timed test. Run with `cargo bench -p berth --bench validate`.
//!
//! Target (issue #2): under 1 s and under 100 MB on the 2-core reference machine.

#[path = "support/proc.rs"]
mod proc_support;
use proc_support::status_kib;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use berth_core::manifest::{LoadOptions, Vars, load};

const SERVICES: usize = 2_000;
const CLUSTERS: usize = 4;

fn manifest(index: usize) -> String {
    format!(
        "\
apiVersion: berth/v1
kind: Service
metadata:
  name: svc-{index:04}
spec:
  desiredCount: {count}
  loadBalancers:
    - targetGroupArn: arn:aws:elasticloadbalancing:us-east-1:${{ACCOUNT}}:targetgroup/svc-{index:04}/0123456789abcdef
      containerName: app
      containerPort: 8080
  taskDefinition:
    cpu: 512
    memory: 1024
    containerDefinitions:
      - name: app
        image: ${{ACCOUNT}}.dkr.ecr.us-east-1.amazonaws.com/svc-{index:04}:1.{index}.0
        portMappings: [{{containerPort: 8080}}]
        environment:
          - {{name: SERVICE, value: svc-{index:04}}}
          - {{name: LOG_LEVEL, value: info}}
        secrets:
          - {{name: DB_PASSWORD, valueFrom: 'arn:aws:secretsmanager:us-east-1:${{ACCOUNT}}:secret:svc-{index:04}-db'}}
        healthCheck: {{command: [CMD-SHELL, 'curl -f http://localhost:8080/health || exit 1']}}
        logConfiguration:
          logDriver: awslogs
          options: {{awslogs-group: /ecs/svc-{index:04}, awslogs-region: us-east-1, awslogs-stream-prefix: app}}
      - name: log-router
        image: public.ecr.aws/aws-observability/aws-for-fluent-bit:stable
        essential: false
        firelensConfiguration: {{type: fluentbit}}
",
        count = index % 5 + 1
    )
}

fn defaults(cluster: usize) -> String {
    format!(
        "\
metadata: {{cluster: cluster-{cluster}}}
spec:
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration: {{subnets: [subnet-0aaa, subnet-0bbb], securityGroups: [sg-0123], assignPublicIp: DISABLED}}
  deploymentConfiguration:
    deploymentCircuitBreaker: {{enable: true, rollback: true}}
  taskDefinition:
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    executionRoleArn: arn:aws:iam::${{ACCOUNT}}:role/ecsTaskExecutionRole
"
    )
}

fn write_estate(root: &Path) -> std::io::Result<u64> {
    let mut bytes = 0;
    for cluster in 0..CLUSTERS {
        let dir = root.join(format!("cluster-{cluster}"));
        std::fs::create_dir_all(&dir)?;
        let text = defaults(cluster);
        bytes += text.len() as u64;
        std::fs::write(dir.join("_defaults.yaml"), text)?;
    }
    for index in 0..SERVICES {
        let text = manifest(index);
        bytes += text.len() as u64;
        std::fs::write(
            root.join(format!("cluster-{}/svc-{index:04}.yaml", index % CLUSTERS)),
            text,
        )?;
    }
    Ok(bytes)
}

/// Peak resident set size of this process so far (`VmHWM`, Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    status_kib("self", "VmHWM")
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = write_estate(dir.path()).expect("write estate");
    let path = dir.path().to_string_lossy().into_owned();
    println!(
        "estate: {SERVICES} services in {CLUSTERS} clusters, {} KiB of YAML",
        bytes / 1024
    );

    // The binary end to end, as a user runs it (process start, read, load, validate, print).
    let mut best = f64::MAX;
    for run in 0..5 {
        let start = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["validate", &path, "--var", "ACCOUNT=123456789012"])
            .output()
            .expect("run berth");
        let elapsed = start.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "validate failed:\n{stdout}");
        assert!(
            stdout.contains(&format!("{SERVICES} services valid")),
            "{stdout}"
        );
        println!("run {run}: berth validate {elapsed:.3} s");
        best = best.min(elapsed);
    }

    // The same pipeline in this process, to read its peak memory (the bench itself is small
    // before this point: a few MiB).
    let before = peak_rss_kib().unwrap_or(0);
    let start = Instant::now();
    let files = berth_source::read_path(dir.path()).expect("read");
    let options = LoadOptions {
        vars: Vars::from([("ACCOUNT".to_string(), "123456789012".to_string())]),
        ..LoadOptions::default()
    };
    let outcome = load(&files, &options);
    let in_process = start.elapsed().as_secs_f64();
    assert_eq!(outcome.services.len(), SERVICES);
    let peak = peak_rss_kib().unwrap_or(0);
    drop(outcome);
    println!(
        "in-process read+load+validate: {in_process:.3} s, peak RSS {:.1} MiB (before: {:.1} MiB)",
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
    println!(
        "RESULT berth validate, {SERVICES} manifests: best {best:.3} s (target < 1 s); peak RSS {:.1} MiB (target < 100 MB)",
        peak as f64 / 1024.0
    );
}
