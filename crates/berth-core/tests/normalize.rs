//! Normalization over the corpus (`testdata/corpus/`, or `$BERTH_CORPUS_DIR`): ECS's describe
//! output and the minimal
//! register form a user would write normalize equal; different files and single meaningful
//! edits do not.
//!
//! The register form is built here by editing the describe JSON the way a user would write
//! it: read-only fields gone, ECS-filled defaults removed, set-like lists in another order,
//! roles by name, task size in units, ECR images pinned by digest. The directory is iterated,
//! so files added to the corpus are covered without touching this.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_core::de::from_node;
use berth_core::image::ImageRef;
use berth_core::manifest::import;
use berth_core::model::ecs::{
    SERVICE_DESCRIBE_ONLY_FIELDS, ServiceSpec, TASK_DEFINITION_DESCRIBE_ONLY_FIELDS,
    TaskDefinitionSpec,
};
use berth_core::normalize::{self, Change, ImageDigests};
use berth_core::yaml::{Node, parse_documents};
use berth_testkit::corpus;
use serde_json::{Map, Value, json};

/// The corpus files of one kind, sorted, without the known mistakes (which do not load).
fn json_files(kind: &str) -> Vec<PathBuf> {
    corpus::files_without_mistakes(kind)
}

fn name(path: &Path) -> String {
    path.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

fn parse_node(name: &str, text: &str) -> Node {
    let mut docs = parse_documents(&Arc::from(name), text).unwrap_or_else(|diag| panic!("{diag}"));
    assert_eq!(docs.len(), 1, "{name}");
    docs.remove(0)
}

/// A corpus task definition through the explicit import path (unwraps, drops read-only).
fn load_task_definition(path: &Path) -> TaskDefinitionSpec {
    let text = std::fs::read_to_string(path).expect("read");
    let converted = import::task_definition(parse_node(&name(path), &text));
    from_node(&converted.tree).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A corpus service definition through the explicit import path.
fn load_service(path: &Path) -> ServiceSpec {
    let text = std::fs::read_to_string(path).expect("read");
    let converted = import::service(parse_node(&name(path), &text));
    from_node(&converted.tree).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn raw_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

/// Whether a file is in `describe-task-definition` form (wrapped or with read-only fields).
fn is_describe_form(raw: &Value, read_only: &[&str]) -> bool {
    raw.get("taskDefinition").is_some_and(Value::is_object)
        || read_only.iter().any(|field| raw.get(field).is_some())
}

/// A register-form (or CreateService-form) JSON text deserialized strictly: no import path,
/// so a read-only field left behind would fail here.
fn strict<T: serde::de::DeserializeOwned>(label: &str, value: &Value) -> T {
    let text = serde_json::to_string_pretty(value).expect("serialize");
    from_node(&parse_node(label, &text)).unwrap_or_else(|err| panic!("{label}: {err}\n{text}"))
}

// ---- editing JSON the way a user writes it ----------------------------------------------

fn object_mut(value: &mut Value) -> Option<&mut Map<String, Value>> {
    value.as_object_mut()
}

/// Removes `null`, `""`, `[]` and `{}` fields, recursively.
fn strip_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(strip_empty);
            map.retain(|_, v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            });
        }
        Value::Array(items) => items.iter_mut().for_each(strip_empty),
        _ => {}
    }
}

fn remove_if(map: &mut Map<String, Value>, field: &str, default: Value) {
    if map.get(field) == Some(&default) {
        map.remove(field);
    }
}

fn reverse(map: &mut Map<String, Value>, field: &str) {
    if let Some(Value::Array(items)) = map.get_mut(field) {
        items.reverse();
    }
}

fn role_name(text: &str) -> String {
    match text.split_once(":role/") {
        Some((prefix, path)) if prefix.starts_with("arn:") => {
            path.rsplit('/').next().unwrap_or(path).to_string()
        }
        _ => text.to_string(),
    }
}

