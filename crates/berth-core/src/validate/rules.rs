//! The per-service validation rules, one function each, in the order they are reported.

use super::Finding;
use crate::diag::FieldPath;
use crate::field_path;
use crate::image::ImageRef;
use crate::manifest::ServiceManifest;
use crate::model::ecs::{
    Compatibility, ContainerDefinition, LaunchType, NetworkMode, TaskDefinitionSpec,
};

/// A rule: inspects one manifest, returns what is wrong with it.
pub(super) type Rule = fn(&ServiceManifest) -> Vec<Finding>;

/// Every rule, in the order their findings are reported.
pub(super) const ALL: &[Rule] = &[
    names_are_ecs_names,
    task_definition_is_present,
    containers_have_unique_names_and_images,
    one_container_is_essential,
    images_are_valid_references,
    container_dependencies_exist,
    fargate_runs_awsvpc_with_a_valid_size,
    awsvpc_service_has_a_network_configuration,
    load_balancers_name_existing_ports,
    secrets_reference_secrets_manager_or_ssm,
    environment_has_no_credentials,
    service_counts_are_not_negative,
];

const TASK: [&str; 2] = ["spec", "taskDefinition"];

fn task_path() -> FieldPath {
    field_path![TASK[0], TASK[1]]
}

fn container_path(index: usize) -> FieldPath {
    task_path().key("containerDefinitions").index(index)
}

fn task_definition(manifest: &ServiceManifest) -> Option<&TaskDefinitionSpec> {
    manifest.spec.task_definition.as_ref()
}

fn containers(manifest: &ServiceManifest) -> &[ContainerDefinition] {
    task_definition(manifest)
        .and_then(|td| td.container_definitions.as_deref())
        .unwrap_or_default()
}

/// ECS names: 1-255 letters, digits, `-` and `_`.
fn is_ecs_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn names_are_ecs_names(manifest: &ServiceManifest) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (field, value) in [
        ("name", &manifest.metadata.name),
        ("cluster", &manifest.metadata.cluster),
    ] {
        if !is_ecs_name(value) {
            findings.push(Finding::error(
                field_path!["metadata", field],
                format!(
                    "`{value}` is not a valid ECS {field}: use 1-255 letters, digits, `-` and `_`"
                ),
            ));
        }
    }
    if let Some(family) = task_definition(manifest).and_then(|td| td.family.as_deref())
        && !is_ecs_name(family)
    {
        findings.push(Finding::error(
            task_path().key("family"),
            format!("`{family}` is not a valid task definition family: use 1-255 letters, digits, `-` and `_`"),
        ));
    }
    findings
}

/// Service-level counts, durations and percentages: ECS reads none of them as negative.
fn service_counts_are_not_negative(manifest: &ServiceManifest) -> Vec<Finding> {
    let spec = &manifest.spec;
    let deployment = spec.deployment_configuration.as_ref();
    let fields = [
        (field_path!["spec", "desiredCount"], spec.desired_count),
        (
            field_path!["spec", "healthCheckGracePeriodSeconds"],
            spec.health_check_grace_period_seconds,
        ),
        (
            field_path!["spec", "deploymentConfiguration", "maximumPercent"],
            deployment.and_then(|d| d.maximum_percent),
        ),
        (
            field_path!["spec", "deploymentConfiguration", "minimumHealthyPercent"],
            deployment.and_then(|d| d.minimum_healthy_percent),
        ),
        (
            field_path!["spec", "deploymentConfiguration", "bakeTimeInMinutes"],
            deployment.and_then(|d| d.bake_time_in_minutes),
        ),
    ];
    fields
        .into_iter()
        .filter_map(|(path, value)| {
            let value = value.filter(|v| *v < 0)?;
            let name = path.last_key().unwrap_or_default().to_string();
            Some(Finding::error(
                path,
                format!("`{name}` is {value}, but it cannot be negative: use 0 or more"),
            ))
        })
        .collect()
}

