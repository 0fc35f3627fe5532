//! One test per validation rule: the exact message and its `file:line:column`.

use crate::fixtures::{LoadAs, ManifestText, error_lines, load_files};

fn errors(manifest: ManifestText) -> Vec<String> {
    error_lines(&manifest.load_as("prod/web.yaml"))
}

#[test]
fn the_fixture_is_valid() {
    let outcome = ManifestText::web().load_as("prod/web.yaml");
    assert_eq!(error_lines(&outcome), Vec::<String>::new());
    assert_eq!(outcome.services.len(), 1);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
}

#[test]
fn service_name_must_be_an_ecs_name() {
    assert_eq!(
        errors(ManifestText::web().named("web site")),
        [
            "prod/web.yaml:4:3: metadata.name: `web site` is not a valid ECS name: use 1-255 letters, digits, `-` and `_`"
        ]
    );
}

#[test]
fn task_definition_is_required() {
    let text = ManifestText::web().text();
    let cut = text.find("  taskDefinition:").expect("fixture");
    let outcome = load_files(&[("prod/web.yaml", &text[..cut])]);
    let errors = error_lines(&outcome);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("prod/web.yaml:6:1: spec: missing `taskDefinition`"),
        "{errors:?}"
    );
}

#[test]
fn container_names_are_unique() {
    let manifest = ManifestText::web().append("      - name: web\n        image: nginx:1.27\n");
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:26:9: spec.taskDefinition.containerDefinitions[1].name: container name `web` is already used by containerDefinitions[0]; container names must be unique"
        ]
    );
}

#[test]
fn at_least_one_container_is_essential() {
    let manifest = ManifestText::web().append("        essential: false\n");
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:20:5: spec.taskDefinition.containerDefinitions: no essential container: every container has `essential: false`, but ECS needs at least one essential container (essential is true when omitted)"
        ]
    );
}

#[test]
fn image_references_are_checked() {
    let manifest = ManifestText::web().replace(
        "image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
        "image: Web:latest",
    );
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:22:9: spec.taskDefinition.containerDefinitions[0].image: image `Web:latest`: repository component `Web` must be lowercase letters, digits and single `.`, `_`, `-` separators"
        ]
    );
}

#[test]
fn container_dependencies_name_containers() {
    let manifest = ManifestText::web()
        .append("        dependsOn: [{containerName: log-router, condition: START}]\n");
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:26:22: spec.taskDefinition.containerDefinitions[0].dependsOn[0].containerName: depends on container `log-router`, which is not in this task definition (containers: web)"
        ]
    );
}

#[test]
fn fargate_needs_awsvpc() {
    let manifest = ManifestText::web().replace("networkMode: awsvpc", "networkMode: bridge");
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:18:5: spec.taskDefinition.networkMode: Fargate tasks need `networkMode: awsvpc`; it is `bridge`"
        ]
    );
}

#[test]
fn fargate_cpu_memory_pairs_are_checked() {
    let manifest = ManifestText::web().replace("memory: 512", "memory: 4 GB");
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:17:5: spec.taskDefinition.memory: Fargate does not offer memory 4096 with cpu 256; with cpu 256 use one of: 512, 1024, 2048"
        ]
    );
    let manifest = ManifestText::web().replace("cpu: 256", "cpu: 384");
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:16:5: spec.taskDefinition.cpu: Fargate does not offer cpu 384; use 256, 512, 1024, 2048, 4096, 8192 or 16384 (0.25 to 16 vCPU)"
        ]
    );
    let manifest = ManifestText::web()
        .replace("cpu: 256", "cpu: 0.25 vCPU")
        .replace("memory: 512", "memory: 0.5 GB");
    assert_eq!(errors(manifest), Vec::<String>::new());
}

#[test]
fn fargate_launch_type_needs_fargate_compatibility() {
    let manifest = ManifestText::web().replace(
        "requiresCompatibilities: [FARGATE]",
        "requiresCompatibilities: [EC2]",
    );
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:19:5: spec.taskDefinition.requiresCompatibilities: `launchType: FARGATE` needs the task definition to declare `requiresCompatibilities: [FARGATE]`"
        ]
    );
}

#[test]
fn awsvpc_needs_subnets() {
    let manifest = ManifestText::web().replace("subnets: [subnet-0aaa]", "subnets: []");
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:9:3: spec.networkConfiguration: `networkMode: awsvpc` needs `networkConfiguration.awsvpcConfiguration` with at least one subnet (and usually `securityGroups`)"
        ]
    );
}

#[test]
fn load_balancer_container_must_exist() {
    let manifest = ManifestText::web().replace("containerName: web,", "containerName: app,");
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:14:97: spec.loadBalancers[0].containerName: no container named `app` in the task definition (containers: web)"
        ]
    );
}