fn compatibilities(td: &Map<String, Value>) -> Vec<String> {
    td.get("requiresCompatibilities")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The register form a user would write for a describe-form task definition, and the
/// digests its ECR images (as ECS reports them) resolve to.
fn register_form(describe: &Value) -> (Value, ImageDigests) {
    let mut td = describe
        .get("taskDefinition")
        .cloned()
        .unwrap_or_else(|| describe.clone());
    // `describe-task-definition --include TAGS` puts the tags beside the task definition; the
    // user writes them in it.
    if let (Some(tags), Some(map)) = (
        describe
            .get("taskDefinition")
            .and(describe.get("tags"))
            .filter(|tags| !tags.is_null()),
        td.as_object_mut(),
    ) && !map.contains_key("tags")
    {
        map.insert("tags".to_string(), tags.clone());
    }
    let mut images = ImageDigests::new();
    let map = object_mut(&mut td).expect("object");
    for field in TASK_DEFINITION_DESCRIBE_ONLY_FIELDS {
        map.remove(*field);
    }
    strip_empty(&mut td);
    let map = object_mut(&mut td).expect("object");
    let compat = compatibilities(map);
    let fargate = compat.iter().any(|c| c == "FARGATE");
    let fargate_only = fargate && compat.iter().all(|c| c == "FARGATE");
    let network_mode = map
        .get("networkMode")
        .and_then(Value::as_str)
        .unwrap_or("bridge")
        .to_string();
    if network_mode == "bridge" {
        map.remove("networkMode");
    }
    remove_if(map, "enableFaultInjection", json!(false));
    if fargate && let Some(Value::Object(storage)) = map.get_mut("ephemeralStorage") {
        remove_if(storage, "sizeInGiB", json!(21));
    }
    if fargate_only && let Some(Value::Object(platform)) = map.get_mut("runtimePlatform") {
        remove_if(platform, "cpuArchitecture", json!("X86_64"));
        remove_if(platform, "operatingSystemFamily", json!("LINUX"));
    }
    for field in ["taskRoleArn", "executionRoleArn"] {
        if let Some(Value::String(role)) = map.get_mut(field) {
            *role = role_name(role);
        }
    }
    // Task size in the unit forms people write.
    if let Some(Value::String(cpu)) = map.get_mut("cpu")
        && let Ok(units) = cpu.parse::<u32>()
        && units % 1024 == 0
    {
        *cpu = format!("{} vCPU", units / 1024);
    }
    if let Some(Value::String(memory)) = map.get_mut("memory")
        && let Ok(mib) = memory.parse::<u32>()
        && mib % 1024 == 0
    {
        *memory = format!("{} GB", mib / 1024);
    }
    if let Some(Value::Array(volumes)) = map.get_mut("volumes") {
        for volume in volumes.iter_mut().filter_map(Value::as_object_mut) {
            remove_if(volume, "configuredAtLaunch", json!(false));
            if let Some(Value::Object(efs)) = volume.get_mut("efsVolumeConfiguration") {
                remove_if(efs, "rootDirectory", json!("/"));
                remove_if(efs, "transitEncryption", json!("DISABLED"));
                if let Some(Value::Object(auth)) = efs.get_mut("authorizationConfig") {
                    remove_if(auth, "iam", json!("DISABLED"));
                }
            }
        }
    }
    if let Some(Value::Array(containers)) = map.get_mut("containerDefinitions") {
        for (at, container) in containers
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .enumerate()
        {
            strip_container_defaults(container, &network_mode);
            // ECR images as berth registers them: pinned by digest.
            if let Some(Value::String(image)) = container.get_mut("image")
                && let Ok(parsed) = ImageRef::parse(image)
                && parsed.ecr().is_some()
                && parsed.digest.is_none()
            {
                let digest = format!("sha256:{:064x}", at + 1);
                images.insert(image.clone(), digest.clone());
                *image = ImageRef {
                    tag: None,
                    digest: Some(digest),
                    ..parsed
                }
                .to_string();
            }
            for field in [
                "environment",
                "secrets",
                "portMappings",
                "mountPoints",
                "volumesFrom",
                "ulimits",
                "dependsOn",
                "systemControls",
                "links",
            ] {
                reverse(container, field);
            }
        }
    }
    for field in [
        "containerDefinitions",
        "volumes",
        "tags",
        "requiresCompatibilities",
        "placementConstraints",
    ] {
        reverse(map, field);
    }
    strip_empty(&mut td);
    (td, images)
}

/// Removes what ECS fills into a container definition.
fn strip_container_defaults(container: &mut Map<String, Value>, network_mode: &str) {
    remove_if(container, "essential", json!(true));
    remove_if(container, "cpu", json!(0));
    for flag in [
        "privileged",
        "readonlyRootFilesystem",
        "disableNetworking",
        "interactive",
        "pseudoTerminal",
    ] {
        remove_if(container, flag, json!(false));
    }
    if let Some(Value::Object(linux)) = container.get_mut("linuxParameters") {
        remove_if(linux, "initProcessEnabled", json!(false));
    }
    if let Some(Value::Array(mappings)) = container.get_mut("portMappings") {
        for mapping in mappings.iter_mut().filter_map(Value::as_object_mut) {
            remove_if(mapping, "protocol", json!("tcp"));
            let container_port = mapping.get("containerPort").cloned();
            match network_mode {
                "awsvpc" | "host" if mapping.get("hostPort") == container_port.as_ref() => {
                    mapping.remove("hostPort");
                }
                "bridge" => remove_if(mapping, "hostPort", json!(0)),
                _ => {}
            }
        }
    }
    if let Some(Value::Object(check)) = container.get_mut("healthCheck") {
        remove_if(check, "interval", json!(30));
        remove_if(check, "timeout", json!(5));
        remove_if(check, "retries", json!(3));
        remove_if(check, "startPeriod", json!(0));
    }
    for field in ["mountPoints", "volumesFrom"] {
        if let Some(Value::Array(mounts)) = container.get_mut(field) {
            for mount in mounts.iter_mut().filter_map(Value::as_object_mut) {
                remove_if(mount, "readOnly", json!(false));
            }
        }
    }
    if let Some(Value::Object(log)) = container.get_mut("logConfiguration") {
        reverse(log, "secretOptions");
    }
}

fn describe_change(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| format!("  {}: {:?} -> {:?}", c.path, c.old, c.new))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---- task definitions ---------------------------------------------------------------------

#[test]
fn corpus_describe_and_register_forms_normalize_equal() {
    let mut checked = Vec::new();
    for path in json_files("task-definitions") {
        let raw = raw_json(&path);
        if !is_describe_form(&raw, TASK_DEFINITION_DESCRIBE_ONLY_FIELDS) {
            continue;
        }
        let label = name(&path);
        let describe = load_task_definition(&path);
        let (register_json, images) = register_form(&raw);
        let register: TaskDefinitionSpec = strict(&label, &register_json);
        assert_ne!(
            serde_json::to_value(&describe).expect("serialize"),
            serde_json::to_value(&register).expect("serialize"),
            "{label}: the register form should be written differently"
        );
        let live = normalize::task_definition(&describe, &images);
        let desired = normalize::task_definition(&register, &images);
        let changes = normalize::diff(&live, &desired);
        assert!(
            changes.is_empty(),
            "{label}: describe and register forms differ:\n{}",
            describe_change(&changes)
        );
        assert_eq!(live, desired, "{label}");
        checked.push(label);
    }
    println!(
        "{} describe-form task definitions: {}",
        checked.len(),
        checked.join(", ")
    );
    assert!(checked.len() >= 6, "only {checked:?}");
}

#[test]
fn every_pair_of_corpus_task_definitions_differs() {
    let normalized: Vec<(String, Value)> = json_files("task-definitions")
        .iter()
        .map(|path| {
            (
                name(path),
                normalize::task_definition(&load_task_definition(path), &ImageDigests::new()),
            )
        })
        .collect();
    let mut pairs = 0;
    for (at, (a_name, a)) in normalized.iter().enumerate() {
        for (b_name, b) in &normalized[at + 1..] {
            assert_ne!(a, b, "{a_name} and {b_name} normalize equal");
            assert!(!normalize::diff(a, b).is_empty(), "{a_name} / {b_name}");
            pairs += 1;
        }
    }
    println!("{pairs} pairs of task definitions differ");
}

#[test]
fn normalization_is_deterministic_and_order_insensitive_across_the_corpus() {
    for path in json_files("task-definitions") {
        let label = name(&path);
        let td = load_task_definition(&path);
        let once = normalize::task_definition(&td, &ImageDigests::new());
        assert_eq!(
            once,
            normalize::task_definition(&td.clone(), &ImageDigests::new()),
            "{label}"
        );
        // Every order-insensitive list reversed: same normalized form, same spelling.
        let mut reversed = td.clone();
        if let Some(containers) = &mut reversed.container_definitions {
            containers.reverse();
            for container in containers.iter_mut() {
                if let Some(env) = &mut container.environment {
                    env.reverse();
                }
                if let Some(secrets) = &mut container.secrets {
                    secrets.reverse();
                }
                if let Some(ports) = &mut container.port_mappings {
                    ports.reverse();
                }
                if let Some(mounts) = &mut container.mount_points {
                    mounts.reverse();
                }
            }
        }
        if let Some(volumes) = &mut reversed.volumes {
            volumes.reverse();
        }
        if let Some(tags) = &mut reversed.tags {
            tags.reverse();
        }
        let again = normalize::task_definition(&reversed, &ImageDigests::new());
        assert_eq!(again.to_string(), once.to_string(), "{label}");
    }
}

#[test]
fn one_meaningful_edit_of_any_corpus_task_definition_is_one_change() {
    for path in json_files("task-definitions") {
        let label = name(&path);
        let td = load_task_definition(&path);
        let base = normalize::task_definition(&td, &ImageDigests::new());
        let first = td
            .container_definitions
            .as_ref()
            .and_then(|c| c.first())
            .expect("a container");
        let container = first.name.clone().expect("named");

        let mut image = td.clone();
        if let Some(c) = image
            .container_definitions
            .as_mut()
            .and_then(|c| c.first_mut())
        {
            c.image = Some(format!("{}-next", c.image.clone().unwrap_or_default()));
        }
        let changes = normalize::diff(
            &base,
            &normalize::task_definition(&image, &ImageDigests::new()),
        );
        assert_eq!(changes.len(), 1, "{label}:\n{}", describe_change(&changes));
        assert_eq!(
            changes[0].path,
            format!("containerDefinitions.{container}.image"),
            "{label}"
        );

        let mut env = td.clone();
        if let Some(c) = env
            .container_definitions
            .as_mut()
            .and_then(|c| c.first_mut())
        {
            c.environment.get_or_insert_with(Vec::new).push(
                serde_json::from_value(json!({"name": "BERTH_TEST", "value": "1"})).expect("kv"),
            );
        }
        let changes = normalize::diff(
            &base,
            &normalize::task_definition(&env, &ImageDigests::new()),
        );
        assert_eq!(changes.len(), 1, "{label}:\n{}", describe_change(&changes));
        assert_eq!(
            (
                changes[0].path.as_str(),
                changes[0].old.as_ref(),
                changes[0].new.as_ref()
            ),
            (
                format!("containerDefinitions.{container}.environment.BERTH_TEST").as_str(),
                None,
                Some(&json!("1"))
            ),
            "{label}"
        );
    }
}

/// A typical Fargate task definition, as a user writes it.
fn hand_built() -> Value {
    json!({
        "family": "web",
        "cpu": "256",
        "memory": "512",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "containerDefinitions": [{
            "name": "web",
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
            "command": ["serve", "--port", "8080"],
            "portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "us-east-1"}],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}],
        }, {
            "name": "envoy",
            "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29",
            "essential": false,
        }],
    })
}

#[test]
fn hand_built_pairs_differing_in_one_field_give_one_change() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str, Value, Value); 8] = [
        (
            "image",
            |td| {
                td["containerDefinitions"][0]["image"] =
                    json!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.3")
            },
            "containerDefinitions.web.image",
            json!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2"),
            json!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.3"),
        ),
        (
            "env var value",
            |td| td["containerDefinitions"][0]["environment"][0]["value"] = json!("debug"),
            "containerDefinitions.web.environment.LOG_LEVEL",
            json!("info"),
            json!("debug"),
        ),
        (
            "task cpu",
            |td| td["cpu"] = json!("1 vCPU"),
            "cpu",
            json!(256),
            json!(1024),
        ),
        (
            "task memory",
            |td| td["memory"] = json!("1 GB"),
            "memory",
            json!(512),
            json!(1024),
        ),
        (
            "a port",
            |td| td["containerDefinitions"][0]["portMappings"][0]["containerPort"] = json!(9090),
            "containerDefinitions.web.portMappings",
            json!([{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}]),
            json!([{"containerPort": 9090, "hostPort": 9090, "protocol": "tcp"}]),
        ),
        (
            "a secret ARN",
            |td| {
                td["containerDefinitions"][0]["secrets"][0]["valueFrom"] =
                    json!("arn:aws:secretsmanager:us-east-1:123456789012:secret:db2-XyZaBc")
            },
            "containerDefinitions.web.secrets.DB_PASSWORD",
            json!("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"),
            json!("arn:aws:secretsmanager:us-east-1:123456789012:secret:db2-XyZaBc"),
        ),
        (
            "command order",
            |td| td["containerDefinitions"][0]["command"] = json!(["--port", "8080", "serve"]),
            "containerDefinitions.web.command",
            json!(["serve", "--port", "8080"]),
            json!(["--port", "8080", "serve"]),
        ),
        (
            "essential",
            |td| td["containerDefinitions"][1]["essential"] = json!(true),
            "containerDefinitions.envoy.essential",
            json!(false),
            json!(true),
        ),
    ];
    let base = normalize::task_definition(&strict("base", &hand_built()), &ImageDigests::new());
    for (what, edit, path, old, new) in cases {
        let mut edited = hand_built();
        edit(&mut edited);
        let edited = normalize::task_definition(&strict(what, &edited), &ImageDigests::new());
        assert_eq!(
            normalize::diff(&base, &edited),
            vec![Change {
                path: path.to_string(),
                old: Some(old),
                new: Some(new),
            }],
            "{what}"
        );
    }
}