fn task_definition_is_present(manifest: &ServiceManifest) -> Vec<Finding> {
    match task_definition(manifest) {
        None => vec![Finding::error(
            field_path!["spec"],
            "missing `taskDefinition`: every service declares its task definition inline under `spec.taskDefinition`",
        )],
        Some(td) if td.container_definitions.as_ref().is_none_or(Vec::is_empty) => {
            vec![Finding::error(
                task_path(),
                "missing `containerDefinitions`: a task definition needs at least one container",
            )]
        }
        Some(_) => Vec::new(),
    }
}

fn containers_have_unique_names_and_images(manifest: &ServiceManifest) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for (index, container) in containers(manifest).iter().enumerate() {
        match container.name.as_deref() {
            None | Some("") => findings.push(Finding::error(
                container_path(index),
                "container has no `name`; every container needs a name unique in the task definition",
            )),
            Some(name) => match seen.iter().find(|(other, _)| *other == name) {
                Some((_, first)) => findings.push(Finding::error(
                    container_path(index).key("name"),
                    format!("container name `{name}` is already used by containerDefinitions[{first}]; container names must be unique"),
                )),
                None => seen.push((name, index)),
            },
        }
        if container.image.as_deref().is_none_or(str::is_empty) {
            findings.push(Finding::error(
                container_path(index),
                "container has no `image`",
            ));
        }
    }
    findings
}

fn one_container_is_essential(manifest: &ServiceManifest) -> Vec<Finding> {
    let containers = containers(manifest);
    if containers.is_empty() || containers.iter().any(|c| c.essential != Some(false)) {
        return Vec::new();
    }
    vec![Finding::error(
        task_path().key("containerDefinitions"),
        "no essential container: every container has `essential: false`, but ECS needs at least one essential container (essential is true when omitted)",
    )]
}

fn images_are_valid_references(manifest: &ServiceManifest) -> Vec<Finding> {
    containers(manifest)
        .iter()
        .enumerate()
        .filter_map(|(index, container)| {
            let image = container
                .image
                .as_deref()
                .filter(|image| !image.is_empty())?;
            ImageRef::parse(image)
                .err()
                .map(|why| Finding::error(container_path(index).key("image"), why))
        })
        .collect()
}

