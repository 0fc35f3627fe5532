//! Task definition rules: ECS defaults, unit forms, role names and image digests.
//!
//! Every rule works on the task definition as a JSON object, whether its lists are still lists
//! or already keyed maps, so normalizing a normalized value changes nothing.

use serde_json::{Map, Value, json};

use super::ImageDigests;
use super::fields::{
    container, docker_volume, efs_authorization, efs_volume, ephemeral_storage, health_check,
    linux_parameters, mount_point, port_mapping, proxy_configuration, runtime_platform,
    task_definition as task, volume, volume_from,
};
use super::generic::{drop_if, fill, items, items_mut};
use crate::image::ImageRef;

/// What rules need to know about the task definition as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskContext {
    /// `networkMode` after [`default_network_mode`] (`None` only on Fargate without one).
    pub network_mode: Option<String>,
    /// `requiresCompatibilities` includes `FARGATE`.
    pub fargate: bool,
    /// `requiresCompatibilities` is exactly `[FARGATE]`: it runs nowhere else.
    pub fargate_only: bool,
}

impl TaskContext {
    /// Reads the context off a task definition object.
    pub(crate) fn of(td: &Map<String, Value>) -> TaskContext {
        let compatibilities: Vec<&str> = td
            .get(task::REQUIRES_COMPATIBILITIES)
            .map(items)
            .unwrap_or_default()
            .into_iter()
            .filter_map(Value::as_str)
            .collect();
        let fargate = compatibilities.contains(&"FARGATE");
        TaskContext {
            network_mode: td
                .get(task::NETWORK_MODE)
                .and_then(Value::as_str)
                .map(str::to_string),
            fargate,
            fargate_only: fargate && compatibilities.iter().all(|c| *c == "FARGATE"),
        }
    }
}

/// Rule: an absent `networkMode` is `bridge` (ECS's default on EC2 and external instances).
/// Not on Fargate, which has no default (it requires `awsvpc` written out).
pub(crate) fn default_network_mode(td: &mut Map<String, Value>) {
    if !TaskContext::of(td).fargate {
        fill(td, task::NETWORK_MODE, json!("bridge"));
    }
}

/// Rule: task `cpu` and `memory` are numbers. The typed model already reads every unit form
/// (`"0.25 vCPU"`, `"1 GB"`, `256`) and writes the numeric string (`"256"`); this makes it a
/// number, so `"256"` and `256` are one value.
pub(crate) fn task_size_as_numbers(td: &mut Map<String, Value>) {
    for field in [task::CPU, task::MEMORY] {
        if let Some(value) = td.get_mut(field)
            && let Some(number) = value.as_str().and_then(|s| s.trim().parse::<u64>().ok())
        {
            *value = json!(number);
        }
    }
}

/// The role name of an IAM role ARN (`arn:aws:iam::123456789012:role/path/name` -> `name`);
/// anything else (a bare name, a template) as written.
pub(crate) fn role_name(text: &str) -> &str {
    match text.split_once(":role/") {
        Some((prefix, path)) if prefix.starts_with("arn:") => {
            path.rsplit('/').next().unwrap_or(path)
        }
        _ => text,
    }
}

/// Rule: `taskRoleArn` and `executionRoleArn` compare by role name. ECS takes a bare role
/// name there as well as an ARN (corpus file 36 writes `ecsTaskExecutionRole`), and a
/// task definition only uses roles of its own account.
pub(crate) fn role_names(td: &mut Map<String, Value>) {
    for field in [task::TASK_ROLE_ARN, task::EXECUTION_ROLE_ARN] {
        if let Some(Value::String(text)) = td.get_mut(field) {
            *text = role_name(text).to_string();
        }
    }
}

/// Rule: on Fargate `ephemeralStorage.sizeInGiB: 21` is the same as no `ephemeralStorage`
/// (21 is the smallest size that can be written and what the console writes by default).
pub(crate) fn fargate_ephemeral_storage_default(td: &mut Map<String, Value>) {
    if !TaskContext::of(td).fargate {
        return;
    }
    if let Some(Value::Object(storage)) = td.get_mut(task::EPHEMERAL_STORAGE) {
        drop_if(storage, ephemeral_storage::SIZE_IN_GIB, &json!(21));
        if storage.is_empty() {
            td.remove(task::EPHEMERAL_STORAGE);
        }
    }
}