#[test]
fn hand_built_no_op_rewrites_give_no_change() {
    type Edit = fn(&mut Value);
    let rewrites: [(&str, Edit); 7] = [
        ("cpu as a number", |td| td["cpu"] = json!(256)),
        ("cpu in vCPU", |td| td["cpu"] = json!("0.25 vCPU")),
        ("memory in GB", |td| td["memory"] = json!("0.5 GB")),
        ("environment reordered", |td| {
            if let Some(env) = td["containerDefinitions"][0]["environment"].as_array_mut() {
                env.reverse();
            }
        }),
        ("containers reordered", |td| {
            if let Some(containers) = td["containerDefinitions"].as_array_mut() {
                containers.reverse();
            }
        }),
        ("defaults written out", |td| {
            let web = &mut td["containerDefinitions"][0];
            web["essential"] = json!(true);
            web["cpu"] = json!(0);
            web["portMappings"][0]["protocol"] = json!("tcp");
            web["portMappings"][0]["hostPort"] = json!(8080);
            web["mountPoints"] = json!([]);
            web["dnsServers"] = Value::Null;
        }),
        ("image pinned to its digest", |td| {
            td["containerDefinitions"][0]["image"] = json!(format!(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:{:064x}",
                7
            ));
        }),
    ];
    let images: ImageDigests = [(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2".to_string(),
        format!("sha256:{:064x}", 7),
    )]
    .into();
    let base = normalize::task_definition(&strict("base", &hand_built()), &images);
    for (what, edit) in rewrites {
        let mut edited = hand_built();
        edit(&mut edited);
        let edited = normalize::task_definition(&strict(what, &edited), &images);
        let changes = normalize::diff(&base, &edited);
        assert!(changes.is_empty(), "{what}:\n{}", describe_change(&changes));
    }
}

