//! berth-aws against the ECS/ECR/DynamoDB emulator (moto, started once for this binary by
//! berth-testkit). Every test works in its own emulated account, selected by the
//! `x-moto-account-id` header on every SDK request.
//!
//! API calls are counted by the adapter's own interceptor ([`berth_aws::ApiCounters`]); each
//! test prints what it measured.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerDefinition, LaunchType, NetworkConfiguration,
    NetworkMode, Tag,
};
use berth_aws::{Aws, AwsConfig, AwsError};
use berth_core::image::ImageRef;
use berth_core::live::{ImageResolution, ServiceLookup};
use berth_core::model::ecs::TaskDefinitionSpec;
use berth_testkit::{ACCOUNT_HEADER, TestAccount, corpus};
use support::{emulator_account, test_credentials};

/// What this binary shares with `tests/faults.rs`.
mod support;

/// Plans against services that exist in the emulator (issue: plan).
#[path = "aws/plan.rs"]
mod plan;

/// Applies against the emulator (issue: apply).
#[path = "aws/apply.rs"]
mod apply;

/// The lease table on the emulator's DynamoDB (issue 13).
#[path = "aws/leases.rs"]
mod leases;

/// Revision retention through the adapter (issue 14).
#[path = "aws/retention.rs"]
mod retention;

/// An adapter talking to `account` on the emulator, with static test credentials; retries off
/// (`max_attempts: 1`) so that every count is one request.
async fn adapter(account: &TestAccount) -> Aws {
    let config = AwsConfig {
        region: Some(account.region().to_string()),
        endpoint_url: Some(account.endpoint()),
        max_attempts: 1,
        headers: vec![(ACCOUNT_HEADER.to_string(), account.id().to_string())],
        ..AwsConfig::default()
    };
    let loader =
        aws_config::defaults(BehaviorVersion::latest()).credentials_provider(test_credentials());
    berth_aws::connect_with(&config, loader).await
}

/// Counts of one operation by outcome.
fn counts(aws: &Aws, operation: &str) -> BTreeMap<String, u64> {
    aws.counters()
        .snapshot()
        .into_iter()
        .filter(|((op, _), _)| op == operation)
        .map(|((_, outcome), n)| (outcome, n))
        .collect()
}

/// A task definition of the in-repo corpus (`testdata/corpus/task-definitions`) as berth reads
/// it.
fn corpus_task_definition(file: &str) -> TaskDefinitionSpec {
    let path = corpus::fixture(corpus::TASK_DEFINITIONS, file);
    let text = std::fs::read_to_string(&path).expect("corpus file");
    let name: Arc<str> = Arc::from(file);
    let mut documents = berth_core::yaml::parse_documents(&name, &text).expect("JSON");
    let converted = berth_core::manifest::import::task_definition(documents.remove(0));
    berth_core::de::from_node(&converted.tree).expect("a task definition spec")
}