/// Rule: on a Fargate-only task definition `runtimePlatform` `cpuArchitecture: X86_64` and
/// `operatingSystemFamily: LINUX` are what Fargate runs when none is given (the console
/// writes them out).
pub(crate) fn fargate_runtime_platform_default(td: &mut Map<String, Value>) {
    if !TaskContext::of(td).fargate_only {
        return;
    }
    if let Some(Value::Object(platform)) = td.get_mut(task::RUNTIME_PLATFORM) {
        drop_if(
            platform,
            runtime_platform::CPU_ARCHITECTURE,
            &json!("X86_64"),
        );
        drop_if(
            platform,
            runtime_platform::OPERATING_SYSTEM_FAMILY,
            &json!("LINUX"),
        );
        if platform.is_empty() {
            td.remove(task::RUNTIME_PLATFORM);
        }
    }
}

/// Rule: `enableFaultInjection: false` is the default (describe output writes it).
pub(crate) fn fault_injection_default(td: &mut Map<String, Value>) {
    drop_if(td, task::ENABLE_FAULT_INJECTION, &json!(false));
}

/// Rule: `proxyConfiguration.type` is `APPMESH` when absent (its only value).
pub(crate) fn proxy_type_default(td: &mut Map<String, Value>) {
    if let Some(Value::Object(proxy)) = td.get_mut(task::PROXY_CONFIGURATION) {
        fill(proxy, proxy_configuration::TYPE, json!("APPMESH"));
    }
}

/// Rule: volume defaults. EFS: `rootDirectory: "/"` (the root, as when absent),
/// `transitEncryption: DISABLED` and `authorizationConfig.iam: DISABLED` are the defaults.
/// Docker volumes: `scope` is `task` when absent, `autoprovision: false` is the default.
/// `configuredAtLaunch: false` is the default.
pub(crate) fn volume_defaults(td: &mut Map<String, Value>) {
    let Some(volumes) = td.get_mut(task::VOLUMES) else {
        return;
    };
    for entry in items_mut(volumes) {
        let Value::Object(entry) = entry else {
            continue;
        };
        drop_if(entry, volume::CONFIGURED_AT_LAUNCH, &json!(false));
        if let Some(Value::Object(efs)) = entry.get_mut(volume::EFS_VOLUME_CONFIGURATION) {
            drop_if(efs, efs_volume::ROOT_DIRECTORY, &json!("/"));
            drop_if(efs, efs_volume::TRANSIT_ENCRYPTION, &json!("DISABLED"));
            if let Some(Value::Object(auth)) = efs.get_mut(efs_volume::AUTHORIZATION_CONFIG) {
                drop_if(auth, efs_authorization::IAM, &json!("DISABLED"));
                if auth.is_empty() {
                    efs.remove(efs_volume::AUTHORIZATION_CONFIG);
                }
            }
        }
        if let Some(Value::Object(docker)) = entry.get_mut(volume::DOCKER_VOLUME_CONFIGURATION) {
            fill(docker, docker_volume::SCOPE, json!("task"));
            drop_if(docker, docker_volume::AUTOPROVISION, &json!(false));
        }
    }
}

/// Rule: container `essential: true` and `cpu: 0` when absent (ECS fills both in).
pub(crate) fn container_defaults(definition: &mut Map<String, Value>) {
    fill(definition, container::ESSENTIAL, json!(true));
    fill(definition, container::CPU, json!(0));
}

/// Rule: container switches that default to off are absent when `false`:
/// `privileged`, `readonlyRootFilesystem`, `disableNetworking`, `interactive`,
/// `pseudoTerminal`, and `linuxParameters.initProcessEnabled`.
pub(crate) fn container_false_flags(definition: &mut Map<String, Value>) {
    for field in [
        container::PRIVILEGED,
        container::READONLY_ROOT_FILESYSTEM,
        container::DISABLE_NETWORKING,
        container::INTERACTIVE,
        container::PSEUDO_TERMINAL,
    ] {
        drop_if(definition, field, &json!(false));
    }
    if let Some(Value::Object(linux)) = definition.get_mut(container::LINUX_PARAMETERS) {
        drop_if(linux, linux_parameters::INIT_PROCESS_ENABLED, &json!(false));
        if linux.is_empty() {
            definition.remove(container::LINUX_PARAMETERS);
        }
    }
}

/// Rule: port mappings: `protocol: tcp` when absent; under `awsvpc` and `host` network modes
/// `hostPort` is `containerPort` when absent (ECS fills it in); under `bridge` `hostPort: 0`
/// is the same as absent (a dynamic host port).
pub(crate) fn port_mapping_defaults(definition: &mut Map<String, Value>, context: &TaskContext) {
    let Some(Value::Array(mappings)) = definition.get_mut(container::PORT_MAPPINGS) else {
        return;
    };
    for mapping in mappings {
        let Value::Object(mapping) = mapping else {
            continue;
        };
        fill(mapping, port_mapping::PROTOCOL, json!("tcp"));
        match context.network_mode.as_deref() {
            Some("awsvpc" | "host") => {
                if let Some(port) = mapping.get(port_mapping::CONTAINER_PORT).cloned() {
                    fill(mapping, port_mapping::HOST_PORT, port);
                }
            }
            Some("bridge") => drop_if(mapping, port_mapping::HOST_PORT, &json!(0)),
            _ => {}
        }
    }
}