// ---- services -----------------------------------------------------------------------------

/// The CreateService form a user would write for a describe-form service definition.
fn service_register_form(describe: &Value) -> Value {
    let mut service = describe.clone();
    let map = object_mut(&mut service).expect("object");
    for field in SERVICE_DESCRIBE_ONLY_FIELDS.iter().chain(&[
        "cluster",
        "serviceName",
        "taskDefinition",
        "clientToken",
    ]) {
        map.remove(*field);
    }
    strip_empty(&mut service);
    let map = object_mut(&mut service).expect("object");
    let fargate = map.get("launchType") == Some(&json!("FARGATE"));
    if fargate {
        remove_if(map, "platformVersion", json!("LATEST"));
    }
    remove_if(map, "schedulingStrategy", json!("REPLICA"));
    remove_if(map, "deploymentController", json!({"type": "ECS"}));
    remove_if(map, "propagateTags", json!("NONE"));
    remove_if(map, "enableECSManagedTags", json!(false));
    remove_if(map, "enableExecuteCommand", json!(false));
    remove_if(map, "healthCheckGracePeriodSeconds", json!(0));
    remove_if(map, "availabilityZoneRebalancing", json!("ENABLED"));
    if let Some(Value::Object(config)) = map.get_mut("deploymentConfiguration") {
        remove_if(config, "maximumPercent", json!(200));
        remove_if(config, "minimumHealthyPercent", json!(100));
        remove_if(config, "strategy", json!("ROLLING"));
        remove_if(config, "bakeTimeInMinutes", json!(0));
        for switch in ["deploymentCircuitBreaker", "alarms"] {
            if let Some(Value::Object(entry)) = config.get_mut(switch) {
                remove_if(entry, "enable", json!(false));
                remove_if(entry, "rollback", json!(false));
            }
        }
    }
    if let Some(Value::Object(network)) = map.get_mut("networkConfiguration")
        && let Some(Value::Object(awsvpc)) = network.get_mut("awsvpcConfiguration")
    {
        remove_if(awsvpc, "assignPublicIp", json!("DISABLED"));
        reverse(awsvpc, "subnets");
        reverse(awsvpc, "securityGroups");
    }
    for field in ["tags", "loadBalancers", "capacityProviderStrategy"] {
        reverse(map, field);
    }
    strip_empty(&mut service);
    service
}

