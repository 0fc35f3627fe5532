//! Round trips through the SDK types: for every task definition and service in the corpus
//! (`testdata/corpus/`, or `$BERTH_CORPUS_DIR`) that berth's model reads,
//! `from_sdk(to_sdk(x)) == x`, both through the request inputs and through the describe output
//! shapes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_ecs::types;
use berth_core::manifest::import;
use berth_core::model::ecs::{self, ServiceSpec, TaskDefinitionSpec};
use berth_testkit::corpus::{self, SERVICES, TASK_DEFINITIONS};

use super::*;

/// Reads a corpus file the way `berth import` does; `None` when the model rejects it (the
/// corpus holds deliberate mistakes).
fn read<T: serde::de::DeserializeOwned>(
    path: &Path,
    convert: fn(berth_core::yaml::Node) -> import::Converted,
) -> Option<T> {
    let text = std::fs::read_to_string(path).expect("read corpus file");
    let file: Arc<str> = Arc::from(path.display().to_string());
    let mut documents = berth_core::yaml::parse_documents(&file, &text).expect("parse JSON");
    let converted = convert(documents.remove(0));
    berth_core::de::from_node(&converted.tree).ok()
}

/// Every corpus file of `kind` that reads as a `T`, by file name.
fn corpus_values<T: serde::de::DeserializeOwned>(
    kind: &str,
    convert: fn(berth_core::yaml::Node) -> import::Converted,
) -> Vec<(String, T)> {
    corpus::files(kind)
        .iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            read(path, convert).map(|value| (name, value))
        })
        .collect()
}

fn task_definitions() -> Vec<(String, TaskDefinitionSpec)> {
    corpus_values(TASK_DEFINITIONS, import::task_definition)
}

fn services() -> Vec<(String, ServiceSpec)> {
    corpus_values(SERVICES, import::service)
}

/// One task definition of the in-repo corpus, read as `berth import` does.
fn fixture_task_definition(name: &str) -> TaskDefinitionSpec {
    let path = corpus::fixture(TASK_DEFINITIONS, name);
    read(&path, import::task_definition).unwrap_or_else(|| panic!("{name} reads"))
}

/// What the SDK makes of values it cannot tell from their zero default: a container's unset
/// `cpu` is sent (and read back) as `0`.
fn with_sdk_defaults(mut spec: TaskDefinitionSpec) -> TaskDefinitionSpec {
    for container in spec.container_definitions.iter_mut().flatten() {
        container.cpu.get_or_insert(0);
    }
    spec
}

/// The same for a service spec (capacity provider `weight`/`base`); `output` adds the members
/// that are plain on the `Service` output shape.
fn service_with_sdk_defaults(mut spec: ServiceSpec, output: bool) -> ServiceSpec {
    for item in spec.capacity_provider_strategy.iter_mut().flatten() {
        item.weight.get_or_insert(0);
        item.base.get_or_insert(0);
    }
    if output {
        spec.desired_count.get_or_insert(0);
        spec.enable_ecs_managed_tags.get_or_insert(false);
        spec.enable_execute_command.get_or_insert(false);
    }
    spec
}

#[test]
fn every_corpus_file_but_the_mistakes_reads() {
    for kind in [TASK_DEFINITIONS, SERVICES] {
        let files = corpus::files(kind);
        let expected: Vec<String> = files
            .iter()
            .filter(|path| !corpus::is_mistake(path))
            .filter_map(|path| Some(path.file_name()?.to_string_lossy().into_owned()))
            .collect();
        let names: Vec<String> = if kind == SERVICES {
            services().into_iter().map(|(n, _)| n).collect()
        } else {
            task_definitions().into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(names, expected, "{kind}: every file but the mistakes reads");
    }
    assert!(task_definitions().len() >= 25);
    assert!(services().len() >= 5);
}

#[test]
fn the_rich_corpus_fixtures_read() {
    let four = fixture_task_definition("fargate-four-containers-observability.json");
    assert_eq!(four.container_definitions.as_ref().map(Vec::len), Some(4));
    let mesh = fixture_task_definition("appmesh-envoy-proxy.json");
    assert!(mesh.proxy_configuration.is_some());
}

#[test]
fn corpus_task_definitions_round_trip_through_the_register_input() {
    for (name, spec) in task_definitions() {
        let sdk = spec.to_sdk().unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = TaskDefinitionSpec::from_sdk(&sdk).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, with_sdk_defaults(spec), "{name}");
    }
}

