//! Planning against live (emulated) ECS: what berth plans for services it did not create.
//!
//! Services are created here directly (the SDK, or the raw ECS JSON API as the AWS CLI would),
//! never by berth; the manifests are written as a user would write them, without ECS's
//! defaults. Then `read_live` + `plan` must see them in sync, and each single edit must plan as
//! exactly the change it is.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition,
    DeploymentCircuitBreaker, DeploymentConfiguration, KeyValuePair, LaunchType, LogConfiguration,
    LogDriver, NetworkConfiguration, NetworkMode, PortMapping, Secret, Tag,
};
use berth_aws::Aws;
use berth_core::manifest::{LoadOptions, LoadOutcome, ManifestDocument, ServiceId, SourceFile};
use berth_core::plan::{Action, Ownership, Plan, plan};
use berth_engine::import::{Imported, import_services};
use berth_engine::read_live;
use berth_testkit::{Network, TestAccount};
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};

use super::{adapter, counts, emulator_account};

const REPOSITORY: &str = "git@example.com:acme/deploy.git";

fn ownership() -> Ownership {
    Ownership::new(REPOSITORY)
}

/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com` of the test account.
fn registry(account: &TestAccount) -> String {
    format!(
        "{}.dkr.ecr.{}.amazonaws.com",
        account.id(),
        account.region()
    )
}

/// Loads manifests from `(path, text)` pairs, `${…}` taken literally; all must be valid.
fn loaded(files: &[(String, String)]) -> LoadOutcome {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(path, text)| SourceFile::new(path.clone(), text.clone()))
        .collect();
    let outcome = berth_core::manifest::load(
        &files,
        &LoadOptions {
            substitute_vars: false,
            ..LoadOptions::default()
        },
    );
    assert!(outcome.is_valid(), "{:#?}", outcome.invalid);
    outcome
}

/// Reads the live state for `outcome` through the adapter and plans it.
async fn plan_against(aws: &Aws, outcome: &LoadOutcome) -> Plan {
    let live = read_live(aws, aws, &outcome.services, &outcome.invalid)
        .await
        .expect("read live");
    plan(&outcome.services, &outcome.invalid, &live, &ownership())
}

fn action_of<'a>(plan: &'a Plan, cluster: &str, name: &str) -> &'a Action {
    let id = ServiceId::new(cluster, name);
    &plan
        .services
        .iter()
        .find(|s| s.id.as_ref() == Some(&id))
        .unwrap_or_else(|| panic!("{id} not in the plan: {plan:#?}"))
        .action
}

fn not_in_sync(plan: &Plan) -> Vec<String> {
    plan.services
        .iter()
        .filter(|s| s.action != Action::NoChange)
        .map(|s| format!("{:?}: {:#?}", s.id, s.action))
        .collect()
}

fn awsvpc(subnets: &[String], security_group: &str) -> NetworkConfiguration {
    NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(subnets.to_vec()))
                .security_groups(security_group)
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .expect("awsvpc"),
        )
        .build()
}

/// The `web` service of the single-edit tests, as a user writes it: the image tag, the first
/// subnets in the order given, and otherwise what [`create_web_directly`] created.
fn web_manifest(account: &TestAccount, subnets: [&str; 2], security_group: &str) -> String {
    let id = account.id();
    let registry = registry(account);
    let [first, second] = subnets;
    format!(
        "\
apiVersion: berth/v1
kind: Service
metadata:
  name: web
  cluster: prod
spec:
  desiredCount: 2
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration:
      subnets: [{first}, {second}]
      securityGroups: [{security_group}]
  deploymentConfiguration:
    deploymentCircuitBreaker: {{enable: true, rollback: true}}
  tags: [{{key: team, value: payments}}]
  taskDefinition:
    cpu: 0.25 vCPU
    memory: 512
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    executionRoleArn: arn:aws:iam::{id}:role/ecsTaskExecutionRole
    containerDefinitions:
      - name: web
        image: {registry}/web:1.0
        portMappings: [{{containerPort: 8080}}]
        environment:
          - {{name: REGION, value: us-east-1}}
          - {{name: LOG_LEVEL, value: info}}
        secrets:
          - {{name: DB_PASSWORD, valueFrom: 'arn:aws:secretsmanager:us-east-1:{id}:secret:db-AbCdEf'}}
        logConfiguration:
          logDriver: awslogs
          options: {{awslogs-group: /ecs/web, awslogs-region: us-east-1, awslogs-stream-prefix: web}}
"
    )
}

/// Creates cluster `prod` and service `web` with the SDK, as a user would without berth:
/// a task definition with an ECR image, env vars, a secret and a port mapping; a Fargate
/// service on two subnets, with a tag and the circuit breaker on.
async fn create_web_directly(aws: &Aws, account: &TestAccount, network: &Network) {
    let ecs = aws.ecs_client();
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .expect("CreateCluster");
    let id = account.id();
    let container = ContainerDefinition::builder()
        .name("web")
        .image(format!("{}/web:1.0", registry(account)))
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .environment(
            KeyValuePair::builder()
                .name("LOG_LEVEL")
                .value("info")
                .build(),
        )
        .environment(
            KeyValuePair::builder()
                .name("REGION")
                .value("us-east-1")
                .build(),
        )
        .secrets(
            Secret::builder()
                .name("DB_PASSWORD")
                .value_from(format!(
                    "arn:aws:secretsmanager:us-east-1:{id}:secret:db-AbCdEf"
                ))
                .build()
                .expect("secret"),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/ecs/web")
                .options("awslogs-region", "us-east-1")
                .options("awslogs-stream-prefix", "web")
                .build()
                .expect("log configuration"),
        )
        .build();
    let registered = ecs
        .register_task_definition()
        .family("web")
        .cpu("256")
        .memory("512")
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .execution_role_arn(format!("arn:aws:iam::{id}:role/ecsTaskExecutionRole"))
        .container_definitions(container)
        .send()
        .await
        .expect("RegisterTaskDefinition");
    let arn = registered
        .task_definition()
        .and_then(|td| td.task_definition_arn())
        .expect("an ARN");
    ecs.create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition(arn)
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(&network.subnets[..2], &network.security_group))
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(
                    DeploymentCircuitBreaker::builder()
                        .enable(true)
                        .rollback(true)
                        .build(),
                )
                .build(),
        )
        .tags(Tag::builder().key("team").value("payments").build())
        .send()
        .await
        .expect("CreateService");
}

/// One edit of the `web` manifest and the one change it must plan as.
struct Edit {
    what: &'static str,
    from: &'static str,
    to: &'static str,
    /// The change's path, old (live) and new (desired) value.
    path: &'static str,
    old: Option<Value>,
    new: Value,
    /// Whether a new task definition revision is needed.
    new_revision: bool,
}

#[tokio::test]
async fn services_created_without_berth_plan_no_change_and_each_edit_plans_its_update() {
    let account = emulator_account();
    let network = account.default_network().expect("default VPC");
    let aws = adapter(&account).await;
    account.push_image("web", "1.0").expect("push");
    let digest_11 = account.push_image("web", "1.1").expect("push");
    create_web_directly(&aws, &account, &network).await;

    let subnets = [network.subnets[0].as_str(), network.subnets[1].as_str()];
    let manifest = web_manifest(&account, subnets, &network.security_group);
    let plan_of = |text: String| {
        let aws = &aws;
        async move {
            let outcome = loaded(&[("prod/web.yaml".to_string(), text)]);
            let plan = plan_against(aws, &outcome).await;
            action_of(&plan, "prod", "web").clone()
        }
    };

    let in_sync = plan_of(manifest.clone()).await;
    assert_eq!(in_sync, Action::NoChange, "{in_sync:#?}");

    // Subnets in the other order: a set, so still no change.
    let reordered = web_manifest(&account, [subnets[1], subnets[0]], &network.security_group);
    assert_ne!(reordered, manifest);
    let action = plan_of(reordered).await;
    assert_eq!(action, Action::NoChange, "subnet order: {action:#?}");

    // Each single edit plans as exactly that change.
    let image = format!("{}/web", registry(&account));
    let edits = [
        Edit {
            what: "image tag",
            from: "web:1.0",
            to: "web:1.1",
            path: "taskDefinition.containerDefinitions.web.image",
            old: Some(json!(format!("{image}:1.0"))),
            new: json!(format!("{image}@{digest_11}")),
            new_revision: true,
        },
        Edit {
            what: "env var value",
            from: "{name: LOG_LEVEL, value: info}",
            to: "{name: LOG_LEVEL, value: debug}",
            path: "taskDefinition.containerDefinitions.web.environment.LOG_LEVEL",
            old: Some(json!("info")),
            new: json!("debug"),
            new_revision: true,
        },
        Edit {
            what: "desiredCount",
            from: "desiredCount: 2",
            to: "desiredCount: 3",
            path: "desiredCount",
            old: Some(json!(2)),
            new: json!(3),
            new_revision: false,
        },
        Edit {
            what: "tag value",
            from: "{key: team, value: payments}",
            to: "{key: team, value: billing}",
            path: "tags.team",
            old: Some(json!("payments")),
            new: json!("billing"),
            new_revision: false,
        },
        Edit {
            what: "circuit breaker",
            from: "{enable: true, rollback: true}",
            to: "{enable: false, rollback: true}",
            path: "deploymentConfiguration.deploymentCircuitBreaker.enable",
            old: Some(json!(true)),
            new: json!(false),
            new_revision: false,
        },
    ];
    for Edit {
        what,
        from,
        to,
        path,
        old,
        new,
        new_revision,
    } in edits
    {
        assert_eq!(manifest.matches(from).count(), 1, "{what}: one place");
        let action = plan_of(manifest.replace(from, to)).await;
        println!("{what}: {action:?}");
        let Action::Update {
            changes,
            new_task_definition,
        } = &action
        else {
            panic!("{what}: expected an update, got {action:#?}");
        };
        assert_eq!(changes.len(), 1, "{what}: {changes:#?}");
        assert_eq!(changes[0].path, path, "{what}");
        assert_eq!(changes[0].old, old, "{what}");
        assert_eq!(changes[0].new, Some(new), "{what}");
        assert_eq!(*new_task_definition, new_revision, "{what}: new revision");
    }
    println!(
        "DescribeTaskDefinition over 7 plans: {:?}",
        counts(&aws, "DescribeTaskDefinition")
    );
    assert_eq!(
        aws.counters().total("DescribeTaskDefinition"),
        1,
        "one revision, read once"
    );
}

#[tokio::test]
async fn a_missing_ecr_tag_plans_image_missing_with_ecrs_reason() {
    let account = emulator_account();
    let network = account.default_network().expect("default VPC");
    let aws = adapter(&account).await;
    account.push_image("web", "1.0").expect("push");
    account.push_image("web", "1.1").expect("push");
    create_web_directly(&aws, &account, &network).await;
    let subnets = [network.subnets[0].as_str(), network.subnets[1].as_str()];
    let web = web_manifest(&account, subnets, &network.security_group);
    let registry = registry(&account);

    // `web` exists and would otherwise update; `api` does not exist and would be created;
    // `other` names present images only.
    let missing_tag = web.replace("web:1.0", "web:9.9");
    let missing_repository = web
        .replace("  name: web\n  cluster", "  name: api\n  cluster")
        .replace("web:1.0", "web:1.1")
        .replace(
            "        logConfiguration:",
            &format!(
                "      - name: sidecar\n        image: {registry}/ghost:1\n        essential: false\n        logConfiguration:"
            ),
        );
    let other = web
        .replace("  name: web\n  cluster", "  name: other\n  cluster")
        .replace("web:1.0", "web:1.1");
    let outcome = loaded(&[
        ("prod/web.yaml".into(), missing_tag),
        ("prod/api.yaml".into(), missing_repository),
        ("prod/other.yaml".into(), other),
    ]);
    let plan = plan_against(&aws, &outcome).await;
    println!(
        "{}",
        berth_core::plan::render(&plan, berth_core::plan::Format::Text { color: false })
    );

    let Action::ImageMissing { images } = action_of(&plan, "prod", "web") else {
        panic!("{plan:#?}")
    };
    assert_eq!(images.len(), 1, "{images:#?}");
    assert_eq!(images[0].reference, format!("{registry}/web:9.9"));
    assert_eq!(images[0].reason, "ImageNotFoundException");

    let Action::ImageMissing { images } = action_of(&plan, "prod", "api") else {
        panic!("{plan:#?}")
    };
    assert_eq!(images.len(), 1, "only the missing one: {images:#?}");
    assert_eq!(images[0].reference, format!("{registry}/ghost:1"));
    assert_eq!(images[0].reason, "RepositoryNotFoundException");

    assert!(
        matches!(action_of(&plan, "prod", "other"), Action::Create { .. }),
        "a missing image fails only its own service: {plan:#?}"
    );
    assert!(plan.has_changes());
    assert_eq!(plan.counts().get("imageMissing"), Some(&2));
}

/// Five varied services, created with the raw ECS JSON API (as `aws ecs create-service
/// --cli-input-json` would send them): Fargate behind a load balancer with a sidecar and a
/// health check; capacity providers on ARM; EC2 bridge with volumes and placement; a DAEMON on
/// host networking; Fargate with EFS, a pinned platform version and service settings.
fn create_varied_services(account: &TestAccount, network: &Network) {
    let id = account.id();
    let registry = registry(account);
    let subnets = json!(network.subnets[..2]);
    let security_group = &network.security_group;
    account
        .ecs(
            "CreateCluster",
            json!({"clusterName": "legacy", "capacityProviders": ["FARGATE", "FARGATE_SPOT"]}),
        )
        .expect("CreateCluster");
    let register = |body: Value| -> String {
        let out = account
            .ecs("RegisterTaskDefinition", body)
            .expect("RegisterTaskDefinition");
        out["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .expect("an ARN")
            .to_string()
    };
    let create = |body: Value| {
        account.ecs("CreateService", body).expect("CreateService");
    };

    // 1. Fargate, load balancer, sidecar, health check; the describe-style fields a console
    //    writes out (protocol, hostPort, essential: true).
    let storefront = register(json!({
        "family": "storefront",
        "cpu": "512", "memory": "1024",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "executionRoleArn": format!("arn:aws:iam::{id}:role/ecsTaskExecutionRole"),
        "taskRoleArn": format!("arn:aws:iam::{id}:role/storefront"),
        "containerDefinitions": [
            {
                "name": "app",
                "image": format!("{registry}/storefront:2.3.0"),
                "essential": true,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "PORT", "value": "8080"}, {"name": "MODE", "value": "prod"}],
                "secrets": [{"name": "API_KEY", "valueFrom": format!("arn:aws:ssm:us-east-1:{id}:parameter/storefront/api-key")}],
                "healthCheck": {"command": ["CMD-SHELL", "curl -fs http://localhost:8080/health || exit 1"], "interval": 15},
                "dependsOn": [{"containerName": "envoy", "condition": "HEALTHY"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": "/ecs/storefront", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "app"}},
            },
            {
                "name": "envoy",
                "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.6.0-prod",
                "essential": false,
                "cpu": 64,
                "memoryReservation": 128,
                "user": "1337",
                "healthCheck": {"command": ["CMD-SHELL", "curl -s http://localhost:9901/ready | grep LIVE"], "interval": 5, "timeout": 2, "retries": 3, "startPeriod": 10},
            },
        ],
    }));
    create(json!({
        "cluster": "legacy", "serviceName": "storefront", "taskDefinition": storefront,
        "desiredCount": 3, "launchType": "FARGATE",
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": subnets, "securityGroups": [security_group], "assignPublicIp": "ENABLED"}},
        "loadBalancers": [{
            "targetGroupArn": format!("arn:aws:elasticloadbalancing:us-east-1:{id}:targetgroup/storefront/0123456789abcdef"),
            "containerName": "app", "containerPort": 8080}],
        "healthCheckGracePeriodSeconds": 60,
        "tags": [{"key": "team", "value": "shop"}],
    }));

    // 2. Capacity providers (Spot with an on-demand base), ARM64, more ephemeral storage,
    //    ECS Exec; the family differs from the service name.
    let worker = register(json!({
        "family": "queue-worker",
        "cpu": "1024", "memory": "2048",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "ephemeralStorage": {"sizeInGiB": 50},
        "executionRoleArn": format!("arn:aws:iam::{id}:role/ecsTaskExecutionRole"),
        "containerDefinitions": [{
            "name": "worker",
            "image": format!("{registry}/worker:7.1"),
            "command": ["worker", "--queue", "jobs", "--concurrency", "8"],
            "stopTimeout": 120,
            "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
            "linuxParameters": {"initProcessEnabled": true},
        }],
    }));
    create(json!({
        "cluster": "legacy", "serviceName": "worker", "taskDefinition": worker,
        "desiredCount": 4,
        "capacityProviderStrategy": [
            {"capacityProvider": "FARGATE_SPOT", "weight": 3},
            {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
        ],
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": subnets, "securityGroups": [security_group]}},
        "enableExecuteCommand": true,
    }));

    // 3. EC2, bridge networking with a dynamic host port, volumes, placement.
    let api = register(json!({
        "family": "api-ec2",
        "requiresCompatibilities": ["EC2"],
        "networkMode": "bridge",
        "volumes": [
            {"name": "scratch", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true, "driver": "local"}},
            {"name": "certs", "host": {"sourcePath": "/etc/pki/tls/certs"}},
        ],
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ m5.*"}],
        "containerDefinitions": [{
            "name": "api",
            "image": "nginx:1.27",
            "cpu": 256,
            "memory": 512,
            "portMappings": [{"containerPort": 80, "hostPort": 0}],
            "mountPoints": [
                {"sourceVolume": "scratch", "containerPath": "/var/cache/nginx"},
                {"sourceVolume": "certs", "containerPath": "/etc/ssl/certs", "readOnly": true},
            ],
            "dockerLabels": {"com.example.team": "platform"},
        }],
    }));
    create(json!({
        "cluster": "legacy", "serviceName": "api", "taskDefinition": api,
        "desiredCount": 2, "launchType": "EC2",
        "placementConstraints": [{"type": "distinctInstance"}],
        "placementStrategy": [
            {"type": "spread", "field": "attribute:ecs.availability-zone"},
            {"type": "binpack", "field": "memory"},
        ],
        "deploymentConfiguration": {"maximumPercent": 150, "minimumHealthyPercent": 50},
    }));

    // 4. A DAEMON on host networking.
    let agent = register(json!({
        "family": "agent",
        "requiresCompatibilities": ["EC2"],
        "networkMode": "host",
        "pidMode": "host",
        "containerDefinitions": [{
            "name": "agent",
            "image": "public.ecr.aws/datadog/agent:7",
            "memory": 256,
            "portMappings": [{"containerPort": 8125, "protocol": "udp"}],
            "environment": [{"name": "DD_SITE", "value": "datadoghq.eu"}],
        }],
    }));
    create(json!({
        "cluster": "legacy", "serviceName": "agent", "taskDefinition": agent,
        "launchType": "EC2", "schedulingStrategy": "DAEMON",
    }));

    // 5. Fargate with EFS, a pinned platform version, service-level settings.
    let files = register(json!({
        "family": "files",
        "cpu": "256", "memory": "1024",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "volumes": [{"name": "shared", "efsVolumeConfiguration": {
            "fileSystemId": "fs-0123456789abcdef0", "rootDirectory": "/exports",
            "transitEncryption": "ENABLED",
            "authorizationConfig": {"accessPointId": "fsap-0123456789abcdef0", "iam": "ENABLED"}}}],
        "containerDefinitions": [{
            "name": "files",
            "image": format!("{registry}/files:1.0"),
            "mountPoints": [{"sourceVolume": "shared", "containerPath": "/srv"}],
            "readonlyRootFilesystem": true,
        }],
    }));
    create(json!({
        "cluster": "legacy", "serviceName": "files", "taskDefinition": files,
        "desiredCount": 1, "launchType": "FARGATE", "platformVersion": "1.4.0",
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": [network.subnets[1]], "securityGroups": [security_group]}},
        "deploymentConfiguration": {
            "maximumPercent": 100, "minimumHealthyPercent": 0,
            "deploymentCircuitBreaker": {"enable": true, "rollback": false}},
        "propagateTags": "SERVICE",
        "enableECSManagedTags": true,
        "tags": [{"key": "team", "value": "storage"}, {"key": "tier", "value": "internal"}],
    }));
}

#[tokio::test]
async fn import_then_plan_round_trips_five_varied_services_as_no_change() {
    let account = emulator_account();
    let network = account.default_network().expect("default VPC");
    let aws = adapter(&account).await;
    for (repository, tag) in [("storefront", "2.3.0"), ("worker", "7.1"), ("files", "1.0")] {
        account.push_image(repository, tag).expect("push");
    }
    create_varied_services(&account, &network);

    let imported = import_services(&aws, "legacy", &[]).await.expect("import");
    let documents: Vec<ManifestDocument> = imported
        .into_iter()
        .map(|item| match item {
            Imported::Manifest(document) => *document,
            Imported::NotFound(id) => panic!("{id} not found"),
        })
        .collect();
    let names: Vec<&str> = documents.iter().map(|d| d.metadata.name.as_str()).collect();
    assert_eq!(names, ["agent", "api", "files", "storefront", "worker"]);

    let files: Vec<(String, String)> = documents
        .iter()
        .map(|document| {
            let text = serde_yaml::to_string(document).expect("YAML");
            (format!("legacy/{}.yaml", document.metadata.name), text)
        })
        .collect();
    let storefront = &files
        .iter()
        .find(|(path, _)| path == "legacy/storefront.yaml")
        .expect("storefront")
        .1;
    println!("--- imported legacy/storefront.yaml\n{storefront}");
    // Minimal: no read-only fields, no defaults ECS (or the console) wrote out.
    for (path, text) in &files {
        for absent in [
            "taskDefinitionArn",
            "revision",
            "status",
            "registeredAt",
            "compatibilities",
            "requiresAttributes",
            "berth:",
            "protocol: tcp",
            "essential: true",
            "hostPort",
            "assignPublicIp: DISABLED",
            "null",
        ] {
            assert!(!text.contains(absent), "{path} has `{absent}`:\n{text}");
        }
    }
    assert!(storefront.contains("essential: false"), "{storefront}");
    assert!(
        storefront.contains("assignPublicIp: ENABLED"),
        "{storefront}"
    );

    let outcome = loaded(&files);
    let plan = plan_against(&aws, &outcome).await;
    let drift = not_in_sync(&plan);
    assert!(drift.is_empty(), "{drift:#?}");
    assert_eq!(plan.services.len(), 5);
    assert!(!plan.has_changes());

    // The imported manifests are live configuration, not inert copies: an edit shows.
    let edited: Vec<(String, String)> = files
        .iter()
        .map(|(path, text)| {
            let text = if path == "legacy/worker.yaml" {
                text.replace("desiredCount: 4", "desiredCount: 5")
            } else {
                text.clone()
            };
            (path.clone(), text)
        })
        .collect();
    let plan = plan_against(&aws, &loaded(&edited)).await;
    let Action::Update { changes, .. } = action_of(&plan, "legacy", "worker") else {
        panic!("{plan:#?}")
    };
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].path, "desiredCount");
}