#[test]
fn corpus_describe_and_create_form_services_normalize_equal() {
    let mut checked = Vec::new();
    for path in json_files("services") {
        let raw = raw_json(&path);
        if !is_describe_form(&raw, SERVICE_DESCRIBE_ONLY_FIELDS) {
            continue;
        }
        let label = name(&path);
        let live = normalize::service(&load_service(&path), None);
        let register: ServiceSpec = strict(&label, &service_register_form(&raw));
        let desired = normalize::service(&register, None);
        let changes = normalize::diff(&live, &desired);
        assert!(
            changes.is_empty(),
            "{label}: describe and create forms differ:\n{}",
            describe_change(&changes)
        );
        checked.push(label);
    }
    println!(
        "{} describe-form services: {}",
        checked.len(),
        checked.join(", ")
    );
    assert!(!checked.is_empty());
}

#[test]
fn every_pair_of_corpus_services_differs() {
    let normalized: Vec<(String, Value)> = json_files("services")
        .iter()
        .map(|path| (name(path), normalize::service(&load_service(path), None)))
        .collect();
    for (at, (a_name, a)) in normalized.iter().enumerate() {
        assert_eq!(
            &normalize::service(
                &load_service(&corpus::dir().join("services").join(a_name)),
                None
            ),
            a,
            "{a_name}: deterministic"
        );
        for (b_name, b) in &normalized[at + 1..] {
            assert!(
                !normalize::diff(a, b).is_empty(),
                "{a_name} and {b_name} normalize equal"
            );
        }
    }
}
