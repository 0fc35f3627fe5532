//! Whole-pipeline tests: a minimal desired value and ECS's filled-in form of it normalize
//! equal, normalization is idempotent, and meaningful changes show with their paths.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::*;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn parse<T: DeserializeOwned>(yaml: &str) -> T {
    let docs = crate::yaml::parse_documents(&Arc::from("test.yaml"), yaml)
        .unwrap_or_else(|diag| panic!("{diag}"));
    crate::de::from_node(&docs[0]).unwrap_or_else(|err| panic!("{err}"))
}

fn td(yaml: &str) -> TaskDefinitionSpec {
    parse(yaml)
}

fn svc(yaml: &str) -> ServiceSpec {
    parse(yaml)
}

/// What a user writes.
const DESIRED_TD: &str = r#"
family: web
cpu: 0.25 vCPU
memory: 0.5 GB
networkMode: awsvpc
requiresCompatibilities: [FARGATE]
executionRoleArn: ecsTaskExecutionRole
containerDefinitions:
  - name: web
    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2
    portMappings: [{containerPort: 8080}]
    environment: [{name: LOG_LEVEL, value: info}, {name: EMPTY, value: ""}, {name: A, value: "1"}]
    secrets: [{name: DB_PASSWORD, valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf'}]
    healthCheck: {command: [CMD-SHELL, curl -f localhost:8080/health]}
    command: [serve, --port, "8080"]
  - name: log
    image: public.ecr.aws/aws-observability/aws-for-fluent-bit:stable
    essential: false
    firelensConfiguration: {type: fluentbit}
tags: [{key: team, value: web}, {key: tier, value: front}]
"#;

/// What ECS reports for it: defaults filled, lists reordered, empty lists and nulls, the
/// image as registered (pinned), unit strings.
const LIVE_TD: &str = r#"
family: web
cpu: "256"
memory: "512"
networkMode: awsvpc
requiresCompatibilities: [FARGATE]
executionRoleArn: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
taskRoleArn: null
volumes: []
placementConstraints: []
ephemeralStorage: {sizeInGiB: 21}
runtimePlatform: {cpuArchitecture: X86_64, operatingSystemFamily: LINUX}
enableFaultInjection: false
containerDefinitions:
  - name: log
    image: public.ecr.aws/aws-observability/aws-for-fluent-bit:stable
    cpu: 0
    essential: false
    portMappings: []
    environment: []
    mountPoints: []
    volumesFrom: []
    user: ""
    firelensConfiguration: {type: fluentbit, options: null}
  - name: web
    image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    cpu: 0
    essential: true
    portMappings: [{containerPort: 8080, hostPort: 8080, protocol: tcp}]
    environment: [{name: A, value: "1"}, {name: EMPTY}, {name: LOG_LEVEL, value: info}]
    secrets: [{name: DB_PASSWORD, valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf'}]
    mountPoints: []
    volumesFrom: []
    healthCheck: {command: [CMD-SHELL, curl -f localhost:8080/health], interval: 30, timeout: 5, retries: 3}
    command: [serve, --port, "8080"]
    privileged: false
    linuxParameters: {initProcessEnabled: false, capabilities: {add: [], drop: []}}
tags: [{key: tier, value: front}, {key: team, value: web}]
"#;

fn images() -> ImageDigests {
    [(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2".to_string(),
        DIGEST.to_string(),
    )]
    .into()
}

#[test]
fn desired_and_live_task_definition_normalize_equal() {
    let desired = task_definition(&td(DESIRED_TD), &images());
    let live = task_definition(&td(LIVE_TD), &images());
    assert_eq!(diff(&live, &desired), Vec::<Change>::new());
    assert_eq!(live, desired);
    assert_eq!(live.to_string(), desired.to_string(), "one spelling");
}

#[test]
fn normalized_task_definition_reads_as_documented() {
    let normalized = task_definition(&td(DESIRED_TD), &images());
    assert_eq!(
        normalized,
        json!({
            "containerDefinitions": {
                "log": {
                    "cpu": 0, "essential": false,
                    "firelensConfiguration": {"type": "fluentbit"},
                    "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                    "name": "log",
                },
                "web": {
                    "command": ["serve", "--port", "8080"],
                    "cpu": 0, "essential": true,
                    "environment": {"A": "1", "EMPTY": "", "LOG_LEVEL": "info"},
                    "healthCheck": {
                        "command": ["CMD-SHELL", "curl -f localhost:8080/health"],
                        "interval": 30, "retries": 3, "startPeriod": 0, "timeout": 5,
                    },
                    "image": format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{DIGEST}"),
                    "name": "web",
                    "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                    "secrets": {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"},
                },
            },
            "cpu": 256,
            "executionRoleArn": "ecsTaskExecutionRole",
            "family": "web",
            "memory": 512,
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "tags": {"team": "web", "tier": "front"},
        })
    );
}

#[test]
fn normalizing_a_normalized_task_definition_is_a_no_op() {
    for yaml in [DESIRED_TD, LIVE_TD, EC2_TD] {
        let once = task_definition(&td(yaml), &images());
        let twice = normalize_task_definition(once.clone(), &images());
        assert_eq!(twice.to_string(), once.to_string());
    }
}

#[test]
fn normalizing_a_normalized_service_is_a_no_op() {
    for yaml in [DESIRED_SERVICE, LIVE_SERVICE, "schedulingStrategy: DAEMON"] {
        let once = service(&svc(yaml), Some(&td(DESIRED_TD)));
        let twice = normalize_service(once.clone(), true);
        assert_eq!(twice.to_string(), once.to_string());
    }
}

const EC2_TD: &str = r#"
family: worker
containerDefinitions:
  - name: worker
    image: nginx:1.27
    memory: 256
    portMappings: [{containerPort: 80}]
    mountPoints: [{sourceVolume: data, containerPath: /data}]
    ulimits: [{name: nofile, softLimit: 1024, hardLimit: 2048}]
volumes: [{name: data}]
"#;

#[test]
fn ec2_bridge_defaults_and_dynamic_host_ports() {
    let desired = task_definition(&td(EC2_TD), &ImageDigests::new());
    let live = task_definition(
        &td(r#"
family: worker
networkMode: bridge
volumes: [{name: data, host: {}}]
containerDefinitions:
  - name: worker
    image: nginx:1.27
    cpu: 0
    memory: 256
    essential: true
    portMappings: [{containerPort: 80, hostPort: 0, protocol: tcp}]
    mountPoints: [{sourceVolume: data, containerPath: /data, readOnly: false}]
    volumesFrom: []
    ulimits: [{name: nofile, softLimit: 1024, hardLimit: 2048}]
"#),
        &ImageDigests::new(),
    );
    assert_eq!(diff(&live, &desired), Vec::<Change>::new());
    assert_eq!(desired["networkMode"], json!("bridge"));
    assert_eq!(desired["volumes"], json!({"data": {"name": "data"}}));
    assert_eq!(
        desired["containerDefinitions"]["worker"]["ulimits"],
        json!({"nofile": {"name": "nofile", "softLimit": 1024, "hardLimit": 2048}})
    );
}

#[test]
fn meaningful_task_definition_changes_show_with_their_paths() {
    let base = task_definition(&td(DESIRED_TD), &images());
    let changed = |from: &str, to: &str| {
        assert!(DESIRED_TD.contains(from), "{from}");
        let yaml = DESIRED_TD.replace(from, to);
        diff(&base, &task_definition(&td(&yaml), &images()))
    };
    let paths =
        |changes: Vec<Change>| -> Vec<String> { changes.into_iter().map(|c| c.path).collect() };
    assert_eq!(
        paths(changed("web:1.4.2", "web:1.4.3")),
        ["containerDefinitions.web.image"]
    );
    assert_eq!(
        paths(changed("value: info", "value: debug")),
        ["containerDefinitions.web.environment.LOG_LEVEL"]
    );
    assert_eq!(paths(changed("cpu: 0.25 vCPU", "cpu: 512")), ["cpu"]);
    assert_eq!(
        paths(changed("containerPort: 8080", "containerPort: 8081")),
        ["containerDefinitions.web.portMappings"]
    );
    assert_eq!(
        paths(changed(
            "[serve, --port, \"8080\"]",
            "[--port, \"8080\", serve]"
        )),
        ["containerDefinitions.web.command"]
    );
    assert_eq!(
        paths(changed("essential: false", "essential: true")),
        ["containerDefinitions.log.essential"]
    );
    assert_eq!(
        paths(changed(
            "{key: tier, value: front}",
            "{key: tier, value: back}"
        )),
        ["tags.tier"]
    );
    assert_eq!(
        paths(changed(
            "executionRoleArn: ecsTaskExecutionRole",
            "executionRoleArn: other"
        )),
        ["executionRoleArn"]
    );
}

#[test]
fn an_unresolved_tag_is_not_its_digest() {
    let desired = task_definition(&td(DESIRED_TD), &images());
    let live = task_definition(&td(DESIRED_TD), &ImageDigests::new());
    let changes = diff(&live, &desired);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].path, "containerDefinitions.web.image");
}

/// What a user writes for a service.
const DESIRED_SERVICE: &str = r#"
desiredCount: 2
launchType: FARGATE
networkConfiguration:
  awsvpcConfiguration: {subnets: [subnet-b, subnet-a], securityGroups: [sg-1]}
loadBalancers:
  - {targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1', containerName: web, containerPort: 8080}
deploymentConfiguration: {deploymentCircuitBreaker: {enable: true, rollback: true}}
tags: [{key: team, value: web}]
"#;

/// What DescribeServices reports for it.
const LIVE_SERVICE: &str = r#"
desiredCount: 2
launchType: FARGATE
platformVersion: LATEST
schedulingStrategy: REPLICA
availabilityZoneRebalancing: ENABLED
propagateTags: NONE
enableECSManagedTags: false
enableExecuteCommand: false
healthCheckGracePeriodSeconds: 0
deploymentController: {type: ECS}
networkConfiguration:
  awsvpcConfiguration: {subnets: [subnet-a, subnet-b], securityGroups: [sg-1], assignPublicIp: DISABLED}
loadBalancers:
  - {targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1', containerName: web, containerPort: 8080}
deploymentConfiguration:
  maximumPercent: 200
  minimumHealthyPercent: 100
  strategy: ROLLING
  bakeTimeInMinutes: 0
  deploymentCircuitBreaker: {enable: true, rollback: true}
  alarms: {alarmNames: [], enable: false, rollback: false}
placementConstraints: []
placementStrategy: []
serviceRegistries: []
tags: [{key: team, value: web}]
"#;

#[test]
fn desired_and_live_service_normalize_equal() {
    let desired = service(&svc(DESIRED_SERVICE), Some(&td(DESIRED_TD)));
    let live = service(&svc(LIVE_SERVICE), None);
    assert_eq!(diff(&live, &desired), Vec::<Change>::new());
    assert_eq!(live, desired);
}

#[test]
fn service_ignores_its_task_definition() {
    let mut spec = svc(DESIRED_SERVICE);
    let without = service(&spec, None);
    spec.task_definition = Some(td(DESIRED_TD));
    assert_eq!(service(&spec, None), without);
}

#[test]
fn service_on_fargate_by_task_definition_gets_latest_platform() {
    let spec = svc("desiredCount: 1");
    assert_eq!(
        service(&spec, Some(&td(DESIRED_TD)))["platformVersion"],
        json!("LATEST")
    );
    assert_eq!(
        service(&spec, Some(&td(EC2_TD))).get("platformVersion"),
        None
    );
}

#[test]
fn meaningful_service_changes_show_with_their_paths() {
    let base = service(&svc(DESIRED_SERVICE), None);
    let changed = |from: &str, to: &str| {
        assert!(DESIRED_SERVICE.contains(from), "{from}");
        let yaml = DESIRED_SERVICE.replace(from, to);
        diff(&base, &service(&svc(&yaml), None))
            .into_iter()
            .map(|c| c.path)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        changed("desiredCount: 2", "desiredCount: 3"),
        ["desiredCount"]
    );
    assert_eq!(
        changed("[subnet-b, subnet-a]", "[subnet-a, subnet-b]"),
        Vec::<String>::new(),
        "subnet order is no change"
    );
    assert_eq!(
        changed("[subnet-b, subnet-a]", "[subnet-a, subnet-c]"),
        ["networkConfiguration.awsvpcConfiguration.subnets"]
    );
    assert_eq!(
        changed("rollback: true}", "rollback: false}"),
        ["deploymentConfiguration.deploymentCircuitBreaker.rollback"]
    );
    assert_eq!(changed("value: web}", "value: api}"), ["tags.team"]);
}

#[test]
fn ignore_differences_hides_fields_on_both_sides() {
    let mut live = service(&svc(LIVE_SERVICE), None);
    let mut desired = service(
        &svc(&DESIRED_SERVICE.replace("desiredCount: 2", "desiredCount: 5")),
        None,
    );
    let paths = vec!["desiredCount".to_string()];
    ignore(&mut live, &paths);
    ignore(&mut desired, &paths);
    assert_eq!(diff(&live, &desired), Vec::<Change>::new());

    let mut live_td = task_definition(&td(LIVE_TD), &ImageDigests::new());
    let mut desired_td = task_definition(&td(DESIRED_TD), &images());
    let paths = vec!["containerDefinitions.web.image".to_string()];
    ignore(&mut live_td, &paths);
    ignore(&mut desired_td, &paths);
    assert_eq!(diff(&live_td, &desired_td), Vec::<Change>::new());
}

#[test]
fn read_only_fields_are_dropped() {
    let mut object = Map::new();
    object.insert("revision".into(), json!(3));
    object.insert("family".into(), json!("web"));
    drop_read_only(&mut object, TASK_DEFINITION_DESCRIBE_ONLY_FIELDS);
    assert_eq!(Value::Object(object), json!({"family": "web"}));
    let mut service = Map::new();
    service.insert("runningCount".into(), json!(1));
    service.insert("events".into(), json!([]));
    drop_read_only(&mut service, SERVICE_DESCRIBE_ONLY_FIELDS);
    assert!(service.is_empty());
}

#[test]
fn change_serializes_with_path_old_and_new() {
    let change = Change {
        path: "desiredCount".into(),
        old: Some(json!(2)),
        new: None,
    };
    assert_eq!(
        serde_json::to_value(&change).expect("serialize"),
        json!({"path": "desiredCount", "old": 2, "new": null})
    );
}

/// Every corpus task definition and service (`testdata/corpus`, or `$BERTH_CORPUS_DIR`) but the
/// deliberate mistakes: normalizing the normalized form changes nothing.
#[test]
fn normalizing_normalized_corpus_values_is_a_no_op() {
    use berth_testkit::corpus::{self, SERVICES, TASK_DEFINITIONS};

    let mut seen = 0;
    for kind in [TASK_DEFINITIONS, SERVICES] {
        for path in corpus::files_without_mistakes(kind) {
            let label: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
            let text = std::fs::read_to_string(&path).expect("read");
            let node = crate::yaml::parse_documents(&label, &text).expect("parse")[0].clone();
            let (once, twice) = if kind == SERVICES {
                let converted = crate::manifest::import::service(node);
                let spec: ServiceSpec = crate::de::from_node(&converted.tree).expect("service");
                let once = service(&spec, None);
                (once.clone(), normalize_service(once, false))
            } else {
                let converted = crate::manifest::import::task_definition(node);
                let spec: TaskDefinitionSpec = crate::de::from_node(&converted.tree).expect("td");
                let once = task_definition(&spec, &images());
                (once.clone(), normalize_task_definition(once, &images()))
            };
            assert_eq!(twice.to_string(), once.to_string(), "{label}");
            seen += 1;
        }
    }
    assert!(seen >= 30, "only {seen} corpus files");
}