#[test]
fn corpus_task_definitions_round_trip_through_the_describe_output() {
    for (name, spec) in task_definitions() {
        let (sdk, tags) = task_definition_to_sdk(&spec).unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = task_definition_from_sdk(&sdk, &tags).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut expected = with_sdk_defaults(spec);
        if expected.tags.as_ref().is_some_and(Vec::is_empty) {
            expected.tags = None;
        }
        assert_eq!(back, expected, "{name}");
    }
}

#[test]
fn register_task_definition_sets_what_to_sdk_sets() {
    let spec = fixture_task_definition("fargate-four-containers-observability.json");
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
        .build();
    let client = aws_sdk_ecs::Client::from_conf(config);
    let builder = register_task_definition(client.register_task_definition(), &spec).unwrap();
    let input = builder.as_input().clone().build().unwrap();
    assert_eq!(input, spec.to_sdk().unwrap());
    assert_eq!(input.container_definitions.as_ref().map(Vec::len), Some(4));
}

#[test]
fn corpus_services_round_trip_through_the_create_input() {
    for (name, mut spec) in services() {
        spec.task_definition = None;
        let sdk = spec.to_sdk().unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = ServiceSpec::from_sdk(&sdk).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, service_with_sdk_defaults(spec, false), "{name}");
    }
}

#[test]
fn corpus_services_round_trip_through_the_describe_output() {
    for (name, mut spec) in services() {
        spec.task_definition = None;
        let sdk = service_to_sdk(&spec).unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = service_spec_from_sdk(&sdk).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut expected = service_with_sdk_defaults(spec, true);
        for field in SERVICE_SPEC_NOT_ON_SERVICE {
            match *field {
                "serviceConnectConfiguration" => expected.service_connect_configuration = None,
                "volumeConfigurations" => expected.volume_configurations = None,
                "vpcLatticeConfigurations" => expected.vpc_lattice_configurations = None,
                "role" => expected.role = None,
                "gatewayConnectors" => expected.gateway_connectors = None,
                "monitoring" => expected.monitoring = None,
                other => panic!("a new member not on Service: {other}"),
            }
        }
        assert_eq!(back, expected, "{name}");
    }
}

#[test]
fn unknown_enum_values_name_the_field() {
    let container = types::ContainerDefinition::builder()
        .log_configuration(
            types::LogConfiguration::builder()
                .log_driver(types::LogDriver::from("carrier-pigeon"))
                .build()
                .unwrap(),
        )
        .build();
    let task_definition = types::TaskDefinition::builder()
        .container_definitions(container)
        .build();
    let error = task_definition_from_sdk(&task_definition, &[]).unwrap_err();
    assert_eq!(
        error,
        ConvertError::UnknownEnumValue {
            path: "containerDefinitions[0].logConfiguration.logDriver".into(),
            type_name: "LogDriver",
            value: "carrier-pigeon".into(),
        }
    );
    assert!(error.to_string().starts_with(
        "containerDefinitions[0].logConfiguration.logDriver: unknown LogDriver value `carrier-pigeon`"
    ));
}

#[test]
fn empty_optional_enums_read_as_unset() {
    let task_definition = types::TaskDefinition::builder()
        .ipc_mode(types::IpcMode::from(""))
        .build();
    let spec = task_definition_from_sdk(&task_definition, &[]).unwrap();
    assert_eq!(spec.ipc_mode, None);
}