fn container_dependencies_exist(manifest: &ServiceManifest) -> Vec<Finding> {
    let containers = containers(manifest);
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c.name.as_deref())
        .collect();
    let mut findings = Vec::new();
    for (index, container) in containers.iter().enumerate() {
        for (i, dependency) in container.depends_on.iter().flatten().enumerate() {
            if !names.contains(&dependency.container_name.as_str()) {
                findings.push(Finding::error(
                    container_path(index).key("dependsOn").index(i).key("containerName"),
                    format!(
                        "depends on container `{}`, which is not in this task definition (containers: {})",
                        dependency.container_name,
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    findings
}

/// Whether the service runs on Fargate: by launch type, capacity providers or compatibility.
fn runs_on_fargate(manifest: &ServiceManifest) -> bool {
    let spec = &manifest.spec;
    let by_launch_type = spec.launch_type == Some(LaunchType::Fargate);
    let by_capacity_provider = spec
        .capacity_provider_strategy
        .iter()
        .flatten()
        .any(|item| item.capacity_provider.starts_with("FARGATE"));
    let by_compatibility = task_definition(manifest)
        .and_then(|td| td.requires_compatibilities.as_ref())
        .is_some_and(|c| c.contains(&Compatibility::Fargate));
    by_launch_type || by_capacity_provider || by_compatibility
}

/// Memory sizes (MiB) Fargate accepts for a task cpu value.
fn fargate_memory_options(cpu: u32) -> Option<Vec<u32>> {
    let range = |from: u32, to: u32, step: u32| (from..=to).step_by(step as usize).collect();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122_880, 8192),
        _ => return None,
    })
}

fn fargate_runs_awsvpc_with_a_valid_size(manifest: &ServiceManifest) -> Vec<Finding> {
    let Some(td) = task_definition(manifest) else {
        return Vec::new();
    };
    if !runs_on_fargate(manifest) {
        return Vec::new();
    }
    let mut findings = Vec::new();
    if td.network_mode != Some(NetworkMode::Awsvpc) {
        let shown = td
            .network_mode
            .map_or("unset (bridge)".to_string(), |m| format!("`{m}`"));
        findings.push(Finding::error(
            task_path().key("networkMode"),
            format!("Fargate tasks need `networkMode: awsvpc`; it is {shown}"),
        ));
    }
    if manifest.spec.launch_type == Some(LaunchType::Fargate)
        && !td
            .requires_compatibilities
            .as_ref()
            .is_some_and(|c| c.contains(&Compatibility::Fargate))
    {
        findings.push(Finding::error(
            task_path().key("requiresCompatibilities"),
            "`launchType: FARGATE` needs the task definition to declare `requiresCompatibilities: [FARGATE]`",
        ));
    }
    match (td.cpu, td.memory) {
        (Some(cpu), Some(memory)) => match fargate_memory_options(cpu.0) {
            None => findings.push(Finding::error(
                task_path().key("cpu"),
                format!("Fargate does not offer cpu {cpu}; use 256, 512, 1024, 2048, 4096, 8192 or 16384 (0.25 to 16 vCPU)"),
            )),
            Some(options) if !options.contains(&memory.0) => {
                let shown: Vec<String> = options.iter().map(u32::to_string).collect();
                findings.push(Finding::error(
                    task_path().key("memory"),
                    format!("Fargate does not offer memory {memory} with cpu {cpu}; with cpu {cpu} use one of: {}", shown.join(", ")),
                ));
            }
            Some(_) => {}
        },
        (cpu, memory) => {
            let missing = if cpu.is_none() { "cpu" } else { "memory" };
            let _ = memory;
            findings.push(Finding::error(
                task_path(),
                format!("Fargate tasks need task-level `cpu` and `memory`; `{missing}` is missing (e.g. `cpu: 256`, `memory: 512`)"),
            ));
        }
    }
    findings
}

fn awsvpc_service_has_a_network_configuration(manifest: &ServiceManifest) -> Vec<Finding> {
    let awsvpc =
        task_definition(manifest).is_some_and(|td| td.network_mode == Some(NetworkMode::Awsvpc));
    let configured = manifest
        .spec
        .network_configuration
        .as_ref()
        .and_then(|n| n.awsvpc_configuration.as_ref())
        .is_some_and(|a| !a.subnets.is_empty());
    if !awsvpc || configured {
        return Vec::new();
    }
    vec![Finding::error(
        field_path!["spec", "networkConfiguration"],
        "`networkMode: awsvpc` needs `networkConfiguration.awsvpcConfiguration` with at least one subnet (and usually `securityGroups`)",
    )]
}

fn load_balancers_name_existing_ports(manifest: &ServiceManifest) -> Vec<Finding> {
    let containers = containers(manifest);
    if containers.is_empty() {
        return Vec::new(); // reported by task_definition_is_present
    }
    let mut findings = Vec::new();
    for (i, lb) in manifest.spec.load_balancers.iter().flatten().enumerate() {
        let path = field_path!["spec", "loadBalancers", i];
        let Some(name) = lb.container_name.as_deref() else {
            findings.push(Finding::error(
                path,
                "missing `containerName`: which container receives the traffic?",
            ));
            continue;
        };
        let Some(container) = containers.iter().find(|c| c.name.as_deref() == Some(name)) else {
            let names: Vec<&str> = containers
                .iter()
                .filter_map(|c| c.name.as_deref())
                .collect();
            findings.push(Finding::error(
                path.key("containerName"),
                format!(
                    "no container named `{name}` in the task definition (containers: {})",
                    names.join(", ")
                ),
            ));
            continue;
        };
        let Some(port) = lb.container_port else {
            findings.push(Finding::error(path, "missing `containerPort`"));
            continue;
        };
        let ports: Vec<i32> = container
            .port_mappings
            .iter()
            .flatten()
            .filter_map(|mapping| mapping.container_port)
            .collect();
        if !ports.contains(&port) {
            let shown: Vec<String> = ports.iter().map(i32::to_string).collect();
            findings.push(Finding::error(
                path.key("containerPort"),
                format!(
                    "container `{name}` has no port mapping for containerPort {port} (its ports: {}); add `portMappings: [{{containerPort: {port}}}]` to it",
                    if shown.is_empty() { "none".to_string() } else { shown.join(", ") }
                ),
            ));
        }
    }
    findings
}

/// Why `value_from` is not a Secrets Manager or SSM Parameter Store reference, if it is not.
fn check_value_from(value_from: &str) -> Result<(), String> {
    if let Some(rest) = value_from.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let valid = match parts.as_slice() {
            [partition, "secretsmanager", region, account, resource] => {
                partition.starts_with("aws")
                    && !region.is_empty()
                    && account.len() == 12
                    && resource.starts_with("secret:")
            }
            [partition, "ssm", region, account, resource] => {
                partition.starts_with("aws")
                    && !region.is_empty()
                    && account.len() == 12
                    && resource.starts_with("parameter")
            }
            _ => false,
        };
        return if valid {
            Ok(())
        } else {
            Err("this ARN is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) or an SSM parameter ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)".to_string())
        };
    }
    let valid_name = !value_from.is_empty()
        && value_from.len() <= 2048
        && value_from
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'));
    if valid_name {
        Ok(())
    } else {
        // The value is not echoed: a pasted secret is the usual reason for this error.
        Err(
            "this value is neither an ARN nor an SSM parameter name (letters, digits, _ . - /); \
             if it is the secret itself, store it in Secrets Manager or SSM and reference that"
                .to_string(),
        )
    }
}

fn secrets_reference_secrets_manager_or_ssm(manifest: &ServiceManifest) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, container) in containers(manifest).iter().enumerate() {
        for (i, secret) in container.secrets.iter().flatten().enumerate() {
            if let Err(why) = check_value_from(&secret.value_from) {
                findings.push(Finding::error(
                    container_path(index)
                        .key("secrets")
                        .index(i)
                        .key("valueFrom"),
                    why,
                ));
            }
        }
        let secret_options = container
            .log_configuration
            .as_ref()
            .and_then(|l| l.secret_options.as_ref());
        for (i, secret) in secret_options.iter().copied().flatten().enumerate() {
            if let Err(why) = check_value_from(&secret.value_from) {
                findings.push(Finding::error(
                    container_path(index)
                        .key("logConfiguration")
                        .key("secretOptions")
                        .index(i)
                        .key("valueFrom"),
                    why,
                ));
            }
        }
    }
    findings
}

/// Whether an environment value looks like an AWS access key id or a secret key.
fn looks_like_credential(name: &str, value: &str) -> bool {
    let access_key_id = value.len() == 20
        && (value.starts_with("AKIA") || value.starts_with("ASIA"))
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let upper = name.to_ascii_uppercase();
    let secret_key = upper.contains("SECRET")
        && value.len() == 40
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+');
    access_key_id || secret_key
}

fn environment_has_no_credentials(manifest: &ServiceManifest) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, container) in containers(manifest).iter().enumerate() {
        for (i, variable) in container.environment.iter().flatten().enumerate() {
            let (Some(name), Some(value)) = (variable.name.as_deref(), variable.value.as_deref())
            else {
                continue;
            };
            if looks_like_credential(name, value) {
                findings.push(Finding::warning(
                    container_path(index).key("environment").index(i).key("value"),
                    format!(
                        "`{name}` looks like an AWS credential in plain text (it is stored in the task definition and visible to anyone who can describe it); move it to Secrets Manager or SSM and reference it under `secrets: [{{name: {name}, valueFrom: ...}}]`"
                    ),
                ));
            }
        }
    }
    findings
}