/// Rule: a given `healthCheck` has `interval: 30`, `timeout: 5`, `retries: 3` and
/// `startPeriod: 0` when absent (ECS's defaults).
pub(crate) fn health_check_defaults(definition: &mut Map<String, Value>) {
    if let Some(Value::Object(check)) = definition.get_mut(container::HEALTH_CHECK) {
        fill(check, health_check::INTERVAL, json!(30));
        fill(check, health_check::TIMEOUT, json!(5));
        fill(check, health_check::RETRIES, json!(3));
        fill(check, health_check::START_PERIOD, json!(0));
    }
}

/// Rule: `readOnly: false` on `mountPoints` and `volumesFrom` is the same as absent.
pub(crate) fn mount_read_only_default(definition: &mut Map<String, Value>) {
    let mounts = [
        (container::MOUNT_POINTS, mount_point::READ_ONLY),
        (container::VOLUMES_FROM, volume_from::READ_ONLY),
    ];
    for (field, read_only) in mounts {
        if let Some(list) = definition.get_mut(field) {
            for mount in items_mut(list) {
                if let Value::Object(mount) = mount {
                    drop_if(mount, read_only, &json!(false));
                }
            }
        }
    }
}

/// The form an image reference compares in: `[registry/]repository@digest` when the
/// reference carries a digest or `images` has one for it as written; otherwise as written
/// (also when it does not parse, e.g. a template placeholder).
pub(crate) fn canonical_image(reference: &str, images: &ImageDigests) -> String {
    let Ok(parsed) = ImageRef::parse(reference) else {
        return reference.to_string();
    };
    let digest = parsed
        .digest
        .clone()
        .or_else(|| images.get(reference).cloned());
    match digest {
        Some(digest) => ImageRef {
            tag: None,
            digest: Some(digest),
            ..parsed
        }
        .to_string(),
        None => reference.to_string(),
    }
}

/// Rule: container `image` in [`canonical_image`] form, so a live `repo:tag` and a desired
/// `repo@sha256:…` (or `repo:tag@sha256:…`) are equal when the tag resolves to that digest.
pub(crate) fn pin_image(definition: &mut Map<String, Value>, images: &ImageDigests) {
    if let Some(Value::String(image)) = definition.get_mut(container::IMAGE) {
        *image = canonical_image(image, images);
    }
}