#[test]
fn a_resource_requirement_without_value_round_trips() {
    // The SDK stores `value` as a plain string that defaults to empty.
    let requirement = ecs::ResourceRequirement {
        value: None,
        r#type: ecs::ResourceType::Gpu,
        sharing_strategy: Some(ecs::SharingStrategy {
            nvidia_mps: Some(ecs::NvidiaMpsAllocation {
                memory: 2048,
                max_compute_percent: None,
            }),
        }),
    };
    let sdk = requirement.to_sdk().unwrap();
    assert_eq!(sdk.value, "");
    assert_eq!(
        ecs::ResourceRequirement::from_sdk(&sdk).unwrap(),
        requirement
    );
}

#[test]
fn error_paths_compose_from_the_inside_out() {
    let error = ConvertError::MissingMember {
        path: "header".into(),
    }
    .at("[2]")
    .at("clientAliases")
    .at("[0]")
    .at("services")
    .at("serviceConnectConfiguration");
    assert_eq!(
        error.path(),
        "serviceConnectConfiguration.services[0].clientAliases[2].header"
    );
    assert!(
        error.to_string().starts_with(
            "serviceConnectConfiguration.services[0].clientAliases[2].header: missing"
        )
    );
}

#[test]
fn members_the_sdk_lacks_are_refused_when_set() {
    let spec = TaskDefinitionSpec {
        trusted_execution_configuration: Some(ecs::TrustedExecutionConfiguration {
            isolation_mode: ecs::IsolationMode::ALL[0],
            attestation_policy: None,
        }),
        ..Default::default()
    };
    assert_eq!(
        spec.to_sdk().unwrap_err(),
        ConvertError::NotInSdk {
            path: "trustedExecutionConfiguration".into()
        }
    );
    assert!(NOT_IN_SDK.contains(&"TaskDefinitionSpec.trustedExecutionConfiguration"));
}

#[test]
fn unions_need_exactly_one_member() {
    let empty = ecs::SharingStrategy { nvidia_mps: None };
    assert_eq!(
        empty.to_sdk().unwrap_err(),
        ConvertError::Union {
            path: String::new(),
            shape: "SharingStrategy",
            set: 0
        }
    );
    let mps = ecs::SharingStrategy {
        nvidia_mps: Some(ecs::NvidiaMpsAllocation {
            memory: 1024,
            max_compute_percent: Some(50),
        }),
    };
    let sdk = mps.to_sdk().unwrap();
    assert!(sdk.is_nvidia_mps());
    assert_eq!(ecs::SharingStrategy::from_sdk(&sdk).unwrap(), mps);
}

#[test]
fn json_documents_round_trip() {
    let value = serde_json::json!({
        "b": [1, -2, 2.5, "x", null, true],
        "a": {"nested": {"k": "v"}},
    });
    let document = value.to_sdk().unwrap();
    assert_eq!(serde_json::Value::from_sdk(&document).unwrap(), value);
}

#[test]
fn maps_convert_both_ways() {
    let labels: BTreeMap<String, String> =
        [("a".to_string(), "1".to_string())].into_iter().collect();
    let sdk = labels.to_sdk().unwrap();
    assert_eq!(sdk.get("a").map(String::as_str), Some("1"));
    assert_eq!(BTreeMap::<String, String>::from_sdk(&sdk).unwrap(), labels);
}

#[test]
fn task_cpu_and_memory_read_in_any_unit() {
    let task_definition = types::TaskDefinition::builder()
        .cpu("0.25 vCPU")
        .memory("1 GB")
        .build();
    let spec = task_definition_from_sdk(&task_definition, &[]).unwrap();
    assert_eq!(spec.cpu.map(|c| c.0), Some(256));
    assert_eq!(spec.memory.map(|m| m.0), Some(1024));
    let bad = types::TaskDefinition::builder().cpu("lots").build();
    let error = task_definition_from_sdk(&bad, &[]).unwrap_err();
    assert!(
        matches!(&error, ConvertError::InvalidValue { path, .. } if path == "cpu"),
        "{error:?}"
    );
}