#[tokio::test]
async fn planning_200_services_in_sync_stays_within_the_api_budget() {
    const CLUSTERS: [&str; 2] = ["alpha", "beta"];
    const PER_CLUSTER: usize = 100;
    let account = emulator_account();
    let network = account.default_network().expect("default VPC");
    let registry = registry(&account);
    account.push_image("app", "1.0").expect("push");
    let setup = adapter(&account).await;
    let ecs = setup.ecs_client();

    // One task definition per cluster, 100 services on each (created with the SDK).
    let mut creates = Vec::new();
    for cluster in CLUSTERS {
        ecs.create_cluster()
            .cluster_name(cluster)
            .send()
            .await
            .expect("CreateCluster");
        let registered = ecs
            .register_task_definition()
            .family(format!("{cluster}-app"))
            .cpu("256")
            .memory("512")
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image(format!("{registry}/app:1.0"))
                    .port_mappings(PortMapping::builder().container_port(8080).build())
                    .build(),
            )
            .send()
            .await
            .expect("RegisterTaskDefinition");
        let arn = registered
            .task_definition()
            .and_then(|td| td.task_definition_arn())
            .expect("an ARN")
            .to_string();
        for index in 0..PER_CLUSTER {
            let request = ecs
                .create_service()
                .cluster(cluster)
                .service_name(format!("svc-{index:03}"))
                .task_definition(&arn)
                .desired_count(1)
                .launch_type(LaunchType::Fargate)
                .network_configuration(awsvpc(&network.subnets[..2], &network.security_group));
            creates.push(request.send());
        }
    }
    let created: Vec<_> = stream::iter(creates).buffer_unordered(8).collect().await;
    assert_eq!(created.len(), CLUSTERS.len() * PER_CLUSTER);
    for result in created {
        result.expect("CreateService");
    }

    let files: Vec<(String, String)> = CLUSTERS
        .iter()
        .flat_map(|cluster| (0..PER_CLUSTER).map(move |index| (*cluster, index)))
        .map(|(cluster, index)| {
            let text = format!(
                "\
apiVersion: berth/v1
kind: Service
metadata: {{name: svc-{index:03}, cluster: {cluster}}}
spec:
  desiredCount: 1
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration: {{subnets: [{subnet_a}, {subnet_b}], securityGroups: [{sg}]}}
  taskDefinition:
    family: {cluster}-app
    cpu: 256
    memory: 512
    networkMode: awsvpc
    requiresCompatibilities: [FARGATE]
    containerDefinitions:
      - name: app
        image: {registry}/app:1.0
        portMappings: [{{containerPort: 8080}}]
",
                subnet_a = network.subnets[0],
                subnet_b = network.subnets[1],
                sg = network.security_group,
            );
            (format!("{cluster}/svc-{index:03}.yaml"), text)
        })
        .collect();
    let outcome = loaded(&files);
    assert_eq!(outcome.services.len(), 200);

    // A fresh adapter: only the plans' requests are counted.
    let aws = adapter(&account).await;
    let first = plan_against(&aws, &outcome).await;
    let drift = not_in_sync(&first);
    assert!(drift.is_empty(), "{drift:#?}");
    let after_first = aws.counters().snapshot();
    println!("first plan of 200 in-sync services in 2 clusters:");
    for ((operation, outcome), n) in &after_first {
        println!("  {operation} {outcome}: {n}");
    }
    let total = |operation: &str| aws.counters().total(operation);
    assert!(
        total("DescribeServices") <= 20,
        "ceil(200/10): {:?}",
        counts(&aws, "DescribeServices")
    );
    assert_eq!(total("ListServices"), 2, "one page per cluster");
    assert_eq!(
        total("DescribeTaskDefinition"),
        2,
        "one per distinct revision"
    );
    assert_eq!(total("DescribeImages"), 1, "one per repository");
    let first_task_definitions = total("DescribeTaskDefinition");
    let first_describe_services = total("DescribeServices");

    let second = plan_against(&aws, &outcome).await;
    assert!(not_in_sync(&second).is_empty());
    println!("after a second plan with the same adapter:");
    for ((operation, outcome), n) in aws.counters().snapshot() {
        println!("  {operation} {outcome}: {n}");
    }
    assert_eq!(
        total("DescribeTaskDefinition") - first_task_definitions,
        0,
        "revisions are cached for the life of the process"
    );
    assert!(total("DescribeServices") - first_describe_services <= 20);
    assert_eq!(total("ListServices"), 4);
    let failed: Vec<_> = aws
        .counters()
        .snapshot()
        .into_iter()
        .filter(|((_, outcome), _)| outcome != berth_aws::SUCCESS)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}