/// Applies the task-level and container rules, in order.
pub(crate) fn apply(td: &mut Map<String, Value>, images: &ImageDigests) {
    default_network_mode(td);
    task_size_as_numbers(td);
    role_names(td);
    fargate_ephemeral_storage_default(td);
    fargate_runtime_platform_default(td);
    fault_injection_default(td);
    proxy_type_default(td);
    volume_defaults(td);
    let context = TaskContext::of(td);
    if let Some(containers) = td.get_mut(task::CONTAINER_DEFINITIONS) {
        for definition in items_mut(containers) {
            if let Value::Object(definition) = definition {
                container_defaults(definition);
                container_false_flags(definition);
                port_mapping_defaults(definition, &context);
                health_check_defaults(definition);
                mount_read_only_default(definition);
                pin_image(definition, images);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn network_mode_defaults_to_bridge_except_on_fargate() {
        let mut ec2 = object(json!({"requiresCompatibilities": ["EC2"]}));
        default_network_mode(&mut ec2);
        assert_eq!(ec2.get("networkMode"), Some(&json!("bridge")));
        let mut unspecified = object(json!({}));
        default_network_mode(&mut unspecified);
        assert_eq!(unspecified.get("networkMode"), Some(&json!("bridge")));
        let mut fargate = object(json!({"requiresCompatibilities": ["FARGATE"]}));
        default_network_mode(&mut fargate);
        assert_eq!(fargate.get("networkMode"), None);
        let mut host = object(json!({"networkMode": "host"}));
        default_network_mode(&mut host);
        assert_eq!(host.get("networkMode"), Some(&json!("host")));
    }

    #[test]
    fn task_size_strings_become_numbers() {
        let mut td = object(json!({"cpu": "256", "memory": 512}));
        task_size_as_numbers(&mut td);
        assert_eq!(td, object(json!({"cpu": 256, "memory": 512})));
    }

    #[test]
    fn roles_compare_by_name() {
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/ecsTaskExecutionRole"),
            "ecsTaskExecutionRole"
        );
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/service-role/app"),
            "app"
        );
        assert_eq!(role_name("ecsTaskExecutionRole"), "ecsTaskExecutionRole");
        let mut td = object(json!({
            "taskRoleArn": "arn:aws:iam::123456789012:role/app",
            "executionRoleArn": "exec",
        }));
        role_names(&mut td);
        assert_eq!(
            td,
            object(json!({"taskRoleArn": "app", "executionRoleArn": "exec"}))
        );
    }

    #[test]
    fn ephemeral_storage_21_is_the_fargate_default() {
        let mut td = object(
            json!({"requiresCompatibilities": ["FARGATE"], "ephemeralStorage": {"sizeInGiB": 21}}),
        );
        fargate_ephemeral_storage_default(&mut td);
        assert_eq!(td.get("ephemeralStorage"), None);
        let mut bigger = object(
            json!({"requiresCompatibilities": ["FARGATE"], "ephemeralStorage": {"sizeInGiB": 25}}),
        );
        fargate_ephemeral_storage_default(&mut bigger);
        assert_eq!(
            bigger.get("ephemeralStorage"),
            Some(&json!({"sizeInGiB": 25}))
        );
        let mut ec2 = object(json!({"ephemeralStorage": {"sizeInGiB": 21}}));
        fargate_ephemeral_storage_default(&mut ec2);
        assert!(ec2.contains_key("ephemeralStorage"));
    }

    #[test]
    fn linux_x86_64_is_the_fargate_runtime_platform() {
        let mut td = object(json!({
            "requiresCompatibilities": ["FARGATE"],
            "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        }));
        fargate_runtime_platform_default(&mut td);
        assert_eq!(td.get("runtimePlatform"), None);
        let mut arm = object(json!({
            "requiresCompatibilities": ["FARGATE"],
            "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        }));
        fargate_runtime_platform_default(&mut arm);
        assert_eq!(
            arm.get("runtimePlatform"),
            Some(&json!({"cpuArchitecture": "ARM64"}))
        );
        let mut both = object(json!({
            "requiresCompatibilities": ["EC2", "FARGATE"],
            "runtimePlatform": {"cpuArchitecture": "X86_64"},
        }));
        fargate_runtime_platform_default(&mut both);
        assert!(both.contains_key("runtimePlatform"), "EC2 places by it");
    }

    #[test]
    fn fault_injection_false_is_absent() {
        let mut td = object(json!({"enableFaultInjection": false}));
        fault_injection_default(&mut td);
        assert!(td.is_empty());
        let mut on = object(json!({"enableFaultInjection": true}));
        fault_injection_default(&mut on);
        assert!(!on.is_empty());
    }

    #[test]
    fn proxy_configuration_type_defaults_to_appmesh() {
        let mut td = object(json!({"proxyConfiguration": {"containerName": "envoy"}}));
        proxy_type_default(&mut td);
        assert_eq!(
            td.get("proxyConfiguration"),
            Some(&json!({"containerName": "envoy", "type": "APPMESH"}))
        );
    }

    #[test]
    fn volume_defaults_drop_efs_and_docker_defaults() {
        let mut td = object(json!({"volumes": [
            {"name": "efs", "configuredAtLaunch": false, "efsVolumeConfiguration": {
                "fileSystemId": "fs-1", "rootDirectory": "/", "transitEncryption": "DISABLED",
                "authorizationConfig": {"iam": "DISABLED"},
            }},
            {"name": "docker", "dockerVolumeConfiguration": {"driver": "local", "autoprovision": false}},
            {"name": "encrypted", "efsVolumeConfiguration": {
                "fileSystemId": "fs-2", "rootDirectory": "/data", "transitEncryption": "ENABLED",
                "authorizationConfig": {"iam": "ENABLED", "accessPointId": "fsap-1"},
            }},
        ]}));
        volume_defaults(&mut td);
        assert_eq!(
            td.get("volumes"),
            Some(&json!([
                {"name": "efs", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}},
                {"name": "docker", "dockerVolumeConfiguration": {"driver": "local", "scope": "task"}},
                {"name": "encrypted", "efsVolumeConfiguration": {
                    "fileSystemId": "fs-2", "rootDirectory": "/data", "transitEncryption": "ENABLED",
                    "authorizationConfig": {"iam": "ENABLED", "accessPointId": "fsap-1"},
                }},
            ]))
        );
    }

    #[test]
    fn containers_are_essential_with_zero_cpu_by_default() {
        let mut container = object(json!({"name": "web"}));
        container_defaults(&mut container);
        assert_eq!(
            container,
            object(json!({"name": "web", "essential": true, "cpu": 0}))
        );
        let mut sidecar = object(json!({"essential": false, "cpu": 128}));
        container_defaults(&mut sidecar);
        assert_eq!(sidecar, object(json!({"essential": false, "cpu": 128})));
    }

    #[test]
    fn false_switches_are_absent() {
        let mut container = object(json!({
            "privileged": false, "readonlyRootFilesystem": true, "interactive": false,
            "pseudoTerminal": false, "disableNetworking": false,
            "linuxParameters": {"initProcessEnabled": false},
        }));
        container_false_flags(&mut container);
        assert_eq!(container, object(json!({"readonlyRootFilesystem": true})));
    }

    #[test]
    fn port_mappings_get_tcp_and_host_port_under_awsvpc() {
        let awsvpc = TaskContext {
            network_mode: Some("awsvpc".into()),
            fargate: true,
            fargate_only: true,
        };
        let mut container = object(json!({"portMappings": [
            {"containerPort": 8080},
            {"containerPort": 53, "protocol": "udp", "hostPort": 53},
        ]}));
        port_mapping_defaults(&mut container, &awsvpc);
        assert_eq!(
            container.get("portMappings"),
            Some(&json!([
                {"containerPort": 8080, "protocol": "tcp", "hostPort": 8080},
                {"containerPort": 53, "protocol": "udp", "hostPort": 53},
            ]))
        );
    }

    #[test]
    fn bridge_host_port_zero_is_dynamic_like_absent() {
        let bridge = TaskContext {
            network_mode: Some("bridge".into()),
            fargate: false,
            fargate_only: false,
        };
        let mut container = object(json!({"portMappings": [
            {"containerPort": 80, "hostPort": 0},
            {"containerPort": 81, "hostPort": 8081},
        ]}));
        port_mapping_defaults(&mut container, &bridge);
        assert_eq!(
            container.get("portMappings"),
            Some(&json!([
                {"containerPort": 80, "protocol": "tcp"},
                {"containerPort": 81, "hostPort": 8081, "protocol": "tcp"},
            ]))
        );
    }

    #[test]
    fn health_check_gets_ecs_defaults() {
        let mut container =
            object(json!({"healthCheck": {"command": ["CMD", "true"], "retries": 5}}));
        health_check_defaults(&mut container);
        assert_eq!(
            container.get("healthCheck"),
            Some(
                &json!({"command": ["CMD", "true"], "retries": 5, "interval": 30, "timeout": 5, "startPeriod": 0})
            )
        );
        let mut none = object(json!({}));
        health_check_defaults(&mut none);
        assert!(none.is_empty(), "no health check is not a default one");
    }

    #[test]
    fn read_only_false_is_absent() {
        let mut container = object(json!({
            "mountPoints": [{"sourceVolume": "a", "containerPath": "/a", "readOnly": false},
                            {"sourceVolume": "b", "containerPath": "/b", "readOnly": true}],
            "volumesFrom": [{"sourceContainer": "app", "readOnly": false}],
        }));
        mount_read_only_default(&mut container);
        assert_eq!(
            container,
            object(json!({
                "mountPoints": [{"sourceVolume": "a", "containerPath": "/a"},
                                {"sourceVolume": "b", "containerPath": "/b", "readOnly": true}],
                "volumesFrom": [{"sourceContainer": "app"}],
            }))
        );
    }

    #[test]
    fn images_compare_by_digest_when_known() {
        let tagged = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2";
        let pinned = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{DIGEST}");
        let images: ImageDigests = [(tagged.to_string(), DIGEST.to_string())].into();
        assert_eq!(canonical_image(tagged, &images), pinned);
        assert_eq!(canonical_image(&pinned, &images), pinned);
        assert_eq!(
            canonical_image(&format!("{tagged}@{DIGEST}"), &ImageDigests::new()),
            pinned
        );
        // Unknown tags and non-ECR images stay as written.
        assert_eq!(canonical_image(tagged, &ImageDigests::new()), tagged);
        assert_eq!(canonical_image("nginx:1.27", &images), "nginx:1.27");
        assert_eq!(
            canonical_image("{{ must_env `IMAGE` }}", &images),
            "{{ must_env `IMAGE` }}"
        );
        let mut container = object(json!({"image": tagged}));
        pin_image(&mut container, &images);
        assert_eq!(container.get("image"), Some(&json!(pinned)));
    }
}