#[test]
fn load_balancer_port_must_be_mapped() {
    let manifest = ManifestText::web().replace(
        "portMappings: [{containerPort: 8080}]",
        "portMappings: [{containerPort: 9000}]",
    );
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:14:117: spec.loadBalancers[0].containerPort: container `web` has no port mapping for containerPort 8080 (its ports: 9000); add `portMappings: [{containerPort: 8080}]` to it"
        ]
    );
}

#[test]
fn secrets_must_reference_secrets_manager_or_ssm() {
    let manifest = ManifestText::web().replace(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        "arn:aws:s3:::bucket/db",
    );
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:25:39: spec.taskDefinition.containerDefinitions[0].secrets[0].valueFrom: this ARN is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) or an SSM parameter ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)"
        ]
    );
    // A pasted password where the reference belongs is never echoed.
    let pasted = ManifestText::web().replace(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        "Tr0ub4dor&3 horse",
    );
    let shown = errors(pasted);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(!shown[0].contains("Tr0ub4dor"), "{shown:?}");
    assert!(
        shown[0].contains("store it in Secrets Manager"),
        "{shown:?}"
    );
    let ssm_name = ManifestText::web().replace(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        "/prod/db/password",
    );
    assert_eq!(errors(ssm_name), Vec::<String>::new());
}

#[test]
fn credentials_in_environment_are_a_warning_not_an_error() {
    let manifest = ManifestText::web().replace(
        "{name: LOG_LEVEL, value: info}",
        "{name: AWS_ACCESS_KEY_ID, value: AKIAIOSFODNN7EXAMPLE}",
    );
    let outcome = manifest.load_as("prod/web.yaml");
    assert_eq!(error_lines(&outcome), Vec::<String>::new());
    assert_eq!(
        outcome.services.len(),
        1,
        "a warning keeps the service valid"
    );
    let warnings: Vec<String> = outcome.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with("prod/web.yaml:24:49: warning: spec.taskDefinition.containerDefinitions[0].environment[0].value: `AWS_ACCESS_KEY_ID` looks like an AWS credential in plain text"),
        "{warnings:?}"
    );
}

#[test]
fn duplicate_services_across_files_are_both_invalid() {
    let web = ManifestText::web().text();
    let outcome = load_files(&[("prod/a.yaml", &web), ("prod/b.yaml", &web)]);
    assert!(outcome.services.is_empty());
    assert_eq!(
        error_lines(&outcome),
        [
            "prod/a.yaml:4:3: metadata.name: service `prod/web` is declared more than once (also at prod/b.yaml:1); each (cluster, name) must have exactly one manifest",
            "prod/b.yaml:4:3: metadata.name: service `prod/web` is declared more than once (also at prod/a.yaml:1); each (cluster, name) must have exactly one manifest",
        ]
    );
}

#[test]
fn depends_on_must_name_a_service_in_the_cluster() {
    let manifest = ManifestText::web().set(5, "  cluster: prod\n  dependsOn: [api]");
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:6:15: metadata.dependsOn[0]: depends on `api`, but cluster `prod` has no manifest for a service of that name"
        ]
    );
}

#[test]
fn depends_on_cycles_are_invalid() {
    let web = ManifestText::web()
        .set(5, "  cluster: prod\n  dependsOn: [api]")
        .text();
    let api = ManifestText::web()
        .named("api")
        .set(5, "  cluster: prod\n  dependsOn: [web]")
        .text();
    let outcome = load_files(&[("prod/api.yaml", &api), ("prod/web.yaml", &web)]);
    assert_eq!(
        error_lines(&outcome),
        [
            "prod/api.yaml:6:3: metadata.dependsOn: dependsOn cycle: api -> web -> api; remove one of these dependencies",
            "prod/web.yaml:6:3: metadata.dependsOn: dependsOn cycle: web -> api -> web; remove one of these dependencies",
        ]
    );
}

#[test]
fn service_counts_cannot_be_negative() {
    assert_eq!(
        errors(ManifestText::web().set(7, "  desiredCount: -5")),
        [
            "prod/web.yaml:7:3: spec.desiredCount: `desiredCount` is -5, but it cannot be negative: use 0 or more"
        ]
    );
    let manifest = ManifestText::web().set(
        7,
        "  desiredCount: 0\n  healthCheckGracePeriodSeconds: -1\n  deploymentConfiguration: {minimumHealthyPercent: -50, maximumPercent: 200}",
    );
    assert_eq!(
        errors(manifest),
        [
            "prod/web.yaml:8:3: spec.healthCheckGracePeriodSeconds: `healthCheckGracePeriodSeconds` is -1, but it cannot be negative: use 0 or more",
            "prod/web.yaml:9:29: spec.deploymentConfiguration.minimumHealthyPercent: `minimumHealthyPercent` is -50, but it cannot be negative: use 0 or more",
        ]
    );
}