/// A JSON value without members that are empty lists.
fn without_empty_lists(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(members) => serde_json::Value::Object(
            members
                .into_iter()
                .filter(|(_, v)| v.as_array().is_none_or(|items| !items.is_empty()))
                .map(|(k, v)| (k, without_empty_lists(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(without_empty_lists).collect())
        }
        other => other,
    }
}

/// Registers a small Fargate task definition directly with the SDK; returns its ARN.
async fn register_plain_task_definition(aws: &Aws, family: &str) -> String {
    let output = aws
        .ecs_client()
        .register_task_definition()
        .family(family)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("nginx:1.27")
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition");
    output
        .task_definition()
        .and_then(|td| td.task_definition_arn())
        .expect("an ARN")
        .to_string()
}

#[tokio::test]
async fn describe_services_batches_ten_names_per_call_and_reports_missing() {
    let account = emulator_account();
    let network = account.default_network().expect("default VPC");
    let aws = adapter(&account).await;
    let ecs = aws.ecs_client();
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .expect("CreateCluster");
    let task_definition = register_plain_task_definition(&aws, "web").await;
    let mut names = Vec::new();
    for index in 0..25 {
        let name = format!("svc-{index:02}");
        ecs.create_service()
            .cluster("prod")
            .service_name(&name)
            .task_definition(&task_definition)
            .desired_count(1)
            .launch_type(LaunchType::Fargate)
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .set_subnets(Some(network.subnets.clone()))
                            .security_groups(&network.security_group)
                            .assign_public_ip(AssignPublicIp::Disabled)
                            .build()
                            .expect("awsvpc"),
                    )
                    .build(),
            )
            .tags(
                Tag::builder()
                    .key("berth:managed-by")
                    .value("berth")
                    .build(),
            )
            .send()
            .await
            .expect("CreateService");
        names.push(name);
    }
    names.insert(3, "nope-1".to_string());
    names.push("nope-2".to_string());

    let lookups = aws
        .describe_services("prod", &names)
        .await
        .expect("describe");
    let describe_calls = counts(&aws, "DescribeServices");
    println!(
        "DescribeServices for {} names: {describe_calls:?}",
        names.len()
    );
    assert_eq!(describe_calls.get("success"), Some(&3), "27 names: 3 calls");
    assert_eq!(lookups.len(), names.len());
    let mut missing = Vec::new();
    for (name, lookup) in names.iter().zip(&lookups) {
        match lookup {
            ServiceLookup::Found(service) => {
                assert_eq!(&service.id.name, name, "answers come in the order asked");
                assert_eq!(service.id.cluster, "prod");
                assert_eq!(service.task_definition_arn, task_definition);
                assert_eq!(
                    service.tags.get("berth:managed-by").map(String::as_str),
                    Some("berth"),
                    "include: [TAGS]"
                );
                assert_eq!(service.spec.desired_count, Some(1));
                let subnets = service
                    .spec
                    .network_configuration
                    .as_ref()
                    .and_then(|n| n.awsvpc_configuration.as_ref())
                    .map(|a| a.subnets.clone());
                assert_eq!(subnets, Some(network.subnets.clone()));
            }
            ServiceLookup::Missing(id) => missing.push(id.name.clone()),
        }
    }
    assert_eq!(missing, ["nope-1", "nope-2"]);

    let listed = aws.list_services("prod").await.expect("ListServices");
    println!("ListServices: {:?}", counts(&aws, "ListServices"));
    assert_eq!(listed.len(), 25);
    assert!(listed.iter().all(|arn| arn.contains(":service/")));
    assert_eq!(aws.counters().total("ListServices"), 1);
}

#[tokio::test]
async fn task_definitions_are_read_once_per_arn() {
    let account = emulator_account();
    let aws = adapter(&account).await;
    let arn = register_plain_task_definition(&aws, "cached").await;

    let (first, second) = tokio::join!(
        aws.describe_task_definition(&arn),
        aws.describe_task_definition(&arn)
    );
    let third = aws.describe_task_definition(&arn).await.expect("describe");
    let first = first.expect("describe");
    assert!(Arc::ptr_eq(&first, &second.expect("describe")));
    assert!(Arc::ptr_eq(&first, &third));
    let calls = counts(&aws, "DescribeTaskDefinition");
    println!("DescribeTaskDefinition, same ARN three times (two at once): {calls:?}");
    assert_eq!(calls.get("success"), Some(&1));
    assert_eq!(first.family, "cached");
    assert_eq!(first.revision, 1);
    assert_eq!(first.status, "ACTIVE");

    // A family name is not a revision: not cached.
    aws.describe_task_definition("cached")
        .await
        .expect("describe");
    aws.describe_task_definition("cached")
        .await
        .expect("describe");
    assert_eq!(aws.counters().total("DescribeTaskDefinition"), 3);

    // Retaining other revisions forgets this one: the next read is a call again.
    let other = register_plain_task_definition(&aws, "kept").await;
    aws.describe_task_definition(&other)
        .await
        .expect("describe");
    assert_eq!(aws.cached_task_definitions().await, 2);
    aws.retain_task_definitions(&[other.clone()].into_iter().collect())
        .await;
    assert_eq!(aws.cached_task_definitions().await, 1);
    aws.describe_task_definition(&other)
        .await
        .expect("describe");
    assert_eq!(aws.counters().total("DescribeTaskDefinition"), 4);
    aws.describe_task_definition(&arn).await.expect("describe");
    assert_eq!(aws.counters().total("DescribeTaskDefinition"), 5);
}

#[tokio::test]
async fn a_corpus_task_definition_round_trips_through_the_emulator() {
    let account = emulator_account();
    let aws = adapter(&account).await;
    for (file, family) in [
        ("fargate-four-containers-observability.json", "render"),
        ("appmesh-envoy-proxy.json", "appmesh"),
    ] {
        let mut spec = corpus_task_definition(file);
        spec.family = Some(family.to_string());
        spec.tags = Some(vec![berth_core::model::ecs::Tag {
            key: Some("berth:managed-by".into()),
            value: Some("berth".into()),
        }]);
        let request = berth_aws::convert::register_task_definition(
            aws.ecs_client().register_task_definition(),
            &spec,
        )
        .expect("converts");
        let output = request.send().await.expect("RegisterTaskDefinition");
        let arn = output
            .task_definition()
            .and_then(|td| td.task_definition_arn())
            .expect("an ARN");

        let live = aws.describe_task_definition(arn).await.expect("describe");
        // What came back is what was sent, but for what ECS (and moto) fill in: `cpu: 0` on
        // containers and empty lists for absent ones.
        let mut sent = spec.clone();
        for container in sent.container_definitions.iter_mut().flatten() {
            container.cpu.get_or_insert(0);
        }
        assert_eq!(
            without_empty_lists(serde_json::to_value(&live.spec).expect("JSON")),
            without_empty_lists(serde_json::to_value(&sent).expect("JSON")),
            "{file}"
        );
        let containers = |spec: &TaskDefinitionSpec| -> Vec<(String, String)> {
            spec.container_definitions
                .iter()
                .flatten()
                .map(|c| {
                    (
                        c.name.clone().unwrap_or_default(),
                        c.image.clone().unwrap_or_default(),
                    )
                })
                .collect()
        };
        assert_eq!(containers(&live.spec), containers(&spec), "{file}");
        assert_eq!(live.spec.family, spec.family);
        assert_eq!(live.spec.cpu, spec.cpu, "{file}");
        assert_eq!(live.spec.memory, spec.memory, "{file}");
        assert_eq!(live.spec.network_mode, spec.network_mode, "{file}");
        assert_eq!(live.spec.tags, spec.tags, "{file}: include: [TAGS]");
        let logging = |spec: &TaskDefinitionSpec| -> Vec<Option<String>> {
            spec.container_definitions
                .iter()
                .flatten()
                .map(|c| {
                    c.log_configuration
                        .as_ref()
                        .map(|l| l.log_driver.to_string())
                })
                .collect()
        };
        assert_eq!(logging(&live.spec), logging(&spec), "{file}");
    }
}

#[tokio::test]
async fn images_resolve_with_one_describe_images_per_repository() {
    let account = emulator_account();
    let aws = adapter(&account).await;
    let mut digests = BTreeMap::new();
    for tag in ["1.0", "1.1", "2.0"] {
        digests.insert(tag, account.push_image("web", tag).expect("push"));
    }
    account.push_image("worker", "7").expect("push");
    let registry = format!(
        "{}.dkr.ecr.{}.amazonaws.com",
        account.id(),
        account.region()
    );
    let image = |reference: &str| {
        ImageRef::parse(&format!("{registry}/{reference}"))
            .expect("valid")
            .ecr()
            .expect("ECR")
    };

    // Everything exists: one call per repository.
    let present = [
        image("web:1.0"),
        image("web:1.1"),
        image("web:2.0"),
        image("worker:7"),
    ];
    let resolved = aws.describe_images(&present).await.expect("describe");
    println!(
        "DescribeImages, 4 tags in 2 repositories: {:?}",
        counts(&aws, "DescribeImages")
    );
    assert_eq!(aws.counters().total("DescribeImages"), 2);
    for (tag, resolution) in ["1.0", "1.1", "2.0"].iter().zip(&resolved) {
        assert_eq!(
            resolution,
            &ImageResolution::Found {
                reference: format!("{registry}/web:{tag}"),
                digest: digests[tag].clone(),
            }
        );
    }

    // A missing tag among them, and a missing repository.
    let asked = [
        image("web:1.0"),
        image("web:1.1"),
        image("web:9.9"),
        image("web:2.0"),
        image("ghost:1"),
        image(&format!("web@{}", digests["2.0"])),
    ];
    let resolved = aws.describe_images(&asked).await.expect("describe");
    let calls = counts(&aws, "DescribeImages");
    println!(
        "DescribeImages, + 3 present tags, 1 missing tag, 1 digest, 1 missing repository: {calls:?}"
    );
    // web: one call, failed by the missing tag, and one for the rest; ghost: one call.
    assert_eq!(aws.counters().total("DescribeImages"), 2 + 3);
    assert_eq!(calls.get("ImageNotFoundException"), Some(&1));
    assert_eq!(calls.get("RepositoryNotFoundException"), Some(&1));
    let summary: Vec<String> = resolved
        .iter()
        .map(|r| match r {
            ImageResolution::Found { digest, .. } => format!("found {digest}"),
            ImageResolution::Missing { reason, .. } => format!("missing: {reason}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            format!("found {}", digests["1.0"]),
            format!("found {}", digests["1.1"]),
            "missing: ImageNotFoundException".to_string(),
            format!("found {}", digests["2.0"]),
            "missing: RepositoryNotFoundException".to_string(),
            format!("found {}", digests["2.0"]),
        ]
    );
}

#[tokio::test]
async fn errors_keep_the_aws_code_and_message() {
    let account = emulator_account();
    let aws = adapter(&account).await;
    let error = aws
        .describe_services("no-such-cluster", &["web".to_string()])
        .await
        .expect_err("no cluster");
    println!("{error}");
    match &error {
        AwsError::Api {
            service,
            operation,
            code,
            message,
            status,
        } => {
            assert_eq!((*service, *operation), ("ECS", "DescribeServices"));
            assert_eq!(code, "ClusterNotFoundException");
            assert!(!message.is_empty());
            assert_eq!(*status, 400);
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert_eq!(error.code(), Some("ClusterNotFoundException"));
    assert_eq!(
        counts(&aws, "DescribeServices").get("ClusterNotFoundException"),
        Some(&1)
    );
}

#[tokio::test]
async fn the_account_header_isolates_tests() {
    let first = emulator_account();
    let second = emulator_account();
    let aws_first = adapter(&first).await;
    let aws_second = adapter(&second).await;
    aws_first
        .ecs_client()
        .create_cluster()
        .cluster_name("mine")
        .send()
        .await
        .expect("CreateCluster");
    let listed = aws_second.list_services("mine").await;
    assert!(
        matches!(&listed, Err(e) if e.code() == Some("ClusterNotFoundException")),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_connection_failure_is_a_call_error_counted_as_transport_error() {
    // Nothing listens on port 9 of the loopback interface.
    let config = AwsConfig {
        region: Some("us-east-1".into()),
        endpoint_url: Some("http://127.0.0.1:9".into()),
        max_attempts: 1,
        ..AwsConfig::default()
    };
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(test_credentials());
    let aws = berth_aws::connect_with(&config, loader).await;
    let error = aws.list_services("prod").await.expect_err("refused");
    assert!(
        matches!(
            error,
            AwsError::Call {
                kind: berth_aws::CallFailure::Dispatch,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        counts(&aws, "ListServices").get(berth_aws::TRANSPORT_ERROR),
        Some(&1)
    );
}
